//! The tracking mailbox over IMAP: one connection, the way Delta Chat keeps it. Connect
//! (implicit TLS, STARTTLS, or clear text to loopback only), read the greeting, log in,
//! SELECT the folder, find the UIDs above the stored watermark, fetch them in chunks without
//! setting `\Seen` (`BODY.PEEK[]`), mark them once the database has recorded them, then IDLE
//! (or poll when the server cannot) until something changes.
//!
//! Every exchange has a time limit ([`IO_TIMEOUT`]) so a dead connection is noticed; IDLE has
//! its own cap and `DONE` gets [`DONE_TIMEOUT`]. Any error ends the session: the daemon
//! drops it and reconnects with backoff. What to do with the messages is not decided here.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_imap::types::{Flag, UnsolicitedResponse};
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::sync::watch;

use super::RawMessage;
use crate::config::{Imap, MarkAs, Tls};
use crate::net::{Stream, Trust, loopback_host};

/// How long one IMAP exchange may go without progress before the connection is given up.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server gets to end an IDLE after `DONE`.
pub const DONE_TIMEOUT: Duration = Duration::from_secs(15);
/// The keyword set by `mark-as = "keyword"`.
pub const KEYWORD: &str = "$Referrald";

/// The server refused our login: the password or user name is wrong, not the network.
#[derive(Debug)]
pub struct LoginRefused(pub String);

impl fmt::Display for LoginRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoginRefused {}

/// How processed messages are marked on this server (the configured `mark-as`, after
/// asking the server what it allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marking {
    /// `+FLAGS (\Seen)`.
    Seen,
    /// `+FLAGS ($Referrald)`.
    Keyword,
    /// Moved into this folder.
    Move(String),
}

/// The selected folder, as SELECT described it.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The folder's UIDVALIDITY: when it changes, every UID in it is new.
    pub uidvalidity: u32,
    /// How processed messages are marked here.
    pub marking: Marking,
}

/// Why waiting for mail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server reported a change (or may have): look for new mail.
    Changed,
    /// The IDLE cap or the poll interval passed: look anyway.
    Timeout,
    /// The daemon is stopping.
    Shutdown,
}

/// A logged-in IMAP session.
pub struct ImapSession {
    session: Session<Stream>,
    /// `host:port`, for messages.
    server: String,
    idle: bool,
    r#move: bool,
    uidplus: bool,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("server", &self.server)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

/// Runs one IMAP exchange with [`IO_TIMEOUT`].
async fn timed<T, E>(what: &str, exchange: impl Future<Output = Result<T, E>>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(IO_TIMEOUT, exchange).await {
        Ok(result) => result.with_context(|| what.to_string()),
        Err(_) => bail!("{what}: no answer within {}s", IO_TIMEOUT.as_secs()),
    }
}

impl ImapSession {
    /// Connects to `[imap]`, reads the greeting, secures the connection as configured
    /// (the certificate must chain to `trust`) and logs in. A refused login is a
    /// [`LoginRefused`] error, a refused certificate a
    /// [`CertificateRefused`](crate::net::CertificateRefused).
    pub async fn connect(imap: &Imap, trust: &Trust, password: &str) -> Result<ImapSession> {
        let port = imap.port();
        let server = format!("{}:{port}", imap.host);
        let stream = match imap.tls {
            Tls::Implicit => Stream::connect_tls(&imap.host, port, trust).await?,
            Tls::Starttls => Stream::connect_plain(&imap.host, port).await?,
            Tls::None => {
                let host = loopback_host(&imap.host, port)
                    .map_err(|reason| anyhow!("[imap] tls = \"none\": {reason}"))?;
                Stream::connect_plain(&host, port).await?
            }
        };
        let mut client = Client::new(stream);
        let greeting = tokio::time::timeout(IO_TIMEOUT, client.read_response())
            .await
            .map_err(|_| anyhow!("{server} did not greet within {}s", IO_TIMEOUT.as_secs()))?
            .ok_or_else(|| anyhow!("{server} closed the connection before greeting"))?
            .with_context(|| format!("cannot read {server}'s greeting"))?;
        if let async_imap::imap_proto::Response::Data {
            status: async_imap::imap_proto::Status::Bye,
            information,
            ..
        } = greeting.parsed()
        {
            bail!(
                "{server} refused the connection: {}",
                information.as_deref().unwrap_or("BYE")
            );
        }
        if imap.tls == Tls::Starttls {
            timed(
                &format!("{server} refused STARTTLS"),
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            let stream = client.into_inner().upgrade(&imap.host, trust).await?;
            client = Client::new(stream);
        }
        let login = tokio::time::timeout(IO_TIMEOUT, client.login(&imap.username, password))
            .await
            .map_err(|_| {
                anyhow!(
                    "{server} did not answer LOGIN within {}s",
                    IO_TIMEOUT.as_secs()
                )
            })?;
        let mut session = match login {
            Ok(session) => session,
            Err((async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text), _)) => {
                return Err(LoginRefused(format!(
                    "{server} refused the login for {}: {}; check [imap] username and password",
                    imap.username,
                    text.trim()
                ))
                .into());
            }
            Err((e, _)) => return Err(e).with_context(|| format!("cannot log in to {server}")),
        };
        let caps = timed(
            &format!("cannot read {server}'s capabilities"),
            session.capabilities(),
        )
        .await?;
        Ok(ImapSession {
            idle: caps.has_str("IDLE"),
            r#move: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            session,
            server,
        })
    }

