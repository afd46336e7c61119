//! Opt-out requests: "STOP", "unsubscribe", "please don't email me", "bitte keine E-Mails mehr".
//! "stop" alone is a command only when it is the whole sentence or line; otherwise it must be
//! about mail ("stop emailing me"), so "we can't stop talking about it", "I'll stop by Tuesday"
//! and "the bus stop" never opt anybody out.

use std::sync::LazyLock;

use crate::intake::normalize_subject;

use super::text::{Kind, PhraseSet, Token, Words, negated, tokenize};

/// Whether the reply (its own words and its subject) asks to stop receiving mail.
pub(super) fn says_stop(own_words: &str, subject: &str) -> bool {
    let subject = normalize_subject(subject);
    is_command_line(&subject, true) || text_says_stop(&subject) || text_says_stop(own_words)
}

/// Whole commands, once politeness words are set aside.
const COMMANDS: &[&[&str]] = &[
    &["stop"],
    &["stopp"],
    &["stop", "it"],
    &["stop", "this"],
    &["stop", "all"],
    &["unsubscribe"],
    &["unsubscribe", "me"],
    &["opt-out"],
    &["opt", "out"],
    &["remove", "me"],
    &["abmelden"],
    &["abmeldung"],
    &["austragen"],
    &["désabonner"],
];

/// Words that may surround a command: "STOP please", "bitte abmelden, danke".
#[rustfmt::skip]
const POLITE: &[&str] = &[
    "please", "pls", "plz", "bitte", "just", "now", "thanks", "thank", "you", "danke", "sofort",
    "immediately", "ok", "okay", "sorry", "merci", "kindly", "asap",
];

/// How a stop phrase is weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// "unsubscribe", "abmelden": counts unless negated or part of instructions ("to
    /// unsubscribe, click here").
    Word,
    /// "stop emailing me", "remove me from your list": counts unless negated.
    Plain,
    /// "don't email me", "no more emails", "bitte keine E-Mails mehr": negative by itself;
    /// counts unless qualified ("… until Monday", "… at this address", "no more reminders
    /// needed").
    Refusal,
}

/// The phrases that ask to stop.
#[rustfmt::skip]
static STOP_PHRASES: LazyLock<PhraseSet<Ask>> = LazyLock::new(|| {
    use Ask::{Plain, Refusal, Word};
    PhraseSet::new(&[
        ("unsubscribe|unsubscribing|opt-out|opting-out|abmelden|abmeldung|austragen|abbestellen", Word),
        ("désabonner|désinscrire|désabonnez-moi|désinscrivez-moi", Word),
        ("opt|opting out", Word),
        ("stop|stopp ~ emailing|e-mailing|mailing|sending|contacting|writing|messaging|spamming|pestering|bugging|reminding|chasing|receiving|emails|e-mails|mails|messages|reminders|newsletters|notifications|spam", Plain),
        ("remove|take|delete|drop me|us from|off", Plain),
        ("remove|delete my|our email|e-mail|address|details|data|name|contact", Plain),
        ("leave me alone", Plain),
        ("mich|uns ~ entfernen|austragen|löschen", Plain),
        ("entfernen|löschen sie mich|uns", Plain),
        ("melde|melden|meldet ~ mich|uns ~ ab", Plain),
        ("trage|tragen|tragt ~ mich|uns ~ aus", Plain),
        ("not|never ?ever email|e-mail|mail|contact|message|spam|remind|bother|chase|pester|ping|text me|us", Refusal),
        ("not|never write|send ~ again|anymore|more", Refusal),
        ("not|never send ~ emails|e-mails|mails|messages|reminders|newsletters", Refusal),
        ("not|never|longer want|wish|need|like ~ ~ emails|e-mails|mails|messages|reminders|newsletters|notifications|follow-ups", Refusal),
        ("no more|further emails|e-mails|mails|mail|email|messages|reminders", Refusal),
        ("rather not ~ ~ emails|e-mails|mails|messages|reminders|newsletters", Refusal),
        ("keine ~ e-mails|emails|mails|mail|e-mail|nachrichten|erinnerungen|post|werbung mehr", Refusal),
        ("keine weiteren e-mails|emails|mails|nachrichten|erinnerungen", Refusal),
        ("nicht mehr anschreiben|kontaktieren|schreiben|mailen|anmailen|belästigen|erinnern", Refusal),
        ("schreiben|schreibt|mailen|kontaktieren|kontaktiert|anschreiben|belästigen|erinnern ~ nicht mehr", Refusal),
        ("ne plus recevoir", Refusal),
    ])
});

