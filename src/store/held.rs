//! The owner's decision about a held outcome report (bad news never leaves on its own):
//! [`Store::release_held`] sends it as it is, [`Store::skip_held`] drops it. Plain store
//! functions, so that the command line (`referrald send ID`, `referrald skip ID`) and the
//! owner's commands by email (`send`, `skip`) share them. Each held message is told to the
//! owner once, by a notice ([`notify_held`]) to which she replies.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::commands::{queue, summary};
use super::record::event;
use super::{Store, ts};
use crate::composer::{NOTICE_HELD_REPORT, Notice};
use crate::config::Config;
use crate::model::{OutboundId, OutboundState, Person, ReferralId};

/// What the owner decided about a held message, for the reply that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDecision {
    /// The outbound message.
    pub id: OutboundId,
    /// Its referral.
    pub referral: ReferralId,
    /// Its kind, e.g. `outcome_report`.
    pub kind: String,
    /// Its recipient's address.
    pub to: String,
}

impl Store {
    /// Releases held message `id`: it is scheduled to go now, as it is, and is never held
    /// again. An error when there is no such message or it is not held.
    pub fn release_held(&mut self, id: OutboundId, now: DateTime<Utc>) -> Result<HeldDecision> {
        let tx = self.conn.transaction()?;
        let decision = release(&tx, id, now, None)?;
        tx.commit()?;
        Ok(decision)
    }

    /// Skips held message `id`: it is cancelled, and the answers it would have carried count
    /// as reported, so no new report repeats them. An error when there is no such message or
    /// it is not held.
    pub fn skip_held(&mut self, id: OutboundId, now: DateTime<Utc>) -> Result<HeldDecision> {
        let tx = self.conn.transaction()?;
        let decision = skip(&tx, id, now, None)?;
        tx.commit()?;
        Ok(decision)
    }
}

/// [`Store::release_held`] inside the caller's transaction; `cause` is the Message-ID of the
/// owner's mail that decided it, if one did.
pub(super) fn release(
    conn: &Connection,
    id: OutboundId,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<HeldDecision> {
    let decision = decide(
        conn,
        id,
        "UPDATE outbound SET state = 'scheduled', released_at = ?2, due_at = ?2,
             last_error = NULL
         WHERE id = ?1 AND state = 'held'
         RETURNING referral_id, kind, (SELECT email FROM contacts WHERE id = contact_id)",
        now,
    )?;
    event(
        conn,
        Some(decision.referral),
        now,
        "released",
        &format!("{} to {}: the owner sent it", decision.kind, decision.to),
        cause,
    )?;
    Ok(decision)
}

/// [`Store::skip_held`] inside the caller's transaction.
pub(super) fn skip(
    conn: &Connection,
    id: OutboundId,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<HeldDecision> {
    let decision = decide(
        conn,
        id,
        "UPDATE outbound SET state = 'cancelled', last_error = 'skipped by the owner'
         WHERE id = ?1 AND state = 'held'
         RETURNING referral_id, kind, (SELECT email FROM contacts WHERE id = contact_id)",
        now,
    )?;
    conn.execute(
        "UPDATE feedback SET reported_at = ?2
         WHERE referral_id = ?1 AND reported_at IS NULL AND at <= ?2",
        params![decision.referral, ts(now)],
    )?;
    event(
        conn,
        Some(decision.referral),
        now,
        "skipped",
        &format!("{} to {}: the owner skipped it", decision.kind, decision.to),
        cause,
    )?;
    Ok(decision)
}

/// Tells the owner, once per message, of each message held for her: one notice saying what
/// is held and why, to which a reply "send" or "skip" decides. Notices go to her first
/// address; none go when she has none.
pub(super) fn notify_held(conn: &Connection, config: &Config, now: DateTime<Utc>) -> Result<()> {
    let Some(email) = config.owner.emails.first() else {
        return Ok(());
    };
    let held: Vec<(OutboundId, ReferralId, String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT o.id, o.referral_id, o.kind,
                 CASE WHEN p.name IS NULL OR p.name = '' THEN c.email ELSE p.name END,
                 o.last_error
             FROM outbound o JOIN contacts c ON c.id = o.contact_id
             LEFT JOIN participants p ON p.referral_id = o.referral_id AND p.contact_id = o.contact_id
             WHERE o.state = 'held'
               AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.outbound_id = o.id)
             ORDER BY o.id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let owner = Person {
        email: email.clone(),
        name: config.owner.name.clone(),
    };
    for (id, referral, kind, to, reason) in held {
        // The planner's reason reads "held for you: <why>; `referrald send 6` …".
        let why = reason.as_deref().and_then(|r| {
            let why = r.strip_prefix("held for you: ")?.split(';').next()?.trim();
            (!why.is_empty()).then(|| why.to_string())
        });
        let facts = json!({
            "referral": summary(conn, referral, config, now)?,
            "held": {
                "id": id,
                "kind": kind.replace('_', " "),
                "to": to,
                "why": why,
            },
        });
        let notice = Notice {
            kind: NOTICE_HELD_REPORT,
            message_id: String::new(),
            to: owner.clone(),
            subject: String::new(),
            references: Vec::new(),
            facts,
        };
        let queued = queue(conn, &notice, Some(referral), &config.tracking.address, now)?;
        conn.execute(
            "UPDATE notices SET outbound_id = ?2 WHERE id = ?1",
            params![queued, id],
        )?;
        event(
            conn,
            Some(referral),
            now,
            "notice",
            &format!("the owner is told the {kind} to {to} is held"),
            None,
        )?;
    }
    Ok(())
}

/// The held message a notice among `message_ids` (a reply's References) is about, if any.
pub(super) fn held_of_notice(
    conn: &Connection,
    message_ids: &[String],
) -> Result<Option<OutboundId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT outbound_id FROM notices WHERE message_id = ?1 AND outbound_id IS NOT NULL",
    )?;
    // The one it answers last: the most recent notice named.
    for id in message_ids.iter().rev() {
        let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
        if let Some(held) = stmt.query_row([bare], |r| r.get(0)).optional()? {
            return Ok(Some(held));
        }
    }
    Ok(None)
}

/// Applies one decision's update to a held row; says why not when the row is not held.
fn decide(
    conn: &Connection,
    id: OutboundId,
    update: &str,
    now: DateTime<Utc>,
) -> Result<HeldDecision> {
    // The skip statement has no ?2; bind only what the statement names.
    let mut stmt = conn.prepare(update)?;
    let row = if stmt.parameter_count() >= 2 {
        stmt.query_row(params![id, ts(now)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    } else {
        stmt.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    }
    .optional()?;
    if let Some((referral, kind, to)) = row {
        return Ok(HeldDecision {
            id,
            referral,
            kind,
            to,
        });
    }
    let state: Option<String> = conn
        .query_row("SELECT state FROM outbound WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match state {
        None => bail!("there is no outbound message #{id}"),
        Some(state) => bail!(
            "outbound message #{id} is {state}, not {}: only a held message waits for you",
            OutboundState::Held
        ),
    }
}
