//! `referrald run` end to end: the real binary against a private Dovecot and Postfix
//! (tests/support/mailsys.rs), on the real clock with a schedule of seconds. Each test starts
//! its own mail system and daemon and kills the daemon at the end. These tests fail (never
//! skip) when Dovecot or Postfix is missing.

mod support;

use std::collections::{HashMap, HashSet};

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use support::config;
use support::daemon::Daemon;
use support::mailsys::{MailSystem, REJECTED_DOMAIN};
use support::replies::{received, reply};

const TRACKING: &str = config::HARNESS_TRACKING;
const OWNER: &str = config::HARNESS_OWNER;
/// How long anything that should happen in a moment may take on a busy CI machine.
const WAIT: Duration = Duration::from_secs(20);

/// The schedule of a test: `follow-up-after` and friends, in seconds.
struct Schedule {
    follow_up: &'static str,
    poll: &'static str,
}

const FAST: Schedule = Schedule {
    follow_up: "2s",
    poll: "60s",
};
const NO_FOLLOW_UPS: Schedule = Schedule {
    follow_up: "1h",
    poll: "60s",
};

/// A deployment of Alice's watching the harness's Dovecot and sending through its Postfix.
fn daemon(mail: &MailSystem, schedule: &Schedule) -> Daemon {
    watching(mail, schedule, "")
}

/// [`daemon`] with more `[imap]` keys.
fn watching(mail: &MailSystem, schedule: &Schedule, imap_extra: &str) -> Daemon {
    watching_config(mail, schedule, imap_extra).daemon(mail)
}

/// The configuration [`watching`] runs, for a test that adds a section of its own.
fn watching_config(mail: &MailSystem, schedule: &Schedule, imap_extra: &str) -> config::Config {
    config::on_harness()
        .imap(
            mail,
            &format!("poll-interval = \"{}\"\n{imap_extra}", schedule.poll),
        )
        .smtp(mail)
        // The thank-you at once: these tests are about the mail loop, not the plan's timing.
        .with(&format!(
            "[schedule]\n\
             thank-you-after = \"0s\"\n\
             follow-up-after = \"{follow_up}\"\n\
             owner-nudge-after = \"{follow_up}\"\n\
             feedback-after = \"1d\"\n\
             reminder-after = \"1d\"\n\
             send-window = \"always\"\n\
             max-per-hour = 100000",
            follow_up = schedule.follow_up
        ))
}

/// How many referrals the daemon has recorded.
fn referrals(daemon: &Daemon) -> i64 {
    daemon.count("SELECT count(*) FROM referrals")
}

/// An introduction from `introducer` of `a` and `b`, copied to the tracking address.
fn intro(id: &str, introducer: &str, a: &str, b: &str) -> Vec<u8> {
    dated_intro(id, introducer, a, b, &chrono::Utc::now().to_rfc2822())
}

/// [`intro`] with its Date header set to `date`.
fn dated_intro(id: &str, introducer: &str, a: &str, b: &str, date: &str) -> Vec<u8> {
    format!(
        "From: Bob Brown <{introducer}>\r\n\
         To: {a}, {b}\r\n\
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

fn header(raw: &[u8], name: &str) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    message
        .header_raw(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// The Message-ID of every outbound message the daemon recorded as sent.
fn sent_ids(daemon: &Daemon) -> HashSet<String> {
    let db = rusqlite::Connection::open(daemon.path("referrald.db")).unwrap();
    db.prepare("SELECT message_id FROM outbound WHERE state = 'sent'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every Message-ID in these mailboxes, with how often it was delivered.
async fn delivered_ids(mail: &MailSystem, users: &[String]) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for user in users {
        for raw in mail.fetch_all(user, "INBOX").await.unwrap() {
            let id = header(&raw, "Message-ID");
            *ids.entry(id.trim_matches(['<', '>']).to_string())
                .or_insert(0) += 1;
        }
    }
    ids
}

/// Whether the daemon is inside an IDLE right now: it said it was waiting for new mail
/// more often than it said an IDLE ended (both at debug level).
fn idling(daemon: &Daemon) -> bool {
    let log = daemon.log();
    log.matches(": waiting for new mail").count() > log.matches("ended: ").count()
}

#[tokio::test]
async fn an_introduction_is_recorded_within_seconds_of_its_append_through_idle() {
    // Guards against IDLE that is not really listening: with polling every 60 s, only a
    // server's IDLE notification can get new mail recorded within the bound below.
    const BOUND: Duration = Duration::from_secs(5);
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    daemon.log_level = "info,referrald=debug";
    let ready = daemon.start(WAIT);
    eprintln!("start to ready: {ready:?}");

    let mut latencies = Vec::new();
    for i in 0..3 {
        // Appending before the daemon idles would test its catch-up, not IDLE.
        daemon
            .until_async(WAIT, "the daemon to be idling", idling)
            .await;
        mail.append(
            TRACKING,
            "INBOX",
            &intro(
                &format!("idle-{i}"),
                "bob@introducer.test",
                "fred@parties.test",
                "sally@parties.test",
            ),
        )
        .await
        .unwrap();
        // From the APPEND's completion: the message is in the mailbox and Dovecot notifies
        // the idling session. Recording takes milliseconds; 5 s leaves room for a 2-core
        // machine busy with compilers and other tests, and is still a twelfth of the poll
        // interval, so a pass cannot come from polling.
        let appended = Instant::now();
        daemon
            .until_async(BOUND, "the introduction to be recorded", |d| {
                referrals(d) > i
            })
            .await;
        latencies.push(appended.elapsed());
    }
    eprintln!("append to recorded, through IDLE: {latencies:?}");
    let (status, took) = daemon.terminate();
    assert!(status.success(), "{status}");
    eprintln!("SIGTERM while idle: exited in {took:?}");
    assert!(took < Duration::from_secs(10));
}

#[tokio::test]
async fn follow_ups_reach_both_parties_threaded_under_the_introduction() {
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &FAST);
    daemon.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "threaded",
            "bob@introducer.test",
            "Fred Jones <fred@parties.test>",
            "Sally Lee <sally@parties.test>",
        ),
    )
    .await
    .unwrap();

    // Counted once the daemon has recorded the thank-you and both follow-ups as sent (so it
    // will not hand them over again) and Postfix has delivered all it accepted: a second copy
    // could then not still be on its way.
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
        let raw = &inbox[0];
        let text = String::from_utf8_lossy(raw);
        assert_eq!(
            header(raw, "In-Reply-To"),
            "<threaded@introducer.test>",
            "{text}"
        );
        assert!(
            header(raw, "References").contains("<threaded@introducer.test>"),
            "{text}"
        );
        assert_eq!(header(raw, "Subject"), "Re: Intro: threaded", "{text}");
        assert_eq!(header(raw, "Auto-Submitted"), "auto-generated", "{text}");
        assert_eq!(
            header(raw, "X-Auto-Response-Suppress"),
            "OOF, AutoReply",
            "{text}"
        );
        assert!(
            header(raw, "List-Unsubscribe").starts_with(&format!("<mailto:{TRACKING}")),
            "{text}"
        );
        assert_eq!(
            header(raw, "From"),
            format!("\"Alice Smith via referrald\" <{TRACKING}>"),
            "{text}"
        );
        // Replies reach the owner as well as the tracker.
        let reply_to = header(raw, "Reply-To");
        assert!(
            reply_to.contains(OWNER) && reply_to.ends_with(TRACKING),
            "{text}"
        );
        assert!(header(raw, "To").contains(party), "{text}");
        assert!(
            header(raw, "Message-ID").ends_with("@tracker.test>"),
            "{text}"
        );
    }
    daemon.kill();
}

