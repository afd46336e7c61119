//! Applying the owner's commands by email, and the notices queue that answers them.
//!
//! A command is decided by [`commands::decide`] (pure), carried out here in the ingest
//! transaction, and answered by one notice: a row of `notices`, mail to the owner that is no
//! part of any referral's plan. The outbox delivers notices beside the planned mail, with the
//! same claim → send → record life; a weekly digest or any other mail to the owner is one more
//! notice kind (a template and the facts it reads), not a second queue or send loop.

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::composer::{NOTICE_COMMAND_REPLY, Notice};
use crate::config::Config;
use crate::intake::commands::{self, Decision, Line, Target};
use crate::intake::{Classified, OwnerCommand, Reading};
use crate::model::{Outcome, Person, ReferralId, ReferralStatus, format_amount, has_minor_units};
use crate::outbox::DeliveryResult;
use crate::planner::{self, Rules, span};

use super::limits::{MAX_COMMENT, MAX_SUBJECT};
use super::outbound::{domain_of, random_part};
use super::plan::{load_snapshot, replan, rules};
use super::record::{
    event, record_feedback, referral_status, set_status, stored_text, upsert_contact,
};
use super::{Store, parse_ts, parse_word, ts};

/// Row id of a notice.
pub type NoticeId = i64;

/// At most this many answers to the owner's commands an hour: past it, commands are recorded
/// but not answered, so that a mail loop through the owner's mailbox (a forwarding rule that
/// sends our answers back) ends within the hour whatever else let it through.
const MAX_ANSWERS_PER_HOUR: i64 = 20;

/// A `status` lists at most this many referrals (the most recent); the answer says so.
const MAX_LISTED: usize = 30;

/// What is waiting per referral in a `status`: at most this many messages.
const MAX_WAITING: i64 = 10;

/// A notice claimed for sending: `sending`, its attempt counted.
#[derive(Debug, Clone)]
pub struct DueNotice {
    /// Its row.
    pub id: NoticeId,
    /// How many attempts, this one included.
    pub attempts: i64,
    /// What to compose.
    pub notice: Notice,
}

/// Carries out the owner's command and queues its one answer. Returns the referral it acted
/// on, if any.
pub(super) fn record_command(
    conn: &Connection,
    command: &OwnerCommand,
    c: &Classified,
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Option<ReferralId>> {
    let cause = Some(c.message_id.as_str());
    let target = match command.referral() {
        Some(id) => target(conn, id)?,
        None => None,
    };
    let decision = match &command.line {
        Line::Command { command: what, .. } => {
            commands::decide(what, command.named, target.as_ref(), now)
        }
        Line::Invalid { word, why } => Decision::Help {
            why: Some(format!("{word}: {why}")),
        },
        Line::NotACommand => Decision::Help {
            why: Some(format!("\"{}\" is not a command", command.written)),
        },
    };
    let by = By {
        owner: &command.owner,
        written: &command.written,
        cause: &c.message_id,
        how: "by email",
        named: match &command.line {
            Line::Command { referral, .. } => *referral,
            _ => None,
        },
        references: &command.references,
    };
    let (answer, mut facts) = apply(conn, &decision, &by, config, rules, now)?;
    // `send #6` names a held message, not referral #6: it acts on the held one's referral.
    let referral = match decision {
        Decision::Held { .. } => facts
            .get("referral")
            .and_then(|r| r.get("id"))
            .and_then(Value::as_i64),
        _ => target.as_ref().map(|t| t.id),
    };
    let answered: i64 = conn.query_row(
        "SELECT count(*) FROM notices WHERE kind = ?1 AND created_at > ?2",
        params![NOTICE_COMMAND_REPLY, ts(now - TimeDelta::hours(1))],
        |r| r.get(0),
    )?;
    let detail = format!("the owner's command {:?}: {answer}", command.written);
    event(conn, referral, now, "command", &detail, cause)?;
    if answered >= MAX_ANSWERS_PER_HOUR {
        tracing::warn!(
            "more than {MAX_ANSWERS_PER_HOUR} commands in an hour: {:?} is not answered",
            command.written
        );
        return Ok(referral);
    }
    facts["answer"] = json!(answer);
    facts["command"] = json!(command.written);
    facts["help"] = json!(commands::help_lines());
    if facts.get("referral").is_none() {
        facts["referral"] = match referral {
            Some(id) => summary(conn, id, config, now)?,
            None => Value::Null,
        };
    }
    for key in ["why", "until", "amount", "note", "referrals", "held"] {
        if facts.get(key).is_none() {
            facts[key] = Value::Null;
        }
    }
    queue(
        conn,
        &Notice {
            kind: NOTICE_COMMAND_REPLY,
            message_id: String::new(),
            to: command.owner.clone(),
            subject: stored_text(conn, &c.subject, MAX_SUBJECT)?,
            references: command.references.clone(),
            facts,
        },
        referral,
        &config.tracking.address,
        now,
    )?;
    Ok(referral)
}

/// What is known of referral `id`, if it exists.
fn target(conn: &Connection, id: ReferralId) -> Result<Option<Target>> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT status, paused_until FROM referrals WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((status, paused)) = row else {
        return Ok(None);
    };
    Ok(Some(Target {
        id,
        status: parse_word(&status)?,
        paused_until: paused.map(|t| parse_ts(&t)).transpose()?,
    }))
}

