//! Options in the address (`intros+quiet@…`, `+nothanks`, `+3d`, `+stop`): through the real
//! binary, a real SQLite file and the file transport, which mail goes out for each.

mod support;

use chrono::{DateTime, FixedOffset, TimeDelta};
use mail_parser::MessageParser;
use serde_json::{Value, json};
use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London

fn deployment() -> Deployment {
    support::config::alice().deploy()
}

/// Bob introduces Raj to the owner, copying the tracking address as `cc`. With the owner as a
/// party, the plan holds every kind: thank-you, owner nudge, follow-up, feedback request,
/// reminder and, once Raj answers, an outcome report.
fn intro(cc: &str) -> String {
    format!(
        "From: Bob Brown <bob@networkers.example>
To: Raj Patel <raj@patelbakery.example>, Alice Smith <alice@brightside.example>
Cc: {cc}
Subject: Raj <> Alice
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <options-cli@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Raj, meet Alice. Alice, meet Raj: you two should talk about the new shop.

Bob
"
    )
}

/// Raj, answering on the thread by subject: they met and it went well.
const RAJ_ANSWERS: &str = "From: Raj Patel <raj@patelbakery.example>
To: intros@tracker.example.org
Subject: Re: Raj <> Alice
Date: Fri, 6 Nov 2026 09:00:00 +0000
Message-ID: <raj-answers@patelbakery.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

We met on Thursday, it went great. Rating: 5/5
";

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
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
    // The owner's weekly digest is no part of a referral's plan (tests/digest.rs).
    mail.retain(|(kind, _)| kind != "digest");
    mail.sort();
    mail
}

/// The introduction to `cc`, a tick every day at 10:00 for a month and Raj's answer on day
/// four; returns everything sent.
fn play(cc: &str) -> (Deployment, Vec<(String, String)>) {
    let d = deployment();
    let out = ingest(&d, T, "intro.eml", &intro(cc));
    assert!(out.contains("introduction"), "{out}");
    for day in 0..30 {
        let now = (at(T) + TimeDelta::days(day)).to_rfc3339();
        if day == 4 {
            ingest(&d, &now, "raj.eml", RAJ_ANSWERS);
        }
        d.ok(&["--now", &now, "tick"]);
    }
    let all = sent(&d);
    (d, all)
}

fn kinds(mail: &[(String, String)]) -> Vec<&str> {
    let mut k: Vec<&str> = mail.iter().map(|(kind, _)| kind.as_str()).collect();
    k.dedup();
    k
}

// The plain address gets the whole plan (no feedback request: Raj said how it went before it
// was due): what every option below is compared with.
#[test]
fn without_options_every_kind_goes_out() {
    let (_, all) = play("intros@tracker.example.org");
    assert_eq!(
        kinds(&all),
        ["follow_up", "outcome_report", "owner_nudge", "thank_you"],
        "{all:?}"
    );
}

// `+quiet` still mailed everyone: it must record the referral and send nothing, ever.
#[test]
fn quiet_records_the_referral_and_sends_nothing() {
    let (d, all) = play("Intros+Quiet@tracker.example.org");
    assert_eq!(all, Vec::<(String, String)>::new());
    let show: Value = d.json(&["show", "1", "--json"]);
    assert_eq!(
        show["options"],
        json!({"quiet": true, "thanks": true, "follow_up_after": null, "unknown": []})
    );
    // Raj's answer was recorded all the same.
    assert_eq!(show["status"], "connected", "{show}");
    assert!(
        d.ok(&["show", "1"])
            .contains("options:    quiet (nothing is sent)")
    );
    let outbox: Value = d.json(&["outbox", "--json"]);
    assert_eq!(outbox, json!([]));
}

// `+nothanks` still thanked the introducer; everything else must go as usual.
#[test]
fn nothanks_skips_only_the_thank_you() {
    let (_, all) = play("intros+nothanks@tracker.example.org");
    assert_eq!(
        kinds(&all),
        ["follow_up", "outcome_report", "owner_nudge"],
        "{all:?}"
    );
}

