//! A local OAuth 2.0 authorization server for tests, on a loopback port and std threads:
//! RFC 8628 device authorization (`/device`), an authorization endpoint for the browser flow
//! (`/authorize`, which approves at once and redirects with a code bound to the PKCE
//! challenge), the token endpoint (`/token`: the device-code, authorization-code and
//! refresh-token grants, refresh tokens rotated on every use and the old one dead at
//! once) and RFC 7662 introspection (`/introspect`, which the harness's Dovecot asks).
//!
//! One client and one mailbox user per server. The test steers it: device codes are
//! approved after the first poll ([`OAuthServer::manual_approval`] turns that off; then
//! [`OAuthServer::approve`]), [`OAuthServer::expire_access_tokens`] makes every access token
//! inactive as if its hour had passed, [`OAuthServer::revoke`] ends the grant (refresh
//! tokens give `invalid_grant`). [`OAuthServer::secrets`] lists every token it handed out
//! and the client secret, for checking that none leaks into logs or output.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The client ID the server knows.
pub const CLIENT_ID: &str = "referrald-test-client";

/// A running server; dropping it stops it.
pub struct OAuthServer {
    port: u16,
    /// The HTTPS port, once [`OAuthServer::serve_tls`] opened it.
    tls_port: Option<u16>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    username: String,
    client_secret: String,
    manual: bool,
    /// device_code → (user_code, approved, polls)
    devices: HashMap<String, (String, bool, u32)>,
    /// authorization code → (redirect_uri, PKCE challenge)
    codes: HashMap<String, (String, String)>,
    /// access token → active
    access: HashMap<String, bool>,
    /// The one refresh token that works now.
    refresh: Option<String>,
    secrets: Vec<String>,
    refreshes: usize,
    refused_refreshes: usize,
    introspections: usize,
}

impl OAuthServer {
    /// Starts a server whose grants are for `username` (the mailbox's address).
    pub fn start(username: &str) -> OAuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client_secret = format!("client-secret-{}", random_hex());
        let state = Arc::new(Mutex::new(State {
            username: username.to_string(),
            secrets: vec![client_secret.clone()],
            client_secret,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = state.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        serve(stream, &state);
                    });
                }
            })
        };
        OAuthServer {
            port,
            tls_port: None,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Serves the same endpoints over HTTPS too, on another port, with this certificate
    /// chain and key (PEM files); returns `https://127.0.0.1:port`.
    pub fn serve_tls(&mut self, certificate: &std::path::Path, key: &std::path::Path) -> String {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(certificate)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = self.state.clone();
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let state = state.clone();
                std::thread::spawn(move || {
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    serve(&mut tls, &state);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        self.tls_port = Some(port);
        format!("https://127.0.0.1:{port}")
    }

    /// `http://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The introspection endpoint, for Dovecot.
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.url())
    }

    /// The `[oauth2]` section for this server's browser flow.
    pub fn browser_config_section(&self, secret_file: &str) -> String {
        self.config_section(secret_file)
            .replace("[oauth2]\n", "[oauth2]\nflow = \"browser\"\n")
    }

    /// The `[oauth2]` section for this server; the client secret is in `client-secret-file`
    /// (the test writes [`OAuthServer::client_secret`] there).
    pub fn config_section(&self, secret_file: &str) -> String {
        format!(
            "[oauth2]\nprovider = \"custom\"\nclient-id = \"{CLIENT_ID}\"\nclient-secret-file = \"{secret_file}\"\ndevice-url = \"{url}/device\"\ntoken-url = \"{url}/token\"\nauthorization-url = \"{url}/authorize\"\nscopes = [\"mail\", \"offline_access\"]\n",
            url = self.url()
        )
    }

    /// The client secret the server expects.
    pub fn client_secret(&self) -> String {
        self.lock().client_secret.clone()
    }

    /// Device codes wait for [`OAuthServer::approve`] instead of approving themselves.
    pub fn manual_approval(&self) {
        self.lock().manual = true;
    }

    /// Approves every device code handed out so far.
    pub fn approve(&self) {
        for device in self.lock().devices.values_mut() {
            device.1 = true;
        }
    }

    /// Every access token handed out is inactive from now on.
    pub fn expire_access_tokens(&self) {
        for active in self.lock().access.values_mut() {
            *active = false;
        }
    }

    /// The grant is revoked: access tokens inactive, the refresh token refused.
    pub fn revoke(&self) {
        self.expire_access_tokens();
        self.lock().refresh = None;
    }

    /// A valid access token for the user, as if a client had just got it.
    pub fn issue_access_token(&self) -> String {
        let mut state = self.lock();
        issue(&mut state, "access")
    }

    /// Every token and secret this server handed out or knows.
    pub fn secrets(&self) -> Vec<String> {
        self.lock().secrets.clone()
    }

    /// How many refresh-token grants succeeded, and how many were refused.
    pub fn refreshes(&self) -> (usize, usize) {
        let state = self.lock();
        (state.refreshes, state.refused_refreshes)
    }

    /// How many times Dovecot asked about a token.
    pub fn introspections(&self) -> usize {
        self.lock().introspections
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loops.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(port) = self.tls_port {
            let _ = TcpStream::connect(("127.0.0.1", port));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn random_hex() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    let a = hasher.finish();
    hasher.write_u64(a);
    format!("{a:016x}{:016x}", hasher.finish())
}

fn issue(state: &mut State, kind: &str) -> String {
    let token = format!("{kind}-{}", random_hex());
    state.secrets.push(token.clone());
    if kind == "access" {
        state.access.insert(token.clone(), true);
    }
    token
}

/// Tokens for a successful grant: a new access token and a new refresh token (the old one
/// dies).
fn grant(state: &mut State) -> (u16, String) {
    let access = issue(state, "access");
    let refresh = issue(state, "refresh");
    state.refresh = Some(refresh.clone());
    (
        200,
        format!(
            r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600,"refresh_token":"{refresh}","scope":"mail offline_access"}}"#
        ),
    )
}

