//! What the daemon benchmarks share: the mail-system harness, a deployment of `referrald run`
//! against it, and reading a process's CPU time and memory from /proc.

#![allow(dead_code)]

#[path = "../../tests/support/mailsys.rs"]
pub mod mailsys;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use mailsys::MailSystem;

pub const TRACKING: &str = "intros@tracker.test";
pub const OWNER: &str = "alice@owner.test";

/// A configuration for `referrald run` against `mail`, in a fresh directory.
pub struct Deployment {
    pub dir: tempfile::TempDir,
}

impl Deployment {
    pub fn new(mail: &MailSystem, user: &str, extra: &str) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("imap-password"), mail.password()).expect("password");
        let config = format!(
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
username = "{user}"
password-file = "imap-password"
[outbound]
transport = "smtp"
[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
[schedule]
follow-up-after = "1d"
owner-nudge-after = "1d"
send-window = "always"
max-per-hour = 1000000
{extra}
"#,
            imap = mail.imap_port(),
            smtp = mail.smtp_port(),
        );
        std::fs::write(dir.path().join("referrald.toml"), config).expect("config");
        Deployment { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `referrald run`; its log goes to `daemon.log`.
    pub fn spawn(&self, env: &[(&str, &str)]) -> Child {
        let log = std::fs::File::create(self.path("daemon.log")).expect("log");
        // REFERRALD_BENCH_BIN runs another build (an older commit's) against the same setup.
        let bin = std::env::var("REFERRALD_BENCH_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_referrald").to_string());
        Command::new(bin)
            .arg("--config")
            .arg(self.path("referrald.toml"))
            .arg("run")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("referrald run")
    }

    pub fn count(&self, sql: &str) -> i64 {
        let Ok(db) = rusqlite::Connection::open_with_flags(
            self.path("referrald.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return 0;
        };
        let _ = db.busy_timeout(Duration::from_secs(5));
        db.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
    }

    /// Polls until `done` holds; panics with the daemon's log after `timeout`.
    pub fn wait(&self, timeout: Duration, what: &str, done: impl Fn(&Deployment) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}\n{}",
                    std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A field of /proc/<pid>/status in KiB (VmHWM: peak resident set; VmRSS: current).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// User plus system CPU time a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

/// SIGTERM, then wait.
pub fn stop(mut child: Child) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

/// An introduction of `a` and `b` by `introducer`, copied to the tracking address.
pub fn intro(i: usize, introducer: &str) -> Vec<u8> {
    dated_intro(i, introducer, "Mon, 2 Nov 2026 09:12:44 +0000")
}

/// [`intro`] with this Date header.
pub fn dated_intro(i: usize, introducer: &str, date: &str) -> Vec<u8> {
    format!(
        "From: Bob Brown <{introducer}>\r\n\
         To: Fred Jones <fred{i}@parties.test>, Sally Lee <sally{i}@parties.test>\r\n\
         Cc: {TRACKING}\r\n\
         Subject: Intro: Fred <> Sally ({i})\r\n\
         Date: {date}\r\n\
         Message-ID: <bench-{i}@introducer.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Fred, meet Sally! Sally needs exactly what you do, and I can't think of anyone\r\n\
         better. Fred's number is 020 7946 0{i:03}. I'd love to hear how it goes.\r\n\
         \r\n\
         Bob\r\n"
    )
    .into_bytes()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
