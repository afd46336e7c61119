//! The weekly digest to the owner (`[digest] when = "Mon 08:00"`): pure decisions.
//!
//! [`due`] says whether a digest is due (given `when`, the owner's timezone, the week of the
//! last digest and now) and which week it is; [`next`] says when the daemon must wake for it;
//! [`select`] picks what it says from the referrals as the store shows them and the report's
//! reciprocity ledger. The store records one row per week (a unique key), so each week's digest
//! is decided once; the outbox sends it as one more notice.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Serialize;

use crate::model::{
    OutboundKind, OutboundState, Outcome, PartyState, ReferralStatus, clean_name, format_amount,
    has_minor_units,
};
use crate::report::{self, Report};
use crate::store::ReferralDetail;

fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    crate::store::parse_ts(text).ok()
}

/// How far back "lately" reaches for "you owe them one".
pub const OWE_WINDOW_DAYS: i64 = 90;

/// A digest never covers more than this, however long the daemon was down.
pub const MAX_PERIOD_DAYS: i64 = 28;

/// Each list in a digest shows at most this many lines (the most recent).
const MAX_LINES: usize = 10;

/// An owner's nudge unanswered this long needs the owner.
const NUDGE_UNANSWERED_DAYS: i64 = 2;

/// When the digest goes: a weekday and a time in the owner's timezone, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `"off"`.
    Off,
    /// `"Mon 08:00"`.
    Weekly {
        /// The day.
        day: Weekday,
        /// The time of day, in the owner's timezone.
        at: NaiveTime,
    },
}

