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
//! - [`run`] waits for the `shutdown` future its caller passes, then stops both tasks.
//!
//! The daemon knows nothing of signals or systemd: the command line (`cli::service`) turns
//! SIGTERM/SIGINT into `shutdown`, and tells systemd what [`Lifecycle`] reports. A test can
//! run it in-process, on a clock of its choosing, and stop it when it likes.
//!
//! The store is synchronous SQLite with one writer. It lives behind a `std::sync::Mutex`
//! ([`crate::outbox::SharedStore`]) that is only ever locked inside `spawn_blocking` closures, so the lock is never held across an
//! `.await` and a long transaction never stalls the IMAP or SMTP sockets. Shutdown is a
//! `watch` channel every task watches.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Notify, watch};

use crate::composer::Composer;
use crate::config::{Auth, Config, ConfigError, Imap};
use crate::intake::Verdict;
use crate::net::Trust;
use crate::oauth::Grant;
use crate::outbox::{self, Clock, DeliveryResult, Outbox, SharedStore, with_store};
use crate::source::imap::{Credential, ImapSession, LoginRefused, Marking, Wake, stopping};
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
/// How long the tasks get to finish after shutdown; systemd's default stop timeout is 90 s,
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
    /// Where bearer tokens come from, for `auth = "oauth2"`: one for IMAP and SMTP.
    grant: Option<Arc<Grant>>,
    store: SharedStore,
    /// Sends what is due; shares `store`.
    outbox: Outbox,
    /// Poked after each ingested chunk: there may be new mail to send.
    new_work: Notify,
    /// The time, for recording mail and deciding what is due.
    clock: Clock,
    /// Told when the daemon is ready and when it stops.
    lifecycle: Arc<dyn Lifecycle>,
    /// When `run` began, for the "ready in" line.
    started: Instant,
    /// Whether readiness has been reported (once per run).
    ready: AtomicBool,
}

/// What the daemon reports about itself to whoever runs it (systemd, through the command
/// line; nobody, in a test).
pub trait Lifecycle: Send + Sync {
    /// The database is open and the first IMAP login worked. Called once.
    fn ready(&self);
    /// Shutdown has begun.
    fn stopping(&self);
}

/// A [`Lifecycle`] that tells no one.
pub struct Quiet;

impl Lifecycle for Quiet {
    fn ready(&self) {}
    fn stopping(&self) {}
}

/// A configuration checked for `run`: everything that can be wrong with it is found before
/// anything is touched (no database opened, no connection made).
pub struct Checked {
    config: Config,
    imap: Imap,
    composer: Composer,
    imap_trust: Trust,
    /// Where bearer tokens come from, for `auth = "oauth2"`.
    grant: Option<Arc<Grant>>,
}

