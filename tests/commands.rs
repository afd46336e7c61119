//! Commands by email (README "Commands by email"): the owner writes `status`, `pause 2w`,
//! `cancel #1`… to the tracking address or in a reply, and gets exactly one answer. Through
//! the real binary, a real SQLite file and the file transport; and what strangers, forgers,
//! robots and loops can make of it.

mod support;

use mail_parser::MessageParser;
use serde_json::Value;
use support::deployment::Deployment;

const T: &str = "2026-11-02T10:00:00Z"; // Monday, 10:00 in London

fn deployment() -> Deployment {
    // The thank-you at once, as these tests count it among the mail sent: they are about
    // commands, not about the plan's timing.
    support::config::alice()
        .with("[schedule]\nthank-you-after = \"0s\"")
        .deploy()
}

/// Bob introduces Fred and Sally; Alice (the owner) is none of them.
const INTRO: &str = "From: Bob Brown <bob@networkers.example>
To: Fred Jones <fred@jones.example>, Sally Green <sally@green.example>
Cc: intros@tracker.example.org
Subject: Fred, meet Sally
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <intro-1@mail.networkers.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Fred, meet Sally. Sally needs a bookkeeper; Fred is the best I know.

Bob
";

/// A message from `from` to the tracking address alone, saying `body`.
fn mail(from: &str, id: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}
To: intros@tracker.example.org
Subject: {subject}
Date: Mon, 2 Nov 2026 11:00:00 +0000
Message-ID: <{id}>
{extra}MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

{body}
"
    )
}

fn alice(id: &str, subject: &str, body: &str) -> String {
    mail(
        "Alice Smith <alice@brightside.example>",
        id,
        subject,
        "",
        body,
    )
}

fn ingest(d: &Deployment, now: &str, name: &str, text: &str) -> String {
    let file = d.write(name, text.replace('\n', "\r\n"));
    d.ok(&["--now", now, "ingest", file.to_str().unwrap()])
}

