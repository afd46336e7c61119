//! The configuration file (SPEC §5): TOML with kebab-case keys, unknown keys rejected with
//! the key and its line, durations written like `"2d"`, the owner's timezone by IANA name,
//! and secrets read from a file or a command rather than written into the file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::model::normalize_email;

mod oauth2;
pub use oauth2::{Auth, Endpoints, Flow, OAuth2, Provider};

/// A configuration that cannot be used, described in one sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The dedicated mailbox introducers copy.
    pub tracking: Tracking,
    /// Whose referrals these are; outbound mail goes out under this name.
    pub owner: Owner,
    /// Who may introduce, and who is never a party.
    #[serde(default)]
    pub intake: Intake,
    /// Where the database lives.
    #[serde(default)]
    pub store: Store,
    /// The mailbox to watch (only `run` and `doctor` need it).
    pub imap: Option<Imap>,
    /// How outbound mail leaves.
    #[serde(default)]
    pub outbound: Outbound,
    /// The submission server (needed when `outbound.transport = "smtp"`).
    pub smtp: Option<Smtp>,
    /// When each message of the plan goes out.
    #[serde(default)]
    pub schedule: Schedule,
    /// Where to find templates that override the built-in ones.
    #[serde(default)]
    pub templates: Templates,
    /// Where bearer tokens come from, for `auth = "oauth2"`.
    pub oauth2: Option<OAuth2>,
    /// The configuration file itself, when it was read from one (for advice like
    /// `referrald login --config <file>`).
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// The weekly digest to the owner.
    #[serde(default)]
    pub digest: Digest,
    /// `referrald serve`: where the web page listens, and its token. When the section is
    /// written, `run` serves the page too.
    #[serde(default, deserialize_with = "Web::written")]
    pub web: Web,
    /// The directory relative paths in the file are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[web]`: the page `referrald serve` shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Web {
    /// Address and port; loopback unless a token protects it.
    #[serde(default = "Web::default_listen")]
    pub listen: std::net::SocketAddr,
    /// A file whose first line is the token every request must show (required off loopback).
    pub token_file: Option<PathBuf>,
    /// Whether the configuration has a `[web]` section: then `run` serves the page as well.
    #[serde(skip)]
    pub in_run: bool,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: Web::default_listen(),
            token_file: None,
            in_run: false,
        }
    }
}

impl Web {
    /// Reads a `[web]` section that is there (serde asks only then): `run` serves it too.
    fn written<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Web, D::Error> {
        Ok(Web {
            in_run: true,
            ..Web::deserialize(d)?
        })
    }

    fn default_listen() -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], 8025))
    }

    /// Whether `listen` is reachable only from this machine: else a token is required.
    pub fn check(
        listen: std::net::SocketAddr,
        token_file: Option<&Path>,
    ) -> Result<(), ConfigError> {
        if !listen.ip().is_loopback() && token_file.is_none() {
            return Err(ConfigError(format!(
                "web.listen = \"{listen}\" is reachable from other machines: set web.token-file (a file holding a long random token), or listen on 127.0.0.1"
            )));
        }
        Ok(())
    }
}

/// `[tracking]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Tracking {
    /// The tracking address, e.g. `intros@tracker.example.org`.
    pub address: String,
}

impl Tracking {
    /// The domain of the tracking address: our Message-IDs are minted on it.
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or(&self.address)
    }
}

/// `[owner]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Owner {
    /// The display name outbound mail is sent under.
    pub name: String,
    /// Every address the owner writes from.
    #[serde(default)]
    pub emails: Vec<String>,
    /// The owner's timezone (IANA name): the send window and "one a day" are reckoned in it.
    #[serde(default = "default_timezone", deserialize_with = "de_timezone")]
    pub timezone: Tz,
    /// The From display name of mail to others; default "<name> via referrald", which says
    /// it is the owner's tracker rather than the owner writing from another domain.
    #[serde(default)]
    pub from_name: Option<String>,
    /// One clause on who the owner is, for people who do not know her ("I run the Brightside
    /// referral circle").
    #[serde(default)]
    pub about: Option<String>,
}

impl Owner {
    /// The From display name of mail to people other than the owner.
    pub fn from_name(&self) -> String {
        match self.from_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => format!("{} via referrald", self.name),
        }
    }

    /// Whether `email` (already lower-cased) is one of the owner's addresses.
    pub fn is_owner(&self, email: &str) -> bool {
        self.emails.iter().any(|e| e == email)
    }
}

/// `[intake]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Intake {
    /// Addresses and `*@domain` patterns allowed to introduce. The owner always may.
    #[serde(default)]
    pub accept_from: Vec<String>,
    /// Addresses that are never parties: assistants, CRM BCC addresses.
    #[serde(default)]
    pub never_party: Vec<String>,
    /// Require DMARC pass or aligned DKIM from a trusted `Authentication-Results`. On
    /// unless the file says `require-authentication = false`.
    #[serde(default = "default_require_authentication")]
    pub require_authentication: bool,
    /// The authserv-ids whose `Authentication-Results` are believed: names, `*.domain`
    /// for any host under a domain, or `no-authserv-id` for Microsoft 365's fields.
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    /// Introductions naming more parties than this are ignored (mass mail, not a referral).
    #[serde(default = "default_max_parties")]
    pub max_parties: usize,
    /// An amount of business above this, in any currency, is kept as the person's words but
    /// never summed into closed business: "$999,999,999,999" is a joke or a typo.
    #[serde(default = "default_max_amount")]
    pub max_amount: f64,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            accept_from: Vec::new(),
            never_party: Vec::new(),
            require_authentication: default_require_authentication(),
            trusted_authserv_ids: Vec::new(),
            max_parties: default_max_parties(),
            max_amount: default_max_amount(),
        }
    }
}

