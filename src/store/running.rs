//! One `referrald run` per database. Two daemons on one database would both fetch the same
//! mail and both send what falls due; the second one refuses to start and says which process
//! is the first.
//!
//! The claim is an advisory lock (`flock`) on `<database>-run.lock`, held for the daemon's
//! life and released by the kernel however it ends (a crash or `kill -9` included), so a
//! stale file never blocks a restart. The file holds the holder's pid and start time, only
//! to name it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

/// This process's claim on a database; dropping it lets another `run` start.
#[derive(Debug)]
pub struct RunClaim {
    _file: File,
}

/// Why a claim could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process holds it.
    #[error(
        "another `referrald run` is already using {database} ({holder}); two would fetch and \
         send the same mail, so this one does not start. Stop the other first"
    )]
    Held {
        /// The database.
        database: PathBuf,
        /// Who holds it, as the holder wrote it ("pid 1234, started …").
        holder: String,
    },
    /// The lock file could not be opened, read or written.
    #[error("cannot claim {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The lock file of the database at `database`.
pub fn claim_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push("-run.lock");
    path.into()
}

/// Claims `database` for this process, or says who has it.
pub fn claim(database: &Path, now: DateTime<Utc>) -> Result<RunClaim, ClaimError> {
    let path = claim_path(database);
    let io = |source| ClaimError::Io {
        path: path.clone(),
        source,
    };
    let mut file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // What the holder wrote names it; a file that cannot be read names nobody.
            let _ = Read::by_ref(&mut file)
                .take(200)
                .read_to_string(&mut holder);
            let holder = crate::model::clean_name(holder.trim());
            return Err(ClaimError::Held {
                database: database.to_path_buf(),
                holder: if holder.is_empty() {
                    "a process that has not said who it is".into()
                } else {
                    holder
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let me = format!(
        "pid {}, started {}",
        std::process::id(),
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(me.as_bytes()).map_err(io)?;
    Ok(RunClaim { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_and_names_the_first_until_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("referrald.db");
        let now = DateTime::parse_from_rfc3339("2026-12-05T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = claim(&db, now).unwrap();
        let refused = claim(&db, now).unwrap_err();
        let said = refused.to_string();
        assert!(matches!(refused, ClaimError::Held { .. }), "{said}");
        assert!(
            said.contains(&format!("pid {}", std::process::id()))
                && said.contains("2026-12-05T06:00:00Z")
                && said.contains(&db.display().to_string()),
            "{said}"
        );
        drop(first);
        // Released: the next one claims it, and the old text is replaced, not appended to.
        let _second = claim(&db, now).unwrap();
        let text = std::fs::read_to_string(claim_path(&db)).unwrap();
        assert_eq!(text.matches("pid ").count(), 1, "{text}");
    }
}
