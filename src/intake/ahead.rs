//! Classifying ahead: a message classified before the store is at hand, with every question
//! it asked the store kept beside its answer, to be confirmed when it is recorded.
//!
//! [`classify`] is pure: the same bytes, configuration, time and answers from [`Known`]
//! give the same verdict, asking the same questions in the same order. So a batch can be
//! classified on a second thread while the store records the messages before it, against a
//! store that knows nothing ([`Nothing`]). Just before a message is recorded, the store is
//! asked the same questions again ([`Ahead::confirm`]); if every answer is still the one
//! given, classifying it then would give the verdict already made, and that verdict is used.
//! If any answer differs (a reply to a referral, a Message-ID seen before, anything the store
//! knows), the message is classified again against the store: a guess is only ever used
//! when it is exactly what classifying it then would give.

use std::cell::RefCell;

use chrono::{DateTime, Utc};

use super::{Classified, Known, ThreadHit, classify};
use crate::config::Config;
use crate::model::{ReferralId, Role};

/// A store that knows nothing: what a message is before anything is recorded.
pub struct Nothing;

impl Known for Nothing {
    fn seen(&self, _: &str) -> bool {
        false
    }

    fn thread_of(&self, _: &[String]) -> Option<ThreadHit> {
        None
    }

    fn referral_by_subject(&self, _: &str, _: &str) -> Option<ReferralId> {
        None
    }

    fn role_in(&self, _: ReferralId, _: &str) -> Option<Role> {
        None
    }
}

/// A message classified ahead, with the answers its verdict rests on.
#[derive(Debug)]
pub struct Ahead {
    classified: Classified,
    answers: Vec<Answer>,
}

impl Ahead {
    /// The verdict, if `known` still gives every answer it rests on; `None` when the message
    /// must be classified again against `known`.
    pub fn confirm(self, known: &dyn Known) -> Option<Classified> {
        self.answers
            .iter()
            .all(|answer| answer.holds(known))
            .then_some(self.classified)
    }
}

/// Classifies `raw` against `known`, keeping each question asked and its answer.
pub fn classify_ahead(raw: &[u8], known: &dyn Known, config: &Config, now: DateTime<Utc>) -> Ahead {
    let asked = Asked {
        known,
        answers: RefCell::new(Vec::new()),
    };
    let classified = classify(raw, &asked, config, now);
    Ahead {
        classified,
        answers: asked.answers.into_inner(),
    }
}

/// One question classification asked, with what it was told.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Seen(String, bool),
    ThreadOf(Vec<String>, Option<ThreadHit>),
    ReferralBySubject(String, String, Option<ReferralId>),
    RoleIn(ReferralId, String, Option<Role>),
    IsForgotten(String, bool),
    NoticeOf(Vec<String>, Option<Option<ReferralId>>),
    SentTo(Vec<String>, Vec<String>, Option<ThreadHit>),
}

impl Answer {
    /// Whether `known` gives the same answer to the same question.
    fn holds(&self, known: &dyn Known) -> bool {
        match self {
            Answer::Seen(id, seen) => known.seen(id) == *seen,
            Answer::ThreadOf(ids, hit) => known.thread_of(ids) == *hit,
            Answer::ReferralBySubject(subject, email, referral) => {
                known.referral_by_subject(subject, email) == *referral
            }
            Answer::RoleIn(referral, email, role) => known.role_in(*referral, email) == *role,
            Answer::IsForgotten(email, forgotten) => known.is_forgotten(email) == *forgotten,
            Answer::NoticeOf(ids, notice) => known.notice_of(ids) == *notice,
            Answer::SentTo(ids, addresses, hit) => known.sent_to(ids, addresses) == *hit,
        }
    }
}

/// A [`Known`] that passes every question on and writes down the answer. Every method of
/// the trait is passed on here, the provided ones too, so that the answers kept are the
/// ones the classifier was given.
struct Asked<'k> {
    known: &'k dyn Known,
    answers: RefCell<Vec<Answer>>,
}

impl Asked<'_> {
    fn keep<T: Clone>(&self, answer: T, question: impl FnOnce(T) -> Answer) -> T {
        self.answers.borrow_mut().push(question(answer.clone()));
        answer
    }
}

