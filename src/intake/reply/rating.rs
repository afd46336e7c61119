//! The 1–5 rating: explicit forms ("4/5", "★★★★", "Rating: 3", a lone "5" opening the reply)
//! first, then words ("excellent", "nicht gut"). The rules are listed in the module doc of
//! [`super`].

use std::sync::LazyLock;

use super::text::{Hit, Kind, PhraseSet, Token, Words, negated, question_sentences};

/// The rating a reply gives, if it clearly gives one. Where no rating was `asked` for, only a
/// rating written as one counts ("4/5", "★★★★", "Rating: 4", "5 — we signed"), never praise
/// ("it went great").
pub(super) fn read(tokens: &[Token], words: &Words, asked: bool) -> Option<u8> {
    explicit(tokens).or_else(|| asked.then(|| from_words(tokens, words)).flatten())
}

// ---------------------------------------------------------------------------------------------
// Explicit forms
// ---------------------------------------------------------------------------------------------

const FILLED_STARS: &[&str] = &["★", "⭐", "🌟", "✭", "✮"];
const EMPTY_STARS: &[&str] = &["☆", "✩"];
#[rustfmt::skip]
const STAR_WORDS: &[&str] = &[
    "star", "stars", "stern", "sterne", "sternen", "étoile", "étoiles", "estrella", "estrellas",
    "estrela", "estrelas", "stella", "stelle", "ster", "sterren",
];
/// Star words that a number word may count ("five stars", "cinq étoiles"), unlike "Five Star
/// Plumbing".
#[rustfmt::skip]
const PLURAL_STARS: &[&str] = &[
    "stars", "sterne", "sternen", "étoiles", "estrellas", "estrelas", "stelle", "sterren",
];
const NUMBER_WORDS: &[(&str, f64)] = &[
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("ten", 10.0),
    ("eins", 1.0),
    ("zwei", 2.0),
    ("drei", 3.0),
    ("vier", 4.0),
    ("fünf", 5.0),
    ("zehn", 10.0),
    // "Un", "una", "um", "een" are articles as often as numbers: one is left out.
    ("deux", 2.0),
    ("trois", 3.0),
    ("quatre", 4.0),
    ("cinq", 5.0),
    ("dix", 10.0),
    ("dos", 2.0),
    ("tres", 3.0),
    ("cuatro", 4.0),
    ("cinco", 5.0),
    ("diez", 10.0),
    ("dois", 2.0),
    ("duas", 2.0),
    ("três", 3.0),
    ("quatro", 4.0),
    ("dez", 10.0),
    ("due", 2.0),
    ("tre", 3.0),
    ("quattro", 4.0),
    ("cinque", 5.0),
    ("dieci", 10.0),
    ("twee", 2.0),
    ("drie", 3.0),
    ("vijf", 5.0),
    ("tien", 10.0),
];

/// Words after which a number is a date: "on 3/5", "am 4.".
#[rustfmt::skip]
const DATE_WORDS: &[&str] = &[
    "on", "by", "until", "till", "since", "before", "after", "due", "dated", "the", "am", "vom",
    "bis", "ab", "seit", "zum", "le", "du", "mon", "tue", "tues", "wed", "thu", "thur", "thurs",
    "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "mo",
    "di", "mi", "fr", "sa",
];

/// Words that make the number before them a count, a time, an amount or a date.
#[rustfmt::skip]
const UNIT_WORDS: &[&str] = &[
    "people", "person", "persons", "guys", "folks", "attendees", "participants", "employees",
    "staff", "meetings", "meeting", "calls", "call", "times", "time", "weeks", "week", "days",
    "day", "months", "month", "years", "year", "yrs", "hours", "hour", "hrs", "hr", "h", "minutes",
    "minute", "mins", "min", "seconds", "secs", "pm", "am", "o'clock", "uhr", "leute", "personen",
    "teilnehmer", "mitarbeiter", "termine", "termin", "treffen", "gespräche", "wochen", "woche",
    "tage", "tagen", "tag", "monate", "monaten", "monat", "jahre", "jahren", "jahr", "stunden",
    "stunde", "std", "minuten", "mal", "x", "projects", "clients", "customers", "deals", "offices",
    "items", "pages", "emails", "messages", "kunden", "k", "m", "mio", "tsd", "thousand", "million",
    "grand", "percent", "prozent", "per", "euro", "euros", "eur", "dollars", "dollar", "usd",
    "pounds", "gbp", "chf", "bucks", "quid", "companies", "firms", "candidates", "options",
    "quotes", "proposals", "st", "nd", "rd", "th", "to", "or", "bis", "oder", "different", "other",
    "more", "new", "of", "personnes", "personas", "pessoas", "persone", "mensen", "semaines",
    "semanas", "settimane", "weken", "jours", "días", "dias", "giorni", "dagen", "mois", "meses",
    "mesi", "maanden", "heures", "horas", "ore", "uur", "minutos", "minuti", "fois", "veces",
    "vezes", "volte", "keer", "réunions", "reuniones", "reuniões", "riunioni", "ans", "años",
    "anos", "anni", "jaar", "ou", "o", "al", "tot", "rendez-vous",
];

