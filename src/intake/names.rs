//! Who an introduction's own words say its people are. Pure: it takes the parties the
//! headers named and the introducer's words (quoted text removed), and returns them sorted
//! into parties and helpers, with names the body gives to addresses that carried none.
//!
//! Two readings:
//! - **Names.** A party whose address carried no display name (and is not a plain
//!   `first.last`) takes a name the body uses for them — in a greeting line ("Hi Raj, hi
//!   Olivia", "Olivia, Raj —", "Bonjour Olivia"), after "meet"/"introducing", or before
//!   "is a …" — when that name fits the address: `olivia@` ↔ "Olivia", `ogrant@` /
//!   `olivia.grant@` / `oliviag@` ↔ "Olivia Grant", or the domain (`@grantlaw.example` ↔
//!   "Olivia Grant"). Initials alone (`og@`) are too weak to name anyone.
//! - **Helpers.** Someone copied to help ("cc'ing Megan, my assistant, to find a time",
//!   "looping in Dan to coordinate", "Megan (cc'd) will set up a call", "cc: my EA Megan") is
//!   no party: the sentence must say both that they are copied or are the introducer's
//!   assistant, and why (a role or scheduling), and name them next to those words.

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::memmem::Finder;

use crate::model::Person;

/// The people of an introduction, as its words describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    /// The people introduced, in the order addressed.
    pub parties: Vec<Person>,
    /// The people copied to help (an assistant, a colleague scheduling): never mailed.
    pub copied: Vec<Person>,
}

/// Whether [`cast`] could change anything for these parties, judged cheaply from the
/// message's bodies before its own words are worked out (the costliest step of intake):
/// a party without a name may be named, and words that may copy a helper in may remove one.
/// `false` only when `cast` would return the parties as they are and copy nobody.
pub fn may_recast(parties: &[Person], plain: Option<&str>, html: Option<&str>) -> bool {
    if parties.iter().any(|p| p.name.is_empty()) {
        return true;
    }
    match plain {
        // The own words are drawn from the plain part, letters unchanged.
        Some(text) if !text.trim().is_empty() => may_name_a_helper(text),
        // HTML's own words decode character references, which this scan would not see.
        _ => html.is_some(),
    }
}

