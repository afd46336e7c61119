//! The owner's decision about a held outcome report (bad news never leaves on its own):
//! [`Store::release_held`] sends it as it is, [`Store::skip_held`] drops it. Plain store
//! functions, so that the command line (`referrald send ID`, `referrald skip ID`) and the
//! owner's commands by email can share them.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::record::event;
use super::{Store, ts};
use crate::model::{OutboundId, OutboundState, ReferralId};

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
        let decision = decide(
            &tx,
            id,
            "UPDATE outbound SET state = 'scheduled', released_at = ?2, due_at = ?2,
                 last_error = NULL
             WHERE id = ?1 AND state = 'held'
             RETURNING referral_id, kind, (SELECT email FROM contacts WHERE id = contact_id)",
            now,
        )?;
        event(
            &tx,
            Some(decision.referral),
            now,
            "released",
            &format!("{} to {}: the owner sent it", decision.kind, decision.to),
            None,
        )?;
        tx.commit()?;
        Ok(decision)
    }

    /// Skips held message `id`: it is cancelled, and the answers it would have carried count
    /// as reported, so no new report repeats them. An error when there is no such message or
    /// it is not held.
    pub fn skip_held(&mut self, id: OutboundId, now: DateTime<Utc>) -> Result<HeldDecision> {
        let tx = self.conn.transaction()?;
        let decision = decide(
            &tx,
            id,
            "UPDATE outbound SET state = 'cancelled', last_error = 'skipped by the owner'
             WHERE id = ?1 AND state = 'held'
             RETURNING referral_id, kind, (SELECT email FROM contacts WHERE id = contact_id)",
            now,
        )?;
        tx.execute(
            "UPDATE feedback SET reported_at = ?2
             WHERE referral_id = ?1 AND reported_at IS NULL AND at <= ?2",
            params![decision.referral, ts(now)],
        )?;
        event(
            &tx,
            Some(decision.referral),
            now,
            "skipped",
            &format!("{} to {}: the owner skipped it", decision.kind, decision.to),
            None,
        )?;
        tx.commit()?;
        Ok(decision)
    }
}

/// Applies one decision's update to a held row; says why not when the row is not held.
fn decide(
    conn: &rusqlite::Connection,
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
