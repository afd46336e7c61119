//! Transport: the seam between the outbox and the world. A message is handed over and the
//! answer is sorted at once, the way Delta Chat does it: accepted, [`SendError::Temporary`]
//! (try again later), [`SendError::Permanent`] (record the server's reply and give up) or
//! [`SendError::Refused`] (given up, and the refusal is about the recipient's address).
//! Nothing above this module looks at SMTP reply codes.

use std::error::Error as _;
use std::future::Future;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use lettre::Message;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::{ClientId, Extension};

use crate::config::{Auth, Config, ConfigError, Smtp, Tls, TransportKind};
use crate::net::{CertificateRefused, Stream, Trust, certificate_problem, loopback_host};
use crate::oauth::Grant;

/// Why a message was not accepted, sorted by what the outbox should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: a 4xx reply, a lost, refused or timed-out connection, a TLS failure,
    /// a refused login, a full disk.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Give up and record why: the server refused this message with a 5xx reply that is not
    /// about the recipient's address (our sender, our message, policy), or the message cannot
    /// be sent at all.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// Give up and record why: the server refused the recipient with a 5xx reply about their
    /// address or mailbox, which counts against that address.
    #[error("recipient refused: {1}")]
    Refused(Recipient, String),
}

/// What a permanent refusal says about the recipient's address (RFC 3463 enhanced status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The address does not exist (5.1.1, 5.1.2, 5.1.3, 5.1.6, 5.1.10): it is dead, exactly
    /// as if a delivery report had said so.
    Dead,
    /// Refused for a reason about the address or its mailbox that may pass (a full or disabled
    /// mailbox, an ambiguous address, no enhanced status at all): a second one makes the
    /// address undeliverable.
    Refused,
}

impl SendError {
    /// Whether the outbox should try again later.
    pub fn is_temporary(&self) -> bool {
        matches!(self, SendError::Temporary(_))
    }

    /// The reason, as the server or the system put it.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Temporary(r) | SendError::Permanent(r) | SendError::Refused(_, r) => r,
        }
    }
}

/// What [`Transport`] methods return: boxed, so transports can be chosen at runtime
/// (`Box<dyn Transport>`) and faked in tests.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// What [`Transport::test_connection`] returns: not sorted, but with the error's type kept
/// (a refused certificate is a [`CertificateRefused`]).
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// What [`Transport::close`] returns.
pub type CloseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Something that can take a finished message off our hands.
pub trait Transport: Send + Sync {
    /// Hands over one message. `Ok` means it was accepted (written to disk, or the SMTP server
    /// said 250 to the end of DATA); sending it again sends it twice.
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a>;

    /// Checks that sending could work right now (the server answers and accepts our login;
    /// the directory is writable), for `referrald doctor`.
    fn test_connection(&self) -> CheckFuture<'_>;

    /// Closes connections kept for reuse (SMTP QUIT): when the outbox goes quiet, and at
    /// shutdown. Sending afterwards opens new ones.
    fn close(&self) -> CloseFuture<'_> {
        Box::pin(async {})
    }
}

/// The transport the configuration asks for.
pub fn from_config(config: &Config) -> anyhow::Result<Box<dyn Transport>> {
    from_config_with(config, Grant::from_config(config)?)
}

/// [`from_config`], logging in with `grant` when `[smtp]` says `auth = "oauth2"`: the daemon
/// shares one grant between IMAP and SMTP, so that a rotated refresh token is used once.
pub fn from_config_with(
    config: &Config,
    grant: Option<std::sync::Arc<Grant>>,
) -> anyhow::Result<Box<dyn Transport>> {
    Ok(match config.outbound.transport {
        TransportKind::File => Box::new(FileTransport::new(config.outbox_dir())),
        TransportKind::Smtp => {
            let smtp = config.smtp.as_ref().ok_or_else(|| {
                anyhow!("outbound.transport is \"smtp\" but there is no [smtp] section")
            })?;
            Box::new(SmtpTransport::new(smtp, &config.base_dir)?.with_grant(grant))
        }
    })
}

/// Writes each message to `<dir>/<Message-ID>.eml`: for dry runs, the demo and tests.
///
/// lettre's own file transport names files by a fresh UUID and writes them in place; we want
/// a retry of the same message to replace its file (the name comes from the Message-ID, which
/// is fixed when the message is scheduled) and a reader never to see half a file (written to
/// a hidden temporary file, synced, then renamed).
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    /// A transport writing into `dir`, which is created when the first message is written.
    pub fn new(dir: impl Into<PathBuf>) -> FileTransport {
        FileTransport { dir: dir.into() }
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the message with this Message-ID (with or without brackets) is written.
    pub fn path_for(&self, message_id: &str) -> PathBuf {
        self.dir.join(eml_file_name(message_id))
    }
}

