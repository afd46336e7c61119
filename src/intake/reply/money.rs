//! The closed-business value: an amount with a currency marker ("$2,500", "2.500 €",
//! "USD 4000", "£1.2m") or a context word ("a contract worth 4000", "a 3000 deal").

use super::text::{Kind, Token};

/// An amount found in the reply.
#[derive(Debug, Clone, PartialEq)]
struct Amount {
    value: f64,
    currency: Option<&'static str>,
    /// Token index of its number.
    at: usize,
}

/// The closed-business value and its currency. With several amounts, the one nearest a won
/// phrase (`won_at`, token indices) counts, else the largest. An amount in a sentence about a
/// proposal, a quote or a budget is not business done, unless that sentence says it was won
/// ("we accepted their quote of €4,800").
pub(super) fn read(tokens: &[Token], won_at: &[usize]) -> Option<(f64, Option<&'static str>)> {
    let amounts: Vec<Amount> = (0..tokens.len())
        .filter_map(|i| amount_at(tokens, i))
        .filter(|a| {
            let sentence = tokens[a.at].sentence;
            !pending(tokens, a.at) || won_at.iter().any(|&w| tokens[w].sentence == sentence)
        })
        .collect();
    let distance = |a: &Amount| won_at.iter().map(|&w| w.abs_diff(a.at)).min();
    let best = amounts.into_iter().max_by(|a, b| {
        // Nearer wins (so compare distances reversed), then larger.
        let by_distance = distance(b).cmp(&distance(a));
        by_distance.then(a.value.total_cmp(&b.value))
    })?;
    Some((best.value, best.currency))
}

const SYMBOLS: &[(&str, &str)] = &[
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
    ("₹", "INR"),
];

const CURRENCY_WORDS: &[(&str, &str)] = &[
    ("usd", "USD"),
    ("dollar", "USD"),
    ("dollars", "USD"),
    ("bucks", "USD"),
    ("eur", "EUR"),
    ("euro", "EUR"),
    ("euros", "EUR"),
    ("gbp", "GBP"),
    ("pound", "GBP"),
    ("pounds", "GBP"),
    ("quid", "GBP"),
    ("sterling", "GBP"),
    ("chf", "CHF"),
    ("franken", "CHF"),
    ("cad", "CAD"),
    ("aud", "AUD"),
    ("nzd", "NZD"),
    ("jpy", "JPY"),
    ("yen", "JPY"),
    ("sek", "SEK"),
    ("nok", "NOK"),
    ("dkk", "DKK"),
    ("pln", "PLN"),
    ("inr", "INR"),
];

/// Letters glued before `$` that name another dollar: "US$", "A$", "C$".
const DOLLAR_PREFIXES: &[(&str, &str)] = &[
    ("us", "USD"),
    ("a", "AUD"),
    ("au", "AUD"),
    ("c", "CAD"),
    ("ca", "CAD"),
    ("nz", "NZD"),
];

/// Multipliers glued to the number: "5k", "1.2m".
const GLUED_MULTIPLIERS: &[(&str, f64)] = &[("k", 1e3), ("m", 1e6), ("mn", 1e6), ("mm", 1e6)];
/// Multipliers as words: "5 thousand", "1,5 Mio.".
const WORD_MULTIPLIERS: &[(&str, f64)] = &[
    ("thousand", 1e3),
    ("tausend", 1e3),
    ("tsd", 1e3),
    ("grand", 1e3),
    ("million", 1e6),
    ("millions", 1e6),
    ("millionen", 1e6),
    ("mio", 1e6),
];

/// Words before a bare number that make it money: "worth 4000", "Auftragswert: 4000".
#[rustfmt::skip]
const CONTEXT_BEFORE: &[&str] = &[
    "worth", "value", "valued", "volume", "wert", "volumen", "auftragswert", "umsatz", "revenue",
    "deal", "contract", "order", "auftrag", "honorar", "fee", "fees", "retainer", "invoice",
    "invoiced", "billed",
];

/// Words after a bare number that make it a count, not money: "an order of 300 units".
#[rustfmt::skip]
const COUNTED: &[&str] = &[
    "units", "pieces", "pcs", "items", "licenses", "licences", "seats", "users", "people", "hours",
    "days", "stück", "stk", "lizenzen", "stunden", "tage", "leute",
];

/// Words that make an amount near them a price under discussion, not business done.
#[rustfmt::skip]
const PENDING: &[&str] = &[
    "proposal", "quote", "quoted", "quoting", "offer", "offered", "estimate", "budget", "pipeline",
    "potential", "potentially", "could", "might", "would", "hope", "hoping", "expect", "expecting",
    "asking", "asked", "wanted", "wants", "charge", "charges", "price", "angebot",
    "kostenvoranschlag", "potenzial", "könnte", "würde", "vielleicht", "preis", "wollte",
];

