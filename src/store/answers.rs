//! The answers, read once: what each referral's answers say by the report's rules, kept in
//! `answers_read` and `answers_value` (migration 0013) so that `/stats` and the ledger read
//! one row per answered referral instead of every answer. The page brings them up to date
//! ([`Store::read_answers`]) before it reads; while they lag (a database the page cannot
//! write), the same figures are counted from the answers themselves. Both ways give
//! [`report::build`]'s figures: the tests in `ledger.rs` compare them.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::{Connection, params};

use super::Store;
use super::ledger::{Answers, answered};
use crate::report::{self, Money, Totals};

/// What the answers add to the figures of the referrals recorded from a time.
#[derive(Debug, Default)]
pub(super) struct AnswerFigures {
    /// Per month (`YYYY-MM`): how many referrals connected by their answers alone (their
    /// status does not say so), and the business they closed.
    pub(super) months: BTreeMap<String, (usize, Totals)>,
    /// How many latest ratings of 1 to 5.
    pub(super) spread: [usize; 5],
    /// The business closed, added up in the report's order (by referral), so that the sums
    /// are its sums exactly.
    pub(super) business: Totals,
}

impl AnswerFigures {
    fn rated(&mut self, rating: u8, times: usize) {
        if let Some(slot) = usize::from(rating)
            .checked_sub(1)
            .and_then(|i| self.spread.get_mut(i))
        {
            *slot += times;
        }
    }

    /// Every rating counted, as a list (what [`crate::report::mean`] takes).
    pub(super) fn ratings(&self) -> Vec<u8> {
        (1..=5u8)
            .zip(self.spread)
            .flat_map(|(rating, n)| std::iter::repeat_n(rating, n))
            .collect()
    }
}

/// The ratings and business credited to each introducer.
pub(super) type Credit = HashMap<i64, (Vec<u8>, Totals)>;

/// Whether every answer is read, with this `max_amount`.
fn all_read(conn: &Connection, max_amount: f64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT u.max_amount IS ?1
                 AND NOT EXISTS (SELECT 1 FROM feedback WHERE id > u.feedback)
                 AND NOT EXISTS (SELECT 1 FROM answers_stale)
             FROM answers_read_upto u",
        )?
        .query_row([max_amount], |r| r.get(0))?)
}

impl Store {
    /// Whether answers are waiting to be read by [`Store::read_answers`].
    pub fn answers_unread(&self, max_amount: f64) -> Result<bool> {
        Ok(!all_read(&self.conn, max_amount)?)
    }

    /// Reads the answers recorded since the last time (all of them when `max_amount`
    /// changed), in one transaction; returns how many referrals' answers were read.
    pub fn read_answers(&mut self, max_amount: f64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        if all_read(&tx, max_amount)? {
            return Ok(0);
        }
        let read_with: Option<f64> =
            tx.query_row("SELECT max_amount FROM answers_read_upto", [], |r| r.get(0))?;
        if read_with != Some(max_amount) {
            tx.execute_batch(
                "DELETE FROM answers_read; DELETE FROM answers_value; DELETE FROM answers_stale;
                 UPDATE answers_read_upto SET feedback = 0;",
            )?;
        }
        let fresh = answered(&tx, Answers::Unread, max_amount)?;
        {
            let mut forget_read = tx.prepare_cached(
                "DELETE FROM answers_read WHERE referral_id IN (SELECT referral_id FROM answers_stale)",
            )?;
            forget_read.execute([])?;
            let mut forget_value = tx.prepare_cached(
                "DELETE FROM answers_value WHERE referral_id IN (SELECT referral_id FROM answers_stale)",
            )?;
            forget_value.execute([])?;
            let mut read = tx.prepare_cached(
                "INSERT OR REPLACE INTO answers_read
                     (referral_id, created_at, month, credited, connected, by_status,
                      rated_1, rated_2, rated_3, rated_4, rated_5)
                 SELECT id, created_at, substr(created_at, 1, 7), ?2, ?3,
                     status IN ('connected', 'succeeded'), ?4, ?5, ?6, ?7, ?8
                 FROM referrals WHERE id = ?1",
            )?;
            let mut clear_value =
                tx.prepare_cached("DELETE FROM answers_value WHERE referral_id = ?1")?;
            let mut value = tx.prepare_cached(
                "INSERT INTO answers_value (referral_id, seq, created_at, month, currency, value)
                 SELECT id, ?2, created_at, substr(created_at, 1, 7), ?3, ?4
                 FROM referrals WHERE id = ?1",
            )?;
            for a in &fresh {
                let n = |k: u8| a.rated.iter().filter(|r| **r == k).count() as i64;
                read.execute(params![
                    a.id,
                    a.credited,
                    a.met,
                    n(1),
                    n(2),
                    n(3),
                    n(4),
                    n(5)
                ])?;
                clear_value.execute([a.id])?;
                for (seq, money) in a.value.iter().enumerate() {
                    value.execute(params![a.id, seq as i64, money.currency, money.value])?;
                }
            }
        }
        tx.execute_batch(
            "DELETE FROM answers_stale;
             UPDATE answers_read_upto
             SET feedback = coalesce((SELECT max(id) FROM feedback), 0);",
        )?;
        tx.execute("UPDATE answers_read_upto SET max_amount = ?1", [max_amount])?;
        tx.commit()?;
        Ok(fresh.len())
    }