#[tokio::test]
async fn a_backlog_of_500_is_processed_once_each_and_marked_seen() {
    let mail = MailSystem::start().await.unwrap();
    let intros: Vec<Vec<u8>> = (0..500)
        .map(|i| {
            // The owner introduces: nothing is sent, so this test is about intake alone.
            intro(
                &format!("backlog-{i}"),
                OWNER,
                &format!("p{i}@parties.test"),
                &format!("q{i}@parties.test"),
            )
        })
        .collect();
    mail.append_many(TRACKING, "INBOX", &intros).await.unwrap();
    // The owner already read some of them: the UID watermark, not \Seen, decides.
    let mut imap = mail.imap_login(TRACKING).await.unwrap();
    imap.select("INBOX").await.unwrap();
    {
        use futures::TryStreamExt;
        let _: Vec<_> = imap
            .uid_store("1:50", "+FLAGS.SILENT (\\Seen)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
    }
    imap.logout().await.unwrap();

    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    let started = Instant::now();
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "500 referrals", |d| referrals(d) == 500)
        .await;
    eprintln!(
        "500-message backlog recorded {:?} after start",
        started.elapsed()
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let flags = mail.flags(TRACKING, "INBOX").await.unwrap();
        let seen = flags
            .iter()
            .filter(|(_, f)| f.iter().any(|f| f == "\\Seen"))
            .count();
        if seen == 500 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {seen} of 500 marked \\Seen\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("... and marked \\Seen {:?} after start", started.elapsed());
    assert_eq!(daemon.count("SELECT count(*) FROM messages"), 500);
    assert_eq!(
        daemon.count("SELECT count(DISTINCT intro_message_id) FROM referrals"),
        500
    );

    // A restart reads nothing twice.
    let (status, _) = daemon.terminate();
    assert!(status.success());
    daemon.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro("after-restart", OWNER, "x@parties.test", "y@parties.test"),
    )
    .await
    .unwrap();
    daemon
        .until_async(WAIT, "the new introduction", |d| referrals(d) == 501)
        .await;
    assert_eq!(daemon.count("SELECT count(*) FROM messages"), 501);
    let referrals: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["referrals", "--json"])).unwrap();
    assert_eq!(referrals.as_array().map(Vec::len), Some(501));
    daemon.kill();
}

