//! Signatures: the `-- ` delimiter, device lines ("Sent from my iPhone"), disclaimers, a
//! closing ("Best,", "Viele Grüße") followed by a name and contact lines, and a trailing
//! contact block (name, title, "M: +44 …", a URL) even without a closing.
//!
//! A line only counts as part of a signature when it looks like one: short, capitalised like a
//! name or title, or carrying a phone number, address or URL—and never when it holds a rating or
//! an outcome, so "Thanks,\nwe signed!" and "Best,\n5" keep their content.

use super::text::{Words, tokenize};
use super::{outcome, rating};

/// The lines without the signature.
pub(super) fn strip_signature(mut lines: Vec<&str>) -> Vec<&str> {
    if let Some(at) = lines.iter().position(|l| l.trim_end() == "--") {
        lines.truncate(at);
    }
    lines.retain(|l| !is_device_line(l));
    cut_disclaimer(&mut lines);
    cut_after_closing(&mut lines);
    cut_contact_block(&mut lines);
    lines
}

/// "Sent from my iPhone", "Get Outlook for iOS", "Von meinem iPhone gesendet"….
fn is_device_line(line: &str) -> bool {
    const STARTS: &[&str] = &[
        "sent from my ",
        "sent from mail for windows",
        "sent from outlook",
        "sent from yahoo",
        "sent from samsung",
        "sent from proton",
        "sent with proton",
        "sent from gmail",
        "sent via ",
        "get outlook for ",
        "gesendet von meinem ",
        "gesendet von outlook",
        "gesendet mit ",
        "envoyé de mon ",
        "envoyé depuis ",
        "enviado desde mi ",
        "inviato da ",
        "verzonden vanaf ",
        "verstuurd vanaf ",
    ];
    let t = line.trim();
    if t.len() > 120 || t.split_whitespace().count() > 10 {
        return false;
    }
    let t = t.to_lowercase();
    STARTS.iter().any(|s| t.starts_with(s))
        || (t.starts_with("von meinem ") && t.trim_end_matches('.').ends_with("gesendet"))
}

/// Openings of confidentiality notices and the like.
#[rustfmt::skip]
const DISCLAIMERS: &[&str] = &[
    "this email and any", "this e-mail and any", "this message and any",
    "this email is confidential", "this e-mail is confidential", "this message is confidential",
    "this email may contain", "this e-mail may contain", "this message may contain",
    "the information contained in this", "confidentiality notice", "disclaimer:",
    "diese e-mail enthält", "diese nachricht enthält", "diese e-mail ist vertraulich",
    "der inhalt dieser e-mail", "diese e-mail kann vertrauliche", "please consider the environment",
    "think before you print", "bitte denken sie an die umwelt",
];

fn cut_disclaimer(lines: &mut Vec<&str>) {
    let at = lines.iter().enumerate().skip(1).find(|(_, l)| {
        let start: String = l.trim().chars().take(40).collect();
        let start = start.to_lowercase();
        DISCLAIMERS.iter().any(|d| start.starts_with(d))
    });
    if let Some((at, _)) = at {
        lines.truncate(at);
    }
}

/// Closing lines, lower-case, without trailing punctuation.
#[rustfmt::skip]
const CLOSINGS: &[&str] = &[
    "best regards", "kind regards", "warm regards", "warmest regards", "best wishes",
    "all the best", "many thanks", "thanks again", "thank you", "yours sincerely", "yours truly",
    "take care", "talk soon", "speak soon", "mit freundlichen grüßen", "mit freundlichen grüssen",
    "freundliche grüße", "freundliche grüsse", "viele grüße", "viele grüsse", "beste grüße",
    "beste grüsse", "liebe grüße", "liebe grüsse", "herzliche grüße", "herzliche grüsse",
    "schöne grüße", "schöne grüsse", "vielen dank", "besten dank", "bien à vous",
    "bien cordialement", "un saludo", "met vriendelijke groet", "best", "regards", "cheers",
    "thanks", "thx", "ta", "sincerely", "cordially", "respectfully", "br", "rgds", "kr", "mfg",
    "lg", "vg", "grüße", "grüsse", "gruß", "gruss", "danke", "cordialement", "merci", "saludos",
    "groeten",
];

