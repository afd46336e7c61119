//! Replies, STOPs and delivery reports must prove themselves before they change anything:
//! the real binary, a real SQLite file and the file transport, with `require-authentication`
//! on, driven on a scripted clock. A reply proves itself by being authenticated by our own
//! receiving server, or by naming a Message-ID we sent to that very address; a delivery
//! report by naming a Message-ID we sent to the recipient it reports on.

mod support;

use std::path::PathBuf;

use mail_parser::MessageParser;
use serde_json::Value;
use support::deployment::Deployment;
use support::replies::reply;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London
const TRACKING: &str = "intros@tracker.example.org";
const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";
const SUBJECT: &str = "Intro: you two should talk";
/// What an attacker would like the introducer to read under the owner's name.
const PHISH: &str = "http://phish.example/login";

fn at(days: i64, hours: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(T).unwrap()
        + chrono::TimeDelta::days(days)
        + chrono::TimeDelta::hours(hours);
    t.to_utc().to_rfc3339()
}

/// Alice's deployment: authentication required, her own server trusted.
fn deployment() -> Deployment {
    support::config::alice()
        .trusting("mx.tracker.example.org")
        .deploy()
}

/// `Authentication-Results` from our own server saying `domain` passed DMARC.
fn passed(domain: &str) -> String {
    format!("Authentication-Results: mx.tracker.example.org; dmarc=pass header.from={domain}\r\n")
}

trait Steps {
    /// Ingests one message (LF line ends become CRLF) at `now`; returns what ingest said.
    fn ingest(&self, name: &str, text: &str, now: &str) -> String;
    /// Bob introduces Fred and Sally, authenticated, at T; the thank-you and both
    /// follow-ups are sent two days later.
    fn introduced_and_followed_up(&self);
    /// Our message of `kind` to `to`, as the file transport wrote it.
    fn sent(&self, kind: &str, to: &str) -> Vec<u8>;
    /// The state of `email` in referral 1.
    fn party(&self, email: &str) -> Value;
    /// The state of the `kind` message to `to` in the outbox.
    fn outbound(&self, kind: &str, to: &str) -> Value;
}

impl Steps for Deployment {
    fn ingest(&self, name: &str, text: &str, now: &str) -> String {
        let path: PathBuf = self.write(name, text.replace("\r\n", "\n").replace('\n', "\r\n"));
        self.ok(&["--now", now, "ingest", path.to_str().unwrap()])
    }

    fn introduced_and_followed_up(&self) {
        let intro = format!(
            "{auth}From: Bob Brown <{BOB}>\nTo: Fred Jones <{FRED}>, Sally Lee <{SALLY}>\n\
             Cc: {TRACKING}\nSubject: {SUBJECT}\nDate: Mon, 2 Nov 2026 09:55:00 +0000\n\
             Message-ID: <intro-proof@mail.networkers.example>\n\nFred, meet Sally. Bob\n",
            auth = passed("networkers.example"),
        );
        let out = self.ingest("intro.eml", &intro, T);
        assert!(out.contains("introduction"), "{out}");
        self.ok(&["--now", &at(2, 1), "tick"]);
    }

    fn sent(&self, kind: &str, to: &str) -> Vec<u8> {
        std::fs::read_dir(self.path("outbox"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .find(|bytes| {
                let m = MessageParser::default().parse(bytes).unwrap();
                m.header_raw("X-Referrald-Kind").map(str::trim) == Some(kind)
                    && m.to().unwrap().first().unwrap().address() == Some(to)
            })
            .unwrap_or_else(|| panic!("no {kind} to {to} was written"))
    }

    fn party(&self, email: &str) -> Value {
        let shown = self.json(&["show", "1", "--json"]);
        shown["parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["email"] == email)
            .unwrap_or_else(|| panic!("{email} is no party: {shown}"))["state"]
            .clone()
    }

    fn outbound(&self, kind: &str, to: &str) -> Value {
        let rows = self.json(&["outbox", "--json"]);
        rows.as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["to"] == to)
            .unwrap_or_else(|| panic!("no {kind} to {to}"))["state"]
            .clone()
    }
}

/// A reply in `from`'s name that a forger can write: the referral's subject, no threading.
fn forged_reply(from: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "{extra_headers}From: {from}\nTo: {TRACKING}\nSubject: Re: {SUBJECT}\n\
         Date: Wed, 4 Nov 2026 12:00:00 +0000\nMessage-ID: <forged-{n}@attacker.example>\n\n{body}\n",
        n = extra_headers.len() + body.len()
    )
}

// Harm guarded against: a forged "5/5, won" matched by subject alone recorded as feedback,
// the referral marked succeeded, and the introducer sent an outcome report quoting the
// attacker's text (a phishing link included) under the owner's name.
#[test]
fn a_forged_reply_matched_by_subject_records_nothing_and_is_never_quoted() {
    let d = deployment();
    d.introduced_and_followed_up();

    let attack = format!("5/5 — we signed a $1,000,000 deal! Bob, claim your bonus at {PHISH}");
    let out = d.ingest("forged.eml", &forged_reply(FRED, "", &attack), &at(2, 2));
    assert!(
        out.contains("ignored") && out.contains("unverified reply"),
        "{out}"
    );
    let shown = d.json(&["show", "1", "--json"]);
    assert_eq!(shown["feedback"], Value::Array(vec![]), "{shown}");
    assert_eq!(shown["status"], "open");
    assert_eq!(d.party(FRED), "pending");
    // Nothing to report: no outcome report is planned, today or later.
    d.ok(&["--now", &at(3, 1), "tick"]);
    let outbox = d.json(&["outbox", "--json"]);
    assert!(
        !outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "outcome_report"),
        "{outbox}"
    );