    /// What the answers add to the figures of the referrals recorded from `since` (a `ts`),
    /// from what [`Store::read_answers`] read, or from the answers while it lags.
    pub(super) fn answer_figures(
        &self,
        since: Option<&str>,
        max_amount: f64,
    ) -> Result<AnswerFigures> {
        let mut figures = AnswerFigures::default();
        if !all_read(&self.conn, max_amount)? {
            for a in answered(&self.conn, Answers::Since(since), max_amount)? {
                let (connected, business) = figures.months.entry(a.month.clone()).or_default();
                *connected += usize::from(a.met && !report::connected_by_status(a.status));
                business.add(&a.value);
                figures.business.add(&a.value);
                for &rating in &a.rated {
                    figures.rated(rating, 1);
                }
            }
            return Ok(figures);
        }
        let mut by_month = self.conn.prepare_cached(
            "SELECT month, sum(connected AND NOT by_status),
                 sum(rated_1), sum(rated_2), sum(rated_3), sum(rated_4), sum(rated_5)
             FROM answers_read
             WHERE ?1 IS NULL OR created_at >= ?1
             GROUP BY month",
        )?;
        let mut rows = by_month.query([since])?;
        while let Some(row) = rows.next()? {
            let count = |i: usize| -> rusqlite::Result<usize> {
                Ok(usize::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
            };
            figures.months.entry(row.get(0)?).or_default().0 += count(1)?;
            for rating in 1..=5u8 {
                let times = count(usize::from(rating) + 1)?;
                figures.rated(rating, times);
            }
        }
        let mut values = self.conn.prepare_cached(
            "SELECT month, currency, value FROM answers_value
             WHERE ?1 IS NULL OR created_at >= ?1
             ORDER BY referral_id, seq",
        )?;
        let mut rows = values.query([since])?;
        while let Some(row) = rows.next()? {
            let money = Money {
                currency: row.get(1)?,
                value: row.get(2)?,
            };
            let money = std::slice::from_ref(&money);
            figures.months.entry(row.get(0)?).or_default().1.add(money);
            figures.business.add(money);
        }
        Ok(figures)
    }

    /// The ratings and business credited to each of `introducers` (contact ids).
    pub(super) fn credit(&self, introducers: &[i64], max_amount: f64) -> Result<Credit> {
        let mut credit: Credit = introducers
            .iter()
            .map(|id| (*id, Default::default()))
            .collect();
        if credit.is_empty() {
            return Ok(credit);
        }
        if !all_read(&self.conn, max_amount)? {
            for a in answered(&self.conn, Answers::Since(None), max_amount)? {
                if let Some((rated, value)) = a.credited.and_then(|c| credit.get_mut(&c)) {
                    rated.extend_from_slice(&a.rated);
                    value.add(&a.value);
                }
            }
            return Ok(credit);
        }
        let ids = serde_json::to_string(introducers)?;
        let mut ratings = self.conn.prepare_cached(
            "SELECT credited, sum(rated_1), sum(rated_2), sum(rated_3), sum(rated_4),
                 sum(rated_5)
             FROM answers_read
             WHERE credited IN (SELECT value FROM json_each(?1))
             GROUP BY credited",
        )?;
        let mut rows = ratings.query([&ids])?;
        while let Some(row) = rows.next()? {
            let Some((rated, _)) = credit.get_mut(&row.get::<_, i64>(0)?) else {
                continue;
            };
            for rating in 1..=5u8 {
                let times = usize::try_from(row.get::<_, i64>(usize::from(rating))?).unwrap_or(0);
                rated.extend(std::iter::repeat_n(rating, times));
            }
        }
        let mut values = self.conn.prepare_cached(
            "SELECT a.credited, v.currency, v.value
             FROM answers_read a JOIN answers_value v ON v.referral_id = a.referral_id
             WHERE a.credited IN (SELECT value FROM json_each(?1))
             ORDER BY v.referral_id, v.seq",
        )?;
        let mut rows = values.query([&ids])?;
        while let Some(row) = rows.next()? {
            if let Some((_, value)) = credit.get_mut(&row.get::<_, i64>(0)?) {
                let money = Money {
                    currency: row.get(1)?,
                    value: row.get(2)?,
                };
                value.add(std::slice::from_ref(&money));
            }
        }
        Ok(credit)
    }
}
