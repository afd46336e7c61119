//! Intake: what is this message? Pure: it reads the message, asks [`Known`] what the store
//! already holds, and returns a [`Classified`] verdict. It never writes anything; the store
//! applies the verdict.
//!
//! Kinds are decided in the order of SPEC §3, loop guards first: a message from ourselves, a
//! bounce or an auto-reply can never be taken for an introduction or a reply.
//!
//! Layout: [`classify`] runs the steps in order (`classify.rs`) over a view of the parsed
//! message (`message.rs`); each question that takes more than a header lookup has its own
//! module: `bounce.rs` (delivery-status reports), `automatic.rs` (lists and auto-responders),
//! `auth.rs` (`Authentication-Results`), `forward.rs` (forwarded introductions), with
//! `address.rs` reading addresses written as text; `reply.rs` reads a participant's answer.
//! `ahead.rs` classifies a message before the store is at hand and confirms the verdict
//! against the store when it is recorded.

mod address;
pub mod ahead;
pub(crate) mod auth;
mod automatic;
pub mod away;
mod bounce;
mod classify;
pub mod commands;
mod forward;
#[cfg(test)]
mod fuzz;
mod message;
pub mod names;
pub mod options;

pub use crate::subject::normalize_subject;
pub use classify::classify;
pub use reply::OwnerNote;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{OutboundKind, Outcome, Person, ReferralId, Role};

pub mod reply;

/// What the store knows that classification needs. Implemented by the store over SQLite and
/// by plain structs in tests.
pub trait Known {
    /// Whether a message with this Message-ID (without angle brackets) was processed before.
    fn seen(&self, message_id: &str) -> bool;

    /// The referral whose thread holds one of these Message-IDs: its introduction, or one of
    /// our outbound messages. The first hit in the order given wins.
    fn thread_of(&self, message_ids: &[String]) -> Option<ThreadHit>;

    /// A referral not yet closed in which `email` takes part and whose normalised subject is
    /// `subject` (see [`normalize_subject`]); the most recent one when several match.
    fn referral_by_subject(&self, subject: &str, email: &str) -> Option<ReferralId>;

    /// The role `email` plays in the referral, if it takes part in it.
    fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role>;

    /// Whether `email` (lower-cased), or the address without its `+detail`, was erased with
    /// `referrald forget`: such a person is never a party or an introducer again. A store
    /// that has forgotten nobody answers no.
    fn is_forgotten(&self, _email: &str) -> bool {
        false
    }

    /// Whether one of these Message-IDs names a notice of ours to the owner (an answer to a
    /// command), and the referral it was about (`Some(None)` for one about none).
    fn notice_of(&self, _message_ids: &[String]) -> Option<Option<ReferralId>> {
        None
    }

    /// The first of these Message-IDs that names a message of ours sent to one of `addresses`
    /// (lower-cased): proof that the sender received it, since our Message-IDs carry a random
    /// part only its recipient knows.
    fn sent_to(&self, message_ids: &[String], addresses: &[String]) -> Option<ThreadHit> {
        message_ids.iter().find_map(|id| {
            self.thread_of(std::slice::from_ref(id))
                .filter(|hit| hit.went_to(addresses))
        })
    }
}

/// A message of ours (or the introduction) that an incoming message refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadHit {
    /// The referral the thread belongs to.
    pub referral: ReferralId,
    /// `None` when the hit is the introduction itself; else the kind of our outbound message
    /// and its recipient.
    pub outbound: Option<(OutboundKind, String)>,
}

impl ThreadHit {
    /// Whether the hit is a message of ours sent to one of `addresses` (any case).
    pub fn went_to(&self, addresses: &[String]) -> bool {
        self.outbound
            .as_ref()
            .is_some_and(|(_, to)| addresses.iter().any(|a| a.eq_ignore_ascii_case(to)))
    }
}

/// A classified message: the verdict and the few facts every verdict needs.
#[derive(Debug, Clone)]
pub struct Classified {
    /// The Message-ID without angle brackets; a stable synthetic one
    /// (`<hash>@referrald.invalid`) when the message has none.
    pub message_id: String,
    /// The sender, when one could be read.
    pub from: Option<Person>,
    /// The decoded subject ("" when absent).
    pub subject: String,
    /// The `Date:` header, when present and valid.
    pub date: Option<DateTime<Utc>>,
    /// What the message is and what it asks of the store.
    pub verdict: Verdict,
}