impl Transport for FileTransport {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            let id = message.headers().get_raw("Message-ID").ok_or_else(|| {
                SendError::Permanent("the message has no Message-ID to name its file".into())
            })?;
            let path = self.path_for(id);
            let bytes = message.formatted();
            let dir = self.dir.clone();
            tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
                .await
                .map_err(|e| SendError::Temporary(format!("the writer task failed: {e}")))?
                .map_err(|e| {
                    SendError::Temporary(format!("cannot write to {}: {e}", self.dir.display()))
                })
        })
    }

    fn test_connection(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let dir = self.dir.clone();
            tokio::task::spawn_blocking(move || {
                let probe = dir.join(format!(".probe.{}", std::process::id()));
                write_atomically(&dir, &probe, b"")?;
                std::fs::remove_file(&probe)
            })
            .await
            .map_err(|e| anyhow!("the writer task failed: {e}"))?
            .map_err(|e| anyhow!("cannot write to {}: {e}", self.dir.display()))
        })
    }
}

/// The longest file name stem we write; most file systems allow 255 bytes.
const MAX_STEM: usize = 180;

/// `<id>.eml`, with anything but letters, digits and `.@+=_-` replaced by `_`. When anything
/// was replaced or cut, a hash of the whole id is appended, so two ids never share a file.
fn eml_file_name(message_id: &str) -> String {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let mut stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '+' | '=' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // No hidden files, no "." or "..".
    if stem.starts_with('.') || stem.is_empty() {
        stem.insert(0, '_');
    }
    if stem != id || stem.len() > MAX_STEM {
        stem.truncate(MAX_STEM);
        stem.push_str(&format!("-{:016x}", fnv1a(id.as_bytes())));
    }
    format!("{stem}.eml")
}

/// FNV-1a: a stable hash (unlike `DefaultHasher`, the same on every build) for file names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Tells concurrent writers' temporary files apart within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates `dir` (and missing parents) readable by us alone, whatever the umask: the outbox
/// holds mail about people. A directory that already exists is left as it is.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700).create(dir)?;
        // The mode passed to mkdir is masked by the umask; a umask that takes away our own
        // bits (0o277) would leave a directory we cannot write: set it outright.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Writes `bytes` to `path` so that `path` is either absent, the old file or the whole new
/// one, even if we are killed halfway: temp file in the same directory, fsync, rename, fsync
/// the directory. Files are private to the owner (they hold people's mail).
pub(crate) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    // The rename is durable only once the directory is synced; where directories cannot be
    // opened (not on Unix), the file itself is already safe.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// How long one SMTP exchange (connecting, one command, one message) may take. RFC 5321
/// allows servers minutes; a minute is what Delta Chat and most clients give, and a stuck
/// server then costs one retry.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections kept open for reuse between messages: the outbox sends on up to this many at
/// once (a local Postfix needs ~5 ms per message on one connection).
pub const POOL_SIZE: usize = 4;
/// A pooled connection idle for longer than this is checked with NOOP before it is trusted
/// with a message: servers drop idle clients, and a message must not be failed over that.
const POOL_CHECK_AFTER: Duration = Duration::from_secs(5);
/// A pooled connection idle for longer than this is closed instead of reused.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Submits mail to the `[smtp]` server over reused connections with `TCP_NODELAY`.
///
/// lettre's own pooled transport opens its sockets itself and leaves Nagle's algorithm on,
/// which costs ~40 ms per message against a local server; this pool keeps lettre's SMTP
/// client ([`AsyncSmtpConnection`]) but hands it our own connections.
pub struct SmtpTransport {
    /// Where to connect: the configured host, or for clear text the loopback address checked.
    host: String,
    port: u16,
    tls: Tls,
    /// Whom the server's certificate may chain to.
    trust: Trust,
    /// For STARTTLS, which lettre performs with its own rustls configuration: built once,
    /// from the same roots and `ca-file` as `trust`.
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    /// For `auth = "oauth2"`: the user name, and the grant (once given) its tokens come from.
    bearer: Option<(String, Option<std::sync::Arc<Grant>>)>,
    /// Connections not in use, with when each was last used.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// `host:port` as configured, for messages.
    server: String,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("server", &self.server)
            .finish()
    }
}

