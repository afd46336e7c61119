//! Intake throughput (SPEC §7): introductions parsed, classified and recorded per second,
//! against two baselines measured in the same run — mail-parser parsing alone, and the same
//! pipeline recording one message per transaction — so the results are ratios that hold on a
//! noisy machine. Also reports peak memory after a small and a large run, which should be
//! about the same: intake streams, it does not accumulate.
//!
//! These rates are per second of CPU time this process used (user + system, both threads of
//! a batch classified ahead): what a message costs, far less disturbed by other work on a
//! shared machine than wall time.
//!
//! The introductions carry the `Authentication-Results` a receiving server adds, and the
//! configuration checks them, as it does by default.
//!
//! Then the whole process, as issue 9 measures it: `referrald ingest` of the same
//! introductions written to files, against two baselines in the same run that read the same
//! files: mail-parser alone, and a plain recorder (parse, then contacts, a referral, its
//! participants, its Message-ID and one outbound row per party, 500 to a transaction, with
//! referrald's own SQLite settings). Each runs three times and the fastest counts. The bars,
//! in wall time (`ingest` classifies on a second core while it records): `ingest` at least
//! 1.5× the plain recorder and 40 % of mail-parser. CPU-time rates are shown beside them.
//!
//! Run: `cargo bench --bench intake` (N=20000 by default; set INTAKE_BENCH_N to change it;
//! INTAKE_BENCH_FILES=0 leaves out the whole-process part; INTAKE_BENCH_WRITE=DIR only writes
//! the introductions and a configuration to DIR, for profiling `referrald ingest` by hand).

use std::time::Duration;

use chrono::{TimeZone, Utc};
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
trusted-authserv-ids = ["mx.tracker.example.org"]
[outbound]
transport = "file"
"#;

const FIRST: &[&str] = &[
    "Fred", "Sally", "José", "Zoë", "Priya", "Tom", "Ana", "Wei", "Olu", "Kim",
];
const LAST: &[&str] = &[
    "Jones", "Lee", "Müller", "Okafor", "Patel", "Ng", "Smith", "García",
];