impl Checked {
    /// Checks `config` for `run`: an `[imap]` section, templates, CA files, passwords, and
    /// for OAuth 2.0 the `[oauth2]` client (its secret file read).
    pub async fn new(config: Config) -> Result<Checked> {
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
        // A password that cannot be read is a configuration error now, not a retry loop
        // later. (Each login reads it afresh, so a rotated password is picked up.)
        let secrets = config.clone();
        tokio::task::spawn_blocking(move || check_passwords(&secrets))
            .await
            .context("the password task failed")??;
        let grant = Grant::from_config(&config)?;
        Ok(Checked {
            config,
            imap,
            composer,
            imap_trust,
            grant,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Runs the daemon on `store` until `shutdown` completes (its output says why, for the log),
/// then stops within [`STOP_GRACE`] and a second. Must be called inside a Tokio runtime with
/// time and I/O enabled. The caller owns process matters: opening the store and claiming it
/// ([`crate::store::running`]), signals, systemd.
pub async fn run(
    checked: Checked,
    store: Store,
    clock: Clock,
    shutdown: impl Future<Output = String>,
    lifecycle: Arc<dyn Lifecycle>,
) -> Result<()> {
    let started = Instant::now();
    let Checked {
        config,
        imap,
        composer,
        imap_trust,
        grant,
    } = checked;
    let transport = transport::from_config_with(&config, grant.clone())?;

    // The first login happens here, so that a wrong password stops `run` at once with a clear
    // error instead of retrying for ever; a server that cannot be reached is retried, and so
    // is a revoked OAuth 2.0 grant (until `referrald login` makes a new one: nothing is lost
    // meanwhile).
    let first = match connect(&imap, &imap_trust, &config, grant.as_deref()).await {
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
        grant,
        store,
        outbox,
        new_work: Notify::new(),
        clock,
        lifecycle,
        started,
        ready: AtomicBool::new(false),
    });
    let (stop, stopped) = watch::channel(false);
    let mut mailbox = tokio::spawn(mailbox_task(daemon.clone(), first, stopped.clone()));
    let mut outbox = tokio::spawn(outbox_task(daemon.clone(), stopped.clone()));

    tokio::pin!(shutdown);
    let why = tokio::select! {
        why = &mut shutdown => why,
        // The tasks end only when told to; if one ends early it has a bug: stop cleanly.
        _ = &mut mailbox => "the mailbox task ending".to_string(),
        _ = &mut outbox => "the outbox task ending".to_string(),
    };
    tracing::info!("stopping ({why})");
    daemon.lifecycle.stopping();
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
    if let Some(imap) = &config.imap
        && imap.auth == Auth::Password
    {
        imap.secret()
            .reveal(&config.base_dir)
            .map_err(|e| in_section("imap", e))?;
    }
    if let Some(smtp) = &config.smtp
        && smtp.username.is_some()
        && smtp.auth == Auth::Password
        && config.outbound.transport == crate::config::TransportKind::Smtp
    {
        smtp.secret()
            .reveal(&config.base_dir)
            .map_err(|e| in_section("smtp", e))?;
    }
    Ok(())
}

/// Connects and logs in to `[imap]`, reading the password afresh (it may have been rotated),
/// or with an access token from `grant`: a refused token is dropped and a new one tried once
/// (it may have expired or been revoked before its time). A revoked grant is a
/// [`NeedsLogin`](crate::oauth::NeedsLogin) error, retried like an outage. `doctor` logs in
/// the same way.
pub(crate) async fn connect(
    imap: &Imap,
    trust: &Trust,
    config: &Config,
    grant: Option<&Grant>,
) -> Result<ImapSession> {
    if imap.auth == Auth::Oauth2 {
        let grant = grant.context("[imap] auth = \"oauth2\" needs an [oauth2] section")?;
        let mut retried = false;
        loop {
            let token = grant.access_token().await?;
            match ImapSession::connect(imap, trust, Credential::Bearer(&token)).await {
                Err(e) if e.downcast_ref::<LoginRefused>().is_some() && !retried => {
                    tracing::info!("IMAP: the access token was refused; getting a new one");
                    grant.refused(&token).await;
                    retried = true;
                }
                result => return result,
            }
        }
    }
    let secret_source = imap.clone();
    let base_dir = config.base_dir.clone();
    // A password command may take a while: not on the runtime's thread.
    let password = tokio::task::spawn_blocking(move || secret_source.secret().reveal(&base_dir))
        .await
        .context("the password task failed")?
        .map_err(|e| anyhow::anyhow!("[imap]: {e}"))?;
    ImapSession::connect(imap, trust, Credential::Password(&password)).await
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

/// Reports (once) that the daemon is ready: the database is open and IMAP login worked.
fn ready(daemon: &Daemon) {
    if !daemon.ready.swap(true, Ordering::SeqCst) {
        tracing::info!(
            "ready in {} ms: watching the mailbox",
            daemon.started.elapsed().as_millis()
        );
        daemon.lifecycle.ready();
    }
}

/// The mailbox task: session after session until the daemon stops.
async fn mailbox_task(
    daemon: Arc<Daemon>,
    mut session: Option<ImapSession>,
    mut stopped: watch::Receiver<bool>,
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
            None => match connect(
                &daemon.imap,
                &daemon.imap_trust,
                &daemon.config,
                daemon.grant.as_deref(),
            )
            .await
            {
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
        ready(&daemon);
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
    // The first start reads what the mailbox already holds: old introductions among it are
    // recorded as history, and `run` says how many.
    let mut first = stored.is_none();
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
        let tally;
        (last_uid, tally) = catch_up(
            daemon,
            &mut session,
            &folder,
            selected.uidvalidity,
            last_uid,
            &selected.marking,
            stopped,
        )
        .await?;
        if std::mem::take(&mut first) {
            tracing::info!(
                "first start: read {} message(s) already in {folder}: {} introduction(s), {} recorded as history (no mail), {} message(s) skipped as too late",
                tally.messages,
                tally.introductions,
                tally.lateness.history,
                tally.lateness.skipped
            );
        }
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

/// What one catch-up recorded.
#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    introductions: usize,
    lateness: crate::store::Lateness,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.messages += other.messages;
        self.introductions += other.introductions;
        self.lateness.history += other.lateness.history;
        self.lateness.skipped += other.lateness.skipped;
    }
}

/// Fetches, records and marks every message above `last_uid`, in chunks; returns the new
/// watermark and what was recorded. The next chunk is fetched while the database records the
/// previous one.
async fn catch_up(
    daemon: &Arc<Daemon>,
    session: &mut ImapSession,
    folder: &str,
    uidvalidity: u32,
    mut last_uid: u32,
    marking: &Marking,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(u32, Tally)> {
    let mut tally = Tally::default();
    let uids = session.uids_after(last_uid).await?;
    if uids.is_empty() {
        return Ok((last_uid, tally));
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
    let mut recording: Option<(tokio::task::JoinHandle<Result<Tally>>, &[u32])> = None;
    for chunk in &chunks {
        if *stopped.borrow() {
            break;
        }
        let messages = session.fetch(folder, chunk).await?;
        if let Some((task, uids)) = recording.take() {
            tally.add(task.await.context("the database task failed")??);
            session.mark(uids, marking).await?;
        }
        let high = chunk.last().copied().unwrap_or(last_uid);
        recording = Some((record(daemon, folder, uidvalidity, high, messages), chunk));
        last_uid = high;
    }
    if let Some((task, uids)) = recording.take() {
        tally.add(task.await.context("the database task failed")??);
        session.mark(uids, marking).await?;
    }
    Ok((last_uid, tally))
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
) -> tokio::task::JoinHandle<Result<Tally>> {
    let daemon = daemon.clone();
    let folder = folder.to_string();
    tokio::task::spawn_blocking(move || {
        let mut store = outbox::lock(&daemon.store);
        let applied = store.ingest(&messages, &daemon.config, daemon.clock.now())?;
        store
            .set_mailbox_position(&folder, uidvalidity, high)
            .context("cannot record the mailbox position")?;
        let mut introduced: Vec<_> = applied
            .iter()
            .filter_map(|a| a.result.as_ref().ok())
            .filter(|r| matches!(r.classified.verdict, Verdict::Introduction(_)))
            .filter_map(|r| r.referral)
            .collect();
        introduced.dedup();
        let lateness = store.lateness(&introduced)?;
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
        let late = match (lateness.history, lateness.skipped) {
            (0, 0) => String::new(),
            (history, skipped) => {
                format!("; {history} recorded as history, {skipped} message(s) skipped as too late")
            }
        };
        tracing::info!(
            "processed {} message(s) from {folder} ({introductions} introduction(s){late})",
            applied.len()
        );
        Ok(Tally {
            messages: applied.len(),
            introductions,
            lateness,
        })
    })
}

/// The outbox task: send what is due, sleep until the next is due or new mail arrives.
async fn outbox_task(daemon: Arc<Daemon>, mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow() {
            return;
        }
        let deliveries = match daemon
            .outbox
            .deliver_due(daemon.clock, Some(&stopped))
            .await
        {
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
        let now = daemon.clock.now();
        let next = with_store(&daemon.store, move |s| s.next_wake(&config, now)).await;
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
