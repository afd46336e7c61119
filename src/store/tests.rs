//! The store against a real SQLite database: migrations, recording verdicts, the outbox's
//! bookkeeping, and what intake may ask of it.

use super::*;
use crate::config::Config;
use crate::intake::{
    Bounce, Classified, IgnoreReason, Introduction, Known, Reading, ThreadHit, Verdict,
};
use crate::model::{
    OutboundId, OutboundKind, OutboundState, Outcome, PartyState, Person, ReferralId,
    ReferralStatus, Role,
};
use crate::outbox::DeliveryResult;
use crate::source::RawMessage;
use crate::transport::Recipient;
use chrono::{TimeDelta, TimeZone};

const CONFIG: &str = r#"
[tracking]
address = "intros@tracker.example.org"
[owner]
name = "Alice Smith"
emails = ["alice@brightside.example"]
timezone = "Europe/London"
[intake]
require-authentication = false
[outbound]
transport = "file"
# These tests were written when the thank-you went at once; its wait is tested in the planner.
[schedule]
thank-you-after = "0s"
"#;

fn config() -> Config {
    Config::parse(CONFIG, "test", ".".into()).unwrap()
}

/// Monday 2 November 2026, 10:00 London.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
}

fn person(email: &str, name: &str) -> Person {
    Person::new(email, Some(name))
}

fn raw() -> RawMessage {
    RawMessage {
        origin: "test".into(),
        bytes: b"Subject: test\r\n\r\nbody".to_vec(),
        arrived_at: None,
    }
}

fn classified(message_id: &str, from: &Person, verdict: Verdict) -> Classified {
    Classified {
        message_id: message_id.into(),
        from: Some(from.clone()),
        subject: "Intro: Fred <> Sally".into(),
        date: None,
        verdict,
    }
}

fn bob() -> Person {
    person("bob@networkers.example", "Bob Brown")
}
fn fred() -> Person {
    person("fred@fredsbooks.example", "Fred Jones")
}
fn sally() -> Person {
    person("Sally@Sallysdesign.example", "Sally Lee")
}

/// Records "Bob introduces Fred and Sally" at `now`; returns the referral.
fn introduce(store: &mut Store, id: &str, now: DateTime<Utc>) -> ReferralId {
    introduce_as(store, id, id, now)
}

/// The same, arriving as message `id` and threading under `root` (a forward's original).
fn introduce_as(store: &mut Store, id: &str, root: &str, now: DateTime<Utc>) -> ReferralId {
    let intro = Introduction {
        introducer: bob(),
        parties: vec![fred(), sally()],
        copied: Vec::new(),
        subject: "Intro: Fred <> Sally".into(),
        thread_root: root.into(),
        references: vec![root.into()],
        forwarded: id != root,
        options: Default::default(),
    };
    store
        .record(
            &classified(id, &bob(), Verdict::Introduction(intro)),
            &raw(),
            &config(),
            now,
        )
        .unwrap()
        .unwrap()
}

fn outbound_of(store: &Store, referral: ReferralId) -> Vec<(OutboundKind, String, OutboundState)> {
    store
        .referral(referral)
        .unwrap()
        .unwrap()
        .outbound
        .into_iter()
        .map(|o| (o.kind, o.to, o.state))
        .collect()
}

fn state(store: &Store, referral: ReferralId, kind: OutboundKind, to: &str) -> OutboundState {
    outbound_of(store, referral)
        .into_iter()
        .find(|(k, t, _)| *k == kind && t == to)
        .map(|(_, _, s)| s)
        .unwrap_or_else(|| panic!("no {kind} to {to}"))
}

#[test]
fn an_empty_database_migrates_to_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/referrald.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    // Every table is STRICT: a wrong type is refused, not stored.
    let err = store
        .conn
        .execute("INSERT INTO contacts (email, name) VALUES (1, x'00')", [])
        .unwrap_err();
    assert!(err.to_string().contains("cannot store"), "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Opening again changes nothing.
    drop(store);
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as i64
    );
}

#[test]
fn a_previous_version_database_migrates_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A database as the first release left it: migration 0001 only, with a referral in it.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO contacts (id, email, name) VALUES (1, 'bob@x.example', 'Bob');
             INSERT INTO referrals (id, status, subject, subject_key, thread_root, references_,
                 intro_message_id, forwarded, created_at)
             VALUES (1, 'open', 'Intro', 'intro', 'a@b', 'a@b', 'a@b', 0, '2026-11-02T10:00:00Z');
             INSERT INTO participants VALUES (1, 1, 0, 'introducer', 'Bob', 0, 'pending', NULL);",
        )
        .unwrap();
    }
    // Until it is migrated, a read-only open (inspect) says what to do.
    let err = Store::open_read_only(&path).err().unwrap();
    assert!(
        format!("{err:#}").contains("run `referrald referrals` once"),
        "{err:#}"
    );
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 12);
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(
        store.referrals(None).unwrap()[0].introducer.email,
        "bob@x.example"
    );
    store.set_mailbox_position("INBOX", 7, 42).unwrap();
    assert_eq!(store.mailbox_position("INBOX").unwrap(), Some((7, 42)));
    // 0003: the table of forgotten addresses.
    let forgotten: i64 = store
        .conn
        .query_row("SELECT count(*) FROM forgotten", [], |r| r.get(0))
        .unwrap();
    assert_eq!(forgotten, 0);
    // 0004: contacts start with no refusals held against them.
    let refusals: i64 = store
        .conn
        .query_row("SELECT refusals FROM contacts WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(refusals, 0);
    // 0006: a referral from before options in the address has none.
    assert!(
        super::record::options_of(&store.conn, 1)
            .unwrap()
            .is_default()
    );
    // 0007: a referral from before commands by email is not paused, and no notice waits.
    let paused: Option<String> = store
        .conn
        .query_row("SELECT paused_until FROM referrals WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(paused, None);
    assert_eq!(store.next_due().unwrap(), None);
    // 0008: a referral from before the introduction's own date was kept counts from its
    // recording, and is not history.
    let snapshot = super::record::load_snapshot(&store.conn, 1).unwrap();
    assert_eq!(snapshot.introduced_at, snapshot.recorded_at);
    assert_eq!(
        snapshot.introduced_at.to_rfc3339(),
        "2026-11-02T10:00:00+00:00"
    );
    assert!(!snapshot.history);
    // 0009: nothing the owner wrote is known, and no report was released.
    assert_eq!(snapshot.owner_wrote, crate::planner::OwnerWrote::default());
    // 0010: no digest decided yet.
    let digests: i64 = store
        .conn
        .query_row("SELECT count(*) FROM digests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(digests, 0);
    // 0012: what was recorded before is in the search's index.
    let search = |words: &str| {
        let filter = ReferralFilter {
            search: Some(words.into()),
            ..ReferralFilter::default()
        };
        store.referrals_page(&filter, 0, 10).unwrap().0.len()
    };
    assert_eq!(
        (search("Intro"), search("bob@x."), search("nobody")),
        (1, 1, 0)
    );
    drop(store);
    // Migrated, it opens read-only, and intake can ask it questions.
    let read_only = Store::open_read_only(&path).unwrap();
    assert_eq!(read_only.schema_version().unwrap(), 12);
    assert!(!read_only.view().seen("nothing@x"));
    assert_eq!(read_only.referrals(None).unwrap().len(), 1);
}

#[test]
fn a_database_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(
        format!("{err:#}").contains("newer than this referrald"),
        "{err:#}"
    );
}

#[test]
fn an_introduction_is_recorded_with_its_plan() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let list = store.referrals(None).unwrap();
    assert_eq!(list.len(), 1);
    let v = &list[0];
    assert_eq!((v.id, v.status), (r, ReferralStatus::Open));
    assert_eq!(v.introducer, bob());
    let parties: Vec<_> = v
        .parties
        .iter()
        .map(|p| (p.email.as_str(), p.state))
        .collect();
    assert_eq!(
        parties,
        vec![
            ("fred@fredsbooks.example", PartyState::Pending),
            ("sally@sallysdesign.example", PartyState::Pending)
        ]
    );
    use OutboundKind::*;
    let kinds: Vec<_> = outbound_of(&store, r)
        .into_iter()
        .map(|(k, t, _)| (k, t))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ThankYou, "bob@networkers.example".into()),
            (FollowUp, "fred@fredsbooks.example".into()),
            (FollowUp, "sally@sallysdesign.example".into()),
            (FeedbackRequest, "fred@fredsbooks.example".into()),
            (FeedbackRequest, "sally@sallysdesign.example".into()),
        ]
    );
    let detail = store.referral(r).unwrap().unwrap();
    assert_eq!(detail.events[0].kind, "recorded");
    assert!(detail.events[0].detail.contains("Fred Jones and Sally Lee"));
    // Message-IDs are on the tracking domain and all different.
    let ids: std::collections::HashSet<_> = detail
        .outbound
        .iter()
        .map(|o| o.message_id.clone())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids.iter()
            .all(|id| id.starts_with("referrald.") && id.ends_with("@tracker.example.org"))
    );
}

