//! Authentication by default, end to end: the real binary with the file transport (`ingest`
//! then `tick`, on a scripted clock), and `doctor` finding the authserv-id in the harness's
//! real Dovecot (tests/support/mailsys.rs).

mod support;

use std::path::Path;

use support::deployment::Deployment;
use support::mailsys::MailSystem;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London
/// Three days later: the thank-you and both follow-ups are due by then.
const LATER: &str = "2026-11-05T10:00:00Z";
const TRUSTED: &str = "mx.tracker.example.org";

/// Alice's file-transport deployment naming a trusted server but saying nothing about
/// `require-authentication`, so it runs with the default.
fn default_deployment() -> Deployment {
    support::config::alice().trusting(TRUSTED).deploy()
}

/// An introduction From Bob, an allowed introducer, with `stamp` (header lines) on top.
fn intro(stamp: &str) -> String {
    format!(
        "Return-Path: <bob@networkers.example>\r\n\
         Delivered-To: intros@tracker.example.org\r\n\
         {stamp}\
         From: Bob Brown <bob@networkers.example>\r\n\
         To: Fred Jones <fred@fredsbooks.example>, Sally Lee <sally@leedesign.example>\r\n\
         Cc: intros@tracker.example.org\r\n\
         Subject: Intro: you two should talk\r\n\
         Date: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
         Message-ID: <intro-auth@mail.networkers.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Hi both, you should talk. Bob\r\n"
    )
}

/// The `.eml` files the file transport wrote.
fn written(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .count()
    })
}

/// Ingests `message` at T and ticks three days later; returns what ingest printed and how
/// many emails were written.
fn ingest_and_tick(d: &Deployment, message: &str) -> (String, usize) {
    let file = d.write("intro.eml", message);
    let said = d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    d.ok(&["--now", LATER, "tick"]);
    (said, written(&d.path("outbox")))
}

/// Harm: with a configuration that never mentions `require-authentication`, one forged
/// message From an allowed introducer made referrald write to everyone it named.
#[test]
fn a_forged_introduction_under_the_default_configuration_sends_nothing() {
    let forged = default_deployment();
    let (said, emails) = ingest_and_tick(&forged, &intro(""));
    assert!(said.contains("ignored"), "{said}");
    assert!(said.contains("no Authentication-Results"), "{said}");
    assert_eq!(emails, 0, "a forged introduction caused mail");
    assert_eq!(
        forged.json(&["outbox", "--json"]).as_array().unwrap().len(),
        0
    );

    // The same message as the trusted server stamps a genuine one goes ahead.
    let genuine = default_deployment();
    let stamp = format!(
        "Authentication-Results: {TRUSTED};\r\n\
         \tspf=pass smtp.mailfrom=bob@networkers.example;\r\n\
         \tdmarc=pass (p=reject dis=none) header.from=networkers.example\r\n"
    );
    let (said, emails) = ingest_and_tick(&genuine, &intro(&stamp));
    assert!(said.contains("introduction"), "{said}");
    // The thank-you to Bob and a follow-up to each of Fred and Sally.
    assert_eq!(emails, 3, "{said}");
}

