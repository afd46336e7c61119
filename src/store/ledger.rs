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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::intake::{Classified, Introduction, Reading, Verdict};
    use crate::model::{Outcome, Person};
    use crate::source::RawMessage;
    use chrono::{TimeDelta, TimeZone};

    const CONFIG: &str = r#"
[tracking]
address = "intros@tracker.example.org"
[owner]
name = "Alice Smith"
emails = ["alice@brightside.example", "alice@home.example"]
[intake]
require-authentication = false
max-amount = 1000000
[outbound]
transport = "file"
"#;

    fn config() -> Config {
        Config::parse(CONFIG, "test", ".".into()).unwrap()
    }

    fn p(email: &str, name: &str) -> Person {
        Person::new(email, Some(name))
    }

    fn raw() -> RawMessage {
        RawMessage {
            origin: "test".into(),
            bytes: b"Subject: test\r\n\r\nbody".to_vec(),
            arrived_at: None,
        }
    }

    fn classified(id: &str, from: &Person, subject: &str, verdict: Verdict) -> Classified {
        Classified {
            message_id: id.into(),
            from: Some(from.clone()),
            subject: subject.into(),
            date: None,
            verdict,
        }
    }

    fn introduce(
        store: &mut Store,
        id: &str,
        by: &Person,
        parties: &[Person],
        now: DateTime<Utc>,
    ) -> ReferralId {
        let subject = format!("Intro {id}");
        let intro = Introduction {
            introducer: by.clone(),
            parties: parties.to_vec(),
            copied: Vec::new(),
            subject: subject.clone(),
            thread_root: id.into(),
            references: vec![id.into()],
            forwarded: false,
            options: Default::default(),
        };
        let c = classified(id, by, &subject, Verdict::Introduction(intro));
        store.record(&c, &raw(), &config(), now).unwrap().unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        store: &mut Store,
        id: &str,
        referral: ReferralId,
        from: &Person,
        rating: Option<u8>,
        outcome: Option<Outcome>,
        value: Option<(f64, Option<&str>)>,
        now: DateTime<Utc>,
    ) {
        let reading = Reading {
            rating,
            outcome,
            value: value.map(|v| v.0),
            currency: value.and_then(|v| v.1.map(str::to_string)),
            comment: String::new(),
        };
        let verdict = Verdict::Feedback {
            referral,
            from: from.clone(),
            reading,
        };
        store
            .record(
                &classified(id, from, "Re: intro", verdict),
                &raw(),
                &config(),
                now,
            )
            .unwrap();
    }

    /// Every line and figure, from the ledger table and the answers, against `report::build`
    /// over every referral: the same, from several starting days.
    /// Both ways the answers are counted: as they are (read or not), then all read.
    fn assert_same_as_the_report(store: &mut Store, starts: &[Option<DateTime<Utc>>]) {
        let max = config().intake.max_amount;
        store.count_for_ledger().unwrap();
        assert_eq!(store.ledger_uncounted().unwrap(), 0);
        compare_with_the_report(store, starts, max);
        store.read_answers(max).unwrap();
        assert!(!store.answers_unread(max).unwrap());
        compare_with_the_report(store, starts, max);
        // Read with another `max-amount`, they are read again.
        assert!(store.answers_unread(max / 2.0).unwrap());
    }

    fn compare_with_the_report(store: &mut Store, starts: &[Option<DateTime<Utc>>], max: f64) {
        for &since in starts {
            let referrals = store.referrals_for_report(since).unwrap();
            let full = report::build(since, &referrals, max);
            let (figures, charts) = store.figures(since, max).unwrap();
            let months: std::collections::HashMap<ReferralId, String> = store
                .conn
                .prepare("SELECT id, substr(created_at, 1, 7) FROM referrals")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(
                charts,
                ChartFigures::of(&referrals, &months, max),
                "charts since {since:?}"
            );
            assert_eq!(
                figures,
                report::Report {
                    partners: Vec::new(),
                    ..full.clone()
                },
                "since {since:?}"
            );
        }
        let full = report::build(None, &store.referrals_for_report(None).unwrap(), max);
        assert!(full.partners.len() > 4, "{}", full.partners.len());
        for size in [1, 3, 100] {
            let mut lines = Vec::new();
            let mut offset = 0;
            loop {
                let (page, more) = store.ledger_page(offset, size, max).unwrap();
                offset += page.len();
                lines.extend(page);
                if !more {
                    break;
                }
            }
            assert_eq!(lines, full.partners, "pages of {size}");
        }
        for partner in &full.partners {
            let line = store.ledger_line(&partner.email, max).unwrap();
            assert_eq!(line.as_ref(), Some(partner));
        }
        assert_eq!(
            store.ledger_line("alice@brightside.example", max).unwrap(),
            None
        );
        assert_eq!(
            store.owners_referrals().unwrap(),
            (full.you_made, full.you_received)
        );
    }

    #[test]
    fn the_kept_ledger_and_the_figures_equal_the_reports() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
        let day = |n: i64| t0 + TimeDelta::days(n);
        let alice = p("alice@brightside.example", "Alice Smith");
        let alice_home = p("alice@home.example", "Alice at home");
        let bob = p("bob@networkers.example", "Bob Brown");
        let carol = p("carol@networkers.example", "Carol");
        let fred = p("fred@books.example", "Fred Jones");
        let sally = p("sally@design.example", "Sally Lee");
        let tom = p("tom@t.example", "Tom");
        let zoe = p("zoe@z.example", "Zoë");

        let a = introduce(
            &mut store,
            "a@x",
            &bob,
            &[fred.clone(), sally.clone()],
            day(0),
        );
        let b = introduce(
            &mut store,
            "b@x",
            &bob,
            &[alice.clone(), fred.clone()],
            day(1),
        );
        let c = introduce(
            &mut store,
            "c@x",
            &alice,
            &[sally.clone(), tom.clone()],
            day(2),
        );
        // The owner twice as a party: one referral given, not two.
        let d = introduce(
            &mut store,
            "d@x",
            &carol,
            &[alice.clone(), alice_home.clone(), zoe.clone()],
            day(3),
        );
        // Fred goes by another name later: the ledger names him as his latest referral does.
        let fred2 = p("fred@books.example", "Frederick");
        let e = introduce(
            &mut store,
            "e@x",
            &carol,
            &[fred2.clone(), tom.clone()],
            day(4),
        );
        let f = introduce(
            &mut store,
            "f@x",
            &sally,
            &[bob.clone(), zoe.clone()],
            day(5),
        );
        assert_same_as_the_report(&mut store, &[None, Some(day(2))]);

        // Answers: superseded field by field, won and lost, currencies or none, a joke amount,
        // and one from the introducer, who is no party.
        answer(
            &mut store,
            "1@x",
            a,
            &fred,
            Some(4),
            Some(Outcome::Met),
            None,
            day(6),
        );
        answer(
            &mut store,
            "2@x",
            a,
            &fred,
            None,
            Some(Outcome::Won),
            Some((3000.0, Some("EUR"))),
            day(7),
        );
        answer(
            &mut store,
            "3@x",
            a,
            &sally,
            Some(5),
            Some(Outcome::Won),
            Some((2500.0, Some("EUR"))),
            day(7),
        );
        answer(
            &mut store,
            "4@x",
            b,
            &fred,
            Some(2),
            Some(Outcome::Lost),
            Some((900.0, Some("USD"))),
            day(8),
        );
        answer(
            &mut store,
            "5@x",
            c,
            &tom,
            Some(3),
            Some(Outcome::Won),
            Some((1234.5, None)),
            day(8),
        );
        answer(
            &mut store,
            "6@x",
            c,
            &sally,
            Some(1),
            None,
            Some((5e9, Some("USD"))),
            day(9),
        );
        answer(
            &mut store,
            "7@x",
            d,
            &carol,
            Some(5),
            Some(Outcome::Met),
            None,
            day(9),
        );
        answer(
            &mut store,
            "8@x",
            d,
            &zoe,
            Some(4),
            Some(Outcome::NotMet),
            Some((10.0, Some("GBP"))),
            day(9),
        );
        answer(
            &mut store,
            "9@x",
            e,
            &tom,
            Some(5),
            Some(Outcome::Won),
            Some((700.0, Some("USD"))),
            day(10),
        );
        answer(
            &mut store,
            "10@x",
            f,
            &zoe,
            None,
            Some(Outcome::Met),
            None,
            day(10),
        );
        answer(&mut store, "11@x", e, &fred2, Some(3), None, None, day(11));
        assert!(store.answers_unread(config().intake.max_amount).unwrap());
        assert_same_as_the_report(
            &mut store,
            &[None, Some(day(3)), Some(day(5)), Some(day(30))],
        );

        // An answer already read changes: its referral is read again.
        store
            .conn
            .execute(
                "UPDATE feedback SET rating = 1, value = 99.5 WHERE message_id = '9@x'",
                [],
            )
            .unwrap();
        assert!(store.answers_unread(config().intake.max_amount).unwrap());
        assert_same_as_the_report(&mut store, &[None]);

        // A success undone, and a person forgotten: the ledger follows.
        store
            .conn
            .execute(
                "UPDATE referrals SET status = 'cancelled' WHERE id = ?1",
                [e],
            )
            .unwrap();
        assert_same_as_the_report(&mut store, &[None]);
        store.forget("fred@books.example", day(12)).unwrap();
        assert_same_as_the_report(&mut store, &[None, Some(day(1))]);

        // The same kinds of change to referrals recorded after the last count.
        let g = introduce(
            &mut store,
            "g@x",
            &zoe,
            &[tom.clone(), sally.clone()],
            day(31),
        );
        let h = introduce(
            &mut store,
            "h@x",
            &tom,
            &[alice.clone(), zoe.clone()],
            day(31),
        );
        assert_eq!(store.ledger_uncounted().unwrap(), 2);
        answer(
            &mut store,
            "12@x",
            g,
            &sally,
            Some(5),
            Some(Outcome::Won),
            Some((50.0, Some("EUR"))),
            day(32),
        );
        answer(
            &mut store,
            "13@x",
            h,
            &zoe,
            Some(2),
            Some(Outcome::Won),
            Some((70.0, Some("EUR"))),
            day(32),
        );
        store
            .conn
            .execute("UPDATE referrals SET status = 'stalled' WHERE id = ?1", [h])
            .unwrap();
        store.forget("zoe@z.example", day(33)).unwrap();
        assert_same_as_the_report(&mut store, &[None, Some(day(13))]);
        // Those were recorded the next month: the charts have two.
        let (_, charts) = store.figures(None, config().intake.max_amount).unwrap();
        assert_eq!(charts.months.len(), 2, "{charts:?}");
        assert_eq!(charts.months[1].business.len(), 1, "{charts:?}");
    }
}