#[test]
fn intake_can_ask_what_the_store_knows() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let follow_up_id = store
        .referral(r)
        .unwrap()
        .unwrap()
        .outbound
        .into_iter()
        .find(|o| o.kind == OutboundKind::FollowUp)
        .unwrap()
        .message_id;
    let view = store.view();
    assert!(view.seen("intro-1@mail.example"));
    assert!(!view.seen("other@mail.example"));
    assert_eq!(
        view.thread_of(&["unknown@x".into(), "intro-1@mail.example".into()]),
        Some(ThreadHit {
            referral: r,
            outbound: None
        })
    );
    assert_eq!(
        view.thread_of(&[follow_up_id]),
        Some(ThreadHit {
            referral: r,
            outbound: Some((OutboundKind::FollowUp, "fred@fredsbooks.example".into()))
        })
    );
    assert_eq!(view.thread_of(&["unknown@x".into()]), None);
    assert_eq!(
        view.referral_by_subject("intro: fred <> sally", "sally@sallysdesign.example"),
        Some(r)
    );
    assert_eq!(
        view.referral_by_subject("intro: fred <> sally", "eve@x.example"),
        None
    );
    assert_eq!(
        view.role_in(r, "bob@networkers.example"),
        Some(Role::Introducer)
    );
    assert_eq!(
        view.role_in(r, "fred@fredsbooks.example"),
        Some(Role::Party)
    );
    assert_eq!(view.role_in(r, "eve@x.example"), None);
}

// Harm guarded against: a reply in Fred's name proving itself with a Message-ID that went
// to someone else, or with the introduction's, which every participant knows.
#[test]
fn the_store_knows_whom_each_of_our_messages_went_to() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let ids: Vec<(OutboundKind, String, String)> = store
        .referral(r)
        .unwrap()
        .unwrap()
        .outbound
        .into_iter()
        .map(|o| (o.kind, o.to, o.message_id))
        .collect();
    let id_of = |kind, to: &str| {
        ids.iter()
            .find(|(k, t, _)| *k == kind && t == to)
            .map(|(_, _, id)| id.clone())
            .unwrap()
    };
    let to_fred = id_of(OutboundKind::FollowUp, "fred@fredsbooks.example");
    let to_sally = id_of(OutboundKind::FollowUp, "sally@sallysdesign.example");
    let fred = vec!["fred@fredsbooks.example".to_string()];
    let view = store.view();
    let thread = vec![
        "intro-1@mail.example".to_string(),
        to_sally.clone(),
        to_fred,
    ];
    let hit = view.sent_to(&thread, &fred).unwrap();
    assert_eq!(hit.referral, r);
    assert!(hit.went_to(&["FRED@fredsbooks.example".to_string()]));
    assert_eq!(
        view.sent_to(&["intro-1@mail.example".to_string(), to_sally], &fred),
        None
    );
    // A made-up id with a real row number but the wrong random part names nothing.
    let guessed = "referrald.2.000000000000@tracker.example.org".to_string();
    assert_eq!(view.sent_to(&[guessed], &fred), None);
}

#[test]
fn a_reply_on_the_thread_connects_and_cancels_that_follow_up() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let reply = classified(
        "reply-1@mail.example",
        &fred(),
        Verdict::ThreadReply {
            referral: r,
            from: fred(),
            note: Default::default(),
        },
    );
    store
        .record(&reply, &raw(), &config(), t0() + TimeDelta::hours(2))
        .unwrap();
    let detail = store.referral(r).unwrap().unwrap();
    assert_eq!(detail.referral.status, ReferralStatus::Connected);
    assert_eq!(detail.referral.parties[0].state, PartyState::Responded);
    assert_eq!(
        state(&store, r, OutboundKind::FollowUp, "fred@fredsbooks.example"),
        OutboundState::Cancelled
    );
    assert_eq!(
        state(
            &store,
            r,
            OutboundKind::FollowUp,
            "sally@sallysdesign.example"
        ),
        OutboundState::Scheduled
    );
    let kinds: Vec<_> = detail.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["recorded", "replied", "status", "cancelled"]);
}

