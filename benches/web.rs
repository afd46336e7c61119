//! The web page on a big store (issue 11): 100,000 referrals recorded by `ingest`'s own code,
//! then `referrald serve` asked for every kind of page over loopback HTTP. Reported per page:
//! the median wall time of 5 requests (server time plus a loopback round trip), and the first
//! (`/people` and `/stats` are kept until the database changes). Baseline in
//! the same run: the same store read by `referrals --json` and `stats --json`. Target: every
//! page under 50 ms.
//!
//! Run: `cargo bench --bench web` (WEB_BENCH_N changes the 100,000).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use referrald::config::Config;
use referrald::source::RawMessage;
use referrald::store::Store;

const CONFIG: &str = r#"
[tracking]
address = "intros@tracker.example.org"
[owner]
name = "Alice Smith"
emails = ["alice@brightside.example"]
[intake]
accept-from = ["*@networkers.example"]
require-authentication = false
[outbound]
transport = "file"
"#;

fn introduction(i: usize) -> RawMessage {
    let text = format!(
        "From: Bob {k} <bob{k}@networkers.example>\r\n\
         To: Fred {i} <fred{i}@books.example>, Sally {s} <sally{s}@design.example>\r\n\
         Cc: intros@tracker.example.org\r\n\
         Subject: Intro: Fred {i}, meet Sally {s}\r\n\
         Date: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
         Message-ID: <bench-{i}@networkers.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n\
         Hi both, you should talk. Bob\r\n",
        k = i % 200,
        s = i % 5000,
    );
    RawMessage {
        origin: format!("bench/{i}"),
        bytes: text.into_bytes(),
        arrived_at: None,
    }
}

/// Fred's answer about introduction `i` (found by its subject, as an answer to our mail would
/// be: a reply to the introduction itself is the parties talking, not an answer): every third
/// one says they met and rates it, and every ninth one also says they did business.
fn answer(i: usize, id: &str) -> Option<RawMessage> {
    if !i.is_multiple_of(3) {
        return None;
    }
    let words = if i.is_multiple_of(9) {
        "We met last week and won the project, $2,000. Rating: 5/5"
    } else {
        "We met last week. Rating: 4/5"
    };
    let text = format!(
        "From: Fred {i} <fred{i}@books.example>\r\n\
         To: Bob <bob{k}@networkers.example>\r\n\
         Cc: intros@tracker.example.org\r\n\
         Subject: Re: Intro: Fred {i}, meet Sally {s}\r\n\
         Date: Tue, 3 Nov 2026 09:55:00 +0000\r\n\
         Message-ID: <{id}-{i}@books.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n\
         {words}\r\n",
        k = i % 200,
        s = i % 5000,
    );
    Some(RawMessage {
        origin: format!("bench/{id}/{i}"),
        bytes: text.into_bytes(),
        arrived_at: None,
    })
}

fn get(port: u16, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer");
    let status = String::from_utf8_lossy(&answer[..12.min(answer.len())])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The stats figures two ways (median of 3 each): as `stats` counts them, reading every
/// referral and building the report and the charts from them; and as the page does, from
/// counts and answers alone (`Store::figures`).
fn stats_page_parts(store: &Store, config: &Config, from: &str) {
    let max = config.intake.max_amount;
    let time = |f: &dyn Fn()| {
        median(
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    f();
                    started.elapsed()
                })
                .collect(),
        )
    };
    let whole = time(&|| {
        let referrals = store.referrals_for_report(None).expect("read");
        drop(referrald::report::build(None, &referrals, max));
    });
    let counted = time(&|| drop(store.figures(None, max).expect("figures")));
    println!(
        "/stats figures: from every referral {}, from counts and {from} {}",
        ms(whole),
        ms(counted)
    );
}