fn error(code: &str) -> (u16, String) {
    (
        400,
        format!(r#"{{"error":"{code}","error_description":"test server says {code}"}}"#),
    )
}

fn serve(mut stream: impl Read + Write, state: &Mutex<State>) {
    let Some((path, form)) = read_request(&mut stream) else {
        return;
    };
    let (status, body) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        answer(&mut state, &path, &form)
    };
    let response = match status {
        302 => format!(
            "HTTP/1.1 302 Found\r\nLocation: {body}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        _ => format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len(),
            reason = if status == 200 { "OK" } else { "Bad Request" },
        ),
    };
    let _ = stream.write_all(response.as_bytes());
}

fn answer(state: &mut State, path: &str, form: &HashMap<String, String>) -> (u16, String) {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if path == "/authorize" {
        // The browser: the user signs in and agrees at once.
        if field("client_id") != CLIENT_ID
            || field("response_type") != "code"
            || field("code_challenge_method") != "S256"
        {
            return (400, "bad authorization request".into());
        }
        let code = issue(state, "code");
        state.codes.insert(
            code.clone(),
            (
                field("redirect_uri").to_string(),
                field("code_challenge").to_string(),
            ),
        );
        let location = format!(
            "{}?code={code}&state={}&scope=mail",
            field("redirect_uri"),
            field("state")
        );
        return (302, location);
    }
    if path == "/introspect" {
        state.introspections += 1;
        return match state.access.get(field("token")) {
            Some(true) => (
                200,
                format!(r#"{{"active":true,"username":"{}"}}"#, state.username),
            ),
            _ => (200, r#"{"active":false}"#.into()),
        };
    }
    // Both endpoints authenticate the client.
    if field("client_id") != CLIENT_ID || field("client_secret") != state.client_secret {
        return (401, r#"{"error":"invalid_client"}"#.into());
    }
    match (path, field("grant_type")) {
        ("/device", _) => {
            let device_code = issue(state, "device");
            let user_code = "WDJB-MJHT".to_string();
            state
                .devices
                .insert(device_code.clone(), (user_code.clone(), false, 0));
            (
                200,
                format!(
                    r#"{{"device_code":"{device_code}","user_code":"{user_code}","verification_uri":"http://127.0.0.1/device","verification_uri_complete":"http://127.0.0.1/device?user_code={user_code}","expires_in":600,"interval":1}}"#
                ),
            )
        }
        ("/token", "urn:ietf:params:oauth:grant-type:device_code") => {
            let manual = state.manual;
            let Some(device) = state.devices.get_mut(field("device_code")) else {
                return error("invalid_grant");
            };
            device.2 += 1;
            // The first poll always waits, so the client's polling is exercised.
            if device.2 > 1 && !manual {
                device.1 = true;
            }
            if !device.1 || device.2 == 1 {
                return error("authorization_pending");
            }
            state.devices.remove(field("device_code"));
            grant(state)
        }
        ("/token", "authorization_code") => {
            let Some((redirect_uri, challenge)) = state.codes.remove(field("code")) else {
                return error("invalid_grant");
            };
            if redirect_uri != field("redirect_uri")
                || referrald::oauth::pkce_challenge(field("code_verifier")) != challenge
            {
                return error("invalid_grant");
            }
            grant(state)
        }
        ("/token", "refresh_token") => {
            if state.refresh.as_deref() == Some(field("refresh_token")) {
                state.refreshes += 1;
                grant(state)
            } else {
                state.refused_refreshes += 1;
                error("invalid_grant")
            }
        }
        _ => error("unsupported_grant_type"),
    }
}

/// The path and the form of one POST.
fn read_request(stream: &mut impl Read) -> Option<(String, HashMap<String, String>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    // A GET carries its form in the query.
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (target, String::new()),
    };
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let form = format!("{query}&{}", String::from_utf8_lossy(&body))
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    Some((path, form))
}

/// Does what a browser does with one address: GET it and return the redirect's Location (or
/// the body when there is none).
pub fn browse(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("a loopback http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_string)
        .unwrap_or_else(|| answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
