//! The hostile corpus (`tests/hostile/`, each file's harm in its `MANIFEST.toml`): every
//! message is ingested through the real `referrald` binary into a deployment that already
//! holds one genuine, authenticated referral with mail sent, and the clock is run on for three
//! weeks, during which Sally genuinely answers her feedback request. Whatever the message is,
//! referrald must exit 0 and not panic, print no control or bidi characters, send exactly what
//! the genuine referral alone sends on the same timeline (the outcome report to Bob included),
//! and leave that referral's status, people and feedback as they were.
//!
//! To stay fast, messages run in groups of [`GROUP`], each group in its own copy of the
//! deployment (several groups at a time); a group that shows any harm is run again one
//! message per copy, so every failure is pinned on its own message. All failures are
//! collected and reported together at the end.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mail_parser::MessageParser;
use serde_json::Value;
use support::deployment::Deployment;

/// Alice's deployment, as a careful owner runs it: only mail her own server vouches for counts.
fn deployment() -> Deployment {
    support::config::alice()
        .trusting("mx.tracker.example.org")
        .deploy()
}

/// The genuine introduction every hostile message is set against: Bob's, vouched for by
/// Alice's own server.
const GENUINE_INTRO: &str = "Return-Path: <bob@networkers.example>\r
Delivered-To: intros@tracker.example.org\r
Authentication-Results: mx.tracker.example.org;\r
\tdkim=pass (2048-bit key; unprotected) header.d=networkers.example header.i=@networkers.example header.b=\"Qm3xA1bC\";\r
\tspf=pass smtp.mailfrom=bob@networkers.example;\r
\tdmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=networkers.example\r
Received: from mail.networkers.example (mail.networkers.example [198.51.100.5])\r
\tby mx.tracker.example.org (Postfix) with ESMTPS id 4Qw1Yz0KQpz9rX\r
\tfor <intros@tracker.example.org>; Mon, 2 Nov 2026 09:55:02 +0000\r
From: Bob Brown <bob@networkers.example>\r
To: Fred Jones <fred@fredsbooks.example>, Sally Lee <sally@leedesign.example>\r
Cc: intros@tracker.example.org\r
Subject: Intro: Fred, meet Sally\r
Date: Mon, 2 Nov 2026 09:55:00 +0000\r
Message-ID: <intro-genuine@mail.networkers.example>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=UTF-8\r
\r
Fred, Sally: you two should talk. Fred keeps books, Sally designs shops.\r
\r
Bob\r
";

/// Sally's genuine answer to her feedback request, vouched for by Alice's server and threaded
/// under the request (`FEEDBACK_REQUEST_TO_SALLY` becomes its real Message-ID).
const GENUINE_ANSWER: &str = "Return-Path: <sally@leedesign.example>\r
Delivered-To: intros@tracker.example.org\r
Authentication-Results: mx.tracker.example.org;\r
\tdkim=pass (2048-bit key) header.d=leedesign.example header.i=@leedesign.example;\r
\tspf=pass smtp.mailfrom=sally@leedesign.example;\r
\tdmarc=pass (p=QUARANTINE) header.from=leedesign.example\r
Received: from mail.leedesign.example (mail.leedesign.example [198.51.100.21])\r
\tby mx.tracker.example.org (Postfix) with ESMTPS id 4Qz3Kk5DNbz9tT\r
\tfor <intros@tracker.example.org>; Wed, 18 Nov 2026 08:59:58 +0000\r
From: Sally Lee <sally@leedesign.example>\r
To: Alice Smith <intros@tracker.example.org>\r
Subject: Re: Intro: Fred, meet Sally\r
Date: Wed, 18 Nov 2026 08:59:50 +0000\r
Message-ID: <answer-genuine@mail.leedesign.example>\r
In-Reply-To: <FEEDBACK_REQUEST_TO_SALLY>\r
References: <intro-genuine@mail.networkers.example> <FEEDBACK_REQUEST_TO_SALLY>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=UTF-8\r
\r
4/5. We met twice and signed a small project, $2,500.\r
\r
Sally\r
";

/// Monday: the genuine introduction arrives and Bob is thanked.
const INTRO_AT: &str = "2026-11-02T10:00:00Z";
/// Thursday: Fred and Sally are followed up. The genuine store is copied from here.
const FOLLOW_UPS_AT: &str = "2026-11-05T10:00:00Z";
/// The hostile message arrives an hour after the follow-ups went out.
const HOSTILE_AT: &str = "2026-11-05T11:00:00Z";

