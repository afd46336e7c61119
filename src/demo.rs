//! `referrald demo`: three simulated weeks on bundled sample introductions, offline. It runs
//! the real pipeline — intake, store, planner, composer, the file transport — on a simulated
//! clock, prints the story as it happens, and leaves the database and the `.eml` files behind
//! for the user to open.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::composer::{
    Composer, NOTICE_COMMAND_REPLY, NOTICE_DIGEST, NOTICE_HELD_REPORT, notice_kind,
};
use crate::config::Config;
use crate::model::{OutboundKind, ReferralId};
use crate::outbox::{self, Clock, DeliveryResult, Outbox};
use crate::source::RawMessage;
use crate::store::{Store, StoryLine};
use crate::transport::FileTransport;

const CONFIG: &str = include_str!("../demo/referrald.toml");
const INTROS: &[(&str, &[u8])] = &[
    (
        "1-owner-introduces.eml",
        include_bytes!("../demo/1-owner-introduces.eml"),
    ),
    (
        "2-client-introduced-to-owner.eml",
        include_bytes!("../demo/2-client-introduced-to-owner.eml"),
    ),
    (
        "3-group-introduction.eml",
        include_bytes!("../demo/3-group-introduction.eml"),
    ),
];
/// Marks a folder as the demo's, so running the demo again may clear it.
const MARKER: &str = ".referrald-demo";

