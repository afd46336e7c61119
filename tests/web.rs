//! `referrald serve` driven over HTTP as a browser would: the real binary on a loopback port,
//! a real SQLite file seeded by `ingest` and `tick` on a scripted clock.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::web::{LATER, Server, TOKEN, csrf, seeded, status_of};

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
    // What goes out next, with its text as `preview` renders it.
    assert!(one.contains("<h2>Next</h2>"), "{one}");
    let preview = d.ok(&["--now", LATER, "preview", "1"]);
    let first_line = preview
        .lines()
        .skip_while(|l| !l.is_empty())
        .find(|l| !l.trim().is_empty())
        .unwrap();
    assert!(one.contains(first_line.trim()), "{first_line:?} in {one}");

    let people = s.page("/people");
    assert!(people.contains("Bob Brown") && people.contains("bob%40networkers.example"));
    let bob = s.page("/people/bob%40networkers.example");
    assert!(bob.contains("/referrals/1") && bob.contains("/referrals/2"));
    assert!(bob.contains("Introduced 2 (gave you 0)"), "{bob}");
    let fred = s.page("/people/fred%40fredsbooks.example");
    assert!(
        fred.contains("was introduced 1") && fred.contains("rating —"),
        "{fred}"
    );

    let stats = s.page("/stats");
    assert!(
        stats.contains("<svg") && stats.contains("2026-11: 1 open"),
        "{stats}"
    );
    // Fred met Sally (the other referral waits): half of November's referrals connected.
    assert!(
        stats.contains("<title>2026-11: 1 of 2 connected (50%)</title>"),
        "{stats}"
    );
    assert!(stats.contains("<title>5 of 5: 1 rating</title>"), "{stats}");
    assert!(stats.contains("No business closed."), "{stats}");
    assert!(s.page("/stats?since=2026-12-01").contains("<dd>0</dd>"));

    assert_eq!(s.get("/referrals/99").status, 404);
    assert_eq!(s.get("/nowhere").status, 404);
    let css = s.get("/style.css");
    assert_eq!(css.status, 200);
    assert!(css.body.contains("prefers-color-scheme: dark"));
}

/// The part of a page from heading `h2` to the next heading.
fn section<'p>(page: &'p str, h2: &str) -> &'p str {
    let start = page
        .find(&format!("<h2>{h2}</h2>"))
        .unwrap_or_else(|| panic!("no {h2} in {page}"));
    let rest = &page[start + 4..];
    &rest[..rest.find("<h2>").unwrap_or(rest.len())]
}

/// `text` as the page writes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[test]
fn every_mail_sent_shows_with_its_text_until_its_people_are_forgotten() {
    let d = seeded("");
    // What the transport was handed: the feedback request to Fred, as an .eml file.
    let mut request = None;
    for entry in std::fs::read_dir(d.path("outbox")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        let to = m.to().and_then(|a| a.first()).and_then(|a| a.address());
        if m.header_raw("X-Referrald-Kind").map(str::trim) == Some("feedback_request")
            && to == Some("fred@fredsbooks.example")
        {
            let subject = m.subject().unwrap().to_string();
            request = Some((subject, m.body_text(0).unwrap().into_owned()));
        }
    }
    let (subject, body) = request.expect("a feedback request to Fred in the outbox");
    let s = Server::start(&d, "127.0.0.1:0");
    let page = s.page("/referrals/1");
    let sent = section(&page, "Sent");
    assert!(
        sent.contains("<b>feedback_request</b> to fred@fredsbooks.example"),
        "{sent}"
    );
    assert!(
        sent.contains(&format!("Subject: {}", escaped(&subject))),
        "{sent}"
    );
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() > 2, "{body}");
    for line in lines {
        assert!(sent.contains(&escaped(line)), "{line:?} in {sent}");
    }
    assert!(!sent.contains("Text not kept"), "{sent}");

    // Forgetting Mallory takes the text of the mail about her referral, and only that.
    assert!(section(&s.page("/referrals/2"), "Sent").contains("Subject: "));
    d.ok(&["forget", "mallory@evil.example"]);
    let hers = s.page("/referrals/2");
    let sent = section(&hers, "Sent");
    assert!(
        sent.contains("Text not kept.") && !sent.contains("Subject: "),
        "{sent}"
    );
    assert!(section(&s.page("/referrals/1"), "Sent").contains(&escaped(&subject)));
}