/// Month names: a number next to one is a date.
#[rustfmt::skip]
const MONTHS: &[&str] = &[
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "januar", "februar", "märz", "mai", "juni", "juli", "oktober",
    "dezember", "okt", "dez",
];

/// Words that may follow a rating number in a sentence ("4 out of 5", "5 from me").
#[rustfmt::skip]
const RATING_TAIL: &[&str] = &[
    "from", "for", "overall", "out", "stars", "star", "points", "punkte", "sterne", "sternen",
    "insgesamt", "von", "geben", "vergeben", "because", "since", "but", "though", "weil", "aber",
];

/// Words after which a number is a rating: "Rating: 4", "rated it 4", "Bewertung: 4",
/// "puntuación: 4". School-grade words ("Note", "nota", "voto", "cijfer") are not here: their
/// scales run the other way or to 10. French "note" counts only written the French way
/// (`note : 4`), see [`french_note`].
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "rating", "rated", "rate", "score", "scored", "grade", "bewertung", "bewerte", "bewerten",
    "évaluation", "puntuación", "puntuacion", "valoración", "valoracion", "calificación",
    "calificacion", "avaliação", "avaliacao", "pontuação", "pontuacao", "classificação",
    "valutazione", "punteggio", "beoordeling", "waardering",
];
/// Verbs after which a number ending its clause is a rating: "I'd give it a 4", "I'd say 3",
/// but not "gave me 3 leads".
const GIVE_WORDS: &[&str] = &[
    "give", "giving", "gave", "gebe", "vergebe", "geben", "say", "sagen",
];

/// Words allowed between a keyword and its number.
#[rustfmt::skip]
const FILLERS: &[&str] = &[
    "it", "this", "that", "them", "him", "her", "the", "a", "an", "is", "was", "would", "be", "as",
    "at", "of", "intro", "introduction", "meeting", "call", "experience", "overall", "i", "we",
    "me", "us", "my", "our", "solid", "strong", "clear", "easy", "definitely", "probably", "ich",
    "es", "eine", "einen", "ihm", "ihr", "die", "der", "das", "mit", "eher", "glatte", "klare",
    "solide", "würde", "mi", "ma", "mon", "notre", "nuestra", "nuestro", "minha", "nossa", "la",
    "il", "mijn", "onze", "de", "final", "finale", "globale", "general", "geral",
];
const FILLER_MARKS: &[&str] = &[":", "=", "-", "–", "—", "(", "~", "*", "\""];

/// The explicit rating that comes first in the reply.
fn explicit(tokens: &[Token]) -> Option<u8> {
    let mut found: Option<(usize, u8)> = None;
    let mut keep = |at: usize, rating: u8| {
        if found.is_none_or(|(first, _)| at < first) {
            found = Some((at, rating));
        }
    };
    let start = after_greeting(tokens);
    let lists = ListNumbers::of(tokens);
    for i in 0..tokens.len() {
        let rating = fraction(tokens, i)
            .or_else(|| counted_stars(tokens, i))
            .or_else(|| after_keyword(tokens, i))
            .or_else(|| after_article(tokens, i))
            .or_else(|| star_run(tokens, i))
            .or_else(|| leading_digit(tokens, i, start, &lists));
        if let Some(r) = rating {
            keep(i, r);
            break;
        }
    }
    for (at, r) in [lone_line_digit(tokens), closing_digit(tokens)]
        .into_iter()
        .flatten()
    {
        keep(at, r);
    }
    found.map(|(_, r)| r)
}

