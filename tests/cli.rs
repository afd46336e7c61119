//! The command line end to end: the real binary, a real SQLite file and the file transport,
//! driven on a scripted clock with `--now`.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use mail_parser::{HeaderValue, MessageParser};
use serde_json::Value;
use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London

fn at(days: i64, hours: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(T).unwrap()
        + chrono::TimeDelta::days(days)
        + chrono::TimeDelta::hours(hours);
    t.to_utc().to_rfc3339()
}

/// A file-transport deployment of Alice's; `extra` adds configuration at the end.
fn deployment(extra: &str) -> Deployment {
    support::config::alice().with(extra).deploy()
}

/// What these tests ask of a deployment beyond running commands.
trait Scenario {
    /// Writes a message with CRLF line ends.
    fn eml(&self, name: &str, text: &str) -> PathBuf;
    /// (kind, to, state) of every outbound message, in outbox order.
    fn outbox(&self) -> Vec<(String, String, String)>;
    /// The state of the `kind` message to `to`.
    fn state_of(&self, kind: &str, to: &str) -> String;
    /// What `tick --now` sent, as (kind, to), sorted.
    fn tick(&self, now: &str) -> Vec<(String, String)>;
}

impl Scenario for Deployment {
    fn eml(&self, name: &str, text: &str) -> PathBuf {
        self.write(name, text.replace('\n', "\r\n"))
    }

    fn outbox(&self) -> Vec<(String, String, String)> {
        let rows = self.json(&["outbox", "--json"]);
        rows.as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap().to_string(),
                    o["to"].as_str().unwrap().to_string(),
                    o["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn state_of(&self, kind: &str, to: &str) -> String {
        self.outbox()
            .into_iter()
            .find(|(k, t, _)| k == kind && t == to)
            .map(|(_, _, s)| s)
            .unwrap_or_else(|| format!("no {kind} to {to}"))
    }

    fn tick(&self, now: &str) -> Vec<(String, String)> {
        let before: Vec<_> = self.outbox();
        self.ok(&["--now", now, "tick"]);
        let mut sent: Vec<_> = self
            .outbox()
            .into_iter()
            .filter(|(k, t, s)| {
                s == "sent"
                    && !before
                        .iter()
                        .any(|(bk, bt, bs)| bk == k && bt == t && bs == "sent")
            })
            .map(|(k, t, _)| (k, t))
            .collect();
        sent.sort();
        sent
    }
}

const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";

fn intro(from_owner_party: bool) -> String {
    let to = if from_owner_party {
        "Alice Smith <alice@brightside.example>, Sally Lee <sally@leedesign.example>"
    } else {
        "Fred Jones <fred@fredsbooks.example>, Sally Lee <sally@leedesign.example>"
    };
    format!(
        "From: Bob Brown <bob@networkers.example>
To: {to}
Cc: intros@tracker.example.org
Subject: Intro: you two should talk
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <intro-cli@mail.networkers.example>
References: <earlier@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hi both, you should talk. Bob
"
    )
}

fn kinds(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn follow_ups_written_two_days_later_thread_under_the_introduction() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    let out = d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    assert!(out.contains("introduction"), "{out}");
    d.ok(&["--now", &at(2, 0), "tick"]);

    let mut follow_ups = 0;
    for entry in std::fs::read_dir(d.path("outbox")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let m = MessageParser::default().parse(&bytes).unwrap();
        let kind = m.header_raw("X-Referrald-Kind").unwrap().trim().to_string();
        assert_eq!(
            m.in_reply_to().as_text(),
            Some("intro-cli@mail.networkers.example")
        );
        let refs: Vec<&str> = match m.references() {
            HeaderValue::TextList(list) => list.iter().map(|s| s.as_ref()).collect(),
            HeaderValue::Text(one) => vec![one.as_ref()],
            other => panic!("References: {other:?}"),
        };
        assert_eq!(
            refs,
            [
                "earlier@mail.networkers.example",
                "intro-cli@mail.networkers.example"
            ]
        );
        assert_eq!(m.subject(), Some("Re: Intro: you two should talk"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            m.header_raw("X-Auto-Response-Suppress").map(str::trim),
            Some("OOF, AutoReply")
        );
        assert_eq!(
            m.header_raw("List-Unsubscribe").map(str::trim),
            Some("<mailto:intros@tracker.example.org?subject=unsubscribe>")
        );
        let from = m.from().unwrap().first().unwrap();
        assert_eq!(from.address(), Some("intros@tracker.example.org"));
        assert_eq!(from.name(), Some("Alice Smith via referrald"));
        let id = m.message_id().unwrap();
        assert!(id.ends_with("@tracker.example.org"), "{id}");
        assert!(m.body_text(0).unwrap().contains("Reply STOP"));
        if kind == "follow_up" {
            follow_ups += 1;
            let to = m
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_string();
            assert!(to == FRED || to == SALLY, "{to}");
        }
    }
    assert_eq!(follow_ups, 2);
}

#[test]
fn the_scripted_timeline_follows_the_message_plan() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    assert_eq!(d.tick(&at(1, 0)), kinds(&[("thank_you", BOB)]));
    assert_eq!(
        d.tick(&at(3, 0)),
        kinds(&[("follow_up", FRED), ("follow_up", SALLY)])
    );
    assert_eq!(
        d.tick(&at(15, 0)),
        kinds(&[("feedback_request", FRED), ("feedback_request", SALLY)])
    );
    assert_eq!(
        d.tick(&at(22, 0)),
        kinds(&[("feedback_reminder", FRED), ("feedback_reminder", SALLY)])
    );
    // The plan is done: nothing more, ever, and no kind went twice to anyone. With no word
    // from anyone, the referral has stalled.
    assert!(d.tick(&at(40, 0)).is_empty());
    let outbox = d.outbox();
    for (i, a) in outbox.iter().enumerate() {
        assert!(
            !outbox[i + 1..].iter().any(|b| a.0 == b.0 && a.1 == b.1),
            "{a:?} twice"
        );
    }
    let list = d.json(&["referrals", "--json"]);
    assert_eq!(list[0]["status"], "stalled");
}

#[test]
fn the_owner_as_a_party_is_nudged_after_a_day() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(true));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    assert_eq!(
        d.tick(&at(1, 0)),
        kinds(&[
            ("thank_you", BOB),
            ("owner_nudge", "alice@brightside.example")
        ])
    );
    // Only Sally is followed up: the owner is never sent a follow-up about her own referral.
    assert_eq!(d.tick(&at(3, 0)), kinds(&[("follow_up", SALLY)]));
}

