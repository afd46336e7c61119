//! Outbox: sends what is due. The store decides what may go (plan, window, one a day,
//! max-per-hour) and counts each attempt before it is made; the composer renders it; the
//! transport carries it; the outcome goes back to the store. A message is therefore never
//! handed to the transport twice unless an attempt's outcome was lost (SPEC §7).

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::composer::Composer;
use crate::config::Config;
use crate::model::{OutboundId, OutboundKind, Person, ReferralId};
use crate::store::Store;
use crate::transport::{Recipient, SendError, Transport};

/// What happened to one due message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its row.
    pub id: OutboundId,
    /// The referral it is about.
    pub referral: ReferralId,
    /// Which message of the plan.
    pub kind: OutboundKind,
    /// The recipient.
    pub to: Person,
    /// Sent, to be retried, or failed.
    pub result: DeliveryResult,
}

/// The fate of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Accepted by the transport.
    Sent,
    /// A temporary failure: it will be tried again later.
    Retry(String),
    /// A permanent failure: it will not be sent.
    Failed(String),
    /// The server refused the recipient for good: it will not be sent, and the refusal counts
    /// against the address (a dead one is marked bounced at once).
    Refused(Recipient, String),
}

impl DeliveryResult {
    /// What the transport's answer means for the message.
    pub fn of(sent: Result<(), SendError>) -> DeliveryResult {
        match sent {
            Ok(()) => DeliveryResult::Sent,
            Err(SendError::Temporary(e)) => DeliveryResult::Retry(e),
            Err(SendError::Permanent(e)) => DeliveryResult::Failed(e),
            Err(SendError::Refused(recipient, e)) => DeliveryResult::Refused(recipient, e),
        }
    }

    /// Whether the message failed for good.
    pub fn failed(&self) -> bool {
        matches!(
            self,
            DeliveryResult::Failed(_) | DeliveryResult::Refused(..)
        )
    }
}

/// Sends every message due at `now`, once each.
pub async fn deliver_due(
    store: &mut Store,
    composer: &Composer,
    transport: &dyn Transport,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>> {
    let due = store.claim_due(config, now)?;
    let mut deliveries = Vec::with_capacity(due.len());
    for message in due {
        let result = match composer.compose(&message.draft, now) {
            // Templates are checked at start-up, so this is a broken draft, not a bad day:
            // retrying would not help.
            Err(e) => DeliveryResult::Failed(format!("cannot compose: {e:#}")),
            Ok(email) => DeliveryResult::of(transport.send(&email).await),
        };
        store.record_delivery(message.id, &result, config, now)?;
        deliveries.push(Delivery {
            id: message.id,
            referral: message.draft.referral.id,
            kind: message.draft.kind,
            to: message.draft.to,
            result,
        });
    }
    Ok(deliveries)
}
