//! The plan as stored: reading a referral back for the planner, applying its steps (schedule,
//! cancel, postpone, hold, skip, status), and finding what is due and when.

use anyhow::{Context, Result};
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Config;
use crate::intake::options::{Delay, Options};
use crate::model::{Answer, OutboundId, OutboundKind, OutboundState, ReferralId, Role};
use crate::planner::{self, ContactId, OwnerWrote, Participant, Planned, Rules, Snapshot, Step};

use super::outbound::new_message_id;
use super::record::{event, set_status};
use super::{ANSWER, Store, answer, parse_ts, parse_word, ts};

/// A message the plan will send that is not made yet (see [`planner::forecast`]): a
/// person's next message, whose due time the store keeps (`outbox` lists it as `scheduled`,
/// with no id yet), or one that comes after it if nobody answers (`planned`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlannedView {
    /// The referral it is about.
    pub referral_id: ReferralId,
    /// Which message of the plan.
    pub kind: OutboundKind,
    /// The recipient's address.
    pub to: String,
    /// When it would fall due.
    pub due_at: String,
    /// The person's next message: made when it falls due.
    pub next: bool,
}

impl Store {
    /// What the plan will send after the scheduled messages, referral by referral, as if
    /// each went at its due time and nobody answered: nothing of it is stored.
    pub fn forecast(&self, config: &Config, now: DateTime<Utc>) -> Result<Vec<PlannedView>> {
        let rules = rules(config);
        let referrals: Vec<ReferralId> = self
            .conn
            .prepare_cached(
                "SELECT referral_id FROM outbound WHERE state = 'scheduled'
                 UNION SELECT id FROM referrals WHERE next_due_at IS NOT NULL
                 ORDER BY 1",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut planned = Vec::new();
        for referral in referrals {
            planned.extend(forecast_of(&self.conn, referral, &rules, now)?);
        }
        planned.sort_by(|a, b| (&a.due_at, a.referral_id).cmp(&(&b.due_at, b.referral_id)));
        Ok(planned)
    }

    /// What the plan will send referral `id` from `now`, as [`Store::forecast`] says it.
    pub fn forecast_referral(
        &self,
        id: ReferralId,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Vec<PlannedView>> {
        forecast_of(&self.conn, id, &rules(config), now)
    }

    /// Makes the mail due by `now` and returns the messages that may go now, at most what
    /// `max-per-hour` still allows: the referrals whose next message has fallen due (and any
    /// message made earlier that is due again) are planned, the earliest first, and only as
    /// many as may send. The messages made stay `scheduled` until [`Store::claim`]ed, just
    /// after, so a sender can claim them one at a time and a crash leaves only the messages
    /// actually in flight in doubt. Open referrals whose plan has run out are looked at too:
    /// they may have stalled.
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
                "SELECT r.id FROM referrals r INDEXED BY referrals_plan_ran_out
                 WHERE r.status = 'open' AND r.next_due_at IS NULL
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
        // Referrals with a message due, the longest waiting first, read off the due-time
        // indexes: only as many as max-per-hour still lets go (and a few spare, for one that
        // turns out to have nothing to send), so a backlog costs each round the messages it
        // sends, not everything pending. While the send window is closed nothing can go, and
        // nothing is woken only to be postponed.
        let window_open =
            crate::planner::next_open(&rules.schedule.send_window, rules.timezone, now) == now;
        let due = if allowed == 0 || !window_open {
            Vec::new()
        } else {
            earliest_due(&tx, now, allowed.saturating_add(8))?
        };
        let mut sendable = Vec::new();
        let mut planned = 0;
        for &referral in &due {
            if sendable.len() >= allowed {
                break;
            }
            sendable.extend(send_now(
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
                "max-per-hour reached: the rest of the mail due waits for the next hour"
            );
            sendable.truncate(allowed);
        }
        // Bad news held for the owner: she is told, once, and her reply decides.
        super::held::notify_held(&tx, config, now)?;
        tx.commit()?;
        Ok(sendable)
    }

    /// When the next message falls due, if any (a row already made, or a referral's next due
    /// time): a paused referral's mail when its pause ends, and notices to the owner too.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let t: Option<String> = self.conn.query_row(
            // A referral's mail wakes us when it falls due or, paused past that, when its
            // pause ends: the first read off the due-time index in order (skipping the
            // paused), the second off the pause index, so neither walks every referral.
            "SELECT min(t) FROM (
                 SELECT max(o.due_at, coalesce(r.paused_until, '')) AS t
                 FROM outbound o JOIN referrals r ON r.id = o.referral_id
                 WHERE o.state = 'scheduled'
                 UNION ALL
                 SELECT * FROM (
                     SELECT next_due_at FROM referrals INDEXED BY referrals_next_due
                     WHERE next_due_at IS NOT NULL
                       AND (paused_until IS NULL OR paused_until <= next_due_at)
                     ORDER BY next_due_at LIMIT 1)
                 UNION ALL
                 SELECT min(paused_until) FROM referrals INDEXED BY referrals_paused
                 WHERE paused_until IS NOT NULL AND paused_until > next_due_at
                 UNION ALL
                 SELECT min(due_at) FROM notices WHERE state = 'scheduled')",
            [],
            |r| r.get(0),
        )?;
        Ok(t.map(|t| parse_ts(&t)).transpose()?)
    }
}