#[test]
fn nothing_is_sent_outside_the_send_window() {
    let d = deployment("");
    // Written and recorded on Friday at 16:30: the follow-ups fall on Sunday.
    let written = intro(false).replace("Mon, 2 Nov 2026 09:55:00", "Fri, 6 Nov 2026 16:30:00");
    let file = d.eml("intro.eml", &written);
    let friday = "2026-11-06T16:30:00Z";
    d.ok(&["--now", friday, "ingest", file.to_str().unwrap()]);
    assert!(d.tick("2026-11-08T16:30:00Z").is_empty(), "Sunday");
    assert!(
        d.tick("2026-11-09T08:59:00Z").is_empty(),
        "Monday before nine"
    );
    // The thank-you and both follow-ups are due; each person gets one message.
    assert_eq!(
        d.tick("2026-11-09T09:00:00Z"),
        kinds(&[
            ("thank_you", BOB),
            ("follow_up", FRED),
            ("follow_up", SALLY)
        ])
    );
}

#[test]
fn after_downtime_the_later_kind_wins() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    // Nothing ran for fifteen days.
    assert_eq!(
        d.tick(&at(15, 0)),
        kinds(&[
            ("thank_you", BOB),
            ("feedback_request", FRED),
            ("feedback_request", SALLY)
        ])
    );
    assert_eq!(d.state_of("follow_up", FRED), "cancelled");
    assert_eq!(d.state_of("follow_up", SALLY), "cancelled");
}

#[test]
fn a_second_tick_the_same_day_sends_nothing_twice() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    assert_eq!(d.tick(&at(0, 1)), kinds(&[("thank_you", BOB)]));
    assert!(d.tick(&at(0, 2)).is_empty());
    // Ingesting the same message again records nothing new.
    let out = d.ok(&["--now", &at(0, 3), "ingest", file.to_str().unwrap()]);
    assert!(out.contains("duplicate"), "{out}");
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        1
    );
}

/// Leaves the thank-you to Bob in `sending`, its attempt counted, as a `run` killed while
/// handing it to the server would (the run made it when it fell due, an hour in, then
/// claimed it); returns its Message-ID.
fn crash_while_sending_the_thank_you(d: &Deployment) -> String {
    assert_eq!(d.make_due(&at(0, 1)), 1, "the thank-you, made when due");
    let db = rusqlite::Connection::open(d.path("referrald.db")).unwrap();
    db.query_row(
        "UPDATE outbound SET state = 'sending', attempts = attempts + 1, first_attempt_at = ?1
         WHERE kind = 'thank_you' AND state = 'scheduled' RETURNING message_id",
        [T],
        |r| r.get(0),
    )
    .unwrap()
}

/// The Message-IDs of the .eml files the file transport wrote.
fn written_message_ids(d: &Deployment) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(d.path("outbox")) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&bytes).unwrap();
            m.message_id().unwrap().to_string()
        })
        .collect()
}

