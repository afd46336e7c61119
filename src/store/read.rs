//! Reading the store for people: the shapes `referrals`, `show` and `outbox` print, which are
//! also the JSON contract of SPEC §5 (fields may be added, never renamed).

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::model::{
    Answer, OutboundKind, OutboundState, PartyState, Person, ReferralId, ReferralStatus, Role,
};
use crate::report;

use super::{ANSWER, Store, answer, parse_ts, parse_word, ts};

/// A referral as `referrals` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralView {
    /// Its number.
    pub id: ReferralId,
    /// Where it stands.
    pub status: ReferralStatus,
    /// When it was recorded (RFC 3339, UTC).
    pub created_at: String,
    /// The introduction's own date, which the plan counts from: its Date header, no later
    /// than it reached the mailbox (RFC 3339, UTC). `created_at` for referrals recorded
    /// before referrald kept it.
    pub introduced_at: String,
    /// Whether it was recorded as history: older than every message of the plan when it was
    /// recorded, so no mail is ever sent about it.
    pub history: bool,
    /// The introduction's subject.
    pub subject: String,
    /// Who made it.
    pub introducer: Person,
    /// The people introduced.
    pub parties: Vec<ParticipantView>,
}

/// What reading old mail did: see [`Store::lateness`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lateness {
    /// Introductions recorded as history (no mail at all).
    pub history: usize,
    /// Messages skipped as too late in the other referrals.
    pub skipped: usize,
}

/// A party and where they stand.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    /// Their address.
    pub email: String,
    /// Their name as the introduction gave it.
    pub name: String,
    /// pending, responded, opted_out or bounced.
    pub state: PartyState,
    /// Whether this party is the owner.
    pub is_owner: bool,
}

/// One referral in full, as `show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralDetail {
    /// The fields `referrals` shows.
    #[serde(flatten)]
    pub referral: ReferralView,
    /// Its story.
    pub events: Vec<EventView>,
    /// Its mail.
    pub outbound: Vec<OutboundView>,
    /// What the participants said.
    pub feedback: Vec<Answer>,
    /// People copied to help (an assistant finding a time): never mailed.
    pub copied: Vec<Person>,
    /// What the address the introduction was sent to asked (`intros+quiet@…`).
    pub options: crate::intake::options::Options,
}

/// Something that happened to a referral.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// When.
    pub at: String,
    /// What kind of change (recorded, replied, feedback, sent, cancelled, status…).
    pub kind: String,
    /// In words.
    pub detail: String,
}

/// An outbound message, as `outbox` and `show` print it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboundView {
    /// Its row.
    pub id: i64,
    /// The referral it is about.
    pub referral_id: ReferralId,
    /// Which message of the plan.
    pub kind: OutboundKind,
    /// The recipient's address.
    pub to: String,
    /// scheduled, sending, sent, failed or cancelled.
    pub state: OutboundState,
    /// When it is (or was) due.
    pub due_at: String,
    /// When it was accepted, if it was.
    pub sent_at: Option<String>,
    /// Attempts made.
    pub attempts: i64,
    /// The last failure, or why it was cancelled.
    pub last_error: Option<String>,
    /// Its Message-ID (without brackets).
    pub message_id: String,
}

/// One event, for following the store as it changes (the demo's story).
#[derive(Debug, Clone)]
pub struct StoryLine {
    /// The event's row: later events have larger ids.
    pub id: i64,
    /// The referral, when the event is about one.
    pub referral: Option<ReferralId>,
    /// When.
    pub at: DateTime<Utc>,
    /// What kind of change.
    pub kind: String,
    /// In words.
    pub detail: String,
}

/// Which referrals a page of the list shows.
#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    /// Only those in this status.
    pub status: Option<ReferralStatus>,
    /// Only those this address took part in (introducer or party).
    pub person: Option<String>,
    /// Only those whose subject, or a participant's name or address, contains this.
    pub search: Option<String>,
}

/// The next message a referral is waiting to send.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    /// Which message.
    pub kind: OutboundKind,
    /// To whom.
    pub to: String,
    /// When it is due (RFC 3339, UTC).
    pub due_at: String,
}

const OUTBOUND_COLUMNS: &str = "o.id, o.referral_id, o.kind, c.email, o.state, o.due_at, o.sent_at,
     o.attempts, o.last_error, o.message_id
     FROM outbound o JOIN contacts c ON c.id = o.contact_id";