/// What happens after the hostile message: ticks through the plan (the same day, the feedback
/// requests, the outcome report, the reminder), the folder read again before the requests (a
/// new UIDVALIDITY), which must record nothing twice, and Sally's genuine answer.
const TIMELINE: &[Step] = &[
    Step::Tick("2026-11-05T11:30:00Z"),
    Step::Reingest("2026-11-17T09:30:00Z"),
    Step::Tick("2026-11-17T10:00:00Z"),
    Step::Answer("2026-11-18T09:00:00Z"),
    Step::Tick("2026-11-18T10:00:00Z"),
    Step::Tick("2026-11-24T10:00:00Z"),
];

/// Messages per deployment on the first pass.
const GROUP: usize = 8;

#[derive(Clone, Copy)]
enum Step {
    /// `tick` at this instant.
    Tick(&'static str),
    /// The hostile messages ingested again.
    Reingest(&'static str),
    /// Sally's genuine answer arrives.
    Answer(&'static str),
}

/// The classes of harm the corpus is sorted into (the manifest's `class`).
const CLASSES: &[&str] = &[
    "spoofing",
    "mass-mail",
    "loop",
    "injection",
    "malformed",
    "feedback-abuse",
];

/// One corpus message, as the manifest describes it.
#[derive(serde::Deserialize)]
struct Entry {
    file: String,
    class: String,
    harm: String,
    /// A genuine participant's out-of-office that proves itself and names a return date: it
    /// may move that address's mail later (or, their answer coming first, make it
    /// unnecessary), and nothing else.
    #[serde(default)]
    postpones: Option<String>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    message: Vec<Entry>,
}

/// Everything a hostile message could change that matters: what was sent and to whom, the
/// outbox, how many referrals there are, and the genuine referral as recorded.
#[derive(Debug, PartialEq)]
struct Observed {
    /// (X-Referrald-Kind, To) of every `.eml` the file transport wrote, sorted.
    emails: Vec<(String, String)>,
    /// Every referral's outbound mail (kind, to, state, times) without the random Message-IDs.
    outbox: Value,
    /// How many referrals exist.
    referrals: usize,
    /// The genuine referral's status, its people with their states, and its feedback.
    genuine: Value,
    /// The same just before Sally's answer (which would cover a forged "we spoke").
    before_answer: Value,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.toml")).unwrap();
    let manifest: Manifest = toml::from_str(&text).unwrap();
    manifest.message
}

/// Harm: a message nobody says anything about is a message nobody checked. Every corpus file
/// is in the manifest exactly once, with a known class and a stated harm, and there are enough
/// of them in every class.
#[test]
fn the_manifest_describes_every_corpus_message() {
    let entries = manifest();
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".eml"))
        .collect();
    let listed: Vec<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    let unique: BTreeSet<String> = listed.iter().map(|s| s.to_string()).collect();
    assert_eq!(unique.len(), listed.len(), "a file is listed twice");
    assert_eq!(unique, on_disk, "the manifest and the folder disagree");
    assert!(entries.len() >= 60, "only {} messages", entries.len());
    for entry in &entries {
        assert!(
            CLASSES.contains(&entry.class.as_str()),
            "{}: unknown class {}",
            entry.file,
            entry.class
        );
        assert!(entry.harm.len() > 20, "{}: say what harm", entry.file);
    }
    for class in CLASSES {
        let n = entries.iter().filter(|e| e.class == *class).count();
        assert!(n >= 5, "only {n} {class} messages");
    }
}

/// A character that must never reach a terminal from mail: C0/C1 controls (escape sequences,
/// bells, NUL) other than line feed and tab, bidi overrides and isolates, zero-width ones.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Runs one command of a case: exit 0, no panic, nothing unsafe printed; else why not.
fn step(d: &Deployment, args: &[&str], problems: &mut Vec<String>) {
    let out = d.run(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("{} at {}", args[2], args[1]);
    if out.status.code() != Some(0) {
        // Why: a rejected message says so on standard output, anything else on standard error.
        let why = stdout
            .lines()
            .find(|l| l.contains("  rejected  "))
            .map(|l| l.split("  rejected  ").nth(1).unwrap_or(l))
            .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
            .unwrap_or("");
        problems.push(format!(
            "`{what}` exited {:?}: {}",
            out.status.code(),
            why.chars().take(200).collect::<String>()
        ));
    }
    if stderr.contains("panicked") {
        problems.push(format!("`{what}` panicked"));
    }
    let printed: BTreeSet<String> = stdout
        .chars()
        .chain(stderr.chars())
        .filter(|c| unsafe_char(*c))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect();
    if !printed.is_empty() {
        let list: Vec<String> = printed.into_iter().collect();
        problems.push(format!("`{what}` printed {}", list.join(" ")));
    }
}

/// The deployment's state after the timeline.
fn observe(d: &Deployment) -> Observed {
    let mut emails = Vec::new();
    if let Ok(dir) = std::fs::read_dir(d.path("outbox")) {
        for entry in dir {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&bytes).unwrap();
            let kind = m.header_raw("X-Referrald-Kind").unwrap_or("").trim();
            let to = m.header_raw("To").unwrap_or("").trim();
            emails.push((kind.to_string(), to.to_string()));
        }
    }
    emails.sort();
    let export = d.json(&["export"]);
    let all = export.as_array().unwrap();
    let outbox: Vec<Value> = all
        .iter()
        .flat_map(|r| r["outbound"].as_array().unwrap())
        .map(|o| {
            let mut o = o.clone();
            o.as_object_mut().unwrap().remove("message_id");
            o
        })
        .collect();
    Observed {
        emails,
        outbox: Value::Array(outbox),
        referrals: all.len(),
        genuine: genuine(&export),
        before_answer: Value::Null,
    }
}

/// The genuine referral in an `export`: its status, people with their states, and feedback.
fn genuine(export: &Value) -> Value {
    let Some(r) = export.as_array().unwrap().iter().find(|r| r["id"] == 1) else {
        return Value::Null;
    };
    let people: Vec<Value> = r["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::json!([p["email"], p["name"], p["state"]]))
        .collect();
    serde_json::json!({
        "status": r["status"],
        "introducer": r["introducer"],
        "parties": people,
        "feedback": r["feedback"],
    })
}

/// A placeholder of the corpus and the real Message-ID it stands for.
type Substitution = (Vec<u8>, Vec<u8>);

/// Copies the genuine deployment's database and outbox into a fresh deployment.
fn copy_of(template: &Deployment) -> Deployment {
    let d = deployment();
    std::fs::copy(template.path("referrald.db"), d.path("referrald.db")).unwrap();
    std::fs::create_dir(d.path("outbox")).unwrap();
    for entry in std::fs::read_dir(template.path("outbox")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), d.path("outbox").join(entry.file_name())).unwrap();
    }
    d
}