impl Intake {
    /// Whether `email` (lower-cased) matches an `accept-from` entry.
    pub fn accepts(&self, email: &str) -> bool {
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.accept_from
            .iter()
            .any(|pattern| match pattern.strip_prefix("*@") {
                Some(d) => d == domain,
                None => pattern == email,
            })
    }
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Store {
    /// The SQLite database file; relative paths are resolved against the config file's directory.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            path: default_store_path(),
        }
    }
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tls {
    /// TLS from the first byte (IMAP 993, SMTP 465).
    Implicit,
    /// A plain connection upgraded with STARTTLS (IMAP 143, SMTP 587).
    Starttls,
    /// No encryption at all: allowed only to a loopback address.
    None,
}

/// A password written inline in the file (discouraged: prefer a file or a command).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password itself, not even in debug logs.
        f.write_str("\"***\"")
    }
}

/// Where a password comes from: written inline, a file, or a command's output.
#[derive(Debug, Clone, Copy)]
pub struct Secret<'a> {
    password: Option<&'a Password>,
    file: Option<&'a Path>,
    command: Option<&'a str>,
}

impl Secret<'_> {
    /// Reads the password from wherever the configuration says it is.
    pub fn reveal(&self, base_dir: &Path) -> Result<String, ConfigError> {
        if let Some(Password(p)) = self.password {
            return Ok(p.clone());
        }
        if let Some(file) = self.file {
            let path = config_file_path("password file", file, base_dir)?;
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError(format!("cannot read password file {}: {e}", path.display()))
            })?;
            let password = first_line(&text);
            // The package creates the service's password files empty (the unit needs them
            // to exist): say so rather than log in with nothing.
            if password.is_empty() {
                return Err(ConfigError(format!(
                    "password file {} is empty: write the password into its first line (with the package: /etc/referrald/imap-password or smtp-password)",
                    path.display()
                )));
            }
            return Ok(password);
        }
        if let Some(cmd) = self.command {
            let out = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .output()
                .map_err(|e| ConfigError(format!("cannot run password command: {e}")))?;
            if !out.status.success() {
                return Err(ConfigError(format!(
                    "password command exited with {}",
                    out.status
                )));
            }
            return Ok(first_line(&String::from_utf8_lossy(&out.stdout)));
        }
        Err(ConfigError("no password configured".into()))
    }

    /// [`Secret::check`] for a section that logs in with `auth`: a password for `password`,
    /// none for `oauth2` (a password left there would be a mistake, never used).
    fn check_for(&self, section: &str, auth: Auth) -> Result<(), ConfigError> {
        match auth {
            Auth::Password => self.check(section),
            Auth::Oauth2
                if self.password.is_none() && self.file.is_none() && self.command.is_none() =>
            {
                Ok(())
            }
            Auth::Oauth2 => Err(ConfigError(format!(
                "[{section}] auth = \"oauth2\" takes no password, password-file or password-command: the token comes from [oauth2]"
            ))),
        }
    }

    fn check(&self, section: &str) -> Result<(), ConfigError> {
        let given = usize::from(self.password.is_some())
            + usize::from(self.file.is_some())
            + usize::from(self.command.is_some());
        match given {
            1 => Ok(()),
            0 => Err(ConfigError(format!(
                "[{section}] needs one of password-file, password-command or password"
            ))),
            _ => Err(ConfigError(format!(
                "[{section}] takes only one of password-file, password-command and password"
            ))),
        }
    }
}

/// Where a file named in the configuration (a password file, a `ca-file`; `what` names it
/// in errors) is: a leading `%d/` expanded, then resolved against the config file's
/// directory.
fn config_file_path(what: &str, file: &Path, base_dir: &Path) -> Result<PathBuf, ConfigError> {
    credential_path(what, file, std::env::var_os("CREDENTIALS_DIRECTORY"))
        .map(|path| resolve(base_dir, &path))
}

/// Expands a leading `%d/` in a file's path to systemd's credentials directory
/// (`$CREDENTIALS_DIRECTORY`, where `LoadCredential=` puts secrets), as systemd's own `%d`
/// specifier does in unit files. Only a leading `%d` is special, so no other path changes.
fn credential_path(
    what: &str,
    file: &Path,
    credentials_dir: Option<std::ffi::OsString>,
) -> Result<PathBuf, ConfigError> {
    let Ok(rest) = file.strip_prefix("%d") else {
        return Ok(file.to_path_buf());
    };
    match credentials_dir.filter(|d| !d.is_empty()) {
        Some(dir) => Ok(Path::new(&dir).join(rest)),
        None => Err(ConfigError(format!(
            "{what} {} names the systemd credentials directory (%d), but $CREDENTIALS_DIRECTORY is not set: run referrald under systemd with LoadCredential=, or give the file's real path",
            file.display()
        ))),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim_end().to_string()
}

/// How processed messages are marked on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkAs {
    /// Set `\Seen`.
    Seen,
    /// Set the keyword `$Referrald` when the server allows keywords, else `\Seen`.
    Keyword,
    /// Move the message to `processed-folder`.
    Move,
}

