//! Bounces: which recipients failed, and which message of ours came back.
//!
//! A standard bounce is a delivery-status notification (RFC 3464): `multipart/report;
//! report-type=delivery-status` with a `message/delivery-status` part holding one block of
//! fields per recipient, and the returned message (or its header) attached. Mail systems that
//! send prose instead are recognised by their sender (null Return-Path, MAILER-DAEMON,
//! postmaster) together with a bounce subject, and read best effort: `X-Failed-Recipients`, or
//! the addresses the prose names before the copy of the returned message.

use std::borrow::Cow;

use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderValue, MessageParser, PartType};

use super::address::{find_addresses, plausible};
use super::message::{Field, Mail, part_text, part_type};
use super::{Bounce, Known, ThreadHit};
use crate::config::Config;
use crate::model::{normalize_email, strip_plus_detail};

/// Subject words of bounces, in the languages mail systems write them (lower-cased).
const BOUNCE_SUBJECTS: &[&str] = &[
    "undelivered mail",
    "undeliverable",
    "undelivered",
    "delivery status notification",
    "mail delivery failed",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "delivery notification",
    "returned mail",
    "returned to sender",
    "failure notice",
    "could not be delivered",
    "unable to deliver",
    "message not delivered",
    "delivery delayed",
    "delayed mail",
    "warning: could not send message",
    "unzustellbar",
    "nicht zustellbar",
    "non remis",
    "non distribuable",
    "non recapitabile",
    "no se puede entregar",
    "no entregado",
];

/// Lines after which a prose bounce quotes the returned message (lower-cased).
const COPY_MARKERS: &[&str] = &[
    "below this line is a copy",
    "this is a copy of the message",
    "original message follows",
    "original message headers",
    "original message was",
    "----- original message",
    "-----original message",
    "message headers follow",
    "returned message",
];

/// At most this much prose is scanned for the failed address.
const MAX_PROSE: usize = 64 * 1024;
/// At most this many recipients are taken from prose.
const MAX_PROSE_RECIPIENTS: usize = 5;
/// At most this many failed recipients are read from one bounce: ours go to one person each.
const MAX_RECIPIENTS: usize = 100;
/// Diagnostics are cut to this many characters.
const MAX_DIAGNOSTIC: usize = 300;

/// Whether the message is a bounce.
pub(crate) fn is_bounce(mail: &Mail<'_>, subject: &str) -> bool {
    if mail.content_type() == Some(("multipart", "report"))
        && mail
            .content_type_param("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    {
        return true;
    }
    from_mail_system(mail) && (is_bounce_subject(subject) || dsn_part(mail).is_some())
}

fn is_bounce_subject(subject: &str) -> bool {
    let subject = super::automatic::subject_head(subject);
    BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s))
}

/// A null sender (`Return-Path: <>`), no From at all, or a mail-system From.
fn from_mail_system(mail: &Mail<'_>) -> bool {
    let null_sender = mail
        .fields(Field::ReturnPath)
        .next()
        .is_some_and(|h| match &h.value {
            HeaderValue::Text(t) => {
                let t = t
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim();
                t.is_empty() || is_mail_system(t)
            }
            HeaderValue::TextList(list) => list.is_empty(),
            _ => true,
        });
    null_sender || mail.sender_text().is_none_or(is_mail_system)
}

/// Whether an address (or a bare name) is a mail system's: MAILER-DAEMON, postmaster, or
/// Exchange's system mailbox.
pub(crate) fn is_mail_system(address: &str) -> bool {
    let local = address
        .trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '"')
        .split('@')
        .next()
        .unwrap_or("");
    [
        "mailer-daemon",
        "mailer_daemon",
        "mail-daemon",
        "maildaemon",
        "postmaster",
        "microsoftexchange",
    ]
    .iter()
    .any(|m| {
        local
            .get(..m.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(m))
    })
}

fn dsn_part<'m>(mail: &Mail<'m>) -> Option<Cow<'m, str>> {
    mail.parts().iter().find_map(|part| match part_type(part) {
        Some(("message", "delivery-status" | "global-delivery-status")) => part_text(part),
        _ => None,
    })
}

/// Reads a bounce: the returned message of ours, and the report's failure for its recipient.
///
/// A report counts only when it names a Message-ID we sent and says that delivery to the
/// address we sent it to failed (its Final- or Original-Recipient, any case): our Message-IDs
/// carry a random part, so only that recipient's mail system can name one. Anything else is
/// `Err` with the reason, and marks nobody bounced: a stranger's forged report, a report on
/// someone else's mail, a report on another recipient, a delay notice.
pub(crate) fn read(
    mail: &Mail<'_>,
    subject: &str,
    known: &dyn Known,
    config: &Config,
) -> Result<Bounce, String> {
    let original = returned_message_id(mail).ok_or("it names no message we sent")?;
    let Some(ThreadHit {
        referral,
        outbound: Some((_, to)),
    }) = known.thread_of(std::slice::from_ref(&original))
    else {
        return Err("it names no message we sent".into());
    };
    let records = dsn_part(mail)
        .map(|text| records(&text))
        .unwrap_or_default();
    let status = if records.is_empty() {
        let recipients = prose_recipients(mail, subject, config);
        recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&to))
            .then_some(None)
    } else {
        let ours = |email: &Option<String>| {
            email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&to))
        };
        records
            .iter()
            .find(|r| r.failed() && (ours(&r.recipient) || ours(&r.original)))
            .map(Record::status_text)
    };
    let Some(status) = status else {
        return Err("it reports no failure for the address the message it names went to".into());
    };
    Ok(Bounce {
        recipients: vec![to],
        status,
        original_message_id: Some(original),
        referral: Some(referral),
    })
}

