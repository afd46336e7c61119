//! A small HTTP/1.1 client for the two requests OAuth 2.0 needs: a form POSTed to the
//! device and token endpoints, a JSON answer read back. Over the TLS code IMAP and SMTP
//! already use ([`crate::net`]: rustls with ring, Mozilla's roots), so tokens travel through
//! the same checked connections and no second HTTP stack is built; plain HTTP only to
//! loopback, as for the mail servers.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::{Stream, Trust, loopback_host};

/// How long one request (connect, send, read the whole answer) may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read: a token answer is a few kilobytes.
const MAX_ANSWER: usize = 1024 * 1024;

/// An endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// Path and query, at least `/`.
    path: String,
}

fn target(url: &str) -> Result<Target> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        bail!("{url} is not an http(s) URL");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            match port.parse::<u16>() {
                Ok(port) => (host, port),
                Err(_) if port.is_empty() => (host, default_port),
                Err(_) => bail!("{url} has a bad port"),
            }
        }
        _ => (authority, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("{url} has no host");
    }
    Ok(Target {
        tls,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// `application/x-www-form-urlencoded`: everything but the unreserved characters escaped.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// POSTs `body` (a form) to `url` and reads the answer. Errors name the URL, never the form
/// (it holds the refresh token and the client secret).
pub async fn post_form(url: &str, body: &str, trust: &Trust) -> Result<Answer> {
    match tokio::time::timeout(TIMEOUT, exchange(url, body, trust)).await {
        Ok(answer) => answer.with_context(|| format!("POST {url}")),
        Err(_) => Err(anyhow!(
            "POST {url}: no answer within {}s",
            TIMEOUT.as_secs()
        )),
    }
}

async fn exchange(url: &str, body: &str, trust: &Trust) -> Result<Answer> {
    let target = target(url)?;
    let mut stream = if target.tls {
        Stream::connect_tls(&target.host, target.port, trust).await?
    } else {
        let host =
            loopback_host(&target.host, target.port).map_err(|why| anyhow!("http: {why}"))?;
        Stream::connect_plain(&host, target.port).await?
    };
    let host_header = match (target.tls, target.port) {
        (true, 443) | (false, 80) => target.host.clone(),
        (_, port) => format!("{}:{port}", target.host),
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: referrald/{version}\r\nAccept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}",
        path = target.path,
        version = env!("CARGO_PKG_VERSION"),
        length = body.len(),
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // A TLS peer that closes without close_notify: what we have is all there is.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if read > 0 {
            buf.extend_from_slice(&chunk[..read]);
            if buf.len() > MAX_ANSWER {
                bail!("the answer is larger than {MAX_ANSWER} bytes");
            }
        }
        if let Some(answer) = parse(&buf, read == 0)? {
            return Ok(answer);
        }
        if read == 0 {
            bail!("the connection closed in the middle of the answer");
        }
    }
}

/// The answer in `buf`, once it is complete (by Content-Length, chunked encoding, or the
/// end of the connection when `eof`); `None` while more is needed.
fn parse(buf: &[u8], eof: bool) -> Result<Option<Answer>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head =
        std::str::from_utf8(&buf[..end]).map_err(|_| anyhow!("the answer's header is not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| anyhow!("not an HTTP answer"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| anyhow!("a bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = &buf[end + 4..];
    if chunked {
        return Ok(dechunk(body)?.map(|body| Answer { status, body }));
    }
    match length {
        Some(length) if body.len() >= length => Ok(Some(Answer {
            status,
            body: body[..length].to_vec(),
        })),
        Some(_) => Ok(None),
        None if eof => Ok(Some(Answer {
            status,
            body: body.to_vec(),
        })),
        None => Ok(None),
    }
}

/// A chunked body, once its last chunk has arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&rest[..line_end]).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| anyhow!("a bad chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_where_to_connect() {
        let t = target("https://login.microsoftonline.com/common/oauth2/v2.0/token").unwrap();
        assert_eq!(
            t,
            Target {
                tls: true,
                host: "login.microsoftonline.com".into(),
                port: 443,
                path: "/common/oauth2/v2.0/token".into()
            }
        );
        let t = target("http://127.0.0.1:8080").unwrap();
        assert_eq!((t.tls, t.port, t.path.as_str()), (false, 8080, "/"));
        let t = target("http://[::1]:9/x?y=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9, "/x?y=1")
        );
        assert!(target("ftp://x/").is_err());
        assert!(target("https://:443/").is_err());
    }

    #[test]
    fn forms_escape_everything_but_unreserved() {
        assert_eq!(
            form(&[
                ("scope", "https://mail.google.com/ offline_access"),
                ("a", "b&c=d")
            ]),
            "scope=https%3A%2F%2Fmail.google.com%2F%20offline_access&a=b%26c%3Dd"
        );
    }

    #[test]
    fn answers_end_by_length_chunks_or_close() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse(full, false).unwrap().unwrap().body, b"{}");
        assert_eq!(parse(&full[..full.len() - 1], false).unwrap(), None);

        let chunked = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        let answer = parse(chunked, false).unwrap().unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (400, &b"{\"a\":1}"[..])
        );
        assert_eq!(parse(&chunked[..60], false).unwrap(), None);

        let closed = b"HTTP/1.0 200 OK\r\n\r\n{\"x\":2}";
        assert_eq!(parse(closed, false).unwrap(), None);
        assert_eq!(parse(closed, true).unwrap().unwrap().body, b"{\"x\":2}");

        assert!(parse(b"SMTP 220 hello\r\n\r\n", true).is_err());
        assert!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                true
            )
            .is_err()
        );
    }
}