/// `[imap]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Imap {
    /// Server host name.
    pub host: String,
    /// Server port; defaults to 993 for implicit TLS, else 143.
    pub port: Option<u16>,
    /// `implicit`, `starttls` or `none` (loopback only).
    #[serde(default = "default_tls")]
    pub tls: Tls,
    /// Login name.
    pub username: String,
    /// `password` (the default) or `oauth2`.
    #[serde(default)]
    pub auth: Auth,
    /// Login password, inline (prefer `password-file` or `password-command`).
    pub password: Option<Password>,
    /// A file whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// A command (run with `sh -c`) whose first output line is the password.
    pub password_command: Option<String>,
    /// A PEM file of CA (or self-signed server) certificates trusted besides Mozilla's roots.
    pub ca_file: Option<PathBuf>,
    /// The folder introducers' mail arrives in.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// How processed messages are marked on the server.
    #[serde(default = "default_mark_as")]
    pub mark_as: MarkAs,
    /// Where processed messages go when `mark-as = "move"`.
    #[serde(default = "default_processed_folder")]
    pub processed_folder: String,
    /// How long one IMAP IDLE lasts before it is re-issued.
    #[serde(default = "default_idle", deserialize_with = "de_duration")]
    pub idle_timeout: Duration,
    /// How often to poll when the server has no IDLE.
    #[serde(default = "default_poll", deserialize_with = "de_duration")]
    pub poll_interval: Duration,
}

impl Imap {
    /// Where the login password comes from.
    pub fn secret(&self) -> Secret<'_> {
        Secret {
            password: self.password.as_ref(),
            file: self.password_file.as_deref(),
            command: self.password_command.as_deref(),
        }
    }
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            Tls::Implicit => 993,
            _ => 143,
        })
    }

    /// `ca-file`, resolved like other paths (`%d/` too); `base_dir` is the config file's
    /// directory.
    pub fn ca_path(&self, base_dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
        ca_path("imap", self.ca_file.as_deref(), base_dir)
    }
}

/// Which transport carries outbound mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// Submit through `[smtp]`.
    Smtp,
    /// Write `.eml` files into `outbox-dir` (dry runs, the demo, tests).
    File,
}

/// `[outbound]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Outbound {
    /// `smtp` or `file`.
    #[serde(default = "default_transport")]
    pub transport: TransportKind,
    /// Where the file transport writes `.eml` files.
    #[serde(default = "default_outbox_dir")]
    pub outbox_dir: PathBuf,
    /// First wait after a temporary failure.
    #[serde(default = "default_retry_initial", deserialize_with = "de_duration")]
    pub retry_initial: Duration,
    /// The longest wait between retries.
    #[serde(default = "default_retry_max", deserialize_with = "de_duration")]
    pub retry_max: Duration,
    /// After this long since its due time, a message that keeps failing temporarily fails.
    #[serde(default = "default_give_up", deserialize_with = "de_duration")]
    pub give_up_after: Duration,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            transport: default_transport(),
            outbox_dir: default_outbox_dir(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            give_up_after: default_give_up(),
        }
    }
}

/// `[smtp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Smtp {
    /// Server host name.
    pub host: String,
    /// Server port; defaults to 465 for implicit TLS, else 587.
    pub port: Option<u16>,
    /// `implicit`, `starttls` or `none` (loopback only).
    #[serde(default = "default_tls")]
    pub tls: Tls,
    /// Login name; without one, no authentication is attempted.
    pub username: Option<String>,
    /// `password` (the default) or `oauth2`.
    #[serde(default)]
    pub auth: Auth,
    /// Login password, inline (prefer `password-file` or `password-command`).
    pub password: Option<Password>,
    /// A file whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// A command (run with `sh -c`) whose first output line is the password.
    pub password_command: Option<String>,
    /// A PEM file of CA (or self-signed server) certificates trusted besides Mozilla's roots.
    pub ca_file: Option<PathBuf>,
}

impl Smtp {
    /// Where the login password comes from.
    pub fn secret(&self) -> Secret<'_> {
        Secret {
            password: self.password.as_ref(),
            file: self.password_file.as_deref(),
            command: self.password_command.as_deref(),
        }
    }
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            Tls::Implicit => 465,
            _ => 587,
        })
    }

    /// `ca-file`, resolved like other paths (`%d/` too); `base_dir` is the config file's
    /// directory.
    pub fn ca_path(&self, base_dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
        ca_path("smtp", self.ca_file.as_deref(), base_dir)
    }
}

fn ca_path(
    section: &str,
    file: Option<&Path>,
    base_dir: &Path,
) -> Result<Option<PathBuf>, ConfigError> {
    file.map(|file| config_file_path(&format!("[{section}] ca-file"), file, base_dir))
        .transpose()
}

/// `[schedule]`: when each message of the plan is due, counted from the introduction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Schedule {
    /// `thank_you` to the introducer: long enough for the owner to thank them herself.
    #[serde(default = "default_thank_you", deserialize_with = "de_duration")]
    pub thank_you_after: Duration,
    /// `follow_up` to each party.
    #[serde(default = "default_follow_up", deserialize_with = "de_duration")]
    pub follow_up_after: Duration,
    /// `owner_nudge` to the owner when a party.
    #[serde(default = "default_nudge", deserialize_with = "de_duration")]
    pub owner_nudge_after: Duration,
    /// `feedback_request` to each party.
    #[serde(default = "default_feedback", deserialize_with = "de_duration")]
    pub feedback_after: Duration,
    /// `feedback_reminder`, counted from when the request was sent.
    #[serde(default = "default_reminder", deserialize_with = "de_duration")]
    pub reminder_after: Duration,
    /// A message whose due time is more than this before the referral was recorded is
    /// skipped as too late (an old introduction found in the mailbox).
    #[serde(default = "default_late_limit", deserialize_with = "de_duration")]
    pub late_limit: Duration,
    /// When mail may go out, in the owner's timezone.
    #[serde(default)]
    pub send_window: SendWindow,
    /// At most this many messages leave in any hour.
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            thank_you_after: default_thank_you(),
            follow_up_after: default_follow_up(),
            owner_nudge_after: default_nudge(),
            feedback_after: default_feedback(),
            reminder_after: default_reminder(),
            late_limit: default_late_limit(),
            send_window: SendWindow::default(),
            max_per_hour: default_max_per_hour(),
        }
    }
}

