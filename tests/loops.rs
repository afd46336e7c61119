//! Loops, duplicates, bounded storage, forgetting and the other guards of issue 7 items 5, 6
//! and 8, end to end: the real binary, a real SQLite file and the file transport.

mod support;

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use serde_json::Value;
use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London
const T_FOLLOW_UP: &str = "2026-11-04T10:00:00Z"; // two days later: follow-ups go
const T_REPLIES: &str = "2026-11-04T12:00:00Z";

const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";

fn deployment() -> Deployment {
    support::config::alice().deploy()
}

/// Writes a message with CRLF line ends; returns its path as a string.
fn eml(d: &Deployment, name: &str, text: &str) -> String {
    path_str(&d.write(name, text.replace('\n', "\r\n")))
}

fn path_str(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn ingest(d: &Deployment, now: &str, file: &str) -> String {
    d.ok(&["--now", now, "ingest", file])
}

/// Bob introduces Fred and Sally, as message `id`.
fn intro(id: &str) -> String {
    format!(
        "From: Bob Brown <bob@networkers.example>
To: Fred Jones <{FRED}>, Sally Lee <{SALLY}>
Cc: intros@tracker.example.org
Subject: Intro: you two should talk
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <{id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hi both, you should talk. Bob
"
    )
}

/// A reply from `from` to our message `to_id`, saying `body`.
fn reply(from: &str, to_id: &str, id: &str, body: &str) -> String {
    format!(
        "From: {from}
To: intros@tracker.example.org
Subject: Re: Intro: you two should talk
Date: Wed, 4 Nov 2026 11:00:00 +0000
Message-ID: <{id}>
In-Reply-To: <{to_id}>
References: <{to_id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{body}
"
    )
}

/// The Message-ID of the `kind` message to `to`.
fn our_message_id(d: &Deployment, kind: &str, to: &str) -> String {
    let rows = d.json(&["outbox", "--json"]);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == kind && o["to"] == to)
        .and_then(|o| o["message_id"].as_str())
        .unwrap_or_else(|| panic!("no {kind} to {to} in {rows}"))
        .trim_matches(['<', '>'])
        .to_string()
}

/// Every row of every table, as text: what "the store did not change" compares.
fn dump(d: &Deployment) -> Vec<String> {
    let conn = rusqlite::Connection::open(d.path("referrald.db")).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut rows = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = stmt.column_count();
        let mut query = stmt.query([]).unwrap();
        while let Some(row) = query.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    ValueRef::Blob(b) => format!("blob {:?}", String::from_utf8_lossy(b)),
                    other => format!("{other:?}"),
                })
                .collect();
            rows.push(format!("{table}: {}", values.join(" | ")));
        }
    }
    rows.sort();
    rows
}

