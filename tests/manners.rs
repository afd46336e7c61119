//! Mail its recipients would welcome (issue 8, item 8), end to end: the real binary, a real
//! SQLite file and the file transport, on a scripted clock with `--now`. Each test reads the
//! mail as its recipient would.

mod support;

use std::path::PathBuf;

use mail_parser::MessageParser;
use serde_json::Value;
use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London

const ALICE: &str = "alice@brightside.example";
const BOB: &str = "bob@networkers.example";
const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";

fn at(days: i64, hours: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(T).unwrap()
        + chrono::TimeDelta::days(days)
        + chrono::TimeDelta::hours(hours);
    t.to_utc().to_rfc3339()
}

fn minutes(m: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(T).unwrap() + chrono::TimeDelta::minutes(m);
    t.to_utc().to_rfc3339()
}

/// One email referrald wrote: its headers as parsed and its body.
struct Mail {
    to: String,
    kind: String,
    from_name: String,
    reply_to: Vec<String>,
    body: String,
}

trait Scenario {
    /// Ingests a message (LF in the text, CRLF on disk) at `now`.
    fn receive(&self, now: &str, name: &str, text: &str);
    /// `tick --now`.
    fn tick(&self, now: &str);
    /// (kind, to, state) of every outbound message, in outbox order.
    fn outbox(&self) -> Vec<(String, String, String)>;
    /// The state of the `kind` message to `to`, or "none".
    fn state_of(&self, kind: &str, to: &str) -> String;
    /// The Message-ID of the `kind` message to `to`.
    fn message_id(&self, kind: &str, to: &str) -> String;
    /// Every email written to the outbox directory.
    fn mails(&self) -> Vec<Mail>;
    /// The one `kind` email to `to`.
    fn mail(&self, kind: &str, to: &str) -> Mail;
    /// `show 1 --json`.
    fn referral(&self) -> Value;
}

impl Scenario for Deployment {
    fn receive(&self, now: &str, name: &str, text: &str) {
        let path: PathBuf = self.write(name, text.replace('\n', "\r\n"));
        self.ok(&["--now", now, "ingest", path.to_str().unwrap()]);
    }

    fn tick(&self, now: &str) {
        self.ok(&["--now", now, "tick"]);
    }

    fn outbox(&self) -> Vec<(String, String, String)> {
        let rows = self.json(&["outbox", "--json"]);
        rows.as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let s = |k: &str| o[k].as_str().unwrap().to_string();
                (s("kind"), s("to"), s("state"))
            })
            .collect()
    }

    fn state_of(&self, kind: &str, to: &str) -> String {
        self.outbox()
            .into_iter()
            .find(|(k, t, _)| k == kind && t == to)
            .map_or_else(|| "none".into(), |(_, _, s)| s)
    }

    fn message_id(&self, kind: &str, to: &str) -> String {
        let rows = self.json(&["outbox", "--json"]);
        rows.as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["to"] == to)
            .and_then(|o| o["message_id"].as_str())
            .unwrap_or_else(|| panic!("no {kind} to {to}"))
            .trim_matches(['<', '>'])
            .to_string()
    }

    fn mails(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(self.path("outbox")) else {
            return Vec::new();
        };
        dir.map(|e| {
            let raw = std::fs::read(e.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&raw).unwrap();
            Mail {
                to: m.to().unwrap().first().unwrap().address().unwrap().into(),
                kind: m.header_raw("X-Referrald-Kind").unwrap().trim().into(),
                from_name: m.from().unwrap().first().unwrap().name().unwrap().into(),
                reply_to: m
                    .reply_to()
                    .unwrap()
                    .iter()
                    .filter_map(|a| a.address().map(str::to_string))
                    .collect(),
                body: m.body_text(0).unwrap().replace("\r\n", "\n"),
            }
        })
        .collect()
    }

    fn mail(&self, kind: &str, to: &str) -> Mail {
        let mut found: Vec<Mail> = self
            .mails()
            .into_iter()
            .filter(|m| m.kind == kind && m.to == to)
            .collect();
        assert_eq!(found.len(), 1, "{kind} to {to}: {:?}", self.outbox());
        found.remove(0)
    }

    fn referral(&self) -> Value {
        self.json(&["show", "1", "--json"])
    }
}