/// A realistic two-party introduction as Gmail sends it (multipart/alternative, a few
/// paragraphs, a signature, about 3 KB), different for each `i`.
fn introduction(i: usize) -> RawMessage {
    let a = FIRST[i % FIRST.len()];
    let b = FIRST[(i / 7 + 3) % FIRST.len()];
    let la = LAST[i % LAST.len()];
    let lb = LAST[(i / 3 + 1) % LAST.len()];
    let body = format!(
        "Hi {a} and {b},\r\n\r\n\
         I'm delighted to introduce you two. {b} runs a growing design studio and has just\r\n\
         taken on two new employees, so payroll and VAT have suddenly become very real. {a} is\r\n\
         the best bookkeeper I know: she has looked after my books for six years and has never\r\n\
         once missed a deadline, which is more than I can say for myself.\r\n\r\n\
         {b}, {a}'s number is 020 7946 0{i:03} and she is expecting your call this week.\r\n\
         {a}, {b} would love to hear about your fixed-fee packages for small studios.\r\n\r\n\
         I'd love to hear how it goes!\r\n\r\nBest,\r\nBob\r\n\r\n-- \r\n\
         Bob Brown | Partner, Networkers Ltd\r\nM: +44 7700 900{k:03} | www.networkers.example\r\n",
        k = i % 1000,
    );
    let html = body.replace("\r\n\r\n", "</p><p>").replace("\r\n", " ");
    let text = format!(
        "Return-Path: <bob{k}@networkers.example>\r\n\
         Delivered-To: intros@tracker.example.org\r\n\
         Authentication-Results: mx.tracker.example.org;\r\n\
         \tdkim=pass (2048-bit key) header.d=networkers.example header.i=@networkers.example header.b=\"dGhpcy\";\r\n\
         \tspf=pass (mx.tracker.example.org: domain of bob{k}@networkers.example designates 209.85.220.41 as permitted sender) smtp.mailfrom=bob{k}@networkers.example;\r\n\
         \tdmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=networkers.example\r\n\
         Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])\r\n\
         \tby mx.tracker.example.org with ESMTPS id abc{i}\r\n\
         \tfor <intros@tracker.example.org>; Mon, 02 Nov 2026 09:12:45 +0000\r\n\
         DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=networkers.example; s=20230601;\r\n\
         \th=to:subject:message-id:date:from:mime-version; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\
         \tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSBsZW5ndGggb2Ygb25l\r\n\
         MIME-Version: 1.0\r\n\
         From: Bob Brown <bob{k}@networkers.example>\r\n\
         Date: Mon, 2 Nov 2026 09:12:44 +0000\r\n\
         Message-ID: <CAF{i:08}bench+x@mail.gmail.com>\r\n\
         Subject: Intro: {a} <> {b}\r\n\
         To: {a} {la} <{a_l}.{i}@clients.example>, {b} {lb} <{b_l}.{i}@suppliers.example>\r\n\
         Cc: intros@tracker.example.org\r\n\
         Content-Type: multipart/alternative; boundary=\"000000000000b{i}\"\r\n\r\n\
         --000000000000b{i}\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n{body}\r\n\
         --000000000000b{i}\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\r\n\
         <div dir=\"ltr\"><p>{html}</p></div>\r\n\
         --000000000000b{i}--\r\n",
        k = i % 50,
        a_l = a.to_lowercase(),
        b_l = b.to_lowercase(),
    );
    RawMessage {
        origin: format!("bench/{i}.eml"),
        bytes: text.into_bytes(),
        arrived_at: None,
    }
}

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time (user + system) used so far by the children this process has waited for.
fn children_cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The plain recorder's tables: what an introduction minimally is.
const PLAIN_SCHEMA: &str = "
    CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
    CREATE TABLE referrals (id INTEGER PRIMARY KEY, subject TEXT NOT NULL,
        created_at TEXT NOT NULL, status TEXT NOT NULL);
    CREATE TABLE participants (referral_id INTEGER NOT NULL, contact_id INTEGER NOT NULL,
        role TEXT NOT NULL, PRIMARY KEY (referral_id, contact_id));
    CREATE TABLE messages (message_id TEXT PRIMARY KEY, referral_id INTEGER NOT NULL);
    CREATE TABLE outbound (id INTEGER PRIMARY KEY, referral_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL, kind TEXT NOT NULL, due_at TEXT NOT NULL);
    CREATE INDEX outbound_due ON outbound (due_at);
";

/// Reads, parses and records `files` the plain way; returns how many were recorded.
fn plain_recorder(files: &[std::path::PathBuf], db: &std::path::Path) -> usize {
    let mut conn = rusqlite::Connection::open(db).expect("db");
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(PLAIN_SCHEMA).expect("schema");
    let mut recorded = 0;
    for chunk in files.chunks(500) {
        let tx = conn.transaction().expect("tx");
        for path in chunk {
            let bytes = std::fs::read(path).expect("read");
            let Some(m) = mail_parser::MessageParser::default().parse(&bytes) else {
                continue;
            };
            let person = |a: &mail_parser::Addr| {
                (
                    a.address().unwrap_or_default().to_lowercase(),
                    a.name().unwrap_or_default().to_string(),
                )
            };
            let Some(from) = m.from().and_then(|f| f.first()).map(person) else {
                continue;
            };
            let parties: Vec<(String, String)> = m
                .to()
                .map(|t| t.iter().map(person).collect())
                .unwrap_or_default();
            let contact = |tx: &rusqlite::Transaction, (email, name): &(String, String)| -> i64 {
                tx.prepare_cached(
                    "INSERT INTO contacts (email, name) VALUES (?1, ?2)
                     ON CONFLICT (email) DO UPDATE SET name = excluded.name RETURNING id",
                )
                .unwrap()
                .query_row((email, name), |r| r.get(0))
                .unwrap()
            };
            let referral: i64 = tx
                .prepare_cached(
                    "INSERT INTO referrals (subject, created_at, status)
                     VALUES (?1, '2026-11-02T10:00:00Z', 'open') RETURNING id",
                )
                .unwrap()
                .query_row([m.subject().unwrap_or_default()], |r| r.get(0))
                .unwrap();
            tx.prepare_cached("INSERT INTO messages (message_id, referral_id) VALUES (?1, ?2)")
                .unwrap()
                .execute((m.message_id().unwrap_or_default(), referral))
                .unwrap();
            let introducer = contact(&tx, &from);
            tx.prepare_cached(
                "INSERT INTO participants (referral_id, contact_id, role) VALUES (?1, ?2, 'introducer')",
            )
            .unwrap()
            .execute((referral, introducer))
            .unwrap();
            for party in &parties {
                let id = contact(&tx, party);
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO participants (referral_id, contact_id, role)
                     VALUES (?1, ?2, 'party')",
                )
                .unwrap()
                .execute((referral, id))
                .unwrap();
                tx.prepare_cached(
                    "INSERT INTO outbound (referral_id, contact_id, kind, due_at)
                     VALUES (?1, ?2, 'follow_up', '2026-11-05T09:00:00Z')",
                )
                .unwrap()
                .execute((referral, id))
                .unwrap();
            }
            recorded += 1;
        }
        tx.commit().expect("commit");
    }
    recorded
}

