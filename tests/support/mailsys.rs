//! A real mail system for integration tests: Dovecot (IMAP + LMTP) and Postfix (SMTP),
//! private to one test.
//!
//! [`MailSystem::start`] writes a configuration for both servers into a fresh directory (on
//! tmpfs when it has room, else in /tmp), starts them on free loopback ports and returns
//! once both greet. Postfix accepts mail for any address and hands every recipient to
//! Dovecot over LMTP, so a test can send through Postfix (as referrald does) and read what
//! anyone received over IMAP.
//! Any user name (use the full address, e.g. `fred@example.com`) logs in with
//! [`MailSystem::password`]; a mailbox exists from its first delivery or login.
//! Recipients at [`REJECTED_DOMAIN`] are refused with 550 at RCPT TO. Recipients at
//! [`EAI_DOMAIN`] are delivered by Postfix itself ([`MailSystem::wait_for_eai`]), since
//! Dovecot's LMTP cannot take a non-ASCII address.
//!
//! Mail read back is what a real mail system stores: Postfix adds `Received:` (and any
//! missing `Date:`/`Message-ID:`), Dovecot adds `Return-Path:` and `Delivered-To:`, and
//! `+detail` is stripped from the recipient to find the mailbox, as at a real provider.
//!
//! Every instance has its own directory, ports, queue and state, so tests may run in
//! parallel threads or processes. Dropping the [`MailSystem`] stops both servers and
//! removes the directory (printing the servers' logs first if the test is panicking); a
//! watchdog process does the same if the test process dies without dropping it (a
//! timeout's SIGKILL, Ctrl-C).
//!
//! [`MailSystem::start_with_tls`] adds TLS: a throwaway CA and a certificate for `localhost`
//! and `127.0.0.1`, made with the `openssl` program in the instance's directory; Dovecot
//! then also listens for implicit TLS ([`MailSystem::imaps_port`]) and offers STARTTLS on
//! its plain port, and Postfix does the same ([`MailSystem::smtps_port`], wrapper mode, and
//! STARTTLS on [`MailSystem::smtp_port`]). Clients trust [`MailSystem::ca_file`].
//! [`MailSystem::start_with_self_signed_tls`] presents a self-signed certificate for
//! `localhost` alone instead. Plain-text logins keep working on the plain ports, so every
//! helper below works the same either way.
//!
//! Needs root (both servers start as root and switch to their own users) and the Debian
//! packages dovecot-imapd, dovecot-lmtpd and postfix (and openssl for TLS);
//! `.ci/install-mail-servers` installs them. Without them [`MailSystem::start`] fails with
//! that advice: tests never skip.

use std::fs::{self, File, OpenOptions, Permissions};
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use async_imap::types::{Fetch, Flag};
use futures::TryStreamExt;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The address every server listens on.
pub const HOST: &str = "127.0.0.1";

/// Postfix refuses recipients in this domain (and its subdomains) at RCPT TO with
/// `550 5.1.1`, so tests can exercise permanent delivery failures.
pub const REJECTED_DOMAIN: &str = "rejected.test";

/// Postfix delivers mail for this domain into one maildir of its own
/// ([`MailSystem::wait_for_eai`]) instead of into Dovecot: Dovecot's LMTP does not offer
/// SMTPUTF8, and Postfix returns mail for a non-ASCII address (`josé@eai.test`) that it
/// cannot pass on with SMTPUTF8.
pub const EAI_DOMAIN: &str = "eai.test";

/// The password of every IMAP user (Dovecot's static passdb).
const PASSWORD: &str = "harness-password";

/// How long a server may take to greet after being started.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Timeout for one IMAP or SMTP connection attempt by the helpers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long Dovecot may take to answer one command of [`MailSystem::append_many`].
const IMAP_REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often [`MailSystem::wait_for_count`] looks at the mailbox.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

const INSTALL_ADVICE: &str = "install dovecot-imapd dovecot-lmtpd postfix \
     (apt-get install dovecot-imapd dovecot-lmtpd postfix, or run .ci/install-mail-servers)";
const OPENSSL_ADVICE: &str =
    "install openssl (apt-get install openssl, or run .ci/install-mail-servers)";

/// The certificate a mail system started with TLS presents on every TLS port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certificate {
    /// Issued by a throwaway CA for `localhost` and `127.0.0.1`;
    /// [`MailSystem::ca_file`] is the CA's certificate.
    PrivateCa,
    /// Self-signed (not a CA), for `localhost` only, so a client connecting to `127.0.0.1`
    /// finds the name wrong; [`MailSystem::ca_file`] is the certificate itself.
    SelfSigned,
}

/// A private Dovecot and Postfix for one test. See the [module documentation](self).
///
/// All methods take `&self`, so the system can be shared (e.g. in an `Arc`) between the
/// test and the tasks it spawns; starting and stopping one server from two tasks at once
/// is not supported.
pub struct MailSystem {
    control: Control,
    dovecot: Mutex<Option<Child>>,
    postfix: Mutex<Option<Child>>,
    watchdog: Watchdog,
    /// Removed by `drop` once the servers are stopped (`None` afterwards).
    dir: Option<tempfile::TempDir>,
}

impl MailSystem {
    /// Starts Dovecot and Postfix and waits until both greet (normally well under a
    /// second). Fails, naming what to install, when the servers are not installed.
    pub async fn start() -> Result<MailSystem> {
        tokio::task::spawn_blocking(MailSystem::start_blocking)
            .await
            .context("the mail-system start task failed")?
    }

    /// [`MailSystem::start`] for code outside an async runtime (it blocks the thread).
    pub fn start_blocking() -> Result<MailSystem> {
        MailSystem::start_blocking_with(None, true)
    }

    /// [`MailSystem::start`], with Postfix configured not to offer SMTPUTF8
    /// (`smtputf8_enable = no`), as older or stricter servers do: a client must not send it
    /// a non-ASCII address.
    pub async fn start_without_smtputf8() -> Result<MailSystem> {
        tokio::task::spawn_blocking(|| MailSystem::start_blocking_with(None, false))
            .await
            .context("the mail-system start task failed")?
    }

    /// [`MailSystem::start`], with TLS on both servers: see the [module
    /// documentation](self). Making the certificates adds a few tens of milliseconds.
    pub async fn start_with_tls() -> Result<MailSystem> {
        tokio::task::spawn_blocking(MailSystem::start_with_tls_blocking)
            .await
            .context("the mail-system start task failed")?
    }

    /// [`MailSystem::start_with_tls`] for code outside an async runtime.
    pub fn start_with_tls_blocking() -> Result<MailSystem> {
        MailSystem::start_blocking_with(Some(Certificate::PrivateCa), true)
    }

    /// [`MailSystem::start_with_tls`], presenting a self-signed certificate for
    /// `localhost` only ([`Certificate::SelfSigned`]).
    pub async fn start_with_self_signed_tls() -> Result<MailSystem> {
        tokio::task::spawn_blocking(MailSystem::start_with_self_signed_tls_blocking)
            .await
            .context("the mail-system start task failed")?
    }

    /// [`MailSystem::start_with_self_signed_tls`] for code outside an async runtime.
    pub fn start_with_self_signed_tls_blocking() -> Result<MailSystem> {
        MailSystem::start_blocking_with(Some(Certificate::SelfSigned), true)
    }