#[tokio::test]
async fn a_dovecot_restart_is_survived_and_nothing_is_missed() {
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    daemon.start(WAIT);
    let party = |i: usize| format!("p{i}@parties.test");
    mail.append(
        TRACKING,
        "INBOX",
        &intro("before", OWNER, &party(1), &party(2)),
    )
    .await
    .unwrap();
    daemon
        .until_async(WAIT, "the first introduction", |d| referrals(d) == 1)
        .await;
    // Stopping Dovecot between the record and the \Seen delays the mark until the daemon
    // connects again (`a_mark_lost_after_recording_…`): not what this test is about.
    let deadline = Instant::now() + WAIT;
    while !mail.flags(TRACKING, "INBOX").await.unwrap()[0]
        .1
        .iter()
        .any(|f| f == "\\Seen")
    {
        assert!(
            Instant::now() < deadline,
            "the first introduction was never marked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    mail.stop_dovecot().await.unwrap();
    // Mail arriving while Dovecot is down waits in Postfix's queue.
    mail.send(
        "bob@introducer.test",
        &[TRACKING],
        &intro("while-down", OWNER, &party(3), &party(4)),
    )
    .await
    .unwrap();
    // Postfix tried and deferred it: it arrives only after Dovecot is back.
    mail.wait_for_deferred(WAIT).await.unwrap();
    mail.start_dovecot().await.unwrap();
    mail.append(
        TRACKING,
        "INBOX",
        &intro("just-back", OWNER, &party(5), &party(6)),
    )
    .await
    .unwrap();
    daemon
        .until_async(WAIT, "all three introductions", |d| referrals(d) == 3)
        .await;
    assert!(daemon.log().contains("reconnecting"), "{}", daemon.log());
    let deadline = Instant::now() + WAIT;
    loop {
        let flags = mail.flags(TRACKING, "INBOX").await.unwrap();
        assert_eq!(flags.len(), 3);
        if flags.iter().all(|(_, f)| f.iter().any(|f| f == "\\Seen")) {
            break;
        }
        assert!(Instant::now() < deadline, "not all marked: {flags:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill();
}

#[tokio::test]
async fn smtp_outages_are_retried_and_refusals_recorded() {
    let mail = MailSystem::start().await.unwrap();
    mail.stop_postfix().await.unwrap();
    let mut daemon = daemon(&mail, &FAST);
    daemon.start(WAIT);
    // The thank-you to Bob is due at once, and Postfix is down.
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "outage",
            "bob@introducer.test",
            "fred@parties.test",
            &format!("nobody@{REJECTED_DOMAIN}"),
        ),
    )
    .await
    .unwrap();
    daemon.until_async(WAIT, "a failed attempt", |d| {
        d.count("SELECT count(*) FROM outbound WHERE kind = 'thank_you' AND attempts >= 2 AND state = 'scheduled'") == 1
    })
    .await;
    let outbox: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["outbox", "--json"])).unwrap();
    let thanks = outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "thank_you")
        .unwrap()
        .clone();
    assert!(
        thanks["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("127.0.0.1"),
        "{thanks}"
    );

    mail.start_postfix().await.unwrap();
    let inbox = mail
        .wait_for_count("bob@introducer.test", "INBOX", 1, WAIT)
        .await
        .unwrap();
    let thank_you_id =
        daemon.query::<String>("SELECT message_id FROM outbound WHERE kind = 'thank_you'");
    assert_eq!(header(&inbox[0], "Message-ID"), format!("<{thank_you_id}>"));

    // The follow-up to the rejected party fails for good, with Postfix's reply.
    daemon
        .until_async(WAIT, "the refused follow-up to fail", |d| {
            d.count("SELECT count(*) FROM outbound WHERE state = 'failed'") == 1
        })
        .await;
    let outbox: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["outbox", "--json"])).unwrap();
    let failed = outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["state"] == "failed")
        .unwrap()
        .clone();
    assert_eq!(
        failed["to"],
        format!("nobody@{REJECTED_DOMAIN}"),
        "{failed}"
    );
    assert!(
        failed["last_error"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    // Not `attempts == 1`: the follow-up falls due 2 s after the introduction, so on a
    // slow machine it may meet the outage first, and each such try counts. What matters is
    // above: it ended `failed` on the 550, and a failed message is never tried again.
    assert!(failed["attempts"].as_i64().unwrap() >= 1, "{failed}");
    // Fred's follow-up went, and Bob got his thank-you exactly once (counted once Postfix
    // has delivered all it accepted, so a second copy could not still be on its way).
    mail.wait_for_count("fred@parties.test", "INBOX", 1, WAIT)
        .await
        .unwrap();
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(
        mail.fetch_all("bob@introducer.test", "INBOX")
            .await
            .unwrap()
            .len(),
        1
    );
    daemon.kill();
}

/// Introductions whose plan sends three messages each (a thank-you, two follow-ups) to a
/// handful of mailboxes, so that delivered Message-IDs are cheap to count.
fn busy_intros(from: usize, to: usize) -> Vec<Vec<u8>> {
    (from..to)
        .map(|i| {
            intro(
                &format!("busy-{i}"),
                &format!("bob{}@introducer.test", i % 3),
                &format!("fred{}@parties.test", i % 4),
                &format!("sally{}@parties.test", i % 4),
            )
        })
        .collect()
}

fn busy_mailboxes() -> Vec<String> {
    let mut users: Vec<String> = (0..3).map(|i| format!("bob{i}@introducer.test")).collect();
    for i in 0..4 {
        users.push(format!("fred{i}@parties.test"));
        users.push(format!("sally{i}@parties.test"));
    }
    users
}

#[tokio::test]
async fn kill_9_mid_run_records_nothing_twice_and_delivers_twice_only_what_was_in_flight() {
    let mail = MailSystem::start().await.unwrap();
    mail.append_many(TRACKING, "INBOX", busy_intros(0, 150))
        .await
        .unwrap();
    let mut daemon = daemon(&mail, &FAST);
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "sending to be under way", |d| {
            d.count("SELECT count(*) FROM outbound WHERE state = 'sent'") >= 40
        })
        .await;
    daemon.kill();
    // What was being handed to Postfix at the moment of the kill: the one case that may be
    // delivered twice (accepted, but the acceptance never recorded). Resent with the same
    // Message-ID at the next start.
    let db = rusqlite::Connection::open(daemon.path("referrald.db")).unwrap();
    let unconfirmed: HashSet<String> = db
        .prepare("SELECT message_id FROM outbound WHERE state = 'sending'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(db);
    eprintln!("killed with {} message(s) unconfirmed", unconfirmed.len());
    // Messages are claimed one at a time just before they are handed over, by four senders:
    // at most four in flight, and four accepted whose outcome is on its way to the database.
    assert!(
        unconfirmed.len() <= 8,
        "{} messages in doubt at the kill; only those in flight should be",
        unconfirmed.len()
    );

    // More mail while it is down, then a restart.
    mail.append_many(TRACKING, "INBOX", busy_intros(150, 200))
        .await
        .unwrap();
    daemon.start(WAIT);
    daemon
        .until_async(Duration::from_secs(40), "every message to be sent", |d| {
            referrals(d) == 200
                && d.count("SELECT count(*) FROM outbound WHERE state = 'sent'") == 600
        })
        .await;
    assert_eq!(daemon.count("SELECT count(*) FROM messages"), 200);
    assert_eq!(
        daemon.count("SELECT count(DISTINCT intro_message_id) FROM referrals"),
        200
    );

    // Postfix accepted all 600 (and any duplicate before them): once its queue is empty,
    // Dovecot holds every copy that will ever be delivered.
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    let users = busy_mailboxes();
    let delivered = delivered_ids(&mail, &users).await;
    let sent = sent_ids(&daemon);
    assert_eq!(sent.len(), 600);
    for id in &sent {
        assert!(delivered.contains_key(id), "{id} was never delivered");
    }
    let mut twice = 0;
    for (id, n) in &delivered {
        assert!(sent.contains(id), "{id} delivered but not recorded as sent");
        if *n > 1 {
            assert!(
                unconfirmed.contains(id) && *n == 2,
                "{id} delivered {n} times but was not being sent at the kill"
            );
            twice += 1;
        }
    }
    eprintln!(
        "600 messages delivered; {twice} delivered twice, all of them among the {} unconfirmed at the kill",
        unconfirmed.len()
    );
    daemon.kill();
}

#[tokio::test]
async fn sigterm_while_sending_exits_promptly_and_every_message_is_delivered_exactly_once() {
    // Guards against a graceful stop that abandons a message Postfix accepted (sent again
    // after the restart) or loses one it claimed (never sent).
    let mail = MailSystem::start().await.unwrap();
    mail.append_many(TRACKING, "INBOX", busy_intros(0, 300))
        .await
        .unwrap();
    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "sending to be under way", |d| {
            d.count("SELECT count(*) FROM outbound WHERE state = 'sent'") >= 20
        })
        .await;
    let (status, took) = daemon.terminate();
    eprintln!("SIGTERM while sending: exited in {took:?}");
    assert!(status.success(), "{status}\n{}", daemon.log());
    assert!(took < Duration::from_secs(10));
    assert_eq!(
        daemon.count("SELECT count(*) FROM outbound WHERE state = 'sending'"),
        0
    );
    let log = daemon.log();
    assert!(
        log.contains("stopping (SIGTERM)") && log.contains("stopped"),
        "{log}"
    );

    // The rest go after a restart.
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "every thank-you to be sent", |d| {
            d.count("SELECT count(*) FROM outbound WHERE state = 'sent'") == 300
        })
        .await;
    assert_eq!(
        daemon.count("SELECT count(*) FROM outbound WHERE state = 'sent' AND attempts != 1"),
        0,
        "a message released at shutdown keeps its attempt count"
    );
    // Every Message-ID delivered exactly once: unlike kill -9, SIGTERM leaves no message
    // in doubt, so not even one in flight may arrive twice.
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    let sent = sent_ids(&daemon);
    assert_eq!(sent.len(), 300);
    let delivered = delivered_ids(&mail, &busy_mailboxes()).await;
    for id in &sent {
        assert_eq!(delivered.get(id), Some(&1), "copies of {id} delivered");
    }
    for id in delivered.keys() {
        assert!(sent.contains(id), "{id} delivered but not recorded as sent");
    }
    daemon.kill();
}