// A `run` killed mid-send leaves its message `sending`; a `tick` afterwards must send it again,
// once and under the same Message-ID, instead of leaving it stuck (and counted against
// max-per-hour) until the daemon next starts.
#[test]
fn tick_after_a_crashed_run_resends_the_message_in_flight_once_with_its_message_id() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    let in_flight = crash_while_sending_the_thank_you(&d);

    assert_eq!(d.tick(&at(0, 1)), kinds(&[("thank_you", BOB)]));
    assert_eq!(written_message_ids(&d), std::slice::from_ref(&in_flight));
    assert!(d.tick(&at(0, 2)).is_empty());
    assert_eq!(written_message_ids(&d), [in_flight]);
}

// While a `run` is alive (it holds the outbox lock), its messages in flight are its own: a
// `tick` beside it must not take them for a crash's and send them a second time.
#[test]
fn tick_beside_a_live_sender_leaves_its_message_in_flight_alone() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    crash_while_sending_the_thank_you(&d);
    let held = std::fs::File::create(d.path("referrald.db-outbox.lock")).unwrap();
    held.try_lock().unwrap();

    assert!(d.tick(&at(0, 1)).is_empty());
    assert_eq!(d.state_of("thank_you", BOB), "sending");
    assert!(written_message_ids(&d).is_empty());

    // Once that sender is gone (it crashed), the next tick recovers the message.
    drop(held);
    assert_eq!(d.tick(&at(0, 2)), kinds(&[("thank_you", BOB)]));
    assert_eq!(written_message_ids(&d).len(), 1);
}

#[test]
fn inspect_classifies_without_writing() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    let v = d.json(&["--now", T, "inspect", file.to_str().unwrap(), "--json"]);
    assert_eq!(v["kind"], "introduction");
    assert_eq!(v["introducer"]["email"], BOB);
    assert_eq!(v["introducer"]["name"], "Bob Brown");
    assert_eq!(v["parties"][0]["email"], FRED);
    assert_eq!(v["parties"][1]["name"], "Sally Lee");
    assert_eq!(v["referral"], Value::Null);
    assert_eq!(v["rating"], Value::Null);
    assert!(
        !d.path("referrald.db").exists(),
        "inspect must not create a database"
    );

    // Against a store that has it, the same message is a duplicate.
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    let v = d.json(&["--now", T, "inspect", file.to_str().unwrap(), "--json"]);
    assert_eq!(v["kind"], "duplicate");

    let stranger = d.eml(
        "stranger.eml",
        "From: Eve <eve@elsewhere.example>\nTo: a@x.example, b@y.example\nCc: intros@tracker.example.org\nSubject: hi\nMessage-ID: <s@x>\n\nhello\n",
    );
    let v = d.json(&["--now", T, "inspect", stranger.to_str().unwrap(), "--json"]);
    assert_eq!(v["kind"], "ignored");
    assert!(v["reason"].as_str().unwrap().contains("not allowed"), "{v}");
}

/// `outbox` for people says which lines are made, which are each person's next message (made
/// when due) and which only follow if nobody answers.
#[test]
fn outbox_tells_made_mail_from_the_next_and_what_follows() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    d.ok(&["--now", &at(1, 0), "tick"]);
    let out = d.ok(&["--now", &at(1, 0), "outbox"]);
    let line = |kind: &str| -> Vec<&str> {
        out.lines()
            .filter(|l| l.split_whitespace().nth(2) == Some(kind))
            .collect()
    };
    let thanks = line("thank_you");
    assert!(
        thanks.len() == 1 && thanks[0].contains("sent") && !thanks[0].trim_start().starts_with('-'),
        "{out}"
    );
    let follow_ups = line("follow_up");
    assert_eq!(follow_ups.len(), 2, "{out}");
    assert!(
        follow_ups.iter().all(|l| l.trim_start().starts_with('-')
            && l.contains("scheduled")
            && l.ends_with("made when it falls due")),
        "{out}"
    );
    let requests = line("feedback_request");
    assert_eq!(requests.len(), 2, "{out}");
    assert!(
        requests
            .iter()
            .all(|l| l.contains("planned")
                && l.ends_with("after the ones before it, if nobody answers")),
        "{out}"
    );
}

