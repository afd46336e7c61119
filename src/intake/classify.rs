//! The classifier: one verdict per message, decided in the order of SPEC §3, loop guards
//! first. Each step is one method of [`Intake`], called in order by [`Intake::verdict`].

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};

use chrono::{DateTime, Duration, Utc};
use mail_parser::MessageParser;

use super::forward::{self, Original};
use super::message::{Field, Mail, synthetic_message_id};
use super::{
    Away, Classified, IgnoreReason, Introduction, Known, OwnerCommand, OwnerNote, ThreadHit,
    Verdict, auth, automatic, away, bounce, commands, normalize_subject, options, reply,
};
use crate::composer::FOOTER_STOP;
use crate::config::Config;
use crate::model::{Person, ReferralId, Role, normalize_email, strip_plus_detail};

/// Fields that name the mailbox a message was delivered to: how a Bcc to the tracking
/// address shows, since a Bcc leaves no trace in To or Cc.
const DELIVERY_FIELDS: &[Field] = &[
    Field::DeliveredTo,
    Field::XOriginalTo,
    Field::EnvelopeTo,
    Field::XEnvelopeTo,
];

/// Classifies one raw message (SPEC §3). Pure: it reads the message and asks `known` what
/// the store holds, and returns the verdict for the store to apply.
///
/// Never panics: bytes that are not a message come back as
/// [`IgnoreReason::Unparseable`], and should a bug panic inside the parser or here, the
/// panic is caught and the message is ignored as unparseable rather than taking the
/// daemon down.
pub fn classify(raw: &[u8], known: &dyn Known, config: &Config, now: DateTime<Utc>) -> Classified {
    panic::catch_unwind(AssertUnwindSafe(|| classify_bytes(raw, known, config, now)))
        .unwrap_or_else(|_| unparseable(raw, "the message could not be read (internal error)"))
}

fn unparseable(raw: &[u8], why: &str) -> Classified {
    Classified {
        message_id: synthetic_message_id(raw),
        from: None,
        subject: String::new(),
        date: None,
        verdict: Verdict::Ignored(IgnoreReason::Unparseable(why.to_string())),
    }
}

fn classify_bytes(
    raw: &[u8],
    known: &dyn Known,
    config: &Config,
    now: DateTime<Utc>,
) -> Classified {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return unparseable(raw, "empty message");
    }
    // mail-parser drops a last header field that no line break ends (a message cut off in
    // its header): give it one.
    let terminated;
    let bytes = if raw.ends_with(b"\n") {
        raw
    } else {
        terminated = [raw, b"\n"].concat();
        &terminated
    };
    let Some(msg) = MessageParser::default().parse(bytes) else {
        return unparseable(raw, "no header fields");
    };
    let mail = Mail::new(&msg);
    if !mail.has_mail_headers() {
        return unparseable(raw, "no mail header fields");
    }
    let message_id = mail
        .message_id()
        .map_or_else(|| synthetic_message_id(raw), str::to_string);
    let from = mail.from();
    let subject = mail.subject();
    // A Date more than a day ahead of now comes from a broken clock; the store falls back to
    // the time of arrival.
    let date = mail.date().filter(|d| *d <= now + Duration::days(1));
    let verdict = Intake {
        mail,
        known,
        config,
        message_id: &message_id,
        from: from.as_ref(),
        subject: &subject,
        written: date.map_or(now, |d| d.min(now)),
    }
    .verdict();
    Classified {
        message_id,
        from,
        subject,
        date,
        verdict,
    }
}

/// One message being classified, with what every step needs.
struct Intake<'a, 'm> {
    mail: Mail<'m>,
    known: &'a dyn Known,
    config: &'a Config,
    message_id: &'a str,
    from: Option<&'a Person>,
    subject: &'a str,
    /// When the message was written: its Date, no later than now.
    written: DateTime<Utc>,
}

impl Intake<'_, '_> {
    fn verdict(&self) -> Verdict {
        use IgnoreReason::*;

        // A message already acted on is done with, whatever it is. Ignored messages do not
        // count as seen: one must never shadow a genuine message with the same Message-ID.
        if self.known.seen(self.message_id) {
            return Verdict::Duplicate;
        }
        if self.is_own_mail() {
            return Verdict::Ignored(OwnMail);
        }
        if bounce::is_bounce(&self.mail, self.subject) {
            return match bounce::read(&self.mail, self.subject, self.known, self.config) {
                Ok(bounce) => Verdict::Bounce(bounce),
                Err(why) => Verdict::Ignored(UnverifiedBounce(why)),
            };
        }
        let Some(from) = self.from else {
            return Verdict::Ignored(NoFrom);
        };
        let thread = self.mail.thread_ids();
        let reply_like = !thread.is_empty() || crate::subject::has_reply_prefix(self.subject);
        if automatic::is_list(&self.mail, reply_like) {
            return Verdict::Ignored(List);
        }
        if automatic::is_auto_reply(&self.mail, self.subject) {
            let hit = self.thread_hit(&thread);
            return Verdict::AutoReply {
                referral: hit.as_ref().map(|hit| hit.referral),
                away: hit.and_then(|hit| self.away(from, &hit, &thread)),
            };
        }
        let mut recipients = self.mail.people(Field::To);
        recipients.extend(self.mail.people(Field::Cc));
        let tracking = self.tracking_recipients(&recipients);
        let options = options::parse(tracking.iter().map(String::as_str));
        // People write to `intros+stop@` to be left alone, on a thread or not; an opt-out of
        // the address that sent it can only make us send less.
        if options.stop {
            return Verdict::OptOut {
                email: from.email.clone(),
                referral: None,
            };
        }
        if is_owner(&from.email, self.config)
            && let Some(verdict) = self.command(from, &recipients, &tracking, &thread, reply_like)
        {
            return verdict;
        }
        if let Some(verdict) = self.reply(from, &thread, reply_like) {
            return verdict;
        }

        if tracking.is_empty() {
            return Verdict::Ignored(NotAddressed);
        }
        // The mailto: List-Unsubscribe our mail carries writes exactly this.
        if is_stop_subject(self.subject) {
            return Verdict::OptOut {
                email: from.email.clone(),
                referral: None,
            };
        }
        let verdict = self.introduction(from, recipients, options);
        // Only here, where it would start a referral and its mail: a loop sign on a bounce,
        // an auto-reply or a reply does not change what those are.
        if matches!(verdict, Verdict::Introduction(_))
            && let Some(sign) = self.loop_sign()
        {
            return Verdict::Ignored(Loop(sign));
        }
        verdict
    }