/// Where a simulated reply points.
enum InReplyTo {
    /// The introduction of referral N.
    Intro(ReferralId),
    /// Our message of this kind to this address, about referral N.
    Ours(ReferralId, OutboundKind, &'static str),
}

/// Something that happens in the simulated three weeks.
enum Act {
    /// The bundled introductions arrive.
    Introductions,
    /// Someone writes to the tracking address.
    Reply {
        from: &'static str,
        to: InReplyTo,
        headers: &'static str,
        body: &'static str,
    },
}

/// (day, hour, minute, what happens). Day 0 is Monday 2 November 2026.
fn script() -> Vec<(u32, u32, u32, Act)> {
    use InReplyTo::*;
    use OutboundKind::*;
    vec![
        (0, 9, 30, Act::Introductions),
        (
            0,
            16,
            5,
            Act::Reply {
                from: "Alice Smith <alice@brightside.example>",
                to: Intro(2),
                // Replying to all: Bob and Carol are copied, so Bob has had her thanks.
                headers: "Cc: Bob Brown <bob@networkers.example>, Carol White <carol.white@whitelogistics.example>\r\n",
                body: "Carol, lovely to meet you, and thank you Bob!\n\nCould you do a call on Thursday at 2?\n\nAlice\n",
            },
        ),
        (
            1,
            11,
            0,
            Act::Reply {
                from: "Fred Jones <fred@fredsbooks.example>",
                to: Intro(1),
                headers: "",
                body: "Thanks Alice!\n\nSally, great to e-meet you. I'm free Thursday morning if you'd like to talk payroll.\n\nFred\n",
            },
        ),
        (
            2,
            12,
            30,
            Act::Reply {
                from: "Carol White <carol.white@whitelogistics.example>",
                // Her out-of-office answering the thread (Alice offered a time, so she gets
                // no follow-up).
                to: Intro(2),
                headers: "Auto-Submitted: auto-replied\r\n",
                body: "I'm out of the office until Monday 9 November with limited access to email.\n",
            },
        ),
        (
            3,
            9,
            15,
            Act::Reply {
                from: "Gus Okafor <gus@okaforlegal.example>",
                to: Ours(3, FollowUp, "gus@okaforlegal.example"),
                headers: "",
                body: "STOP\n\nGus\n",
            },
        ),
        (
            14,
            16,
            40,
            Act::Reply {
                from: "Sally Lee <sally@leedesign.example>",
                to: Ours(1, FeedbackRequest, "sally@leedesign.example"),
                headers: "",
                body: "5 - we signed! Fred starts on our payroll in December, about £2,400 a year.\n\nThank you so much for this, Alice.\n\nSally\n",
            },
        ),
        (
            15,
            9,
            5,
            Act::Reply {
                from: "Carol White <carol.white@whitelogistics.example>",
                to: Ours(2, FeedbackRequest, "carol.white@whitelogistics.example"),
                headers: "",
                body: "4/5. We met twice and Alice has sent a proposal, which we're reviewing now.\n\nCarol\n",
            },
        ),
        (
            16,
            14,
            20,
            Act::Reply {
                from: "Ed Ng <ed@ngarchitects.example>",
                to: Ours(3, FeedbackRequest, "ed@ngarchitects.example"),
                headers: "",
                body: "Excellent. We had coffee with Fay last week and have already sorted the site access plan.\n\nEd\n",
            },
        ),
    ]
}

/// Runs the demo in `dir` and prints the story.
pub async fn run(dir: &Path) -> Result<()> {
    prepare(dir)?;
    let config_path = dir.join("referrald.toml");
    std::fs::write(&config_path, CONFIG)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let config = Config::load(&config_path)?;
    let store = outbox::shared(Store::open(&config.store_path())?);
    let composer = Composer::new(&config)?;
    let transport = FileTransport::new(config.outbox_dir());
    // One connection, so the story is told in the same order every time.
    let outbox = Outbox::new(store.clone(), &config, composer, Box::new(transport), 1);
    let tz = config.owner.timezone;
    let start = local(
        tz,
        NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default(),
        0,
        0,
    );

    println!("referrald demo: three weeks of referrals for Alice Smith, simulated in a moment.");
    println!(
        "Everything is written to {}; no mail leaves this machine.",
        dir.display()
    );

    let mut printer = Story {
        tz,
        last_event: 0,
        day: None,
    };
    let mut notices = 0;
    let mut script = script().into_iter().peekable();
    for day in 0..=21u32 {
        let date = start.with_timezone(&tz).date_naive() + TimeDelta::days(i64::from(day));
        // What happens that day, in order, with the daily 10:00 run of the outbox among it.
        let mut moments: Vec<(u32, u32, Option<Act>)> = vec![(10, 0, None)];
        while let Some((d, ..)) = script.peek() {
            if *d != day {
                break;
            }
            if let Some((_, h, m, act)) = script.next() {
                moments.push((h, m, Some(act)));
            }
        }
        moments.sort_by_key(|(h, m, _)| (*h, *m));
        for (h, m, act) in moments {
            let now = local(tz, date, h, m);
            if let Some(act) = act {
                let mut store = outbox::lock(&store);
                let messages = messages_for(&act, &store, now)?;
                store.ingest(&messages, &config, now)?;
            }
            // The daemon sends as soon as something is due; the demo runs the outbox after
            // every event and once each morning.
            let deliveries = outbox.deliver_due(Clock::At(now), None).await?;
            printer.print_new(&outbox::lock(&store))?;
            // Notices to the owner are no referral's story: said here, as they go.
            for d in deliveries.iter().filter(|d| notice_kind(d.kind).is_some()) {
                if d.result == DeliveryResult::Sent {
                    printer.print_notice(now, d.kind, &d.to.email);
                    notices += 1;
                }
            }
        }
    }
    summary(&outbox::lock(&store), &config, dir, notices)
}

/// Makes `dir` ready: created if missing, cleared if a previous demo left it, refused if it
/// holds anything else.
fn prepare(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .peekable();
        let empty = entries.peek().is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                bail!(
                    "{} is not empty and was not made by `referrald demo`; pass another folder",
                    dir.display()
                );
            }
            for name in [
                "referrald.db",
                "referrald.db-wal",
                "referrald.db-shm",
                "referrald.db-outbox.lock",
            ] {
                let path = dir.join(name);
                if path.exists() {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                }
            }
            let outbox = dir.join("outbox");
            if outbox.exists() {
                std::fs::remove_dir_all(&outbox)
                    .with_context(|| format!("cannot remove {}", outbox.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "made by `referrald demo`; safe to delete\n",
    )
    .with_context(|| format!("cannot write in {}", dir.display()))?;
    Ok(())
}

/// The raw messages an act delivers to the tracking mailbox.
fn messages_for(act: &Act, store: &Store, now: DateTime<Utc>) -> Result<Vec<RawMessage>> {
    match act {
        Act::Introductions => Ok(INTROS
            .iter()
            .map(|(name, bytes)| RawMessage {
                origin: format!("demo/{name}"),
                bytes: bytes.to_vec(),
                arrived_at: None,
            })
            .collect()),
        Act::Reply {
            from,
            to,
            headers,
            body,
        } => {
            let (referral, parent) = match to {
                InReplyTo::Intro(r) => (*r, None),
                InReplyTo::Ours(r, kind, email) => (*r, Some((*kind, *email))),
            };
            let detail = store
                .referral(referral)?
                .with_context(|| format!("the demo has no referral #{referral}"))?;
            let parent_id = match parent {
                None => store.thread_root(referral)?,
                Some((kind, email)) => detail
                    .outbound
                    .iter()
                    .find(|o| o.kind == kind && o.to == email)
                    .map(|o| o.message_id.clone())
                    .with_context(|| format!("the demo expected a {kind} to {email}"))?,
            };
            // Stamped as the tracking domain's receiving server stamps genuine mail.
            let domain = from
                .rsplit_once('@')
                .map_or("", |(_, d)| d.trim_end_matches('>'));
            let mut raw = String::new();
            let _ = write!(
                raw,
                "Authentication-Results: mx.tracker.example.org;\r\n\tdkim=pass header.d={domain} header.s=mail;\r\n\
                 \tspf=pass smtp.mailfrom={domain};\r\n\tdmarc=pass (p=none) header.from={domain}\r\n\
                 From: {from}\r\nTo: intros@tracker.example.org\r\nSubject: Re: {subject}\r\n\
                 Date: {date}\r\nMessage-ID: <demo.{stamp}@mail.example>\r\n\
                 In-Reply-To: <{parent_id}>\r\nReferences: <{parent_id}>\r\n{headers}\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n{body}",
                subject = detail.referral.subject,
                date = now.to_rfc2822(),
                stamp = now.timestamp(),
            );
            Ok(vec![RawMessage {
                origin: format!("reply from {from}"),
                bytes: raw.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes(),
                arrived_at: None,
            }])
        }
    }
}

/// Prints the store's new events, grouped by day, as they happen.
struct Story {
    tz: Tz,
    last_event: i64,
    day: Option<NaiveDate>,
}

impl Story {
    fn print_new(&mut self, store: &Store) -> Result<()> {
        for line in store.events_after(self.last_event)? {
            self.last_event = line.id;
            self.print(&line);
        }
        Ok(())
    }

    fn day(&mut self, at: DateTime<Tz>) {
        if self.day != Some(at.date_naive()) {
            self.day = Some(at.date_naive());
            println!();
            println!("{}", at.format("%A %-d %B"));
        }
    }

    /// A notice to the owner (the weekly digest, a held report's note, a command's
    /// answer), sent at `at` to `to`.
    fn print_notice(&mut self, at: DateTime<Utc>, kind: &str, to: &str) {
        let at = at.with_timezone(&self.tz);
        self.day(at);
        let why = match kind {
            NOTICE_DIGEST => "  (your week in referrals)",
            NOTICE_HELD_REPORT => "  (a report waits for your send or skip)",
            NOTICE_COMMAND_REPLY => "  (the answer to your command)",
            _ => "",
        };
        println!(
            "  {}  {:<10} {:<3} {kind} to {to}{why}",
            at.format("%H:%M"),
            "sent",
            ""
        );
    }

    fn print(&mut self, line: &StoryLine) {
        let at = line.at.with_timezone(&self.tz);
        self.day(at);
        let referral = line.referral.map(|r| format!("#{r}")).unwrap_or_default();
        let why = if line.kind == "sent" {
            why(&line.detail)
        } else {
            ""
        };
        println!(
            "  {}  {:<10} {:<3} {}{why}",
            at.format("%H:%M"),
            line.kind,
            referral,
            line.detail
        );
    }
}

/// Why a message of the plan is sent, for the story.
fn why(detail: &str) -> &'static str {
    let kind = detail
        .split_whitespace()
        .next()
        .and_then(|k| k.parse::<OutboundKind>().ok());
    match kind {
        Some(OutboundKind::ThankYou) => "  (thanks for the introduction)",
        Some(OutboundKind::OwnerNudge) => "  (you have not replied to this referral yet)",
        Some(OutboundKind::FollowUp) => "  (did you two connect?)",
        Some(OutboundKind::FeedbackRequest) => "  (how did it go?)",
        Some(OutboundKind::FeedbackReminder) => "  (one reminder, no answer yet)",
        Some(OutboundKind::OutcomeReport) => "  (what the parties said)",
        None => "",
    }
}

fn summary(store: &Store, config: &Config, dir: &Path, notices: usize) -> Result<()> {
    let referrals = store.referrals(None)?;
    let outbox = store.outbox()?;
    let sent = outbox
        .iter()
        .filter(|o| o.state == crate::model::OutboundState::Sent)
        .count();
    println!();
    println!("After three weeks:");
    for r in referrals.iter().rev() {
        println!("  #{} {:<12} {}", r.id, r.status.as_str(), r.subject);
    }
    let emails = count_eml(&config.outbox_dir());
    println!();
    println!(
        "{} emails sent ({sent} about the referrals, {notices} to you alone); {emails} .eml files are in {}.",
        sent + notices,
        config.outbox_dir().display()
    );
    let cfg = dir.join("referrald.toml");
    println!("Look around:");
    println!("  referrald --config {} referrals", cfg.display());
    println!("  referrald --config {} show 1", cfg.display());
    println!("  referrald --config {} outbox", cfg.display());
    println!();
    println!("Or in a browser: the referrals, their stories and a chart:");
    println!("  referrald --config {} serve", cfg.display());
    println!("  then open http://{}/", config.web.listen);
    Ok(())
}

fn count_eml(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

/// A wall-clock time in the owner's timezone.
fn local(tz: Tz, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let time = chrono::NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
    crate::planner::local_instant(tz, date, time)
}