    /// Starts both servers; `smtputf8` is whether Postfix offers SMTPUTF8 (its default).
    fn start_blocking_with(certificate: Option<Certificate>, smtputf8: bool) -> Result<MailSystem> {
        let mut tools = Tools::find()?;
        if certificate.is_some() {
            tools.openssl = Some(
                find_program("openssl")
                    .ok_or_else(|| anyhow!("TLS needs the openssl program; {OPENSSL_ADVICE}"))?,
            );
        }
        // Free ports are picked before the servers bind them, so another process can
        // take one in between; that shows as "Address already in use": pick again.
        let mut attempt = 1;
        loop {
            match MailSystem::start_once(&tools, certificate, smtputf8) {
                Err(err)
                    if attempt < 3 && format!("{err:#}").contains("Address already in use") =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn start_once(
        tools: &Tools,
        certificate: Option<Certificate>,
        smtputf8: bool,
    ) -> Result<MailSystem> {
        let (dir, layout) = Layout::create(tools, certificate, smtputf8)?;
        let watchdog = Watchdog::spawn(&layout)?;
        let system = MailSystem {
            control: Control {
                layout,
                tools: tools.clone(),
                watch: watchdog.watch(),
            },
            dovecot: Mutex::new(None),
            postfix: Mutex::new(None),
            watchdog,
            dir: Some(dir),
        };
        // On failure, dropping `system` stops whatever did start.
        let dovecot = system.control.start_dovecot()?;
        *lock(&system.dovecot) = Some(dovecot);
        let postfix = system.control.start_postfix()?;
        *lock(&system.postfix) = Some(postfix);
        Ok(system)
    }

    /// `127.0.0.1`: every server listens on loopback only.
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// Dovecot's IMAP port (plain text, no TLS; LOGIN and AUTHENTICATE PLAIN work).
    pub fn imap_port(&self) -> u16 {
        self.control.layout.imap_port
    }

    /// Postfix's SMTP port (plain text, no AUTH: loopback clients are trusted). Started
    /// with TLS, it also offers STARTTLS.
    pub fn smtp_port(&self) -> u16 {
        self.control.layout.smtp_port
    }

    /// Dovecot's implicit-TLS IMAP port (like 993).
    ///
    /// # Panics
    /// If the system was started without TLS.
    pub fn imaps_port(&self) -> u16 {
        self.tls().imaps_port
    }

    /// Postfix's implicit-TLS ("wrapper mode") SMTP port (like 465); it accepts nothing
    /// in clear text.
    ///
    /// # Panics
    /// If the system was started without TLS.
    pub fn smtps_port(&self) -> u16 {
        self.tls().smtps_port
    }

    /// The PEM file a client must trust to accept the servers' certificate: the CA's
    /// certificate, or the self-signed certificate itself.
    ///
    /// # Panics
    /// If the system was started without TLS.
    pub fn ca_file(&self) -> PathBuf {
        self.control
            .layout
            .trusted_certificate(self.tls().certificate)
    }

    fn tls(&self) -> &TlsLayout {
        self.control
            .layout
            .tls
            .as_ref()
            .expect("this mail system was started without TLS: use MailSystem::start_with_tls")
    }

    /// The IMAP password of every user.
    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// The directory holding the servers' configuration, mail, queue and logs. Removed
    /// when the system is dropped.
    pub fn dir(&self) -> &Path {
        &self.control.layout.root
    }

    /// Dovecot's log (IMAP logins, LMTP deliveries, errors).
    pub fn dovecot_log(&self) -> PathBuf {
        self.control.layout.dovecot_log()
    }

    /// Postfix's log (every message's way through the queue, with its delivery status).
    pub fn postfix_log(&self) -> PathBuf {
        self.control.layout.postfix_log()
    }

    /// Stops Dovecot: afterwards its IMAP and LMTP ports refuse connections, Postfix
    /// defers deliveries, and stored mail stays where it is. Does nothing if stopped.
    pub async fn stop_dovecot(&self) -> Result<()> {
        let Some(child) = lock(&self.dovecot).take() else {
            return Ok(());
        };
        let control = self.control.clone();
        tokio::task::spawn_blocking(move || control.stop_dovecot(child)).await?
    }

    /// Starts Dovecot again on the same ports with the same mail, and waits until it
    /// greets. Does nothing if it is running.
    pub async fn start_dovecot(&self) -> Result<()> {
        if lock(&self.dovecot).is_some() {
            return Ok(());
        }
        let control = self.control.clone();
        let child = tokio::task::spawn_blocking(move || control.start_dovecot()).await??;
        *lock(&self.dovecot) = Some(child);
        Ok(())
    }

    /// Stops and starts Dovecot: every IMAP connection is dropped, mail survives.
    pub async fn restart_dovecot(&self) -> Result<()> {
        self.stop_dovecot().await?;
        self.start_dovecot().await
    }

    /// Stops Postfix: afterwards its SMTP port refuses connections. Mail already
    /// accepted stays in its queue and is delivered after [`MailSystem::start_postfix`].
    /// Does nothing if stopped.
    pub async fn stop_postfix(&self) -> Result<()> {
        let Some(child) = lock(&self.postfix).take() else {
            return Ok(());
        };
        let control = self.control.clone();
        tokio::task::spawn_blocking(move || control.stop_postfix(child)).await?
    }

    /// Starts Postfix again on the same port with the same queue, and waits until it
    /// greets. Does nothing if it is running.
    pub async fn start_postfix(&self) -> Result<()> {
        if lock(&self.postfix).is_some() {
            return Ok(());
        }
        let control = self.control.clone();
        let child = tokio::task::spawn_blocking(move || control.start_postfix()).await??;
        *lock(&self.postfix) = Some(child);
        Ok(())
    }

    /// An IMAP session logged in as `user`, for what the other helpers don't cover
    /// (IDLE, STORE, EXPUNGE...). The greeting has been read.
    pub async fn imap_login(&self, user: &str) -> Result<async_imap::Session<TcpStream>> {
        let stream = connect(self.imap_port(), "Dovecot's IMAP").await?;
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .ok_or_else(|| anyhow!("Dovecot closed the IMAP connection before greeting"))??;
        client
            .login(user, PASSWORD)
            .await
            .map_err(|(err, _)| err)
            .with_context(|| format!("Cannot log in to IMAP as {user}"))
    }

    /// Stores `message` (raw RFC 5322 bytes) in `user`'s `folder`, creating the folder if
    /// needed. The message arrives without flags, as new mail does.
    pub async fn append(&self, user: &str, folder: &str, message: &[u8]) -> Result<()> {
        self.append_many(user, folder, [message]).await
    }

    /// [`MailSystem::append`] with the time the message reached the mailbox (its IMAP
    /// INTERNALDATE) set to `internal_date`, written as IMAP writes it
    /// (`"05-Mar-2024 11:20:00 +0000"`): mail that has sat in the mailbox for years.
    pub async fn append_dated(
        &self,
        user: &str,
        folder: &str,
        message: &[u8],
        internal_date: &str,
    ) -> Result<()> {
        let mut imap = RawImap::login(self.imap_port(), user).await?;
        let mut command = format!(
            "APPEND {} {} {{{}+}}\r\n",
            quoted(folder),
            quoted(internal_date),
            message.len()
        )
        .into_bytes();
        command.extend_from_slice(message);
        imap.command(&command)
            .await
            .with_context(|| format!("Cannot append a dated message to {user}'s {folder}"))?;
        imap.command(b"LOGOUT").await.ok();
        Ok(())
    }

    /// [`MailSystem::append`] for many messages, in order: MULTIAPPEND with
    /// non-synchronizing literals, a thousand messages per command, stores a
    /// 10,000-message backlog in about a second; one APPEND per message takes several
    /// times as long, as Dovecot syncs the maildir after each.
    pub async fn append_many<M: AsRef<[u8]>>(
        &self,
        user: &str,
        folder: &str,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<()> {
        const BATCH_MESSAGES: usize = 1000;
        const BATCH_BYTES: usize = 16 << 20;
        let mut imap = RawImap::login(self.imap_port(), user).await?;
        if !folder.eq_ignore_ascii_case("INBOX") {
            match imap
                .command(format!("CREATE {}", quoted(folder)).as_bytes())
                .await
            {
                Err(err) if format!("{err}").contains("ALREADYEXISTS") => {}
                created => {
                    created.with_context(|| format!("Cannot create {user}'s {folder}"))?;
                }
            }
        }
        let mut messages = messages.into_iter().peekable();
        let mut stored = 0;
        while messages.peek().is_some() {
            let mut command = format!("APPEND {}", quoted(folder)).into_bytes();
            let mut batch = 0;
            while let Some(message) =
                messages.next_if(|_| batch < BATCH_MESSAGES && command.len() < BATCH_BYTES)
            {
                let message = message.as_ref();
                command.extend_from_slice(format!(" {{{}+}}\r\n", message.len()).as_bytes());
                command.extend_from_slice(message);
                batch += 1;
            }
            imap.command(&command).await.with_context(|| {
                format!(
                    "Cannot append messages {stored}..{} to {user}'s {folder}",
                    stored + batch
                )
            })?;
            stored += batch;
        }
        imap.command(b"LOGOUT").await.ok();
        Ok(())
    }

    /// The raw bytes of every message in `user`'s `folder`, oldest (lowest UID) first.
    /// Read-only: flags (`\Seen`, `\Recent`) are left as they were.
    pub async fn fetch_all(&self, user: &str, folder: &str) -> Result<Vec<Vec<u8>>> {
        let fetches = self.fetch(user, folder, "(UID BODY.PEEK[])").await?;
        fetches
            .iter()
            .map(|fetch| {
                fetch.body().map(<[u8]>::to_vec).ok_or_else(|| {
                    anyhow!(
                        "Dovecot sent no body for UID {:?} in {user}'s {folder}",
                        fetch.uid
                    )
                })
            })
            .collect()
    }

    /// Waits until `user`'s `folder` holds at least `count` messages and returns them all
    /// as [`MailSystem::fetch_all`] does. The folder need not exist yet, and Dovecot may be
    /// restarted meanwhile. On timeout the error lists what the folder does hold, and the
    /// end of Postfix's log (to show mail that is still queued, and why).
    pub async fn wait_for_count(
        &self,
        user: &str,
        folder: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        let mut session = None;
        let mut last_problem = None;
        loop {
            if session.is_none() {
                match self.imap_login(user).await {
                    Ok(fresh) => session = Some(fresh),
                    Err(err) => last_problem = Some(format!("{err:#}")),
                }
            }
            if let Some(open) = session.as_mut() {
                // STATUS sees new mail without selecting, so polling is cheap even for
                // large folders; a missing folder is an error here, i.e. "not yet".
                match open.status(folder, "(MESSAGES)").await {
                    Ok(status) if status.exists as usize >= count => {
                        open.logout().await.ok();
                        return self.fetch_all(user, folder).await;
                    }
                    Ok(_) => {}
                    Err(async_imap::error::Error::No(text)) => {
                        last_problem = Some(format!("STATUS {folder}: {text}"));
                    }
                    Err(err) => {
                        last_problem = Some(format!("STATUS {folder}: {err}"));
                        // The connection may be dead (Dovecot restarting): start afresh.
                        session = None;
                    }
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        let found = match self.fetch_all(user, folder).await {
            Ok(messages) => describe_messages(&messages),
            Err(err) => format!("nothing readable ({err:#})"),
        };
        let last_problem = last_problem
            .map(|p| format!("\nlast problem: {p}"))
            .unwrap_or_default();
        bail!(
            "timed out after {timeout:?} waiting for {count} message(s) in {user}'s {folder}; \
             it holds {found}{last_problem}\nlast lines of {}:\n{}",
            self.postfix_log().display(),
            tail(&self.postfix_log(), 15),
        )
    }

    /// The UID and flags of every message in `user`'s `folder`, lowest UID first: system
    /// flags as IMAP spells them (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`)
    /// and keywords as set. `\Recent` is left out: it belongs to sessions, not messages.
    pub async fn flags(&self, user: &str, folder: &str) -> Result<Vec<(u32, Vec<String>)>> {
        let fetches = self.fetch(user, folder, "(UID FLAGS)").await?;
        // A FETCH without UID is Dovecot telling this session about a flag another session
        // (the daemon's) just stored: the answer to our own FETCH names every message by UID.
        Ok(fetches
            .iter()
            .filter_map(|fetch| {
                let uid = fetch.uid?;
                let flags = fetch.flags().filter_map(|flag| flag_name(&flag)).collect();
                Some((uid, flags))
            })
            .collect())
    }

    /// Removes `flag` (`\Seen`, a keyword) from every message of `user`'s `folder`: as if
    /// a mark had never been stored.
    pub async fn remove_flag(&self, user: &str, folder: &str, flag: &str) -> Result<()> {
        let mut session = self.imap_login(user).await?;
        session
            .select(folder)
            .await
            .with_context(|| format!("Cannot select {user}'s {folder}"))?;
        let updates: Vec<Fetch> = session
            .uid_store("1:*", format!("-FLAGS.SILENT ({flag})"))
            .await
            .with_context(|| format!("Cannot store flags in {user}'s {folder}"))?
            .try_collect()
            .await?;
        drop(updates);
        session.logout().await.ok();
        Ok(())
    }

    /// Fetches `query` for every message of `user`'s `folder`, sorted by UID, read-only.
    async fn fetch(&self, user: &str, folder: &str, query: &str) -> Result<Vec<Fetch>> {
        let mut session = self.imap_login(user).await?;
        // EXAMINE, not SELECT: looking must not clear \Recent for the daemon under test.
        let mailbox = session
            .examine(folder)
            .await
            .with_context(|| format!("Cannot open {user}'s {folder}"))?;
        let mut fetches: Vec<Fetch> = if mailbox.exists == 0 {
            Vec::new()
        } else {
            session
                .fetch("1:*", query)
                .await
                .with_context(|| format!("Cannot fetch {user}'s {folder}"))?
                .try_collect()
                .await
                .with_context(|| format!("Cannot fetch {user}'s {folder}"))?
        };
        session.logout().await.ok();
        fetches.sort_by_key(|fetch| fetch.uid);
        Ok(fetches)
    }

    /// Submits `message` through Postfix's SMTP port with envelope sender `from` (`""` for
    /// the null sender of a bounce) and envelope recipients `to`. Bare LF line endings are
    /// turned into CRLF. Returns once Postfix has queued it; delivery into Dovecot follows
    /// within milliseconds. A refusal is an error whose cause is the
    /// [`lettre::transport::smtp::Error`] with Postfix's reply code (`err.downcast_ref`).
    pub async fn send(&self, from: &str, to: &[&str], message: &[u8]) -> Result<()> {
        let sender = match from {
            "" => None,
            address => Some(
                address
                    .parse::<Address>()
                    .with_context(|| format!("bad sender {from:?}"))?,
            ),
        };
        let recipients = to
            .iter()
            .map(|address| {
                address
                    .parse::<Address>()
                    .with_context(|| format!("bad recipient {address:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let envelope = Envelope::new(sender, recipients).context("bad envelope")?;
        let stream = connect(self.smtp_port(), "Postfix's SMTP").await?;
        let mut connection = AsyncSmtpConnection::connect_with_transport(
            Box::new(stream),
            &ClientId::Domain("client.harness.test".to_owned()),
        )
        .await
        .context("Postfix did not greet")?;
        let sent = connection
            .send(&envelope, &crlf_line_endings(message))
            .await;
        connection.quit().await.ok();
        sent.map(drop)
            .with_context(|| format!("Postfix did not accept the message from <{from}> to {to:?}"))
    }

    /// The queue IDs of the mail in Postfix's queue that is not yet delivered (or bounced),
    /// each with the queue it is in (`incoming`, `active`, `deferred`, `hold`, `maildrop`).
    /// A message Postfix accepted stays in one of these until Dovecot's LMTP has stored it,
    /// so an empty list means every accepted message is readable over IMAP.
    pub fn queued(&self) -> Vec<(String, String)> {
        let root = self.control.layout.postfix_queue();
        let mut queued = Vec::new();
        for queue in ["maildrop", "incoming", "active", "deferred", "hold"] {
            // `deferred` (and `hold`) may spread its files over hashed subdirectories.
            let mut directories = vec![root.join(queue)];
            while let Some(directory) = directories.pop() {
                let Ok(entries) = fs::read_dir(&directory) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        directories.push(path);
                    } else {
                        let id = entry.file_name().to_string_lossy().into_owned();
                        queued.push((queue.to_owned(), id));
                    }
                }
            }
        }
        queued.sort();
        queued
    }

    /// Waits until Postfix's queue is empty ([`MailSystem::queued`]): everything it accepted
    /// has been delivered into Dovecot (or bounced). Call it once the mail to wait for has
    /// been accepted (e.g. the sender recorded it as sent): before that, an empty queue
    /// proves nothing. On timeout the error lists what is still queued, with the end of
    /// Postfix's log (which says why).
    pub async fn wait_for_empty_queue(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let queued = self.queued();
            if queued.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {timeout:?} waiting for Postfix's queue to empty; \
                     it holds {} message(s): {queued:?}\nlast lines of {}:\n{}",
                    queued.len(),
                    self.postfix_log().display(),
                    tail(&self.postfix_log(), 15),
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until Postfix has tried to deliver mail and put it back in its `deferred`
    /// queue (Dovecot down, say), and returns what is queued. On timeout the error lists
    /// the queue and the end of Postfix's log.
    pub async fn wait_for_deferred(&self, timeout: Duration) -> Result<Vec<(String, String)>> {
        let deadline = Instant::now() + timeout;
        loop {
            let queued = self.queued();
            if queued.iter().any(|(queue, _)| queue == "deferred") {
                return Ok(queued);
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {timeout:?} waiting for Postfix to defer mail; \
                     its queue holds {queued:?}\nlast lines of {}:\n{}",
                    self.postfix_log().display(),
                    tail(&self.postfix_log(), 15),
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until at least `count` messages for [`EAI_DOMAIN`] have been delivered and
    /// returns them all (in no particular order). On timeout the error shows the end of
    /// Postfix's log.
    pub async fn wait_for_eai(&self, count: usize, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        let new = self.control.layout.eai_mail().join("Maildir/new");
        let deadline = Instant::now() + timeout;
        loop {
            let messages: Vec<Vec<u8>> = fs::read_dir(&new)
                .map(|entries| {
                    entries
                        .filter_map(|entry| fs::read(entry.ok()?.path()).ok())
                        .collect()
                })
                .unwrap_or_default();
            if messages.len() >= count {
                return Ok(messages);
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {timeout:?} waiting for {count} message(s) for {EAI_DOMAIN}; \
                     {} arrived\nlast lines of {}:\n{}",
                    messages.len(),
                    self.postfix_log().display(),
                    tail(&self.postfix_log(), 15),
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The end of both servers' logs, for failure reports.
    fn log_report(&self) -> String {
        format!(
            "mail-system harness in {}\n--- last lines of {}:\n{}\n--- last lines of {}:\n{}",
            self.dir().display(),
            self.dovecot_log().display(),
            tail(&self.dovecot_log(), 40),
            self.postfix_log().display(),
            tail(&self.postfix_log(), 40),
        )
    }
}

impl Drop for MailSystem {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_report());
        }
        // Postfix first, so that it does not spend its last moments failing to deliver.
        // The watchdog stays until the end, in case the process dies meanwhile: each stop
        // tells it that the server's processes are gone.
        let postfix = lock(&self.postfix)
            .take()
            .map(|child| self.control.stop_postfix(child));
        let dovecot = lock(&self.dovecot)
            .take()
            .map(|child| self.control.stop_dovecot(child));
        let removed = self.dir.take().map(|dir| {
            dir.close()
                .context("Cannot remove the mail-system directory")
        });
        self.watchdog.dismiss();
        for result in [postfix, dovecot, removed].into_iter().flatten() {
            if let Err(err) = result {
                eprintln!("mail-system harness: {err:#}");
            }
        }
    }
}

impl std::fmt::Debug for MailSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSystem")
            .field("dir", &self.dir())
            .field("imap_port", &self.imap_port())
            .field("smtp_port", &self.smtp_port())
            .field("lmtp_port", &self.control.layout.lmtp_port)
            .field("tls", &self.control.layout.tls)
            .finish_non_exhaustive()
    }
}

/// The installed programs the harness runs.
#[derive(Clone, Debug)]
struct Tools {
    dovecot: PathBuf,
    postfix: PathBuf,
    /// Accounts that own the mail (Dovecot's `nobody`) and Postfix's queue.
    mail_owner: Account,
    postfix_owner: Account,
    /// The group of Postfix's submission directories.
    postdrop_gid: u32,
    /// Makes the certificates; only needed, and looked for, for TLS.
    openssl: Option<PathBuf>,
}

impl Tools {
    /// Finds Dovecot, its IMAP and LMTP services and Postfix, and checks that the
    /// harness runs as root; every failure says what to do.
    fn find() -> Result<Tools> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            bail!(
                "the mail-system harness must run as root: Dovecot and Postfix start as root \
                 and switch to their own users"
            );
        }
        let dovecot = find_program("dovecot");
        let postfix = find_program("postfix");
        // Dovecot's services live outside PATH; dovecot-core alone lacks imap and lmtp.
        let service_dirs = ["/usr/lib/dovecot", "/usr/libexec/dovecot"];
        let service = |name: &str| {
            service_dirs
                .iter()
                .map(|dir| Path::new(dir).join(name))
                .find(|path| path.is_file())
        };
        let mut missing = Vec::new();
        if dovecot.is_none() {
            missing.push("dovecot".to_owned());
        }
        for name in ["imap", "lmtp"] {
            if service(name).is_none() {
                missing.push(format!(
                    "Dovecot's {name} service (in {})",
                    service_dirs.join(" or ")
                ));
            }
        }
        if postfix.is_none() {
            missing.push("postfix".to_owned());
        }
        match (dovecot, postfix) {
            (Some(dovecot), Some(postfix)) if missing.is_empty() => Ok(Tools {
                dovecot,
                postfix,
                mail_owner: Account::lookup("nobody")?,
                postfix_owner: Account::lookup("postfix")?,
                postdrop_gid: group_id("postdrop")?,
                openssl: None,
            }),
            _ => bail!(
                "the mail-system tests need Dovecot and Postfix; not found: {}; {INSTALL_ADVICE}",
                missing.join(", ")
            ),
        }
    }
}

/// A program on PATH or in the sbin directories, which a non-login PATH may lack.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A system account's numeric ids.
#[derive(Clone, Copy, Debug)]
struct Account {
    uid: u32,
    gid: u32,
}

impl Account {
    fn lookup(name: &str) -> Result<Account> {
        let [uid, gid] = system_database_ids("/etc/passwd", name)?;
        Ok(Account { uid, gid })
    }
}

fn group_id(name: &str) -> Result<u32> {
    let [gid, _] = system_database_ids("/etc/group", name)?;
    Ok(gid)
}

/// The third and fourth field of `name`'s line in /etc/passwd (uid, gid) or /etc/group
/// (gid, member list: only the gid is meaningful).
fn system_database_ids(file: &str, name: &str) -> Result<[u32; 2]> {
    let database = fs::read_to_string(file).with_context(|| format!("Cannot read {file}"))?;
    let fields: Vec<&str> = database
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name) && fields.len() > 3)
        .ok_or_else(|| anyhow!("there is no {name:?} in {file}: {INSTALL_ADVICE}"))?;
    let id = |text: &str| text.parse::<u32>().unwrap_or(0);
    Ok([id(fields[2]), id(fields[3])])
}

/// Where one instance keeps its files, and the ports it listens on.
#[derive(Clone, Debug)]
struct Layout {
    root: PathBuf,
    /// Unique per instance. It is in Dovecot's greeting and Postfix's host name, so a
    /// readiness probe never mistakes another instance's server for this one's.
    id: String,
    imap_port: u16,
    lmtp_port: u16,
    smtp_port: u16,
    tls: Option<TlsLayout>,
    /// Whether Postfix offers SMTPUTF8.
    smtputf8: bool,
}

/// The TLS side of an instance.
#[derive(Clone, Copy, Debug)]
struct TlsLayout {
    certificate: Certificate,
    imaps_port: u16,
    smtps_port: u16,
}

impl Layout {
    /// Makes the directory and writes both servers' configuration (and, for TLS, their
    /// certificate) into it.
    fn create(
        tools: &Tools,
        certificate: Option<Certificate>,
        smtputf8: bool,
    ) -> Result<(tempfile::TempDir, Layout)> {
        let id = format!("{:010x}", random_u64() >> 24);
        let parent = parent_directory();
        let dir = tempfile::Builder::new()
            .prefix(&format!("referrald-mailsys-{id}-"))
            .tempdir_in(parent)
            .with_context(|| format!("Cannot create the mail-system directory in {parent}"))?;
        fs::set_permissions(dir.path(), Permissions::from_mode(0o755))?;
        let [imap_port, lmtp_port, smtp_port, imaps_port, smtps_port] = free_ports()?;
        let layout = Layout {
            root: dir.path().to_owned(),
            id,
            imap_port,
            lmtp_port,
            smtp_port,
            tls: certificate.map(|certificate| TlsLayout {
                certificate,
                imaps_port,
                smtps_port,
            }),
            smtputf8,
        };
        if let Some(tls) = &layout.tls {
            let openssl = tools
                .openssl
                .as_ref()
                .ok_or_else(|| anyhow!("TLS needs the openssl program; {OPENSSL_ADVICE}"))?;
            layout.make_certificate(openssl, tls.certificate)?;
        }
        layout.write_dovecot_config(tools.mail_owner)?;
        layout.write_postfix_config(tools)?;
        Ok((dir, layout))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn dovecot_config(&self) -> PathBuf {
        self.path("dovecot.conf")
    }

    fn dovecot_log(&self) -> PathBuf {
        self.path("dovecot.log")
    }

    fn dovecot_pid_file(&self) -> PathBuf {
        self.path("dovecot-run/master.pid")
    }

    fn postfix_config_dir(&self) -> PathBuf {
        self.path("postfix")
    }

    fn postfix_log(&self) -> PathBuf {
        self.path("postfix.log")
    }

    /// Where Postfix delivers mail for [`EAI_DOMAIN`].
    fn eai_mail(&self) -> PathBuf {
        self.path("eai-mail")
    }

    fn postfix_queue(&self) -> PathBuf {
        self.path("postfix-queue")
    }

    fn postfix_pid_file(&self) -> PathBuf {
        self.postfix_queue().join("pid/master.pid")
    }

    fn imap_greeting(&self) -> String {
        format!("Test IMAP server {} ready.", self.id)
    }

    fn smtp_hostname(&self) -> String {
        format!("mx-{}.harness.test", self.id)
    }

    /// Every port Dovecot listens on.
    fn dovecot_ports(&self) -> Vec<u16> {
        let mut ports = vec![self.imap_port, self.lmtp_port];
        ports.extend(self.tls.map(|tls| tls.imaps_port));
        ports
    }

    /// Every port Postfix listens on.
    fn postfix_ports(&self) -> Vec<u16> {
        let mut ports = vec![self.smtp_port];
        ports.extend(self.tls.map(|tls| tls.smtps_port));
        ports
    }

    fn tls_dir(&self) -> PathBuf {
        self.path("tls")
    }

    /// The certificate both servers present (PEM), and its key.
    fn server_certificate(&self) -> PathBuf {
        self.tls_dir().join("server.pem")
    }

    fn server_key(&self) -> PathBuf {
        self.tls_dir().join("server.key")
    }

    /// What a client must trust: the CA's certificate, or the self-signed one itself.
    fn trusted_certificate(&self, certificate: Certificate) -> PathBuf {
        match certificate {
            Certificate::PrivateCa => self.tls_dir().join("ca.pem"),
            Certificate::SelfSigned => self.server_certificate(),
        }
    }

    /// Makes the servers' certificate and key with `openssl` (P-256 keys: a few
    /// milliseconds each, where RSA takes a tenth of a second). Valid for two days from
    /// now: the instance lives for seconds.
    fn make_certificate(&self, openssl: &Path, certificate: Certificate) -> Result<()> {
        let dir = self.tls_dir();
        fs::create_dir(&dir)?;
        // Our own extension sections, so that nothing depends on /etc/ssl/openssl.cnf.
        // rustls (webpki) insists on a subjectAltName, and refuses a certificate marked
        // as a CA as a server's certificate, even a self-signed one.
        let extensions = dir.join("openssl.cnf");
        fs::write(
            &extensions,
            "[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[issued]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
[self_signed]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
",
        )?;
        let request = |extensions_section: &str, subject: &str, key: &Path, out: &Path| {
            let mut command = Command::new(openssl);
            command
                .args(["req", "-x509", "-config"])
                .arg(&extensions)
                .args(["-extensions", extensions_section])
                .args([
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                ])
                .args(["-days", "2", "-subj", subject, "-keyout"])
                .arg(key)
                .arg("-out")
                .arg(out);
            command
        };
        let mut commands = Vec::new();
        match certificate {
            Certificate::PrivateCa => {
                let ca = self.trusted_certificate(certificate);
                let ca_key = dir.join("ca.key");
                commands.push(request(
                    "ca",
                    &format!("/CN=referrald test CA {}", self.id),
                    &ca_key,
                    &ca,
                ));
                let mut issued = request(
                    "issued",
                    "/CN=localhost",
                    &self.server_key(),
                    &self.server_certificate(),
                );
                issued.arg("-CA").arg(&ca).arg("-CAkey").arg(&ca_key);
                commands.push(issued);
            }
            Certificate::SelfSigned => commands.push(request(
                "self_signed",
                "/CN=localhost",
                &self.server_key(),
                &self.server_certificate(),
            )),
        }
        for mut command in commands {
            let output = command
                .output()
                .with_context(|| format!("Cannot run {}", openssl.display()))?;
            if !output.status.success() {
                bail!(
                    "{command:?} failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
        }
        Ok(())
    }

    /// Dovecot's TLS settings, and the address and port of its imaps listener (port 0:
    /// none).
    fn dovecot_tls(&self) -> (String, String) {
        match &self.tls {
            None => ("ssl = no".to_owned(), "port = 0".to_owned()),
            Some(tls) => (
                format!(
                    "ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2",
                    cert = self.server_certificate().display(),
                    key = self.server_key().display(),
                ),
                format!(
                    "address = 127.0.0.1
    port = {}
    ssl = yes",
                    tls.imaps_port
                ),
            ),
        }
    }

    fn write_dovecot_config(&self, mail_owner: Account) -> Result<()> {
        let mail = self.path("mail");
        fs::create_dir(&mail)?;
        chown(&mail, Some(mail_owner.uid), Some(mail_owner.gid))?;
        let (ssl, imaps) = self.dovecot_tls();
        let config = format!(
            "# A private Dovecot for one test, written by tests/support/mailsys.rs.
instance_name = mailsys-{id}
base_dir = {root}/dovecot-run
state_dir = {root}/dovecot-state
log_path = {log}
protocols = imap lmtp
listen = 127.0.0.1
login_greeting = {greeting}

# Running as root in a temporary directory: the login and internal processes need
# unprivileged users of their own, mail belongs to nobody, and nothing is chrooted.
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1

# Any user logs in with one password, over plain text on loopback too.
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = static
  args = password={password} nodelay=yes
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%Lu allow_all_users=yes
}}
# Tests that try a wrong password must not be slowed down for seconds.
auth_failure_delay = 0

mail_location = maildir:~/Maildir
# Tests never outlive a crash of the machine: spare the disk the syncs.
mail_fsync = never

protocol imap {{
  # The daemon, the test and its helpers may all be connected as one user.
  mail_max_userip_connections = 100
  # A still-here line during IDLE every second (the default is two minutes), so a test can tell
  # an IDLE the client ends on time from one the server's chatter keeps alive for ever.
  imap_idle_notify_interval = 1 secs
}}

service imap-login {{
  chroot =
  # One long-lived login process instead of a fork per connection.
  service_count = 0
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service anvil {{
  chroot =
  # Without this socket Dovecot tracks no login-failure penalties (it logs one error).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
",
            id = self.id,
            root = self.root.display(),
            log = self.dovecot_log().display(),
            greeting = self.imap_greeting(),
            password = PASSWORD,
            ssl = ssl,
            imaps = imaps,
            uid = mail_owner.uid,
            gid = mail_owner.gid,
            mail = mail.display(),
            imap_port = self.imap_port,
            lmtp_port = self.lmtp_port,
        );
        fs::write(self.dovecot_config(), config)?;
        Ok(())
    }

    fn write_postfix_config(&self, tools: &Tools) -> Result<()> {
        let config_dir = self.postfix_config_dir();
        fs::create_dir(&config_dir)?;
        self.create_postfix_directories(tools)?;
        let eai_mail = self.eai_mail();
        fs::create_dir(&eai_mail)?;
        chown(
            &eai_mail,
            Some(tools.mail_owner.uid),
            Some(tools.mail_owner.gid),
        )?;
        let main = format!(
            "# A private Postfix for one test, written by tests/support/mailsys.rs.
# It accepts mail for every address and delivers it into the test's Dovecot.
compatibility_level = 3.6
# yes is the default at this compatibility level; no for tests of servers without it.
smtputf8_enable = {smtputf8}
queue_directory = {root}/postfix-queue
data_directory = {root}/postfix-data
# postfix start-fg sends this to the harness's log file.
maillog_file = /dev/stdout
myhostname = {hostname}
mydomain = harness.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtpd_banner = $myhostname ESMTP

# Every domain is a mailbox domain, and Dovecot holds every mailbox.
virtual_mailbox_domains = static:all
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
smtpd_reject_unlisted_recipient = no
# One recipient per LMTP transaction, so that Dovecot adds Delivered-To (it does only
# for a single recipient), as mail providers' delivery does.
lmtp_destination_recipient_limit = 1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access inline:{{ {{ {rejected} = 550 5.1.1 Recipient rejected by the test harness }} }}
# Dovecot's LMTP does not offer SMTPUTF8: mail for {eai} goes into one maildir of Postfix's.
transport_maps = inline:{{ {eai}=virtual: }}
virtual_mailbox_base = {eai_mail}
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}

# Loopback only: no DNS, no reverse lookups of the client.
smtp_dns_support_level = disabled
smtpd_peername_lookup = no

# Deliver at once and retry deferred mail (Dovecot down) within a second or two.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Never slow down a client, however fast it sends or however often it is refused.
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
{tls}",
            tls = self.postfix_tls(),
            root = self.root.display(),
            hostname = self.smtp_hostname(),
            lmtp_port = self.lmtp_port,
            rejected = REJECTED_DOMAIN,
            eai = EAI_DOMAIN,
            eai_mail = self.eai_mail().display(),
            uid = tools.mail_owner.uid,
            gid = tools.mail_owner.gid,
            smtputf8 = if self.smtputf8 { "yes" } else { "no" },
        );
        fs::write(config_dir.join("main.cf"), main)?;
        // Only the services this Postfix needs, none chrooted (the queue directory holds
        // no copies of /etc).
        let master = format!(
            "# service        type  private unpriv chroot wakeup maxproc command
127.0.0.1:{smtp_port} inet n       -      n      -      -       smtpd
pickup         unix  n       -      n      60     1       pickup
cleanup        unix  n       -      n      -      0       cleanup
qmgr           unix  n       -      n      300    1       qmgr
rewrite        unix  -       -      n      -      -       trivial-rewrite
bounce         unix  -       -      n      -      0       bounce
defer          unix  -       -      n      -      0       bounce
trace          unix  -       -      n      -      0       bounce
verify         unix  -       -      n      -      1       verify
flush          unix  n       -      n      1000?  0       flush
proxymap       unix  -       -      n      -      -       proxymap
showq          unix  n       -      n      -      -       showq
error          unix  -       -      n      -      -       error
retry          unix  -       -      n      -      -       error
discard        unix  -       -      n      -      -       discard
smtp           unix  -       -      n      -      -       smtp
lmtp           unix  -       -      n      -      -       lmtp
virtual        unix  -       n      n      -      -       virtual
anvil          unix  -       -      n      -      1       anvil
scache         unix  -       -      n      -      1       scache
postlog        unix-dgram n  -      n      -      1       postlogd
{tls}",
            smtp_port = self.smtp_port,
            tls = self.postfix_tls_services(),
        );
        fs::write(config_dir.join("master.cf"), master)?;
        // Postfix will not read a configuration file modified within the last second or
        // two (it might be half written): it polls until the file is older, which made
        // every first start take two seconds. Backdate the files instead.
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        for file in ["main.cf", "master.cf"] {
            File::options()
                .write(true)
                .open(config_dir.join(file))?
                .set_modified(past)?;
        }
        Ok(())
    }

    /// Postfix's TLS settings (main.cf): STARTTLS offered on every port, and a line in
    /// the log for every TLS session, so a test can tell that TLS was used.
    fn postfix_tls(&self) -> String {
        if self.tls.is_none() {
            return String::new();
        }
        format!(
            "
# TLS: STARTTLS is offered, not required, on the plain port.
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
",
            cert = self.server_certificate().display(),
            key = self.server_key().display(),
        )
    }

    /// The TLS services (master.cf): the wrapper-mode port, TLS from the first byte, and
    /// tlsmgr, which smtpd asks for TLS session keys.
    fn postfix_tls_services(&self) -> String {
        match &self.tls {
            None => String::new(),
            Some(tls) => format!(
                "127.0.0.1:{port} inet n       -      n      -      -       smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
tlsmgr         unix  -       -      n      1000?  1       tlsmgr
",
                port = tls.smtps_port
            ),
        }
    }

    /// Postfix's queue and data directories, as `postfix check` would create them (as
    /// listed in /etc/postfix/postfix-files). Creating them here lets every start skip
    /// postfix-script's checks, which take seconds on a first start.
    fn create_postfix_directories(&self, tools: &Tools) -> Result<()> {
        let owner = tools.postfix_owner;
        let queue = self.postfix_queue();
        let data = self.path("postfix-data");
        let mut directories = vec![
            (queue.clone(), 0, 0, 0o755),
            (queue.join("pid"), 0, 0, 0o755),
            (queue.join("maildrop"), owner.uid, tools.postdrop_gid, 0o730),
            (queue.join("public"), owner.uid, tools.postdrop_gid, 0o710),
            (data, owner.uid, 0, 0o700),
        ];
        for name in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace",
        ] {
            directories.push((queue.join(name), owner.uid, 0, 0o700));
        }
        for (directory, uid, gid, mode) in directories {
            fs::create_dir(&directory)?;
            chown(&directory, Some(uid), Some(gid))?;
            fs::set_permissions(&directory, Permissions::from_mode(mode))?;
        }
        Ok(())
    }
}

/// Where instances make their directories: tmpfs if it has room, as maildir and queue
/// writes cost several times less there than on a disk (Docker's /dev/shm has only
/// 64 MB), else /tmp. Not $TMPDIR: the servers' unprivileged users must be able to reach
/// their files, and a private $TMPDIR may not let them through.
fn parent_directory() -> &'static str {
    const TMPFS: &str = "/dev/shm";
    let open_to_all = fs::metadata(TMPFS)
        .is_ok_and(|meta| meta.is_dir() && meta.permissions().mode() & 0o1777 == 0o1777);
    if open_to_all && free_bytes(TMPFS).is_some_and(|free| free >= 1 << 30) {
        TMPFS
    } else {
        "/tmp"
    }
}

fn free_bytes(path: &str) -> Option<u64> {
    let path = std::ffi::CString::new(path).ok()?;
    // SAFETY: statvfs only writes into the struct it is given; all-zero is a valid value.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `stats` a valid, writable struct.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// What starting and stopping the servers needs; cloned into blocking tasks.
#[derive(Clone, Debug)]
struct Control {
    layout: Layout,
    tools: Tools,
    watch: Watch,
}

impl Control {
    /// Starts Dovecot in the foreground and waits until IMAP greets and LMTP answers.
    fn start_dovecot(&self) -> Result<Child> {
        let layout = &self.layout;
        let log = append_to(&layout.dovecot_log())?;
        let mut child = Command::new(&self.tools.dovecot)
            .arg("-F")
            .arg("-c")
            .arg(layout.dovecot_config())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // A process group of its own, so that stopping can signal every Dovecot process.
            .process_group(0)
            .spawn()
            .with_context(|| format!("Cannot run {}", self.tools.dovecot.display()))?;
        self.watch.report(Server::Dovecot, Some(pid(&child)));
        let greeting = layout.imap_greeting();
        let ready = wait_until_ready(&mut child, || {
            greets(layout.imap_port, |line| line.contains(&greeting))
                && greets(layout.lmtp_port, |line| line.starts_with("220 "))
        });
        match ready {
            Ok(()) => Ok(child),
            Err(err) => {
                self.stop_dovecot(child).ok();
                Err(err.context(format!(
                    "Dovecot did not start; last lines of {}:\n{}",
                    layout.dovecot_log().display(),
                    tail(&layout.dovecot_log(), 20)
                )))
            }
        }
    }

    /// Stops Dovecot and waits until its ports refuse connections.
    fn stop_dovecot(&self, mut child: Child) -> Result<()> {
        // SIGTERM to the whole group: the master alone takes seconds to stop its children
        // while clients are connected, and may leave some behind. Even so, the master
        // sometimes lingers for seconds with its log and anvil processes: those get no
        // more than a second before SIGKILL.
        let group = -pid(&child);
        signal(group, libc::SIGTERM);
        if !wait_for_exit(&mut child, Duration::from_secs(1)) {
            signal(group, libc::SIGKILL);
            child.wait().ok();
        }
        signal(group, libc::SIGKILL);
        fs::remove_file(self.layout.dovecot_pid_file()).ok();
        self.watch.report(Server::Dovecot, None);
        wait_until_refused(&self.layout.dovecot_ports(), "Dovecot")
    }

    /// Starts Postfix with `postfix start-fg` and waits until SMTP greets.
    fn start_postfix(&self) -> Result<Child> {
        let layout = &self.layout;
        let log = append_to(&layout.postfix_log())?;
        // The queue directories exist and the configuration is known to be good: tell
        // postfix-script to skip its checks (it removes the file).
        File::create(layout.postfix_queue().join("quick-start"))?;
        // `start-fg` runs postfix-script, which runs the master daemon in a session of
        // its own and stays its parent until it exits.
        let mut child = Command::new(&self.tools.postfix)
            .arg("-c")
            .arg(layout.postfix_config_dir())
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("Cannot run {}", self.tools.postfix.display()))?;
        self.watch.report(Server::PostfixScript, Some(pid(&child)));
        let hostname = layout.smtp_hostname();
        let ready = wait_until_ready(&mut child, || {
            greets(layout.smtp_port, |line| {
                line.starts_with("220 ") && line.contains(&hostname)
            })
        });
        match ready {
            Ok(()) => {
                // The master's group too: the pid files may be gone by the time the
                // watchdog acts (a panic in a destructor drops the directory first).
                let master = read_pid(&layout.postfix_pid_file());
                self.watch.report(Server::PostfixMaster, master);
                Ok(child)
            }
            Err(err) => {
                self.stop_postfix(child).ok();
                Err(err.context(format!(
                    "Postfix did not start; last lines of {}:\n{}",
                    layout.postfix_log().display(),
                    tail(&layout.postfix_log(), 20)
                )))
            }
        }
    }

    /// Stops Postfix and waits until its SMTP port refuses connections.
    fn stop_postfix(&self, mut child: Child) -> Result<()> {
        // The master leads its own process group and, on SIGTERM, takes its children
        // down; without a pid file it never started, and the script's group is all
        // there is.
        let script_group = -pid(&child);
        let master = read_pid(&self.layout.postfix_pid_file());
        signal(master.unwrap_or(script_group), libc::SIGTERM);
        if !wait_for_exit(&mut child, STOP_GRACE) {
            signal(script_group, libc::SIGKILL);
            child.wait().ok();
        }
        if let Some(master) = master {
            signal(-master, libc::SIGKILL);
        }
        fs::remove_file(self.layout.postfix_pid_file()).ok();
        self.watch.report(Server::PostfixScript, None);
        self.watch.report(Server::PostfixMaster, None);
        wait_until_refused(&self.layout.postfix_ports(), "Postfix")
    }
}

/// A process that kills both servers and removes the directory when the test process
/// dies without dropping its [`MailSystem`] (killed by a timeout, aborted by a panic in a
/// destructor...): it reads the process groups to kill from a pipe whose only writer is
/// the test process, until end-of-file, which the kernel delivers however that dies.
struct Watchdog {
    child: Child,
    watch: Watch,
}

impl Watchdog {
    /// Runs until end-of-file on stdin, keeping the latest group of each server; then
    /// kills those and the groups of the masters' pid files, twice, a second apart, to
    /// catch what was being started at the time.
    const SCRIPT: &str = r#"
trap '' HUP INT TERM
dovecot= script= master=
while read -r server group; do
    case $server in
        dovecot) dovecot=$group ;;
        postfix-script) script=$group ;;
        postfix-master) master=$group ;;
    esac
done
for round in 1 2; do
    for group in $dovecot $script $master $(cat "$1" "$2" 2>/dev/null | tr -c 0-9 ' '); do
        kill -s KILL -- "-$group" 2>/dev/null
    done
    [ "$round" = 1 ] && sleep 1
done
rm -rf -- "$3"
"#;

    fn spawn(layout: &Layout) -> Result<Watchdog> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(Watchdog::SCRIPT)
            .arg("mailsys-watchdog")
            .arg(layout.dovecot_pid_file())
            .arg(layout.postfix_pid_file())
            .arg(&layout.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the test's process group, so that Ctrl-C does not stop it too early.
            .process_group(0)
            .spawn()
            .context("Cannot start the mail-system watchdog (/bin/sh)")?;
        let pipe = child
            .stdin
            .take()
            .context("the watchdog has no stdin pipe")?;
        Ok(Watchdog {
            child,
            watch: Watch(Arc::new(Mutex::new(pipe))),
        })
    }

    /// The pipe to tell the watchdog about servers.
    fn watch(&self) -> Watch {
        self.watch.clone()
    }

    /// Ends the watchdog without letting it act: the test process cleans up itself.
    fn dismiss(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The process groups the watchdog knows about.
#[derive(Clone, Copy, Debug)]
enum Server {
    /// Every Dovecot process.
    Dovecot,
    /// postfix-script, which starts Postfix's master.
    PostfixScript,
    /// Postfix's master and its children.
    PostfixMaster,
}

/// The test process's end of the pipe to the watchdog.
#[derive(Clone, Debug)]
struct Watch(Arc<Mutex<ChildStdin>>);

impl Watch {
    /// Tells the watchdog the process group to kill for `server` (`None`: nothing, as it
    /// has been stopped).
    fn report(&self, server: Server, group: Option<i32>) {
        let name = match server {
            Server::Dovecot => "dovecot",
            Server::PostfixScript => "postfix-script",
            Server::PostfixMaster => "postfix-master",
        };
        let group = group.map(|group| group.to_string()).unwrap_or_default();
        // Without a watchdog (dismissed, or failed) there is nobody to tell.
        lock(&self.0)
            .write_all(format!("{name} {group}\n").as_bytes())
            .ok();
    }
}

/// Polls until `ready` holds, failing early if `child` exits.
fn wait_until_ready(child: &mut Child, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("it exited ({status})");
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("it did not greet within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the server on `port` sends, within a second, a greeting line that `expected`
/// accepts. Dovecot may first say that it waits for its auth process, and greet properly
/// once that is up, so a few lines are read.
fn greets(port: u16, expected: impl Fn(&str) -> bool) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .is_err()
    {
        return false;
    }
    let mut lines = BufReader::new(stream).lines();
    (0..3).any(|_| matches!(lines.next(), Some(Ok(line)) if expected(&line)))
}

/// Waits until nothing accepts connections on `ports` any more.
fn wait_until_refused(ports: &[u16], server: &str) -> Result<()> {
    let deadline = Instant::now() + STOP_GRACE;
    for &port in ports {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            if Instant::now() >= deadline {
                bail!("{server} was stopped but port {port} still accepts connections");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}

fn wait_for_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Sends `signal` to a process, or to a process group when `pid` is negative. Errors
/// (typically: nothing left to signal) are of no interest to a harness that is stopping.
fn signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

fn pid(child: &Child) -> i32 {
    // Linux pids fit in an i32 (pid_max is at most 2^22).
    child.id() as i32
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&pid: &i32| pid > 1)
}

/// `N` distinct ports that are free right now, below Linux's ephemeral range
/// (32768–60999): a port in that range can be taken at any moment as the local end of
/// some outgoing connection.
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut ports = Vec::with_capacity(N);
    for _ in 0..1000 {
        let port = 20_000 + (random_u64() % 12_000) as u16;
        if !ports.contains(&port) && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            ports.push(port);
            if let Ok(all) = <[u16; N]>::try_from(ports.as_slice()) {
                return Ok(all);
            }
        }
    }
    bail!("found no {N} free ports on 127.0.0.1 between 20000 and 32000")
}

/// A random number: std's hasher keys come from the operating system's randomness.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

fn append_to(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("Cannot open {}", path.display()))
}

/// The last `lines` lines of a log file.
fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the Option consistent: use it anyway.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A loopback connection to `port`, with Nagle's algorithm off: IMAP and SMTP clients
/// write a command in several small pieces, and with Nagle each exchange can wait for
/// the server's delayed ACK, costing up to 40 ms per APPEND or message.
async fn connect(port: u16, what: &str) -> Result<TcpStream> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| anyhow!("connecting to {what} port {address} timed out"))?
        .with_context(|| format!("Cannot connect to {what} port {address}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Just enough of an IMAP client for what async-imap lacks: MULTIAPPEND with LITERAL+
/// literals, which Dovecot supports.
struct RawImap {
    connection: tokio::io::BufReader<TcpStream>,
    tag: u32,
}

impl RawImap {
    async fn login(port: u16, user: &str) -> Result<RawImap> {
        let stream = connect(port, "Dovecot's IMAP").await?;
        let mut imap = RawImap {
            connection: tokio::io::BufReader::new(stream),
            tag: 0,
        };
        imap.read_line().await?;
        let login = format!("LOGIN {} {}", quoted(user), quoted(PASSWORD));
        imap.command(login.as_bytes())
            .await
            .with_context(|| format!("Cannot log in to IMAP as {user}"))?;
        Ok(imap)
    }

    /// Sends `command` with a fresh tag and waits for its completion: Ok with the tagged
    /// reply if it is OK, else an error with the reply.
    async fn command(&mut self, command: &[u8]) -> Result<String> {
        self.tag += 1;
        let tag = format!("h{}", self.tag);
        let mut line = Vec::with_capacity(tag.len() + command.len() + 3);
        line.extend_from_slice(tag.as_bytes());
        line.push(b' ');
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        self.connection.get_mut().write_all(&line).await?;
        let prefix = format!("{tag} ");
        loop {
            let reply = self.read_line().await?;
            if let Some(status) = reply.strip_prefix(&prefix) {
                if status.starts_with("OK") {
                    return Ok(reply);
                }
                bail!("Dovecot replied: {}", reply.trim_end());
            }
        }
    }

    async fn read_line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            IMAP_REPLY_TIMEOUT,
            self.connection.read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| anyhow!("Dovecot did not reply within {IMAP_REPLY_TIMEOUT:?}"))??;
        if read == 0 {
            bail!("Dovecot closed the IMAP connection");
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}

/// `text` as an IMAP quoted string.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn flag_name(flag: &Flag<'_>) -> Option<String> {
    let name = match flag {
        Flag::Seen => "\\Seen",
        Flag::Answered => "\\Answered",
        Flag::Flagged => "\\Flagged",
        Flag::Deleted => "\\Deleted",
        Flag::Draft => "\\Draft",
        Flag::Recent | Flag::MayCreate => return None,
        Flag::Custom(keyword) => keyword.as_ref(),
    };
    Some(name.to_owned())
}

/// "N message(s):" and one line per message with its From, To and Subject.
fn describe_messages(messages: &[Vec<u8>]) -> String {
    let mut description = format!("{} message(s)", messages.len());
    for (index, message) in messages.iter().enumerate() {
        let text = String::from_utf8_lossy(message);
        let header = |name: &str| {
            text.lines()
                .take_while(|line| !line.is_empty())
                .find_map(|line| {
                    let (field, value) = line.split_once(':')?;
                    field
                        .eq_ignore_ascii_case(name)
                        .then(|| value.trim().to_owned())
                })
                .unwrap_or_default()
        };
        description.push_str(&format!(
            "\n  {}. From: {} | To: {} | Subject: {}",
            index + 1,
            header("From"),
            header("To"),
            header("Subject")
        ));
    }
    description
}

/// `message` with every bare LF turned into CRLF, as SMTP requires.
fn crlf_line_endings(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32);
    for (index, &byte) in message.iter().enumerate() {
        if byte == b'\n' && (index == 0 || message[index - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}
