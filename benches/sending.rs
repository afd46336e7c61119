//! Sending (SPEC §7): 1,000 due messages rendered and accepted by a local Postfix. The
//! database is prepared with 1,000 introductions whose thank-yous are due at once; then
//! `referrald run` starts and the clock runs until every one is recorded as sent (Postfix
//! said 250 to its DATA). Baseline in the same run: the same messages rendered by the same
//! composer, each sent on a fresh SMTP connection opened the stock lettre way (Nagle's
//! algorithm on), one after another. Target: ≤ 5 s.
//!
//! Run: `cargo bench --bench sending` (SENDING_BENCH_N changes the 1,000; the baseline sends
//! a fifth of them and its time is scaled up).

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Deployment, MailSystem, TRACKING, dated_intro, runtime, status_kib, stop};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use referrald::composer::Composer;
use referrald::config::Config;
use referrald::source::RawMessage;
use referrald::store::Store;

fn prepare(deployment: &Deployment, n: usize) -> Config {
    let config = Config::load(&deployment.path("referrald.toml")).expect("config");
    let mut store = Store::open(&config.store_path()).expect("store");
    // Written two hours ago: the thank-yous (an hour in) are due, and not too late.
    let written = (Utc::now() - chrono::TimeDelta::hours(2)).to_rfc2822();
    let messages: Vec<RawMessage> = (0..n)
        .map(|i| RawMessage {
            origin: format!("bench/{i}"),
            bytes: dated_intro(i, &format!("bob{}@introducer.test", i % 50), &written),
            arrived_at: None,
        })
        .collect();
    for chunk in messages.chunks(500) {
        store.ingest(chunk, &config, Utc::now()).expect("ingest");
    }
    config
}

fn main() {
    let n: usize = std::env::var("SENDING_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = runtime();
    let mail = rt.block_on(MailSystem::start()).expect("mail system");
    println!("sending benchmark: {n} due messages to a local Postfix");

    // Baseline: a fresh connection per message, sequentially.
    let base_n = (n / 5).max(1);
    let baseline_deployment = Deployment::new(&mail, TRACKING, "");
    let config = prepare(&baseline_deployment, base_n);
    let composer = Composer::new(&config).expect("composer");
    let mut store = Store::open(&config.store_path()).expect("store");
    let due = store.claim_due(&config, Utc::now()).expect("claim");
    assert_eq!(due.len(), base_n);
    let port = mail.smtp_port();
    let started = Instant::now();
    rt.block_on(async {
        for message in &due {
            let email = composer
                .compose(&message.draft, Utc::now())
                .expect("compose");
            let mut connection = AsyncSmtpConnection::connect_tokio1(
                ("127.0.0.1", port),
                Some(Duration::from_secs(60)),
                &ClientId::default(),
                None,
                None,
            )
            .await
            .expect("connect");
            connection
                .send(email.envelope(), &email.formatted())
                .await
                .expect("send");
            connection.quit().await.ok();
        }
    });
    let baseline = started.elapsed();
    let baseline_scaled = baseline.as_secs_f64() * n as f64 / base_n as f64;

    // referrald run.
    let deployment = Deployment::new(&mail, TRACKING, "");
    prepare(&deployment, n);
    let started = Instant::now();
    let child = deployment.spawn(&[("RUST_LOG", "warn")]);
    let pid = child.id();
    deployment.wait(Duration::from_secs(120), "every message sent", |d| {
        d.count("SELECT count(*) FROM outbound WHERE state = 'sent'") as usize >= n
    });
    let took = started.elapsed();
    let peak_kib = status_kib(pid, "VmHWM:");
    stop(child);
    let failed = deployment.count("SELECT count(*) FROM outbound WHERE state = 'failed'");
    assert_eq!(failed, 0);

    println!(
        "  fresh connection per message   {:>7.2} s for {n}  ({base_n} sent in {:.2} s, scaled; baseline)",
        baseline_scaled,
        baseline.as_secs_f64()
    );
    println!(
        "  referrald run                  {:>7.2} s for {n}  ({:.0} msg/s, start included; peak RSS {:.1} MB)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    println!(
        "  ratio: {:.1}x faster (target: <= 5 s)",
        baseline_scaled / took.as_secs_f64()
    );
}
