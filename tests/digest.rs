//! The weekly digest (README "Weekly digest") end to end: the real binary, a real SQLite file
//! and the file transport, on a scripted clock. Bob introduces Fred and Sally (they do a deal)
//! and Carol to Alice (the owner); Alice introduces Dan and Erin. The digest is Monday 08:00 in
//! London.

mod support;

use mail_parser::{MessageParser, MimeHeaders};

const FRED: &str = "fred@fredsbooks.example";
const SALLY: &str = "sally@leedesign.example";
const CAROL: &str = "carol@kingconsulting.example";

/// Monday 9 November, 08:00 in London (GMT): the first digest after the referrals.
const DIGEST_AT: &str = "2026-11-09T08:00:00Z";

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
    fn new(sections: &str) -> Deployment {
        let inner = support::config::alice().with(sections).deploy();
        // For a test that overrides templates: empty, it overrides nothing.
        std::fs::create_dir(inner.path("templates")).unwrap();
        Deployment { inner, messages: 0 }
    }

    fn ingest(&mut self, now: &str, message: &str) -> String {
        self.messages += 1;
        let name = format!("{}.eml", self.messages);
        let path = self.write(&name, message.replace('\n', "\r\n"));
        self.ok(&["--now", now, "ingest", path.to_str().unwrap()])
    }

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

    /// The digests in the file outbox: (To, Subject, text, HTML).
    fn digests(&self) -> Vec<(String, String, String, String)> {
        let Ok(entries) = std::fs::read_dir(self.path("outbox")) else {
            return Vec::new();
        };
        let mut all = Vec::new();
        for e in entries {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let m = MessageParser::default().parse(&bytes).unwrap();
            if m.header("X-Referrald-Kind").and_then(|h| h.as_text()) != Some("digest") {
                continue;
            }
            let to = m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_string();
            assert!(
                m.content_type()
                    .is_some_and(|c| c.subtype() == Some("alternative")),
                "a digest is text plus HTML"
            );
            all.push((
                to,
                m.subject().unwrap_or("").to_string(),
                m.body_text(0).unwrap_or_default().to_string(),
                m.body_html(0).unwrap_or_default().to_string(),
            ));
        }
        all
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

fn world(sections: &str) -> Deployment {
    let mut d = Deployment::new(sections);
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
                "Dan Dee <dan@dansdesk.example>",
                "\"Erin <i>Evil</i> & Co\" <erin@erin.example>",
            ],
            "Dan <> Erin",
        ),
    );
    d.ok(&["--now", "2026-11-04T10:00:00Z", "tick"]);
    let later = "2026-11-05T10:00:00Z";
    let to_sally = d.our_message_id(1, "follow_up", SALLY);
    d.ingest(
        later,
        &reply(
            "s1@leedesign.example",
            "Sally Lee <sally@leedesign.example>",
            &to_sally,
            "Yes! We met and we signed a $2,500 contract. 5/5, thank you.",
        ),
    );
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