fn forecast_of(
    conn: &Connection,
    referral: ReferralId,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Vec<PlannedView>> {
    let snapshot = load_snapshot(conn, referral)?;
    let mut email = conn.prepare_cached("SELECT email FROM contacts WHERE id = ?1")?;
    planner::forecast(&snapshot, rules, now)
        .into_iter()
        .map(|f| {
            Ok(PlannedView {
                referral_id: referral,
                kind: f.kind,
                to: email.query_row([f.to], |r| r.get(0))?,
                due_at: ts(f.due_at),
                next: f.next,
            })
        })
        .collect()
}

pub(super) fn rules(config: &Config) -> Rules<'_> {
    Rules {
        schedule: &config.schedule,
        timezone: config.owner.timezone,
    }
}

/// Reads a referral back and plans it after something changed (mail arrived, a message
/// went, the owner said something). What falls due is not made here but kept as the
/// referral's next due time ([`defer`]): [`send_now`] makes it when the outbox can take it.
pub(super) fn replan(
    conn: &Connection,
    referral: ReferralId,
    tracking: &str,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<()> {
    let snapshot = load_snapshot(conn, referral)?;
    let steps = defer(planner::plan(&snapshot, rules, now));
    apply_steps(conn, referral, &steps, tracking, now)?;
    Ok(())
}

/// Plans a referral whose mail is due, for sending: the messages due are made and the ones
/// that may go now are returned. Newly made messages are planned again at once (the planner
/// weighs them against what was already waiting), so one call settles the referral.
fn send_now(
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

/// The plan's steps with every message to be made kept for later instead: outside the
/// outbox's round nothing is made, only the referral's next due time is set.
pub(super) fn defer(steps: Vec<Step>) -> Vec<Step> {
    steps
        .into_iter()
        .map(|step| match step {
            Step::Schedule { kind, to, due_at } => Step::Later { kind, to, due_at },
            other => other,
        })
        .collect()
}

/// When the earliest message the plan keeps for later falls due: the referral's next due
/// time.
pub(super) fn next_due_at(steps: &[Step]) -> Option<DateTime<Utc>> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Later { due_at, .. } => Some(*due_at),
            _ => None,
        })
        .min()
}

/// Up to `limit` referrals with mail due by `now`, earliest first: those whose next due time
/// has come, and those with a row already made and due (postponed, released, to retry).
/// Paused referrals wait for their pause to end.
fn earliest_due(conn: &Connection, now: DateTime<Utc>, limit: usize) -> Result<Vec<ReferralId>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut due: Vec<(String, ReferralId)> = conn
        .prepare_cached(
            // In the index's own order, so the round reads only the first `limit`
            // entries: ordered by id alone, a backlog due at one time would be sorted whole.
            "SELECT next_due_at, id FROM referrals INDEXED BY referrals_next_due
             WHERE next_due_at <= ?1 AND (paused_until IS NULL OR paused_until <= ?1)
             ORDER BY next_due_at, paused_until, id LIMIT ?2",
        )?
        .query_map(params![ts(now), limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let made = conn
        .prepare_cached(
            "SELECT min(o.due_at), o.referral_id FROM outbound o
             JOIN referrals r ON r.id = o.referral_id
             WHERE o.state = 'scheduled' AND o.due_at <= ?1
               AND (r.paused_until IS NULL OR r.paused_until <= ?1)
             GROUP BY o.referral_id ORDER BY min(o.due_at), o.referral_id LIMIT ?2",
        )?
        .query_map(params![ts(now), limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, ReferralId)>>>()?;
    due.extend(made);
    due.sort();
    let mut seen = std::collections::HashSet::new();
    Ok(due
        .into_iter()
        .filter(|(_, id)| seen.insert(*id))
        .map(|(_, id)| id)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
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

pub(super) fn apply_steps(
    conn: &Connection,
    referral: ReferralId,
    steps: &[Step],
    tracking: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OutboundId>> {
    let mut send = Vec::new();
    schedule(conn, referral, steps, tracking, now)?;
    conn.prepare_cached(
        "UPDATE referrals SET next_due_at = ?2 WHERE id = ?1 AND next_due_at IS NOT ?2",
    )?
    .execute(params![referral, next_due_at(steps).map(ts)])?;
    for step in steps {
        match step {
            Step::Schedule { .. } | Step::Later { .. } => {}
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
    let feedback: Vec<Answer<ContactId>> = conn
        .prepare_cached(&format!(
            "SELECT f.contact_id, {ANSWER} FROM feedback f WHERE f.referral_id = ?1 ORDER BY f.id"
        ))?
        .query_map([referral], |r| answer(r, r.get(0)?, 1))?
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
