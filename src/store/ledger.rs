//! The `stats` figures and the reciprocity ledger without reading every referral: what the
//! web page shows at 100,000 referrals in a few milliseconds. Counts come from `GROUP BY`
//! and from the ledger table of migration 0013; what depends on answers (connection through
//! an outcome, ratings, closed business) from the answers as `answers.rs` reads them, with
//! the report's own rules ([`report::Referral::latest`] and the rest). The results equal
//! [`report::build`]'s, which `stats` prints: the tests compare them.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::model::{ReferralId, ReferralStatus};
use crate::report;

use super::charts::{ChartFigures, MonthFigures};
use super::{ANSWER, Store, answer, parse_word, ts};

/// What the answers about one referral count for.
pub(super) struct Answered {
    pub(super) id: ReferralId,
    pub(super) status: ReferralStatus,
    /// The month it was recorded in, `YYYY-MM` (UTC), as the charts count it.
    pub(super) month: String,
    /// Its introducer, unless that is the owner: whom its ratings and business are credited to.
    pub(super) credited: Option<i64>,
    /// A party's latest answer says they met, whatever the status says.
    pub(super) met: bool,
    pub(super) rated: Vec<u8>,
    pub(super) value: Vec<report::Money>,
}

/// Which referrals' answers [`answered`] reads.
pub(super) enum Answers<'a> {
    /// Of every referral recorded from this time (`ts`), or of all.
    Since(Option<&'a str>),
    /// Of the referrals with answers `Store::read_answers` has not read.
    Unread,
}

/// What the answers say, for every referral `which` names that has any, oldest first: each
/// read by the report's rules (see [`report::Referral::latest`]).
pub(super) fn answered(
    conn: &rusqlite::Connection,
    which: Answers,
    max_amount: f64,
) -> Result<Vec<Answered>> {
    let (scope, since) = match which {
        Answers::Since(since) => ("?1 IS NULL OR r.created_at >= ?1", since),
        Answers::Unread => (
            "?1 IS NULL AND f.referral_id IN (
                 SELECT referral_id FROM feedback
                 WHERE id > (SELECT feedback FROM answers_read_upto)
                 UNION SELECT referral_id FROM answers_stale)",
            None,
        ),
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT f.referral_id, r.status, f.contact_id,
             EXISTS (SELECT 1 FROM participants p WHERE p.referral_id = f.referral_id
                     AND p.contact_id = f.contact_id AND p.role = 'party'),
             (SELECT i.contact_id FROM participants i WHERE i.referral_id = f.referral_id
              AND i.role = 'introducer' AND i.is_owner = 0),
             substr(r.created_at, 1, 7), {ANSWER}
         FROM feedback f JOIN referrals r ON r.id = f.referral_id
         WHERE {scope}
         ORDER BY f.referral_id, f.id"
    ))?;
    let mut rows = stmt.query([since])?;
    // The report's own reading of one referral, with contact ids for addresses.
    let mut current: Option<(report::Referral, Option<i64>, String)> = None;
    let mut answered = Vec::new();
    let mut finish = |(r, credited, month): (report::Referral, Option<i64>, String)| {
        let latest = r.latest(max_amount);
        answered.push(Answered {
            id: r.id,
            status: r.status,
            month,
            credited,
            met: r.met(&latest),
            rated: latest.iter().filter_map(|l| l.rating).collect(),
            value: report::Referral::closed_business(&latest),
        });
    };
    while let Some(row) = rows.next()? {
        let id: ReferralId = row.get(0)?;
        let from = row.get::<_, i64>(2)?.to_string();
        let is_party: bool = row.get(3)?;
        if current.as_ref().is_none_or(|(r, _, _)| r.id != id) {
            if let Some(done) = current.take() {
                finish(done);
            }
            let nobody = report::Participant {
                email: String::new(),
                name: String::new(),
                is_owner: false,
            };
            let referral = report::Referral {
                id,
                status: parse_word(&row.get::<_, String>(1)?)?,
                introducer: nobody,
                parties: Vec::new(),
                feedback: Vec::new(),
            };
            current = Some((referral, row.get(4)?, row.get(5)?));
        }
        let Some((r, _, _)) = current.as_mut() else {
            continue;
        };
        if is_party && !r.parties.iter().any(|p| p.email == from) {
            r.parties.push(report::Participant {
                email: from.clone(),
                name: String::new(),
                is_owner: false,
            });
        }
        r.feedback.push(answer(row, from, 6)?);
    }
    if let Some(done) = current.take() {
        finish(done);
    }
    Ok(answered)
}

/// The columns [`line`] reads.
const LINE: &str =
    "contact_id, email, name, introduced, gave_you, you_gave, was_introduced, succeeded";