    /// Why this message may be part of a mail loop, if it may: a null Return-Path (what
    /// auto-responders and mail systems send with), an `X-Loop` naming the tracking address,
    /// one of our Message-IDs among the ids it answers, or our footer quoted in its text (a
    /// helpdesk robot at an allowed address that opens a ticket with our mail in it).
    fn loop_sign(&self) -> Option<&'static str> {
        if self.has_null_return_path() {
            return Some("null Return-Path");
        }
        let names_tracking = |value: &str| {
            value
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|a| is_tracking(&normalize_email(a.trim_matches(['<', '>'])), self.config))
        };
        if self.mail.texts(Field::XLoop).any(names_tracking) {
            return Some("X-Loop names the tracking address");
        }
        let ours = |id: &str| is_our_message_id(id, self.config);
        if self.mail.thread_ids().iter().any(|id| ours(id))
            || self.mail.references().into_iter().any(ours)
        {
            return Some("it refers to a message referrald sent");
        }
        // Squashing is the costly part: only a body that says "stop" somewhere can quote us,
        // and most say nothing of the kind, so not even our own footer is squashed before.
        let quotes = |text: Option<&str>, html: bool| {
            text.is_some_and(|t| {
                mentions_stop(t) && squash(t, html).contains(&squash(FOOTER_STOP, false))
            })
        };
        if quotes(self.mail.plain_body(), false) || quotes(self.mail.html_body(), true) {
            return Some("it quotes referrald's footer");
        }
        None
    }

    /// The owner's command, when this message from the owner is one (see [`commands`]).
    ///
    /// The rule: a message from the owner is a command only when it is written to us alone —
    /// nobody but the tracking address and the owner's own addresses in To and Cc (anyone else
    /// copied makes it an introduction or a conversation with them) — and
    /// - on a referral's thread (a reply to our mail, to a notice, or to the introduction),
    ///   its first unquoted line starts with a command word; other words are a reply as before;
    /// - fresh (on no thread we know, addressed to the tracking address, not a forwarded
    ///   introduction), its first line is the command, and one that is no command word is
    ///   answered with the help text (such a message was ignored before: too few parties).
    ///
    /// It is checked as `[intake]` checks introductions (`require-authentication`): a command
    /// in the owner's name that fails is ignored, unanswered. Loop guards come first: our
    /// own mail, bounces and auto-replies never get here, and a command with a null
    /// Return-Path or our `X-Loop` is a loop, not the owner.
    fn command(
        &self,
        from: &Person,
        recipients: &[Person],
        tracking: &[String],
        thread: &[String],
        reply_like: bool,
    ) -> Option<Verdict> {
        let config = self.config;
        if recipients
            .iter()
            .any(|p| !is_tracking(&p.email, config) && !is_owner(&p.email, config))
        {
            return None;
        }
        let words = self.own_words();
        let first = words.lines().find(|l| !l.trim().is_empty());
        let written = first.unwrap_or_else(|| crate::subject::topic(self.subject));
        let line = commands::parse(written);
        let notice = if thread.is_empty() {
            None
        } else {
            self.known.notice_of(thread)
        };
        let hit = self.thread_hit(thread);
        let thread_referral = match (&notice, &hit) {
            (Some(referral), _) => *referral,
            (None, Some(hit)) => Some(hit.referral),
            (None, None) if reply_like => {
                let subject = normalize_subject(self.subject);
                self.addresses_of(from)
                    .iter()
                    .find_map(|a| self.known.referral_by_subject(&subject, a))
            }
            (None, None) => None,
        };
        let on_thread = notice.is_some() || thread_referral.is_some();
        // A forwarded introduction is one, whatever the owner wrote above it ("note: track
        // this one").
        if !on_thread && forward::original(&self.mail, self.subject).is_some() {
            return None;
        }
        if line == commands::Line::NotACommand {
            if notice.is_some() {
                return Some(Verdict::Ignored(IgnoreReason::NoticeReply));
            }
            // On a thread, other words are a reply; a fresh message must be to us.
            if on_thread || tracking.is_empty() || self.loop_sign().is_some() {
                return None;
            }
        }
        if config.intake.require_authentication
            && let Err(why) = self.authenticated(from)
        {
            return Some(Verdict::Ignored(IgnoreReason::UnverifiedCommand(why)));
        }
        if self.has_null_return_path() {
            return Some(Verdict::Ignored(IgnoreReason::Loop("null Return-Path")));
        }
        let names_tracking = |value: &str| {
            value
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|a| is_tracking(&normalize_email(a.trim_matches(['<', '>'])), config))
        };
        if self.mail.texts(Field::XLoop).any(names_tracking) {
            return Some(Verdict::Ignored(IgnoreReason::Loop(
                "X-Loop names the tracking address",
            )));
        }
        let named = match &line {
            commands::Line::Command { referral, .. } => *referral,
            _ => None,
        }
        .or_else(|| commands::referral_in_subject(self.subject));
        Some(Verdict::Command(OwnerCommand {
            owner: from.clone(),
            written: commands::cut(written, 200).to_string(),
            line,
            named,
            thread: thread_referral,
            references: chain(self.mail.references(), self.message_id),
        }))
    }

    /// Whether `Return-Path` is `<>`: the null sender of mail that must not be answered.
    fn has_null_return_path(&self) -> bool {
        use mail_parser::{Address, HeaderValue};
        self.mail.fields(Field::ReturnPath).any(|h| match &h.value {
            HeaderValue::Text(t) => t.trim().trim_matches(['<', '>']).trim().is_empty(),
            HeaderValue::TextList(list) => list
                .iter()
                .all(|t| t.trim().trim_matches(['<', '>']).trim().is_empty()),
            HeaderValue::Address(Address::List(list)) => list
                .iter()
                .all(|a| a.address.as_deref().is_none_or(|a| a.trim().is_empty())),
            HeaderValue::Empty => true,
            _ => false,
        })
    }

    /// Mail we sent, come back: from the tracking address, marked with our header, or
    /// carrying one of our Message-IDs (`referrald.<token>@<tracking domain>`).
    fn is_own_mail(&self) -> bool {
        self.from
            .is_some_and(|f| is_tracking(&f.email, self.config))
            || self.mail.has(Field::ReferraldKind)
            || self
                .message_id
                .rsplit_once('@')
                .is_some_and(|(local, domain)| {
                    local.starts_with("referrald.")
                        && domain.eq_ignore_ascii_case(self.config.tracking.domain())
                })
    }

    fn thread_hit(&self, thread: &[String]) -> Option<ThreadHit> {
        if thread.is_empty() {
            None
        } else {
            self.known.thread_of(thread)
        }
    }

    /// A reply on a referral's thread, matched by its thread ids, else (when it looks like a
    /// reply) by subject and sender. `None` when it belongs to no referral.
    fn reply(&self, from: &Person, thread: &[String], reply_like: bool) -> Option<Verdict> {
        // `answers_us`: Some(true) when it answers one of our messages, Some(false) when it
        // answers the introduction's thread, None when only the subject matched.
        let addresses = self.addresses_of(from);
        let hit = self.thread_hit(thread);
        let (referral, answers_us) = match &hit {
            Some(hit) => (hit.referral, Some(hit.outbound.is_some())),
            None if reply_like => {
                let subject = normalize_subject(self.subject);
                let referral = addresses
                    .iter()
                    .find_map(|a| self.known.referral_by_subject(&subject, a))?;
                (referral, None)
            }
            None => return None,
        };
        // The verdict names the participant by the address the referral knows them by.
        let Some((role, email)) = addresses.iter().find_map(|a| {
            self.known
                .role_in(referral, a)
                .map(|role| (role, a.clone()))
        }) else {
            // A stranger on the thread is never answered; but one who asks us to leave them
            // alone is heard, so that nothing reaches them if they are ever introduced.
            if reply::says_stop(&self.own_words(), self.subject) {
                return Some(Verdict::OptOut {
                    email: from.email.clone(),
                    referral: None,
                });
            }
            return Some(Verdict::Ignored(IgnoreReason::Stranger(from.email.clone())));
        };
        let words = self.own_words();
        if let Err(why) = self.verify_reply(from, &addresses, referral, hit.as_ref(), thread) {
            // STOP is honoured from anyone, failing safe; but a From line anyone could have
            // written speaks only for that exact address, not for the participant it names.
            if reply::says_stop(&words, self.subject) {
                return Some(Verdict::OptOut {
                    email: from.email.clone(),
                    referral: None,
                });
            }
            return Some(Verdict::Ignored(IgnoreReason::UnverifiedReply(why)));
        }
        if reply::says_stop(&words, self.subject) {
            return Some(Verdict::OptOut {
                email,
                referral: Some(referral),
            });
        }
        let from = Person {
            email,
            name: from.name.clone(),
        };
        // Which of our messages it answers decides whether a rating was asked for.
        let answered = hit
            .as_ref()
            .and_then(|h| h.outbound.as_ref())
            .map(|(kind, _)| *kind);
        // What the owner says on the thread ("thanks, Bob!", "are you free Thursday?") spares
        // the recipients our saying it again.
        let note = if is_owner(&from.email, self.config) {
            self.owner_note(referral, &words)
        } else {
            OwnerNote::default()
        };
        Some(match (answers_us, role) {
            (Some(true), Role::Party) => Verdict::Feedback {
                referral,
                from,
                reading: reply::read(&words, answered),
            },
            (None, Role::Party) => {
                let reading = reply::read(&words, answered);
                if reading.rating.is_some() || reading.outcome.is_some() {
                    Verdict::Feedback {
                        referral,
                        from,
                        reading,
                    }
                } else {
                    Verdict::ThreadReply {
                        referral,
                        from,
                        note,
                    }
                }
            }
            _ => Verdict::ThreadReply {
                referral,
                from,
                note,
            },
        })
    }

    /// What the owner's message on `referral`'s thread says: thanks count only when the
    /// introducer is among its recipients.
    fn owner_note(&self, referral: ReferralId, words: &str) -> OwnerNote {
        let mut note = reply::owner_note(words);
        if note.thanks {
            let mut recipients = self.mail.people(Field::To);
            recipients.extend(self.mail.people(Field::Cc));
            note.thanks = recipients.iter().any(|p| {
                self.known.role_in(referral, &p.email) == Some(Role::Introducer)
                    && !is_owner(&p.email, self.config)
            });
        }
        note
    }

    /// The return date an auto-reply on a referral's thread names, when it proves it comes
    /// from a participant: it names a message we sent to the sender, or it is authenticated.
    /// Proof is asked whatever `require-authentication` says: a forged out-of-office must not
    /// silence anyone.
    fn away(&self, from: &Person, hit: &ThreadHit, thread: &[String]) -> Option<Away> {
        let addresses = self.addresses_of(from);
        let email = addresses
            .iter()
            .find(|a| self.known.role_in(hit.referral, a).is_some())?;
        let proven = hit.went_to(&addresses)
            || self
                .known
                .sent_to(thread, &addresses)
                .is_some_and(|h| h.referral == hit.referral)
            || self.authenticated(from).is_ok();
        if !proven {
            return None;
        }
        let written = self
            .written
            .with_timezone(&self.config.owner.timezone)
            .date_naive();
        let text = format!("{}\n{}", self.subject, self.own_words());
        Some(Away {
            email: email.clone(),
            back_on: away::return_date(&text, written)?,
        })
    }

    /// Whether a reply proves it comes from its sender, when `require-authentication` asks
    /// for proof (off, the owner trusts From lines). It does when it names, in
    /// `In-Reply-To`/`References`, a message we sent to one of the sender's `addresses` —
    /// only a recipient knows our Message-IDs — or when it is authenticated. Naming only the
    /// introduction (whose Message-ID every participant and the introducer's contacts know) or
    /// matching only by subject needs authentication. `Err` says why it proved nothing.
    fn verify_reply(
        &self,
        from: &Person,
        addresses: &[String],
        referral: ReferralId,
        hit: Option<&ThreadHit>,
        thread: &[String],
    ) -> Result<(), String> {
        if !self.config.intake.require_authentication || hit.is_some_and(|h| h.went_to(addresses)) {
            return Ok(());
        }
        let Err(why) = self.authenticated(from) else {
            return Ok(());
        };
        // The first id found may be the introduction's, with ours further down References.
        let ours = hit.is_some()
            && self
                .known
                .sent_to(thread, addresses)
                .is_some_and(|h| h.referral == referral);
        if ours {
            return Ok(());
        }
        Err(format!(
            "{} names no message we sent to that address, and is not authenticated ({why})",
            from.email
        ))
    }

    /// The authenticity check of `require-authentication` for the sender's domain.
    fn authenticated(&self, from: &Person) -> Result<(), String> {
        let domain = from.email.rsplit_once('@').map_or("", |(_, d)| d);
        let results = self.mail.receiving_authentication_results();
        auth::check(results, domain, &self.config.intake.trusted_authserv_ids)
    }

    /// The addresses a sender may take part under: their own, without its `+detail`, and
    /// for the owner every address of the owner's (a referral knows the owner by one).
    fn addresses_of(&self, from: &Person) -> Vec<String> {
        let mut addresses = vec![from.email.clone()];
        let base = strip_plus_detail(&from.email);
        if base != from.email {
            addresses.push(base);
        }
        if is_owner(&from.email, self.config) {
            for email in &self.config.owner.emails {
                if !addresses.contains(email) {
                    addresses.push(email.clone());
                }
            }
        }
        addresses
    }

    fn own_words(&self) -> String {
        reply::own_words(self.mail.plain_body(), self.mail.html_body())
    }

    /// The tracking address and its `+detail` variants the message was sent to (lower-cased):
    /// in To or Cc, or for a Bcc in the delivery fields or a `Received: … for <address>`
    /// clause. Their details are the referral's options.
    fn tracking_recipients(&self, recipients: &[Person]) -> Vec<String> {
        let mut found: Vec<String> = recipients
            .iter()
            .chain(self.mail.people(Field::Bcc).iter())
            .map(|p| p.email.clone())
            .filter(|a| is_tracking(a, self.config))
            .collect();
        for field in DELIVERY_FIELDS {
            for value in self.mail.texts(*field) {
                found.extend(
                    value
                        .split(',')
                        .map(normalize_email)
                        .filter(|a| is_tracking(a, self.config)),
                );
            }
        }
        found.extend(self.mail.fields(Field::Received).filter_map(|h| {
            match &h.value {
                mail_parser::HeaderValue::Received(r) => r
                    .for_()
                    .map(normalize_email)
                    .filter(|a| is_tracking(a, self.config)),
                _ => None,
            }
        }));
        found
    }

    /// A new introduction, direct or forwarded.
    ///
    /// Forwarded introductions: when the message names fewer than two parties itself and is
    /// a forward, the forwarded original decides. Its From is the introducer; the forwarder
    /// only has to be allowed — it is the introducer forwarding their own introduction, or
    /// the owner (or another allowed sender) forwarding one they received, who is then a
    /// party when the original was addressed to them. The authenticity check, when on,
    /// applies to the forwarder, the only sender we can check. An original whose From shows
    /// no address (Outlook prints only the name of people in the address book) leaves the
    /// forwarder as the introducer.
    fn introduction(
        &self,
        from: &Person,
        recipients: Vec<Person>,
        options: options::Options,
    ) -> Verdict {
        let config = self.config;
        if !is_allowed(&from.email, config) {
            // Anyone may ask us to leave them alone, even in a message of their own.
            if reply::says_stop(&self.own_words(), self.subject) {
                return Verdict::OptOut {
                    email: from.email.clone(),
                    referral: None,
                };
            }
            return Verdict::Ignored(IgnoreReason::NotAllowed(from.email.clone()));
        }
        if config.intake.require_authentication
            && let Err(why) = self.authenticated(from)
        {
            return Verdict::Ignored(IgnoreReason::Unauthenticated(why));
        }

        let direct = parties(recipients, from, config);
        if direct.len() < 2
            && let Some(original) = forward::original(&self.mail, self.subject)
        {
            return self.forwarded(from, original, options);
        }
        let references = chain(self.mail.references(), self.message_id);
        self.introduced(Introduction {
            introducer: from.clone(),
            parties: direct,
            copied: Vec::new(),
            subject: self.subject.to_string(),
            thread_root: self.message_id.to_string(),
            references,
            forwarded: false,
            options,
        })
    }

    fn forwarded(
        &self,
        forwarder: &Person,
        original: Original,
        options: options::Options,
    ) -> Verdict {
        let introducer = original.from.unwrap_or_else(|| forwarder.clone());
        let parties = parties(original.recipients, &introducer, self.config);
        let subject = original
            .subject
            .unwrap_or_else(|| crate::subject::strip_forward_prefixes(self.subject).to_string());
        let (thread_root, references) = match original.message_id {
            Some(id) => (id.clone(), chain(original.references, &id)),
            None => (
                self.message_id.to_string(),
                chain(self.mail.references(), self.message_id),
            ),
        };
        self.introduced(Introduction {
            introducer,
            parties,
            copied: Vec::new(),
            subject,
            thread_root,
            references,
            forwarded: true,
            options,
        })
    }

    /// The introduction, if its party count is within bounds. A forgotten person is no
    /// party, and a forgotten introducer's introduction is not recorded: either would store
    /// their address again.
    fn introduced(&self, mut intro: Introduction) -> Verdict {
        if self.known.is_forgotten(&intro.introducer.email) {
            return Verdict::Ignored(IgnoreReason::Forgotten);
        }
        intro.parties.retain(|p| !self.known.is_forgotten(&p.email));
        // The words say who people are: names for bare addresses, and who is only copied.
        // Reading them is intake's costliest step, so only when they could change anything.
        let (plain, html) = (self.mail.plain_body(), self.mail.html_body());
        if super::names::may_recast(&intro.parties, plain, html) {
            let cast = super::names::cast(std::mem::take(&mut intro.parties), &self.own_words());
            intro.parties = cast.parties;
            intro.copied = cast.copied;
        }
        let n = intro.parties.len();
        if n < 2 {
            Verdict::Ignored(IgnoreReason::TooFewParties)
        } else if n > self.config.intake.max_parties {
            Verdict::Ignored(IgnoreReason::TooManyParties(n))
        } else {
            Verdict::Introduction(intro)
        }
    }
}

