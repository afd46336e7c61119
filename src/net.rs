//! Network plumbing shared by the IMAP source and the SMTP transport: TCP connections with
//! Nagle's algorithm off, TLS through rustls (ring, webpki roots plus the operator's
//! `ca-file`, host names always checked), and the rule that clear text goes to loopback only.
//!
//! Why `TCP_NODELAY`: IMAP and SMTP clients write a command in several small pieces; with
//! Nagle's algorithm each exchange can wait for the server's delayed ACK, about 40 ms a time,
//! which turns a 10,000-message backlog or a 1,000-message send into minutes.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};

use crate::config::ConfigError;

/// How long connecting (TCP and the TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to a mail server, encrypted or (to loopback only) not.
#[derive(Debug)]
pub enum Stream {
    /// Clear text: only ever to a loopback address, or before STARTTLS.
    Plain(TcpStream),
    /// TLS over TCP. Boxed: a TLS session is large and the plain variant is not.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// A TCP connection to `host:port` with `TCP_NODELAY` set. `host` may be a name.
    pub async fn connect_plain(host: &str, port: u16) -> Result<Stream> {
        let connect = TcpStream::connect((host, port));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| anyhow!("connecting to {host}:{port} timed out"))?
            .with_context(|| format!("cannot connect to {host}:{port}"))?;
        tcp.set_nodelay(true).with_context(|| {
            format!("cannot set TCP_NODELAY on the connection to {host}:{port}")
        })?;
        Ok(Stream::Plain(tcp))
    }

    /// A TLS connection to `host:port` from the first byte (IMAPS 993, SMTPS 465).
    pub async fn connect_tls(host: &str, port: u16, trust: &Trust) -> Result<Stream> {
        Stream::connect_plain(host, port)
            .await?
            .upgrade(host, trust)
            .await
    }

    /// Starts TLS on a plain connection (after STARTTLS), checking that the certificate is
    /// for `host` and chains to `trust`. A refused certificate is a [`CertificateRefused`]
    /// error that says what to do about it.
    pub async fn upgrade(self, host: &str, trust: &Trust) -> Result<Stream> {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(_) => return Ok(self),
        };
        let name = ServerName::try_from(host.to_string())
            .with_context(|| format!("{host} is not a valid TLS server name"))?;
        let handshake = TlsConnector::from(trust.anchors.config.clone()).connect(name, tcp);
        let tls = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                return Err(match certificate_problem(&e) {
                    Some(problem) => trust.refusal(host, problem).into(),
                    None => {
                        anyhow::Error::new(e).context(format!("TLS handshake with {host} failed"))
                    }
                });
            }
            Err(_) => return Err(anyhow!("the TLS handshake with {host} timed out")),
        };
        Ok(Stream::Tls(Box::new(tls)))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }
}

/// Whom a server's certificate may be vouched for by: Mozilla's roots (webpki-roots, so it
/// works the same in a minimal container or a systemd sandbox without /etc/ssl), plus the
/// certificates in the section's `ca-file`. The host name is always checked.
///
/// Cheap to clone. Built once at start, before any connection: the client configuration is
/// made once per distinct `ca-file` and shared, as parsing the roots costs more than a
/// handshake; a changed file is read at the next start.
#[derive(Clone)]
pub struct Trust {
    /// `imap` or `smtp`: the section to name in advice.
    section: &'static str,
    /// The `ca-file`, resolved, if there is one.
    ca_file: Option<PathBuf>,
    anchors: Arc<Anchors>,
}

/// What one `ca-file` (or none) amounts to.
struct Anchors {
    /// The `ca-file`'s certificates (lettre's STARTTLS builds its own configuration).
    extra: Vec<CertificateDer<'static>>,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("section", &self.section)
            .field("ca_file", &self.ca_file)
            .field("extra", &self.anchors.extra.len())
            .finish()
    }
}

