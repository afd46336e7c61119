//! Outbound hygiene: what referrald copies from incoming mail into its records, its output
//! and the mail it sends is cleaned first. Names lose control, bidi and zero-width
//! characters; the CLI never prints raw escape sequences; every header line stays within
//! RFC 5322's 998 bytes; only well-formed Message-IDs are copied; route addresses are
//! reduced to the address; non-ASCII addresses go only to a server that offers SMTPUTF8.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use mail_parser::{HeaderValue, MessageParser};
use referrald::composer::{Composer, Draft, ReferralSummary};
use referrald::config::Config;
use referrald::model::{OutboundKind, Person};
use support::deployment::Deployment;
use support::mailsys::MailSystem;

const TRACKING: &str = "intros@tracker.example.org";
const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";
const CARL: &str = "carl@c.example";
/// A non-ASCII address (EAI); the harness's Postfix delivers [`support::mailsys::EAI_DOMAIN`] itself.
const JOSE: &str = "josé@eai.test";
const T: &str = "2026-11-02T10:00:00Z";
/// Two days later, when the follow-ups are due.
const FOLLOW_UP: &str = "2026-11-04T11:00:00Z";
const WAIT: Duration = Duration::from_secs(10);

/// What must never reach a terminal or a stored name: C0 and C1 controls, DEL, bidi
/// embeddings, overrides, isolates and marks, zero-width characters and the BOM.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Fails naming the first unsafe character in a command's output (line breaks aside).
fn assert_printable(what: &str, output: &str) {
    if let Some(c) = output.chars().find(|&c| c != '\n' && is_unsafe(c)) {
        panic!("{what} printed {c:?}:\n{output}");
    }
}

/// Alice's file-transport deployment; `outbound` is the `[outbound]` section's body.
fn deployment(outbound: &str) -> Deployment {
    support::config::alice()
        .outbound(outbound)
        .with("[schedule]\nsend-window = \"always\"")
        .deploy()
}

/// An introduction from Bob to `to`, with `references` in its References field.
fn intro(to: &str, references: &str) -> String {
    format!(
        "From: Bob Brown <{BOB}>\r\nTo: {to}\r\nCc: {TRACKING}\r\n\
         Subject: Intro: you two \x1b[2J\x1b]0;owned\x07should talk\r\n\
         Date: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
         Message-ID: <intro-hygiene@mail.networkers.example>\r\n\
         References: {references}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\nYou two should talk.\r\n"
    )
}

/// The `.eml` files the file transport wrote, parsed back: (To address, To name, raw).
fn written(d: &Deployment) -> Vec<(String, String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(d.path("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let raw = std::fs::read(&path).unwrap();
            let msg = MessageParser::default().parse(&raw).unwrap();
            let to = msg.to().and_then(|a| a.first()).unwrap();
            let address = to.address().unwrap_or_default().to_string();
            let name = to.name().unwrap_or_default().to_string();
            (address, name, raw)
        })
        .collect()
}

