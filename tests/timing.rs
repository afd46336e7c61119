//! Timing anchored to the introduction (issue 8): the plan counts from the introduction's own
//! date, what is too late is skipped, what is older than the whole plan is history, and a
//! proven out-of-office moves that person's mail. Through the real binary on a scripted
//! clock (`--now`), a real SQLite file and the file transport.

mod support;

use chrono::{DateTime, TimeDelta};
use mail_parser::MessageParser;
use serde_json::Value;
use support::deployment::Deployment;

/// Tuesday 10 November 2026, 10:00 in London: when each introduction is found.
const NOW: &str = "2026-11-10T10:00:00Z";

const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";

fn deployment() -> Deployment {
    // No weekly digest: these tests count a referral's own mail, day by day.
    support::config::alice()
        .with("[digest]\nwhen = \"off\"")
        .deploy()
}

fn at(days: i64, hours: i64) -> String {
    let t = DateTime::parse_from_rfc3339(NOW).unwrap().to_utc()
        + TimeDelta::days(days)
        + TimeDelta::hours(hours);
    t.to_rfc3339()
}

/// Bob introduces Fred and Sally; the introduction is dated `date` (an RFC 2822 date).
fn intro(date: &str) -> String {
    format!(
        "From: Bob Brown <{BOB}>
To: Fred Jones <{FRED}>, Sally Lee <{SALLY}>
Cc: intros@tracker.example.org
Subject: Fred, meet Sally
Date: {date}
Message-ID: <timing@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Fred, meet Sally: she needs a bookkeeper. Bob
"
    )
}

fn ingest(d: &Deployment, now: &str, name: &str, mail: &str) -> String {
    let file = d.write(name, mail.replace('\n', "\r\n"));
    d.ok(&["--now", now, "ingest", file.to_str().unwrap()])
}

/// (kind, recipient) of every message in the file outbox, sorted.
fn sent(d: &Deployment) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(d.path("outbox")) else {
        return Vec::new();
    };
    let mut mail: Vec<(String, String)> = entries
        .map(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&bytes).unwrap();
            let kind = m.header_raw("X-Referrald-Kind").unwrap().trim().to_string();
            let to = m.to().unwrap().first().unwrap();
            (kind, to.address().unwrap().to_string())
        })
        .collect();
    mail.sort();
    mail
}

/// The text of the `kind` message sent to `to`.
fn mail_to(d: &Deployment, kind: &str, to: &str) -> String {
    for entry in std::fs::read_dir(d.path("outbox")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let m = MessageParser::default().parse(&bytes).unwrap();
        let address = m
            .to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap()
            .to_string();
        if m.header_raw("X-Referrald-Kind").map(str::trim) == Some(kind) && address == to {
            return m.body_text(0).unwrap().into_owned();
        }
    }
    panic!("no {kind} to {to}")
}

/// What `tick` at `now` sent, sorted.
fn tick(d: &Deployment, now: &str) -> Vec<(String, String)> {
    let before = sent(d);
    d.ok(&["--now", now, "tick"]);
    sent(d)
        .into_iter()
        .filter(|m| !before.contains(m))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    v.sort();
    v
}

/// The outbox row of `kind` to `to`.
fn row(d: &Deployment, kind: &str, to: &str) -> Value {
    let outbox = d.json(&["outbox", "--json"]);
    outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == kind && o["to"] == to)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} to {to} in {outbox}"))
}

