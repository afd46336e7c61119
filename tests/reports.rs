//! `stats`, `export` and `forget` end to end: the real binary, a real SQLite file and the file
//! transport, on a scripted clock. Three introductions — two from Bob (one of them to the
//! owner, Alice), one from Alice — then answers from the people introduced.

mod support;

use support::csv::read_csv;

use serde_json::{Value, json};

const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";
const CAROL: &str = "carol@kingconsulting.example";
const DAN: &str = "dan@dansdesk.example";
const ALICE: &str = "alice@brightside.example";

/// Alice's file-transport deployment, numbering the messages it ingests.
struct Deployment {
    inner: support::deployment::Deployment,
    messages: usize,
}

impl std::ops::Deref for Deployment {
    type Target = support::deployment::Deployment;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Deployment {
    fn new() -> Deployment {
        let inner = support::config::alice().deploy();
        Deployment { inner, messages: 0 }
    }

    /// Ingests one message (written with CRLF line ends) at `now`; returns what ingest said.
    fn ingest(&mut self, now: &str, message: &str) -> String {
        self.messages += 1;
        let name = format!("{}.eml", self.messages);
        let path = self.write(&name, message.replace('\n', "\r\n"));
        self.ok(&["--now", now, "ingest", path.to_str().unwrap()])
    }

    /// The Message-ID of our `kind` message to `to` about referral `id`.
    fn our_message_id(&self, id: u64, kind: &str, to: &str) -> String {
        let shown = self.json(&["show", &id.to_string(), "--json"]);
        shown["outbound"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["to"] == to)
            .unwrap_or_else(|| panic!("no {kind} to {to} in #{id}: {shown}"))["message_id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn intro(id: &str, from: &str, to: &[&str], subject: &str) -> String {
    format!(
        "From: {from}
To: {}
Cc: intros@tracker.example.org
Subject: {subject}
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <{id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

You two should talk.
",
        to.join(", ")
    )
}

fn reply(id: &str, from: &str, in_reply_to: &str, body: &str) -> String {
    format!(
        "From: {from}
To: Alice Smith <intros@tracker.example.org>
Subject: Re: your introduction
Message-ID: <{id}>
In-Reply-To: <{in_reply_to}>
References: <{in_reply_to}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{body}
"
    )
}

/// #1 Bob introduces Fred and Sally; they do a $2,500 deal, both say so. #2 Bob introduces
/// Carol to Alice; Carol says they met. #3, a day later, Alice introduces Bob and Dan.
fn world() -> Deployment {
    let mut d = Deployment::new();
    let t0 = "2026-11-02T10:00:00Z";
    d.ingest(
        t0,
        &intro(
            "one@networkers.example",
            "Bob Brown <bob@networkers.example>",
            &[
                "Fred Jones <fred@fredsbooks.example>",
                "Sally Lee <sally@leedesign.example>",
            ],
            "Intro: Fred, meet Sally",
        ),
    );
    d.ingest(
        t0,
        &intro(
            "two@networkers.example",
            "Bob Brown <bob@networkers.example>",
            &[
                "Alice Smith <alice@brightside.example>",
                "Carol King <carol@kingconsulting.example>",
            ],
            "Carol, meet Alice",
        ),
    );
    d.ingest(
        "2026-11-03T10:00:00Z",
        &intro(
            "three@brightside.example",
            "Alice Smith <alice@brightside.example>",
            &[
                "Bob Brown <bob@networkers.example>",
                "Dan Dee <dan@dansdesk.example>",
            ],
            "Bob <> Dan",
        ),
    );
    d.ok(&["--now", "2026-11-04T10:00:00Z", "tick"]);
    let later = "2026-11-05T10:00:00Z";
    let to_sally = d.our_message_id(1, "follow_up", SALLY);
    let said = d.ingest(
        later,
        &reply(
            "s1@leedesign.example",
            "Sally Lee <sally@leedesign.example>",
            &to_sally,
            "Yes! We met and we signed a $2,500 contract. 5/5, thank you.",
        ),
    );
    assert!(said.contains("feedback"), "{said}");
    let to_fred = d.our_message_id(1, "follow_up", FRED);
    d.ingest(
        later,
        &reply(
            "f1@fredsbooks.example",
            "Fred Jones <fred@fredsbooks.example>",
            &to_fred,
            "We did business: a $2,500 contract. I'd give it 4 out of 5.",
        ),
    );
    let to_carol = d.our_message_id(2, "follow_up", CAROL);
    d.ingest(
        later,
        &reply(
            "c1@kingconsulting.example",
            "Carol King <carol@kingconsulting.example>",
            &to_carol,
            "We met for coffee with Alice, it was fine. 3/5.",
        ),
    );
    d
}

#[test]
fn stats_reports_rates_ratings_business_and_the_ledger() {
    let d = world();
    let s = d.json(&["stats", "--json"]);
    assert_eq!(s["since"], Value::Null);
    assert_eq!(s["referrals"], 3);
    assert_eq!(
        s["by_status"],
        json!({"open": 1, "connected": 1, "succeeded": 1, "unsuccessful": 0, "stalled": 0, "cancelled": 0})
    );
    assert_eq!(s["connected"], 2);
    assert_eq!(s["connection_rate"], 2.0 / 3.0);
    assert_eq!(s["succeeded"], 1);
    assert_eq!(s["success_rate"], 1.0 / 3.0);
    assert_eq!(s["ratings"], 3);
    assert_eq!(s["average_rating"], 4.0);
    // Fred and Sally both reported the one deal.
    assert_eq!(
        s["closed_business"],
        json!([{"currency": "USD", "value": 2500.0}])
    );
    assert_eq!(
        (s["you_made"].as_u64(), s["you_received"].as_u64()),
        (Some(1), Some(1))
    );
    let partners = s["partners"].as_array().unwrap();
    let order: Vec<&str> = partners
        .iter()
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    assert_eq!(order, [BOB, DAN, CAROL, FRED, SALLY]);
    assert_eq!(
        partners[0],
        json!({
            "email": BOB, "name": "Bob Brown", "introduced": 2, "gave_you": 1, "you_gave": 1,
            "was_introduced": 1, "succeeded": 1, "success_rate": 0.5, "ratings": 3,
            "average_rating": 4.0, "value": [{"currency": "USD", "value": 2500.0}]
        })
    );
    assert_eq!(partners[1]["success_rate"], Value::Null);
    assert_eq!(partners[1]["average_rating"], Value::Null);

    let human = d.ok(&["stats"]);
    for expected in [
        "Referrals:  3",
        "connection rate:  67% (2 of 3)",
        "success rate:     33% (1 of 3)",
        "average rating:   4.0 (3 ratings)",
        "closed business:  2,500 USD",
        "you made 1, you received 1",
    ] {
        assert!(human.contains(expected), "{expected:?} in\n{human}");
    }
    let table: Vec<&str> = human
        .lines()
        .skip_while(|l| !l.starts_with("PARTNER"))
        .collect();
    assert_eq!(table.len(), 6, "{human}");
    assert!(table[1].starts_with("Bob Brown <bob@networkers.example>"));
    assert!(table[1].contains("50%") && table[1].ends_with("2,500 USD"));
    // Columns line up: every row is as wide up to the VALUE column.
    let value_at = table[0].find("VALUE").unwrap();
    for row in &table[1..] {
        let before: String = row.chars().take(value_at).collect();
        assert!(before.ends_with("  "), "{row:?}");
    }
}

#[test]
fn stats_since_a_day_or_an_instant() {
    let d = world();
    // From Tuesday, in London: only Alice's introduction.
    let s = d.json(&["stats", "--since", "2026-11-03", "--json"]);
    assert_eq!(s["since"], "2026-11-03T00:00:00Z");
    assert_eq!(s["referrals"], 1);
    assert_eq!(s["you_made"], 1);
    assert_eq!(s["connection_rate"], 0.0);
    assert_eq!(s["average_rating"], Value::Null);
    let s = d.json(&["stats", "--since", "2026-11-02T10:00:00+00:00", "--json"]);
    assert_eq!(s["referrals"], 3);
    let s = d.json(&["stats", "--since", "2026-11-02T10:00:01Z", "--json"]);
    assert_eq!(s["referrals"], 1);
    // Nothing in the period is not an error, and its rates are "—".
    let s = d.json(&["stats", "--since", "2027-01-01", "--json"]);
    assert_eq!(s["referrals"], 0);
    assert_eq!(s["connection_rate"], Value::Null);
    assert_eq!(s["partners"], json!([]));
    let human = d.ok(&["stats", "--since", "2027-01-01"]);
    assert_eq!(human.trim(), "No referrals since Fri 2027-01-01 00:00.");
}

#[test]
fn export_writes_every_referral_as_json_or_csv() {
    let d = world();
    let all = d.json(&["export"]);
    let shown: Vec<Value> = (1..=3)
        .map(|id| d.json(&["show", &id.to_string(), "--json"]))
        .collect();
    assert_eq!(all, Value::Array(shown));
    assert_eq!(d.json(&["export", "--format", "json"]), all);

    let csv = d.ok(&["export", "--format", "csv"]);
    let rows = read_csv(&csv);
    assert_eq!(
        rows[0],
        [
            "id",
            "status",
            "created_at",
            "subject",
            "introducer_email",
            "introducer_name",
            "parties",
            "party_states",
            "rating",
            "outcomes",
            "value",
            "currency",
            "answers"
        ]
    );
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[1],
        [
            "1",
            "succeeded",
            "2026-11-02T10:00:00Z",
            "Intro: Fred, meet Sally",
            BOB,
            "Bob Brown",
            "Fred Jones <fred@fredsbooks.example>; Sally Lee <sally@leedesign.example>",
            "responded; responded",
            "4.5",
            "Sally Lee: won; Fred Jones: won",
            "2500",
            "USD",
            "2"
        ]
    );
    // The subject has a comma, so it is quoted on the wire.
    assert!(csv.contains(",\"Intro: Fred, meet Sally\","), "{csv}");
    assert_eq!(rows[3][0], "3");
    assert_eq!(rows[3][4], ALICE);
}

#[test]
fn forget_erases_a_person_and_keeps_them_from_being_emailed_again() {
    let mut d = world();
    let out = d.ok(&[
        "--now",
        "2026-11-06T10:00:00Z",
        "forget",
        "Sally@LeeDesign.example",
    ]);
    assert!(out.starts_with("Forgot sally@leedesign.example"), "{out}");
    assert!(out.contains("referrals they took part in:     1"), "{out}");
    assert!(out.contains("their comments blanked:          1"), "{out}");

    // Nothing about her is left in what referrald shows or exports…
    for args in [
        &["export"][..],
        &["export", "--format", "csv"],
        &["outbox", "--json"],
        &["referrals", "--json"],
        &["stats", "--json"],
    ] {
        let text = d.ok(args).to_lowercase();
        assert!(
            !text.contains(SALLY) && !text.contains("sally lee"),
            "{args:?}: {text}"
        );
    }
    // …nor in the database file.
    for file in ["referrald.db", "referrald.db-wal"] {
        let bytes = std::fs::read(d.path(file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(SALLY.len())
                .any(|w| w.eq_ignore_ascii_case(SALLY.as_bytes())),
            "{file}"
        );
    }
    // What the referral was still counts.
    let s = d.json(&["stats", "--json"]);
    assert_eq!(
        s["closed_business"],
        json!([{"currency": "USD", "value": 2500.0}])
    );
    assert_eq!(s["ratings"], 3);
    let one = d.json(&["show", "1", "--json"]);
    assert_eq!(one["parties"][1]["name"], "(forgotten)");
    assert_eq!(one["parties"][1]["state"], "opted_out");
    // Full names and the address go; a first name alone stays (the README says so).
    assert_eq!(one["subject"], "Intro: Fred, meet Sally");
    let story = one["events"].to_string();
    assert!(
        story.contains("introduced Fred Jones and (forgotten)"),
        "{story}"
    );
    assert!(
        one["outbound"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["to"].as_str().unwrap().starts_with("forgotten-"))
            .all(|o| o["state"] != "scheduled")
    );

    // Introduced again, she is no party: the others are introduced, nothing is planned for
    // her, and her address is not written down again.
    d.ingest(
        "2026-11-09T10:00:00Z",
        &intro(
            "four@networkers.example",
            "Bob Brown <bob@networkers.example>",
            &[
                "Sally Lee <sally@leedesign.example>",
                "Dan Dee <dan@dansdesk.example>",
                "Eve Ng <eve@evesplace.example>",
            ],
            "Sally, Dan and Eve",
        ),
    );
    let four = d.json(&["show", "4", "--json"]);
    assert_eq!(four["parties"][0]["email"], "dan@dansdesk.example");
    assert_eq!(four["parties"].as_array().unwrap().len(), 2, "{four}");
    assert!(
        four["outbound"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["to"] != SALLY),
        "{four}"
    );

    // Someone referrald never heard of: said so, and not a failure.
    let out = d.ok(&["forget", "nobody@nowhere.example"]);
    assert_eq!(
        out.trim(),
        "referrald knows nothing about nobody@nowhere.example: nothing to forget."
    );
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let d = world();
    for args in [
        &["stats", "--since", "yesterday"][..],
        &["stats", "--since", "2026-02-30"],
        &["export", "--format", "xml"],
        &["forget", "not-an-address"],
        &["forget"],
    ] {
        let out = d.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The owner and the tracking address are not people to forget.
    for address in [ALICE, "intros+stop@tracker.example.org"] {
        let out = d.run(&["forget", address]);
        assert_eq!(out.status.code(), Some(2), "{address}");
        let line = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains(address), "{line}");
    }
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        3
    );
}