/// Whether `text` holds a word [`helper`] starts from: a copy cue or a role. Every one of
/// them holds one of these pieces (ASCII, in any case; none with a `k`, which a Kelvin sign
/// lower-cases to), and "EA" and "PA" count only in capitals.
fn may_name_a_helper(text: &str) -> bool {
    const PIECES: &[&str] = &[
        "cc",
        "cop",
        "loop",
        "adding",
        "opie",
        "sist",
        "secr",
        "ekr",
        "colleague",
        "coordinator",
        "scheduler",
    ];
    // The own words drop zero-width and control characters, which may join the letters of
    // a piece: look at the text without them (rarely there: no copy otherwise).
    let visible: Cow<'_, str> = if hides_letters(text) {
        Cow::Owned(
            text.chars()
                .filter(|&c| {
                    !matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{2060}')
                        && (!c.is_control() || c.is_whitespace())
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    };
    // Searchers built once: building one costs more than searching a message with it.
    static FINDERS: OnceLock<(Vec<Finder<'static>>, Vec<Finder<'static>>)> = OnceLock::new();
    let (capitals, pieces) = FINDERS.get_or_init(|| {
        fn finders(words: &[&'static str]) -> Vec<Finder<'static>> {
            words.iter().map(|&w| Finder::new(w)).collect()
        }
        (finders(&["EA", "PA"]), finders(PIECES))
    });
    let bytes = visible.as_bytes();
    if capitals.iter().any(|f| f.find(bytes).is_some()) {
        return true;
    }
    let lower = bytes.to_ascii_lowercase();
    pieces.iter().any(|f| f.find(&lower).is_some())
}

/// Whether `text` holds a character the own words drop from between letters: a control
/// character other than white space (C0, DEL, C1) or a zero-width one.
fn hides_letters(text: &str) -> bool {
    let bytes = text.as_bytes();
    // A branch-free pass over the bytes first: most text holds none of these lead bytes.
    let suspect = |b: u8| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r'))
            || b == 0x7F
            || b == 0xC2
            || b == 0xE2
            || b == 0xEF
    };
    if !bytes.iter().fold(false, |seen, &b| seen | suspect(b)) {
        return false;
    }
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => false,
        0x00..=0x1F | 0x7F => true,
        // C1 controls: U+0080–U+009F (U+0085, the next line, is white space).
        0xC2 => bytes
            .get(i + 1)
            .is_some_and(|&next| (0x80..=0x9F).contains(&next) && next != 0x85),
        _ => false,
    }) || ["\u{200B}", "\u{2060}", "\u{FEFF}"]
        .iter()
        .any(|z| memchr::memmem::find(bytes, z.as_bytes()).is_some())
}

/// Sorts `parties` into parties and helpers and names the nameless ones from `words`.
pub fn cast(parties: Vec<Person>, words: &str) -> Cast {
    let sentences = sentences(words);
    let helpers = Name::list(sentences.iter().filter_map(|s| helper(s)));
    let introduced = Name::list(introduced_names(words, &sentences));
    let addresses: Vec<Address> = parties.iter().map(|p| Address::new(&p.email)).collect();
    // A helper's name that fits two recipients picks out neither: better mail an assistant
    // than drop a party.
    let helpers: Vec<&Name> = helpers
        .iter()
        .filter(|name| {
            parties
                .iter()
                .zip(&addresses)
                .filter(|(p, a)| name.calls(p, a))
                .count()
                == 1
        })
        .collect();
    let mut cast = Cast {
        parties: Vec::new(),
        copied: Vec::new(),
    };
    for (mut person, address) in parties.into_iter().zip(&addresses) {
        let helper = helpers.iter().find(|name| name.calls(&person, address));
        if person.name.is_empty() {
            let named = match helper {
                Some(name) => address.name_among(std::slice::from_ref(*name)),
                None => address.name_among(&introduced),
            };
            if let Some(name) = named {
                person.name = name;
            }
        }
        match helper {
            Some(_) => cast.copied.push(person),
            None => cast.parties.push(person),
        }
    }
    cast
}

/// The most names read from one message, of each sort (introduced, helpers): a hostile
/// message can hold thousands of recipients and of names, and matching stays cheap.
const MAX_NAMES: usize = 64;

/// A name the words use, with the ways an address can spell it.
#[derive(Debug)]
struct Name {
    /// As written: "Olivia Grant".
    words: Vec<String>,
    /// Each word folded ("José" → "jose").
    folded: Vec<String>,
    /// The local parts that spell it: `olivia`, `oliviagrant`, `ogrant`, `oliviag`,
    /// `grantolivia`, `granto`, `grant`; German umlauts also as `ue`, `oe`, `ae`.
    spellings: Vec<String>,
}

impl Name {
    /// The distinct names among `names`, at most [`MAX_NAMES`].
    fn list(names: impl IntoIterator<Item = Vec<String>>) -> Vec<Name> {
        let mut out: Vec<Name> = Vec::new();
        for words in names {
            if out.len() == MAX_NAMES {
                break;
            }
            let name = Name::new(words);
            if !name.folded.is_empty() && !out.iter().any(|n| n.folded == name.folded) {
                out.push(name);
            }
        }
        out
    }

    fn new(words: Vec<String>) -> Name {
        let folded: Vec<String> = words
            .iter()
            .map(|w| fold(w))
            .filter(|w| !w.is_empty())
            .collect();
        // "Müller" is written `mueller` as often as `muller` in addresses.
        let german: Vec<String> = words
            .iter()
            .map(|w| {
                fold(
                    &w.to_lowercase()
                        .replace('ä', "ae")
                        .replace('ö', "oe")
                        .replace('ü', "ue")
                        .replace('ß', "ss"),
                )
            })
            .filter(|w| !w.is_empty())
            .collect();
        let mut spelled = spellings(&folded);
        if german != folded {
            spelled.extend(spellings(&german));
        }
        Name {
            words,
            folded,
            spellings: spelled,
        }
    }

    /// Whether this is what `person` is called: their display name's first word, or a name
    /// their address spells.
    fn calls(&self, person: &Person, address: &Address) -> bool {
        let display = person.name.split_whitespace().next().map(fold);
        display.as_ref() == self.folded.first() || self.spells(address)
    }

    fn spells(&self, address: &Address) -> bool {
        !address.local.is_empty() && self.spellings.contains(&address.local)
    }

    /// Whether the domain carries this full name's surname: `grantlaw.example` ↔ "Olivia
    /// Grant".
    fn fits_domain(&self, address: &Address) -> bool {
        match self.folded.as_slice() {
            [_, .., last] if last.chars().count() >= 3 => {
                address.labels.iter().any(|l| l.starts_with(last.as_str()))
            }
            _ => false,
        }
    }
}

/// The ways an address's local part spells a name (folded words). Initials alone (`og`) do
/// not count: too many names share them.
fn spellings(words: &[String]) -> Vec<String> {
    let (Some(first), Some(last)) = (words.first(), words.last()) else {
        return Vec::new();
    };
    let initial = |w: &str| w.chars().next().map(String::from).unwrap_or_default();
    let mut out = vec![first.clone()];
    if words.len() > 1 {
        out.push(words.concat());
        out.push(format!("{}{last}", initial(first)));
        out.push(format!("{first}{}", initial(last)));
        out.push(format!("{last}{first}"));
        out.push(format!("{last}{}", initial(first)));
        out.push(last.clone());
    }
    out
}

/// An address, folded once for matching against names.
#[derive(Debug)]
struct Address {
    /// The local part without `+detail`, folded: `olivia.grant` → `oliviagrant`.
    local: String,
    /// The domain's labels but the last, folded.
    labels: Vec<String>,
    /// A shared mailbox (`info@`, `sales@`): a name in the body belongs to a person, not to it.
    shared: bool,
}

impl Address {
    fn new(email: &str) -> Address {
        let (local, domain) = email.split_once('@').unwrap_or((email, ""));
        let local = local.split('+').next().unwrap_or(local);
        let mut labels: Vec<String> = domain.split('.').map(fold).collect();
        // The top-level label is never a surname's company.
        labels.pop();
        Address {
            shared: is_role_mailbox(local),
            local: fold(local),
            labels,
        }
    }

    /// The fullest of `names` its local part spells, else one its domain carries; none when
    /// two different names fit equally.
    fn name_among(&self, names: &[Name]) -> Option<String> {
        let pick = |fits: &dyn Fn(&Name) -> bool| -> Option<String> {
            let mut best: Option<&Name> = None;
            for c in names.iter().filter(|c| fits(c)) {
                best = match best {
                    None => Some(c),
                    Some(b) if c.folded.first() == b.folded.first() => {
                        // "Olivia" and "Olivia Grant": the fuller one.
                        Some(if c.folded.len() > b.folded.len() {
                            c
                        } else {
                            b
                        })
                    }
                    // Two different names fit: better no name than the wrong one.
                    Some(_) => return None,
                };
            }
            best.map(|b| b.words.join(" "))
        };
        pick(&|n| n.spells(self)).or_else(|| {
            if self.shared {
                None
            } else {
                pick(&|n| n.fits_domain(self))
            }
        })
    }
}

/// A word of the text: its letters as written, and whether punctuation follows it.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    /// Lower-cased, apostrophes straightened.
    lower: String,
}