/// Wall and CPU time of one run of something.
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// The fastest of `RUNS` runs, by wall time: on a shared machine the least disturbed one.
fn fastest(mut run: impl FnMut(usize) -> Took) -> Took {
    (0..RUNS)
        .map(&mut run)
        .min_by_key(|took| took.wall)
        .expect("at least one run")
}

const RUNS: usize = 3;

/// Times `work` in this process.
fn took_here(work: impl FnOnce()) -> Took {
    let (wall, cpu) = (std::time::Instant::now(), cpu_time());
    work();
    Took {
        wall: wall.elapsed(),
        cpu: cpu_time() - cpu,
    }
}

/// `referrald ingest` of `n` introductions in files, whole process, against reading and
/// parsing the same files, and the plain recorder. Each is run three times and the fastest
/// run counts; the bars are judged in wall time, what someone waiting for `ingest` sees
/// (ingest classifies on a second core while it records), and the CPU time is shown beside.
fn whole_process(n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).expect("mail dir");
    let files: Vec<std::path::PathBuf> = (0..n)
        .map(|i| {
            let path = mail.join(format!("{i:05}.eml"));
            std::fs::write(&path, introduction(i).bytes).expect("write");
            path
        })
        .collect();

    let parse = fastest(|_| {
        took_here(|| {
            let parsed = files
                .iter()
                .filter(|p| {
                    let bytes = std::fs::read(p).expect("read");
                    mail_parser::MessageParser::default()
                        .parse(&bytes)
                        .is_some()
                })
                .count();
            assert_eq!(parsed, n);
        })
    });

    let plain = fastest(|run| {
        let db = dir.path().join(format!("plain-{run}.db"));
        took_here(|| assert_eq!(plain_recorder(&files, &db), n))
    });

    let ingest = fastest(|run| {
        let config = dir.path().join(format!("referrald-{run}.toml"));
        std::fs::write(
            &config,
            format!(
                "{CONFIG}[store]\npath = {:?}\n",
                dir.path().join(format!("referrald-{run}.db"))
            ),
        )
        .expect("config");
        let (wall, cpu) = (std::time::Instant::now(), children_cpu_time());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_referrald"))
            .arg("--config")
            .arg(&config)
            .args(["ingest", "--now", "2026-11-02T10:00:00Z"])
            .args(&files)
            .output()
            .expect("referrald ingest");
        let took = Took {
            wall: wall.elapsed(),
            cpu: children_cpu_time() - cpu,
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8_lossy(&out.stdout);
        let last = summary.lines().last().unwrap_or_default();
        assert!(
            last.ends_with(&format!("{n} messages: {n} introduction"))
                || last.ends_with(&format!("{n} messages: {n} introductions")),
            "every file must be recorded as an introduction: {last}"
        );
        took
    });

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("whole process, {n} introductions in files, fastest of {RUNS} runs");
    println!("                                 per second      per second of CPU time");
    for (name, took) in [
        ("mail-parser, read and parse", parse),
        ("plain recorder", plain),
        ("referrald ingest", ingest),
    ] {
        println!(
            "  {name:<28} {:>10.0} msg/s   {:>10.0} msg/s",
            rate(took.wall),
            rate(took.cpu)
        );
    }
    println!(
        "  ratios: {:.2}x the plain recorder (bar 1.5), {:.2}x mail-parser (bar 0.40); \
         in CPU time {:.2}x and {:.2}x",
        rate(ingest.wall) / rate(plain.wall),
        rate(ingest.wall) / rate(parse.wall),
        rate(ingest.cpu) / rate(plain.cpu),
        rate(ingest.cpu) / rate(parse.cpu),
    );
}

