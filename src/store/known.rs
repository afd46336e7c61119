//! What intake may ask the store, answered from SQLite.

use rusqlite::{Connection, OptionalExtension};

use crate::intake::{Known, ThreadHit};
use crate::model::{ReferralId, Role};

use super::limits::Scrub;
use super::outbound::outbound_by_message_id;
use super::parse_word;

/// A read-only view of the store for classification.
pub struct StoreView<'a> {
    conn: &'a Connection,
    /// Asks once per view whether anyone was forgotten (a view serves one message).
    scrub: Scrub<'a>,
}

impl<'a> StoreView<'a> {
    pub(crate) fn new(conn: &'a Connection) -> StoreView<'a> {
        StoreView {
            conn,
            scrub: Scrub::new(conn),
        }
    }

    fn try_seen(&self, message_id: &str) -> rusqlite::Result<bool> {
        // An ignored message changed nothing: whoever sent it cannot use its Message-ID to
        // have a later genuine message with the same one dropped as a duplicate.
        self.conn
            .prepare_cached("SELECT 1 FROM messages WHERE message_id = ?1 AND kind != 'ignored'")?
            .exists([message_id])
    }

    fn try_thread_of(&self, message_ids: &[String]) -> rusqlite::Result<Option<ThreadHit>> {
        // Any message we know on a referral's thread counts: our mail, the introduction, and
        // the participants' replies we have seen (someone may answer a reply, not us).
        let mut ours = self.conn.prepare_cached(
            "SELECT o.referral_id, o.kind, c.email FROM outbound o
             JOIN contacts c ON c.id = o.contact_id WHERE o.id = ?1",
        )?;
        let mut known = self.conn.prepare_cached(
            "SELECT referral_id FROM messages WHERE message_id = ?1 AND referral_id IS NOT NULL",
        )?;
        for id in message_ids {
            if let Some(outbound) = outbound_by_message_id(self.conn, id)? {
                return ours
                    .query_row([outbound], |r| {
                        Ok(ThreadHit {
                            referral: r.get(0)?,
                            outbound: Some((parse_word(&r.get::<_, String>(1)?)?, r.get(2)?)),
                        })
                    })
                    .optional();
            }
            let hit = known
                .query_row([id], |r| {
                    Ok(ThreadHit {
                        referral: r.get(0)?,
                        outbound: None,
                    })
                })
                .optional()?;
            if hit.is_some() {
                return Ok(hit);
            }
        }
        Ok(None)
    }

    fn try_referral_by_subject(
        &self,
        subject: &str,
        email: &str,
    ) -> rusqlite::Result<Option<ReferralId>> {
        self.conn
            .prepare_cached(
                "SELECT r.id FROM referrals r
                 JOIN participants p ON p.referral_id = r.id
                 JOIN contacts c ON c.id = p.contact_id
                 WHERE r.subject_key = ?1 AND c.email = ?2
                   AND r.status IN ('open', 'connected', 'stalled')
                 ORDER BY r.id DESC LIMIT 1",
            )?
            .query_row([subject, email], |r| r.get(0))
            .optional()
    }

    fn try_notice_of(
        &self,
        message_ids: &[String],
    ) -> rusqlite::Result<Option<Option<ReferralId>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT referral_id FROM notices WHERE message_id = ?1")?;
        for id in message_ids
            .iter()
            .filter(|id| id.starts_with("referrald.notice."))
        {
            if let Some(referral) = stmt.query_row([id], |r| r.get(0)).optional()? {
                return Ok(Some(referral));
            }
        }
        Ok(None)
    }

    fn try_role_in(&self, referral: ReferralId, email: &str) -> rusqlite::Result<Option<Role>> {
        self.conn
            .prepare_cached(
                "SELECT p.role FROM participants p JOIN contacts c ON c.id = p.contact_id
                 WHERE p.referral_id = ?1 AND c.email = ?2",
            )?
            .query_row(rusqlite::params![referral, email], |r| {
                parse_word(&r.get::<_, String>(0)?)
            })
            .optional()
    }
}

// Classification cannot fail, so a database error while looking something up is logged and
// answered in the safe direction: "not seen" lets a message be processed (the primary key on
// known Message-IDs still stops a double recording), and "no thread" / "not a
// participant" can only make a reply be ignored, never answered.
impl Known for StoreView<'_> {
    fn seen(&self, message_id: &str) -> bool {
        self.try_seen(message_id).unwrap_or_else(|e| {
            tracing::error!("cannot look up Message-ID {message_id}: {e}");
            false
        })
    }

    fn thread_of(&self, message_ids: &[String]) -> Option<ThreadHit> {
        self.try_thread_of(message_ids).unwrap_or_else(|e| {
            tracing::error!("cannot look up a thread: {e}");
            None
        })
    }

    fn referral_by_subject(&self, subject: &str, email: &str) -> Option<ReferralId> {
        self.try_referral_by_subject(subject, email)
            .unwrap_or_else(|e| {
                tracing::error!("cannot look up a referral by subject: {e}");
                None
            })
    }

    fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role> {
        self.try_role_in(referral, email).unwrap_or_else(|e| {
            tracing::error!("cannot look up a participant: {e}");
            None
        })
    }

    fn notice_of(&self, message_ids: &[String]) -> Option<Option<ReferralId>> {
        self.try_notice_of(message_ids).unwrap_or_else(|e| {
            tracing::error!("cannot look up a notice: {e}");
            None
        })
    }

    // Failing safe here means assuming the worst: a person who may have been forgotten is
    // left out rather than written down again.
    fn is_forgotten(&self, email: &str) -> bool {
        self.scrub.is_forgotten(email).unwrap_or_else(|e| {
            tracing::error!("cannot look up forgotten addresses: {e}");
            true
        })
    }
}