/// A number token's value, or a number word's ("four").
fn number_value(t: &Token) -> Option<f64> {
    match t.kind {
        Kind::Number => t.small_decimal(),
        Kind::Word => NUMBER_WORDS
            .iter()
            .find(|(w, _)| *w == t.text)
            .map(|&(_, v)| v),
        Kind::Mark => None,
    }
}

/// `n` on a scale to `out_of` (5 or 10) as 1–5, halves rounded up.
fn on_scale(n: f64, out_of: f64) -> Option<u8> {
    if !(0.0..=out_of).contains(&n) {
        return None;
    }
    let five = if out_of == 10.0 { n / 2.0 } else { n };
    // Clamped to 1–5 first, so the cast is exact.
    Some((five + 0.5).floor().clamp(1.0, 5.0) as u8)
}

/// Whether the number at `i` stands on its own at its start: not "v2", "10:30", "3/5/2026"'s
/// later parts, "+44", "$5".
fn free_before(tokens: &[Token], i: usize) -> bool {
    let t = &tokens[i];
    if !t.glued || i == 0 {
        return true;
    }
    let prev = &tokens[i - 1];
    match prev.kind {
        Kind::Word | Kind::Number => false,
        Kind::Mark => {
            if prev.is_any_mark(&["/", ".", "-", ":", ","]) {
                // "12/3/5", "10:30": a chain of numbers.
                !(prev.glued && i >= 2 && tokens[i - 2].kind == Kind::Number)
            } else {
                !prev.is_any_mark(&["+", "#", "$", "€", "£", "¥", "₹", "§", "~", "≈", "№"])
            }
        }
    }
}

/// Whether a date word ("on", "am", "the") comes right before the number at `i`.
fn after_date_word(tokens: &[Token], i: usize) -> bool {
    i > 0 && tokens[i - 1].is_any_word(DATE_WORDS)
}

/// Whether the number at `i` continues as a date or a code: "5/2026", "5.11.", "5th".
fn continues(tokens: &[Token], i: usize) -> bool {
    let Some(next) = tokens.get(i + 1) else {
        return false;
    };
    if !next.glued {
        return false;
    }
    match next.kind {
        Kind::Word => !next.is_any_word(STAR_WORDS),
        Kind::Number => true,
        Kind::Mark => {
            next.is_any_mark(&["/", ".", "-", ":"])
                && tokens
                    .get(i + 2)
                    .is_some_and(|t| t.glued && t.kind == Kind::Number)
        }
    }
}

/// Whether what follows the number at `i` lets it be a rating: not a unit, a time, a month,
/// a range or a percentage.
fn tail_allows(tokens: &[Token], i: usize) -> bool {
    let t = &tokens[i];
    let Some(next) = tokens.get(i + 1) else {
        return true;
    };
    if next.line != t.line {
        return true;
    }
    match next.kind {
        Kind::Word => {
            let glued_letters = next.glued && !next.is_any_word(STAR_WORDS);
            !glued_letters && !next.is_any_word(UNIT_WORDS) && !next.is_any_word(MONTHS)
        }
        Kind::Number => false,
        Kind::Mark => {
            if next.is_any_mark(&["%", "$", "€", "£", "/", "'", "’", "&", "+", "×"]) {
                return false;
            }
            // "4-5", "10:30", "4, 5 or 6": another number follows.
            let then = tokens.get(i + 2);
            !then.is_some_and(|n| n.kind == Kind::Number && n.line == t.line)
        }
    }
}

/// Whether the number at `i` ends its clause, or is followed by a rating word ("5 from me").
fn ends_clause(tokens: &[Token], i: usize) -> bool {
    let t = &tokens[i];
    match tokens.get(i + 1) {
        None => true,
        Some(next) if next.line != t.line => true,
        Some(next) => match next.kind {
            Kind::Word => next.is_any_word(RATING_TAIL),
            Kind::Number => false,
            Kind::Mark => {
                next.is_any_mark(&[".", "!", ",", ";", ")", "-", "–", "—", ":", "…"])
                    && tail_allows(tokens, i)
            }
        },
    }
}

