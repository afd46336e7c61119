//! An incoming message as the classifier reads it: a thin, borrowing view over mail-parser's
//! parse that answers the few questions intake asks (who wrote it, to whom, in which thread)
//! with addresses already normalised into [`Person`]s. Nothing is copied until it is asked for.

use std::borrow::Cow;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::parsers::MessageStream;
use mail_parser::{Addr, Address, Header, HeaderName, HeaderValue, Message, MessagePart, PartType};

use super::address::{decode_words, plausible};
use crate::model::Person;

/// At most this many thread ids are asked about: a References chain can be abused to be long.
const MAX_THREAD_IDS: usize = 50;

/// A parsed message (or a message attached to one).
#[derive(Clone, Copy)]
pub(crate) struct Mail<'m> {
    msg: &'m Message<'m>,
}

impl<'m> Mail<'m> {
    /// Views a parsed message.
    pub(crate) fn new(msg: &'m Message<'m>) -> Mail<'m> {
        Mail { msg }
    }

    /// The top-level header fields, in the order they appear (topmost first).
    pub(crate) fn headers(&self) -> &'m [Header<'m>] {
        self.msg
            .parts
            .first()
            .map(|p| p.headers.as_slice())
            .unwrap_or(&[])
    }

    /// Every MIME part of the message, the root first; an attached message is one part.
    pub(crate) fn parts(&self) -> &'m [MessagePart<'m>] {
        &self.msg.parts
    }

    /// The header fields with this name (case-insensitive).
    pub(crate) fn fields(&self, name: &'static str) -> impl Iterator<Item = &'m Header<'m>> {
        self.headers()
            .iter()
            .filter(move |h| h.name.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the message has a header field with this name.
    pub(crate) fn has(&self, name: &'static str) -> bool {
        self.fields(name).next().is_some()
    }

    /// The text of every header field with this name, in order.
    pub(crate) fn texts(&self, name: &'static str) -> impl Iterator<Item = &'m str> {
        self.fields(name).filter_map(|h| value_text(&h.value))
    }

    /// The text of the first header field with this name.
    pub(crate) fn text(&self, name: &'static str) -> Option<&'m str> {
        self.texts(name).next()
    }

    /// Whether at least one header field is one mail messages have (From, To, Subject,
    /// Date, Message-ID, Received, MIME headers…): binary junk that happens to contain a
    /// colon has none.
    pub(crate) fn has_mail_headers(&self) -> bool {
        self.headers().iter().any(|h| !h.name.is_other())
    }

    /// The content type of the message as `(type, subtype)`, lower-cased by mail-parser.
    pub(crate) fn content_type(&self) -> Option<(&'m str, &'m str)> {
        self.msg.parts.first().and_then(part_type)
    }

    /// A parameter of the top-level content type (`report-type`, `boundary`…).
    pub(crate) fn content_type_param(&self, name: &str) -> Option<&'m str> {
        self.fields("Content-Type")
            .find_map(|h| h.value.as_content_type())
            .and_then(|ct| ct.attribute(name))
    }

    /// The sender: the first plausible address in From.
    pub(crate) fn from(&self) -> Option<Person> {
        self.people("From").into_iter().next()
    }

    /// What From says, even when it is no address (`MAILER-DAEMON`, `<>`): for recognising
    /// mail systems.
    pub(crate) fn sender_text(&self) -> Option<&'m str> {
        let value = self.fields("From").next().map(|h| &h.value)?;
        let addr = first_addr(value)?;
        addr.address.as_deref().or(addr.name.as_deref())
    }

    /// The people in every header field with this name (To, Cc, Bcc, From), in order.
    pub(crate) fn people(&self, name: &'static str) -> Vec<Person> {
        let mut people = Vec::new();
        for header in self.fields(name) {
            // 8-bit names in a non-UTF-8 charset come out of mail-parser with U+FFFD: read
            // the raw bytes again as Latin-1, which is what such mail almost always is.
            if has_replacement(&header.value)
                && let Some(latin1) = self.raw_latin1(header)
            {
                let value = MessageStream::new(latin1.as_bytes()).parse_address();
                push_people(&value, &mut people);
            } else {
                push_people(&header.value, &mut people);
            }
        }
        people
    }

    /// The decoded subject, trimmed; "" when absent.
    pub(crate) fn subject(&self) -> String {
        let Some(header) = self.fields("Subject").next() else {
            return String::new();
        };
        let text = value_text(&header.value).unwrap_or("");
        if text.contains('\u{FFFD}')
            && let Some(latin1) = self.raw_latin1(header)
            && let HeaderValue::Text(t) = MessageStream::new(latin1.as_bytes()).parse_unstructured()
        {
            return t.trim().to_string();
        }
        text.trim().to_string()
    }

    fn raw_latin1(&self, header: &Header<'_>) -> Option<String> {
        let raw = self
            .msg
            .raw_message
            .get(header.offset_start as usize..header.offset_end as usize)?;
        let mut text: String = raw.iter().map(|&b| char::from(b)).collect();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Some(text)
    }

    /// The Message-ID without angle brackets, when it has a usable one.
    pub(crate) fn message_id(&self) -> Option<&'m str> {
        let id = self
            .fields("Message-ID")
            .next()
            .and_then(|h| value_text(&h.value))?;
        let id = clean_id(id);
        (!id.is_empty() && !id.contains(char::is_whitespace)).then_some(id)
    }

    /// The References chain, oldest first, then In-Reply-To ids it does not hold.
    pub(crate) fn references(&self) -> Vec<&'m str> {
        let mut ids: Vec<&'m str> = Vec::new();
        for name in ["References", "In-Reply-To"] {
            for header in self.fields(name) {
                for id in value_ids(&header.value) {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        ids
    }

    /// The ids this message answers, most recent first: In-Reply-To, then References from
    /// the newest back.
    pub(crate) fn thread_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        let mut push = |id: &str| {
            if ids.len() < MAX_THREAD_IDS && !ids.iter().any(|known| known == id) {
                ids.push(id.to_string());
            }
        };
        for header in self.fields("In-Reply-To") {
            value_ids(&header.value).for_each(&mut push);
        }
        for header in self.fields("References") {
            value_ids(&header.value).rev().for_each(&mut push);
        }
        ids
    }

    /// The Date header, when it is a real date.
    pub(crate) fn date(&self) -> Option<DateTime<Utc>> {
        let date = self
            .fields("Date")
            .find_map(|h| h.value.as_datetime())
            .filter(|d| d.is_valid())?;
        Utc.timestamp_opt(date.to_timestamp(), 0).single()
    }

    /// The first text/plain body part, when there is one.
    pub(crate) fn plain_body(&self) -> Option<&'m str> {
        match &self.msg.text_part(0)?.body {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        }
    }

    /// The first text/html body part, when there is one.
    pub(crate) fn html_body(&self) -> Option<&'m str> {
        match &self.msg.html_part(0)?.body {
            PartType::Html(html) => Some(html.as_ref()),
            _ => None,
        }
    }
}

