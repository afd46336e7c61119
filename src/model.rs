//! The domain, in the user's words: a [`Referral`] is an introduction made by an
//! [`Introducer`](Role::Introducer) between two or more [`Party`](Role::Party) members,
//! followed up by [`OutboundKind`] messages until it ends in a [`ReferralStatus`].

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Row id of a referral in the store.
pub type ReferralId = i64;
/// Row id of an outbound message in the store.
pub type OutboundId = i64;

/// One person's answer about one referral, as recorded: the one shape that `show`, `export`,
/// `stats`, the digest, the composer and the planner read (each loaded by the store's one
/// row reader). `Who` is how the reader names the person: an address (the default), a
/// [`Person`] for the composer, a contact row id for the planner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Answer<Who = String> {
    /// Who answered.
    pub from: Who,
    /// 1–5.
    pub rating: Option<u8>,
    /// met, not_met, won or lost.
    pub outcome: Option<Outcome>,
    /// Business closed, in `currency`.
    pub value: Option<f64>,
    /// ISO 4217 code of `value`, when the answer named one.
    pub currency: Option<String>,
    /// Their own words (empty once `forget` erased them).
    pub comment: String,
    /// When it arrived.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// Whether an outcome report has carried it to the introducer.
    #[serde(skip)]
    pub reported: bool,
}

impl<Who> Answer<Who> {
    /// Whether it says how it went (a rating or an outcome), rather than only a comment.
    pub fn says_how_it_went(&self) -> bool {
        self.rating.is_some() || self.outcome.is_some()
    }
}

/// A time as the store and the JSON output write it: RFC 3339, whole seconds, `Z`.
pub fn rfc3339_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_text(*t))
}

/// Someone with an email address, as named in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Lower-cased address: addresses are compared case-insensitively everywhere.
    pub email: String,
    /// Display name, or a name read from a `first.last` local part; empty when referrald
    /// does not know what they are called (`ogrant@`, `info@`): better "Hello," than a
    /// made-up "Hi Ogrant,".
    pub name: String,
}

impl Person {
    /// A person with a normalised address; the name falls back to one read from a
    /// `first.last` local part, else is empty.
    pub fn new(email: &str, name: Option<&str>) -> Person {
        let email = normalize_email(email);
        let name = match name.map(clean_name) {
            Some(n) if !n.is_empty() && !n.contains('@') => n,
            _ => name_from_local_part(&email),
        };
        Person { email, name }
    }

    /// The name, or the address when referrald knows no name: for logs and lists.
    pub fn name_or_email(&self) -> &str {
        if self.name.is_empty() {
            &self.email
        } else {
            &self.name
        }
    }

    /// The first word of the name, for greetings ("Hi Sally,"); a title before it is skipped
    /// ("Dr. Sally Lee" is greeted as Sally), unless the name is only a title and a surname.
    pub fn first_name(&self) -> &str {
        // "Smith, Fred" is how some directories write names: the first name follows the comma.
        // In "Fred Smith, CPA" the comma starts a suffix: the first name comes first.
        let given = match self.name.split_once(',') {
            Some((family, given)) if family.split_whitespace().count() == 1 => given,
            _ => self.name.as_str(),
        };
        let mut words = words_of(given);
        if words.is_empty() {
            words = words_of(&self.name);
        }
        // Skip titles while a first name and a surname remain after them.
        let mut rest = words.as_slice();
        while rest.len() > 2 && is_title(rest[0]) {
            rest = &rest[1..];
        }
        rest.first().copied().unwrap_or(self.name.trim())
    }
}

/// The words of a name, without the commas that follow some of them.
fn words_of(name: &str) -> Vec<&str> {
    name.split_whitespace()
        .map(|w| w.trim_end_matches(','))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Titles written before a name: greeting someone by one of them ("Hi Dr.,") would be odd.
fn is_title(word: &str) -> bool {
    const TITLES: &[&str] = &[
        "dr", "prof", "mr", "mrs", "ms", "mx", "miss", "sir", "dame", "herr", "frau", "mme",
        "mlle", "sr", "sra", "dott", "ing",
    ];
    let bare = word.trim_end_matches('.').to_lowercase();
    TITLES.contains(&bare.as_str())
}

impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "<{}>", self.email)
        } else {
            write!(f, "{} <{}>", self.name, self.email)
        }
    }
}

