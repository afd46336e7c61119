//! OAuth 2.0 for `auth = "oauth2"`: `referrald login` runs the device authorization grant
//! (RFC 8628), or for Google, which refuses mail scopes there, the browser flow of RFC 8252
//! (an authorization code brought back to a loopback port, with PKCE), and keeps the refresh
//! token beside the database; the daemon, `doctor` and
//! `tick` turn it into access tokens ([`Grant`]), refreshed before they expire and when a
//! server refuses one, saving a rotated refresh token atomically.
//!
//! The decisions (what a token endpoint's answer means, what polling does next, when an
//! access token is too old) are pure functions below; HTTP is in [`http`]. Tokens and the
//! client secret are [`Token`]s, which never print.

mod http;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::config::{Config, ConfigError, Endpoints, Flow};
use crate::net::Trust;

pub use http::form;

/// A bearer token, refresh token or client secret: shown to nobody, not even debug logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Token {
        Token(secret.into())
    }

    /// The secret itself, for the wire.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        String::deserialize(d).map(Token)
    }
}

/// There is no usable grant: none was made yet, or the provider revoked it (a changed
/// password, an administrator, an expired refresh token). Only a new `referrald login`
/// helps; the message says exactly which command to run.
#[derive(Debug)]
pub struct NeedsLogin(pub String);

impl fmt::Display for NeedsLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NeedsLogin {}

/// What a device authorization endpoint answers (RFC 8628 §3.2). Google says
/// `verification_url`, the RFC `verification_uri`.
#[derive(Debug, Deserialize)]
pub struct DeviceCode {
    /// What we poll the token endpoint with.
    pub device_code: Token,
    /// What the user types.
    pub user_code: String,
    /// Where the user types it.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    /// The same with the code filled in, when the provider offers it.
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls (5 if not said).
    #[serde(default)]
    pub interval: Option<u64>,
}

/// Tokens a token endpoint granted.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    /// The bearer token for IMAP and SMTP.
    pub access_token: Token,
    /// Its lifetime in seconds, when said.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// A new refresh token: at login, or rotated by a refresh.
    #[serde(default)]
    pub refresh_token: Option<Token>,
}