/// Records `n` introductions in batches of `batch`; returns messages per second.
fn record(config: &Config, n: usize, batch: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(&dir.path().join("bench.db")).expect("store");
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
    let start = cpu_time();
    let mut done = 0;
    while done < n {
        let messages: Vec<RawMessage> = (done..(done + batch).min(n)).map(introduction).collect();
        let applied = store.ingest(&messages, config, now).expect("ingest");
        let recorded = applied
            .iter()
            .filter(|a| matches!(&a.result, Ok(r) if r.classified.verdict.kind() == "introduction"))
            .count();
        assert_eq!(
            recorded,
            messages.len(),
            "every message must be recorded as an introduction"
        );
        done += messages.len();
    }
    n as f64 / (cpu_time() - start).as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("INTAKE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let config = Config::parse(CONFIG, "bench", ".".into()).expect("config");
    if let Some(dir) = std::env::var_os("INTAKE_BENCH_WRITE") {
        // For profiling `referrald ingest` by hand: write the introductions and the
        // configuration to a directory and stop.
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(dir.join("mail")).expect("mail dir");
        for i in 0..n {
            std::fs::write(dir.join(format!("mail/{i:05}.eml")), introduction(i).bytes)
                .expect("write");
        }
        let store = dir.join("referrald.db");
        std::fs::write(
            dir.join("referrald.toml"),
            format!("{CONFIG}[store]\npath = {store:?}\n"),
        )
        .expect("config");
        return;
    }

    // Baseline 1: mail-parser alone.
    let start = cpu_time();
    let mut parsed = 0;
    for i in 0..n {
        let m = introduction(i);
        if mail_parser::MessageParser::default()
            .parse(&m.bytes)
            .is_some()
        {
            parsed += 1;
        }
    }
    let parse_rate = parsed as f64 / (cpu_time() - start).as_secs_f64();
    // Parsing and classifying, against an empty store: what intake adds before recording.
    let empty = Store::open_in_memory().expect("store");
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
    let start = cpu_time();
    for i in 0..n {
        let m = introduction(i);
        let c = referrald::intake::classify(&m.bytes, &empty.view(), &config, now);
        assert_eq!(c.verdict.kind(), "introduction");
    }
    let classify_rate = n as f64 / (cpu_time() - start).as_secs_f64();

    if let Ok(batch) = std::env::var("INTAKE_BENCH_BATCH") {
        // For tuning: only the batched recorder, with another batch size.
        let batch = batch.parse().expect("INTAKE_BENCH_BATCH is a number");
        println!("batches of {batch}: {:.0} msg/s", record(&config, n, batch));
        return;
    }

    // Baseline 2: the same pipeline, one transaction per message.
    let naive_n = (n / 4).max(1);
    let naive_rate = record(&config, naive_n, 1);

    // referrald: batches of 512 per transaction, as `ingest` and the IMAP watcher do.
    let small = record(&config, n / 4, 512);
    let rss_small = peak_rss_kib();
    let rate = record(&config, n, 512);
    let rss_large = peak_rss_kib();

    println!("intake benchmark, {n} introductions, per second of CPU time");
    println!("  mail-parser parse only        {parse_rate:>10.0} msg/s   (baseline)");
    println!("  parse + classify              {classify_rate:>10.0} msg/s");
    println!(
        "  record, 1 msg/transaction     {naive_rate:>10.0} msg/s   (baseline, {naive_n} msgs)"
    );
    println!("  record, 512 msgs/transaction  {rate:>10.0} msg/s");
    println!("  ({:.0} msg/s on a quarter of the run)", small);
    println!(
        "  ratios: {:.2}x mail-parser alone, {:.1}x one-per-transaction",
        rate / parse_rate,
        rate / naive_rate
    );
    println!(
        "  peak RSS: {} KiB after {} msgs, {} KiB after {} more",
        rss_small,
        n / 4,
        rss_large,
        n
    );
    if std::env::var("INTAKE_BENCH_FILES").as_deref() != Ok("0") {
        whole_process(n.min(10_000));
    }
}