/// The bytes of the database and its write-ahead log.
fn database_bytes(d: &Deployment) -> Vec<u8> {
    let mut bytes = std::fs::read(d.path("referrald.db")).unwrap();
    bytes.extend(std::fs::read(d.path("referrald.db-wal")).unwrap_or_default());
    bytes
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A referral with its follow-ups sent, and one message of every kind intake knows, each
/// as (expected kind, file).
fn every_kind(d: &Deployment) -> Vec<(&'static str, String)> {
    let introduction = eml(d, "intro.eml", &intro("intro-1@mail.networkers.example"));
    ingest(d, T, &introduction);
    d.ok(&["--now", T_FOLLOW_UP, "tick"]);
    let to_fred = our_message_id(d, "follow_up", FRED);
    let to_sally = our_message_id(d, "follow_up", SALLY);
    let dsn = format!(
        "Return-Path: <>
From: MAILER-DAEMON@mx.tracker.example.org (Mail Delivery System)
To: intros@tracker.example.org
Subject: Undelivered Mail Returned to Sender
Date: Wed, 4 Nov 2026 10:05:00 +0000
Message-ID: <dsn-1@mx.tracker.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"

--b
Content-Type: text/plain

Your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.tracker.example.org

Final-Recipient: rfc822; {FRED}
Action: failed
Status: 5.2.2

--b
Content-Type: text/rfc822-headers

From: Alice Smith <intros@tracker.example.org>
To: {FRED}
Message-ID: <{to_fred}>
Subject: Re: Intro: you two should talk

--b--
"
    );
    let messages = [
        ("introduction", introduction),
        (
            "feedback",
            eml(
                d,
                "feedback.eml",
                &reply(FRED, &to_fred, "fb-1@fredsbooks.example", "We met, 4/5."),
            ),
        ),
        (
            "opt_out",
            eml(
                d,
                "stop.eml",
                &reply(SALLY, &to_sally, "stop-1@leedesign.example", "STOP"),
            ),
        ),
        (
            "auto_reply",
            eml(
                d,
                "ooo.eml",
                &reply(
                    SALLY,
                    &to_sally,
                    "ooo-1@leedesign.example",
                    "I am out of the office.",
                )
                .replace("MIME-Version", "Auto-Submitted: auto-replied\nMIME-Version"),
            ),
        ),
        ("bounce", eml(d, "dsn.eml", &dsn)),
        (
            "ignored",
            eml(
                d,
                "list.eml",
                &intro("list-1@lists.example").replace(
                    "MIME-Version",
                    "List-Id: <networkers.lists.example>\nList-Unsubscribe: <mailto:leave@lists.example>\nMIME-Version",
                ),
            ),
        ),
        (
            "ignored",
            eml(
                d,
                "own.eml",
                &intro("own-1@tracker.example.org").replace(
                    "From: Bob Brown <bob@networkers.example>",
                    "From: Alice Smith <intros@tracker.example.org>",
                ),
            ),
        ),
        (
            "ignored",
            eml(
                d,
                "no-from.eml",
                &intro("no-from-1@networkers.example")
                    .replace("From: Bob Brown <bob@networkers.example>\n", ""),
            ),
        ),
        (
            "ignored",
            path_str(&d.write("junk.eml", b"\x00\x01\x02 not mail at all\xff")),
        ),
    ];
    messages.to_vec()
}

/// Harm guarded against: a re-read of the folder (a new UIDVALIDITY) or a second `ingest`
/// failing with a UNIQUE constraint, exiting 1, storing raw messages again, or acting twice.
#[test]
fn ingesting_any_message_a_second_time_changes_nothing() {
    let d = deployment();
    let messages = every_kind(&d);
    for (kind, file) in &messages[1..] {
        let out = ingest(&d, T_REPLIES, file);
        assert!(out.contains(kind), "{file}: expected {kind}: {out}");
    }
    let before = dump(&d);
    let outbox = d.path("outbox");
    let written = std::fs::read_dir(&outbox).unwrap().count();
    for (kind, file) in &messages {
        let out = d.run(&["--now", T_REPLIES, "ingest", file]);
        assert!(
            out.status.success(),
            "second ingest of {kind} {file} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(dump(&d), before, "second ingest of {kind} {file}");
    }
    // All of them again at once, as a folder re-read would.
    let files: Vec<&str> = messages.iter().map(|(_, f)| f.as_str()).collect();
    let mut args = vec!["--now", T_REPLIES, "ingest"];
    args.extend(files);
    d.ok(&args);
    assert_eq!(dump(&d), before);
    d.ok(&["--now", T_REPLIES, "tick"]);
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), written);
}

/// Harm guarded against: a stranger's ignored message claiming the Message-ID of a genuine
/// introduction first, so that the introduction is then dropped as a duplicate.
#[test]
fn an_ignored_message_never_shadows_a_genuine_one() {
    let d = deployment();
    let forged = intro("claimed@mail.networkers.example").replace(
        "From: Bob Brown <bob@networkers.example>",
        "From: Mallory <mallory@elsewhere.example>",
    );
    let out = ingest(&d, T, &eml(&d, "forged.eml", &forged));
    assert!(out.contains("ignored"), "{out}");
    let genuine = eml(&d, "genuine.eml", &intro("claimed@mail.networkers.example"));
    let out = ingest(&d, T, &genuine);
    assert!(out.contains("introduction"), "{out}");
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        1
    );
    // And the forgery coming again changes nothing.
    let before = dump(&d);
    ingest(&d, T, &eml(&d, "forged-again.eml", &forged));
    assert_eq!(dump(&d), before);
}

/// Harm guarded against: two copies of one message without a Message-ID (a Cc and a Bcc to
/// the tracking address) becoming two referrals because their Received lines differ.
#[test]
fn copies_without_message_id_that_differ_in_trace_fields_are_one_message() {
    let d = deployment();
    let bare = intro("x").replace("Message-ID: <x>\n", "");
    let one = format!(
        "Received: from mail.networkers.example by mx1.tracker.example.org; Mon, 2 Nov 2026 09:55:02 +0000\nDelivered-To: intros@tracker.example.org\n{bare}"
    );
    let two = format!(
        "Received: from mail.networkers.example by mx2.tracker.example.org; Mon, 2 Nov 2026 09:55:09 +0000\nReturn-Path: <bob@networkers.example>\nX-Original-To: intros+bcc@tracker.example.org\n{bare}"
    );
    let out = ingest(&d, T, &eml(&d, "one.eml", &one));
    assert!(out.contains("introduction"), "{out}");
    let out = ingest(&d, T, &eml(&d, "two.eml", &two));
    assert!(out.contains("duplicate"), "{out}");
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        1
    );
}