#[test]
fn doctor_checks_each_part_and_says_what_is_wrong() {
    let mail = MailSystem::start_blocking().unwrap();
    let daemon = daemon(&mail, &FAST);
    let out = daemon.ok(&["doctor"]);
    for line in [
        "✓ config",
        "✓ templates",
        "✓ database",
        "✓ IMAP: logged in",
        "✓ SMTP",
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
    }
    std::fs::write(daemon.path("imap-password"), "wrong\n").unwrap();
    let bad = daemon.run(&["doctor"]);
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(
        out.contains("✗ IMAP") && out.contains("username and password"),
        "{out}"
    );
    assert!(out.contains("✓ SMTP"), "{out}");
}

/// Harm guarded against: the connection drops after the database recorded a message but
/// before its `\Seen` was stored; nothing below the watermark was ever looked at again, so
/// the message stayed unread in the tracking mailbox for good.
#[tokio::test]
async fn a_mark_lost_after_recording_is_stored_when_the_daemon_connects_again() {
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    daemon.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro("unmarked", OWNER, "a@parties.test", "b@parties.test"),
    )
    .await
    .unwrap();
    daemon
        .until_async(WAIT, "the introduction", |d| referrals(d) == 1)
        .await;
    let seen =
        |flags: &[(u32, Vec<String>)]| flags.len() == 1 && flags[0].1.iter().any(|f| f == "\\Seen");
    let deadline = Instant::now() + WAIT;
    while !seen(&mail.flags(TRACKING, "INBOX").await.unwrap()) {
        assert!(Instant::now() < deadline, "never marked \\Seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill();
    // What a dropped connection leaves: recorded, watermark moved, mark never stored.
    mail.remove_flag(TRACKING, "INBOX", "\\Seen").await.unwrap();
    assert!(!seen(&mail.flags(TRACKING, "INBOX").await.unwrap()));

    daemon.start(WAIT);
    let deadline = Instant::now() + WAIT;
    loop {
        let flags = mail.flags(TRACKING, "INBOX").await.unwrap();
        if seen(&flags) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lost mark was not stored again: {flags:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(referrals(&daemon), 1, "recorded once");
    assert!(
        daemon
            .log()
            .contains("recorded before the connection dropped"),
        "{}",
        daemon.log()
    );
    daemon.kill();
}

#[tokio::test]
async fn processed_mail_can_be_moved_or_given_a_keyword() {
    let mail = MailSystem::start().await.unwrap();
    let mut moving = watching(
        &mail,
        &NO_FOLLOW_UPS,
        "mark-as = \"move\"\nprocessed-folder = \"Done\"",
    );
    moving.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro("moved", OWNER, "a@parties.test", "b@parties.test"),
    )
    .await
    .unwrap();
    let done = mail
        .wait_for_count(TRACKING, "Done", 1, WAIT)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&done[0]).contains("Intro: moved"));
    let deadline = Instant::now() + WAIT;
    while !mail.fetch_all(TRACKING, "INBOX").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the message stayed in INBOX");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(referrals(&moving), 1);
    moving.kill();

    // Another mailbox, marked with the keyword and left unread.
    let user = "tagged@tracker.test";
    let mut tagging = watching(&mail, &NO_FOLLOW_UPS, "mark-as = \"keyword\"");
    let config = std::fs::read_to_string(tagging.path("referrald.toml")).unwrap();
    std::fs::write(
        tagging.path("referrald.toml"),
        config.replace(
            &format!("username = \"{TRACKING}\""),
            &format!("username = \"{user}\""),
        ),
    )
    .unwrap();
    mail.append(
        user,
        "INBOX",
        &intro("tagged", OWNER, "a@parties.test", "b@parties.test"),
    )
    .await
    .unwrap();
    tagging.start(WAIT);
    let deadline = Instant::now() + WAIT;
    loop {
        let flags = mail.flags(user, "INBOX").await.unwrap();
        if flags.len() == 1 && flags[0].1.iter().any(|f| f == "$Referrald") {
            assert!(!flags[0].1.iter().any(|f| f == "\\Seen"), "{flags:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not tagged: {flags:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(referrals(&tagging), 1);
    tagging.kill();
}

#[tokio::test]
async fn a_new_uidvalidity_finds_mail_below_the_old_last_uid_and_records_nothing_twice() {
    // Guards against a daemon that keeps its UID watermark across a UIDVALIDITY change: the
    // new message gets a UID it has already passed, so it would never be read.
    let mail = MailSystem::start().await.unwrap();
    let folder = "Intros";
    let mut daemon = watching(&mail, &NO_FOLLOW_UPS, &format!("folder = \"{folder}\""));
    let first = [
        intro("uv-1", OWNER, "a@parties.test", "b@parties.test"),
        intro("uv-2", OWNER, "c@parties.test", "d@parties.test"),
        intro("uv-3", OWNER, "e@parties.test", "f@parties.test"),
    ];
    mail.append_many(TRACKING, folder, &first).await.unwrap();
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "three referrals", |d| referrals(d) == 3)
        .await;
    let (status, _) = daemon.terminate();
    assert!(status.success());
    let watermark = daemon.count("SELECT last_uid FROM mailbox");
    assert_eq!(watermark, 3);

    // The folder is recreated (as a server migration might): new UIDVALIDITY, the new
    // message first, then two of the old ones.
    let mut imap = mail.imap_login(TRACKING).await.unwrap();
    let before = imap.examine(folder).await.unwrap().uid_validity;
    imap.close().await.ok();
    imap.delete(folder).await.unwrap();
    imap.logout().await.ok();
    // No wait for the clock: Dovecot remembers the last UIDVALIDITY it gave each user and
    // never gives it again (the assertion below checks).
    let second = [
        intro("uv-new", OWNER, "g@parties.test", "h@parties.test"),
        first[0].clone(),
        first[1].clone(),
    ];
    mail.append_many(TRACKING, folder, &second).await.unwrap();
    let mut imap = mail.imap_login(TRACKING).await.unwrap();
    let after = imap.examine(folder).await.unwrap().uid_validity;
    imap.logout().await.ok();
    assert_ne!(before, after, "Dovecot kept the UIDVALIDITY");
    let uids: Vec<u32> = mail
        .flags(TRACKING, folder)
        .await
        .unwrap()
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    assert!(
        uids.iter().all(|&uid| i64::from(uid) <= watermark),
        "the new folder's UIDs {uids:?} must all lie at or below the old last UID {watermark}"
    );

    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "the new introduction", |d| referrals(d) == 4)
        .await;
    assert_eq!(daemon.count("SELECT count(*) FROM messages"), 4);
    assert_eq!(
        daemon.count("SELECT count(*) FROM referrals WHERE intro_message_id LIKE '%uv-new@%'"),
        1
    );
    assert!(daemon.log().contains("UIDVALIDITY"), "{}", daemon.log());
    daemon.kill();
}

#[tokio::test]
async fn a_reply_read_while_running_is_reported_to_the_introducer_and_stop_cancels_the_rest() {
    const BOB: &str = "bob@introducer.test";
    const FRED: &str = "fred@parties.test";
    const SALLY: &str = "sally@parties.test";
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &FAST);
    // Only the follow-ups fall due in this test.
    let config = std::fs::read_to_string(daemon.path("referrald.toml")).unwrap();
    let config = config.replace("feedback-after = \"1d\"", "feedback-after = \"30d\"");
    std::fs::write(daemon.path("referrald.toml"), config).unwrap();

    // The introduction was recorded, and Bob thanked, yesterday: an outcome report today is
    // then not a second message to him on one day.
    let yesterday = (chrono::Utc::now() - chrono::TimeDelta::days(1)).to_rfc3339();
    std::fs::write(
        daemon.path("intro.eml"),
        intro(
            "loop",
            BOB,
            &format!("Fred Jones <{FRED}>"),
            &format!("Sally Lee <{SALLY}>"),
        ),
    )
    .unwrap();
    let intro_path = daemon.path("intro.eml");
    daemon.ok(&["--now", &yesterday, "ingest", intro_path.to_str().unwrap()]);
    daemon.ok(&["--now", &yesterday, "tick"]);
    received(&mail, BOB, 1, "thank_you", WAIT).await;

    // The daemon sends the follow-ups, which are overdue.
    daemon.start(WAIT);
    let to_fred = received(&mail, FRED, 1, "follow_up", WAIT).await;
    let to_sally = received(&mail, SALLY, 1, "follow_up", WAIT).await;

    // Fred answers through Postfix; the daemon reads it from the mailbox (IDLE), records
    // what he said, and tells Bob.
    let fred = reply(
        "Fred Jones <fred@parties.test>",
        TRACKING,
        &to_fred,
        "5 — we signed a $2,500 contract!\r\n\r\nFred\r\n+44 20 7946 0958",
    );
    mail.send(FRED, &[TRACKING], &fred).await.unwrap();
    let report = received(&mail, BOB, 2, "outcome_report", WAIT).await;
    let report = MessageParser::default().parse(&report).unwrap();
    let text = report.body_text(0).unwrap();
    assert!(
        text.contains("5 out of 5") && text.contains("2,500"),
        "{text}"
    );
    let show: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["show", "1", "--json"])).unwrap();
    assert_eq!(show["status"], "succeeded", "{show}");
    assert_eq!(show["feedback"][0]["rating"], 5);
    assert_eq!(show["feedback"][0]["outcome"], "won");
    assert_eq!(show["feedback"][0]["value"], 2500.0);

    // Sally says STOP: recorded, her pending mail cancelled, nothing sent in reply.
    let stop = reply(
        "Sally Lee <sally@parties.test>",
        TRACKING,
        &to_sally,
        "STOP",
    );
    mail.send(SALLY, &[TRACKING], &stop).await.unwrap();
    daemon
        .until_async(WAIT, "the opt-out to be recorded", |d| {
            d.count("SELECT count(*) FROM contacts WHERE opted_out_at IS NOT NULL") == 1
        })
        .await;
    let outbox: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["outbox", "--json"])).unwrap();
    for row in outbox.as_array().unwrap() {
        if row["to"] == SALLY && row["kind"] != "follow_up" {
            assert_eq!(row["state"], "cancelled", "{row}");
        }
    }
    // Whatever the STOP made due has been handed to Postfix, and Postfix has delivered it:
    // the mailboxes now hold all that the daemon sent.
    daemon
        .until_async(WAIT, "nothing due to be left unsent", |d| {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            d.count(&format!(
                "SELECT count(*) FROM outbound WHERE state = 'sending' \
                 OR (state = 'scheduled' AND due_at <= '{now}')"
            )) == 0
        })
        .await;
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(mail.fetch_all(SALLY, "INBOX").await.unwrap().len(), 1);
    assert_eq!(mail.fetch_all(BOB, "INBOX").await.unwrap().len(), 2);
    let (status, _) = daemon.terminate();
    assert!(status.success());
}