    /// Whether the server can IDLE (else the daemon polls).
    pub fn can_idle(&self) -> bool {
        self.idle
    }

    /// Selects `folder` and works out how to mark processed messages in it. For
    /// `mark-as = "move"` the target folder is created if it does not exist.
    pub async fn select(
        &mut self,
        folder: &str,
        mark_as: MarkAs,
        processed_folder: &str,
    ) -> Result<Selected> {
        if mark_as == MarkAs::Move {
            self.create_folder(processed_folder).await?;
        }
        let mailbox = timed(
            &format!("cannot select {folder} on {}", self.server),
            self.session.select(folder),
        )
        .await?;
        let uidvalidity = mailbox.uid_validity.ok_or_else(|| {
            anyhow!(
                "{} gave {folder} no UIDVALIDITY: referrald needs UIDs to remember what it processed",
                self.server
            )
        })?;
        let marking = match mark_as {
            MarkAs::Seen => Marking::Seen,
            MarkAs::Move => Marking::Move(processed_folder.to_string()),
            MarkAs::Keyword => {
                // No PERMANENTFLAGS means every flag may be set (RFC 3501 §7.1).
                let allowed = mailbox.permanent_flags.is_empty()
                    || mailbox.permanent_flags.iter().any(|f| match f {
                        Flag::MayCreate => true,
                        Flag::Custom(k) => k.eq_ignore_ascii_case(KEYWORD),
                        _ => false,
                    });
                if allowed {
                    Marking::Keyword
                } else {
                    tracing::warn!(
                        "{} does not allow the keyword {KEYWORD} in {folder}: marking processed mail \\Seen instead",
                        self.server
                    );
                    Marking::Seen
                }
            }
        };
        self.drain_unsolicited();
        Ok(Selected {
            uidvalidity,
            marking,
        })
    }

    /// Opens `folder` read-only and returns how many messages it holds (`doctor`).
    pub async fn examine(&mut self, folder: &str) -> Result<u32> {
        let mailbox = timed(
            &format!("cannot open {folder} on {}", self.server),
            self.session.examine(folder),
        )
        .await?;
        Ok(mailbox.exists)
    }

