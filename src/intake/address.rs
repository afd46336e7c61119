//! Addresses written as text rather than in header fields: the `From:`/`To:` lines of a
//! forwarded message's quoted header block and the failed address in a bounce's prose.
//! Hand-written scanning: find each `local@domain`, then read the display name from the text
//! before it.

use std::borrow::Cow;

use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

use crate::model::{Person, is_unsafe_char};

/// Byte ranges of the email addresses in `text`, in order.
pub(crate) fn find_addresses(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = bytes.get(at..)?.iter().position(|&b| b == b'@') {
            let sign = at + offset;
            let mut start = sign;
            while start > 0 && bytes.get(start - 1).is_some_and(|&b| is_local_char(b)) {
                start -= 1;
            }
            // A quote or dot next to the local part is punctuation around it, not part of it.
            while start < sign && bytes.get(start).is_some_and(|&b| b == b'.' || b == b'\'') {
                start += 1;
            }
            let mut end = sign + 1;
            while bytes
                .get(end)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                end += 1;
            }
            while end > sign + 1 && bytes.get(end - 1).is_some_and(|&b| b == b'.' || b == b'-') {
                end -= 1;
            }
            at = end.max(sign + 1);
            let domain = text.get(sign + 1..end).unwrap_or("");
            if start < sign && domain.contains('.') && !domain.starts_with('.') {
                return Some((start, end));
            }
        }
        None
    })
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

/// The people in a written address list: `Fred Jones <fred@x>, "Lee, Sally" <sally@y>`,
/// Outlook's `Jones, Fred <fred@x>; Sally Lee [mailto:sally@y]`, bare `fred@x`, and the
/// `fred@x<mailto:fred@x>` doubling of Outlook's plain-text bodies. Entries without an
/// address carry no one we could write to and are left out.
pub(crate) fn address_list(text: &str) -> Vec<Person> {
    // Outlook separates with ';' and leaves commas inside names unquoted ("Jones, Fred"), and
    // may list a name without an address before the next entry. Lists separated by commas
    // show every address (Gmail, Apple Mail, Thunderbird), so the text between two addresses
    // is the second one's name, commas and all.
    let separators: &[char] = if has_unquoted(text, ';') { &[';'] } else { &[] };
    let mut people: Vec<Person> = Vec::new();
    let mut previous_end = 0;
    for (start, end) in find_addresses(text) {
        let before = text.get(previous_end..start).unwrap_or("");
        let name = display_name(before, separators);
        previous_end = end;
        let Some(email) = text.get(start..end) else {
            continue;
        };
        let repeated = people
            .last()
            .is_some_and(|p| p.email.eq_ignore_ascii_case(email));
        if repeated && name.is_empty() {
            continue;
        }
        let name = decode_words(&name);
        people.push(Person::new(email, Some(&name)));
    }
    people
}

/// The display name in the text between the previous address and this one.
fn display_name(before: &str, separators: &[char]) -> String {
    let mut in_quotes = false;
    let mut from = 0;
    for (i, c) in before.char_indices() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && separators.contains(&c) {
            from = i + c.len_utf8();
        }
    }
    let mut name = before.get(from..).unwrap_or("").trim();
    loop {
        let trimmed = name
            .trim_matches(|c: char| c.is_whitespace() || "<>[]()\"',;:*".contains(c))
            .trim();
        let trimmed = strip_suffix_ignore_case(trimmed, "mailto");
        if trimmed == name {
            break;
        }
        name = trimmed;
    }
    name.to_string()
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> &'a str {
    let cut = s.len().saturating_sub(suffix.len());
    match (s.get(..cut), s.get(cut..)) {
        (Some(head), Some(tail)) if tail.eq_ignore_ascii_case(suffix) => head,
        _ => s,
    }
}

fn has_unquoted(text: &str, wanted: char) -> bool {
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && c == wanted {
            return true;
        }
    }
    false
}

/// A name with RFC 2047 encoded words (`=?UTF-8?B?Wm/Dqw==?=`) decoded. mail-parser decodes
/// header fields, but names quoted in bodies, or encoded inside quotes by a careless client,
/// arrive still encoded.
pub(crate) fn decode_words(name: &str) -> Cow<'_, str> {
    if !name.contains("=?") {
        return Cow::Borrowed(name);
    }
    // The parser reads a header field, which ends at a line break.
    let field = format!("{name}\n");
    match MessageStream::new(field.as_bytes()).parse_unstructured() {
        HeaderValue::Text(text) => Cow::Owned(text.trim().to_string()),
        _ => Cow::Borrowed(name),
    }
}

