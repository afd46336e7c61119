//! The reports, figure by figure, on referrals written out by hand.

use super::*;
use chrono::TimeZone;

/// The default `intake.max-amount`.
const CAP: f64 = 100_000_000.0;
const ALICE: &str = "alice@brightside.example"; // the owner

fn who(email: &str, name: &str) -> Participant {
    Participant {
        email: email.into(),
        name: name.into(),
        is_owner: email == ALICE,
    }
}
fn alice() -> Participant {
    who(ALICE, "Alice Smith")
}
fn bob() -> Participant {
    who("bob@networkers.example", "Bob Brown")
}
fn carol() -> Participant {
    who("carol@c.example", "Carol King")
}
fn fred() -> Participant {
    who("fred@fredsbooks.example", "Fred Jones")
}
fn sally() -> Participant {
    who("sally@leedesign.example", "Sally Lee")
}

fn referral(
    id: ReferralId,
    status: ReferralStatus,
    introducer: Participant,
    parties: &[Participant],
) -> Referral {
    Referral {
        id,
        status,
        introducer,
        parties: parties.to_vec(),
        feedback: Vec::new(),
    }
}

fn answer(from: &Participant) -> Answer {
    Answer {
        from: from.email.clone(),
        ..Answer::default()
    }
}
fn rated(from: &Participant, rating: u8) -> Answer {
    Answer {
        rating: Some(rating),
        ..answer(from)
    }
}
fn said(from: &Participant, outcome: Outcome) -> Answer {
    Answer {
        outcome: Some(outcome),
        ..answer(from)
    }
}
fn won(from: &Participant, value: f64, currency: Option<&str>) -> Answer {
    Answer {
        outcome: Some(Outcome::Won),
        value: Some(value),
        currency: currency.map(str::to_string),
        ..answer(from)
    }
}
fn money(currency: Option<&str>, value: f64) -> Money {
    Money {
        currency: currency.map(str::to_string),
        value,
    }
}

#[test]
fn no_referrals_make_an_empty_report_without_rates() {
    let report = build(None, &[], CAP);
    assert_eq!(report.referrals, 0);
    assert!(report.by_status.values().all(|n| *n == 0));
    assert_eq!(report.by_status.len(), ReferralStatus::ALL.len());
    assert_eq!(report.connection_rate, None);
    assert_eq!(report.success_rate, None);
    assert_eq!(report.average_rating, None);
    assert_eq!(report.ratings, 0);
    assert!(report.closed_business.is_empty());
    assert!(report.partners.is_empty());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["since"], serde_json::Value::Null);
    assert_eq!(json["connection_rate"], serde_json::Value::Null);
    assert_eq!(json["by_status"]["open"], 0);
}

#[test]
fn referrals_are_counted_by_status_with_connection_and_success_rates() {
    let mut lost = referral(3, ReferralStatus::Unsuccessful, bob(), &[fred(), sally()]);
    lost.feedback.push(said(&fred(), Outcome::Lost)); // they talked: connected
    let mut never = referral(4, ReferralStatus::Unsuccessful, bob(), &[fred(), sally()]);
    never.feedback.push(said(&sally(), Outcome::NotMet));
    let mut open_met = referral(5, ReferralStatus::Open, bob(), &[fred(), sally()]);
    open_met.feedback.push(said(&sally(), Outcome::Met));
    // Only the parties can say they connected: the introducer's word is not enough.
    let mut hearsay = referral(6, ReferralStatus::Open, bob(), &[fred(), sally()]);
    hearsay.feedback.push(said(&bob(), Outcome::Met));
    let all = [
        referral(1, ReferralStatus::Connected, bob(), &[fred(), sally()]),
        referral(2, ReferralStatus::Succeeded, bob(), &[fred(), sally()]),
        lost,
        never,
        open_met,
        hearsay,
        referral(7, ReferralStatus::Stalled, bob(), &[fred(), sally()]),
        referral(8, ReferralStatus::Cancelled, bob(), &[fred(), sally()]),
    ];
    let report = build(None, &all, CAP);
    assert_eq!(report.referrals, 8);
    let counts: Vec<usize> = report.by_status.values().copied().collect();
    // open, connected, succeeded, unsuccessful, stalled, cancelled
    assert_eq!(counts, [2, 1, 1, 2, 1, 1]);
    assert_eq!(report.connected, 4); // #1, #2, #3 (lost), #5 (met)
    assert_eq!(report.connection_rate, Some(0.5));
    assert_eq!(report.succeeded, 1);
    assert_eq!(report.success_rate, Some(0.125));
}