/// Names joined as a person would write them: "Fred", "Fred and Sally", "Fred, Sally and Tom".
pub fn join_names<S: AsRef<str>>(names: &[S]) -> String {
    match names {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => {
            let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", rest.join(", "), last.as_ref())
        }
    }
}

/// Trims and lower-cases an address, dropping surrounding angle brackets.
pub fn normalize_email(email: &str) -> String {
    email
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

/// The longest Message-ID we write, in bytes (without the angle brackets): a header line
/// holding one stays far below RFC 5322's 998 bytes.
pub const MAX_MESSAGE_ID: usize = 250;

/// Whether `id` (without angle brackets) is a msg-id we may write into a header, as RFC 5322
/// §3.6.4 defines it: `id-left "@" id-right`, the left a dot-atom, the right a dot-atom or a
/// no-fold-literal (`[192.0.2.1]`); printable ASCII, no quotes, spaces, controls or angle
/// brackets; at most [`MAX_MESSAGE_ID`] bytes. Ids that break this (`a"b@x`) are still
/// matched against, but never copied into `References` or `In-Reply-To`.
pub fn is_message_id(id: &str) -> bool {
    fn is_atext(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
    }
    fn is_dot_atom(s: &str) -> bool {
        !s.is_empty()
            && s.split('.')
                .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
    }
    fn is_no_fold_literal(s: &str) -> bool {
        s.strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .is_some_and(|inner| inner.bytes().all(|b| matches!(b, 33..=90 | 94..=126)))
    }
    id.len() <= MAX_MESSAGE_ID
        && id.split_once('@').is_some_and(|(left, right)| {
            is_dot_atom(left) && (is_dot_atom(right) || is_no_fold_literal(right))
        })
}

/// Whether amounts in this currency (an ISO 4217 code) are written with cents: not yen, won
/// or krónur. Unknown or absent currencies are.
pub fn has_minor_units(currency: Option<&str>) -> bool {
    !currency.is_some_and(|c| {
        ["JPY", "KRW", "ISK"]
            .iter()
            .any(|code| c.trim().eq_ignore_ascii_case(code))
    })
}

/// An amount as people write it, the one way every command and email writes one: rounded
/// to the cent, thousands grouped, and cents shown only when there are any (and the currency
/// has them): "1,200", "80.50", "-1,234,567.50". `None` for a value that is not a number.
pub fn format_amount(value: f64, minor_units: bool) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    // Saturates for absurd values; such amounts are never summed (`max-amount`).
    let cents = (value.abs() * 100.0).round() as u64;
    let whole = if minor_units {
        cents / 100
    } else {
        (cents + 50) / 100
    };
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 4);
    if value < 0.0 && cents > 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if minor_units && !cents.is_multiple_of(100) {
        out.push_str(&format!(".{:02}", cents % 100));
    }
    Some(out)
}

/// The address without its `+detail` part: `intros+stop@x.org` → `intros@x.org`.
pub fn strip_plus_detail(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => match local.split_once('+') {
            Some((base, _)) => format!("{base}@{domain}"),
            None => email.to_string(),
        },
        None => email.to_string(),
    }
}

/// The longest display name kept, in characters: room for any real name with its titles,
/// and short enough that a `To:` line stays far below the 998 bytes RFC 5322 allows.
pub const MAX_NAME_CHARS: usize = 100;

