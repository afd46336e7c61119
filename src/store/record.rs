//! Recording incoming mail: each classified message in its transaction (introductions,
//! replies on the thread, feedback, opt-outs, bounces, auto-replies) and the contacts they
//! name. Every change to a referral leaves an event with its time and cause.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Config;
use crate::intake::ahead::{Ahead, Nothing};
use crate::intake::{
    self, Bounce, Classified, IgnoreReason, Introduction, OwnerNote, Reading, Verdict,
    normalize_subject,
};
use crate::model::{
    Outcome, PartyState, Person, ReferralId, ReferralStatus, Role, join_names, strip_plus_detail,
};
use crate::planner::{self, ContactId, OwnerWrote, Participant, Rules, Snapshot};
use crate::source::RawMessage;

use super::forget::address_hash;
use super::limits::{
    MAX_COMMENT, MAX_DETAIL, MAX_NAME, MAX_RAW, MAX_REASON, MAX_SUBJECT, Scrub, cap,
};
use super::outbound::outbound_by_message_id;
use super::plan::{apply_steps, defer, next_due_at, replan, rules};
use super::{Store, StoreView, parse_word, ts};

/// What became of one ingested message.
#[derive(Debug)]
pub struct Applied {
    /// Where it came from (a path, "stdin", an IMAP uid).
    pub origin: String,
    /// The verdict, or why the message could not be recorded (it is then kept in `rejected`).
    pub result: Result<Recorded, String>,
}

/// A message recorded in the store.
#[derive(Debug)]
pub struct Recorded {
    /// What intake made of it.
    pub classified: Classified,
    /// The referral it created or touched.
    pub referral: Option<ReferralId>,
}

