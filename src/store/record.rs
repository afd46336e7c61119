//! Writing to the store: recording classified messages, applying the planner's steps, and the
//! outbox's bookkeeping (claim, sent, retry, failed). Every change to a referral leaves an
//! event with its time and cause.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::composer::{Draft, FeedbackSummary, ReferralSummary};
use crate::config::Config;
use crate::intake::options::{Delay, Options};
use crate::intake::{
    self, Bounce, Classified, IgnoreReason, Introduction, OwnerNote, Reading, Verdict,
    normalize_subject,
};
use crate::model::{
    OutboundId, OutboundKind, OutboundState, Outcome, PartyState, Person, ReferralId,
    ReferralStatus, Role, join_names, strip_plus_detail,
};
use crate::outbox::DeliveryResult;
use crate::planner::{
    self, Answer, ContactId, OwnerWrote, Participant, Planned, Rules, Snapshot, Step, span,
};
use crate::source::RawMessage;
use crate::transport::Recipient;

use super::forget::address_hash;
use super::limits::{
    MAX_COMMENT, MAX_DETAIL, MAX_NAME, MAX_RAW, MAX_REASON, MAX_SUBJECT, Scrub, cap,
};
use super::{Store, StoreView, parse_ts, parse_word, ts};

/// What became of one ingested message.
#[derive(Debug)]
pub struct Applied {
    /// Where it came from (a path, "stdin", an IMAP uid).
    pub origin: String,
    /// The verdict, or why the message could not be recorded (it is then kept in `rejected`).
    pub result: Result<Recorded, String>,
}

/// A message recorded in the store.
#[derive(Debug)]
pub struct Recorded {
    /// What intake made of it.
    pub classified: Classified,
    /// The referral it created or touched.
    pub referral: Option<ReferralId>,
}

/// An outbound message claimed for sending: its state is `sending` and its attempt counted.
#[derive(Debug, Clone)]
pub struct DueMessage {
    /// Its row.
    pub id: OutboundId,
    /// How many attempts, this one included.
    pub attempts: i64,
    /// What to compose.
    pub draft: Draft,
}