/// The parties among an introduction's recipients (SPEC §3): everyone but the introducer,
/// the tracking address and its `+detail` variants, the owner's other addresses when the
/// owner introduces, and never-party addresses; each once, in the order addressed.
pub(crate) fn parties(
    recipients: Vec<Person>,
    introducer: &Person,
    config: &Config,
) -> Vec<Person> {
    /// Up to this many recipients, a scan of those kept so far beats hashing.
    const SCAN_LIMIT: usize = 16;
    let owner_introduces = is_owner(&introducer.email, config);
    // A hostile To line can hold thousands of addresses: past a handful, a set.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut keep: Vec<bool> = Vec::with_capacity(recipients.len());
    for (i, person) in recipients.iter().enumerate() {
        let email = person.email.as_str();
        let excluded = email == introducer.email
            || is_tracking(email, config)
            || (owner_introduces && is_owner(email, config))
            || is_never_party(email, config)
            || is_machine(email);
        let first = if recipients.len() <= SCAN_LIMIT {
            !recipients
                .iter()
                .zip(&keep)
                .take(i)
                .any(|(earlier, kept)| *kept && earlier.email == email)
        } else {
            seen.insert(email)
        };
        keep.push(!excluded && first);
    }
    recipients
        .into_iter()
        .zip(keep)
        .filter_map(|(person, keep)| keep.then_some(person))
        .collect()
}