/// The `(type, subtype)` of a part, lower-cased.
pub(crate) fn part_type<'m>(part: &'m MessagePart<'m>) -> Option<(&'m str, &'m str)> {
    let ct = part
        .headers
        .iter()
        .find_map(|h| match (&h.name, &h.value) {
            (HeaderName::ContentType, HeaderValue::ContentType(ct)) => Some(ct),
            _ => None,
        })?;
    Some((ct.ctype(), ct.subtype().unwrap_or("")))
}

/// A part's content as text, whatever mail-parser made of it.
pub(crate) fn part_text<'m>(part: &'m MessagePart<'m>) -> Option<Cow<'m, str>> {
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => Some(Cow::Borrowed(text.as_ref())),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            Some(String::from_utf8_lossy(bytes.as_ref()))
        }
        PartType::Message(_) | PartType::Multipart(_) => None,
    }
}

fn value_text<'m>(value: &'m HeaderValue<'m>) -> Option<&'m str> {
    match value {
        HeaderValue::Text(text) => Some(text.as_ref()),
        HeaderValue::TextList(list) => list.first().map(|t| t.as_ref()),
        _ => None,
    }
}

fn value_ids<'m>(value: &'m HeaderValue<'m>) -> impl DoubleEndedIterator<Item = &'m str> {
    let list: &'m [Cow<'m, str>] = match value {
        HeaderValue::Text(text) => std::slice::from_ref(text),
        HeaderValue::TextList(list) => list.as_slice(),
        _ => &[],
    };
    list.iter()
        .map(|id| clean_id(id))
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
}