/// A token endpoint's answer, sorted (RFC 6749 §5, RFC 8628 §3.5).
#[derive(Debug)]
pub enum TokenAnswer {
    /// Tokens.
    Granted(Tokens),
    /// An error code (`authorization_pending`, `invalid_grant`…) and its description.
    Error {
        /// The `error` field.
        code: String,
        /// The `error_description` field, if any.
        description: Option<String>,
    },
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Sorts what a token endpoint said. Errors never quote the body: it may hold a token.
pub fn token_answer(status: u16, body: &[u8]) -> Result<TokenAnswer> {
    if (200..300).contains(&status) {
        return serde_json::from_slice::<Tokens>(body)
            .map(TokenAnswer::Granted)
            .map_err(|e| {
                anyhow!(
                    "HTTP {status} without a usable access_token ({})",
                    e.classify_name()
                )
            });
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => Ok(TokenAnswer::Error {
            code: printable(&e.error, 100),
            description: e.error_description.map(|d| printable(&d, 300)),
        }),
        Err(_) => bail!("HTTP {status} without an OAuth error"),
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "fields missing",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

/// What the device flow does after one poll of the token endpoint.
#[derive(Debug)]
pub enum Poll {
    /// Signed in.
    Granted(Tokens),
    /// Ask again after this long (the interval, grown by `slow_down`).
    Wait(Duration),
    /// Give up, saying why.
    Failed(String),
}

/// RFC 8628 §3.5: `authorization_pending` waits the interval, `slow_down` adds five seconds
/// to it for good, `expired_token` and `access_denied` end the flow, as does any other error.
pub fn next_poll(answer: TokenAnswer, interval: &mut Duration) -> Poll {
    match answer {
        TokenAnswer::Granted(tokens) => Poll::Granted(tokens),
        TokenAnswer::Error { code, description } => match code.as_str() {
            "authorization_pending" => Poll::Wait(*interval),
            "slow_down" => {
                *interval += Duration::from_secs(5);
                Poll::Wait(*interval)
            }
            "expired_token" => Poll::Failed(
                "the code expired before the sign-in was finished; run login again".into(),
            ),
            "access_denied" => Poll::Failed("the sign-in was declined".into()),
            _ => Poll::Failed(describe(&code, description.as_deref())),
        },
    }
}

/// What a server said, fit for a terminal or a log line: at most `max` characters, no
/// control characters (a hostile endpoint must not forge log lines or drive the terminal).
fn printable(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

fn describe(code: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("{code}: {}", d.trim()),
        None => code.to_string(),
    }
}

/// An access token can no longer be relied on this close to its expiry: five minutes, or a
/// quarter of a short lifetime. Without `expires_in`, an hour is assumed (what both
/// providers give).
pub fn refresh_due(issued: Instant, expires_in: Option<u64>) -> Instant {
    let lifetime = Duration::from_secs(expires_in.unwrap_or(3600));
    let margin = (lifetime / 4).min(Duration::from_secs(300));
    issued + lifetime - margin
}

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
struct AccessToken {
    token: Token,
    refresh_at: Instant,
}

/// The client as registered with the provider.
#[derive(Debug, Clone)]
struct Client {
    endpoints: Endpoints,
    client_id: String,
    client_secret: Option<Token>,
    trust: Trust,
}

impl Client {
    fn from_config(config: &Config) -> Result<Client, ConfigError> {
        let oauth2 = config.oauth2.as_ref().ok_or_else(|| {
            ConfigError(
                "there is no [oauth2] section: add one (README: \"Microsoft 365\", \"Google Workspace\") and set auth = \"oauth2\" in [imap] and [smtp]"
                    .into(),
            )
        })?;
        Ok(Client {
            endpoints: oauth2.endpoints(),
            client_id: oauth2.client_id.clone(),
            client_secret: oauth2.client_secret(&config.base_dir)?.map(Token),
            trust: Trust::load("oauth2", oauth2.ca_path(&config.base_dir)?.as_deref())?,
        })
    }

    /// The fields every request carries: the client ID, and the secret if there is one.
    fn fields<'a>(&'a self, more: &[(&'a str, &'a str)]) -> String {
        let mut fields = vec![("client_id", self.client_id.as_str())];
        if let Some(secret) = &self.client_secret {
            fields.push(("client_secret", secret.reveal()));
        }
        fields.extend_from_slice(more);
        form(&fields)
    }

    async fn token_request(&self, more: &[(&str, &str)]) -> Result<TokenAnswer> {
        let answer =
            http::post_form(&self.endpoints.token_url, &self.fields(more), &self.trust).await?;
        token_answer(answer.status, &answer.body)
            .with_context(|| format!("the token endpoint {}", self.endpoints.token_url))
    }
}

/// Reads the refresh token `login` saved, if there is one.
fn load_refresh_token(path: &Path) -> Result<Option<Token>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.lines().next().unwrap_or("").trim().to_string();
            Ok((!token.is_empty()).then_some(Token(token)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Saves a refresh token: mode 0600, whole or not at all (temporary file, fsync, rename).
/// A token that is not one line of printable ASCII is refused: it could not be read back.
fn save_refresh_token(path: &Path, token: &Token) -> Result<()> {
    if token.0.is_empty() || !token.0.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("the provider sent a refresh token that is not one word of printable ASCII");
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::transport::write_atomically(dir, path, format!("{}\n", token.reveal()).as_bytes())
        .with_context(|| format!("cannot save the refresh token in {}", path.display()))
}

/// The grant `referrald login` made, turned into access tokens on demand. Shared by IMAP and
/// SMTP; one refresh at a time. The refresh token is read from its file at each refresh, so a
/// new `login` while the daemon runs is picked up without a restart, and `doctor` and the
/// daemon never refresh with a token the other has rotated away.
#[derive(Debug)]
pub struct Grant {
    client: Client,
    path: PathBuf,
    login_command: String,
    current: tokio::sync::Mutex<Option<AccessToken>>,
}

impl Grant {
    /// The grant, if `[imap]` or `[smtp]` logs in with OAuth 2.0.
    pub fn from_config(config: &Config) -> Result<Option<Arc<Grant>>, ConfigError> {
        if !config.uses_oauth2() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Grant {
            client: Client::from_config(config)?,
            path: config.oauth2_token_path(),
            login_command: config.login_command(),
            current: tokio::sync::Mutex::new(None),
        })))
    }

    /// Where the refresh token is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The token endpoint, for messages.
    pub fn token_url(&self) -> &str {
        &self.client.endpoints.token_url
    }

    /// An access token good for a few minutes more at least: the one we have, or a new one.
    pub async fn access_token(&self) -> Result<Token> {
        let mut current = self.current.lock().await;
        if let Some(access) = current.as_ref()
            && Instant::now() < access.refresh_at
        {
            return Ok(access.token.clone());
        }
        let access = self.refresh().await?;
        let token = access.token.clone();
        *current = Some(access);
        Ok(token)
    }

    /// A server refused `token`: the next [`Grant::access_token`] gets a new one.
    pub async fn refused(&self, token: &Token) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|a| a.token == *token) {
            *current = None;
        }
    }

    async fn refresh(&self) -> Result<AccessToken> {
        let refresh_token = self.saved_refresh_token().await?;
        match self.refresh_with(&refresh_token).await {
            // Another process (`doctor` beside the daemon, a new `login`) may have rotated the
            // token between our reading and our using it: the one on disk now decides.
            Err(e) if e.downcast_ref::<NeedsLogin>().is_some() => {
                match self.saved_refresh_token().await {
                    Ok(now) if now != refresh_token => self.refresh_with(&now).await,
                    _ => Err(e),
                }
            }
            result => result,
        }
    }

    async fn saved_refresh_token(&self) -> Result<Token> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || load_refresh_token(&path))
            .await
            .context("the token file task failed")??
            .ok_or_else(|| {
                NeedsLogin(format!(
                    "no OAuth 2.0 sign-in yet ({} does not exist): run `{}`",
                    self.path.display(),
                    self.login_command
                ))
                .into()
            })
    }

    async fn refresh_with(&self, refresh_token: &Token) -> Result<AccessToken> {
        let scope = self.client.endpoints.scopes.join(" ");
        let issued = Instant::now();
        let answer = self
            .client
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.reveal()),
                ("scope", &scope),
            ])
            .await?;
        match answer {
            TokenAnswer::Granted(tokens) => {
                if let Some(rotated) = tokens.refresh_token.filter(|t| t != refresh_token) {
                    let path = self.path.clone();
                    tokio::task::spawn_blocking(move || save_refresh_token(&path, &rotated))
                        .await
                        .context("the token file task failed")??;
                    tracing::debug!("OAuth 2.0: saved the rotated refresh token");
                }
                tracing::debug!("OAuth 2.0: new access token");
                Ok(AccessToken {
                    token: tokens.access_token,
                    refresh_at: refresh_due(issued, tokens.expires_in),
                })
            }
            TokenAnswer::Error { code, description } if code == "invalid_grant" => {
                Err(NeedsLogin(format!(
                    "the OAuth 2.0 sign-in is no longer valid ({}): run `{}` to sign in again",
                    describe(&code, description.as_deref()),
                    self.login_command
                ))
                .into())
            }
            TokenAnswer::Error { code, description } => Err(anyhow!(
                "the token endpoint {} refused to refresh: {}",
                self.client.endpoints.token_url,
                describe(&code, description.as_deref())
            )),
        }
    }
}