    /// The headers of the newest `count` messages of the folder [`examine`](Self::examine)
    /// opened, which holds `exists` messages, newest first. `BODY.PEEK[HEADER]` in a
    /// read-only folder: nothing is marked read (`doctor`).
    pub async fn newest_headers(&mut self, exists: u32, count: u32) -> Result<Vec<Vec<u8>>> {
        if exists == 0 || count == 0 {
            return Ok(Vec::new());
        }
        let first = exists.saturating_sub(count - 1).max(1);
        let what = format!("cannot read the newest headers on {}", self.server);
        let mut stream = timed(
            &what,
            self.session
                .fetch(format!("{first}:{exists}"), "BODY.PEEK[HEADER]"),
        )
        .await?;
        let mut headers = Vec::new();
        while let Some(fetch) = timed(&what, stream.try_next()).await? {
            if let Some(header) = fetch.header() {
                headers.push((fetch.message, header.to_vec()));
            }
        }
        drop(stream);
        self.drain_unsolicited();
        headers.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        Ok(headers.into_iter().map(|(_, header)| header).collect())
    }

    async fn create_folder(&mut self, folder: &str) -> Result<()> {
        match tokio::time::timeout(IO_TIMEOUT, self.session.create(folder)).await {
            Ok(Ok(())) => Ok(()),
            // Already there (ALREADYEXISTS, or a server that just says NO).
            Ok(Err(async_imap::error::Error::No(_))) => Ok(()),
            Ok(Err(e)) => {
                Err(e).with_context(|| format!("cannot create {folder} on {}", self.server))
            }
            Err(_) => bail!(
                "{} did not answer CREATE within {}s",
                self.server,
                IO_TIMEOUT.as_secs()
            ),
        }
    }

    /// The UIDs in the selected folder above `last`, ascending.
    pub async fn uids_after(&mut self, last: u32) -> Result<Vec<u32>> {
        let from = last.saturating_add(1);
        let found: HashSet<u32> = timed(
            &format!("cannot search for new mail on {}", self.server),
            self.session.uid_search(format!("UID {from}:*")),
        )
        .await?;
        // "n:*" always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|&uid| uid > last).collect();
        uids.sort_unstable();
        self.drain_unsolicited();
        Ok(uids)
    }

    /// Messages up to UID `last` (processed: the database holds them) that do not carry
    /// the mark yet: a mark lost when the connection dropped between the database's commit
    /// and the STORE. Ascending.
    pub async fn unmarked_up_to(&mut self, last: u32, marking: &Marking) -> Result<Vec<u32>> {
        if last == 0 {
            return Ok(Vec::new());
        }
        let query = match marking {
            Marking::Seen => format!("UID 1:{last} UNSEEN"),
            Marking::Keyword => format!("UID 1:{last} UNKEYWORD {KEYWORD}"),
            // Moved mail is gone from here; without MOVE or UIDPLUS it stays \Deleted.
            Marking::Move(_) if self.r#move || self.uidplus => format!("UID 1:{last}"),
            Marking::Move(_) => format!("UID 1:{last} UNDELETED"),
        };
        let found: HashSet<u32> = timed(
            &format!("cannot search for unmarked mail on {}", self.server),
            self.session.uid_search(query),
        )
        .await?;
        // Only what is at or below the watermark, whatever the server answers.
        let mut uids: Vec<u32> = found.into_iter().filter(|&uid| uid <= last).collect();
        uids.sort_unstable();
        self.drain_unsolicited();
        Ok(uids)
    }

    /// The size in bytes of each of these messages, by UID, in the order given. A message
    /// whose size the server did not say counts as empty: it is still fetched, never skipped.
    pub async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        let what = format!("cannot read the sizes of new mail on {}", self.server);
        let mut sizes = std::collections::HashMap::with_capacity(uids.len());
        for part in uids.chunks(5000) {
            let mut stream = timed(
                &what,
                self.session.uid_fetch(uid_set(part), "(UID RFC822.SIZE)"),
            )
            .await?;
            while let Some(fetch) = timed(&what, stream.try_next()).await? {
                if let (Some(uid), Some(size)) = (fetch.uid, fetch.size) {
                    sizes.insert(uid, size);
                }
            }
        }
        self.drain_unsolicited();
        Ok(uids
            .iter()
            .map(|uid| (*uid, sizes.get(uid).copied().unwrap_or(0)))
            .collect())
    }