/// One recipient's block of a delivery-status part.
#[derive(Debug, Default, PartialEq)]
struct Record {
    recipient: Option<String>,
    original: Option<String>,
    action: Option<String>,
    status: Option<String>,
    diagnostic: Option<String>,
}

impl Record {
    /// Whether the block reports a failure: its Action says so, or, without one, a 5.x.x
    /// Status.
    fn failed(&self) -> bool {
        match self.action.as_deref() {
            Some(action) => action == "failed",
            None => self.status.as_deref().is_some_and(|s| s.starts_with('5')),
        }
    }

    fn status_text(&self) -> Option<String> {
        let status = self.status.as_deref()?;
        Some(match &self.diagnostic {
            Some(diagnostic) => {
                let short: String = diagnostic.chars().take(MAX_DIAGNOSTIC).collect();
                format!("{status} ({short})")
            }
            None => status.to_string(),
        })
    }
}

/// The per-recipient blocks of a `message/delivery-status` body. Blocks are separated by
/// blank lines; an MTA that forgets them still starts each recipient with its own
/// Original-/Final-Recipient, so those start a new block too.
fn records(text: &str) -> Vec<Record> {
    let mut fields: Vec<Option<(String, String)>> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            fields.push(None);
        } else if line.starts_with([' ', '\t']) {
            if let Some(Some((_, value))) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push(Some((
                name.trim().to_ascii_lowercase(),
                value.trim().to_string(),
            )));
        }
    }

    let mut records = Vec::new();
    let mut current = Record::default();
    let flush = |current: &mut Record, records: &mut Vec<Record>| {
        let record = std::mem::take(current);
        if record.recipient.is_some() || record.original.is_some() {
            records.push(record);
        }
    };
    for field in fields {
        let Some((name, value)) = field else {
            flush(&mut current, &mut records);
            continue;
        };
        match name.as_str() {
            "original-recipient" => {
                if current.original.is_some() {
                    flush(&mut current, &mut records);
                }
                current.original = recipient_address(&value);
            }
            "final-recipient" => {
                if current.recipient.is_some() {
                    flush(&mut current, &mut records);
                }
                current.recipient = recipient_address(&value);
            }
            "action" => {
                current.action = value
                    .split_whitespace()
                    .next()
                    .map(|a| a.to_ascii_lowercase())
            }
            "status" => current.status = value.split_whitespace().next().map(str::to_string),
            "diagnostic-code" => current.diagnostic = Some(value),
            _ => {}
        }
    }
    flush(&mut current, &mut records);
    records
}

/// `rfc822; Fred@X.org` → `fred@x.org`.
fn recipient_address(value: &str) -> Option<String> {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    let address = normalize_email(address);
    plausible(&address).then_some(address)
}

/// The returned message's Message-ID, from the attached message or its header, else from a
/// `Message-ID:` line quoted in the prose.
fn returned_message_id(mail: &Mail<'_>) -> Option<String> {
    for part in mail.parts() {
        match (part_type(part), &part.body) {
            (_, PartType::Message(inner)) => {
                if let Some(id) = Mail::new(inner).message_id() {
                    return Some(id.to_string());
                }
            }
            (Some(("text" | "message", "rfc822-headers" | "global-headers" | "rfc822")), _) => {
                if let Some(text) = part_text(part)
                    && let Some(headers) = MessageParser::default().parse_headers(text.as_bytes())
                    && let Some(id) = Mail::new(&headers).message_id()
                {
                    return Some(id.to_string());
                }
            }
            _ => {}
        }
    }
    prose(mail).and_then(|text| quoted_message_id(&text))
}

/// The first `Message-ID:` line in a text, as an id without brackets.
fn quoted_message_id(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let value = if value.trim().is_empty() {
            lines.next().unwrap_or("")
        } else {
            value
        };
        let id = value.trim().trim_start_matches('<');
        let id = id.split('>').next().unwrap_or("").trim();
        if !id.is_empty() && !id.contains(char::is_whitespace) {
            return Some(id.to_string());
        }
    }
    None
}

fn prose<'m>(mail: &Mail<'m>) -> Option<Cow<'m, str>> {
    match mail.plain_body() {
        Some(text) => Some(Cow::Borrowed(text)),
        None => mail.html_body().map(|html| Cow::Owned(html_to_text(html))),
    }
}