fn deploy(extra: &str) -> Deployment {
    support::config::alice().with(extra).deploy()
}

/// Bob introduces two people (display names given), copying the tracker.
fn intro(to: &str, body: &str) -> String {
    format!(
        "From: Bob Brown <{BOB}>
To: {to}
Cc: intros@tracker.example.org
Subject: Intro: you two should talk
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <intro-manners@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{body}
"
    )
}

const TO_ALICE_AND_SALLY: &str =
    "Alice Smith <alice@brightside.example>, Sally Lee <sally@leedesign.example>";
const TO_FRED_AND_SALLY: &str =
    "Fred Jones <fred@fredsbooks.example>, Sally Lee <sally@leedesign.example>";

/// A message from `from` on the thread, answering `in_reply_to` (with the introduction
/// first in References), to `to`.
fn reply(id: &str, from: &str, to: &str, in_reply_to: &str, body: &str) -> String {
    format!(
        "From: {from}
To: {to}
Subject: Re: Intro: you two should talk
Date: Mon, 2 Nov 2026 11:00:00 +0000
Message-ID: <{id}>
In-Reply-To: <{in_reply_to}>
References: <intro-manners@mail.networkers.example> <{in_reply_to}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{body}
"
    )
}

fn feedback_count(d: &Deployment) -> usize {
    d.referral()["feedback"].as_array().unwrap().len()
}

// ---------------------------------------------------------------------------------------
// b. The owner sees every human reply, and nothing counts twice.
// ---------------------------------------------------------------------------------------

/// Replies now reach the owner too; her reply-all to a party's answer, and her forward of
/// it to the tracker, must not be read as a second answer.
#[test]
fn the_owners_reply_all_and_forward_of_a_partys_answer_count_once() {
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_ALICE_AND_SALLY, "Alice, meet Sally."),
    );
    d.tick(&at(2, 0));
    assert_eq!(d.state_of("follow_up", SALLY), "sent");
    let follow_up = d.message_id("follow_up", SALLY);
    let mail = d.mail("follow_up", SALLY);
    assert_eq!(mail.reply_to, [ALICE, "intros@tracker.example.org"]);
    assert_eq!(mail.from_name, "Alice Smith via referrald");
    d.receive(
        &at(2, 1),
        "sally.eml",
        &reply(
            "sally-1@leedesign.example",
            "Sally Lee <sally@leedesign.example>",
            "Alice Smith <alice@brightside.example>, intros@tracker.example.org",
            &follow_up,
            "We had a call on Tuesday and it went well, thank you so much for this!",
        ),
    );
    assert_eq!(feedback_count(&d), 1);

    // Alice answers Sally's reply to all (our follow-up further down References).
    let reply_all = format!(
        "From: Alice Smith <{ALICE}>
To: Sally Lee <{SALLY}>
Cc: intros@tracker.example.org
Subject: Re: Intro: you two should talk
Message-ID: <alice-1@brightside.example>
In-Reply-To: <sally-1@leedesign.example>
References: <intro-manners@mail.networkers.example> <{follow_up}> <sally-1@leedesign.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Lovely to talk, Sally. We met and we signed, so glad it worked out!

> We had a call on Tuesday and it went well, thank you so much for this!
"
    );
    d.receive(&at(2, 2), "alice.eml", &reply_all);
    // And forwards it to the tracker, as people do.
    let forward = format!(
        "From: Alice Smith <{ALICE}>
To: intros@tracker.example.org
Subject: Fwd: Re: Intro: you two should talk
Message-ID: <alice-2@brightside.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

FYI

---------- Forwarded message ---------
From: Sally Lee <{SALLY}>
Date: Wed, 4 Nov 2026 at 11:00
Subject: Re: Intro: you two should talk
To: Alice Smith <{ALICE}>, <intros@tracker.example.org>

We had a call on Tuesday and it went well, thank you so much for this!
"
    );
    d.receive(&at(2, 3), "forward.eml", &forward);
    let r = d.referral();
    let feedback = r["feedback"].as_array().unwrap();
    assert_eq!(feedback.len(), 1, "{r:#}");
    assert_eq!(feedback[0]["from"], SALLY);
    assert_eq!(
        d.json(&["referrals", "--json"]).as_array().unwrap().len(),
        1
    );
}

