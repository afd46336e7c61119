//! One configuration for the end-to-end tests, so that a test says only what differs.
//!
//! [`alice`]: Alice Smith (`alice@brightside.example`, Europe/London) tracks introductions at
//! `intros@tracker.example.org`; Bob (`bob@networkers.example`) may introduce; mail is
//! written to files. [`on_harness`]: the same Alice on the harness's mail system
//! (tests/support/mailsys.rs), at `.test` addresses, ready to watch its Dovecot
//! ([`Config::imap`]) and send through its Postfix ([`Config::smtp`]).
//! Mail is not authenticated unless the test says [`Config::trusting`] which server stamps it.

use super::daemon::Daemon;
use super::deployment::Deployment;
use super::mailsys::MailSystem;

/// A configuration being put together; [`Config::toml`] writes it out.
#[derive(Debug, Clone)]
pub struct Config {
    tracking: String,
    owner_emails: Vec<String>,
    timezone: Option<String>,
    intake: Vec<String>,
    owner: Vec<String>,
    /// `[imap]`'s keys, when it watches a mailbox.
    imap: Option<String>,
    /// `[outbound]`'s keys.
    outbound: Vec<String>,
    /// `[smtp]`'s keys, when it sends by SMTP.
    smtp: Option<String>,
    sections: String,
}

/// Alice's deployment as described in the module documentation.
pub fn alice() -> Config {
    Config {
        tracking: "intros@tracker.example.org".into(),
        owner_emails: vec!["alice@brightside.example".into()],
        timezone: Some("Europe/London".into()),
        intake: vec![
            r#"accept-from = ["bob@networkers.example"]"#.into(),
            "require-authentication = false".into(),
        ],
        owner: Vec::new(),
        imap: None,
        outbound: vec![r#"transport = "file""#.into()],
        smtp: None,
        sections: String::new(),
    }
}

/// The address Alice tracks at on the harness.
pub const HARNESS_TRACKING: &str = "intros@tracker.test";
/// Alice's own address on the harness.
pub const HARNESS_OWNER: &str = "alice@owner.test";

/// Alice on the harness's mail system: tracking at [`HARNESS_TRACKING`], herself
/// [`HARNESS_OWNER`], anyone at `introducer.test` may introduce; the timezone is the default.
pub fn on_harness() -> Config {
    Config {
        tracking: HARNESS_TRACKING.into(),
        owner_emails: vec![HARNESS_OWNER.into()],
        timezone: None,
        intake: vec![
            r#"accept-from = ["*@introducer.test"]"#.into(),
            "require-authentication = false".into(),
        ],
        ..alice()
    }
}

impl Config {
    /// Authentication on (the default), believing `authserv_id`'s `Authentication-Results`.
    pub fn trusting(mut self, authserv_id: &str) -> Config {
        self.intake
            .retain(|line| !line.starts_with("require-authentication"));
        self.intake
            .push(format!(r#"trusted-authserv-ids = ["{authserv_id}"]"#));
        self
    }

    /// Another line for `[intake]` (a key not written yet).
    pub fn intake(mut self, line: &str) -> Config {
        self.intake.push(line.to_string());
        self
    }

    /// Another line for `[owner]` (`about = "…"`, `from-name = "…"`).
    pub fn owner(mut self, line: &str) -> Config {
        self.owner.push(line.to_string());
        self
    }

    /// Tracks introductions at `address` instead.
    pub fn tracking(mut self, address: &str) -> Config {
        self.tracking = address.to_string();
        self
    }

    /// These addresses are Alice's.
    pub fn owner_emails(mut self, emails: &[&str]) -> Config {
        self.owner_emails = emails.iter().map(|e| e.to_string()).collect();
        self
    }

    /// `[outbound]` as given (its keys, and any sections that follow it).
    pub fn outbound(mut self, keys: &str) -> Config {
        self.outbound = vec![keys.to_string()];
        self
    }

    /// More sections, after all the others (`[schedule]`, `[templates]`…).
    pub fn with(mut self, sections: &str) -> Config {
        self.sections.push_str(sections);
        self.sections.push('\n');
        self
    }

    /// Watches `mail`'s Dovecot as the tracking address, with `extra` `[imap]` keys; the
    /// password is the harness's, written by [`Config::daemon`].
    pub fn imap(self, mail: &MailSystem, extra: &str) -> Config {
        let keys = format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n{extra}",
            mail.imap_port()
        );
        self.imap_keys(&keys)
    }

    /// `[imap]` as given, plus the tracking address as user and `imap-password` as password
    /// file (for servers a test sets up itself).
    pub fn imap_keys(mut self, keys: &str) -> Config {
        self.imap = Some(format!(
            "{}\nusername = {:?}\npassword-file = \"imap-password\"\n",
            keys.trim_end(),
            self.tracking
        ));
        self
    }

    /// Sends through `mail`'s Postfix, retrying after 1 s and then every 2 s.
    pub fn smtp(self, mail: &MailSystem) -> Config {
        let keys = format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            mail.smtp_port()
        );
        self.smtp_keys(&keys)
    }

    /// Sends by SMTP with these `[smtp]` keys, retrying after 1 s and then every 2 s.
    pub fn smtp_keys(mut self, keys: &str) -> Config {
        self.outbound = vec![
            r#"transport = "smtp""#.into(),
            r#"retry-initial = "1s""#.into(),
            r#"retry-max = "2s""#.into(),
        ];
        self.smtp = Some(keys.to_string());
        self
    }

    /// The configuration file's text.
    pub fn toml(&self) -> String {
        let emails = self
            .owner_emails
            .iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut toml = format!(
            "[tracking]\naddress = {:?}\n[owner]\nname = \"Alice Smith\"\nemails = [{emails}]\n",
            self.tracking
        );
        if let Some(tz) = &self.timezone {
            toml += &format!("timezone = {tz:?}\n");
        }
        for line in &self.owner {
            toml += &format!("{line}\n");
        }
        toml += &format!("[intake]\n{}\n", self.intake.join("\n"));
        if let Some(imap) = &self.imap {
            toml += &format!("[imap]\n{imap}");
        }
        toml += &format!("[outbound]\n{}\n", self.outbound.join("\n"));
        if let Some(smtp) = &self.smtp {
            toml += &format!("[smtp]\n{smtp}");
        }
        toml + &self.sections
    }

    /// A daemon deployment with this configuration, the harness's IMAP password written.
    pub fn daemon(&self, mail: &MailSystem) -> Daemon {
        self.daemon_with_password(mail.password())
    }

    /// A daemon deployment with this configuration and this IMAP password.
    pub fn daemon_with_password(&self, password: &str) -> Daemon {
        let daemon = Daemon::new(&self.toml());
        daemon.write("imap-password", format!("{password}\n"));
        daemon
    }

    /// The configuration as referrald reads it, relative paths taken from `base_dir`.
    pub fn parse(&self, base_dir: &std::path::Path) -> referrald::config::Config {
        referrald::config::Config::parse(&self.toml(), "test.toml", base_dir.to_path_buf()).unwrap()
    }

    /// A scratch deployment with this configuration.
    pub fn deploy(&self) -> Deployment {
        Deployment::new(&self.toml())
    }
}
