//! Notices: mail to the owner that is no part of a referral's plan — today the one answer to
//! each command by email, later a weekly digest or any other note to the owner. Each kind is
//! one template (`templates/<kind>.txt`, overridable from `templates.dir` like the others)
//! rendered from the facts the store queued as JSON; the composer adds the owner's name, the
//! tracking address and the reply subject. A new kind is a constant, a row of [`BUILT_IN`]
//! and its sample facts: the queue, the outbox and the threading stay as they are.

use serde_json::{Value, json};

use crate::model::Person;

/// The answer to the owner's command by email.
pub const NOTICE_COMMAND_REPLY: &str = "command_reply";

/// The owner is told that a report with bad news is held for her decision.
pub const NOTICE_HELD_REPORT: &str = "held_report";
/// The weekly digest to the owner.
pub const NOTICE_DIGEST: &str = "digest";

/// The built-in template of each notice kind.
pub(super) const BUILT_IN: &[(&str, &str)] = &[
    (
        NOTICE_COMMAND_REPLY,
        include_str!("../../templates/command_reply.txt"),
    ),
    (
        NOTICE_HELD_REPORT,
        include_str!("../../templates/held_report.txt"),
    ),
    (NOTICE_DIGEST, include_str!("../../templates/digest.txt")),
];

/// The built-in HTML alternative of the notice kinds that have one.
pub(super) const BUILT_IN_HTML: &[(&str, &str)] =
    &[(NOTICE_DIGEST, include_str!("../../templates/digest.html"))];

/// The notice kind named `word`, if there is one.
pub fn notice_kind(word: &str) -> Option<&'static str> {
    BUILT_IN.iter().map(|(k, _)| *k).find(|k| *k == word)
}

/// One notice to compose.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Which template: [`NOTICE_COMMAND_REPLY`] or [`NOTICE_HELD_REPORT`].
    pub kind: &'static str,
    /// Our Message-ID for it, without angle brackets.
    pub message_id: String,
    /// The owner, by the address the answer goes to.
    pub to: Person,
    /// The subject of the mail it answers ("" when none): the answer's is "Re: " it.
    pub subject: String,
    /// The mail it answers and its References, oldest first, ending with the one it answers.
    pub references: Vec<String>,
    /// What the template says, as the store decided it.
    pub facts: Value,
}

/// Facts to render each kind's template against at startup, so a broken override stops the
/// daemon rather than an answer.
pub(super) fn samples(kind: &str) -> Vec<Value> {
    if kind == NOTICE_HELD_REPORT {
        return held_samples();
    }
    if kind == NOTICE_DIGEST {
        return digest_samples();
    }
    if kind != NOTICE_COMMAND_REPLY {
        return Vec::new();
    }
    let referral = json!({
        "id": 12,
        "subject": "Fred, meet Sally",
        "status": "open",
        "introducer": "Bob Jones",
        "parties": ["Fred Brown", "Sally Green"],
        "paused": "until Mon 14 Dec 2026, 10:00",
        "waiting": [{"kind": "follow up", "to": "Fred Brown", "due": "Mon 7 Dec 2026, 09:00"}],
    });
    let base = |answer: &str| {
        // What each answer always has: an unchanged one its reason, a note its text.
        let why = (answer == "unchanged").then_some("#12 is not paused");
        json!({
            "answer": answer,
            "command": answer,
            "why": why,
            "until": Value::Null,
            "amount": Value::Null,
            "note": (answer == "noted").then_some("Called Fred"),
            "referrals": Value::Null,
            "more": false,
            "referral": referral.clone(),
            "help": crate::intake::commands::help_lines(),
        })
    };
    let mut all: Vec<Value> = [
        "status",
        "cancelled",
        "paused",
        "resumed",
        "won",
        "lost",
        "noted",
        "unchanged",
        "help",
    ]
    .iter()
    .map(|a| base(a))
    .collect();
    let mut list = base("status");
    list["referral"] = Value::Null;
    list["referrals"] = json!([referral.clone()]);
    list["more"] = json!(true);
    all.push(list);
    let mut empty = base("status");
    empty["referral"] = Value::Null;
    empty["referrals"] = json!([]);
    all.push(empty);
    let mut filled = base("won");
    filled["amount"] = json!("12,000 EUR");
    filled["until"] = json!("Mon 14 Dec 2026, 10:00");
    filled["note"] = json!("Called Fred");
    filled["why"] = json!("there is no referral #99");
    all.push(filled.clone());
    filled["answer"] = json!("help");
    filled["referral"] = Value::Null;
    all.push(filled.clone());
    for answer in ["released", "skipped"] {
        let mut held = base(answer);
        held["held"] = json!({"id": 6, "kind": "outcome report", "to": "Bob Jones"});
        all.push(held);
    }
    for answer in ["paused", "noted", "unchanged"] {
        filled["answer"] = json!(answer);
        filled["referral"] = referral.clone();
        all.push(filled.clone());
    }
    all
}

/// Facts of a held-report notice: the referral, the held message and why it is held.
fn held_samples() -> Vec<Value> {
    let held = |why: Option<&str>| {
        json!({
            "referral": {
                "id": 12,
                "subject": "Fred, meet Sally",
                "introducer": "Bob Jones",
                "parties": ["Fred Brown", "Sally Green"],
            },
            "held": {
                "id": 6,
                "kind": "outcome report",
                "to": "Bob Jones",
                "why": why,
            },
        })
    };
    vec![held(Some("an answer rates it 1/5")), held(None)]
}

/// A full digest and a sparse one (the lists may be empty, the owner owes nobody).
fn digest_samples() -> Vec<Value> {
    let line = |what: &str| json!({"id": 12, "introducer": "Bob Jones", "parties": ["you", "Sally Green"], "what": what});
    let full = json!({
        "week": "2026-12-07",
        "since": "Mon 30 Nov",
        "needs_you": [line("mail to Sally Green bounced")],
        "outcomes": [line("Sally Green did business, worth 12,000 EUR")],
        "business": ["12,000 EUR", "1,200"],
        "connected": [line("Sally Green reported meeting")],
        "new": [line("")],
        "you_owe": [{"name": "Bob Jones", "gave_you": 2}],
    });
    let mut sparse = full.clone();
    for key in ["needs_you", "outcomes", "business", "connected", "you_owe"] {
        sparse[key] = json!([]);
    }
    vec![full, sparse]
}