fn main() {
    let n: usize = std::env::var("WEB_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    // WEB_BENCH_KEEP: leave the database behind, for looking at query plans.
    let dir = match std::env::var_os("WEB_BENCH_KEEP") {
        Some(_) => {
            let kept = dir.keep();
            println!("database in {}", kept.display());
            kept
        }
        None => dir.path().to_path_buf(),
    };
    let config_path = dir.join("referrald.toml");
    std::fs::write(&config_path, CONFIG).expect("config");
    let config = Config::load(&config_path).expect("config");

    let started = Instant::now();
    let mut store = Store::open(&config.store_path()).expect("store");
    let t0 = Utc::now() - TimeDelta::days(400);
    let batch = 512;
    for (b, chunk) in (0..n).collect::<Vec<_>>().chunks(batch).enumerate() {
        let messages: Vec<RawMessage> = chunk.iter().map(|i| introduction(*i)).collect();
        // Spread over 400 days, so the chart has months to draw.
        let at = t0 + TimeDelta::seconds((b * batch) as i64 * 400 * 86400 / n as i64);
        store.ingest(&messages, &config, at).expect("ingest");
        // The answers a day later, once the introductions are known.
        let answers: Vec<RawMessage> = chunk.iter().filter_map(|i| answer(*i, "answer")).collect();
        store
            .ingest(&answers, &config, at + TimeDelta::days(1))
            .expect("ingest");
    }
    let (report, _) = store
        .figures(None, config.intake.max_amount)
        .expect("figures");
    println!(
        "web benchmark: {n} referrals recorded in {:.1} s, {} of them rated, {} succeeded",
        started.elapsed().as_secs_f64(),
        report.ratings,
        report.succeeded,
    );
    assert!(
        report.ratings >= n / 4,
        "the answers were not read as ratings"
    );
    // As the page does in the background after the first search finds them waiting.
    let started = Instant::now();
    let indexed = store.index_for_search().expect("index");
    println!(
        "  {indexed} referrals added to the search's index in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // As the people pages do before they read it.
    let started = Instant::now();
    let counted = store.count_for_ledger().expect("ledger");
    println!(
        "  {counted} referrals counted in the ledger in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The figures from the answers as they are, then read (as the pages do before they count).
    stats_page_parts(&store, &config, "the answers");
    let started = Instant::now();
    let read = store
        .read_answers(config.intake.max_amount)
        .expect("answers");
    println!(
        "  the answers about {read} referrals read for the figures in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    stats_page_parts(&store, &config, "the answers read");
    drop(store);

    let binary = env!("CARGO_BIN_EXE_referrald");
    let run = |args: &[&str]| {
        let started = Instant::now();
        let out = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .output()
            .expect("referrald");
        assert!(out.status.success(), "{args:?}");
        started.elapsed()
    };
    let middle = n / 2;
    let middle_id = middle.to_string();
    println!("baseline (the command line, whole process):");
    for args in [
        &["referrals", "--json"][..],
        &["referrals", "--status", "open", "--json"],
        &["stats", "--json"],
        &["show", &middle_id, "--json"],
    ] {
        let t = median((0..3).map(|_| run(args)).collect());
        println!("  {:<40} {}", args.join(" "), ms(t));
    }

    let mut server = Command::new(binary)
        .arg("--config")
        .arg(&config_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("WEB_BENCH_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let port: u16 = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let paths = [
        "/".to_string(),
        "/?page=100".into(),
        "/?status=open".into(),
        "/?person=bob7%40networkers.example".into(),
        "/?person=fred99%40books.example".into(),
        "/?q=Sally+4321".into(),
        // Harder searches: a word in every referral (page 1 and page 100), one in none, one
        // with a status, two letters (rare and common: the trigrams they begin), and one
        // letter in no referral (scanned).
        "/?q=example".into(),
        "/?q=example&page=100".into(),
        "/?q=nobody+at+all".into(),
        "/?q=Fred+9&status=open".into(),
        "/?q=zq".into(),
        "/?q=ex".into(),
        "/?q=%C3%9F".into(),
        format!("/referrals/{middle}"),
        "/people/bob7%40networkers.example".into(),
        "/people".into(),
        "/people?page=1000".into(),
        "/stats".into(),
        format!(
            "/stats?since={}",
            (Utc::now() - TimeDelta::days(200)).date_naive()
        ),
    ];
    println!("referrald serve (median of 5, over loopback HTTP):");
    for path in &paths {
        let mut times = Vec::new();
        for _ in 0..5 {
            let (status, t) = get(port, path);
            assert_eq!(status, 200, "{path}");
            times.push(t);
        }
        let first = times[0];
        let t = median(times);
        let verdict = if t <= Duration::from_millis(50) {
            "ok"
        } else {
            "OVER 50 ms"
        };
        println!(
            "  {path:<40} {:>10}  {verdict}  (first {})",
            ms(t),
            ms(first)
        );
    }
    // The first visits after a change: ten more introductions recorded (as the daemon would,
    // while the page runs), then the pages that count or index what is new.
    let mut store = Store::open(&config.store_path()).expect("store");
    let messages: Vec<RawMessage> = (n..n + 10).map(introduction).collect();
    store
        .ingest(&messages, &config, Utc::now())
        .expect("ingest");
    // And answers about ten of the old ones.
    let answers: Vec<RawMessage> = (0..30).filter_map(|i| answer(i, "again")).collect();
    store.ingest(&answers, &config, Utc::now()).expect("ingest");
    drop(store);
    println!("after 10 more referrals and 10 answers (first visit, then the median of 5):");
    for path in [
        "/people",
        "/stats",
        "/?q=Sally+4321",
        "/people/bob7%40networkers.example",
    ] {
        let mut times = Vec::new();
        for _ in 0..6 {
            let (status, t) = get(port, path);
            assert_eq!(status, 200, "{path}");
            times.push(t);
        }
        let first = times.remove(0);
        let verdict = if first <= Duration::from_millis(50) {
            "ok"
        } else {
            "OVER 50 ms"
        };
        println!(
            "  {path:<40} {:>10}  {verdict}  (then {})",
            ms(first),
            ms(median(times))
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    // Forgetting someone also merges the search's index, so the erased names leave its pages.
    let mut store = Store::open(&config.store_path()).expect("store");
    let started = Instant::now();
    store
        .forget("fred99@books.example", Utc::now())
        .expect("forget");
    println!(
        "forget one person (the index merged): {}",
        ms(started.elapsed())
    );
}