/// A line of the ledger table as the report's partner, before ratings and business.
fn line(r: &rusqlite::Row) -> rusqlite::Result<(i64, report::Partner)> {
    let count = |v: i64| usize::try_from(v).unwrap_or(0);
    let introduced = count(r.get(3)?);
    let succeeded = count(r.get(7)?);
    Ok((
        r.get(0)?,
        report::Partner {
            email: r.get(1)?,
            name: r.get(2)?,
            introduced,
            gave_you: count(r.get(4)?),
            you_gave: count(r.get(5)?),
            was_introduced: count(r.get(6)?),
            succeeded,
            success_rate: report::rate(succeeded, introduced),
            ratings: 0,
            average_rating: None,
            value: Vec::new(),
        },
    ))
}

impl Store {
    /// How many referrals recorded from `since` the owner made, and received from someone
    /// else.
    fn owners_share(&self, since: Option<&str>) -> Result<(usize, usize)> {
        let (made, received): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT
                 (SELECT count(*) FROM participants p JOIN referrals r ON r.id = p.referral_id
                  WHERE p.is_owner = 1 AND p.role = 'introducer'
                    AND (?1 IS NULL OR r.created_at >= ?1)),
                 (SELECT count(DISTINCT p.referral_id) FROM participants p
                  JOIN referrals r ON r.id = p.referral_id
                  WHERE p.is_owner = 1 AND p.role = 'party'
                    AND (?1 IS NULL OR r.created_at >= ?1)
                    AND NOT EXISTS (SELECT 1 FROM participants i
                        WHERE i.referral_id = p.referral_id AND i.role = 'introducer'
                          AND i.is_owner = 1))",
            )?
            .query_row([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((
            usize::try_from(made).unwrap_or(0),
            usize::try_from(received).unwrap_or(0),
        ))
    }

    /// The `stats` figures for the referrals recorded from `since` (all of them without
    /// it): [`report::build`]'s report, all but the ledger (`partners` is left empty; see
    /// [`Store::ledger_page`]), and the figures of the stats page's charts, counted the same
    /// way month by month.
    pub fn figures(
        &self,
        since: Option<DateTime<Utc>>,
        max_amount: f64,
    ) -> Result<(report::Report, ChartFigures)> {
        let from = since.map(ts);
        let mut per_month = self.referrals_per_month(since)?;
        // Statuses in their own order (as the charts list them), not their names'.
        per_month.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut by_status: BTreeMap<ReferralStatus, usize> =
            ReferralStatus::ALL.iter().map(|s| (*s, 0)).collect();
        let mut months: BTreeMap<String, MonthFigures> = BTreeMap::new();
        for (month, status, n) in &per_month {
            *by_status.entry(*status).or_default() += n;
            let figures = months.entry(month.clone()).or_insert_with(|| MonthFigures {
                month: month.clone(),
                ..MonthFigures::default()
            });
            figures.referrals += n;
            if *status == ReferralStatus::Succeeded {
                figures.succeeded += n;
            }
            if report::connected_by_status(*status) {
                figures.connected += n;
            }
        }
        let total: usize = by_status.values().sum();
        let succeeded = by_status[&ReferralStatus::Succeeded];
        let answers = self.answer_figures(from.as_deref(), max_amount)?;
        let ratings = answers.ratings();
        let mut connected = by_status[&ReferralStatus::Connected] + succeeded;
        for (month, (by_answer, value)) in answers.months {
            connected += by_answer;
            // A referral recorded after the months were counted is left out of the charts.
            if let Some(figures) = months.get_mut(&month) {
                figures.connected += by_answer;
                figures.business = value.into_money();
            }
        }
        let (you_made, you_received) = self.owners_share(from.as_deref())?;
        let report = report::Report {
            since,
            referrals: total,
            by_status,
            connected,
            connection_rate: report::rate(connected, total),
            succeeded,
            success_rate: report::rate(succeeded, total),
            ratings: ratings.len(),
            average_rating: report::mean(&ratings),
            closed_business: answers.business.into_money(),
            you_made,
            you_received,
            partners: Vec::new(),
        };
        let charts = ChartFigures {
            months: months.into_values().collect(),
            ratings: answers.spread,
            per_status: per_month,
        };
        Ok((report, charts))
    }

    /// Lines `offset` to `offset + limit` of the reciprocity ledger, in [`report::build`]'s
    /// order and with its figures, and whether more follow.
    pub fn ledger_page(
        &self,
        offset: usize,
        limit: usize,
        max_amount: f64,
    ) -> Result<(Vec<report::Partner>, bool)> {
        let mut lines: Vec<(i64, report::Partner)> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {LINE} FROM ledger
                 ORDER BY gave_you DESC, introduced DESC, you_gave DESC, name, email
                 LIMIT ?1 OFFSET ?2"
            ))?
            .query_map(
                params![
                    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
                    i64::try_from(offset).unwrap_or(i64::MAX)
                ],
                line,
            )?
            .collect::<rusqlite::Result<_>>()?;
        let more = lines.len() > limit;
        lines.truncate(limit);
        Ok((self.credited(lines, max_amount)?, more))
    }

    /// The ledger's `lines` with the ratings and business credited to them as introducers,
    /// from the answers.
    fn credited(
        &self,
        lines: Vec<(i64, report::Partner)>,
        max_amount: f64,
    ) -> Result<Vec<report::Partner>> {
        let introducers: Vec<i64> = lines
            .iter()
            .filter(|(_, p)| p.introduced > 0)
            .map(|(id, _)| *id)
            .collect();
        let mut credit = self.credit(&introducers, max_amount)?;
        Ok(lines
            .into_iter()
            .map(|(id, mut p)| {
                if let Some((rated, value)) = credit.remove(&id) {
                    p.ratings = rated.len();
                    p.average_rating = report::mean(&rated);
                    p.value = value.into_money();
                }
                p
            })
            .collect())
    }

    /// How many referrals are not counted in the ledger yet (see
    /// [`Store::count_for_ledger`]).
    pub fn ledger_uncounted(&self) -> Result<usize> {
        self.referrals_after("ledger_counted")
    }

    /// How many referrals were recorded after the one `watermark.upto` names: what the
    /// search's index (`search_indexed`) or the ledger (`ledger_counted`) has still to take in.
    pub(super) fn referrals_after(&self, watermark: &'static str) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM referrals WHERE id > (SELECT upto FROM {watermark})"
            ))?
            .query_row([], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Counts the referrals recorded since the last time in the ledger, in one statement;
    /// returns how many referrals that was.
    pub fn count_for_ledger(&mut self) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let upto: ReferralId = tx.query_row("SELECT upto FROM ledger_counted", [], |r| r.get(0))?;
        let (newest, added): (Option<ReferralId>, i64) = tx.query_row(
            "SELECT max(id), count(*) FROM referrals WHERE id > ?1",
            [upto],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some(newest) = newest else {
            return Ok(0);
        };
        // As migration 0013 counted what was recorded before it.
        tx.execute(
            "INSERT INTO ledger (contact_id, email, name, named_in, introduced, gave_you,
                                 succeeded, was_introduced, you_gave)
             SELECT p.contact_id, c.email,
                 (SELECT q.name FROM participants q
                  WHERE q.contact_id = p.contact_id AND q.is_owner = 0 AND q.referral_id <= ?2
                  ORDER BY q.referral_id DESC LIMIT 1),
                 max(p.referral_id),
                 sum(p.role = 'introducer'),
                 sum(p.role = 'introducer' AND EXISTS (SELECT 1 FROM participants o
                     WHERE o.referral_id = p.referral_id AND o.role = 'party'
                       AND o.is_owner = 1)),
                 sum(p.role = 'introducer' AND r.status = 'succeeded'),
                 sum(p.role = 'party'),
                 sum(p.role = 'party' AND EXISTS (SELECT 1 FROM participants o
                     WHERE o.referral_id = p.referral_id AND o.role = 'introducer'
                       AND o.is_owner = 1))
             FROM participants p JOIN contacts c ON c.id = p.contact_id
                 JOIN referrals r ON r.id = p.referral_id
             WHERE p.is_owner = 0 AND p.referral_id > ?1 AND p.referral_id <= ?2
             GROUP BY p.contact_id
             ON CONFLICT (contact_id) DO UPDATE SET
                 introduced = introduced + excluded.introduced,
                 gave_you = gave_you + excluded.gave_you,
                 succeeded = succeeded + excluded.succeeded,
                 was_introduced = was_introduced + excluded.was_introduced,
                 you_gave = you_gave + excluded.you_gave,
                 name = excluded.name,
                 named_in = excluded.named_in",
            params![upto, newest],
        )?;
        tx.execute("UPDATE ledger_counted SET upto = ?1", [newest])?;
        tx.commit()?;
        Ok(usize::try_from(added).unwrap_or(0))
    }

    /// `email`'s line of the ledger, if they are in it (the owner is not).
    pub fn ledger_line(&self, email: &str, max_amount: f64) -> Result<Option<report::Partner>> {
        let line = self
            .conn
            .prepare_cached(&format!("SELECT {LINE} FROM ledger WHERE email = ?1"))?
            .query_row([email], line)
            .optional()?;
        Ok(self.credited(line.into_iter().collect(), max_amount)?.pop())
    }

    /// How many referrals the owner made and received, over all time: the figures the
    /// ledger page shows above it.
    pub fn owners_referrals(&self) -> Result<(usize, usize)> {
        self.owners_share(None)
    }
}