/// Whether a (lower-cased) address belongs to a machine that must never get our mail: a
/// no-reply sender, a mailer daemon, a bounce handler. Such an address in Cc is not a party.
fn is_machine(email: &str) -> bool {
    let local = strip_plus_detail(email);
    let local = local.split('@').next().unwrap_or("");
    let squashed: String = local
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .collect();
    matches!(
        squashed.as_str(),
        "noreply" | "donotreply" | "mailerdaemon" | "postmaster" | "bounce" | "bounces"
    ) || squashed.starts_with("noreply")
        || squashed.starts_with("donotreply")
}

/// Whether a (lower-cased) address is one of the owner's, `+detail` variants included.
fn is_owner(email: &str, config: &Config) -> bool {
    config.owner.is_owner(email) || config.owner.is_owner(&strip_plus_detail(email))
}

/// Whether a (lower-cased) address may introduce: the owner's, or one `accept-from` lets in.
/// A `+detail` variant (`bob+crm@x`) is its owner's mailbox and is allowed with it: forging
/// one is no easier than forging the plain address.
fn is_allowed(email: &str, config: &Config) -> bool {
    let base = strip_plus_detail(email);
    is_owner(email, config) || config.intake.accepts(email) || config.intake.accepts(&base)
}

/// An address as (local part without its `+detail`, domain).
fn without_detail(email: &str) -> (&str, &str) {
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    (local.split('+').next().unwrap_or(local), domain)
}