#[test]
fn the_stats_charts_draw_each_month_s_rates_ratings_and_business_per_currency() {
    let d = seeded("");
    // An introduction recorded in September: October has no referral.
    let september = d.write(
        "4.eml",
        support::web::intro(
            "intro-september",
            "Tom Hardy <tom@tomsbikes.example>, Sally Lee <sally@leedesign.example>",
            "Intro: Tom, meet Sally",
        ),
    );
    d.ok(&[
        "--now",
        "2026-09-07T10:00:00Z",
        "ingest",
        september.to_str().unwrap(),
    ]);
    let s = Server::start(&d, "127.0.0.1:0");
    let tom = s
        .page("/?q=Tom")
        .split("href=\"/referrals/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    for (id, amount, currency) in [(tom.as_str(), "3000", "USD"), ("2", "12k", "EUR")] {
        let confirm = s.page(&format!("/referrals/{id}/confirm?action=won"));
        let form = format!(
            "csrf={}&amount={amount}&currency={currency}",
            csrf(&confirm)
        );
        assert_eq!(s.post(&format!("/referrals/{id}/won"), &form).status, 303);
    }

    let stats = s.page("/stats");
    for title in [
        "2026-09: 1 succeeded",
        "2026-09: 1 of 1 connected (100%)",
        "2026-09: 1 of 1 succeeded (100%)",
        "2026-11: 2 of 2 connected (100%)",
        "2026-11: 1 of 2 succeeded (50%)",
        "5 of 5: 1 rating",
        "4 of 5: 0 ratings",
        "2026-09: 3,000 USD",
        "2026-11: 12,000 EUR",
    ] {
        assert!(
            stats.contains(&format!("<title>{title}</title>")),
            "{title}: {stats}"
        );
    }
    // October keeps its place on the axis, with nothing drawn for it.
    assert!(stats.contains(">2026-10</text>") && !stats.contains("<title>2026-10"));
    // One chart per currency: the euros and the dollars are never added up.
    assert!(stats.contains("<h3>EUR</h3>") && stats.contains("<h3>USD</h3>"));
    assert!(!stats.contains("15,000") && !stats.contains("No business closed"));
    // A period after September leaves it out of every chart.
    let november = s.page("/stats?since=2026-11-01");
    assert!(!november.contains("2026-09") && november.contains("2026-11: 12,000 EUR"));
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
    // The override shows as what it is, and reorders nothing.
    assert!(hostile.contains("\u{fffd}txt.exe"), "{hostile}");
    assert!(!hostile.contains('\u{202e}'));
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
    // Read before the changes: the whole-store pages are kept until the database changes.
    assert!(s.page("/stats").contains("<dt>succeeded</dt><dd>0</dd>"));
    assert!(s.page("/people").contains("sally@leedesign.example"));

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
    assert!(stats.contains("<dt>succeeded</dt><dd>1</dd>"), "{stats}");
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

    // A change by another process (here `forget` on the command line) shows at once too.
    assert!(s.page("/people").contains("fred@fredsbooks.example"));
    d.ok(&["forget", "fred@fredsbooks.example"]);
    assert!(!s.page("/people").contains("fred@fredsbooks.example"));
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

#[test]
fn the_demo_ends_with_the_serve_command_that_opens_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_referrald"))
        .arg("demo")
        .arg(&demo)
        .output()
        .unwrap();
    assert!(out.status.success());
    let story = String::from_utf8(out.stdout).unwrap();
    let cfg = demo.join("referrald.toml");
    let line = format!("referrald --config {} serve", cfg.display());
    assert!(story.contains(&line), "{story}");
    assert!(story.contains("http://127.0.0.1:8025/"), "{story}");

    // The same command (on a free port rather than 8025) shows the demo's three referrals.
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_referrald"));
    serve.arg("--config").arg(&cfg);
    serve.args(["serve", "--listen", "127.0.0.1:0"]);
    let s = Server::spawn(serve);
    let list = s.page("/");
    for id in 1..=3 {
        assert!(
            list.contains(&format!("href=\"/referrals/{id}\"")),
            "{list}"
        );
    }
    assert!(s.page("/referrals/1").contains("<b>recorded</b>"));
    assert!(s.page("/stats").contains("<svg"));
}

