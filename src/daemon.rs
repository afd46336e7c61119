//! `referrald run`: the daemon. Two tasks and a main loop, following the data flow:
//!
//! - the **mailbox** task keeps one IMAP session to the tracking mailbox ([`crate::source::imap`]):
//!   new mail → intake → store, in chunks, marking each chunk on the server only after the
//!   database has committed it; then IDLE. Any error drops the session and it reconnects
//!   with jittered exponential backoff.
//! - the **outbox** task sends what is due through [`crate::outbox::Outbox`] — the same one
//!   `tick` and `demo` use, here on several SMTP connections at once and stopping between
//!   messages at shutdown — and then sleeps until the earliest due message or until the
//!   mailbox task pokes it: no polling.
//! - the **main loop** answers SIGTERM/SIGINT and pings systemd's watchdog.
//!
//! The store is synchronous SQLite with one writer. It lives behind a `std::sync::Mutex`
//! ([`crate::outbox::SharedStore`]) that is only ever locked inside `spawn_blocking` closures, so the lock is never held across an
//! `.await` and a long transaction never stalls the IMAP or SMTP sockets. Shutdown is a
//! `watch` channel every task watches.

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::sync::{Notify, watch};

use crate::composer::Composer;
use crate::config::{Config, ConfigError, Imap};
use crate::net::Trust;
use crate::outbox::{self, Clock, DeliveryResult, Outbox, SharedStore, with_store};
use crate::source::imap::{ImapSession, LoginRefused, Marking, Wake, stopping};
use crate::store::Store;
use crate::transport;

/// Messages fetched and recorded per chunk: one database transaction and one UID STORE each.
/// Large enough to make both cheap, small enough that memory stays flat.
const FETCH_CHUNK: usize = 500;
/// At most this many bytes of mail are fetched (and held) at once, unless one message is
/// larger: a backlog of large attachments must not take the memory of the machine.
const FETCH_BYTES: u64 = 16 * 1024 * 1024;
/// First wait before reconnecting to IMAP; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_secs(2);
/// The longest wait between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(80);
/// The outbox sends on this many SMTP connections at once.
const SENDERS: usize = transport::POOL_SIZE;
/// How long the tasks get to finish after SIGTERM; systemd's default stop timeout is 90 s,
/// ours is promised to be 10.
const STOP_GRACE: Duration = Duration::from_secs(8);
/// The outbox looks at the clock at least this often, so a wall-clock jump (suspend, NTP)
/// delays nothing by long.
const OUTBOX_MAX_SLEEP: Duration = Duration::from_secs(300);
/// When the store says something is due but nothing may go (max-per-hour reached), wait this
/// long before asking again.
const OUTBOX_THROTTLED: Duration = Duration::from_secs(60);
/// Pooled SMTP connections are closed when nothing is due for this long.
const SMTP_KEEP: Duration = Duration::from_secs(60);

/// What every task shares.
struct Daemon {
    config: Config,
    imap: Imap,
    /// Whom the IMAP server's certificate may chain to.
    imap_trust: Trust,
    store: SharedStore,
    /// Sends what is due; shares `store`.
    outbox: Outbox,
    /// Poked after each ingested chunk: there may be new mail to send.
    new_work: Notify,
}