/// Who gave a command, in what words, and the id its changes are recorded under (the
/// command's Message-ID by email; a made-up one from the web page).
struct By<'a> {
    owner: &'a Person,
    written: &'a str,
    cause: &'a str,
    how: &'a str,
    /// The `#ID` the command's line named, if any (for `send #6`: a held message's).
    named: Option<i64>,
    /// The References of the mail it came in, to find the notice it answers (none from
    /// the web page).
    references: &'a [String],
}

/// What the owner can do to one referral from elsewhere than email (the web page): the
/// same commands, decided by [`commands::decide`] and carried out as by email.
impl Store {
    /// Carries out `command` on referral `id` for the owner, who wrote it as `written`
    /// ("cancel", "won 3000 EUR"); returns the answer's word ("cancelled", "unchanged"…)
    /// and why nothing changed, when nothing did.
    pub fn owner_command(
        &mut self,
        id: ReferralId,
        command: &commands::Command,
        written: &str,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<(&'static str, Option<String>)> {
        let tx = self.conn.transaction()?;
        let target = target(&tx, id)?;
        let decision = commands::decide(command, Some(id), target.as_ref(), now);
        let owner = Person {
            email: config.owner.emails.first().cloned().unwrap_or_default(),
            name: config.owner.name.clone(),
        };
        let cause = format!("web-{:x}@{}", random_part(), config.tracking.domain());
        let by = By {
            owner: &owner,
            written,
            cause: &cause,
            how: "on the web page",
            named: None,
            references: &[],
        };
        let rules = super::plan::rules(config);
        let (answer, facts) = apply(&tx, &decision, &by, config, &rules, now)?;
        let why = facts.get("why").and_then(Value::as_str).map(str::to_string);
        let referral = target.map(|t| t.id);
        let detail = format!("the owner's command {written:?} on the web page: {answer}");
        event(&tx, referral, now, "command", &detail, None)?;
        tx.commit()?;
        Ok((answer, why))
    }
}

/// Carries out a decision; returns the answer's word for the template and its facts.
fn apply(
    conn: &Connection,
    decision: &Decision,
    by: &By,
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<(&'static str, Value)> {
    let tracking = &config.tracking.address;
    let tz = config.owner.timezone;
    let cause = Some(by.cause);
    Ok(match decision {
        Decision::Help { why } => ("help", json!({ "why": why })),
        Decision::Status(Some(id)) => (
            "status",
            json!({ "referral": summary(conn, *id, config, now)? }),
        ),
        Decision::Status(None) => {
            // Introductions recorded as history wait for nothing: years of them would bury
            // the referrals that do.
            let open: Vec<ReferralId> = conn
                .prepare_cached(
                    "SELECT id FROM referrals WHERE status IN ('open', 'connected', 'stalled')
                         AND history = 0
                     ORDER BY id DESC LIMIT ?1",
                )?
                .query_map([MAX_LISTED as i64 + 1], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let more = open.len() > MAX_LISTED;
            let mut list = Vec::new();
            for id in open.iter().take(MAX_LISTED).rev() {
                list.push(summary(conn, *id, config, now)?);
            }
            (
                "status",
                json!({ "referrals": list, "more": more, "referral": Value::Null }),
            )
        }
        Decision::Unchanged { why, .. } => ("unchanged", json!({ "why": why })),
        Decision::Cancel(id) => {
            set_status(
                conn,
                *id,
                ReferralStatus::Cancelled,
                now,
                "cancelled by the owner by email",
                cause,
            )?;
            // The planner cancels every scheduled message of a cancelled referral.
            replan(conn, *id, tracking, rules, now)?;
            ("cancelled", json!({}))
        }
        Decision::Pause { referral, until } => {
            let held = until.unwrap_or_else(|| commands::until_resumed(now));
            conn.execute(
                "UPDATE referrals SET paused_until = ?2 WHERE id = ?1",
                params![referral, ts(held)],
            )?;
            let when = until.map(|t| local(t, tz));
            let detail = match &when {
                Some(t) => format!("paused by the owner until {t}"),
                None => "paused by the owner until resumed".to_string(),
            };
            event(conn, Some(*referral), now, "paused", &detail, cause)?;
            ("paused", json!({ "until": when }))
        }
        Decision::Resume(id) => {
            conn.execute(
                "UPDATE referrals SET paused_until = NULL WHERE id = ?1",
                [id],
            )?;
            event(
                conn,
                Some(*id),
                now,
                "resumed",
                "resumed by the owner",
                cause,
            )?;
            replan(conn, *id, tracking, rules, now)?;
            ("resumed", json!({}))
        }
        Decision::Outcome {
            referral,
            won,
            value,
            currency,
        } => {
            let owner = owner_in(conn, *referral, by.owner)?;
            upsert_contact(conn, &owner)?;
            let reading = Reading {
                rating: None,
                outcome: Some(if *won { Outcome::Won } else { Outcome::Lost }),
                value: *value,
                currency: currency.clone(),
                comment: stored_text(
                    conn,
                    &format!("(the owner, {}: {})", by.how, by.written),
                    MAX_COMMENT,
                )?,
            };
            record_feedback(conn, *referral, &owner, &reading, now, by.cause)?;
            // The owner's word is theirs to pass on: no outcome report carries it.
            conn.execute(
                "UPDATE feedback SET reported_at = ?2 WHERE message_id = ?1 AND reported_at IS NULL",
                params![by.cause, ts(now)],
            )?;
            // A win by a party and a loss by the owner: the owner's word on their own deal.
            if !*won && referral_status(conn, *referral)? == ReferralStatus::Succeeded {
                set_status(
                    conn,
                    *referral,
                    ReferralStatus::Unsuccessful,
                    now,
                    "the owner says it was lost",
                    cause,
                )?;
            }
            replan(conn, *referral, tracking, rules, now)?;
            let amount = value.and_then(|v| {
                let n = format_amount(v, has_minor_units(currency.as_deref()))?;
                Some(match currency {
                    Some(c) => format!("{n} {c}"),
                    None => n,
                })
            });
            (
                if *won { "won" } else { "lost" },
                json!({ "amount": amount }),
            )
        }
        Decision::Held { send } => held(conn, *send, by, config, now, cause)?,
        Decision::Note { referral, text } => {
            let text = stored_text(conn, text, MAX_COMMENT)?;
            event(conn, Some(*referral), now, "note", &text, cause)?;
            ("noted", json!({ "note": text }))
        }
    })
}

/// `send`/`skip`: the held message the line names by its outbox id (`send #6`), else the one
/// the notice she replied to is about, sent or skipped; the answer says which, or why not.
fn held(
    conn: &Connection,
    send: bool,
    by: &By,
    config: &Config,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<(&'static str, Value)> {
    let word = if send { "send" } else { "skip" };
    let id = match by.named {
        Some(id) => Some(id),
        None => super::held::held_of_notice(conn, by.references)?,
    };
    let Some(id) = id else {
        return Ok((
            "help",
            json!({ "why": format!(
                "{word} needs a held report: reply \"{word}\" to my note about it, or write {word} #ID with the number in that note"
            ) }),
        ));
    };
    let decided = if send {
        super::held::release(conn, id, now, cause)
    } else {
        super::held::skip(conn, id, now, cause)
    };
    let decided = match decided {
        Ok(d) => d,
        // Not held (sent, skipped already, or no such message): nothing changes.
        Err(why) => return Ok(("unchanged", json!({ "why": format!("{why:#}") }))),
    };
    let to: String = conn
        .prepare_cached(
            "SELECT CASE WHEN p.name IS NULL OR p.name = '' THEN c.email ELSE p.name END
             FROM outbound o JOIN contacts c ON c.id = o.contact_id
             LEFT JOIN participants p ON p.referral_id = o.referral_id AND p.contact_id = o.contact_id
             WHERE o.id = ?1",
        )?
        .query_row([id], |r| r.get(0))?;
    Ok((
        if send { "released" } else { "skipped" },
        json!({
            "referral": summary(conn, decided.referral, config, now)?,
            "held": { "id": id, "kind": decided.kind.replace('_', " "), "to": to },
        }),
    ))
}

/// The owner as referral `referral` knows them (the address it recorded them under), else as
/// the command came.
fn owner_in(conn: &Connection, referral: ReferralId, from: &Person) -> Result<Person> {
    let known: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT c.email, p.name FROM participants p JOIN contacts c ON c.id = p.contact_id
             WHERE p.referral_id = ?1 AND p.is_owner = 1 ORDER BY p.position LIMIT 1",
        )?
        .query_row([referral], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match known {
        Some((email, name)) => Person { email, name },
        None => from.clone(),
    })
}

/// One referral as an answer shows it: id, subject, status, who, the pause, what is waiting.
pub(super) fn summary(
    conn: &Connection,
    id: ReferralId,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Value> {
    let tz = config.owner.timezone;
    let (subject, status, paused): (String, String, Option<String>) = conn
        .prepare_cached("SELECT subject, status, paused_until FROM referrals WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let people: Vec<(String, String, String, i64)> = conn
        .prepare_cached(
            "SELECT p.role, CASE WHEN p.name = '' THEN c.email ELSE p.name END, p.state,
                 p.contact_id
             FROM participants p JOIN contacts c ON c.id = p.contact_id
             WHERE p.referral_id = ?1 ORDER BY p.position",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let introducer = people
        .iter()
        .find(|(role, ..)| role == "introducer")
        .map(|(_, name, ..)| name.clone())
        .unwrap_or_default();
    let parties: Vec<&String> = people
        .iter()
        .filter(|(role, ..)| role == "party")
        .map(|(_, name, ..)| name)
        .collect();
    // What is waiting: the messages made and not yet gone, then what the plan will make.
    let mut waiting: Vec<(String, String, DateTime<Utc>)> = conn
        .prepare_cached(
            "SELECT o.kind, CASE WHEN p.name IS NULL OR p.name = '' THEN c.email ELSE p.name END,
                 o.due_at
             FROM outbound o JOIN contacts c ON c.id = o.contact_id
             LEFT JOIN participants p ON p.referral_id = o.referral_id AND p.contact_id = o.contact_id
             WHERE o.referral_id = ?1 AND o.state IN ('scheduled', 'sending')
             ORDER BY o.due_at, o.id LIMIT ?2",
        )?
        .query_map(params![id, MAX_WAITING], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                parse_ts(&r.get::<_, String>(2)?)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // The plan writes only to participants, named as above.
    let snapshot = load_snapshot(conn, id)?;
    for f in planner::forecast(&snapshot, &rules(config), now) {
        let to = people
            .iter()
            .find(|(.., contact)| *contact == f.to)
            .map(|(_, name, ..)| name.clone())
            .unwrap_or_default();
        waiting.push((f.kind.as_str().to_string(), to, f.due_at));
    }
    let limit = usize::try_from(MAX_WAITING).unwrap_or(usize::MAX);
    let waiting: Vec<Value> = waiting
        .into_iter()
        .take(limit)
        .map(|(kind, to, due)| {
            json!({
                "kind": kind.replace('_', " "),
                "to": to,
                "due": local(due, tz),
            })
        })
        .collect();
    let paused = paused
        .map(|t| parse_ts(&t))
        .transpose()?
        .filter(|t| *t > now && status != "cancelled");
    // "Until resumed" is a pause a hundred years long.
    let paused = paused.map(|t| {
        if t - now > TimeDelta::days(365 * 50) {
            "until you resume it".to_string()
        } else {
            format!("until {}", local(t, tz))
        }
    });
    Ok(json!({
        "id": id,
        "subject": subject,
        "status": status,
        "introducer": introducer,
        "parties": parties,
        "paused": paused,
        "waiting": waiting,
    }))
}

/// A time in the owner's timezone, as an answer writes it: "Mon 7 Dec 2026, 09:00".
fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// Queues a notice, due now; its Message-ID names its row.
pub(super) fn queue(
    conn: &Connection,
    notice: &Notice,
    referral: Option<ReferralId>,
    tracking: &str,
    now: DateTime<Utc>,
) -> Result<NoticeId> {
    let id: NoticeId = conn
        .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM notices")?
        .query_row([], |r| r.get(0))?;
    let message_id = format!(
        "referrald.notice.{id:x}.{:012x}@{}",
        random_part(),
        domain_of(tracking)
    );
    conn.prepare_cached(
        "INSERT INTO notices (id, kind, to_email, to_name, referral_id, subject, facts,
             in_reply_to, references_, message_id, state, due_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'scheduled', ?11, ?11)",
    )?
    .execute(params![
        id,
        notice.kind,
        notice.to.email,
        notice.to.name,
        referral,
        notice.subject,
        notice.facts.to_string(),
        notice.references.last(),
        notice.references.join(" "),
        message_id,
        ts(now),
    ])?;
    Ok(id)
}

impl Store {
    /// The notices due by `now`, oldest first.
    pub fn notices_due(&self, now: DateTime<Utc>) -> Result<Vec<NoticeId>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM notices WHERE state = 'scheduled' AND due_at <= ?1 ORDER BY id",
            )?
            .query_map([ts(now)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Claims a notice for sending, as [`Store::claim`] does planned mail: `None` when it is
    /// no longer scheduled.
    pub fn claim_notice(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<Option<DueNotice>> {
        let tx = self.conn.transaction()?;
        let row = tx
            .prepare_cached(
                "UPDATE notices SET state = 'sending', attempts = attempts + 1,
                    first_attempt_at = coalesce(first_attempt_at, ?2)
                 WHERE id = ?1 AND state = 'scheduled'
                 RETURNING attempts, kind, to_email, to_name, subject, facts, references_, message_id",
            )?
            .query_row(params![id, ts(now)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .optional()?;
        tx.commit()?;
        let Some((attempts, kind, email, name, subject, facts, references, message_id)) = row
        else {
            return Ok(None);
        };
        let kind = crate::composer::notice_kind(&kind)
            .ok_or_else(|| anyhow::anyhow!("notice #{id} has an unknown kind {kind:?}"))?;
        Ok(Some(DueNotice {
            id,
            attempts,
            notice: Notice {
                kind,
                message_id,
                to: Person { email, name },
                subject,
                references: references.split_whitespace().map(str::to_string).collect(),
                facts: serde_json::from_str(&facts)?,
            },
        }))
    }

    /// Records what became of one attempt to send a notice: sent, retried after a backoff
    /// (until `give-up-after`), or failed.
    pub fn record_notice_delivery(
        &mut self,
        id: NoticeId,
        result: &DeliveryResult,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (attempts, first): (i64, Option<String>) = self.conn.query_row(
            "SELECT attempts, first_attempt_at FROM notices WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let out = &config.outbound;
        let first = first.map(|t| parse_ts(&t)).transpose()?.unwrap_or(now);
        let failed = |error: &str| {
            self.conn.execute(
                "UPDATE notices SET state = 'failed', last_error = ?2 WHERE id = ?1",
                params![id, error],
            )
        };
        match result {
            DeliveryResult::Sent => {
                self.conn.execute(
                    "UPDATE notices SET state = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1",
                    params![id, ts(now)],
                )?;
            }
            DeliveryResult::Retry(e) if now - first < span(out.give_up_after) => {
                let exponent = u32::try_from(attempts.saturating_sub(1))
                    .unwrap_or(u32::MAX)
                    .min(20);
                let wait = out
                    .retry_initial
                    .saturating_mul(2u32.saturating_pow(exponent))
                    .min(out.retry_max);
                self.conn.execute(
                    "UPDATE notices SET state = 'scheduled', due_at = ?2, last_error = ?3 WHERE id = ?1",
                    params![id, ts(now + span(wait)), e],
                )?;
            }
            DeliveryResult::Retry(e)
            | DeliveryResult::Failed(e)
            | DeliveryResult::Refused(_, e) => {
                failed(e)?;
            }
        }
        Ok(())
    }
}
