//! Replies close the loop, through a real Postfix and Dovecot: an introduction is recorded,
//! the follow-ups are submitted to Postfix and land in the parties' mailboxes, a party answers
//! through Postfix into the tracking mailbox, and what they said comes back into the record
//! and on to the introducer. Driven with `ingest` and `tick` on a scripted clock; the daemon
//! has its own tests.

mod support;

use std::path::Path;
use std::time::Duration;

use mail_parser::MessageParser;
use support::config;
use support::deployment::Deployment;
use support::mailsys::MailSystem;
use support::replies::{received, reply};

const TRACKING: &str = "intros@tracker.example.org";
const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";
const T: &str = "2026-11-02T10:00:00Z";
const WAIT: Duration = Duration::from_secs(10);

fn at(days: i64, hours: i64) -> String {
    (chrono::DateTime::parse_from_rfc3339(T).unwrap()
        + chrono::TimeDelta::days(days)
        + chrono::TimeDelta::hours(hours))
    .to_utc()
    .to_rfc3339()
}

/// Alice's deployment, submitting through the harness's Postfix.
fn deployment(mail: &MailSystem) -> Deployment {
    config::alice()
        .smtp(mail)
        .with("[schedule]\nsend-window = \"always\"")
        .deploy()
}

/// `ingest` of one file at `now`; returns what it said.
fn ingest(d: &Deployment, now: &str, path: &Path) -> String {
    d.ok(&["--now", now, "ingest", path.to_str().unwrap()])
}

