//! OAuth 2.0 end to end, offline: `referrald login` against the harness's OAuth server
//! (tests/support/oauth.rs), then `referrald run` against a Dovecot and Postfix that take
//! only bearer tokens for the tracking mailbox (tests/support/mailsys.rs,
//! `MailSystem::start_with_oauth`). These tests fail (never skip) when Dovecot or Postfix is
//! missing.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use support::daemon::Daemon;
use support::mailsys::{MailSystem, OAuthDomain};
use support::oauth::{OAuthServer, browse};

const DOMAIN: &str = "oauth.test";
const TRACKING: &str = "intros@oauth.test";
const OWNER: &str = "alice@owner.test";
/// How long anything that should happen in a moment may take on a busy CI machine.
const WAIT: Duration = Duration::from_secs(20);
/// How long the daemon may take to notice a new sign-in: its reconnection backoff grows to
/// 80 s between attempts.
const RECOVERY: Duration = Duration::from_secs(120);

/// An OAuth server for the tracking mailbox and a mail system that trusts it.
async fn servers() -> (OAuthServer, MailSystem) {
    let oauth = OAuthServer::start(TRACKING);
    let mail = MailSystem::start_with_oauth(OAuthDomain {
        domain: DOMAIN.into(),
        introspection_url: oauth.introspection_url(),
    })
    .await
    .unwrap();
    (oauth, mail)
}

/// Alice's deployment, logging in to IMAP and SMTP with OAuth 2.0 only.
fn deployment(mail: &MailSystem, oauth: &OAuthServer) -> Daemon {
    deployment_with(mail, oauth, &oauth.config_section("client-secret"))
}

/// [`deployment`] with this `[oauth2]` section.
fn deployment_with(mail: &MailSystem, oauth: &OAuthServer, section: &str) -> Daemon {
    let mut daemon = Daemon::new(&format!(
        r#"
[tracking]
address = "{TRACKING}"
[owner]
name = "Alice Smith"
emails = ["{OWNER}"]
[intake]
accept-from = ["*@introducer.test"]
require-authentication = false
[imap]
host = "127.0.0.1"
port = {imap}
tls = "none"
username = "{TRACKING}"
auth = "oauth2"
poll-interval = "60s"
[outbound]
transport = "smtp"
retry-initial = "1s"
retry-max = "2s"
[smtp]
host = "127.0.0.1"
port = {submission}
tls = "none"
username = "{TRACKING}"
auth = "oauth2"
[schedule]
thank-you-after = "0s"
follow-up-after = "2s"
owner-nudge-after = "2s"
feedback-after = "1d"
reminder-after = "1d"
send-window = "always"
max-per-hour = 100000
{section}"#,
        imap = mail.imap_port(),
        submission = mail.submission_port(),
    ));
    daemon.write("client-secret", format!("{}\n", oauth.client_secret()));
    // Debug logging everywhere: not even a debug line may show a token.
    daemon.log_level = "debug";
    daemon
}

/// An introduction from Bob of Fred and Sally, copied to the tracking address, written now
/// (an old one would be recorded as history, with no mail).
fn intro(id: &str) -> Vec<u8> {
    let date = chrono::Utc::now().to_rfc2822();
    format!(
        "From: Bob Brown <bob@introducer.test>\r\n\
         To: Fred Jones <fred@parties.test>, Sally Lee <sally@parties.test>\r\n\
         Cc: {TRACKING}\r\n\
         Subject: Intro: {id}\r\n\
         Date: {date}\r\n\
         Message-ID: <{id}@introducer.test>\r\n\
         \r\n\
         Please meet each other: you will get along.\r\n\
         \r\n\
         Bob\r\n"
    )
    .into_bytes()
}

