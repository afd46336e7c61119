//! Small pieces of English the templates lean on: lists of names, dates, sums of money,
//! subjects. Pure functions, so the product's voice can be tested without any mail.

use chrono::{Datelike, NaiveDate};

use crate::model::{Outcome, format_amount, has_minor_units, is_unsafe_char};

/// Whitespace (newlines included) collapsed to single spaces, control and invisible
/// formatting characters ([`is_unsafe_char`]) dropped: safe for one header line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace()
        .map(|word| word.replace(is_unsafe_char, ""))
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to at most `max` characters, ending with "…" when it was cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text.chars().count() > max => {
            format!("{}…", text[..cut].trim_end())
        }
        _ => text.to_string(),
    }
}

/// "Monday 2 November", with the year when it is not the year of `today`.
pub fn day_name(date: NaiveDate, today: NaiveDate) -> String {
    if date.year() == today.year() {
        date.format("%A %-d %B").to_string()
    } else {
        date.format("%A %-d %B %Y").to_string()
    }
}

/// When something happened, as a person would say it: "today", "yesterday", "on Monday",
/// "last week", "two weeks ago", "three weeks ago", else "on Monday 2 November".
pub fn when(date: NaiveDate, today: NaiveDate) -> String {
    match (today - date).num_days() {
        // A date in the future can only be clock skew; it happened just now.
        ..=0 => "today".into(),
        1 => "yesterday".into(),
        2..=6 => format!("on {}", date.format("%A")),
        7..=10 => "last week".into(),
        11..=17 => "two weeks ago".into(),
        18..=24 => "three weeks ago".into(),
        _ => format!("on {}", day_name(date, today)),
    }
}

/// What a party's outcome means, as a phrase that follows "they" or "we":
/// "they did business together", "we haven't met yet".
pub fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Won => "did business together",
        Outcome::Met => "have met",
        Outcome::NotMet => "haven't met yet",
        Outcome::Lost => "didn't end up doing business",
    }
}

/// A sum of money as people write it: "£1,200", "€80.50", "$5,000", "CHF 1,200", "1,200".
pub fn money(value: f64, currency: Option<&str>) -> Option<String> {
    let code = currency
        .map(|c| c.trim().to_uppercase())
        .filter(|c| !c.is_empty());
    let number = format_amount(value, has_minor_units(code.as_deref()))?;
    let (sign, number) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number.as_str()),
    };
    let symbol = match code.as_deref() {
        Some("GBP") => Some("£"),
        Some("EUR") => Some("€"),
        Some("USD") => Some("$"),
        Some("JPY") => Some("¥"),
        Some("INR") => Some("₹"),
        _ => None,
    };
    Some(match (symbol, code) {
        (Some(symbol), _) => format!("{sign}{symbol}{number}"),
        (None, Some(code)) => format!("{sign}{code} {number}"),
        (None, None) => format!("{sign}{number}"),
    })
}

/// The longest comment quoted in a report: a reply is a line or two; more is pasted text.
const MAX_COMMENT_CHARS: usize = 600;

/// A comment trimmed, with runs of blank lines collapsed and overlong text cut at a word.
/// Control and invisible formatting characters ([`is_unsafe_char`]) are dropped (a tab is a
/// space): a person's words are quoted in mail to someone else, who must see what they say.
pub fn comment(text: &str) -> String {
    let visible: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if is_unsafe_char(c) => None,
            c => Some(c),
        })
        .collect();
    let tidy = tidy(visible.trim());
    if tidy.chars().count() <= MAX_COMMENT_CHARS {
        return tidy;
    }
    let cut: String = tidy.chars().take(MAX_COMMENT_CHARS).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > MAX_COMMENT_CHARS / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{}…", cut.trim_end())
}

/// A rendered body tidied: trailing spaces dropped, at most one blank line in a row, no blank
/// lines at either end. Lets a template leave out a paragraph without leaving a hole.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = false;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if blank_run {
            out.push('\n');
            blank_run = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Harm guarded against: a reply's escape sequences or a right-to-left override quoted
    /// into an outcome report, where they would hide or reorder what the person wrote.
    #[test]
    fn comments_lose_control_and_bidi_characters_but_keep_their_lines() {
        assert_eq!(
            comment("We met\u{1b}[2J!\r\n\u{202e}gnos\tgood\u{200b} people\u{7}"),
            "We met[2J!\ngnos good people"
        );
        assert_eq!(comment("Zoë 🌻 said: שלום"), "Zoë 🌻 said: שלום");
    }

    #[test]
    fn dates_read_naturally() {
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let monday = d(11, 2);
        assert_eq!(day_name(monday, d(11, 4)), "Monday 2 November");
        assert_eq!(
            day_name(NaiveDate::from_ymd_opt(2025, 12, 29).unwrap(), d(1, 5)),
            "Monday 29 December 2025"
        );
        assert_eq!(when(monday, monday), "today");
        assert_eq!(when(d(11, 3), monday), "today");
        assert_eq!(when(monday, d(11, 3)), "yesterday");
        assert_eq!(when(monday, d(11, 4)), "on Monday");
        assert_eq!(when(monday, d(11, 9)), "last week");
        assert_eq!(when(monday, d(11, 16)), "two weeks ago");
        assert_eq!(when(monday, d(11, 23)), "three weeks ago");
        assert_eq!(when(monday, d(12, 2)), "on Monday 2 November");
    }

    #[test]
    fn money_is_written_with_its_symbol() {
        assert_eq!(money(1200.0, Some("GBP")).unwrap(), "£1,200");
        assert_eq!(money(80.5, Some("eur")).unwrap(), "€80.50");
        assert_eq!(money(1_234_567.0, Some("USD")).unwrap(), "$1,234,567");
        assert_eq!(money(1200.0, Some("CHF")).unwrap(), "CHF 1,200");
        assert_eq!(money(999.0, None).unwrap(), "999");
        assert_eq!(money(150000.4, Some("JPY")).unwrap(), "¥150,000");
        assert_eq!(money(0.0, None).unwrap(), "0");
        assert_eq!(money(f64::NAN, Some("GBP")), None);
    }

    #[test]
    fn header_text_has_no_controls_and_a_bounded_length() {
        // ESC and BEL went raw into the Subject line; a bidi override reversed it.
        assert_eq!(
            one_line("Intro \u{1b}[2J you\u{7} two\r\n \u{202e}\u{200b}\u{1b} talk"),
            "Intro [2J you two talk"
        );
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly 10", 10), "exactly 10");
        assert_eq!(clip("één twee drie", 5), "één…");
        assert_eq!(clip(&"x".repeat(5000), 200).chars().count(), 200);
    }

    #[test]
    fn bodies_are_tidied() {
        assert_eq!(
            tidy("\n\nHi Fred,  \n\n\n\nThanks.\n\n"),
            "Hi Fred,\n\nThanks."
        );
        assert_eq!(tidy("a\n \nb"), "a\n\nb");
    }

    #[test]
    fn long_comments_are_cut_at_a_word() {
        let long = "word ".repeat(200);
        let cut = comment(&long);
        assert!(cut.ends_with("word…"), "{cut}");
        assert!(cut.chars().count() <= MAX_COMMENT_CHARS + 1);
        assert_eq!(comment("  Great.\n\n\n\nThanks!  "), "Great.\n\nThanks!");
    }
}
