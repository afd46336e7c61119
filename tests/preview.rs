//! `referrald preview ID [KIND]` through the real binary: the mail as it would go out,
//! composed by the sending path, with nothing recorded.

mod support;

use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London

fn deployment() -> Deployment {
    support::config::alice().deploy()
}

const INTRO: &str = "From: Bob Brown <bob@networkers.example>
To: Fred Jones <fred@fredsbooks.example>, Sally Lee <sally@leedesign.example>
Cc: intros@tracker.example.org
Subject: Intro: you two should talk
Date: Mon, 2 Nov 2026 10:00:00 +0000
Message-ID: <preview-cli@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Fred, meet Sally. Sally designs the best shop fronts in town.

Bob
";

/// A deployment holding Bob's introduction of Fred and Sally, recorded at `T`.
fn introduced() -> Deployment {
    let d = deployment();
    let file = d.write("intro.eml", INTRO.replace('\n', "\r\n"));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    d
}

/// The database and its write-ahead log: length and a checksum of each. SQLite opening a
/// WAL database read-only creates an empty log when there is none, which holds nothing.
fn database(d: &Deployment) -> Vec<(&'static str, usize, u64)> {
    use std::hash::{Hash, Hasher};
    ["referrald.db", "referrald.db-wal"]
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(d.path(name)).unwrap_or_default();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (name, bytes.len(), h.finish())
        })
        .collect()
}

// Seeing what would go out must never send or schedule it.
#[test]
fn the_next_message_is_shown_with_its_headers_and_nothing_is_recorded() {
    let d = introduced();
    let outbox_before = d.ok(&["outbox", "--json"]);
    let before = database(&d);
    let out = d.ok(&["--now", T, "preview", "1"]);
    assert!(
        out.starts_with("# thank_you to Bob Brown <bob@networkers.example>, due Mon 2026-11-02 11:00 (scheduled; its Message-ID is made when it falls due)\n"),
        "{out}"
    );
    for header in [
        "From: \"Alice Smith via referrald\" <intros@tracker.example.org>\n",
        "To: \"Bob Brown\" <bob@networkers.example>\n",
        "Subject: Re: Intro: you two should talk\n",
        "In-Reply-To: <preview-cli@mail.networkers.example>\n",
        "X-Referrald-Kind: thank_you\n",
        "Auto-Submitted: auto-generated\n",
    ] {
        assert!(out.contains(header), "{header}: {out}");
    }
    assert!(
        out.contains("\n\nHi Bob,\n\nThank you for connecting Fred and Sally!"),
        "{out}"
    );
    assert!(out.contains("Reply STOP"), "{out}");
    // Not made yet, it has no Message-ID of its own: the preview shows a stand-in on the
    // tracking domain, and the outbox none.
    let outbox: serde_json::Value = serde_json::from_str(&outbox_before).unwrap();
    assert!(outbox[0]["message_id"].is_null(), "{outbox}");
    assert!(
        out.contains("Message-ID: <preview.1.thank_you@tracker.example.org>"),
        "{out}"
    );

    assert_eq!(database(&d), before, "preview changed the database");
    assert_eq!(d.ok(&["outbox", "--json"]), outbox_before);
    assert!(!d.path("outbox").exists(), "preview sent mail");
}

// Once the outbox has made it (when it fell due, before it is handed over), the preview
// shows the Message-ID it goes with.
#[test]
fn a_message_made_is_shown_with_the_message_id_it_goes_with() {
    let d = introduced();
    assert_eq!(
        d.make_due("2026-11-02T11:00:00Z"),
        1,
        "the thank-you, made when due"
    );
    let outbox = d.json(&["outbox", "--json"]);
    let id = outbox[0]["message_id"].as_str().unwrap();
    let out = d.ok(&["--now", "2026-11-02T11:00:00Z", "preview", "1"]);
    assert!(
        out.starts_with("# thank_you to Bob Brown <bob@networkers.example>, due Mon 2026-11-02 11:00 (scheduled)\n"),
        "{out}"
    );
    assert!(out.contains(&format!("Message-ID: <{id}>")), "{out}");
}

#[test]
fn a_kind_is_shown_for_each_recipient_dated_when_it_would_go() {
    let d = introduced();
    let before = database(&d);
    let out = d.ok(&["--now", T, "preview", "1", "follow_up"]);
    assert!(
        out.contains("# follow_up to Fred Jones <fred@fredsbooks.example>, due Wed 2026-11-04 10:00 (scheduled; its Message-ID is made when it falls due)"),
        "{out}"
    );
    assert!(
        out.contains("# follow_up to Sally Lee <sally@leedesign.example>"),
        "{out}"
    );
    assert!(
        out.contains("To: \"Fred Jones\" <fred@fredsbooks.example>"),
        "{out}"
    );
    assert!(
        out.contains("Date: Wed, 04 Nov 2026 10:00:00 +0000"),
        "{out}"
    );
    assert!(
        out.contains("Hi Fred,\n\nI'm Alice Smith — Bob copied me on the introduction"),
        "{out}"
    );
    assert!(
        out.contains("\n\nBob introduced you and Sally on Monday"),
        "{out}"
    );
    assert!(out.contains("Hi Sally,"), "{out}");
    // Later kinds are dated, and worded, as they would go.
    let out = d.ok(&["--now", T, "preview", "1", "feedback_request"]);
    assert!(
        // Only each person's next message is scheduled: the request is planned once the
        // follow-up has gone.
        out.contains("# feedback_request to Fred Jones <fred@fredsbooks.example>, due Mon 2026-11-16 10:00 (not scheduled yet"),
        "{out}"
    );
    assert!(
        out.contains("Date: Mon, 16 Nov 2026 10:00:00 +0000"),
        "{out}"
    );
    assert_eq!(database(&d), before, "preview changed the database");
}

#[test]
fn a_kind_with_no_recipient_says_why() {
    let d = introduced();
    let out = d.ok(&["--now", T, "preview", "1", "owner_nudge"]);
    assert!(
        out.starts_with("No owner_nudge would go out for referral #1:\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "not to Fred Jones <fred@fredsbooks.example>: only the owner, as a party, is nudged"
        ),
        "{out}"
    );
    let out = d.ok(&["--now", T, "preview", "1", "outcome_report"]);
    assert!(out.contains("no feedback to report"), "{out}");
}

#[test]
fn with_nothing_scheduled_the_default_says_so() {
    let d = introduced();
    // Long after the plan has run its course, nothing is left to send.
    for day in [
        "2026-11-02T10:00:00Z",
        "2026-11-04T10:00:00Z",
        "2026-11-16T10:00:00Z",
        "2026-11-23T10:00:00Z",
        "2026-12-01T10:00:00Z",
    ] {
        d.ok(&["--now", day, "tick"]);
    }
    let out = d.ok(&["--now", "2026-12-02T10:00:00Z", "preview", "1"]);
    assert!(
        out.starts_with("Nothing is scheduled for referral #1."),
        "{out}"
    );
}

#[test]
fn unknown_referrals_and_kinds_are_clear_errors() {
    let d = introduced();
    let out = d.run(&["preview", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "referrald: there is no referral #9"
    );
    let out = d.run(&["preview", "1", "follow-up-please"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the kinds are thank_you, owner_nudge, follow_up"),
        "{err}"
    );
    assert_eq!(d.run(&["preview", "one"]).status.code(), Some(2));
    // Without a database there is no referral either, and none is created.
    let empty = deployment();
    assert_eq!(empty.run(&["preview", "1"]).status.code(), Some(1));
    assert!(!empty.path("referrald.db").exists());
}
