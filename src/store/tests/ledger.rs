//! The reciprocity ledger and the kept figures, against the reports built from every
//! referral.

use super::*;
use crate::report;
use crate::store::ChartFigures;

/// Records an introduction of `parties` by `by`, its subject naming it.
fn introduce(
    store: &mut Store,
    id: &str,
    by: &Person,
    parties: &[Person],
    now: DateTime<Utc>,
) -> ReferralId {
    introduce_people(store, id, by, parties, &format!("Intro {id}"), now)
}

/// Records `from`'s answer: a rating, an outcome and a value in a currency, as given.
#[allow(clippy::too_many_arguments)]
fn answer_with(
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
    answer(store, id, referral, from, reading, now);
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
    let alice = person("alice@brightside.example", "Alice Smith");
    let alice_home = person("alice@home.example", "Alice at home");
    let bob = person("bob@networkers.example", "Bob Brown");
    let carol = person("carol@networkers.example", "Carol");
    let fred = person("fred@books.example", "Fred Jones");
    let sally = person("sally@design.example", "Sally Lee");
    let tom = person("tom@t.example", "Tom");
    let zoe = person("zoe@z.example", "Zoë");

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
    let fred2 = person("fred@books.example", "Frederick");
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
    answer_with(
        &mut store,
        "1@x",
        a,
        &fred,
        Some(4),
        Some(Outcome::Met),
        None,
        day(6),
    );
    answer_with(
        &mut store,
        "2@x",
        a,
        &fred,
        None,
        Some(Outcome::Won),
        Some((3000.0, Some("EUR"))),
        day(7),
    );
    answer_with(
        &mut store,
        "3@x",
        a,
        &sally,
        Some(5),
        Some(Outcome::Won),
        Some((2500.0, Some("EUR"))),
        day(7),
    );
    answer_with(
        &mut store,
        "4@x",
        b,
        &fred,
        Some(2),
        Some(Outcome::Lost),
        Some((900.0, Some("USD"))),
        day(8),
    );
    answer_with(
        &mut store,
        "5@x",
        c,
        &tom,
        Some(3),
        Some(Outcome::Won),
        Some((1234.5, None)),
        day(8),
    );
    answer_with(
        &mut store,
        "6@x",
        c,
        &sally,
        Some(1),
        None,
        Some((5e9, Some("USD"))),
        day(9),
    );
    answer_with(
        &mut store,
        "7@x",
        d,
        &carol,
        Some(5),
        Some(Outcome::Met),
        None,
        day(9),
    );
    answer_with(
        &mut store,
        "8@x",
        d,
        &zoe,
        Some(4),
        Some(Outcome::NotMet),
        Some((10.0, Some("GBP"))),
        day(9),
    );
    answer_with(
        &mut store,
        "9@x",
        e,
        &tom,
        Some(5),
        Some(Outcome::Won),
        Some((700.0, Some("USD"))),
        day(10),
    );
    answer_with(
        &mut store,
        "10@x",
        f,
        &zoe,
        None,
        Some(Outcome::Met),
        None,
        day(10),
    );
    answer_with(&mut store, "11@x", e, &fred2, Some(3), None, None, day(11));
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
    answer_with(
        &mut store,
        "12@x",
        g,
        &sally,
        Some(5),
        Some(Outcome::Won),
        Some((50.0, Some("EUR"))),
        day(32),
    );
    answer_with(
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
