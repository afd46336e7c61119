//! A scratch deployment of referrald for end-to-end tests: a configuration file in a
//! temporary directory (the database, outbox and logs land beside it) and the real binary
//! run against it.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A configuration in its own temporary directory.
pub struct Deployment {
    dir: tempfile::TempDir,
}

impl Deployment {
    /// Writes `config` as `referrald.toml` in a fresh temporary directory.
    pub fn new(config: &str) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("referrald.toml"), config).unwrap();
        Deployment { dir }
    }

    /// A path in the deployment's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `referrald --config <this deployment>`, ready for arguments.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_referrald"));
        command.arg("--config").arg(self.path("referrald.toml"));
        command
    }

    /// Runs a command to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "referrald {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Makes the mail due at `now` (RFC 3339) as the outbox does just before handing it
    /// over, and sends nothing: returns how many messages may go, now made and `scheduled`.
    pub fn make_due(&self, now: &str) -> usize {
        let config = referrald::config::Config::load(&self.path("referrald.toml")).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339(now).unwrap().to_utc();
        referrald::store::Store::open(&config.store_path())
            .unwrap()
            .plan_due(&config, now)
            .unwrap()
            .len()
    }

    /// Writes a file into the deployment's directory; returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}
