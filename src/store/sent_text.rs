//! The text of the mail referrald sent: kept when the server accepts a message, so the web
//! page can show every mail of a referral as its recipient read it. Bounded like all stored
//! text ([`MAX_SENT_TEXT`]), scrubbed of forgotten addresses, and deleted by `forget` for
//! every referral the forgotten person took part in.

use std::collections::HashMap;

use anyhow::Result;
use rusqlite::{Connection, params};

use super::Store;
use super::limits::{MAX_SENT_TEXT, MAX_SUBJECT, Scrub, cap};
use crate::composer::Rendered;
use crate::model::{OutboundId, ReferralId};
use crate::planner::ContactId;

/// What one sent message said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentText {
    /// Its subject line.
    pub subject: String,
    /// Its plain-text body, footer included.
    pub body: String,
}

impl Store {
    /// Keeps the subject and text of outbound message `id`, as it was handed to the server.
    /// A message sent again (after a crash, with the same Message-ID) keeps its latest text.
    pub fn keep_sent_text(&mut self, id: OutboundId, text: &Rendered) -> Result<()> {
        let scrub = Scrub::new(&self.conn);
        let subject = scrub.text(&text.subject)?;
        let body = scrub.text(&text.body)?;
        self.conn
            .prepare_cached(
                "INSERT INTO sent_text (outbound_id, subject, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (outbound_id) DO UPDATE SET subject = excluded.subject, body = excluded.body",
            )?
            .execute(params![
                id,
                cap(&subject, MAX_SUBJECT),
                cap(&body, MAX_SENT_TEXT)
            ])?;
        Ok(())
    }

    /// The kept text of each message of referral `id` that has one, by outbound id.
    pub fn sent_texts(&self, id: ReferralId) -> Result<HashMap<OutboundId, SentText>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.outbound_id, t.subject, t.body FROM outbound o
             JOIN sent_text t ON t.outbound_id = o.id WHERE o.referral_id = ?1",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get(0)?,
                SentText {
                    subject: r.get(1)?,
                    body: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Deletes the kept text of every message about a referral that `contact` took part in
/// (introducer, party or copied): mail to them (only participants are mailed), and mail to
/// others that names them. Returns how many texts were deleted. Part of `forget`'s
/// transaction.
pub(super) fn forget_sent_text(conn: &Connection, contact: ContactId) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM sent_text WHERE outbound_id IN (
             SELECT o.id FROM outbound o WHERE o.referral_id IN (
                 SELECT referral_id FROM participants WHERE contact_id = ?1
                 UNION SELECT referral_id FROM copied WHERE contact_id = ?1))",
        [contact],
    )?)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::config::Config;
    use crate::intake::{Classified, Introduction, Verdict};
    use crate::model::Person;
    use crate::source::RawMessage;

    fn config() -> Config {
        crate::config::testing::config("")
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
    }

    /// Records Bob's introduction of `parties` as message `id` and makes its first messages
    /// (the thank-you and the follow-ups, due within two days); returns their outbound ids.
    fn introduce(store: &mut Store, id: &str, parties: &[Person]) -> Vec<OutboundId> {
        let bob = Person::new("bob@networkers.example", Some("Bob Brown"));
        let intro = Introduction {
            introducer: bob.clone(),
            parties: parties.to_vec(),
            copied: Vec::new(),
            subject: "Intro".into(),
            thread_root: id.into(),
            references: vec![id.into()],
            forwarded: false,
            options: Default::default(),
        };
        let classified = Classified {
            message_id: id.into(),
            from: Some(bob),
            subject: "Intro".into(),
            date: None,
            verdict: Verdict::Introduction(intro),
        };
        let raw = RawMessage {
            origin: "test".into(),
            bytes: b"Subject: Intro\r\n\r\nbody".to_vec(),
            arrived_at: None,
        };
        let referral = store
            .record(&classified, &raw, &config(), t0())
            .unwrap()
            .unwrap();
        store
            .plan_due(&config(), t0() + chrono::TimeDelta::days(2))
            .unwrap();
        let outbound: Vec<OutboundId> = store
            .referral(referral)
            .unwrap()
            .unwrap()
            .outbound
            .iter()
            .map(|o| o.id)
            .collect();
        assert!(!outbound.is_empty(), "a plan for referral {referral}");
        outbound
    }

    fn text(subject: &str, body: &str) -> Rendered {
        Rendered {
            subject: subject.into(),
            body: body.into(),
        }
    }

    fn kept(store: &Store) -> usize {
        store
            .conn
            .query_row("SELECT count(*) FROM sent_text", [], |r| r.get::<_, i64>(0))
            .unwrap() as usize
    }

    #[test]
    fn the_text_of_a_sent_message_is_kept_bounded_and_replaced_when_sent_again() {
        let mut store = Store::open_in_memory().unwrap();
        let fred = Person::new("fred@fredsbooks.example", Some("Fred Jones"));
        let sally = Person::new("sally@leedesign.example", Some("Sally Lee"));
        let outbound = introduce(&mut store, "a@x", &[fred, sally]);
        let first = outbound[0];
        store
            .keep_sent_text(first, &text("Re: Intro", "Hi Fred,\nhow did it go?"))
            .unwrap();
        let texts = store.sent_texts(1).unwrap();
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[&first].body, "Hi Fred,\nhow did it go?");
        // Sent again after a crash: the latest text, still one row.
        store
            .keep_sent_text(first, &text("Re: Intro", &"é".repeat(40_000)))
            .unwrap();
        let texts = store.sent_texts(1).unwrap();
        let body = &texts[&first].body;
        assert!(
            body.len() <= MAX_SENT_TEXT && body.ends_with('…'),
            "{}",
            body.len()
        );
        assert_eq!(kept(&store), 1);
        assert!(store.sent_texts(2).unwrap().is_empty());
    }

    /// Harm guarded against: `forget fred` leaving "Hi Fred, …" in the kept text of mail to
    /// him, or of mail to the others of his referral that names him.
    #[test]
    fn forget_deletes_the_text_of_mail_about_their_referrals_only() {
        let mut store = Store::open_in_memory().unwrap();
        let fred = Person::new("fred@fredsbooks.example", Some("Fred Jones"));
        let sally = Person::new("sally@leedesign.example", Some("Sally Lee"));
        let tom = Person::new("tom@tomsbikes.example", Some("Tom Hardy"));
        let theirs = introduce(&mut store, "a@x", &[fred.clone(), sally.clone()]);
        let others = introduce(&mut store, "b@x", &[tom, sally]);
        for id in theirs.iter().chain(&others) {
            store
                .keep_sent_text(*id, &text("Re: Intro", "Fred Jones and Sally Lee, meet"))
                .unwrap();
        }
        assert_eq!(kept(&store), theirs.len() + others.len());

        let erased = store.forget(&fred.email, t0()).unwrap();
        assert_eq!(erased.sent_texts, theirs.len());
        assert!(store.sent_texts(1).unwrap().is_empty());
        assert_eq!(store.sent_texts(2).unwrap().len(), others.len());

        // Mail kept after the forget never names the forgotten address again.
        store
            .keep_sent_text(others[0], &text("Re: Intro", "cc fred@fredsbooks.example"))
            .unwrap();
        assert_eq!(
            store.sent_texts(2).unwrap()[&others[0]].body,
            "cc (forgotten)"
        );
    }
}
