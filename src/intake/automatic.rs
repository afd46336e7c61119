//! Mail no person wrote to us: mailing lists and newsletters, and auto-responders.
//!
//! The line between the two (SPEC §3 lists `Precedence: list` under auto-replies, and lists
//! under ignored): anything that names a list — a `List-Id`/`List-Post`/`List-Archive` field,
//! `Precedence: list`, a `List-Unsubscribe` on a message that is not a reply, a bulk mailer's
//! campaign header — is a list (ignored). `Precedence: bulk`/`junk`/`auto_reply` without list
//! fields is how auto-responders mark themselves, so it is an auto-reply, like
//! `Auto-Submitted`, `X-Autoreply` and out-of-office subjects. Either way nothing is answered;
//! the difference is that an auto-reply on a referral's thread is recorded against it.
//! `X-Auto-Response-Suppress` is a request to others (our own mail carries it), not a marker.

use super::message::{Field, Mail};

/// Fields that only mailing-list software adds.
const LIST_FIELDS: &[Field] = &[
    Field::ListId,
    Field::ListPost,
    Field::ListArchive,
    Field::ListOwner,
];

/// `X-Mailer` values of bulk-mail software.
const BULK_MAILERS: &[&str] = &[
    "mailchimp",
    "phplist",
    "sendinblue",
    "brevo",
    "campaign monitor",
    "constant contact",
    "mailerlite",
    "mailpoet",
    "acymailing",
];

/// Subject phrases only auto-responders use, anywhere in the subject (lower-cased).
const AUTO_REPLY_PHRASES: &[&str] = &[
    "out of office",
    "out of the office",
    "out-of-office",
    "automatic reply",
    "auto-reply",
    "auto reply",
    "autoreply",
    "auto-response",
    "automatische antwort",
    "abwesenheitsnotiz",
    "réponse automatique",
    "reponse automatique",
    "respuesta automática",
    "risposta automatica",
    "automatisch antwoord",
    "resposta automática",
    "autosvar",
    "absent du bureau",
    "absence du bureau",
    "自动回复",
    "自動回覆",
    "自動返信",
    "自動応答",
];

/// Every phrase above contains one of these: a subject with none of them needs no search
/// for each phrase (a unit test keeps the two lists in step).
const PHRASE_KEYS: &[&str] = &["auto", "office", "abwesen", "bureau", "自动", "自動"];

/// Subject openings of auto-replies whose words a person could also use mid-sentence
/// ("Intro: Sally, who books trips for people on vacation"), so they count only at the start.
const AUTO_REPLY_OPENINGS: &[&str] = &[
    "auto:",
    "ooo:",
    "ooo ",
    "away from my desk",
    "away from the office",
    "on vacation",
    "on holiday",
    "on leave",
    "abwesend",
    "abwesenheit",
    "vacation reply",
    "i am away",
    "i'm away",
    "i am on vacation",
    "i'm on vacation",
    "i am out",
    "i'm out",
    "ich bin abwesend",
    "ich bin nicht im büro",
    "nicht im büro",
];

/// Whether the message comes from a mailing list or a bulk mailer. A `List-Unsubscribe`
/// alone does not make a reply a list message: a person's reply may keep it.
pub(crate) fn is_list(mail: &Mail<'_>, reply_like: bool) -> bool {
    if LIST_FIELDS.iter().any(|f| mail.has(*f)) || mail.has(Field::CampaignMarker) {
        return true;
    }
    if precedence(mail).as_deref() == Some("list") {
        return true;
    }
    if !reply_like && (mail.has(Field::ListUnsubscribe) || mail.has(Field::ListUnsubscribePost)) {
        return true;
    }
    mail.texts(Field::XMailer).any(|m| {
        let m = m.to_lowercase();
        BULK_MAILERS.iter().any(|b| m.contains(b))
    })
}

/// Whether an auto-responder sent the message.
pub(crate) fn is_auto_reply(mail: &Mail<'_>, subject: &str) -> bool {
    let says_auto = |value: &str| {
        let value = value.split(';').next().unwrap_or("").trim();
        !value.is_empty()
            && !["no", "false", "0"]
                .iter()
                .any(|n| value.eq_ignore_ascii_case(n))
    };
    // Any value but "no" counts, in Auto-Submitted and in the X- markers alike.
    if mail.texts(Field::AutoSubmitted).any(says_auto)
        || mail.texts(Field::AutoReplyMarker).any(says_auto)
    {
        return true;
    }
    if matches!(
        precedence(mail).as_deref(),
        Some("bulk" | "junk" | "auto_reply" | "auto-reply")
    ) {
        return true;
    }
    // Read receipts and other machine reports that are not bounces.
    if mail.content_type() == Some(("multipart", "report"))
        && !mail
            .content_type_param("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    {
        return true;
    }
    is_auto_reply_subject(subject)
}

/// Whether a subject is one of an out-of-office reply, in English, German, French and a few
/// other languages.
pub(crate) fn is_auto_reply_subject(subject: &str) -> bool {
    let subject = subject_head(subject);
    AUTO_REPLY_OPENINGS.iter().any(|p| subject.starts_with(p))
        || (PHRASE_KEYS.iter().any(|k| subject.contains(k))
            && AUTO_REPLY_PHRASES.iter().any(|p| subject.contains(p)))
}

/// The start of a subject, trimmed and lower-cased: what machine-written subjects are
/// recognised by, without scanning a hostile megabyte of subject for each phrase.
pub(crate) fn subject_head(subject: &str) -> String {
    let subject = subject.trim();
    let head = match subject.char_indices().nth(200) {
        Some((end, _)) => subject.get(..end).unwrap_or(subject),
        None => subject,
    };
    head.to_lowercase()
}

fn precedence(mail: &Mail<'_>) -> Option<String> {
    mail.text(Field::Precedence)
        .map(|p| p.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phrase_has_a_key() {
        for phrase in AUTO_REPLY_PHRASES {
            assert!(PHRASE_KEYS.iter().any(|k| phrase.contains(k)), "{phrase}");
        }
    }

    #[test]
    fn out_of_office_subjects() {
        for s in [
            "Out of Office: Intro: Fred <> Sally",
            "Automatic reply: Intro",
            "Auto: Intro: Fred <> Sally",
            "AutoReply: your message",
            "Away from my desk until Monday",
            "On vacation",
            "Abwesenheitsnotiz: Intro",
            "Automatische Antwort: Vorstellung",
            "Abwesend: Vorstellung",
            "Réponse automatique : Intro",
            "I am out of the office",
        ] {
            assert!(is_auto_reply_subject(s), "{s}");
        }
        for s in [
            "Intro: Fred <> Sally",
            "Re: Intro: Sally plans trips for people on vacation",
            "Automation consultant for you",
            "Re: Absent friends",
        ] {
            assert!(!is_auto_reply_subject(s), "{s}");
        }
    }
}