/// "4/5", "4 / 5", "4 out of 5", "4 of 5", "4 von 5", "8/10", "four out of five".
fn fraction(tokens: &[Token], i: usize) -> Option<u8> {
    let n = number_value(&tokens[i])?;
    if !free_before(tokens, i) || after_date_word(tokens, i) {
        return None;
    }
    let next = tokens.get(i + 1)?;
    let (d_at, slash) = if next.is_mark("/") {
        (i + 2, true)
    } else if next.is_word("out") && tokens.get(i + 2)?.is_word("of") {
        (i + 3, false)
    } else if next.is_any_word(&[
        "of", "von", "sur", "aus", "de", "sobre", "su", "van", "op", "uit",
    ]) {
        (i + 2, false)
    } else {
        return None;
    };
    let d_token = tokens.get(d_at)?;
    let out_of = number_value(d_token)?;
    if (out_of != 5.0 && out_of != 10.0) || d_token.text.contains(['.', ',']) {
        return None;
    }
    if continues(tokens, d_at) {
        return None;
    }
    let follows = tokens.get(d_at + 1).filter(|t| t.line == d_token.line);
    // "3/5 10:30", "3/5 at 10am": a date with its time.
    let then_time = tokens.get(d_at + 2).is_some_and(|t| t.kind == Kind::Number);
    if follows
        .is_some_and(|t| t.kind == Kind::Number || (t.is_any_word(&["at", "um", "à"]) && then_time))
    {
        return None;
    }
    if slash {
        // "1/5 of the budget" is a fraction of something.
        if follows.is_some_and(|t| t.is_any_word(&["of", "der", "des"])) {
            return None;
        }
    } else if !ends_clause(tokens, d_at) {
        return None;
    }
    on_scale(n, out_of)
}

/// "5 stars", "4-star", "4 Sterne", "5*".
fn counted_stars(tokens: &[Token], i: usize) -> Option<u8> {
    let n = number_value(&tokens[i])?;
    if !free_before(tokens, i) {
        return None;
    }
    let mut j = i + 1;
    if tokens.get(j)?.is_mark("-") {
        j += 1;
    }
    let t = tokens.get(j)?;
    // "five stars", but not "Five Star Plumbing Ltd".
    let word_ok = tokens[i].kind == Kind::Number || t.is_any_word(PLURAL_STARS);
    let is_star = (t.is_any_word(STAR_WORDS) && word_ok)
        || (j == i + 1
            && t.glued
            && t.is_mark("*")
            && !tokens.get(j + 1).is_some_and(|n| n.kind == Kind::Number));
    if is_star && (1.0..=5.0).contains(&n) {
        on_scale(n, 5.0)
    } else {
        None
    }
}

/// "Rating: 4", "rated it 4", "I'd give it a 4", "Bewertung: 5", "ich würde eine 4 geben".
fn after_keyword(tokens: &[Token], i: usize) -> Option<u8> {
    let t = &tokens[i];
    let n = match t.kind {
        Kind::Number => t.small_decimal()?,
        _ => number_value(t)?,
    };
    if !(1.0..=5.0).contains(&n) || !free_before(tokens, i) || !tail_allows(tokens, i) {
        return None;
    }
    if french_note(tokens, i) {
        return on_scale(n, 5.0);
    }
    let lead = |words: &[&str]| {
        (1..=5)
            .map_while(|k| i.checked_sub(k).map(|p| &tokens[p]))
            .take_while(|p| {
                p.is_any_word(FILLERS) || p.is_any_mark(FILLER_MARKS) || p.is_any_word(words)
            })
            .any(|p| p.is_any_word(words))
    };
    let keyword_before = lead(KEYWORDS) || (lead(GIVE_WORDS) && ends_clause(tokens, i));
    // German puts the verb last: "eine 4 geben".
    let keyword_after = i > 0
        && tokens[i - 1].is_any_word(&["eine", "ne", "die"])
        && tokens
            .get(i + 1)
            .is_some_and(|n| n.is_any_word(&["geben", "vergeben", "gegeben"]));
    if keyword_before || keyword_after {
        on_scale(n, 5.0)
    } else {
        None
    }
}

/// "Note : 4": French sets a space before the colon; German "Note: 2" (a school grade, where 1
/// is best) does not, and is never read.
fn french_note(tokens: &[Token], i: usize) -> bool {
    i >= 2 && tokens[i - 1].is_mark(":") && !tokens[i - 1].glued && tokens[i - 2].is_word("note")
}

