//! Bounded property-based fuzzing of intake (proptest): the classifier, the
//! Authentication-Results reader and the reply reader, on arbitrary input and on mutations of
//! real messages (the hostile corpus in `tests/hostile/` and the intake fixtures).
//!
//! Each property runs a fixed number of cases chosen so that the whole module stays within
//! about 30 seconds of a debug build; `PROPTEST_CASES=N` runs N cases of every property
//! instead, for a longer hunt (`PROPTEST_CASES=20000 cargo test --lib intake::fuzz`).

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config as ProptestConfig;

use super::{IgnoreReason, Known, ThreadHit, Verdict, ahead, auth, classify, reply};
use crate::config::Config;
use crate::model::{OutboundKind, ReferralId, Role, strip_plus_detail};

/// A property's run: `default` cases unless `PROPTEST_CASES` says otherwise. No regression
/// files are written: a failure found here becomes an ordinary test beside the code it breaks.
fn budget(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const TRUSTED: &str = "mx.tracker.example.org";
const INTRO_ID: &str = "intro-genuine@mail.networkers.example";
const SUBJECT: &str = "Intro: Fred, meet Sally";
const GENUINE: ReferralId = 1;

/// Alice's careful deployment, as the hostile corpus test runs it.
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        crate::config::testing::config(
            r#"
[intake]
accept-from = ["bob@networkers.example"]
require-authentication = true
trusted-authserv-ids = ["mx.tracker.example.org"]
"#,
        )
    })
}

/// The store of the hostile corpus: Bob introduced Fred and Sally; we thanked Bob and
/// followed up both.
struct World;

impl Known for World {
    fn seen(&self, message_id: &str) -> bool {
        message_id == INTRO_ID
    }

    fn thread_of(&self, message_ids: &[String]) -> Option<ThreadHit> {
        message_ids.iter().find_map(|id| {
            let outbound = match id.as_str() {
                INTRO_ID => None,
                "referrald.1.000000000000@tracker.example.org" => {
                    Some((OutboundKind::ThankYou, "bob@networkers.example".to_string()))
                }
                "referrald.2.000000000000@tracker.example.org" => Some((
                    OutboundKind::FollowUp,
                    "fred@fredsbooks.example".to_string(),
                )),
                "referrald.4.000000000000@tracker.example.org" => Some((
                    OutboundKind::FollowUp,
                    "sally@leedesign.example".to_string(),
                )),
                _ => return None,
            };
            Some(ThreadHit {
                referral: GENUINE,
                outbound,
            })
        })
    }

    fn referral_by_subject(&self, subject: &str, email: &str) -> Option<ReferralId> {
        (subject == super::normalize_subject(SUBJECT) && self.role_in(GENUINE, email).is_some())
            .then_some(GENUINE)
    }

    fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role> {
        match (referral, email) {
            (GENUINE, "bob@networkers.example") => Some(Role::Introducer),
            (GENUINE, "fred@fredsbooks.example" | "sally@leedesign.example") => Some(Role::Party),
            _ => None,
        }
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-05T11:00:00Z")
        .expect("a valid instant")
        .to_utc()
}

/// Real messages to mutate: the hostile corpus and the intake fixtures, each at most 64 KiB
/// (the few larger ones would only slow every case down).
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = Vec::new();
        for dir in ["tests/hostile", "tests/fixtures/intake"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                if path.extension().is_some_and(|e| e == "eml")
                    && let Ok(bytes) = std::fs::read(&path)
                    && bytes.len() <= 64 * 1024
                {
                    seeds.push(bytes);
                }
            }
        }
        seeds
    })
}

/// Replies to mutate: the bodies of the reply-reading fixtures.
fn reply_seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|text| match text.split_once("==== reply ====") {
                Some((_, reply)) => reply.to_string(),
                None => text,
            })
            .collect()
    })
}

