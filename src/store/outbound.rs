//! The outbox's bookkeeping: claiming due messages, recording what became of each attempt
//! (sent, retry, failed, refused), crash recovery, and the drafts and Message-IDs of our mail.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::composer::{Draft, ReferralSummary};
use crate::config::Config;
use crate::model::{OutboundId, OutboundKind, Person, ReferralId, Role};
use crate::outbox::DeliveryResult;
use crate::planner::{ContactId, span};
use crate::transport::Recipient;

use super::plan::{replan, rules};
use super::record::{bounce_contact, event};
use super::{ANSWER, Store, answer, parse_ts, parse_word, ts};

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
    /// Plans every referral with something due by `now` and claims the messages that may go
    /// now — at most what `max-per-hour` still allows — by moving them to `sending` and
    /// counting the attempt before it is made.
    pub fn claim_due(&mut self, config: &Config, now: DateTime<Utc>) -> Result<Vec<DueMessage>> {
        let sendable = self.plan_due(config, now)?;
        self.claim(&sendable, now)
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
            DeliveryResult::Failed(e) => self.mark_failed(id, e, config, now),
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
        // Only each person's next message is scheduled: with this one gone, plan the one
        // after it (a follow-up's feedback request, a request's reminder) at once.
        replan(&tx, referral, &config.tracking.address, &rules(config), now)?;
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
            return self.mark_failed(id, &why, config, now);
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

    /// A permanent failure: the message will not be sent. What the plan sends that person
    /// next is planned at once, as after a send.
    pub fn mark_failed(
        &mut self,
        id: OutboundId,
        error: &str,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let (referral, _) = fail(&tx, id, error, now)?;
        replan(&tx, referral, &config.tracking.address, &rules(config), now)?;
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
        let (referral, contact) = fail(&tx, id, error, now)?;
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
        let tracking = &config.tracking.address;
        match status {
            Some(status) => {
                bounce_contact(&tx, contact, &status, tracking, &rules(config), now, None)?
            }
            // Still deliverable: what comes next for them is planned, as after a send.
            None => {
                replan(&tx, referral, tracking, &rules(config), now)?;
            }
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
}

/// Marks an outbound message failed for good, with the story's event; returns the contact
/// it was for.
fn fail(
    conn: &Connection,
    id: OutboundId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(ReferralId, ContactId)> {
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
    Ok((referral, contact))
}

/// The Message-ID of outbound row `id`, on the tracking domain: `referrald.<id>.<random>@…`.
/// The row id makes it unique within the database and lets [`outbound_by_message_id`] find the
/// row again; the random part keeps ids from a recreated database from ever repeating.
pub(super) fn new_message_id(id: OutboundId, tracking: &str) -> String {
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
pub(super) fn outbound_by_message_id(
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
        .prepare_cached(&format!(
            "SELECT c.email, p.name, {ANSWER}
             FROM feedback f JOIN contacts c ON c.id = f.contact_id
             JOIN participants p ON p.referral_id = f.referral_id AND p.contact_id = f.contact_id
             WHERE f.referral_id = ?1 AND f.id = (
                 SELECT max(id) FROM feedback WHERE referral_id = f.referral_id AND contact_id = f.contact_id)
             ORDER BY f.at"
        ))?
        .query_map([referral], |r| {
            let from = Person {
                email: r.get(0)?,
                name: r.get(1)?,
            };
            answer(r, from, 2)
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