/// Every email in the file outbox, parsed: (To, Subject, In-Reply-To, body).
fn emails(d: &Deployment) -> Vec<(String, String, String, String)> {
    let Ok(entries) = std::fs::read_dir(d.path("outbox")) else {
        return Vec::new();
    };
    let mut all: Vec<(String, String, String, String)> = entries
        .map(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&bytes).unwrap();
            let to = m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_string();
            let reply_to = m
                .in_reply_to()
                .as_text_list()
                .and_then(|l| l.first().map(|s| s.to_string()))
                .or_else(|| m.in_reply_to().as_text().map(str::to_string))
                .unwrap_or_default();
            (
                to,
                m.subject().unwrap_or("").to_string(),
                reply_to,
                m.body_text(0).unwrap_or_default().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

/// The answers to the owner: emails to alice@.
fn answers(d: &Deployment) -> Vec<(String, String, String, String)> {
    emails(d)
        .into_iter()
        .filter(|(to, ..)| to == "alice@brightside.example")
        .collect()
}

fn show(d: &Deployment, id: u32) -> Value {
    d.json(&["show", &id.to_string(), "--json"])
}

fn events(d: &Deployment, id: u32) -> Vec<(String, String)> {
    show(d, id)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn with_intro() -> Deployment {
    let d = deployment();
    let said = ingest(&d, T, "intro.eml", INTRO);
    assert!(said.contains("introduction"), "{said}");
    // The thank-you to Bob goes at once.
    d.ok(&["--now", T, "tick"]);
    d
}

#[test]
fn status_by_email_gets_one_threaded_answer_to_the_owner_only() {
    let d = with_intro();
    let said = ingest(
        &d,
        T,
        "status.eml",
        &alice("cmd-1@brightside.example", "status", "Status"),
    );
    assert!(said.contains("command"), "{said}");
    d.ok(&["--now", T, "tick"]);
    let answers = answers(&d);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (_, subject, in_reply_to, body) = &answers[0];
    assert_eq!(subject, "Re: status");
    assert_eq!(in_reply_to, "cmd-1@brightside.example");
    assert!(body.contains("#1 \"Fred, meet Sally\""), "{body}");
    assert!(body.contains("follow up to Fred Jones"), "{body}");
    if std::env::var_os("SHOW_ANSWER").is_some() {
        eprintln!("{body}");
    }
    // Nobody else hears of it: the thank-you to Bob is the only other mail.
    assert_eq!(emails(&d).len(), 2);
    // Ticking again sends nothing more; ingesting the command again answers nothing more.
    ingest(
        &d,
        T,
        "status-again.eml",
        &alice("cmd-1@brightside.example", "status", "Status"),
    );
    d.ok(&["--now", T, "tick"]);
    assert_eq!(emails(&d).len(), 2);
    // The answer named Fred Jones; forgetting him leaves his name in no stored answer.
    d.ok(&["--now", T, "forget", "fred@jones.example"]);
    let db = rusqlite::Connection::open(d.path("referrald.db")).unwrap();
    let facts: String = db
        .query_row("SELECT facts FROM notices", [], |r| r.get(0))
        .unwrap();
    assert!(
        !facts.contains("Fred Jones") && facts.contains("(forgotten)"),
        "{facts}"
    );
    serde_json::from_str::<Value>(&facts).unwrap();
}

#[test]
fn pause_holds_the_mail_and_resume_lets_it_go() {
    let d = with_intro();
    ingest(
        &d,
        T,
        "pause.eml",
        &alice("cmd-p@brightside.example", "pause #1", "pause 2w"),
    );
    let detail = show(&d, 1);
    assert!(
        events(&d, 1)
            .iter()
            .any(|(k, d)| k == "paused" && d.contains("until")),
        "{detail}"
    );
    // Three days on, the follow-ups would be due: nothing goes.
    d.ok(&["--now", "2026-11-05T10:00:00Z", "tick"]);
    let to_parties = |d: &Deployment| {
        emails(d)
            .iter()
            .filter(|(to, ..)| to.ends_with("jones.example") || to.ends_with("green.example"))
            .count()
    };
    assert_eq!(to_parties(&d), 0);
    let answer = &answers(&d)[0].3;
    assert!(answer.contains("is paused until"), "{answer}");

    // Resumed by a reply to the answer: the follow-ups go.
    let reply = mail(
        "Alice Smith <alice@brightside.example>",
        "cmd-r@brightside.example",
        "Re: pause #1",
        &format!("In-Reply-To: <{}>\n", answer_id(&d)),
        "resume\n\nOn Mon, referrald wrote:\n> #1 is paused",
    );
    let said = ingest(&d, "2026-11-05T10:00:00Z", "resume.eml", &reply);
    assert!(said.contains("command  #1"), "{said}");
    d.ok(&["--now", "2026-11-05T10:00:00Z", "tick"]);
    assert_eq!(to_parties(&d), 2);
    assert_eq!(answers(&d).len(), 2);
    assert!(answers(&d).iter().any(|a| a.3.contains("no longer paused")));
}

/// The Message-ID of the (only) notice sent so far, from the outbox.
fn answer_id(d: &Deployment) -> String {
    for entry in std::fs::read_dir(d.path("outbox")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let m = MessageParser::default().parse(&bytes).unwrap();
        if m.header_raw("X-Referrald-Kind").map(str::trim) == Some("command_reply") {
            return m.message_id().unwrap().to_string();
        }
    }
    panic!("no notice in the outbox");
}

#[test]
fn cancel_in_a_reply_on_the_thread_cancels_all_pending_mail() {
    let d = with_intro();
    let reply = mail(
        "Alice Smith <alice@brightside.example>",
        "cmd-c@brightside.example",
        "Re: Fred, meet Sally",
        "In-Reply-To: <intro-1@mail.networkers.example>\n",
        "Cancel.\n\n> Fred, meet Sally.",
    );
    ingest(&d, T, "cancel.eml", &reply);
    assert_eq!(show(&d, 1)["status"], "cancelled");
    let outbox = d.json(&["outbox", "--json"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] != "scheduled"),
        "{outbox}"
    );
    d.ok(&["--now", "2026-11-20T10:00:00Z", "tick"]);
    let answers = answers(&d);
    assert_eq!(answers.len(), 1);
    assert!(answers[0].3.contains("is cancelled"), "{}", answers[0].3);
    // Only the thank-you and the answer were ever sent.
    assert_eq!(emails(&d).len(), 2);
}

#[test]
fn won_and_note_are_recorded_and_seen_by_show_and_stats() {
    let d = with_intro();
    ingest(
        &d,
        T,
        "won.eml",
        &alice("cmd-w@brightside.example", "", "won €12,000 #1"),
    );
    ingest(
        &d,
        T,
        "note.eml",
        &alice(
            "cmd-n@brightside.example",
            "#1",
            "note Fred sent the quote on Friday",
        ),
    );
    let detail = show(&d, 1);
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let feedback = detail["feedback"].as_array().unwrap();
    assert!(
        feedback
            .iter()
            .any(|f| f["outcome"] == "won" && f["value"] == 12000.0),
        "{detail}"
    );
    assert!(
        events(&d, 1)
            .iter()
            .any(|(k, d)| k == "note" && d == "Fred sent the quote on Friday"),
        "{detail}"
    );
    let stats = d.ok(&["--now", T, "stats"]);
    assert!(stats.contains("12,000"), "{stats}");
    d.ok(&["--now", T, "tick"]);
    let answers = answers(&d);
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        answers.iter().any(|a| a.3.contains("worth 12,000 EUR")),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|a| a.3.contains("Your note is on #1")),
        "{answers:?}"
    );
    // The owner's word is not reported to Bob for her.
    assert!(!emails(&d).iter().any(|(_, s, ..)| s.contains("outcome")));
    d.ok(&["--now", "2026-11-30T10:00:00Z", "tick"]);
    let to_bob = emails(&d)
        .iter()
        .filter(|(to, ..)| to == "bob@networkers.example")
        .count();
    assert_eq!(to_bob, 1, "only the thank-you");
}