// ---------------------------------------------------------------------------------------
// c. The owner's nudge: a few working hours in, from the tool, without a STOP footer.
// ---------------------------------------------------------------------------------------

#[test]
fn the_owners_nudge_comes_from_the_tool_four_working_hours_in_without_a_stop_footer() {
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_ALICE_AND_SALLY, "Alice, meet Sally."),
    );
    d.tick(&at(0, 3));
    assert_eq!(d.state_of("owner_nudge", ALICE), "scheduled");
    d.tick(&at(0, 4));
    assert_eq!(d.state_of("owner_nudge", ALICE), "sent");
    let nudge = d.mail("owner_nudge", ALICE);
    assert_eq!(nudge.from_name, "referrald");
    assert_eq!(nudge.reply_to, ["intros@tracker.example.org"]);
    assert!(!nudge.body.contains("STOP"), "{}", nudge.body);
    assert!(nudge.body.contains("Sally"), "{}", nudge.body);
}

// ---------------------------------------------------------------------------------------
// d. The thank-you waits, and is not sent when the owner already thanked the introducer.
// ---------------------------------------------------------------------------------------

#[test]
fn the_thank_you_waits_an_hour_and_is_skipped_when_the_owner_thanked_on_the_thread() {
    // Without a word from Alice: the thank-you goes an hour in, not at once.
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_FRED_AND_SALLY, "Fred, meet Sally."),
    );
    d.tick(&minutes(30));
    assert_eq!(d.state_of("thank_you", BOB), "scheduled");
    d.tick(&minutes(60));
    assert_eq!(d.state_of("thank_you", BOB), "sent");

    // Alice, introduced, thanks Bob on the thread (replying to all) within the hour.
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_ALICE_AND_SALLY, "Alice, meet Sally."),
    );
    d.receive(
        &minutes(20),
        "alice.eml",
        &reply(
            "alice-thanks@brightside.example",
            "Alice Smith <alice@brightside.example>",
            "Bob Brown <bob@networkers.example>, Sally Lee <sally@leedesign.example>, intros@tracker.example.org",
            "intro-manners@mail.networkers.example",
            "Thanks so much for the intro, Bob!\n\nSally, lovely to meet you.\n\nBest,\nAlice",
        ),
    );
    d.tick(&minutes(90));
    // Never made: a message is made only when due, and by then the owner had thanked him.
    assert_eq!(d.state_of("thank_you", BOB), "none");
    assert!(d.mails().iter().all(|m| m.kind != "thank_you"));

    // Thanks to Sally alone, not copying Bob, is not thanks to Bob.
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_ALICE_AND_SALLY, "Alice, meet Sally."),
    );
    d.receive(
        &minutes(20),
        "alice.eml",
        &reply(
            "alice-sally@brightside.example",
            "Alice Smith <alice@brightside.example>",
            "Sally Lee <sally@leedesign.example>, intros@tracker.example.org",
            "intro-manners@mail.networkers.example",
            "Thank you for getting in touch, Sally.",
        ),
    );
    d.tick(&minutes(90));
    assert_eq!(d.state_of("thank_you", BOB), "sent");
}

// ---------------------------------------------------------------------------------------
// e. Messages skip what is already known, and say what referrald knows.
// ---------------------------------------------------------------------------------------

