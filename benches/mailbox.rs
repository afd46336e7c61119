//! Mailbox backlog (SPEC §7): 10,000 introductions waiting in Dovecot, then `referrald run`
//! until every one is recorded and marked \Seen. Reports the time and the daemon's peak RSS
//! against a baseline measured in the same run: a classic IMAP filter (async-imap, one
//! message at a time: UID FETCH, then UID STORE) reading and flagging the same backlog in
//! its own process. Targets: ≤ 3 s and ≤ 40 MB.
//!
//! Run: `cargo bench --bench mailbox` (MAILBOX_BENCH_N changes the 10,000). With
//! `MAILBOX_BENCH_DUE=1` the introductions are two hours old and `max-per-hour` is left at its
//! default, so every one has mail due that mostly has to wait: each outbox round meets the
//! whole backlog. The run then also reports what each batch of 500 cost, from the daemon's
//! log: the last should cost no more than the first. `REFERRALD_BENCH_BIN` runs another
//! build of referrald (an older commit's) in the same setup.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Deployment, MailSystem, OWNER, TRACKING, dated_intro, intro, runtime, status_kib, stop,
};
use futures::TryStreamExt;

/// Set in the baseline's own process: the IMAP port to read from.
const BASELINE_ENV: &str = "REFERRALD_BENCH_CLASSIC_FILTER";
const BASELINE_USER: &str = "filter@tracker.test";
/// The harness's IMAP password, for the baseline's process.
const PASSWORD_ENV: &str = "REFERRALD_BENCH_PASSWORD";