impl Store {
    /// Every referral, newest first, optionally only those in one status.
    pub fn referrals(&self, status: Option<ReferralStatus>) -> Result<Vec<ReferralView>> {
        let ids: Vec<ReferralId> = match status {
            Some(s) => collect(
                &self.conn,
                "SELECT id FROM referrals WHERE status = ?1 ORDER BY id DESC",
                params![s.as_str()],
                |r| r.get(0),
            )?,
            None => collect(
                &self.conn,
                "SELECT id FROM referrals ORDER BY id DESC",
                [],
                |r| r.get(0),
            )?,
        };
        ids.into_iter()
            .filter_map(|id| referral_view(&self.conn, id).transpose())
            .collect()
    }

    /// One referral in full, if it exists.
    pub fn referral(&self, id: ReferralId) -> Result<Option<ReferralDetail>> {
        let Some(referral) = referral_view(&self.conn, id)? else {
            return Ok(None);
        };
        let events = collect(
            &self.conn,
            "SELECT at, kind, detail FROM events WHERE referral_id = ?1 ORDER BY id",
            [id],
            |r| {
                Ok(EventView {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                })
            },
        )?;
        let outbound = collect(
            &self.conn,
            &format!("SELECT {OUTBOUND_COLUMNS} WHERE o.referral_id = ?1 ORDER BY o.due_at, o.id"),
            [id],
            outbound_view,
        )?;
        let feedback = collect(
            &self.conn,
            &format!(
                "SELECT c.email, {ANSWER}
                 FROM feedback f JOIN contacts c ON c.id = f.contact_id
                 WHERE f.referral_id = ?1 ORDER BY f.id"
            ),
            [id],
            |r| answer(r, r.get(0)?, 1),
        )?;
        let copied = collect(
            &self.conn,
            "SELECT c.email, k.name FROM copied k JOIN contacts c ON c.id = k.contact_id
             WHERE k.referral_id = ?1 ORDER BY k.position",
            [id],
            |r| {
                Ok(Person {
                    email: r.get(0)?,
                    name: r.get(1)?,
                })
            },
        )?;
        Ok(Some(ReferralDetail {
            referral,
            events,
            outbound,
            feedback,
            copied,
            options: super::plan::options_of(&self.conn, id)?,
        }))
    }

    /// Calls `each` with every referral in full, oldest first, reading one at a time.
    pub fn each_referral(&self, mut each: impl FnMut(ReferralDetail) -> Result<()>) -> Result<()> {
        let ids: Vec<ReferralId> = collect(
            &self.conn,
            "SELECT id FROM referrals ORDER BY id",
            [],
            |r| r.get(0),
        )?;
        for id in ids {
            // A referral cannot vanish between the two reads: the store is the only writer,
            // and nothing deletes referrals.
            if let Some(detail) = self.referral(id)? {
                each(detail)?;
            }
        }
        Ok(())
    }

    /// Events recorded after event `id`, oldest first.
    pub fn events_after(&self, id: i64) -> Result<Vec<StoryLine>> {
        collect(
            &self.conn,
            "SELECT id, referral_id, at, kind, detail FROM events WHERE id > ?1 ORDER BY id",
            [id],
            |r| {
                Ok(StoryLine {
                    id: r.get(0)?,
                    referral: r.get(1)?,
                    at: parse_ts(&r.get::<_, String>(2)?)?,
                    kind: r.get(3)?,
                    detail: r.get(4)?,
                })
            },
        )
    }

    /// The Message-ID a referral's mail threads under.
    pub fn thread_root(&self, referral: ReferralId) -> Result<String> {
        Ok(self.conn.query_row(
            "SELECT thread_root FROM referrals WHERE id = ?1",
            [referral],
            |r| r.get(0),
        )?)
    }