/// Every physical line of the header section, without its CRLF.
fn header_lines(raw: &[u8]) -> Vec<&[u8]> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    raw[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

fn outbox_states(d: &Deployment) -> Vec<(String, String, String, String)> {
    d.json(&["outbox", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let text = |key: &str| o[key].as_str().unwrap_or_default().to_string();
            (text("kind"), text("to"), text("state"), text("last_error"))
        })
        .collect()
}

/// NUL, BEL and ESC in a display name made every mail to that party fail and `tick` exit 1,
/// and `ingest`/`referrals` printed the escape sequences raw; an encoded-word hid them, a
/// right-to-left override reversed a name, and a route address became a party no mail could
/// reach.
#[test]
fn hostile_names_are_stored_clean_and_every_party_is_mailed() {
    let d = deployment("transport = \"file\"");
    let sally = "=?UTF-8?B?U2FsbHkAG10wO293bmVkByBMZWXigK4=?="; // "Sally\0\x1b]0;owned\x07 Lee\u{202e}"
    let to = format!(
        "\"Fred\x00\x07\x1b[31m Jo\u{200b}nes\" <{FRED}>, {sally} <{SALLY}>, \
         \"\u{202e}lraC\" <@route.example:{CARL}>"
    );
    let path = d.write("intro.eml", intro(&to, "<earlier@mail.networkers.example>"));
    let ingested = d.ok(&["--now", T, "ingest", path.to_str().unwrap()]);
    assert_printable("ingest", &ingested);
    assert!(ingested.contains("introduction"), "{ingested}");

    let referral = d.json(&["referrals", "--json"]);
    let parties: Vec<(&str, &str)> = referral[0]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["email"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        parties,
        [
            (FRED, "Fred[31m Jones"),
            (SALLY, "Sally]0;owned Lee"),
            (CARL, "lraC")
        ]
    );

    let ticked = d.run(&["--now", FOLLOW_UP, "tick"]);
    let said = String::from_utf8_lossy(&ticked.stdout);
    assert!(ticked.status.success(), "tick failed:\n{said}");
    assert_printable("tick", &said);
    for party in [FRED, SALLY, CARL] {
        assert!(
            outbox_states(&d)
                .iter()
                .any(|(kind, to, state, _)| kind == "follow_up" && to == party && state == "sent"),
            "no follow-up sent to {party}: {:?}",
            outbox_states(&d)
        );
    }
    for (address, name, raw) in written(&d) {
        assert!(!name.chars().any(is_unsafe), "{address}: {name:?}");
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
    }

    for args in [
        &["referrals"][..],
        &["outbox"][..],
        &["show", "1"][..],
        &["stats"][..],
    ] {
        assert_printable(&args.join(" "), &d.ok(args));
    }
    // The subject keeps its words, with the escape characters shown, not obeyed.
    let listed = d.ok(&["referrals"]);
    assert!(listed.contains("␛[2J␛]0;owned␇should talk"), "{listed}");
}

/// A database written before this change may hold names with escape sequences, names of
/// any length, subjects with controls and invalid Message-IDs: the CLI prints them visibly
/// and the mail built from them is still clean and within the line limit.
#[test]
fn what_an_older_version_stored_is_printed_and_mailed_clean() {
    let d = deployment("transport = \"file\"");
    let path = d.write(
        "intro.eml",
        intro(
            &format!("Fred Jones <{FRED}>, Sally Lee <{SALLY}>"),
            "<earlier@mail.networkers.example>",
        ),
    );
    d.ok(&["--now", T, "ingest", path.to_str().unwrap()]);
    let db = rusqlite::Connection::open(d.path("referrald.db")).unwrap();
    let long = "Sally".repeat(2_000);
    db.execute(
        "UPDATE contacts SET name = ?1 WHERE email = ?2",
        ("Fred\u{1b}[31m\u{0}\u{202e} Jones", FRED),
    )
    .unwrap();
    db.execute(
        "UPDATE contacts SET name = ?1 WHERE email = ?2",
        (&long, SALLY),
    )
    .unwrap();
    db.execute(
        "UPDATE referrals SET references_ = ?1",
        ("<a\"b@x> earlier@mail.networkers.example intro-hygiene@mail.networkers.example",),
    )
    .unwrap();
    drop(db);

    for args in [&["referrals"][..], &["outbox"][..], &["show", "1"][..]] {
        assert_printable(&args.join(" "), &d.ok(args));
    }
    let ticked = d.run(&["--now", FOLLOW_UP, "tick"]);
    let said = String::from_utf8_lossy(&ticked.stdout);
    assert!(ticked.status.success(), "tick failed:\n{said}");
    assert_printable("tick", &said);
    let mail = written(&d);
    assert_eq!(mail.len(), 3, "thank-you and two follow-ups");
    for (address, name, raw) in &mail {
        assert!(!name.chars().any(is_unsafe), "{address}: {name:?}");
        assert!(
            name.chars().count() <= 100,
            "{address}: {} chars",
            name.len()
        );
        for line in header_lines(raw) {
            assert!(line.len() <= 998, "{} bytes", line.len());
        }
        let msg = MessageParser::default().parse(raw).unwrap();
        let references = match msg.header("References") {
            Some(HeaderValue::TextList(ids)) => ids.iter().map(|i| i.to_string()).collect(),
            Some(HeaderValue::Text(id)) => vec![id.to_string()],
            other => panic!("References: {other:?}"),
        };
        assert_eq!(
            references,
            [
                "earlier@mail.networkers.example",
                "intro-hygiene@mail.networkers.example"
            ]
        );
    }
}

fn composer_config(tracking: &str) -> Config {
    support::config::alice()
        .tracking(tracking)
        .parse(std::path::Path::new("/nonexistent"))
}

/// A follow-up to a party named `name`, about an introduction with `subject` and a
/// References chain `references`.
fn hostile_draft(name: &str, subject: &str, references: Vec<String>) -> Draft {
    let introducer = Person::new(BOB, Some("Bob Brown"));
    let to = Person {
        email: FRED.into(),
        name: name.into(),
    };
    Draft {
        kind: OutboundKind::FollowUp,
        message_id: "follow_up.1.abc@tracker.example.org".into(),
        to: to.clone(),
        referral: ReferralSummary {
            id: 1,
            subject: subject.into(),
            thread_root: references.last().cloned().unwrap_or_default(),
            references,
            introduced_at: Utc.with_ymd_and_hms(2026, 11, 2, 9, 55, 0).unwrap(),
            introducer,
            parties: vec![to, Person::new(SALLY, Some("Sally Lee"))],
            heard: Vec::new(),
        },
        feedback: Vec::new(),
    }
}

/// The formatted message's header lines, checked: none over `limit` bytes.
fn assert_lines_within(draft: &Draft, limit: usize) -> String {
    let composer = Composer::new(&composer_config(TRACKING)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 4, 11, 0, 0).unwrap();
    let raw = composer.compose(draft, now).unwrap().formatted();
    for line in header_lines(&raw) {
        assert!(
            line.len() <= limit,
            "a {}-byte header line (limit {limit}): {}…",
            line.len(),
            String::from_utf8_lossy(&line[..line.len().min(120)])
        );
    }
    String::from_utf8(raw).unwrap()
}

/// A 10,000-character name gave a 10,030-character `To:` line, and a long subject or
/// References chain could do the same; RFC 5322 allows 998 bytes.
#[test]
fn no_header_line_is_longer_than_998_bytes_whatever_the_input() {
    let long_id = |i: usize| format!("{}.{i}@{}.example", "x".repeat(120), "y".repeat(110));
    let unbreakable = [
        hostile_draft(&"A".repeat(10_000), &"S".repeat(10_000), vec![long_id(0)]),
        hostile_draft(&"é".repeat(10_000), &"ü".repeat(10_000), vec![long_id(1)]),
        hostile_draft(
            &"\u{1b}[31m".repeat(3_000),
            &format!("{}\u{1b}[2J", "s".repeat(5_000)),
            (0..5_000).map(long_id).collect(),
        ),
    ];
    for draft in &unbreakable {
        assert_lines_within(draft, 998);
    }
    // The tracking address is written whole into From, Reply-To and List-Unsubscribe.
    let long = format!("intros@{}.example", "t".repeat(300));
    let composer = Composer::new(&composer_config(&long)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 4, 11, 0, 0).unwrap();
    let err = composer
        .compose(&hostile_draft("Fred", "Hi", vec![long_id(0)]), now)
        .unwrap_err();
    assert!(format!("{err:#}").contains("tracking address"), "{err:#}");
}

/// Where the input has places to fold (words of ordinary length, ids of ordinary length),
/// every header line stays within RFC 5322's recommended 78 characters.
#[test]
fn headers_with_words_are_folded_to_78_characters() {
    let words = "word ".repeat(2_000);
    let chain: Vec<String> = (0..5_000)
        .map(|i| format!("CAHx7=thread.{i}@mail.networkers.example"))
        .chain([
            "a\"b@x".to_string(),
            "intro@mail.networkers.example".to_string(),
        ])
        .collect();
    let text = assert_lines_within(&hostile_draft(&words, &words, chain), 78);
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    let to = msg.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.name().unwrap().chars().count(), 99);
    assert!(msg.subject().unwrap().chars().count() <= 200);
    // The chain is trimmed as RFC 5322 §3.6.4 suggests: its first id and the latest ones.
    let Some(HeaderValue::TextList(ids)) = msg.header("References") else {
        panic!("no References in\n{text}");
    };
    assert_eq!(ids.len(), 10);
    assert_eq!(ids[0], "CAHx7=thread.0@mail.networkers.example");
    assert_eq!(ids[9], "intro@mail.networkers.example");
    assert!(!text.contains("a\"b@x"), "{text}");
}