/// "Best," "Viele Grüße" on a line of its own.
fn is_closing(line: &str) -> bool {
    let t = line.trim();
    if t.len() > 60 {
        return false;
    }
    let t = t
        .trim_end_matches(|c: char| matches!(c, ',' | '.' | '!' | '-' | '–') || c.is_whitespace())
        .to_lowercase();
    CLOSINGS.contains(&t.as_str())
}

/// "Cheers, Sally", "Thanks Fred!", "Viele Grüße, Sally": a closing and a name on one line.
fn is_closing_with_name(line: &str) -> bool {
    let t = line.trim();
    if t.len() > 80 {
        return false;
    }
    CLOSINGS.iter().any(|c| {
        strip_prefix_ignore_case(t, c).is_some_and(|rest| {
            let name = rest
                .trim_start_matches([',', ' '])
                .trim_end_matches(['.', '!', ',']);
            rest.starts_with([',', ' '])
                && !name.is_empty()
                && name.split_whitespace().count() <= 3
                && is_name_like(name)
        })
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let mut chars = s.char_indices();
    for p in prefix.chars() {
        let (_, c) = chars.next()?;
        if !c.to_lowercase().eq(p.to_lowercase()) {
            return None;
        }
    }
    Some(chars.as_str())
}

/// At most this many non-blank lines follow a closing.
const MAX_SIGNATURE_LINES: usize = 15;

/// Cuts at the first closing after which only signature lines follow.
fn cut_after_closing(lines: &mut Vec<&str>) {
    // Walk up from the end while the lines below are all signature-like and few: only there
    // can the closing be. `after` counts the non-blank lines below line `i`.
    let mut at = None;
    let mut after = 0;
    for i in (0..lines.len()).rev() {
        let line = lines[i];
        if (is_closing(line) && after >= 1) || is_closing_with_name(line) {
            at = Some(i);
        }
        if line.trim().is_empty() {
            continue;
        }
        after += 1;
        if after > MAX_SIGNATURE_LINES || !is_signature_line(line) {
            break;
        }
    }
    if let Some(at) = at {
        lines.truncate(at);
    }
}

/// Cuts a trailing block of name, title and contact lines that holds at least one contact line.
fn cut_contact_block(lines: &mut Vec<&str>) {
    let mut k = lines.len();
    let mut contact = false;
    let mut walked = 0;
    while k > 0 {
        let l = lines[k - 1];
        if l.trim().is_empty() {
            k -= 1;
            continue;
        }
        walked += 1;
        if walked > 2 * MAX_SIGNATURE_LINES {
            return; // far too long for a signature
        }
        if is_name_like(l) || is_closing(l) {
            k -= 1;
        } else if is_contact(l) {
            contact = true;
            k -= 1;
        } else {
            break;
        }
    }
    if contact {
        lines.truncate(k);
    }
}

fn is_signature_line(line: &str) -> bool {
    is_contact(line) || is_name_like(line)
}

/// Little words that may be lower-case in a name or title line.
const CONNECTORS: &[&str] = &[
    "of", "and", "&", "und", "für", "the", "for", "van", "von", "de", "der", "den", "da", "du",
    "la", "le", "y", "at", "aus", "from", "bei", "zu", "|", "-", "–", "/", "·", "•", "mbb", "gmbh",
    "e.v.", "eg", "plc", "llc", "llp", "ltd", "ltd.", "inc", "inc.", "ag", "kg", "co", "co.",
    "gbr", "ug", "e.k.", "bv", "sarl", "sas",
];

/// A short line capitalised like a name, a title or a company: "Sally Jones", "Head of Sales",
/// "Acme GmbH". Never a line with a digit, a rating or an outcome.
fn is_name_like(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() || t.ends_with('?') || t.len() > 120 || t.chars().count() > 60 {
        return false;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    if words.len() > 7 || !t.chars().any(char::is_alphabetic) {
        return false;
    }
    let capitalised = words.iter().all(|w| {
        let lower = w.to_lowercase();
        CONNECTORS.contains(&lower.trim_end_matches(',')) || !w.starts_with(char::is_lowercase)
    });
    capitalised && !says_something(t)
}

/// Whether a line holds a number, a rating word or an outcome phrase.
fn says_something(line: &str) -> bool {
    line.contains(|c: char| c.is_ascii_digit()) || mentions_feedback(line)
}

/// Whether a line holds a rating word or an outcome phrase.
fn mentions_feedback(line: &str) -> bool {
    let tokens = tokenize(line);
    let words = Words::new(&tokens);
    rating::mentions_rating_word(&words)
        || outcome::mentions_outcome(&words)
        || outcome::mentions_cjk_outcome(line)
}

/// A line with a phone number, an email address, a URL, a contact label ("M:", "Tel.") or a
/// company register entry.
fn is_contact(line: &str) -> bool {
    let t = line.trim();
    if t.len() > 300 {
        return false;
    }
    let lower = t.to_lowercase();
    const LEGAL: &[&str] = &[
        "amtsgericht",
        "registergericht",
        "hrb ",
        "hra ",
        "geschäftsführer",
        "geschäftsführung",
        "sitz der gesellschaft",
        "ust-id",
        "steuernummer",
        "registered in england",
        "registered office",
        "company number",
        "company no",
        "company registration",
        "vat no",
        "vat number",
        "vat reg",
    ];
    if LEGAL.iter().any(|m| lower.contains(m)) {
        return true;
    }
    let words = t
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    if words > 6 || mentions_feedback(t) {
        return false;
    }
    has_phone(t) || has_email(&lower) || has_url(&lower) || has_label(&lower) || has_address(&lower)
}

/// Seven or more digits in a run of digits, spaces, `+ ( ) - . /`, written like a phone
/// number (with a `+`, a space, a dash or a bracket; dates are not).
fn has_phone(t: &str) -> bool {
    let mut digits = 0;
    let mut phone_mark = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if matches!(c, '+' | '(' | ')' | '-' | ' ') {
            phone_mark |= digits > 0 || c == '+' || c == '(';
        } else if !matches!(c, '.' | '/') {
            if digits >= 7 && phone_mark {
                return true;
            }
            digits = 0;
            phone_mark = false;
        }
    }
    digits >= 7 && phone_mark
}

fn has_email(lower: &str) -> bool {
    lower.split_whitespace().any(|w| {
        w.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
    })
}

fn has_url(lower: &str) -> bool {
    const TLDS: &[&str] = &[
        ".com", ".de", ".co.uk", ".org", ".net", ".io", ".eu", ".ch", ".at",
    ];
    lower.contains("www.")
        || lower.contains("http://")
        || lower.contains("https://")
        || lower.split_whitespace().any(|w| {
            let w = w.trim_end_matches(['/', '.', ',']);
            TLDS.iter()
                .any(|tld| w.ends_with(tld) && w.len() > tld.len())
        })
}

/// "M: +44 …", "Tel.: …", "Mobile …", "E: sally@…".
fn has_label(lower: &str) -> bool {
    const SHORT: &[&str] = &["m:", "t:", "p:", "f:", "e:", "w:", "d:", "dd:"];
    const LONG: &[&str] = &[
        "tel", "telefon", "fon", "phone", "mobile", "mob", "mobil", "handy", "fax", "cell",
        "office", "direct", "email", "e-mail", "web", "website", "linkedin", "twitter", "skype",
        "adresse", "address",
    ];
    if SHORT.iter().any(|s| lower.starts_with(s)) {
        return true;
    }
    // "Tel.: 030…", "Mobile +44…", "Email: sally@…" (but not "Email me when…").
    LONG.iter().any(|l| {
        lower.strip_prefix(l).is_some_and(|rest| {
            let value = rest.trim_start_matches(['.', ' ']);
            value.starts_with(':')
                || (rest.starts_with(['.', ' ', '+'])
                    && value.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '('))
        })
    })
}

/// A street or postcode line: "12 High Street", "Musterstraße 5, 10115 Berlin".
fn has_address(lower: &str) -> bool {
    const STREETS: &[&str] = &[
        "street", "road", "avenue", "lane", "straße", "strasse", "str.", "weg ", "platz", "allee",
        "gasse", "suite", "floor",
    ];
    let has_digit = lower.contains(|c: char| c.is_ascii_digit());
    let postcode = lower
        .split_whitespace()
        .any(|w| w.len() == 5 && w.bytes().all(|b| b.is_ascii_digit()));
    has_digit && (STREETS.iter().any(|s| lower.contains(s)) || postcode)
}
