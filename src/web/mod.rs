//! `referrald serve`: the referrals, their stories and the ledger as web pages, rendered on
//! the server (no JavaScript), read through the store's own functions.
//!
//! Safe by default: it listens on loopback unless `[web] listen` says otherwise, and then
//! only with `[web] token-file` (config.rs refuses the rest); with a token, every request but
//! the login form needs the cookie the form sets. Without one, only requests naming a
//! loopback host are answered, so a web page that rebinds its DNS name to 127.0.0.1 reads
//! nothing. Actions are POST forms behind a confirmation page, carrying a CSRF token; every
//! response forbids scripts, framing and caching. Requests are bounded in size and time.

mod pages;
mod svg;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use minijinja::{AutoEscape, Environment};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::{Config, ConfigError, Web};
use crate::intake::commands::{self, Line};
use crate::model::ReferralId;
use crate::store::Store;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// The request line and headers: a browser's fit easily.
const MAX_HEAD: usize = 16 * 1024;
/// A form's body: a token, a CSRF token and an amount.
const MAX_BODY: usize = 8 * 1024;
/// A client must send its headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// And its body within this.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection, however busy, lives longer than this.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);
/// A wrong token costs the guesser this long.
const WRONG_TOKEN_DELAY: Duration = Duration::from_secs(1);
/// The shortest token accepted from `token-file`.
const MIN_TOKEN: usize = 16;
/// The login cookie's name.
const COOKIE: &str = "referrald_token";

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const STYLE: &str = include_str!("../../templates/web/style.css");
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/web/base.html")),
    (
        "referrals.html",
        include_str!("../../templates/web/referrals.html"),
    ),
    (
        "referral.html",
        include_str!("../../templates/web/referral.html"),
    ),
    (
        "people.html",
        include_str!("../../templates/web/people.html"),
    ),
    (
        "person.html",
        include_str!("../../templates/web/person.html"),
    ),
    ("stats.html", include_str!("../../templates/web/stats.html")),
    (
        "confirm.html",
        include_str!("../../templates/web/confirm.html"),
    ),
    (
        "message.html",
        include_str!("../../templates/web/message.html"),
    ),
    ("login.html", include_str!("../../templates/web/login.html")),
];

/// What every request handler shares.
struct App {
    config: Config,
    /// The token every request must carry, when the page is reachable from elsewhere.
    token: Option<String>,
    /// Proves a form came from one of our pages: random for each run of `serve`.
    csrf: String,
    templates: Environment<'static>,
    /// Writes the text of the next messages, as `preview` does.
    composer: crate::composer::Composer,
    /// `--now`, for tests and demos; the real clock otherwise.
    now: Option<DateTime<Utc>>,
    /// The stats page, kept until the database changes.
    reports: std::sync::Mutex<Reports>,
    /// Whether referrals are being added to the search's index.
    indexing: std::sync::atomic::AtomicBool,
}

/// The stats page (once most of a second at 100,000 referrals, now a few milliseconds),
/// kept with the database's `data_version` when they were read. One long-lived connection
/// reads them: its `data_version` changes when anyone else (`run`, `ingest`, an action on
/// this page) commits, and then they are read again.
#[derive(Default)]
struct Reports {
    store: Option<Store>,
    /// (page, period) → (data_version, what it read).
    pages: std::collections::HashMap<ReportKey, (i64, Arc<Value>)>,
}

/// A whole-store page and the period it covers.
type ReportKey = (&'static str, Option<NaiveDate>);

/// At most this many whole-store pages are kept (one per period asked for).
const MAX_REPORTS: usize = 16;

type Page = Response<Full<Bytes>>;

/// Serves the pages on `config.web.listen` until SIGINT or SIGTERM. `ready` is called with
/// the address actually bound (port 0 picks one).
pub async fn serve(
    config: Config,
    now: Option<DateTime<Utc>>,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let listen = config.web.listen;
    Web::check(listen, config.web.token_file.as_deref())?;
    let token = match config.web_token_path() {
        Some(path) => Some(read_token(&path)?),
        None => None,
    };
    // Create or migrate the database once; the pages then open it read-only.
    let path = config.store_path();
    tokio::task::spawn_blocking(move || Store::open(&path).map(drop))
        .await
        .context("cannot open the database")??;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    ready(listener.local_addr()?);
    let app = Arc::new(App {
        templates: templates()?,
        composer: crate::composer::Composer::new(&config)?,
        csrf: random_hex()?,
        config,
        token,
        now,
        reports: Default::default(),
        indexing: Default::default(),
    });
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch for SIGTERM")?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // moment rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        };
        // A page leaves in more than one write: without this, Nagle's algorithm holds the
        // second until the client's delayed ACK, 40 ms later.
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(app, request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            // A client that errs or dawdles loses its connection; nothing else to do about it.
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(slot);
        });
    }
    Ok(())
}