/// Byte strings that matter to mail parsing, spliced into messages by the mutator.
const SPLICES: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\t",
    b"\n\n",
    b"\0",
    b"\x1b[2J",
    b"\xff\xfe",
    "\u{202e}".as_bytes(),
    "\u{200b}".as_bytes(),
    b";",
    b"\"",
    b"\\",
    b"(",
    b")",
    b"<",
    b">",
    b"@",
    b",",
    b":",
    b"=?UTF-8?B?AAEbWzJK?=",
    b"=?x-unknown?Q?=00=0D=0A?=",
    b"dmarc=pass header.from=networkers.example",
    b"Authentication-Results: mx.evil.example; dmarc=pass\n",
    b"From: Bob Brown <bob@networkers.example>\n",
    b"From: \n",
    b"Cc: intros@tracker.example.org\n",
    b"To: a@x.example, <@route.example:b@y.example>, c@z.example\n",
    b"References: <referrald.2.000000000000@tracker.example.org>\n",
    b"In-Reply-To: <intro-genuine@mail.networkers.example>\n",
    b"Subject: Re: Intro: Fred, meet Sally\n",
    b"Auto-Submitted: auto-replied\n",
    b"Return-Path: <>\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n",
    b"--b\n",
    b"--b--\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Final-Recipient: rfc822; fred@fredsbooks.example\nAction: failed\nStatus: 5.1.1\n",
    b"5/5 won $999,999,999,999",
    b"STOP",
    b"> ",
    b"-- \n",
];

/// One edit of a message.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at this place.
    Set(usize, u8),
    /// Insert one of [`SPLICES`] at this place.
    Splice(usize, usize),
    /// Remove up to this many bytes from this place.
    Cut(usize, usize),
    /// Copy a stretch of the message to another place (a repeated header, a doubled part).
    Repeat(usize, usize, usize),
    /// Drop everything after this place.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<usize>(), 0..SPLICES.len()).prop_map(|(at, s)| Mutation::Splice(at, s)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Cut(at, n)),
        (any::<usize>(), 1usize..200, any::<usize>())
            .prop_map(|(at, n, to)| Mutation::Repeat(at, n, to)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *m {
            Mutation::Set(i, b) if len > 0 => bytes[i % len] = b,
            Mutation::Set(..) => bytes.push(0),
            Mutation::Splice(i, s) => {
                let i = at(i);
                bytes.splice(i..i, SPLICES[s].iter().copied());
            }
            Mutation::Cut(i, n) => {
                let i = at(i);
                bytes.drain(i..(i + n).min(len));
            }
            Mutation::Repeat(i, n, to) => {
                let i = at(i);
                let stretch = bytes[i..(i + n).min(len)].to_vec();
                let to = at(to);
                bytes.splice(to..to, stretch);
            }
            Mutation::Truncate(i) => bytes.truncate(at(i)),
        }
    }
    bytes
}

/// What must hold of every verdict, whatever the input: no internal failure (a panic the
/// classifier caught), the documented shape of an introduction, ratings 1–5, and—with
/// authentication on—no introduction without a word from our trusted server.
fn check_verdict(raw: &[u8]) -> Result<(), TestCaseError> {
    let c = classify(raw, &World, config(), now());
    if let Verdict::Ignored(IgnoreReason::Unparseable(why)) = &c.verdict {
        prop_assert!(!why.contains("internal error"), "classify panicked inside");
    }
    let again = classify(raw, &World, config(), now());
    prop_assert_eq!(&again.message_id, &c.message_id, "the Message-ID is stable");
    prop_assert_eq!(
        again.verdict.kind(),
        c.verdict.kind(),
        "the verdict is stable"
    );
    match &c.verdict {
        Verdict::Introduction(intro) => {
            let n = intro.parties.len();
            prop_assert!(
                (2..=config().intake.max_parties).contains(&n),
                "{n} parties"
            );
            for (i, p) in intro.parties.iter().enumerate() {
                prop_assert!(
                    p.email != intro.introducer.email,
                    "the introducer is a party"
                );
                prop_assert!(
                    p.email != config().tracking.address,
                    "the tracking address is a party"
                );
                prop_assert!(
                    !intro.parties[..i].iter().any(|q| q.email == p.email),
                    "{} is a party twice",
                    p.email
                );
            }
            prop_assert_eq!(intro.references.last(), Some(&intro.thread_root));
            let lower = String::from_utf8_lossy(raw).to_ascii_lowercase();
            prop_assert!(
                lower.contains(TRUSTED),
                "an introduction without any Authentication-Results of our server"
            );
            // A forward's introducer is whoever wrote the original; only the forwarder is checked.
            // A `+detail` variant is its owner's mailbox, allowed with it.
            let introducer = strip_plus_detail(&intro.introducer.email);
            prop_assert!(
                intro.forwarded
                    || introducer == "bob@networkers.example"
                    || introducer == "alice@brightside.example",
                "{introducer} may not introduce"
            );
        }
        Verdict::Feedback { reading, .. } => {
            prop_assert!(reading.rating.is_none_or(|r| (1..=5).contains(&r)));
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(budget(2000))]

    /// Harm: bytes that are not mail (a misdelivered file, line noise) crash the daemon.
    #[test]
    fn classify_reads_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_verdict(&raw)?;
    }
}