// Pointed at a mailbox that holds years of mail, referrald thanked and followed up every old
// introduction. One two years old must send nothing, ever, and say it is history.
#[test]
fn an_introduction_from_two_years_ago_is_history_and_sends_nothing() {
    let d = deployment();
    let out = ingest(&d, NOW, "old.eml", &intro("Tue, 5 Mar 2024 11:20:00 +0000"));
    assert!(out.contains("introduction"), "{out}");
    for day in 0..40 {
        assert!(tick(&d, &at(day, 0)).is_empty(), "day {day}");
    }
    assert_eq!(sent(&d), Vec::<(String, String)>::new());
    assert_eq!(d.json(&["outbox", "--json"]), serde_json::json!([]));

    let list = d.json(&["referrals", "--json"]);
    let r = &list[0];
    assert_eq!(r["history"], true, "{r}");
    assert_eq!(r["status"], "open", "{r}");
    assert_eq!(r["introduced_at"], "2024-03-05T11:20:00Z", "{r}");
    assert_eq!(r["created_at"], "2026-11-10T10:00:00Z", "{r}");
    assert!(d.ok(&["referrals"]).contains("open (history)"));

    let show = d.json(&["show", "1", "--json"]);
    assert_eq!(show["history"], true);
    let events = show["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "history"
            && e["detail"]
                .as_str()
                .unwrap()
                .contains("introduced 2024-03-05")),
        "{show}"
    );
    let text = d.ok(&["show", "1"]);
    assert!(text.contains("status:     open (history)"), "{text}");
    assert!(text.contains("introduced: Tue 2024-03-05 11:20"), "{text}");
    assert!(text.contains("no mail is sent"), "{text}");
}

#[test]
fn an_introduction_from_yesterday_is_thanked_today_and_followed_up_tomorrow() {
    let d = deployment();
    ingest(
        &d,
        NOW,
        "intro.eml",
        &intro("Mon, 9 Nov 2026 10:00:00 +0000"),
    );
    assert_eq!(tick(&d, NOW), pairs(&[("thank_you", BOB)]));
    // The follow-ups are due two days after the introduction: tomorrow, not the day after.
    assert_eq!(
        tick(&d, &at(1, 0)),
        pairs(&[("follow_up", FRED), ("follow_up", SALLY)])
    );
    // Sent on Wednesday, it dates the introduction by its own day (Monday), not by the
    // day referrald found it (Tuesday, "yesterday").
    let follow_up = mail_to(&d, "follow_up", FRED);
    assert!(
        follow_up.contains("Bob introduced you and Sally on Monday"),
        "{follow_up}"
    );
    let r = &d.json(&["referrals", "--json"])[0];
    assert_eq!(r["history"], false, "{r}");
    assert_eq!(r["introduced_at"], "2026-11-09T10:00:00Z", "{r}");
    assert_eq!(r["created_at"], "2026-11-10T10:00:00Z", "{r}");
}

#[test]
fn an_introduction_from_four_days_ago_skips_its_early_steps_as_too_late() {
    let d = deployment();
    ingest(
        &d,
        NOW,
        "intro.eml",
        &intro("Fri, 6 Nov 2026 09:00:00 +0000"),
    );
    assert!(tick(&d, NOW).is_empty());
    // The thank-you (due four days ago) and the follow-ups (due on Sunday, two days and an
    // hour before it was found) are recorded as skipped, with the reason.
    for (kind, to) in [
        ("thank_you", BOB),
        ("follow_up", FRED),
        ("follow_up", SALLY),
    ] {
        let o = row(&d, kind, to);
        assert_eq!(o["state"], "cancelled", "{o}");
        assert_eq!(o["last_error"], "too late: introduced 2026-11-06", "{o}");
        assert_eq!(o["sent_at"], Value::Null, "{o}");
    }
    assert!(
        d.ok(&["outbox"])
            .contains("too late: introduced 2026-11-06")
    );
    let show = d.ok(&["show", "1"]);
    assert!(show.contains("too late: introduced 2026-11-06"), "{show}");
    let events = d.json(&["show", "1", "--json"])["events"].clone();
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "skipped")
            .count(),
        3,
        "{events}"
    );
    assert_eq!(d.json(&["referrals", "--json"])[0]["history"], false);
    // The later steps still go, counted from the introduction: 14 days after 6 November.
    for day in 1..10 {
        assert!(tick(&d, &at(day, 0)).is_empty(), "day {day}");
    }
    assert_eq!(
        tick(&d, &at(10, 0)),
        pairs(&[("feedback_request", FRED), ("feedback_request", SALLY)])
    );
}