/// "It was a 4.", "a solid 5 from me", "that's an easy 5!": an article before the number and
/// nothing after it in the clause.
fn after_article(tokens: &[Token], i: usize) -> Option<u8> {
    let t = &tokens[i];
    let n = match t.kind {
        Kind::Number => t.small_int()?,
        _ => OPENING_WORDS.iter().find(|(w, _)| t.is_word(w))?.1,
    };
    if !(1..=5).contains(&n) || !free_before(tokens, i) || !ends_clause(tokens, i) {
        return None;
    }
    let mut k = i.checked_sub(1)?;
    if tokens[k].is_any_word(FIRM) {
        return u8::try_from(n).ok();
    }
    if !tokens[k].is_any_word(&["a", "an", "eine", "ne"]) {
        return None;
    }
    k = k.checked_sub(1)?;
    let lead = tokens[k].is_any_word(ARTICLE_LEADS) || tokens[k].is_any_word(FIRM);
    lead.then(|| u8::try_from(n).ok()).flatten()
}

/// Words that make a number after them a rating: "a solid 4".
const FIRM: &[&str] = &[
    "solid", "strong", "clear", "easy", "glatte", "klare", "solide", "klar",
];

/// Words before "a 4" that make it a rating: "it was a 4", "def a 5".
#[rustfmt::skip]
const ARTICLE_LEADS: &[&str] = &[
    "was", "is", "be", "been", "say", "definitely", "def", "defo", "easily", "probably", "maybe",
    "honestly", "overall", "war", "ist", "eher",
];

/// A run of filled stars (★★★★☆ is 4; ⭐⭐⭐⭐⭐ is 5), on one line.
fn star_run(tokens: &[Token], i: usize) -> Option<u8> {
    let is_star = |t: &Token| t.is_any_mark(FILLED_STARS) || t.is_any_mark(EMPTY_STARS);
    if !is_star(&tokens[i])
        || (i > 0 && is_star(&tokens[i - 1]) && tokens[i - 1].line == tokens[i].line)
    {
        return None;
    }
    let line = tokens[i].line;
    let run = tokens[i..]
        .iter()
        .take_while(|t| is_star(t) && t.line == line)
        .count();
    // "⭐ 4/5": a star decorating a number is not a one-star rating.
    let decorates = tokens
        .get(i + run)
        .is_some_and(|t| t.kind == Kind::Number && t.line == line);
    let filled = tokens[i..i + run]
        .iter()
        .filter(|t| t.is_any_mark(FILLED_STARS))
        .count();
    u8::try_from(filled)
        .ok()
        .filter(|n| (1..=5).contains(n) && !decorates)
}

/// Greeting words that may open a reply before the rating: "Hi Alice, 5 – we signed".
const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "dear", "hallo", "liebe", "lieber", "moin", "servus", "hej", "bonjour",
    "salut", "hiya", "morning", "guten", "good", "grüß", "grüezi", "ciao", "thanks", "danke",
];

/// Words that may follow a rating digit opening the reply without punctuation: "5 we signed".
#[rustfmt::skip]
const STARTERS: &[&str] = &[
    "we", "i", "it", "they", "he", "she", "thanks", "thank", "wir", "ich", "es", "sie", "er",
    "danke", "overall", "absolutely", "definitely", "for", "from", "insgesamt",
];

/// Where the reply's first words are once a greeting ("Hi Alice,") is skipped.
fn after_greeting(tokens: &[Token]) -> usize {
    let Some(first) = tokens.first() else {
        return 0;
    };
    if !first.is_any_word(GREETINGS) {
        return 0;
    }
    for (k, t) in tokens.iter().enumerate().take(8).skip(1) {
        if t.line != first.line {
            return k;
        }
        if t.is_any_mark(&[",", "!", ":", "."]) {
            return k + 1;
        }
    }
    0
}

/// Number words that may open a sentence as its rating: "Five. We signed."
const OPENING_WORDS: &[(&str, u32)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("eins", 1),
    ("zwei", 2),
    ("drei", 3),
    ("vier", 4),
    ("fünf", 5),
];