impl Trust {
    /// Mozilla's roots and the certificates of `ca_file` (already resolved), for the
    /// `[section]` named. A file that cannot be read, is not PEM, or holds no usable
    /// certificate is a configuration error naming the key and the file.
    pub fn load(section: &'static str, ca_file: Option<&Path>) -> Result<Trust, ConfigError> {
        static LOADED: LazyLock<Mutex<HashMap<Option<PathBuf>, Arc<Anchors>>>> =
            LazyLock::new(Mutex::default);
        let key = ca_file.map(Path::to_path_buf);
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        let anchors = match loaded.get(&key) {
            Some(anchors) => anchors.clone(),
            None => {
                let extra = match ca_file {
                    Some(file) => read_ca_file(section, file)?,
                    None => Vec::new(),
                };
                let anchors = Arc::new(Anchors::new(extra).map_err(|e| {
                    let file = ca_file.map(|f| format!(" with ca-file {}", f.display()));
                    ConfigError(format!(
                        "[{section}]: cannot set up TLS{}: {e}",
                        file.unwrap_or_default()
                    ))
                })?);
                loaded.insert(key, anchors.clone());
                anchors
            }
        };
        Ok(Trust {
            section,
            ca_file: ca_file.map(Path::to_path_buf),
            anchors,
        })
    }

    /// The certificates trusted beyond Mozilla's roots (from `ca-file`).
    pub fn extra_certificates(&self) -> &[CertificateDer<'static>] {
        &self.anchors.extra
    }

    /// The error for a handshake with `host` that failed over the server's certificate:
    /// what is wrong and what to do about it.
    pub fn refusal(&self, host: &str, problem: &CertificateError) -> CertificateRefused {
        let section = self.section;
        let what = match problem {
            CertificateError::UnknownIssuer => match &self.ca_file {
                None => format!(
                    "the server's certificate is not trusted ({problem}); if the server uses a private CA or a self-signed certificate, name it with ca-file in [{section}]"
                ),
                Some(file) => format!(
                    "the server's certificate is not trusted ({problem}): neither Mozilla's CAs nor {} vouch for it; ca-file in [{section}] must hold the certificate of the CA that issued it, or the server's own self-signed certificate",
                    file.display()
                ),
            },
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server's certificate is not valid for {host} ({problem}); set host in [{section}] to a name the certificate is for"
                )
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => format!(
                "the server's certificate is outside its validity period ({problem}); renew it on the server, or check this machine's clock"
            ),
            // webpki's refusal of a certificate marked as a CA, as a quick self-signed one is
            // (`openssl req -x509` marks it so by default); rustls passes it on as text only.
            CertificateError::Other(other) if other.to_string() == "CaUsedAsEndEntity" => format!(
                "the server's certificate is marked as a CA certificate, which cannot be a server's own (CaUsedAsEndEntity); if it is self-signed, make it again with basicConstraints CA:FALSE and a subjectAltName for {host}"
            ),
            other => format!("the server's certificate was refused ({other})"),
        };
        CertificateRefused(format!("the TLS handshake with {host} failed: {what}"))
    }
}

impl Anchors {
    /// The client configuration: these certificates and Mozilla's roots, the ring
    /// provider, TLS 1.2 and 1.3.
    fn new(extra: Vec<CertificateDer<'static>>) -> Result<Anchors, rustls::Error> {
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(root_store(&extra)?)
                .with_no_client_auth();
        Ok(Anchors {
            extra,
            config: Arc::new(config),
        })
    }
}

/// Mozilla's roots and `extra`.
fn root_store(extra: &[CertificateDer<'static>]) -> Result<RootCertStore, rustls::Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for certificate in extra {
        roots.add(certificate.clone())?;
    }
    Ok(roots)
}