/// Harm: a daemon started with authentication on and nobody to believe would ignore every
/// introduction in silence.
#[test]
fn run_ingest_and_inspect_stop_with_exit_2_saying_what_to_add() {
    let d = Deployment::new(
        r#"
[tracking]
address = "intros@tracker.example.org"
[owner]
name = "Alice Smith"
[intake]
accept-from = ["bob@networkers.example"]
[imap]
host = "127.0.0.1"
port = 1
tls = "none"
username = "intros@tracker.example.org"
password = "unused"
[outbound]
transport = "file"
"#,
    );
    let file = d.write("intro.eml", intro(""));
    for args in [
        vec!["run"],
        vec!["--now", T, "ingest", file.to_str().unwrap()],
        vec!["inspect", file.to_str().unwrap()],
    ] {
        let out = d.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("add trusted-authserv-ids = [") && err.contains("referrald doctor"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    }
    assert!(!d.path("referrald.db").exists(), "nothing is touched first");
    // Commands that judge no mail still work: the data stays reachable.
    d.ok(&["referrals"]);
}

/// A message as a receiving server `authserv_id` would have stamped it, over a field the
/// sender wrote when `planted`.
fn stamped(n: usize, authserv_id: Option<&str>, planted: bool) -> Vec<u8> {
    let stamp = authserv_id.map_or(String::new(), |id| {
        format!(
            "Authentication-Results: {id};\r\n\tdkim=pass header.d=introducer.test;\r\n\tdmarc=pass header.from=introducer.test\r\n"
        )
    });
    let planted = if planted {
        "Authentication-Results: planted.example; dmarc=pass header.from=introducer.test\r\n"
    } else {
        ""
    };
    format!(
        "Return-Path: <bob@introducer.test>\r\n\
         Delivered-To: intros@tracker.test\r\n\
         {stamp}\
         {planted}\
         From: Bob <bob@introducer.test>\r\n\
         To: intros@tracker.test\r\n\
         Subject: message {n}\r\n\
         Message-ID: <stamped-{n}@introducer.test>\r\n\
         \r\n\
         Hello.\r\n"
    )
    .into_bytes()
}

/// `doctor` against the harness's Dovecot, with `intake` as the `[intake]` section.
fn doctor(mail: &MailSystem, intake: &str) -> (Option<i32>, String) {
    let d = Deployment::new(&format!(
        r#"
[tracking]
address = "intros@tracker.test"
[owner]
name = "Alice Smith"
[intake]
accept-from = ["*@introducer.test"]
{intake}
[imap]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "intros@tracker.test"
password-file = "imap-password"
[outbound]
transport = "file"
"#,
        port = mail.imap_port()
    ));
    d.write("imap-password", mail.password());
    let out = d.run(&["doctor"]);
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// Harm: a user told to find an authserv-id with no way to find it turns authentication off.
#[tokio::test]
async fn doctor_finds_the_authserv_id_in_the_newest_mail_and_prints_the_line_to_paste() {
    let mail = MailSystem::start().await.unwrap();
    let (_, empty) = doctor(&mail, "");
    assert!(empty.contains("⚠ authserv-id: INBOX is empty"), "{empty}");

    // Three old messages from a server since replaced, then the newest twenty: eighteen
    // stamped by the current server (the topmost field; a planted one lies below each), one
    // it did not stamp, so the sender's field is on top, and one with no field at all.
    let mut messages: Vec<Vec<u8>> = (0..3)
        .map(|n| stamped(n, Some("old-mx.tracker.test"), false))
        .collect();
    messages.extend((3..21).map(|n| stamped(n, Some("mx.tracker.test"), true)));
    messages.push(stamped(21, None, true));
    messages.push(stamped(22, None, false));
    mail.append_many("intros@tracker.test", "INBOX", &messages)
        .await
        .unwrap();
    let before = mail.flags("intros@tracker.test", "INBOX").await.unwrap();

    let (code, out) = doctor(&mail, "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("✗ authentication: require-authentication is on (the default) but trusted-authserv-ids is empty"),
        "{out}"
    );
    assert!(
        out.contains("the topmost Authentication-Results of the 20 newest messages in INBOX: mx.tracker.test on 18 (your own server, it seems), planted.example on 1 (your own server, it seems), none on 1"),
        "{out}"
    );
    assert!(!out.contains("old-mx"), "only the newest are read:\n{out}");
    assert!(
        out.lines()
            .any(|l| l == "    trusted-authserv-ids = [\"mx.tracker.test\"]"),
        "{out}"
    );
    assert_eq!(
        mail.flags("intros@tracker.test", "INBOX").await.unwrap(),
        before,
        "doctor marked mail"
    );

    // Pasted, everything is in order.
    let (code, out) = doctor(&mail, "trusted-authserv-ids = [\"mx.tracker.test\"]");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("✓ authentication"), "{out}");
    assert!(
        out.contains("✓ authserv-id:") && out.contains("; trusted"),
        "{out}"
    );

    // A server no longer in use, named: said, with the line that would work.
    let (code, out) = doctor(&mail, "trusted-authserv-ids = [\"old-mx.tracker.test\"]");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("trusted-authserv-ids does not name the first"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == "    trusted-authserv-ids = [\"mx.tracker.test\"]"),
        "{out}"
    );

    // Turned off: a warning, with the line to turn it back on; doctor still passes.
    let (code, out) = doctor(&mail, "require-authentication = false");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("⚠ authentication: require-authentication = false"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == "    trusted-authserv-ids = [\"mx.tracker.test\"]"),
        "{out}"
    );
}