// A Date header in the future (a wrong clock, or a sender trying to push the plan out) counts
// as the moment the message arrived.
#[test]
fn a_date_in_the_future_is_treated_as_now() {
    let d = deployment();
    ingest(
        &d,
        NOW,
        "intro.eml",
        &intro("Fri, 1 Jan 2027 10:00:00 +0000"),
    );
    let r = &d.json(&["referrals", "--json"])[0];
    assert_eq!(r["introduced_at"], "2026-11-10T10:00:00Z", "{r}");
    // The thank-you waits its hour (`thank-you-after`).
    assert!(tick(&d, NOW).is_empty());
    assert_eq!(tick(&d, &at(0, 1)), pairs(&[("thank_you", BOB)]));
    assert!(tick(&d, &at(1, 0)).is_empty());
    assert_eq!(
        tick(&d, &at(2, 0)),
        pairs(&[("follow_up", FRED), ("follow_up", SALLY)])
    );
}

#[test]
fn late_limit_is_configurable() {
    let d = support::config::alice()
        .with("[schedule]\nlate-limit = \"12h\"")
        .deploy();
    ingest(
        &d,
        NOW,
        "intro.eml",
        &intro("Mon, 9 Nov 2026 10:00:00 +0000"),
    );
    assert!(tick(&d, NOW).is_empty());
    assert_eq!(
        row(&d, "thank_you", BOB)["last_error"],
        "too late: introduced 2026-11-09"
    );
    let bad = support::config::alice()
        .with("[schedule]\nlate-limit = \"soon\"")
        .deploy();
    let out = bad.run(&["referrals"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"soon\" is not a duration"), "{err}");
}

/// Fred's out-of-office, answering `in_reply_to`, written on `date`.
fn fred_away(in_reply_to: &str, date: &str, body: &str) -> String {
    format!(
        "From: Fred Jones <{FRED}>
To: intros@tracker.example.org
Subject: Automatic reply: Re: Fred, meet Sally
Date: {date}
Message-ID: <ooo-{n}@fredsbooks.example>
In-Reply-To: <{in_reply_to}>
References: <{in_reply_to}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{body}
",
        n = in_reply_to.len() + body.len()
    )
}

/// An introduction written and found now, its follow-ups sent two days later; returns the
/// Message-ID of Fred's follow-up.
fn followed_up(d: &Deployment) -> String {
    ingest(
        d,
        NOW,
        "intro.eml",
        &intro("Tue, 10 Nov 2026 10:00:00 +0000"),
    );
    tick(d, NOW);
    assert_eq!(tick(d, &at(0, 1)), pairs(&[("thank_you", BOB)]));
    assert_eq!(
        tick(d, &at(2, 0)),
        pairs(&[("follow_up", FRED), ("follow_up", SALLY)])
    );
    row(d, "follow_up", FRED)["message_id"]
        .as_str()
        .unwrap()
        .to_string()
}

