use chrono::{DateTime, Utc, Weekday};
use chrono_tz::Tz;

use super::*;
use crate::model::Answer;
use crate::model::Person;
use crate::report::Report;
use crate::store::{OutboundView, ParticipantView, ReferralDetail, ReferralView};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn when(text: &str) -> When {
    text.parse().unwrap()
}

const LONDON: Tz = chrono_tz::Europe::London;

/// Long before any test's now: the store began then.
fn start() -> DateTime<Utc> {
    at("2020-01-01T00:00:00Z")
}

#[test]
fn when_reads_a_day_and_a_time_or_off() {
    assert_eq!(
        when("Mon 08:00"),
        When::Weekly {
            day: Weekday::Mon,
            at: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap()
        }
    );
    assert_eq!(when(" friday  17:30 "), when("Fri 17:30"));
    assert_eq!(when("OFF"), When::Off);
    assert_eq!(When::default(), when("Mon 08:00"));
    assert_eq!(when("Tue 09:05").to_string(), "Tue 09:05");
    assert_eq!(when("Tue 09:05:30").to_string(), "Tue 09:05:30");
    for bad in [
        "",
        "Mon",
        "08:00",
        "Mon 25:00",
        "Someday 08:00",
        "Mon 8am",
        "on",
    ] {
        assert!(bad.parse::<When>().is_err(), "{bad:?}");
    }
}

#[test]
fn the_digest_is_due_from_its_time_in_the_owners_timezone() {
    let w = when("Mon 08:00");
    // Monday 9 November 2026, London on GMT: 08:00 is 08:00Z.
    assert_eq!(
        due(w, LONDON, None, start(), at("2026-11-09T07:59:59Z")).map(|w| w.key),
        Some("2026-11-02".into())
    );
    let week = due(
        w,
        LONDON,
        Some("2026-11-02"),
        start(),
        at("2026-11-09T08:00:00Z"),
    )
    .unwrap();
    assert_eq!(week.key, "2026-11-09");
    assert_eq!(week.at, at("2026-11-09T08:00:00Z"));
    // Decided once: not due again that week.
    assert_eq!(
        due(
            w,
            LONDON,
            Some("2026-11-09"),
            start(),
            at("2026-11-12T12:00:00Z")
        ),
        None
    );
    // Tokyo's Monday 08:00 is Sunday 23:00Z.
    let tokyo = due(
        w,
        chrono_tz::Asia::Tokyo,
        Some("2026-11-02"),
        start(),
        at("2026-11-08T23:00:00Z"),
    )
    .unwrap();
    assert_eq!(tokyo.key, "2026-11-09");
    // New York on EST (UTC-5).
    let ny = latest(w, chrono_tz::America::New_York, at("2026-11-09T13:00:00Z")).unwrap();
    assert_eq!(ny.at, at("2026-11-09T13:00:00Z"));
    assert_eq!(
        latest(w, chrono_tz::America::New_York, at("2026-11-09T12:59:00Z"))
            .unwrap()
            .key,
        "2026-11-02"
    );
}

#[test]
fn the_digest_keeps_its_local_time_across_clock_changes() {
    let w = when("Mon 08:00");
    // London: GMT until Sunday 29 March 2026, BST (UTC+1) after.
    assert_eq!(
        latest(w, LONDON, at("2026-03-27T12:00:00Z")).unwrap().at,
        at("2026-03-23T08:00:00Z")
    );
    assert_eq!(
        latest(w, LONDON, at("2026-04-01T12:00:00Z")).unwrap().at,
        at("2026-03-30T07:00:00Z")
    );
    assert_eq!(
        next(
            w,
            LONDON,
            Some("2026-03-23"),
            start(),
            at("2026-03-27T12:00:00Z")
        ),
        Some(at("2026-03-30T07:00:00Z"))
    );
    // And back in October.
    assert_eq!(
        next(
            w,
            LONDON,
            Some("2026-10-19"),
            start(),
            at("2026-10-20T12:00:00Z")
        ),
        Some(at("2026-10-26T08:00:00Z"))
    );
    // A time the spring change skips goes at the first minute that exists after it…
    let skipped = when("Sun 01:30");
    assert_eq!(
        latest(skipped, LONDON, at("2026-03-29T12:00:00Z"))
            .unwrap()
            .at,
        at("2026-03-29T01:00:00Z")
    );
    // …and one the autumn change repeats, the first time.
    assert_eq!(
        latest(skipped, LONDON, at("2026-10-25T12:00:00Z"))
            .unwrap()
            .at,
        at("2026-10-25T00:30:00Z")
    );
}

