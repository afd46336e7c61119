//! The web page in a real browser: Debian's headless Chromium (.ci/install-browser) opens
//! the pages `referrald serve` draws from a seeded store, and the test reads the DOM the
//! browser built (after its parser, CSS and any script had their go) and keeps screenshots
//! under target/web-screenshots/.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::web::{Server, seeded};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Where the screenshots go: target/web-screenshots/.
fn screenshots() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_referrald"));
    // target/debug/referrald → target/
    let dir = binary.ancestors().nth(2).unwrap().join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `url` with `args`; returns its standard output.
fn chromium(profile: &Path, url: &str, args: &[&str]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run .ci/install-browser (scripts/test does)"
    );
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            // Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1200,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium {url}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_pages_render_in_chromium_with_hostile_mail_as_inert_text() {
    let d = seeded("");
    let s = Server::start(&d, "127.0.0.1:0");
    let profile = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{}", s.port);
    let dom = |path: &str| chromium(profile.path(), &format!("{base}{path}"), &["--dump-dom"]);

    let list = dom("/");
    assert!(list.contains("Intro: Fred, meet Sally"), "{list}");
    assert!(list.contains("Bob Brown"));

    // The hostile subject and name: the browser built text nodes, never elements. Had a
    // script run, or an <img> been made, the DOM would show it.
    let hostile = dom("/referrals/2");
    assert!(
        hostile.contains("&lt;script&gt;alert('subject')&lt;/script&gt;"),
        "{hostile}"
    );
    assert!(hostile.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!hostile.contains("<script") && !hostile.contains("<img"));
    assert!(!hostile.contains("<b>Mallory"));
    // The right-to-left override shows as a replacement character and reorders nothing.
    assert!(hostile.contains("\u{fffd}txt.exe") && !hostile.contains('\u{202e}'));

    let story = dom("/referrals/1");
    assert!(story.contains("We met on Friday, it went great"), "{story}");
    assert!(story.contains("&lt;script&gt;alert('fred')"));
    // The mail sent, with its text: the feedback request Fred answered.
    assert!(
        story.contains("<h2>Sent</h2>") && story.contains("Hi Fred,"),
        "{story}"
    );

    let stats = dom("/stats");
    assert!(
        stats.contains("<svg") && stats.contains("2026-11: 1 open"),
        "{stats}"
    );
    // The other charts, drawn as SVG elements the browser made.
    assert!(stats.contains("<title>2026-11: 1 of 2 connected (50%)</title></circle>"));
    assert!(
        stats.contains("<title>5 of 5: 1 rating</title></rect>"),
        "{stats}"
    );

    // The confirmation page a click on "cancel" opens: a POST form, nothing changed yet.
    let confirm = dom("/referrals/1/confirm?action=cancel");
    assert!(confirm.contains("method=\"post\"") && confirm.contains("Cancel #1?"));
    assert_ne!(support::web::status_of(&d, 1), "cancelled");

    let dir = screenshots();
    // The page's height: the referral's sent mail and the stats' charts run long (the last
    // --window-size given wins).
    for (name, path, height) in [
        ("referrals", "/", 900),
        ("referral", "/referrals/1", 2000),
        ("hostile", "/referrals/2", 900),
        ("people", "/people", 900),
        ("stats", "/stats", 1900),
    ] {
        let file = dir.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        chromium(
            profile.path(),
            &format!("{base}{path}"),
            &[
                &format!("--window-size=1200,{height}"),
                &format!("--screenshot={}", file.display()),
            ],
        );
        let png = std::fs::read(&file).unwrap();
        assert_eq!(png[..8], *b"\x89PNG\r\n\x1a\n", "{name}");
        assert!(
            png.len() > 10_000,
            "{name}: {} bytes, a blank page?",
            png.len()
        );
    }
}