/// Exactly one kind per message (SPEC §3).
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Nothing is sent because of it, ever.
    Ignored(IgnoreReason),
    /// A delivery-status report: the failed recipients are marked bounced.
    Bounce(Bounce),
    /// An auto-responder: never answered, never a response.
    AutoReply {
        /// The referral whose thread it answers, if any.
        referral: Option<ReferralId>,
        /// The return date it names, when it proves it comes from a participant: their mail
        /// waits until the day after.
        away: Option<Away>,
    },
    /// A Message-ID already processed.
    Duplicate,
    /// The sender asks never to be emailed again.
    OptOut {
        /// The address that opts out (lower-cased).
        email: String,
        /// The referral the request came in on, if any.
        referral: Option<ReferralId>,
    },
    /// A participant answered one of our messages.
    Feedback {
        /// The referral answered about.
        referral: ReferralId,
        /// The participant who answered.
        from: Person,
        /// What their answer says.
        reading: Reading,
    },
    /// A participant wrote on the introduction's thread.
    ThreadReply {
        /// The referral whose thread it is.
        referral: ReferralId,
        /// The participant who wrote.
        from: Person,
        /// When the owner wrote: what she said that our mail should not repeat.
        note: OwnerNote,
    },
    /// A new introduction.
    Introduction(Introduction),
    /// The owner's command by email (see [`commands`]): applied, and answered once.
    Command(OwnerCommand),
}

impl Verdict {
    /// The kind's name in SPEC §3 and the JSON contract.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Ignored(_) => "ignored",
            Verdict::Bounce(_) => "bounce",
            Verdict::AutoReply { .. } => "auto_reply",
            Verdict::Duplicate => "duplicate",
            Verdict::OptOut { .. } => "opt_out",
            Verdict::Feedback { .. } => "feedback",
            Verdict::ThreadReply { .. } => "thread_reply",
            Verdict::Introduction(_) => "introduction",
            Verdict::Command(_) => "command",
        }
    }

    /// Why, in a few words, for logs and `inspect`: the ignore reason, or a bounce's status.
    pub fn reason(&self) -> Option<String> {
        match self {
            Verdict::Ignored(reason) => Some(reason.to_string()),
            Verdict::Bounce(bounce) => bounce.status.clone(),
            _ => None,
        }
    }

    /// The referral the message belongs to, when the verdict names one.
    pub fn referral(&self) -> Option<ReferralId> {
        match self {
            Verdict::AutoReply { referral, .. } | Verdict::OptOut { referral, .. } => *referral,
            Verdict::Bounce(b) => b.referral,
            Verdict::Feedback { referral, .. } | Verdict::ThreadReply { referral, .. } => {
                Some(*referral)
            }
            Verdict::Command(c) => c.referral(),
            Verdict::Ignored(_) | Verdict::Duplicate | Verdict::Introduction(_) => None,
        }
    }
}

