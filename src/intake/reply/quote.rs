//! Quoted text: `>` lines, attributions ("On … wrote:", "Am … schrieb …:", "Le … a écrit :"),
//! Outlook header blocks ("From: … Sent: … To: … Subject: …", "Von: … Gesendet: …"), and
//! separators ("-----Original Message-----", a line of underscores).
//!
//! Quoted lines marked with `>` are dropped wherever they are, so top-posted, bottom-posted
//! and inline replies all keep exactly the lines their author wrote. An attribution followed
//! by unmarked text, a header block or a separator starts the original: everything after it
//! is dropped.

/// The lines the author wrote, in order.
pub(super) fn strip_quotes<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_quoted(line) || is_placeholder(line) {
            i += 1;
            continue;
        }
        let attribution = attribution_len(lines, i)
            .or_else(|| (weak_attribution(line) && quote_follows(lines, i + 1)).then_some(1));
        if let Some(len) = attribution {
            if quote_follows(lines, i + len) || next_nonblank(lines, i + len).is_none() {
                i += len;
                continue;
            }
            break; // the original follows, unmarked
        }
        if starts_original(lines, i) {
            break;
        }
        kept.push(line);
        i += 1;
    }
    kept
}

/// A line quoted with `>`.
fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Placeholders mail clients put in plain text: "[Quoted text hidden]", "[image: logo]".
fn is_placeholder(line: &str) -> bool {
    let t = line.trim();
    if !t.starts_with('[') || t.len() > 200 {
        return false;
    }
    let t = t.to_lowercase();
    t.ends_with(']')
        && [
            "[quoted text hidden",
            "[image:",
            "[cid:",
            "[inline image",
            "[signature_",
            "[bild:",
        ]
        .iter()
        .any(|p| t.starts_with(p))
}

/// The index of the first non-blank line at or after `from` (looking at most 50 lines ahead).
fn next_nonblank(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len().min(from + 50)).find(|&j| !lines[j].trim().is_empty())
}

/// Whether the next non-blank line at or after `from` is quoted.
fn quote_follows(lines: &[&str], from: usize) -> bool {
    next_nonblank(lines, from).is_some_and(|j| is_quoted(lines[j]))
}

/// Words that open an attribution in the languages we read.
const OPENERS: &[&str] = &["on ", "am ", "le ", "el ", "op ", "il ", "den ", "em "];

/// Endings of an attribution line.
#[rustfmt::skip]
const ENDINGS: &[&str] = &[
    "wrote:", "wrote :", "writes:", "a écrit :", "a écrit:", "escribió:", "ha scritto:", "skrev:",
    "schreef:", "napisał:", "kirjoitti:", "escreveu:", "写道:", "寫道:", "작성:",
];

/// How many lines (1–3, as clients wrap long ones) the attribution starting at `i` spans.
fn attribution_len(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim();
    if first.is_empty() || first.len() > 300 || is_quoted(first) {
        return None;
    }
    let may_wrap = OPENERS.iter().any(|o| {
        first
            .get(..o.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(o))
    }) || first.contains(['<', '@']);
    let mut joined = String::new();
    for len in 1..=3 {
        let Some(line) = lines.get(i + len - 1).map(|l| l.trim()) else {
            break;
        };
        if len > 1 && (!may_wrap || line.is_empty() || is_quoted(line)) {
            break;
        }
        if joined.len() + line.len() > 400 {
            break;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line);
        if is_attribution(&joined) {
            return Some(len);
        }
    }
    None
}

/// "On Mon, 3 Nov 2026 at 10:02, Fred <fred@x> wrote:", "Am 03.11.2026 um 10:02 schrieb Fred
/// <fred@x>:", "Le lun. 3 nov. 2026 à 10:02, Fred a écrit :". A date or an address must be in
/// it, so "As I wrote:" is not one.
fn is_attribution(s: &str) -> bool {
    // Chinese and Japanese clients end it with a full-width colon.
    let s = s.trim_end();
    let Some(head) = s.strip_suffix(':').or_else(|| s.strip_suffix('：')) else {
        return false;
    };
    if !head.contains(|c: char| c.is_ascii_digit() || c == '@') {
        return false;
    }
    let lower = format!("{}:", head.to_lowercase());
    if ENDINGS.iter().any(|e| lower.ends_with(e)) {
        return true;
    }
    // Gmail in Japanese (and some other languages) names no verb: "2026年11月17日(月) 9:00
    // Alice <a@x>:" — a date and an address in angle brackets before the colon.
    if lower.ends_with(">:") && lower.contains('@') && lower.contains("20") {
        return true;
    }
    let german = lower.contains("schrieb") && (lower.starts_with("am ") || lower.contains('@'));
    let dutch = lower.starts_with("op ") && lower.contains("schreef");
    german || dutch
}

