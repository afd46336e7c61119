//! Outbox: sends what is due, the one way `run`, `tick` and `demo` all send. The store decides
//! what may go (plan, window, one a day, max-per-hour); each message is then claimed — moved to
//! `sending`, its attempt counted — just before it is handed to the transport, composed, sent,
//! and its outcome recorded. So a crash leaves at most the messages in flight in doubt, and
//! [`Outbox::deliver_due`] sends those again, with the same Message-ID, the next time any
//! command sends (SPEC §7). A message is never handed to the transport twice otherwise.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::composer::Composer;
use crate::config::Config;
use crate::model::{OutboundId, Person, ReferralId};
use crate::source::imap::stopping;
use crate::store::{NoticeId, Store};
use crate::transport::{Recipient, SendError, Transport};

/// After shutdown is asked for, a message being handed to the server gets this long to be
/// accepted before it is abandoned (and sent again with the same Message-ID next time).
const SEND_GRACE: Duration = Duration::from_secs(5);

/// The store, shared between the daemon's tasks and the outbox's senders. It is only ever
/// locked inside [`with_store`] (or another `spawn_blocking` closure), so the lock is never
/// held across an `.await` and the transport never waits for the database, nor it for them.
pub type SharedStore = Arc<Mutex<Store>>;

/// Shares `store` between tasks.
pub fn shared(store: Store) -> SharedStore {
    Arc::new(Mutex::new(store))
}

