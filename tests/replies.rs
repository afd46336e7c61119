//! Golden replies: every file in `tests/fixtures/replies/` is a reply body (plain text, or HTML
//! with `format: html`) under a header of expectations:
//!
//! ```text
//! subject: Re: Intro            (optional; for the stop check)
//! format: html                  (optional; default plain)
//! answers: follow_up            (optional; which of our messages it answers, or none;
//!                                default feedback_request, which asks for a rating)
//! lang: de                      (optional; default the file name's prefix, else en)
//! rating: 4                     (or none)
//! outcome: won                  (met, not_met, won, lost or none)
//! value: 2500 EUR               (amount and ISO code, amount alone, or none)
//! stop: yes                     (optional; default no)
//! contains: we signed           (any number: the comment holds this text)
//! lacks: wrote:                 (any number: the comment does not hold this text)
//! ==== reply ====
//! the body…
//! ```
//!
//! Every expectation is checked, so a fixture without `rating:` asserts that there is none.
//! Plain bodies are read twice: as written (LF) and with CRLF line ends. The test prints the
//! accuracy per language ("de 20/20, es 9/9 …") and fails on any miss.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use referrald::intake::reply::{own_words, read, says_stop};
use referrald::model::OutboundKind;

const BODY_MARK: &str = "==== reply ====";

/// Languages a fixture's file name may start with (`es_met_jerez.txt`).
const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "pt", "it", "nl", "ja", "zh", "ko"];

#[derive(Debug, Default)]
struct Fixture {
    subject: String,
    html: bool,
    answers: Option<OutboundKind>,
    lang: String,
    rating: Option<u8>,
    outcome: Option<String>,
    value: Option<(f64, Option<String>)>,
    stop: bool,
    contains: Vec<String>,
    lacks: Vec<String>,
    body: String,
}

fn parse(name: &str, text: &str) -> Fixture {
    let (head, body) = text
        .split_once(&format!("{BODY_MARK}\n"))
        .unwrap_or_else(|| panic!("{name}: no `{BODY_MARK}` line"));
    let prefix = name.split('_').next().unwrap_or("");
    let mut f = Fixture {
        body: body.to_string(),
        answers: Some(OutboundKind::FeedbackRequest),
        lang: if LANGUAGES.contains(&prefix) {
            prefix
        } else {
            "en"
        }
        .to_string(),
        ..Fixture::default()
    };
    let mut seen = Vec::new();
    for line in head.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{name}: bad header line {line:?}"));
        let value = value.trim();
        seen.push(key.to_string());
        match key {
            "subject" => f.subject = value.to_string(),
            "format" => f.html = value == "html",
            "answers" => {
                f.answers = (value != "none").then(|| {
                    value
                        .parse()
                        .unwrap_or_else(|_| panic!("{name}: unknown kind {value:?}"))
                })
            }
            "lang" => f.lang = value.to_string(),
            "rating" => f.rating = (value != "none").then(|| value.parse().expect("rating")),
            "outcome" => f.outcome = (value != "none").then(|| value.to_string()),
            "value" => {
                f.value = (value != "none").then(|| {
                    let mut parts = value.split_whitespace();
                    let amount = parts.next().and_then(|a| a.parse().ok()).expect("amount");
                    (amount, parts.next().map(str::to_string))
                })
            }
            "stop" => f.stop = value == "yes",
            "contains" => f.contains.push(value.to_string()),
            "lacks" => f.lacks.push(value.to_string()),
            other => panic!("{name}: unknown key {other:?}"),
        }
    }
    for required in ["rating", "outcome", "value"] {
        assert!(
            seen.iter().any(|k| k == required),
            "{name}: say `{required}:` explicitly (none when there is none)"
        );
    }
    f
}

/// Checks one reading; returns the mismatches.
fn check(name: &str, f: &Fixture, body: &str) -> Vec<String> {
    let words = if f.html {
        own_words(None, Some(body))
    } else {
        own_words(Some(body), None)
    };
    let reading = read(&words, f.answers);
    let mut errors = Vec::new();
    let mut expect = |what: &str, ok: bool, got: String| {
        if !ok {
            errors.push(format!(
                "{name}: {what}: got {got}\n--- comment ---\n{words}\n---"
            ));
        }
    };
    expect(
        "rating",
        reading.rating == f.rating,
        format!("{:?}", reading.rating),
    );
    let outcome = reading.outcome.map(|o| o.to_string());
    expect("outcome", outcome == f.outcome, format!("{outcome:?}"));
    let value_ok = match (&f.value, reading.value) {
        (None, None) => true,
        (Some((want, cur)), Some(got)) => (want - got).abs() < 1e-6 && *cur == reading.currency,
        _ => false,
    };
    expect(
        "value",
        value_ok,
        format!("{:?} {:?}", reading.value, reading.currency),
    );
    let stop = says_stop(&words, &f.subject);
    expect("stop", stop == f.stop, format!("{stop}"));
    for c in &f.contains {
        expect(
            &format!("contains {c:?}"),
            reading.comment.contains(c),
            "no".into(),
        );
    }
    for l in &f.lacks {
        expect(
            &format!("lacks {l:?}"),
            !reading.comment.contains(l),
            "it does".into(),
        );
    }
    errors
}

#[test]
fn golden_replies_read_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    let mut errors = Vec::new();
    let mut count = 0;
    // Per language: fixtures read right, fixtures.
    let mut accuracy: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(&path).expect("fixture text");
        let f = parse(&name, &text);
        count += 1;
        let mut misses = check(&name, &f, &f.body);
        if !f.html {
            misses.extend(check(
                &format!("{name} (CRLF)"),
                &f,
                &f.body.replace('\n', "\r\n"),
            ));
        }
        let tally = accuracy.entry(f.lang.clone()).or_default();
        tally.0 += usize::from(misses.is_empty());
        tally.1 += 1;
        errors.extend(misses);
    }
    let table: Vec<String> = accuracy
        .iter()
        .map(|(lang, (right, all))| format!("{lang} {right}/{all}"))
        .collect();
    println!("reply reading accuracy: {}", table.join(", "));
    assert!(
        count >= 60,
        "only {count} fixtures found in {}",
        dir.display()
    );
    for lang in LANGUAGES {
        assert!(
            accuracy.get(*lang).is_some_and(|(_, all)| *all >= 6),
            "fewer than six fixtures in {lang}: {table:?}"
        );
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n\n{}",
        errors.len(),
        errors.join("\n\n")
    );
}