/// The genuine referral with its thank-you and follow-ups sent; and the placeholders of the
/// corpus (`referrald.N.000000000000@tracker.example.org`) paired with the Message-IDs
/// referrald gave its outbound messages.
fn genuine_deployment() -> (Deployment, Vec<Substitution>) {
    let d = deployment();
    let intro = d.write("genuine-intro.eml", GENUINE_INTRO);
    let out = d.ok(&["--now", INTRO_AT, "ingest", intro.to_str().unwrap()]);
    assert!(out.contains("introduction"), "{out}");
    d.ok(&["--now", INTRO_AT, "tick"]);
    d.ok(&["--now", FOLLOW_UPS_AT, "tick"]);
    let outbox = d.json(&["outbox", "--json"]);
    let sent: Vec<(String, String)> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "sent")
        .map(|o| (o["kind"].to_string(), o["to"].to_string()))
        .collect();
    assert_eq!(sent.len(), 3, "thank-you and two follow-ups: {sent:?}");
    // The corpus names our messages by the numbers they had when the whole plan was made
    // up front (see MANIFEST.toml); what each number stands for is fixed here.
    let named = [
        (1, "thank_you", "bob@networkers.example"),
        (2, "follow_up", "fred@fredsbooks.example"),
        (4, "follow_up", "sally@leedesign.example"),
    ];
    let ids = named
        .iter()
        .map(|(n, kind, to)| {
            let real = outbox
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["kind"] == *kind && o["to"] == *to)
                .and_then(|o| o["message_id"].as_str())
                .unwrap_or_else(|| panic!("no {kind} to {to} with a Message-ID: {outbox}"));
            let placeholder = format!("referrald.{n}.000000000000@tracker.example.org");
            (placeholder.into_bytes(), real.as_bytes().to_vec())
        })
        .collect();
    (d, ids)
}

