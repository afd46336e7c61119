//! `referrald run` as a child process of a test, in a [`Deployment`], logging to
//! `daemon.log` beside its configuration. Dropping it kills the daemon (and prints its log
//! if the test is failing).

use std::ops::Deref;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::deployment::Deployment;

/// A deployment and, at most one at a time, its running daemon.
pub struct Daemon {
    deployment: Deployment,
    /// `RUST_LOG` for the daemon: `info` unless a test needs more.
    pub log_level: &'static str,
    child: Option<Child>,
    /// How many times it was started: each start appends to the same log.
    starts: usize,
}

impl Deref for Daemon {
    type Target = Deployment;

    fn deref(&self) -> &Deployment {
        &self.deployment
    }
}

impl Daemon {
    /// A deployment with this configuration; the daemon is not started.
    pub fn new(config: &str) -> Daemon {
        Daemon {
            deployment: Deployment::new(config),
            log_level: "info",
            child: None,
            starts: 0,
        }
    }

    /// Starts `referrald run` without waiting for anything.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("daemon.log"))
            .unwrap();
        let child = self
            .command()
            .arg("run")
            .env("RUST_LOG", self.log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.starts += 1;
    }

    /// Starts `referrald run` and waits until it says it is ready (database open, IMAP
    /// logged in); returns how long that took.
    pub fn start(&mut self, timeout: Duration) -> Duration {
        let started = Instant::now();
        self.spawn();
        let want = self.starts;
        self.until(timeout, "the daemon to be ready", |d| {
            d.log().matches("ready in").count() >= want
        });
        started.elapsed()
    }

    /// Everything the daemon has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// The running daemon's process id.
    pub fn child_id(&self) -> i32 {
        self.pid()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap()
    }

    /// Whether the daemon is still running.
    pub fn is_running(&mut self) -> bool {
        let child = self.child.as_mut().unwrap();
        child.try_wait().unwrap().is_none()
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit; returns the status and how long it took. Fails the
    /// test if it takes more than 15 s.
    pub fn terminate(&mut self) -> (ExitStatus, Duration) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let sent = Instant::now();
        let mut child = self.child.take().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            if sent.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                panic!(
                    "referrald did not exit within 15 s of SIGTERM\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls `ready` until it holds, or fails with the daemon's log.
    pub fn until(&self, timeout: Duration, what: &str, ready: impl Fn(&Daemon) -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\n--- daemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// [`Daemon::until`] for async tests: waits without blocking the runtime.
    pub async fn until_async(
        &self,
        timeout: Duration,
        what: &str,
        ready: impl Fn(&Daemon) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !ready(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\n--- daemon log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs a query against the daemon's database (read-only, beside the daemon).
    pub fn query<T: rusqlite::types::FromSql>(&self, sql: &str) -> T {
        let db = rusqlite::Connection::open_with_flags(
            self.path("referrald.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.busy_timeout(Duration::from_secs(5)).unwrap();
        db.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A `SELECT count(*) …` against the daemon's database.
    pub fn count(&self, sql: &str) -> i64 {
        self.query(sql)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- daemon log:\n{}", self.log());
        }
    }
}