impl Default for When {
    fn default() -> When {
        When::Weekly {
            day: Weekday::Mon,
            at: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

impl FromStr for When {
    type Err = String;

    fn from_str(text: &str) -> Result<When, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(When::Off);
        }
        let bad = || {
            format!(
                "{text:?} is not a weekly time: expected a day and a time like \"Mon 08:00\", or \"off\""
            )
        };
        let (day, time) = t.split_once(char::is_whitespace).ok_or_else(bad)?;
        let day: Weekday = day.parse().map_err(|_| bad())?;
        // Seconds are allowed ("Mon 08:00:30"): tests set a time a few seconds ahead.
        let at = NaiveTime::parse_from_str(time.trim(), "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(time.trim(), "%H:%M:%S"))
            .map_err(|_| bad())?;
        Ok(When::Weekly { day, at })
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Off => f.write_str("off"),
            When::Weekly { day, at } if at.second() == 0 => {
                write!(f, "{day} {}", at.format("%H:%M"))
            }
            When::Weekly { day, at } => write!(f, "{day} {}", at.format("%H:%M:%S")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for When {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<When, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One week's digest: its key (the day it is for, in the owner's timezone) and its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// `2026-12-07`: the local day of the digest, unique per week.
    pub key: String,
    /// The instant it is due.
    pub at: DateTime<Utc>,
}

/// The instant `at` on `day` in `tz`. A time a clock change skips is taken at the first minute
/// that exists after it; a time that happens twice, at its first.
fn instant(day: NaiveDate, at: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let local = day.and_time(at);
    (0..24 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(local + TimeDelta::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

fn week_on(day: NaiveDate, at: NaiveTime, tz: Tz) -> Week {
    Week {
        key: day.format("%Y-%m-%d").to_string(),
        at: instant(day, at, tz),
    }
}

/// The latest digest time at or before `now` (none when off).
pub fn latest(when: When, tz: Tz, now: DateTime<Utc>) -> Option<Week> {
    let When::Weekly { day, at } = when else {
        return None;
    };
    let today = now.with_timezone(&tz).date_naive();
    let back = (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
    let mut date = today - TimeDelta::days(i64::from(back));
    let mut week = week_on(date, at, tz);
    if week.at > now {
        date -= TimeDelta::days(7);
        week = week_on(date, at, tz);
    }
    Some(week)
}

/// The week whose digest is due now, if one is: the latest digest time has passed, no digest
/// was decided for that week (`last`, the key of the last one) and it is not before `start`
/// (when the store began: a new install sends no digest for the weeks before it). However many
/// weeks were missed, only the latest is due: one late digest, not one per week.
pub fn due(
    when: When,
    tz: Tz,
    last: Option<&str>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Week> {
    let week = latest(when, tz, now)?;
    if week.at < start || last.is_some_and(|l| l >= week.key.as_str()) {
        return None;
    }
    Some(week)
}

/// When the daemon must wake for a digest: now or earlier when one is due, else the next
/// digest time after `now`.
pub fn next(
    when: When,
    tz: Tz,
    last: Option<&str>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(week) = due(when, tz, last, start, now) {
        return Some(week.at);
    }
    let When::Weekly { at, .. } = when else {
        return None;
    };
    let latest = latest(when, tz, now)?;
    let day = NaiveDate::parse_from_str(&latest.key, "%Y-%m-%d").ok()?;
    Some(instant(day + TimeDelta::days(7), at, tz))
}

/// What a digest covers: from the last digest (at most [`MAX_PERIOD_DAYS`] back; a week
/// before the digest time when there was none) until now.
pub fn period_start(
    week: &Week,
    last_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let earliest = now - TimeDelta::days(MAX_PERIOD_DAYS);
    last_at
        .unwrap_or(week.at - TimeDelta::days(7))
        .max(earliest)
}

/// One line of a digest: a referral and what to say of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Its number.
    pub id: i64,
    /// Who introduced (a name, cleaned).
    pub introducer: String,
    /// The people introduced (names, cleaned), the owner as "you".
    pub parties: Vec<String>,
    /// What happened or what is needed, in a few words.
    pub what: String,
}

/// Someone who gave the owner referrals lately and got none back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Owed {
    /// Their name (cleaned), or address when none is known.
    pub name: String,
    /// How many referrals they gave the owner lately.
    pub gave_you: usize,
}

/// What a digest says, in the order the owner needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    /// Referrals that need the owner: a nudge unanswered, a party bounced, a stalled one.
    pub needs_you: Vec<Line>,
    /// Outcomes reported in the period (did business, didn't, never met).
    pub outcomes: Vec<Line>,
    /// Business closed in the period, per currency: `12,000 EUR`.
    pub business: Vec<String>,
    /// Referrals whose parties connected in the period.
    pub connected: Vec<Line>,
    /// Referrals recorded in the period.
    pub new: Vec<Line>,
    /// People who gave the owner referrals lately and got none back, most first.
    pub you_owe: Vec<Owed>,
    /// The first day covered, in the owner's timezone: `Mon 30 Nov`.
    pub since: String,
}

impl Digest {
    /// Whether there is nothing to say: then nothing is sent.
    pub fn is_empty(&self) -> bool {
        self.needs_you.is_empty()
            && self.outcomes.is_empty()
            && self.business.is_empty()
            && self.connected.is_empty()
            && self.new.is_empty()
    }
}

fn name_of(name: &str, email: &str, is_owner: bool) -> String {
    if is_owner {
        return "you".into();
    }
    let name = clean_name(name);
    if name.is_empty() {
        clean_name(email)
    } else {
        name
    }
}

fn in_period(at: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    parse_rfc3339(at).is_some_and(|t| t >= since && t <= now)
}

/// An amount as the digest writes it: `12,000 EUR`, `1,200`.
pub fn amount(money: &report::Money) -> Option<String> {
    let n = format_amount(money.value, has_minor_units(money.currency.as_deref()))?;
    Some(match &money.currency {
        Some(c) => format!("{n} {}", clean_name(c)),
        None => n,
    })
}

/// Picks what the digest for the period `since..=now` says, from every referral in full and
/// the reciprocity ledger of the last [`OWE_WINDOW_DAYS`] (`owner`: the owner's addresses,
/// lower-cased). Only what the store recorded is read: answers it accepted, its own mail and
/// bounces; never a comment's words.
pub fn select(
    owner: &[String],
    referrals: &[ReferralDetail],
    ledger: &Report,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
    max_amount: f64,
) -> Digest {
    let mut d = Digest {
        needs_you: Vec::new(),
        outcomes: Vec::new(),
        business: Vec::new(),
        connected: Vec::new(),
        new: Vec::new(),
        you_owe: Vec::new(),
        since: since.with_timezone(&tz).format("%a %-d %b").to_string(),
    };
    let mut business = Vec::new();
    for detail in referrals {
        let r = &detail.referral;
        // An introduction recorded as history (older than its whole plan when it was read)
        // is neither this week's news nor waiting on the owner: importing years of mail must
        // not fill the first digest.
        if r.history {
            continue;
        }
        let owner_is_party = r.parties.iter().any(|p| p.is_owner);
        let line = |what: String| Line {
            id: r.id,
            introducer: name_of(
                &r.introducer.name,
                &r.introducer.email,
                owner
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(&r.introducer.email)),
            ),
            parties: r
                .parties
                .iter()
                .map(|p| name_of(&p.name, &p.email, p.is_owner))
                .collect(),
            what,
        };
        let party_name = |email: &str| {
            r.parties
                .iter()
                .find(|p| p.email == email)
                .map(|p| name_of(&p.name, &p.email, p.is_owner))
        };
        let live = matches!(
            r.status,
            ReferralStatus::Open | ReferralStatus::Connected | ReferralStatus::Stalled
        );
        // Needs the owner.
        if live {
            let mut why = Vec::new();
            if r.status == ReferralStatus::Stalled {
                why.push("stalled: nobody has answered".to_string());
            }
            for p in r.parties.iter().filter(|p| p.state == PartyState::Bounced) {
                why.push(format!(
                    "mail to {} bounced",
                    name_of(&p.name, &p.email, p.is_owner)
                ));
            }
            let nudged = detail.outbound.iter().any(|o| {
                o.kind == OutboundKind::OwnerNudge
                    && o.state == OutboundState::Sent
                    && o.sent_at
                        .as_deref()
                        .and_then(parse_rfc3339)
                        .is_some_and(|t| t <= now - TimeDelta::days(NUDGE_UNANSWERED_DAYS))
            });
            if owner_is_party && nudged && r.status == ReferralStatus::Open {
                why.push("you haven't answered yet".to_string());
            }
            if !why.is_empty() {
                d.needs_you.push(line(why.join("; ")));
            }
        }
        // What was recorded in the period.
        if in_period(&r.created_at, since, now) {
            d.new.push(line(String::new()));
        }
        let recent: Vec<_> = detail
            .feedback
            .iter()
            .filter(|f| f.at >= since && f.at <= now && party_name(&f.from).is_some())
            .collect();
        let outcome_of = |o: Outcome| recent.iter().rev().find(|f| f.outcome == Some(o));
        if let Some(f) = outcome_of(Outcome::Won) {
            let who = party_name(&f.from).unwrap_or_default();
            let money: Vec<report::Money> = f
                .value
                .filter(|v| *v <= max_amount)
                .map(|value| report::Money {
                    currency: f.currency.clone(),
                    value,
                })
                .into_iter()
                .collect();
            let worth = money.first().and_then(amount);
            business.extend(money);
            d.outcomes.push(line(match worth {
                Some(w) => format!("{who} did business, worth {w}"),
                None => format!("{who} did business"),
            }));
        } else if let Some(f) = outcome_of(Outcome::Lost) {
            let who = party_name(&f.from).unwrap_or_default();
            d.outcomes
                .push(line(format!("{who} didn't end up doing business")));
        } else if let Some(f) = outcome_of(Outcome::NotMet) {
            let who = party_name(&f.from).unwrap_or_default();
            d.outcomes.push(line(format!("{who} say they haven't met")));
        }
        // Doing business says they met: a referral under outcomes is not repeated here.
        let won = outcome_of(Outcome::Won).is_some();
        if let Some(f) = outcome_of(Outcome::Met).filter(|_| !won) {
            let who = party_name(&f.from).unwrap_or_default();
            d.connected.push(line(format!("{who} reported meeting")));
        }
    }
    for list in [
        &mut d.needs_you,
        &mut d.outcomes,
        &mut d.connected,
        &mut d.new,
    ] {
        // Most recent first, and only the most recent few.
        list.reverse();
        list.truncate(MAX_LINES);
    }
    let mut totals: Vec<report::Money> = Vec::new();
    for m in business {
        match totals.iter_mut().find(|t| t.currency == m.currency) {
            Some(t) => t.value += m.value,
            None => totals.push(m),
        }
    }
    d.business = totals.iter().filter_map(amount).collect();
    d.you_owe = ledger
        .partners
        .iter()
        .filter(|p| p.gave_you > 0 && p.you_gave == 0)
        .take(3)
        .map(|p| Owed {
            name: name_of(&p.name, &p.email, false),
            gave_you: p.gave_you,
        })
        .collect();
    d
}

#[cfg(test)]
mod tests;
