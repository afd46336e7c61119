//! One configuration for the end-to-end tests: Alice's deployment with the file transport,
//! so that a test says only what differs from it.
//!
//! Alice Smith (`alice@brightside.example`, Europe/London) tracks introductions at
//! `intros@tracker.example.org`; Bob (`bob@networkers.example`) may introduce. Mail is not
//! authenticated unless the test says [`Config::trusting`] which server stamps it.

use super::deployment::Deployment;

/// A configuration being put together; [`Config::toml`] writes it out.
#[derive(Debug, Clone)]
pub struct Config {
    tracking: String,
    owner_emails: Vec<String>,
    intake: Vec<String>,
    owner: Vec<String>,
    sections: String,
}

/// Alice's deployment as described in the module documentation.
pub fn alice() -> Config {
    Config {
        tracking: "intros@tracker.example.org".into(),
        owner_emails: vec!["alice@brightside.example".into()],
        intake: vec![
            r#"accept-from = ["bob@networkers.example"]"#.into(),
            "require-authentication = false".into(),
        ],
        owner: Vec::new(),
        sections: String::new(),
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

    /// More sections after `[outbound]` (`[schedule]`, `[templates]`…).
    pub fn with(mut self, sections: &str) -> Config {
        self.sections.push_str(sections);
        self.sections.push('\n');
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
        format!(
            "[tracking]\naddress = {tracking:?}\n\
             [owner]\nname = \"Alice Smith\"\nemails = [{emails}]\ntimezone = \"Europe/London\"\n{owner}\n\
             [intake]\n{intake}\n\
             [outbound]\ntransport = \"file\"\n{sections}",
            tracking = self.tracking,
            intake = self.intake.join("\n"),
            owner = self.owner.join("\n"),
            sections = self.sections,
        )
    }

    /// A scratch deployment with this configuration.
    pub fn deploy(&self) -> Deployment {
        Deployment::new(&self.toml())
    }
}
