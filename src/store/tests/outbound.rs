//! The outbox's bookkeeping: claiming, sent, retry, failed, refusals that bounce an address,
//! and recovery after a crash.

use super::*;

/// (bounced_at is set, bounce_status) of a contact.
fn bounce_of(store: &Store, email: &str) -> (bool, Option<String>) {
    store
        .conn
        .query_row(
            "SELECT bounced_at IS NOT NULL, bounce_status FROM contacts WHERE email = ?1",
            [email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

// Harm guarded against: a "no such user" refusal failed one message, and the person's
// feedback request and reminder were still attempted and refused again.
#[test]
fn an_smtp_refusal_saying_no_such_user_bounces_the_person_everywhere() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let a = introduce(&mut store, "intro-a@mail.example", t0());
    let later = t0() + TimeDelta::days(1);
    let b = introduce(&mut store, "intro-b@mail.example", later);
    let fred = fred().email;
    let sally = sally().email;
    let t2 = t0() + TimeDelta::days(2);
    let follow_up = claim(&mut store, t2, OutboundKind::FollowUp, &fred);
    let refusal = DeliveryResult::Refused(
        Recipient::Dead,
        "127.0.0.1:25: permanent error (550): 5.1.1 <fred@fredsbooks.example>: no such user".into(),
    );
    store
        .record_delivery(follow_up, &refusal, &config, t2)
        .unwrap();

    assert_eq!(
        state(&store, a, OutboundKind::FollowUp, &fred),
        OutboundState::Failed
    );
    // Bounced in every referral, with the server's words, as a delivery report would do.
    for r in [a, b] {
        assert_eq!(party_state(&store, r, &fred), PartyState::Bounced, "#{r}");
        assert_eq!(party_state(&store, r, &sally), PartyState::Pending, "#{r}");
        let detail = store.referral(r).unwrap().unwrap();
        assert!(
            detail
                .events
                .iter()
                .any(|e| e.kind == "bounced" && e.detail.contains("5.1.1")),
            "#{r}: {:?}",
            detail.events
        );
        for o in &detail.outbound {
            if o.to == fred && o.id != follow_up {
                assert_eq!(o.state, OutboundState::Cancelled, "{} in #{r}", o.kind);
            }
            if o.to == sally && o.kind == OutboundKind::FeedbackRequest {
                assert_eq!(o.state, OutboundState::Scheduled, "#{r}");
            }
        }
    }
    let (bounced, status) = bounce_of(&store, &fred);
    assert!(bounced);
    assert!(status.unwrap().contains("5.1.1"));
    // A later introduction of Fred knows he bounced.
    let c = introduce(&mut store, "intro-c@mail.example", t2);
    assert_eq!(party_state(&store, c, &fred), PartyState::Bounced);
}

// Harm guarded against: an address refused for good over and over, every message tried.
#[test]
fn a_second_refusal_in_a_row_makes_the_address_undeliverable() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let a = introduce(&mut store, "intro-a@mail.example", t0());
    let b = introduce(&mut store, "intro-b@mail.example", t0());
    let fred = fred().email;
    let full = DeliveryResult::Refused(Recipient::Refused, "552 5.2.2 mailbox full".into());
    let t2 = t0() + TimeDelta::days(2);
    let due = store.claim_due(&config, t2).unwrap();
    let to_fred: Vec<OutboundId> = due
        .iter()
        .filter(|d| d.draft.to.email == fred)
        .map(|d| d.id)
        .collect();
    assert_eq!(to_fred.len(), 2, "a follow-up in each referral");

    // The first refusal fails that message only.
    store
        .record_delivery(to_fred[0], &full, &config, t2)
        .unwrap();
    assert_eq!(party_state(&store, a, &fred), PartyState::Pending);
    assert_eq!(party_state(&store, b, &fred), PartyState::Pending);
    assert!(!bounce_of(&store, &fred).0);
    // The second marks him undeliverable, saying so.
    store
        .record_delivery(to_fred[1], &full, &config, t2)
        .unwrap();
    for r in [a, b] {
        assert_eq!(party_state(&store, r, &fred), PartyState::Bounced, "#{r}");
        // Nothing more is planned for him.
        let detail = store.referral(r).unwrap().unwrap();
        assert!(
            !detail
                .outbound
                .iter()
                .any(|o| o.to == fred && o.state == OutboundState::Scheduled),
            "#{r}"
        );
    }
    let (bounced, status) = bounce_of(&store, &fred);
    assert!(bounced);
    let status = status.unwrap();
    assert!(
        status.starts_with("undeliverable: refused 2 times"),
        "{status}"
    );
    assert!(status.contains("5.2.2"), "{status}");
}

// Harm guarded against: refusals weeks apart, with mail accepted in between, adding up to
// "undeliverable"; and failures that are not about the address (our sender, a broken draft)
// being held against the person.
#[test]
fn only_refusals_in_a_row_that_are_about_the_address_count() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let fred = fred().email;
    let refused = DeliveryResult::Refused(Recipient::Refused, "550 5.2.1 mailbox disabled".into());
    let ours = DeliveryResult::Failed("550 5.7.1 relay access denied".into());
    let referrals: Vec<ReferralId> = (0..4)
        .map(|n| introduce(&mut store, &format!("intro-{n}@mail.example"), t0()))
        .collect();
    let t2 = t0() + TimeDelta::days(2);
    let to_fred: Vec<OutboundId> = store
        .claim_due(&config, t2)
        .unwrap()
        .iter()
        .filter(|d| d.draft.to.email == fred)
        .map(|d| d.id)
        .collect();
    assert_eq!(to_fred.len(), 4);
    store
        .record_delivery(to_fred[0], &refused, &config, t2)
        .unwrap();
    store
        .record_delivery(to_fred[1], &DeliveryResult::Sent, &config, t2)
        .unwrap();
    store
        .record_delivery(to_fred[2], &refused, &config, t2)
        .unwrap();
    store
        .record_delivery(to_fred[3], &ours, &config, t2)
        .unwrap();
    assert!(!bounce_of(&store, &fred).0);
    for r in referrals {
        assert_eq!(party_state(&store, r, &fred), PartyState::Pending, "#{r}");
    }
}

