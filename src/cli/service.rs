//! `referrald run` as a service: what the daemon leaves to the process that hosts it. Claims
//! the database (one `run` per database), turns SIGTERM and SIGINT into the daemon's shutdown,
//! and tells systemd when it is ready, stopping, and still alive (`Type=notify`, the
//! watchdog). None of it is needed to run the daemon in a test.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::config::Config;
use crate::daemon::{self, Lifecycle};
use crate::outbox::Clock;
use crate::store::{Store, running};

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<()> {
    // Whatever is wrong with the configuration is said before anything is touched.
    let checked = daemon::Checked::new(config).await?;
    let path = checked.config().store_path();
    let (store, _claim) = tokio::task::spawn_blocking(move || -> Result<_> {
        let store = Store::open(&path)?;
        // Held until `run` returns: a second `run` on this database refuses to start.
        let claim = running::claim(&path, Utc::now())?;
        Ok((store, claim))
    })
    .await
    .context("the database task failed")??;

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM".to_string(),
            _ = interrupt.recv() => "SIGINT".to_string(),
        }
    };
    // The watchdog is fed while the runtime runs the daemon; a wedged runtime starves it and
    // systemd restarts the service.
    let watchdog = watchdog_interval().map(|every| {
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(every);
            loop {
                timer.tick().await;
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
        })
    });
    // With a `[web]` section the page is served beside the daemon, from the same database.
    // A page that cannot listen is an error in the log, not a reason to stop reading mail.
    let web = checked.config().web.in_run.then(|| {
        let config = checked.config().clone();
        tokio::spawn(async move {
            let served = crate::web::serve(config, None, |at| {
                tracing::info!("web page: http://{at}/");
            })
            .await;
            if let Err(e) = served {
                tracing::error!("web page: {e:#}");
            }
        })
    });
    let result = daemon::run(checked, store, Clock::Wall, shutdown, Arc::new(Systemd)).await;
    for task in [watchdog, web].into_iter().flatten() {
        task.abort();
    }
    result
}

/// Tells systemd what the daemon reports.
struct Systemd;

impl Lifecycle for Systemd {
    fn ready(&self) {
        notify(&[sd_notify::NotifyState::Ready]);
    }

    fn stopping(&self) {
        notify(&[sd_notify::NotifyState::Stopping]);
    }
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