#[test]
fn a_reply_on_the_thread_is_mentioned_and_news_of_a_deal_stops_the_questions() {
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_FRED_AND_SALLY, "Fred, meet Sally."),
    );
    // Sally writes on the thread on Tuesday.
    d.receive(
        &at(1, 0),
        "sally.eml",
        &reply(
            "sally-hello@leedesign.example",
            "Sally Lee <sally@leedesign.example>",
            "Fred Jones <fred@fredsbooks.example>, intros@tracker.example.org",
            "intro-manners@mail.networkers.example",
            "Hi Fred, lovely to meet you. Shall we talk this week?",
        ),
    );
    d.tick(&at(2, 0));
    let follow_up = d.mail("follow_up", FRED);
    assert!(
        follow_up
            .body
            .contains("Sally wrote back yesterday — did you two find a time?"),
        "{}",
        follow_up.body
    );
    // Sally, who wrote first, is not asked whether she connected: no follow-up is made
    // (nothing is planned ahead only to be cancelled).
    assert_eq!(d.state_of("follow_up", SALLY), "none");

    // Sally reports the deal in answer to her feedback request: Fred, asked the same day,
    // is never reminded.
    d.tick(&at(14, 0));
    let request = d.message_id("feedback_request", SALLY);
    d.receive(
        &at(14, 2),
        "signed.eml",
        &reply(
            "sally-signed@leedesign.example",
            "Sally Lee <sally@leedesign.example>",
            "intros@tracker.example.org",
            &request,
            "We signed! 5/5.",
        ),
    );
    d.tick(&at(22, 0));
    d.tick(&at(30, 0));
    // Neither made nor planned any more: the deal closed the questions.
    assert_eq!(d.state_of("feedback_reminder", FRED), "none");
    assert!(d.mails().iter().all(|m| m.kind != "feedback_reminder"));
}

// ---------------------------------------------------------------------------------------
// f. People who do not know the owner are told who she is and why she was copied.
// ---------------------------------------------------------------------------------------