impl SmtpTransport {
    /// A transport for `[smtp]`; `base_dir` resolves a relative `password-file` or
    /// `ca-file`. A `ca-file` that cannot be used is a [`ConfigError`].
    ///
    /// `tls = "none"` is refused unless the host is a loopback address (or resolves only to
    /// loopback addresses): a password or anyone's email must never cross a network in clear.
    pub fn new(smtp: &Smtp, base_dir: &Path) -> anyhow::Result<SmtpTransport> {
        let port = smtp.port();
        let server = format!("{}:{port}", smtp.host);
        let trust = Trust::load("smtp", smtp.ca_path(base_dir)?.as_deref())?;
        let starttls = match smtp.tls {
            Tls::Starttls => Some(starttls_parameters(&smtp.host, &trust)?),
            Tls::Implicit | Tls::None => None,
        };
        let host = match smtp.tls {
            Tls::Implicit | Tls::Starttls => smtp.host.clone(),
            Tls::None => loopback_host(&smtp.host, port)
                .map_err(|reason| anyhow!("[smtp] tls = \"none\": {reason}"))?,
        };
        let bearer = match (&smtp.username, smtp.auth) {
            (Some(username), Auth::Oauth2) => Some((username.clone(), None)),
            _ => None,
        };
        let credentials = match &smtp.username {
            Some(_) if bearer.is_some() => None,
            Some(username) => {
                let password = smtp
                    .secret()
                    .reveal(base_dir)
                    .map_err(|e| anyhow!("[smtp]: {e}"))?;
                Some(Credentials::new(username.clone(), password))
            }
            None => None,
        };
        Ok(SmtpTransport {
            host,
            port,
            tls: smtp.tls,
            trust,
            starttls,
            credentials,
            bearer,
            idle: Mutex::new(Vec::new()),
            server,
        })
    }

    /// Logs in with tokens from `grant` when `[smtp]` says `auth = "oauth2"`.
    pub fn with_grant(mut self, grant: Option<std::sync::Arc<Grant>>) -> SmtpTransport {
        if let Some((_, slot)) = &mut self.bearer {
            *slot = grant;
        }
        self
    }

    /// A fresh connection, logged in. With OAuth 2.0 a refused token is dropped and a new
    /// one tried once, on a new connection: it may have expired or been revoked early.
    async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let Some((username, grant)) = &self.bearer else {
            return self.open().await;
        };
        let grant = grant.as_ref().ok_or_else(|| {
            SendError::Temporary("[smtp] auth = \"oauth2\" but no [oauth2] grant".into())
        })?;
        let mut retried = false;
        loop {
            let token = grant.access_token().await.map_err(ConnectError::Grant)?;
            let mut connection = self.open().await?;
            let credentials = Credentials::new(username.clone(), token.reveal().to_string());
            match within(
                connection.auth(&[Mechanism::Xoauth2], &credentials),
                &self.server,
            )
            .await
            {
                Ok(_) => return Ok(connection),
                Err(e) => {
                    connection.abort().await;
                    grant.refused(&token).await;
                    if retried {
                        return Err(SendError::Temporary(format!(
                            "{} refused the OAuth 2.0 token for {username}: {}",
                            self.server,
                            e.reason()
                        ))
                        .into());
                    }
                    tracing::info!(
                        "{} refused the access token; getting a new one",
                        self.server
                    );
                    retried = true;
                }
            }
        }
    }

    /// A fresh connection: greeted, EHLO'd, encrypted as configured, logged in with a
    /// password if there is one.
    async fn open(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let stream = match self.tls {
            Tls::Implicit => Stream::connect_tls(&self.host, self.port, &self.trust).await,
            Tls::Starttls | Tls::None => Stream::connect_plain(&self.host, self.port).await,
        }
        .map_err(|e| {
            if e.downcast_ref::<CertificateRefused>().is_some() {
                ConnectError::Certificate(e.context(self.server.clone()))
            } else {
                ConnectError::Other(SendError::Temporary(format!("{}: {e:#}", self.server)))
            }
        })?;
        let hello = hello_name();
        let mut connection = within(
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello),
            &self.server,
        )
        .await?;
        if let Some(parameters) = &self.starttls {
            if !connection.can_starttls() {
                connection.abort().await;
                return Err(ConnectError::Other(SendError::Temporary(format!(
                    "{} does not offer STARTTLS; use tls = \"implicit\" (port 465) if it speaks TLS from the start",
                    self.server
                ))));
            }
            let upgrade = connection.starttls(parameters.clone(), &hello);
            match tokio::time::timeout(SMTP_TIMEOUT, upgrade).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(match certificate_problem(&e) {
                        Some(problem) => ConnectError::Certificate(
                            anyhow::Error::new(self.trust.refusal(&self.host, problem))
                                .context(self.server.clone()),
                        ),
                        None => ConnectError::Other(classify(&e, &self.server)),
                    });
                }
                Err(_) => return Err(ConnectError::Other(no_answer(&self.server))),
            }
        }
        if let Some(credentials) = &self.credentials {
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            within(connection.auth(&mechanisms, credentials), &self.server).await?;
        }
        Ok(connection)
    }

    /// A connection to send on: an idle pooled one that still works, or a fresh one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let candidate = {
                let mut idle = lock(&self.idle);
                idle.retain(|(_, since)| since.elapsed() < POOL_IDLE);
                idle.pop()
            };
            let Some((mut connection, since)) = candidate else {
                return self.connect().await.map_err(SendError::from);
            };
            if since.elapsed() < POOL_CHECK_AFTER
                || tokio::time::timeout(SMTP_TIMEOUT, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(connection);
            }
        }
    }

    /// Closes every pooled connection politely (QUIT). The outbox calls this when it has
    /// nothing to send for a while, and at shutdown.
    pub async fn close_idle(&self) {
        let connections: Vec<_> = lock(&self.idle).drain(..).collect();
        for (mut connection, _) in connections {
            let _ = tokio::time::timeout(Duration::from_secs(2), connection.quit()).await;
        }
    }
}