    /// Fetches the messages with these UIDs whole, without marking them read, with the time
    /// each reached the mailbox (INTERNALDATE): an introduction's Date is believed no later.
    pub async fn fetch(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<RawMessage>> {
        let what = format!("cannot fetch new mail from {}", self.server);
        let mut stream = timed(
            &what,
            self.session
                .uid_fetch(uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])"),
        )
        .await?;
        let mut messages = Vec::with_capacity(uids.len());
        while let Some(fetch) = timed(&what, stream.try_next()).await? {
            // Other FETCH responses (flag changes by another client) carry no body.
            let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
                continue;
            };
            messages.push(RawMessage {
                origin: format!("imap:{folder}/{uid}"),
                bytes: body.to_vec(),
                arrived_at: fetch.internal_date().map(|t| t.with_timezone(&chrono::Utc)),
            });
        }
        drop(stream);
        self.drain_unsolicited();
        Ok(messages)
    }

    /// Marks these messages as processed. Called only after the database has recorded them.
    pub async fn mark(&mut self, uids: &[u32], marking: &Marking) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        let what = format!("cannot mark processed mail on {}", self.server);
        match marking {
            Marking::Seen => self.store(&set, "+FLAGS.SILENT (\\Seen)", &what).await?,
            Marking::Keyword => {
                self.store(&set, &format!("+FLAGS.SILENT ({KEYWORD})"), &what)
                    .await?;
            }
            Marking::Move(folder) if self.r#move => {
                timed(&what, self.session.uid_mv(&set, folder)).await?;
            }
            Marking::Move(folder) => {
                timed(&what, self.session.uid_copy(&set, folder)).await?;
                self.store(&set, "+FLAGS.SILENT (\\Seen \\Deleted)", &what)
                    .await?;
                if self.uidplus {
                    let expunged = timed(&what, self.session.uid_expunge(&set)).await?;
                    let mut expunged = std::pin::pin!(expunged);
                    while timed(&what, expunged.try_next()).await?.is_some() {}
                } else {
                    // A plain EXPUNGE would also remove messages someone else deleted but
                    // meant to keep until they expunge: leave ours flagged \Deleted.
                    tracing::warn!(
                        "{} has neither MOVE nor UIDPLUS: processed mail is copied to {folder} and left \\Deleted in place",
                        self.server
                    );
                }
            }
        }
        self.drain_unsolicited();
        Ok(())
    }

    async fn store(&mut self, set: &str, query: &str, what: &str) -> Result<()> {
        let mut updates = timed(what, self.session.uid_store(set, query)).await?;
        while timed(what, updates.try_next()).await?.is_some() {}
        Ok(())
    }

    /// Waits for the mailbox to change: IDLE for at most `idle_cap` when the server can,
    /// else a NOOP after `poll_interval`. Returns early on shutdown. A change that arrived
    /// before the wait (an EXISTS in the last reply) returns at once.
    pub async fn wait(
        mut self,
        idle_cap: Duration,
        poll_interval: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(ImapSession, Wake)> {
        if self.drain_unsolicited() {
            return Ok((self, Wake::Changed));
        }
        if !self.idle {
            let wake = tokio::select! {
                _ = tokio::time::sleep(poll_interval) => Wake::Timeout,
                _ = stopping(shutdown) => Wake::Shutdown,
            };
            if wake == Wake::Timeout {
                timed(
                    &format!("{} did not answer NOOP", self.server),
                    self.session.noop(),
                )
                .await?;
            }
            return Ok((self, wake));
        }
        let server = self.server.clone();
        let ImapSession {
            session,
            idle,
            r#move,
            uidplus,
            ..
        } = self;
        let mut handle = session.idle();
        timed(&format!("{server} refused IDLE"), handle.init()).await?;
        // From here the server tells us of new mail at once (tests wait for this line).
        tracing::debug!("IDLE on {server}: waiting for new mail");
        let wake = {
            // The socket timeout is off while idling. async-imap's own timeout restarts with
            // every "still here" the server sends, so the cap is enforced here as well: IDLE
            // ends after `idle_cap` at the latest and is issued again, and a connection that
            // died silently is found out by the DONE that follows.
            let (idling, _interrupt) = handle.wait_with_timeout(idle_cap);
            tokio::select! {
                response = idling => match response.with_context(|| format!("IDLE on {server} failed"))? {
                    async_imap::extensions::idle::IdleResponse::NewData(_) => Wake::Changed,
                    async_imap::extensions::idle::IdleResponse::Timeout => Wake::Timeout,
                    // The connection ended under us (the DONE below will show how).
                    async_imap::extensions::idle::IdleResponse::ManualInterrupt => Wake::Changed,
                },
                _ = tokio::time::sleep(idle_cap) => Wake::Timeout,
                _ = stopping(shutdown) => Wake::Shutdown,
            }
        };
        tracing::debug!("IDLE on {server} ended: {wake:?}");
        let session = match tokio::time::timeout(DONE_TIMEOUT, handle.done()).await {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => return Err(e).with_context(|| format!("cannot end IDLE on {server}")),
            Err(_) => bail!(
                "{server} did not end IDLE within {}s: the connection is dead",
                DONE_TIMEOUT.as_secs()
            ),
        };
        let mut this = ImapSession {
            session,
            server,
            idle,
            r#move,
            uidplus,
        };
        this.drain_unsolicited();
        Ok((this, wake))
    }

    /// Logs out politely, within a few seconds.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(3), self.session.logout()).await;
    }

    /// Empties the queue of responses nobody asked for; returns whether any says the
    /// mailbox changed (new mail may have arrived).
    fn drain_unsolicited(&mut self) -> bool {
        let mut changed = false;
        while let Ok(response) = self.session.unsolicited_responses.try_recv() {
            changed |= matches!(
                response,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            );
        }
        changed
    }
}