/// Why a message was ignored: counted and logged, never answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreReason {
    /// The bytes are not a mail message.
    #[error("unparseable: {0}")]
    Unparseable(String),
    /// No usable From address.
    #[error("no usable From address")]
    NoFrom,
    /// Mail we sent ourselves, come back to the tracking mailbox.
    #[error("our own outbound mail")]
    OwnMail,
    /// The sender is not in `accept-from` and is not the owner.
    #[error("sender {0} is not allowed to introduce")]
    NotAllowed(String),
    /// `require-authentication` is on and the message did not pass.
    #[error("failed authenticity check: {0}")]
    Unauthenticated(String),
    /// A mailing list or newsletter.
    #[error("list or newsletter mail")]
    List,
    /// Fewer than two parties once the introducer and excluded addresses are removed.
    #[error("fewer than two parties")]
    TooFewParties,
    /// More parties than `intake.max-parties`.
    #[error("{0} parties, more than max-parties allows")]
    TooManyParties(usize),
    /// The tracking address is not among the recipients and the message is not a reply.
    #[error("not addressed to the tracking address")]
    NotAddressed,
    /// A reply on a referral's thread from someone who takes no part in it.
    #[error("reply from {0}, who is not a participant")]
    Stranger(String),
    /// It would have been an introduction, but it carries a sign of a mail loop: a null
    /// Return-Path, an `X-Loop` naming the tracking address, one of our Message-IDs in its
    /// thread, or our footer quoted. Answering it could start or feed a loop.
    #[error("mail loop: {0}; never an introduction")]
    Loop(&'static str),
    /// It would have been an introduction, but its introducer was erased with `forget`.
    #[error("the introducer was forgotten")]
    Forgotten,
    /// With `require-authentication` on, a participant's reply that proved nothing: it is not
    /// authenticated and names no message we sent to its sender, so its From may be forged.
    #[error("unverified reply: {0}")]
    UnverifiedReply(String),
    /// A command in the owner's name that did not pass the authenticity check
    /// `require-authentication` asks of introductions: its From may be forged, so it changes
    /// nothing and is not answered.
    #[error("unverified command: {0}")]
    UnverifiedCommand(String),
    /// The owner's answer to one of our notices that is no command ("thanks"): nothing to do.
    #[error("the owner's reply to a notice, not a command")]
    NoticeReply,
    /// A delivery report that names no message we sent to the recipient it reports on.
    #[error("unverified delivery report: {0}")]
    UnverifiedBounce(String),
}

/// A participant's out-of-office reply that says when they are back (see [`away`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Away {
    /// The participant, by the address the referral knows them by (lower-cased).
    pub email: String,
    /// The day they are back.
    pub back_on: chrono::NaiveDate,
}

/// The owner's command, read: what the store applies and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerCommand {
    /// The owner, by the address the command came from: the one the answer goes to.
    pub owner: Person,
    /// The first line, read; [`commands::Line::NotACommand`] for a fresh message to the
    /// tracking address whose first line is no command (answered with the help text).
    pub line: commands::Line,
    /// That first line as written (cut short), for the answer to quote.
    pub written: String,
    /// The referral `#ID` named on the line or in the subject.
    pub named: Option<ReferralId>,
    /// The referral whose thread the command answers, if any.
    pub thread: Option<ReferralId>,
    /// The command's References chain, ending with its own Message-ID: the answer threads
    /// under it.
    pub references: Vec<String>,
}

impl OwnerCommand {
    /// The referral the command acts on: the one it names, else its thread's.
    pub fn referral(&self) -> Option<ReferralId> {
        self.named.or(self.thread)
    }
}

/// A delivery-status report, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounce {
    /// The address the returned message of ours went to, which the report says failed
    /// (lower-cased).
    pub recipients: Vec<String>,
    /// The Status code, e.g. `5.1.1`, with the diagnostic when given.
    pub status: Option<String>,
    /// The Message-ID of the returned message, when the report includes it.
    pub original_message_id: Option<String>,
    /// The referral that message of ours belongs to.
    pub referral: Option<ReferralId>,
}

/// What a participant's answer says (SPEC §3 `feedback`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reading {
    /// 1–5.
    pub rating: Option<u8>,
    /// Whether they met and did business.
    pub outcome: Option<Outcome>,
    /// Business closed, in `currency`.
    pub value: Option<f64>,
    /// ISO 4217 code of `value` when the answer named one ("USD", "EUR", "GBP").
    pub currency: Option<String>,
    /// The answer's own words: quoted text and signature removed.
    pub comment: String,
}

/// A new introduction, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    /// Who made it.
    pub introducer: Person,
    /// The people introduced, in the order they were addressed; never empty, never the
    /// introducer, the tracking address or a never-party address.
    pub parties: Vec<Person>,
    /// People copied to help (an assistant finding a time), as the introduction's words say:
    /// recorded and shown, never mailed (see [`names`]).
    pub copied: Vec<Person>,
    /// The introduction's subject, without `Fwd:` when it was forwarded.
    pub subject: String,
    /// The Message-ID our mail threads under: the introduction's own, or, for a forward that
    /// carries it, the original's.
    pub thread_root: String,
    /// The introduction's References chain (ids without brackets), oldest first, ending with
    /// `thread_root`.
    pub references: Vec<String>,
    /// Whether it arrived as a forward to the tracking address.
    pub forwarded: bool,
    /// What the tracking address it was sent to asks of it (`intros+quiet@…`).
    pub options: options::Options,
}