#[test]
fn feedback_sets_the_status_and_plans_an_outcome_report() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let reading = Reading {
        rating: Some(5),
        outcome: Some(Outcome::Won),
        value: Some(2500.0),
        currency: Some("USD".into()),
        comment: "We signed a $2,500 contract!".into(),
    };
    let fb = classified(
        "fb-1@mail.example",
        &sally(),
        Verdict::Feedback {
            referral: r,
            from: sally(),
            reading,
        },
    );
    store
        .record(&fb, &raw(), &config(), t0() + TimeDelta::days(15))
        .unwrap();
    let detail = store.referral(r).unwrap().unwrap();
    assert_eq!(detail.referral.status, ReferralStatus::Succeeded);
    assert_eq!(detail.feedback.len(), 1);
    assert_eq!(detail.feedback[0].rating, Some(5));
    assert_eq!(detail.feedback[0].value, Some(2500.0));
    assert_eq!(
        state(
            &store,
            r,
            OutboundKind::OutcomeReport,
            "bob@networkers.example"
        ),
        OutboundState::Scheduled
    );
    // Her request is no longer needed; Fred, who has said nothing, is still asked.
    assert_eq!(
        state(
            &store,
            r,
            OutboundKind::FeedbackRequest,
            "sally@sallysdesign.example"
        ),
        OutboundState::Cancelled
    );
    assert_eq!(
        state(
            &store,
            r,
            OutboundKind::FeedbackRequest,
            "fred@fredsbooks.example"
        ),
        OutboundState::Scheduled
    );
}

#[test]
fn an_opt_out_holds_across_referrals_and_for_new_ones() {
    let mut store = Store::open_in_memory().unwrap();
    let a = introduce(&mut store, "intro-a@mail.example", t0());
    let b = introduce(&mut store, "intro-b@mail.example", t0());
    let stop = classified(
        "stop@mail.example",
        &fred(),
        Verdict::OptOut {
            email: fred().email,
            referral: Some(a),
        },
    );
    store
        .record(&stop, &raw(), &config(), t0() + TimeDelta::hours(1))
        .unwrap();
    for r in [a, b] {
        for (kind, to, st) in outbound_of(&store, r) {
            if to == fred().email {
                assert_eq!(st, OutboundState::Cancelled, "{kind} in #{r}");
            }
        }
    }
    // A later introduction of Fred plans nothing for him.
    let c = introduce(
        &mut store,
        "intro-c@mail.example",
        t0() + TimeDelta::days(1),
    );
    assert!(
        outbound_of(&store, c)
            .iter()
            .all(|(_, to, _)| *to != fred().email)
    );
    let detail = store.referral(c).unwrap().unwrap();
    assert_eq!(detail.referral.parties[0].state, PartyState::OptedOut);
}

#[test]
fn a_bounce_fails_the_message_and_stops_mail_to_the_address() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let thank_you = store
        .referral(r)
        .unwrap()
        .unwrap()
        .outbound
        .into_iter()
        .find(|o| o.kind == OutboundKind::ThankYou)
        .unwrap();
    let bounce = Bounce {
        recipients: vec!["bob@networkers.example".into(), "stranger@x.example".into()],
        status: Some("5.1.1 (user unknown)".into()),
        original_message_id: Some(thank_you.message_id.clone()),
        referral: Some(r),
    };
    let mailer = person("mailer-daemon@mx.example", "Mail Delivery System");
    store
        .record(
            &classified("dsn@mx.example", &mailer, Verdict::Bounce(bounce)),
            &raw(),
            &config(),
            t0(),
        )
        .unwrap();
    let detail = store.referral(r).unwrap().unwrap();
    let o = detail
        .outbound
        .iter()
        .find(|o| o.id == thank_you.id)
        .unwrap();
    assert_eq!(o.state, OutboundState::Failed);
    assert!(o.last_error.as_deref().unwrap().contains("5.1.1"));
    assert!(detail.events.iter().any(|e| e.kind == "bounced"));
    // Someone we never mailed is not invented as a contact.
    let unknown: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM contacts WHERE email = 'stranger@x.example'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unknown, 0);
}

/// The state of `email` among the parties of `referral`.
fn party_state(store: &Store, referral: ReferralId, email: &str) -> PartyState {
    let detail = store.referral(referral).unwrap().unwrap();
    let party = detail.referral.parties.iter().find(|p| p.email == email);
    party
        .map(|p| p.state)
        .unwrap_or_else(|| panic!("{email} is no party"))
}

/// Claims what is due at `now` and returns the claimed message of `kind` to `to`.
fn claim(store: &mut Store, now: DateTime<Utc>, kind: OutboundKind, to: &str) -> OutboundId {
    let due = store.claim_due(&config(), now).unwrap();
    due.iter()
        .find(|d| d.draft.kind == kind && d.draft.to.email == to)
        .map(|d| d.id)
        .unwrap_or_else(|| panic!("no {kind} to {to} due"))
}