impl Transport for SmtpTransport {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            let mut connection = self.checkout().await?;
            // RFC 6531: an address that is not ASCII may only go to a server that offers
            // SMTPUTF8. lettre refuses such a message without a reply code, which would be
            // retried for days; no retry can change what the server offers.
            if !connection
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
                && let Some(address) = non_ascii_address(message.envelope())
            {
                lock(&self.idle).push((connection, Instant::now()));
                return Err(SendError::Permanent(format!(
                    "{address} has a non-ASCII address and the server {} does not offer SMTPUTF8",
                    self.server
                )));
            }
            let sent = match tokio::time::timeout(
                SMTP_TIMEOUT,
                connection.send(message.envelope(), &message.formatted()),
            )
            .await
            {
                // Only a refusal of the message itself can be about its recipient; the same
                // reply while connecting or logging in is about the server.
                Ok(result) => result.map_err(|e| classify_refusal(&e, &self.server)),
                Err(_) => Err(no_answer(&self.server)),
            };
            // A refused message (5xx, 4xx) breaks lettre's connection; only a healthy one
            // goes back to the pool.
            if !connection.has_broken() {
                lock(&self.idle).push((connection, Instant::now()));
            }
            sent.map(drop)
        })
    }

    fn test_connection(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let mut connection = self.connect().await.map_err(|e| match e {
                ConnectError::Certificate(e) | ConnectError::Grant(e) => e,
                ConnectError::Other(e) => anyhow!("{}", e.reason()),
            })?;
            let _ = tokio::time::timeout(Duration::from_secs(5), connection.quit()).await;
            Ok(())
        })
    }

    fn close(&self) -> CloseFuture<'_> {
        Box::pin(self.close_idle())
    }
}

/// The first address of the envelope that is not ASCII (`josé@example.com`,
/// `user@bücher.example`): such a message needs SMTPUTF8.
fn non_ascii_address(envelope: &Envelope) -> Option<&Address> {
    envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .find(|address| !AsRef::<str>::as_ref(*address).is_ascii())
}

/// Why [`SmtpTransport::connect`] got no connection.
#[derive(Debug)]
enum ConnectError {
    /// The server's certificate was refused ([`CertificateRefused`], with the server named):
    /// retried like any other connection failure, but `doctor` shows its advice alone.
    Certificate(anyhow::Error),
    /// No OAuth 2.0 access token (a [`NeedsLogin`](crate::oauth::NeedsLogin) when the grant
    /// is gone): retried like any other connection failure, `doctor` shows it alone.
    Grant(anyhow::Error),
    /// Anything else, sorted.
    Other(SendError),
}

impl From<SendError> for ConnectError {
    fn from(e: SendError) -> ConnectError {
        ConnectError::Other(e)
    }
}

impl From<ConnectError> for SendError {
    fn from(e: ConnectError) -> SendError {
        match e {
            ConnectError::Certificate(e) | ConnectError::Grant(e) => {
                SendError::Temporary(format!("{e:#}"))
            }
            ConnectError::Other(e) => e,
        }
    }
}

