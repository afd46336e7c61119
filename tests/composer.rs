//! The composer end to end: templates rendered for realistic referrals, composed into email,
//! parsed back with mail-parser and checked header by header against SPEC §2.

mod support;

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::MessageParser;
use referrald::composer::{Composer, Draft, ReferralSummary, Rendered};
use referrald::config::Config;
use referrald::model::{Answer, OutboundKind, Outcome, Person};

const TRACKING: &str = "intros@tracker.example.org";
const FOOTER: &str = "Reply STOP and you won't get any more of these notes.";

fn config(templates_dir: Option<&Path>) -> Config {
    let alice = support::config::alice()
        .tracking(TRACKING)
        .owner_emails(&["alice@brightside.example", "alice.smith@home.example"]);
    let alice = match templates_dir {
        Some(dir) => alice.with(&format!(
            "[templates]\ndir = {:?}",
            dir.display().to_string()
        )),
        None => alice,
    };
    alice.parse(Path::new("/nonexistent"))
}

fn composer() -> Composer {
    Composer::new(&config(None)).unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn alice() -> Person {
    Person::new("alice@brightside.example", Some("Alice Smith"))
}
fn bob() -> Person {
    Person::new("bob@networkers.example", Some("Bob Jones"))
}
fn fred() -> Person {
    Person::new("fred@bloggs-books.example", Some("Fred Bloggs"))
}
fn sally() -> Person {
    Person::new("sally@greenleaf.example", Some("Sally Green"))
}
fn jose() -> Person {
    Person::new("jose@mueller.example", Some("José Müller"))
}
fn tom() -> Person {
    Person::new("tom.baker@solar.example", None)
}

/// Monday 2 November 2026, 09:14 in London.
fn introduced_at() -> DateTime<Utc> {
    at(2026, 11, 2, 9, 14)
}

fn referral(introducer: Person, parties: Vec<Person>, subject: &str) -> ReferralSummary {
    ReferralSummary {
        id: 42,
        subject: subject.into(),
        thread_root: "CAHx7=intro.42@mail.networkers.example".into(),
        references: vec![
            "earlier.1@mail.networkers.example".into(),
            "CAHx7=intro.42@mail.networkers.example".into(),
        ],
        introduced_at: introduced_at(),
        introducer,
        parties,
        heard: Vec::new(),
    }
}

fn draft(kind: OutboundKind, to: Person, referral: ReferralSummary) -> Draft {
    Draft {
        kind,
        message_id: format!(
            "{kind}.42.{}@tracker.example.org",
            to.email.replace('@', ".")
        ),
        to,
        referral,
        feedback: Vec::new(),
    }
}

fn feedback(
    from: Person,
    rating: Option<u8>,
    outcome: Option<Outcome>,
    value: Option<(f64, &str)>,
    comment: &str,
) -> Answer<Person> {
    Answer {
        from,
        rating,
        outcome,
        value: value.map(|(v, _)| v),
        currency: value.map(|(_, c)| c.to_string()).filter(|c| !c.is_empty()),
        comment: comment.into(),
        at: at(2026, 11, 17, 8, 0),
        reported: false,
    }
}

/// When each kind goes out with the default schedule, for the golden files.
fn due(kind: OutboundKind) -> DateTime<Utc> {
    match kind {
        OutboundKind::ThankYou => at(2026, 11, 2, 9, 20),
        OutboundKind::OwnerNudge => at(2026, 11, 3, 9, 14),
        OutboundKind::FollowUp => at(2026, 11, 4, 9, 14),
        OutboundKind::FeedbackRequest => at(2026, 11, 16, 9, 14),
        OutboundKind::FeedbackReminder => at(2026, 11, 23, 9, 14),
        OutboundKind::OutcomeReport => at(2026, 11, 24, 10, 0),
    }
}

fn show(rendered: &Rendered) -> String {
    format!("Subject: {}\n\n{}", rendered.subject, rendered.body)
}

fn compose_and_parse(c: &Composer, d: &Draft, now: DateTime<Utc>) -> (Vec<u8>, String) {
    let message = c.compose(d, now).unwrap();
    let raw = message.formatted();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    // On the wire lines end in CRLF; the assertions read better with LF.
    let body = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    (raw, body)
}

/// The recipient each kind goes to, given who the parties are.
fn recipient(kind: OutboundKind, r: &ReferralSummary) -> Person {
    match kind {
        OutboundKind::ThankYou | OutboundKind::OutcomeReport => r.introducer.clone(),
        OutboundKind::OwnerNudge => alice(),
        _ => r
            .parties
            .iter()
            .find(|p| p.email != alice().email)
            .unwrap()
            .clone(),
    }
}

// ---------------------------------------------------------------------------------------
// Golden files: the product's voice, reviewed line by line. Run with UPDATE_GOLDEN=1 to
// rewrite them after a deliberate change, and review the diff.
// ---------------------------------------------------------------------------------------

fn check_golden(dir: &str, kind: OutboundKind, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/composer")
        .join(dir)
        .join(format!("{kind}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(actual, expected, "{} differs", path.display());
}

/// The owner, Alice, was introduced to Fred by Bob: every kind applies.
#[test]
fn golden_owner_introduced_to_fred() {
    let c = composer();
    let r = referral(bob(), vec![alice(), fred()], "Alice, meet Fred");
    for kind in OutboundKind::ALL {
        let mut d = draft(*kind, recipient(*kind, &r), r.clone());
        d.feedback = vec![feedback(
            fred(),
            Some(5),
            Some(Outcome::Won),
            Some((1200.0, "GBP")),
            "Alice sorted out our year-end accounts in a week. A great introduction, thank you!",
        )];
        check_golden("", *kind, &show(&c.render(&d, due(*kind)).unwrap()));
    }
}

/// Alice introduced Fred and José to each other.
#[test]
fn golden_owner_introduced_two_people() {
    let c = composer();
    let r = referral(alice(), vec![fred(), jose()], "Fred, meet José");
    for kind in [
        OutboundKind::FollowUp,
        OutboundKind::FeedbackRequest,
        OutboundKind::FeedbackReminder,
    ] {
        let d = draft(kind, recipient(kind, &r), r.clone());
        check_golden("introducer", kind, &show(&c.render(&d, due(kind)).unwrap()));
    }
}

/// Bob introduced three people to each other in German; Alice only keeps track.
#[test]
fn golden_group_tracked_for_others() {
    let c = composer();
    let r = referral(bob(), vec![fred(), jose(), sally()], "AW: Vorstellung");
    for kind in [
        OutboundKind::ThankYou,
        OutboundKind::FollowUp,
        OutboundKind::FeedbackRequest,
        OutboundKind::FeedbackReminder,
        OutboundKind::OutcomeReport,
    ] {
        let mut d = draft(kind, recipient(kind, &r), r.clone());
        d.feedback = vec![
            feedback(
                fred(),
                Some(4),
                Some(Outcome::Met),
                None,
                "Had a good coffee with José.\nNothing concrete yet, but promising.",
            ),
            feedback(jose(), None, Some(Outcome::Won), Some((3500.0, "EUR")), ""),
            feedback(sally(), Some(2), None, None, "Not really my field, sadly."),
        ];
        check_golden("tracker", kind, &show(&c.render(&d, due(kind)).unwrap()));
    }
}

// ---------------------------------------------------------------------------------------
// Headers (SPEC §2), read back by a real parser.
// ---------------------------------------------------------------------------------------

#[test]
fn every_kind_carries_the_headers_of_spec_section_2() {
    let c = composer();
    let r = referral(bob(), vec![alice(), jose()], "Alice, meet José");
    for kind in OutboundKind::ALL {
        let d = draft(*kind, recipient(*kind, &r), r.clone());
        let now = due(*kind);
        let message = c.compose(&d, now).unwrap();
        let raw = message.formatted();
        let text = String::from_utf8_lossy(&raw);
        let m = MessageParser::default().parse(&raw).unwrap();

        let from = m.from().unwrap().first().unwrap();
        // The owner's tracker writes to others; the tool itself writes to the owner.
        let sender = if d.to.email == alice().email {
            "referrald"
        } else {
            "Alice Smith via referrald"
        };
        assert_eq!(from.name(), Some(sender), "{kind}");
        assert_eq!(from.address(), Some(TRACKING));
        // Replies reach the owner and the tracker; the owner's own mail answers the tracker.
        let reply_to: Vec<Option<&str>> =
            m.reply_to().unwrap().iter().map(|a| a.address()).collect();
        if d.to.email == alice().email {
            assert_eq!(reply_to, [Some(TRACKING)], "{kind}");
        } else {
            assert_eq!(
                reply_to,
                [Some("alice@brightside.example"), Some(TRACKING)],
                "{kind}"
            );
        }
        let to = m.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some(d.to.email.as_str()));
        assert_eq!(to.name(), Some(d.to.name.as_str()));
        assert_eq!(m.message_id(), Some(d.message_id.as_str()));
        assert_eq!(
            m.in_reply_to().as_text(),
            Some("CAHx7=intro.42@mail.networkers.example")
        );
        let references: Vec<&str> = m
            .references()
            .as_text_list()
            .unwrap()
            .iter()
            .map(|s| s.as_ref())
            .collect();
        assert_eq!(
            references,
            [
                "earlier.1@mail.networkers.example",
                "CAHx7=intro.42@mail.networkers.example"
            ]
        );
        assert_eq!(m.date().unwrap().to_timestamp(), now.timestamp());
        let raw_header = |name: &str| m.header_raw(name).map(str::trim).map(str::to_string);
        assert_eq!(
            raw_header("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert_eq!(
            raw_header("X-Auto-Response-Suppress").as_deref(),
            Some("OOF, AutoReply")
        );
        assert_eq!(
            raw_header("List-Unsubscribe").as_deref(),
            Some("<mailto:intros@tracker.example.org?subject=unsubscribe>")
        );
        assert_eq!(
            raw_header("X-Loop").as_deref(),
            Some("intros@tracker.example.org")
        );
        assert_eq!(
            raw_header("X-Referrald-Kind").as_deref(),
            Some(kind.as_str())
        );
        // Deliberately absent: see templates/README.md, "Headers".
        assert_eq!(raw_header("Precedence"), None);
        let content_type = raw_header("Content-Type").unwrap().to_lowercase();
        assert!(
            content_type.starts_with("text/plain") && content_type.contains("charset=utf-8"),
            "{text}"
        );

        let subject = m.subject().unwrap();
        match kind {
            OutboundKind::OutcomeReport => {
                assert_eq!(subject, "How it went: Alice, meet José")
            }
            _ => assert_eq!(subject, "Re: Alice, meet José", "{kind}"),
        }

        let body = m.body_text(0).unwrap().replace("\r\n", "\n");
        let last = body.trim_end().lines().last().unwrap();
        if d.to.email == alice().email {
            // The owner's own tool: nothing to opt out of.
            assert!(!body.contains("STOP"), "{kind}: {body}");
            assert!(last.contains("referrald"), "{kind}: {last:?}");
        } else {
            assert!(last.contains(FOOTER), "{kind}: {last:?}");
            assert!(last.contains("Alice Smith"), "{kind}: {last:?}");
        }
        assert!(
            body.contains("\n-- \n"),
            "a signature separator hides the footer in replies"
        );
        assert!(!body.contains("none"), "{kind}: {body}");
    }
}

// "Alice Smith" <intros@tracker…> is a person's name on another domain: the pattern
// Gmail's and Outlook's impersonation warnings look for.
#[test]
fn the_from_name_says_it_is_the_owners_tracker_and_can_be_configured() {
    let r = referral(bob(), vec![fred(), sally()], "Fred, meet Sally");
    let from_name = |c: &Composer, to: Person| {
        let raw = c
            .compose(
                &draft(OutboundKind::FollowUp, to, r.clone()),
                due(OutboundKind::FollowUp),
            )
            .unwrap()
            .formatted();
        let m = MessageParser::default().parse(&raw).unwrap();
        m.from()
            .unwrap()
            .first()
            .unwrap()
            .name()
            .map(str::to_string)
    };
    assert_eq!(
        from_name(&composer(), fred()).as_deref(),
        Some("Alice Smith via referrald")
    );
    let mut config = config(None);
    config.owner.from_name = Some("Brightside Intros".into());
    let c = Composer::new(&config).unwrap();
    assert_eq!(from_name(&c, fred()).as_deref(), Some("Brightside Intros"));
}

#[test]
fn non_ascii_names_are_encoded_and_come_back_intact() {
    let c = composer();
    let r = referral(
        bob(),
        vec![fred(), jose()],
        "Fred <> José: Buchhaltung für Müller GmbH",
    );
    let d = draft(OutboundKind::FollowUp, jose(), r);
    let message = c.compose(&d, due(OutboundKind::FollowUp)).unwrap();
    let raw = message.formatted();
    let head =
        String::from_utf8_lossy(&raw[..raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
            .into_owned();
    assert!(head.is_ascii(), "headers must be 7-bit: {head}");
    assert!(
        head.contains("=?utf-8?"),
        "RFC 2047 encoded words expected: {head}"
    );
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.to().unwrap().first().unwrap().name(), Some("José Müller"));
    assert_eq!(
        m.subject(),
        Some("Re: Fred <> José: Buchhaltung für Müller GmbH")
    );
    let body = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(body.starts_with("Hi José,\n"), "{body}");
}

#[test]
fn subjects_reply_without_doubling_prefixes() {
    let c = composer();
    let subject_for = |intro: &str, kind: OutboundKind| {
        let r = referral(bob(), vec![fred(), sally()], intro);
        let d = draft(kind, recipient(kind, &r), r);
        c.render(&d, due(kind)).unwrap().subject
    };
    use OutboundKind::*;
    assert_eq!(
        subject_for("Fred, meet Sally", FollowUp),
        "Re: Fred, meet Sally"
    );
    assert_eq!(
        subject_for("Re: Fred, meet Sally", FollowUp),
        "Re: Fred, meet Sally"
    );
    assert_eq!(
        subject_for("RE: Fred, meet Sally", FeedbackRequest),
        "RE: Fred, meet Sally"
    );
    assert_eq!(
        subject_for("AW: Vorstellung", FeedbackReminder),
        "AW: Vorstellung"
    );
    assert_eq!(
        subject_for("Fred, meet Sally", ThankYou),
        "Re: Fred, meet Sally"
    );
    assert_eq!(
        subject_for("Fred, meet Sally", OwnerNudge),
        "Re: Fred, meet Sally"
    );
    // The report is news, not a reply: its own subject, without any Re:/AW:.
    assert_eq!(
        subject_for("Re: AW: Vorstellung", OutcomeReport),
        "How it went: Vorstellung"
    );
    // An introduction without a subject still gets a sensible one.
    assert_eq!(
        subject_for("", FollowUp),
        "Re: Introduction: Fred and Sally"
    );
    // A subject folded over lines by the introducer's client stays on one line.
    assert_eq!(
        subject_for("Fred,\r\n meet   Sally", FollowUp),
        "Re: Fred, meet Sally"
    );
}

#[test]
fn references_are_capped_but_keep_the_root_of_the_thread() {
    let c = composer();
    let mut r = referral(bob(), vec![fred(), sally()], "Intro");
    r.references = (1..=30).map(|i| format!("m{i}@x.example")).collect();
    r.thread_root = "m30@x.example".into();
    let d = draft(OutboundKind::FollowUp, fred(), r);
    let raw = c
        .compose(&d, due(OutboundKind::FollowUp))
        .unwrap()
        .formatted();
    let m = MessageParser::default().parse(&raw).unwrap();
    let refs = m.references().as_text_list().unwrap();
    assert_eq!(refs.len(), 10);
    assert_eq!(refs[0], "m1@x.example");
    assert_eq!(refs[9], "m30@x.example");
    assert_eq!(m.in_reply_to().as_text(), Some("m30@x.example"));
}

#[test]
fn a_bad_message_id_or_address_is_an_error_not_a_header() {
    let c = composer();
    let r = referral(bob(), vec![fred(), sally()], "Intro");
    let mut d = draft(OutboundKind::FollowUp, fred(), r.clone());
    d.message_id = "x@y\r\nBcc: eve@evil.example".into();
    assert!(c.compose(&d, due(OutboundKind::FollowUp)).is_err());
    let mut d = draft(OutboundKind::FollowUp, fred(), r);
    d.to.email = "not an address".into();
    let err = c.compose(&d, due(OutboundKind::FollowUp)).unwrap_err();
    assert!(err.to_string().contains("not an address"), "{err:#}");
}

// ---------------------------------------------------------------------------------------
// What the messages say, case by case.
// ---------------------------------------------------------------------------------------

#[test]
fn the_owner_thanks_in_the_first_person_when_introduced() {
    let c = composer();
    let r = referral(bob(), vec![alice(), fred()], "Alice, meet Fred");
    let (_, body) = compose_and_parse(
        &c,
        &draft(OutboundKind::ThankYou, bob(), r),
        due(OutboundKind::ThankYou),
    );
    assert!(body.starts_with("Hi Bob,\n"), "{body}");
    assert!(
        body.contains("Thank you so much for introducing me to Fred."),
        "{body}"
    );
    assert!(
        body.contains("\nAlice\n"),
        "signed with the owner's first name: {body}"
    );

    let r = referral(bob(), vec![fred(), sally()], "Fred, meet Sally");
    let (_, body) = compose_and_parse(
        &c,
        &draft(OutboundKind::ThankYou, bob(), r),
        due(OutboundKind::ThankYou),
    );
    assert!(
        body.contains("Thank you for connecting Fred and Sally!"),
        "{body}"
    );
}

#[test]
fn the_owner_nudge_names_the_introducer_and_the_people_to_contact() {
    let c = composer();
    let r = referral(bob(), vec![alice(), fred(), jose()], "Intro");
    let (_, body) = compose_and_parse(
        &c,
        &draft(OutboundKind::OwnerNudge, alice(), r),
        due(OutboundKind::OwnerNudge),
    );
    assert!(
        body.contains(
            "You received a referral from Bob Jones yesterday: did you contact Fred and José?"
        ),
        "{body}"
    );
    assert!(
        body.contains("José Müller <jose@mueller.example>"),
        "{body}"
    );
}

#[test]
fn follow_ups_in_a_group_name_everyone_else() {
    let c = composer();
    let r = referral(bob(), vec![fred(), sally(), jose(), tom()], "Intro");
    let (_, body) = compose_and_parse(
        &c,
        &draft(OutboundKind::FollowUp, sally(), r.clone()),
        due(OutboundKind::FollowUp),
    );
    assert!(
        body.contains("Bob introduced you to Fred, José and Tom on Wednesday")
            || body.contains("Bob introduced you to Fred, José and Tom on Monday"),
        "{body}"
    );
    assert!(body.contains("have you had a chance to connect?"), "{body}");
    assert!(body.contains("Here's where to find them:"), "{body}");
    assert!(
        body.contains("Tom Baker <tom.baker@solar.example>"),
        "{body}"
    );
    assert!(
        !body.contains("Sally Green <"),
        "not her own address: {body}"
    );

    let r = referral(bob(), vec![fred(), sally()], "Intro");
    let (_, body) = compose_and_parse(
        &c,
        &draft(OutboundKind::FollowUp, sally(), r),
        due(OutboundKind::FollowUp),
    );
    assert!(
        body.contains("Bob introduced you and Fred on Monday"),
        "{body}"
    );
    assert!(
        body.contains("have you two had a chance to connect?"),
        "{body}"
    );
}

#[test]
fn follow_ups_from_a_party_point_to_the_owner_not_the_robot() {
    let c = composer();
    let r = referral(bob(), vec![alice(), fred(), sally()], "Intro");
    let (_, body) = compose_and_parse(
        &c,
        &draft(OutboundKind::FollowUp, fred(), r),
        due(OutboundKind::FollowUp),
    );
    assert!(
        body.contains("Bob introduced us (and Sally) on Monday"),
        "{body}"
    );
    // Replies go to the tracking address; a conversation belongs in the owner's own inbox.
    assert!(
        body.contains("drop me a line at alice@brightside.example"),
        "{body}"
    );
}

// It read like a survey ("a number from 1 to 5 (5 being great) … and roughly what it was
// worth"): one open question now, with a 1–5 hint at most; the reader turns words into ratings.
#[test]
fn the_feedback_request_asks_one_open_question() {
    let c = composer();
    for (introducer, parties) in [
        (alice(), vec![fred(), sally()]),
        (bob(), vec![alice(), fred()]),
        (bob(), vec![fred(), sally(), jose()]),
    ] {
        let r = referral(introducer, parties, "Intro");
        let to = recipient(OutboundKind::FeedbackRequest, &r);
        let (_, body) = compose_and_parse(
            &c,
            &draft(OutboundKind::FeedbackRequest, to, r),
            due(OutboundKind::FeedbackRequest),
        );
        let letter = body.split("\n-- \n").next().unwrap();
        assert!(letter.contains("How did it go"), "{body}");
        assert_eq!(letter.matches('?').count(), 1, "{body}");
        assert!(
            letter.contains("a score out of 5 too, if you like"),
            "{body}"
        );
        for survey in ["1 to 5", "5 being great", "worth", "business"] {
            assert!(!letter.contains(survey), "{survey}: {body}");
        }
        assert!(body.contains("two weeks ago"), "{body}");
    }
}

#[test]
fn outcome_reports_handle_every_shape_of_feedback() {
    let c = composer();
    let r = referral(bob(), vec![fred(), sally()], "Fred, meet Sally");
    let report = |feedback: Vec<Answer<Person>>| {
        let mut d = draft(OutboundKind::OutcomeReport, bob(), r.clone());
        d.feedback = feedback;
        let body = compose_and_parse(&c, &d, due(OutboundKind::OutcomeReport)).1;
        assert!(!body.contains("none"), "{body}");
        body
    };

    let body = report(vec![feedback(
        fred(),
        Some(5),
        Some(Outcome::Won),
        Some((1200.0, "GBP")),
        "",
    )]);
    assert!(
        body.contains(
            "Fred gave it 5 out of 5 and says they did business together (worth about £1,200)."
        ),
        "{body}"
    );

    let body = report(vec![
        feedback(fred(), None, Some(Outcome::Lost), None, "Timing was wrong."),
        feedback(sally(), Some(3), None, Some((99.5, "USD")), ""),
    ]);
    assert!(
        body.contains("Fred says they didn't end up doing business:"),
        "{body}"
    );
    assert!(body.contains("  \"Timing was wrong.\""), "{body}");
    assert!(
        body.contains("Sally gave it 3 out of 5 (worth about $99.50)."),
        "{body}"
    );

    let body = report(vec![feedback(
        sally(),
        None,
        None,
        None,
        "We've had one call so far.",
    )]);
    assert!(
        body.contains("Sally wrote:\n\n  \"We've had one call so far.\""),
        "{body}"
    );

    let body = report(vec![feedback(
        sally(),
        None,
        None,
        Some((5000.0, "CHF")),
        "",
    )]);
    assert!(
        body.contains("Sally mentioned business worth about CHF 5,000."),
        "{body}"
    );

    let body = report(Vec::new());
    assert!(
        body.contains("I haven't heard back from anyone yet"),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------
// Overrides and the startup checks.
// ---------------------------------------------------------------------------------------

fn composer_with(files: &[(&str, &str)]) -> (tempfile::TempDir, anyhow::Result<Composer>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let result = Composer::new(&config(Some(dir.path())));
    (dir, result)
}

#[test]
fn an_override_replaces_one_kind_and_leaves_the_others() {
    let (dir, c) = composer_with(&[(
        "follow_up.txt",
        "Subject: Quick check-in about {{ referral.topic }}\n\nHello {{ recipient.first_name }}, did you meet {{ other_parties|first_names }}?\n\n{{ owner.first_name }}\n",
    )]);
    let c = c.unwrap();
    assert_eq!(
        c.template_origin(OutboundKind::FollowUp),
        dir.path().join("follow_up.txt").display().to_string()
    );
    assert_eq!(
        c.template_origin(OutboundKind::ThankYou),
        "built-in thank_you.txt"
    );
    let r = referral(bob(), vec![fred(), sally(), tom()], "Re: Intro");
    let rendered = c
        .render(
            &draft(OutboundKind::FollowUp, fred(), r.clone()),
            due(OutboundKind::FollowUp),
        )
        .unwrap();
    assert_eq!(rendered.subject, "Quick check-in about Intro");
    assert!(
        rendered
            .body
            .starts_with("Hello Fred, did you meet Sally and Tom?\n\nAlice\n\n-- \n"),
        "{}",
        rendered.body
    );
    assert!(
        rendered.body.contains(FOOTER),
        "no override can drop the footer"
    );
    let thanks = c
        .render(
            &draft(OutboundKind::ThankYou, bob(), r),
            due(OutboundKind::ThankYou),
        )
        .unwrap();
    assert!(
        thanks.body.contains("Thank you for connecting"),
        "{}",
        thanks.body
    );
}

fn error_of(files: &[(&str, &str)]) -> String {
    let (_dir, result) = composer_with(files);
    format!("{:#}", result.unwrap_err())
}

#[test]
fn an_unknown_variable_is_named_with_its_file_kind_and_line() {
    let err = error_of(&[(
        "feedback_request.txt",
        "Subject: {{ reply_subject }}\n\nHi {{ recipient.first_name }},\n\n{% if owner_is_party %}\n{{ recipient.nickname }}\n{% endif %}\n",
    )]);
    assert!(err.contains("feedback_request.txt"), "{err}");
    assert!(err.contains("(feedback_request)"), "{err}");
    assert!(err.contains("`recipient.nickname`"), "{err}");
    assert!(err.contains("line 6"), "{err}");

    // A variable of another kind.
    let err = error_of(&[(
        "follow_up.txt",
        "Subject: x\n\n{% for f in feedback %}{{ f.comment }}{% endfor %}\n",
    )]);
    assert!(
        err.contains("unknown variable `feedback`") && err.contains("(follow_up)"),
        "{err}"
    );

    // In the subject line.
    let err = error_of(&[(
        "thank_you.txt",
        "Subject: Thanks, {{ introducer.nick }}\n\nHi\n",
    )]);
    assert!(
        err.contains("`introducer.nick`") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn a_typo_inside_a_loop_is_caught_by_the_sample_renders() {
    let err = error_of(&[(
        "outcome_report.txt",
        "Subject: How it went\n\nHi,\n\n{% for f in feedback %}\n{{ f.from.first_name }}: {{ f.ratng }}\n{% endfor %}\n",
    )]);
    assert!(
        err.contains("outcome_report.txt") && err.contains("(outcome_report)"),
        "{err}"
    );
    assert!(err.contains("f.ratng"), "{err}");
    assert!(err.contains("line 6"), "{err}");
}

#[test]
fn printing_a_value_that_can_be_missing_is_caught() {
    let err = error_of(&[(
        "outcome_report.txt",
        "Subject: How it went\n\nHi,\n\n{% for f in feedback %}\n{{ f.from.first_name }} gave {{ f.rating }}/5\n{% endfor %}\n",
    )]);
    assert!(err.contains("f.rating") && err.contains("none"), "{err}");
}

#[test]
fn a_syntax_error_names_the_file() {
    let err = error_of(&[(
        "owner_nudge.txt",
        "Subject: x\n\nHi {{ owner.first_name }\n",
    )]);
    assert!(
        err.contains("owner_nudge.txt") && err.contains("(owner_nudge)"),
        "{err}"
    );
    assert!(
        err.contains("syntax error") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn files_that_name_no_kind_are_refused() {
    let err = error_of(&[("folow_up.txt", "Subject: x\n\ny\n")]);
    assert!(
        err.contains("folow_up.txt") && err.contains("not a template name"),
        "{err}"
    );
    assert!(
        err.contains("follow_up.txt"),
        "the valid names are listed: {err}"
    );
    // Notes and hidden files are fine.
    let (_dir, ok) = composer_with(&[("README.md", "my notes"), (".follow_up.txt.swp", "")]);
    ok.unwrap();
}

#[test]
fn the_file_format_is_checked() {
    let err = error_of(&[("thank_you.txt", "Hi {{ introducer.first_name }}\n")]);
    assert!(
        err.contains("thank_you.txt") && err.contains("Subject:"),
        "{err}"
    );
    let err = error_of(&[("thank_you.txt", "Subject: x\nHi\n")]);
    assert!(
        err.contains("line 2") && err.contains("blank line"),
        "{err}"
    );
    // CRLF files and a byte-order mark are fine.
    let (_dir, ok) = composer_with(&[(
        "thank_you.txt",
        "\u{feff}Subject: Thanks\r\n\r\nHi {{ introducer.first_name }}\r\n",
    )]);
    ok.unwrap();
}

#[test]
fn a_missing_templates_directory_is_an_error() {
    let err = Composer::new(&config(Some(Path::new("/nonexistent/templates")))).unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/templates"),
        "{err:#}"
    );
}

#[test]
fn unknown_variable_errors_say_what_would_work() {
    let err = error_of(&[(
        "thank_you.txt",
        "Subject: x\n\nHi {{ recipient.nickname }}\n",
    )]);
    assert!(
        err.contains("`recipient` has name, first_name, email, is_owner"),
        "{err}"
    );
    let err = error_of(&[(
        "thank_you.txt",
        "Subject: x\n\n{% if owner_is_party %}\n{% set who = \"me\" %}\n{% endif %}\n{{ who }}\n",
    )]);
    assert!(
        err.contains("`who`") && err.contains("if-expression"),
        "{err}"
    );
}

// "Fred wrote back on Tuesday — did you two find a time?": say what is known, do not ask it.
#[test]
fn messages_say_what_referrald_already_knows() {
    let c = composer();
    let mut r = referral(bob(), vec![fred(), sally()], "Fred, meet Sally");
    r.heard = vec![(sally(), at(2026, 11, 2, 15, 0))];
    let d = draft(OutboundKind::FollowUp, fred(), r.clone());
    let body = c.render(&d, due(OutboundKind::FollowUp)).unwrap().body;
    assert!(
        body.contains("Sally wrote back on Monday — did you two find a time?"),
        "{body}"
    );
    // Sally's own follow-up does not tell her about herself.
    let d = draft(OutboundKind::FollowUp, sally(), r.clone());
    let body = c.render(&d, due(OutboundKind::FollowUp)).unwrap().body;
    assert!(!body.contains("wrote back"), "{body}");

    let mut d = draft(OutboundKind::FeedbackRequest, fred(), r);
    d.feedback = vec![feedback(
        sally(),
        Some(5),
        Some(Outcome::Won),
        None,
        "We signed!",
    )];
    let body = c
        .render(&d, due(OutboundKind::FeedbackRequest))
        .unwrap()
        .body;
    assert!(
        body.contains("Sally tells me you did business together: how was it from your side?"),
        "{body}"
    );
}

// The introducer read "Carol gave it 4 out of 5" about the owner's own deal.
#[test]
fn the_owners_own_outcome_report_speaks_in_the_first_person_without_a_score() {
    let c = composer();
    let r = referral(bob(), vec![alice(), sally()], "Alice, meet Sally");
    let mut d = draft(OutboundKind::OutcomeReport, bob(), r);
    d.feedback = vec![feedback(
        sally(),
        Some(4),
        Some(Outcome::Met),
        None,
        "Alice was lovely, but her rates are a bit high for us.",
    )];
    let body = c.render(&d, due(OutboundKind::OutcomeReport)).unwrap().body;
    assert!(body.contains("Sally and I have met."), "{body}");
    for score in ["out of 5", "4", "rates"] {
        assert!(!body.contains(score), "{score}: {body}");
    }
    // Nothing said yet about how it went: still in the first person.
    d.feedback = vec![feedback(sally(), Some(5), None, None, "")];
    let body = c.render(&d, due(OutboundKind::OutcomeReport)).unwrap().body;
    assert!(body.contains("Sally and I have been in touch."), "{body}");
    assert!(!body.contains('5'), "{body}");
}

#[test]
fn the_owners_report_names_everyone_in_a_group_once() {
    let c = composer();
    let r = referral(bob(), vec![fred(), alice(), sally()], "Intro");
    let mut d = draft(OutboundKind::OutcomeReport, bob(), r);
    d.feedback = vec![feedback(
        fred(),
        None,
        Some(Outcome::Won),
        Some((900.0, "GBP")),
        "",
    )];
    let body = c.render(&d, due(OutboundKind::OutcomeReport)).unwrap().body;
    assert!(
        body.contains("Fred, Sally and I did business together (worth about £900)."),
        "{body}"
    );
}