/// Whether a [`PENDING`] word stands within twelve tokens of `at`, in its sentence.
fn pending(tokens: &[Token], at: usize) -> bool {
    let sentence = tokens[at].sentence;
    let from = at.saturating_sub(12);
    let to = (at + 13).min(tokens.len());
    tokens[from..to]
        .iter()
        .any(|t| t.sentence == sentence && t.is_any_word(PENDING))
}
/// Words after a bare number that make it money: "a 3000 deal".
#[rustfmt::skip]
const CONTEXT_AFTER: &[&str] = &[
    "deal", "contract", "order", "project", "job", "auftrag", "projekt", "engagement", "retainer",
    "sale",
];

fn symbol(t: &Token) -> Option<&'static str> {
    (t.kind == Kind::Mark)
        .then(|| SYMBOLS.iter().find(|(s, _)| *s == t.text).map(|&(_, c)| c))
        .flatten()
}

fn currency_word(t: &Token) -> Option<&'static str> {
    (t.kind == Kind::Word)
        .then(|| {
            CURRENCY_WORDS
                .iter()
                .find(|(w, _)| *w == t.text)
                .map(|&(_, c)| c)
        })
        .flatten()
}

/// The currency named right before the number at `i`: "$", "US$", "EUR ".
fn currency_before(tokens: &[Token], i: usize) -> Option<&'static str> {
    let prev = tokens.get(i.checked_sub(1)?)?;
    if prev.line != tokens[i].line {
        return None;
    }
    if let Some(c) = symbol(prev) {
        if prev.text == "$" && prev.glued && i >= 2 {
            let prefix = &tokens[i - 2];
            if let Some(&(_, c)) = DOLLAR_PREFIXES.iter().find(|(p, _)| prefix.is_word(p)) {
                return Some(c);
            }
        }
        return Some(c);
    }
    currency_word(prev)
}

/// The amount whose number is the token at `i`, if it is one.
fn amount_at(tokens: &[Token], i: usize) -> Option<Amount> {
    let t = &tokens[i];
    if t.kind != Kind::Number || !free_start(tokens, i) {
        return None;
    }
    let grouped = space_grouped(tokens, i);
    let (text, last) = match &grouped {
        Some((digits, last)) => (digits.as_str(), *last),
        None => (t.as_str(), i),
    };
    if !free_end(tokens, last) {
        return None;
    }
    let mut j = last + 1;
    let mut multiplier = None;
    if let Some(next) = tokens.get(j).filter(|n| n.line == t.line) {
        let glued_mult = GLUED_MULTIPLIERS.iter().find(|(w, _)| next.is_word(w));
        let word_mult = WORD_MULTIPLIERS.iter().find(|(w, _)| next.is_word(w));
        if let Some(&(_, m)) = glued_mult.filter(|_| next.glued).or(word_mult) {
            multiplier = Some(m);
            j += 1;
            if tokens.get(j).is_some_and(|d| d.glued && d.is_mark(".")) {
                j += 1; // "Mio." "Tsd."
            }
        } else if next.glued && next.kind == Kind::Word && currency_word(next).is_none() {
            return None; // "5th", "5pm", "v2"
        }
    }
    // "2.500,- €": the dash stands for zero cents.
    if tokens
        .get(j)
        .is_some_and(|c| c.glued && c.is_any_mark(&[",", "."]))
        && tokens
            .get(j + 1)
            .is_some_and(|d| d.glued && d.is_any_mark(&["-", "–"]))
    {
        j += 2;
    }
    let after = tokens.get(j).filter(|a| a.line == t.line);
    let currency = after
        .and_then(|a| symbol(a).or_else(|| currency_word(a)))
        .or_else(|| currency_before(tokens, i));
    let value = parse_number(text, multiplier.is_some())? * multiplier.unwrap_or(1.0);
    if !(value.is_finite() && value > 0.0) {
        return None;
    }
    // "2 500 €" is grouped by spaces only next to a currency; "20 7946" is a phone number.
    if grouped.is_some() && currency.is_none() {
        return None;
    }
    if currency.is_none() && !bare_is_money(tokens, i, after, value, multiplier.is_some()) {
        return None;
    }
    Some(Amount {
        value,
        currency,
        at: i,
    })
}

/// "2 500" or "1 200 000": digit groups of three after a first group of one to three, apart by
/// spaces (the French and Swiss way). The digits and the index of the last group.
fn space_grouped(tokens: &[Token], i: usize) -> Option<(String, usize)> {
    let plain = |t: &Token| t.kind == Kind::Number && t.text.bytes().all(|b| b.is_ascii_digit());
    let first = &tokens[i];
    if !plain(first) || first.text.len() > 3 {
        return None;
    }
    let mut digits = first.as_str().to_string();
    let mut last = i;
    while let Some(g) = tokens.get(last + 1) {
        if !plain(g) || g.glued || g.line != first.line || g.text.len() != 3 {
            break;
        }
        digits.push_str(g.as_str());
        last += 1;
    }
    (last > i).then_some((digits, last))
}