    // Sally's genuine answer to her follow-up is recorded, without any authentication, and
    // the report Bob then receives quotes her and never the attacker.
    let to_sally = d.sent("follow_up", SALLY);
    let answer = reply(
        "Sally Lee <sally@leedesign.example>",
        TRACKING,
        &to_sally,
        "4 out of 5 - we had coffee, lovely person.",
    );
    let out = d.ingest("sally.eml", &String::from_utf8(answer).unwrap(), &at(3, 2));
    assert!(out.contains("feedback"), "{out}");
    d.ok(&["--now", &at(4, 1), "tick"]);
    let report = d.sent("outcome_report", BOB);
    let report = String::from_utf8_lossy(&report);
    assert!(report.contains("lovely person"), "{report}");
    for attacker in ["phish.example", "1,000,000", "claim your bonus"] {
        assert!(!report.contains(attacker), "{attacker} in:\n{report}");
    }
}

// Harm guarded against: an attacker adding an Authentication-Results field of their own (or
// one from a server the owner does not trust) to pass a forged reply as authenticated.
#[test]
fn a_forged_reply_with_results_from_an_untrusted_server_records_nothing() {
    let d = deployment();
    d.introduced_and_followed_up();
    let planted =
        "Authentication-Results: mx.attacker.example; dmarc=pass header.from=fredsbooks.example\n";
    let out = d.ingest(
        "forged.eml",
        &forged_reply(FRED, planted, "5/5, we signed!"),
        &at(2, 2),
    );
    assert!(out.contains("unverified reply"), "{out}");
    assert!(
        out.contains("no Authentication-Results from a trusted server"),
        "{out}"
    );
    let shown = d.json(&["show", "1", "--json"]);
    assert_eq!(shown["feedback"], Value::Array(vec![]), "{shown}");
    assert_eq!(d.party(FRED), "pending");
    // The same reply, authenticated by our own server, is Fred's.
    let out = d.ingest(
        "genuine.eml",
        &forged_reply(FRED, &passed("fredsbooks.example"), "5/5, we signed!"),
        &at(2, 3),
    );
    assert!(out.contains("feedback"), "{out}");
    assert_eq!(d.json(&["show", "1", "--json"])["status"], "succeeded");
}

#[test]
fn a_genuine_reply_to_our_follow_up_counts_without_authentication() {
    let d = deployment();
    d.introduced_and_followed_up();
    let to_fred = d.sent("follow_up", FRED);
    let answer = reply(
        "Fred Jones <fred@fredsbooks.example>",
        TRACKING,
        &to_fred,
        "5 — we signed a $2,500 contract!",
    );
    let out = d.ingest("fred.eml", &String::from_utf8(answer).unwrap(), &at(2, 2));
    assert!(out.contains("feedback"), "{out}");
    let shown = d.json(&["show", "1", "--json"]);
    assert_eq!(shown["feedback"][0]["from"], FRED, "{shown}");
    assert_eq!(shown["feedback"][0]["rating"], 5);
    assert_eq!(shown["status"], "succeeded");
}

/// A delivery-status report from `from` that names `returned` as the returned message and
/// reports a failure for `reported`.
fn dsn(from: &str, returned: &str, reported: &str) -> String {
    format!(
        "Return-Path: <>\nFrom: Mail Delivery System <{from}>\nTo: {TRACKING}\n\
         Subject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn-{n}@mx.example>\n\
         Date: Wed, 4 Nov 2026 12:00:00 +0000\nMIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n\
         --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n\
         Final-Recipient: rfc822; {reported}\nAction: failed\nStatus: 5.1.1\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{reported}>: Recipient address rejected\n\n\
         --b\nContent-Type: text/rfc822-headers\n\n\
         From: Alice Smith <{TRACKING}>\nTo: {reported}\nSubject: Re: {SUBJECT}\n\
         Message-ID: <{returned}>\n\n--b--\n",
        n = returned.len() + reported.len() + from.len()
    )
}