/// Locks the shared store, outside async code. A panic while holding the lock cannot leave a
/// transaction open (rusqlite rolls back on drop), so a poisoned lock is carried on with.
pub fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` on the store in a blocking thread (see [`SharedStore`]).
pub async fn with_store<T, F>(store: &SharedStore, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(&mut lock(&store)))
        .await
        .context("the database task failed")?
}

/// Where the outbox reads the time.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock, read at each step: `run`.
    Wall,
    /// One instant for the whole round: `tick --now` and the demo's simulated days.
    At(DateTime<Utc>),
    /// The system clock moved on by this much: the daemon run days ahead, in a test.
    Ahead(chrono::TimeDelta),
}

impl Clock {
    /// The time now, by this clock.
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::Wall => Utc::now(),
            Clock::At(t) => t,
            Clock::Ahead(by) => Utc::now() + by,
        }
    }
}

/// What happened to one due message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its row (in `outbound`, or in `notices` for a notice).
    pub id: OutboundId,
    /// The referral it is about, if any (a notice may be about none).
    pub referral: Option<ReferralId>,
    /// Which message of the plan, or which notice (`command_reply`).
    pub kind: &'static str,
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

/// Everything sending needs: the store, the composer, the transport and how many connections
/// to send on at once.
pub struct Outbox {
    store: SharedStore,
    config: Arc<Config>,
    composer: Composer,
    transport: Box<dyn Transport>,
    senders: usize,
    /// `<database>-outbox.lock`, locked (flock) by the process that recovered what a crashed
    /// sender left in flight, and held while it lives: a `tick` run beside a live `run` must
    /// not take `run`'s messages in flight for a crash's and send them a second time.
    recovered: Mutex<Option<File>>,
    lock_path: PathBuf,
}

impl Outbox {
    /// An outbox sending from `store` on up to `senders` connections at once.
    pub fn new(
        store: SharedStore,
        config: &Config,
        composer: Composer,
        transport: Box<dyn Transport>,
        senders: usize,
    ) -> Outbox {
        let mut lock_path = config.store_path().into_os_string();
        lock_path.push("-outbox.lock");
        Outbox {
            store,
            config: Arc::new(config.clone()),
            composer,
            transport,
            senders: senders.max(1),
            recovered: Mutex::new(None),
            lock_path: lock_path.into(),
        }
    }

    /// Closes the transport's idle connections (SMTP QUIT); sending opens new ones.
    pub async fn close(&self) {
        self.transport.close().await;
    }

    /// Sends every message due now, once each, and records each outcome. Messages a crashed
    /// sender left in `sending` are put back first and go again with the same Message-ID. Once
    /// `stop` says so, no further message is claimed, and one being handed over is abandoned
    /// after a short grace (it stays `sending`, for next time). Returns what was attempted, in
    /// the order each sender took it.
    pub async fn deliver_due(
        &self,
        clock: Clock,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<Vec<Delivery>> {
        self.recover(clock.now()).await?;
        let config = self.config.clone();
        let now = clock.now();
        let due = with_store(&self.store, move |s| {
            // A weekly digest due now becomes one more notice (once per week: its key). A
            // digest that cannot be made must not hold back the mail people are waiting for.
            if let Err(e) = s.queue_digest(&config, now) {
                tracing::error!("digest: {e:#}");
            }
            // Planning first: it may queue a notice (a report held for the owner).
            let planned = s.plan_due(&config, now)?;
            let notices = s.notices_due(now)?;
            // Answers to the owner first: they are what someone is waiting for.
            Ok(notices
                .into_iter()
                .map(Due::Notice)
                .chain(planned.into_iter().map(Due::Planned))
                .collect::<Vec<_>>())
        })
        .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let senders = self.senders.min(due.len());
        let queue = Mutex::new(VecDeque::from(due));
        let rounds = futures_util::future::join_all(
            (0..senders).map(|_| self.sender(&queue, clock, stop.cloned())),
        )
        .await;
        let unsent = queue.lock().unwrap_or_else(PoisonError::into_inner).len();
        if unsent > 0 {
            // Still `scheduled`: they go next time, as if never planned.
            tracing::info!("{unsent} message(s) left for the next round");
        }
        let mut deliveries = Vec::new();
        for round in rounds {
            deliveries.extend(round?);
        }
        Ok(deliveries)
    }

    /// Puts back what a crashed sender left in `sending`, once this process holds the outbox
    /// lock (at once, unless another referrald is sending from the same database).
    async fn recover(&self, now: DateTime<Utc>) -> Result<()> {
        if self
            .recovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return Ok(());
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .with_context(|| format!("cannot open {}", self.lock_path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            // Another referrald is sending: its messages in flight are its own.
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::debug!("another referrald is sending from this database");
                return Ok(());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", self.lock_path.display()));
            }
        }
        let resent = with_store(&self.store, move |s| s.recover_sending(now)).await?;
        if resent > 0 {
            tracing::warn!(
                "{resent} message(s) were being sent when referrald last stopped; they will be sent again with the same Message-ID"
            );
        }
        *self
            .recovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(file);
        Ok(())
    }

    /// One connection's worth of work: takes messages off the queue until it is empty or
    /// `stop` says so, claiming each just before handing it over.
    async fn sender(
        &self,
        queue: &Mutex<VecDeque<Due>>,
        clock: Clock,
        mut stop: Option<watch::Receiver<bool>>,
    ) -> Result<Vec<Delivery>> {
        let mut deliveries = Vec::new();
        loop {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                return Ok(deliveries);
            }
            let next = queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            let id = match next {
                None => return Ok(deliveries),
                Some(Due::Planned(id)) => id,
                Some(Due::Notice(id)) => {
                    match self.send_notice(id, clock, stop.as_mut()).await? {
                        Some(delivery) => deliveries.push(delivery),
                        None if stop.as_ref().is_some_and(|s| *s.borrow()) => {
                            return Ok(deliveries);
                        }
                        None => {}
                    }
                    continue;
                }
            };
            let now = clock.now();
            let claimed = with_store(&self.store, move |s| s.claim(&[id], now))
                .await
                .with_context(|| format!("cannot claim outbound #{id}"))?;
            // Cancelled since it was planned (a reply came in): nothing to send.
            let Some(message) = claimed.into_iter().next() else {
                continue;
            };
            let composed = self.composer.compose_with_text(&message.draft, clock.now());
            let (result, text) = match composed {
                // Templates are checked at start-up, so this is a broken draft, not a bad
                // day: retrying would not help.
                Err(e) => (
                    DeliveryResult::Failed(format!("cannot compose: {e:#}")),
                    None,
                ),
                Ok((email, text)) => match self.send(&email, stop.as_mut()).await {
                    Some(result) => (result, Some(text)),
                    None => {
                        tracing::warn!(
                            "outbound #{} abandoned mid-send at shutdown; it will be sent again at the next start",
                            message.id
                        );
                        return Ok(deliveries);
                    }
                },
            };
            let draft = &message.draft;
            match &result {
                DeliveryResult::Sent => tracing::debug!(
                    "sent {} to {} (outbound #{})",
                    draft.kind,
                    draft.to.email,
                    message.id
                ),
                DeliveryResult::Retry(e) => {
                    tracing::warn!("{} to {} will be retried: {e}", draft.kind, draft.to.email)
                }
                DeliveryResult::Failed(e) | DeliveryResult::Refused(_, e) => {
                    tracing::warn!("{} to {} failed: {e}", draft.kind, draft.to.email)
                }
            }
            let (config, outcome, now) = (self.config.clone(), result.clone(), clock.now());
            // If this fails the row stays `sending`, and goes again with the same Message-ID.
            with_store(&self.store, move |s| {
                s.record_delivery(id, &outcome, &config, now)?;
                // What the recipient read, for the web page (notices to the owner are in her
                // own mailbox). The mail went: failing to keep its text must not hold up the rest.
                if let Some(text) = text.filter(|_| outcome == DeliveryResult::Sent)
                    && let Err(e) = s.keep_sent_text(id, &text)
                {
                    tracing::warn!("cannot keep the text of outbound #{id}: {e:#}");
                }
                Ok(())
            })
            .await
            .with_context(|| format!("cannot record the outcome of outbound #{id}"))?;
            deliveries.push(Delivery {
                id: message.id,
                referral: Some(message.draft.referral.id),
                kind: message.draft.kind.as_str(),
                to: message.draft.to,
                result,
            });
        }
    }

    /// Hands one email to the transport. `None` when shutdown came and the server was too
    /// slow to accept it within the grace: the row stays `sending`, to go again with the same
    /// Message-ID next time.
    async fn send(
        &self,
        email: &lettre::Message,
        stop: Option<&mut watch::Receiver<bool>>,
    ) -> Option<DeliveryResult> {
        let send = self.transport.send(email);
        let abandon = async {
            match stop {
                Some(stop) => stopping(stop).await,
                None => std::future::pending().await,
            }
            tokio::time::sleep(SEND_GRACE).await;
        };
        tokio::select! {
            result = send => Some(DeliveryResult::of(result)),
            () = abandon => None,
        }
    }

    /// Claims, composes, sends and records one notice to the owner. `None` when it was no
    /// longer scheduled, or abandoned at shutdown.
    async fn send_notice(
        &self,
        id: NoticeId,
        clock: Clock,
        stop: Option<&mut watch::Receiver<bool>>,
    ) -> Result<Option<Delivery>> {
        let now = clock.now();
        let claimed = with_store(&self.store, move |s| s.claim_notice(id, now))
            .await
            .with_context(|| format!("cannot claim notice #{id}"))?;
        let Some(due) = claimed else {
            return Ok(None);
        };
        let result = match self.composer.compose_notice(&due.notice, clock.now()) {
            Err(e) => DeliveryResult::Failed(format!("cannot compose: {e:#}")),
            Ok(email) => match self.send(&email, stop).await {
                Some(result) => result,
                None => {
                    tracing::warn!("notice #{id} abandoned mid-send at shutdown");
                    return Ok(None);
                }
            },
        };
        match &result {
            DeliveryResult::Sent => tracing::debug!("sent {} (notice #{id})", due.notice.kind),
            DeliveryResult::Retry(e) => tracing::warn!("notice #{id} will be retried: {e}"),
            DeliveryResult::Failed(e) | DeliveryResult::Refused(_, e) => {
                tracing::warn!("notice #{id} failed: {e}")
            }
        }
        let (config, outcome, now) = (self.config.clone(), result.clone(), clock.now());
        with_store(&self.store, move |s| {
            s.record_notice_delivery(id, &outcome, &config, now)
        })
        .await
        .with_context(|| format!("cannot record the outcome of notice #{id}"))?;
        Ok(Some(Delivery {
            id,
            referral: None,
            kind: due.notice.kind,
            to: due.notice.to,
            result,
        }))
    }
}

/// One message due: planned mail about a referral, or a notice to the owner.
#[derive(Debug, Clone, Copy)]
enum Due {
    Planned(OutboundId),
    Notice(NoticeId),
}

#[cfg(test)]
mod tests;