#[test]
fn a_password_file_that_cannot_be_read_stops_run_as_a_configuration_error() {
    // `imap-password` is named but never written.
    let d = config::on_harness()
        .imap_keys("host = \"127.0.0.1\"\nport = 1\ntls = \"none\"")
        .deploy();
    let out = d.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[imap]") && err.contains("imap-password"),
        "{err}"
    );
    assert!(!d.path("referrald.db").exists(), "nothing is touched first");
}

#[tokio::test]
async fn idle_ends_at_its_cap_even_while_the_server_keeps_talking() {
    // The harness's Dovecot says "still here" every second during IDLE; the cap must still
    // end each IDLE (and issue the next) on time.
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = watching(&mail, &NO_FOLLOW_UPS, "idle-timeout = \"2s\"");
    daemon.log_level = "info,referrald=debug";
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "two IDLEs ended by the cap", |d| {
            d.log().matches("ended: Timeout").count() >= 2
        })
        .await;
    // Between them, new mail is still noticed at once.
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "cap",
            "bob@introducer.test",
            "fred@parties.test",
            "sally@parties.test",
        ),
    )
    .await
    .unwrap();
    daemon
        .until_async(WAIT, "the introduction to be recorded", |d| {
            referrals(d) == 1
        })
        .await;
    let (status, _) = daemon.terminate();
    assert!(status.success());
}