proptest! {
    #![proptest_config(budget(6000))]

    /// Harm: a real or hostile message, damaged in transit or crafted a byte away from a
    /// known one, crashes intake or is taken for an introduction it is not.
    #[test]
    fn classify_survives_mutated_messages(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let seeds = seeds();
        prop_assume!(!seeds.is_empty());
        let raw = mutate(seeds[seed.index(seeds.len())].clone(), &mutations);
        check_verdict(&raw)?;
    }
}

proptest! {
    #![proptest_config(budget(2000))]

    /// Harm: a message classified ahead of the store (`ingest` on a second thread) gets a
    /// verdict the store would not have given it: a reply recorded as an introduction, a
    /// duplicate recorded twice. A guess made knowing nothing stands only where it is
    /// exactly the verdict against the store, and one made against the store always does.
    #[test]
    fn a_verdict_made_ahead_stands_only_where_it_is_the_verdict(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 0..8),
    ) {
        let seeds = seeds();
        prop_assume!(!seeds.is_empty());
        let raw = mutate(seeds[seed.index(seeds.len())].clone(), &mutations);
        let verdict = format!("{:?}", classify(&raw, &World, config(), now()));
        if let Some(guess) = ahead::classify_ahead(&raw, &ahead::Nothing, config(), now()).confirm(&World) {
            prop_assert_eq!(format!("{guess:?}"), verdict.clone());
        }
        let asked = ahead::classify_ahead(&raw, &World, config(), now()).confirm(&World);
        prop_assert!(asked.is_some(), "the answers it was given hold");
        prop_assert_eq!(format!("{:?}", asked.unwrap()), verdict);
    }
}

// ---------------------------------------------------------------- Authentication-Results

/// A domain the results may be about.
fn domain() -> impl Strategy<Value = String> {
    select(vec![
        "networkers.example",
        "Networkers.Example",
        "evil.example",
        "networkers.example.evil.example",
        "mail.networkers.example",
        "x",
    ])
    .prop_map(str::to_string)
}

/// A forged pass for `from`, in any of the forms an attacker could get into a field.
fn forged_pass(from: String) -> impl Strategy<Value = String> {
    (
        select(vec!["dmarc=pass", "dkim=pass", "DMARC=Pass", "dkim=pass"]),
        select(vec![";", "; ", " ;", ";\r\n\t", ""]),
        select(vec!["header.from", "header.d", "header.i"]),
        select(vec!["", " ", "\""]),
    )
        .prop_map(move |(result, sep, prop, tail)| format!("x{sep}{result} {prop}={from}{tail}"))
}

/// `text` inside a quoted string, escaped as RFC 5322 requires (and, sometimes, with extra
/// escaped quotes and backslashes around it).
fn quoted(text: &str, noise: bool) -> String {
    let body = text.replace('\\', "\\\\").replace('"', "\\\"");
    if noise {
        format!("\"a\\\"{body}\\\\\"")
    } else {
        format!("\"{body}\"")
    }
}