// The feedback requests are due on Tuesday 24 November. Fred's out-of-office, answering our
// follow-up, says he is back on Thursday the 26th: his request waits until Friday, in the
// send window; Sally's goes on time; the auto-reply itself is never answered.
#[test]
fn a_proven_out_of_office_moves_that_persons_next_message_past_their_return() {
    let d = deployment();
    let ours = followed_up(&d);
    let ooo = fred_away(
        &ours,
        "Thu, 12 Nov 2026 10:05:00 +0000",
        "Vielen Dank für Ihre Nachricht. Ich bin zurück am 26.11. und melde mich dann.",
    );
    let out = ingest(&d, &at(2, 1), "ooo.eml", &ooo);
    assert!(out.contains("auto_reply"), "{out}");
    assert!(
        tick(&d, &at(2, 2)).is_empty(),
        "an auto-reply is never answered"
    );
    let show = d.json(&["show", "1", "--json"]);
    assert!(
        show["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "auto_reply"
                && e["detail"].as_str().unwrap().contains("back on 2026-11-26")),
        "{show}"
    );
    assert_eq!(tick(&d, &at(14, 0)), pairs(&[("feedback_request", SALLY)]));
    assert!(tick(&d, &at(16, 0)).is_empty(), "Thursday: still away");
    // Friday 27 November at 09:00, when the window opens.
    assert_eq!(
        row(&d, "feedback_request", FRED)["due_at"],
        "2026-11-27T09:00:00Z"
    );
    assert_eq!(
        tick(&d, "2026-11-27T09:00:00Z"),
        pairs(&[("feedback_request", FRED)])
    );
}

// Anyone can write `From: fred@…` and "back in a month". An out-of-office that names only the
// introduction (whose Message-ID every participant and Bob's contacts know) and is not
// authenticated proves nothing: it must not hold back Fred's mail.
#[test]
fn a_forged_out_of_office_postpones_nothing() {
    let d = deployment();
    followed_up(&d);
    let forged = fred_away(
        "timing@mail.networkers.example",
        "Thu, 12 Nov 2026 10:05:00 +0000",
        "I am out of the office until 10 December.",
    );
    let out = ingest(&d, &at(2, 1), "forged.eml", &forged);
    assert!(out.contains("auto_reply"), "{out}");
    assert_eq!(
        tick(&d, &at(14, 0)),
        pairs(&[("feedback_request", FRED), ("feedback_request", SALLY)])
    );
    let show = d.ok(&["show", "1"]);
    assert!(!show.contains("back on"), "{show}");
}

// A return date months away holds the mail back 30 days after the auto-reply, no more.
#[test]
fn an_out_of_office_holds_mail_back_at_most_thirty_days() {
    let d = deployment();
    let ours = followed_up(&d);
    let ooo = fred_away(
        &ours,
        "Thu, 12 Nov 2026 10:05:00 +0000",
        "On sabbatical, back on 1 June 2027.",
    );
    ingest(&d, &at(2, 1), "ooo.eml", &ooo);
    // 12 November + 30 days is Saturday 12 December; the day after is Sunday; the window
    // opens on Monday the 14th.
    assert_eq!(tick(&d, &at(14, 0)), pairs(&[("feedback_request", SALLY)]));
    assert_eq!(
        row(&d, "feedback_request", FRED)["due_at"],
        "2026-12-14T09:00:00Z"
    );
}

// After a first start on an old mailbox, the owner's `status` by email lists the referrals
// that wait for something, not the hundreds recorded as history.
#[test]
fn the_owners_status_leaves_out_history() {
    let d = deployment();
    ingest(&d, NOW, "old.eml", &intro("Tue, 5 Mar 2024 11:20:00 +0000"));
    let fresh = intro("Tue, 10 Nov 2026 09:00:00 +0000")
        .replace(
            "timing@mail.networkers.example",
            "fresh@mail.networkers.example",
        )
        .replace("Subject: Fred, meet Sally", "Subject: Raj, meet Olivia");
    ingest(&d, NOW, "fresh.eml", &fresh);
    let status = "From: Alice Smith <alice@brightside.example>
To: intros@tracker.example.org
Subject: status
Date: Tue, 10 Nov 2026 09:59:00 +0000
Message-ID: <status@brightside.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

status
";
    let out = ingest(&d, NOW, "status.eml", status);
    assert!(out.contains("command"), "{out}");
    d.ok(&["--now", NOW, "tick"]);
    let answer = mail_to(&d, "command_reply", "alice@brightside.example");
    assert!(answer.contains("#2 \"Raj, meet Olivia\""), "{answer}");
    assert!(!answer.contains("#1 "), "{answer}");
}