/// (bounced_at is set, bounce_status) of a contact.
fn bounce_of(store: &Store, email: &str) -> (bool, Option<String>) {
    store
        .conn
        .query_row(
            "SELECT bounced_at IS NOT NULL, bounce_status FROM contacts WHERE email = ?1",
            [email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

// Harm guarded against: a "no such user" refusal failed one message, and the person's
// feedback request and reminder were still attempted and refused again.
#[test]
fn an_smtp_refusal_saying_no_such_user_bounces_the_person_everywhere() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let a = introduce(&mut store, "intro-a@mail.example", t0());
    let later = t0() + TimeDelta::days(1);
    let b = introduce(&mut store, "intro-b@mail.example", later);
    let fred = fred().email;
    let sally = sally().email;
    let t2 = t0() + TimeDelta::days(2);
    let follow_up = claim(&mut store, t2, OutboundKind::FollowUp, &fred);
    let refusal = DeliveryResult::Refused(
        Recipient::Dead,
        "127.0.0.1:25: permanent error (550): 5.1.1 <fred@fredsbooks.example>: no such user".into(),
    );
    store
        .record_delivery(follow_up, &refusal, &config, t2)
        .unwrap();

    assert_eq!(
        state(&store, a, OutboundKind::FollowUp, &fred),
        OutboundState::Failed
    );
    // Bounced in every referral, with the server's words, as a delivery report would do.
    for r in [a, b] {
        assert_eq!(party_state(&store, r, &fred), PartyState::Bounced, "#{r}");
        assert_eq!(party_state(&store, r, &sally), PartyState::Pending, "#{r}");
        let detail = store.referral(r).unwrap().unwrap();
        assert!(
            detail
                .events
                .iter()
                .any(|e| e.kind == "bounced" && e.detail.contains("5.1.1")),
            "#{r}: {:?}",
            detail.events
        );
        for o in &detail.outbound {
            if o.to == fred && o.id != follow_up {
                assert_eq!(o.state, OutboundState::Cancelled, "{} in #{r}", o.kind);
            }
            if o.to == sally && o.kind == OutboundKind::FeedbackRequest {
                assert_eq!(o.state, OutboundState::Scheduled, "#{r}");
            }
        }
    }
    let (bounced, status) = bounce_of(&store, &fred);
    assert!(bounced);
    assert!(status.unwrap().contains("5.1.1"));
    // A later introduction of Fred knows he bounced.
    let c = introduce(&mut store, "intro-c@mail.example", t2);
    assert_eq!(party_state(&store, c, &fred), PartyState::Bounced);
}

// Harm guarded against: an address refused for good over and over, every message tried.
#[test]
fn a_second_refusal_in_a_row_makes_the_address_undeliverable() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let a = introduce(&mut store, "intro-a@mail.example", t0());
    let b = introduce(&mut store, "intro-b@mail.example", t0());
    let fred = fred().email;
    let full = DeliveryResult::Refused(Recipient::Refused, "552 5.2.2 mailbox full".into());
    let t2 = t0() + TimeDelta::days(2);
    let due = store.claim_due(&config, t2).unwrap();
    let to_fred: Vec<OutboundId> = due
        .iter()
        .filter(|d| d.draft.to.email == fred)
        .map(|d| d.id)
        .collect();
    assert_eq!(to_fred.len(), 2, "a follow-up in each referral");

    // The first refusal fails that message only.
    store
        .record_delivery(to_fred[0], &full, &config, t2)
        .unwrap();
    assert_eq!(party_state(&store, a, &fred), PartyState::Pending);
    assert_eq!(party_state(&store, b, &fred), PartyState::Pending);
    assert!(!bounce_of(&store, &fred).0);
    // The second marks him undeliverable, saying so.
    store
        .record_delivery(to_fred[1], &full, &config, t2)
        .unwrap();
    for r in [a, b] {
        assert_eq!(party_state(&store, r, &fred), PartyState::Bounced, "#{r}");
        assert_eq!(
            state(&store, r, OutboundKind::FeedbackRequest, &fred),
            OutboundState::Cancelled
        );
    }
    let (bounced, status) = bounce_of(&store, &fred);
    assert!(bounced);
    let status = status.unwrap();
    assert!(
        status.starts_with("undeliverable: refused 2 times"),
        "{status}"
    );
    assert!(status.contains("5.2.2"), "{status}");
}

// Harm guarded against: refusals weeks apart, with mail accepted in between, adding up to
// "undeliverable"; and failures that are not about the address (our sender, a broken draft)
// being held against the person.
#[test]
fn only_refusals_in_a_row_that_are_about_the_address_count() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let fred = fred().email;
    let refused = DeliveryResult::Refused(Recipient::Refused, "550 5.2.1 mailbox disabled".into());
    let ours = DeliveryResult::Failed("550 5.7.1 relay access denied".into());
    let referrals: Vec<ReferralId> = (0..4)
        .map(|n| introduce(&mut store, &format!("intro-{n}@mail.example"), t0()))
        .collect();
    let t2 = t0() + TimeDelta::days(2);
    let to_fred: Vec<OutboundId> = store
        .claim_due(&config, t2)
        .unwrap()
        .iter()
        .filter(|d| d.draft.to.email == fred)
        .map(|d| d.id)
        .collect();
    assert_eq!(to_fred.len(), 4);
    store
        .record_delivery(to_fred[0], &refused, &config, t2)
        .unwrap();
    store
        .record_delivery(to_fred[1], &DeliveryResult::Sent, &config, t2)
        .unwrap();
    store
        .record_delivery(to_fred[2], &refused, &config, t2)
        .unwrap();
    store
        .record_delivery(to_fred[3], &ours, &config, t2)
        .unwrap();
    assert!(!bounce_of(&store, &fred).0);
    for r in referrals {
        assert_eq!(party_state(&store, r, &fred), PartyState::Pending, "#{r}");
    }
}

#[test]
fn a_message_that_cannot_be_recorded_is_kept_and_the_batch_goes_on() {
    let mut store = Store::open_in_memory().unwrap();
    // A reply naming a referral that does not exist violates a foreign key.
    let bad = classified(
        "bad@mail.example",
        &fred(),
        Verdict::Feedback {
            referral: 999,
            from: fred(),
            reading: Reading::default(),
        },
    );
    let err = store.record(&bad, &raw(), &config(), t0()).unwrap_err();
    assert!(
        format!("{err:#}").to_lowercase().contains("constraint"),
        "{err:#}"
    );
    // Nothing of it was kept half-done.
    let feedback: i64 = store
        .conn
        .query_row("SELECT count(*) FROM feedback", [], |r| r.get(0))
        .unwrap();
    assert_eq!(feedback, 0);
    assert!(!store.view().seen("bad@mail.example"));

    // Through ingest, every message is either recorded or kept whole in `rejected`.
    let messages = vec![
        RawMessage {
            origin: "a.eml".into(),
            bytes: b"\x00\x01 not mail".to_vec(),
            arrived_at: None,
        },
        RawMessage {
            origin: "b.eml".into(),
            bytes: b"\xff\xfe".to_vec(),
            arrived_at: None,
        },
    ];
    let applied = store.ingest(&messages, &config(), t0()).unwrap();
    assert_eq!(applied.len(), 2);
    // Both were decided about (ignored, unparseable); no referral came of them.
    assert_eq!(store.totals().unwrap(), (2, 0));
    let kept: Vec<(String, Vec<u8>)> = store
        .conn
        .prepare("SELECT origin, raw FROM rejected ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        kept,
        vec![
            ("a.eml".into(), messages[0].bytes.clone()),
            ("b.eml".into(), messages[1].bytes.clone())
        ]
    );
}