fn read_token(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "web.token-file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.chars().count() < MIN_TOKEN {
        return Err(ConfigError(format!(
            "web.token-file: the token in {} is shorter than {MIN_TOKEN} characters (try: head -c 24 /dev/urandom | base64 > {})",
            path.display(),
            path.display()
        ))
        .into());
    }
    Ok(token)
}

fn templates() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    // Every value is escaped, whatever the template's name: mail is written by strangers.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // And every string shows what it says: a bidi override or a zero-width character from
    // mail becomes U+FFFD, so "\u{202e}txt.exe" cannot pass for "exe.txt". Line breaks stay
    // (an answer keeps its lines).
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if text.chars().any(hidden) => {
            let shown: String = text
                .chars()
                .map(|c| if hidden(c) { '\u{fffd}' } else { c })
                .collect();
            minijinja::escape_formatter(out, state, &minijinja::Value::from(shown))
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.add_filter("urlencode", |text: String| encode(&text));
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .with_context(|| format!("web template {name}"))?;
    }
    Ok(env)
}

/// A character that would reorder or hide the text around it (line breaks and tabs aside).
fn hidden(c: char) -> bool {
    crate::model::is_unsafe_char(c) && c != '\n' && c != '\t'
}

fn random_hex() -> Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for the CSRF token"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ (both
/// are hashed first, so not on their lengths either).
fn same_secret(a: &str, b: &str) -> bool {
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let (a, b) = (digest(a), digest(b));
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Percent-encodes everything but the unreserved characters.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decodes (and, in forms and query strings, reads `+` as a space); bad escapes
/// stay as they are and bad UTF-8 becomes U+FFFD.
fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` as pairs.
fn form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// One request, start to finish, logged without its body, query or cookies.
async fn handle(app: Arc<App>, request: Request<Incoming>) -> Page {
    let started = Instant::now();
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();
    let mut response = match route(&app, request).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!("{method} {path}: {e:#}");
            app.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be read; the log says why.",
                None,
            )
        }
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    tracing::info!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

impl App {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    fn render(&self, status: StatusCode, template: &str, context: Value) -> Page {
        match self
            .templates
            .get_template(template)
            .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&context))))
        {
            Ok(html) => respond(status, "text/html; charset=utf-8", html),
            Err(e) => {
                tracing::error!("web template {template}: {e:#}");
                respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    "The page could not be drawn.".into(),
                )
            }
        }
    }

    fn message(&self, status: StatusCode, heading: &str, text: &str, back: Option<&str>) -> Page {
        self.render(
            status,
            "message.html",
            json!({ "heading": heading, "text": text, "back": back }),
        )
    }

    fn not_found(&self) -> Page {
        self.message(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
            Some("/"),
        )
    }

    /// Whether the request shows the token, when one is needed.
    fn signed_in(&self, request: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && same_secret(value, token))
    }

    /// Adds the referrals recorded since to the search's index, in the background and one
    /// run at a time; the search scans them until then.
    fn index_for_search(self: &Arc<Self>) {
        if self
            .indexing
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let path = app.config.store_path();
            let indexed = Store::open_read_only(&path)
                .and_then(|store| store.unindexed())
                .and_then(|waiting| match waiting {
                    0 => Ok(0),
                    _ => Store::open(&path)?.index_for_search(),
                });
            match indexed {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} referrals added to the search's index"),
                Err(e) => tracing::warn!("cannot add referrals to the search's index: {e:#}"),
            }
            app.indexing
                .store(false, std::sync::atomic::Ordering::Release);
        });
    }

    /// Counts the referrals recorded since in the ledger, and reads the answers recorded
    /// since, before a page reads them. Should that fail (a database the page cannot
    /// write), the pages count from the referrals and the answers themselves.
    async fn catch_up(self: &Arc<Self>) {
        let path = self.config.store_path();
        let max_amount = self.config.intake.max_amount;
        let counted = tokio::task::spawn_blocking(move || -> Result<(usize, usize)> {
            let waiting = Store::open_read_only(&path)?;
            let (uncounted, unread) = (
                waiting.ledger_uncounted()?,
                waiting.answers_unread(max_amount)?,
            );
            drop(waiting);
            if uncounted == 0 && !unread {
                return Ok((0, 0));
            }
            let mut store = Store::open(&path)?;
            let counted = match uncounted {
                0 => 0,
                _ => store.count_for_ledger()?,
            };
            let read = match unread {
                false => 0,
                true => store.read_answers(max_amount)?,
            };
            Ok((counted, read))
        })
        .await;
        match counted {
            Ok(Ok((counted, read))) => {
                if counted > 0 {
                    tracing::info!("{counted} referrals counted in the ledger");
                }
                if read > 0 {
                    tracing::info!("the answers about {read} referrals read for the figures");
                }
            }
            Ok(Err(e)) => tracing::warn!("cannot bring the ledger and figures up to date: {e:#}"),
            Err(e) => tracing::warn!("cannot bring the ledger and figures up to date: {e}"),
        }
    }

    /// Runs `page` on a read-only store on a blocking thread.
    async fn read<F>(self: &Arc<Self>, page: F) -> Result<Page>
    where
        F: FnOnce(&App, &Store) -> Result<Page> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = Store::open_read_only(&app.config.store_path())?;
            page(&app, &store)
        })
        .await?
    }

    /// A whole-store page: kept from last time if the database has not changed since, else
    /// read again by `read` on the long-lived connection, on a blocking thread.
    async fn report<F, V>(
        self: &Arc<Self>,
        page: &'static str,
        since: Option<NaiveDate>,
        read: F,
        view: V,
    ) -> Result<Page>
    where
        F: FnOnce(&App, &Store) -> Result<Value> + Send + 'static,
        V: FnOnce(&Value) -> Value + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = app
                .reports
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let reports = &mut *guard;
            let store = match reports.store.take() {
                Some(store) => store,
                None => Store::open_read_only(&app.config.store_path())?,
            };
            let version = store.data_version()?;
            let context = match reports.pages.get(&(page, since)) {
                Some((v, context)) if *v == version => context.clone(),
                _ => {
                    let context = Arc::new(read(&app, &store)?);
                    if reports.pages.len() >= MAX_REPORTS {
                        reports.pages.clear();
                    }
                    reports
                        .pages
                        .insert((page, since), (version, context.clone()));
                    context
                }
            };
            reports.store = Some(store);
            // Others may read while this one renders.
            drop(guard);
            Ok(app.render(StatusCode::OK, page, view(&context)))
        })
        .await?
    }

    /// Runs `change` on the store opened for writing, on a blocking thread.
    async fn write<F>(self: &Arc<Self>, change: F) -> Result<Page>
    where
        F: FnOnce(&App, &mut Store) -> Result<Page> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&app.config.store_path())?;
            change(&app, &mut store)
        })
        .await?
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Page {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn redirect(to: &str) -> Page {
    let mut response = respond(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        String::new(),
    );
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Whether the Host header names this machine: without a token, other names are a web page
/// that rebound its DNS name to 127.0.0.1.
fn loopback_host(request: &Request<Incoming>) -> bool {
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a POST comes from one of our own pages: no browser sends a cross-site request
/// with `Sec-Fetch-Site: same-origin`, and an `Origin` must name the host asked.
fn same_origin(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v != "same-origin" && v != "none")
    {
        return false;
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(_, o)| Some(o) == host.to_str().ok()),
        (Some(_), None) => false,
    }
}

async fn body(request: Request<Incoming>) -> Option<Vec<(String, String)>> {
    let limited = Limited::new(request.into_body(), MAX_BODY);
    let collected = tokio::time::timeout(BODY_TIMEOUT, limited.collect())
        .await
        .ok()?
        .ok()?;
    Some(form(&String::from_utf8_lossy(&collected.to_bytes())))
}

async fn route(app: &Arc<App>, request: Request<Incoming>) -> Result<Page> {
    let method = request.method().clone();
    if app.token.is_none() && !loopback_host(&request) {
        return Ok(app.message(
            StatusCode::MISDIRECTED_REQUEST,
            "Wrong address",
            "This page answers only at 127.0.0.1 or localhost.",
            None,
        ));
    }
    let path = request.uri().path().to_string();
    let query = form(request.uri().query().unwrap_or(""));
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| decode(s, false))
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();

    if method == Method::GET && path == "/style.css" {
        return Ok(respond(
            StatusCode::OK,
            "text/css; charset=utf-8",
            STYLE.into(),
        ));
    }
    if segments == ["login"] {
        return Ok(match method {
            Method::GET => app.render(StatusCode::OK, "login.html", json!({})),
            Method::POST => login(app, request).await,
            _ => app.message(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "", None),
        });
    }
    if !app.signed_in(&request) {
        return Ok(if method == Method::GET {
            redirect("/login")
        } else {
            app.render(
                StatusCode::UNAUTHORIZED,
                "login.html",
                json!({ "failed": false }),
            )
        });
    }
    if method == Method::POST {
        if !same_origin(&request) {
            return Ok(app.message(
                StatusCode::FORBIDDEN,
                "Refused",
                "That form came from another site.",
                Some("/"),
            ));
        }
        let Some(form) = body(request).await else {
            return Ok(app.message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Refused",
                "The form could not be read.",
                Some("/"),
            ));
        };
        if !field(&form, "csrf").is_some_and(|t| same_secret(t, &app.csrf)) {
            return Ok(app.message(
                StatusCode::FORBIDDEN,
                "Refused",
                "That form is stale or did not come from this page: nothing was changed. Open the page again and retry.",
                Some("/"),
            ));
        }
        return post(app, &segments, form).await;
    }
    if method != Method::GET && method != Method::HEAD {
        return Ok(app.message(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "", None));
    }
    get(app, &segments, &query).await
}

async fn login(app: &Arc<App>, request: Request<Incoming>) -> Page {
    let given = body(request).await.unwrap_or_default();
    let Some(token) = &app.token else {
        return redirect("/");
    };
    if field(&given, "token").is_some_and(|t| same_secret(t.trim(), token)) {
        let mut response = redirect("/");
        let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return response;
    }
    tokio::time::sleep(WRONG_TOKEN_DELAY).await;
    app.render(
        StatusCode::UNAUTHORIZED,
        "login.html",
        json!({ "failed": true }),
    )
}

async fn get(app: &Arc<App>, segments: &[&str], query: &[(String, String)]) -> Result<Page> {
    let now = app.now();
    match segments {
        [] => {
            let list = pages::ListQuery {
                status: field(query, "status").and_then(|s| s.parse().ok()),
                person: field(query, "person").map(crate::model::normalize_email),
                search: field(query, "q").map(|q| q.trim().chars().take(200).collect()),
                page: field(query, "page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1)
                    .min(1_000_000),
            };
            let searching = list.search.is_some();
            let page = app
                .read(move |app, store| {
                    let context = pages::referrals(store, &app.config, &list, now)?;
                    Ok(app.render(StatusCode::OK, "referrals.html", context))
                })
                .await;
            if searching {
                app.index_for_search();
            }
            page
        }
        ["referrals", id] => {
            let Ok(id) = id.parse::<ReferralId>() else {
                return Ok(app.not_found());
            };
            app.read(move |app, store| {
                Ok(
                    match pages::referral(store, &app.composer, &app.config, id, now)? {
                        Some(context) => app.render(StatusCode::OK, "referral.html", context),
                        None => app.not_found(),
                    },
                )
            })
            .await
        }
        ["referrals", id, "confirm"] => {
            let (Ok(id), Some(action)) = (
                id.parse::<ReferralId>(),
                field(query, "action").filter(|a| pages::ACTIONS.contains(a)),
            ) else {
                return Ok(app.not_found());
            };
            let explain = match action {
                "cancel" => "Nothing more will be sent about it.",
                "pause" => "Its mail is held until you resume it.",
                "resume" => "Its mail goes out again as planned.",
                "won" => "It is recorded as business you did, and closed.",
                _ => "It is recorded as not having worked out, and closed.",
            };
            Ok(app.render(
                StatusCode::OK,
                "confirm.html",
                json!({
                    "question": format!("{} #{id}?", capitalized(action)),
                    "explain": explain,
                    "action": format!("/referrals/{id}/{action}"),
                    "csrf": app.csrf,
                    "won": action == "won",
                    "button": capitalized(action),
                    "back": format!("/referrals/{id}"),
                }),
            ))
        }
        ["people"] => {
            let page = field(query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            app.catch_up().await;
            app.read(move |app, store| {
                let context = pages::people(store, &app.config, page)?;
                Ok(app.render(StatusCode::OK, "people.html", context))
            })
            .await
        }
        ["people", email] => {
            let email = crate::model::normalize_email(email);
            app.catch_up().await;
            app.read(move |app, store| {
                let context = pages::person(store, &app.config, &email)?;
                Ok(app.render(StatusCode::OK, "person.html", context))
            })
            .await
        }
        ["people", email, "confirm-forget"] => {
            let email = crate::model::normalize_email(email);
            Ok(app.render(
                StatusCode::OK,
                "confirm.html",
                json!({
                    "question": format!("Forget {email}?"),
                    "explain": "Their address, name and words are erased, and they are never emailed again. This cannot be undone.",
                    "action": format!("/people/{}/forget", encode(&email)),
                    "csrf": app.csrf,
                    "button": "Forget",
                    "back": format!("/people/{}", encode(&email)),
                }),
            ))
        }
        ["stats"] => {
            let since = field(query, "since").and_then(|d| d.parse::<NaiveDate>().ok());
            app.catch_up().await;
            app.report(
                "stats.html",
                since,
                move |app, store| pages::stats(store, &app.config, since),
                Value::clone,
            )
            .await
        }
        _ => Ok(app.not_found()),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

async fn post(app: &Arc<App>, segments: &[&str], form: Vec<(String, String)>) -> Result<Page> {
    let now = app.now();
    match segments {
        ["referrals", id, action] if pages::ACTIONS.contains(action) => {
            let Ok(id) = id.parse::<ReferralId>() else {
                return Ok(app.not_found());
            };
            let back = format!("/referrals/{id}");
            // The same words the owner would write by email, read by the same parser.
            let written = match *action {
                "won" => {
                    let amount = field(&form, "amount").unwrap_or("").trim();
                    let currency = field(&form, "currency").unwrap_or("").trim();
                    let plain = |s: &str, extra: &str| {
                        s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
                    };
                    if !plain(amount, ".,") || !plain(currency, "") {
                        return Ok(app.message(
                            StatusCode::BAD_REQUEST,
                            "Not recorded",
                            "The amount is a number (3000, 12k) and the currency a code (EUR).",
                            Some(&back),
                        ));
                    }
                    format!("won {amount} {currency}").trim().to_string()
                }
                other => other.to_string(),
            };
            let command = match commands::parse(&written) {
                Line::Command { command, .. } if command.word() == *action => command,
                Line::Invalid { why, .. } => {
                    return Ok(app.message(
                        StatusCode::BAD_REQUEST,
                        "Not recorded",
                        &why,
                        Some(&back),
                    ));
                }
                _ => return Ok(app.not_found()),
            };
            app.write(move |app, store| {
                if !store.has_referral(id)? {
                    return Ok(app.not_found());
                }
                let (answer, why) =
                    store.owner_command(id, &command, &written, &app.config, now)?;
                Ok(match why {
                    Some(why) if answer == "unchanged" => {
                        app.message(StatusCode::CONFLICT, "Nothing changed", &why, Some(&back))
                    }
                    _ => redirect(&back),
                })
            })
            .await
        }
        ["people", email, "forget"] => {
            let email = match crate::cli::parse_email(email) {
                Ok(email) => email,
                Err(why) => {
                    return Ok(app.message(StatusCode::BAD_REQUEST, "Not forgotten", &why, None));
                }
            };
            if let Some(why) = crate::cli::not_forgettable(&app.config, &email) {
                return Ok(app.message(
                    StatusCode::BAD_REQUEST,
                    "Not forgotten",
                    &why,
                    Some("/people"),
                ));
            }
            app.write(move |app, store| {
                let erasure = store.forget(&email, now)?;
                let text = if erasure.found_anything() {
                    format!(
                        "Forgot {email}: erased from {} referrals; {} scheduled messages cancelled.",
                        erasure.referrals, erasure.cancelled
                    )
                } else {
                    format!("referrald knew nothing more about {email}: nothing to forget.")
                };
                Ok(app.message(StatusCode::OK, "Forgotten", &text, Some("/people")))
            })
            .await
        }
        _ => Ok(app.not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_round_trips_addresses_and_hostile_text() {
        for text in [
            "fred+x@example.org",
            "<script>alert(1)</script>",
            "a b&c=d",
            "\u{202e}evil",
        ] {
            assert_eq!(decode(&encode(text), false), text);
            assert_eq!(decode(&encode(text), true), text);
        }
        assert_eq!(decode("a+b", true), "a b");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("%zz%4", true), "%zz%4");
        assert_eq!(decode("%", true), "%");
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcdef", "0123456789abcdeg"));
        assert!(!same_secret("0123456789abcdef", ""));
    }

    #[test]
    fn forms_read_pairs_and_ignore_junk() {
        let f = form("csrf=abc&amount=12k&&=x&novalue");
        assert_eq!(field(&f, "csrf"), Some("abc"));
        assert_eq!(field(&f, "amount"), Some("12k"));
        assert_eq!(field(&f, "novalue"), None);
    }
}