impl Store {
    /// A read-only view for classification against what is stored.
    pub fn view(&self) -> StoreView<'_> {
        StoreView::new(&self.conn)
    }

    /// Classifies and records `messages`, all in one transaction. A message that cannot be
    /// recorded is kept whole in `rejected` with the reason, and the rest go on.
    ///
    /// Recording failures are rare (they mean a bug or a broken database, not bad mail), so
    /// the batch is tried optimistically in one transaction; if any message fails, the batch
    /// is rolled back and replayed one message per transaction, which isolates the failure.
    /// That keeps the common path free of per-message savepoints, a third of its cost.
    pub fn ingest(
        &mut self,
        messages: &[RawMessage],
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Vec<Applied>> {
        let rules = rules(config);
        let tx = self.conn.transaction()?;
        if let Some(applied) = record_batch(&tx, messages, config, &rules, now) {
            tx.commit().context("cannot commit ingested messages")?;
            return Ok(applied);
        }
        tx.rollback()?;
        messages
            .iter()
            .map(|message| self.ingest_one(message, config, &rules, now))
            .collect()
    }

    /// Classifies and records one message in its own transaction; if recording fails, the
    /// message is kept in `rejected` instead.
    fn ingest_one(
        &mut self,
        message: &RawMessage,
        config: &Config,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Applied> {
        let tx = self.conn.transaction()?;
        let classified = intake::classify(&message.bytes, &StoreView::new(&tx), config, now);
        let result = match record(&tx, &classified, message, config, rules, now) {
            Ok(referral) => {
                tx.commit().context("cannot commit an ingested message")?;
                Ok(Recorded {
                    classified,
                    referral,
                })
            }
            Err(e) => {
                tx.rollback()?;
                let reason = format!("{e:#}");
                tracing::error!("{}: cannot record message: {reason}", message.origin);
                reject(&self.conn, &message.origin, &reason, &message.bytes, now)?;
                Err(reason)
            }
        };
        Ok(Applied {
            origin: message.origin.clone(),
            result,
        })
    }

    /// Records one message already classified, in its own transaction.
    pub fn record(
        &mut self,
        classified: &Classified,
        message: &RawMessage,
        config: &Config,
        now: DateTime<Utc>,
    ) -> Result<Option<ReferralId>> {
        let tx = self.conn.transaction()?;
        let referral = record(&tx, classified, message, config, &rules(config), now)?;
        tx.commit()?;
        Ok(referral)
    }
}

/// Batches at least this long are classified ahead on a second thread while they are
/// recorded; a shorter one is not worth starting a thread for.
pub(super) const AHEAD_FROM: usize = 16;

/// Messages classified ahead are handed over this many at a time, and at most
/// `AHEAD_CHUNKS` chunks wait: few enough hand-overs that the threads seldom wait for each
/// other, and the classifier never runs far ahead of what is recorded.
const AHEAD_CHUNK: usize = 32;
const AHEAD_CHUNKS: usize = 4;

/// Classifies and records `messages` in `tx`, in order; `None` if one could not be
/// recorded (the caller rolls back).
///
/// Classifying is half the work and needs the store only for a few questions, so a long
/// batch is classified on a second thread against a store that knows nothing
/// ([`intake::ahead`]), while this one records. Just before each message is recorded, the
/// store is asked the questions its verdict rests on; if every answer is the same, that
/// verdict is the one classifying it now would give, and it is used. Otherwise (a reply on
/// a thread, a Message-ID seen before, a message about something earlier in the batch) the
/// message is classified again here. Should the second thread fail, the rest are
/// classified here too.
fn record_batch(
    tx: &Connection,
    messages: &[RawMessage],
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Option<Vec<Applied>> {
    std::thread::scope(|scope| {
        let (send, ahead) = std::sync::mpsc::sync_channel::<Vec<Ahead>>(AHEAD_CHUNKS);
        // A thread that cannot be started (too many threads, no memory) is no error: the
        // sender is dropped with the closure, and every message is classified here.
        let classifier = (messages.len() >= AHEAD_FROM)
            .then(|| {
                std::thread::Builder::new()
                    .name("classify-ahead".into())
                    .spawn_scoped(scope, move || {
                        for chunk in messages.chunks(AHEAD_CHUNK) {
                            let classified = chunk
                                .iter()
                                .map(|m| {
                                    intake::ahead::classify_ahead(&m.bytes, &Nothing, config, now)
                                })
                                .collect();
                            if send.send(classified).is_err() {
                                return;
                            }
                        }
                    })
                    .inspect_err(|e| tracing::warn!("cannot classify ahead on a thread: {e}"))
                    .ok()
            })
            .flatten();
        let mut waiting = Vec::new().into_iter();
        let mut applied = Vec::with_capacity(messages.len());
        let mut failed = false;
        for message in messages {
            let view = StoreView::new(tx);
            let guess = waiting.next().or_else(|| {
                waiting = ahead.recv().ok()?.into_iter();
                waiting.next()
            });
            let classified = guess
                .and_then(|guess| guess.confirm(&view))
                .unwrap_or_else(|| intake::classify(&message.bytes, &view, config, now));
            match record(tx, &classified, message, config, rules, now) {
                Ok(referral) => applied.push(Applied {
                    origin: message.origin.clone(),
                    result: Ok(Recorded {
                        classified,
                        referral,
                    }),
                }),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        // Hang up first: a classifier still ahead stops at its next hand-over.
        drop(ahead);
        if let Some(classifier) = classifier
            && classifier.join().is_err()
        {
            tracing::error!("the classifying thread failed; its messages were classified again");
        }
        (!failed).then_some(applied)
    })
}

/// Records one classified message; returns the referral it created or touched.
fn record(
    conn: &Connection,
    c: &Classified,
    message: &RawMessage,
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Option<ReferralId>> {
    let tracking = &config.tracking.address;
    let cause = Some(c.message_id.as_str());
    // Ingesting a message again changes nothing, whatever it is. The one exception: an
    // ignored message never shadows a genuine one with the same Message-ID, whose verdict
    // then replaces the ignored row.
    let before: Option<String> = conn
        .prepare_cached("SELECT kind FROM messages WHERE message_id = ?1")?
        .query_row([&c.message_id], |r| r.get(0))
        .optional()?;
    if before
        .as_deref()
        .is_some_and(|kind| kind != "ignored" || matches!(c.verdict, Verdict::Ignored(_)))
    {
        return Ok(None);
    }
    let referral = match &c.verdict {
        // Already recorded once: recording it again would be the mistake.
        Verdict::Duplicate => return Ok(None),
        Verdict::Ignored(reason) => {
            if let IgnoreReason::Unparseable(why) = reason {
                reject(conn, &message.origin, why, &message.bytes, now)?;
            }
            None
        }
        Verdict::Introduction(intro) => Some(record_introduction(
            conn,
            intro,
            &c.message_id,
            planner::introduced_at(c.date, message.arrived_at, now),
            config,
            rules,
            now,
        )?),
        Verdict::ThreadReply {
            referral,
            from,
            note,
        } => {
            responded(conn, *referral, from, now, cause)?;
            owner_wrote(conn, *referral, note, now, cause)?;
            replan(conn, *referral, tracking, rules, now)?;
            Some(*referral)
        }
        Verdict::Feedback {
            referral,
            from,
            reading,
        } => {
            record_feedback(conn, *referral, from, reading, now, &c.message_id)?;
            replan(conn, *referral, tracking, rules, now)?;
            Some(*referral)
        }
        // A forgotten address gets no mail already; writing it down again is what `forget`
        // undid.
        Verdict::OptOut { email, .. } if Scrub::new(conn).is_forgotten(email)? => None,
        Verdict::OptOut { email, referral } => {
            let name = c.from.as_ref().map(|p| p.name.as_str()).unwrap_or(email);
            let contact = upsert_contact(conn, &Person::new(email, Some(name)))?.id;
            conn.execute(
                "UPDATE contacts SET opted_out_at = coalesce(opted_out_at, ?2) WHERE id = ?1",
                params![contact, ts(now)],
            )?;
            let touched = set_state_everywhere(conn, contact, PartyState::OptedOut)?;
            let detail = format!("{email} asked not to be emailed again");
            if touched.is_empty() {
                event(conn, None, now, "opted_out", &detail, cause)?;
            }
            for r in &touched {
                event(conn, Some(*r), now, "opted_out", &detail, cause)?;
                replan(conn, *r, tracking, rules, now)?;
            }
            *referral
        }
        Verdict::Bounce(bounce) => {
            record_bounce(conn, bounce, tracking, rules, now, cause)?;
            bounce.referral
        }
        Verdict::Command(command) => {
            super::commands::record_command(conn, command, c, config, rules, now)?
        }
        Verdict::AutoReply { referral, away } => {
            if let Some(r) = referral {
                let who = c
                    .from
                    .as_ref()
                    .map(|p| p.email.as_str())
                    .unwrap_or("someone");
                let mut detail = format!("auto-reply from {who} (not counted as a response)");
                if let Some(away) = away {
                    // Never an answer; it only moves their mail past the day they are back,
                    // in every referral (the planner reads it from the contact).
                    conn.prepare_cached("UPDATE contacts SET back_on = ?2 WHERE email = ?1")?
                        .execute(params![away.email, away.back_on.to_string()])?;
                    detail.push_str(&format!(
                        ": back on {}, so their mail waits until the day after",
                        away.back_on
                    ));
                }
                event(conn, Some(*r), now, "auto_reply", &detail, cause)?;
                if away.is_some() {
                    replan(conn, *r, tracking, rules, now)?;
                }
            }
            *referral
        }
    };
    let reason = match &c.verdict {
        Verdict::Ignored(reason) => Some(stored_text(conn, &reason.to_string(), MAX_REASON)?),
        _ => None,
    };
    conn.prepare_cached(
        "INSERT INTO messages (message_id, kind, reason, referral_id, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (message_id) DO UPDATE SET kind = excluded.kind, reason = excluded.reason,
             referral_id = excluded.referral_id, at = excluded.at",
    )?
    .execute(params![c.message_id, c.verdict.kind(), reason, referral, ts(now)])?;
    Ok(referral)
}

/// Text from mail as it may be stored: forgotten addresses replaced, then cut to `max` bytes.
pub(super) fn stored_text(conn: &Connection, text: &str, max: usize) -> Result<String> {
    let scrubbed = Scrub::new(conn).text(text)?;
    Ok(cap(&scrubbed, max).into_owned())
}

/// Keeps a message that could not be processed, with the reason: its first [`MAX_RAW`]
/// bytes (the reason says when it was cut), forgotten addresses replaced, once.
fn reject(
    conn: &Connection,
    origin: &str,
    reason: &str,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut reason = stored_text(conn, reason, MAX_REASON)?;
    let head = match raw.get(..MAX_RAW) {
        Some(head) if head.len() < raw.len() => {
            reason.push_str(&format!(
                " (only the first {MAX_RAW} of its {} bytes are kept)",
                raw.len()
            ));
            head
        }
        _ => raw,
    };
    let raw = Scrub::new(conn).bytes(head)?;
    // The same message failing again (ingested twice) is kept once.
    let known = conn
        .prepare_cached("SELECT 1 FROM rejected WHERE length(raw) = ?1 AND raw = ?2")?
        .exists(params![raw.len() as i64, raw.as_ref()])?;
    if !known {
        conn.prepare_cached(
            "INSERT INTO rejected (at, origin, reason, raw) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            ts(now),
            stored_text(conn, origin, MAX_REASON)?,
            reason,
            raw.as_ref()
        ])?;
    }
    Ok(())
}

pub(super) fn event(
    conn: &Connection,
    referral: Option<ReferralId>,
    at: DateTime<Utc>,
    kind: &str,
    detail: &str,
    message_id: Option<&str>,
) -> Result<()> {
    let detail = stored_text(conn, detail, MAX_DETAIL)?;
    conn.prepare_cached(
        "INSERT INTO events (referral_id, at, kind, detail, message_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![referral, ts(at), kind, detail, message_id])?;
    Ok(())
}

pub(super) struct Contact {
    pub(super) id: ContactId,
    state: PartyState,
    back_on: Option<chrono::NaiveDate>,
}

/// Finds or creates the contact for `person`; an address that opted out or bounced before
/// stays that way in every new referral, and a new contact whose address was forgotten
/// (`referrald forget`) starts opted out, so they are never emailed again.
pub(super) fn upsert_contact(conn: &Connection, person: &Person) -> Result<Contact> {
    // `fred+crm@x` is fred@x's mailbox: forgetting one forgot both. Most stores have
    // forgotten nobody, and then no address needs hashing.
    let (hash, base_hash) = if Scrub::new(conn).anyone_forgotten()? {
        let base = strip_plus_detail(&person.email);
        (
            Some(address_hash(&person.email)),
            (base != person.email).then(|| address_hash(&base)),
        )
    } else {
        (None, None)
    };
    // Looked up, then inserted if new: an upsert with `RETURNING` costs a statement
    // journal and a temporary table on every call, a third of recording an introduction.
    let known: Option<(ContactId, bool, bool, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, opted_out_at IS NOT NULL, bounced_at IS NOT NULL, back_on
             FROM contacts WHERE email = ?1",
        )?
        .query_row([&person.email], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let (id, opted_out, bounced, back_on) = match known {
        Some(contact) => contact,
        None => {
            // Two lookups by primary key: an `IN (?3, ?4)` list would build a temporary
            // index on every call.
            conn.prepare_cached(
                "INSERT INTO contacts (email, name, opted_out_at)
                 VALUES (?1, ?2, coalesce((SELECT at FROM forgotten WHERE email_sha256 = ?3),
                                          (SELECT at FROM forgotten WHERE email_sha256 = ?4)))",
            )?
            .execute(params![
                person.email,
                cap(&person.name, MAX_NAME),
                hash,
                base_hash
            ])?;
            let id = conn.last_insert_rowid();
            // A forgotten address starts opted out; with nobody forgotten, nobody does.
            let opted_out = hash.is_some()
                && conn
                    .prepare_cached("SELECT opted_out_at IS NOT NULL FROM contacts WHERE id = ?1")?
                    .query_row([id], |r| r.get(0))?;
            (id, opted_out, false, None)
        }
    };
    let state = if opted_out {
        PartyState::OptedOut
    } else if bounced {
        PartyState::Bounced
    } else {
        PartyState::Pending
    };
    Ok(Contact {
        id,
        state,
        back_on: back_on.and_then(|d| d.parse().ok()),
    })
}

fn record_introduction(
    conn: &Connection,
    intro: &Introduction,
    message_id: &str,
    introduced_at: DateTime<Utc>,
    config: &Config,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<ReferralId> {
    let forwarded_original = intro.thread_root != message_id;
    if forwarded_original {
        // A forward that carries the original's Message-ID: if we know the original (it was
        // copied to us too, or forwarded before), this introduction is already recorded.
        let known: Option<Option<ReferralId>> = conn
            .prepare_cached("SELECT referral_id FROM messages WHERE message_id = ?1")?
            .query_row([&intro.thread_root], |r| r.get(0))
            .optional()?;
        if let Some(Some(existing)) = known {
            let detail = format!("{} forwarded the introduction again", intro.introducer);
            event(
                conn,
                Some(existing),
                now,
                "forwarded",
                &detail,
                Some(message_id),
            )?;
            return Ok(existing);
        }
    }
    // The people first: a new referral's plan needs only them, so the referral's row is
    // written once, with the time its first message falls due.
    let people: Vec<(Role, &Person, Contact)> =
        std::iter::once((Role::Introducer, &intro.introducer))
            .chain(intro.parties.iter().map(|p| (Role::Party, p)))
            .map(|(role, person)| Ok((role, person, upsert_contact(conn, person)?)))
            .collect::<Result<_>>()?;
    let participants: Vec<Participant> = people
        .iter()
        .map(|(role, person, contact)| Participant {
            contact: contact.id,
            role: *role,
            state: contact.state,
            is_owner: config.owner.is_owner(&person.email),
            back_on: contact.back_on,
        })
        .collect();
    // A new referral's snapshot is known without reading it back: plan straight away. What
    // falls due is made when the outbox can take it: here only its due time is kept.
    let snapshot = Snapshot {
        id: 0,
        status: ReferralStatus::Open,
        introduced_at,
        recorded_at: now,
        history: false,
        participants,
        outbound: Vec::new(),
        feedback: Vec::new(),
        introducer_last_report: None,
        options: intro.options.clone(),
        paused_until: None,
        owner_wrote: OwnerWrote::default(),
    };
    let steps = defer(planner::plan(&snapshot, rules, now));
    let subject = stored_text(conn, &intro.subject, MAX_SUBJECT)?;
    // A plain INSERT and the rowid it made: `RETURNING` would buffer its one row in a
    // temporary table built for each statement.
    conn.prepare_cached(
        "INSERT INTO referrals (status, subject, subject_key, thread_root, references_,
             intro_message_id, forwarded, created_at, introduced_at, next_due_at)
         VALUES ('open', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        subject,
        normalize_subject(&subject),
        intro.thread_root,
        intro.references.join(" "),
        message_id,
        intro.forwarded,
        ts(now),
        ts(introduced_at),
        next_due_at(&steps).map(ts),
    ])?;
    let referral: ReferralId = conn.last_insert_rowid();
    if forwarded_original {
        // Replies to the original, and the original itself if it reaches us later, belong here.
        // An ignored message that claimed the original's Message-ID gives way to it.
        conn.prepare_cached(
            "INSERT INTO messages (message_id, kind, referral_id, at)
             VALUES (?1, 'thread_root', ?2, ?3)
             ON CONFLICT (message_id) DO UPDATE SET kind = 'thread_root', reason = NULL,
                 referral_id = excluded.referral_id, at = excluded.at
             WHERE messages.kind = 'ignored'",
        )?
        .execute(params![intro.thread_root, referral, ts(now)])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO participants (referral_id, contact_id, position, role, name, is_owner, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (position, ((role, person, contact), p)) in
        people.iter().zip(&snapshot.participants).enumerate()
    {
        insert.execute(params![
            referral,
            contact.id,
            position as i64,
            role.as_str(),
            cap(&person.name, MAX_NAME),
            p.is_owner,
            contact.state.as_str(),
        ])?;
    }
    // Helpers are kept apart from participants, so no plan or count ever includes them.
    let mut copy = conn.prepare_cached(
        "INSERT INTO copied (referral_id, contact_id, position, name) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    for (position, person) in intro.copied.iter().enumerate() {
        let contact = upsert_contact(conn, person)?;
        copy.execute(params![
            referral,
            contact.id,
            position as i64,
            cap(&person.name, MAX_NAME)
        ])?;
    }
    let options = &intro.options;
    if !options.is_default() {
        conn.prepare_cached(
            "INSERT INTO referral_options
                 (referral_id, quiet, thanks, follow_up_after, follow_up_secs, unknown)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            referral,
            options.quiet,
            options.thanks,
            options.follow_up_after.as_ref().map(|d| d.written.as_str()),
            options
                .follow_up_after
                .as_ref()
                .map(|d| i64::try_from(d.span.as_secs()).unwrap_or(i64::MAX)),
            options.unknown.join(" "),
        ])?;
        event(
            conn,
            Some(referral),
            now,
            "options",
            &format!("options in the address: {}", options.describe()),
            Some(message_id),
        )?;
    }
    let names: Vec<&str> = intro.parties.iter().map(Person::name_or_email).collect();
    let how = if intro.forwarded { " (forwarded)" } else { "" };
    event(
        conn,
        Some(referral),
        now,
        "recorded",
        &format!(
            "{} introduced {}{how}",
            intro.introducer,
            join_names(&names)
        ),
        Some(message_id),
    )?;
    apply_steps(conn, referral, &steps, &config.tracking.address, now)?;
    Ok(referral)
}

/// A participant wrote on the thread: they have responded, and a party responding connects
/// the referral.
fn responded(
    conn: &Connection,
    referral: ReferralId,
    from: &Person,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    let role = mark_responded(conn, referral, &from.email, now)?;
    event(
        conn,
        Some(referral),
        now,
        "replied",
        &format!("{from} replied on the thread"),
        cause,
    )?;
    if role == Some(Role::Party) {
        let status = referral_status(conn, referral)?;
        if matches!(status, ReferralStatus::Open | ReferralStatus::Stalled) {
            set_status(
                conn,
                referral,
                ReferralStatus::Connected,
                now,
                "a party replied on the thread",
                cause,
            )?;
        }
    }
    Ok(())
}

/// Remembers what the owner said on the thread that our mail should not say again.
fn owner_wrote(
    conn: &Connection,
    referral: ReferralId,
    note: &OwnerNote,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    for (said, column, detail) in [
        (
            note.thanks,
            "owner_thanked_at",
            "the owner thanked the introducer on the thread",
        ),
        (
            note.offers_time,
            "owner_offered_time_at",
            "the owner offered a time on the thread",
        ),
    ] {
        if said {
            let changed = conn.execute(
                &format!("UPDATE referrals SET {column} = ?2 WHERE id = ?1 AND {column} IS NULL"),
                params![referral, ts(now)],
            )?;
            if changed > 0 {
                event(conn, Some(referral), now, "owner", detail, cause)?;
            }
        }
    }
    Ok(())
}

/// Moves a pending participant to `responded`; returns their role.
fn mark_responded(
    conn: &Connection,
    referral: ReferralId,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<Role>> {
    let role: Option<String> = conn
        .prepare_cached(
            "UPDATE participants SET
                 state = CASE state WHEN 'pending' THEN 'responded' ELSE state END,
                 responded_at = coalesce(responded_at, ?3)
             WHERE referral_id = ?1 AND contact_id = (SELECT id FROM contacts WHERE email = ?2)
             RETURNING role",
        )?
        .query_row(params![referral, email, ts(now)], |r| r.get(0))
        .optional()?;
    Ok(role.map(|r| parse_word(&r)).transpose()?)
}

pub(super) fn record_feedback(
    conn: &Connection,
    referral: ReferralId,
    from: &Person,
    reading: &Reading,
    now: DateTime<Utc>,
    message_id: &str,
) -> Result<()> {
    mark_responded(conn, referral, &from.email, now)?;
    conn.prepare_cached(
        "INSERT INTO feedback (referral_id, contact_id, at, rating, outcome, value, currency, comment, message_id)
         VALUES (?1, (SELECT id FROM contacts WHERE email = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        referral,
        from.email,
        ts(now),
        reading.rating,
        reading.outcome.map(Outcome::as_str),
        reading.value,
        reading.currency,
        stored_text(conn, &reading.comment, MAX_COMMENT)?,
        message_id,
    ])?;
    let mut said = Vec::new();
    if let Some(r) = reading.rating {
        said.push(format!("rated it {r}/5"));
    }
    if let Some(o) = reading.outcome {
        said.push(format!("outcome {o}"));
    }
    if let Some(v) = reading.value {
        said.push(format!(
            "value {v}{}",
            reading
                .currency
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        ));
    }
    if said.is_empty() {
        said.push("sent a comment".into());
    }
    event(
        conn,
        Some(referral),
        now,
        "feedback",
        &format!("{from} {}", said.join(", ")),
        Some(message_id),
    )?;

    // The latest answer of each person decides the status: later feedback supersedes earlier.
    let latest: Vec<(Option<String>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT outcome, rating FROM feedback f WHERE referral_id = ?1 AND id = (
                 SELECT max(id) FROM feedback WHERE referral_id = f.referral_id AND contact_id = f.contact_id)",
        )?
        .query_map([referral], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let outcomes: Vec<Outcome> = latest
        .iter()
        .filter_map(|(o, _)| o.as_deref().and_then(|o| o.parse().ok()))
        .collect();
    let rated = latest.iter().any(|(_, r)| r.is_some());
    let current = referral_status(conn, referral)?;
    let next = planner::status_after_feedback(current, &outcomes, rated);
    if next != current {
        set_status(
            conn,
            referral,
            next,
            now,
            &format!("feedback from {}", from.email),
            Some(message_id),
        )?;
    }
    Ok(())
}

fn record_bounce(
    conn: &Connection,
    bounce: &Bounce,
    tracking: &str,
    rules: &Rules,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    let status = stored_text(
        conn,
        bounce.status.as_deref().unwrap_or("no status given"),
        MAX_REASON,
    )?;
    let status = status.as_str();
    if let Some(original) = &bounce.original_message_id {
        let failed: Option<(ReferralId, String)> = match outbound_by_message_id(conn, original)? {
            None => None,
            Some(id) => conn
                .query_row(
                    "UPDATE outbound SET state = 'failed', last_error = ?2
                     WHERE id = ?1 AND state IN ('sent', 'sending', 'scheduled')
                     RETURNING referral_id, kind",
                    params![id, format!("bounced: {status}")],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
        };
        if let Some((referral, kind)) = failed {
            event(
                conn,
                Some(referral),
                now,
                "failed",
                &format!("{kind} bounced: {status}"),
                cause,
            )?;
        }
    }
    for email in &bounce.recipients {
        let contact: Option<ContactId> = conn
            .prepare_cached("SELECT id FROM contacts WHERE email = ?1")?
            .query_row([email], |r| r.get(0))
            .optional()?;
        // Only people we know can bounce; anything else is someone else's mail.
        let Some(contact) = contact else { continue };
        bounce_contact(conn, contact, status, tracking, rules, now, cause)?;
    }
    Ok(())
}

/// Marks a contact's address bounced (keeping when it first bounced) in every referral they
/// take part in, with an event in each, and replans those referrals so that their pending
/// mail is cancelled.
pub(super) fn bounce_contact(
    conn: &Connection,
    contact: ContactId,
    status: &str,
    tracking: &str,
    rules: &Rules,
    now: DateTime<Utc>,
    cause: Option<&str>,
) -> Result<()> {
    let email: String = conn
        .prepare_cached(
            "UPDATE contacts SET bounced_at = coalesce(bounced_at, ?2), bounce_status = ?3
             WHERE id = ?1 RETURNING email",
        )?
        .query_row(params![contact, ts(now), status], |r| r.get(0))?;
    let detail = format!("mail to {email} bounced: {status}");
    for r in set_state_everywhere(conn, contact, PartyState::Bounced)? {
        event(conn, Some(r), now, "bounced", &detail, cause)?;
        replan(conn, r, tracking, rules, now)?;
    }
    Ok(())
}

/// Sets a contact's state in every referral they take part in (opting out and bouncing are
/// about the address); returns the referrals touched.
fn set_state_everywhere(
    conn: &Connection,
    contact: ContactId,
    state: PartyState,
) -> Result<Vec<ReferralId>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE participants SET state = ?2 WHERE contact_id = ?1 AND state != ?2 RETURNING referral_id",
    )?;
    let touched = stmt
        .query_map(params![contact, state.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(touched)
}

pub(super) fn referral_status(conn: &Connection, referral: ReferralId) -> Result<ReferralStatus> {
    let s: String = conn
        .prepare_cached("SELECT status FROM referrals WHERE id = ?1")?
        .query_row([referral], |r| r.get(0))?;
    Ok(parse_word(&s)?)
}

pub(super) fn set_status(
    conn: &Connection,
    referral: ReferralId,
    status: ReferralStatus,
    now: DateTime<Utc>,
    why: &str,
    cause: Option<&str>,
) -> Result<()> {
    conn.prepare_cached("UPDATE referrals SET status = ?2 WHERE id = ?1")?
        .execute(params![referral, status.as_str()])?;
    event(
        conn,
        Some(referral),
        now,
        "status",
        &format!("{status}: {why}"),
        cause,
    )
}