#[tokio::test]
async fn large_mail_is_fetched_a_few_megabytes_at_a_time() {
    let mail = MailSystem::start().await.unwrap();
    // Three introductions carrying 7 MB attachments, and two plain ones.
    let attachment = "QUJDRA==\r\n".repeat(700_000);
    let mut messages = Vec::new();
    for i in 0..3 {
        messages.push(
            format!(
                "From: Bob Brown <bob@introducer.test>\r\nTo: fred{i}@parties.test, sally{i}@parties.test\r\n\
                 Cc: {TRACKING}\r\nSubject: Intro with slides {i}\r\nMessage-ID: <big-{i}@introducer.test>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nMeet each other; slides attached.\r\n\
                 --b\r\nContent-Type: application/pdf; name=\"slides.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{attachment}--b--\r\n"
            )
            .into_bytes(),
        );
    }
    for i in 0..2 {
        messages.push(intro(
            &format!("small-{i}"),
            "bob@introducer.test",
            "fred@parties.test",
            "sally@parties.test",
        ));
    }
    mail.append_many(TRACKING, "INBOX", messages).await.unwrap();
    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    daemon.log_level = "info,referrald=debug";
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "every introduction to be recorded", |d| {
            referrals(d) == 5
        })
        .await;
    // 21 MB do not travel in one batch (at most 16 MB unless one message is larger).
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("fetching 5 message(s)"))
        .unwrap_or_else(|| panic!("no fetch line in\n{log}"));
    assert!(!line.contains("in 1 batch(es)"), "{line}");
}

#[tokio::test]
async fn without_idle_new_mail_is_found_by_polling() {
    let mail = MailSystem::start().await.unwrap();
    // The same Dovecot, announcing no IDLE.
    let conf = mail.dir().join("dovecot.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(
        "\nimap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS MOVE NAMESPACE UNSELECT\n",
    );
    std::fs::write(&conf, text).unwrap();
    mail.restart_dovecot().await.unwrap();
    const POLLING: Schedule = Schedule {
        follow_up: "1h",
        poll: "1s",
    };
    let mut daemon = daemon(&mail, &POLLING);
    daemon.start(WAIT);
    // Said once the folder is selected, just after "ready".
    daemon
        .until_async(WAIT, "the daemon to say it will poll", |d| {
            d.log().contains("cannot IDLE")
        })
        .await;
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "polled",
            "bob@introducer.test",
            "fred@parties.test",
            "sally@parties.test",
        ),
    )
    .await
    .unwrap();
    daemon
        .until_async(
            Duration::from_secs(5),
            "the introduction to be found by polling",
            |d| referrals(d) == 1,
        )
        .await;
    let (status, _) = daemon.terminate();
    assert!(status.success());
}