/// An invalid msg-id `<a"b@x>` in an introduction's References was copied into ours.
#[test]
fn invalid_message_ids_are_never_copied() {
    let d = deployment("transport = \"file\"");
    let path = d.write(
        "intro.eml",
        intro(
            &format!("Fred Jones <{FRED}>, Sally Lee <{SALLY}>"),
            "<a\"b@x> <root@mail.networkers.example> <c d@x> <\"q\"@x>",
        ),
    );
    d.ok(&["--now", T, "ingest", path.to_str().unwrap()]);
    d.ok(&["--now", FOLLOW_UP, "tick"]);
    for (_, _, raw) in written(&d) {
        let text = String::from_utf8(raw).unwrap();
        let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
        let Some(HeaderValue::TextList(ids)) = msg.header("References") else {
            panic!("References: {:?}", msg.header("References"));
        };
        assert_eq!(
            ids.iter().map(|i| i.as_ref()).collect::<Vec<&str>>(),
            [
                "root@mail.networkers.example",
                "intro-hygiene@mail.networkers.example"
            ]
        );
        assert!(!text.contains("a\"b") && !text.contains("\"q\""), "{text}");
    }
}

/// Alice's deployment submitting through `mail`'s Postfix.
fn smtp_deployment(mail: &MailSystem) -> Deployment {
    deployment(&format!(
        "transport = \"smtp\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"",
        mail.smtp_port()
    ))
}