/// The certificates in the PEM file `file` (`ca-file` of `[section]`), each checked to be
/// usable as a trust anchor. Anything else in the file (a key, text) is ignored.
fn read_ca_file(section: &str, file: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let named = || format!("[{section}] ca-file {}", file.display());
    let pem =
        std::fs::read(file).map_err(|e| ConfigError(format!("cannot read {}: {e}", named())))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError(format!("{} is not a valid PEM file: {e}", named())))?;
    if certificates.is_empty() {
        return Err(ConfigError(format!(
            "{} holds no certificate: it must be a PEM file of one or more \"-----BEGIN CERTIFICATE-----\" blocks",
            named()
        )));
    }
    for (n, certificate) in certificates.iter().enumerate() {
        RootCertStore::empty()
            .add(certificate.clone())
            .map_err(|e| {
                ConfigError(format!(
                    "{}: certificate {} of {} cannot be used: {e}",
                    named(),
                    n + 1,
                    certificates.len()
                ))
            })?;
    }
    Ok(certificates)
}

/// The server's certificate was refused in a TLS handshake. Waiting will not help: the
/// message says what to change, and `doctor` shows it instead of its general hints.
#[derive(Debug)]
pub struct CertificateRefused(String);

impl fmt::Display for CertificateRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertificateRefused {}

/// Why the server's certificate was refused, if `err` (or anything in its chain) is a TLS
/// handshake that failed over it. rustls's error travels inside an `io::Error`, which hides
/// it from `source()`: look inside those too.
pub fn certificate_problem<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CertificateError> {
    let mut next = Some(err);
    while let Some(e) = next {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(problem)) = tls {
            return Some(problem);
        }
        next = e.source();
    }
    None
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

// lettre takes any stream that can say who it is connected to.
impl lettre::transport::smtp::client::AsyncTokioStream for Stream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }
}

/// The host to connect to without TLS, or why not: it must be a loopback address, or a name
/// all of whose addresses are loopback. A name other than `localhost` is pinned to the address
/// it resolved to now, so a later DNS answer cannot redirect the clear-text session.
pub fn plaintext_host(
    host: &str,
    port: u16,
    resolve: impl FnOnce(&str, u16) -> io::Result<Vec<SocketAddr>>,
) -> Result<String, String> {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return if ip.is_loopback() {
            Ok(bare.to_string())
        } else {
            Err(format!(
                "{host} is not a loopback address; use tls = \"starttls\" or \"implicit\" for any other server"
            ))
        };
    }
    let addrs = resolve(bare, port).map_err(|e| format!("cannot resolve {host}: {e}"))?;
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if let Some(outside) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "{host} resolves to {}, which is not a loopback address; use tls = \"starttls\" or \"implicit\" for any other server",
            outside.ip()
        ));
    }
    let is_localhost =
        bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost");
    Ok(if is_localhost {
        bare.to_string()
    } else {
        addrs[0].ip().to_string()
    })
}