/// `referrald login`: gets the user's consent the way `[oauth2] flow` says (talking to them
/// through `show`), and saves the refresh token; returns where.
pub async fn login(config: &Config, show: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let client = Client::from_config(config)?;
    let tokens = match client.endpoints.flow {
        Flow::Device => device_login(&client, show).await?,
        Flow::Browser => browser_login(&client, show).await?,
    };
    let refresh = tokens.refresh_token.ok_or_else(|| {
        anyhow!(
            "signed in, but the provider gave no refresh token: the scopes need offline_access (Microsoft) or the app type must allow it"
        )
    })?;
    let path = config.oauth2_token_path();
    let file = path.clone();
    tokio::task::spawn_blocking(move || save_refresh_token(&file, &refresh))
        .await
        .context("the token file task failed")??;
    Ok(path)
}

/// RFC 8628: a code to enter at a URL, then polling until the user has.
async fn device_login(client: &Client, show: &mut dyn FnMut(&str)) -> Result<Tokens> {
    let scope = client.endpoints.scopes.join(" ");
    let answer = http::post_form(
        &client.endpoints.device_url,
        &client.fields(&[("scope", &scope)]),
        &client.trust,
    )
    .await?;
    if !(200..300).contains(&answer.status) {
        let why = match token_answer(answer.status, &answer.body) {
            Ok(TokenAnswer::Error { code, description }) => describe(&code, description.as_deref()),
            _ => format!("HTTP {}", answer.status),
        };
        let advice = if why.contains("invalid_scope") {
            "this provider does not allow these scopes in the device flow: set flow = \"browser\" under [oauth2]"
        } else {
            "check [oauth2] client-id and that the app allows the device code flow (README: \"Microsoft 365\", \"Google Workspace\")"
        };
        bail!(
            "the device endpoint {} refused: {why}; {advice}",
            client.endpoints.device_url
        );
    }
    let device: DeviceCode = serde_json::from_slice(&answer.body).map_err(|e| {
        anyhow!(
            "the device endpoint {} answered without a device code ({})",
            client.endpoints.device_url,
            e.classify_name()
        )
    })?;
    let expires = Duration::from_secs(device.expires_in);
    show(&format!(
        "To let referrald use the mailbox, open {} in a browser and enter the code {} (within {} minutes).",
        printable(&device.verification_uri, 500),
        printable(&device.user_code, 100),
        expires.as_secs().div_ceil(60)
    ));
    if let Some(complete) = &device.verification_uri_complete {
        let complete = printable(complete, 600);
        show(&format!(
            "(Or open {complete}, which has the code filled in.)"
        ));
    }
    show("Waiting for the sign-in…");
    let deadline = Instant::now() + expires;
    let mut interval = Duration::from_secs(device.interval.unwrap_or(5).max(1));
    let mut wait = interval;
    loop {
        if Instant::now() + wait > deadline {
            bail!("the code expired before the sign-in was finished; run login again");
        }
        tokio::time::sleep(wait).await;
        let answer = client
            .token_request(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device.device_code.reveal()),
            ])
            .await?;
        match next_poll(answer, &mut interval) {
            Poll::Granted(tokens) => return Ok(tokens),
            Poll::Wait(next) => wait = next,
            Poll::Failed(why) => bail!("{why}"),
        }
    }
}

