//! Network plumbing shared by the IMAP source and the SMTP transport: TCP connections with
//! Nagle's algorithm off, TLS through rustls (ring, webpki roots), and the rule that clear
//! text goes to loopback only.
//!
//! Why `TCP_NODELAY`: IMAP and SMTP clients write a command in several small pieces; with
//! Nagle's algorithm each exchange can wait for the server's delayed ACK, about 40 ms a time,
//! which turns a 10,000-message backlog or a 1,000-message send into minutes.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

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
    pub async fn connect_tls(host: &str, port: u16) -> Result<Stream> {
        Stream::connect_plain(host, port).await?.upgrade(host).await
    }

    /// Starts TLS on a plain connection (after STARTTLS), checking the certificate against
    /// `host`.
    pub async fn upgrade(self, host: &str) -> Result<Stream> {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(_) => return Ok(self),
        };
        let name = ServerName::try_from(host.to_string())
            .with_context(|| format!("{host} is not a valid TLS server name"))?;
        let handshake = TlsConnector::from(tls_config()?).connect(name, tcp);
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| anyhow!("the TLS handshake with {host} timed out"))?
            .with_context(|| format!("TLS handshake with {host} failed"))?;
        Ok(Stream::Tls(Box::new(tls)))
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }
}

/// The client TLS configuration: Mozilla's roots (webpki-roots, so it works the same in a
/// minimal container or a systemd sandbox without /etc/ssl) and the ring provider. Built
/// once: parsing the roots costs more than a handshake.
fn tls_config() -> Result<Arc<ClientConfig>> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
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
