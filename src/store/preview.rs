//! What `referrald preview` shows: the drafts of a referral's next message, or of one kind
//! of message, built exactly as sending builds them, from a store opened read-only.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::outbound::draft_for;
use super::plan::{load_snapshot, rules};
use super::{Store, parse_ts, parse_word};
use crate::composer::Draft;
use crate::config::Config;
use crate::model::{OutboundKind, Person, ReferralId};
use crate::planner::{self, ContactId};

/// One message `preview` would show.
#[derive(Debug, Clone)]
pub struct Preview {
    /// What the composer renders.
    pub draft: Draft,
    /// When it is (or would be) due.
    pub due_at: DateTime<Utc>,
    /// Whether it is scheduled: the person's next message, whose due time the store keeps.
    pub scheduled: bool,
    /// Whether it is made already (its Message-ID is then the one it will go with).
    pub made: bool,
}

/// The messages of one kind a referral would get, and the people who would not get one.
#[derive(Debug, Clone, Default)]
pub struct KindPreview {
    /// One per recipient.
    pub messages: Vec<Preview>,
    /// Everyone else in the referral, with the planner's reason.
    pub declined: Vec<(Person, String)>,
}

impl Store {
    /// Whether referral `id` exists.
    pub fn has_referral(&self, id: ReferralId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM referrals WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The referral's next messages: every one due at the earliest due time, made already or
    /// (most often: a message is made only when it falls due) as the plan says it will be.
    pub fn preview_next(
        &self,
        id: ReferralId,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Vec<Preview>> {
        let rows: Vec<(String, ContactId, String, String)> = self
            .conn
            .prepare_cached(
                // The hints: without them SQLite walks outbound_pending, every scheduled
                // message in the store (50 ms at 100,000 referrals).
                "SELECT kind, contact_id, message_id, due_at FROM outbound
                 INDEXED BY outbound_referral
                 WHERE referral_id = ?1 AND state = 'scheduled'
                   AND due_at = (SELECT min(due_at) FROM outbound INDEXED BY outbound_referral
                                 WHERE referral_id = ?1 AND state = 'scheduled')
                 ORDER BY id",
            )?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if rows.is_empty() {
            let snapshot = load_snapshot(&self.conn, id)?;
            let ahead = planner::forecast(&snapshot, &rules(config), now);
            let Some(first) = ahead.first().map(|f| f.due_at) else {
                return Ok(Vec::new());
            };
            return ahead
                .into_iter()
                .take_while(|f| f.due_at == first)
                .map(|f| {
                    let message_id = preview_message_id(id, f.kind, config);
                    Ok(Preview {
                        draft: draft_for(&self.conn, id, f.kind, f.to, message_id)?,
                        due_at: f.due_at,
                        scheduled: f.next,
                        made: false,
                    })
                })
                .collect();
        }
        rows.into_iter()
            .map(|(kind, contact, message_id, due)| {
                Ok(Preview {
                    draft: draft_for(&self.conn, id, parse_word(&kind)?, contact, message_id)?,
                    due_at: parse_ts(&due)?,
                    scheduled: true,
                    made: true,
                })
            })
            .collect()
    }

    /// The `kind` message for each participant the planner would send one to at `now`, with
    /// the reason for each it would not.
    pub fn preview_kind(
        &self,
        id: ReferralId,
        kind: OutboundKind,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<KindPreview> {
        let snapshot = load_snapshot(&self.conn, id)?;
        let rules = rules(config);
        let mut out = KindPreview::default();
        let ahead = planner::forecast(&snapshot, &rules, now);
        for who in &snapshot.participants {
            let scheduled = snapshot.outbound.iter().find(|p| {
                p.kind == kind
                    && p.to == who.contact
                    && p.state == crate::model::OutboundState::Scheduled
            });
            let wanted = planner::wanted(&snapshot, kind, who, &rules, now);
            let message_id = match scheduled {
                Some(p) => self
                    .conn
                    .prepare_cached("SELECT message_id FROM outbound WHERE id = ?1")?
                    .query_row([p.id], |r| r.get(0))?,
                None => preview_message_id(id, kind, config),
            };
            let draft = draft_for(&self.conn, id, kind, who.contact, message_id)?;
            match wanted {
                Ok(due) => out.messages.push(Preview {
                    due_at: scheduled.map_or(due, |p| p.due_at),
                    scheduled: scheduled.is_some()
                        || ahead
                            .iter()
                            .any(|f| f.next && f.kind == kind && f.to == who.contact),
                    made: scheduled.is_some(),
                    draft,
                }),
                Err(why) => out.declined.push((draft.to, why)),
            }
        }
        Ok(out)
    }
}

/// The Message-ID a preview of a message not made yet shows: its real one is made with it.
fn preview_message_id(id: ReferralId, kind: OutboundKind, config: &Config) -> String {
    format!(
        "preview.{id}.{kind}@{}",
        config
            .tracking
            .address
            .rsplit_once('@')
            .map_or("referrald.invalid", |(_, domain)| domain)
    )
}