// `+3d` was ignored: the follow-up went after the configured two days.
#[test]
fn a_delay_in_the_address_moves_the_follow_up() {
    let follow_ups = |d: &Deployment| {
        sent(d)
            .into_iter()
            .filter(|(kind, _)| kind == "follow_up")
            .count()
    };
    // Combined with another option and in any case.
    let d = deployment();
    ingest(
        &d,
        T,
        "intro.eml",
        &intro("intros+NoThanks+3D@tracker.example.org"),
    );
    // The plan as it stands at `T` (the follow-up is made only when due).
    let outbox: Value = d.json(&["--now", T, "outbox", "--json"]);
    let due: Vec<&str> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "follow_up")
        .map(|o| o["due_at"].as_str().unwrap())
        .collect();
    assert_eq!(due.len(), 1, "{outbox}");
    // Three days from the introduction's own date (09:55), not from its recording.
    assert!(due[0].starts_with("2026-11-05T09:55"), "{outbox}");
    for day in 0..=2 {
        d.ok(&[
            "--now",
            &(at(T) + TimeDelta::days(day)).to_rfc3339(),
            "tick",
        ]);
    }
    assert_eq!(follow_ups(&d), 0, "{:?}", sent(&d));
    d.ok(&["--now", &(at(T) + TimeDelta::days(3)).to_rfc3339(), "tick"]);
    assert_eq!(follow_ups(&d), 1, "{:?}", sent(&d));
    assert!(!kinds(&sent(&d)).contains(&"thank_you"));
    let show: Value = d.json(&["show", "1", "--json"]);
    assert_eq!(show["options"]["follow_up_after"], "3d");
    assert_eq!(show["options"]["thanks"], false);
    assert!(
        d.ok(&["show", "1"])
            .contains("no thank-you, follow-up after 3d")
    );
}

// A typo must not pass silently, nor change what is sent.
#[test]
fn unknown_options_are_listed_and_ignored() {
    let (d, all) = play("intros+vip+quite@tracker.example.org");
    let (_, plain) = play("intros@tracker.example.org");
    assert_eq!(all, plain);
    let show: Value = d.json(&["show", "1", "--json"]);
    assert_eq!(show["options"]["unknown"], json!(["vip", "quite"]));
    let human = d.ok(&["show", "1"]);
    assert!(human.contains("ignored: vip, quite"), "{human}");
}

// A Bcc to `intros+quiet@` shows only in the delivery fields: it must count as well.
#[test]
fn quiet_in_a_bcc_counts() {
    let d = deployment();
    let mail = intro("carol@elsewhere.example").replace(
        "From: Bob",
        "Delivered-To: intros+quiet@tracker.example.org\nFrom: Bob",
    );
    // `inspect` shows what was read before anything is recorded.
    let file = d.write("peek.eml", mail.replace('\n', "\r\n"));
    let peek: Value = d.json(&["--now", T, "inspect", file.to_str().unwrap(), "--json"]);
    assert_eq!(peek["options"]["quiet"], true, "{peek}");
    assert!(ingest(&d, T, "intro.eml", &mail).contains("introduction"));
    for day in 0..20 {
        d.ok(&[
            "--now",
            &(at(T) + TimeDelta::days(day)).to_rfc3339(),
            "tick",
        ]);
    }
    assert_eq!(sent(&d), Vec::<(String, String)>::new());
}