/// [`plaintext_host`] with the system resolver.
pub fn loopback_host(host: &str, port: u16) -> Result<String, String> {
    plaintext_host(host, port, |host, port| {
        (host, port).to_socket_addrs().map(|addrs| addrs.collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA_ONE: &str = include_str!("../tests/fixtures/tls/ca-one.pem");
    const CA_TWO: &str = include_str!("../tests/fixtures/tls/ca-two.pem");

    /// Writes `contents` to a fresh file and loads it as `[imap] ca-file`.
    fn load(contents: &str) -> (tempfile::TempDir, PathBuf, Result<Trust, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, contents).unwrap();
        let trust = Trust::load("imap", Some(&path));
        (dir, path, trust)
    }

    #[test]
    fn a_ca_file_adds_its_certificates_to_mozillas_roots() {
        let (_dir, _, one) = load(CA_ONE);
        let one = one.unwrap();
        assert_eq!(one.extra_certificates().len(), 1);
        let roots = root_store(one.extra_certificates()).unwrap();
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len() + 1);

        // Two certificates, with text and a key around them (a server's combined file).
        let mixed = format!(
            "Our mail CA\n{CA_ONE}\n-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n{CA_TWO}"
        );
        let (_dir, _, two) = load(&mixed);
        assert_eq!(two.unwrap().extra_certificates().len(), 2);

        // Without a ca-file: Mozilla's roots alone.
        let none = Trust::load("smtp", None).unwrap();
        assert!(none.extra_certificates().is_empty());
    }

    #[test]
    fn each_ca_file_is_read_once() {
        let (_dir, path, first) = load(CA_ONE);
        // Changed on disk: the configuration made at start is kept.
        std::fs::write(&path, "").unwrap();
        let again = Trust::load("smtp", Some(&path)).unwrap();
        assert!(Arc::ptr_eq(&first.unwrap().anchors, &again.anchors));
        assert_eq!(again.section, "smtp");
        assert!(Arc::ptr_eq(
            &Trust::load("imap", None).unwrap().anchors,
            &Trust::load("smtp", None).unwrap().anchors
        ));
    }

    #[test]
    fn unusable_ca_files_are_configuration_errors_naming_key_and_file() {
        let (_dir, path, empty) = load("");
        let err = empty.unwrap_err().to_string();
        let named = format!("[imap] ca-file {}", path.display());
        assert!(err.contains(&named), "{err}");
        assert!(err.contains("holds no certificate"), "{err}");

        let (_dir, _, garbage) = load("this is not a certificate\n\u{1}\u{2}\u{3}\n");
        let err = garbage.unwrap_err().to_string();
        assert!(err.contains("holds no certificate"), "{err}");

        let (_dir, _, bad_base64) =
            load("-----BEGIN CERTIFICATE-----\n!!! not base64 !!!\n-----END CERTIFICATE-----\n");
        let err = bad_base64.unwrap_err().to_string();
        assert!(err.contains("is not a valid PEM file"), "{err}");

        // Good PEM, but "hello" is no certificate.
        let (_dir, _, not_der) = load(&format!(
            "{CA_ONE}-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"
        ));
        let err = not_der.unwrap_err().to_string();
        assert!(err.contains("certificate 2 of 2 cannot be used"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = Trust::load("smtp", Some(&missing)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read [smtp] ca-file {}", missing.display())),
            "{err}"
        );
        assert!(!err.contains('\n'), "one sentence: {err}");
    }

    #[test]
    fn a_refused_certificate_says_what_to_do() {
        let without = Trust::load("imap", None).unwrap();
        let text = without
            .refusal("mail.example.org", &CertificateError::UnknownIssuer)
            .to_string();
        assert_eq!(
            text,
            "the TLS handshake with mail.example.org failed: the server's certificate is not trusted (UnknownIssuer); if the server uses a private CA or a self-signed certificate, name it with ca-file in [imap]"
        );

        let (_dir, path, with) = load(CA_ONE);
        let text = with
            .unwrap()
            .refusal("mail.example.org", &CertificateError::UnknownIssuer)
            .to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("ca-file in [imap] must hold"), "{text}");

        let text = Trust::load("smtp", None)
            .unwrap()
            .refusal("127.0.0.1", &CertificateError::NotValidForName)
            .to_string();
        assert!(
            text.contains("not valid for 127.0.0.1") && text.contains("set host in [smtp]"),
            "{text}"
        );
        let text = without.refusal("h", &CertificateError::Expired).to_string();
        assert!(text.contains("renew it"), "{text}");
        // How rustls reports webpki's CaUsedAsEndEntity.
        let ca = rustls::OtherError(Arc::new(io::Error::other("CaUsedAsEndEntity")));
        let text = without
            .refusal("h", &CertificateError::Other(ca))
            .to_string();
        assert!(text.contains("basicConstraints CA:FALSE"), "{text}");
    }

    /// An error with a source, as lettre and anyhow wrap what they are given.
    #[derive(Debug)]
    struct Wrapped(io::Error);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection error")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn certificate_problems_are_found_inside_io_errors() {
        // How tokio-rustls reports a refused certificate.
        let refused = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            )
        };
        assert_eq!(
            certificate_problem(&refused()),
            Some(&CertificateError::UnknownIssuer)
        );
        assert_eq!(
            certificate_problem(&Wrapped(refused())),
            Some(&CertificateError::UnknownIssuer)
        );
        let other = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(certificate_problem(&Wrapped(other)), None);
        assert_eq!(
            certificate_problem(&io::Error::from(io::ErrorKind::ConnectionReset)),
            None
        );
    }
}