/// `text` inside a comment, its parentheses escaped or (when `nest`) inside a nested comment.
fn commented(text: &str, nest: bool) -> String {
    let body = text
        .replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)");
    if nest {
        format!("(outer (inner {body} \\) ) still a comment)")
    } else {
        format!("({body} \\) )")
    }
}

/// A result that is not a pass for anyone's From: a failing DMARC or DKIM, or a method that
/// never counts; each may carry a forged pass hidden in a quoted string or a comment.
fn hiding_result(from: String) -> impl Strategy<Value = String> {
    (
        select(vec![
            "spf=pass",
            "spf=fail",
            "spf=none",
            "iprev=pass",
            "auth=pass",
            "dkim=fail",
            "dkim=neutral",
            "dkim=none",
            "dmarc=fail",
            "dmarc=none",
            "dmarc=temperror",
            "arc=pass",
        ]),
        select(vec![
            "smtp.mailfrom",
            "smtp.helo",
            "smtp.auth",
            "header.d",
            "policy.iprev",
        ]),
        forged_pass(from),
        0u8..5,
    )
        .prop_map(|(result, prop, payload, how)| match how {
            0 => format!("{result} {prop}={}", quoted(&payload, false)),
            1 => format!("{result} {prop}={}", quoted(&payload, true)),
            2 => format!("{result} {} {prop}=x", commented(&payload, false)),
            3 => format!("{result} {} {prop}=x", commented(&payload, true)),
            _ => format!("{result} {prop}={}@evil.example", quoted(&payload, false)),
        })
}

/// A field from our trusted server whose results hide a forged pass for `from`.
fn hiding_field(from: String) -> impl Strategy<Value = String> {
    (
        select(vec![
            TRUSTED,
            "MX.Tracker.Example.Org",
            "mx.tracker.example.org 1",
        ]),
        proptest::collection::vec(hiding_result(from), 1..4),
        select(vec!["; ", ";\r\n\t", " ;"]),
    )
        .prop_map(|(id, results, sep)| format!("{id}{sep}{}", results.join(sep)))
}

proptest! {
    #![proptest_config(budget(5000))]

    /// Harm: a field the attacker can shape (a HELO, an envelope sender, a comment) makes
    /// intake believe DMARC passed. `dmarc=pass`/`dkim=pass` written only inside quoted strings
    /// or comments of our own server's field is never a pass; nor is a real pass from another
    /// server, or one planted below a foreign field.
    #[test]
    fn a_pass_hidden_in_quotes_or_comments_never_passes(
        (from, field) in domain().prop_flat_map(|d| (Just(d.clone()), hiding_field(d))),
        above in proptest::option::of(Just("mx.evil.example; dmarc=pass header.from=networkers.example")),
        planted in any::<bool>(),
    ) {
        let mut fields: Vec<&str> = above.into_iter().collect();
        fields.push(&field);
        let foreign = "mx.evil.example; none";
        let plant = format!("{TRUSTED}; dmarc=pass header.from={from}");
        if planted {
            fields.push(foreign);
            fields.push(&plant);
        }
        let trusted = vec![TRUSTED.to_string()];
        let got = auth::check(fields.iter().copied(), &from.to_ascii_lowercase(), &trusted);
        prop_assert!(got.is_err(), "{fields:?} passed for {from}");
    }

    /// The other side: the same noise around a real, well-formed pass for the From domain
    /// from our own server does pass (else the property above would hold vacuously).
    #[test]
    fn a_real_pass_among_noise_passes(
        (from, noise) in domain().prop_flat_map(|d| {
            (Just(d.clone()), proptest::collection::vec(hiding_result(d), 0..3))
        }),
        real in select(vec!["dmarc=pass header.from=", "dkim=pass header.d=", "dkim=pass (2048-bit key) header.d="]),
        at in any::<prop::sample::Index>(),
    ) {
        // Only methods that never decide are kept as noise: a failing DMARC next to a passing
        // one is a contradiction the reader may settle either way.
        let mut results: Vec<String> = noise
            .into_iter()
            .filter(|r| ["spf=", "iprev=", "auth=", "arc="].iter().any(|m| r.starts_with(m)))
            .collect();
        let i = at.index(results.len() + 1);
        results.insert(i, format!("{real}{from}"));
        let field = format!("{TRUSTED}; {}", results.join("; "));
        let trusted = vec![TRUSTED.to_string()];
        let got = auth::check([field.as_str()], &from.to_ascii_lowercase(), &trusted);
        prop_assert!(got.is_ok(), "{field} failed for {from}: {got:?}");
    }
}