// The owner forwarding an introduction she received to `intros+quiet@` wants it tracked, not
// mailed about.
#[test]
fn a_forward_to_quiet_is_recorded_and_sends_nothing() {
    let d = deployment();
    let forward = "From: Alice Smith <alice@brightside.example>
To: intros+quiet@tracker.example.org
Subject: Fwd: Alice <> Greg
Date: Mon, 2 Nov 2026 09:50:00 +0000
Message-ID: <alice-fwd-quiet@mail.brightside.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Tracking this one quietly.

---------- Forwarded message ---------
From: Dana Whitfield <dana@connectors.example>
Date: Sun, 1 Nov 2026 at 20:00
Subject: Alice <> Greg
To: Alice Smith <alice@brightside.example>, Greg Novak <greg@ventures.example>


Alice, Greg needs a brand. Greg, Alice is the best.
";
    let out = ingest(&d, T, "fwd.eml", forward);
    assert!(out.contains("introduction"), "{out}");
    for day in 0..20 {
        d.ok(&[
            "--now",
            &(at(T) + TimeDelta::days(day)).to_rfc3339(),
            "tick",
        ]);
    }
    assert_eq!(sent(&d), Vec::<(String, String)>::new());
    let show: Value = d.json(&["show", "1", "--json"]);
    assert_eq!(show["options"]["quiet"], true);
    assert_eq!(
        show["introducer"]["email"], "dana@connectors.example",
        "{show}"
    );
}

// People write to `intros+stop@` to be left alone: they must get nothing more, and such a
// message must never start a referral.
#[test]
fn writing_to_stop_opts_the_sender_out() {
    let d = deployment();
    ingest(&d, T, "intro.eml", &intro("intros@tracker.example.org"));
    let stop = "From: Raj Patel <raj@patelbakery.example>
To: intros+stop@tracker.example.org
Subject: hello
Date: Mon, 2 Nov 2026 11:00:00 +0000
Message-ID: <raj-stop@patelbakery.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hi there.
";
    let out = ingest(&d, T, "stop.eml", stop);
    assert!(
        out.contains("opt_out") || out.contains("not to be emailed"),
        "{out}"
    );
    for day in 0..20 {
        d.ok(&[
            "--now",
            &(at(T) + TimeDelta::days(day)).to_rfc3339(),
            "tick",
        ]);
    }
    let mail = sent(&d);
    assert!(
        mail.iter().all(|(_, to)| to != "raj@patelbakery.example"),
        "{mail:?}"
    );
    assert!(mail.iter().any(|(kind, _)| kind == "thank_you"), "{mail:?}");

    // An allowed introducer writing an introduction to `+unsubscribe` opts out; nothing is
    // recorded or sent for it.
    let d = deployment();
    let out = ingest(
        &d,
        T,
        "intro.eml",
        &intro("intros+Unsubscribe@tracker.example.org"),
    );
    assert!(!out.contains("introduction"), "{out}");
    d.ok(&["--now", T, "tick"]);
    assert_eq!(sent(&d), Vec::<(String, String)>::new());
    assert_eq!(d.json(&["referrals", "--json"]), json!([]));
}

// Someone who answers on the thread but to `intros+stop@` has said what they want, whatever
// their words: they must not be read as feedback and mailed again.
#[test]
fn a_reply_to_stop_opts_out_too() {
    let d = deployment();
    ingest(&d, T, "intro.eml", &intro("intros@tracker.example.org"));
    let reply = RAJ_ANSWERS.replace(
        "To: intros@tracker.example.org",
        "To: intros+STOP@tracker.example.org",
    );
    let out = ingest(&d, "2026-11-03T09:00:00Z", "stop.eml", &reply);
    assert!(
        out.contains("opt_out") || out.contains("not to be emailed"),
        "{out}"
    );
    for day in 0..20 {
        d.ok(&[
            "--now",
            &(at(T) + TimeDelta::days(day)).to_rfc3339(),
            "tick",
        ]);
    }
    let mail = sent(&d);
    assert!(
        mail.iter().all(|(_, to)| to != "raj@patelbakery.example"),
        "{mail:?}"
    );
    let show: Value = d.json(&["show", "1", "--json"]);
    let raj = &show["parties"][0];
    assert_eq!(raj["state"], "opted_out", "{show}");
    // Not read as feedback: nothing of it goes to Bob.
    assert!(show["feedback"].as_array().unwrap().is_empty(), "{show}");
}