// Pointed at a mailbox that already holds years of mail, the first start must not thank and
// follow up every old introduction. The Date header counts, but never later than the time the
// message reached the mailbox (INTERNALDATE): a message dated today that has sat there for two
// years is as old as the mailbox says. The first start says how many were history.
#[tokio::test]
async fn the_first_start_records_old_introductions_as_history_and_says_how_many() {
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &FAST);
    mail.append(
        TRACKING,
        "INBOX",
        &dated_intro(
            "old",
            "bob@introducer.test",
            "fred.old@parties.test",
            "sally.old@parties.test",
            "Tue, 5 Mar 2024 11:20:00 +0000",
        ),
    )
    .await
    .unwrap();
    mail.append_dated(
        TRACKING,
        "INBOX",
        &intro(
            "backdated",
            "carol@introducer.test",
            "fred.backdated@parties.test",
            "sally.backdated@parties.test",
        ),
        "05-Mar-2024 11:20:00 +0000",
    )
    .await
    .unwrap();
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "fresh",
            "dave@introducer.test",
            "fred.fresh@parties.test",
            "sally.fresh@parties.test",
        ),
    )
    .await
    .unwrap();
    daemon.start(WAIT);
    daemon
        .until_async(WAIT, "the first start's account", |d| {
            d.log().contains(
                "first start: read 3 message(s) already in INBOX: 3 introduction(s), 2 recorded as history (no mail), 0 message(s) skipped as too late",
            )
        })
        .await;
    // The fresh introduction's plan runs as always.
    mail.wait_for_count("dave@introducer.test", "INBOX", 1, WAIT)
        .await
        .unwrap();
    for party in ["fred.fresh@parties.test", "sally.fresh@parties.test"] {
        mail.wait_for_count(party, "INBOX", 1, WAIT).await.unwrap();
    }
    assert_eq!(
        daemon.count("SELECT count(*) FROM referrals WHERE history = 1"),
        2
    );
    assert_eq!(
        daemon.count(
            "SELECT count(*) FROM outbound o JOIN referrals r ON r.id = o.referral_id
             WHERE r.history = 1"
        ),
        0
    );
    let backdated: String = daemon.query(
        "SELECT introduced_at FROM referrals WHERE intro_message_id = 'backdated@introducer.test'",
    );
    assert_eq!(backdated, "2024-03-05T11:20:00Z");
    daemon.kill();
}

/// Harm: two daemons on one database both fetch the same introductions and both send what
/// falls due. The second `run` must refuse to start, name the first, and touch nothing; once
/// the first has stopped, a new one starts (a crash's lock never lingers).
#[tokio::test]
async fn a_second_run_on_the_same_database_refuses_and_names_the_first() {
    let mail = MailSystem::start().await.unwrap();
    let mut first = daemon(&mail, &NO_FOLLOW_UPS);
    first.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro("one", "bob@introducer.test", "fred@a.test", "sally@b.test"),
    )
    .await
    .unwrap();
    first.until(WAIT, "the introduction to be recorded", |d| {
        referrals(d) == 1
    });

    let second = first.run(&["run"]);
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{said}");
    assert!(
        said.contains("already using") && said.contains(&format!("pid {}", first.child_id())),
        "{said}"
    );
    assert_eq!(referrals(&first), 1);
    assert!(first.is_running(), "the first daemon must be left alone");

    // kill -9: the kernel drops the lock with the process; a restart is not blocked.
    first.kill();
    first.start(WAIT);
    assert!(first.is_running());
    first.kill();
}

#[tokio::test]
async fn the_owner_pauses_by_email_and_gets_exactly_one_answer_per_command() {
    // Commands by email end to end: the owner's `pause #1` arrives in the mailbox, the daemon
    // pauses the referral and answers through Postfix into the owner's Dovecot inbox, once;
    // a `status` in reply to that answer acts on the same referral and is answered once too.
    let mail = MailSystem::start().await.unwrap();
    let mut daemon = daemon(&mail, &NO_FOLLOW_UPS);
    daemon.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "commands",
            "bob@introducer.test",
            "Fred Jones <fred@parties.test>",
            "Sally Lee <sally@parties.test>",
        ),
    )
    .await
    .unwrap();
    daemon.until(WAIT, "the introduction to be recorded", |d| {
        referrals(d) == 1
    });
    let pause = format!(
        "From: Alice Smith <{OWNER}>\r\nTo: {TRACKING}\r\nSubject: pause\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <pause.1@owner.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         pause #1 2w\r\n\r\nAlice\r\n"
    );
    mail.append(TRACKING, "INBOX", pause.as_bytes())
        .await
        .unwrap();
    let answer = received(&mail, OWNER, 1, "command_reply", WAIT).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    assert_eq!(
        header(&answer, "In-Reply-To"),
        "<pause.1@owner.test>",
        "{text}"
    );
    assert_eq!(header(&answer, "Subject"), "Re: pause", "{text}");
    assert_eq!(header(&answer, "Auto-Submitted"), "auto-replied", "{text}");
    assert!(header(&answer, "To").contains(OWNER), "{text}");
    assert!(text.contains("is paused until"), "{text}");
    let paused: Option<String> = daemon.query("SELECT paused_until FROM referrals WHERE id = 1");
    assert!(paused.is_some());

    // "status" in reply to the answer: the thread names the referral.
    mail.append(
        TRACKING,
        "INBOX",
        &reply(
            &format!("Alice Smith <{OWNER}>"),
            TRACKING,
            &answer,
            "Status",
        ),
    )
    .await
    .unwrap();
    let inbox = mail.wait_for_count(OWNER, "INBOX", 2, WAIT).await.unwrap();
    let status = inbox
        .iter()
        .find(|raw| String::from_utf8_lossy(raw).contains("Waiting to go"))
        .expect("the status answer");
    let status_text = String::from_utf8_lossy(status);
    assert!(
        status_text.contains("#1 \"Intro: commands\""),
        "{status_text}"
    );
    assert!(status_text.contains("paused until"), "{status_text}");
    // Both commands answered, each once, and nothing else sent to the owner or looped back.
    daemon.until(WAIT, "both answers recorded as sent", |d| {
        d.count("SELECT count(*) FROM notices WHERE state = 'sent'") == 2
    });
    assert_eq!(daemon.count("SELECT count(*) FROM notices"), 2);
    // Counted once Postfix has delivered all it accepted, so a third answer could not still
    // be on its way.
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(mail.fetch_all(OWNER, "INBOX").await.unwrap().len(), 2);
    daemon.kill();
}