proptest! {
    #![proptest_config(budget(1500))]

    /// Harm: a malformed Authentication-Results field crashes intake.
    #[test]
    fn the_authentication_reader_reads_any_field(
        fields in proptest::collection::vec(
            prop_oneof![
                ".{0,200}",
                "[a-z. ;=()\"\\\\@-]{0,200}",
                "mx\\.tracker\\.example\\.org[ ;=()\"\\\\a-z.@-]{0,200}",
            ],
            0..4,
        ),
        from in "[a-z.]{0,30}",
    ) {
        let trusted = vec![TRUSTED.to_string()];
        let _ = auth::check(fields.iter().map(String::as_str), &from, &trusted);
    }
}

// ---------------------------------------------------------------- the reply reader

/// Words and marks the reply reader looks for, to build replies that exercise it.
const REPLY_WORDS: &[&str] = &[
    "5",
    "4",
    "10",
    "0",
    "6",
    "99",
    "/",
    "/5",
    "out of",
    "of",
    "von",
    "stars",
    "★",
    "⭐",
    "Rating:",
    "rated",
    "a solid",
    "excellent",
    "good",
    "not",
    "never",
    "sehr",
    "gut",
    "schlecht",
    "ok",
    "terrible",
    "won",
    "signed",
    "we met",
    "lost",
    "no deal",
    "never heard",
    "$",
    "€",
    "£",
    "USD",
    "k",
    "m",
    "999,999,999,999",
    "2.500",
    "1,200.50",
    "1e308",
    "9999999999999999999999999999999999999999",
    "worth",
    "deal",
    "STOP",
    "unsubscribe",
    "?",
    ".",
    ",",
    "!",
    "\n",
    "\n\n",
    "> ",
    "-- \n",
    "On Mon, 2 Nov 2026, Bob wrote:\n",
    "-----Original Message-----\n",
    "From: x\nSent: y\nTo: z\nSubject: w\n",
    "Sent from my iPhone",
    "Thanks,\n",
    "\u{202e}",
    "\u{200b}",
    "\0",
    "\r",
    "\u{2028}",
];

fn reply_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => select(REPLY_WORDS).prop_map(str::to_string),
            1 => any::<char>().prop_map(String::from),
            1 => "[ \t]{0,3}",
        ],
        0..60,
    )
    .prop_map(|parts| parts.join(" "))
}