    /// How many messages intake has decided about, and how many referrals are recorded:
    /// for `doctor`.
    pub fn totals(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM messages WHERE kind != 'thread_root'),
                    (SELECT count(*) FROM referrals)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Of these referrals, how many were recorded as history, and how many messages of the
    /// others were skipped as too late: what `run` says after reading an existing mailbox.
    pub fn lateness(&self, referrals: &[ReferralId]) -> Result<Lateness> {
        let mut tally = Lateness::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT history, (SELECT count(*) FROM outbound o WHERE o.referral_id = r.id
                 AND o.state = 'cancelled' AND o.last_error LIKE 'too late:%')
             FROM referrals r WHERE id = ?1",
        )?;
        for id in referrals {
            let (history, skipped): (bool, i64) = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or_default();
            tally.history += usize::from(history);
            tally.skipped += usize::try_from(skipped).unwrap_or(0);
        }
        Ok(tally)
    }

    /// The referrals recorded at or after `since` (all of them without it), oldest first, as
    /// the report reads them: who took part and what each answer said.
    pub fn referrals_for_report(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<report::Referral>> {
        self.referrals_for_report_of(since, None)
    }

    /// [`Store::referrals_for_report`], only the referrals `person` (an address) took part
    /// in when one is given: all their line of the ledger needs.
    pub fn referrals_for_report_of(
        &self,
        since: Option<DateTime<Utc>>,
        person: Option<&str>,
    ) -> Result<Vec<report::Referral>> {
        let since = since.map(ts);
        // The referral ids of `person`, or every one.
        let theirs = "(?2 IS NULL OR r.id IN (SELECT p.referral_id FROM participants p
             JOIN contacts c ON c.id = p.contact_id WHERE c.email = ?2))";
        let heads: Vec<(ReferralId, String)> = collect(
            &self.conn,
            &format!(
                "SELECT r.id, r.status FROM referrals r
                 WHERE (?1 IS NULL OR r.created_at >= ?1) AND {theirs} ORDER BY r.id"
            ),
            params![since, person],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // Introducers come with the participants, below; a referral without one is an error.
        let mut introducers: Vec<Option<report::Participant>> = vec![None; heads.len()];
        let mut referrals = Vec::with_capacity(heads.len());
        let mut index = HashMap::with_capacity(heads.len());
        for (i, (id, status)) in heads.into_iter().enumerate() {
            index.insert(id, i);
            referrals.push(report::Referral {
                id,
                status: parse_word(&status)?,
                introducer: report::Participant {
                    email: String::new(),
                    name: String::new(),
                    is_owner: false,
                },
                parties: Vec::new(),
                feedback: Vec::new(),
            });
        }
        let people = collect(
            &self.conn,
            &format!(
                "SELECT p.referral_id, p.role, c.email, p.name, p.is_owner FROM participants p
             JOIN contacts c ON c.id = p.contact_id JOIN referrals r ON r.id = p.referral_id
             WHERE (?1 IS NULL OR r.created_at >= ?1) AND {theirs}
             ORDER BY p.referral_id, p.position"
            ),
            params![since, person],
            |r| {
                Ok((
                    r.get::<_, ReferralId>(0)?,
                    parse_word::<Role>(&r.get::<_, String>(1)?)?,
                    report::Participant {
                        email: r.get(2)?,
                        name: r.get(3)?,
                        is_owner: r.get(4)?,
                    },
                ))
            },
        )?;
        for (id, role, who) in people {
            let Some(&i) = index.get(&id) else { continue };
            match role {
                Role::Introducer => introducers[i] = Some(who),
                Role::Party => referrals[i].parties.push(who),
            }
        }
        let answers = collect(
            &self.conn,
            &format!(
                "SELECT f.referral_id, c.email, {ANSWER} FROM feedback f
                 JOIN contacts c ON c.id = f.contact_id JOIN referrals r ON r.id = f.referral_id
                 WHERE (?1 IS NULL OR r.created_at >= ?1) AND {theirs}
                 ORDER BY f.referral_id, f.id"
            ),
            params![since, person],
            |r| Ok((r.get::<_, ReferralId>(0)?, answer(r, r.get(1)?, 2)?)),
        )?;
        for (id, answer) in answers {
            if let Some(&i) = index.get(&id) {
                referrals[i].feedback.push(answer);
            }
        }
        for (r, introducer) in referrals.iter_mut().zip(introducers) {
            r.introducer = introducer
                .ok_or_else(|| anyhow::anyhow!("referral #{} has no introducer", r.id))?;
        }
        Ok(referrals)
    }

    /// One page of the referrals `filter` chooses, newest first: at most `limit` from
    /// `offset`, and whether more follow.
    pub fn referrals_page(
        &self,
        filter: &ReferralFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<ReferralView>, bool)> {
        let ids = self.chosen(filter, offset, limit + 1)?;
        let more = ids.len() > limit;
        let list = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| referral_view(&self.conn, id).transpose())
            .collect::<Result<_>>()?;
        Ok((list, more))
    }

    /// The next message referral `id` is waiting to send, if any: one made already, else
    /// the first the plan will make.
    pub fn waiting(
        &self,
        id: ReferralId,
        config: &crate::config::Config,
        now: DateTime<Utc>,
    ) -> Result<Option<Waiting>> {
        let made = self
            .conn
            .prepare_cached(
                // Without the hint SQLite walks outbound_pending (every scheduled message
                // in due order) to skip a sort of three rows: 1 ms a referral at 2,000.
                "SELECT o.kind, c.email, o.due_at FROM outbound o INDEXED BY outbound_referral
                 JOIN contacts c ON c.id = o.contact_id
                 WHERE o.referral_id = ?1 AND o.state = 'scheduled'
                 ORDER BY o.due_at LIMIT 1",
            )?
            .query_row([id], |r| {
                Ok(Waiting {
                    kind: parse_word(&r.get::<_, String>(0)?)?,
                    to: r.get(1)?,
                    due_at: r.get(2)?,
                })
            })
            .optional()?;
        if made.is_some() {
            return Ok(made);
        }
        let has_next: bool = self
            .conn
            .prepare_cached("SELECT next_due_at IS NOT NULL FROM referrals WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
        if !has_next {
            return Ok(None);
        }
        Ok(self
            .forecast_referral(id, config, now)?
            .into_iter()
            .next()
            .map(|p| Waiting {
                kind: p.kind,
                to: p.to,
                due_at: p.due_at,
            }))
    }

    /// Until when referral `id`'s mail is held, if it is paused.
    pub fn paused_until(&self, id: ReferralId) -> Result<Option<DateTime<Utc>>> {
        let at: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT paused_until FROM referrals WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(at.flatten().map(|t| parse_ts(&t)).transpose()?)
    }

    /// How many referrals were recorded in each month (`YYYY-MM`, UTC) in each status, from
    /// `since` (all of them without it), oldest month first.
    pub fn referrals_per_month(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, ReferralStatus, usize)>> {
        collect(
            &self.conn,
            "SELECT substr(created_at, 1, 7) AS month, status, count(*) FROM referrals
             WHERE ?1 IS NULL OR created_at >= ?1
             GROUP BY status, month ORDER BY month, status",
            [since.map(ts)],
            |r| {
                Ok((
                    r.get(0)?,
                    parse_word(&r.get::<_, String>(1)?)?,
                    r.get::<_, i64>(2)? as usize,
                ))
            },
        )
    }

    /// Every outbound message, by due time.
    pub fn outbox(&self) -> Result<Vec<OutboundView>> {
        collect(
            &self.conn,
            &format!("SELECT {OUTBOUND_COLUMNS} ORDER BY o.due_at, o.id"),
            [],
            outbound_view,
        )
    }
}

