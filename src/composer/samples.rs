//! Sample drafts every template is rendered against at startup, chosen so that together they
//! take every branch a template is likely to have: the owner as a party, as the introducer or
//! neither; two parties or a group; feedback full, partial or absent.

use chrono::{DateTime, TimeZone, Utc};

use super::{Draft, ReferralSummary};
use crate::model::Answer;
use crate::model::{OutboundKind, Outcome, Person};

/// The instant the sample drafts are rendered at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 18, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Sample drafts of `kind`, with the owner at `owner_email`.
pub fn drafts(kind: OutboundKind, owner_name: &str, owner_email: &str) -> Vec<Draft> {
    let owner = Person::new(owner_email, Some(owner_name));
    let bob = Person::new("bob@networkers.example", Some("Bob Jones"));
    let fred = Person::new("fred@books.example", Some("Fred Bloggs"));
    let sally = Person::new("sally@garden.example", Some("Sally Smith"));
    let tom = Person::new("tom@solar.example", None);
    let introduced_at = Utc
        .with_ymd_and_hms(2026, 3, 4, 9, 30, 0)
        .single()
        .unwrap_or_default();

    let referral = |introducer: &Person, parties: &[&Person], subject: &str| ReferralSummary {
        id: 1,
        subject: subject.into(),
        thread_root: "intro@networkers.example".into(),
        references: vec!["intro@networkers.example".into()],
        introduced_at,
        introducer: introducer.clone(),
        parties: parties.iter().map(|p| (*p).clone()).collect(),
        // The first party wrote back: templates meet both a heard-from and a silent party.
        heard: parties
            .iter()
            .take(1)
            .map(|p| ((*p).clone(), introduced_at))
            .collect(),
    };
    let scenarios = [
        // The owner was introduced to Fred.
        referral(&bob, &[&owner, &fred], "Alice, meet Fred"),
        // The owner introduced three people.
        referral(&owner, &[&fred, &sally, &tom], "Re: Intros all round"),
        // The owner tracks introductions made by others.
        referral(&bob, &[&fred, &sally], ""),
        // The owner was introduced to a group.
        referral(&bob, &[&fred, &owner, &sally], "Intro"),
    ];
    let feedback_sets = [
        vec![
            Answer {
                from: fred.clone(),
                rating: Some(5),
                outcome: Some(Outcome::Won),
                value: Some(1200.0),
                currency: Some("GBP".into()),
                comment: "Great to meet.\nWe're working together now.".into(),
                at: now(),
                reported: false,
            },
            Answer {
                from: sally.clone(),
                rating: None,
                outcome: None,
                value: None,
                currency: None,
                comment: String::new(),
                at: now(),
                reported: false,
            },
            Answer {
                from: owner.clone(),
                rating: Some(3),
                outcome: Some(Outcome::Lost),
                value: Some(50.0),
                currency: None,
                comment: "Not a fit.".into(),
                at: now(),
                reported: false,
            },
            Answer {
                from: tom.clone(),
                rating: None,
                outcome: Some(Outcome::NotMet),
                value: None,
                currency: Some("EUR".into()),
                comment: "Haven't managed to find a time yet.".into(),
                at: now(),
                reported: false,
            },
        ],
        vec![Answer {
            from: sally.clone(),
            rating: Some(4),
            outcome: Some(Outcome::Met),
            value: None,
            currency: None,
            comment: String::new(),
            at: now(),
            reported: false,
        }],
        Vec::new(),
    ];

    let mut drafts = Vec::new();
    for referral in scenarios {
        // Every possible recipient, not only the planned one: an override may well be
        // written for a case the plan makes rare.
        let mut recipients = vec![referral.introducer.clone(), owner.clone()];
        recipients.extend(referral.parties.iter().cloned());
        for to in recipients {
            // Only the outcome report sees feedback; one set is enough for the other kinds.
            let sets = if kind == OutboundKind::OutcomeReport {
                &feedback_sets[..]
            } else {
                &feedback_sets[..1]
            };
            for feedback in sets {
                drafts.push(Draft {
                    kind,
                    message_id: "sample@tracker.example".into(),
                    to: to.clone(),
                    referral: referral.clone(),
                    feedback: feedback.clone(),
                });
            }
        }
    }
    drafts
}