/// "Fred wrote:" without a date: an attribution only when quoted lines follow.
fn weak_attribution(line: &str) -> bool {
    let t = line.trim_end();
    if !t.ends_with(':') || t.len() > 200 {
        return false;
    }
    let lower = t.trim_start().to_lowercase();
    ENDINGS.iter().any(|e| lower.ends_with(e))
        || lower.ends_with("schrieb:")
        || (lower.contains(" schrieb ") && lower.ends_with(':'))
}

/// Separators before the original in forwarded and Outlook-style replies.
#[rustfmt::skip]
const ORIGINAL_MARKERS: &[&str] = &[
    "original message", "original-nachricht", "originalnachricht", "ursprüngliche nachricht",
    "forwarded message", "weitergeleitete nachricht", "message d'origine", "message d’origine",
    "message transféré", "mensaje original", "messaggio originale", "oorspronkelijk bericht",
    "begin forwarded message", "anfang der weitergeleiteten nachricht",
    "début du message réexpédié", "original message follows",
];

/// Whether the original message starts at line `i`: a marker, a separator line before a header
/// block, or a header block.
fn starts_original(lines: &[&str], i: usize) -> bool {
    let t = lines[i].trim();
    if is_original_marker(t) || header_block_at(lines, i) {
        return true;
    }
    if t.len() >= 20 && t.chars().all(|c| c == '_') {
        return true; // Outlook's separator
    }
    let rule = t.len() >= 10 && t.chars().all(|c| matches!(c, '-' | '=' | '—' | '─' | '_'));
    rule && next_nonblank(lines, i + 1).is_some_and(|j| header_block_at(lines, j))
}

fn is_original_marker(t: &str) -> bool {
    if t.len() > 80 || !t.contains(char::is_alphabetic) {
        return false;
    }
    let core = t
        .trim_matches(|c: char| matches!(c, '-' | '=' | '*' | '_' | ':' | '—') || c.is_whitespace())
        .to_lowercase();
    !core.is_empty() && ORIGINAL_MARKERS.contains(&core.as_str())
}

/// Labels that open an Outlook header block.
#[rustfmt::skip]
const FROM_LABELS: &[&str] = &[
    "from", "von", "de", "van", "da", "från", "fra", "od", "expéditeur",
];
/// Labels of the other lines of a header block.
#[rustfmt::skip]
const HEADER_LABELS: &[&str] = &[
    "sent", "date", "to", "cc", "bcc", "subject", "gesendet", "datum", "an", "betreff", "envoyé",
    "à", "objet", "verzonden", "aan", "onderwerp", "enviado", "para", "asunto", "inviato", "a",
    "oggetto", "reply-to", "antwort an", "sent by",
];

/// A header block: "From: Fred" with at least two of "Sent:", "To:", "Subject:"… in the lines
/// after it—or GMX's order, "Gesendet:" first and "Von:" among the next lines.
fn header_block_at(lines: &[&str], i: usize) -> bool {
    let Some((label, rest)) = header_label(lines[i]) else {
        return false;
    };
    let from_first = is_one_of(label, FROM_LABELS);
    if rest.is_empty() || !(from_first || is_one_of(label, DATE_LABELS)) {
        return false;
    }
    let mut froms = usize::from(from_first);
    let mut others = usize::from(!from_first);
    for (label, _) in lines[i + 1..]
        .iter()
        .take(12)
        .filter_map(|l| header_label(l))
    {
        if is_one_of(label, FROM_LABELS) {
            if from_first {
                break; // the next block starts
            }
            froms += 1;
        } else if is_one_of(label, HEADER_LABELS) {
            others += 1;
        }
    }
    froms >= 1 && others >= 2
}

/// Labels of the date line, which some clients put first.
const DATE_LABELS: &[&str] = &["sent", "date", "gesendet", "datum", "envoyé"];

/// Whether `label` is one of the lower-case `labels`, ignoring case.
fn is_one_of(label: &str, labels: &[&str]) -> bool {
    if label.is_ascii() {
        labels.iter().any(|l| l.eq_ignore_ascii_case(label))
    } else {
        labels.contains(&label.to_lowercase().as_str())
    }
}

/// `("From", "Fred <fred@x>")` for "From: Fred <fred@x>" (also "*From:* Fred" and "De :").
fn header_label(line: &str) -> Option<(&str, &str)> {
    let t = line.trim().trim_start_matches('*').trim_start();
    let colon = t.get(..24.min(t.len())).unwrap_or(t).find(':')?;
    let label = t[..colon].trim().trim_end_matches('*').trim();
    if label.is_empty() || label.split_whitespace().count() > 2 {
        return None;
    }
    let rest = t[colon + 1..].trim().trim_start_matches('*').trim();
    Some((label, rest))
}
