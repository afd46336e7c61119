//! `referrald serve` driven over HTTP as a browser would: the real binary on a loopback port,
//! a real SQLite file seeded by `ingest` and `tick` on a scripted clock.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London
const LATER: &str = "2026-11-20T10:00:00Z";
const TOKEN: &str = "correct-horse-battery-staple-42";

/// The subject of the hostile introduction: markup, a script, a word too long for any screen,
/// and a right-to-left override that would make "exe.txt" read as "txt.exe".
const HOSTILE_SUBJECT: &str = "<script>alert('subject')</script> <img src=x onerror=alert(1)> \
    Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
    \u{202e}txt.exe";

fn intro(id: &str, to: &str, subject: &str) -> String {
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
fn encoded_word(text: &str) -> String {
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
fn reply(to: &str, words: &str) -> String {
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
fn seeded(web: &str) -> Deployment {
    let d = support::config::alice()
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
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(d: &Deployment, listen: &str) -> Server {
        let mut child = d
            .command()
            .args(["--now", LATER, "serve", "--listen", listen])
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
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            head += &format!("Host: 127.0.0.1:{}\r\n", self.port);
        }
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        stream
            .write_all(format!("{head}\r\n{body}").as_bytes())
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        Reply {
            status: status.parse().unwrap(),
            headers: lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
                .collect(),
            body: body.to_string(),
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], "")
    }

    /// A page that must answer 200.
    fn page(&self, path: &str) -> String {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }

    fn post(&self, path: &str, form: &str) -> Reply {
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

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The CSRF token of the first form on a page.
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

fn status_of(d: &Deployment, id: u32) -> String {
    d.json(&["show", &id.to_string(), "--json"])["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_page_shows_the_seeded_referrals() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");

    let list = s.page("/");
    assert!(list.contains("Intro: Fred, meet Sally"), "{list}");
    assert!(list.contains("Bob Brown") && list.contains("Fred Jones"));
    assert!(list.contains("/referrals/1") && list.contains("/referrals/2"));
    assert!(list.contains("18 d"), "age on the scripted clock: {list}");

    let only_fred = s.page("/?person=fred%40fredsbooks.example");
    assert!(only_fred.contains("/referrals/1") && !only_fred.contains("/referrals/2\""));
    let found = s.page("/?q=meet+Sally");
    assert!(found.contains("/referrals/1") && !found.contains("/referrals/2\""));
    let nothing = s.page("/?status=succeeded");
    assert!(nothing.contains("No referrals match"), "{nothing}");

    let one = s.page("/referrals/1");
    let show = d.ok(&["show", "1"]);
    assert!(show.contains("recorded"), "{show}");
    for kind in ["recorded", "sent"] {
        assert!(one.contains(&format!("<b>{kind}</b>")), "{kind}: {one}");
    }
    assert!(one.contains("thank_you"), "the mail sent: {one}");
    assert!(
        one.contains("We met on Friday, it went great"),
        "Fred's words: {one}"
    );
    assert!(one.contains("fred@fredsbooks.example"));

    let people = s.page("/people");
    assert!(people.contains("Bob Brown") && people.contains("bob%40networkers.example"));
    let bob = s.page("/people/bob%40networkers.example");
    assert!(bob.contains("/referrals/1") && bob.contains("/referrals/2"));

    let stats = s.page("/stats");
    assert!(
        stats.contains("<svg") && stats.contains("2026-11: 1 open"),
        "{stats}"
    );
    assert!(s.page("/stats?since=2026-12-01").contains("<dd>0</dd>"));

    assert_eq!(s.get("/referrals/99").status, 404);
    assert_eq!(s.get("/nowhere").status, 404);
    let css = s.get("/style.css");
    assert_eq!(css.status, 200);
    assert!(css.body.contains("prefers-color-scheme: dark"));
}

#[test]
fn every_response_forbids_scripts_framing_and_caching() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    for path in [
        "/",
        "/referrals/1",
        "/people",
        "/stats",
        "/style.css",
        "/nope",
    ] {
        let r = s.get(path);
        assert_eq!(
            r.header("content-security-policy"),
            Some(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "{path}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert!(!r.body.contains("<script"), "{path}: no script at all");
    }
}

#[test]
fn hostile_subjects_and_names_come_out_as_text() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    for path in [
        "/",
        "/referrals/2",
        "/referrals/1",
        "/people",
        "/people/mallory%40evil.example",
        "/?q=%3Cscript%3E",
    ] {
        let page = s.page(path);
        for raw in ["<script", "<img", "<b>Mallory", "onerror=alert(1)>"] {
            assert!(!page.contains(raw), "{path} has {raw:?} unescaped");
        }
    }
    let hostile = s.page("/referrals/2");
    assert!(
        hostile.contains("&lt;script&gt;alert(&#x27;subject&#x27;)&lt;&#x2f;script&gt;"),
        "{hostile}"
    );
    // The override character is kept as text; the stylesheet isolates it in its cell.
    assert!(hostile.contains("\u{202e}txt.exe") || hostile.contains("txt.exe"));
    let fred = s.page("/referrals/1");
    assert!(
        fred.contains("&lt;script&gt;alert(&#x27;fred&#x27;)"),
        "{fred}"
    );
    // A search for markup finds the hostile referral and shows the query escaped.
    let search = s.page("/?q=%3Cscript%3E");
    assert!(search.contains("/referrals/2") && search.contains("value=\"&lt;script&gt;\""));
}

#[test]
fn without_a_token_a_page_that_rebound_its_name_to_loopback_reads_nothing() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    let r = s.request("GET", "/", &[("Host", "attacker.example")], "");
    assert_eq!(r.status, 421);
    assert!(!r.body.contains("Fred"));
}

#[test]
fn a_non_loopback_listener_needs_a_token_file() {
    let d = support::config::alice()
        .with("[web]\nlisten = \"0.0.0.0:8025\"")
        .deploy();
    let out = d.run(&["serve"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("token-file"), "{err}");

    // --listen cannot get around it either.
    let d = seeded("");
    let out = d.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn off_loopback_only_the_login_page_answers_without_the_token() {
    let d = seeded("token-file = \"web-token\"");
    d.write("web-token", format!("{TOKEN}\n"));
    let s = Server::start(&d, "0.0.0.0:0");

    assert_eq!(s.get("/login").status, 200);
    for path in [
        "/",
        "/referrals/1",
        "/people",
        "/stats",
        "/people/bob%40networkers.example",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/login"));
        assert!(!r.body.contains("Fred"));
    }
    let r = s.post("/referrals/1/cancel", "csrf=x");
    assert_eq!(r.status, 401);

    let wrong = s.post("/login", "token=guess");
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    let bad_cookie = format!("referrald_token={TOKEN}x");
    let r = s.request("GET", "/", &[("Cookie", &bad_cookie)], "");
    assert_eq!(r.status, 303);

    let login = s.post("/login", &format!("token={TOKEN}"));
    assert_eq!(login.status, 303);
    let cookie = login.header("set-cookie").unwrap().to_string();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap();
    for path in ["/", "/referrals/1", "/people", "/stats"] {
        let r = s.request("GET", path, &[("Cookie", pair)], "");
        assert_eq!(r.status, 200, "{path}");
    }
    let r = s.request("GET", "/", &[("Cookie", pair)], "");
    assert!(r.body.contains("Intro: Fred, meet Sally"));
    // A token-protected page answers whatever name it is reached by.
    let r = s.request(
        "GET",
        "/",
        &[("Cookie", pair), ("Host", "referrals.example.org")],
        "",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_post_without_a_valid_csrf_token_changes_nothing() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    for form in ["", "csrf=", "csrf=0000", "amount=1"] {
        let r = s.post("/referrals/1/cancel", form);
        assert_eq!(r.status, 403, "{form}");
    }
    let token = csrf(&s.page("/referrals/1/confirm?action=cancel"));
    let r = s.request(
        "POST",
        "/referrals/1/cancel",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "https://attacker.example"),
        ],
        &format!("csrf={token}"),
    );
    assert_eq!(r.status, 403, "another site's form");
    assert_eq!(
        s.post("/people/fred%40fredsbooks.example/forget", "")
            .status,
        403
    );
    assert_ne!(status_of(&d, 1), "cancelled");
    assert!(s.page("/referrals/1").contains("Fred Jones"));
}

#[test]
fn confirmed_actions_change_the_store_as_the_commands_do() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");

    // Cancel, behind its confirmation page.
    let confirm = s.page("/referrals/1/confirm?action=cancel");
    assert!(confirm.contains("Cancel #1?") && confirm.contains("method=\"post\""));
    let r = s.post("/referrals/1/cancel", &format!("csrf={}", csrf(&confirm)));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/referrals/1"));
    assert_eq!(status_of(&d, 1), "cancelled");
    let story = s.page("/referrals/1");
    assert!(story.contains("on the web page"), "{story}");
    // Twice says why nothing changed.
    let again = s.post("/referrals/1/cancel", &format!("csrf={}", csrf(&confirm)));
    assert_eq!(again.status, 409);
    assert!(again.body.contains("already cancelled"));

    // Pause and resume.
    let token = csrf(&s.page("/referrals/2/confirm?action=pause"));
    assert_eq!(
        s.post("/referrals/2/pause", &format!("csrf={token}"))
            .status,
        303
    );
    assert!(s.page("/referrals/2").contains("paused until"));
    assert!(s.page("/").contains("class=\"paused\""));
    assert_eq!(
        s.post("/referrals/2/resume", &format!("csrf={token}"))
            .status,
        303
    );
    assert!(!s.page("/referrals/2").contains("paused until"));

    // Won, with an amount read as the email command reads it.
    let won = s.page("/referrals/2/confirm?action=won");
    assert!(won.contains("name=\"amount\""));
    let r = s.post(
        "/referrals/2/won",
        &format!("csrf={}&amount=12k&currency=EUR", csrf(&won)),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status_of(&d, 2), "succeeded");
    let stats = s.page("/stats");
    assert!(stats.contains("12,000 EUR"), "{stats}");
    let bad = s.post(
        "/referrals/2/won",
        &format!("csrf={}&amount=%0Acancel&currency=EUR", csrf(&won)),
    );
    assert_eq!(bad.status, 400);

    // Forget a person: through `forget`, refusing the owner.
    let confirm = s.page("/people/sally%40leedesign.example/confirm-forget");
    let token = csrf(&confirm);
    let r = s.post(
        "/people/sally%40leedesign.example/forget",
        &format!("csrf={token}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Forgot sally@leedesign.example"));
    assert!(!s.page("/people").contains("sally@leedesign.example"));
    let owner = s.post(
        "/people/alice%40brightside.example/forget",
        &format!("csrf={token}"),
    );
    assert_eq!(owner.status, 400);
    assert!(owner.body.contains("your own addresses"));
}

#[test]
fn garbage_and_oversized_requests_are_refused_and_the_server_lives_on() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    for garbage in [
        "\x00\x01\x02 nonsense\r\n\r\n".to_string(),
        format!(
            "GET /{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "a".repeat(40_000)
        ),
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
            "b".repeat(40_000)
        ),
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let _ = stream.write_all(garbage.as_bytes());
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer}"
        );
    }
    let token = csrf(&s.page("/referrals/1/confirm?action=cancel"));
    let big = format!("csrf={token}&pad={}", "x".repeat(20_000));
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let request = format!(
        "POST /referrals/1/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    // The server may close before reading all of it: a reset is an answer too.
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 413"),
        "{answer}"
    );
    assert_ne!(status_of(&d, 1), "cancelled");
    assert_eq!(s.get("/").status, 200);
}
