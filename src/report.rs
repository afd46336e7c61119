//! The reports of SPEC §4, in the terms networking groups use: referrals by status, the
//! connection and success rates, the average rating, closed-business value, and the
//! reciprocity ledger — who gives you referrals and who you give them to.
//!
//! Pure: [`build`] reads plain [`Referral`]s (the store selects them, e.g. by period) and
//! returns a [`Report`]. Definitions, which the README repeats:
//!
//! - Each person's answers about one referral supersede their earlier ones field by field:
//!   their latest rating, latest outcome and latest value count (a later "thanks!" without a
//!   rating does not erase the rating they gave before).
//! - A referral *connected* when its status is `connected` or `succeeded`, or any party's latest
//!   outcome is met, won or lost (losing a deal means they talked).
//! - Connection rate = connected / referrals; success rate = succeeded / referrals; a rate of
//!   nothing is `None` ("—"), not zero.
//! - Average rating: the mean of each person's latest rating on each referral.
//! - Closed business of a referral, per currency: the largest value anyone reported, not the
//!   sum — both parties reporting the same deal is one deal. A value from someone whose latest
//!   outcome is lost or not met does not count: that deal fell through. An amount above
//!   `intake.max-amount` (default 100 million) is kept as the person's words, in their
//!   answer, but counts as no value: "$999,999,999,999" is a joke or a typo, not business.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::model::{Answer, Outcome, ReferralId, ReferralStatus};

/// One referral, as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    /// Its number.
    pub id: ReferralId,
    /// Where it stands.
    pub status: ReferralStatus,
    /// Who made it.
    pub introducer: Participant,
    /// The people introduced.
    pub parties: Vec<Participant>,
    /// Every answer received, oldest first.
    pub feedback: Vec<Answer>,
}

/// Someone taking part in a referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Lower-cased address: the partner's identity across referrals.
    pub email: String,
    /// Their name as this introduction gave it.
    pub name: String,
    /// Whether this is the owner.
    pub is_owner: bool,
}

/// An amount of money in one currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Money {
    /// ISO 4217 code, or `None` when the answer named no currency ("a 3000 deal").
    pub currency: Option<String>,
    /// The amount.
    pub value: f64,
}

/// What one person last said about one referral.
#[derive(Debug, Clone, PartialEq)]
pub struct Latest {
    /// Who.
    pub from: String,
    /// Their latest rating.
    pub rating: Option<u8>,
    /// Their latest outcome.
    pub outcome: Option<Outcome>,
    /// Their latest value, unless their latest outcome says the deal fell through.
    pub value: Option<Money>,
}

impl Referral {
    /// Each person's latest answer, field by field, in the order they first answered. A value
    /// above `max_amount` counts as no value given.
    pub fn latest(&self, max_amount: f64) -> Vec<Latest> {
        let mut latest: Vec<Latest> = Vec::new();
        for f in &self.feedback {
            let i = match latest.iter().position(|l| l.from == f.from) {
                Some(i) => i,
                None => {
                    latest.push(Latest {
                        from: f.from.clone(),
                        rating: None,
                        outcome: None,
                        value: None,
                    });
                    latest.len() - 1
                }
            };
            let l = &mut latest[i];
            l.rating = f.rating.or(l.rating);
            l.outcome = f.outcome.or(l.outcome);
            if let Some(value) = f.value.filter(|v| *v <= max_amount) {
                l.value = Some(Money {
                    currency: f.currency.clone(),
                    value,
                });
            }
        }
        for l in &mut latest {
            if matches!(l.outcome, Some(Outcome::Lost | Outcome::NotMet)) {
                l.value = None;
            }
        }
        latest
    }

    /// Whether the parties connected: the status says so, or a party's latest outcome does.
    pub fn connected(&self, latest: &[Latest]) -> bool {
        connected_by_status(self.status) || self.met(latest)
    }

    /// Whether a party's latest outcome says they met (a deal won or lost was a meeting),
    /// whatever the status says.
    pub fn met(&self, latest: &[Latest]) -> bool {
        latest.iter().any(|l| {
            matches!(l.outcome, Some(Outcome::Met | Outcome::Won | Outcome::Lost))
                && self.parties.iter().any(|p| p.email == l.from)
        })
    }

    /// The business this referral closed, per currency: the largest value reported, since
    /// both parties reporting one deal is still one deal.
    pub fn closed_business(latest: &[Latest]) -> Vec<Money> {
        let mut largest = Totals::default();
        for money in latest.iter().filter_map(|l| l.value.as_ref()) {
            let slot = largest
                .0
                .entry(money.currency.clone())
                .or_insert(money.value);
            *slot = slot.max(money.value);
        }
        largest.into_money()
    }