#[test]
fn the_outbox_claims_sends_retries_and_fails() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    // At T the thank-you is due.
    let due = store.claim_due(&config, t0()).unwrap();
    assert_eq!(due.len(), 1);
    let thank_you = &due[0];
    assert_eq!(thank_you.draft.kind, OutboundKind::ThankYou);
    assert_eq!(thank_you.draft.to, bob());
    assert_eq!(thank_you.draft.referral.parties, vec![fred(), sally()]);
    assert_eq!(thank_you.draft.referral.thread_root, "intro-1@mail.example");
    assert_eq!(thank_you.attempts, 1);
    // Claimed messages are not claimed twice.
    assert!(store.claim_due(&config, t0()).unwrap().is_empty());

    // A temporary failure retries after the initial backoff, with the same Message-ID.
    store
        .mark_retry(thank_you.id, "421 try later", &config, t0())
        .unwrap();
    assert!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(4))
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_due(&config, t0() + TimeDelta::minutes(5))
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].draft.message_id, thank_you.draft.message_id);
    assert_eq!(again[0].attempts, 2);
    // The second wait is twice the first.
    store
        .mark_retry(
            thank_you.id,
            "421 try later",
            &config,
            t0() + TimeDelta::minutes(5),
        )
        .unwrap();
    assert!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(14))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(15))
            .unwrap()
            .len(),
        1
    );
    // Past give-up-after it fails for good.
    store
        .mark_retry(
            thank_you.id,
            "421 still down",
            &config,
            t0() + TimeDelta::days(2),
        )
        .unwrap();
    let o = &store.outbox().unwrap()[0];
    assert_eq!(o.state, OutboundState::Failed);
    assert!(
        o.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts")
    );

    // Follow-ups at T+2d: sent.
    let due = store.claim_due(&config, t0() + TimeDelta::days(2)).unwrap();
    assert_eq!(due.len(), 2);
    for d in &due {
        store
            .mark_sent(d.id, &config, t0() + TimeDelta::days(2))
            .unwrap();
    }
    assert_eq!(
        state(&store, r, OutboundKind::FollowUp, "fred@fredsbooks.example"),
        OutboundState::Sent
    );
    // A permanent failure is recorded with the server's reply.
    let due = store
        .claim_due(&config, t0() + TimeDelta::days(14))
        .unwrap();
    store
        .mark_failed(
            due[0].id,
            "550 5.1.1 no such user",
            t0() + TimeDelta::days(14),
        )
        .unwrap();
    let detail = store.referral(r).unwrap().unwrap();
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.kind == "failed" && e.detail.contains("550 5.1.1"))
    );
    // Sending the other request planned its reminder a week on.
    store
        .mark_sent(due[1].id, &config, t0() + TimeDelta::days(14))
        .unwrap();
    let reminder = store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|o| o.kind == OutboundKind::FeedbackReminder)
        .unwrap();
    assert_eq!(reminder.due_at, ts(t0() + TimeDelta::days(21)));
    assert_eq!(store.next_due().unwrap(), Some(t0() + TimeDelta::days(21)));
}

#[test]
fn messages_left_sending_by_a_crash_are_sent_again_with_the_same_message_id() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    introduce(&mut store, "intro-1@mail.example", t0());
    let claimed = store.claim_due(&config, t0()).unwrap();
    assert_eq!(claimed.len(), 1);
    // The process dies here. On start:
    assert_eq!(
        store.recover_sending(t0() + TimeDelta::minutes(1)).unwrap(),
        1
    );
    let again = store
        .claim_due(&config, t0() + TimeDelta::minutes(1))
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].draft.message_id, claimed[0].draft.message_id);
}

#[test]
fn max_per_hour_holds_back_the_rest() {
    let mut store = Store::open_in_memory().unwrap();
    let mut config = config();
    config.schedule.max_per_hour = 3;
    for i in 0..5 {
        introduce(&mut store, &format!("intro-{i}@mail.example"), t0());
    }
    let first = store.claim_due(&config, t0()).unwrap();
    assert_eq!(first.len(), 3);
    for d in &first {
        store.mark_sent(d.id, &config, t0()).unwrap();
    }
    assert!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(30))
            .unwrap()
            .is_empty()
    );
    // An hour later, the other two go.
    assert_eq!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(61))
            .unwrap()
            .len(),
        2
    );
}