/// Whether `c` must never reach a stored name, a mail header or a terminal: control
/// characters (C0 with NUL, BEL and ESC; DEL; C1) and the invisible characters that reorder
/// or hide text — bidi marks, embeddings, overrides and isolates, zero-width spaces and
/// joiners, word joiners and invisible operators, the byte-order mark.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A display name fit to store, print and write into a header: line breaks and other
/// whitespace collapsed to single spaces, [unsafe characters](is_unsafe_char) removed,
/// surrounding quotes dropped, cut to [`MAX_NAME_CHARS`] characters. Every name referrald
/// keeps comes through here ([`Person::new`]), and the composer applies it again to names
/// stored by older versions.
pub fn clean_name(name: &str) -> String {
    // Nearly every name has nothing to remove: it is not copied for nothing.
    let visible: Cow<'_, str> = if name.chars().any(is_unsafe_char) {
        Cow::Owned(
            name.chars()
                .filter_map(|c| match c {
                    // Tabs and line breaks are controls too, but they separate words.
                    c if c.is_whitespace() => Some(' '),
                    c if is_unsafe_char(c) => None,
                    c => Some(c),
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    };
    let trimmed = visible
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim();
    let mut name = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = name.char_indices().nth(MAX_NAME_CHARS) {
        name.truncate(cut);
        name.truncate(name.trim_end().len());
    }
    name
}

/// "sally.jones@x" → "Sally Jones"; "fred_bloggs" → "Fred Bloggs". Only a local part that is
/// clearly a first and a last name is read as one: "ogrant", "info", "jsmith", "raj123" and
/// "j.smith" give no name ("").
fn name_from_local_part(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let local = local.split('+').next().unwrap_or(local);
    let words: Vec<&str> = local.split(['.', '_', '-']).collect();
    let clear = (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| w.chars().count() >= 2 && w.chars().all(char::is_alphabetic));
    if !clear {
        return String::new();
    }
    words
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// Declares a string-valued enum with `as_str`, `Display`, `FromStr` and serde in snake_case,
/// so the words stored in SQLite, printed by the CLI and written in JSON are one and the same.
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word used in the database, the CLI and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord { what: stringify!($name), word: s.to_string() }),
                }
            }
        }
    };
}

/// A word that names no value of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?}")]
pub struct UnknownWord {
    what: &'static str,
    word: String,
}

word_enum! {
    /// Where a referral stands (SPEC §4).
    ReferralStatus {
        /// Recorded; nobody has answered yet.
        Open = "open",
        /// A party responded on the thread or said they met.
        Connected = "connected",
        /// A party reported that they did business.
        Succeeded = "succeeded",
        /// A party reported that it did not work out, or that they never met.
        Unsuccessful = "unsuccessful",
        /// The plan ended without any signal from the parties.
        Stalled = "stalled",
        /// Called off by the owner or the introducer.
        Cancelled = "cancelled",
    }
}

word_enum! {
    /// The part a participant plays in a referral.
    Role {
        /// The person who made the introduction.
        Introducer = "introducer",
        /// One of the people introduced.
        Party = "party",
    }
}

word_enum! {
    /// A participant's state within one referral.
    PartyState {
        /// Nothing heard from them yet.
        Pending = "pending",
        /// They replied on the thread or answered us.
        Responded = "responded",
        /// They asked not to be emailed (applies across all referrals).
        OptedOut = "opted_out",
        /// Mail to them bounced.
        Bounced = "bounced",
    }
}

impl PartyState {
    /// Whether automated mail may still go to a participant in this state.
    pub fn reachable(self) -> bool {
        matches!(self, PartyState::Pending | PartyState::Responded)
    }
}

word_enum! {
    /// The automated messages of SPEC §2, in plan order: when two fall due for one person on
    /// one day, the later one wins.
    OutboundKind {
        /// Thanks the introducer for the referral.
        ThankYou = "thank_you",
        /// Reminds the owner, when a party, to contact the other party.
        OwnerNudge = "owner_nudge",
        /// "Did you two connect?" to each party that is not the owner.
        FollowUp = "follow_up",
        /// "How did it go? Reply with 1–5."
        FeedbackRequest = "feedback_request",
        /// The one reminder of the feedback request.
        FeedbackReminder = "feedback_reminder",
        /// Tells the introducer what the parties said.
        OutcomeReport = "outcome_report",
    }
}

word_enum! {
    /// The life of an outbound message.
    OutboundState {
        /// Waiting for its due time.
        Scheduled = "scheduled",
        /// Handed to the transport; not yet confirmed.
        Sending = "sending",
        /// Accepted by the transport.
        Sent = "sent",
        /// Refused permanently, or retried until given up.
        Failed = "failed",
        /// No longer needed (the person answered, opted out, bounced, or it was superseded).
        Cancelled = "cancelled",
        /// An outcome report with bad news, waiting for the owner to send or skip it.
        Held = "held",
    }
}