/// RFC 8252 with PKCE (RFC 7636): the user opens an authorization URL; the provider sends
/// the browser back to `http://127.0.0.1:<port>/` with a code, which we read on that port or,
/// when the browser runs on another machine, from the address the user pastes.
async fn browser_login(client: &Client, show: &mut dyn FnMut(&str)) -> Result<Tokens> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on a loopback port for the browser's return")?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = random_text()?;
    let state = random_text()?;
    let url = authorization_url(
        &client.endpoints,
        &client.client_id,
        &redirect_uri,
        &pkce_challenge(&verifier),
        &state,
    );
    show("Open this address in a browser and sign in with the mailbox's account:");
    show(&url);
    show(&format!(
        "The browser then goes to {redirect_uri}. If it runs on another machine, either forward the port first (ssh -L {port}:127.0.0.1:{port} this-server) or, when the browser says it cannot connect, copy the whole address from its address bar and paste it here."
    ));
    let (pasted_tx, mut pasted) = tokio::sync::mpsc::channel::<String>(1);
    // A plain thread, not the runtime's: a read of the terminal cannot be cancelled, and must
    // not keep the process alive once the browser has come back.
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if pasted_tx.blocking_send(std::mem::take(&mut line)).is_err() {
                return;
            }
        }
    });
    let code = loop {
        let target = tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.context("the loopback port failed")?;
                match answer_browser(stream).await {
                    Some(target) => target,
                    None => continue,
                }
            }
            Some(line) = pasted.recv() => line,
        };
        match returned_code(&target, &state) {
            Ok(Some(code)) => break code,
            Ok(None) => continue,
            Err(why) => bail!("{why}"),
        }
    };
    let answer = client
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code.reveal()),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ])
        .await?;
    match answer {
        TokenAnswer::Granted(tokens) => Ok(tokens),
        TokenAnswer::Error { code, description } => bail!(
            "the token endpoint {} refused the sign-in: {}",
            client.endpoints.token_url,
            describe(&code, description.as_deref())
        ),
    }
}

/// Reads one request from the browser and answers it; the request target, if it was one.
async fn answer_browser(mut stream: tokio::net::TcpStream) -> Option<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(&mut stream);
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .ok()?
        .ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let page = if target.contains("code=") || target.contains("error=") {
        "referrald has your answer: you can close this tab and go back to the terminal."
    } else {
        "Nothing to see here."
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    Some(target)
}