#[test]
fn show_tells_the_story_of_a_referral() {
    let d = deployment("");
    let file = d.eml("intro.eml", &intro(false));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    d.ok(&["--now", &at(1, 0), "tick"]);
    let v = d.json(&["show", "1", "--json"]);
    assert_eq!(v["id"], 1);
    assert_eq!(v["subject"], "Intro: you two should talk");
    assert_eq!(v["parties"].as_array().unwrap().len(), 2);
    assert_eq!(v["parties"][0]["state"], "pending");
    let events: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["recorded", "sent"]);
    // The thank-you, sent: the only message made so far (the rest is made when due).
    let outbound = v["outbound"].as_array().unwrap();
    assert_eq!(outbound.len(), 1);
    assert!(
        outbound
            .iter()
            .all(|o| o["message_id"].is_string() && o["due_at"].is_string())
    );
    // `outbox` lists that row, then each party's next message, the follow-up (scheduled:
    // its due time is kept, but it is made only when due, so it has no id yet), then what
    // the plan sends after them: the feedback requests and their reminders.
    let outbox = d.json(&["--now", &at(1, 0), "outbox", "--json"]);
    let listed: Vec<(&str, &str)> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["kind"].as_str().unwrap(), o["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("thank_you", "sent"),
            ("follow_up", "scheduled"),
            ("follow_up", "scheduled"),
            ("feedback_request", "planned"),
            ("feedback_request", "planned"),
            ("feedback_reminder", "planned"),
            ("feedback_reminder", "planned"),
        ]
    );
    assert!(outbox[1]["id"].is_null(), "{}", outbox[1]);
    let planned = &outbox[3];
    assert!(
        planned["id"].is_null() && planned["message_id"].is_null(),
        "{planned}"
    );
    assert!(planned["due_at"].is_string(), "{planned}");
    assert_eq!(v["feedback"], Value::Array(vec![]));
    let human = d.ok(&["show", "1"]);
    assert!(
        human.contains("Referral #1") && human.contains("thank_you"),
        "{human}"
    );
}

fn stderr_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim_end().to_string()
}

#[test]
fn failures_have_the_documented_exit_codes_and_one_line() {
    let d = deployment("");
    // Bad configuration: 2, naming the key and the line.
    std::fs::write(
        d.path("bad.toml"),
        "[tracking]\naddress = \"intros@tracker.example.org\"\n[owner]\nname = \"A\"\nemials = []\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_referrald"))
        .args([
            "--config",
            d.path("bad.toml").to_str().unwrap(),
            "referrals",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = stderr_line(&out);
    assert!(line.contains("emials") && line.contains("line 5"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    // A missing config file: 2.
    let out = Command::new(env!("CARGO_BIN_EXE_referrald"))
        .args(["--config", "/nonexistent/referrald.toml", "outbox"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_line(&out));
    // Bad usage: 2.
    assert_eq!(
        d.run(&["--now", "yesterday", "tick"]).status.code(),
        Some(2)
    );
    assert_eq!(d.run(&["frobnicate"]).status.code(), Some(2));
    // A runtime failure: 1.
    let out = d.run(&["show", "42"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("no referral #42"));
    let out = d.run(&["ingest", "/nonexistent/intro.eml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr_line(&out).contains("panicked"));
}

#[test]
fn ingest_reads_maildirs_and_stdin_and_keeps_what_it_cannot_parse() {
    let d = deployment("");
    let maildir = d.path("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(maildir.join("new/1"), intro(false).replace('\n', "\r\n")).unwrap();
    std::fs::write(maildir.join("new/2"), b"\x00\x01\x02 not mail at all").unwrap();
    let out = d.ok(&["--now", T, "ingest", maildir.to_str().unwrap()]);
    assert!(
        out.contains("1 introduction") && out.contains("1 ignored"),
        "{out}"
    );

    let mut child = d
        .command()
        .args(["--now", T, "ingest", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let second = intro(false)
        .replace("intro-cli@", "intro-stdin@")
        .replace("you two should talk", "a second introduction");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(second.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("introduction"));
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        2
    );
}

#[test]
fn the_demo_runs_offline_and_leaves_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_referrald"))
        .arg("demo")
        .arg(&demo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let story = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "recorded",
        "thank_you",
        "follow_up",
        "feedback_request",
        "After three weeks",
    ] {
        assert!(
            story.contains(expected),
            "the story lacks {expected}:\n{story}"
        );
    }
    assert!(demo.join("referrald.db").exists());
    let emails = std::fs::read_dir(demo.join("outbox")).unwrap().count();
    assert!(emails >= 10, "{emails} emails");
    // Every file it wrote is counted and told: the owner's weekly digests too.
    assert!(
        story.contains(&format!("\n{emails} emails sent (")),
        "{emails} files:\n{story}"
    );
    assert!(
        story.contains("digest to alice@brightside.example"),
        "{story}"
    );
    // The demo leaves a usable deployment behind.
    let cfg = demo.join("referrald.toml");
    let list = Command::new(env!("CARGO_BIN_EXE_referrald"))
        .args(["--config", cfg.to_str().unwrap(), "referrals", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    // Running it again starts afresh in the same folder; a folder it did not make is refused.
    assert!(
        Command::new(env!("CARGO_BIN_EXE_referrald"))
            .arg("demo")
            .arg(&demo)
            .status()
            .unwrap()
            .success()
    );
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_referrald"))
        .arg("demo")
        .arg(&foreign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(foreign.join("notes.txt").exists());
}