/// Runs the daemon until SIGTERM or SIGINT. Must be called inside a Tokio runtime with time
/// and I/O enabled.
pub async fn run(config: Config) -> Result<()> {
    let started = Instant::now();
    let imap = config.imap.clone().ok_or_else(|| {
        ConfigError(
            "`run` needs an [imap] section: the mailbox to watch (config.example.toml shows its keys)"
                .into(),
        )
    })?;
    // Templates are checked before anything else: a broken override sends nothing.
    let composer = Composer::new(&config)?;
    // A ca-file that cannot be used is a configuration error now, not a retry loop later.
    let imap_trust = Trust::load("imap", imap.ca_path(&config.base_dir)?.as_deref())?;
    // A password that cannot be read is a configuration error now, not a retry loop later.
    // (Each login reads it afresh, so a rotated password is picked up.)
    let secrets = config.clone();
    tokio::task::spawn_blocking(move || check_passwords(&secrets))
        .await
        .context("the password task failed")??;
    let path = config.store_path();
    let (store, _claim) = tokio::task::spawn_blocking(move || -> Result<_> {
        let store = Store::open(&path)?;
        // Held until `run` returns: a second `run` on this database refuses to start.
        let claim = crate::store::running::claim(&path, chrono::Utc::now())?;
        Ok((store, claim))
    })
    .await
    .context("the database task failed")??;
    let transport = transport::from_config(&config)?;

    // The first login happens here, so that a wrong password stops `run` at once with a clear
    // error instead of retrying for ever; a server that cannot be reached is retried.
    let first = match connect(&imap, &imap_trust, &config).await {
        Ok(session) => Some(session),
        Err(e) if e.downcast_ref::<LoginRefused>().is_some() => return Err(e),
        Err(e) => {
            tracing::warn!("IMAP: {e:#}; retrying");
            None
        }
    };

    let store = outbox::shared(store);
    let outbox = Outbox::new(store.clone(), &config, composer, transport, SENDERS);
    let daemon = Arc::new(Daemon {
        config,
        imap,
        imap_trust,
        store,
        outbox,
        new_work: Notify::new(),
    });
    let (stop, stopped) = watch::channel(false);
    let mut mailbox = tokio::spawn(mailbox_task(
        daemon.clone(),
        first,
        stopped.clone(),
        started,
    ));
    let mut outbox = tokio::spawn(outbox_task(daemon.clone(), stopped.clone()));

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    let mut watchdog = watchdog_interval().map(tokio::time::interval);
    let signal = loop {
        tokio::select! {
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
            _ = async { match watchdog.as_mut() {
                Some(timer) => { timer.tick().await; }
                None => std::future::pending().await,
            } } => notify(&[sd_notify::NotifyState::Watchdog]),
            // The tasks end only when told to; if one ends early it has a bug: stop cleanly.
            _ = &mut mailbox => break "the mailbox task ending",
            _ = &mut outbox => break "the outbox task ending",
        }
    };
    tracing::info!("stopping ({signal})");
    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop.send(true);
    let finished = tokio::time::timeout(STOP_GRACE, async {
        if !mailbox.is_finished() {
            let _ = (&mut mailbox).await;
        }
        if !outbox.is_finished() {
            let _ = (&mut outbox).await;
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!("a task did not finish in time; stopping anyway");
        mailbox.abort();
        outbox.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), daemon.outbox.close()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Reads every password the configuration names, to find a missing file or a failing
/// command before the daemon starts.
fn check_passwords(config: &Config) -> Result<(), ConfigError> {
    let in_section = |section: &str, e: ConfigError| ConfigError(format!("[{section}]: {}", e.0));
    if let Some(imap) = &config.imap {
        imap.secret()
            .reveal(&config.base_dir)
            .map_err(|e| in_section("imap", e))?;
    }
    if let Some(smtp) = &config.smtp
        && smtp.username.is_some()
        && config.outbound.transport == crate::config::TransportKind::Smtp
    {
        smtp.secret()
            .reveal(&config.base_dir)
            .map_err(|e| in_section("smtp", e))?;
    }
    Ok(())
}

/// Connects and logs in to `[imap]`, reading the password afresh (it may have been rotated).
async fn connect(imap: &Imap, trust: &Trust, config: &Config) -> Result<ImapSession> {
    let secret_source = imap.clone();
    let base_dir = config.base_dir.clone();
    // A password command may take a while: not on the runtime's thread.
    let password = tokio::task::spawn_blocking(move || secret_source.secret().reveal(&base_dir))
        .await
        .context("the password task failed")?
        .map_err(|e| anyhow::anyhow!("[imap]: {e}"))?;
    ImapSession::connect(imap, trust, &password).await
}

/// Sends a state to systemd, if it is listening (`Type=notify`); otherwise does nothing.
fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!("cannot notify systemd: {e}");
    }
}

/// Half of systemd's `WatchdogSec`, if the watchdog is on for this process.
fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// Jittered exponential backoff: 2 s doubling to 80 s, each wait between half and all of
/// the current step, so that many clients do not reconnect in step.
struct Backoff {
    step: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            step: BACKOFF_START,
        }
    }

    fn next(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(BACKOFF_MAX);
        step / 2 + step.mul_f64(jitter() / 2.0)
    }

    fn reset(&mut self) {
        self.step = BACKOFF_START;
    }
}

/// A number in [0, 1) that differs between calls and processes.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Sleeps for `wait`; false if the daemon is stopping.
async fn pause(wait: Duration, stopped: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = stopping(stopped) => false,
    }
}

/// Tells systemd (once) that the daemon is ready: the database is open and IMAP login worked.
fn ready(started: Instant) {
    static READY: Once = Once::new();
    READY.call_once(|| {
        tracing::info!(
            "ready in {} ms: watching the mailbox",
            started.elapsed().as_millis()
        );
        notify(&[sd_notify::NotifyState::Ready]);
    });
}