/// What `digest` prints, and that printing it neither sends nor records anything.
#[test]
fn digest_now_prints_the_week_without_sending_or_recording_it() {
    let d = world("");
    let text = d.ok(&["--now", DIGEST_AT, "digest"]);
    assert!(
        text.starts_with("Subject: Your referrals this week\n"),
        "{text}"
    );
    let order: Vec<usize> = [
        "Outcomes:",
        "- #1 Fred Jones did business, worth 2,500 USD (Bob Brown's introduction)",
        "Closed business: 2,500 USD.",
        "Connected:",
        "- #2 you and Carol King (Carol King reported meeting)",
        "New referrals:",
        "- #3 You introduced Dan Dee and Erin <i>Evil</i> & Co",
        "- #1 Bob Brown introduced Fred Jones and Sally Lee",
        "You owe one:",
        "- Bob Brown gave you 1 referral lately and got none back",
    ]
    .iter()
    .map(|line| {
        text.find(line)
            .unwrap_or_else(|| panic!("no {line:?} in\n{text}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    // Nobody's own words: Sally's "thank you" is hers, not the digest's.
    assert!(!text.contains("thank you"), "{text}");
    let html = d.ok(&["--now", DIGEST_AT, "digest", "--html"]);
    assert!(html.contains("<table"), "{html}");
    assert!(
        html.contains("Erin &lt;i&gt;Evil&lt;&#x2f;i&gt; &amp; Co"),
        "{html}"
    );
    assert!(!html.contains("<i>"), "{html}");
    // Printing twice prints the same, and nothing went anywhere.
    assert_eq!(d.ok(&["--now", DIGEST_AT, "digest"]), text);
    assert!(d.digests().is_empty());
}

/// `tick` at the digest's time sends it once to the owner; a second `tick` sends none.
#[test]
fn tick_sends_each_weeks_digest_exactly_once() {
    let d = world("");
    // Before its time, nothing.
    d.ok(&["--now", "2026-11-09T07:59:00Z", "tick"]);
    assert!(d.digests().is_empty());
    d.ok(&["--now", DIGEST_AT, "tick"]);
    let digests = d.digests();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let (to, subject, text, html) = &digests[0];
    assert_eq!(to, "alice@brightside.example");
    assert_eq!(subject, "Your referrals this week");
    assert!(text.contains("Bob Brown gave you 1 referral"), "{text}");
    assert!(html.contains("<table"), "{html}");
    d.ok(&["--now", DIGEST_AT, "tick"]);
    d.ok(&["--now", "2026-11-10T09:00:00Z", "tick"]);
    assert_eq!(d.digests().len(), 1);

    // The next one covers what happened since this one: nothing yet.
    let next = d.ok(&["--now", "2026-11-10T09:00:00Z", "digest"]);
    assert!(next.starts_with("Nothing to say since Mon 9 Nov"), "{next}");
}

/// A week without news sends nothing, and `"off"` sends nothing ever.
#[test]
fn nothing_is_sent_when_there_is_nothing_to_say_or_the_digest_is_off() {
    let d = world("");
    d.ok(&["--now", DIGEST_AT, "tick"]);
    assert_eq!(d.digests().len(), 1);
    // Carol's "we met" arrived before; the next Monday has nothing new to say.
    let said = d.ok(&["--now", "2026-11-16T08:00:00Z", "digest"]);
    assert!(said.starts_with("Nothing to say"), "{said}");
    d.ok(&["--now", "2026-11-16T08:00:00Z", "tick"]);
    assert_eq!(d.digests().len(), 1);

    let off = world("[digest]\nwhen = \"off\"");
    off.ok(&["--now", DIGEST_AT, "tick"]);
    assert!(off.digests().is_empty());
    assert!(off.ok(&["--now", DIGEST_AT, "digest"]).contains("off"));
}

/// Someone who is not on the thread claims a million-dollar deal: not an answer, not in the
/// digest.
#[test]
fn a_strangers_claim_is_not_in_the_digest() {
    let mut d = world("");
    let to_fred = d.our_message_id(1, "follow_up", FRED);
    d.ingest(
        "2026-11-06T10:00:00Z",
        &reply(
            "m1@mallory.example",
            "Sally Lee <mallory@mallory.example>",
            &to_fred,
            "We did business: a $1,000,000 contract. 5/5.",
        ),
    );
    let text = d.ok(&["--now", DIGEST_AT, "digest"]);
    assert!(!text.contains("1,000,000"), "{text}");
    assert!(text.contains("2,500 USD"), "{text}");
}

/// The owner answers the digest with "status": one answer, listing what is open.
#[test]
fn status_in_reply_to_the_digest_is_answered() {
    let mut d = world("");
    d.ok(&["--now", DIGEST_AT, "tick"]);
    let entries: Vec<_> = std::fs::read_dir(d.path("outbox"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let digest = entries
        .iter()
        .map(|b| MessageParser::default().parse(b).unwrap())
        .find(|m| m.header("X-Referrald-Kind").and_then(|h| h.as_text()) == Some("digest"))
        .unwrap();
    let id = digest.message_id().unwrap().to_string();
    let said = d.ingest(
        "2026-11-09T09:00:00Z",
        &format!(
            "From: Alice Smith <alice@brightside.example>
To: intros@tracker.example.org
Subject: Re: Your referrals this week
Date: Mon, 9 Nov 2026 09:00:00 +0000
Message-ID: <digest-reply@brightside.example>
In-Reply-To: <{id}>
References: <{id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

status

> Hi Alice,
"
        ),
    );
    assert!(said.contains("command"), "{said}");
    d.ok(&["--now", "2026-11-09T09:00:00Z", "tick"]);
    let after: Vec<String> = std::fs::read_dir(d.path("outbox"))
        .unwrap()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).to_string())
        .filter(|t| t.contains("X-Referrald-Kind: command_reply"))
        .collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].contains("Your open referrals"), "{}", after[0]);
}

/// The digest's templates are overridable like the others, and checked at startup: a broken
/// HTML override stops `tick` before anything is sent, naming the file; an override is used.
#[test]
fn digest_templates_are_overridable_and_checked_before_sending() {
    let d = world("[templates]\ndir = \"templates\"");
    d.write(
        "templates/digest.html",
        "<p>{% for r in new %}{{ r.nickname }}{% endfor %}</p>",
    );
    let out = d.run(&["--now", DIGEST_AT, "tick"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest.html"), "{err}");
    assert!(d.digests().is_empty());
    // A typo in the name is an error too, not a silently unused file.
    std::fs::remove_file(d.path("templates/digest.html")).unwrap();
    d.write("templates/digest.htm", "<p>hi</p>");
    let out = d.run(&["--now", DIGEST_AT, "tick"]);
    assert!(!out.status.success());
    std::fs::remove_file(d.path("templates/digest.htm")).unwrap();
    d.write(
        "templates/digest.txt",
        "Subject: Week of {{ week }}\n\n{{ new|length }} new, {{ needs_you|length }} need you.\n",
    );
    let text = d.ok(&["--now", DIGEST_AT, "digest"]);
    assert!(
        text.starts_with("Subject: Week of 2026-11-09\n\n3 new, 0 need you."),
        "{text}"
    );
}