word_enum! {
    /// What a party reported about the referral.
    Outcome {
        /// They met or spoke.
        Met = "met",
        /// They never met.
        NotMet = "not_met",
        /// They did business.
        Won = "won",
        /// It did not work out.
        Lost = "lost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_names_fall_back_to_the_local_part() {
        assert_eq!(Person::new("Sally.Jones@X.org", None).name, "Sally Jones");
        assert_eq!(
            Person::new("fred_bloggs+crm@x.org", Some("  ")).name,
            "Fred Bloggs"
        );
        assert_eq!(
            Person::new("<FRED@X.ORG>", Some("\"Fred  Bloggs\"")),
            Person {
                email: "fred@x.org".into(),
                name: "Fred Bloggs".into()
            }
        );
        // A display name that is just the address again says nothing.
        assert_eq!(Person::new("bob@x.org", Some("bob@x.org")).name, "");
    }

    // "ogrant@" was greeted "Hi Ogrant" in every message: only first.last makes a name.
    #[test]
    fn only_a_clear_first_last_local_part_makes_a_name() {
        assert_eq!(Person::new("sally.lee@x.org", None).name, "Sally Lee");
        assert_eq!(
            Person::new("mary-jane.watson@x.org", None).name,
            "Mary Jane Watson"
        );
        for email in [
            "ogrant@x",
            "info@x",
            "sales@x",
            "jsmith@x",
            "raj123@x",
            "j.smith@x",
            "a.b@x",
        ] {
            assert_eq!(Person::new(email, None).name, "", "{email}");
            assert_eq!(Person::new(email, None).first_name(), "", "{email}");
        }
        assert_eq!(Person::new("ogrant@x", None).to_string(), "<ogrant@x>");
    }

    #[test]
    fn amounts_round_to_the_cent_once_and_group_thousands() {
        let f = |v: f64| format_amount(v, true).unwrap();
        assert_eq!(f(0.0), "0");
        assert_eq!(f(2500.0), "2,500");
        assert_eq!(f(1234567.5), "1,234,567.50");
        assert_eq!(f(-1200.0), "-1,200");
        // Rounded before deciding whether there are cents: never "1,235.00" or "1,234.100".
        assert_eq!(f(1234.999), "1,235");
        assert_eq!(f(0.004), "0");
        assert_eq!(f(-0.004), "0");
        assert_eq!(format_amount(1234.5, false).unwrap(), "1,235");
        assert_eq!(format_amount(f64::NAN, true), None);
        assert!(!has_minor_units(Some("jpy")) && has_minor_units(Some("EUR")));
        assert!(has_minor_units(None));
    }

    #[test]
    fn names_lose_control_bidi_and_zero_width_characters() {
        // Terminal escapes in a name would reach `referrals` output and mail headers.
        assert_eq!(clean_name("Fred\0\u{7}\u{1b}[31mJones"), "Fred[31mJones");
        assert_eq!(clean_name("Sally\u{1b}]0;pwn\u{7} Lee"), "Sally]0;pwn Lee");
        assert_eq!(
            clean_name("DEL\u{7f} and C1\u{9b}\u{85}end"),
            "DEL and C1 end"
        );
        // A right-to-left override makes "Fred" read as "derF" (or hides an extension).
        assert_eq!(
            clean_name("\u{202e}derF\u{202c} \u{2066}Jones\u{2069}\u{200f}\u{61c}"),
            "derF Jones"
        );
        // Zero-width characters make two names that look alike differ.
        assert_eq!(
            clean_name("\u{feff}Fr\u{200b}ed\u{200d} Jo\u{2060}nes\u{200c}"),
            "Fred Jones"
        );
        // Line breaks and tabs are spaces; runs of them collapse.
        assert_eq!(clean_name(" \"Fred\r\n\t  Jones\" "), "Fred Jones");
        // Accents, scripts written right to left and emoji stay.
        assert_eq!(clean_name("José Müller"), "José Müller");
        assert_eq!(clean_name("דוד כהן"), "דוד כהן");
        assert_eq!(clean_name("Zoë 🌻"), "Zoë 🌻");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        // A 10,000-character name made a 10,030-character To: line.
        let long = clean_name(&"é".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_NAME_CHARS);
        let words = clean_name(&"ab ".repeat(1000));
        assert!(words.chars().count() <= MAX_NAME_CHARS, "{words}");
        assert!(!words.ends_with(' '));
        assert_eq!(
            Person::new("fred@x.org", Some(&"Fred ".repeat(100)))
                .name
                .chars()
                .count(),
            99
        );
    }

    #[test]
    fn a_name_of_nothing_but_controls_falls_back_to_the_address() {
        assert_eq!(
            Person::new("fred.jones@x.org", Some("\u{1b}\u{7}\u{202e}")).name,
            "Fred Jones"
        );
    }

    #[test]
    fn first_names_read_naturally() {
        assert_eq!(
            Person::new("a@x", Some("Sally Jones")).first_name(),
            "Sally"
        );
        assert_eq!(
            Person::new("a@x", Some("Jones, Sally")).first_name(),
            "Sally"
        );
        assert_eq!(Person::new("a@x", Some("Prince")).first_name(), "Prince");
        assert_eq!(
            Person::new("a@x", Some("Dr. Sally Lee")).first_name(),
            "Sally"
        );
        assert_eq!(
            Person::new("a@x", Some("Prof Dr Ana Ruiz")).first_name(),
            "Ana"
        );
        // A title and a surname only: the title is the best greeting there is.
        assert_eq!(Person::new("a@x", Some("Dr. Lee")).first_name(), "Dr.");
        assert_eq!(
            Person::new("a@x", Some("Frau Anna Schmidt")).first_name(),
            "Anna"
        );
        assert_eq!(
            Person::new("a@x", Some("Fred Bloggs, CPA")).first_name(),
            "Fred"
        );
        assert_eq!(Person::new("a@x", Some("Bloggs, ")).first_name(), "Bloggs");
    }

    #[test]
    fn names_join_like_prose() {
        assert_eq!(join_names::<&str>(&[]), "");
        assert_eq!(join_names(&["Fred"]), "Fred");
        assert_eq!(join_names(&["Fred", "Sally"]), "Fred and Sally");
        assert_eq!(join_names(&["Fred", "Sally", "Tom"]), "Fred, Sally and Tom");
        assert_eq!(
            join_names(&["Fred", "Sally", "Tom", "José"]),
            "Fred, Sally, Tom and José"
        );
        assert_eq!(
            join_names(&["Fred".to_string(), "Sally".to_string()]),
            "Fred and Sally"
        );
    }

    #[test]
    fn only_well_formed_message_ids_are_written() {
        assert!(is_message_id("abc.123@tracker.example.org"));
        assert!(is_message_id("CAF=x+y_z!#$%&'*/?^`{|}~-@mail.gmail.com"));
        assert!(is_message_id("1234@[192.0.2.1]"));
        // A quote, space or bracket inside would break the header it is copied into.
        assert!(!is_message_id("a\"b@x"));
        assert!(!is_message_id("\"q\"@x"));
        assert!(!is_message_id("a b@x"));
        assert!(!is_message_id("<a@x>"));
        assert!(!is_message_id("a>b@x"));
        assert!(!is_message_id("a@x\r\nBcc: eve@x"));
        assert!(!is_message_id("a\0@x"));
        assert!(!is_message_id("a@[x]y"));
        assert!(!is_message_id("a@[x\\y]"));
        // Not an id-left "@" id-right at all.
        assert!(!is_message_id(""));
        assert!(!is_message_id("no-at-sign"));
        assert!(!is_message_id("@x"));
        assert!(!is_message_id("a@"));
        assert!(!is_message_id("a..b@x"));
        assert!(!is_message_id(".a@x"));
        assert!(!is_message_id("a@b@x"));
        assert!(!is_message_id("josé@x"));
        assert!(!is_message_id(&format!("{}@x", "a".repeat(MAX_MESSAGE_ID))));
    }

    #[test]
    fn plus_details_are_stripped() {
        assert_eq!(strip_plus_detail("intros+stop@x.org"), "intros@x.org");
        assert_eq!(strip_plus_detail("intros@x.org"), "intros@x.org");
    }

    #[test]
    fn words_round_trip() {
        for kind in OutboundKind::ALL {
            assert_eq!(kind.as_str().parse::<OutboundKind>(), Ok(*kind));
        }
        assert!("nope".parse::<ReferralStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&Outcome::NotMet).unwrap(),
            "\"not_met\""
        );
    }
}