/// Words near a refusal, in its sentence, that make it something else than an opt-out: "don't email me until Monday", "no more reminders needed".
#[rustfmt::skip]
const QUALIFIERS: &[&str] = &[
    "until", "till", "before", "instead", "except", "unless", "needed", "necessary", "required",
    "bis", "sondern", "außer", "stattdessen", "nötig", "notwendig", "erforderlich",
];

/// Words right after a refusal that point it elsewhere: "don't email me at this address".
const REDIRECTS: &[&str] = &["at", "on", "via", "through", "an", "auf", "über"];

/// Words of unsubscribe instructions (a newsletter footer), not of a request.
const INSTRUCTIONS: &[&str] = &["click", "link", "here", "below", "klicken", "hier", "unten"];

/// Whether any sentence of `text` is a stop command or any phrase asks to stop.
fn text_says_stop(text: &str) -> bool {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return false;
    }
    if command_sentence(&tokens) || command_line(text) {
        return true;
    }
    let words = Words::new(&tokens);
    STOP_PHRASES
        .find_all(&words)
        .iter()
        .any(|hit| match hit.value {
            Ask::Word => {
                !negated(&words, hit.start)
                    && !words.sentence_has_near(hit.start, hit.end, 8, INSTRUCTIONS)
            }
            Ask::Plain => !negated(&words, hit.start),
            Ask::Refusal => {
                let redirected = words.after_has(hit.end - 1, 2, REDIRECTS)
                    && !words.after_has(hit.end - 1, 3, &["all"]);
                !redirected && !words.sentence_has_near(hit.start, hit.end, 6, QUALIFIERS)
            }
        })
}

/// Whether a sentence (or its last clause) consists of a command and politeness only: "STOP.",
/// "Please unsubscribe me!", "Not interested, please stop.".
fn command_sentence(tokens: &[Token]) -> bool {
    let mut start = 0;
    while start < tokens.len() {
        let sentence = tokens[start].sentence;
        let end = tokens[start..]
            .iter()
            .position(|t| t.sentence != sentence)
            .map_or(tokens.len(), |n| start + n);
        // The whole sentence, or its last clause: "Not interested, please stop."
        let last_clause = tokens[end - 1].clause;
        let tail = tokens[start..end]
            .iter()
            .position(|t| t.clause == last_clause)
            .map_or(end, |n| start + n);
        if is_command(&tokens[start..end]) || is_command(&tokens[tail..end]) {
            return true;
        }
        start = end;
    }
    false
}

/// Whether these tokens, politeness and punctuation aside, are one of [`COMMANDS`].
fn is_command(tokens: &[Token]) -> bool {
    if tokens.iter().filter(|t| t.kind != Kind::Mark).count() > 6 {
        return false;
    }
    if tokens.iter().any(|t| t.kind == Kind::Number) {
        return false;
    }
    let core: Vec<&str> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Word && !t.is_any_word(POLITE))
        .map(|t| t.as_str())
        .collect();
    COMMANDS.contains(&core.as_slice())
}

/// Whether a line on its own is a command ("STOP" under a greeting), when it cannot be the end
/// of a sentence wrapped from the line before ("…at the bus\nstop.").
fn command_line(text: &str) -> bool {
    let mut previous: Option<&str> = None;
    for line in text.lines().map(str::trim) {
        if !line.is_empty() {
            let standalone = match previous {
                None => true,
                Some(p) => p.is_empty() || p.ends_with(['.', '!', '?', ',', ':']),
            };
            if is_command_line(line, standalone) {
                return true;
            }
        }
        previous = Some(line);
    }
    false
}

/// Whether `line` is a command: always when it is shouted ("STOP"), otherwise only when it
/// stands on its own.
fn is_command_line(line: &str, standalone: bool) -> bool {
    if line.len() > 60 {
        return false;
    }
    let shouted = line.chars().any(char::is_alphabetic)
        && !line.chars().any(|c| c.is_alphabetic() && c.is_lowercase());
    (standalone || shouted) && is_command(&tokenize(line))
}