/// Harm guarded against: a helpdesk robot at an allowed address answering our follow-up by
/// opening a ticket (new subject, the parties copied, our footer quoted), read as a new
/// introduction, which the robot answers again — a loop of mail to real people.
#[test]
fn a_helpdesk_robot_quoting_our_mail_starts_nothing() {
    let d = deployment();
    ingest(&d, T, &eml(&d, "intro.eml", &intro("intro-1@x.example")));
    d.ok(&["--now", T_FOLLOW_UP, "tick"]);
    let to_fred = format!("{}.eml", our_message_id(&d, "follow_up", FRED));
    let follow_up = std::fs::read(d.path("outbox").join(to_fred)).unwrap();
    let follow_up = mail_parser::MessageParser::default()
        .parse(&follow_up)
        .unwrap();
    let body = follow_up.body_text(0).unwrap();
    assert!(body.contains("Reply STOP"), "{body}");
    // The robot quotes it, wrapping long lines as mail programs do.
    let mut quoted = String::new();
    for line in body.lines() {
        let mut rest = line;
        while rest.len() > 60 {
            let mut end = 60;
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let cut = rest[..end].rfind(' ').unwrap_or(end);
            quoted.push_str(&format!("> {}\n", &rest[..cut]));
            rest = rest[cut..].trim_start();
        }
        quoted.push_str(&format!("> {rest}\n"));
    }
    let robot = format!(
        "From: Networkers Helpdesk <bob@networkers.example>
To: Fred Jones <{FRED}>, Sally Lee <{SALLY}>
Cc: intros@tracker.example.org
Subject: [Ticket #4711] Request received
Date: Wed, 4 Nov 2026 10:01:00 +0000
Message-ID: <ticket-4711@helpdesk.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Your request has been logged as ticket #4711.

{quoted}"
    );
    let out = ingest(&d, T_REPLIES, &eml(&d, "robot.eml", &robot));
    assert!(out.contains("mail loop"), "{out}");
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        1
    );
}