/// The mailbox task: session after session until the daemon stops.
async fn mailbox_task(
    daemon: Arc<Daemon>,
    mut session: Option<ImapSession>,
    mut stopped: watch::Receiver<bool>,
    started: Instant,
) {
    let mut backoff = Backoff::new();
    // The first attempt, made before the task started, failed: wait before the next.
    if session.is_none() && !pause(backoff.next(), &mut stopped).await {
        return;
    }
    loop {
        if *stopped.borrow() {
            if let Some(session) = session {
                session.logout().await;
            }
            return;
        }
        let current = match session.take() {
            Some(s) => s,
            None => match connect(&daemon.imap, &daemon.imap_trust, &daemon.config).await {
                Ok(s) => s,
                Err(e) => {
                    let wait = backoff.next();
                    tracing::warn!("IMAP: {e:#}; trying again in {}s", wait.as_secs());
                    if !pause(wait, &mut stopped).await {
                        return;
                    }
                    continue;
                }
            },
        };
        ready(started);
        match watch_mailbox(&daemon, current, &mut stopped, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                let wait = backoff.next();
                tracing::warn!("IMAP: {e:#}; reconnecting in {}s", wait.as_secs().max(1));
                if !pause(wait, &mut stopped).await {
                    return;
                }
            }
        }
    }
}