/// A digit 1–5 (or "four") opening the reply or a sentence: "5 — we signed", "4. Good chat",
/// "Thanks. 3 (meh)", but not "5 people", "5pm", "2-3 weeks", "5. November" or the "1." of a
/// numbered list.
fn leading_digit(tokens: &[Token], i: usize, start: usize, lists: &ListNumbers) -> Option<u8> {
    let t = &tokens[i];
    let opens = i == start || (i > 0 && t.sentence != tokens[i - 1].sentence);
    // "Nov. 5", "No. 5": the dot ended an abbreviation, not a sentence.
    let abbreviated = i >= 2
        && tokens[i - 1].is_mark(".")
        && (tokens[i - 2].is_any_word(MONTHS) || tokens[i - 2].is_any_word(REFERENCE_WORDS));
    if !opens || abbreviated {
        return None;
    }
    let n = match t.kind {
        Kind::Number if t.text.len() == 1 => t.small_int()?,
        Kind::Word => OPENING_WORDS.iter().find(|(w, _)| t.is_word(w))?.1,
        _ => return None,
    };
    let rating = u8::try_from(n).ok().filter(|n| (1..=5).contains(n))?;
    if i > 0 && t.glued && tokens[i - 1].line == t.line {
        return None;
    }
    let Some(next) = tokens.get(i + 1).filter(|n| n.line == t.line) else {
        return Some(rating);
    };
    match next.kind {
        Kind::Word => {
            (t.kind == Kind::Number && !next.glued && next.is_any_word(STARTERS)).then_some(rating)
        }
        Kind::Number => None,
        Kind::Mark => {
            if !next.is_any_mark(&["-", "–", "—", ",", ".", ":", "!", ")", ";", "("]) {
                return None;
            }
            let then = tokens.get(i + 2).filter(|a| a.line == t.line);
            let blocked = then.is_some_and(|a| {
                a.kind == Kind::Number || a.is_any_word(MONTHS) || a.is_any_word(UNIT_WORDS)
            });
            let list = lists.has(n + 1, next.as_str());
            (!blocked && !list).then_some(rating)
        }
    }
}

/// Words that make the following "No. 5" or "Nov. 5" a reference or a date.
const REFERENCE_WORDS: &[&str] = &[
    "no", "nr", "number", "nummer", "p", "pp", "vol", "ch", "ref", "art", "fig",
];

/// A digit 1–5 closing the reply after a sentence: "No business yet, but promising. 4".
fn closing_digit(tokens: &[Token]) -> Option<(usize, u8)> {
    let mut end = tokens.len();
    while end > 0 && tokens[end - 1].is_any_mark(&[".", "!", ")"]) {
        end -= 1;
    }
    let i = end.checked_sub(1)?;
    let t = &tokens[i];
    let n = t
        .small_int()
        .filter(|n| (1..=5).contains(n) && t.text.len() == 1)?;
    let prev = &tokens[i.checked_sub(1)?];
    if prev.line == t.line {
        let after_sentence = prev.is_any_mark(&[".", "!", "?", ",", ";", "-", "–", "—", "("]);
        let before = i.checked_sub(2).map(|k| &tokens[k]);
        let reference = before.is_some_and(|b| {
            b.kind == Kind::Number || b.is_any_word(MONTHS) || b.is_any_word(REFERENCE_WORDS)
        });
        if !after_sentence || reference {
            return None;
        }
    }
    u8::try_from(n).ok().map(|r| (i, r))
}

/// Which list numbers ("2.", "3)") start a line: a "1." opening the reply is list numbering
/// when a line starting "2." follows.
struct ListNumbers {
    dot: [bool; 7],
    paren: [bool; 7],
}

impl ListNumbers {
    fn of(tokens: &[Token]) -> ListNumbers {
        let mut lists = ListNumbers {
            dot: [false; 7],
            paren: [false; 7],
        };
        for w in tokens.windows(2) {
            let n = w[0].small_int().and_then(|n| usize::try_from(n).ok());
            if let Some(n) = n.filter(|&n| n < 7 && w[0].line_start && w[1].glued) {
                lists.dot[n] |= w[1].is_mark(".");
                lists.paren[n] |= w[1].is_mark(")");
            }
        }
        lists
    }

    /// Whether a line starts with `n` followed by `mark`.
    fn has(&self, n: u32, mark: &str) -> bool {
        let Ok(n) = usize::try_from(n) else {
            return false;
        };
        match mark {
            "." => self.dot.get(n).copied().unwrap_or(false),
            ")" => self.paren.get(n).copied().unwrap_or(false),
            _ => false,
        }
    }
}

