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
const POLITE: &[&str] = &[
    "please",
    "pls",
    "plz",
    "bitte",
    "just",
    "now",
    "thanks",
    "thank",
    "you",
    "danke",
    "sofort",
    "immediately",
    "ok",
    "okay",
    "sorry",
    "merci",
    "kindly",
    "asap",
];

/// The phrases that ask to stop. A phrase counts unless negated ("don't unsubscribe me") or
/// qualified afterwards ("don't email me until Monday").
static STOP_PHRASES: LazyLock<PhraseSet<()>> = LazyLock::new(|| {
    PhraseSet::new(&[
        (
            "unsubscribe|unsubscribing|opt-out|opting-out|abmelden|abmeldung|austragen|abbestellen",
            (),
        ),
        ("désabonner|désinscrire|désabonnez-moi|désinscrivez-moi", ()),
        ("opt|opting out", ()),
        (
            "stop|stopp ~ emailing|e-mailing|mailing|sending|contacting|writing|messaging|spamming|pestering|bugging|reminding|chasing|receiving|emails|e-mails|mails|messages|reminders|newsletters|notifications|spam",
            (),
        ),
        (
            "not|never ?ever email|e-mail|mail|contact|message|write|send|spam|remind|bother|chase|cc|include|text|ping ?to me|us",
            (),
        ),
        (
            "not|never send ~ emails|e-mails|mails|messages|reminders|newsletters",
            (),
        ),
        (
            "not|never|longer want|wish|need|like ~ ~ emails|e-mails|mails|messages|reminders|newsletters|notifications|follow-ups",
            (),
        ),
        (
            "no more|further emails|e-mails|mails|mail|email|messages|reminders|contact|follow-ups",
            (),
        ),
        ("remove|take|delete|drop me|us from|off", ()),
        (
            "remove|delete my|our email|e-mail|address|details|data|name|contact",
            (),
        ),
        ("leave me alone", ()),
        (
            "keine ~ e-mails|emails|mails|mail|e-mail|nachrichten|erinnerungen|post|werbung mehr",
            (),
        ),
        (
            "keine weiteren e-mails|emails|mails|nachrichten|erinnerungen",
            (),
        ),
        (
            "nicht mehr anschreiben|kontaktieren|schreiben|mailen|anmailen|belästigen|erinnern",
            (),
        ),
        (
            "schreiben|schreibt|mailen|kontaktieren|kontaktiert|anschreiben|belästigen|erinnern ~ nicht mehr",
            (),
        ),
        ("mich|uns ~ entfernen|austragen|löschen", ()),
        ("entfernen|löschen sie mich|uns", ()),
        ("melde|melden|meldet ~ mich|uns ~ ab", ()),
        ("trage|tragen|tragt ~ mich|uns ~ aus", ()),
        ("ne plus recevoir", ()),
    ])
});

/// Words after a phrase that make it something else than an opt-out: "don't email me until
/// Monday", "don't contact me at work, use my private address".
const QUALIFIERS: &[&str] = &[
    "until", "till", "before", "instead", "except", "unless", "at", "on", "via", "through", "bis",
    "sondern", "außer", "an", "auf",
];

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
    STOP_PHRASES.find_all(&words).iter().any(|hit| {
        let first = words.text(hit.start);
        let self_negating = matches!(first, "not" | "never" | "longer" | "keine" | "nicht");
        // Only "don't email me …" can be qualified; "unsubscribe me at once" cannot.
        let qualified =
            matches!(first, "not" | "never") && words.after_has(hit.end - 1, 3, QUALIFIERS);
        (self_negating || !negated(&words, hit.start)) && !qualified
    })
}

/// Whether a sentence consists of a command and politeness only: "STOP.", "Please unsubscribe
/// me!".
fn command_sentence(tokens: &[Token]) -> bool {
    let mut start = 0;
    while start < tokens.len() {
        let sentence = tokens[start].sentence;
        let end = tokens[start..]
            .iter()
            .position(|t| t.sentence != sentence)
            .map_or(tokens.len(), |n| start + n);
        if is_command(&tokens[start..end]) {
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