/// One IMAP session: select, catch up, wait, repeat. Returns Ok after logging out when the
/// daemon stops; any error ends the session.
async fn watch_mailbox(
    daemon: &Arc<Daemon>,
    mut session: ImapSession,
    stopped: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<()> {
    let imap = &daemon.imap;
    let folder = imap.folder.clone();
    let selected = session
        .select(&folder, imap.mark_as, &imap.processed_folder)
        .await?;
    let key = folder.clone();
    let stored = with_store(&daemon.store, move |s| s.mailbox_position(&key)).await?;
    let mut last_uid = match stored {
        Some((validity, last)) if validity == selected.uidvalidity => last,
        Some((validity, _)) => {
            // The server renumbered the folder: every message is new to us by UID. The store
            // knows them by Message-ID, so re-reading the folder records nothing twice.
            tracing::warn!(
                "the UIDVALIDITY of {folder} changed ({validity} → {}): reading the whole folder again; messages already recorded are recognised by Message-ID",
                selected.uidvalidity
            );
            0
        }
        None => 0,
    };
    // A mark lost to a dropped connection after the database recorded the message would
    // otherwise be lost for good: nothing below the watermark is looked at again.
    let lost = session.unmarked_up_to(last_uid, &selected.marking).await?;
    if !lost.is_empty() {
        tracing::info!(
            "marking {} message(s) in {folder} recorded before the connection dropped",
            lost.len()
        );
        session.mark(&lost, &selected.marking).await?;
    }
    if !session.can_idle() {
        tracing::info!(
            "the IMAP server cannot IDLE: looking for new mail every {}s",
            imap.poll_interval.as_secs()
        );
    }
    loop {
        let before = last_uid;
        last_uid = catch_up(
            daemon,
            &mut session,
            &folder,
            selected.uidvalidity,
            last_uid,
            &selected.marking,
            stopped,
        )
        .await?;
        if last_uid != before {
            // Done for now: whatever the batch pulled into the page cache can go.
            with_store(&daemon.store, |s| s.release_memory()).await?;
        }
        // A session that got this far is healthy: the next failure starts backing off anew.
        backoff.reset();
        if *stopped.borrow() {
            session.logout().await;
            return Ok(());
        }
        let (back, wake) = session
            .wait(imap.idle_timeout, imap.poll_interval, stopped)
            .await?;
        session = back;
        if wake == Wake::Shutdown {
            session.logout().await;
            return Ok(());
        }
    }
}

/// Fetches, records and marks every message above `last_uid`, in chunks; returns the new
/// watermark. The next chunk is fetched while the database records the previous one.
async fn catch_up(
    daemon: &Arc<Daemon>,
    session: &mut ImapSession,
    folder: &str,
    uidvalidity: u32,
    mut last_uid: u32,
    marking: &Marking,
    stopped: &mut watch::Receiver<bool>,
) -> Result<u32> {
    let uids = session.uids_after(last_uid).await?;
    if uids.is_empty() {
        return Ok(last_uid);
    }
    if uids.len() > FETCH_CHUNK {
        tracing::info!("{} new message(s) in {folder}", uids.len());
    }
    let sizes = session.sizes(&uids).await?;
    let chunks = crate::source::imap::batches(&sizes, FETCH_CHUNK, FETCH_BYTES);
    tracing::debug!(
        "fetching {} message(s), {} bytes, in {} batch(es)",
        uids.len(),
        sizes.iter().map(|(_, size)| u64::from(*size)).sum::<u64>(),
        chunks.len()
    );
    let mut recording: Option<(tokio::task::JoinHandle<Result<()>>, &[u32])> = None;
    for chunk in &chunks {
        if *stopped.borrow() {
            break;
        }
        let messages = session.fetch(folder, chunk).await?;
        if let Some((task, uids)) = recording.take() {
            task.await.context("the database task failed")??;
            session.mark(uids, marking).await?;
        }
        let high = chunk.last().copied().unwrap_or(last_uid);
        recording = Some((record(daemon, folder, uidvalidity, high, messages), chunk));
        last_uid = high;
    }
    if let Some((task, uids)) = recording.take() {
        task.await.context("the database task failed")??;
        session.mark(uids, marking).await?;
    }
    Ok(last_uid)
}

/// Records a chunk of messages and then the watermark, in a blocking thread, and pokes the
/// outbox. The database is the truth: if we die between the two commits the chunk is read
/// again and recognised by Message-ID.
fn record(
    daemon: &Arc<Daemon>,
    folder: &str,
    uidvalidity: u32,
    high: u32,
    messages: Vec<crate::source::RawMessage>,
) -> tokio::task::JoinHandle<Result<()>> {
    let daemon = daemon.clone();
    let folder = folder.to_string();
    tokio::task::spawn_blocking(move || {
        let mut store = outbox::lock(&daemon.store);
        let applied = store.ingest(&messages, &daemon.config, Utc::now())?;
        store
            .set_mailbox_position(&folder, uidvalidity, high)
            .context("cannot record the mailbox position")?;
        drop(store);
        daemon.new_work.notify_one();
        let mut introductions = 0;
        for a in &applied {
            match &a.result {
                Ok(recorded) => {
                    let kind = recorded.classified.verdict.kind();
                    introductions += usize::from(kind == "introduction");
                    tracing::debug!("{}: {kind}", a.origin);
                }
                Err(e) => tracing::warn!("{}: not recorded: {e}", a.origin),
            }
        }
        tracing::info!(
            "processed {} message(s) from {folder} ({introductions} introduction(s))",
            applied.len()
        );
        Ok(())
    })
}

/// The outbox task: send what is due, sleep until the next is due or new mail arrives.
async fn outbox_task(daemon: Arc<Daemon>, mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow() {
            return;
        }
        let deliveries = match daemon.outbox.deliver_due(Clock::Wall, Some(&stopped)).await {
            Ok(deliveries) => deliveries,
            Err(e) => {
                tracing::error!("outbox: {e:#}; trying again in a minute");
                if !pause(OUTBOX_THROTTLED, &mut stopped).await {
                    return;
                }
                continue;
            }
        };
        if !deliveries.is_empty() {
            let count =
                |f: fn(&DeliveryResult) -> bool| deliveries.iter().filter(|d| f(&d.result)).count();
            tracing::info!(
                "outbox: {} sent, {} to retry, {} failed",
                count(|r| *r == DeliveryResult::Sent),
                count(|r| matches!(r, DeliveryResult::Retry(_))),
                count(DeliveryResult::failed)
            );
        }
        let config = daemon.config.clone();
        let next = with_store(&daemon.store, move |s| s.next_wake(&config, Utc::now())).await;
        let now = Utc::now();
        let wait = match next {
            Ok(Some(due)) => match (due - now).to_std() {
                Ok(wait) => wait,
                // Due already, yet nothing went: max-per-hour holds it back.
                Err(_) if deliveries.is_empty() => OUTBOX_THROTTLED,
                Err(_) => Duration::ZERO,
            },
            Ok(None) => OUTBOX_MAX_SLEEP,
            Err(e) => {
                tracing::error!("outbox: {e:#}");
                OUTBOX_THROTTLED
            }
        };
        if wait >= SMTP_KEEP {
            daemon.outbox.close().await;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait.min(OUTBOX_MAX_SLEEP)) => {}
            _ = daemon.new_work.notified() => {}
            _ = stopping(&mut stopped) => return,
        }
    }
}