/// What must hold of every reading: a rating 1–5, a finite positive value, an ISO code; and a
/// reply that answers no request for a rating reads no rating it would not read when asked.
fn check_reading(words: &str) -> Result<(), TestCaseError> {
    let unasked = reply::read(words, Some(OutboundKind::FollowUp));
    let reading = reply::read(words, Some(OutboundKind::FeedbackRequest));
    prop_assert!(
        unasked.rating.is_none() || unasked.rating == reading.rating,
        "unasked {:?}, asked {:?}",
        unasked.rating,
        reading.rating
    );
    prop_assert_eq!(unasked.outcome, reading.outcome);
    prop_assert!(
        reading.rating.is_none_or(|r| (1..=5).contains(&r)),
        "rating {:?}",
        reading.rating
    );
    if let Some(v) = reading.value {
        prop_assert!(v.is_finite() && v > 0.0, "value {v}");
    }
    if let Some(c) = &reading.currency {
        prop_assert!(
            c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()),
            "{c}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(budget(2000))]

    /// Harm: an odd reply crashes intake, or reads as a rating outside 1–5 or as an
    /// impossible amount in the owner's statistics.
    #[test]
    fn replies_read_as_ratings_one_to_five(text in reply_text()) {
        check_reading(&text)?;
        let _ = reply::says_stop(&text, "");
    }

    /// The same, through the whole reader: plain and HTML bodies, quotes and signatures.
    #[test]
    fn own_words_of_any_body(plain in proptest::option::of(reply_text()), html in proptest::option::of(reply_text())) {
        let html = html.map(|h| format!("<html><body><p>{h}</p><blockquote>{h}</blockquote></body></html>"));
        let words = reply::own_words(plain.as_deref(), html.as_deref());
        check_reading(&words)?;
        let _ = reply::says_stop(&words, "Re: unsubscribe");
    }

    /// Real replies (the reply fixtures), edited: still a rating 1–5 at most.
    #[test]
    fn mutated_real_replies(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = reply_seeds();
        prop_assume!(!seeds.is_empty());
        let bytes = mutate(seeds[seed.index(seeds.len())].clone().into_bytes(), &mutations);
        let text = String::from_utf8_lossy(&bytes);
        let words = reply::own_words(Some(&text), None);
        check_reading(&words)?;
        check_reading(&text)?;
    }
}

/// Found by `classify_survives_mutated_messages`: a boundary line right inside a
/// message/rfc822 part trips a debug assertion of mail-parser (compiled out in release, and
/// for tests by the profile in Cargo.toml).
#[test]
fn a_boundary_inside_an_attached_message_is_read() {
    let raw = b"From: Mail Delivery Subsystem <postmaster@steuer.example>\n\
To: intros@tracker.example.org\n\
Subject: Unzustellbar\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b\"\n\
\n\
--b\n\
Content-Type: text/plain\n\
\n\
not delivered\n\
--b\n\
Content-Type: message/rfc822\n\
\n\
F\n\
--b\n\
Content-Type: message/rfc822\n\
\n\
From: x@y.example\n\
\n\
hi\n\
--b--\n";
    let c = classify(raw, &World, config(), now());
    assert!(
        !matches!(&c.verdict, Verdict::Ignored(IgnoreReason::Unparseable(why)) if why.contains("internal")),
        "{:?}",
        c.verdict
    );
}

/// Pieces an out-of-office's return date is made of, to be shuffled.
const AWAY_WORDS: &[&str] = &[
    "back",
    "on",
    "until",
    "zurück",
    "am",
    "bis",
    "zum",
    "retour",
    "le",
    "hasta",
    "el",
    "de",
    "terug",
    "op",
    "14",
    "31",
    "2",
    "12",
    "2026",
    "2027",
    "99",
    "1er",
    "th",
    "of",
    ".",
    "/",
    "-",
    ",",
    "December",
    "dezember",
    "décembre",
    "Feb",
    "Monday",
    "montag",
    "backlog",
];

proptest! {
    #![proptest_config(budget(2000))]

    /// Harm: an out-of-office, or a stranger's forged one, holds someone's mail back for
    /// months, or its odd words crash intake. A return date is never before the day the
    /// auto-reply was written and never more than 30 days after it.
    #[test]
    fn a_return_date_is_within_thirty_days_of_the_auto_reply(
        parts in proptest::collection::vec(
            prop_oneof![
                6 => select(AWAY_WORDS).prop_map(str::to_string),
                1 => any::<char>().prop_map(String::from),
            ],
            0..30,
        ),
        offset in 0u64..800,
    ) {
        let written = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
            + chrono::Days::new(offset);
        if let Some(day) = super::away::return_date(&parts.join(" "), written) {
            prop_assert!(day >= written, "{day} before {written}");
            prop_assert!(
                day <= written + chrono::Days::new(super::away::MAX_AWAY_DAYS),
                "{day} too far after {written}"
            );
        }
    }
}