/// Ingests an introduction of José (`josé@eai.test`) and Fred, and ticks once the
/// follow-ups are due; returns whether `tick` succeeded and what the outbox says.
fn introduce_jose(d: &Deployment) -> (bool, Vec<(String, String, String, String)>) {
    let path = d.write(
        "intro.eml",
        intro(
            &format!("José Müller <{JOSE}>, Fred Jones <{FRED}>"),
            "<earlier@mail.networkers.example>",
        ),
    );
    d.ok(&["--now", T, "ingest", path.to_str().unwrap()]);
    let ticked = d.run(&["--now", FOLLOW_UP, "tick"]);
    (ticked.status.success(), outbox_states(d))
}

fn state_of(outbox: &[(String, String, String, String)], to: &str) -> (String, String) {
    outbox
        .iter()
        .find(|(kind, t, _, _)| kind == "follow_up" && t == to)
        .map(|(_, _, state, error)| (state.clone(), error.clone()))
        .unwrap_or_else(|| panic!("no follow-up to {to}: {outbox:?}"))
}

/// A server that offers SMTPUTF8 gets the non-ASCII address and delivers it: the guard for
/// servers without it must not stop this. Postfix accepting it shows that MAIL FROM carried
/// the SMTPUTF8 parameter: without it Postfix answers "553 5.6.7 Must declare SMTPUTF8 to
/// send unicode address".
#[tokio::test]
async fn a_non_ascii_address_is_delivered_through_a_server_that_offers_smtputf8() {
    let mail = MailSystem::start().await.unwrap();
    let d = smtp_deployment(&mail);
    let (ok, outbox) = introduce_jose(&d);
    assert!(ok, "{outbox:?}");
    assert_eq!(state_of(&outbox, JOSE).0, "sent", "{outbox:?}");
    assert_eq!(state_of(&outbox, FRED).0, "sent", "{outbox:?}");
    let received = mail.wait_for_eai(1, WAIT).await.unwrap();
    let msg = MessageParser::default().parse(&received[0]).unwrap();
    assert_eq!(
        msg.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some(JOSE)
    );
    assert_eq!(
        msg.header_raw("X-Referrald-Kind").map(str::trim),
        Some("follow_up")
    );
    mail.wait_for_count(FRED, "INBOX", 1, WAIT).await.unwrap();
}

/// UTF-8 addresses were written raw whatever the server supported; without SMTPUTF8 that
/// message now fails for good with a clear reason, and the rest still go out.
#[tokio::test]
async fn without_smtputf8_only_the_non_ascii_message_fails() {
    let mail = MailSystem::start_without_smtputf8().await.unwrap();
    let d = smtp_deployment(&mail);
    let (ok, outbox) = introduce_jose(&d);
    assert!(!ok, "a failed message makes tick exit 1");
    let (state, error) = state_of(&outbox, JOSE);
    assert_eq!(state, "failed", "{outbox:?}");
    assert!(
        error.contains("josé@eai.test has a non-ASCII address")
            && error.contains("does not offer SMTPUTF8"),
        "{error}"
    );
    assert_eq!(state_of(&outbox, FRED).0, "sent", "{outbox:?}");
    // tick returns once Postfix has accepted what it sent; counted after delivery.
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(mail.fetch_all(FRED, "INBOX").await.unwrap().len(), 1);
    assert_eq!(mail.fetch_all(BOB, "INBOX").await.unwrap().len(), 1);
}

/// The file transport writes a non-ASCII address as it is: there is no server to ask.
#[test]
fn the_file_transport_writes_non_ascii_addresses() {
    let d = deployment("transport = \"file\"");
    let (ok, outbox) = introduce_jose(&d);
    assert!(ok, "{outbox:?}");
    assert_eq!(state_of(&outbox, JOSE).0, "sent");
    assert!(written(&d).iter().any(|(address, _, _)| address == JOSE));
}