/// Under max-per-hour, the mail that has waited longest goes first, whatever order the
/// referrals were recorded in; the rest keep their place.
#[test]
fn max_per_hour_lets_the_longest_waiting_go_first() {
    let mut store = Store::open_in_memory().unwrap();
    let mut config = config();
    config.schedule.max_per_hour = 1;
    // Recorded in this order, each due when recorded: the last one has waited longest.
    let late = introduce(
        &mut store,
        "late@mail.example",
        t0() + TimeDelta::minutes(20),
    );
    let middle = introduce(
        &mut store,
        "middle@mail.example",
        t0() + TimeDelta::minutes(10),
    );
    let early = introduce(&mut store, "early@mail.example", t0());
    let referral_of = |store: &Store, id: OutboundId| -> ReferralId {
        store
            .conn
            .query_row(
                "SELECT referral_id FROM outbound WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    let mut order = Vec::new();
    for hour in 1..=3 {
        let now = t0() + TimeDelta::minutes(30) + TimeDelta::hours(hour - 1) * 61 / 60;
        let due = store.claim_due(&config, now).unwrap();
        assert_eq!(due.len(), 1, "one an hour");
        order.push(referral_of(&store, due[0].id));
        store.mark_sent(due[0].id, &config, now).unwrap();
    }
    assert_eq!(order, [early, middle, late]);
}

#[test]
fn one_message_that_fails_to_record_does_not_hold_up_its_batch() {
    let mut store = Store::open_in_memory().unwrap();
    // A database that refuses one particular referral, as a bug or a broken disk might.
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON referrals WHEN NEW.subject = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
    let config = Config::parse(
        &CONFIG.replace(
            "require-authentication = false",
            "require-authentication = false\naccept-from = [\"bob@networkers.example\"]",
        ),
        "test",
        ".".into(),
    )
    .unwrap();
    let intro = |id: &str, subject: &str| {
        RawMessage {
        origin: format!("{id}.eml"),
        bytes: format!(
            "From: Bob <bob@networkers.example>\r\nTo: fred@a.example, sally@b.example\r\n\
             Cc: intros@tracker.example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@x>\r\n\r\nHi\r\n"
        )
        .into_bytes(),
            arrived_at: None,
        }
    };
    let batch = [
        intro("one", "first"),
        intro("two", "poison"),
        intro("three", "third"),
    ];
    let applied = store.ingest(&batch, &config, t0()).unwrap();
    let outcome: Vec<_> = applied.iter().map(|a| a.result.is_ok()).collect();
    assert_eq!(outcome, [true, false, true]);
    let err = applied[1].result.as_ref().unwrap_err();
    assert!(err.contains("poisoned"), "{err}");
    assert_eq!(store.referrals(None).unwrap().len(), 2);
    // The failed message is kept whole, and not marked processed: it can be tried again.
    let kept: Vec<u8> = store
        .conn
        .query_row(
            "SELECT raw FROM rejected WHERE origin = 'two.eml'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, batch[1].bytes);
    assert!(!store.view().seen("two@x"));
    assert!(store.view().seen("one@x") && store.view().seen("three@x"));
}

#[test]
fn a_forwarded_introduction_is_recorded_once_and_threads_under_the_original() {
    let mut store = Store::open_in_memory().unwrap();
    // Forwarded as an attachment: the forward carries the original's Message-ID.
    let r = introduce_as(
        &mut store,
        "fwd-1@mail.example",
        "original@mail.example",
        t0(),
    );
    let view = store.view();
    // The original itself, arriving later (it was also copied to us), is a duplicate...
    assert!(view.seen("original@mail.example"));
    // ...and replies to it find the referral.
    assert_eq!(
        view.thread_of(&["original@mail.example".into()]),
        Some(ThreadHit {
            referral: r,
            outbound: None
        })
    );
    // Forwarding it a second time records nothing new.
    let again = introduce_as(
        &mut store,
        "fwd-2@mail.example",
        "original@mail.example",
        t0(),
    );
    assert_eq!(again, r);
    assert_eq!(store.referrals(None).unwrap().len(), 1);
    assert!(
        store
            .referral(r)
            .unwrap()
            .unwrap()
            .events
            .iter()
            .any(|e| e.kind == "forwarded")
    );
}

#[test]
fn replies_to_replies_find_their_referral() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let reply = classified(
        "fred-reply@mail.example",
        &fred(),
        Verdict::ThreadReply {
            referral: r,
            from: fred(),
            note: Default::default(),
        },
    );
    store.record(&reply, &raw(), &config(), t0()).unwrap();
    // Sally answers Fred's message, not the introduction.
    assert_eq!(
        store.view().thread_of(&["fred-reply@mail.example".into()]),
        Some(ThreadHit {
            referral: r,
            outbound: None
        })
    );
}

/// Records an introduction of `parties` by `introducer` with `subject`; returns the referral.
fn introduce_people(
    store: &mut Store,
    id: &str,
    introducer: &Person,
    parties: &[Person],
    subject: &str,
    now: DateTime<Utc>,
) -> ReferralId {
    let intro = Introduction {
        introducer: introducer.clone(),
        parties: parties.to_vec(),
        copied: Vec::new(),
        subject: subject.into(),
        thread_root: id.into(),
        references: vec![id.into()],
        forwarded: false,
        options: Default::default(),
    };
    let mut c = classified(id, introducer, Verdict::Introduction(intro));
    c.subject = subject.into();
    store.record(&c, &raw(), &config(), now).unwrap().unwrap()
}

/// Records `from`'s answer on `referral`.
fn answer(
    store: &mut Store,
    id: &str,
    referral: ReferralId,
    from: &Person,
    reading: Reading,
    now: DateTime<Utc>,
) {
    let fb = classified(
        id,
        from,
        Verdict::Feedback {
            referral,
            from: from.clone(),
            reading,
        },
    );
    store.record(&fb, &raw(), &config(), now).unwrap();
}

fn won(rating: u8, value: f64, comment: &str) -> Reading {
    Reading {
        rating: Some(rating),
        outcome: Some(Outcome::Won),
        value: Some(value),
        currency: Some("USD".into()),
        comment: comment.into(),
    }
}

#[test]
fn export_writes_every_referral_as_show_does_and_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let zoe = person("zoe@example.jp", "Zoë \"Z\" Ångström, CPA");
    let nasty = "Intro: Zoë, meet Fred — \"the\" bookkeeper,\r\nfinally";
    let a = introduce_people(
        &mut store,
        "a@x",
        &bob(),
        &[zoe.clone(), fred()],
        nasty,
        t0(),
    );
    let b = introduce(&mut store, "b@x", t0() + TimeDelta::hours(1));
    let later = t0() + TimeDelta::days(15);
    answer(&mut store, "fa@x", a, &fred(), won(4, 2000.0, "ok"), later);
    answer(
        &mut store,
        "fz@x",
        a,
        &zoe,
        won(5, 2500.0, "We signed, \"finally\".\nThanks!"),
        later,
    );

    let mut json = Vec::new();
    assert_eq!(crate::export::json(&store, &mut json).unwrap(), 2);
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let shown: Vec<serde_json::Value> = [a, b]
        .iter()
        .map(|r| serde_json::to_value(store.referral(*r).unwrap().unwrap()).unwrap())
        .collect();
    assert_eq!(json, serde_json::Value::Array(shown));
    assert_eq!(
        json[0]["feedback"][1]["comment"],
        "We signed, \"finally\".\nThanks!"
    );

    let mut csv = Vec::new();
    assert_eq!(
        crate::export::csv(&store, &mut csv, 100_000_000.0).unwrap(),
        2
    );
    let rows = crate::export::csv_reader::read_csv(&String::from_utf8(csv).unwrap());
    assert_eq!(rows[0], crate::export::CSV_HEADER);
    assert_eq!(rows.len(), 3);
    let row: std::collections::HashMap<&str, &str> = crate::export::CSV_HEADER
        .iter()
        .copied()
        .zip(rows[1].iter().map(String::as_str))
        .collect();
    assert_eq!(row["id"], a.to_string());
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["created_at"], "2026-11-02T10:00:00Z");
    assert_eq!(row["subject"], nasty);
    assert_eq!(row["introducer_email"], "bob@networkers.example");
    assert_eq!(row["introducer_name"], "Bob Brown");
    assert_eq!(
        row["parties"],
        "Zoë \"Z\" Ångström, CPA <zoe@example.jp>; Fred Jones <fred@fredsbooks.example>"
    );
    assert_eq!(row["party_states"], "responded; responded");
    assert_eq!(row["rating"], "4.5");
    assert_eq!(
        row["outcomes"],
        "Fred Jones: won; Zoë \"Z\" Ångström, CPA: won"
    );
    // Both reported the deal: it counts once, at the larger amount.
    assert_eq!(row["value"], "2500");
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["answers"], "2");
    // A referral nobody answered has empty figures, not zeros.
    assert_eq!(&rows[2][8..], ["", "", "", "", "0"]);
}

#[test]
fn export_of_an_empty_store_is_an_empty_array_and_a_header() {
    let store = Store::open_in_memory().unwrap();
    let mut json = Vec::new();
    crate::export::json(&store, &mut json).unwrap();
    assert_eq!(json, b"[]\n");
    let mut csv = Vec::new();
    crate::export::csv(&store, &mut csv, 100_000_000.0).unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        crate::export::CSV_HEADER.join(",") + "\r\n"
    );
}

/// Every value in every column of every table that mentions one of `needles` (lower-case)
/// as a whole word, as "table.column: value".
fn mentions(store: &Store, needles: &[&str]) -> Vec<String> {
    let tables: Vec<String> = store
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(tables.len() >= 10, "{tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let mut stmt = store
            .conn
            .prepare(&format!("SELECT * FROM {table}"))
            .unwrap();
        let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, column) in columns.iter().enumerate() {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).to_lowercase()
                    }
                    _ => continue,
                };
                // Whole words only: alfred@… is someone else.
                let whole = |n: &&str| {
                    text.match_indices(n).any(|(i, _)| {
                        !text[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '.')
                    })
                };
                if needles.iter().any(whole) {
                    found.push(format!("{table}.{column}: {text}"));
                }
            }
        }
    }
    found
}

