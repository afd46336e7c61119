//! Intake against golden fixtures and against junk.
//!
//! `fixtures_classify_as_expected` runs every `tests/fixtures/intake/NAME.eml` (with LF and
//! with CRLF line endings) and compares the verdict with `NAME.expected.json`; see
//! `tests/fixtures/intake/README.md` (`INTAKE_FIXTURE_DUMP=1` prints what the classifier
//! says about each fixture). The robustness tests feed the classifier thousands of
//! broken messages and require that it answers every one.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use referrald::config::Config;
use referrald::intake::{Classified, Known, ThreadHit, Verdict, classify, normalize_subject};
use referrald::model::{OutboundKind, Person, ReferralId, Role};

/// The store as the fixtures know it.
///
/// Referral 7: Bob introduced Fred and Sally (`intro-7@mail.gmail.com`, "Intro: Fred <> Sally
/// (bookkeeping)"); we sent Fred a follow-up, Bob a thank-you and Sally a feedback request.
/// Referral 8: Dana introduced Tom to Alice, the owner (`intro-8@connectors.example`,
/// "Tom, meet Alice"); we sent Alice a nudge and Tom a follow-up.
/// Referral 9: we sent Jürgen a follow-up (`referrald.de4@…`).
struct FixtureStore;

const REFERRAL_7: ReferralId = 7;
const REFERRAL_8: ReferralId = 8;
const REFERRAL_9: ReferralId = 9;

impl FixtureStore {
    fn hit(id: &str) -> Option<ThreadHit> {
        let ours = |referral, kind, to: &str| {
            Some(ThreadHit {
                referral,
                outbound: Some((kind, to.to_string())),
            })
        };
        match id {
            "intro-7@mail.gmail.com" => Some(ThreadHit {
                referral: REFERRAL_7,
                outbound: None,
            }),
            "intro-8@connectors.example" => Some(ThreadHit {
                referral: REFERRAL_8,
                outbound: None,
            }),
            "referrald.abc123@tracker.example.org" => ours(
                REFERRAL_7,
                OutboundKind::FollowUp,
                "fred@bookkeepers.example",
            ),
            "referrald.thx7@tracker.example.org" => {
                ours(REFERRAL_7, OutboundKind::ThankYou, "bob@networkers.example")
            }
            "referrald.fb7s@tracker.example.org" => ours(
                REFERRAL_7,
                OutboundKind::FeedbackRequest,
                "sally@sallys-bakery.example",
            ),
            "referrald.nudge8@tracker.example.org" => ours(
                REFERRAL_8,
                OutboundKind::OwnerNudge,
                "alice@brightside.example",
            ),
            "referrald.fu8@tracker.example.org" => {
                ours(REFERRAL_8, OutboundKind::FollowUp, "tom@bakerlaw.example")
            }
            "referrald.de4@tracker.example.org" => ours(
                REFERRAL_9,
                OutboundKind::FollowUp,
                "juergen.weiss@steuer.example",
            ),
            _ => None,
        }
    }
}

impl Known for FixtureStore {
    fn seen(&self, message_id: &str) -> bool {
        message_id == "already-seen-1@mail.example.com"
    }

    fn thread_of(&self, message_ids: &[String]) -> Option<ThreadHit> {
        message_ids.iter().find_map(|id| Self::hit(id))
    }

    fn referral_by_subject(&self, subject: &str, email: &str) -> Option<ReferralId> {
        [
            (REFERRAL_7, "Intro: Fred <> Sally (bookkeeping)"),
            (REFERRAL_8, "Tom, meet Alice"),
        ]
        .into_iter()
        .find(|(id, s)| normalize_subject(s) == subject && self.role_in(*id, email).is_some())
        .map(|(id, _)| id)
    }

    fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role> {
        match (referral, email) {
            (REFERRAL_7, "bob@networkers.example") => Some(Role::Introducer),
            (REFERRAL_7, "fred@bookkeepers.example" | "sally@sallys-bakery.example") => {
                Some(Role::Party)
            }
            (REFERRAL_8, "dana@connectors.example") => Some(Role::Introducer),
            (REFERRAL_8, "alice@brightside.example" | "tom@bakerlaw.example") => Some(Role::Party),
            _ => None,
        }
    }
}

const CONFIG: &str = r#"
[tracking]
address = "intros@tracker.example.org"

[owner]
name = "Alice Smith"
emails = ["alice@brightside.example", "alice.smith@gmail.example"]

[intake]
accept-from = [
    "*@brightside.example",
    "bob@networkers.example",
    "dana@connectors.example",
    "jose.muller@beispiel.example",
    "li.wei@shanghai-trade.example",
]
never-party = ["assistant@brightside.example"]
trusted-authserv-ids = ["mx.tracker.example.org"]
max-parties = 10

[outbound]
transport = "file"
"#;

/// The test configuration; fixtures named `auth-*` run with `require-authentication` on, as
/// it is by default, the others with it turned off.
fn config_for(fixture: &str) -> Config {
    let text = if fixture.starts_with("auth-") {
        CONFIG.to_string()
    } else {
        CONFIG.replace(
            "max-parties = 10",
            "max-parties = 10\nrequire-authentication = false",
        )
    };
    Config::parse(&text, "intake-test.toml", PathBuf::from(".")).expect("test config parses")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap()
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/intake")
}

/// Every fixture, as (name, raw bytes), sorted by name.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/intake exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    all.sort();
    all
}

