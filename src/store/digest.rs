//! The weekly digest's record: which weeks were decided, and queueing the one due as a notice
//! (the decisions are [`crate::digest`]'s; the outbox sends it like any notice).

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::composer::{NOTICE_DIGEST, Notice};
use crate::config::Config;
use crate::digest::{self, Digest, Week};
use crate::model::Person;
use crate::report;

use super::commands::{NoticeId, queue};
use super::{Store, parse_ts, ts};

/// The last digest decided (its week and when), if any.
type LastDigest = Option<(String, DateTime<Utc>)>;

impl Store {
    /// The last digest decided (its week and when), and when the store began (its first
    /// referral; now when there is none).
    fn digest_state(&self, now: DateTime<Utc>) -> Result<(LastDigest, DateTime<Utc>)> {
        let last: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT week, decided_at FROM digests ORDER BY week DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let last = match last {
            Some((week, at)) => Some((week, parse_ts(&at)?)),
            None => None,
        };
        let start: Option<String> =
            self.conn
                .query_row("SELECT min(created_at) FROM referrals", [], |r| r.get(0))?;
        let start = start.map(|t| parse_ts(&t)).transpose()?.unwrap_or(now);
        Ok((last, start))
    }

    /// The week whose digest is due now, if one is, and when the last one was decided.
    pub fn digest_due(
        &self,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Option<(Week, Option<DateTime<Utc>>)>> {
        let (last, start) = self.digest_state(now)?;
        let week = digest::due(
            config.digest.when,
            config.owner.timezone,
            last.as_ref().map(|(w, _)| w.as_str()),
            start,
            now,
        );
        Ok(week.map(|w| (w, last.map(|(_, at)| at))))
    }

    /// The next digest as `digest` prints it: its week (the one due now, else the latest one's)
    /// and the start of what it covers (since the last digest). None when off.
    pub fn next_digest_period(
        &self,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Option<(Week, DateTime<Utc>)>> {
        if let Some((week, last_at)) = self.digest_due(config, now)? {
            let since = digest::period_start(&week, last_at, now);
            return Ok(Some((week, since)));
        }
        let Some(week) = digest::latest(config.digest.when, config.owner.timezone, now) else {
            return Ok(None);
        };
        let (last, _) = self.digest_state(now)?;
        let since = digest::period_start(&week, last.map(|(_, at)| at), now);
        Ok(Some((week, since)))
    }

    /// When the daemon must wake for the next digest (none when off).
    pub fn next_digest(
        &self,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let (last, start) = self.digest_state(now)?;
        Ok(digest::next(
            config.digest.when,
            config.owner.timezone,
            last.as_ref().map(|(w, _)| w.as_str()),
            start,
            now,
        ))
    }

    /// The earliest of [`Store::next_due`] and [`Store::next_digest`]: when to wake.
    pub fn next_wake(&self, config: &Config, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let due = self.next_due()?;
        let digest = self.next_digest(config, now)?;
        Ok(match (due, digest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// What a digest covering `since..=now` says.
    pub fn digest(
        &self,
        config: &Config,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Digest> {
        let mut referrals = Vec::new();
        self.each_referral(|d| {
            referrals.push(d);
            Ok(())
        })?;
        let lately = now - TimeDelta::days(digest::OWE_WINDOW_DAYS);
        let ledger = report::build(
            Some(lately),
            &self.referrals_for_report(Some(lately))?,
            config.intake.max_amount,
        );
        Ok(digest::select(
            &config.owner.emails,
            &referrals,
            &ledger,
            since,
            now,
            config.owner.timezone,
            config.intake.max_amount,
        ))
    }

    /// The notice of a digest to the owner (at their first address; none without one).
    pub fn digest_notice(config: &Config, week: &str, digest: &Digest) -> Option<Notice> {
        let email = config.owner.emails.first()?;
        let mut facts = serde_json::to_value(digest).unwrap_or_else(|_| json!({}));
        facts["week"] = json!(week);
        Some(Notice {
            kind: NOTICE_DIGEST,
            message_id: String::new(),
            to: Person::new(email, Some(&config.owner.name)),
            subject: String::new(),
            references: Vec::new(),
            facts,
        })
    }

    /// Decides the digest due now, if one is: records its week (once: the week is the key)
    /// and queues it as a notice unless there is nothing to say. Returns the notice queued.
    pub fn queue_digest(
        &mut self,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Option<NoticeId>> {
        let Some((week, last_at)) = self.digest_due(config, now)? else {
            return Ok(None);
        };
        let since = digest::period_start(&week, last_at, now);
        let digest = self.digest(config, since, now)?;
        let tx = self.conn.transaction()?;
        let decided = tx.execute(
            "INSERT OR IGNORE INTO digests (week, decided_at) VALUES (?1, ?2)",
            params![week.key, ts(now)],
        )?;
        if decided == 0 {
            return Ok(None);
        }
        let notice = match Store::digest_notice(config, &week.key, &digest) {
            Some(n) if !digest.is_empty() => n,
            _ => {
                tx.commit()?;
                tracing::info!("digest for {}: nothing to say", week.key);
                return Ok(None);
            }
        };
        let id = queue(&tx, &notice, None, &config.tracking.address, now)?;
        tx.execute(
            "UPDATE digests SET notice_id = ?2 WHERE week = ?1",
            params![week.key, id],
        )?;
        tx.commit()?;
        tracing::info!("digest for {} queued", week.key);
        Ok(Some(id))
    }
}