/// Whether `email` looks like an address we could write to: one `@` with something on both
/// sides, no spaces, controls or invisible formatting characters, not absurdly long.
pub(crate) fn plausible(email: &str) -> bool {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && email.len() <= 254
                && !domain.contains('@')
                && !email.bytes().any(|b| b <= b' ' || b == 0x7f)
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || is_unsafe_char(c))
        }
        None => false,
    }
}

/// The address without an obsolete source route: `@route.example:carl@c.example` (RFC 5322
/// §4.4, `obs-route`, which receivers must ignore) is `carl@c.example`. A route is a list
/// of `@domain`s, perhaps with commas, ending in a colon; no address starts with `@`.
pub(crate) fn without_route(email: &str) -> &str {
    let email = email.trim();
    if !email.trim_start_matches([',', ' ']).starts_with('@') {
        return email;
    }
    email
        .split_once(':')
        .map_or(email, |(_, address)| address.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails_and_names(text: &str) -> Vec<(String, String)> {
        address_list(text)
            .into_iter()
            .map(|p| (p.email, p.name))
            .collect()
    }

    fn pair(email: &str, name: &str) -> (String, String) {
        (email.to_string(), name.to_string())
    }

    #[test]
    fn addresses_are_found_in_prose() {
        let text = "Delivery to 'Fred.Jones@Example.org.' failed; see <postmaster@mx.example.net>.";
        let found: Vec<&str> = find_addresses(text)
            .filter_map(|(a, b)| text.get(a..b))
            .collect();
        assert_eq!(
            found,
            ["Fred.Jones@Example.org", "postmaster@mx.example.net"]
        );
        assert_eq!(find_addresses("twitter @handle and a@b").count(), 0);
        assert_eq!(find_addresses("@@@ .@. x@.y").count(), 0);
    }

    #[test]
    fn gmail_and_apple_lists() {
        assert_eq!(
            emails_and_names(r#"Fred Jones <fred@x.org>, "Lee, Sally" <Sally@Y.org>, carol@z.org"#),
            [
                pair("fred@x.org", "Fred Jones"),
                pair("sally@y.org", "Lee, Sally"),
                pair("carol@z.org", ""),
            ]
        );
    }

    #[test]
    fn outlook_lists() {
        assert_eq!(
            emails_and_names(
                "Jones, Fred <fred@x.org>; Sally Lee [mailto:sally@y.org]; 'Carl Diaz'"
            ),
            [
                pair("fred@x.org", "Jones, Fred"),
                pair("sally@y.org", "Sally Lee")
            ]
        );
        assert_eq!(
            emails_and_names(
                "Fred Jones <fred@x.org<mailto:fred@x.org>>; Sally <sally@y.org<mailto:sally@y.org>>"
            ),
            [
                pair("fred@x.org", "Fred Jones"),
                pair("sally@y.org", "Sally")
            ]
        );
    }

    #[test]
    fn names_still_encoded_are_decoded() {
        assert_eq!(
            emails_and_names(
                "\"=?UTF-8?B?Wm/Dqw==?=\" <zoe@x.org>, =?ISO-8859-1?Q?Jos=E9?= <jose@y.org>"
            ),
            [pair("zoe@x.org", "Zoë"), pair("jose@y.org", "José")]
        );
    }

    #[test]
    fn plausible_addresses() {
        assert!(plausible("fred@x.org"));
        assert!(plausible("MAILER-DAEMON@localhost"));
        assert!(!plausible("MAILER-DAEMON"));
        assert!(!plausible("@x.org"));
        assert!(!plausible("fred@"));
        assert!(!plausible("fred jones@x.org"));
        // A bidi override makes an address read as another one.
        assert!(!plausible("fred\u{202e}gro.x@x.org"));
        assert!(!plausible("fr\u{200b}ed@x.org"));
        assert!(!plausible("fred@x.org\u{85}"));
        assert!(plausible("josé@bücher.example"));
    }

    #[test]
    fn routes_are_dropped() {
        assert_eq!(
            without_route("@route.example:carl@c.example"),
            "carl@c.example"
        );
        assert_eq!(
            without_route(" ,@a.example, @b.example:dan@d.example"),
            "dan@d.example"
        );
        assert_eq!(without_route("carl@c.example"), "carl@c.example");
        // A colon in an ordinary address is not a route.
        assert_eq!(without_route("\"a:b\"@c.example"), "\"a:b\"@c.example");
        assert_eq!(without_route("@route.example:"), "");
    }
}