/// A digit 1–5 alone on its line ("4" or "4."); several such lines must agree.
fn lone_line_digit(tokens: &[Token]) -> Option<(usize, u8)> {
    let mut found: Option<(usize, u32)> = None;
    for (i, t) in tokens.iter().enumerate() {
        if !t.line_start || t.text.len() != 1 {
            continue;
        }
        let Some(n) = t.small_int().filter(|n| (1..=5).contains(n)) else {
            continue;
        };
        let alone = tokens[i + 1..]
            .iter()
            .take_while(|r| r.line == t.line)
            .all(|r| r.is_any_mark(&[".", "!"]));
        if !alone {
            continue;
        }
        match found {
            None => found = Some((i, n)),
            Some((_, m)) if m == n => {}
            Some(_) => return None,
        }
    }
    found.and_then(|(i, n)| u8::try_from(n).ok().map(|r| (i, r)))
}

// ---------------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------------

/// The word scale documented in the module doc of [`super`].
#[rustfmt::skip]
static RATING_WORDS: LazyLock<PhraseSet<u8>> = LazyLock::new(|| {
    PhraseSet::new(&[
        // 5
        ("excellent|outstanding|fantastic|amazing|perfect|superb|brilliant|exceptional", 5),
        ("phenomenal|incredible|wonderful|awesome|fabulous|terrific|super|stellar", 5),
        ("top-notch|first-class|world-class|five-star", 5),
        ("top notch", 5),
        ("first|world class", 5),
        ("could not ?have ?been ?be better", 5),
        ("ausgezeichnet|ausgezeichnete|ausgezeichneter|ausgezeichnetes|hervorragend", 5),
        ("hervorragende|hervorragender|hervorragendes|exzellent|exzellente|perfekt|perfekte", 5),
        ("fantastisch|phantastisch|großartig|grossartig|großartige|klasse|spitze|genial", 5),
        ("wunderbar|erstklassig|überragend|traumhaft|bestens", 5),
        ("sehr gut|gute|guter|gutes|guten", 5),
        ("sehr sehr gut", 5),
        // 4
        ("great|good|nice|pleasant|helpful|useful|productive|positive|valuable|worthwhile", 4),
        ("promising|lovely|enjoyable|fruitful|constructive|encouraging|solid", 4),
        ("very|really|pretty|quite|extremely good|great|helpful|useful|productive", 4),
        ("went ?very|really|pretty well", 4),
        ("worked ?out ?very|really well", 4),
        ("gut|gute|guter|gutes|gutem|toll|tolle|toller|tolles|prima|schön|schöne|schönes", 4),
        ("hilfreich|hilfreiche|hilfreiches|nützlich|produktiv|produktive|positiv|positive", 4),
        ("angenehm|angenehme|angenehmes|erfreulich|wertvoll|wertvolle|vielversprechend", 4),
        ("sehr hilfreich|nett|toll|angenehm", 4),
        ("lief|läuft gut", 4),
        ("gut gelaufen", 4),
        // 3
        ("ok|okay|fine|alright|average|decent|so-so|mediocre|mixed|ok-ish|okayish|okish", 3),
        ("neutral|middling|unremarkable", 3),
        ("good enough", 3),
        ("nothing special", 3),
        ("so so", 3),
        ("ganz ok|okay|gut", 3),
        ("geht|ging so", 3),
        ("mittelmäßig|mittelmässig|durchschnittlich|passabel|akzeptabel|soso|befriedigend", 3),
        ("in ordnung", 3),
        // 2
        ("poor|disappointing|disappointed|underwhelming|meh|weak|bad|lacklustre|lackluster", 2),
        ("unhelpful|unproductive|frustrating|letdown", 2),
        ("not ideal", 2),
        ("a let down", 2),
        ("schlecht|schlechte|schlechter|schlechtes|enttäuschend|enttäuscht|mäßig|dürftig", 2),
        ("schwach|mau|durchwachsen", 2),
        // 1
        ("terrible|awful|useless|horrible|dreadful|appalling|atrocious|worst|disaster", 1),
        ("disastrous|pointless|abysmal|hopeless|rubbish", 1),
        ("waste of ?my|our time", 1),
        ("complete|total|a waste", 1),
        ("very|really|extremely bad|poor", 1),
        ("sehr|total|ganz schlecht|schlechte|schlechtes", 1),
        ("furchtbar|schrecklich|katastrophal|katastrophe|zeitverschwendung|nutzlos", 1),
        ("unbrauchbar|miserabel|grauenhaft|grottig|unterirdisch|sinnlos", 1),
        ("völlig daneben", 1),
    ])
});

