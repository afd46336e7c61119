//! TEMPORARY stand-in for the reply reader being written on another branch: the same
//! signatures with trivial bodies, so the classifier builds and can be tested. Drop this file
//! (and its commit) when the real `reply.rs` is merged.

use super::Reading;

/// The reply's own words: here simply the plain-text body, or nothing.
pub fn own_words(plain: Option<&str>, _html: Option<&str>) -> String {
    plain.unwrap_or_default().to_string()
}

/// What the answer says: here only the comment, never a rating or an outcome.
pub fn read(own_words: &str) -> Reading {
    Reading {
        comment: own_words.trim().to_string(),
        ..Reading::default()
    }
}

/// Whether the sender asks to be left alone: here only a bare "stop" or "unsubscribe".
pub fn says_stop(own_words: &str, subject: &str) -> bool {
    let is_stop = |s: &str| {
        let s = s.trim();
        s.eq_ignore_ascii_case("stop") || s.eq_ignore_ascii_case("unsubscribe")
    };
    is_stop(own_words) || is_stop(subject)
}

/// HTML as plain text: here the HTML unchanged.
pub fn html_to_text(html: &str) -> String {
    html.to_string()
}
