//! The domain, in the user's words: a [`Referral`] is an introduction made by an
//! [`Introducer`](Role::Introducer) between two or more [`Party`](Role::Party) members,
//! followed up by [`OutboundKind`] messages until it ends in a [`ReferralStatus`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Row id of a referral in the store.
pub type ReferralId = i64;
/// Row id of an outbound message in the store.
pub type OutboundId = i64;

/// Someone with an email address, as named in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Lower-cased address: addresses are compared case-insensitively everywhere.
    pub email: String,
    /// Display name, or a name guessed from the local part.
    pub name: String,
}

impl Person {
    /// A person with a normalised address; the name falls back to one made from the local part.
    pub fn new(email: &str, name: Option<&str>) -> Person {
        let email = normalize_email(email);
        let name = match name.map(clean_display_name) {
            Some(n) if !n.is_empty() && !n.contains('@') => n,
            _ => name_from_local_part(&email),
        };
        Person { email, name }
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
        write!(f, "{} <{}>", self.name, self.email)
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

fn clean_display_name(name: &str) -> String {
    let trimmed = name.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "sally.jones@x" → "Sally Jones"; "fred_bloggs" → "Fred Bloggs".
fn name_from_local_part(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let local = local.split('+').next().unwrap_or(local);
    let words: Vec<String> = local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect();
    if words.is_empty() {
        email.to_string()
    } else {
        words.join(" ")
    }
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
        assert_eq!(Person::new("bob@x.org", Some("bob@x.org")).name, "Bob");
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