impl Token {
    fn is_word(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_alphanumeric)
    }

    /// A word that could be (part of) a name: capitalised letters, not a word we know.
    fn is_name(&self) -> bool {
        let mut chars = self.text.chars();
        chars.next().is_some_and(char::is_uppercase)
            && self
                .text
                .chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
            && self.text.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && !self.text.chars().all(char::is_uppercase)
            && !NOT_NAMES.contains(&self.lower.as_str())
            && !GREETINGS.contains(&self.lower.as_str())
            && !CONNECTORS.contains(&self.lower.as_str())
            && !is_role(self)
    }
}

/// Capitalised words that start sentences or name things, never people.
const NOT_NAMES: &[&str] = &[
    "i",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "we",
    "you",
    "your",
    "my",
    "our",
    "the",
    "this",
    "that",
    "these",
    "those",
    "she",
    "he",
    "they",
    "her",
    "his",
    "their",
    "it",
    "its",
    "a",
    "an",
    "as",
    "and",
    "but",
    "so",
    "if",
    "please",
    "thanks",
    "thank",
    "best",
    "regards",
    "cheers",
    "just",
    "both",
    "all",
    "everyone",
    "team",
    "folks",
    "there",
    "here",
    "when",
    "what",
    "who",
    "how",
    "let",
    "looking",
    "hope",
    "happy",
    "great",
    "meet",
    "introducing",
    "cc",
    "also",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "ich",
    "wir",
    "sie",
    "je",
    "nous",
    "vous",
    "yo",
    "te",
    "le",
    "la",
    "el",
    "der",
    "die",
    "das",
];

