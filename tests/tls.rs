//! TLS end to end: the real binary against a private Dovecot and Postfix that speak TLS
//! (`MailSystem::start_with_tls` in tests/support/mailsys.rs: a throwaway CA and a
//! certificate for `localhost`). Every path carries real traffic: IMAP and SMTP, each over
//! implicit TLS and over STARTTLS, with the CA named in `ca-file`; and without it, what the
//! operator is told. These tests fail (never skip) when Dovecot, Postfix or openssl is
//! missing.

mod support;

use std::path::Path;
use std::time::Duration;

use support::config;
use support::daemon::Daemon;
use support::mailsys::MailSystem;

const TRACKING: &str = config::HARNESS_TRACKING;
/// How long anything that should happen in a moment may take on a busy CI machine.
const WAIT: Duration = Duration::from_secs(20);

/// How referrald reaches one server.
struct Server<'a> {
    host: &'a str,
    port: u16,
    tls: &'a str,
    ca_file: Option<&'a Path>,
}

impl Server<'_> {
    fn keys(&self) -> String {
        let mut keys = format!(
            "host = \"{}\"\nport = {}\ntls = \"{}\"\n",
            self.host, self.port, self.tls
        );
        if let Some(file) = self.ca_file {
            keys.push_str(&format!("ca-file = \"{}\"\n", file.display()));
        }
        keys
    }
}

/// `localhost` (the name in the certificate) on `port`.
fn localhost<'a>(port: u16, tls: &'a str, ca_file: Option<&'a Path>) -> Server<'a> {
    Server {
        host: "localhost",
        port,
        tls,
        ca_file,
    }
}

/// A deployment of Alice's reaching `imap` and `smtp` as described; with `mail`, the IMAP
/// password is the harness's.
fn deployment(mail: Option<&MailSystem>, imap: Server, smtp: Server) -> Daemon {
    config::on_harness()
        .imap_keys(&imap.keys())
        .smtp_keys(&smtp.keys())
        // The thank-you at once: these tests are about the mail loop, not the plan's timing.
        .with(
            "[schedule]\n\
             thank-you-after = \"0s\"\n\
             follow-up-after = \"1s\"\n\
             owner-nudge-after = \"1s\"\n\
             feedback-after = \"1d\"\n\
             reminder-after = \"1d\"\n\
             send-window = \"always\"\n\
             max-per-hour = 100000",
        )
        .daemon_with_password(mail.map_or("unused", MailSystem::password))
}