#[tokio::test]
async fn a_party_answers_and_the_introducer_hears_how_it_went() {
    let mail = MailSystem::start().await.unwrap();
    let d = deployment(&mail);
    let intro = d.write(
        "intro.eml",
        format!(
            "From: Bob Brown <{BOB}>\r\nTo: Fred Jones <{FRED}>, Sally Lee <{SALLY}>\r\n\
             Cc: {TRACKING}\r\nSubject: Intro: Fred <> Sally\r\n\
             Message-ID: <intro-e2e@mail.networkers.example>\r\nDate: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
             \r\nFred, meet Sally. Sally, meet Fred. Bob\r\n"
        )
        .as_bytes(),
    );
    ingest(&d, T, &intro);

    // T+2d: the thank-you and both follow-ups go out through Postfix and arrive.
    d.ok(&["--now", &at(2, 1), "tick"]);
    received(&mail, BOB, 1, "thank_you", WAIT).await;
    let to_fred = received(&mail, FRED, 1, "follow_up", WAIT).await;
    let to_sally = received(&mail, SALLY, 1, "follow_up", WAIT).await;

    // Fred answers the follow-up, through Postfix, into the tracking mailbox.
    let answer = reply(
        "Fred Jones <fred@fredsbooks.example>",
        TRACKING,
        &to_fred,
        "5 — we signed a $2,500 contract!\r\n\r\nFred\r\nM: +44 7700 900123",
    );
    mail.send(FRED, &[TRACKING], &answer).await.unwrap();
    let inbox = mail
        .wait_for_count(TRACKING, "INBOX", 1, WAIT)
        .await
        .unwrap();
    let arrived = d.write("fred-answer.eml", &inbox[0]);
    let verdict = d.json(&[
        "--now",
        &at(2, 3),
        "inspect",
        arrived.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(verdict["kind"], "feedback", "{verdict}");
    assert_eq!(verdict["rating"], 5);
    assert_eq!(verdict["outcome"], "won");
    assert_eq!(verdict["value"], 2500.0);
    ingest(&d, &at(2, 3), &arrived);

    let referral = d.json(&["show", "1", "--json"]);
    assert_eq!(referral["status"], "succeeded");
    assert_eq!(referral["feedback"][0]["from"], FRED);
    assert_eq!(referral["feedback"][0]["rating"], 5);

    // Bob had his thank-you today, so the outcome report waits for tomorrow (one message a
    // day), then reaches him, warmly, with what Fred said.
    d.ok(&["--now", &at(2, 4), "tick"]);
    // tick returns once Postfix has accepted what it sent; counted after delivery.
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(mail.fetch_all(BOB, "INBOX").await.unwrap().len(), 1);
    d.ok(&["--now", &at(3, 1), "tick"]);
    let report = received(&mail, BOB, 2, "outcome_report", WAIT).await;
    let report = MessageParser::default().parse(&report).unwrap();
    let text = report.body_text(0).unwrap();
    assert!(
        text.contains("Fred") && text.contains("5 out of 5"),
        "{text}"
    );
    assert!(text.contains("2,500"), "{text}");
    assert_eq!(
        report.in_reply_to().as_text(),
        Some("intro-e2e@mail.networkers.example")
    );

    // Sally says STOP: nothing more goes to her, and nothing is sent in reply.
    let stop = reply(
        "Sally Lee <sally@leedesign.example>",
        TRACKING,
        &to_sally,
        "STOP",
    );
    mail.send(SALLY, &[TRACKING], &stop).await.unwrap();
    let inbox = mail
        .wait_for_count(TRACKING, "INBOX", 2, WAIT)
        .await
        .unwrap();
    let stop_file = d.write("sally-stop.eml", &inbox[1]);
    let out = ingest(&d, &at(3, 2), &stop_file);
    assert!(out.contains("opt_out"), "{out}");
    for day in [3, 15, 22, 30] {
        d.ok(&["--now", &at(day, 1), "tick"]);
    }
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    let sallys = mail.fetch_all(SALLY, "INBOX").await.unwrap();
    assert_eq!(sallys.len(), 1, "only the follow-up ever reached Sally");
    let outbox = d.json(&["outbox", "--json"]);
    for row in outbox.as_array().unwrap() {
        if row["to"] == SALLY && row["kind"] != "follow_up" {
            assert_eq!(row["state"], "cancelled", "{row}");
        }
    }
    // Fred told us how it went: he is not asked again.
    assert_eq!(mail.fetch_all(FRED, "INBOX").await.unwrap().len(), 1);
}

// Harm guarded against: Postfix refused a recipient outright (550 5.1.1, no such user), only
// that one message was failed, and the person's feedback request and reminder were attempted
// and refused again, each one a failed `tick`.
#[tokio::test]
async fn a_recipient_the_server_refuses_fails_with_its_reply_and_gets_nothing_more() {
    let mail = MailSystem::start().await.unwrap();
    let d = deployment(&mail);
    let ghost = "ghost@rejected.test";
    let intro = d.write(
        "intro.eml",
        format!(
            "From: Bob Brown <{BOB}>\r\nTo: Fred <{FRED}>, Ghost <{ghost}>\r\n\
             Cc: {TRACKING}\r\nSubject: Intro\r\nMessage-ID: <intro-5xx@mail.example>\r\n\r\nHi\r\n"
        )
        .as_bytes(),
    );
    ingest(&d, T, &intro);
    let out = d
        .command()
        .args(["--now", &at(2, 1), "tick"])
        .output()
        .unwrap();
    // A permanent failure is a failed run of tick, reported, not a crash.
    assert_eq!(out.status.code(), Some(1));
    received(&mail, FRED, 1, "follow_up", WAIT).await;
    let to_ghost = |d: &Deployment| -> Vec<serde_json::Value> {
        let outbox = d.json(&["outbox", "--json"]);
        outbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["to"] == ghost)
            .cloned()
            .collect()
    };
    let rows = to_ghost(&d);
    let follow_up = rows.iter().find(|o| o["kind"] == "follow_up").unwrap();
    assert_eq!(follow_up["state"], "failed");
    let error = follow_up["last_error"].as_str().unwrap();
    assert!(error.contains("550") && error.contains("5.1.1"), "{error}");
    // The refusal said the address does not exist: Ghost is bounced, as a delivery report
    // would have made them, and the rest of their mail is cancelled without an attempt.
    let shown = d.json(&["show", "1", "--json"]);
    let party = |email: &str| {
        shown["parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["email"] == email)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(party(ghost), "bounced", "{shown}");
    assert_eq!(party(FRED), "pending", "{shown}");
    assert!(
        shown["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "bounced" && e["detail"].as_str().unwrap().contains(ghost)),
        "{shown}"
    );

    // Two weeks on and three: Fred is asked how it went and reminded; Ghost is never tried,
    // so every tick succeeds.
    d.ok(&["--now", &at(14, 1), "tick"]);
    received(&mail, FRED, 2, "feedback_request", WAIT).await;
    d.ok(&["--now", &at(21, 2), "tick"]);
    received(&mail, FRED, 3, "feedback_reminder", WAIT).await;
    for row in to_ghost(&d) {
        if row["kind"] != "follow_up" {
            assert_eq!(row["state"], "cancelled", "{row}");
            assert_eq!(row["attempts"], 0, "{row}");
        }
    }
    assert!(
        !to_ghost(&d)
            .iter()
            .any(|o| o["kind"] == "feedback_reminder"),
        "a reminder is planned only after a request was sent"
    );
}
