//! The store against a real SQLite database: migrations, recording incoming mail, and what
//! intake may ask of it. The plan, the outbox's bookkeeping, export and forget have their
//! own files beside this one, and share its helpers.

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

mod export;
mod forget;
mod ledger;
mod outbound;
mod plan;

/// Alice's configuration (see [`crate::config::testing`]), with a second address of hers
/// and room for large amounts. These tests were written when the thank-you went at once;
/// its wait is tested in the planner.
fn config() -> Config {
    crate::config::testing::config(
        r#"
[owner]
emails = ["alice@brightside.example", "alice@home.example"]
[intake]
max-amount = 1000000
[schedule]
thank-you-after = "0s"
"#,
    )
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

/// Makes the messages due by `at`, as the outbox's round does just before it claims them:
/// until then a referral keeps only the time its next message falls due.
fn make_due(store: &mut Store, at: DateTime<Utc>) {
    store.plan_due(&config(), at).unwrap();
}

/// What the plan holds for `referral` at `at`: the messages made and not yet sent, and the
/// ones the forecast says will follow.
fn planned(store: &Store, referral: ReferralId, at: DateTime<Utc>) -> Vec<(OutboundKind, String)> {
    let mut v: Vec<(OutboundKind, String)> = outbound_of(store, referral)
        .into_iter()
        .filter(|(_, _, s)| *s == OutboundState::Scheduled)
        .map(|(k, t, _)| (k, t))
        .collect();
    v.extend(
        store
            .forecast_referral(referral, &config(), at)
            .unwrap()
            .into_iter()
            .map(|p| (p.kind, p.to)),
    );
    v
}

fn state(store: &Store, referral: ReferralId, kind: OutboundKind, to: &str) -> OutboundState {
    outbound_of(store, referral)
        .into_iter()
        .find(|(k, t, _)| *k == kind && t == to)
        .map(|(_, _, s)| s)
        .unwrap_or_else(|| panic!("no {kind} to {to}"))
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

/// Harm: the web page's background indexing (or a second process) committed while an action
/// had read and was about to write, and the action failed with "database is locked" at once
/// (a deferred transaction cannot wait that out). Every write transaction takes the lock first.
#[test]
fn a_writer_waits_for_another_rather_than_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("referrald.db");
    let mut first = Store::open(&path).unwrap();
    let (began, wait_for_it) = std::sync::mpsc::channel();
    let (wrote, written) = std::sync::mpsc::channel();
    let other = std::thread::spawn({
        let path = path.clone();
        move || {
            let second = Store::open(&path).unwrap();
            wait_for_it.recv().unwrap();
            let result = second.conn.execute(
                "INSERT INTO digests (week, decided_at) VALUES ('2026-12-07', 'x')",
                [],
            );
            let _ = wrote.send(());
            result
        }
    });
    let tx = first.conn.transaction().unwrap();
    let _: i64 = tx
        .query_row("SELECT count(*) FROM referrals", [], |r| r.get(0))
        .unwrap();
    began.send(()).unwrap();
    // Deferred, the other write would go through now and this one fail; taken at the
    // start, the other waits (this wait then runs out, and this transaction goes on).
    let _ = written.recv_timeout(std::time::Duration::from_millis(500));
    tx.execute(
        "INSERT INTO digests (week, decided_at) VALUES ('2026-12-14', 'y')",
        [],
    )
    .expect("the first writer writes");
    tx.commit().unwrap();
    other
        .join()
        .unwrap()
        .expect("the second writer waited its turn and wrote");
    let weeks: i64 = first
        .conn
        .query_row("SELECT count(*) FROM digests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(weeks, 2);
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
    assert_eq!(store.schema_version().unwrap(), 14);
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
        super::plan::options_of(&store.conn, 1)
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
    let snapshot = super::plan::load_snapshot(&store.conn, 1).unwrap();
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
    // 0011: mail sent before its text was kept has none.
    assert!(store.sent_texts(1).unwrap().is_empty());
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
    assert_eq!(read_only.schema_version().unwrap(), 14);
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
    // Nothing is made until it is due: the referral keeps when its first message is.
    assert_eq!(outbound_of(&store, r), vec![]);
    assert_eq!(store.next_due().unwrap(), Some(t0()));
    let bob = "bob@networkers.example".to_string();
    let fred = "fred@fredsbooks.example".to_string();
    let sally = "sally@sallysdesign.example".to_string();
    assert_eq!(
        planned(&store, r, t0()),
        vec![
            (ThankYou, bob.clone()),
            (FollowUp, fred.clone()),
            (FollowUp, sally.clone()),
            (FeedbackRequest, fred.clone()),
            (FeedbackRequest, sally.clone()),
            (FeedbackReminder, fred.clone()),
            (FeedbackReminder, sally.clone()),
        ]
    );
    // The outbox's round on the day the follow-ups fall due makes them, and the thank-you.
    make_due(&mut store, t0() + TimeDelta::days(2));
    let kinds: Vec<_> = outbound_of(&store, r)
        .into_iter()
        .map(|(k, t, _)| (k, t))
        .collect();
    assert_eq!(
        kinds,
        vec![(ThankYou, bob), (FollowUp, fred), (FollowUp, sally)]
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
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|id| id.starts_with("referrald.") && id.ends_with("@tracker.example.org"))
    );
}

#[test]
fn intake_can_ask_what_the_store_knows() {
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    make_due(&mut store, t0() + TimeDelta::days(2));
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
    make_due(&mut store, t0() + TimeDelta::days(2));
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
fn a_reply_on_the_thread_connects_and_plans_no_follow_up_for_them() {
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
    // Fred's follow-up was never made, so there is nothing to cancel: it is just not planned.
    let follow_ups: Vec<String> = planned(&store, r, t0() + TimeDelta::hours(2))
        .into_iter()
        .filter(|(k, _)| *k == OutboundKind::FollowUp)
        .map(|(_, t)| t)
        .collect();
    assert_eq!(follow_ups, vec!["sally@sallysdesign.example".to_string()]);
    assert!(outbound_of(&store, r).is_empty());
    let kinds: Vec<_> = detail.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["recorded", "replied", "status"]);
}

/// Which statuses count as "connected" is written in Rust (`report::connected_by_status`)
/// and, for the kept figures, in SQL: where answers are first read, and in the trigger that
/// follows a status change. All three agree, for every status.
#[test]
fn the_kept_answers_count_as_connected_exactly_the_statuses_the_report_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let max = config().intake.max_amount;
    let by_status = |store: &Store, referral: ReferralId| -> bool {
        store
            .conn
            .query_row(
                "SELECT by_status FROM answers_read WHERE referral_id = ?1",
                [referral],
                |r| r.get(0),
            )
            .unwrap()
    };
    let set_status = |store: &Store, referral: ReferralId, status: ReferralStatus| {
        store
            .conn
            .execute(
                "UPDATE referrals SET status = ?2 WHERE id = ?1",
                rusqlite::params![referral, status.as_str()],
            )
            .unwrap();
    };
    for (n, &status) in ReferralStatus::ALL.iter().enumerate() {
        let referral = introduce(&mut store, &format!("intro-{n}@x"), t0());
        answer(
            &mut store,
            &format!("answer-{n}@x"),
            referral,
            &fred(),
            won(4, 10.0, ""),
            t0() + TimeDelta::days(1),
        );
        // Read first in this status...
        set_status(&store, referral, status);
        store.read_answers(max).unwrap();
        let expected = crate::report::connected_by_status(status);
        assert_eq!(by_status(&store, referral), expected, "read as {status}");
        // ...then moved through every other: the trigger follows.
        for &next in ReferralStatus::ALL {
            set_status(&store, referral, next);
            assert_eq!(
                by_status(&store, referral),
                crate::report::connected_by_status(next),
                "{status} -> {next}"
            );
        }
    }
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
    assert!(
        planned(&store, r, t0() + TimeDelta::days(15))
            .contains(&(OutboundKind::OutcomeReport, "bob@networkers.example".into()))
    );
    // Her request is not needed (nothing is made before it is due, so it never was); Fred,
    // who has said nothing, is asked.
    let requests: Vec<String> = planned(&store, r, t0() + TimeDelta::days(15))
        .into_iter()
        .filter(|(k, _)| *k == OutboundKind::FeedbackRequest)
        .map(|(_, t)| t)
        .collect();
    assert_eq!(requests, vec!["fred@fredsbooks.example".to_string()]);
    assert!(outbound_of(&store, r).is_empty());
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
    make_due(&mut store, t0());
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
    let config = crate::config::testing::config(
        "[schedule]\nthank-you-after = \"0s\"\n[intake]\naccept-from = [\"bob@networkers.example\"]",
    );
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

/// Issue 9: a long batch is classified on a second thread before anything in it is
/// recorded. A message that depends on one before it in the same batch (a reply to it, the
/// same Message-ID again, an opt-out before an introduction) must come out exactly as if
/// the batch had been ingested one message at a time.
#[test]
fn a_batch_classified_ahead_is_recorded_as_one_message_at_a_time_would_be() {
    let config = crate::config::testing::config(
        "[schedule]\nthank-you-after = \"0s\"\n[intake]\naccept-from = [\"bob@networkers.example\"]",
    );
    let mail = |id: &str, head: &str, body: &str| {
        RawMessage {
        origin: format!("{id}.eml"),
        bytes: format!("{head}\r\nMessage-ID: <{id}@x>\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\n\r\n{body}\r\n")
            .into_bytes(),
        arrived_at: None,
    }
    };
    let intro = |id: &str, fred: &str, sally: &str| {
        mail(
            id,
            &format!(
                "From: Bob <bob@networkers.example>\r\nTo: Fred <{fred}>, Sally <{sally}>\r\n\
                 Cc: intros@tracker.example.org\r\nSubject: Intro {id}"
            ),
            "Fred, meet Sally. Sally, meet Fred.",
        )
    };
    let mut batch = vec![
        intro(
            "first",
            "fred@fredsbooks.example",
            "sally@leedesign.example",
        ),
        // Fred answers everyone on the thread, tracking address included.
        mail(
            "answer",
            "From: Fred <fred@fredsbooks.example>\r\nTo: sally@leedesign.example\r\n\
             Cc: bob@networkers.example, intros@tracker.example.org\r\n\
             Subject: Re: Intro first\r\nIn-Reply-To: <first@x>\r\nReferences: <first@x>",
            "Thanks Bob! Sally, coffee on Tuesday?",
        ),
        // The same introduction again, as a second copy of the mailbox would have it.
        intro(
            "first",
            "fred@fredsbooks.example",
            "sally@leedesign.example",
        ),
        // Zoë asks to be left alone, and is then introduced.
        mail(
            "stop",
            "From: Zoe <zoe@example.jp>\r\nTo: intros+stop@tracker.example.org\r\nSubject: stop",
            "Please leave me out.",
        ),
        intro("zoe", "zoe@example.jp", "kim@example.com"),
    ];
    for i in 0..20 {
        batch.push(intro(
            &format!("more{i}"),
            &format!("a{i}@example.com"),
            &format!("b{i}@example.com"),
        ));
    }
    assert!(batch.len() >= super::record::AHEAD_FROM);

    let mut at_once = Store::open_in_memory().unwrap();
    let applied = at_once.ingest(&batch, &config, t0()).unwrap();
    let mut one_by_one = Store::open_in_memory().unwrap();
    let alone: Vec<Applied> = batch
        .iter()
        .flat_map(|m| {
            one_by_one
                .ingest(std::slice::from_ref(m), &config, t0())
                .unwrap()
        })
        .collect();

    let kinds = |applied: &[Applied]| -> Vec<String> {
        applied
            .iter()
            .map(|a| match &a.result {
                Ok(r) => format!("{:?}", r.classified.verdict),
                Err(e) => format!("failed: {e}"),
            })
            .collect()
    };
    let first: Vec<&str> = applied[..5]
        .iter()
        .map(|a| a.result.as_ref().unwrap().classified.verdict.kind())
        .collect();
    assert_eq!(
        first,
        [
            "introduction",
            "thread_reply",
            "duplicate",
            "opt_out",
            "introduction"
        ]
    );
    assert_eq!(kinds(&applied), kinds(&alone));
    let export = |store: &Store| {
        let mut json = Vec::new();
        crate::export::json(store, &mut json).unwrap();
        String::from_utf8(json).unwrap()
    };
    assert_eq!(export(&at_once), export(&one_by_one));
    let zoe = applied[4].result.as_ref().unwrap().referral.unwrap();
    assert_eq!(
        party_state(&at_once, zoe, "zoe@example.jp"),
        PartyState::OptedOut
    );
}