/// lettre's STARTTLS parameters for `host`: Mozilla's roots and the `ca-file`'s
/// certificates, as [`Trust`] has them, with the host name checked.
fn starttls_parameters(host: &str, trust: &Trust) -> Result<TlsParameters, ConfigError> {
    let cannot = |e: smtp::Error| ConfigError(format!("[smtp]: cannot set up STARTTLS: {e}"));
    let mut builder =
        TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::WebpkiRoots);
    for certificate in trust.extra_certificates() {
        builder = builder.add_root_certificate(
            Certificate::from_der(certificate.as_ref().to_vec()).map_err(cannot)?,
        );
    }
    builder.build_rustls().map_err(cannot)
}

/// The name we greet the server with: this machine's host name when it has a proper one.
fn hello_name() -> ClientId {
    ClientId::default()
}

/// Runs one SMTP exchange with [`SMTP_TIMEOUT`], sorting its failure.
async fn within<T>(
    exchange: impl Future<Output = Result<T, smtp::Error>>,
    server: &str,
) -> Result<T, SendError> {
    match tokio::time::timeout(SMTP_TIMEOUT, exchange).await {
        Ok(result) => result.map_err(|e| classify(&e, server)),
        Err(_) => Err(no_answer(server)),
    }
}

fn no_answer(server: &str) -> SendError {
    SendError::Temporary(format!(
        "{server}: no answer within {}s",
        SMTP_TIMEOUT.as_secs()
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The pool holds no invariant a panic could break halfway: use it anyway.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sorts a lettre error: [`sort`] by the reply code, if the server sent one.
fn classify(err: &smtp::Error, server: &str) -> SendError {
    let code = err.status().and_then(|c| c.to_string().parse::<u16>().ok());
    sort(code, format!("{server}: {err}"))
}

/// Sorts a lettre error from handing over a message: as [`classify`], then a permanent
/// refusal by what its enhanced status code says about the recipient ([`about_recipient`]).
fn classify_refusal(err: &smtp::Error, server: &str) -> SendError {
    match classify(err, server) {
        SendError::Permanent(text) => {
            // lettre keeps the server's reply text, enhanced code first, as the error's source.
            let reply = err.source().map(ToString::to_string).unwrap_or_default();
            match about_recipient(enhanced_status(&reply)) {
                Some(recipient) => SendError::Refused(recipient, text),
                None => SendError::Permanent(text),
            }
        }
        other => other,
    }
}

/// The RFC 3463 enhanced status code (class, subject, detail) a permanent reply starts with
/// (RFC 2034 §4: the first word, of class 5 for a 5xx reply), if it has one.
fn enhanced_status(reply: &str) -> Option<(u16, u16, u16)> {
    let word = reply.split_whitespace().next()?;
    let mut parts = word.split('.');
    let mut number = |max_len: usize| {
        parts
            .next()
            .filter(|p| (1..=max_len).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
    };
    let status = (number(1)?, number(3)?, number(3)?);
    (status.0 == 5 && parts.next().is_none()).then_some(status)
}

/// What a permanent refusal of a message with this enhanced status says about its recipient,
/// or `None` when it is about something else and fails only that one message.
///
/// - Dead: 5.1.1 (no such mailbox), 5.1.2 (no such domain), 5.1.3 (an impossible address),
///   5.1.6 (mailbox moved, no forwarding address), 5.1.10 (the domain accepts no mail, null
///   MX). Each names the destination, whatever command it answered.
/// - Refused, counted against the address: any other addressing status (5.1.4 ambiguous,
///   5.1.9…) except those below, a mailbox status (5.2.x: disabled, full, too small), and a
///   5xx reply without an enhanced code (`550 User unknown` from an old server).
/// - Not about the recipient: 5.1.7 and 5.1.8 (our sender address), 5.1.0 (Postfix's
///   "Sender address rejected"), 5.0.x (unspecified), 5.3.x (the receiving system), 5.4.x
///   (routing), 5.5.x (protocol), 5.6.x (content), 5.7.x (policy: relay denied, spam, DMARC).
///   These fail that message only: counting them would let one misconfiguration of ours mark
///   everyone undeliverable.
fn about_recipient(status: Option<(u16, u16, u16)>) -> Option<Recipient> {
    match status {
        None => Some(Recipient::Refused),
        Some((_, 1, 1 | 2 | 3 | 6 | 10)) => Some(Recipient::Dead),
        Some((_, 1, 0 | 7 | 8)) => None,
        Some((_, 1 | 2, _)) => Some(Recipient::Refused),
        Some(_) => None,
    }
}

/// The sorting rule. Only a 5xx reply fails a message for good; everything else is retried
/// (the outbox gives up after `outbound.give-up-after`):
/// - 4xx replies are temporary by definition (RFC 5321 §4.2.1);
/// - no reply at all means the connection failed: refused, reset, timed out, TLS handshake,
///   a garbled reply, or a server lacking STARTTLS — nothing about this message;
/// - 530/534/535/538 refuse our login, not the message: a rotated password must not fail
///   every queued message before the owner can fix it.
fn sort(code: Option<u16>, text: String) -> SendError {
    match code {
        Some(530 | 534 | 535 | 538) => SendError::Temporary(format!(
            "{text} (the server refused the login: check [smtp] username and password)"
        )),
        Some(500..=599) => SendError::Permanent(text),
        _ => SendError::Temporary(text),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::plaintext_host;
    use std::net::{SocketAddr, ToSocketAddrs};

    #[test]
    fn replies_are_sorted_into_retry_and_failure() {
        let sorted = |code, text: &str| sort(code, text.to_string());
        assert!(sorted(Some(421), "421 4.3.2 shutting down").is_temporary());
        assert!(sorted(Some(450), "450 4.2.1 mailbox busy").is_temporary());
        assert!(sorted(Some(452), "452 4.3.1 insufficient storage").is_temporary());
        assert_eq!(
            sorted(Some(550), "550 5.1.1 <x@y>: Recipient address rejected"),
            SendError::Permanent("550 5.1.1 <x@y>: Recipient address rejected".into())
        );
        assert!(!sorted(Some(554), "554 5.7.1 rejected").is_temporary());
        assert!(!sorted(Some(552), "552 message too big").is_temporary());
        // A refused login is the configuration's fault, not the message's.
        let login = sorted(Some(535), "535 5.7.8 authentication failed");
        assert!(login.is_temporary());
        assert!(login.reason().contains("username and password"), "{login}");
        // No reply at all: the connection failed.
        assert!(sorted(None, "Connection error: Connection refused").is_temporary());
        assert!(sorted(None, "network error: timed out").is_temporary());
    }

    #[test]
    fn enhanced_status_codes_are_read_from_the_start_of_the_reply() {
        assert_eq!(
            enhanced_status("5.1.1 <x@y>: Recipient address rejected"),
            Some((5, 1, 1))
        );
        assert_eq!(
            enhanced_status("5.1.10 RESOLVER.ADR.RecipientNotFound"),
            Some((5, 1, 10))
        );
        assert_eq!(enhanced_status("5.7.1"), Some((5, 7, 1)));
        // Free text that merely mentions a code is not read: only the first word counts.
        assert_eq!(enhanced_status("User unknown (5.1.1)"), None);
        assert_eq!(enhanced_status("Mailbox 5.1.1 gone"), None);
        // Not a permanent class, too many parts, too long a part, not digits.
        assert_eq!(enhanced_status("4.2.2 mailbox full"), None);
        assert_eq!(enhanced_status("5.1.1.1 x"), None);
        assert_eq!(enhanced_status("5.1.1000 x"), None);
        assert_eq!(enhanced_status("5.a.1 x"), None);
        assert_eq!(enhanced_status(""), None);
    }

    #[test]
    fn refusals_are_sorted_by_what_they_say_about_the_recipient() {
        let about = |s: &str| about_recipient(enhanced_status(s));
        // The address does not exist: dead at once.
        for dead in ["5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"] {
            assert_eq!(about(dead), Some(Recipient::Dead), "{dead}");
        }
        // About the address or mailbox, but not proof it is gone: counted.
        for counted in [
            "5.1.4",
            "5.1.9",
            "5.2.0",
            "5.2.1",
            "5.2.2",
            "no code at all",
        ] {
            assert_eq!(about(counted), Some(Recipient::Refused), "{counted}");
        }
        // Our sender, our message, the path or policy: that message fails, nobody is blamed.
        for ours in [
            "5.1.0", "5.1.7", "5.1.8", "5.0.0", "5.3.4", "5.4.4", "5.5.2", "5.6.1", "5.7.1",
        ] {
            assert_eq!(about(ours), None, "{ours}");
        }
    }

    /// A one-connection SMTP server on loopback that answers RCPT TO with `rcpt_reply`;
    /// returns its port.
    async fn scripted_server(rcpt_reply: &'static str) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply = match verb.as_str() {
                    "EHLO" => "250-test\r\n250 ENHANCEDSTATUSCODES\r\n".to_string(),
                    "MAIL" => "250 2.1.0 Ok\r\n".to_string(),
                    "RCPT" => format!("{rcpt_reply}\r\n"),
                    "QUIT" => "221 2.0.0 Bye\r\n".to_string(),
                    _ => "250 2.0.0 Ok\r\n".to_string(),
                };
                if write.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn a_refused_recipient_is_sorted_by_the_enhanced_code_of_the_servers_reply() {
        let cases = [
            (
                "550 5.1.1 <b@example.org>: Recipient address rejected: User unknown",
                Some(Recipient::Dead),
            ),
            (
                "550-5.1.10 RESOLVER.ADR.RecipientNotFound\r\n550 5.1.10 Recipient not found",
                Some(Recipient::Dead),
            ),
            ("552 5.2.2 Mailbox full", Some(Recipient::Refused)),
            ("550 User unknown", Some(Recipient::Refused)),
            // Postfix refuses a sender at RCPT time, with 5.1.0: not the recipient's fault.
            (
                "550 5.1.0 <a@example.org>: Sender address rejected: User unknown",
                None,
            ),
            ("554 5.7.1 <b@example.org>: Relay access denied", None),
            // Free text naming a code proves nothing.
            (
                "550 Rejected (5.1.1 would be no such user)",
                Some(Recipient::Refused),
            ),
        ];
        for (reply, expected) in cases {
            let port = scripted_server(reply).await;
            let smtp: Smtp = toml::from_str(&format!(
                "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n"
            ))
            .unwrap();
            let transport = SmtpTransport::new(&smtp, Path::new(".")).unwrap();
            let err = transport.send(&message("one@x", "hi")).await.unwrap_err();
            match (expected, &err) {
                (Some(want), SendError::Refused(got, text)) => {
                    assert_eq!(*got, want, "{reply}");
                    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
                }
                (None, SendError::Permanent(_)) => {}
                _ => panic!("{reply}: sorted as {err:?}"),
            }
        }
        // A 4xx at RCPT is still only a reason to try again.
        let port = scripted_server("450 4.2.1 Mailbox busy").await;
        let smtp: Smtp = toml::from_str(&format!(
            "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n"
        ))
        .unwrap();
        let transport = SmtpTransport::new(&smtp, Path::new(".")).unwrap();
        assert!(
            transport
                .send(&message("one@x", "hi"))
                .await
                .unwrap_err()
                .is_temporary()
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_temporary() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let smtp: Smtp = toml::from_str(&format!(
            "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n"
        ))
        .unwrap();
        let transport = SmtpTransport::new(&smtp, Path::new(".")).unwrap();
        let message = Message::builder()
            .from("a@example.org".parse().unwrap())
            .to("b@example.org".parse().unwrap())
            .body(String::from("hi"))
            .unwrap();
        let err = transport.send(&message).await.unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(err.reason().contains(&format!("127.0.0.1:{port}")), "{err}");
        let err = transport.test_connection().await.unwrap_err();
        assert!(format!("{err:#}").contains("Connection refused"), "{err:#}");
    }

    #[test]
    fn clear_text_goes_only_to_loopback() {
        let never = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> { panic!("no lookup") };
        assert_eq!(plaintext_host("127.0.0.1", 25, never).unwrap(), "127.0.0.1");
        assert_eq!(plaintext_host("::1", 25, never).unwrap(), "::1");
        assert_eq!(plaintext_host("[::1]", 25, never).unwrap(), "::1");
        assert!(
            plaintext_host("192.0.2.10", 25, never)
                .unwrap_err()
                .contains("not a loopback")
        );

        let to = |ips: &'static [&'static str]| {
            move |_: &str, port: u16| -> io::Result<Vec<SocketAddr>> {
                Ok(ips
                    .iter()
                    .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
                    .collect())
            }
        };
        assert_eq!(
            plaintext_host("localhost", 25, to(&["::1", "127.0.0.1"])).unwrap(),
            "localhost"
        );
        // Pinned to the address checked, not looked up again when connecting.
        assert_eq!(
            plaintext_host("mail.internal", 25, to(&["127.0.0.2"])).unwrap(),
            "127.0.0.2"
        );
        let err =
            plaintext_host("smtp.example.org", 25, to(&["127.0.0.1", "203.0.113.5"])).unwrap_err();
        assert!(err.contains("203.0.113.5"), "{err}");
        let failing =
            |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> { Err(io::Error::other("NXDOMAIN")) };
        assert!(
            plaintext_host("nowhere.invalid", 25, failing)
                .unwrap_err()
                .contains("cannot resolve")
        );
        // The real resolver agrees about localhost.
        assert!(
            plaintext_host("localhost", 25, |h, p| {
                (h, p).to_socket_addrs().map(|a| a.collect())
            })
            .is_ok()
        );
    }

    #[test]
    fn smtp_over_clear_text_to_a_remote_host_is_refused() {
        let smtp: Smtp =
            toml::from_str("host = \"192.0.2.10\"\nport = 25\ntls = \"none\"\n").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt.block_on(async { SmtpTransport::new(&smtp, Path::new(".")).unwrap_err() });
        assert!(err.to_string().contains("not a loopback address"), "{err}");
    }

    #[test]
    fn non_ascii_addresses_are_found_in_the_envelope() {
        let envelope = |from: &str, to: &[&str]| {
            Envelope::new(
                Some(from.parse().unwrap()),
                to.iter().map(|a| a.parse().unwrap()).collect(),
            )
            .unwrap()
        };
        let ascii = envelope("intros@x.org", &["fred@y.org", "sally@z.org"]);
        assert_eq!(non_ascii_address(&ascii), None);
        let local = envelope("intros@x.org", &["fred@y.org", "josé@example.com"]);
        assert_eq!(
            non_ascii_address(&local).map(|a| a.to_string()),
            Some("josé@example.com".into())
        );
        let domain = envelope("intros@x.org", &["user@bücher.example"]);
        assert!(non_ascii_address(&domain).is_some());
        let sender = envelope("intros@tràcker.example", &["fred@y.org"]);
        assert!(non_ascii_address(&sender).is_some());
    }

    #[test]
    fn file_names_come_from_the_message_id() {
        assert_eq!(
            eml_file_name("<abc.1@tracker.example.org>"),
            "abc.1@tracker.example.org.eml"
        );
        assert_eq!(
            eml_file_name("abc.1@tracker.example.org"),
            "abc.1@tracker.example.org.eml"
        );
        let odd = eml_file_name("<../x/y@z>");
        assert!(
            odd.starts_with("_.._x_y@z-") && odd.ends_with(".eml"),
            "{odd}"
        );
        assert!(!odd.contains('/'));
        // Different ids that sanitise alike still get different files.
        assert_ne!(eml_file_name("a/b@z"), eml_file_name("a_b@z"));
        assert_ne!(eml_file_name("a/b@z"), eml_file_name("a:b@z"));
        assert!(eml_file_name(&"x".repeat(400)).len() < 255);
    }

    fn message(id: &str, body: &str) -> Message {
        Message::builder()
            .from("a@example.org".parse().unwrap())
            .to("b@example.org".parse().unwrap())
            .message_id(Some(format!("<{id}>")))
            .body(body.to_string())
            .unwrap()
    }

    #[tokio::test]
    async fn file_transport_writes_one_file_per_message_id() {
        let tmp = tempfile::tempdir().unwrap();
        let transport = FileTransport::new(tmp.path().join("outbox/new"));
        transport.test_connection().await.unwrap();

        transport
            .send(&message("one@x", "first try"))
            .await
            .unwrap();
        transport
            .send(&message("one@x", "second try"))
            .await
            .unwrap();
        transport.send(&message("two@x", "other")).await.unwrap();

        let mut names: Vec<String> = std::fs::read_dir(transport.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // A retry replaced its file; no temporary files are left behind.
        assert_eq!(names, ["one@x.eml", "two@x.eml"]);
        let written = std::fs::read_to_string(transport.path_for("one@x")).unwrap();
        assert!(written.contains("second try"), "{written}");
        assert!(written.contains("Message-ID: <one@x>"), "{written}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(transport.path_for("one@x"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn file_transport_failures_are_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let transport = FileTransport::new(blocker.join("outbox"));
        let err = transport.send(&message("one@x", "hi")).await.unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(transport.test_connection().await.is_err());

        // Without a Message-ID there is no file name, and no retry would change that.
        let no_id = Message::builder()
            .from("a@example.org".parse().unwrap())
            .to("b@example.org".parse().unwrap())
            .body(String::from("hi"))
            .unwrap();
        let ok = FileTransport::new(tmp.path().join("ok"));
        assert!(!ok.send(&no_id).await.unwrap_err().is_temporary());
    }
}