#[test]
fn unknown_commands_and_missing_referrals_get_the_help_text() {
    let d = with_intro();
    ingest(
        &d,
        T,
        "hello.eml",
        &alice("cmd-h@brightside.example", "hi", "hello there"),
    );
    ingest(
        &d,
        T,
        "cancel.eml",
        &alice("cmd-x@brightside.example", "x", "cancel"),
    );
    ingest(
        &d,
        T,
        "cancel99.eml",
        &alice("cmd-y@brightside.example", "y", "cancel #99"),
    );
    ingest(
        &d,
        T,
        "badpause.eml",
        &alice("cmd-z@brightside.example", "z", "pause #1 soonish"),
    );
    d.ok(&["--now", T, "tick"]);
    let answers = answers(&d);
    assert_eq!(answers.len(), 4, "{answers:?}");
    for (_, _, _, body) in &answers {
        assert!(body.contains("pause [DURATION]"), "{body}");
    }
    let said = |s: &str| answers.iter().any(|a| a.3.contains(s));
    assert!(said("\"hello there\" is not a command"), "{answers:?}");
    assert!(said("cancel needs a referral"), "{answers:?}");
    assert!(said("there is no referral #99"), "{answers:?}");
    assert!(said("cannot read \"soonish\""), "{answers:?}");
    // Nothing changed.
    assert_eq!(show(&d, 1)["status"], "open");
    // With an empty body, the subject is the command.
    ingest(
        &d,
        T,
        "subject.eml",
        &alice("cmd-s@brightside.example", "Status #1", ""),
    );
    d.ok(&["--now", T, "tick"]);
    let answers = self::answers(&d);
    assert_eq!(answers.len(), 5, "{answers:?}");
    assert!(
        answers
            .iter()
            .any(|a| a.1 == "Re: Status #1" && a.3.contains("Waiting to go")),
        "{answers:?}"
    );
}

