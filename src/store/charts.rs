//! The figures behind the charts of the stats page, month by month: connection and success
//! rates, closed business, and how ratings are spread. They count exactly as `stats` does
//! (see `report`): each referral is read by the report's own rules (each person's latest
//! answer, the largest value of a deal), then put in the month it was recorded in (UTC, as
//! the chart of referrals per month). [`Store::figures`](super::Store::figures) counts them from the answers
//! alone; [`ChartFigures::of`], reading whole referrals, is what the tests compare it with.

#[cfg(test)]
use std::collections::{BTreeMap, HashMap};

#[cfg(test)]
use crate::model::ReferralId;
use crate::model::ReferralStatus;
#[cfg(test)]
use crate::report;
use crate::report::Money;

/// One month's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    /// Referrals recorded that month.
    pub referrals: usize,
    /// Of those, how many connected.
    pub connected: usize,
    /// Of those, how many succeeded.
    pub succeeded: usize,
    /// The business they closed, per currency (named currencies first, as `stats` lists them).
    pub business: Vec<Money>,
}

/// What the charts draw, for one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartFigures {
    /// Every month with a referral, oldest first.
    pub months: Vec<MonthFigures>,
    /// How many ratings of 1, 2, 3, 4 and 5: each person's latest rating on each referral,
    /// the ratings the average is over.
    pub ratings: [usize; 5],
    /// How many referrals were recorded in each month in each status, oldest month first
    /// (see [`Store::referrals_per_month`](super::Store::referrals_per_month)).
    pub per_status: Vec<(String, ReferralStatus, usize)>,
}

#[cfg(test)]
impl ChartFigures {
    /// The figures of `referrals`, each counted in its month in `months` (a referral missing
    /// there, recorded after `months` was read, is left out).
    pub fn of(
        referrals: &[report::Referral],
        months: &HashMap<ReferralId, String>,
        max_amount: f64,
    ) -> ChartFigures {
        let mut by_month: BTreeMap<&str, (MonthFigures, BTreeMap<Option<String>, f64>)> =
            BTreeMap::new();
        let mut ratings = [0; 5];
        let mut per_status: BTreeMap<(&str, ReferralStatus), usize> = BTreeMap::new();
        for r in referrals {
            let Some(month) = months.get(&r.id) else {
                continue;
            };
            *per_status.entry((month, r.status)).or_default() += 1;
            let latest = r.latest(max_amount);
            for rating in latest.iter().filter_map(|l| l.rating) {
                if let Some(slot) = usize::from(rating)
                    .checked_sub(1)
                    .and_then(|i| ratings.get_mut(i))
                {
                    *slot += 1;
                }
            }
            let (figures, business) = by_month.entry(month).or_default();
            figures.referrals += 1;
            figures.connected += usize::from(r.connected(&latest));
            figures.succeeded += usize::from(r.status == crate::model::ReferralStatus::Succeeded);
            for money in report::Referral::closed_business(&latest) {
                *business.entry(money.currency).or_default() += money.value;
            }
        }
        let months = by_month
            .into_iter()
            .map(|(month, (figures, business))| {
                let mut business: Vec<Money> = business
                    .into_iter()
                    .map(|(currency, value)| Money { currency, value })
                    .collect();
                // Named currencies first, alphabetically; an amount without one last.
                business.sort_by(|a, b| {
                    (a.currency.is_none(), &a.currency).cmp(&(b.currency.is_none(), &b.currency))
                });
                MonthFigures {
                    month: month.to_string(),
                    business,
                    ..figures
                }
            })
            .collect();
        let per_status = per_status
            .into_iter()
            .map(|((month, status), n)| (month.to_string(), status, n))
            .collect();
        ChartFigures {
            months,
            ratings,
            per_status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Answer;
    use crate::model::{Outcome, ReferralStatus};
    use crate::report::Participant;

    fn who(email: &str, is_owner: bool) -> Participant {
        Participant {
            email: email.into(),
            name: String::new(),
            is_owner,
        }
    }

    fn answer(from: &str, rating: Option<u8>, outcome: Option<Outcome>) -> Answer {
        Answer {
            from: from.into(),
            rating,
            outcome,
            ..Answer::default()
        }
    }

    fn won(from: &str, value: f64, currency: Option<&str>) -> Answer {
        Answer {
            value: Some(value),
            currency: currency.map(str::to_string),
            ..answer(from, None, Some(Outcome::Won))
        }
    }

    fn referral(id: ReferralId, status: ReferralStatus, feedback: Vec<Answer>) -> report::Referral {
        report::Referral {
            id,
            status,
            introducer: who("bob@x", false),
            parties: vec![who("fred@x", false), who("alice@x", true)],
            feedback,
        }
    }

    #[test]
    fn each_month_counts_as_stats_counts_and_the_months_add_up_to_stats() {
        let referrals = vec![
            // October: one open, one that connected by Fred's word.
            referral(1, ReferralStatus::Open, vec![]),
            referral(
                2,
                ReferralStatus::Open,
                vec![answer("fred@x", Some(4), Some(Outcome::Met))],
            ),
            // November: one succeeded, both parties reporting the same deal (counted once),
            // Fred changing his rating (his latest counts), and a deal in another currency.
            referral(
                3,
                ReferralStatus::Succeeded,
                vec![
                    answer("fred@x", Some(2), None),
                    won("fred@x", 3000.0, Some("EUR")),
                    answer("fred@x", Some(5), None),
                    won("alice@x", 3000.0, Some("EUR")),
                ],
            ),
            referral(
                4,
                ReferralStatus::Succeeded,
                vec![
                    won("fred@x", 500.0, Some("USD")),
                    won("alice@x", 9e12, None),
                ],
            ),
            // Not in `months` (recorded after they were read): left out.
            referral(5, ReferralStatus::Succeeded, vec![won("fred@x", 1.0, None)]),
        ];
        let months: HashMap<ReferralId, String> = [
            (1, "2026-10"),
            (2, "2026-10"),
            (3, "2026-11"),
            (4, "2026-11"),
        ]
        .into_iter()
        .map(|(id, m)| (id, m.to_string()))
        .collect();
        let figures = ChartFigures::of(&referrals, &months, 1e8);
        let [october, november] = &figures.months[..] else {
            panic!("{figures:?}");
        };
        assert_eq!(
            (
                october.month.as_str(),
                october.referrals,
                october.connected,
                october.succeeded
            ),
            ("2026-10", 2, 1, 0)
        );
        assert!(october.business.is_empty());
        assert_eq!(
            (november.referrals, november.connected, november.succeeded),
            (2, 2, 2)
        );
        let eur = Money {
            currency: Some("EUR".into()),
            value: 3000.0,
        };
        let usd = Money {
            currency: Some("USD".into()),
            value: 500.0,
        };
        assert_eq!(november.business, vec![eur, usd]);
        assert_eq!(figures.ratings, [0, 0, 0, 1, 1]);

        // The months add up to what `stats` says of the same referrals.
        let report = report::build(None, &referrals[..4], 1e8);
        let sum = |f: fn(&MonthFigures) -> usize| figures.months.iter().map(f).sum::<usize>();
        assert_eq!(sum(|m| m.referrals), report.referrals);
        assert_eq!(sum(|m| m.connected), report.connected);
        assert_eq!(sum(|m| m.succeeded), report.succeeded);
        assert_eq!(figures.ratings.iter().sum::<usize>(), report.ratings);
        assert_eq!(report.closed_business, november.business);
    }
}