#[test]
fn forget_leaves_no_trace_of_the_address_or_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let frederick = person("Fred@FredsBooks.example", "Frederick Jones");
    let a = introduce_people(
        &mut store,
        "a@x",
        &bob(),
        &[fred(), sally()],
        "Intro: Fred Jones <> Sally Lee",
        t0(),
    );
    let b = introduce_people(
        &mut store,
        "b@x",
        &bob(),
        &[sally(), frederick],
        "Sally, meet Frederick Jones",
        t0(),
    );
    // His follow-up in #a bounces, with his address in the server's words.
    let follow_up = store
        .referral(a)
        .unwrap()
        .unwrap()
        .outbound
        .into_iter()
        .find(|o| o.kind == OutboundKind::FollowUp && o.to == fred().email)
        .unwrap();
    store
        .mark_failed(
            follow_up.id,
            "550 5.1.1 <fred@fredsbooks.example>: mailbox full",
            t0() + TimeDelta::days(2),
        )
        .unwrap();
    let later = t0() + TimeDelta::days(15);
    answer(
        &mut store,
        "fa@x",
        a,
        &fred(),
        won(4, 2000.0, "Sally was great. My cell is 555-0100."),
        later,
    );
    answer(
        &mut store,
        "fs@x",
        a,
        &sally(),
        won(
            5,
            2000.0,
            "FRED JONES is brilliant: write to fred@fredsbooks.example.",
        ),
        later,
    );
    // He wrote on someone else's thread, and sent something that could not be parsed.
    let stranger = classified(
        "stray@x",
        &fred(),
        Verdict::Ignored(IgnoreReason::Stranger(fred().email)),
    );
    store.record(&stranger, &raw(), &config(), later).unwrap();
    let garbled = RawMessage {
        origin: "imap:INBOX/7".into(),
        bytes: b"From: Fred <FRED@fredsbooks.example>\r\n\xff\xfe".to_vec(),
        arrived_at: None,
    };
    let unparseable = classified(
        "garbled@x",
        &fred(),
        Verdict::Ignored(IgnoreReason::Unparseable("no header end".into())),
    );
    store
        .record(&unparseable, &garbled, &config(), later)
        .unwrap();
    let other = RawMessage {
        origin: "imap:INBOX/8".into(),
        bytes: b"From: alfred@fredsbooks.example\r\n\xff".to_vec(),
        arrived_at: None,
    };
    let unparseable = classified(
        "garbled-2@x",
        &bob(),
        Verdict::Ignored(IgnoreReason::Unparseable("no header end".into())),
    );
    store
        .record(&unparseable, &other, &config(), later)
        .unwrap();
    let needles = [
        "fred@fredsbooks.example",
        "fred jones",
        "frederick jones",
        "555-0100",
    ];
    assert!(mentions(&store, &needles).len() > 8);

    let erased = store.forget(" FRED@fredsbooks.example", later).unwrap();
    assert!(erased.found_anything());
    let (contact, placeholder) = erased.contact.clone().unwrap();
    assert_eq!(
        placeholder,
        format!("forgotten-{contact}@forgotten.invalid")
    );
    assert_eq!(erased.referrals, 2);
    assert_eq!(erased.comments, 1);
    assert_eq!(erased.rejected, 1);
    assert!(erased.cancelled >= 1, "{erased:?}");
    assert!(erased.redacted >= 6, "{erased:?}");
    assert_eq!(erased.forgotten_before, None);
    assert_eq!(mentions(&store, &needles), Vec::<String>::new());
    // Nor in the bytes of the file: erased content is overwritten, the log emptied.
    for file in ["referrald.db", "referrald.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !super::forget::contains_address(&bytes, b"fred@fredsbooks.example"),
            "{file}"
        );
        for name in ["Fred Jones", "Frederick Jones", "FRED JONES", "555-0100"] {
            assert!(
                !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} in {file}"
            );
        }
    }

    // What the referrals were stays; who he was does not.
    let detail = store.referral(a).unwrap().unwrap();
    assert_eq!(detail.referral.status, ReferralStatus::Succeeded);
    assert_eq!(detail.referral.subject, "Intro: (forgotten) <> Sally Lee");
    let him = &detail.referral.parties[0];
    assert_eq!(
        (him.name.as_str(), him.email.as_str()),
        (FORGOTTEN, placeholder.as_str())
    );
    assert_eq!(him.state, PartyState::OptedOut);
    assert_eq!(detail.feedback[0].comment, "");
    assert_eq!(detail.feedback[0].rating, Some(4));
    assert_eq!(detail.feedback[0].value, Some(2000.0));
    assert_eq!(
        detail.feedback[1].comment,
        "(forgotten) is brilliant: write to (forgotten)."
    );
    assert!(detail.events.iter().any(|e| e.kind == "forgotten"));
    for r in [a, b] {
        for (kind, to, st) in outbound_of(&store, r) {
            if to == placeholder {
                assert!(
                    matches!(st, OutboundState::Cancelled | OutboundState::Failed),
                    "{kind} in #{r} is {st}"
                );
            }
        }
    }
    // Replies are still matched by the subject as it now reads.
    let key: String = store
        .conn
        .query_row(
            "SELECT subject_key FROM referrals WHERE id = ?1",
            [a],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        key,
        crate::intake::normalize_subject(&detail.referral.subject)
    );
    // Someone else's stored message stays.
    let kept: i64 = store
        .conn
        .query_row("SELECT count(*) FROM rejected", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1);

    // Introduced again, he is recorded as opted out and nothing is planned for him.
    let c = introduce(&mut store, "c@x", later + TimeDelta::days(1));
    let detail = store.referral(c).unwrap().unwrap();
    assert_eq!(detail.referral.parties[0].email, fred().email);
    assert_eq!(detail.referral.parties[0].state, PartyState::OptedOut);
    assert!(
        outbound_of(&store, c)
            .iter()
            .all(|(_, to, _)| *to != fred().email)
    );
    // Forgetting him again erases the new contact, and says when he was first forgotten.
    let again = store
        .forget(&fred().email, later + TimeDelta::days(2))
        .unwrap();
    assert_eq!(again.referrals, 1);
    assert_eq!(
        again.forgotten_before.as_deref(),
        Some("2026-11-17T10:00:00Z")
    );
}

#[test]
fn forgetting_an_unknown_address_changes_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    introduce(&mut store, "a@x", t0());
    let erased = store.forget("nobody@example.org", t0()).unwrap();
    assert!(!erased.found_anything());
    assert_eq!(erased, Erasure::default());
    let hashes: i64 = store
        .conn
        .query_row("SELECT count(*) FROM forgotten", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hashes, 0);
}

/// Whether the bytes of the database file, or of its write-ahead log, hold `needle`.
fn file_holds(dir: &std::path::Path, needle: &str) -> bool {
    ["referrald.db", "referrald.db-wal"].iter().any(|file| {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        bytes
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    })
}