/// When automated mail may be sent, in the owner's timezone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendWindow {
    /// Any time.
    Always,
    /// On the given weekdays, from `from` (inclusive) to `to` (exclusive).
    Hours {
        /// Weekdays mail may go out on.
        days: Vec<Weekday>,
        /// Opening time.
        from: NaiveTime,
        /// Closing time.
        to: NaiveTime,
    },
}

impl Default for SendWindow {
    fn default() -> Self {
        SendWindow::Hours {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            from: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            to: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
        }
    }
}

/// `[digest]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Digest {
    /// `"Mon 08:00"` (a weekday and a time in the owner's timezone, the default) or `"off"`.
    #[serde(default)]
    pub when: crate::digest::When,
}

/// `[templates]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Templates {
    /// A directory of `<kind>.txt` files that replace the built-in templates of the same name.
    pub dir: Option<PathBuf>,
}

impl Config {
    /// Reads and checks the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut config = Config::parse(&text, &path.display().to_string(), base)?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and checks configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, base_dir: PathBuf) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = e.message().trim_end_matches('\n').replace('\n', "; ");
            match line {
                Some(line) => ConfigError(format!("{origin}, line {line}: {message}")),
                None => ConfigError(format!("{origin}: {message}")),
            }
        })?;
        config.base_dir = base_dir;
        config
            .normalize()
            .map_err(|ConfigError(msg)| ConfigError(format!("{origin}: {msg}")))?;
        Ok(config)
    }

    /// Lower-cases addresses and checks what serde cannot.
    fn normalize(&mut self) -> Result<(), ConfigError> {
        self.tracking.address = normalize_email(&self.tracking.address);
        check_address("tracking.address", &self.tracking.address)?;
        if self.owner.name.trim().is_empty() {
            return Err(ConfigError("owner.name must not be empty".into()));
        }
        for email in &mut self.owner.emails {
            *email = normalize_email(email);
            check_address("owner.emails", email)?;
        }
        for pattern in &mut self.intake.accept_from {
            *pattern = normalize_email(pattern);
            let bare = pattern.strip_prefix("*@").map(|d| format!("x@{d}"));
            check_address("intake.accept-from", bare.as_deref().unwrap_or(pattern))?;
        }
        for email in &mut self.intake.never_party {
            *email = normalize_email(email);
            check_address("intake.never-party", email)?;
        }
        for id in &self.intake.trusted_authserv_ids {
            check_authserv_id(id)?;
        }
        if self.intake.max_parties < 2 {
            return Err(ConfigError("intake.max-parties must be at least 2".into()));
        }
        if !(self.intake.max_amount.is_finite() && self.intake.max_amount > 0.0) {
            return Err(ConfigError(
                "intake.max-amount must be a positive number".into(),
            ));
        }
        if self.schedule.max_per_hour == 0 {
            return Err(ConfigError(
                "schedule.max-per-hour must be at least 1".into(),
            ));
        }
        if let Some(imap) = &self.imap {
            imap.secret().check_for("imap", imap.auth)?;
        }
        if let Some(smtp) = &self.smtp {
            if smtp.username.is_some() {
                smtp.secret().check_for("smtp", smtp.auth)?;
            } else if smtp.auth == Auth::Oauth2 {
                return Err(ConfigError(
                    "[smtp] auth = \"oauth2\" needs username (the mailbox's address)".into(),
                ));
            }
        }
        self.check_oauth2()?;
        Web::check(self.web.listen, self.web.token_file.as_deref())?;
        if self.outbound.transport == TransportKind::Smtp && self.smtp.is_none() {
            return Err(ConfigError(
                "outbound.transport is \"smtp\" but there is no [smtp] section (use transport = \"file\" for dry runs)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `[oauth2]` is there, and right, when `[imap]` or `[smtp]` says `auth = "oauth2"`.
    fn check_oauth2(&self) -> Result<(), ConfigError> {
        let wanted = self.imap.as_ref().is_some_and(|i| i.auth == Auth::Oauth2)
            || self.smtp.as_ref().is_some_and(|s| s.auth == Auth::Oauth2);
        match &self.oauth2 {
            Some(oauth2) => oauth2.check(),
            None if wanted => Err(ConfigError(
                "auth = \"oauth2\" needs an [oauth2] section: provider = \"microsoft\", \"google\" or \"custom\" and client-id (README: \"Microsoft 365\", \"Google Workspace\")".into(),
            )),
            None => Ok(()),
        }
    }

    /// Whether `[imap]` or `[smtp]` (when mail is sent by SMTP) logs in with a bearer token.
    pub fn uses_oauth2(&self) -> bool {
        self.imap.as_ref().is_some_and(|i| i.auth == Auth::Oauth2)
            || (self.outbound.transport == TransportKind::Smtp
                && self.smtp.as_ref().is_some_and(|s| s.auth == Auth::Oauth2))
    }

    /// Where `referrald login` keeps the refresh token: beside the database, in the state
    /// directory.
    pub fn oauth2_token_path(&self) -> PathBuf {
        let db = self.store_path();
        let name = db
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "referrald.db".into());
        db.with_file_name(format!("{name}.oauth2-token"))
    }

    /// The command that asks for a new grant, as the user should type it.
    pub fn login_command(&self) -> String {
        match &self.file {
            Some(file) => format!("referrald login --config {}", file.display()),
            None => "referrald login".into(),
        }
    }

    /// Whether intake can judge mail: with `require-authentication` on (the default), at
    /// least one trusted authserv-id. `run`, `ingest` and `inspect` stop on this error;
    /// `doctor` reports it and finds the value.
    pub fn check_authentication(&self) -> Result<(), ConfigError> {
        if self.intake.require_authentication && self.intake.trusted_authserv_ids.is_empty() {
            return Err(ConfigError(
                "[intake] require-authentication is on (the default) but trusted-authserv-ids is empty: add trusted-authserv-ids = [\"<the authserv-id your receiving server writes>\"] under [intake] (`referrald doctor` finds it in your mail), or set require-authentication = false to accept mail nobody authenticated"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The database path, resolved against the config file's directory.
    pub fn store_path(&self) -> PathBuf {
        resolve(&self.base_dir, &self.store.path)
    }

    /// `[web] token-file`, resolved against the config file's directory.
    pub fn web_token_path(&self) -> Option<PathBuf> {
        self.web
            .token_file
            .as_ref()
            .map(|f| resolve(&self.base_dir, f))
    }

    /// The file transport's directory, resolved against the config file's directory.
    pub fn outbox_dir(&self) -> PathBuf {
        resolve(&self.base_dir, &self.outbound.outbox_dir)
    }

    /// The template override directory, if any, resolved against the config file's directory.
    pub fn templates_dir(&self) -> Option<PathBuf> {
        self.templates
            .dir
            .as_ref()
            .map(|d| resolve(&self.base_dir, d))
    }
}

fn check_address(key: &str, address: &str) -> Result<(), ConfigError> {
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') || domain == "localhost" =>
        {
            Ok(())
        }
        _ => Err(ConfigError(format!(
            "{key}: {address:?} is not an email address"
        ))),
    }
}

/// An authserv-id entry: a name (`mx.example.org`), `*.` and a domain of at least two
/// labels (`*.messagingengine.com`), or `no-authserv-id`.
fn check_authserv_id(id: &str) -> Result<(), ConfigError> {
    let name = id.strip_prefix("*.").unwrap_or(id);
    let wildcard_too_wide = id.starts_with("*.") && !name.contains('.');
    if name.is_empty()
        || wildcard_too_wide
        || name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ';' | '"' | '(' | ')' | '*')
        })
    {
        return Err(ConfigError(format!(
            "intake.trusted-authserv-ids: {id:?} is not an authserv-id (write the first word of your server's Authentication-Results, like \"mx.example.org\", \"*.messagingengine.com\" or \"no-authserv-id\")"
        )));
    }
    Ok(())
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn default_timezone() -> Tz {
    Tz::UTC
}
fn default_require_authentication() -> bool {
    true
}
fn default_max_parties() -> usize {
    10
}
fn default_max_amount() -> f64 {
    100_000_000.0
}
fn default_store_path() -> PathBuf {
    PathBuf::from("referrald.db")
}
fn default_tls() -> Tls {
    Tls::Implicit
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_mark_as() -> MarkAs {
    MarkAs::Seen
}
fn default_processed_folder() -> String {
    "Processed".into()
}
fn default_idle() -> Duration {
    Duration::from_secs(5 * 60)
}
fn default_poll() -> Duration {
    Duration::from_secs(60)
}
fn default_transport() -> TransportKind {
    TransportKind::Smtp
}
fn default_outbox_dir() -> PathBuf {
    PathBuf::from("outbox")
}
fn default_retry_initial() -> Duration {
    Duration::from_secs(5 * 60)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(60 * 60)
}
fn default_give_up() -> Duration {
    Duration::from_secs(2 * 24 * 3600)
}
fn default_follow_up() -> Duration {
    Duration::from_secs(2 * 24 * 3600)
}
fn default_thank_you() -> Duration {
    // An hour: the owner's own thanks usually comes within it, and ours is still prompt.
    Duration::from_secs(3600)
}
fn default_nudge() -> Duration {
    // Working hours inside the send window: the owner follows up within the day.
    Duration::from_secs(4 * 3600)
}
fn default_feedback() -> Duration {
    Duration::from_secs(14 * 24 * 3600)
}
fn default_reminder() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_late_limit() -> Duration {
    Duration::from_secs(2 * 24 * 3600)
}
fn default_max_per_hour() -> u32 {
    60
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(text.trim()).map_err(|e| {
        de::Error::custom(format!(
            "{text:?} is not a duration ({e}); write it like \"2d\", \"24h\" or \"90m\""
        ))
    })
}

fn de_timezone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse::<Tz>().map_err(|_| {
        de::Error::custom(format!(
            "{text:?} is not an IANA timezone name (like \"Europe/London\" or \"America/New_York\")"
        ))
    })
}

impl<'de> Deserialize<'de> for SendWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SendWindowVisitor)
    }
}