fn main() {
    if let Ok(port) = std::env::var(BASELINE_ENV) {
        classic_filter(port.parse().expect("port"));
        return;
    }
    let n: usize = std::env::var("MAILBOX_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = runtime();
    let mail = rt.block_on(MailSystem::start()).expect("mail system");
    let due = std::env::var("MAILBOX_BENCH_DUE").is_ok_and(|v| v == "1");
    // Two hours ago: the thank-you (an hour after the introduction by default) is due at
    // once, the rest of the plan later, and nothing is too late.
    let today = (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc2822();
    let backlog: Vec<Vec<u8>> = (0..n)
        .map(|i| match due {
            true => dated_intro(i, "bob@introducer.test", &today),
            false => intro(i, OWNER),
        })
        .collect();
    let appending = Instant::now();
    for user in [TRACKING, BASELINE_USER] {
        rt.block_on(mail.append_many(user, "INBOX", &backlog))
            .expect("append");
    }
    println!(
        "mailbox benchmark: {n} introductions in Dovecot (appended twice in {:.1?})",
        appending.elapsed()
    );

    // Baseline: the classic filter, in a process of its own so its memory is its own.
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().expect("exe"))
        .env(BASELINE_ENV, mail.imap_port().to_string())
        .env(PASSWORD_ENV, mail.password())
        .output()
        .expect("baseline");
    let baseline = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let baseline_kib: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("baseline RSS");

    // referrald run.
    let deployment = Deployment::new(&mail, TRACKING, "");
    if due {
        let path = deployment.path("referrald.toml");
        let config = std::fs::read_to_string(&path).expect("config");
        std::fs::write(&path, config.replace("max-per-hour = 1000000\n", "")).expect("config");
    }
    let started = Instant::now();
    let child = deployment.spawn(&[("RUST_LOG", "info")]);
    let pid = child.id();
    deployment.wait(Duration::from_secs(120), "every message recorded", |d| {
        d.count("SELECT count(*) FROM messages") as usize >= n
    });
    let recorded = started.elapsed();
    let mut imap = rt.block_on(mail.imap_login(TRACKING)).expect("login");
    loop {
        let status = rt
            .block_on(imap.status("INBOX", "(UNSEEN)"))
            .expect("status");
        if status.unseen == Some(0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not all marked"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let marked = started.elapsed();
    let peak_kib = status_kib(pid, "VmHWM:");
    // What the daemon keeps once the backlog is done and it is idle again.
    std::thread::sleep(Duration::from_secs(2));
    let idle_kib = status_kib(pid, "VmRSS:");
    stop(child);
    println!(
        "    mail: {} sent, {} waiting (max-per-hour), {} planned in all",
        deployment.count("SELECT count(*) FROM outbound WHERE state = 'sent'"),
        deployment.count("SELECT count(*) FROM outbound WHERE state = 'scheduled' AND due_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"),
        deployment.count("SELECT count(*) FROM outbound"),
    );
    let referrals = deployment.count("SELECT count(*) FROM referrals");
    assert_eq!(referrals as usize, n, "every introduction is a referral");

    println!(
        "  classic filter (1 msg/exchange)  {:>7.2} s  peak RSS {:>6.1} MB   (baseline: fetch + flag only)",
        baseline.as_secs_f64(),
        baseline_kib as f64 / 1024.0
    );
    println!(
        "  referrald run                    {:>7.2} s  peak RSS {:>6.1} MB   (start, fetch, classify, record, mark)",
        marked.as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    println!(
        "    all recorded after {:.2} s, all marked \\Seen after {:.2} s (process start included)",
        recorded.as_secs_f64(),
        marked.as_secs_f64()
    );
    println!(
        "    RSS once idle again: {:.1} MB",
        idle_kib as f64 / 1024.0
    );
    println!(
        "  ratios: {:.1}x faster, {:.2}x the memory (targets: <= 3 s, <= 40 MB)",
        baseline.as_secs_f64() / marked.as_secs_f64(),
        peak_kib as f64 / baseline_kib.max(1) as f64
    );
    let log = std::fs::read_to_string(deployment.path("daemon.log")).unwrap_or_default();
    let batches = batch_costs(&log);
    if let (Some(first), Some(last)) = (batches.first(), batches.last()) {
        println!(
            "  batches of 500: {} timed, first {:.0} ms, last {:.0} ms: last/first {:.2}x (target <= 1.5x)",
            batches.len(),
            first * 1000.0,
            last * 1000.0,
            last / first.max(1e-6)
        );
    }
}

/// Seconds between consecutive "processed … message(s)" lines of the daemon's log: what each
/// recorded batch cost, the time the outbox took between them included. The first batch's
/// line has no predecessor and is not timed.
fn batch_costs(log: &str) -> Vec<f64> {
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = log
        .lines()
        .filter(|line| line.contains(" processed "))
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .collect();
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_seconds_f64())
        .collect()
}

/// The baseline: log in, then for each message UID FETCH it whole and UID STORE \Seen, one
/// exchange at a time, as a simple filter script does. Prints its own peak RSS in KiB.
/// TCP_NODELAY is on, so what it measures is one-at-a-time, not Nagle's algorithm.
fn classic_filter(port: u16) {
    let rt = runtime();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let mut client = async_imap::Client::new(tcp);
        client
            .read_response()
            .await
            .expect("greeting")
            .expect("greeting");
        let password = std::env::var(PASSWORD_ENV).expect("password");
        let mut session = client
            .login(BASELINE_USER, password)
            .await
            .map_err(|(e, _)| e)
            .expect("login");
        session.select("INBOX").await.expect("select");
        let mut uids: Vec<u32> = session
            .uid_search("ALL")
            .await
            .expect("search")
            .into_iter()
            .collect();
        uids.sort_unstable();
        let mut bytes = 0;
        for uid in uids {
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY[]")
                .await
                .expect("fetch")
                .try_collect()
                .await
                .expect("fetch");
            bytes += fetched
                .iter()
                .filter_map(|f| f.body())
                .map(<[u8]>::len)
                .sum::<usize>();
            let _: Vec<_> = session
                .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
                .await
                .expect("store")
                .try_collect()
                .await
                .expect("store");
        }
        assert!(bytes > 0);
        session.logout().await.ok();
    });
    println!("{}", status_kib(std::process::id(), "VmHWM:"));
}