/// Harm guarded against: a row rewritten before `forget` (here the contact, when a bounce
/// was recorded) leaving its old version, address included, in the file's free space.
#[test]
fn rows_rewritten_before_a_forget_leave_nothing_readable_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let checkpoint = |store: &Store| {
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    };
    introduce(&mut store, "a@x", t0());
    checkpoint(&store);
    let bounce = Bounce {
        recipients: vec![fred().email],
        status: Some("5.2.2 mailbox full".into()),
        ..Bounce::default()
    };
    let bounced = classified("dsn@x", &bob(), Verdict::Bounce(bounce));
    store
        .record(&bounced, &raw(), &config(), t0() + TimeDelta::days(1))
        .unwrap();
    checkpoint(&store);
    assert!(file_holds(dir.path(), &fred().email));

    store
        .forget(&fred().email, t0() + TimeDelta::days(2))
        .unwrap();
    assert!(!file_holds(dir.path(), &fred().email));
}

/// Harm guarded against: `forget fred@x` leaving `fred+crm@x`, the same mailbox, on file
/// and on the mailing list.
#[test]
fn forgetting_an_address_forgets_its_plus_detail_variants() {
    let mut store = Store::open_in_memory().unwrap();
    let crm = person("fred+crm@fredsbooks.example", "Fred (CRM)");
    let a = introduce_people(&mut store, "a@x", &bob(), &[crm, sally()], "One", t0());
    introduce_people(&mut store, "b@x", &bob(), &[fred(), sally()], "Two", t0());
    // Someone else's +detail address on the same domain is someone else.
    let alfred = person("fred2+crm@fredsbooks.example", "Alfred");
    introduce_people(&mut store, "c@x", &bob(), &[alfred, sally()], "Three", t0());

    let erased = store.forget(&fred().email, t0()).unwrap();
    assert_eq!(erased.variants, 1);
    assert_eq!(erased.referrals, 2);
    assert_eq!(
        mentions(
            &store,
            &[
                "fred+crm@fredsbooks.example",
                "fred (crm)",
                "fred@fredsbooks.example"
            ]
        ),
        Vec::<String>::new()
    );
    assert!(!mentions(&store, &["fred2+crm@fredsbooks.example"]).is_empty());
    let detail = store.referral(a).unwrap().unwrap();
    assert_eq!(detail.referral.parties[0].name, FORGOTTEN);
    assert_eq!(detail.referral.parties[0].state, PartyState::OptedOut);
    // A new variant later is recognised as forgotten.
    assert!(
        store
            .view()
            .is_forgotten("fred+newsletter@fredsbooks.example")
    );
    assert!(!store.view().is_forgotten("fred2@fredsbooks.example"));
}

/// Harm guarded against: an ignored message (a stranger's, say) claiming a Message-ID and
/// the genuine message with it then being dropped as a duplicate; and a second ingest of
/// any message recording it, or failing, again.
#[test]
fn an_ignored_message_gives_way_to_a_genuine_one_and_nothing_is_recorded_twice() {
    let mut store = Store::open_in_memory().unwrap();
    let stranger = classified(
        "same@x",
        &fred(),
        Verdict::Ignored(IgnoreReason::NotAllowed(fred().email)),
    );
    store.record(&stranger, &raw(), &config(), t0()).unwrap();
    assert!(!store.view().seen("same@x"));
    let referral = introduce(&mut store, "same@x", t0());
    assert!(store.view().seen("same@x"));
    let (kind, reason): (String, Option<String>) = store
        .conn
        .query_row(
            "SELECT kind, reason FROM messages WHERE message_id = 'same@x'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((kind.as_str(), reason), ("introduction", None));
    // Again, ignored or genuine: nothing changes.
    store.record(&stranger, &raw(), &config(), t0()).unwrap();
    let intro_again = store
        .record(
            &classified(
                "same@x",
                &bob(),
                Verdict::Bounce(Bounce {
                    recipients: vec![fred().email],
                    ..Bounce::default()
                }),
            ),
            &raw(),
            &config(),
            t0(),
        )
        .unwrap();
    assert_eq!(intro_again, None);
    let detail = store.referral(referral).unwrap().unwrap();
    assert!(
        detail
            .referral
            .parties
            .iter()
            .all(|p| p.state == PartyState::Pending)
    );
    let unparseable = classified(
        "junk@x",
        &fred(),
        Verdict::Ignored(IgnoreReason::Unparseable("no header fields".into())),
    );
    store.record(&unparseable, &raw(), &config(), t0()).unwrap();
    store.record(&unparseable, &raw(), &config(), t0()).unwrap();
    let rejected: i64 = store
        .conn
        .query_row("SELECT count(*) FROM rejected", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rejected, 1);
}

// An assistant copied to find a time got follow-ups as a party: copied people are kept apart,
// planned nothing, and erased by `forget` like everyone else.
#[test]
fn copied_people_are_shown_planned_nothing_and_forgotten() {
    let mut store = Store::open_in_memory().unwrap();
    let megan = person("megan@networkers.example", "Megan");
    let intro = Introduction {
        introducer: bob(),
        parties: vec![fred(), sally()],
        copied: vec![megan.clone()],
        subject: "Intro".into(),
        thread_root: "c@x".into(),
        references: vec!["c@x".into()],
        forwarded: false,
        options: Default::default(),
    };
    let id = store
        .record(
            &classified("c@x", &bob(), Verdict::Introduction(intro)),
            &raw(),
            &config(),
            t0(),
        )
        .unwrap()
        .unwrap();
    let detail = store.referral(id).unwrap().unwrap();
    assert_eq!(detail.copied, std::slice::from_ref(&megan));
    assert_eq!(detail.referral.parties.len(), 2);
    assert!(
        store.outbox().unwrap().iter().all(|o| o.to != megan.email),
        "{:?}",
        store.outbox().unwrap()
    );
    assert_eq!(store.view().role_in(id, &megan.email), None);
    store.forget(&megan.email, t0()).unwrap();
    let copied = store.referral(id).unwrap().unwrap().copied;
    assert_eq!(copied.len(), 1);
    assert!(!copied[0].email.contains("megan"), "{copied:?}");
    assert!(!copied[0].name.contains("Megan"), "{copied:?}");
}

#[test]
fn a_paused_referral_is_not_due_until_its_pause_ends() {
    // Guards against a paused referral's overdue mail waking the daemon in a busy loop, and
    // against it going out during the pause.
    let config = config();
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-pause@x", t0());
    let until = t0() + TimeDelta::days(10);
    store
        .conn
        .execute(
            "UPDATE referrals SET paused_until = ?2 WHERE id = ?1",
            rusqlite::params![r, ts(until)],
        )
        .unwrap();
    assert_eq!(store.next_due().unwrap(), Some(until));
    assert!(
        store
            .plan_due(&config, t0() + TimeDelta::days(3))
            .unwrap()
            .is_empty()
    );
    assert!(!store.plan_due(&config, until).unwrap().is_empty());
}