struct SendWindowVisitor;

impl<'de> Visitor<'de> for SendWindowVisitor {
    type Value = SendWindow;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "\"always\" or a table like { days = \"Mon-Fri\", from = \"09:00\", to = \"17:00\" }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SendWindow, E> {
        if v.trim().eq_ignore_ascii_case("always") {
            Ok(SendWindow::Always)
        } else {
            Err(E::custom(format!(
                "send-window {v:?} is neither \"always\" nor a table like {{ days = \"Mon-Fri\", from = \"09:00\", to = \"17:00\" }}"
            )))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SendWindow, A::Error> {
        let (mut days, mut from, mut to) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            match key.as_str() {
                "days" => days = Some(parse_days(&value).map_err(de::Error::custom)?),
                "from" => from = Some(parse_clock(&value).map_err(de::Error::custom)?),
                "to" => to = Some(parse_clock(&value).map_err(de::Error::custom)?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown send-window key `{other}`, expected `days`, `from` or `to`"
                    )));
                }
            }
        }
        let days = days.unwrap_or_else(|| {
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
        });
        let from = from.ok_or_else(|| de::Error::custom("send-window needs `from`"))?;
        let to = to.ok_or_else(|| de::Error::custom("send-window needs `to`"))?;
        if from >= to {
            return Err(de::Error::custom(format!(
                "send-window `from` ({from}) must be earlier than `to` ({to})"
            )));
        }
        Ok(SendWindow::Hours { days, from, to })
    }
}