/// Sally's genuine answer, threaded under the feedback request she got (made and sent when it
/// fell due, so its Message-ID is known only then), or under the last message she got if a
/// hostile message postponed her request (an auto-reply saying she is away).
fn genuine_answer(d: &Deployment) -> String {
    let outbox = d.json(&["outbox", "--json"]);
    let to_sally = |kind: &str| {
        outbox
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                o["kind"] == kind && o["to"] == "sally@leedesign.example" && o["state"] == "sent"
            })
            .and_then(|o| o["message_id"].as_str())
    };
    let parent = to_sally("feedback_request")
        .or_else(|| to_sally("follow_up"))
        .expect("Sally got a follow-up before any hostile message arrived");
    GENUINE_ANSWER.replace("FEEDBACK_REQUEST_TO_SALLY", parent)
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Runs the timeline on a copy of the genuine deployment, with `hostile` messages arriving
/// first (none, for the baseline); returns what it observed and every problem met on the way.
fn run_case(
    template: &Deployment,
    hostile: &[&[u8]],
    ids: &[Substitution],
) -> (Observed, Vec<String>) {
    let d = copy_of(template);
    let mut problems = Vec::new();
    let paths: Vec<String> = hostile
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let raw = ids
                .iter()
                .fold(raw.to_vec(), |raw, (from, to)| replace_all(&raw, from, to));
            let path = d.write(&format!("hostile-{i}.eml"), raw);
            path.to_str().unwrap().to_string()
        })
        .collect();
    let ingest = |at: &str, problems: &mut Vec<String>| {
        if !paths.is_empty() {
            let mut args = vec!["--now", at, "ingest"];
            args.extend(paths.iter().map(String::as_str));
            step(&d, &args, problems);
        }
    };
    ingest(HOSTILE_AT, &mut problems);
    let mut before_answer = Value::Null;
    for s in TIMELINE {
        match s {
            Step::Tick(at) => step(&d, &["--now", at, "tick"], &mut problems),
            Step::Reingest(at) => ingest(at, &mut problems),
            Step::Answer(at) => {
                before_answer = genuine(&d.json(&["export"]));
                let answer = d.write("genuine-answer.eml", genuine_answer(&d));
                step(
                    &d,
                    &["--now", at, "ingest", answer.to_str().unwrap()],
                    &mut problems,
                )
            }
        }
    }
    let observed = Observed {
        before_answer,
        ..observe(&d)
    };
    (observed, problems)
}

/// Each in `want` that `got` lacks, counting repeats.
fn missing_from(got: &[(String, String)], want: &[(String, String)]) -> Vec<String> {
    let mut left: Vec<&(String, String)> = got.iter().collect();
    let mut missing = Vec::new();
    for w in want {
        match left.iter().position(|g| *g == w) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => missing.push(format!("{} to {}", w.0, w.1)),
        }
    }
    missing
}

/// The outbox without the rows to `address`, nor row numbers (a message of theirs that was
/// never needed leaves a later row one number lower).
fn outbox_without(outbox: &Value, address: &str) -> Value {
    let rows = outbox.as_array().unwrap();
    Value::Array(
        rows.iter()
            .filter(|o| o["to"] != address)
            .map(|o| {
                let mut o = o.clone();
                o.as_object_mut().unwrap().remove("id");
                o
            })
            .collect(),
    )
}

/// What differs from the baseline, in a few words each. A message that `postpones` an
/// address may only send that address less, or later: no mail that the baseline does not
/// send, and the outbox as the baseline's apart from that address's rows.
fn differences(got: &Observed, want: &Observed, postpones: Option<&str>) -> Vec<String> {
    let mut diff = Vec::new();
    if let Some(address) = postpones {
        let extra = missing_from(&want.emails, &got.emails);
        let missing = missing_from(&got.emails, &want.emails);
        let elsewhere: Vec<&String> = missing.iter().filter(|m| !m.contains(address)).collect();
        if !extra.is_empty() || !elsewhere.is_empty() {
            diff.push(format!(
                "mail differs beyond {address}'s: extra: [{}]; missing: {elsewhere:?}",
                extra.join(", ")
            ));
        }
        if outbox_without(&got.outbox, address) != outbox_without(&want.outbox, address) {
            diff.push(format!("the outbox differs beyond {address}'s mail"));
        }
    } else if got.emails != want.emails {
        let extra = missing_from(&want.emails, &got.emails);
        let missing = missing_from(&got.emails, &want.emails);
        diff.push(format!(
            "mail differs: {} sent instead of {} (extra: [{}]; missing: [{}])",
            got.emails.len(),
            want.emails.len(),
            extra.join(", "),
            missing.join(", ")
        ));
    }
    if postpones.is_none() && got.outbox != want.outbox {
        diff.push("the outbox differs".into());
    }
    if got.referrals != want.referrals {
        diff.push(format!(
            "{} referrals instead of {}",
            got.referrals, want.referrals
        ));
    }
    if got.before_answer != want.before_answer {
        diff.push(format!(
            "before Sally's answer, the genuine referral was {} (should be {})",
            compact(&got.before_answer),
            compact(&want.before_answer)
        ));
    }
    if got.genuine != want.genuine {
        diff.push(format!(
            "the genuine referral changed: {} (was {})",
            compact(&got.genuine),
            compact(&want.genuine)
        ));
    }
    diff
}