/// `referrald doctor`: its exit code and what it printed.
fn doctor(d: &Daemon) -> (Option<i32>, String) {
    let out = d.run(&["doctor"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// An introduction of two parties by bob@introducer.test, copied to the tracking address.
fn intro(id: &str) -> Vec<u8> {
    format!(
        "From: Bob Brown <bob@introducer.test>\r\n\
         To: Fred Jones <fred@parties.test>, Sally Lee <sally@parties.test>\r\n\
         Cc: {TRACKING}\r\n\
         Subject: Intro: {id}\r\n\
         Date: {date}\r\n\
         Message-ID: <{id}@introducer.test>\r\n\
         \r\n\
         Please meet each other.\r\n",
        // Written just now: the plan counts from the introduction's own date.
        date = chrono::Utc::now().to_rfc2822(),
    )
    .into_bytes()
}

/// Runs the daemon on `imap` and `smtp`, appends an introduction, and waits for the thank-you
/// and both follow-ups to be delivered through Postfix into Dovecot.
async fn introduction_followed_up(mail: &MailSystem, imap: Server<'_>, smtp: Server<'_>) {
    let mut daemon = deployment(Some(mail), imap, smtp);
    daemon.spawn();
    daemon
        .until_async(WAIT, "the daemon to be ready", |d| {
            d.log().contains("ready in")
        })
        .await;
    mail.append(TRACKING, "INBOX", &intro("tls")).await.unwrap();
    for who in [
        "bob@introducer.test",
        "fred@parties.test",
        "sally@parties.test",
    ] {
        let inbox = mail.wait_for_count(who, "INBOX", 1, WAIT).await.unwrap();
        let text = String::from_utf8_lossy(&inbox[0]);
        assert!(
            text.contains("In-Reply-To: <tls@introducer.test>"),
            "{text}"
        );
    }
    let (status, _) = daemon.terminate();
    assert!(status.success(), "{status}\n{}", daemon.log());
}

/// Dovecot's log lines for logins of the tracking mailbox (the daemon's, and the harness's
/// own APPEND, which logs in over plain text).
fn tracking_logins(mail: &MailSystem) -> Vec<String> {
    let log = std::fs::read_to_string(mail.dovecot_log()).unwrap();
    log.lines()
        .filter(|line| line.contains(&format!("Login: user=<{TRACKING}>")))
        .map(str::to_owned)
        .collect()
}

fn postfix_log(mail: &MailSystem) -> String {
    std::fs::read_to_string(mail.postfix_log()).unwrap()
}

#[tokio::test]
async fn run_over_implicit_tls_imap_and_starttls_smtp() {
    let mail = MailSystem::start_with_tls().await.unwrap();
    let ca = mail.ca_file();
    introduction_followed_up(
        &mail,
        localhost(mail.imaps_port(), "implicit", Some(&ca)),
        localhost(mail.smtp_port(), "starttls", Some(&ca)),
    )
    .await;
    // The daemon's session was encrypted; the harness's APPEND was not.
    let logins = tracking_logins(&mail);
    assert!(logins.iter().any(|l| l.contains(", TLS,")), "{logins:#?}");
    // Every message went in after STARTTLS.
    let postfix = postfix_log(&mail);
    assert!(postfix.contains("TLS connection established"), "{postfix}");
    assert!(postfix.contains("starttls=1"), "{postfix}");
}

#[tokio::test]
async fn run_over_starttls_imap_and_implicit_tls_smtp() {
    let mail = MailSystem::start_with_tls().await.unwrap();
    let ca = mail.ca_file();
    introduction_followed_up(
        &mail,
        localhost(mail.imap_port(), "starttls", Some(&ca)),
        localhost(mail.smtps_port(), "implicit", Some(&ca)),
    )
    .await;
    let logins = tracking_logins(&mail);
    assert!(logins.iter().any(|l| l.contains(", TLS,")), "{logins:#?}");
    // Wrapper mode: TLS from the first byte, no STARTTLS command.
    let postfix = postfix_log(&mail);
    assert!(postfix.contains("TLS connection established"), "{postfix}");
    assert!(!postfix.contains("starttls="), "{postfix}");
}

#[test]
fn doctor_passes_over_implicit_tls_and_starttls_with_a_ca_file() {
    let mail = MailSystem::start_with_tls_blocking().unwrap();
    let ca = mail.ca_file();
    for (imap, smtp) in [
        (
            localhost(mail.imaps_port(), "implicit", Some(&ca)),
            localhost(mail.smtps_port(), "implicit", Some(&ca)),
        ),
        (
            localhost(mail.imap_port(), "starttls", Some(&ca)),
            localhost(mail.smtp_port(), "starttls", Some(&ca)),
        ),
    ] {
        let tls = imap.tls;
        let (imap_port, smtp_port) = (imap.port, smtp.port);
        let (code, out) = doctor(&deployment(Some(&mail), imap, smtp));
        assert_eq!(code, Some(0), "tls = {tls}:\n{out}");
        assert!(
            out.contains(&format!(
                "✓ IMAP: logged in to localhost:{imap_port} as {TRACKING}"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("✓ SMTP: localhost:{smtp_port} answers")),
            "{out}"
        );
    }
}

#[test]
fn without_a_ca_file_doctor_says_the_certificate_is_not_trusted_and_what_to_do() {
    let mail = MailSystem::start_with_tls_blocking().unwrap();
    for (imap, smtp) in [
        (
            localhost(mail.imaps_port(), "implicit", None),
            localhost(mail.smtps_port(), "implicit", None),
        ),
        (
            localhost(mail.imap_port(), "starttls", None),
            localhost(mail.smtp_port(), "starttls", None),
        ),
    ] {
        let smtp_port = smtp.port;
        let (code, out) = doctor(&deployment(Some(&mail), imap, smtp));
        assert_eq!(code, Some(1), "{out}");
        let untrusted = "the TLS handshake with localhost failed: the server's certificate is not trusted (UnknownIssuer); if the server uses a private CA or a self-signed certificate, name it with ca-file in";
        // The advice alone: not the general hints about host, port and tls.
        assert!(
            out.contains(&format!("✗ IMAP: {untrusted} [imap]\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "✗ SMTP: localhost:{smtp_port}: {untrusted} [smtp]\n"
            )),
            "{out}"
        );
    }
}

#[test]
fn a_self_signed_certificate_in_ca_file_is_trusted_for_its_own_name_only() {
    let mail = MailSystem::start_with_self_signed_tls_blocking().unwrap();
    let certificate = mail.ca_file();
    let (code, out) = doctor(&deployment(
        Some(&mail),
        localhost(mail.imaps_port(), "implicit", Some(&certificate)),
        localhost(mail.smtp_port(), "starttls", Some(&certificate)),
    ));
    assert_eq!(code, Some(0), "{out}");

    // The certificate names localhost alone: trusting it does not switch off the name check.
    let by_address = |port, tls| Server {
        host: "127.0.0.1",
        port,
        tls,
        ca_file: Some(&certificate),
    };
    let (code, out) = doctor(&deployment(
        Some(&mail),
        by_address(mail.imaps_port(), "implicit"),
        by_address(mail.smtps_port(), "implicit"),
    ));
    assert_eq!(code, Some(1), "{out}");
    for section in ["imap", "smtp"] {
        assert!(
            out.contains("the server's certificate is not valid for 127.0.0.1")
                && out.contains(&format!(
                    "set host in [{section}] to a name the certificate is for"
                )),
            "{out}"
        );
    }
}

#[tokio::test]
async fn run_keeps_retrying_an_untrusted_imap_server_and_logs_why() {
    let mail = MailSystem::start_with_tls().await.unwrap();
    let ca = mail.ca_file();
    let mut daemon = deployment(
        Some(&mail),
        localhost(mail.imaps_port(), "implicit", None),
        localhost(mail.smtps_port(), "implicit", Some(&ca)),
    );
    daemon.spawn();
    let advice = "the server's certificate is not trusted (UnknownIssuer); if the server uses a private CA or a self-signed certificate, name it with ca-file in [imap]";
    // The first attempt at start, then one after each backoff (two seconds, then four).
    daemon
        .until_async(WAIT, "three refused attempts", |d| {
            d.log().matches(advice).count() >= 3
        })
        .await;
    assert!(daemon.is_running(), "{}", daemon.log());
    assert!(!daemon.log().contains("ready in"), "{}", daemon.log());
    let (status, _) = daemon.terminate();
    assert!(status.success(), "{status}\n{}", daemon.log());
}

#[tokio::test]
async fn mail_to_an_untrusted_smtp_server_is_retried_with_the_reason() {
    let mail = MailSystem::start_with_tls().await.unwrap();
    let ca = mail.ca_file();
    let mut daemon = deployment(
        Some(&mail),
        localhost(mail.imaps_port(), "implicit", Some(&ca)),
        localhost(mail.smtp_port(), "starttls", None),
    );
    daemon.spawn();
    daemon
        .until_async(WAIT, "the daemon to be ready", |d| {
            d.log().contains("ready in")
        })
        .await;
    mail.append(TRACKING, "INBOX", &intro("untrusted"))
        .await
        .unwrap();
    let advice = "name it with ca-file in [smtp]";
    daemon
        .until_async(WAIT, "a send to be retried", |d| {
            d.log().contains("will be retried") && d.log().contains(advice)
        })
        .await;
    // The log line comes as the attempt fails; the row is back to `scheduled` a moment later.
    daemon
        .until_async(WAIT, "the retry to be recorded", |d| {
            d.count("SELECT count(*) FROM outbound WHERE state = 'scheduled' AND attempts >= 1")
                >= 1
        })
        .await;
    let out = daemon.run(&["outbox", "--json"]);
    let outbox: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = outbox.as_array().unwrap();
    assert!(!rows.is_empty(), "{outbox:#}");
    // The row waited for above: another may be mid-attempt meanwhile (`sending`).
    let retried = rows
        .iter()
        .find(|row| row["attempts"].as_i64() >= Some(1) && row["state"] != "sending");
    let retried = retried.unwrap_or_else(|| panic!("nothing was attempted: {outbox:#}"));
    assert_eq!(retried["state"], "scheduled", "{outbox:#}");
    assert!(
        retried["last_error"]
            .as_str()
            .unwrap_or("")
            .contains(advice),
        "{outbox:#}"
    );
    assert!(daemon.is_running(), "{}", daemon.log());
    let (status, _) = daemon.terminate();
    assert!(status.success(), "{status}\n{}", daemon.log());
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_a_configuration_error() {
    let nowhere = tempfile::tempdir().unwrap();
    let missing = nowhere.path().join("missing.pem");
    let garbage = nowhere.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    // No server is needed: nothing is contacted before the file is read.
    let cases = [
        (&missing, "cannot read [imap] ca-file", "No such file"),
        (&garbage, "[imap] ca-file", "holds no certificate"),
    ];
    for (file, key, problem) in cases {
        let daemon = deployment(
            None,
            localhost(1, "implicit", Some(file)),
            localhost(1, "implicit", None),
        );
        let run = daemon.run(&["run"]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        let named = format!("{key} {}", file.display());
        assert!(
            stderr.contains(&named) && stderr.contains(problem),
            "{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");

        let (code, out) = doctor(&daemon);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains(&format!("✗ IMAP: {named}")), "{out}");
    }

    // [smtp] too, for every command that sends.
    let daemon = deployment(
        None,
        localhost(1, "implicit", None),
        localhost(1, "starttls", Some(&garbage)),
    );
    for command in ["tick", "run"] {
        let out = daemon.run(&[command]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("[smtp] ca-file {}", garbage.display()))
                && stderr.contains("holds no certificate"),
            "{command}: {stderr}"
        );
    }
}