/// The authorization request (RFC 6749 §4.1.1 with PKCE). `access_type=offline` and
/// `prompt=consent` make Google hand out a refresh token; other providers ignore them or
/// (Microsoft) ask for consent again, which is what signing in anew should do.
pub fn authorization_url(
    endpoints: &Endpoints,
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
) -> String {
    let scope = endpoints.scopes.join(" ");
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", state),
        ("access_type", "offline"),
        ("prompt", "consent"),
    ]);
    let separator = if endpoints.authorization_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{separator}{query}", endpoints.authorization_url)
}

/// The code in the address the browser came back to (a request target like `/?code=…` or a
/// whole pasted URL): `Ok(None)` when it carries no answer (a favicon request, an empty
/// line), an error when the provider said no or the state is not ours (another site's
/// redirect must not sign us in).
pub fn returned_code(address: &str, state: &str) -> Result<Option<Token>, String> {
    let Some((_, query)) = address.trim().split_once('?') else {
        return Ok(None);
    };
    let query = query.split('#').next().unwrap_or("");
    let field = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    if let Some(error) = field("error").map(|e| printable(&e, 100)) {
        let description = field("error_description").map(|d| printable(&d, 300));
        return Err(match error.as_str() {
            "access_denied" => "the sign-in was declined".into(),
            _ => format!(
                "the provider refused: {}",
                describe(&error, description.as_deref())
            ),
        });
    }
    let Some(code) = field("code") else {
        return Ok(None);
    };
    if field("state").as_deref() != Some(state) {
        return Err(
            "the browser came back with a state that is not this login's: run login again".into(),
        );
    }
    Ok(Some(Token(code)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 7636 S256: the base64url SHA-256 of the verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// 32 random bytes, base64url: a PKCE verifier or a state.
fn random_text() -> Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow!("the system has no randomness to offer"))?;
    Ok(base64url(&bytes))
}

/// Base64url without padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_follows_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        let a = random_text().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_text().unwrap());
    }

    #[test]
    fn the_browser_s_return_is_read_and_checked() {
        assert_eq!(
            returned_code("/?state=s1&code=4%2F0Ab&scope=x", "s1")
                .unwrap()
                .unwrap()
                .reveal(),
            "4/0Ab"
        );
        // Pasted from the address bar, whole.
        assert!(
            returned_code("http://127.0.0.1:4711/?code=c&state=s1\n", "s1")
                .unwrap()
                .is_some()
        );
        assert!(returned_code("/favicon.ico", "s1").unwrap().is_none());
        assert!(returned_code("\n", "s1").unwrap().is_none());
        // Someone else's redirect does not sign us in.
        let err = returned_code("/?code=c&state=forged", "s1").unwrap_err();
        assert!(err.contains("state"), "{err}");
        let err = returned_code("/?error=access_denied&state=s1", "s1").unwrap_err();
        assert!(err.contains("declined"), "{err}");
    }

    #[test]
    fn the_authorization_url_asks_for_a_refresh_token_with_pkce() {
        let endpoints = Endpoints {
            flow: Flow::Browser,
            authorization_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            device_url: String::new(),
            token_url: String::new(),
            scopes: vec!["https://mail.google.com/".into()],
        };
        let url = authorization_url(&endpoints, "id.apps", "http://127.0.0.1:4711/", "ch", "st");
        assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=id.apps&redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2F&scope=https%3A%2F%2Fmail.google.com%2F&code_challenge=ch&code_challenge_method=S256&state=st"), "{url}");
        assert!(url.contains("access_type=offline"), "{url}");
    }

    #[test]
    fn tokens_never_print() {
        let token = Token::new("ya29.secret");
        assert!(!format!("{token:?}").contains("secret"));
        let answer = token_answer(
            200,
            br#"{"access_token":"ya29.secret","expires_in":3599,"refresh_token":"1//rt","token_type":"Bearer"}"#,
        )
        .unwrap();
        let shown = format!("{answer:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("1//rt"),
            "{shown}"
        );
    }

    #[test]
    fn token_answers_are_sorted() {
        let TokenAnswer::Granted(t) =
            token_answer(200, br#"{"access_token":"a","expires_in":60}"#).unwrap()
        else {
            panic!("granted");
        };
        assert_eq!((t.access_token.reveal(), t.expires_in), ("a", Some(60)));
        assert!(t.refresh_token.is_none());
        let TokenAnswer::Error { code, description } = token_answer(
            400,
            br#"{"error":"invalid_grant","error_description":"AADSTS70008: expired"}"#,
        )
        .unwrap() else {
            panic!("error");
        };
        assert_eq!(code, "invalid_grant");
        assert_eq!(description.as_deref(), Some("AADSTS70008: expired"));
        // What a hostile endpoint says cannot forge log lines or drive the terminal.
        let TokenAnswer::Error { code, description } = token_answer(
            400,
            b"{\"error\":\"x\\ny\",\"error_description\":\"a\\r\\nWARN forged\\u001b[2J\"}",
        )
        .unwrap() else {
            panic!("error");
        };
        assert_eq!(code, "x y");
        let description = description.unwrap();
        assert!(
            !description.chars().any(char::is_control),
            "{description:?}"
        );
        // A body that might hold a token is never quoted.
        let err = token_answer(200, b"{\"access_tok\":\"leak\"}").unwrap_err();
        assert!(!format!("{err:#}").contains("leak"), "{err:#}");
        let err = token_answer(502, b"<html>leak</html>").unwrap_err();
        assert!(!format!("{err:#}").contains("leak"), "{err:#}");
    }

    fn error(code: &str) -> TokenAnswer {
        TokenAnswer::Error {
            code: code.into(),
            description: None,
        }
    }

    #[test]
    fn polling_follows_rfc_8628() {
        let mut interval = Duration::from_secs(5);
        assert!(matches!(
            next_poll(error("authorization_pending"), &mut interval),
            Poll::Wait(d) if d == Duration::from_secs(5)
        ));
        assert!(matches!(
            next_poll(error("slow_down"), &mut interval),
            Poll::Wait(d) if d == Duration::from_secs(10)
        ));
        // slow_down is for good.
        assert!(matches!(
            next_poll(error("authorization_pending"), &mut interval),
            Poll::Wait(d) if d == Duration::from_secs(10)
        ));
        assert!(
            matches!(next_poll(error("expired_token"), &mut interval), Poll::Failed(w) if w.contains("expired"))
        );
        assert!(
            matches!(next_poll(error("access_denied"), &mut interval), Poll::Failed(w) if w.contains("declined"))
        );
        assert!(
            matches!(next_poll(error("invalid_client"), &mut interval), Poll::Failed(w) if w.contains("invalid_client"))
        );
    }

    #[test]
    fn device_codes_parse_from_either_provider() {
        let ms: DeviceCode = serde_json::from_str(r#"{"user_code":"ABCD-EFGH","device_code":"x","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in…"}"#).unwrap();
        assert_eq!(ms.verification_uri, "https://microsoft.com/devicelogin");
        let google: DeviceCode = serde_json::from_str(r#"{"device_code":"x","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#).unwrap();
        assert_eq!(google.verification_uri, "https://www.google.com/device");
        assert_eq!(google.interval, Some(5));
    }

    #[test]
    fn access_tokens_are_renewed_before_they_expire() {
        let now = Instant::now();
        assert_eq!(
            refresh_due(now, Some(3600)),
            now + Duration::from_secs(3300)
        );
        // A short lifetime keeps three quarters of it.
        assert_eq!(refresh_due(now, Some(60)), now + Duration::from_secs(45));
        assert_eq!(refresh_due(now, None), now + Duration::from_secs(3300));
        assert_eq!(refresh_due(now, Some(0)), now);
    }

    #[test]
    fn refresh_tokens_are_saved_privately_and_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("referrald.db.oauth2-token");
        assert!(load_refresh_token(&path).unwrap().is_none());
        save_refresh_token(&path, &Token::new("first")).unwrap();
        save_refresh_token(&path, &Token::new("second")).unwrap();
        assert_eq!(
            load_refresh_token(&path).unwrap().unwrap().reveal(),
            "second"
        );
        // A token that would not read back whole is refused, and the saved one kept.
        assert!(save_refresh_token(&path, &Token::new("third\nline")).is_err());
        assert_eq!(
            load_refresh_token(&path).unwrap().unwrap().reveal(),
            "second"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