/// Whether a (lower-cased) address is the tracking address or a `+detail` variant of it.
fn is_tracking(email: &str, config: &Config) -> bool {
    let tracking = config.tracking.address.as_str();
    email == tracking || without_detail(email) == without_detail(tracking)
}

/// Whether a Message-ID (without brackets) is one referrald gave its own mail:
/// `referrald.<hex>.<hex>@<tracking domain>` (see `new_message_id` in the store).
fn is_our_message_id(id: &str, config: &Config) -> bool {
    let Some((local, domain)) = id.rsplit_once('@') else {
        return false;
    };
    let hex = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_hexdigit());
    domain.eq_ignore_ascii_case(config.tracking.domain())
        && local
            .strip_prefix("referrald.")
            // A notice to the owner: `referrald.notice.<hex>.<hex>`.
            .map(|rest| rest.strip_prefix("notice.").unwrap_or(rest))
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(row, random)| hex(row) && hex(random))
}

/// Whether `text` holds "STOP", as our footer writes it: a text without it cannot quote the
/// footer (quoting and wrapping change no letter's case).
fn mentions_stop(text: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), b"STOP").is_some()
}

/// `text` reduced to its letters and digits, lower-cased, for finding a sentence however
/// it was quoted (`> `, `>> `), wrapped, spaced or punctuated (a typographic apostrophe).
/// For HTML, tags (`<br>`, `<blockquote>`) and character references (`&nbsp;`, `&#39;`)
/// are left out first.
fn squash(text: &str, html: bool) -> String {
    /// The longest character reference skipped (`&thetasym;`); a lone `&` is just text.
    const MAX_REFERENCE: usize = 10;
    let mut out = String::with_capacity(text.len() / 2);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if html && c == '<' {
            match rest.find('>') {
                Some(end) => {
                    rest = &rest[end + 1..];
                    continue;
                }
                None => break,
            }
        }
        if html
            && c == '&'
            && let Some(end) = rest
                .get(..MAX_REFERENCE.min(rest.len()))
                .and_then(|h| h.find(';'))
        {
            rest = &rest[end + 1..];
            continue;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether a (lower-cased) address is configured never to be a party: listed, listed
/// without its `+detail` (CRM BCC addresses carry one), or under a listed `*@domain`.
fn is_never_party(email: &str, config: &Config) -> bool {
    let (base, domain) = without_detail(email);
    config
        .intake
        .never_party
        .iter()
        .any(|entry| match entry.strip_prefix("*@") {
            Some(d) => d == domain,
            None => entry == email || without_detail(entry) == (base, domain),
        })
}

/// Whether a subject is just "unsubscribe" or "stop" (after any reply prefixes).
fn is_stop_subject(subject: &str) -> bool {
    // Only a subject ending in the word can be one: spare every introduction the normalising.
    let ends_with = |word: &str| {
        let t = subject.trim_end();
        t.get(t.len().saturating_sub(word.len())..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(word))
    };
    (ends_with("stop") || ends_with("unsubscribe"))
        && matches!(normalize_subject(subject).as_str(), "unsubscribe" | "stop")
}

/// A References chain ending with `id`.
fn chain<S: AsRef<str>>(references: Vec<S>, id: &str) -> Vec<String> {
    let mut chain: Vec<String> = references
        .iter()
        .map(|r| r.as_ref())
        .filter(|r| *r != id)
        .map(str::to_string)
        .collect();
    chain.push(id.to_string());
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::testing::config(
            r#"
[owner]
emails = ["alice@brightside.example", "alice.smith@gmail.example"]
[intake]
accept-from = ["*@brightside.example"]
never-party = ["assistant@brightside.example", "crm@hub.example", "*@bcc.crm.example"]
"#,
        )
    }

    fn people(list: &[&str]) -> Vec<Person> {
        list.iter().map(|e| Person::new(e, None)).collect()
    }

    fn emails(people: &[Person]) -> Vec<&str> {
        people.iter().map(|p| p.email.as_str()).collect()
    }

    #[test]
    fn machines_are_never_parties() {
        let c = config();
        let bob = Person::new("bob@brightside.example", None);
        let got = parties(
            people(&[
                "no-reply@accounts.example",
                "noreply+x@x.example",
                "Do_Not_Reply@bank.example",
                "MAILER-DAEMON@mx.example",
                "fred@x.example",
                "norene@y.example",
            ]),
            &bob,
            &c,
        );
        let got: Vec<&str> = got.iter().map(|p| p.email.as_str()).collect();
        assert_eq!(got, ["fred@x.example", "norene@y.example"]);
    }

    #[test]
    fn parties_exclude_introducer_tracking_never_party_and_duplicates() {
        let c = config();
        let bob = Person::new("bob@brightside.example", None);
        let got = parties(
            people(&[
                "Fred@X.example",
                "intros@tracker.example.org",
                "intros+bob@tracker.example.org",
                "bob@brightside.example",
                "assistant@brightside.example",
                "crm+4711@hub.example",
                "deals@bcc.crm.example",
                "fred@x.example",
                "sally@y.example",
                "alice@brightside.example",
            ]),
            &bob,
            &c,
        );
        assert_eq!(
            emails(&got),
            [
                "fred@x.example",
                "sally@y.example",
                "alice@brightside.example"
            ]
        );
    }

    #[test]
    fn the_owner_introducing_is_no_party_under_another_address() {
        let c = config();
        let alice = Person::new("alice@brightside.example", None);
        let got = parties(
            people(&[
                "alice.smith@gmail.example",
                "fred@x.example",
                "sally@y.example",
            ]),
            &alice,
            &c,
        );
        assert_eq!(emails(&got), ["fred@x.example", "sally@y.example"]);
    }

    #[test]
    fn stop_subjects() {
        for s in ["unsubscribe", "STOP", " Re: Stop ", "AW: unsubscribe"] {
            assert!(is_stop_subject(s), "{s}");
        }
        for s in [
            "Intro: stop doing your own books",
            "Please stop",
            "stop it",
            "",
            "é",
        ] {
            assert!(!is_stop_subject(s), "{s}");
        }
    }

    #[test]
    fn chains_end_with_the_root_once() {
        assert_eq!(chain(vec!["a", "b", "c"], "b"), ["a", "c", "b"]);
        assert_eq!(chain(Vec::<String>::new(), "x"), ["x"]);
    }

    #[test]
    fn tracking_variants_match() {
        let c = config();
        assert!(is_tracking("intros@tracker.example.org", &c));
        assert!(is_tracking("intros+vip@tracker.example.org", &c));
        assert!(!is_tracking("intros@tracker.example.com", &c));
        assert!(!is_tracking("intros2@tracker.example.org", &c));
        assert!(!is_tracking("intros", &c));
    }

    /// Harm guarded against: our own mail, quoted back by a robot, read as a new
    /// introduction and answered, and so on for ever.
    #[test]
    fn our_footer_is_found_however_it_was_quoted_or_wrapped() {
        let footer = squash(FOOTER_STOP, false);
        let plain = "> -- \n> Sent automatically on behalf of A. Reply STOP and you won\u{2019}t\n>> get any more of these\n> notes.";
        assert!(squash(plain, false).contains(&footer));
        let html = "<blockquote>Reply <b>STOP</b> and&nbsp;you won&#39;t get<br>\nany more of these notes.</blockquote>";
        assert!(squash(html, true).contains(&footer));
        // Markup left in would split the words: "Reply<br>STOP" must not read "replybrstop".
        assert!(!squash("Reply<br>STOP", false).contains("replystop"));
        assert!(squash("Reply<br>STOP", true).contains("replystop"));
        for other in [
            "Reply STOP to unsubscribe from these notes.",
            "you won't get any more of these notes",
            "<a & b; c>",
        ] {
            assert!(!squash(other, true).contains(&footer), "{other}");
        }
    }

    #[test]
    fn our_message_ids_are_recognised_by_their_shape_and_domain() {
        let c = config();
        assert!(is_our_message_id(
            "referrald.1f.0a3b5c7d9e11@tracker.example.org",
            &c
        ));
        assert!(is_our_message_id("referrald.1.a@TRACKER.example.org", &c));
        for other in [
            "referrald.1f.0a3b5c7d9e11@tracker.example.com",
            "referrald.1f@tracker.example.org",
            "referrald.xyz.12@tracker.example.org",
            "referrald..12@tracker.example.org",
            "xreferrald.1.2@tracker.example.org",
            "referrald.1.2",
        ] {
            assert!(!is_our_message_id(other, &c), "{other}");
        }
    }

    /// Referral 1: Bob introduced Fred and Sally (`intro-1@mail.example`, "Intro: Fred <>
    /// Sally"); we sent Fred a follow-up (`FU_FRED`), Sally one (`FU_SALLY`) and Alice, the
    /// owner, a nudge (`NUDGE`), as if she were a party too.
    struct OneReferral;

    const FU_FRED: &str = "referrald.a.1f2e3d4c5b6a@tracker.example.org";
    const FU_SALLY: &str = "referrald.b.6a5b4c3d2e1f@tracker.example.org";
    const NUDGE: &str = "referrald.c.0123456789ab@tracker.example.org";
    const FB_SALLY: &str = "referrald.d.ba9876543210@tracker.example.org";
    const INTRO: &str = "intro-1@mail.example";
    const FRED: &str = "fred@fredsbooks.example";
    const SALLY: &str = "sally@leedesign.example";

    impl Known for OneReferral {
        fn seen(&self, _: &str) -> bool {
            false
        }
        fn thread_of(&self, ids: &[String]) -> Option<ThreadHit> {
            use crate::model::OutboundKind::{FeedbackRequest, FollowUp, OwnerNudge};
            ids.iter().find_map(|id| {
                let outbound = match id.as_str() {
                    INTRO => None,
                    FU_FRED => Some((FollowUp, FRED.to_string())),
                    FU_SALLY => Some((FollowUp, SALLY.to_string())),
                    NUDGE => Some((OwnerNudge, "alice@brightside.example".to_string())),
                    FB_SALLY => Some((FeedbackRequest, SALLY.to_string())),
                    _ => return None,
                };
                Some(ThreadHit {
                    referral: 1,
                    outbound,
                })
            })
        }
        fn referral_by_subject(&self, subject: &str, email: &str) -> Option<ReferralId> {
            (subject == normalize_subject("Intro: Fred <> Sally")
                && self.role_in(1, email).is_some())
            .then_some(1)
        }
        fn role_in(&self, referral: ReferralId, email: &str) -> Option<Role> {
            match (referral, email) {
                (1, "bob@brightside.example") => Some(Role::Introducer),
                (1, FRED | SALLY | "alice@brightside.example") => Some(Role::Party),
                _ => None,
            }
        }
    }

    /// The test configuration with `require-authentication` as given.
    fn config_with_auth(required: bool) -> Config {
        crate::config::testing::config(&format!(
            "[owner]\nemails = [\"alice@brightside.example\", \"alice.smith@gmail.example\"]\n\
             [intake]\naccept-from = [\"*@brightside.example\"]\n\
             require-authentication = {required}\n\
             trusted-authserv-ids = [\"mx.tracker.example.org\"]\n"
        ))
    }

    /// A reply to the tracking address; `headers` are added as written (threading,
    /// Authentication-Results).
    fn reply_from(from: &str, headers: &str, subject: &str, body: &str) -> Vec<u8> {
        format!(
            "From: {from}\r\nTo: intros@tracker.example.org\r\nSubject: {subject}\r\n\
             Message-ID: <reply-{n}@mail.example>\r\n{headers}\r\n{body}\r\n",
            n = from.len() + headers.len() + body.len(),
        )
        .into_bytes()
    }

    fn verdict(raw: &[u8], required: bool) -> Verdict {
        let now = chrono::Utc::now();
        classify(raw, &OneReferral, &config_with_auth(required), now).verdict
    }

    fn answers(id: &str) -> String {
        format!("In-Reply-To: <{id}>\r\nReferences: <{INTRO}> <{id}>\r\n")
    }

    const TRUSTED_PASS: &str = "Authentication-Results: mx.tracker.example.org; dkim=pass header.d=fredsbooks.example; dmarc=pass header.from=fredsbooks.example\r\n";
    const SUBJECT: &str = "Re: Intro: Fred <> Sally";
    const GLOWING: &str = "5/5, we signed! Details at http://phish.example";

    fn is_unverified(v: &Verdict) -> bool {
        matches!(v, Verdict::Ignored(IgnoreReason::UnverifiedReply(_)))
    }

    // Harm guarded against: a forged "5/5, won" matched by subject alone recorded as feedback
    // and quoted to the introducer.
    #[test]
    fn a_reply_matched_only_by_subject_needs_authentication() {
        let forged = reply_from(FRED, "", SUBJECT, GLOWING);
        let v = verdict(&forged, true);
        assert!(is_unverified(&v), "{v:?}");
        let why = v.reason().unwrap();
        assert!(
            why.contains(FRED) && why.contains("not authenticated"),
            "{why}"
        );
        // Authenticated by our own server, the same reply is feedback.
        let genuine = reply_from(FRED, TRUSTED_PASS, SUBJECT, GLOWING);
        assert!(matches!(verdict(&genuine, true), Verdict::Feedback { .. }));
        // Results written by a server we do not trust prove nothing.
        let planted = TRUSTED_PASS.replace("mx.tracker.example.org", "mx.attacker.example");
        let untrusted = reply_from(FRED, &planted, SUBJECT, GLOWING);
        assert!(is_unverified(&verdict(&untrusted, true)));
        // Trusted results for another domain than the From's prove nothing either.
        let other = TRUSTED_PASS.replace("fredsbooks.example", "attacker.example");
        assert!(is_unverified(&verdict(
            &reply_from(FRED, &other, SUBJECT, GLOWING),
            true
        )));
    }

    #[test]
    fn a_reply_naming_our_message_to_its_sender_needs_no_authentication() {
        let reply = reply_from(FRED, &answers(FU_FRED), SUBJECT, GLOWING);
        match verdict(&reply, true) {
            Verdict::Feedback { from, reading, .. } => {
                assert_eq!(from.email, FRED);
                assert_eq!(reading.rating, Some(5));
            }
            other => panic!("{other:?}"),
        }
        // Any case, and from a +detail variant: the participant as the referral knows them.
        for sender in ["Fred@FredsBooks.Example", "fred+work@fredsbooks.example"] {
            match verdict(
                &reply_from(sender, &answers(FU_FRED), SUBJECT, GLOWING),
                true,
            ) {
                Verdict::Feedback { from, .. } => assert_eq!(from.email, FRED, "{sender}"),
                other => panic!("{sender}: {other:?}"),
            }
        }
        // The owner answering our nudge from another of her addresses.
        let owner = reply_from(
            "alice.smith@gmail.example",
            &answers(NUDGE),
            SUBJECT,
            "Called him today.",
        );
        assert!(matches!(
            verdict(&owner, true),
            Verdict::ThreadReply { .. } | Verdict::Feedback { .. }
        ));
    }

    // Harm guarded against: praise in answer to a follow-up ("did you two connect?") or
    // matched only by subject recorded as a rating nobody asked for.
    #[test]
    fn praise_is_a_rating_only_in_answer_to_the_feedback_request() {
        use crate::model::Outcome::Met;
        let said = |id: &str, from: &str| {
            let raw = reply_from(from, &answers(id), SUBJECT, "We met, it went great");
            match verdict(&raw, false) {
                Verdict::Feedback { reading, .. } => (reading.rating, reading.outcome),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(said(FU_FRED, FRED), (None, Some(Met)));
        assert_eq!(said(FB_SALLY, SALLY), (Some(4), Some(Met)));
        let by_subject = reply_from(SALLY, "", SUBJECT, "Great intro, thanks!");
        assert!(matches!(
            verdict(&by_subject, false),
            Verdict::ThreadReply { .. }
        ));
    }

    // Harm guarded against: anyone who saw one party's mail (the other party, a forwardee)
    // answering in that party's name.
    #[test]
    fn a_reply_naming_our_message_to_someone_else_needs_authentication() {
        let reply = reply_from(SALLY, &answers(FU_FRED), SUBJECT, GLOWING);
        assert!(is_unverified(&verdict(&reply, true)));
        // The introduction's Message-ID is known to everyone it was sent to: not proof.
        let intro_only = format!("In-Reply-To: <{INTRO}>\r\nReferences: <{INTRO}>\r\n");
        let reply = reply_from(FRED, &intro_only, SUBJECT, "Thanks Bob, will call.");
        assert!(is_unverified(&verdict(&reply, true)));
        let authenticated = format!("{intro_only}{TRUSTED_PASS}");
        let reply = reply_from(FRED, &authenticated, SUBJECT, "Thanks Bob, will call.");
        assert!(matches!(verdict(&reply, true), Verdict::ThreadReply { .. }));
    }

    #[test]
    fn our_message_further_down_the_references_is_proof_too() {
        // Answering the introduction thread while quoting our follow-up to him.
        let headers = format!("In-Reply-To: <{INTRO}>\r\nReferences: <{FU_FRED}> <{INTRO}>\r\n");
        let reply = reply_from(FRED, &headers, SUBJECT, "Thanks Bob, will call.");
        assert!(matches!(verdict(&reply, true), Verdict::ThreadReply { .. }));
    }

    #[test]
    fn without_required_authentication_from_lines_are_trusted_as_before() {
        let forged = reply_from(FRED, "", SUBJECT, GLOWING);
        assert!(matches!(verdict(&forged, false), Verdict::Feedback { .. }));
        let reply = reply_from(SALLY, &answers(FU_FRED), SUBJECT, GLOWING);
        assert!(matches!(verdict(&reply, false), Verdict::Feedback { .. }));
    }

    // Harm guarded against: a forged STOP in a participant's name opting out the participant
    // (in every referral) — while a STOP must still never be ignored.
    #[test]
    fn an_unverified_stop_opts_out_only_the_address_that_sent_it() {
        let stop =
            |from: &str, headers: &str| verdict(&reply_from(from, headers, SUBJECT, "STOP"), true);
        match stop("fred+news@fredsbooks.example", "") {
            Verdict::OptOut { email, referral } => {
                assert_eq!(email, "fred+news@fredsbooks.example");
                assert_eq!(referral, None);
            }
            other => panic!("{other:?}"),
        }
        match stop(FRED, "") {
            Verdict::OptOut { email, referral } => {
                assert_eq!((email.as_str(), referral), (FRED, None));
            }
            other => panic!("{other:?}"),
        }
        // On our thread, it speaks for the participant in the referral, as before.
        match stop("fred+news@fredsbooks.example", &answers(FU_FRED)) {
            Verdict::OptOut { email, referral } => {
                assert_eq!((email.as_str(), referral), (FRED, Some(1)));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A delivery-status report naming `returned` (our Message-ID or not) and reporting on
    /// `reported` (Final-Recipient).
    fn dsn(from: &str, returned: &str, reported: &str) -> Vec<u8> {
        format!(
            "Return-Path: <>\r\nFrom: {from}\r\nTo: intros@tracker.example.org\r\n\
             Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{n}@mx.example>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\n\
             Reporting-MTA: dns; mx.example\r\n\r\n\
             Final-Recipient: rfc822; {reported}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
             --b\r\nContent-Type: text/rfc822-headers\r\n\r\n\
             From: Alice Smith <intros@tracker.example.org>\r\nTo: {reported}\r\n\
             Message-ID: <{returned}>\r\nSubject: Re: Intro\r\n\r\n--b--\r\n",
            n = returned.len() + reported.len()
        )
        .into_bytes()
    }

    // Harm guarded against: a stranger's forged delivery report marking a party bounced for
    // good.
    #[test]
    fn a_delivery_report_counts_only_for_our_message_and_its_recipient() {
        for required in [true, false] {
            let genuine = dsn(
                "MAILER-DAEMON@mx.fredsbooks.example",
                FU_FRED,
                "Fred@FredsBooks.example",
            );
            match verdict(&genuine, required) {
                Verdict::Bounce(b) => {
                    assert_eq!(b.recipients, [FRED]);
                    assert_eq!(b.referral, Some(1));
                    assert_eq!(b.status.as_deref(), Some("5.1.1"));
                }
                other => panic!("{other:?}"),
            }
            // A stranger naming a Message-ID of their own.
            let forged = dsn("MAILER-DAEMON@evil.example", "made-up@evil.example", FRED);
            let v = verdict(&forged, required);
            assert!(
                matches!(&v, Verdict::Ignored(IgnoreReason::UnverifiedBounce(why)) if why.contains("names no message we sent")),
                "{v:?}"
            );
            // Our Message-ID, but reporting someone it did not go to.
            let other = dsn("MAILER-DAEMON@mx.leedesign.example", FU_FRED, SALLY);
            let v = verdict(&other, required);
            assert!(
                matches!(&v, Verdict::Ignored(IgnoreReason::UnverifiedBounce(why)) if why.contains("no failure for the address")),
                "{v:?}"
            );
        }
    }

    #[test]
    fn thousands_of_recipients_are_deduplicated_in_linear_time() {
        let c = config();
        let bob = Person::new("bob@brightside.example", None);
        let many: Vec<Person> = (0..50_000)
            .map(|i| Person::new(&format!("p{}@x.example", i % 25_000), None))
            .collect();
        assert_eq!(parties(many, &bob, &c).len(), 25_000);
    }
}