/// The daemon as a function: run in-process on a clock the test chooses (a day ahead, within
/// `late-limit` of the introduction) and stopped by the test's own shutdown future rather
/// than a signal. What it records is dated by that clock, and it sends what that clock says
/// is due.
#[tokio::test]
async fn the_daemon_runs_in_process_on_the_tests_clock_and_stops_when_told() {
    use std::sync::Arc;

    use referrald::config::Config;
    use referrald::daemon::{self, Quiet};
    use referrald::outbox::Clock;
    use referrald::store::Store;

    let mail = MailSystem::start().await.unwrap();
    let deployment = daemon(&mail, &FAST);
    let config = Config::load(&deployment.path("referrald.toml")).unwrap();
    let store = Store::open(&config.store_path()).unwrap();
    let ahead = chrono::TimeDelta::days(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let checked = daemon::Checked::new(config).await.unwrap();
    let running = tokio::spawn(daemon::run(
        checked,
        store,
        Clock::Ahead(ahead),
        async move {
            let _ = stopped.await;
            "the test is done".to_string()
        },
        Arc::new(Quiet),
    ));
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "inproc",
            "bob@introducer.test",
            "fred@a.test",
            "sally@b.test",
        ),
    )
    .await
    .unwrap();
    // A day after the introduction, by the daemon's clock, the feedback requests are due at
    // once, and the follow-ups they supersede never go.
    deployment
        .until_async(WAIT, "both feedback requests to be sent", |d| {
            d.count(
                "SELECT count(*) FROM outbound WHERE kind = 'feedback_request' AND state = 'sent'",
            ) == 2
        })
        .await;
    assert_eq!(
        deployment
            .count("SELECT count(*) FROM outbound WHERE kind = 'follow_up' AND state = 'sent'"),
        0
    );
    let recorded: String = deployment.query("SELECT created_at FROM referrals");
    let recorded = chrono::DateTime::parse_from_rfc3339(&recorded).unwrap();
    let expected = chrono::Utc::now() + ahead;
    assert!(
        (recorded.to_utc() - expected).num_minutes().abs() < 5,
        "recorded at {recorded}, expected about {expected}"
    );
    stop.send(()).unwrap();
    let stopped_in = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the daemon stops when told")
        .expect("the daemon task does not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(stopped_in.elapsed() < Duration::from_secs(15));
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(
        mail.fetch_all("fred@a.test", "INBOX").await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn the_daemon_sends_the_weekly_digest_to_the_owner_at_its_time_once() {
    // The digest end to end: `[digest] when` is set to today's weekday and a time a few seconds
    // ahead (UTC, the owner's timezone here); the daemon records an introduction, sleeps until
    // the digest's time, and sends one digest through Postfix into the owner's Dovecot inbox.
    let mail = MailSystem::start().await.unwrap();
    let due = chrono::Utc::now() + chrono::TimeDelta::seconds(12);
    let when = due.format("%a %H:%M:%S").to_string();
    let mut daemon = watching_config(&mail, &NO_FOLLOW_UPS, "")
        .with(&format!("[digest]\nwhen = \"{when}\""))
        .daemon(&mail);
    daemon.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "digest",
            "bob@introducer.test",
            "Fred Jones <fred@parties.test>",
            "Sally Lee <sally@parties.test>",
        ),
    )
    .await
    .unwrap();
    daemon.until(WAIT, "the introduction to be recorded", |d| {
        referrals(d) == 1
    });
    let digest = received(&mail, OWNER, 1, "digest", WAIT * 2).await;
    let text = String::from_utf8_lossy(&digest).to_string();
    let parsed = MessageParser::default().parse(&digest).unwrap();
    assert!(header(&digest, "To").contains(OWNER), "{text}");
    assert_eq!(
        header(&digest, "Subject"),
        "Your referrals this week",
        "{text}"
    );
    let body = parsed.body_text(0).unwrap_or_default().to_string();
    assert!(
        body.contains("#1 Bob Brown introduced Fred Jones and Sally Lee"),
        "{body}"
    );
    let html = parsed.body_html(0).unwrap_or_default().to_string();
    assert!(html.contains("<table"), "{html}");
    daemon.until(WAIT, "the digest recorded as sent", |d| {
        d.count("SELECT count(*) FROM notices WHERE kind = 'digest' AND state = 'sent'") == 1
    });
    assert_eq!(daemon.count("SELECT count(*) FROM digests"), 1);
    // Nothing else to the owner: one digest for the week, however often the daemon wakes
    // (counted once Postfix has delivered all it accepted).
    mail.wait_for_empty_queue(WAIT).await.unwrap();
    assert_eq!(mail.fetch_all(OWNER, "INBOX").await.unwrap().len(), 1);
    daemon.kill();
}

/// With a `[web]` section, `run` serves the page beside the daemon: it shows the referral the
/// daemon just recorded from the mailbox, and it goes when the daemon stops.
#[tokio::test]
async fn run_with_a_web_section_serves_the_page_of_what_it_records() {
    let mail = MailSystem::start().await.unwrap();
    // A free loopback port: bound, read and let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut daemon = watching_config(&mail, &NO_FOLLOW_UPS, "")
        .with(&format!("[web]\nlisten = \"127.0.0.1:{port}\""))
        .daemon(&mail);
    daemon.start(WAIT);
    mail.append(
        TRACKING,
        "INBOX",
        &intro(
            "served",
            "bob@introducer.test",
            "Fred Jones <fred@parties.test>",
            "Sally Lee <sally@parties.test>",
        ),
    )
    .await
    .unwrap();
    daemon.until(WAIT, "the introduction to be recorded", |d| {
        referrals(d) == 1
    });
    let get = |path: &str| support::web::request(port, "GET", path, &[], "");
    let list = get("/").expect("the page answers while run runs");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("/referrals/1"), "{}", list.body);
    assert!(list.body.contains("Fred Jones"), "{}", list.body);
    let one = get("/referrals/1").unwrap();
    assert!(one.body.contains("Sally Lee"), "{}", one.body);
    let (status, _) = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        get("/").is_err(),
        "the page goes with the daemon that served it"
    );
}