#[test]
fn the_outbox_claims_sends_retries_and_fails() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    // At T the thank-you is due.
    let due = store.claim_due(&config, t0()).unwrap();
    assert_eq!(due.len(), 1);
    let thank_you = &due[0];
    assert_eq!(thank_you.draft.kind, OutboundKind::ThankYou);
    assert_eq!(thank_you.draft.to, bob());
    assert_eq!(thank_you.draft.referral.parties, vec![fred(), sally()]);
    assert_eq!(thank_you.draft.referral.thread_root, "intro-1@mail.example");
    assert_eq!(thank_you.attempts, 1);
    // Claimed messages are not claimed twice.
    assert!(store.claim_due(&config, t0()).unwrap().is_empty());

    // A temporary failure retries after the initial backoff, with the same Message-ID.
    store
        .mark_retry(thank_you.id, "421 try later", &config, t0())
        .unwrap();
    assert!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(4))
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_due(&config, t0() + TimeDelta::minutes(5))
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].draft.message_id, thank_you.draft.message_id);
    assert_eq!(again[0].attempts, 2);
    // The second wait is twice the first.
    store
        .mark_retry(
            thank_you.id,
            "421 try later",
            &config,
            t0() + TimeDelta::minutes(5),
        )
        .unwrap();
    assert!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(14))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due(&config, t0() + TimeDelta::minutes(15))
            .unwrap()
            .len(),
        1
    );
    // Past give-up-after it fails for good.
    store
        .mark_retry(
            thank_you.id,
            "421 still down",
            &config,
            t0() + TimeDelta::days(2),
        )
        .unwrap();
    let o = &store.outbox().unwrap()[0];
    assert_eq!(o.state, OutboundState::Failed);
    assert!(
        o.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts")
    );

    // Follow-ups at T+2d: sent.
    let due = store.claim_due(&config, t0() + TimeDelta::days(2)).unwrap();
    assert_eq!(due.len(), 2);
    for d in &due {
        store
            .mark_sent(d.id, &config, t0() + TimeDelta::days(2))
            .unwrap();
    }
    assert_eq!(
        state(&store, r, OutboundKind::FollowUp, "fred@fredsbooks.example"),
        OutboundState::Sent
    );
    // A permanent failure is recorded with the server's reply.
    let due = store
        .claim_due(&config, t0() + TimeDelta::days(14))
        .unwrap();
    store
        .mark_failed(
            due[0].id,
            "550 5.1.1 no such user",
            &config,
            t0() + TimeDelta::days(14),
        )
        .unwrap();
    let detail = store.referral(r).unwrap().unwrap();
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.kind == "failed" && e.detail.contains("550 5.1.1"))
    );
    // Sending the other request planned its reminder a week on.
    store
        .mark_sent(due[1].id, &config, t0() + TimeDelta::days(14))
        .unwrap();
    let reminder = store
        .forecast_referral(r, &config, t0() + TimeDelta::days(14))
        .unwrap()
        .into_iter()
        .find(|o| o.kind == OutboundKind::FeedbackReminder)
        .unwrap();
    assert_eq!(reminder.due_at, ts(t0() + TimeDelta::days(21)));
    assert_eq!(store.next_due().unwrap(), Some(t0() + TimeDelta::days(21)));
}

#[test]
fn messages_left_sending_by_a_crash_are_sent_again_with_the_same_message_id() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    introduce(&mut store, "intro-1@mail.example", t0());
    let claimed = store.claim_due(&config, t0()).unwrap();
    assert_eq!(claimed.len(), 1);
    // The process dies here. On start:
    assert_eq!(
        store.recover_sending(t0() + TimeDelta::minutes(1)).unwrap(),
        1
    );
    let again = store
        .claim_due(&config, t0() + TimeDelta::minutes(1))
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].draft.message_id, claimed[0].draft.message_id);
}

// Harm guarded against: only each person's next message is scheduled, so a follow-up that
// failed for good (a server that kept failing until `give-up-after`) left the party with
// nothing planned: their feedback request was never asked.
#[test]
fn after_a_message_fails_for_good_the_next_one_is_planned() {
    let mut store = Store::open_in_memory().unwrap();
    let config = config();
    let r = introduce(&mut store, "intro-1@mail.example", t0());
    let fred = fred().email;
    let t2 = t0() + TimeDelta::days(2);
    let follow_up = store
        .claim_due(&config, t2)
        .unwrap()
        .into_iter()
        .find(|d| d.draft.to.email == fred)
        .unwrap();
    assert_eq!(
        outbound_of(&store, r)
            .iter()
            .filter(|(k, t, _)| *k == OutboundKind::FeedbackRequest && *t == fred)
            .count(),
        0,
        "not planned while the follow-up waits"
    );
    store
        .mark_failed(follow_up.id, "gave up: 451 try later", &config, t2)
        .unwrap();
    assert!(planned(&store, r, t2).contains(&(OutboundKind::FeedbackRequest, fred)));
}