#[test]
fn parties_introduced_by_someone_else_are_told_who_the_owner_is() {
    let d = support::config::alice()
        .owner(r#"about = "organiser of the Brightside referral circle""#)
        .deploy();
    d.receive(
        T,
        "intro.eml",
        &intro(TO_FRED_AND_SALLY, "Fred, meet Sally."),
    );
    d.tick(&at(2, 0));
    let who = "I'm Alice Smith, organiser of the Brightside referral circle — Bob copied me on the introduction so I could keep track of how it goes.";
    for party in [FRED, SALLY] {
        let body = d.mail("follow_up", party).body;
        assert_eq!(body.matches(who).count(), 1, "{body}");
    }
    // Bob, who copied her, knows her: his thank-you does not introduce her.
    assert!(!d.mail("thank_you", BOB).body.contains("I'm Alice"));

    // Sally, introduced to Alice herself, knows who she is.
    let d = support::config::alice()
        .owner(r#"about = "organiser of the Brightside referral circle""#)
        .deploy();
    d.receive(
        T,
        "intro.eml",
        &intro(TO_ALICE_AND_SALLY, "Alice, meet Sally."),
    );
    d.tick(&at(2, 0));
    assert!(!d.mail("follow_up", SALLY).body.contains("I'm Alice"));
}

// ---------------------------------------------------------------------------------------
// h. When the owner is a party, the report to the introducer is hers, without a score.
// ---------------------------------------------------------------------------------------

#[test]
fn the_report_about_the_owners_own_referral_is_in_the_first_person_without_a_score() {
    let d = deploy("");
    d.receive(
        T,
        "intro.eml",
        &intro(TO_ALICE_AND_SALLY, "Alice, meet Sally."),
    );
    d.tick(&at(1, 0));
    d.tick(&at(14, 0));
    let request = d.message_id("feedback_request", SALLY);
    d.receive(
        &at(14, 2),
        "sally.eml",
        &reply(
            "sally-rated@leedesign.example",
            "Sally Lee <sally@leedesign.example>",
            "Alice Smith <alice@brightside.example>, intros@tracker.example.org",
            &request,
            "4/5, we met for coffee and it was useful.",
        ),
    );
    d.tick(&at(14, 3));
    let report = d.mail("outcome_report", BOB).body;
    assert!(report.contains("Sally and I have met."), "{report}");
    assert!(!report.contains("out of 5"), "{report}");
    assert!(!report.contains("4"), "{report}");
}

// ---------------------------------------------------------------------------------------
// i. Bad news never leaves on its own.
// ---------------------------------------------------------------------------------------

/// Fred and Sally were introduced by Bob; Fred answers the feedback request with `words`.
fn fred_answers(words: &str) -> Deployment {
    fred_answers_in(deploy(""), words, "")
}

/// [`fred_answers`] in deployment `d`, the introduction carrying `stamp` above its From.
fn fred_answers_in(d: Deployment, words: &str, stamp: &str) -> Deployment {
    d.receive(
        T,
        "intro.eml",
        &intro(TO_FRED_AND_SALLY, "Fred, meet Sally.").replacen(
            "From: ",
            &format!("{stamp}From: "),
            1,
        ),
    );
    d.tick(&at(1, 0));
    d.tick(&at(14, 0));
    let request = d.message_id("feedback_request", FRED);
    d.receive(
        &at(14, 2),
        "fred.eml",
        &reply(
            "fred-answer@fredsbooks.example",
            "Fred Jones <fred@fredsbooks.example>",
            "intros@tracker.example.org",
            &request,
            words,
        ),
    );
    d.tick(&at(14, 3));
    d
}

fn report_id(d: &Deployment) -> String {
    let rows = d.json(&["outbox", "--json"]);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "outcome_report")
        .map(|o| o["id"].to_string())
        .expect("an outcome report")
}

#[test]
fn a_bad_report_is_held_until_the_owner_sends_it() {
    let d = fred_answers("1/5. It didn't work out, sadly.");
    assert_eq!(d.state_of("outcome_report", BOB), "held");
    assert!(d.mails().iter().all(|m| m.kind != "outcome_report"));
    let id = report_id(&d);
    // outbox and show say it waits, and how to decide.
    let outbox = d.ok(&["outbox"]);
    assert!(
        outbox.contains("held") && outbox.contains(&format!("referrald send {id}")),
        "{outbox}"
    );
    let show = d.ok(&["show", "1"]);
    assert!(show.contains("held"), "{show}");
    // Days pass: it still waits.
    d.tick(&at(16, 0));
    assert_eq!(d.state_of("outcome_report", BOB), "held");

    // The owner decides to send it: it goes with the next tick, bad news and all.
    let out = d.ok(&["--now", &at(16, 1), "send", &id]);
    assert!(out.contains("will be sent"), "{out}");
    d.tick(&at(16, 2));
    assert_eq!(d.state_of("outcome_report", BOB), "sent");
    let report = d.mail("outcome_report", BOB).body;
    assert!(report.contains("1 out of 5"), "{report}");
    // Deciding again is an error, in one line, exit 1.
    let again = d.run(&["send", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is sent, not held"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_skipped_bad_report_is_never_sent() {
    let d = fred_answers("We never met: he never called me back.");
    assert_eq!(d.state_of("outcome_report", BOB), "held");
    let id = report_id(&d);
    let out = d.ok(&["--now", &at(15, 0), "skip", &id]);
    assert!(out.contains("skipped"), "{out}");
    for day in 15..40 {
        d.tick(&at(day, 0));
    }
    // One report, skipped; the answer it held is not reported again in another.
    let reports: Vec<_> = d
        .outbox()
        .into_iter()
        .filter(|(k, _, _)| k == "outcome_report")
        .collect();
    assert_eq!(
        reports,
        [(
            "outcome_report".to_string(),
            BOB.to_string(),
            "cancelled".to_string()
        )]
    );
    assert!(d.mails().iter().all(|m| m.kind != "outcome_report"));
    assert_eq!(d.run(&["skip", "999"]).status.code(), Some(1));
}

#[test]
fn good_news_goes_on_its_own() {
    let d = fred_answers("5/5, we signed last week!");
    assert_eq!(d.state_of("outcome_report", BOB), "sent");
}

// ---------------------------------------------------------------------------------------
// What a stranger who forges the owner's From line can do with these manners.
// ---------------------------------------------------------------------------------------

/// A forged "thanks, Bob — are you free Thursday?" from the owner, unauthenticated, would
/// silence the thank-you and the follow-up if it were believed. It is not: with
/// authentication required, the owner's words count only when they prove themselves.
#[test]
fn a_forged_owner_message_on_the_thread_silences_nothing() {
    let d = support::config::alice()
        .trusting("mx.tracker.example.org")
        .deploy();
    let intro = intro(TO_ALICE_AND_SALLY, "Alice, meet Sally.").replacen(
        "From: ",
        "Authentication-Results: mx.tracker.example.org; dmarc=pass header.from=networkers.example\nFrom: ",
        1,
    );
    d.receive(T, "intro.eml", &intro);
    assert_eq!(d.state_of("thank_you", BOB), "scheduled");
    d.receive(
        &minutes(20),
        "forged.eml",
        &reply(
            "forged-owner@attacker.example",
            "Alice Smith <alice@brightside.example>",
            "Bob Brown <bob@networkers.example>, Sally Lee <sally@leedesign.example>, intros@tracker.example.org",
            "intro-manners@mail.networkers.example",
            "Thanks so much, Bob! Sally, are you free on Thursday for a call?",
        ),
    );
    d.tick(&minutes(90));
    assert_eq!(d.state_of("thank_you", BOB), "sent");
    d.tick(&at(2, 0));
    assert_eq!(d.state_of("follow_up", SALLY), "sent");
}

// ---------------------------------------------------------------------------------------
// i, by email. The owner hears of a held report once and answers "send" or "skip".
// ---------------------------------------------------------------------------------------

/// (Message-ID, subject, body) of every notice of `kind` to Alice in the outbox directory.
fn notices(d: &Deployment, kind: &str) -> Vec<(String, String, String)> {
    let Ok(dir) = std::fs::read_dir(d.path("outbox")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let raw = std::fs::read(e.unwrap().path()).unwrap();
        let m = MessageParser::default().parse(&raw).unwrap();
        let to = m.to()?.first()?.address()?.to_string();
        (m.header_raw("X-Referrald-Kind").map(str::trim) == Some(kind) && to == ALICE).then(|| {
            (
                m.message_id().unwrap().to_string(),
                m.subject().unwrap_or_default().to_string(),
                m.body_text(0).unwrap().replace("\r\n", "\n"),
            )
        })
    })
    .collect()
}

/// Alice's reply `words` to the notice `notice` (its Message-ID and subject), from `from`.
fn answer_notice(from: &str, notice: &(String, String, String), words: &str) -> String {
    let (id, subject, body) = notice;
    let quoted: String = body.lines().map(|l| format!("> {l}\n")).collect();
    format!(
        "From: {from}
To: intros@tracker.example.org
Subject: Re: {subject}
Date: Mon, 16 Nov 2026 15:00:00 +0000
Message-ID: <answer-{n}@brightside.example>
In-Reply-To: <{id}>
References: <{id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{words}

{quoted}",
        n = words.len() + from.len()
    )
}

#[test]
fn the_owner_is_told_once_of_a_held_report_and_her_skip_cancels_it() {
    let d = fred_answers("1/5. It didn't work out, sadly.");
    assert_eq!(d.state_of("outcome_report", BOB), "held");
    let id = report_id(&d);
    // One short notice: what is held, to whom, why, and how to decide.
    let told = notices(&d, "held_report");
    assert_eq!(told.len(), 1, "{told:?}");
    let (_, subject, body) = &told[0];
    assert!(
        subject.contains("outcome report") && subject.contains("Bob Brown"),
        "{subject}"
    );
    // Fred's words read as a loss (and a 1/5): the notice says why it waits.
    assert!(body.contains("an answer says lost"), "{body}");
    assert!(
        body.contains("Reply \"send\"") && body.contains("\"skip\""),
        "{body}"
    );
    assert!(body.contains(&format!("send #{id}")), "{body}");
    // Days of ticks tell her nothing more.
    for day in 15..17 {
        d.tick(&at(day, 0));
    }
    assert_eq!(notices(&d, "held_report").len(), 1);

    // "Skip" in her reply to the notice: the report is never sent.
    d.receive(
        &at(14, 5),
        "skip.eml",
        &answer_notice("Alice Smith <alice@brightside.example>", &told[0], "Skip."),
    );
    assert_eq!(d.state_of("outcome_report", BOB), "cancelled");
    for day in 17..40 {
        d.tick(&at(day, 0));
    }
    assert!(d.mails().iter().all(|m| m.kind != "outcome_report"));
    let answers = notices(&d, "command_reply");
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(
        answers[0].2.contains("will never be sent"),
        "{}",
        answers[0].2
    );
    // Skipping it again changes nothing, and says why.
    d.receive(
        &at(40, 0),
        "skip-again.eml",
        &answer_notice("Alice Smith <alice@brightside.example>", &told[0], "skip"),
    );
    d.tick(&at(40, 1));
    let answers = notices(&d, "command_reply");
    assert!(
        answers
            .iter()
            .any(|a| a.2.contains("is cancelled, not held")),
        "{answers:?}"
    );
}

#[test]
fn the_owners_send_in_reply_to_the_notice_sends_the_held_report() {
    let d = fred_answers("We never met: he never called me back.");
    assert_eq!(d.state_of("outcome_report", BOB), "held");
    let told = notices(&d, "held_report");
    assert_eq!(told.len(), 1, "{told:?}");
    d.receive(
        &at(14, 5),
        "send.eml",
        &answer_notice("Alice Smith <alice@brightside.example>", &told[0], "send"),
    );
    assert_eq!(d.state_of("outcome_report", BOB), "scheduled");
    d.tick(&at(14, 6));
    assert_eq!(d.state_of("outcome_report", BOB), "sent");
    let report = d.mail("outcome_report", BOB).body;
    assert!(
        report.contains("never met") || report.contains("not met"),
        "{report}"
    );
    let answers = notices(&d, "command_reply");
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].2.contains("goes as it is"), "{}", answers[0].2);
    // Still only the one notice about it.
    assert_eq!(notices(&d, "held_report").len(), 1);
}

// Someone who learns the notice's Message-ID, or writes in the owner's name, must not be able
// to send the bad news (or bury it).
#[test]
fn a_forged_send_from_a_stranger_or_an_unauthenticated_owner_does_nothing() {
    // A stranger answers the notice, In-Reply-To and all.
    let d = fred_answers("1/5. It didn't work out, sadly.");
    let told = notices(&d, "held_report");
    assert_eq!(told.len(), 1, "{told:?}");
    d.receive(
        &at(14, 5),
        "stranger.eml",
        &answer_notice("Mallory <mallory@attacker.example>", &told[0], "send"),
    );
    d.tick(&at(14, 6));
    assert_eq!(d.state_of("outcome_report", BOB), "held");
    assert!(notices(&d, "command_reply").is_empty());

    // With authentication on, the owner's address without proof is not the owner.
    let mx = "mx.tracker.example.org";
    let d = fred_answers_in(
        support::config::alice().trusting(mx).deploy(),
        "1/5. It didn't work out, sadly.",
        &format!("Authentication-Results: {mx}; dmarc=pass header.from=networkers.example\n"),
    );
    assert_eq!(d.state_of("outcome_report", BOB), "held");
    let told = notices(&d, "held_report");
    assert_eq!(told.len(), 1, "{told:?}");
    let alice = "Alice Smith <alice@brightside.example>";
    for (name, mail) in [
        ("reply.eml", answer_notice(alice, &told[0], "send")),
        (
            "fresh.eml",
            answer_notice(alice, &told[0], &format!("send #{}", report_id(&d)))
                .replace("In-Reply-To:", "X-Was-In-Reply-To:")
                .replace("References:", "X-Was-References:"),
        ),
    ] {
        d.receive(&at(14, 4), name, &mail);
        d.tick(&at(14, 5));
        assert_eq!(d.state_of("outcome_report", BOB), "held", "{name}");
    }
    assert!(notices(&d, "command_reply").is_empty());
    // The same `send #ID` with the proof her mail server adds does send it.
    let proven = answer_notice(alice, &told[0], &format!("send #{}", report_id(&d)))
        .replace("In-Reply-To:", "X-Was-In-Reply-To:")
        .replace("References:", "X-Was-References:")
        .replacen(
            "From: ",
            &format!(
                "Authentication-Results: {mx}; dmarc=pass header.from=brightside.example\nFrom: "
            ),
            1,
        )
        .replace("answer-", "proven-");
    d.receive(&at(14, 5), "proven.eml", &proven);
    d.tick(&at(14, 6));
    assert_eq!(d.state_of("outcome_report", BOB), "sent");
}
