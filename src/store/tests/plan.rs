//! The plan as stored: what is due and when, `max-per-hour`, and paused referrals.

use super::*;

#[test]
fn max_per_hour_holds_back_the_rest() {
    let mut store = Store::open_in_memory().unwrap();
    let mut config = config();
    config.schedule.max_per_hour = 3;
    for i in 0..5 {
        introduce(&mut store, &format!("intro-{i}@mail.example"), t0());
    }
    let first = store.claim_due(&config, t0()).unwrap();
    assert_eq!(first.len(), 3);
    for d in &first {
        store.mark_sent(d.id, &config, t0()).unwrap();
    }
    assert!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(30))
            .unwrap()
            .is_empty()
    );
    // An hour later, the other two go.
    assert_eq!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(61))
            .unwrap()
            .len(),
        2
    );
}

/// Under max-per-hour, the mail that has waited longest goes first, whatever order the
/// referrals were recorded in; the rest keep their place.
#[test]
fn max_per_hour_lets_the_longest_waiting_go_first() {
    let mut store = Store::open_in_memory().unwrap();
    let mut config = config();
    config.schedule.max_per_hour = 1;
    // Recorded in this order, each due when recorded: the last one has waited longest.
    let late = introduce(
        &mut store,
        "late@mail.example",
        t0() + TimeDelta::minutes(20),
    );
    let middle = introduce(
        &mut store,
        "middle@mail.example",
        t0() + TimeDelta::minutes(10),
    );
    let early = introduce(&mut store, "early@mail.example", t0());
    let referral_of = |store: &Store, id: OutboundId| -> ReferralId {
        store
            .conn
            .query_row(
                "SELECT referral_id FROM outbound WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    let mut order = Vec::new();
    for hour in 1..=3 {
        let now = t0() + TimeDelta::minutes(30) + TimeDelta::hours(hour - 1) * 61 / 60;
        let due = store.claim_due(&config, now).unwrap();
        assert_eq!(due.len(), 1, "one an hour");
        order.push(referral_of(&store, due[0].id));
        store.mark_sent(due[0].id, &config, now).unwrap();
    }
    assert_eq!(order, [early, middle, late]);
}

#[test]
fn a_paused_referral_is_not_due_until_its_pause_ends() {
    // Guards against a paused referral's overdue mail waking the daemon in a busy loop, and
    // against it going out during the pause.
    let config = config();
    let mut store = Store::open_in_memory().unwrap();
    let r = introduce(&mut store, "intro-pause@x", t0());
    let until = t0() + TimeDelta::days(10);
    store
        .conn
        .execute(
            "UPDATE referrals SET paused_until = ?2 WHERE id = ?1",
            rusqlite::params![r, ts(until)],
        )
        .unwrap();
    assert_eq!(store.next_due().unwrap(), Some(until));
    assert!(
        store
            .plan_due(&config, t0() + TimeDelta::days(3))
            .unwrap()
            .is_empty()
    );
    assert!(!store.plan_due(&config, until).unwrap().is_empty());
}
