//! Out-of-office replies that say when their writer is back: "back on 14 December", "I'll be
//! back on Monday 14.12.", "zurück am 14.12.", "de retour le 14 décembre", "until 2026-12-14".
//! Pure: the auto-reply's words and the day it was written, in; the return date, out.
//!
//! A date counts only shortly after a word that announces a return or the end of an absence
//! ("back", "until", "zurück", "bis", "retour", "jusqu'au", "hasta", "terug", "rientro" …), so
//! a phone number or a date in a signature is not read as one. A date without a year is the
//! next one on or after the day the auto-reply was written. What it returns is never before
//! that day and never more than [`MAX_AWAY_DAYS`] after it: a stranger's typo or a sabbatical
//! must not hold someone's mail back for months.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The longest an auto-reply may hold someone's mail back, in days after it was written.
pub const MAX_AWAY_DAYS: u64 = 30;

/// Words after which an auto-reply names the day its writer is back (lower-case; each must
/// start a word).
const CUES: &[&str] = &[
    // English
    "back",
    "returning",
    "returns",
    "return",
    "until",
    "till",
    "available again",
    "in the office on",
    // German
    "zurück",
    "zurueck",
    "wieder",
    "bis",
    "ab dem",
    // French
    "retour",
    "jusqu'au",
    "jusqu’au",
    "à partir du",
    // Spanish, Portuguese
    "vuelta",
    "regreso",
    "hasta",
    "volto",
    "retorno",
    "até",
    // Dutch
    "terug",
    "tot en met",
    "tot",
    // Italian
    "rientro",
    "ritorno",
    "fino al",
];

/// How far after a cue (in characters) its date may start.
const WINDOW: usize = 48;

