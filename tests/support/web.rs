//! `referrald serve` for the tests: a deployment seeded with an answered introduction and a
//! hostile one, the real binary serving it on a loopback port, and a small HTTP client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use super::deployment::Deployment;

/// When the introductions arrive: Monday, 10:00 in London.
pub const T: &str = "2026-11-02T10:00:00Z";
/// The `--now` the server runs at, eighteen days later.
pub const LATER: &str = "2026-11-20T10:00:00Z";
/// The token of the tests that set `token-file`.
pub const TOKEN: &str = "correct-horse-battery-staple-42";

/// The subject of the hostile introduction: markup, a script, a word too long for any screen,
/// and a right-to-left override that would make "exe.txt" read as "txt.exe".
pub const HOSTILE_SUBJECT: &str = "<script>alert('subject')</script> <img src=x onerror=alert(1)> \
    Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
    \u{202e}txt.exe";

pub fn intro(id: &str, to: &str, subject: &str) -> String {
    format!(
        "From: Bob Brown <bob@networkers.example>\r\n\
To: {to}\r\n\
Cc: intros@tracker.example.org\r\n\
Subject: {}\r\n\
Date: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
Message-ID: <{id}@mail.networkers.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
\r\n\
Hi both, you should talk. Bob\r\n",
        encoded_word(subject)
    )
}

/// `text` as one RFC 2047 Q encoded-word, so any character survives the header.
pub fn encoded_word(text: &str) -> String {
    let mut out = String::from("=?UTF-8?Q?");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out + "?="
}

/// Fred's answer to the feedback request `to`, with his words.
pub fn reply(to: &str, words: &str) -> String {
    format!(
        "From: Fred Jones <fred@fredsbooks.example>\r\n\
To: intros@tracker.example.org\r\n\
Subject: Re: Intro\r\n\
Date: Tue, 17 Nov 2026 09:55:00 +0000\r\n\
Message-ID: <reply-fred@fredsbooks.example>\r\n\
In-Reply-To: <{to}>\r\n\
References: <intro-plain@mail.networkers.example> <{to}>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
\r\n\
{words}\r\n"
    )
}

/// A deployment with two referrals (a plain one, answered, and a hostile one), a tick later.
pub fn seeded(web: &str) -> Deployment {
    let d = super::config::alice()
        .with(&format!("[web]\n{web}"))
        .deploy();
    let plain = d.write(
        "1.eml",
        intro(
            "intro-plain",
            "Fred Jones <fred@fredsbooks.example>, Sally Lee <sally@leedesign.example>",
            "Intro: Fred, meet Sally",
        ),
    );
    let hostile = d.write(
        "2.eml",
        intro(
            "intro-hostile",
            "\"<b>Mallory</b> <script>x</script>\" <mallory@evil.example>, Sally Lee <sally@leedesign.example>",
            HOSTILE_SUBJECT,
        ),
    );
    d.ok(&[
        "--now",
        T,
        "ingest",
        plain.to_str().unwrap(),
        hostile.to_str().unwrap(),
    ]);
    d.ok(&["--now", "2026-11-16T10:00:00Z", "tick"]);
    let outbox = d.json(&["outbox", "--json"]);
    let request = outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "feedback_request" && o["to"] == "fred@fredsbooks.example")
        .expect("a feedback request to Fred");
    let answer = d.write(
        "3.eml",
        reply(
            request["message_id"].as_str().unwrap(),
            "We met on Friday, it went great, 5 stars. <script>alert('fred')</script>",
        ),
    );
    d.ok(&[
        "--now",
        "2026-11-17T10:00:00Z",
        "ingest",
        answer.to_str().unwrap(),
    ]);
    d
}

/// `referrald serve` on a free port; killed when dropped.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    pub fn start(d: &Deployment, listen: &str) -> Server {
        let mut command = d.command();
        command.args(["--now", LATER, "serve", "--listen", listen]);
        Server::spawn(command)
    }

    /// Runs `command` (a `referrald … serve`), reading the port from its first line.
    pub fn spawn(mut command: std::process::Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("serve said {line:?}"));
        Server { child, port }
    }

    /// One request; (status, headers lower-cased, body).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        request(self.port, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], "")
    }

    /// A page that must answer 200.
    pub fn page(&self, path: &str) -> String {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }

    pub fn post(&self, path: &str, form: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to a page on loopback `port`; an error when nothing answers there (or the
/// answer is not HTTP).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head += &format!("Host: 127.0.0.1:{port}\r\n");
    }
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    Ok(Reply {
        status,
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
        body: body.to_string(),
    })
}

/// What the server answered.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header names lower-cased, with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The CSRF token of the first form on a page.
pub fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// Referral `id`'s status, as `show --json` says.
pub fn status_of(d: &Deployment, id: u32) -> String {
    d.json(&["show", &id.to_string(), "--json"])["status"]
        .as_str()
        .unwrap()
        .to_string()
}