#[test]
fn missed_weeks_give_one_late_digest() {
    let w = when("Mon 08:00");
    // Down from 3 to 25 November: three Mondays missed; one digest, for the latest.
    let now = at("2026-11-25T10:00:00Z");
    let week = due(w, LONDON, Some("2026-11-02"), start(), now).unwrap();
    assert_eq!(week.key, "2026-11-23");
    assert_eq!(
        next(w, LONDON, Some("2026-11-02"), start(), now),
        Some(week.at)
    );
    // Once that is decided, nothing until the next Monday.
    assert_eq!(due(w, LONDON, Some("2026-11-23"), start(), now), None);
    assert_eq!(
        next(w, LONDON, Some("2026-11-23"), start(), now),
        Some(at("2026-11-30T08:00:00Z"))
    );
    // What it covers: since the last digest, at most four weeks back.
    assert_eq!(
        period_start(&week, Some(at("2026-11-02T08:00:00Z")), now),
        at("2026-11-02T08:00:00Z")
    );
    assert_eq!(
        period_start(&week, Some(at("2026-01-05T08:00:00Z")), now),
        at("2026-10-28T10:00:00Z")
    );
    assert_eq!(period_start(&week, None, now), at("2026-11-16T08:00:00Z"));
}

#[test]
fn off_and_a_new_install_send_nothing_for_the_past() {
    let now = at("2026-11-25T10:00:00Z");
    assert_eq!(due(When::Off, LONDON, None, start(), now), None);
    assert_eq!(next(When::Off, LONDON, None, start(), now), None);
    // The store began on Tuesday: Monday's digest is not owed; the next Monday's is.
    let w = when("Mon 08:00");
    let began = at("2026-11-24T09:00:00Z");
    assert_eq!(due(w, LONDON, None, began, now), None);
    assert_eq!(
        next(w, LONDON, None, began, now),
        Some(at("2026-11-30T08:00:00Z"))
    );
}

fn person(email: &str, name: &str) -> ParticipantView {
    ParticipantView {
        email: email.into(),
        name: name.into(),
        state: PartyState::Pending,
        is_owner: email == "alice@brightside.example",
    }
}

fn referral(
    id: i64,
    status: ReferralStatus,
    created: &str,
    parties: Vec<ParticipantView>,
) -> ReferralDetail {
    ReferralDetail {
        referral: ReferralView {
            id,
            status,
            created_at: created.into(),
            introduced_at: created.into(),
            history: false,
            subject: "Intro".into(),
            introducer: Person::new("bob@networkers.example", Some("Bob Brown")),
            parties,
        },
        events: Vec::new(),
        outbound: Vec::new(),
        feedback: Vec::new(),
        copied: Vec::new(),
        options: Default::default(),
    }
}

fn feedback(from: &str, outcome: Outcome, value: Option<f64>, at: &str) -> Answer {
    Answer {
        from: from.into(),
        rating: None,
        outcome: Some(outcome),
        value,
        currency: value.map(|_| "EUR".into()),
        comment: "<script>ignored</script>".into(),
        at: at.parse().unwrap(),
        reported: false,
    }
}

fn empty_ledger() -> Report {
    crate::report::build(None, &[], 1e8)
}

const OWNER: &[&str] = &["alice@brightside.example"];

fn pick(referrals: &[ReferralDetail], ledger: &Report) -> Digest {
    let owner: Vec<String> = OWNER.iter().map(|s| s.to_string()).collect();
    select(
        &owner,
        referrals,
        ledger,
        at("2026-11-02T08:00:00Z"),
        at("2026-11-09T08:00:00Z"),
        LONDON,
        1e8,
    )
}

#[test]
fn a_quiet_week_has_nothing_to_say_even_with_someone_owed() {
    // An old referral, nothing new about it.
    let old = referral(
        1,
        ReferralStatus::Open,
        "2026-10-01T10:00:00Z",
        vec![
            person("alice@brightside.example", "Alice Smith"),
            person("carol@k.example", "Carol King"),
        ],
    );
    let ledger = crate::report::build(
        None,
        &[crate::report::Referral {
            id: 1,
            status: ReferralStatus::Open,
            introducer: crate::report::Participant {
                email: "bob@networkers.example".into(),
                name: "Bob Brown".into(),
                is_owner: false,
            },
            parties: vec![crate::report::Participant {
                email: "alice@brightside.example".into(),
                name: "Alice".into(),
                is_owner: true,
            }],
            feedback: Vec::new(),
        }],
        1e8,
    );
    let d = pick(&[old], &ledger);
    assert_eq!(
        d.you_owe,
        vec![Owed {
            name: "Bob Brown".into(),
            gave_you: 1
        }]
    );
    assert!(d.is_empty(), "{d:?}");
    assert!(pick(&[], &empty_ledger()).is_empty());
}

