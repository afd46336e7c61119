//! Footprint (SPEC §7): `referrald run` with nothing to do. Reports start-to-READY (the
//! systemd notification, received on our own NOTIFY_SOCKET), CPU time used over 10 s of
//! idling and resident memory. Baselines in the same run: a bare process start
//! (`referrald --version`) and one IMAP login by the benchmark itself, for the start; the
//! memory of `sleep`, for the floor any process pays. Targets: ready ≤ 200 ms, idle CPU ≈ 0,
//! idle RSS ≤ 15 MB.
//!
//! Run: `cargo bench --bench idle` (IDLE_BENCH_SECS changes the 10 s).

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Deployment, MailSystem, TRACKING, cpu_time, runtime, status_kib, stop};

fn main() {
    let secs: u64 = std::env::var("IDLE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = runtime();
    let mail = rt.block_on(MailSystem::start()).expect("mail system");
    println!("idle benchmark: referrald run with an empty mailbox and nothing due");

    // Baselines.
    let started = Instant::now();
    let version = Command::new(env!("CARGO_BIN_EXE_referrald"))
        .arg("--version")
        .output()
        .expect("referrald --version");
    assert!(version.status.success());
    let bare_start = started.elapsed();
    let started = Instant::now();
    let session = rt.block_on(mail.imap_login(TRACKING)).expect("login");
    let login = started.elapsed();
    drop(session);
    let mut sleeper = Command::new("sleep").arg("2").spawn().expect("sleep");
    std::thread::sleep(Duration::from_millis(200));
    let sleep_kib = status_kib(sleeper.id(), "VmRSS:");
    let _ = sleeper.wait();

    // referrald run, with systemd's readiness protocol.
    let deployment = Deployment::new(&mail, TRACKING, "");
    let socket_path = deployment.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let started = Instant::now();
    let child = deployment.spawn(&[
        ("RUST_LOG", "warn"),
        ("NOTIFY_SOCKET", socket_path.to_str().expect("path")),
    ]);
    let mut buf = [0u8; 512];
    loop {
        let len = socket.recv(&mut buf).expect("READY=1 within 30 s");
        if String::from_utf8_lossy(&buf[..len]).contains("READY=1") {
            break;
        }
    }
    let ready = started.elapsed();
    let pid = child.id();
    // Let start-up work (the first look at the mailbox) finish before measuring idling.
    std::thread::sleep(Duration::from_secs(1));
    let cpu_before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let rss_kib = status_kib(pid, "VmRSS:");
    let peak_kib = status_kib(pid, "VmHWM:");
    stop(child);

    println!(
        "  process start (referrald --version)  {:>7.1} ms   (baseline)",
        bare_start.as_secs_f64() * 1000.0
    );
    println!(
        "  one IMAP connect + login             {:>7.1} ms   (baseline)",
        login.as_secs_f64() * 1000.0
    );
    println!(
        "  referrald run: start to READY=1      {:>7.1} ms   (target <= 200 ms)",
        ready.as_secs_f64() * 1000.0
    );
    println!(
        "  CPU time over {secs} s idle            {:>7.1} ms   ({:.3}% of a core; target ~0)",
        cpu.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 100.0 / secs as f64
    );
    println!(
        "  RSS idle {:.1} MB (peak {:.1} MB); `sleep` {:.1} MB (baseline); target <= 15 MB",
        rss_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
        sleep_kib as f64 / 1024.0
    );
}