/// "Mon-Fri", "Sun-Thu", "Mon,Wed,Fri", "Mon-Wed,Sat", "daily".
fn parse_days(text: &str) -> Result<Vec<Weekday>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("daily") || t.eq_ignore_ascii_case("every day") {
        return Ok(all_week());
    }
    let mut days = Vec::new();
    for part in t.split(',').map(str::trim) {
        let day = |s: &str| {
            s.trim()
                .parse::<Weekday>()
                .map_err(|_| format!("{s:?} in send-window days is not a weekday (Mon, Tue, …)"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (mut d, end) = (day(a)?, day(b)?);
                loop {
                    if !days.contains(&d) {
                        days.push(d);
                    }
                    if d == end {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => {
                let d = day(part)?;
                if !days.contains(&d) {
                    days.push(d);
                }
            }
        }
    }
    Ok(days)
}

fn all_week() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
}

fn parse_clock(text: &str) -> Result<NaiveTime, String> {
    let t = text.trim();
    if t == "24:00" {
        return Ok(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
    }
    NaiveTime::parse_from_str(t, "%H:%M")
        .map_err(|_| format!("{text:?} is not a time of day like \"09:00\""))
}

/// One configuration for the unit tests, so that a test says only what differs.
#[cfg(test)]
pub(crate) mod testing {
    use super::Config;

    /// Alice Smith (`alice@brightside.example`, Europe/London) tracks introductions at
    /// `intros@tracker.example.org`; mail is not authenticated; it is written to files.
    const ALICE: &str = r#"
[tracking]
address = "intros@tracker.example.org"
[owner]
name = "Alice Smith"
emails = ["alice@brightside.example"]
timezone = "Europe/London"
[intake]
require-authentication = false
[outbound]
transport = "file"
"#;

    /// Alice's configuration with `overrides` (TOML: tables, or keys within them) laid
    /// over it, key by key.
    pub(crate) fn config(overrides: &str) -> Config {
        config_in(".".into(), overrides)
    }

    /// The same, with relative paths (the store's) taken from `base_dir`.
    pub(crate) fn config_in(base_dir: std::path::PathBuf, overrides: &str) -> Config {
        let mut base: toml::Table = toml::from_str(ALICE).expect("the base configuration");
        let overrides: toml::Table = toml::from_str(overrides).expect("overrides are TOML");
        merge(&mut base, overrides);
        Config::parse(&base.to_string(), "test", base_dir).expect("a valid configuration")
    }

    fn merge(base: &mut toml::Table, overrides: toml::Table) {
        for (key, value) in overrides {
            match (base.get_mut(&key), value) {
                (Some(toml::Value::Table(table)), toml::Value::Table(more)) => merge(table, more),
                (_, value) => {
                    base.insert(key, value);
                }
            }
        }
    }

    #[test]
    fn overrides_replace_keys_and_keep_the_rest() {
        let c = config("[owner]\ntimezone = \"UTC\"\n[schedule]\nthank-you-after = \"0s\"");
        assert_eq!(c.owner.timezone, chrono_tz::UTC);
        assert_eq!(c.owner.name, "Alice Smith");
        assert_eq!(c.tracking.address, "intros@tracker.example.org");
        assert_eq!(c.schedule.thank_you_after, std::time::Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[tracking]
address = "Intros@Tracker.example.org"

[owner]
name = "Alice Smith"
emails = ["alice@brightside.example"]
timezone = "Europe/London"

[outbound]
transport = "file"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "test.toml", PathBuf::from("/etc/referrald"))
    }

    #[test]
    fn the_web_page_listens_off_loopback_only_with_a_token() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.web.listen.to_string(), "127.0.0.1:8025");
        assert!(c.web_token_path().is_none());
        let err = parse(&format!("{MINIMAL}[web]\nlisten = \"0.0.0.0:8025\"\n")).unwrap_err();
        assert!(err.0.contains("web.token-file"), "{}", err.0);
        let c = parse(&format!(
            "{MINIMAL}[web]\nlisten = \"[::]:8025\"\ntoken-file = \"web-token\"\n"
        ))
        .unwrap();
        assert_eq!(
            c.web_token_path(),
            Some(PathBuf::from("/etc/referrald/web-token"))
        );
        assert!(parse(&format!("{MINIMAL}[web]\nlisten = \"[::1]:9000\"\n")).is_ok());
        assert!(parse(&format!("{MINIMAL}[web]\nport = 1\n")).is_err());
    }

    #[test]
    fn run_serves_the_page_only_when_a_web_section_is_written() {
        assert!(!parse(MINIMAL).unwrap().web.in_run);
        let c = parse(&format!("{MINIMAL}[web]\n")).unwrap();
        assert!(c.web.in_run);
        assert_eq!(c.web.listen.to_string(), "127.0.0.1:8025");
        // The example configuration leaves it off.
        let example =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
                .unwrap();
        assert!(!example.lines().any(|l| l.trim() == "[web]"));
    }

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.tracking.address, "intros@tracker.example.org");
        assert_eq!(c.tracking.domain(), "tracker.example.org");
        assert_eq!(c.owner.timezone, chrono_tz::Europe::London);
        assert_eq!(c.schedule.follow_up_after, Duration::from_secs(2 * 86400));
        assert_eq!(c.schedule.owner_nudge_after, Duration::from_secs(4 * 3600));
        assert_eq!(c.schedule.feedback_after, Duration::from_secs(14 * 86400));
        assert_eq!(c.schedule.reminder_after, Duration::from_secs(7 * 86400));
        assert_eq!(c.schedule.send_window, SendWindow::default());
        assert_eq!(c.store_path(), PathBuf::from("/etc/referrald/referrald.db"));
        assert_eq!(c.outbox_dir(), PathBuf::from("/etc/referrald/outbox"));
    }

    /// Harm: a configuration that never mentions authentication accepting forged mail.
    #[test]
    fn authentication_is_on_unless_turned_off_and_then_needs_a_trusted_server() {
        let c = parse(MINIMAL).unwrap();
        assert!(c.intake.require_authentication);
        let err = c.check_authentication().unwrap_err().to_string();
        assert!(
            err.contains("add trusted-authserv-ids = [") && err.contains("under [intake]"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one sentence: {err}");

        let off = parse(&format!(
            "{MINIMAL}\n[intake]\nrequire-authentication = false\n"
        ))
        .unwrap();
        assert!(!off.intake.require_authentication);
        assert!(off.check_authentication().is_ok());

        let named = parse(&format!(
            "{MINIMAL}\n[intake]\ntrusted-authserv-ids = [\"mx.tracker.example.org\", \"*.messagingengine.com\", \"no-authserv-id\"]\n"
        ))
        .unwrap();
        assert!(named.intake.require_authentication);
        assert!(named.check_authentication().is_ok());

        for bad in ["", "*", "*.com", "mx example", "mx;dmarc=pass", "\\\"x\\\""] {
            let text = format!("{MINIMAL}\n[intake]\ntrusted-authserv-ids = [\"{bad}\"]\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("is not an authserv-id"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../config.example.toml");
        let c = parse(text).unwrap();
        assert!(c.imap.is_some());
        assert!(c.smtp.is_some());
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = MINIMAL.replace("[outbound]", "[outbound]\nsend-widow = 1");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("send-widow"), "{err}");
        assert!(err.contains("line 11"), "{err}");
        assert!(!err.contains('\n'), "one sentence: {err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let text = MINIMAL.replace("Europe/London", "Mars/Olympus");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("IANA timezone") && err.contains("line 8"),
            "{err}"
        );

        let text = format!("{MINIMAL}\n[schedule]\nfollow-up-after = \"two days\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn send_windows_parse() {
        let text = format!(
            "{MINIMAL}\n[schedule]\nsend-window = {{ days = \"Sun-Thu\", from = \"08:30\", to = \"18:00\" }}\n"
        );
        let c = parse(&text).unwrap();
        let SendWindow::Hours { days, from, to } = c.schedule.send_window else {
            panic!("expected hours");
        };
        assert_eq!(days.len(), 5);
        assert_eq!(days[0], Weekday::Sun);
        assert_eq!(from, NaiveTime::from_hms_opt(8, 30, 0).unwrap());
        assert_eq!(to, NaiveTime::from_hms_opt(18, 0, 0).unwrap());

        let text = format!("{MINIMAL}\n[schedule]\nsend-window = \"always\"\n");
        assert_eq!(
            parse(&text).unwrap().schedule.send_window,
            SendWindow::Always
        );

        let text = format!(
            "{MINIMAL}\n[schedule]\nsend-window = {{ from = \"18:00\", to = \"09:00\" }}\n"
        );
        assert!(parse(&text).unwrap_err().to_string().contains("earlier"));
    }

    #[test]
    fn accept_from_patterns_match_domains() {
        let text = format!(
            "{MINIMAL}\n[intake]\naccept-from = [\"*@Brightside.example\", \"bob@networkers.example\"]\n"
        );
        let c = parse(&text).unwrap();
        assert!(c.intake.accepts("carol@brightside.example"));
        assert!(c.intake.accepts("bob@networkers.example"));
        assert!(!c.intake.accepts("eve@networkers.example"));
        assert!(!c.intake.accepts("x@evilbrightside.example"));
    }

    #[test]
    fn secrets_come_from_one_place_and_are_not_debug_printed() {
        let text = format!(
            "{MINIMAL}\n[imap]\nhost = \"imap.example.org\"\nusername = \"u\"\npassword = \"hunter2\"\n"
        );
        let c = parse(&text).unwrap();
        let imap = c.imap.unwrap();
        assert!(!format!("{imap:?}").contains("hunter2"));
        assert_eq!(imap.secret().reveal(Path::new(".")).unwrap(), "hunter2");

        let text = format!("{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\n");
        assert!(
            parse(&text)
                .unwrap_err()
                .to_string()
                .contains("password-file")
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\nignored\n").unwrap();
        let secret = Secret {
            password: None,
            file: Some(Path::new("pw")),
            command: None,
        };
        assert_eq!(secret.reveal(dir.path()).unwrap(), "s3cret");
        // The package's placeholder, still empty: an error that says what to do, not a
        // login with no password.
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let secret = Secret {
            password: None,
            file: Some(Path::new("empty")),
            command: None,
        };
        let err = secret.reveal(dir.path()).unwrap_err();
        assert!(err.0.contains("is empty: write the password"), "{err}");
        let secret = Secret {
            password: None,
            file: None,
            command: Some("printf 'from-cmd\\nmore'"),
        };
        assert_eq!(secret.reveal(dir.path()).unwrap(), "from-cmd");
    }

    #[test]
    fn password_files_may_live_in_the_systemd_credentials_directory() {
        let creds = Some(std::ffi::OsString::from(
            "/run/credentials/referrald.service",
        ));
        let pw = "password file";
        assert_eq!(
            credential_path(pw, Path::new("%d/imap-password"), creds.clone()).unwrap(),
            PathBuf::from("/run/credentials/referrald.service/imap-password")
        );
        // Anything else is left alone.
        assert_eq!(
            credential_path(pw, Path::new("secrets/%d"), creds.clone()).unwrap(),
            PathBuf::from("secrets/%d")
        );
        assert_eq!(
            credential_path(pw, Path::new("/etc/pw"), None).unwrap(),
            PathBuf::from("/etc/pw")
        );
        let err = credential_path(pw, Path::new("%d/imap-password"), None).unwrap_err();
        assert!(err.to_string().contains("CREDENTIALS_DIRECTORY"), "{err}");
    }

    #[test]
    fn ca_files_resolve_like_other_paths() {
        let text = format!(
            "{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\nca-file = \"private-ca.pem\"\n[smtp]\nhost = \"h\"\nca-file = \"/etc/ssl/mail-ca.pem\"\n"
        );
        let c = parse(&text).unwrap();
        let imap = c.imap.as_ref().unwrap();
        assert_eq!(
            imap.ca_path(&c.base_dir).unwrap(),
            Some(PathBuf::from("/etc/referrald/private-ca.pem"))
        );
        let smtp = c.smtp.as_ref().unwrap();
        assert_eq!(
            smtp.ca_path(&c.base_dir).unwrap(),
            Some(PathBuf::from("/etc/ssl/mail-ca.pem"))
        );
        // The default: none, only Mozilla's roots.
        let c = parse(&format!(
            "{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n"
        ))
        .unwrap();
        assert_eq!(c.imap.unwrap().ca_path(Path::new("/x")).unwrap(), None);
        let err = credential_path("[smtp] ca-file", Path::new("%d/ca.pem"), None).unwrap_err();
        assert!(
            err.to_string().starts_with("[smtp] ca-file %d/ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn the_example_config_parses_with_oauth2_switched_on() {
        // What a Microsoft 365 user does to the example: uncomment auth and [oauth2], drop
        // the password files.
        let text: String = include_str!("../config.example.toml")
            .lines()
            .filter(|l| !l.starts_with("password-file"))
            .map(|l| {
                let bare = l.strip_prefix("# ").unwrap_or(l);
                let uncomment = bare.starts_with("auth = ")
                    || bare == "[oauth2]"
                    || ["provider", "client-id", "tenant"]
                        .iter()
                        .any(|k| bare.starts_with(&format!("{k} = ")));
                if uncomment { bare } else { l }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&text).unwrap();
        assert!(c.uses_oauth2());
        let oauth2 = c.oauth2.unwrap();
        assert_eq!(oauth2.provider, Provider::Microsoft);
        assert!(
            oauth2
                .endpoints()
                .device_url
                .contains("/contoso.onmicrosoft.com/")
        );
    }

    #[test]
    fn oauth2_logins_need_an_oauth2_section_and_no_password() {
        let imap = "[imap]\nhost = \"h\"\nusername = \"u@example.org\"\nauth = \"oauth2\"\n";
        let err = parse(&format!("{MINIMAL}\n{imap}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[oauth2]"), "{err}");
        let section = "[oauth2]\nprovider = \"google\"\nclient-id = \"id\"\n";
        let c = parse(&format!("{MINIMAL}\n{imap}{section}")).unwrap();
        assert!(c.uses_oauth2());
        assert_eq!(
            c.oauth2_token_path(),
            PathBuf::from("/etc/referrald/referrald.db.oauth2-token")
        );
        let with_password = imap.replace("auth =", "password = \"p\"\nauth =");
        let err = parse(&format!("{MINIMAL}\n{with_password}{section}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes no password"), "{err}");
        let smtp = "[smtp]\nhost = \"h\"\nauth = \"oauth2\"\n";
        let err = parse(&format!("{MINIMAL}\n{smtp}{section}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs username"), "{err}");
        // The default stays a password.
        let c = parse(&format!(
            "{MINIMAL}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n"
        ))
        .unwrap();
        assert!(!c.uses_oauth2());
    }

    #[test]
    fn smtp_transport_needs_an_smtp_section() {
        let text = MINIMAL.replace("transport = \"file\"", "transport = \"smtp\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("[smtp]"), "{err}");
    }
}