#[test]
fn what_needs_the_owner_comes_first_and_news_is_from_the_week() {
    let mut bounced = referral(
        1,
        ReferralStatus::Open,
        "2026-10-01T10:00:00Z",
        vec![
            person("fred@f.example", "Fred\u{202e} Jones"),
            person("sally@s.example", "Sally Lee"),
        ],
    );
    bounced.referral.parties[1].state = PartyState::Bounced;
    let stalled = referral(
        2,
        ReferralStatus::Stalled,
        "2026-09-01T10:00:00Z",
        vec![
            person("dan@d.example", "Dan"),
            person("erin@e.example", "Erin"),
        ],
    );
    let mut nudged = referral(
        3,
        ReferralStatus::Open,
        "2026-11-03T10:00:00Z",
        vec![
            person("alice@brightside.example", "Alice Smith"),
            person("carol@k.example", "Carol King"),
        ],
    );
    nudged.outbound.push(OutboundView {
        id: 9,
        referral_id: 3,
        kind: OutboundKind::OwnerNudge,
        to: "alice@brightside.example".into(),
        state: OutboundState::Sent,
        due_at: "2026-11-04T10:00:00Z".into(),
        sent_at: Some("2026-11-04T10:00:00Z".into()),
        attempts: 1,
        last_error: None,
        message_id: "n@x".into(),
    });
    let mut won = referral(
        4,
        ReferralStatus::Succeeded,
        "2026-10-20T10:00:00Z",
        vec![
            person("gina@g.example", "Gina"),
            person("hal@h.example", "Hal"),
        ],
    );
    won.feedback.push(feedback(
        "gina@g.example",
        Outcome::Met,
        None,
        "2026-10-25T10:00:00Z",
    ));
    won.feedback.push(feedback(
        "hal@h.example",
        Outcome::Won,
        Some(12000.0),
        "2026-11-05T10:00:00Z",
    ));
    // A cancelled referral needs nobody, whatever bounced; an answer from the introducer is no
    // party's outcome; an answer before the week is old news.
    let mut cancelled = referral(
        5,
        ReferralStatus::Cancelled,
        "2026-10-01T10:00:00Z",
        vec![person("ian@i.example", "Ian"), person("jo@j.example", "Jo")],
    );
    cancelled.referral.parties[0].state = PartyState::Bounced;
    cancelled.feedback.push(feedback(
        "bob@networkers.example",
        Outcome::Won,
        Some(5.0),
        "2026-11-05T10:00:00Z",
    ));
    cancelled.feedback.push(feedback(
        "jo@j.example",
        Outcome::Lost,
        None,
        "2026-10-05T10:00:00Z",
    ));

    let d = pick(&[bounced, stalled, nudged, won, cancelled], &empty_ledger());
    let ids = |lines: &[Line]| lines.iter().map(|l| l.id).collect::<Vec<_>>();
    assert_eq!(ids(&d.needs_you), vec![3, 2, 1]);
    assert_eq!(d.needs_you[0].what, "you haven't answered yet");
    assert_eq!(d.needs_you[0].parties, vec!["you", "Carol King"]);
    assert_eq!(d.needs_you[1].what, "stalled: nobody has answered");
    assert_eq!(d.needs_you[2].what, "mail to Sally Lee bounced");
    // Names are cleaned: no bidi override reaches the owner.
    assert_eq!(d.needs_you[2].parties[0], "Fred Jones");
    assert_eq!(ids(&d.outcomes), vec![4]);
    assert_eq!(d.outcomes[0].what, "Hal did business, worth 12,000 EUR");
    assert_eq!(d.business, vec!["12,000 EUR"]);
    // Hal's deal is under outcomes, not repeated under connected.
    assert!(d.connected.is_empty(), "{:?}", d.connected);
    assert_eq!(ids(&d.new), vec![3]);
    assert!(!d.is_empty());
    // Nobody's own words are in it.
    assert!(!serde_json::to_string(&d).unwrap().contains("script"));
}

#[test]
fn introductions_recorded_as_history_are_not_news() {
    // Recorded this week from an old mailbox: history, so not "new", even though stalled.
    let mut old = referral(
        4,
        ReferralStatus::Stalled,
        "2026-11-03T10:00:00Z",
        vec![
            person("fred@f.example", "Fred Jones"),
            person("sally@s.example", "Sally Lee"),
        ],
    );
    old.referral.introduced_at = "2024-03-05T10:00:00Z".into();
    let fresh = old.clone();
    old.referral.history = true;
    assert!(pick(&[old], &empty_ledger()).is_empty());
    let d = pick(&[fresh], &empty_ledger());
    assert_eq!(d.new.len(), 1, "{d:?}");
    assert_eq!(d.needs_you.len(), 1, "{d:?}");
}