#[test]
fn latest_answers_supersede_earlier_ones_field_by_field() {
    let mut r = referral(1, ReferralStatus::Connected, bob(), &[fred(), sally()]);
    r.feedback = vec![
        rated(&fred(), 2),
        rated(&sally(), 5),
        rated(&fred(), 4),
        // A later note without a rating does not take Fred's rating away.
        answer(&fred()),
    ];
    let latest = r.latest(CAP);
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].from, fred().email);
    assert_eq!(latest[0].rating, Some(4));
    assert_eq!(latest[1].rating, Some(5));
    let report = build(None, &[r], CAP);
    assert_eq!(report.ratings, 2);
    assert_eq!(report.average_rating, Some(4.5));
}

#[test]
fn a_deal_reported_won_then_lost_is_not_closed_business() {
    let mut r = referral(1, ReferralStatus::Unsuccessful, bob(), &[fred(), sally()]);
    r.feedback = vec![
        won(&fred(), 1000.0, Some("USD")),
        said(&fred(), Outcome::Lost),
    ];
    assert_eq!(r.latest(CAP)[0].value, None);
    assert!(build(None, &[r], CAP).closed_business.is_empty());

    // A corrected amount replaces the first one.
    let mut r = referral(2, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    r.feedback = vec![
        won(&fred(), 1000.0, Some("USD")),
        won(&fred(), 800.0, Some("USD")),
    ];
    assert_eq!(
        build(None, &[r], CAP).closed_business,
        [money(Some("USD"), 800.0)]
    );
}

/// Harm guarded against: "$999,999,999,999" in one reply dwarfing all real business in
/// `stats`, in the ledger and in the export.
#[test]
fn an_implausible_amount_is_not_summed_and_does_not_replace_a_plausible_one() {
    let mut joke = referral(1, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    joke.feedback = vec![won(&fred(), 999_999_999_999.0, Some("USD"))];
    let mut corrected = referral(2, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    corrected.feedback = vec![
        won(&sally(), 4000.0, Some("USD")),
        won(&sally(), 999_999_999_999.0, Some("USD")),
    ];
    assert_eq!(joke.latest(CAP)[0].value, None);
    let report = build(None, &[joke.clone(), corrected], CAP);
    assert_eq!(report.closed_business, [money(Some("USD"), 4000.0)]);
    assert_eq!(report.partners[0].value, [money(Some("USD"), 4000.0)]);
    // The cap is the configuration's: a higher one counts it.
    assert_eq!(
        build(None, &[joke], 1e13).closed_business,
        [money(Some("USD"), 999_999_999_999.0)]
    );
}

#[test]
fn a_deal_reported_by_both_parties_counts_once_at_its_largest() {
    let mut same = referral(1, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    same.feedback = vec![
        won(&fred(), 2500.0, Some("USD")),
        won(&sally(), 2500.0, Some("USD")),
    ];
    let mut differ = referral(2, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    differ.feedback = vec![
        won(&fred(), 2000.0, Some("USD")),
        won(&sally(), 2500.0, Some("USD")),
    ];
    assert_eq!(
        Referral::closed_business(&same.latest(CAP)),
        [money(Some("USD"), 2500.0)]
    );
    let report = build(None, &[same, differ], CAP);
    assert_eq!(report.closed_business, [money(Some("USD"), 5000.0)]);
}

#[test]
fn closed_business_is_kept_apart_per_currency() {
    let mut a = referral(1, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    a.feedback = vec![won(&fred(), 1000.0, Some("USD"))];
    let mut b = referral(2, ReferralStatus::Succeeded, carol(), &[fred(), sally()]);
    b.feedback = vec![won(&fred(), 500.0, Some("EUR")), won(&sally(), 300.0, None)];
    let mut c = referral(3, ReferralStatus::Succeeded, carol(), &[fred(), sally()]);
    c.feedback = vec![won(&sally(), 250.5, Some("EUR"))];
    let report = build(None, &[a, b, c], CAP);
    assert_eq!(
        report.closed_business,
        [
            money(Some("EUR"), 750.5),
            money(Some("USD"), 1000.0),
            money(None, 300.0)
        ]
    );
    let carol = report
        .partners
        .iter()
        .find(|p| p.email == "carol@c.example")
        .unwrap();
    assert_eq!(carol.value, [money(Some("EUR"), 750.5), money(None, 300.0)]);
}

#[test]
fn the_reciprocity_ledger_counts_given_received_and_made() {
    // Bob gives Alice a client, and introduces Fred and Sally, who do business.
    let to_alice = referral(1, ReferralStatus::Connected, bob(), &[alice(), sally()]);
    let mut deal = referral(2, ReferralStatus::Succeeded, bob(), &[fred(), sally()]);
    deal.feedback = vec![
        rated(&fred(), 4),
        won(&sally(), 1200.0, Some("GBP")),
        rated(&sally(), 5),
    ];
    // Alice introduces Bob to Carol: she gives back.
    let from_alice = referral(3, ReferralStatus::Open, alice(), &[bob(), carol()]);
    // Carol introduces Fred and Sally; it goes nowhere.
    let nowhere = referral(4, ReferralStatus::Stalled, carol(), &[fred(), sally()]);
    let report = build(None, &[to_alice, deal, from_alice, nowhere], CAP);

    assert_eq!(report.you_made, 1);
    assert_eq!(report.you_received, 1);
    let order: Vec<&str> = report.partners.iter().map(|p| p.name.as_str()).collect();
    // Bob gave Alice one; Carol made one and got one from Alice; Fred and Sally by name.
    assert_eq!(
        order,
        ["Bob Brown", "Carol King", "Fred Jones", "Sally Lee"]
    );
    assert!(report.partners.iter().all(|p| p.email != ALICE));

    let bob = &report.partners[0];
    assert_eq!(
        (
            bob.introduced,
            bob.gave_you,
            bob.you_gave,
            bob.was_introduced
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(bob.succeeded, 1);
    assert_eq!(bob.success_rate, Some(0.5));
    assert_eq!(bob.ratings, 2);
    assert_eq!(bob.average_rating, Some(4.5));
    assert_eq!(bob.value, [money(Some("GBP"), 1200.0)]);

    let carol = &report.partners[1];
    assert_eq!(
        (
            carol.introduced,
            carol.gave_you,
            carol.you_gave,
            carol.was_introduced
        ),
        (1, 0, 1, 1)
    );
    assert_eq!(carol.success_rate, Some(0.0));
    assert_eq!(carol.average_rating, None);
    assert!(carol.value.is_empty());

    // Someone who only ever was introduced made nothing: no rate, not zero.
    let sally = &report.partners[3];
    assert_eq!((sally.introduced, sally.was_introduced), (0, 3));
    assert_eq!(sally.success_rate, None);
}

#[test]
fn partners_are_named_as_their_latest_referral_names_them() {
    let first = referral(1, ReferralStatus::Open, bob(), &[fred(), sally()]);
    let later = referral(
        2,
        ReferralStatus::Open,
        who("bob@networkers.example", "Robert Brown"),
        &[fred(), sally()],
    );
    // Whatever order they come in.
    let report = build(None, &[later, first], CAP);
    assert_eq!(report.partners[0].name, "Robert Brown");
}

#[test]
fn the_owner_introducing_is_not_a_partner_and_gives_to_each_party() {
    let r = referral(1, ReferralStatus::Open, alice(), &[fred(), sally()]);
    let report = build(None, &[r], CAP);
    assert_eq!(report.you_made, 1);
    assert_eq!(report.partners.len(), 2);
    assert!(report.partners.iter().all(|p| p.you_gave == 1));
}

#[test]
fn the_report_says_which_period_it_covers() {
    let since = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let json = serde_json::to_value(build(Some(since), &[], CAP)).unwrap();
    assert_eq!(json["since"], "2026-11-01T00:00:00Z");
}

#[test]
fn since_reads_a_day_in_the_owners_timezone_or_an_instant() {
    let london: Tz = "Europe/London".parse().unwrap();
    let start = |text: &str, tz: Tz| text.parse::<Since>().unwrap().start(tz);
    assert_eq!(
        start("2026-11-01", london),
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    );
    // In summer, London's midnight is 23:00 UTC the day before.
    assert_eq!(
        start("2026-07-01", london),
        Utc.with_ymd_and_hms(2026, 6, 30, 23, 0, 0).unwrap()
    );
    assert_eq!(
        start("2026-11-01T09:00:00+01:00", london),
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
    );
    // Chile moves its clocks at midnight: that day starts at 01:00 local (UTC-3).
    let santiago: Tz = "America/Santiago".parse().unwrap();
    assert_eq!(
        start("2026-09-06", santiago),
        Utc.with_ymd_and_hms(2026, 9, 6, 4, 0, 0).unwrap()
    );
    for bad in ["yesterday", "2026-13-01", "2026-02-30", "", "01/11/2026"] {
        let err = bad.parse::<Since>().unwrap_err();
        assert!(err.contains("YYYY-MM-DD"), "{bad}: {err}");
    }
}