/// The Message-ID of a message we wrote.
fn message_id(raw: &[u8]) -> String {
    MessageParser::default()
        .parse(raw)
        .unwrap()
        .message_id()
        .unwrap()
        .to_string()
}

// Harm guarded against: a stranger's forged delivery report marking a party bounced for good,
// so that nothing ever reaches them again.
#[test]
fn a_forged_delivery_report_naming_nothing_of_ours_marks_nobody() {
    let d = deployment();
    d.introduced_and_followed_up();
    let forged = dsn("MAILER-DAEMON@evil.example", "made-up.1@evil.example", FRED);
    let out = d.ingest("forged-dsn.eml", &forged, &at(2, 2));
    assert!(out.contains("unverified delivery report"), "{out}");
    assert_eq!(d.party(FRED), "pending");
    assert_eq!(d.outbound("follow_up", FRED), "sent");
    assert_eq!(d.outbound("feedback_request", FRED), "scheduled");
}

// Harm guarded against: someone who received one of our messages (here Sally, or her mail
// system) using its Message-ID to report another person's address dead.
#[test]
fn a_delivery_report_on_someone_our_message_did_not_go_to_marks_nobody() {
    let d = deployment();
    d.introduced_and_followed_up();
    let to_sally = message_id(&d.sent("follow_up", SALLY));
    let report = dsn("MAILER-DAEMON@mx.leedesign.example", &to_sally, FRED);
    let out = d.ingest("other-dsn.eml", &report, &at(2, 2));
    assert!(out.contains("unverified delivery report"), "{out}");
    assert_eq!(d.party(FRED), "pending");
    assert_eq!(d.party(SALLY), "pending");
    assert_eq!(d.outbound("follow_up", SALLY), "sent");
    assert_eq!(d.outbound("feedback_request", FRED), "scheduled");
}

#[test]
fn a_genuine_delivery_report_marks_its_recipient_bounced() {
    let d = deployment();
    d.introduced_and_followed_up();
    let to_fred = message_id(&d.sent("follow_up", FRED));
    let report = dsn("MAILER-DAEMON@mx.fredsbooks.example", &to_fred, FRED);
    let out = d.ingest("dsn.eml", &report, &at(2, 2));
    assert!(out.contains("bounce") && out.contains("5.1.1"), "{out}");
    assert_eq!(d.party(FRED), "bounced");
    assert_eq!(d.party(SALLY), "pending");
    assert_eq!(d.outbound("follow_up", FRED), "failed");
    // Nothing more is planned for Fred (his request was never made, so there is nothing
    // to cancel); Sally's still is.
    let outbox = d.json(&["--now", &at(2, 2), "outbox", "--json"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["to"] != FRED || o["state"] == "sent" || o["state"] == "failed"),
        "{outbox:#}"
    );
    assert_eq!(d.outbound("feedback_request", SALLY), "scheduled");
}

// Harm guarded against: a forged STOP in a participant's name silencing them in every
// referral; a STOP is still never ignored, so its own sender is left alone.
#[test]
fn an_unauthenticated_stop_opts_out_only_its_sender() {
    let d = deployment();
    d.introduced_and_followed_up();
    let sender = "fred+news@fredsbooks.example";
    let out = d.ingest("stop.eml", &forged_reply(sender, "", "STOP"), &at(2, 2));
    assert!(out.contains("opt_out"), "{out}");
    // Fred, the participant the address would have mapped to, is untouched.
    assert_eq!(d.party(FRED), "pending");
    assert_eq!(d.outbound("feedback_request", FRED), "scheduled");
    // The address that asked is never emailed: introduced later, it starts opted out.
    let intro = format!(
        "{auth}From: Bob Brown <{BOB}>\nTo: Fred <{sender}>, Sally Lee <{SALLY}>\n\
         Cc: {TRACKING}\nSubject: Second intro\nMessage-ID: <intro-2@mail.networkers.example>\n\nHi\n",
        auth = passed("networkers.example"),
    );
    d.ingest("intro-2.eml", &intro, &at(3, 0));
    let shown = d.json(&["show", "2", "--json"]);
    assert_eq!(shown["parties"][0]["email"], sender, "{shown}");
    assert_eq!(shown["parties"][0]["state"], "opted_out", "{shown}");
}