/// Whether the number starting at token `first` is not the tail of a phone number, a code or
/// a date: "+44 20 7946 0958", "#5", "v2", "3/5" (but "USD4000" is money).
fn free_start(tokens: &[Token], first: usize) -> bool {
    let t = &tokens[first];
    let Some(prev) = first.checked_sub(1).map(|p| &tokens[p]) else {
        return true;
    };
    if prev.line != t.line {
        return true;
    }
    let glued_word = t.glued && prev.kind == Kind::Word && currency_word(prev).is_none();
    let glued_mark = t.glued && prev.is_any_mark(&["+", "#", "/", ":", "-", "."]);
    !(prev.kind == Kind::Number || glued_word || glued_mark)
}

/// Whether the number ending at token `last` does not go on as a date, a time, a range, a
/// phone number or a percentage: "3/5", "10:30", "2-3", "555-0100", "50%".
fn free_end(tokens: &[Token], last: usize) -> bool {
    let line = tokens[last].line;
    let same_line = |k: usize| tokens.get(k).filter(|o| o.line == line);
    let Some(next) = same_line(last + 1) else {
        return true;
    };
    let chained = next.glued
        && next.is_any_mark(&["/", ":", "-", "."])
        && same_line(last + 2).is_some_and(|n| n.glued && n.kind == Kind::Number);
    !(chained || next.kind == Kind::Number || next.is_mark("%"))
}

/// Whether a number without a currency is money by its context: "worth 4000", "a 3000 deal".
/// It must be at least 100 (or carry k/m), and a year (1900–2100) never is.
fn bare_is_money(
    tokens: &[Token],
    i: usize,
    after: Option<&Token>,
    value: f64,
    multiplied: bool,
) -> bool {
    // "5 grand" is money by itself; "300 units" never is.
    if tokens.get(i + 1).is_some_and(|t| t.is_word("grand")) {
        return true;
    }
    if after.is_some_and(|a| a.is_any_word(COUNTED)) {
        return false;
    }
    let plain_year = !multiplied
        && tokens[i].text.len() == 4
        && tokens[i].text.bytes().all(|b| b.is_ascii_digit())
        && (1900.0..=2100.0).contains(&value);
    if plain_year || (value < 100.0 && !multiplied) {
        return false;
    }
    // "Auftragswert: 4000": the label before a colon counts as the same clause.
    let lowest = match i.checked_sub(1).map(|p| &tokens[p]) {
        Some(colon) if colon.is_mark(":") => colon.clause,
        _ => tokens[i].clause,
    };
    let before = tokens[..i]
        .iter()
        .rev()
        .take(12)
        .take_while(|p| p.clause >= lowest)
        .filter(|p| p.kind == Kind::Word)
        .take(3)
        .any(|p| p.is_any_word(CONTEXT_BEFORE));
    before || after.is_some_and(|a| a.is_any_word(CONTEXT_AFTER))
}

/// A number written the English or the German way: "2,500" and "2.500" are 2500, "2,50" and
/// "2.50" are 2.5, "1,200.50" and "1.200,50" are 1200.5, "3'000" is 3000. With a multiplier a
/// single separator is always decimal ("1.250k" is 1250).
pub(super) fn parse_number(text: &str, multiplied: bool) -> Option<f64> {
    let s: String = text.chars().filter(|c| !matches!(c, '\'' | '’')).collect();
    let last_sep = s.rfind(['.', ',']);
    let Some(at) = last_sep else {
        return digits(&s);
    };
    let sep = if s[at..].starts_with('.') { '.' } else { ',' };
    let other = if sep == '.' { ',' } else { '.' };
    let (int_part, frac) = (&s[..at], &s[at + 1..]);
    let seps_of_kind = s.matches(sep).count();
    if s.contains(other) {
        // Both kinds: the last is the decimal point, the other groups thousands.
        if seps_of_kind > 1 {
            return None;
        }
        return Some(grouped(int_part, other)? + fraction(frac)?);
    }
    if seps_of_kind > 1 {
        return grouped(&s, sep);
    }
    if frac.len() == 3 && int_part.len() <= 3 && !multiplied {
        return grouped(&s, sep);
    }
    Some(digits(int_part)? + fraction(frac)?)
}

fn digits(s: &str) -> Option<f64> {
    if s.is_empty() || s.len() > 15 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn fraction(s: &str) -> Option<f64> {
    digits(s).map(|d| d / 10f64.powi(i32::try_from(s.len()).unwrap_or(0)))
}

/// "1.200.000" grouped by `sep`: the first group 1–3 digits, the others exactly 3.
fn grouped(s: &str, sep: char) -> Option<f64> {
    let mut groups = s.split(sep);
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 {
        return None;
    }
    let mut all = first.to_string();
    for g in groups {
        if g.len() != 3 {
            return None;
        }
        all.push_str(g);
    }
    digits(&all)
}