/// The stats page counts without reading every referral (the ledger the store keeps, and the
/// answers): its figures must be the ones `stats --json` prints from `report::build`.
#[test]
fn the_stats_page_shows_the_figures_stats_prints() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    // Business recorded, so that every kind of figure is there to compare.
    let won = s.page("/referrals/2/confirm?action=won");
    let r = s.post(
        "/referrals/2/won",
        &format!("csrf={}&amount=12k&currency=EUR", csrf(&won)),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    for (since, page) in [("", "/stats"), ("2026-11-01", "/stats?since=2026-11-01")] {
        let mut args = vec!["--now", LATER, "stats", "--json"];
        if !since.is_empty() {
            args.extend(["--since", since]);
        }
        let json: serde_json::Value = serde_json::from_str(&d.ok(&args)).unwrap();
        let stats = s.page(page);
        let figure = |name: &str, value: &serde_json::Value| {
            let shown = format!("<dt>{name}</dt><dd>{value}</dd>");
            assert!(stats.contains(&shown), "{shown} in {stats}");
        };
        assert!(json["referrals"].as_u64().unwrap() >= 2, "{json}");
        figure("Referrals", &json["referrals"]);
        let by_status = json["by_status"].as_object().unwrap();
        assert_eq!(by_status["succeeded"], 1, "{json}");
        for (status, n) in by_status {
            figure(status, n);
        }
        figure("You made", &json["you_made"]);
        figure("You received", &json["you_received"]);
        let ratings = json["ratings"].as_u64().unwrap();
        assert!(
            stats.contains(&format!("({ratings} rating")),
            "{ratings} ratings in {stats}"
        );
        assert_eq!(json["closed_business"][0]["currency"], "EUR", "{json}");
        assert!(stats.contains("12,000 EUR"), "{stats}");
    }
    // And the ledger page lists the people `stats` does, in its order.
    let json: serde_json::Value =
        serde_json::from_str(&d.ok(&["--now", LATER, "stats", "--json"])).unwrap();
    let people = s.page("/people");
    let mut at = 0;
    for partner in json["partners"].as_array().unwrap() {
        let email = partner["email"].as_str().unwrap().replace('@', "%40");
        let found = people[at..]
            .find(&email)
            .unwrap_or_else(|| panic!("{email} after byte {at} in {people}"));
        at += found;
    }
}

/// Recording mail indexes nothing: the page brings the search's index (in the background,
/// after a search) and the ledger (before the people pages read it) up to date itself.
#[test]
fn the_pages_bring_the_search_index_and_the_ledger_up_to_date() {
    use referrald::store::Store;
    let d = seeded("");
    let path = referrald::config::Config::load(&d.path("referrald.toml"))
        .unwrap()
        .store_path();
    let store = || Store::open_read_only(&path).unwrap();
    assert_eq!(store().unindexed().unwrap(), 2, "ingest indexed nothing");
    assert_eq!(store().ledger_uncounted().unwrap(), 2, "nor counted");
    let s = Server::start(&d, "127.0.0.1:0");

    // Scanned the first time, found through the index once it has caught up.
    let before = s.page("/?q=meet+Sally");
    assert!(before.contains("/referrals/1") && !before.contains("/referrals/2\""));
    let mut waited = 0;
    while store().unindexed().unwrap() > 0 {
        assert!(waited < 200, "the index never caught up");
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    // Which referrals a list shows, in its order.
    let listed = |page: &str| -> Vec<String> {
        page.split("<td><a href=\"/referrals/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    };
    assert_eq!(listed(&before), ["1"]);
    assert_eq!(s.page("/?q=meet+Sally"), before);
    // Two letters, from the trigrams they begin, whatever their case.
    assert_eq!(listed(&s.page("/?q=ee")), ["2", "1"]);
    assert_eq!(listed(&s.page("/?q=EE")), ["2", "1"]);
    assert_eq!(listed(&s.page("/?q=ly")), ["2", "1"]);
    assert!(listed(&s.page("/?q=zq")).is_empty());

    let people = s.page("/people");
    assert_eq!(store().ledger_uncounted().unwrap(), 0);
    assert!(people.contains("bob%40networkers.example"), "{people}");
    assert!(
        s.page("/people/bob%40networkers.example")
            .contains("Introduced 2 (gave you 0)")
    );
}