fn compact(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Harm: every message in the corpus (see MANIFEST.toml for each one's harm) — nothing hostile
/// causes mail, touches the genuine referral, crashes referrald or reaches the terminal raw.
#[test]
fn no_hostile_message_causes_mail_or_changes_the_genuine_referral() {
    let started = Instant::now();
    let entries = manifest();
    let (template, ids) = genuine_deployment();
    let (baseline, problems) = run_case(&template, &[], &ids);
    assert!(problems.is_empty(), "the baseline itself: {problems:?}");
    // Thanks, two follow-ups, two requests, the outcome report of Sally's answer, and the
    // owner's weekly digest of the week Sally answered (the weeks before have nothing to
    // say): so a hostile message that adds a digest shows too. No reminder to Fred: Sally
    // said they met and did business, so nobody is asked again.
    let kinds: Vec<&str> = baseline.emails.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "digest",
            "feedback_request",
            "feedback_request",
            "follow_up",
            "follow_up",
            "outcome_report",
            "thank_you"
        ],
        "the baseline should run the whole plan: {baseline:?}"
    );
    assert_eq!(baseline.genuine["status"], "succeeded", "{baseline:?}");
    let corpus: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| std::fs::read(corpus_dir().join(&e.file)).unwrap())
        .collect();
    let harm = |members: &[usize]| {
        let raws: Vec<&[u8]> = members.iter().map(|i| corpus[*i].as_slice()).collect();
        let (got, mut problems) = run_case(&template, &raws, &ids);
        // A message that may postpone runs alone (see `groups`), judged by its own rule.
        let postpones = match members {
            [one] => entries[*one].postpones.as_deref(),
            _ => None,
        };
        problems.extend(differences(&got, &baseline, postpones));
        problems
    };

    // Messages that may postpone someone's mail run alone, so that their leeway covers no
    // other message.
    let (alone, grouped): (Vec<usize>, Vec<usize>) =
        (0..entries.len()).partition(|i| entries[*i].postpones.is_some());
    let groups: Vec<Vec<usize>> = grouped
        .chunks(GROUP)
        .map(<[usize]>::to_vec)
        .chain(alone.into_iter().map(|i| vec![i]))
        .collect();
    let failures: Mutex<Vec<(usize, Vec<String>)>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let together = harm(group);
                    if together.is_empty() {
                        continue;
                    }
                    // Pin the harm on its messages, one deployment each.
                    let mut pinned = 0;
                    for &i in group {
                        let problems = harm(&[i]);
                        if !problems.is_empty() {
                            pinned += 1;
                            failures.lock().unwrap().push((i, problems));
                        }
                    }
                    if pinned == 0 {
                        let mut problems =
                            vec!["harm only when ingested with the rest of its group".to_string()];
                        problems.extend(together);
                        failures.lock().unwrap().push((group[0], problems));
                    }
                }
            });
        }
    });

    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|(i, _)| *i);
    let mut report = String::new();
    for (i, problems) in &failures {
        let e = &entries[*i];
        report.push_str(&format!("\n{} [{}]\n  harm: {}\n", e.file, e.class, e.harm));
        for p in problems {
            report.push_str(&format!("  - {p}\n"));
        }
    }
    let mut by_class = Vec::new();
    for class in CLASSES {
        let all = entries.iter().filter(|e| e.class == *class).count();
        let failed = failures
            .iter()
            .filter(|(i, _)| entries[*i].class == *class)
            .count();
        by_class.push(format!("{class} {}/{all}", all - failed));
    }
    println!(
        "hostile corpus: {} messages, {} passed, {} failed ({}) in {:.1?}",
        entries.len(),
        entries.len() - failures.len(),
        failures.len(),
        by_class.join(", "),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} hostile messages did harm:{report}",
        failures.len(),
        entries.len()
    );
}