    /// The mean of each person's latest rating, if anyone rated it.
    pub fn average_rating(latest: &[Latest]) -> Option<f64> {
        let ratings: Vec<u8> = latest.iter().filter_map(|l| l.rating).collect();
        mean(&ratings)
    }
}

/// Whether a referral's status alone says its parties connected; one in another status
/// connected if a party's answer says so ([`Referral::met`]).
pub fn connected_by_status(status: ReferralStatus) -> bool {
    matches!(
        status,
        ReferralStatus::Connected | ReferralStatus::Succeeded
    )
}

/// The reports for a set of referrals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The start of the period reported on, when one was chosen.
    #[serde(serialize_with = "rfc3339")]
    pub since: Option<DateTime<Utc>>,
    /// How many referrals.
    pub referrals: usize,
    /// How many in each status (every status, zeros included).
    pub by_status: BTreeMap<ReferralStatus, usize>,
    /// How many connected.
    pub connected: usize,
    /// connected / referrals.
    pub connection_rate: Option<f64>,
    /// How many succeeded.
    pub succeeded: usize,
    /// succeeded / referrals.
    pub success_rate: Option<f64>,
    /// How many ratings the average is over (each person's latest on each referral).
    pub ratings: usize,
    /// Their mean.
    pub average_rating: Option<f64>,
    /// Closed business, per currency.
    pub closed_business: Vec<Money>,
    /// Referrals the owner made.
    pub you_made: usize,
    /// Referrals someone else made with the owner as a party.
    pub you_received: usize,
    /// The reciprocity ledger: most referrals given to the owner first, then most made.
    pub partners: Vec<Partner>,
}

/// One line of the reciprocity ledger: a person other than the owner who introduced or was
/// introduced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partner {
    /// Their address.
    pub email: String,
    /// Their name, as their most recent referral gave it.
    pub name: String,
    /// Referrals they made.
    pub introduced: usize,
    /// Of those, the ones with the owner as a party.
    pub gave_you: usize,
    /// Referrals the owner made with them as a party.
    pub you_gave: usize,
    /// Referrals in which anyone introduced them.
    pub was_introduced: usize,
    /// Referrals they made that succeeded.
    pub succeeded: usize,
    /// succeeded / introduced.
    pub success_rate: Option<f64>,
    /// How many ratings their average is over.
    pub ratings: usize,
    /// The mean latest rating on the referrals they made.
    pub average_rating: Option<f64>,
    /// Closed business credited to them as introducer, per currency.
    pub value: Vec<Money>,
}

/// Builds the reports for `referrals` (already chosen for the period starting at `since`);
/// values above `max_amount` are not summed.
pub fn build(since: Option<DateTime<Utc>>, referrals: &[Referral], max_amount: f64) -> Report {
    let mut by_status: BTreeMap<ReferralStatus, usize> =
        ReferralStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut connected = 0;
    let mut ratings = Vec::new();
    let mut business = Totals::default();
    let mut you_made = 0;
    let mut you_received = 0;
    let mut ledger = Ledger::default();

    for r in referrals {
        *by_status.entry(r.status).or_default() += 1;
        let latest = r.latest(max_amount);
        connected += usize::from(r.connected(&latest));
        let rated: Vec<u8> = latest.iter().filter_map(|l| l.rating).collect();
        ratings.extend_from_slice(&rated);
        let value = Referral::closed_business(&latest);
        business.add(&value);

        let owner_is_party = r.parties.iter().any(|p| p.is_owner);
        if r.introducer.is_owner {
            you_made += 1;
        } else {
            if owner_is_party {
                you_received += 1;
            }
            let line = ledger.line(r.id, &r.introducer);
            line.introduced += 1;
            line.gave_you += usize::from(owner_is_party);
            line.succeeded += usize::from(r.status == ReferralStatus::Succeeded);
            line.ratings.extend_from_slice(&rated);
            line.value.add(&value);
        }
        for p in r.parties.iter().filter(|p| !p.is_owner) {
            let line = ledger.line(r.id, p);
            line.was_introduced += 1;
            line.you_gave += usize::from(r.introducer.is_owner);
        }
    }

    let total = referrals.len();
    let succeeded = by_status[&ReferralStatus::Succeeded];
    Report {
        since,
        referrals: total,
        by_status,
        connected,
        connection_rate: rate(connected, total),
        succeeded,
        success_rate: rate(succeeded, total),
        ratings: ratings.len(),
        average_rating: mean(&ratings),
        closed_business: business.into_money(),
        you_made,
        you_received,
        partners: ledger.into_partners(),
    }
}

