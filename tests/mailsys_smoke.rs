//! The mail-system harness itself, against the real Dovecot and Postfix: what the
//! daemon's integration tests rely on. These tests fail (never skip) when the servers
//! are not installed.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use support::mailsys::{MailSystem, REJECTED_DOMAIN};

/// How long a wait may take: these tests each start a Dovecot and a Postfix, all at once, on
/// a 2-core machine; mail deferred during an outage once took over 10 s to arrive under load.
const WAIT: Duration = Duration::from_secs(20);

/// A minimal well-formed message, with bare LF line endings as tests like to write them.
fn message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: Mon, 3 Mar 2025 09:00:00 +0000\n\
         Message-ID: <{}@sender.test>\n\nHello from {from}.\n.A line starting with a dot.\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[tokio::test]
async fn start_takes_well_under_a_few_seconds() {
    let started = Instant::now();
    let mail = MailSystem::start().await.unwrap();
    let elapsed = started.elapsed();
    eprintln!("MailSystem::start took {elapsed:?} ({mail:?})");
    assert!(elapsed < Duration::from_secs(5), "start took {elapsed:?}");
    assert_eq!(mail.host(), "127.0.0.1");
    assert_ne!(mail.imap_port(), mail.smtp_port());
}

#[tokio::test]
async fn mail_sent_through_postfix_reaches_every_recipient_over_imap() {
    let mail = MailSystem::start().await.unwrap();
    let sent = Instant::now();
    mail.send(
        "bob@introducer.test",
        &["fred@parties.test", "Sally@Parties.test"],
        &message(
            "bob@introducer.test",
            "fred@parties.test, sally@parties.test",
            "Fred meet Sally",
        ),
    )
    .await
    .unwrap();

    for user in ["fred@parties.test", "sally@parties.test"] {
        let inbox = mail.wait_for_count(user, "INBOX", 1, WAIT).await.unwrap();
        assert_eq!(inbox.len(), 1, "{user}");
        let received = text(&inbox[0]);
        assert!(received.contains("Subject: Fred meet Sally"), "{received}");
        assert!(
            received
                .to_lowercase()
                .contains(&format!("delivered-to: {user}")),
            "{received}"
        );
        assert!(
            received.contains("\r\n.A line starting with a dot."),
            "dot-stuffing undone: {received}"
        );
    }
    eprintln!(
        "SMTP submission to IMAP-visible in both mailboxes: {:?}",
        sent.elapsed()
    );

    // A +detail address reaches the mailbox without the detail, as at a provider.
    let tracking = "intros@tracker.test";
    mail.send(
        "bob@introducer.test",
        &["intros+bcc@tracker.test"],
        &message("bob@introducer.test", "fred@parties.test", "Bcc"),
    )
    .await
    .unwrap();
    let inbox = mail
        .wait_for_count(tracking, "INBOX", 1, WAIT)
        .await
        .unwrap();
    assert!(text(&inbox[0]).contains("Delivered-To: intros+bcc@tracker.test"));

    // The null sender, as bounces have it.
    mail.send(
        "",
        &[tracking],
        &message("MAILER-DAEMON@mx.test", tracking, "Undelivered"),
    )
    .await
    .unwrap();
    let inbox = mail
        .wait_for_count(tracking, "INBOX", 2, WAIT)
        .await
        .unwrap();
    assert!(
        text(&inbox[1]).starts_with("Return-Path: <>"),
        "{}",
        text(&inbox[1])
    );
    assert!(
        mail.fetch_all("nobody-wrote-to@parties.test", "INBOX")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn appended_messages_read_back_in_order_with_their_flags() {
    let mail = MailSystem::start().await.unwrap();
    let user = "intros@tracker.test";
    let first = message("a@x.test", user, "first");
    let second = message("b@x.test", user, "second");
    mail.append(user, "Referrals", &first).await.unwrap();
    // Appending again to the folder, now existing, works too.
    mail.append_many(user, "Referrals", [&second])
        .await
        .unwrap();

    let stored = mail.fetch_all(user, "Referrals").await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(text(&stored[0]).contains("Subject: first"));
    assert!(text(&stored[1]).contains("Subject: second"));

    let flags = mail.flags(user, "Referrals").await.unwrap();
    assert_eq!(flags.len(), 2);
    assert!(flags.iter().all(|(_, flags)| flags.is_empty()), "{flags:?}");

    // Keywords and \Seen, as the daemon will set them, show up in `flags`.
    let mut session = mail.imap_login(user).await.unwrap();
    session.select("Referrals").await.unwrap();
    let uid = flags[0].0;
    futures::TryStreamExt::try_collect::<Vec<_>>(
        session
            .uid_store(uid.to_string(), "+FLAGS (\\Seen referrald-done)")
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    session.logout().await.unwrap();
    let flags = mail.flags(user, "Referrals").await.unwrap();
    assert_eq!(
        flags[0],
        (uid, vec!["\\Seen".to_owned(), "referrald-done".to_owned()])
    );
    assert!(flags[1].1.is_empty());

    // Reading never marks anything seen.
    mail.fetch_all(user, "Referrals").await.unwrap();
    assert!(mail.flags(user, "Referrals").await.unwrap()[1].1.is_empty());
}

#[tokio::test]
async fn a_large_backlog_is_appended_in_order_byte_for_byte() {
    let mail = MailSystem::start().await.unwrap();
    let user = "intros@tracker.test";
    // More than one MULTIAPPEND batch; CRLF and 8-bit bytes, as IMAP returns them.
    let backlog: Vec<Vec<u8>> = (0..1_500)
        .map(|i| {
            let mut raw =
                text(&message("a@x.test", user, &format!("intro {i}"))).replace('\n', "\r\n");
            raw.push_str("Caf");
            let mut raw = raw.into_bytes();
            raw.extend_from_slice(b"\xe9 in Latin-1\r\n");
            raw
        })
        .collect();
    let appending = Instant::now();
    mail.append_many(user, "INBOX", &backlog).await.unwrap();
    eprintln!(
        "append_many of {} messages took {:?}",
        backlog.len(),
        appending.elapsed()
    );
    let fetching = Instant::now();
    let stored = mail.fetch_all(user, "INBOX").await.unwrap();
    eprintln!(
        "fetch_all of {} messages took {:?}",
        stored.len(),
        fetching.elapsed()
    );
    assert_eq!(stored.len(), backlog.len());
    assert!(stored == backlog, "messages changed on the way");
}

#[tokio::test]
async fn mail_survives_a_dovecot_restart_and_mail_sent_meanwhile_arrives() {
    let mail = MailSystem::start().await.unwrap();
    let user = "intros@tracker.test";
    mail.send(
        "bob@x.test",
        &[user],
        &message("bob@x.test", user, "before"),
    )
    .await
    .unwrap();
    mail.wait_for_count(user, "INBOX", 1, WAIT).await.unwrap();

    let stopping = Instant::now();
    mail.stop_dovecot().await.unwrap();
    eprintln!("stop_dovecot took {:?}", stopping.elapsed());
    assert!(mail.imap_login(user).await.is_err(), "IMAP still answers");
    // Postfix accepts and queues while Dovecot is down.
    mail.send(
        "bob@x.test",
        &[user],
        &message("bob@x.test", user, "during"),
    )
    .await
    .unwrap();

    let starting = Instant::now();
    mail.start_dovecot().await.unwrap();
    eprintln!("start_dovecot took {:?}", starting.elapsed());
    let inbox = mail.wait_for_count(user, "INBOX", 2, WAIT).await.unwrap();
    eprintln!(
        "mail queued during the outage delivered {:?} after the restart",
        starting.elapsed()
    );
    assert!(text(&inbox[0]).contains("Subject: before"));
    assert!(text(&inbox[1]).contains("Subject: during"));

    let restarting = Instant::now();
    mail.restart_dovecot().await.unwrap();
    eprintln!("restart_dovecot took {:?}", restarting.elapsed());
    assert_eq!(mail.fetch_all(user, "INBOX").await.unwrap().len(), 2);
}

#[tokio::test]
async fn stopped_postfix_refuses_connections_and_works_again_after_start() {
    let mail = MailSystem::start().await.unwrap();
    let user = "sally@parties.test";

    let stopping = Instant::now();
    mail.stop_postfix().await.unwrap();
    eprintln!("stop_postfix took {:?}", stopping.elapsed());
    let refused = tokio::net::TcpStream::connect((mail.host(), mail.smtp_port())).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(
        mail.send(
            "fred@x.test",
            &[user],
            &message("fred@x.test", user, "lost")
        )
        .await
        .is_err()
    );

    let starting = Instant::now();
    mail.start_postfix().await.unwrap();
    eprintln!("start_postfix took {:?}", starting.elapsed());
    mail.send(
        "fred@x.test",
        &[user],
        &message("fred@x.test", user, "after"),
    )
    .await
    .unwrap();
    let inbox = mail.wait_for_count(user, "INBOX", 1, WAIT).await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(text(&inbox[0]).contains("Subject: after"));
}

#[tokio::test]
async fn recipients_in_the_rejected_domain_get_550_at_rcpt() {
    let mail = MailSystem::start().await.unwrap();
    let to = format!("nobody@{REJECTED_DOMAIN}");
    let err = mail
        .send(
            "intros@tracker.test",
            &[&to],
            &message("intros@tracker.test", &to, "follow-up"),
        )
        .await
        .unwrap_err();
    let smtp = err
        .downcast_ref::<lettre::transport::smtp::Error>()
        .unwrap_or_else(|| panic!("not an SMTP error: {err:#}"));
    assert!(smtp.is_permanent(), "{err:#}");
    assert_eq!(
        smtp.status().map(|code| code.to_string()),
        Some("550".to_owned()),
        "{err:#}"
    );
    assert!(
        format!("{err:#}").contains("Recipient address rejected"),
        "{err:#}"
    );

    // Other recipients are unaffected.
    mail.send(
        "intros@tracker.test",
        &["fred@parties.test"],
        &message("a@x.test", "fred@parties.test", "ok"),
    )
    .await
    .unwrap();
    mail.wait_for_count("fred@parties.test", "INBOX", 1, WAIT)
        .await
        .unwrap();
}

#[tokio::test]
async fn idle_wakes_up_when_postfix_delivers() {
    let mail = MailSystem::start().await.unwrap();
    let user = "intros@tracker.test";
    let mut session = mail.imap_login(user).await.unwrap();
    session.select("INBOX").await.unwrap();
    let mut idle = session.idle();
    idle.init().await.unwrap();

    let sent = Instant::now();
    mail.send("bob@x.test", &[user], &message("bob@x.test", user, "idle"))
        .await
        .unwrap();
    let (wait, _interrupt) = idle.wait_with_timeout(WAIT);
    let response = wait.await.unwrap();
    eprintln!(
        "IDLE woke up {:?} after the SMTP submission",
        sent.elapsed()
    );
    assert!(matches!(response, IdleResponse::NewData(_)), "{response:?}");
    idle.done().await.unwrap().logout().await.unwrap();
}

#[tokio::test]
async fn wait_for_count_says_what_is_there_when_it_times_out() {
    let mail = MailSystem::start().await.unwrap();
    let user = "fred@parties.test";
    mail.append(user, "INBOX", &message("a@x.test", user, "only one"))
        .await
        .unwrap();
    let err = mail
        .wait_for_count(user, "INBOX", 2, Duration::from_millis(200))
        .await
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("1 message(s)") && err.contains("Subject: only one"),
        "{err}"
    );
}

#[tokio::test]
async fn the_postfix_queue_holds_mail_until_dovecot_has_it_and_a_wait_for_it_fails_naming_it() {
    // Guards the tests that count delivered mail once the queue is empty: the queue must
    // show undelivered mail, and a wait that gives up must say what is stuck.
    let mail = MailSystem::start().await.unwrap();
    let user = "fred@parties.test";
    assert_eq!(mail.queued(), Vec::new());
    mail.stop_dovecot().await.unwrap();
    mail.send(
        "bob@x.test",
        &[user],
        &message("bob@x.test", user, "queued"),
    )
    .await
    .unwrap();
    let queued = mail.wait_for_deferred(WAIT).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let err = mail
        .wait_for_empty_queue(Duration::from_millis(200))
        .await
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("1 message(s)") && err.contains(&queued[0].1),
        "{err}"
    );

    mail.start_dovecot().await.unwrap();
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    // No waiting here: an empty queue means Dovecot has stored it.
    let inbox = mail.fetch_all(user, "INBOX").await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(text(&inbox[0]).contains("Subject: queued"));
}

#[tokio::test]
async fn instances_are_independent_and_dropping_one_leaves_nothing_behind() {
    let (one, two) = tokio::try_join!(MailSystem::start(), MailSystem::start()).unwrap();
    let ports: HashSet<u16> = [
        one.imap_port(),
        one.smtp_port(),
        two.imap_port(),
        two.smtp_port(),
    ]
    .into();
    assert_eq!(ports.len(), 4);

    let user = "fred@parties.test";
    one.send("a@x.test", &[user], &message("a@x.test", user, "to one"))
        .await
        .unwrap();
    one.wait_for_count(user, "INBOX", 1, WAIT).await.unwrap();
    assert!(two.fetch_all(user, "INBOX").await.unwrap().is_empty());

    let dir = one.dir().to_owned();
    let groups = server_process_groups(&dir);
    assert_eq!(
        groups.len(),
        2,
        "expected Dovecot's and Postfix's pid files in {}",
        dir.display()
    );
    let dropping = Instant::now();
    drop(one);
    eprintln!("dropping a MailSystem took {:?}", dropping.elapsed());
    assert!(!dir.exists(), "{} left behind", dir.display());
    for group in groups {
        let alive = live_members(group);
        assert!(
            alive.is_empty(),
            "processes of group {group} left behind: {alive:?}"
        );
    }
    // The other instance is untouched.
    two.send("a@x.test", &[user], &message("a@x.test", user, "to two"))
        .await
        .unwrap();
    two.wait_for_count(user, "INBOX", 1, WAIT).await.unwrap();
}

/// The process groups of Dovecot's and Postfix's master processes, from their pid files.
fn server_process_groups(dir: &std::path::Path) -> Vec<i32> {
    ["dovecot-run/master.pid", "postfix-queue/pid/master.pid"]
        .iter()
        .filter_map(|file| std::fs::read_to_string(dir.join(file)).ok())
        .filter_map(|pid| pid.trim().parse().ok())
        .collect()
}

/// Processes in process group `group` that are not zombies.
fn live_members(group: i32) -> Vec<String> {
    let mut alive = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may contain spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields.len() > 2 && fields[2] == group.to_string() && fields[0] != "Z" {
            alive.push(stat);
        }
    }
    alive
}