/// Words that open a greeting line, in the languages introductions come in.
const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "dear", "hallo", "liebe", "lieber", "servus", "moin", "bonjour", "salut",
    "cher", "chère", "coucou", "hola", "estimado", "estimada", "querido", "querida", "ciao", "olá",
    "oi", "hej", "hoi",
];

/// Words that join names in a greeting: "Raj and Olivia", "Olivia & Raj".
const CONNECTORS: &[&str] = &["and", "und", "et", "y", "e", "en", "&", "und", "plus"];

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        let text = word.trim_end_matches(['\'', '-']).to_string();
        if !text.is_empty() {
            out.push(Token {
                lower: text.to_lowercase(),
                text,
            });
        }
        word.clear();
    };
    for c in text.chars() {
        let c = if c == '’' { '\'' } else { c };
        if c.is_alphanumeric() || ((c == '\'' || c == '-') && !word.is_empty()) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            if !c.is_whitespace() {
                out.push(Token {
                    text: c.to_string(),
                    lower: c.to_string(),
                });
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The text cut into sentences (and lines: a greeting line ends without a full stop).
fn sentences(text: &str) -> Vec<Vec<Token>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut current = Vec::new();
        for token in tokens(line) {
            let end = matches!(token.text.as_str(), "." | "!" | "?");
            current.push(token);
            if end {
                out.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    out
}

/// Names from the run of name words starting at `i`: "Olivia Grant" (at most three words).
fn name_at(tokens: &[Token], i: usize) -> Option<Vec<String>> {
    let run: Vec<String> = tokens
        .get(i..)?
        .iter()
        .take_while(|t| t.is_name())
        .take(3)
        .map(|t| t.text.clone())
        .collect();
    (!run.is_empty()).then_some(run)
}

/// The run of name words ending just before `end`.
fn name_before(tokens: &[Token], end: usize) -> Option<Vec<String>> {
    let start = tokens[..end]
        .iter()
        .rposition(|t| !t.is_name())
        .map_or(0, |p| p + 1)
        .max(end.saturating_sub(3));
    (start < end).then(|| tokens[start..end].iter().map(|t| t.text.clone()).collect())
}

/// Every name the words use to say who someone is: greeting lines, "meet X", "introducing
/// X", "X is …" (and their German, French and Spanish forms).
fn introduced_names(words: &str, sentences: &[Vec<Token>]) -> Vec<Vec<String>> {
    let mut names = Vec::new();
    // A greeting is one of the first lines of the message.
    for line in words.lines().filter(|l| !l.trim().is_empty()).take(3) {
        names.extend(greeting_names(&tokens(line)));
    }
    const BEFORE: &[&str] = &[
        "meet",
        "introducing",
        "introduce",
        "to",
        "vorstellen",
        "vorstellen:",
        "présente",
        "presente",
        "presento",
        "conocer",
        "kennenlernen",
        "connaître",
    ];
    const AFTER: &[&str] = &[
        "is", "ist", "est", "es", "works", "runs", "leads", "arbeitet",
    ];
    for s in sentences {
        // "Olivia, meet Raj", "Ana, te presento a José": the person spoken to.
        if let Some(name) = name_at(s, 0)
            && s.get(name.len()).is_some_and(|t| t.text == ",")
        {
            names.push(name);
        }
        for (i, t) in s.iter().enumerate() {
            if BEFORE.contains(&t.lower.as_str()) {
                // "meet Olivia", "te presento a Olivia", "je vous présente Olivia".
                let at = if s.get(i + 1).is_some_and(|n| n.lower == "a") {
                    i + 2
                } else {
                    i + 1
                };
                names.extend(name_at(s, at));
            } else if AFTER.contains(&t.lower.as_str()) && i > 0 {
                names.extend(name_before(s, i));
            }
        }
    }
    names
}

/// The names of a greeting line: every word is a greeting, a connector, punctuation or part
/// of a name ("Hi Raj, hi Olivia", "Olivia, Raj —", "Hallo Olivia, hallo Raj").
fn greeting_names(line: &[Token]) -> Vec<Vec<String>> {
    // "Fred, Sally - as discussed": the greeting ends at a dash or colon.
    let line = match line
        .iter()
        .position(|t| matches!(t.text.as_str(), "-" | "—" | "–" | ":"))
    {
        Some(end) => &line[..=end],
        None => line,
    };
    let fits = line.iter().all(|t| {
        !t.is_word()
            || t.is_name()
            || GREETINGS.contains(&t.lower.as_str())
            || CONNECTORS.contains(&t.lower.as_str())
    });
    let greeted = line.first().is_some_and(|t| {
        GREETINGS.contains(&t.lower.as_str())
            || (t.is_name() && line.last().is_some_and(|l| !l.is_word()))
    });
    if !fits || !greeted || line.len() > 16 {
        return Vec::new();
    }
    let mut names = Vec::new();
    let mut i = 0;
    while i < line.len() {
        match name_at(line, i) {
            Some(name) => {
                i += name.len();
                names.push(name);
            }
            None => i += 1,
        }
    }
    names
}

/// Words that say someone is copied on the message.
const COPY_CUES: &[&str] = &[
    "cc", "cc'ing", "ccing", "cc'd", "ccd", "cc'ed", "cced", "copying", "copied", "looping",
    "looped", "adding", "kopie", "copie", "copia",
];
/// Roles of people who help rather than take part.
const ROLES: &[&str] = &[
    "assistant",
    "ea",
    "pa",
    "secretary",
    "colleague",
    "coordinator",
    "scheduler",
    "assistent",
    "assistentin",
    "sekretärin",
    "assistante",
    "secrétaire",
    "asistente",
    "secretaria",
];
/// Words that say the helper is there to arrange the meeting.
const PURPOSES: &[&str] = &[
    "schedule",
    "scheduling",
    "coordinate",
    "coordinating",
    "calendar",
    "calendars",
    "time",
    "times",
    "logistics",
    "organise",
    "organize",
    "arrange",
    "book",
    "termin",
    "koordinieren",
    "organiser",
    "coordinar",
    "agenda",
    "call",
];
/// Words between a cue and the helper's name: "cc: my EA Megan", "looping in Dan".
const FILLERS: &[&str] = &[
    "my",
    "our",
    "in",
    "the",
    "executive",
    "meine",
    "meinen",
    "mein",
    "ma",
    "mon",
    "mi",
    ":",
    "(",
    ")",
    ",",
    "-",
    "—",
    "–",
    "here",
    "also",
];
/// Possessives that make a role the introducer's own helper ("my assistant").
const POSSESSIVES: &[&str] = &["my", "our", "meine", "meinen", "mein", "ma", "mon", "mi"];

fn is_role(t: &Token) -> bool {
    // "EA" and "PA" are roles only in capitals: "pa" is a word in other languages.
    match t.lower.as_str() {
        "ea" | "pa" => t.text == "EA" || t.text == "PA",
        word => ROLES.contains(&word),
    }
}

/// The name of the helper a sentence copies in, if it is such a sentence.
fn helper(s: &[Token]) -> Option<Vec<String>> {
    let cue = s.iter().position(|t| COPY_CUES.contains(&t.lower.as_str()));
    let role = s.iter().enumerate().position(|(i, t)| {
        is_role(t)
            && s[..i]
                .iter()
                .rev()
                .find(|p| p.is_word() && !p.lower.starts_with("exec"))
                .is_some_and(|p| POSSESSIVES.contains(&p.lower.as_str()))
    });
    match (cue, role) {
        // "cc'ing Megan, my assistant": the role says it.
        (Some(c), Some(r)) => beside(s, c).or_else(|| beside(s, r)).map(|(name, _)| name),
        // "looping in Dan to coordinate": copied to do the arranging themselves. "Copying
        // Olivia so you two can find a time" copies a party.
        (Some(c), None) => beside(s, c)
            .filter(|(_, end)| arranges(s, *end))
            .map(|(name, _)| name),
        // "Megan, my assistant, will find a time".
        (None, Some(r)) if s.iter().any(is_purpose) => beside(s, r).map(|(name, _)| name),
        _ => None,
    }
}

fn is_purpose(t: &Token) -> bool {
    PURPOSES.contains(&t.lower.as_str()) || t.lower.starts_with("schedul")
}

/// Whether the words after a name (at `from`) say that person will do the arranging: "to
/// coordinate", "(cc'd) will set up a call", "who can find a time" — a purpose within a few
/// words, for the introducer rather than for "you".
fn arranges(s: &[Token], from: usize) -> bool {
    const ACTS: &[&str] = &[
        "to", "will", "can", "who", "wird", "kann", "um", "pour", "va", "para",
    ];
    let skip = |t: &Token| {
        matches!(t.text.as_str(), "(" | ")" | ",")
            || COPY_CUES.contains(&t.lower.as_str())
            || FILLERS.contains(&t.lower.as_str())
    };
    let Some(act) = (from..s.len()).find(|&i| !skip(&s[i])) else {
        return false;
    };
    if !ACTS.contains(&s[act].lower.as_str()) {
        return false;
    }
    s[act + 1..]
        .iter()
        .take(6)
        .take_while(|t| !matches!(t.lower.as_str(), "you" | "your" | "dich" | "vous" | "te"))
        .any(is_purpose)
}

/// The name written right after the word at `at` (past fillers and roles), else right
/// before it, with the position just past it: "cc'ing Megan", "cc: my EA Megan", "Megan
/// (cc'd)", "Megan, my assistant".
fn beside(s: &[Token], at: usize) -> Option<(Vec<String>, usize)> {
    let skip = |t: &Token| FILLERS.contains(&t.lower.as_str()) || is_role(t);
    let after = (at + 1..s.len()).find(|&i| !skip(&s[i]));
    if let Some((i, name)) = after.and_then(|i| Some((i, name_at(s, i)?))) {
        let end = i + name.len();
        return Some((name, end));
    }
    let before = (0..at).rev().find(|&i| !skip(&s[i]))?;
    // The words after a name written before its cue start after the cue: "Megan (cc'd) will".
    name_before(s, before + 1).map(|name| (name, at + 1))
}

/// Lower-cased letters without accents: "José" → "jose", "Müller" → "muller".
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| {
            let plain = match c {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
                'ç' => 'c',
                'è' | 'é' | 'ê' | 'ë' => 'e',
                'ì' | 'í' | 'î' | 'ï' => 'i',
                'ñ' => 'n',
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
                'ù' | 'ú' | 'û' | 'ü' => 'u',
                'ý' | 'ÿ' => 'y',
                c if c.is_alphanumeric() => c,
                _ => return None,
            };
            Some(plain)
        })
        .collect()
}

/// Shared mailboxes: a name in the body belongs to a person, not to `info@`.
fn is_role_mailbox(local: &str) -> bool {
    const ROLE_MAILBOXES: &[&str] = &[
        "info",
        "sales",
        "contact",
        "hello",
        "office",
        "admin",
        "team",
        "support",
        "mail",
        "enquiries",
        "inquiries",
        "hr",
        "jobs",
        "billing",
        "accounts",
        "help",
        "kontakt",
    ];
    ROLE_MAILBOXES.contains(&local.split('+').next().unwrap_or(local))
}

#[cfg(test)]
mod tests;