/// Whether a rating word occurs (signature detection uses this to keep such lines).
pub(super) fn mentions_rating_word(words: &Words) -> bool {
    RATING_WORDS.any_in(words)
}

/// Phrases in which rating words say nothing about the referral.
#[rustfmt::skip]
static NOT_RATINGS: LazyLock<PhraseSet<()>> = LazyLock::new(|| {
    PhraseSet::new(&[
        ("good|great|nice morning|afternoon|evening|night|day|weekend|week|luck|news|question", ()),
        ("good|great|nice point|idea|catch|to|for|at|with", ()),
        ("have|enjoy ?a|the good|great|nice|lovely ~", ()),
        ("sounds|looks|seems good|great|fine|perfect|ok|okay", ()),
        ("hope ~ good|great|well|fine|ok|okay", ()),
        ("all the best", ()),
        ("all good|fine|well|ok|okay", ()),
        ("best|kind|warm regards|wishes", ()),
        ("ok|okay|fine|alright with|for|by|if", ()),
        ("is|are it|that|this|you ok|okay|fine|good", ()),
        ("guten morgen|tag|abend|rutsch", ()),
        ("gute nacht|reise|besserung|zusammenarbeit", ()),
        ("alles gute|liebe", ()),
        ("schönen|schöne|schönes tag|abend|wochenende|gruß|grüße|grüsse|woche", ()),
        ("gut zu wissen", ()),
        ("bad|poor|terrible timing|luck|news|connection|line", ()),
        ("too good to be true", ()),
        ("for good", ()),
        ("super excited|keen", ()),
    ])
});

/// Words that make a rating word hypothetical: "would be great", "hope it goes well".
#[rustfmt::skip]
const CONDITIONALS: &[&str] = &[
    "would", "could", "might", "hope", "hoping", "hopefully", "if", "wish", "should", "wenn",
    "falls", "würde", "wäre", "hoffe", "hoffentlich", "sollte", "ob",
];

/// Words that need a verb before them to rate anything: "it was ok" rates, "Ok, so…" does not.
const WEAK_WORDS: &[&str] = &["ok", "okay", "fine", "alright"];
const COPULAS: &[&str] = &[
    "was", "is", "were", "are", "been", "be", "seemed", "seems", "felt", "just", "pretty",
    "fairly", "quite", "rather", "only", "all", "overall", "war", "ist", "waren", "sind", "eher",
    "nur", "ganz", "recht", "so", "very",
];

/// A rating from words: the first rating word counts, unless the words disagree by two or more
/// points (then there is no rating).
fn from_words(tokens: &[Token], words: &Words) -> Option<u8> {
    let questions = question_sentences(tokens);
    let mut blocked = vec![false; words.len()];
    for hit in NOT_RATINGS.find_all(words) {
        blocked[hit.start..hit.end].fill(true);
    }
    let mut ratings = Vec::new();
    let mut pos = 0;
    while pos < words.len() {
        let Some(hit) = (!blocked[pos])
            .then(|| RATING_WORDS.longest_at(words, pos))
            .flatten()
        else {
            pos += 1;
            continue;
        };
        pos = hit.end;
        if blocked[hit.start..hit.end].iter().any(|&b| b) {
            continue;
        }
        if let Some(r) = judge(words, &hit, &questions) {
            ratings.push(r);
        }
    }
    let first = *ratings.first()?;
    let (lo, hi) = ratings
        .iter()
        .fold((first, first), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    (hi - lo < 2).then_some(first)
}

/// The rating one word hit gives in its context, if it gives one.
fn judge(words: &Words, hit: &Hit<u8>, questions: &[bool]) -> Option<u8> {
    let sentence = words.token(hit.start).sentence;
    if questions.get(sentence).copied().unwrap_or(false) {
        return None;
    }
    if words.before_has(hit.start, 4, CONDITIONALS) {
        return None;
    }
    let single_weak = hit.end - hit.start == 1 && WEAK_WORDS.contains(&words.text(hit.start));
    let framed = words.before_has(hit.start, 2, COPULAS) || negated(words, hit.start);
    if single_weak && !framed {
        return None;
    }
    if negated(words, hit.start) {
        // "nicht sehr gut" is "not very good", not "not excellent".
        let very = words.text(hit.start) == "sehr";
        return Some(match hit.value {
            5 if very => 2,
            5 => 3,
            4 | 3 => 2,
            _ => 3,
        });
    }
    Some(hit.value)
}