/// Delivers a message into the tracking mailbox the way the world does: through Postfix
/// (port 25, no login) and Dovecot's LMTP.
async fn deliver(mail: &MailSystem, message: &[u8]) {
    mail.send("bob@introducer.test", &[TRACKING], message)
        .await
        .unwrap();
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `referrald login`, which the server approves after the first poll.
fn login(daemon: &Daemon) -> String {
    let out = daemon.run(&["login"]);
    let shown = text(&out);
    assert!(out.status.success(), "login failed:\n{shown}");
    shown
}

/// Fails naming the secret if any token or the client secret is in `text`.
fn assert_no_secrets(oauth: &OAuthServer, what: &str, text: &str) {
    for secret in oauth.secrets() {
        assert!(
            !text.contains(&secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

fn referrals(daemon: &Daemon) -> i64 {
    daemon.count("SELECT count(*) FROM referrals")
}

/// Whether a password gets a submission client through `AUTH PLAIN`.
async fn smtp_password_accepted(mail: &MailSystem, user: &str, password: &str) -> bool {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", mail.submission_port()))
        .await
        .unwrap();
    let mut connection = AsyncSmtpConnection::connect_with_transport(
        Box::new(stream),
        &ClientId::Domain("client.harness.test".into()),
    )
    .await
    .unwrap();
    let credentials = Credentials::new(user.into(), password.into());
    let accepted = connection
        .auth(&[Mechanism::Plain], &credentials)
        .await
        .is_ok();
    connection.abort().await;
    accepted
}

#[tokio::test]
async fn login_then_run_records_an_introduction_and_sends_its_follow_ups_with_bearer_tokens() {
    let (oauth, mail) = servers().await;
    let mut daemon = deployment(&mail, &oauth);

    // Before the first sign-in, doctor says what to run.
    let before = daemon.run(&["doctor"]);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    assert!(
        text(&before).contains(&format!(
            "no OAuth 2.0 sign-in yet ({} does not exist): run `referrald login --config {}`",
            daemon.path("referrald.db.oauth2-token").display(),
            daemon.path("referrald.toml").display()
        )),
        "{}",
        text(&before)
    );

    let shown = login(&daemon);
    assert!(shown.contains("WDJB-MJHT"), "the code to enter:\n{shown}");
    assert!(shown.contains("http://127.0.0.1/device"), "{shown}");
    let token_file = daemon.path("referrald.db.oauth2-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the refresh token is private");
    assert_eq!(oauth.refreshes(), (0, 0));

    daemon.start(WAIT);
    // Through IDLE: the introduction arrives after the daemon is watching.
    deliver(&mail, &intro("oauth-intro")).await;
    daemon
        .until_async(WAIT, "the introduction to be recorded", |d| {
            referrals(d) == 1
        })
        .await;
    // Counted once they are recorded as sent and Postfix has delivered all it accepted.
    daemon
        .until_async(WAIT, "the thank-you and both follow-ups to be sent", |d| {
            d.count(
                "SELECT count(*) FROM outbound WHERE state = 'sent' \
                 AND kind IN ('thank_you', 'follow_up')",
            ) == 3
        })
        .await;
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    let thanks = mail
        .fetch_all("bob@introducer.test", "INBOX")
        .await
        .unwrap();
    assert_eq!(thanks.len(), 1);
    for party in ["fred@parties.test", "sally@parties.test"] {
        let inbox = mail.fetch_all(party, "INBOX").await.unwrap();
        assert_eq!(inbox.len(), 1, "{party}");
    }

    // The bearer path is the one used: these servers refuse the tracking mailbox's password
    // on IMAP and on submission, and Dovecot asked the OAuth server about our tokens.
    let password = mail.password();
    assert!(mail.imap_login(TRACKING).await.is_err());
    assert!(!smtp_password_accepted(&mail, TRACKING, password).await);
    // ... while the same password works for a user outside the OAuth-only domain.
    assert!(smtp_password_accepted(&mail, "bob@introducer.test", password).await);
    assert!(oauth.introspections() >= 2, "IMAP and SMTP logins");
    // The one refresh the daemon needed to turn the refresh token into an access token.
    assert_eq!(oauth.refreshes(), (1, 0));

    let doctor = daemon.run(&["doctor"]);
    let report = text(&doctor);
    assert!(doctor.status.success(), "{report}");
    assert!(report.contains("✓ OAuth 2.0: signed in"), "{report}");
    assert!(report.contains("accepted our OAuth 2.0 token"), "{report}");

    let (status, _) = daemon.terminate();
    assert!(status.success());
    let log = daemon.log();
    assert_no_secrets(&oauth, "the daemon's log", &log);
    assert_no_secrets(&oauth, "login's output", &shown);
    assert_no_secrets(&oauth, "doctor's output", &report);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_without_losing_a_message() {
    let (oauth, mail) = servers().await;
    let mut daemon = deployment(&mail, &oauth);
    login(&daemon);
    daemon.start(WAIT);
    let first_refresh_token =
        std::fs::read_to_string(daemon.path("referrald.db.oauth2-token")).unwrap();

    // The token dies early (as a provider may do at any time) and the connection drops:
    // the daemon's next login is refused with the token it holds.
    oauth.expire_access_tokens();
    mail.stop_dovecot().await.unwrap();
    // Mail keeps arriving meanwhile: Postfix queues it until Dovecot is back.
    deliver(&mail, &intro("during-outage")).await;
    mail.start_dovecot().await.unwrap();

    daemon
        .until_async(WAIT, "the introduction to be recorded", |d| {
            referrals(d) == 1
        })
        .await;
    let thanks = mail
        .wait_for_count("bob@introducer.test", "INBOX", 1, WAIT)
        .await
        .unwrap();
    assert_eq!(thanks.len(), 1);
    let (refreshed, refused) = oauth.refreshes();
    assert!(refreshed >= 2, "login's token, then a new one: {refreshed}");
    assert_eq!(refused, 0, "the rotated refresh token was used each time");
    let log = daemon.log();
    assert!(
        log.contains("the access token was refused; getting a new one"),
        "{log}"
    );

    // The rotated refresh token is the one on disk (the old one is dead at the server).
    let saved = std::fs::read_to_string(daemon.path("referrald.db.oauth2-token")).unwrap();
    assert_ne!(saved, first_refresh_token);
    let doctor = daemon.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", text(&doctor));
    assert_eq!(oauth.refreshes().1, 0);

    daemon.terminate();
    assert_no_secrets(&oauth, "the daemon's log", &daemon.log());
    assert_no_secrets(&oauth, "doctor's output", &text(&doctor));
}

#[tokio::test]
async fn a_revoked_grant_is_reported_by_doctor_and_recovered_after_a_new_login() {
    let (oauth, mail) = servers().await;
    let mut daemon = deployment(&mail, &oauth);
    login(&daemon);
    daemon.start(WAIT);

    oauth.revoke();
    mail.restart_dovecot().await.unwrap();
    let command = format!(
        "referrald login --config {}",
        daemon.path("referrald.toml").display()
    );
    daemon
        .until_async(WAIT, "the daemon to say how to sign in again", |d| {
            d.log().contains(&command)
        })
        .await;
    // Mail that arrives while nobody may log in waits in the mailbox.
    deliver(&mail, &intro("while-revoked")).await;

    let doctor = daemon.run(&["doctor"]);
    let report = text(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{report}");
    assert!(
        report.contains("✗ OAuth 2.0: the OAuth 2.0 sign-in is no longer valid"),
        "{report}"
    );
    assert!(report.contains(&command), "{report}");
    assert!(
        !report.contains("check [smtp] host"),
        "the sign-in is the one problem: {report}"
    );
    assert!(
        daemon.is_running(),
        "a revoked grant is an outage, not a reason to stop"
    );

    // A new sign-in; the running daemon picks it up at its next attempt.
    let shown = login(&daemon);
    daemon
        .until_async(RECOVERY, "the introduction to be recorded", |d| {
            referrals(d) == 1
        })
        .await;
    mail.wait_for_count("bob@introducer.test", "INBOX", 1, WAIT)
        .await
        .unwrap();

    daemon.terminate();
    assert_no_secrets(&oauth, "the daemon's log", &daemon.log());
    assert_no_secrets(&oauth, "doctor's output", &report);
    assert_no_secrets(&oauth, "login's output", &shown);
}

/// `referrald login` with `flow = "browser"`: the test plays the user, who reads the address
/// from the terminal and opens it; the provider sends the browser back to referrald's
/// loopback port (`paste`: the browser is elsewhere, and the user pastes the address it could
/// not open). Returns what login printed.
async fn browser_login(daemon: &Daemon, oauth: &OAuthServer, paste: bool) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut login = daemon
        .command()
        .arg("login")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = login.stdout.take().unwrap();
    let mut stdin = login.stdin.take().unwrap();
    let authorize = format!("{}/authorize?", oauth.url());
    let shown = tokio::task::spawn_blocking(move || {
        let mut shown = String::new();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("login printed no address").unwrap();
            shown.push_str(&line);
            shown.push('\n');
            if line.starts_with(&authorize) {
                break line;
            }
        };
        let back = browse(&url);
        assert!(back.starts_with("http://127.0.0.1:"), "{back}");
        if paste {
            writeln!(stdin, "{back}").unwrap();
        } else {
            let page = browse(&back);
            assert!(page.contains("close this tab"), "{page}");
        }
        for line in lines {
            shown.push_str(&line.unwrap());
            shown.push('\n');
        }
        shown
    })
    .await
    .unwrap();
    let status = login.wait().unwrap();
    assert!(status.success(), "{shown}");
    assert!(shown.contains("Signed in."), "{shown}");
    shown
}

#[tokio::test]
async fn the_browser_flow_signs_in_through_the_loopback_port_or_a_pasted_address() {
    let (oauth, mail) = servers().await;
    let section = oauth.browser_config_section("client-secret");
    for paste in [false, true] {
        let daemon = deployment_with(&mail, &oauth, &section);
        let shown = browser_login(&daemon, &oauth, paste).await;
        // The refresh token works: doctor logs in to IMAP and SMTP with it.
        let doctor = daemon.run(&["doctor"]);
        assert!(doctor.status.success(), "{}", text(&doctor));
        assert_no_secrets(&oauth, "login's output", &shown);
    }
}

#[tokio::test]
async fn tokens_come_over_https_checked_against_the_ca_file() {
    let (mut oauth, mail) = servers().await;
    let (certificate, key) = mail.server_certificate_and_key();
    let https = oauth.serve_tls(&certificate, &key);
    let section = oauth
        .config_section("client-secret")
        .replace(&oauth.url(), &https);
    // Without the CA the certificate is refused, and login says so.
    let untrusted = deployment_with(&mail, &oauth, &section);
    let out = untrusted.run(&["login"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not trusted"), "{}", text(&out));
    // With it, login and doctor fetch their tokens over TLS.
    let section = format!("{section}ca-file = {:?}\n", mail.ca_file());
    let daemon = deployment_with(&mail, &oauth, &section);
    let shown = login(&daemon);
    let doctor = daemon.run(&["doctor"]);
    assert!(doctor.status.success(), "{}", text(&doctor));
    assert!(
        text(&doctor).contains(&format!("signed in: {https}/token")),
        "{}",
        text(&doctor)
    );
    assert_no_secrets(&oauth, "login's output", &shown);
}

#[test]
fn login_without_an_oauth2_section_says_what_to_add() {
    let daemon = Daemon::new(
        "[tracking]\naddress = \"intros@tracker.test\"\n[owner]\nname = \"Alice\"\n[outbound]\ntransport = \"file\"\n",
    );
    let out = daemon.run(&["login"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("[oauth2]"), "{}", text(&out));
}