/// Resolves once the daemon is stopping (or its controller is gone).
pub async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Splits messages (UID, size) into batches of at most `max_count` messages and, unless a
/// single message is larger, `max_bytes`: memory stays bounded however large the mail.
pub fn batches(sizes: &[(u32, u32)], max_count: usize, max_bytes: u64) -> Vec<Vec<u32>> {
    let mut batches = Vec::new();
    let mut batch: Vec<u32> = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in sizes {
        let size = u64::from(size);
        if !batch.is_empty() && (batch.len() >= max_count || bytes + size > max_bytes) {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        batch.push(uid);
        bytes += size;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// A UID set in IMAP syntax with runs collapsed: `1:5,7,9:12`. `uids` is ascending.
pub fn uid_set(uids: &[u32]) -> String {
    let mut set = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !set.is_empty() {
            set.push(',');
        }
        if start == end {
            set.push_str(&start.to_string());
        } else {
            set.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_by_bytes() {
        let sizes: Vec<(u32, u32)> = (1..=7).map(|uid| (uid, 10)).collect();
        assert_eq!(
            batches(&sizes, 3, 1000),
            vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(
            batches(&sizes, 100, 25),
            vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7]]
        );
        // A message larger than the byte bound travels alone rather than not at all.
        let big = [(1, 5), (2, 500), (3, 5)];
        assert_eq!(batches(&big, 100, 100), vec![vec![1], vec![2], vec![3]]);
        assert!(batches(&[], 10, 10).is_empty());
    }

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[1, 2, 3, 4, 5, 7, 9, 10, 11, 12]), "1:5,7,9:12");
        assert_eq!(uid_set(&[3, 5]), "3,5");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }
}