impl Store {
    /// A read-only view for classification against what is stored.
    pub fn view(&self) -> StoreView<'_> {
        StoreView::new(&self.conn)
    }

    /// Classifies and records `messages`, all in one transaction. A message that cannot be
    /// recorded is kept whole in `rejected` with the reason, and the rest go on.
    ///
    /// Recording failures are rare (they mean a bug or a broken database, not bad mail), so
    /// the batch is tried optimistically in one transaction; if any message fails, the batch
    /// is rolled back and replayed one message per transaction, which isolates the failure.
    /// That keeps the common path free of per-message savepoints, a third of its cost.
    pub fn ingest(
        &mut self,
        messages: &[RawMessage],
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Vec<Applied>> {
        let rules = rules(config);
        let tx = self.conn.transaction()?;
        let mut applied = Vec::with_capacity(messages.len());
        let mut failed = false;
        for message in messages {
            let classified = intake::classify(&message.bytes, &StoreView::new(&tx), config, now);
            match record(&tx, &classified, message, config, &rules, now) {
                Ok(referral) => applied.push(Applied {
                    origin: message.origin.clone(),
                    result: Ok(Recorded {
                        classified,
                        referral,
                    }),
                }),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if !failed {
            tx.commit().context("cannot commit ingested messages")?;
            return Ok(applied);
        }
        tx.rollback()?;
        messages
            .iter()
            .map(|message| self.ingest_one(message, config, &rules, now))
            .collect()
    }

    /// Classifies and records one message in its own transaction; if recording fails, the
    /// message is kept in `rejected` instead.
    fn ingest_one(
        &mut self,
        message: &RawMessage,
        config: &Config,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Applied> {
        let tx = self.conn.transaction()?;
        let classified = intake::classify(&message.bytes, &StoreView::new(&tx), config, now);
        let result = match record(&tx, &classified, message, config, rules, now) {
            Ok(referral) => {
                tx.commit().context("cannot commit an ingested message")?;
                Ok(Recorded {
                    classified,
                    referral,
                })
            }
            Err(e) => {
                tx.rollback()?;
                let reason = format!("{e:#}");
                tracing::error!("{}: cannot record message: {reason}", message.origin);
                reject(&self.conn, &message.origin, &reason, &message.bytes, now)?;
                Err(reason)
            }
        };
        Ok(Applied {
            origin: message.origin.clone(),
            result,
        })
    }

    /// Records one message already classified, in its own transaction.
    pub fn record(
        &mut self,
        classified: &Classified,
        message: &RawMessage,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Option<ReferralId>> {
        let tx = self.conn.transaction()?;
        let referral = record(&tx, classified, message, config, &rules(config), now)?;
        tx.commit()?;
        Ok(referral)
    }

    /// Plans every referral with something due by `now` and claims the messages that may go
    /// now — at most what `max-per-hour` still allows — by moving them to `sending` and
    /// counting the attempt before it is made.
    pub fn claim_due(&mut self, config: &Config, now: DateTime<Utc>) -> Result<Vec<DueMessage>> {
        let sendable = self.plan_due(config, now)?;
        self.claim(&sendable, now)
    }

    /// Plans every referral with something due by `now` (cancelling, postponing, marking
    /// stalled) and returns the messages that may go now, at most what `max-per-hour` still
    /// allows. They stay `scheduled` until [`Store::claim`]ed, so a sender can claim them one
    /// at a time and a crash leaves only the messages actually in flight in doubt.
    pub fn plan_due(&mut self, config: &Config, now: DateTime<Utc>) -> Result<Vec<OutboundId>> {
        let rules = rules(config);
        let tx = self.conn.transaction()?;
        let hour_ago = ts(now - TimeDelta::hours(1));
        let used: i64 = tx.query_row(
            "SELECT count(*) FROM outbound WHERE state = 'sending' OR (state = 'sent' AND sent_at > ?1)",
            [hour_ago],
            |r| r.get(0),
        )?;
        let allowed = usize::try_from(i64::from(config.schedule.max_per_hour) - used).unwrap_or(0);
        // Open referrals whose plan has run out and whose last message has waited as long as
        // the planner gives an answer: the only ones that may have stalled.
        let quiet_since = ts(now - crate::planner::span(config.schedule.reminder_after));
        let stalling: Vec<ReferralId> = {
            let mut stmt = tx.prepare_cached(
                "SELECT r.id FROM referrals r WHERE r.status = 'open'
                   AND (r.paused_until IS NULL OR r.paused_until <= ?1)
                   AND NOT EXISTS (SELECT 1 FROM outbound o WHERE o.referral_id = r.id
                       AND o.state IN ('scheduled', 'sending'))
                   AND (SELECT max(o.sent_at) FROM outbound o WHERE o.referral_id = r.id) <= ?2",
            )?;
            stmt.query_map(params![ts(now), quiet_since], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for referral in stalling {
            replan(&tx, referral, &config.tracking.address, &rules, now)?;
        }
        // Referrals with a message due, the longest waiting first. Only as many are planned
        // as max-per-hour still lets go: the rest keep their place for the next round, so a
        // backlog costs each round the messages it sends, not everything pending.
        let due: Vec<ReferralId> = {
            let mut stmt = tx.prepare_cached(
                "SELECT o.referral_id FROM outbound o JOIN referrals r ON r.id = o.referral_id
                 WHERE o.state = 'scheduled' AND o.due_at <= ?1
                   AND (r.paused_until IS NULL OR r.paused_until <= ?1)
                 GROUP BY o.referral_id ORDER BY min(o.due_at), o.referral_id",
            )?;
            stmt.query_map([ts(now)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut sendable = Vec::new();
        let mut planned = 0;
        for &referral in &due {
            if sendable.len() >= allowed {
                break;
            }
            sendable.extend(replan(
                &tx,
                referral,
                &config.tracking.address,
                &rules,
                now,
            )?);
            planned += 1;
        }
        if sendable.len() > allowed || planned < due.len() {
            tracing::info!(
                "max-per-hour reached: mail for {} referral(s) waits for the next hour",
                due.len() - planned + usize::from(sendable.len() > allowed)
            );
            sendable.truncate(allowed);
        }
        // Bad news held for the owner: she is told, once, and her reply decides.
        super::held::notify_held(&tx, config, now)?;
        tx.commit()?;
        Ok(sendable)
    }

    /// Claims planned messages for sending: each still `scheduled` moves to `sending` with
    /// its attempt counted before it is made, and comes back with its draft. Messages no
    /// longer scheduled (cancelled or claimed meanwhile) are left out.
    pub fn claim(&mut self, ids: &[OutboundId], now: DateTime<Utc>) -> Result<Vec<DueMessage>> {
        let tx = self.conn.transaction()?;
        let mut claimed = Vec::with_capacity(ids.len());
        for &id in ids {
            let attempts: Option<i64> = tx
                .prepare_cached(
                    "UPDATE outbound SET state = 'sending', attempts = attempts + 1,
                        first_attempt_at = coalesce(first_attempt_at, ?2)
                     WHERE id = ?1 AND state = 'scheduled' RETURNING attempts",
                )?
                .query_row(params![id, ts(now)], |r| r.get(0))
                .optional()?;
            if let Some(attempts) = attempts {
                claimed.push(DueMessage {
                    id,
                    attempts,
                    draft: load_draft(&tx, id)?,
                });
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Records what became of one attempt to send: the one way an outcome is written, so
    /// every outcome is treated alike whichever command sent.
    pub fn record_delivery(
        &mut self,
        id: OutboundId,
        result: &DeliveryResult,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<()> {
        match result {
            DeliveryResult::Sent => self.mark_sent(id, config, now),
            DeliveryResult::Retry(e) => self.mark_retry(id, e, config, now),
            DeliveryResult::Failed(e) => self.mark_failed(id, e, now),
            DeliveryResult::Refused(recipient, e) => {
                self.mark_refused(id, *recipient, e, config, now)
            }
        }
    }

    /// The transport accepted the message.
    pub fn mark_sent(&mut self, id: OutboundId, config: &Config, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.transaction()?;
        let (referral, kind, to): (ReferralId, String, String) = tx.query_row(
            "UPDATE outbound SET state = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1
             RETURNING referral_id, kind, (SELECT email FROM contacts WHERE id = contact_id)",
            params![id, ts(now)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        // Accepted: earlier refusals were not "in a row".
        tx.prepare_cached(
            "UPDATE contacts SET refusals = 0
             WHERE id = (SELECT contact_id FROM outbound WHERE id = ?1) AND refusals > 0",
        )?
        .execute([id])?;
        event(
            &tx,
            Some(referral),
            now,
            "sent",
            &format!("{kind} to {to}"),
            None,
        )?;
        if kind == OutboundKind::OutcomeReport.as_str() {
            tx.execute(
                "UPDATE feedback SET reported_at = ?2
                 WHERE referral_id = ?1 AND reported_at IS NULL AND at <= ?2",
                params![referral, ts(now)],
            )?;
        }
        // Sending a feedback request is what makes its reminder due: plan it now, so the
        // outbox shows it. Anything else a send changes is planned when next due.
        if kind == OutboundKind::FeedbackRequest.as_str() {
            replan(&tx, referral, &config.tracking.address, &rules(config), now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A temporary failure: try again after an exponential backoff, or give up once
    /// `give-up-after` has passed since the first attempt.
    pub fn mark_retry(
        &mut self,
        id: OutboundId,
        error: &str,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (attempts, first): (i64, Option<String>) = self.conn.query_row(
            "SELECT attempts, first_attempt_at FROM outbound WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let first = first.map(|t| parse_ts(&t)).transpose()?.unwrap_or(now);
        let out = &config.outbound;
        if now - first >= span(out.give_up_after) {
            let why = format!(
                "gave up after {attempts} attempts over {}: {error}",
                humantime::format_duration(out.give_up_after)
            );
            return self.mark_failed(id, &why, now);
        }
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(20);
        let wait = out
            .retry_initial
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(out.retry_max);
        self.conn.execute(
            "UPDATE outbound SET state = 'scheduled', due_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, ts(now + span(wait)), error],
        )?;
        Ok(())
    }

    /// A permanent failure: the message will not be sent.
    pub fn mark_failed(&mut self, id: OutboundId, error: &str, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.transaction()?;
        fail(&tx, id, error, now)?;
        tx.commit()?;
        Ok(())
    }

    /// The server refused the recipient for good. The message fails, and the refusal counts
    /// against the address: a dead one ([`Recipient::Dead`], "no such user"), or a second
    /// refusal in a row, marks the person bounced everywhere and cancels their pending mail,
    /// exactly as a delivery report does.
    pub fn mark_refused(
        &mut self,
        id: OutboundId,
        recipient: Recipient,
        error: &str,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let contact = fail(&tx, id, error, now)?;
        let refusals: i64 = tx.query_row(
            "UPDATE contacts SET refusals = refusals + 1 WHERE id = ?1 RETURNING refusals",
            [contact],
            |r| r.get(0),
        )?;
        let status = match recipient {
            Recipient::Dead => Some(format!("refused: {error}")),
            Recipient::Refused if refusals >= 2 => Some(format!(
                "undeliverable: refused {refusals} times in a row, last: {error}"
            )),
            Recipient::Refused => None,
        };
        if let Some(status) = status {
            let tracking = &config.tracking.address;
            bounce_contact(&tx, contact, &status, tracking, &rules(config), now, None)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// After a crash, messages left in `sending` may or may not have been accepted. They are
    /// sent again, with the same Message-ID: the one resend SPEC §7 allows, which a receiving
    /// server or mail client can recognise as the same message. Returns how many.
    pub fn recover_sending(&mut self, now: DateTime<Utc>) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let rows: Vec<(OutboundId, ReferralId)> = {
            let mut stmt = tx.prepare(
                "UPDATE outbound SET state = 'scheduled', due_at = min(due_at, ?1)
                 WHERE state = 'sending' RETURNING id, referral_id",
            )?;
            stmt.query_map([ts(now)], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        // A notice in flight goes again the same way.
        tx.execute(
            "UPDATE notices SET state = 'scheduled', due_at = min(due_at, ?1) WHERE state = 'sending'",
            [ts(now)],
        )?;
        for (id, referral) in &rows {
            event(
                &tx,
                Some(*referral),
                now,
                "resend",
                &format!(
                    "outbound #{id} was being sent when referrald stopped; it will be sent again with the same Message-ID"
                ),
                None,
            )?;
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// When the next scheduled message falls due, if any: a paused referral's mail when its
    /// pause ends, and notices to the owner too.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let t: Option<String> = self.conn.query_row(
            "SELECT min(t) FROM (
                 SELECT max(o.due_at, coalesce(r.paused_until, '')) AS t
                 FROM outbound o JOIN referrals r ON r.id = o.referral_id
                 WHERE o.state = 'scheduled'
                 UNION ALL
                 SELECT min(due_at) FROM notices WHERE state = 'scheduled')",
            [],
            |r| r.get(0),
        )?;
        Ok(t.map(|t| parse_ts(&t)).transpose()?)
    }
}

/// Marks an outbound message failed for good, with the story's event; returns the contact
/// it was for.
fn fail(conn: &Connection, id: OutboundId, error: &str, now: DateTime<Utc>) -> Result<ContactId> {
    let (referral, kind, contact, to): (ReferralId, String, ContactId, String) = conn.query_row(
        "UPDATE outbound SET state = 'failed', last_error = ?2 WHERE id = ?1
         RETURNING referral_id, kind, contact_id,
             (SELECT email FROM contacts WHERE id = contact_id)",
        params![id, error],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    event(
        conn,
        Some(referral),
        now,
        "failed",
        &format!("{kind} to {to} failed: {error}"),
        None,
    )?;
    Ok(contact)
}

pub(super) fn rules(config: &Config) -> Rules<'_> {
    Rules {
        schedule: &config.schedule,
        timezone: config.owner.timezone,
    }
}

/// Records one classified message; returns the referral it created or touched.
fn record(
    conn: &Connection,
    c: &Classified,
    message: &RawMessage,
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Option<ReferralId>> {
    let tracking = &config.tracking.address;
    let cause = Some(c.message_id.as_str());
    // Ingesting a message again changes nothing, whatever it is. The one exception: an
    // ignored message never shadows a genuine one with the same Message-ID, whose verdict
    // then replaces the ignored row.
    let before: Option<String> = conn
        .prepare_cached("SELECT kind FROM messages WHERE message_id = ?1")?
        .query_row([&c.message_id], |r| r.get(0))
        .optional()?;
    if before
        .as_deref()
        .is_some_and(|kind| kind != "ignored" || matches!(c.verdict, Verdict::Ignored(_)))
    {
        return Ok(None);
    }
    let referral = match &c.verdict {
        // Already recorded once: recording it again would be the mistake.
        Verdict::Duplicate => return Ok(None),
        Verdict::Ignored(reason) => {
            if let IgnoreReason::Unparseable(why) = reason {
                reject(conn, &message.origin, why, &message.bytes, now)?;
            }
            None
        }
        Verdict::Introduction(intro) => Some(record_introduction(
            conn,
            intro,
            &c.message_id,
            planner::introduced_at(c.date, message.arrived_at, now),
            config,
            rules,
            now,
        )?),
        Verdict::ThreadReply {
            referral,
            from,
            note,
        } => {
            responded(conn, *referral, from, now, cause)?;
            owner_wrote(conn, *referral, note, now, cause)?;
            replan(conn, *referral, tracking, rules, now)?;
            Some(*referral)
        }
        Verdict::Feedback {
            referral,
            from,
            reading,
        } => {
            record_feedback(conn, *referral, from, reading, now, &c.message_id)?;
            replan(conn, *referral, tracking, rules, now)?;
            Some(*referral)
        }
        // A forgotten address gets no mail already; writing it down again is what `forget`
        // undid.
        Verdict::OptOut { email, .. } if Scrub::new(conn).is_forgotten(email)? => None,
        Verdict::OptOut { email, referral } => {
            let name = c.from.as_ref().map(|p| p.name.as_str()).unwrap_or(email);
            let contact = upsert_contact(conn, &Person::new(email, Some(name)))?.id;
            conn.execute(
                "UPDATE contacts SET opted_out_at = coalesce(opted_out_at, ?2) WHERE id = ?1",
                params![contact, ts(now)],
            )?;
            let touched = set_state_everywhere(conn, contact, PartyState::OptedOut)?;
            let detail = format!("{email} asked not to be emailed again");
            if touched.is_empty() {
                event(conn, None, now, "opted_out", &detail, cause)?;
            }
            for r in &touched {
                event(conn, Some(*r), now, "opted_out", &detail, cause)?;
                replan(conn, *r, tracking, rules, now)?;
            }
            *referral
        }
        Verdict::Bounce(bounce) => {
            record_bounce(conn, bounce, tracking, rules, now, cause)?;
            bounce.referral
        }
        Verdict::Command(command) => {
            super::commands::record_command(conn, command, c, config, rules, now)?
        }
        Verdict::AutoReply { referral, away } => {
            if let Some(r) = referral {
                let who = c
                    .from
                    .as_ref()
                    .map(|p| p.email.as_str())
                    .unwrap_or("someone");
                let mut detail = format!("auto-reply from {who} (not counted as a response)");
                if let Some(away) = away {
                    // Never an answer; it only moves their mail past the day they are back,
                    // in every referral (the planner reads it from the contact).
                    conn.prepare_cached("UPDATE contacts SET back_on = ?2 WHERE email = ?1")?
                        .execute(params![away.email, away.back_on.to_string()])?;
                    detail.push_str(&format!(
                        ": back on {}, so their mail waits until the day after",
                        away.back_on
                    ));
                }
                event(conn, Some(*r), now, "auto_reply", &detail, cause)?;
                if away.is_some() {
                    replan(conn, *r, tracking, rules, now)?;
                }
            }
            *referral
        }
    };
    let reason = match &c.verdict {
        Verdict::Ignored(reason) => Some(stored_text(conn, &reason.to_string(), MAX_REASON)?),
        _ => None,
    };
    conn.prepare_cached(
        "INSERT INTO messages (message_id, kind, reason, referral_id, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (message_id) DO UPDATE SET kind = excluded.kind, reason = excluded.reason,
             referral_id = excluded.referral_id, at = excluded.at",
    )?
    .execute(params![c.message_id, c.verdict.kind(), reason, referral, ts(now)])?;
    Ok(referral)
}

/// Text from mail as it may be stored: forgotten addresses replaced, then cut to `max` bytes.
pub(super) fn stored_text(conn: &Connection, text: &str, max: usize) -> Result<String> {
    let scrubbed = Scrub::new(conn).text(text)?;
    Ok(cap(&scrubbed, max).into_owned())
}

/// Keeps a message that could not be processed, with the reason: its first [`MAX_RAW`]
/// bytes (the reason says when it was cut), forgotten addresses replaced, once.
fn reject(
    conn: &Connection,
    origin: &str,
    reason: &str,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut reason = stored_text(conn, reason, MAX_REASON)?;
    let head = match raw.get(..MAX_RAW) {
        Some(head) if head.len() < raw.len() => {
            reason.push_str(&format!(
                " (only the first {MAX_RAW} of its {} bytes are kept)",
                raw.len()
            ));
            head
        }
        _ => raw,
    };
    let raw = Scrub::new(conn).bytes(head)?;
    // The same message failing again (ingested twice) is kept once.
    let known = conn
        .prepare_cached("SELECT 1 FROM rejected WHERE length(raw) = ?1 AND raw = ?2")?
        .exists(params![raw.len() as i64, raw.as_ref()])?;
    if !known {
        conn.prepare_cached(
            "INSERT INTO rejected (at, origin, reason, raw) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            ts(now),
            stored_text(conn, origin, MAX_REASON)?,
            reason,
            raw.as_ref()
        ])?;
    }
    Ok(())
}

pub(super) fn event(
    conn: &Connection,
    referral: Option<ReferralId>,
    at: DateTime<Utc>,
    kind: &str,
    detail: &str,
    message_id: Option<&str>,
) -> Result<()> {
    let detail = stored_text(conn, detail, MAX_DETAIL)?;
    conn.prepare_cached(
        "INSERT INTO events (referral_id, at, kind, detail, message_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![referral, ts(at), kind, detail, message_id])?;
    Ok(())
}

pub(super) struct Contact {
    pub(super) id: ContactId,
    state: PartyState,
    back_on: Option<chrono::NaiveDate>,
}

/// Finds or creates the contact for `person`; an address that opted out or bounced before
/// stays that way in every new referral, and a new contact whose address was forgotten
/// (`referrald forget`) starts opted out, so they are never emailed again.
pub(super) fn upsert_contact(conn: &Connection, person: &Person) -> Result<Contact> {
    // `fred+crm@x` is fred@x's mailbox: forgetting one forgot both. Most stores have
    // forgotten nobody, and then no address needs hashing.
    let (hash, base_hash) = if Scrub::new(conn).anyone_forgotten()? {
        let base = strip_plus_detail(&person.email);
        (
            Some(address_hash(&person.email)),
            (base != person.email).then(|| address_hash(&base)),
        )
    } else {
        (None, None)
    };
    // Two lookups by primary key: an `IN (?3, ?4)` list would build a temporary index on
    // every call, which cost a sixth of recording an introduction.
    let (id, opted_out, bounced, back_on): (ContactId, bool, bool, Option<String>) = conn
        .prepare_cached(
            "INSERT INTO contacts (email, name, opted_out_at)
             VALUES (?1, ?2, coalesce((SELECT at FROM forgotten WHERE email_sha256 = ?3),
                                      (SELECT at FROM forgotten WHERE email_sha256 = ?4)))
             ON CONFLICT (email) DO UPDATE SET name = contacts.name
             RETURNING id, opted_out_at IS NOT NULL, bounced_at IS NOT NULL, back_on",
        )?
        .query_row(
            params![person.email, cap(&person.name, MAX_NAME), hash, base_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let state = if opted_out {
        PartyState::OptedOut
    } else if bounced {
        PartyState::Bounced
    } else {
        PartyState::Pending
    };
    Ok(Contact {
        id,
        state,
        back_on: back_on.and_then(|d| d.parse().ok()),
    })
}

fn record_introduction(
    conn: &Connection,
    intro: &Introduction,
    message_id: &str,
    introduced_at: DateTime<Utc>,
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<ReferralId> {
    let forwarded_original = intro.thread_root != message_id;
    if forwarded_original {
        // A forward that carries the original's Message-ID: if we know the original (it was
        // copied to us too, or forwarded before), this introduction is already recorded.
        let known: Option<Option<ReferralId>> = conn
            .prepare_cached("SELECT referral_id FROM messages WHERE message_id = ?1")?
            .query_row([&intro.thread_root], |r| r.get(0))
            .optional()?;
        if let Some(Some(existing)) = known {
            let detail = format!("{} forwarded the introduction again", intro.introducer);
            event(
                conn,
                Some(existing),
                now,
                "forwarded",
                &detail,
                Some(message_id),
            )?;
            return Ok(existing);
        }
    }
    let subject = stored_text(conn, &intro.subject, MAX_SUBJECT)?;
    let referral: ReferralId = conn
        .prepare_cached(
            "INSERT INTO referrals (status, subject, subject_key, thread_root, references_,
                 intro_message_id, forwarded, created_at, introduced_at)
             VALUES ('open', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )?
        .query_row(
            params![
                subject,
                normalize_subject(&subject),
                intro.thread_root,
                intro.references.join(" "),
                message_id,
                intro.forwarded,
                ts(now),
                ts(introduced_at),
            ],
            |r| r.get(0),
        )?;
    if forwarded_original {
        // Replies to the original, and the original itself if it reaches us later, belong here.
        // An ignored message that claimed the original's Message-ID gives way to it.
        conn.prepare_cached(
            "INSERT INTO messages (message_id, kind, referral_id, at)
             VALUES (?1, 'thread_root', ?2, ?3)
             ON CONFLICT (message_id) DO UPDATE SET kind = 'thread_root', reason = NULL,
                 referral_id = excluded.referral_id, at = excluded.at
             WHERE messages.kind = 'ignored'",
        )?
        .execute(params![intro.thread_root, referral, ts(now)])?;
    }
    let mut participants = Vec::with_capacity(intro.parties.len() + 1);
    let people = std::iter::once((Role::Introducer, &intro.introducer))
        .chain(intro.parties.iter().map(|p| (Role::Party, p)));
    let mut insert = conn.prepare_cached(
        "INSERT INTO participants (referral_id, contact_id, position, role, name, is_owner, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (position, (role, person)) in people.enumerate() {
        let contact = upsert_contact(conn, person)?;
        let is_owner = config.owner.is_owner(&person.email);
        insert.execute(params![
            referral,
            contact.id,
            position as i64,
            role.as_str(),
            cap(&person.name, MAX_NAME),
            is_owner,
            contact.state.as_str(),
        ])?;
        participants.push(Participant {
            contact: contact.id,
            role,
            state: contact.state,
            is_owner,
            back_on: contact.back_on,
        });
    }
    // Helpers are kept apart from participants, so no plan or count ever includes them.
    let mut copy = conn.prepare_cached(
        "INSERT INTO copied (referral_id, contact_id, position, name) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    for (position, person) in intro.copied.iter().enumerate() {
        let contact = upsert_contact(conn, person)?;
        copy.execute(params![
            referral,
            contact.id,
            position as i64,
            cap(&person.name, MAX_NAME)
        ])?;
    }
    let options = &intro.options;
    if !options.is_default() {
        conn.prepare_cached(
            "INSERT INTO referral_options
                 (referral_id, quiet, thanks, follow_up_after, follow_up_secs, unknown)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            referral,
            options.quiet,
            options.thanks,
            options.follow_up_after.as_ref().map(|d| d.written.as_str()),
            options
                .follow_up_after
                .as_ref()
                .map(|d| i64::try_from(d.span.as_secs()).unwrap_or(i64::MAX)),
            options.unknown.join(" "),
        ])?;
        event(
            conn,
            Some(referral),
            now,
            "options",
            &format!("options in the address: {}", options.describe()),
            Some(message_id),
        )?;
    }
    let names: Vec<&str> = intro.parties.iter().map(Person::name_or_email).collect();
    let how = if intro.forwarded { " (forwarded)" } else { "" };
    event(
        conn,
        Some(referral),
        now,
        "recorded",
        &format!(
            "{} introduced {}{how}",
            intro.introducer,
            join_names(&names)
        ),
        Some(message_id),
    )?;
    // A new referral's snapshot is known without reading it back: plan straight away.
    let snapshot = Snapshot {
        id: referral,
        status: ReferralStatus::Open,
        introduced_at,
        recorded_at: now,
        history: false,
        participants,
        outbound: Vec::new(),
        feedback: Vec::new(),
        introducer_last_report: None,
        options: intro.options.clone(),
        paused_until: None,
        owner_wrote: OwnerWrote::default(),
    };
    let steps = planner::plan(&snapshot, rules, now);
    apply_steps(conn, referral, &steps, &config.tracking.address, now)?;
    Ok(referral)
}

/// A participant wrote on the thread: they have responded, and a party responding connects
/// the referral.
fn responded(
    conn: &Connection,
    referral: ReferralId,
    from: &Person,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    let role = mark_responded(conn, referral, &from.email, now)?;
    event(
        conn,
        Some(referral),
        now,
        "replied",
        &format!("{from} replied on the thread"),
        cause,
    )?;
    if role == Some(Role::Party) {
        let status = referral_status(conn, referral)?;
        if matches!(status, ReferralStatus::Open | ReferralStatus::Stalled) {
            set_status(
                conn,
                referral,
                ReferralStatus::Connected,
                now,
                "a party replied on the thread",
                cause,
            )?;
        }
    }
    Ok(())
}

/// Remembers what the owner said on the thread that our mail should not say again.
fn owner_wrote(
    conn: &Connection,
    referral: ReferralId,
    note: &OwnerNote,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    for (said, column, detail) in [
        (
            note.thanks,
            "owner_thanked_at",
            "the owner thanked the introducer on the thread",
        ),
        (
            note.offers_time,
            "owner_offered_time_at",
            "the owner offered a time on the thread",
        ),
    ] {
        if said {
            let changed = conn.execute(
                &format!("UPDATE referrals SET {column} = ?2 WHERE id = ?1 AND {column} IS NULL"),
                params![referral, ts(now)],
            )?;
            if changed > 0 {
                event(conn, Some(referral), now, "owner", detail, cause)?;
            }
        }
    }
    Ok(())
}

/// Moves a pending participant to `responded`; returns their role.
fn mark_responded(
    conn: &Connection,
    referral: ReferralId,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<Role>> {
    let role: Option<String> = conn
        .prepare_cached(
            "UPDATE participants SET
                 state = CASE state WHEN 'pending' THEN 'responded' ELSE state END,
                 responded_at = coalesce(responded_at, ?3)
             WHERE referral_id = ?1 AND contact_id = (SELECT id FROM contacts WHERE email = ?2)
             RETURNING role",
        )?
        .query_row(params![referral, email, ts(now)], |r| r.get(0))
        .optional()?;
    Ok(role.map(|r| parse_word(&r)).transpose()?)
}

pub(super) fn record_feedback(
    conn: &Connection,
    referral: ReferralId,
    from: &Person,
    reading: &Reading,
    now: DateTime<Utc>,
    message_id: &str,
) -> Result<()> {
    mark_responded(conn, referral, &from.email, now)?;
    conn.prepare_cached(
        "INSERT INTO feedback (referral_id, contact_id, at, rating, outcome, value, currency, comment, message_id)
         VALUES (?1, (SELECT id FROM contacts WHERE email = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        referral,
        from.email,
        ts(now),
        reading.rating,
        reading.outcome.map(Outcome::as_str),
        reading.value,
        reading.currency,
        stored_text(conn, &reading.comment, MAX_COMMENT)?,
        message_id,
    ])?;
    let mut said = Vec::new();
    if let Some(r) = reading.rating {
        said.push(format!("rated it {r}/5"));
    }
    if let Some(o) = reading.outcome {
        said.push(format!("outcome {o}"));
    }
    if let Some(v) = reading.value {
        said.push(format!(
            "value {v}{}",
            reading
                .currency
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        ));
    }
    if said.is_empty() {
        said.push("sent a comment".into());
    }
    event(
        conn,
        Some(referral),
        now,
        "feedback",
        &format!("{from} {}", said.join(", ")),
        Some(message_id),
    )?;

    // The latest answer of each person decides the status: later feedback supersedes earlier.
    let latest: Vec<(Option<String>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT outcome, rating FROM feedback f WHERE referral_id = ?1 AND id = (
                 SELECT max(id) FROM feedback WHERE referral_id = f.referral_id AND contact_id = f.contact_id)",
        )?
        .query_map([referral], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let outcomes: Vec<Outcome> = latest
        .iter()
        .filter_map(|(o, _)| o.as_deref().and_then(|o| o.parse().ok()))
        .collect();
    let rated = latest.iter().any(|(_, r)| r.is_some());
    let current = referral_status(conn, referral)?;
    let next = planner::status_after_feedback(current, &outcomes, rated);
    if next != current {
        set_status(
            conn,
            referral,
            next,
            now,
            &format!("feedback from {}", from.email),
            Some(message_id),
        )?;
    }
    Ok(())
}

fn record_bounce(
    conn: &Connection,
    bounce: &Bounce,
    tracking: &str,
    rules: &Rules,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    let status = stored_text(
        conn,
        bounce.status.as_deref().unwrap_or("no status given"),
        MAX_REASON,
    )?;
    let status = status.as_str();
    if let Some(original) = &bounce.original_message_id {
        let failed: Option<(ReferralId, String)> = match outbound_by_message_id(conn, original)? {
            None => None,
            Some(id) => conn
                .query_row(
                    "UPDATE outbound SET state = 'failed', last_error = ?2
                     WHERE id = ?1 AND state IN ('sent', 'sending', 'scheduled')
                     RETURNING referral_id, kind",
                    params![id, format!("bounced: {status}")],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
        };
        if let Some((referral, kind)) = failed {
            event(
                conn,
                Some(referral),
                now,
                "failed",
                &format!("{kind} bounced: {status}"),
                cause,
            )?;
        }
    }
    for email in &bounce.recipients {
        let contact: Option<ContactId> = conn
            .prepare_cached("SELECT id FROM contacts WHERE email = ?1")?
            .query_row([email], |r| r.get(0))
            .optional()?;
        // Only people we know can bounce; anything else is someone else's mail.
        let Some(contact) = contact else { continue };
        bounce_contact(conn, contact, status, tracking, rules, now, cause)?;
    }
    Ok(())
}

/// Marks a contact's address bounced (keeping when it first bounced) in every referral they
/// take part in, with an event in each, and replans those referrals so that their pending
/// mail is cancelled.
fn bounce_contact(
    conn: &Connection,
    contact: ContactId,
    status: &str,
    tracking: &str,
    rules: &Rules,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    let email: String = conn
        .prepare_cached(
            "UPDATE contacts SET bounced_at = coalesce(bounced_at, ?2), bounce_status = ?3
             WHERE id = ?1 RETURNING email",
        )?
        .query_row(params![contact, ts(now), status], |r| r.get(0))?;
    let detail = format!("mail to {email} bounced: {status}");
    for r in set_state_everywhere(conn, contact, PartyState::Bounced)? {
        event(conn, Some(r), now, "bounced", &detail, cause)?;
        replan(conn, r, tracking, rules, now)?;
    }
    Ok(())
}

/// Sets a contact's state in every referral they take part in (opting out and bouncing are
/// about the address); returns the referrals touched.
fn set_state_everywhere(
    conn: &Connection,
    contact: ContactId,
    state: PartyState,
) -> Result<Vec<ReferralId>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE participants SET state = ?2 WHERE contact_id = ?1 AND state != ?2 RETURNING referral_id",
    )?;
    let touched = stmt
        .query_map(params![contact, state.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(touched)
}

pub(super) fn referral_status(conn: &Connection, referral: ReferralId) -> Result<ReferralStatus> {
    let s: String = conn
        .prepare_cached("SELECT status FROM referrals WHERE id = ?1")?
        .query_row([referral], |r| r.get(0))?;
    Ok(parse_word(&s)?)
}

pub(super) fn set_status(
    conn: &Connection,
    referral: ReferralId,
    status: ReferralStatus,
    now: DateTime<Utc>,
    why: &str,
    cause: Option<&str>,
) -> Result<()> {
    conn.prepare_cached("UPDATE referrals SET status = ?2 WHERE id = ?1")?
        .execute(params![referral, status.as_str()])?;
    event(
        conn,
        Some(referral),
        now,
        "status",
        &format!("{status}: {why}"),
        cause,
    )
}

/// Reads a referral back and plans it; applies the steps and returns the messages that may
/// be sent now. Newly scheduled messages that are already due are planned again at once, so
/// one call settles the referral.
pub(super) fn replan(
    conn: &Connection,
    referral: ReferralId,
    tracking: &str,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Vec<OutboundId>> {
    let mut send = Vec::new();
    for _ in 0..3 {
        let snapshot = load_snapshot(conn, referral)?;
        let steps = planner::plan(&snapshot, rules, now);
        let scheduled_any = steps.iter().any(|s| matches!(s, Step::Schedule { .. }));
        send = apply_steps(conn, referral, &steps, tracking, now)?;
        if !scheduled_any {
            break;
        }
    }
    Ok(send)
}

/// Inserts the scheduled messages among `steps`, in one statement. Their row ids are chosen
/// here (the store is the only writer) so that each Message-ID can name its row: a reply is
/// matched to our message by reading the id back, with no index of Message-IDs to maintain.
fn schedule(
    conn: &Connection,
    referral: ReferralId,
    steps: &[Step],
    tracking: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let new: Vec<(&OutboundKind, &ContactId, &DateTime<Utc>)> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Schedule { kind, to, due_at } => Some((kind, to, due_at)),
            _ => None,
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let first: OutboundId = conn
        .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM outbound")?
        .query_row([], |r| r.get(0))?;
    let rows = vec!["(?, ?, ?, ?, 'scheduled', ?, ?, ?)"; new.len()].join(", ");
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO outbound (id, referral_id, kind, contact_id, state, due_at, message_id, created_at)
         VALUES {rows}"
    ))?;
    let created = ts(now);
    let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::with_capacity(new.len() * 7);
    for (n, (kind, to, due_at)) in new.into_iter().enumerate() {
        let id = first + n as OutboundId;
        values.push(Box::new(id));
        values.push(Box::new(referral));
        values.push(Box::new(kind.as_str()));
        values.push(Box::new(*to));
        values.push(Box::new(ts(*due_at)));
        values.push(Box::new(new_message_id(id, tracking)));
        values.push(Box::new(created.clone()));
    }
    stmt.execute(rusqlite::params_from_iter(values.iter()))?;
    Ok(())
}

fn apply_steps(
    conn: &Connection,
    referral: ReferralId,
    steps: &[Step],
    tracking: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OutboundId>> {
    let mut send = Vec::new();
    schedule(conn, referral, steps, tracking, now)?;
    for step in steps {
        match step {
            Step::Schedule { .. } => {}
            Step::Cancel { id, reason } => {
                let row: Option<(String, String)> = conn
                    .prepare_cached(
                        "UPDATE outbound SET state = 'cancelled', last_error = ?2
                         WHERE id = ?1 AND state = 'scheduled'
                         RETURNING kind, (SELECT email FROM contacts WHERE id = contact_id)",
                    )?
                    .query_row(params![id, reason], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((kind, to)) = row {
                    event(
                        conn,
                        Some(referral),
                        now,
                        "cancelled",
                        &format!("{kind} to {to}: {reason}"),
                        None,
                    )?;
                }
            }
            Step::Postpone { id, due_at, .. } => {
                conn.prepare_cached("UPDATE outbound SET due_at = ?2 WHERE id = ?1")?
                    .execute(params![id, ts(*due_at)])?;
            }
            Step::Send { id } => send.push(*id),
            Step::Hold { id, reason } => {
                let row: Option<(String, String)> = conn
                    .prepare_cached(
                        "UPDATE outbound SET state = 'held', last_error = ?2
                         WHERE id = ?1 AND state = 'scheduled'
                         RETURNING kind, (SELECT email FROM contacts WHERE id = contact_id)",
                    )?
                    .query_row(params![id, reason], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((kind, to)) = row {
                    event(
                        conn,
                        Some(referral),
                        now,
                        "held",
                        &format!("{kind} to {to}: {reason}"),
                        None,
                    )?;
                }
            }
            Step::Skip {
                kind,
                to,
                due_at,
                reason,
            } => skip(conn, referral, (*kind, *to, *due_at), reason, tracking, now)?,
            Step::History { reason } => {
                conn.prepare_cached("UPDATE referrals SET history = 1 WHERE id = ?1")?
                    .execute([referral])?;
                event(conn, Some(referral), now, "history", reason, None)?;
            }
            Step::Status { status, reason } => {
                set_status(conn, referral, *status, now, reason, None)?;
            }
        }
    }
    Ok(send)
}

/// Records a message the plan would have sent as skipped: a cancelled row, due when it would
/// have been, with the reason, so `outbox` and `show` list it; and an event.
fn skip(
    conn: &Connection,
    referral: ReferralId,
    (kind, to, due_at): (OutboundKind, ContactId, DateTime<Utc>),
    reason: &str,
    tracking: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let id: OutboundId = conn
        .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM outbound")?
        .query_row([], |r| r.get(0))?;
    let email: String = conn
        .prepare_cached(
            "INSERT INTO outbound (id, referral_id, kind, contact_id, state, due_at, message_id,
                 created_at, last_error)
             VALUES (?1, ?2, ?3, ?4, 'cancelled', ?5, ?6, ?7, ?8)
             RETURNING (SELECT email FROM contacts WHERE id = ?4)",
        )?
        .query_row(
            params![
                id,
                referral,
                kind.as_str(),
                to,
                ts(due_at),
                new_message_id(id, tracking),
                ts(now),
                reason
            ],
            |r| r.get(0),
        )?;
    event(
        conn,
        Some(referral),
        now,
        "skipped",
        &format!("{kind} to {email}: {reason}"),
        None,
    )
}

/// The options the introduction's address gave referral `referral` (the default when none).
pub(super) fn options_of(conn: &Connection, referral: ReferralId) -> Result<Options> {
    let row = conn
        .prepare_cached(
            "SELECT quiet, thanks, follow_up_after, follow_up_secs, unknown
             FROM referral_options WHERE referral_id = ?1",
        )?
        .query_row([referral], |r| {
            let written: Option<String> = r.get(2)?;
            let secs: Option<i64> = r.get(3)?;
            let unknown: String = r.get(4)?;
            Ok(Options {
                quiet: r.get(0)?,
                thanks: r.get(1)?,
                follow_up_after: written.zip(secs).map(|(written, secs)| Delay {
                    written,
                    span: std::time::Duration::from_secs(secs.max(0).unsigned_abs()),
                }),
                unknown: unknown.split_whitespace().map(str::to_string).collect(),
                stop: false,
            })
        })
        .optional()?;
    Ok(row.unwrap_or_default())
}

pub(super) fn load_snapshot(conn: &Connection, referral: ReferralId) -> Result<Snapshot> {
    #[allow(clippy::type_complexity)]
    let (status, created, introduced, history, paused_until, owner_wrote): (
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
        OwnerWrote,
    ) = conn
        .prepare_cached(
            "SELECT status, created_at, introduced_at, history, paused_until,
                 owner_thanked_at IS NOT NULL, owner_offered_time_at IS NOT NULL
             FROM referrals WHERE id = ?1",
        )?
        .query_row([referral], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                OwnerWrote {
                    thanked: r.get(5)?,
                    offered_time: r.get(6)?,
                },
            ))
        })
        .with_context(|| format!("no referral #{referral}"))?;
    let participants: Vec<Participant> = conn
        .prepare_cached(
            "SELECT p.contact_id, p.role, p.state, p.is_owner, c.back_on
             FROM participants p JOIN contacts c ON c.id = p.contact_id
             WHERE p.referral_id = ?1 ORDER BY p.position",
        )?
        .query_map([referral], |r| {
            Ok(Participant {
                contact: r.get(0)?,
                role: parse_word(&r.get::<_, String>(1)?)?,
                state: parse_word(&r.get::<_, String>(2)?)?,
                is_owner: r.get(3)?,
                back_on: r.get::<_, Option<String>>(4)?.and_then(|d| d.parse().ok()),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let outbound: Vec<Planned> = conn
        .prepare_cached(
            "SELECT id, kind, contact_id, state, due_at, sent_at, released_at IS NOT NULL
             FROM outbound WHERE referral_id = ?1 ORDER BY id",
        )?
        .query_map([referral], |r| {
            Ok(Planned {
                id: r.get(0)?,
                kind: parse_word(&r.get::<_, String>(1)?)?,
                to: r.get(2)?,
                state: parse_word::<OutboundState>(&r.get::<_, String>(3)?)?,
                due_at: parse_ts(&r.get::<_, String>(4)?)?,
                sent_at: r
                    .get::<_, Option<String>>(5)?
                    .map(|t| parse_ts(&t))
                    .transpose()?,
                released: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let feedback: Vec<Answer> = conn
        .prepare_cached(
            "SELECT contact_id, at, reported_at IS NOT NULL, rating IS NOT NULL OR outcome IS NOT NULL,
                 outcome, rating
             FROM feedback WHERE referral_id = ?1 ORDER BY id",
        )?
        .query_map([referral], |r| {
            Ok(Answer {
                from: r.get(0)?,
                at: parse_ts(&r.get::<_, String>(1)?)?,
                reported: r.get(2)?,
                says_how_it_went: r.get(3)?,
                outcome: r
                    .get::<_, Option<String>>(4)?
                    .map(|o| parse_word(&o))
                    .transpose()?,
                rating: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let introducer_last_report = match participants.iter().find(|p| p.role == Role::Introducer) {
        Some(introducer) if !feedback.is_empty() => conn
            .prepare_cached(
                "SELECT max(sent_at) FROM outbound
                 WHERE contact_id = ?1 AND kind = 'outcome_report' AND state = 'sent'",
            )?
            .query_row([introducer.contact], |r| r.get::<_, Option<String>>(0))?
            .map(|t| parse_ts(&t))
            .transpose()?,
        _ => None,
    };
    Ok(Snapshot {
        id: referral,
        status: parse_word(&status)?,
        // Referrals recorded before the introduction's own date was kept count from their
        // recording, as they always did.
        introduced_at: parse_ts(introduced.as_deref().unwrap_or(&created))?,
        recorded_at: parse_ts(&created)?,
        history,
        participants,
        outbound,
        feedback,
        introducer_last_report,
        options: options_of(conn, referral)?,
        paused_until: paused_until.map(|t| parse_ts(&t)).transpose()?,
        owner_wrote,
    })
}

/// The Message-ID of outbound row `id`, on the tracking domain: `referrald.<id>.<random>@…`.
/// The row id makes it unique within the database and lets [`outbound_by_message_id`] find the
/// row again; the random part keeps ids from a recreated database from ever repeating.
fn new_message_id(id: OutboundId, tracking: &str) -> String {
    format!(
        "referrald.{id:x}.{:012x}@{}",
        random_part(),
        domain_of(tracking)
    )
}

/// The tracking address's domain, where our Message-IDs live.
pub(super) fn domain_of(tracking: &str) -> &str {
    tracking
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or(tracking)
}

/// 48 bits no other database's life repeats: the random part of our Message-IDs.
pub(super) fn random_part() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        RandomState::new().hash_one((std::process::id(), Utc::now().timestamp_nanos_opt()))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix64(seed.wrapping_add(n)) >> 16
}

/// A fast, well-mixed bijection on u64 (Steele, Lea and Flood's SplitMix64 finaliser).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The outbound row a Message-ID of ours names, if it is one of ours and still in the store.
pub(crate) fn outbound_by_message_id(
    conn: &Connection,
    message_id: &str,
) -> rusqlite::Result<Option<OutboundId>> {
    let id = message_id
        .strip_prefix("referrald.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|hex| OutboundId::from_str_radix(hex, 16).ok());
    let Some(id) = id else {
        return Ok(None);
    };
    // The whole id must match: a row with that number from another database's life is not it.
    conn.prepare_cached("SELECT id FROM outbound WHERE id = ?1 AND message_id = ?2")?
        .query_row(params![id, message_id], |r| r.get(0))
        .optional()
}

/// Everything the composer needs for one outbound message.
fn load_draft(conn: &Connection, id: OutboundId) -> Result<Draft> {
    let (referral, kind, contact, message_id): (ReferralId, String, ContactId, String) = conn
        .prepare_cached(
            "SELECT referral_id, kind, contact_id, message_id FROM outbound WHERE id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    draft_for(conn, referral, parse_word(&kind)?, contact, message_id)
}

/// The draft of a `kind` message to `contact` about `referral`, whether or not it is stored
/// (`preview` composes ones not yet scheduled).
pub(super) fn draft_for(
    conn: &Connection,
    referral: ReferralId,
    kind: OutboundKind,
    contact: ContactId,
    message_id: String,
) -> Result<Draft> {
    let (subject, thread_root, references, created): (String, String, String, String) = conn
        .prepare_cached(
            "SELECT subject, thread_root, references_, coalesce(introduced_at, created_at)
             FROM referrals WHERE id = ?1",
        )?
        .query_row([referral], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let mut heard = Vec::new();
    let people: Vec<(ContactId, Role, Person)> = conn
        .prepare_cached(
            "SELECT p.contact_id, p.role, c.email, p.name, p.responded_at FROM participants p
             JOIN contacts c ON c.id = p.contact_id WHERE p.referral_id = ?1 ORDER BY p.position",
        )?
        .query_map([referral], |r| {
            let role: Role = parse_word(&r.get::<_, String>(1)?)?;
            let person = Person {
                email: r.get(2)?,
                name: r.get(3)?,
            };
            let responded = r
                .get::<_, Option<String>>(4)?
                .map(|t| parse_ts(&t))
                .transpose()?;
            Ok((r.get(0)?, role, person, responded))
        })?
        .map(|row| {
            row.map(|(contact, role, person, responded)| {
                if let (Role::Party, Some(at)) = (role, responded) {
                    heard.push((Person::clone(&person), at));
                }
                (contact, role, person)
            })
        })
        .collect::<rusqlite::Result<_>>()?;
    heard.sort_by_key(|(_, at)| *at);
    let to = people
        .iter()
        .find(|(c, _, _)| *c == contact)
        .map(|(_, _, p)| p.clone())
        .context("the recipient no longer takes part in the referral")?;
    let introducer = people
        .iter()
        .find(|(_, role, _)| *role == Role::Introducer)
        .map(|(_, _, p)| p.clone())
        .context("the referral has no introducer")?;
    let parties = people
        .iter()
        .filter(|(_, role, _)| *role == Role::Party)
        .map(|(_, _, p)| p.clone())
        .collect();
    let feedback = conn
        .prepare_cached(
            "SELECT c.email, p.name, f.rating, f.outcome, f.value, f.currency, f.comment, f.at
             FROM feedback f JOIN contacts c ON c.id = f.contact_id
             JOIN participants p ON p.referral_id = f.referral_id AND p.contact_id = f.contact_id
             WHERE f.referral_id = ?1 AND f.id = (
                 SELECT max(id) FROM feedback WHERE referral_id = f.referral_id AND contact_id = f.contact_id)
             ORDER BY f.at",
        )?
        .query_map([referral], |r| {
            Ok(FeedbackSummary {
                from: Person { email: r.get(0)?, name: r.get(1)? },
                rating: r.get(2)?,
                outcome: r.get::<_, Option<String>>(3)?.map(|o| parse_word(&o)).transpose()?,
                value: r.get(4)?,
                currency: r.get(5)?,
                comment: r.get(6)?,
                at: parse_ts(&r.get::<_, String>(7)?)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Draft {
        kind,
        message_id,
        to,
        referral: ReferralSummary {
            id: referral,
            subject,
            thread_root,
            references: references.split_whitespace().map(str::to_string).collect(),
            introduced_at: parse_ts(&created)?,
            introducer,
            parties,
            heard,
        },
        feedback,
    })
}
