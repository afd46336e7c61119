//! The store: one SQLite database, the single source of truth. Bundled SQLite in WAL mode,
//! numbered migrations each applied in one transaction, STRICT tables, and one writer (the
//! [`Store`] owns the only read-write connection).

mod answers;
mod charts;
mod commands;
mod digest;
mod forget;
mod held;
mod known;
mod ledger;
mod limits;
mod outbound;
mod plan;
mod preview;
mod read;
mod record;
pub mod running;
mod search;
mod sent_text;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

pub use charts::{ChartFigures, MonthFigures};
pub use commands::{DueNotice, NoticeId};
pub use forget::{Erasure, FORGOTTEN};
pub use held::HeldDecision;
pub use known::StoreView;
pub use outbound::DueMessage;
pub use plan::PlannedView;
pub use preview::{KindPreview, Preview};
pub use read::{
    EventView, Lateness, OutboundView, ParticipantView, ReferralDetail, ReferralFilter,
    ReferralView, StoryLine, Waiting,
};
pub use record::{Applied, Recorded};
pub use sent_text::SentText;

/// The migrations, in order; `PRAGMA user_version` is the number of those applied.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("migrations/0001_initial.sql")),
    ("0002_mailbox", include_str!("migrations/0002_mailbox.sql")),
    (
        "0003_forgotten",
        include_str!("migrations/0003_forgotten.sql"),
    ),
    (
        "0004_refusals",
        include_str!("migrations/0004_refusals.sql"),
    ),
    ("0005_copied", include_str!("migrations/0005_copied.sql")),
    ("0006_options", include_str!("migrations/0006_options.sql")),
    (
        "0007_commands",
        include_str!("migrations/0007_commands.sql"),
    ),
    ("0008_timing", include_str!("migrations/0008_timing.sql")),
    ("0009_manners", include_str!("migrations/0009_manners.sql")),
    ("0010_digest", include_str!("migrations/0010_digest.sql")),
    (
        "0011_sent_text",
        include_str!("migrations/0011_sent_text.sql"),
    ),
    ("0012_search", include_str!("migrations/0012_search.sql")),
    ("0013_ledger", include_str!("migrations/0013_ledger.sql")),
    (
        "0014_next_due",
        include_str!("migrations/0014_next_due.sql"),
    ),
];

/// The database, open for reading and writing.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating with mode 0600 if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        // Create the file ourselves so it is never world-readable, even for a moment; SQLite
        // gives the -wal and -shm files the same mode.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create database {}", path.display()))?;
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        Store::setup(conn).with_context(|| format!("cannot use database {}", path.display()))
    }

    /// Opens an existing database without writing to it (`inspect`).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        let store = Store { conn };
        let version = store.schema_version()?;
        if version != MIGRATIONS.len() as i64 {
            anyhow::bail!(
                "database {} has schema version {version}, this referrald expects {}; run `referrald referrals` once to migrate it",
                path.display(),
                MIGRATIONS.len()
            );
        }
        Ok(store)
    }

    /// A private in-memory database, for tests and `inspect` without a store.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL lets readers (the CLI) look while the daemon writes; NORMAL is durable across
        // process crashes, which is the failure the daemon must survive.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Deleted and rewritten content is overwritten at once, always: what `forget` erases
        // must not linger in free space, including older versions of rows written before it.
        conn.pragma_update(None, "secure_delete", true)?;
        // Temporary tables and statement journals in memory, not in files written page by page.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Up to 16 MiB of page cache (allocated only as the database grows): a batch of
        // introductions touches many index pages, and spilling them mid-transaction costs more
        // than the memory.
        conn.pragma_update(None, "cache_size", -16 * 1024)?;
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        // This connection writes: every transaction takes the write lock when it begins, and
        // waits its turn (the busy timeout) while another process or the web page writes.
        // Deferred, one that read first and then wrote after another connection had
        // committed failed at once (SQLITE_BUSY_SNAPSHOT: no wait can help it).
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Applies every migration not yet applied, each in its own transaction.
    fn migrate(&mut self) -> Result<()> {
        let applied: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
            .try_into()
            .unwrap_or(0);
        if applied > MIGRATIONS.len() {
            anyhow::bail!(
                "the database has schema version {applied}, newer than this referrald knows ({}); upgrade referrald",
                MIGRATIONS.len()
            );
        }
        for (number, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)
                .with_context(|| format!("migration {name} failed"))?;
            tx.pragma_update(None, "user_version", number as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Gives back the page cache's memory: called when the daemon goes idle after work, so
    /// a large backlog does not leave its cache in memory for the months that follow.
    pub fn release_memory(&self) -> Result<()> {
        self.conn.release_memory()?;
        // Freed memory stays in the C allocator's arenas unless it is handed back: without
        // this, a daemon that once read a large backlog keeps twice its idle size.
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only returns free heap memory to the system.
        unsafe {
            libc::malloc_trim(0);
        }
        Ok(())
    }

    /// The schema version: how many migrations have been applied.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// A number that changes whenever another connection (another process, or another
    /// `Store`) commits a change: for caching what was read through this one.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// The IMAP watcher's position in `folder`: (uidvalidity, last processed uid).
    pub fn mailbox_position(&self, folder: &str) -> Result<Option<(u32, u32)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT uidvalidity, last_uid FROM mailbox WHERE folder = ?1",
                [folder],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Records the IMAP watcher's position in `folder`.
    pub fn set_mailbox_position(
        &mut self,
        folder: &str,
        uidvalidity: u32,
        last_uid: u32,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO mailbox (folder, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
             ON CONFLICT (folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
            rusqlite::params![folder, uidvalidity, last_uid],
        )?;
        Ok(())
    }
}

/// A time as stored: UTC, RFC 3339, whole seconds.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    crate::model::rfc3339_text(t)
}

/// The columns of `feedback f` that [`answer`] reads, in its order.
pub(crate) const ANSWER: &str =
    "f.rating, f.outcome, f.value, f.currency, f.comment, f.at, f.reported_at IS NOT NULL";

/// The answer `from` gave, read from a row holding [`ANSWER`]'s columns from column `first`
/// on: the one reader of answers, whoever asks.
pub(crate) fn answer<W>(
    r: &rusqlite::Row,
    from: W,
    first: usize,
) -> rusqlite::Result<crate::model::Answer<W>> {
    Ok(crate::model::Answer {
        from,
        rating: r.get(first)?,
        outcome: r
            .get::<_, Option<String>>(first + 1)?
            .map(|o| parse_word(&o))
            .transpose()?,
        value: r.get(first + 2)?,
        currency: r.get(first + 3)?,
        comment: r.get(first + 4)?,
        at: parse_ts(&r.get::<_, String>(first + 5)?)?,
        reported: r.get(first + 6)?,
    })
}

/// Reads a stored time back.
pub(crate) fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

/// Reads a word column (status, role, kind…) back into its enum.
pub(crate) fn parse_word<T>(text: &str) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = crate::model::UnknownWord>,
{
    text.parse().map_err(|e: crate::model::UnknownWord| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[cfg(test)]
mod tests;