fn clean_id(id: &str) -> &str {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

fn first_addr<'m>(value: &'m HeaderValue<'m>) -> Option<&'m Addr<'m>> {
    match value {
        HeaderValue::Address(Address::List(list)) => list.first(),
        HeaderValue::Address(Address::Group(groups)) => {
            groups.iter().find_map(|g| g.addresses.first())
        }
        _ => None,
    }
}

fn push_people(value: &HeaderValue<'_>, people: &mut Vec<Person>) {
    let HeaderValue::Address(address) = value else {
        return;
    };
    let mut push = |addr: &Addr<'_>| {
        if let Some(person) = person(addr) {
            people.push(person);
        }
    };
    match address {
        Address::List(list) => list.iter().for_each(&mut push),
        Address::Group(groups) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .for_each(&mut push),
    }
}

fn person(addr: &Addr<'_>) -> Option<Person> {
    let email = addr.address.as_deref()?.trim();
    if !plausible(email) {
        return None;
    }
    let name = addr.name.as_deref().map(decode_words);
    Some(Person::new(email, name.as_deref()))
}

fn has_replacement(value: &HeaderValue<'_>) -> bool {
    let HeaderValue::Address(address) = value else {
        return false;
    };
    let bad = |a: &Addr<'_>| a.name.as_deref().is_some_and(|n| n.contains('\u{FFFD}'));
    match address {
        Address::List(list) => list.iter().any(bad),
        Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).any(bad),
    }
}

/// The Message-ID we give a message that has none: `<fnv1a-64 hex>@referrald.invalid`, over
/// the raw bytes with CRLF read as LF, so the same message gets the same id whichever line
/// endings it was stored with, on every run and every Rust version.
pub(crate) fn synthetic_message_id(raw: &[u8]) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    let mut bytes = raw.iter().peekable();
    while let Some(&byte) = bytes.next() {
        if byte == b'\r' && bytes.peek() == Some(&&b'\n') {
            continue;
        }
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:016x}@referrald.invalid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    #[test]
    fn synthetic_ids_are_stable_across_line_endings() {
        let lf = synthetic_message_id(b"Subject: x\n\nbody\n");
        let crlf = synthetic_message_id(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(lf, crlf);
        assert_ne!(lf, synthetic_message_id(b"Subject: y\n\nbody\n"));
        // FNV-1a 64 of the empty input is its offset basis.
        assert_eq!(
            synthetic_message_id(b""),
            "cbf29ce484222325@referrald.invalid"
        );
        assert_eq!(
            synthetic_message_id(b"a"),
            "af63dc4c8601ec8c@referrald.invalid"
        );
    }

    #[test]
    fn addresses_are_read_case_insensitively_with_names_decoded() {
        let raw = b"From: \"Jos\xe9 M\xfcller\" <Jose@Example.ORG>\nTo: =?UTF-8?B?5byg5Lyf?= <ZHANG.Wei@x.cn>, undisclosed-recipients:;\nCc: team: A@B.org;\nSubject: caf\xe9\nMessage-ID: <abc@x>\nIn-Reply-To: <p2@x>\nReferences: <p0@x> <p1@x>\n <p2@x>\n\nbody";
        let msg = MessageParser::default().parse(&raw[..]).unwrap();
        let mail = Mail::new(&msg);
        let from = mail.from().unwrap();
        assert_eq!(
            (from.email.as_str(), from.name.as_str()),
            ("jose@example.org", "José Müller")
        );
        let to = mail.people("To");
        assert_eq!(to.len(), 1);
        assert_eq!(
            (to[0].email.as_str(), to[0].name.as_str()),
            ("zhang.wei@x.cn", "张伟")
        );
        assert_eq!(mail.people("Cc")[0].email, "a@b.org");
        assert_eq!(mail.subject(), "café");
        assert_eq!(mail.message_id(), Some("abc@x"));
        assert_eq!(mail.thread_ids(), ["p2@x", "p1@x", "p0@x"]);
        assert_eq!(mail.references(), ["p0@x", "p1@x", "p2@x"]);
    }
}
