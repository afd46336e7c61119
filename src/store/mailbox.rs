//! What the daemon (`run`) needs from the store beyond intake and the outbox's bookkeeping.

use anyhow::{Context, Result};
use rusqlite::params;

use crate::model::OutboundId;

use super::Store;

impl Store {
    /// Puts messages that were claimed for sending but never handed to the transport back
    /// in the queue, as if they had not been claimed: the attempt counted for each did not
    /// happen. Used when the daemon stops halfway through a batch. Returns how many.
    pub fn release_unsent(&mut self, ids: &[OutboundId]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut released = 0;
        {
            let mut release = tx.prepare_cached(
                "UPDATE outbound SET state = 'scheduled', attempts = max(attempts - 1, 0),
                    first_attempt_at = CASE WHEN attempts <= 1 THEN NULL ELSE first_attempt_at END
                 WHERE id = ?1 AND state = 'sending'",
            )?;
            for id in ids {
                released += release.execute(params![id])?;
            }
        }
        tx.commit()
            .context("cannot put unsent messages back in the queue")?;
        Ok(released)
    }

    /// How many messages intake has decided about, and how many referrals are recorded:
    /// for `doctor`.
    pub fn totals(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM messages WHERE kind != 'thread_root'), (SELECT count(*) FROM referrals)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::config::Config;
    use crate::source::RawMessage;

    const CONFIG: &str = r#"
[tracking]
address = "intros@tracker.example.org"
[owner]
name = "Alice Smith"
emails = ["alice@brightside.example"]
[intake]
accept-from = ["bob@networkers.example"]
[schedule]
send-window = "always"
[outbound]
transport = "file"
"#;

    const INTRO: &str = "From: Bob <bob@networkers.example>\r\n\
        To: Fred <fred@clients.example>, Sally <sally@suppliers.example>\r\n\
        Cc: intros@tracker.example.org\r\n\
        Subject: Fred, meet Sally\r\n\
        Message-ID: <intro-1@networkers.example>\r\n\r\n\
        Fred, meet Sally.\r\n";

    #[test]
    fn unsent_messages_go_back_to_the_queue_uncounted() {
        let config = Config::parse(CONFIG, "test.toml", std::path::PathBuf::from(".")).unwrap();
        let mut store = Store::open_in_memory().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
        let raw = RawMessage {
            origin: "test".into(),
            bytes: INTRO.as_bytes().to_vec(),
        };
        store
            .ingest(std::slice::from_ref(&raw), &config, now)
            .unwrap();
        let claimed = store.claim_due(&config, now).unwrap();
        assert_eq!(claimed.len(), 1, "the thank-you is due at once");
        let ids: Vec<_> = claimed.iter().map(|m| m.id).collect();

        assert_eq!(store.release_unsent(&ids).unwrap(), 1);
        // Not `sending` any more, so nothing to recover and nothing counted.
        assert_eq!(store.recover_sending(now).unwrap(), 0);
        let again = store.claim_due(&config, now).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        // A message already sent is not touched.
        store.mark_sent(again[0].id, &config, now).unwrap();
        assert_eq!(store.release_unsent(&ids).unwrap(), 0);
        assert_eq!(store.totals().unwrap(), (1, 1));
    }
}
