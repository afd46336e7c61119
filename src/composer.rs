//! Composer: turns a due outbound message into an email, from one template per message kind.

use chrono::{DateTime, Utc};

use crate::model::{OutboundKind, Outcome, Person, ReferralId};

/// Everything a template may say about one outbound message.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Which message of the plan this is.
    pub kind: OutboundKind,
    /// Our Message-ID for it, without angle brackets; fixed when it was first scheduled.
    pub message_id: String,
    /// The recipient.
    pub to: Person,
    /// The referral it is about.
    pub referral: ReferralSummary,
    /// What the parties said so far, latest per person (for `outcome_report`).
    pub feedback: Vec<FeedbackSummary>,
}

/// The referral as templates and threading headers see it.
#[derive(Debug, Clone)]
pub struct ReferralSummary {
    /// Row id, shown nowhere in mail but useful in logs.
    pub id: ReferralId,
    /// The introduction's subject (without `Fwd:` for forwarded introductions).
    pub subject: String,
    /// The Message-ID our mail threads under (without brackets).
    pub thread_root: String,
    /// The introduction's References chain, oldest first, ending with `thread_root`.
    pub references: Vec<String>,
    /// When the introduction was recorded.
    pub introduced_at: DateTime<Utc>,
    /// Who made the introduction.
    pub introducer: Person,
    /// The people introduced, in the order they were addressed.
    pub parties: Vec<Person>,
}

/// One participant's latest answer.
#[derive(Debug, Clone)]
pub struct FeedbackSummary {
    /// Who answered.
    pub from: Person,
    /// 1–5.
    pub rating: Option<u8>,
    /// Whether they met and did business.
    pub outcome: Option<Outcome>,
    /// Business closed.
    pub value: Option<f64>,
    /// ISO 4217 code of `value`.
    pub currency: Option<String>,
    /// Their own words.
    pub comment: String,
    /// When it arrived.
    pub at: DateTime<Utc>,
}