fn to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().peekable();
    while let Some(&b) = bytes.next() {
        if b == b'\r' && bytes.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    for &b in &to_lf(raw) {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn person_json(p: &Person) -> Value {
    json!({"email": p.email, "name": p.name})
}

/// Everything a fixture may check, as JSON (the `inspect --json` shape plus a few more).
fn actual(c: &Classified) -> Value {
    let v = &c.verdict;
    let mut out = json!({
        "kind": v.kind(),
        "reason": v.reason(),
        "introducer": null,
        "parties": [],
        "referral": v.referral(),
        "message_id": c.message_id,
        "from": c.from.as_ref().map(|p| p.email.clone()),
    });
    match v {
        Verdict::Introduction(intro) => {
            out["introducer"] = person_json(&intro.introducer);
            out["parties"] = intro.parties.iter().map(person_json).collect();
            out["subject"] = json!(intro.subject);
            out["thread_root"] = json!(intro.thread_root);
            out["references"] = json!(intro.references);
            out["forwarded"] = json!(intro.forwarded);
        }
        Verdict::Bounce(b) => {
            out["recipients"] = json!(b.recipients);
            out["original_message_id"] = json!(b.original_message_id);
        }
        Verdict::OptOut { email, .. } => out["email"] = json!(email),
        Verdict::Feedback { from, reading, .. } => {
            out["email"] = json!(from.email);
            out["comment"] = json!(reading.comment);
        }
        Verdict::ThreadReply { from, .. } => out["email"] = json!(from.email),
        Verdict::Command(command) => out["comment"] = json!(command.written),
        _ => {}
    }
    out
}

/// The mismatches between a verdict and a fixture's expectations.
fn compare(expected: &Value, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(expected) = expected.as_object() else {
        return vec!["expected.json is not an object".into()];
    };
    for required in ["kind", "introducer", "parties", "referral"] {
        if !expected.contains_key(required) {
            problems.push(format!("expected.json lacks \"{required}\""));
        }
    }
    for (key, want) in expected {
        let (field, contains) = match key.strip_suffix("_contains") {
            Some(field) => (field, true),
            None => (key.as_str(), false),
        };
        let Some(got) = actual.get(field) else {
            problems.push(format!("unknown key \"{key}\" (or not set for this kind)"));
            continue;
        };
        let ok = if contains {
            match (got.as_str(), want.as_str()) {
                (Some(g), Some(w)) => g.contains(w),
                _ => false,
            }
        } else {
            got == want
        };
        if !ok {
            problems.push(format!("{key}: expected {want}, got {got}"));
        }
    }
    problems
}

#[test]
fn fixtures_classify_as_expected() {
    let all = fixtures();
    let store = FixtureStore;
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for (name, raw) in &all {
        let path = fixtures_dir().join(format!("{name}.expected.json"));
        let expected: Value = match fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let config = config_for(name);
        if std::env::var_os("INTAKE_FIXTURE_DUMP").is_some() {
            let got = actual(&classify(raw, &store, &config, now()));
            println!("{name}: {got}");
        }
        let mut ids = Vec::new();
        for (endings, bytes) in [("LF", to_lf(raw)), ("CRLF", to_crlf(raw))] {
            let classified = classify(&bytes, &store, &config, now());
            let got = actual(&classified);
            kinds.insert(classified.verdict.kind());
            for problem in compare(&expected, &got) {
                failures.push(format!("{name} ({endings}): {problem}"));
            }
            ids.push(classified.message_id);
        }
        if ids.first() != ids.last() {
            failures.push(format!(
                "{name}: Message-ID differs between LF and CRLF: {ids:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture mismatches:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(all.len() >= 60, "only {} fixtures", all.len());
    // The corpus covers every kind of SPEC §3.
    for kind in [
        "ignored",
        "bounce",
        "auto_reply",
        "duplicate",
        "opt_out",
        "feedback",
        "thread_reply",
        "introduction",
    ] {
        assert!(kinds.contains(kind), "no fixture classifies as {kind}");
    }
}

#[test]
fn every_fixture_has_expectations_and_every_expectation_a_fixture() {
    let mut orphans = Vec::new();
    for entry in fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let partner = match (
            name.strip_suffix(".expected.json"),
            name.strip_suffix(".eml"),
        ) {
            (Some(stem), _) => format!("{stem}.eml"),
            (None, Some(stem)) => format!("{stem}.expected.json"),
            (None, None) => continue,
        };
        if !fixtures_dir().join(partner).exists() {
            orphans.push(name);
        }
    }
    assert!(orphans.is_empty(), "unpaired fixture files: {orphans:?}");
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Classifies and requires an answer that did not come from a caught panic.
fn survives(raw: &[u8], config: &Config, what: &str) {
    let classified = classify(raw, &FixtureStore, config, now());
    let reason = classified.verdict.reason().unwrap_or_default();
    assert!(
        !reason.contains("internal error"),
        "{what}: classification panicked on {:?}",
        String::from_utf8_lossy(&raw[..raw.len().min(300)])
    );
}

#[test]
fn random_bytes_never_crash_the_classifier() {
    // Fragments that steer random input into the interesting parts of the parser.
    const PIECES: &[&str] = &[
        "From: ",
        "To: ",
        "Cc: ",
        "Subject: ",
        "Message-ID: <",
        "In-Reply-To: <referrald.abc123@tracker.example.org>\n",
        "References: <intro-7@mail.gmail.com>\n",
        "intros@tracker.example.org",
        "bob@networkers.example",
        "Fred <fred@bookkeepers.example>, ",
        "\n",
        "\r\n",
        "\n\n",
        ": ",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n",
        "Content-Type: multipart/mixed; boundary=b\n",
        "Content-Type: message/rfc822\n",
        "Content-Type: message/delivery-status\n",
        "Content-Type: text/html\n",
        "Content-Transfer-Encoding: base64\n",
        "Content-Transfer-Encoding: quoted-printable\n",
        "--b\n",
        "--b--\n",
        "=?UTF-8?B?",
        "=?ISO-8859-1?Q?Jos=E9?=",
        "?=",
        "Final-Recipient: rfc822; ",
        "Action: failed\n",
        "---------- Forwarded message ---------\n",
        "Begin forwarded message:\n",
        "> ",
        "<div>",
        "<br>",
        "&lt;",
        "Authentication-Results: mx.tracker.example.org; dkim=pass header.d=",
        "Auto-Submitted: auto-replied\n",
        "List-Id: <x>\n",
        "Return-Path: <>\n",
        "=\n",
        "=E2=80=99",
        "\u{FEFF}",
        "\0",
        "\u{00e9}",
        "\u{7f}",
    ];
    let config = config_for("random");
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for round in 0..4000 {
        let mut raw = Vec::new();
        let parts = noise.below(40);
        for _ in 0..parts {
            if noise.below(3) == 0 {
                let n = noise.below(24);
                raw.extend((0..n).map(|_| noise.next() as u8));
            } else {
                raw.extend_from_slice(PIECES[noise.below(PIECES.len())].as_bytes());
            }
        }
        survives(&raw, &config, &format!("random round {round}"));
    }
}

#[test]
fn mutated_fixtures_never_crash_the_classifier() {
    let config = config_for("mutated");
    let auth = config_for("auth-mutated");
    let mut noise = Noise(0x0123_4567_89ab_cdef);
    for (name, raw) in fixtures() {
        let config = if name.starts_with("auth-") {
            &auth
        } else {
            &config
        };
        // Truncated at (about) 48 points through the message.
        let step = (raw.len() / 48).max(1);
        for cut in (0..raw.len()).step_by(step) {
            survives(&raw[..cut], config, &format!("{name} cut at {cut}"));
        }
        // Bytes flipped, a few at a time.
        for round in 0..24 {
            let mut bytes = raw.clone();
            for _ in 0..1 + noise.below(8) {
                let at = noise.below(bytes.len());
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << noise.below(8);
                }
            }
            survives(&bytes, config, &format!("{name} flipped, round {round}"));
        }
        // Lines shuffled out of place: a header block in the body, a boundary in the headers.
        let lines: Vec<&[u8]> = raw.split(|&b| b == b'\n').collect();
        for round in 0..8 {
            let mut shuffled = lines.clone();
            for _ in 0..4 {
                let (a, b) = (noise.below(shuffled.len()), noise.below(shuffled.len()));
                shuffled.swap(a, b);
            }
            survives(
                &shuffled.join(&b'\n'),
                config,
                &format!("{name} shuffled, round {round}"),
            );
        }
    }
}

#[test]
fn a_huge_message_is_classified() {
    let config = config_for("huge");
    let mut raw = b"From: Bob Smith <bob@networkers.example>\nTo: fred@bookkeepers.example, sally@sallys-bakery.example\nCc: intros@tracker.example.org\nSubject: Intro\nX-Long: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 2_000_000));
    raw.extend_from_slice(b"\n\n");
    raw.extend(std::iter::repeat_n(b"Hi Fred,\n".as_slice(), 100_000).flatten());
    let classified = classify(&raw, &FixtureStore, &config, now());
    assert_eq!(classified.verdict.kind(), "introduction");

    // Hostile sizes must cost linear time: 20,000 recipients and a 20,000-id References.
    let to: Vec<String> = (0..20_000).map(|i| format!("p{i}@x.example")).collect();
    let refs: Vec<String> = (0..20_000).map(|i| format!("<r{i}@x.example>")).collect();
    let message = |subject: &str| {
        format!(
            "From: bob@networkers.example\nTo: {}\nCc: intros@tracker.example.org\nReferences: {}\nSubject: {subject}\n\nHi\n",
            to.join(", "),
            refs.join(" "),
        )
    };
    let ooo = message(&"Out of office ".repeat(50_000));
    let classified = classify(ooo.as_bytes(), &FixtureStore, &config, now());
    assert_eq!(classified.verdict.kind(), "auto_reply");
    let classified = classify(message("Intro").as_bytes(), &FixtureStore, &config, now());
    assert_eq!(
        classified.verdict.reason().as_deref(),
        Some("20000 parties, more than max-parties allows")
    );
}