/// Amounts of money per currency.
#[derive(Debug, Default)]
pub(crate) struct Totals(BTreeMap<Option<String>, f64>);

impl Totals {
    pub(crate) fn add(&mut self, amounts: &[Money]) {
        for m in amounts {
            *self.0.entry(m.currency.clone()).or_default() += m.value;
        }
    }

    pub(crate) fn into_money(self) -> Vec<Money> {
        let mut money: Vec<Money> = self
            .0
            .into_iter()
            .map(|(currency, value)| Money { currency, value })
            .collect();
        // Named currencies first, alphabetically; an amount without a currency last.
        money.sort_by(|a, b| {
            (a.currency.is_none(), &a.currency).cmp(&(b.currency.is_none(), &b.currency))
        });
        money
    }
}

/// The ledger while it is being counted, one line per address.
#[derive(Debug, Default)]
struct Ledger(BTreeMap<String, Line>);

#[derive(Debug, Default)]
struct Line {
    name: String,
    named_in: ReferralId,
    introduced: usize,
    gave_you: usize,
    you_gave: usize,
    was_introduced: usize,
    succeeded: usize,
    ratings: Vec<u8>,
    value: Totals,
}

impl Ledger {
    /// The line for `who`, named as the most recent referral names them.
    fn line(&mut self, referral: ReferralId, who: &Participant) -> &mut Line {
        let line = self.0.entry(who.email.clone()).or_default();
        if referral >= line.named_in {
            line.name.clone_from(&who.name);
            line.named_in = referral;
        }
        line
    }

    fn into_partners(self) -> Vec<Partner> {
        let mut partners: Vec<Partner> = self
            .0
            .into_iter()
            .map(|(email, l)| Partner {
                email,
                name: l.name,
                introduced: l.introduced,
                gave_you: l.gave_you,
                you_gave: l.you_gave,
                was_introduced: l.was_introduced,
                succeeded: l.succeeded,
                success_rate: rate(l.succeeded, l.introduced),
                ratings: l.ratings.len(),
                average_rating: mean(&l.ratings),
                value: l.value.into_money(),
            })
            .collect();
        // Who gives you the most comes first; then who introduces the most; then who you give
        // the most to. Names break ties so the order never depends on row order.
        partners.sort_by(|a, b| {
            (b.gave_you, b.introduced, b.you_gave)
                .cmp(&(a.gave_you, a.introduced, a.you_gave))
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.email.cmp(&b.email))
        });
        partners
    }
}

pub(crate) fn rate(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

pub(crate) fn mean(ratings: &[u8]) -> Option<f64> {
    (!ratings.is_empty())
        .then(|| ratings.iter().map(|&r| f64::from(r)).sum::<f64>() / ratings.len() as f64)
}

fn rfc3339<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => s.serialize_none(),
    }
}

/// The start of a reporting period, as `stats --since` takes it: a day (in the owner's
/// timezone) or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// `YYYY-MM-DD`: from midnight of that day where the owner lives.
    Day(NaiveDate),
    /// RFC 3339: from that instant.
    Instant(DateTime<Utc>),
}

impl FromStr for Since {
    type Err = String;

    fn from_str(text: &str) -> Result<Since, String> {
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Since::Day(day));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Since::Instant(t.with_timezone(&Utc)))
            .map_err(|_| {
                format!(
                    "{text:?} is not a date: expected YYYY-MM-DD (like 2026-11-01) or RFC 3339 (like 2026-11-01T09:00:00Z)"
                )
            })
    }
}

impl Since {
    /// The instant the period starts, reading a day in `tz`.
    pub fn start(self, tz: Tz) -> DateTime<Utc> {
        match self {
            Since::Instant(t) => t,
            Since::Day(day) => {
                let midnight = day.and_time(chrono::NaiveTime::MIN);
                // Where a clock change skips midnight, the day starts at the first minute that
                // exists (a whole day was skipped once, in Samoa: look up to two days ahead).
                (0..2 * 24 * 60)
                    .find_map(|minutes| {
                        tz.from_local_datetime(&(midnight + TimeDelta::minutes(minutes)))
                            .earliest()
                    })
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| midnight.and_utc())
            }
        }
    }
}

#[cfg(test)]
mod tests;