/// Failed recipients of a bounce without a delivery-status part.
fn prose_recipients(mail: &Mail<'_>, subject: &str, config: &Config) -> Vec<String> {
    let mut recipients: Vec<String> = Vec::new();
    for field in mail.texts(Field::XFailedRecipients) {
        for (start, end) in find_addresses(field).take(MAX_RECIPIENTS) {
            if let Some(email) = field.get(start..end).map(normalize_email)
                && !recipients.contains(&email)
            {
                recipients.push(email);
            }
        }
    }
    let lower = subject.to_lowercase();
    if !recipients.is_empty() || lower.contains("delay") || lower.contains("warning") {
        return recipients;
    }
    let Some(text) = prose(mail) else {
        return recipients;
    };
    let sender = mail.from().map(|p| p.email);
    let own = |email: &str| {
        strip_plus_detail(email) == config.tracking.address
            || is_mail_system(email)
            || sender.as_deref() == Some(email)
    };
    let mut scanned = 0;
    for line in text.lines() {
        scanned += line.len() + 1;
        let lower = line.trim().to_lowercase();
        if scanned > MAX_PROSE || COPY_MARKERS.iter().any(|m| lower.contains(m)) {
            break;
        }
        if [
            "message-id",
            "references",
            "in-reply-to",
            "from:",
            "return-path",
            "received",
        ]
        .iter()
        .any(|h| lower.starts_with(h))
        {
            continue;
        }
        for (start, end) in find_addresses(line) {
            let Some(email) = line.get(start..end).map(normalize_email) else {
                continue;
            };
            if !own(&email) && !recipients.contains(&email) {
                recipients.push(email);
            }
        }
        if recipients.len() >= MAX_PROSE_RECIPIENTS {
            break;
        }
    }
    recipients.truncate(MAX_PROSE_RECIPIENTS);
    recipients
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTFIX_DSN: &str = "Reporting-MTA: dns; mx.tracker.example.org\n\
X-Postfix-Queue-ID: 4F2B31C0A2\n\
Arrival-Date: Tue,  5 Mar 2024 10:12:00 +0000 (UTC)\n\
\n\
Final-Recipient: rfc822; Fred@Bookkeepers.example\n\
Original-Recipient: rfc822;fred@bookkeepers.example\n\
Action: failed\n\
Status: 5.1.1\n\
Remote-MTA: dns; mx.bookkeepers.example\n\
Diagnostic-Code: smtp; 550 5.1.1 <fred@bookkeepers.example>: Recipient address\n\
\trejected: User unknown in virtual mailbox table\n\
\n\
Final-Recipient: rfc822; sally@sallys-bakery.example\n\
Action: delayed\n\
Status: 4.4.1\n";

    #[test]
    fn delivery_status_blocks_are_read_per_recipient() {
        let recs = records(POSTFIX_DSN);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0].recipient.as_deref(),
            Some("fred@bookkeepers.example")
        );
        assert_eq!(recs[0].action.as_deref(), Some("failed"));
        assert_eq!(
            recs[0].status_text().as_deref(),
            Some(
                "5.1.1 (smtp; 550 5.1.1 <fred@bookkeepers.example>: Recipient address rejected: User unknown in virtual mailbox table)"
            )
        );
        assert_eq!(
            recs[1].recipient.as_deref(),
            Some("sally@sallys-bakery.example")
        );
        assert_eq!(recs[1].action.as_deref(), Some("delayed"));
    }

    #[test]
    fn blocks_without_blank_lines_still_split() {
        let text = "Original-Recipient: rfc822;a@x.org\r\nFinal-Recipient: rfc822;a@x.org\r\nAction: failed\r\nStatus: 5.0.0\r\nOriginal-Recipient: rfc822;b@x.org\r\nFinal-Recipient: rfc822;B@x.org\r\nAction: failed\r\nStatus: 5.2.2\r\n";
        let recs = records(text);
        let got: Vec<_> = recs.iter().map(|r| r.recipient.as_deref()).collect();
        assert_eq!(got, [Some("a@x.org"), Some("b@x.org")]);
        assert_eq!(recs[1].status.as_deref(), Some("5.2.2"));
    }

    #[test]
    fn garbage_reads_as_nothing() {
        assert!(records("").is_empty());
        assert!(records("Final-Recipient: rfc822; not an address\nAction: failed").is_empty());
        assert!(records("\u{0}\u{1}:::\n\t\n: x").is_empty());
    }

    #[test]
    fn quoted_message_ids_are_found() {
        let text = "--- Below this line is a copy of the message.\n\nReturn-Path: <intros@tracker.example.org>\nMessage-ID:\n <referrald.abc123@tracker.example.org>\nSubject: x\n";
        assert_eq!(
            quoted_message_id(text).as_deref(),
            Some("referrald.abc123@tracker.example.org")
        );
        assert_eq!(quoted_message_id("no ids here"), None);
    }

    #[test]
    fn mail_systems_are_recognised() {
        assert!(is_mail_system("MAILER-DAEMON@mx.example.org"));
        assert!(is_mail_system("MAILER-DAEMON"));
        assert!(is_mail_system("postmaster@outlook.com"));
        assert!(is_mail_system(
            "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@x.org"
        ));
        assert!(!is_mail_system("fred@postmasters.example"));
        assert!(!is_mail_system("bob@networkers.example"));
    }
}