fn outbound_view(r: &rusqlite::Row) -> rusqlite::Result<OutboundView> {
    Ok(OutboundView {
        id: r.get(0)?,
        referral_id: r.get(1)?,
        kind: parse_word(&r.get::<_, String>(2)?)?,
        to: r.get(3)?,
        state: parse_word(&r.get::<_, String>(4)?)?,
        due_at: r.get(5)?,
        sent_at: r.get(6)?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        message_id: r.get(9)?,
    })
}

fn referral_view(conn: &Connection, id: ReferralId) -> Result<Option<ReferralView>> {
    let head: Option<(String, String, String, String, bool)> = conn
        .prepare_cached(
            "SELECT status, created_at, subject, coalesce(introduced_at, created_at), history
             FROM referrals WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((status, created_at, subject, introduced_at, history)) = head else {
        return Ok(None);
    };
    let people = collect(
        conn,
        "SELECT p.role, c.email, p.name, p.state, p.is_owner FROM participants p
         JOIN contacts c ON c.id = p.contact_id WHERE p.referral_id = ?1 ORDER BY p.position",
        [id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                ParticipantView {
                    email: r.get(1)?,
                    name: r.get(2)?,
                    state: parse_word(&r.get::<_, String>(3)?)?,
                    is_owner: r.get(4)?,
                },
            ))
        },
    )?;
    let mut introducer = None;
    let mut parties = Vec::new();
    for (role, p) in people {
        if role == "introducer" {
            introducer = Some(Person {
                email: p.email,
                name: p.name,
            });
        } else {
            parties.push(p);
        }
    }
    let introducer =
        introducer.ok_or_else(|| anyhow::anyhow!("referral #{id} has no introducer"))?;
    Ok(Some(ReferralView {
        id,
        status: parse_word(&status)?,
        created_at,
        introduced_at,
        history,
        subject,
        introducer,
        parties,
    }))
}

fn collect<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params, f)?
        .collect::<rusqlite::Result<_>>()?)
}