impl Known for Asked<'_> {
    fn seen(&self, message_id: &str) -> bool {
        self.keep(self.known.seen(message_id), |a| {
            Answer::Seen(message_id.to_string(), a)
        })
    }

    fn thread_of(&self, message_ids: &[String]) -> Option<ThreadHit> {
        self.keep(self.known.thread_of(message_ids), |a| {
            Answer::ThreadOf(message_ids.to_vec(), a)
        })
    }

    fn referral_by_subject(&self, subject: &str, email: &str) -> Option<ReferralId> {
        self.keep(self.known.referral_by_subject(subject, email), |a| {
            Answer::ReferralBySubject(subject.to_string(), email.to_string(), a)
        })
    }

    fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role> {
        self.keep(self.known.role_in(referral, email), |a| {
            Answer::RoleIn(referral, email.to_string(), a)
        })
    }

    fn is_forgotten(&self, email: &str) -> bool {
        self.keep(self.known.is_forgotten(email), |a| {
            Answer::IsForgotten(email.to_string(), a)
        })
    }

    fn notice_of(&self, message_ids: &[String]) -> Option<Option<ReferralId>> {
        self.keep(self.known.notice_of(message_ids), |a| {
            Answer::NoticeOf(message_ids.to_vec(), a)
        })
    }

    fn sent_to(&self, message_ids: &[String], addresses: &[String]) -> Option<ThreadHit> {
        self.keep(self.known.sent_to(message_ids, addresses), |a| {
            Answer::SentTo(message_ids.to_vec(), addresses.to_vec(), a)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::Verdict;

    /// A store that knows one referral (7), whose introduction was `<intro@x.example>`.
    struct OneIntroduction;

    impl Known for OneIntroduction {
        fn seen(&self, id: &str) -> bool {
            id == "intro@x.example"
        }

        fn thread_of(&self, ids: &[String]) -> Option<ThreadHit> {
            ids.iter()
                .any(|id| id == "intro@x.example")
                .then_some(ThreadHit {
                    referral: 7,
                    outbound: None,
                })
        }

        fn referral_by_subject(&self, _: &str, _: &str) -> Option<ReferralId> {
            None
        }

        fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role> {
            match (referral, email) {
                (7, "fred@fredsbooks.example") => Some(Role::Party),
                (7, "bob@networkers.example") => Some(Role::Introducer),
                _ => None,
            }
        }
    }

    fn config() -> Config {
        crate::config::testing::config(
            "[intake]\naccept-from = [\"*@networkers.example\"]\nrequire-authentication = false\n",
        )
    }

    fn now() -> DateTime<Utc> {
        "2026-11-05T11:00:00Z".parse().expect("an instant")
    }

    const INTRODUCTION: &[u8] = b"From: Bob <bob@networkers.example>\n\
        To: Fred <fred@fredsbooks.example>, Sally <sally@leedesign.example>\n\
        Cc: intros@tracker.example.org\nSubject: Fred, meet Sally\n\
        Message-ID: <intro@x.example>\nDate: Thu, 5 Nov 2026 09:00:00 +0000\n\n\
        Fred, meet Sally. Sally, meet Fred.\n";

    const REPLY: &[u8] = b"From: Fred <fred@fredsbooks.example>\n\
        To: Sally <sally@leedesign.example>\nCc: Bob <bob@networkers.example>\n\
        Subject: Re: Fred, meet Sally\nMessage-ID: <reply@fredsbooks.example>\n\
        In-Reply-To: <intro@x.example>\nReferences: <intro@x.example>\n\
        Date: Thu, 5 Nov 2026 10:00:00 +0000\n\nThanks Bob! Sally, coffee on Tuesday?\n";

    #[test]
    fn a_guess_the_store_agrees_with_is_the_verdict() {
        let config = config();
        let ahead = classify_ahead(INTRODUCTION, &Nothing, &config, now());
        let confirmed = ahead
            .confirm(&Nothing)
            .expect("nothing is known either way");
        assert_eq!(confirmed.verdict.kind(), "introduction");
    }

    #[test]
    fn a_guess_the_store_answers_otherwise_is_classified_again() {
        let config = config();
        // Ahead of the store, the introduction is new and the reply answers nothing known.
        let intro = classify_ahead(INTRODUCTION, &Nothing, &config, now());
        assert_eq!(intro.classified.verdict.kind(), "introduction");
        let reply = classify_ahead(REPLY, &Nothing, &config, now());
        assert_ne!(reply.classified.verdict.kind(), "reply");
        // Once the introduction is recorded, neither guess may stand.
        assert!(
            intro.confirm(&OneIntroduction).is_none(),
            "it is a duplicate now"
        );
        assert!(
            reply.confirm(&OneIntroduction).is_none(),
            "it is on a thread now"
        );
        // What classifying it then gives instead.
        let again = classify(REPLY, &OneIntroduction, &config, now());
        assert!(
            matches!(
                again.verdict,
                Verdict::ThreadReply { .. } | Verdict::Feedback { .. }
            ),
            "{again:?}"
        );
    }

    #[test]
    fn every_question_is_kept_with_its_answer() {
        let config = config();
        let ahead = classify_ahead(REPLY, &OneIntroduction, &config, now());
        assert!(
            ahead
                .answers
                .contains(&Answer::Seen("reply@fredsbooks.example".to_string(), false)),
            "{:?}",
            ahead.answers
        );
        assert!(
            ahead.answers.iter().any(|a| matches!(
                a,
                Answer::ThreadOf(_, Some(ThreadHit { referral: 7, .. }))
                    | Answer::SentTo(_, _, Some(ThreadHit { referral: 7, .. }))
            )),
            "{:?}",
            ahead.answers
        );
        // Asked of the store it was classified against, every answer holds.
        assert!(ahead.confirm(&OneIntroduction).is_some());
    }
}