#[test]
fn an_owner_introducing_people_is_not_commanding() {
    // The other side of the rule: the same first word, with people copied, is an introduction.
    let d = deployment();
    let intro = "From: Alice Smith <alice@brightside.example>
To: Fred Jones <fred@jones.example>, Sally Green <sally@green.example>
Cc: intros@tracker.example.org
Subject: Status update
Date: Mon, 2 Nov 2026 09:55:00 +0000
Message-ID: <alice-intro@brightside.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Status
Fred, meet Sally.
";
    let said = ingest(&d, T, "intro.eml", intro);
    assert!(said.contains("introduction"), "{said}");
    // And a forward of an introduction to the tracking address alone stays a forward.
    let forward = "From: Alice Smith <alice@brightside.example>
To: intros@tracker.example.org
Subject: Fwd: Raj <> Tom
Date: Mon, 2 Nov 2026 10:00:00 +0000
Message-ID: <alice-fwd@brightside.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

---------- Forwarded message ---------
From: Bob Brown <bob@networkers.example>
Date: Mon, 2 Nov 2026 at 09:00
Subject: Raj <> Tom
To: Raj Patel <raj@patel.example>, Tom Lee <tom@lee.example>

Raj, meet Tom.
";
    let said = ingest(&d, T, "fwd.eml", forward);
    assert!(said.contains("introduction"), "{said}");
    // Even with a command word on top.
    let noted = forward
        .replace("alice-fwd@", "alice-fwd-2@")
        .replace("Raj <> Tom", "Raj <> Tim")
        .replace("tom@lee", "tim@lee")
        .replace(
            "---------- Forwarded message",
            "Note: track this one please\n\n---------- Forwarded message",
        );
    let said = ingest(&d, T, "fwd-noted.eml", &noted);
    assert!(said.contains("introduction"), "{said}");
}

#[test]
fn a_forged_owner_command_changes_nothing_and_is_not_answered() {
    let d = support::config::alice()
        .trusting("mx.tracker.example.org")
        .deploy();
    // Bob's introduction, vouched for.
    let stamp = "Authentication-Results: mx.tracker.example.org;\n\tdmarc=pass header.from=networkers.example\n";
    let intro = INTRO.replacen("From:", &format!("{stamp}From:"), 1);
    let said = ingest(&d, T, "intro.eml", &intro);
    assert!(said.contains("introduction"), "{said}");
    // "From: Alice" with no stamp, or a stamp from a server nobody trusts.
    for (n, extra) in [
        "",
        "Authentication-Results: evil.example; dmarc=pass header.from=brightside.example\n",
    ]
    .iter()
    .enumerate()
    {
        let forged = mail(
            "Alice Smith <alice@brightside.example>",
            &format!("forged-{n}@evil.example"),
            "cancel",
            extra,
            "cancel #1",
        );
        let said = ingest(&d, T, &format!("forged-{n}.eml"), &forged);
        assert!(said.contains("ignored"), "{said}");
        assert!(said.contains("unverified command"), "{said}");
    }
    assert_eq!(show(&d, 1)["status"], "open");
    d.ok(&["--now", T, "tick"]);
    assert!(answers(&d).is_empty());
    // The genuine one, stamped by Alice's server, works.
    let stamp = "Authentication-Results: mx.tracker.example.org;\n\tdmarc=pass header.from=brightside.example\n";
    let genuine = mail(
        "Alice Smith <alice@brightside.example>",
        "genuine@brightside.example",
        "cancel",
        stamp,
        "cancel #1",
    );
    let said = ingest(&d, T, "genuine.eml", &genuine);
    assert!(said.contains("command"), "{said}");
    assert_eq!(show(&d, 1)["status"], "cancelled");
}