/// Month names and abbreviations in the languages above (lower-case, without a final dot).
const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("jänner", 1),
    ("janvier", 1),
    ("enero", 1),
    ("januari", 1),
    ("gennaio", 1),
    ("janeiro", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("fevrier", 2),
    ("févr", 2),
    ("febrero", 2),
    ("februari", 2),
    ("febbraio", 2),
    ("fevereiro", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("maerz", 3),
    ("mars", 3),
    ("marzo", 3),
    ("maart", 3),
    ("março", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("abril", 4),
    ("aprile", 4),
    ("may", 5),
    ("mai", 5),
    ("mayo", 5),
    ("mei", 5),
    ("maggio", 5),
    ("maio", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("junio", 6),
    ("giugno", 6),
    ("junho", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("julio", 7),
    ("luglio", 7),
    ("julho", 7),
    ("august", 8),
    ("aug", 8),
    ("août", 8),
    ("aout", 8),
    ("agosto", 8),
    ("augustus", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septembre", 9),
    ("septiembre", 9),
    ("settembre", 9),
    ("setembro", 9),
    ("october", 10),
    ("oct", 10),
    ("okt", 10),
    ("oktober", 10),
    ("octobre", 10),
    ("octubre", 10),
    ("ottobre", 10),
    ("outubro", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("novembro", 11),
    ("december", 12),
    ("dec", 12),
    ("dez", 12),
    ("dezember", 12),
    ("décembre", 12),
    ("decembre", 12),
    ("diciembre", 12),
    ("dicembre", 12),
    ("dezembro", 12),
];

/// Weekday names, for "back on Monday" with no date (English, German, French).
const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
    ("montag", Weekday::Mon),
    ("dienstag", Weekday::Tue),
    ("mittwoch", Weekday::Wed),
    ("donnerstag", Weekday::Thu),
    ("freitag", Weekday::Fri),
    ("samstag", Weekday::Sat),
    ("sonntag", Weekday::Sun),
    ("lundi", Weekday::Mon),
    ("mardi", Weekday::Tue),
    ("mercredi", Weekday::Wed),
    ("jeudi", Weekday::Thu),
    ("vendredi", Weekday::Fri),
    ("samedi", Weekday::Sat),
    ("dimanche", Weekday::Sun),
];

/// Words between a day and its month ("14th of December", "14 de diciembre") or after a
/// day ("14th", "1er").
const FILLERS: &[&str] = &["of", "de", "del", "th", "st", "nd", "rd", "er", "e", "º"];

/// The day an auto-reply written on `written` says its writer is back, bounded to
/// `written ..= written + 30 days`; `None` when it names none (or only a day already past).
pub fn return_date(text: &str, written: NaiveDate) -> Option<NaiveDate> {
    // An auto-reply says it in its first lines; a long text is no auto-reply's.
    let text: String = text
        .chars()
        .take(4000)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let latest = written.checked_add_days(Days::new(MAX_AWAY_DAYS))?;
    for (start, _) in text.char_indices() {
        let rest = &text[start..];
        let starts_word = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if !starts_word {
            continue;
        }
        let Some(cue) = CUES.iter().find(|cue| rest.starts_with(*cue)) else {
            continue;
        };
        let after = &rest[cue.len()..];
        // The cue must end its word too: "bis" is not "bisher", "tot" not "total".
        if after.chars().next().is_some_and(char::is_alphanumeric) {
            continue;
        }
        let window: String = after.chars().take(WINDOW).collect();
        if let Some(day) = first_date(&tokens(&window), written)
            && day >= written
        {
            return Some(day.min(latest));
        }
    }
    None
}

/// A piece of the text after a cue.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Digits, with how many there were ("07" is two).
    Number(u32, usize),
    /// A run of letters.
    Word(String),
    /// Any other character but a space.
    Mark(char),
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            // More than four digits is no part of a date (a phone number).
            let n = if digits.len() <= 4 {
                digits.parse().unwrap_or(u32::MAX)
            } else {
                u32::MAX
            };
            out.push(Token::Number(n, digits.len()));
        } else if c.is_alphabetic() || c == 'º' {
            let mut word = String::new();
            while let Some(&l) = chars.peek().filter(|l| l.is_alphabetic() || **l == 'º') {
                word.push(l);
                chars.next();
            }
            out.push(Token::Word(word));
        } else {
            if !c.is_whitespace() {
                out.push(Token::Mark(c));
            }
            chars.next();
        }
    }
    out
}

/// The first date among `tokens`; failing any, a weekday ("back on Monday"): the next one
/// after `written`.
fn first_date(tokens: &[Token], written: NaiveDate) -> Option<NaiveDate> {
    (0..tokens.len())
        .find_map(|i| date_at(&tokens[i..], written))
        .or_else(|| {
            tokens.iter().find_map(|t| match t {
                Token::Word(w) => WEEKDAYS
                    .iter()
                    .find(|(name, _)| name == w)
                    .map(|(_, day)| next_weekday(written, *day)),
                _ => None,
            })
        })
}

fn next_weekday(after: NaiveDate, day: Weekday) -> NaiveDate {
    let ahead = (7 + day.num_days_from_monday() - after.weekday().num_days_from_monday()) % 7;
    let ahead = if ahead == 0 { 7 } else { ahead };
    after + Days::new(u64::from(ahead))
}

fn month_of(t: Option<&Token>) -> Option<u32> {
    match t {
        Some(Token::Word(w)) => MONTHS.iter().find(|(name, _)| name == w).map(|(_, m)| *m),
        _ => None,
    }
}

/// A date written at the start of `t`, if one is.
fn date_at(t: &[Token], written: NaiveDate) -> Option<NaiveDate> {
    use Token::{Mark, Number, Word};
    let number = |i: usize| match t.get(i) {
        Some(Number(n, len)) => Some((*n, *len)),
        _ => None,
    };
    let mark = |i: usize, c: char| t.get(i) == Some(&Mark(c));
    let year_at = |i: usize| match number(i) {
        Some((y, 4)) => Some(y as i32),
        Some((y, 2)) => Some(2000 + y as i32),
        _ => None,
    };
    // After a month name only four digits are a year ("14 December 12:00" names no year).
    let full_year = |i: usize| match number(i) {
        Some((y, 4)) => Some(y as i32),
        _ => None,
    };
    let (first, len) = number(0).unwrap_or((0, 0));
    match t.first()? {
        // 2026-12-14, and 2026/12/14
        Number(_, 4) if (mark(1, '-') || mark(1, '/')) && t.get(3) == t.get(1) => {
            let (month, _) = number(2)?;
            let (day, _) = number(4)?;
            NaiveDate::from_ymd_opt(first as i32, month, day)
        }
        // 14.12., 14.12.2026, 14.12.26
        Number(..) if len <= 2 && mark(1, '.') && number(2).is_some_and(|(_, l)| l <= 2) => {
            let (month, _) = number(2)?;
            let year = if mark(3, '.') { year_at(4) } else { None };
            on(written, year, month, first)
        }
        // 14/12, 12/14, 14/12/2026: only when the order is unmistakable.
        Number(..) if len <= 2 && mark(1, '/') => {
            let (second, l2) = number(2)?;
            if l2 > 2 {
                return None;
            }
            let year = if mark(3, '/') { year_at(4) } else { None };
            match (first > 12, second > 12) {
                (true, false) => on(written, year, second, first),
                (false, true) => on(written, year, first, second),
                _ => None,
            }
        }
        // 14 December, 14th of December 2026, 14. Dezember, 14 de diciembre, 1er décembre
        Number(..) if len <= 2 => {
            let mut i = 1;
            while matches!(t.get(i), Some(Mark('.'))) || is_filler(t.get(i)) {
                i += 1;
            }
            let month = month_of(t.get(i))?;
            i += 1;
            while matches!(t.get(i), Some(Mark('.' | ','))) || is_filler(t.get(i)) {
                i += 1;
            }
            on(written, full_year(i), month, first)
        }
        // December 14, Dec. 14th, 2026
        Word(_) => {
            let month = month_of(t.first())?;
            let mut i = 1;
            if mark(i, '.') {
                i += 1;
            }
            let (day, l) = number(i)?;
            if l > 2 {
                return None;
            }
            i += 1;
            while matches!(t.get(i), Some(Mark(','))) || is_filler(t.get(i)) {
                i += 1;
            }
            on(written, full_year(i), month, day)
        }
        _ => None,
    }
}

fn is_filler(t: Option<&Token>) -> bool {
    matches!(t, Some(Token::Word(w)) if FILLERS.contains(&w.as_str()))
}

/// Day `day` of `month`, in `year` when given; else the next one on or after `written`.
fn on(written: NaiveDate, year: Option<i32>, month: u32, day: u32) -> Option<NaiveDate> {
    if let Some(year) = year {
        return NaiveDate::from_ymd_opt(year, month, day);
    }
    let this_year = NaiveDate::from_ymd_opt(written.year(), month, day);
    match this_year {
        Some(d) if d >= written => Some(d),
        _ => NaiveDate::from_ymd_opt(written.year() + 1, month, day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saturday 5 December 2026.
    fn written() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    fn dec(day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 12, day)
    }

    fn read(text: &str) -> Option<NaiveDate> {
        return_date(text, written())
    }

    #[test]
    fn english() {
        assert_eq!(
            read("I am out of the office and back on 14 December."),
            dec(14)
        );
        assert_eq!(
            read("I'll be back on Monday 14.12. and will reply then"),
            dec(14)
        );
        assert_eq!(read("I will return on December 14th, 2026."), dec(14));
        assert_eq!(read("Out of office until Dec. 14"), dec(14));
        assert_eq!(
            read("Away until the 14th of December, back after that"),
            dec(14)
        );
        assert_eq!(read("Back on 2026-12-14."), dec(14));
        assert_eq!(read("Back 12/14"), dec(14));
        // A weekday alone is the next one after the auto-reply was written (a Saturday).
        assert_eq!(read("I'm travelling and back on Tuesday"), dec(8));
    }

    #[test]
    fn german_french_and_others() {
        assert_eq!(read("Ich bin ab dem 14.12. wieder im Büro."), dec(14));
        assert_eq!(read("Ich bin zurück am 14.12."), dec(14));
        assert_eq!(
            read("Ich bin bis zum 11. Dezember 2026 nicht erreichbar."),
            dec(11)
        );
        assert_eq!(read("Je suis de retour le 14 décembre."), dec(14));
        assert_eq!(
            read("Absent jusqu'au 1er janvier 2027"),
            NaiveDate::from_ymd_opt(2027, 1, 1)
        );
        assert_eq!(read("Returning on 14 December"), dec(14));
        assert_eq!(
            read("Estoy fuera de la oficina hasta el 14 de diciembre."),
            dec(14)
        );
        assert_eq!(read("Ik ben terug op 14 december."), dec(14));
        assert_eq!(read("Sarò di rientro il 14 dicembre."), dec(14));
        assert_eq!(read("Volto no dia 14/12/2026."), dec(14));
    }

    #[test]
    fn a_date_without_a_year_is_the_next_one() {
        // Written on 20 December, "back on 4 January" is next year's.
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 20).unwrap();
        assert_eq!(
            return_date("Back on 4 January", christmas),
            NaiveDate::from_ymd_opt(2027, 1, 4)
        );
        // The same day is today, not next year (and then bounded).
        assert_eq!(read("back on 5 December"), dec(5));
    }

    #[test]
    fn bounds() {
        // More than 30 days ahead holds mail back 30 days, no more.
        assert_eq!(
            read("On sabbatical, back on 1 June 2027"),
            NaiveDate::from_ymd_opt(2027, 1, 4)
        );
        assert_eq!(
            read("back on 14.12.2099"),
            NaiveDate::from_ymd_opt(2027, 1, 4)
        );
        // A day already past is no reason to wait.
        assert_eq!(read("I was away until 1 December 2026"), None);
        assert_eq!(read("back on 2025-12-14"), None);
    }

    #[test]
    fn garbage_and_dates_without_a_cue_are_not_read() {
        for text in [
            "",
            "Thank you for your message.",
            "Call me on 14.12 or on +49 30 1234567",
            "I will be back on 31 February",
            "back on 14.13.",
            "back on 10/11",
            "bisher 14.12. total 14 December",
            "back on 123456",
            "until ⁂ 💥 14",
            "back on December",
            "back on 99 December",
            "backlog of 14 December",
        ] {
            assert_eq!(read(text), None, "{text}");
        }
    }

    #[test]
    fn any_bytes_are_read_without_panicking() {
        let mut text = String::new();
        for c in [
            '1', '4', '.', '/', '-', ' ', 'é', 'b', 'a', 'c', 'k', '\u{0}', '日', '2',
        ] {
            text.push(c);
            let _ = read(&format!("back {text}"));
            let _ = read(&format!("until{text}{text}"));
        }
    }
}
