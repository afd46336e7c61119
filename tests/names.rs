//! Names people would use, and people copied to help: through the real binary, a real
//! SQLite file and the file transport.

mod support;

use mail_parser::MessageParser;
use serde_json::Value;
use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London
const LATER: &str = "2026-11-25T10:00:00Z"; // past every step of the plan

fn deployment() -> Deployment {
    support::config::alice().deploy()
}

/// The introduction: bare addresses, a greeting, "X is a partner at …", and an
/// assistant copied to find a time.
const INTRO: &str = "From: Bob Brown <bob@networkers.example>
To: raj@patelbakery.example, ogrant@grantlaw.example
Cc: megan@networkers.example, intros@tracker.example.org
Subject: Raj <> Olivia
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <names-cli@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hi Raj, hi Olivia,

I'd love for you two to meet. Olivia Grant is a partner at Grant Law and has helped
half the bakeries in town with their leases.

I'm cc'ing Megan, my assistant, to find a time.

Best,
Bob
";

/// (kind, recipient, body) of every message in the file outbox.
fn sent(d: &Deployment) -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir(d.path("outbox")) else {
        return Vec::new();
    };
    entries
        .map(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&bytes).unwrap();
            let kind = m.header_raw("X-Referrald-Kind").unwrap().trim().to_string();
            let to = m.to().unwrap().first().unwrap();
            (
                kind,
                to.address().unwrap().to_string(),
                m.body_text(0).unwrap().to_string(),
            )
        })
        .collect()
}

// "ogrant@" was greeted "Hi Ogrant", and the assistant copied to find a time got follow-ups.
#[test]
fn the_body_names_bare_addresses_and_the_assistant_gets_nothing() {
    let d = deployment();
    let file = d.write("intro.eml", INTRO.replace('\n', "\r\n"));
    let out = d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    assert!(out.contains("introduction"), "{out}");

    let show: Value = d.json(&["show", "1", "--json"]);
    let parties: Vec<(&str, &str)> = show["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["email"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        parties,
        [
            ("raj@patelbakery.example", "Raj"),
            ("ogrant@grantlaw.example", "Olivia Grant")
        ]
    );
    assert_eq!(
        show["copied"],
        serde_json::json!([{"email": "megan@networkers.example", "name": "Megan"}])
    );
    let human = d.ok(&["show", "1"]);
    assert!(
        human.contains("copied:     Megan <megan@networkers.example>"),
        "{human}"
    );

    // Every message of the plan, sent: none to Megan, and Olivia is greeted by her name.
    let mut now = chrono::DateTime::parse_from_rfc3339(T).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(LATER).unwrap();
    while now <= end {
        d.ok(&["--now", &now.to_rfc3339(), "tick"]);
        now += chrono::TimeDelta::days(1);
    }
    let mail = sent(&d);
    assert!(mail.iter().any(|(k, _, _)| k == "follow_up"), "{mail:?}");
    assert!(
        mail.iter()
            .all(|(_, to, _)| to != "megan@networkers.example"),
        "{mail:?}"
    );
    for (kind, to, body) in &mail {
        match to.as_str() {
            "ogrant@grantlaw.example" => assert!(body.starts_with("Hi Olivia,"), "{kind}: {body}"),
            "raj@patelbakery.example" => assert!(body.starts_with("Hi Raj,"), "{kind}: {body}"),
            _ => {}
        }
        assert!(!body.contains("Ogrant"), "{kind} to {to}: {body}");
        assert!(!body.contains("Megan"), "{kind} to {to}: {body}");
    }
    let outbox: Value = d.json(&["outbox", "--json"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["to"] != "megan@networkers.example"),
        "{outbox}"
    );
}

// A made-up "Hi Ogrant," reads as nonsense: with no name to be had, the greeting has none.
#[test]
fn without_a_name_in_the_body_the_greeting_has_none() {
    let d = deployment();
    let intro = INTRO
        .replace("Hi Raj, hi Olivia,", "Hi both,")
        .replace(
            "Olivia Grant is a partner at Grant Law",
            "She is a partner at a law firm",
        )
        .replace("I'm cc'ing Megan, my assistant, to find a time.\n", "");
    let file = d.write("intro.eml", intro.replace('\n', "\r\n"));
    d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    let show: Value = d.json(&["show", "1", "--json"]);
    let names: Vec<&str> = show["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // Megan is a party here: nothing says she is only helping.
    assert_eq!(names, ["", "", ""]);
    assert_eq!(show["copied"], serde_json::json!([]));
    d.ok(&["--now", "2026-11-04T10:00:00Z", "tick"]);
    let mail = sent(&d);
    let follow_up = mail
        .iter()
        .find(|(k, to, _)| k == "follow_up" && to == "ogrant@grantlaw.example")
        .unwrap_or_else(|| panic!("{mail:?}"));
    assert!(follow_up.2.starts_with("Hello,"), "{}", follow_up.2);
    assert!(
        follow_up.2.contains("raj@patelbakery.example"),
        "{}",
        follow_up.2
    );
    let thanks = mail.iter().find(|(k, _, _)| k == "thank_you").unwrap();
    assert!(thanks.2.contains("raj@patelbakery.example"), "{}", thanks.2);
}

// An introduction to one person and their assistant is no introduction at all.
#[test]
fn one_party_and_a_helper_are_too_few_parties() {
    let d = deployment();
    let intro = INTRO.replace(
        "To: raj@patelbakery.example, ogrant@grantlaw.example",
        "To: raj@patelbakery.example",
    );
    let file = d.write("intro.eml", intro.replace('\n', "\r\n"));
    let out = d.ok(&["--now", T, "ingest", file.to_str().unwrap()]);
    assert!(out.contains("fewer than two parties"), "{out}");
}