/// Harm guarded against: a 20 MB message, or a 1 MB header, stored whole in the database.
#[test]
fn what_is_stored_from_mail_is_bounded() {
    let d = deployment();
    let mut huge = b"\x00\x01 not mail ".to_vec();
    huge.resize(20 * 1024 * 1024, b'x');
    let out = ingest(&d, T, &path_str(&d.write("huge.eml", &huge)));
    assert!(out.contains("ignored"), "{out}");

    let long = "x".repeat(1024 * 1024);
    let long_subject = intro("long-subject@x.example").replace(
        "Subject: Intro: you two should talk",
        &format!("Subject: Intro: {long}"),
    );
    let long_from = intro("long-from@x.example").replace(
        "From: Bob Brown <bob@networkers.example>",
        &format!("From: {long} <{long}@elsewhere.example>"),
    );
    let long_id = intro(&format!("{long}@x.example"));
    let long_refs = intro("long-refs@x.example").replace(
        "MIME-Version",
        &format!("References: <{long}@a.example> <r@b.example>\nMIME-Version"),
    );
    for (name, text) in [
        ("subject.eml", long_subject),
        ("from.eml", long_from),
        ("id.eml", long_id),
        ("refs.eml", long_refs),
    ] {
        d.ok(&["--now", T, "ingest", &eml(&d, name, &text)]);
    }

    let conn = rusqlite::Connection::open(d.path("referrald.db")).unwrap();
    let (raw, reason): (Vec<u8>, String) = conn
        .query_row("SELECT raw, reason FROM rejected", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(raw.len(), 256 * 1024);
    assert_eq!(raw[..], huge[..256 * 1024]);
    assert!(
        reason.contains("only the first 262144 of its 20971520 bytes"),
        "{reason}"
    );
    // Every text stored from these messages, whatever table it is in.
    let mut longest = (0, String::new());
    for row in dump(&d).iter().filter(|r| !r.starts_with("rejected:")) {
        for value in row.split(" | ") {
            if value.len() > longest.0 {
                longest = (value.len(), row.chars().take(300).collect());
            }
        }
    }
    assert!(
        longest.0 <= 4096,
        "a stored value of {} bytes: {}",
        longest.0,
        longest.1
    );
    let file = std::fs::metadata(d.path("referrald.db")).unwrap().len()
        + std::fs::metadata(d.path("referrald.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    assert!(file < 4 * 1024 * 1024, "the database takes {file} bytes");
}

/// Harm guarded against: mail arriving after `forget` writing the forgotten address into
/// the database again in plain text — in ignore reasons, other people's comments, story
/// lines, bounce statuses, kept raw messages — or making them a party again.
#[test]
fn after_a_forget_mail_naming_the_address_does_not_store_it() {
    let d = deployment();
    ingest(&d, T, &eml(&d, "intro.eml", &intro("intro-1@x.example")));
    d.ok(&["--now", T_FOLLOW_UP, "tick"]);
    let to_sally = our_message_id(&d, "follow_up", SALLY);
    let out = d.ok(&["--now", T_FOLLOW_UP, "forget", FRED]);
    assert!(out.contains("Forgot"), "{out}");
    assert!(!holds(&database_bytes(&d), FRED));

    let plus = "Fred+CRM@FredsBooks.example";
    let carl = "carl@carlsco.example";
    let mails = [
        // Fred himself, not allowed to introduce.
        intro("m1@x.example").replace(
            "From: Bob Brown <bob@networkers.example>",
            &format!("From: Fred Jones <{FRED}>"),
        ),
        // Fred (a +detail variant) writing on the thread, a stranger to it now.
        reply(plus, &to_sally, "m2@x.example", "Hello again"),
        // Bob introducing him again, to Sally and Carl; and under his +detail address.
        intro("m3@x.example").replace(
            &format!("Sally Lee <{SALLY}>"),
            &format!("Sally Lee <{SALLY}>, Carl <{carl}>"),
        ),
        intro("m4@x.example").replace(FRED, plus),
        // Sally's answer naming him.
        reply(
            SALLY,
            &to_sally,
            "m5@x.example",
            &format!("We met, 5/5. Write to {FRED} or {plus}."),
        ),
        // A stop from him.
        reply(FRED, &to_sally, "m6@x.example", "STOP"),
    ];
    for (i, mail) in mails.iter().enumerate() {
        ingest(&d, T_REPLIES, &eml(&d, &format!("after-{i}.eml"), mail));
    }
    let junk = format!("\x00\x01 junk from {FRED} and {plus}\n");
    ingest(&d, T_REPLIES, &path_str(&d.write("after-junk.eml", junk)));

    let bytes = database_bytes(&d);
    for address in [FRED, plus] {
        assert!(!holds(&bytes, address), "{address} is in the database");
    }
    // Carl and Sally were introduced; Fred was not, under either address.
    let referrals = d.json(&["referrals", "--json"]);
    let parties: Vec<Vec<String>> = referrals
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["parties"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["email"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(
        parties.contains(&vec![SALLY.to_string(), carl.to_string()]),
        "{referrals}"
    );
    assert_eq!(parties.len(), 2, "{referrals}");
}

/// Harm guarded against: "$999,999,999,999" in one reply summed into closed business.
#[test]
fn an_implausible_amount_is_kept_but_not_summed() {
    let d = deployment();
    ingest(&d, T, &eml(&d, "intro.eml", &intro("intro-1@x.example")));
    d.ok(&["--now", T_FOLLOW_UP, "tick"]);
    let to_fred = our_message_id(&d, "follow_up", FRED);
    let joke = reply(
        FRED,
        &to_fred,
        "r1@x.example",
        "We signed a $999,999,999,999 deal. 5/5",
    );
    ingest(&d, T_REPLIES, &eml(&d, "joke.eml", &joke));
    let stats = d.json(&["--now", T_REPLIES, "stats", "--json"]);
    assert_eq!(stats["closed_business"], Value::Array(vec![]), "{stats}");
    // The person's words are kept.
    let shown = d.json(&["show", "1", "--json"]);
    let feedback = &shown["feedback"][0];
    assert_eq!(feedback["value"], 999_999_999_999.0, "{shown}");
    assert!(
        feedback["comment"]
            .as_str()
            .unwrap()
            .contains("999,999,999,999")
    );
}

/// Harm guarded against: the outbox, which holds mail about people, world-readable under a
/// permissive umask.
#[cfg(unix)]
#[test]
fn the_outbox_directory_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let d = deployment();
    ingest(&d, T, &eml(&d, "intro.eml", &intro("intro-1@x.example")));
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_referrald"))
        .arg("--config")
        .arg(d.path("referrald.toml"))
        .args(["--now", T_FOLLOW_UP, "tick"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outbox: PathBuf = d.path("outbox");
    let mode = std::fs::metadata(&outbox).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(std::fs::read_dir(&outbox).unwrap().count() > 0);
}

/// Harm guarded against: a cap that would count nothing (or everything) taken silently.
#[test]
fn max_amount_must_be_a_positive_number() {
    for bad in ["0", "-5", "nan", "inf"] {
        let d = support::config::alice()
            .intake(&format!("max-amount = {bad}"))
            .deploy();
        let out = d.run(&["referrals"]);
        assert_eq!(out.status.code(), Some(2), "max-amount = {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("max-amount"));
    }
}