#[test]
fn strangers_and_parties_cannot_command() {
    let d = with_intro();
    // A stranger.
    let said = ingest(
        &d,
        T,
        "eve.eml",
        &mail(
            "Eve <eve@evil.example>",
            "eve@evil.example",
            "cancel #1",
            "",
            "cancel #1",
        ),
    );
    assert!(said.contains("ignored"), "{said}");
    // Fred, a party, writing "cancel" on the thread: a reply, as before.
    let fred = mail(
        "Fred Jones <fred@jones.example>",
        "fred-1@jones.example",
        "Re: Fred, meet Sally",
        "In-Reply-To: <intro-1@mail.networkers.example>\n",
        "cancel",
    );
    let said = ingest(&d, T, "fred.eml", &fred);
    assert!(said.contains("thread_reply"), "{said}");
    // The introducer too.
    let bob = mail(
        "Bob Brown <bob@networkers.example>",
        "bob-1@networkers.example",
        "Re: Fred, meet Sally",
        "In-Reply-To: <intro-1@mail.networkers.example>\n",
        "pause 2w",
    );
    let said = ingest(&d, T, "bob.eml", &bob);
    assert!(said.contains("thread_reply"), "{said}");
    // Fred's reply connected the referral, as any reply on the thread does; nothing else.
    assert_eq!(show(&d, 1)["status"], "connected");
    assert!(!events(&d, 1).iter().any(|(k, _)| k == "paused"));
    d.ok(&["--now", T, "tick"]);
    assert!(answers(&d).is_empty());
}

#[test]
fn robots_and_loops_never_command() {
    let d = with_intro();
    ingest(
        &d,
        T,
        "status.eml",
        &alice("cmd-1@brightside.example", "status", "status"),
    );
    d.ok(&["--now", T, "tick"]);
    assert_eq!(answers(&d).len(), 1);
    let notice = answer_id(&d);

    // The owner's out-of-office answering our answer, saying "status" for all we know.
    let ooo = mail(
        "Alice Smith <alice@brightside.example>",
        "ooo@brightside.example",
        "Automatic reply: status",
        &format!("Auto-Submitted: auto-replied\nIn-Reply-To: <{notice}>\n"),
        "status",
    );
    let said = ingest(&d, T, "ooo.eml", &ooo);
    assert!(said.contains("auto_reply"), "{said}");

    // Our answer bounced back to the tracking address.
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.brightside.example>
To: intros@tracker.example.org
Subject: Undelivered Mail Returned to Sender
Date: Mon, 2 Nov 2026 10:01:00 +0000
Message-ID: <bounce-1@mx.brightside.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"

--b
Content-Type: text/plain

status
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.brightside.example

Final-Recipient: rfc822; alice@brightside.example
Action: failed
Status: 5.1.1

--b
Content-Type: text/rfc822-headers

From: referrald <intros@tracker.example.org>
To: alice@brightside.example
Subject: Re: status
Message-ID: <{notice}>

--b--
"
    );
    let said = ingest(&d, T, "bounce.eml", &bounce);
    assert!(!said.contains("command"), "{said}");

    // Our own answer, come back to the mailbox (a forwarding rule), and a copy of it sent
    // from the owner's address by a robot that keeps our X-Loop.
    let ours = mail(
        "referrald <intros@tracker.example.org>",
        &notice,
        "Re: status",
        "X-Referrald-Kind: command_reply\nAuto-Submitted: auto-replied\n",
        "status",
    );
    let said = ingest(&d, T, "ours.eml", &ours);
    assert!(said.contains("our own outbound mail"), "{said}");
    let looped = mail(
        "Alice Smith <alice@brightside.example>",
        "loop@brightside.example",
        "status",
        "X-Loop: intros@tracker.example.org\n",
        "status",
    );
    let said = ingest(&d, T, "loop.eml", &looped);
    assert!(said.contains("mail loop"), "{said}");
    let null_sender = mail(
        "Alice Smith <alice@brightside.example>",
        "null@brightside.example",
        "status",
        "Return-Path: <>\n",
        "status",
    );
    let said = ingest(&d, T, "null.eml", &null_sender);
    assert!(said.contains("mail loop"), "{said}");

    // The owner's "thanks" to our answer is no command, and gets no answer.
    let thanks = mail(
        "Alice Smith <alice@brightside.example>",
        "thanks@brightside.example",
        "Re: status",
        &format!("In-Reply-To: <{notice}>\n"),
        "Thanks!\n\n> #1 \"Fred, meet Sally\"",
    );
    let said = ingest(&d, T, "thanks.eml", &thanks);
    assert!(said.contains("not a command"), "{said}");

    d.ok(&["--now", T, "tick"]);
    assert_eq!(answers(&d).len(), 1, "only the first command was answered");
}
