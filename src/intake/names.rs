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

use crate::model::Person;

/// The people of an introduction, as its words describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    /// The people introduced, in the order addressed.
    pub parties: Vec<Person>,
    /// The people copied to help (an assistant, a colleague scheduling): never mailed.
    pub copied: Vec<Person>,
}

/// Sorts `parties` into parties and helpers and names the nameless ones from `words`.
pub fn cast(parties: Vec<Person>, words: &str) -> Cast {
    let sentences = sentences(words);
    let helper_names: Vec<Vec<String>> = sentences.iter().filter_map(|s| helper(s)).collect();
    let candidates = introduced_names(words, &sentences);
    let mut cast = Cast {
        parties: Vec::new(),
        copied: Vec::new(),
    };
    for mut person in parties {
        let helper = helper_names.iter().find(|name| is_called(&person, name));
        if person.name.is_empty() {
            let pool: Vec<Vec<String>> = helper.cloned().into_iter().collect();
            let pool = if helper.is_some() { &pool } else { &candidates };
            if let Some(name) = name_for(&person.email, pool) {
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
    let any_role = s.iter().any(is_role);
    let purpose = s.iter().any(|t| PURPOSES.contains(&t.lower.as_str()))
        || s.iter().any(|t| t.lower.starts_with("schedul"));
    let anchors: Vec<usize> = match (cue, role) {
        (Some(c), Some(r)) => vec![c, r],
        (Some(c), None) if any_role || purpose => vec![c],
        (None, Some(r)) if purpose => vec![r],
        _ => return None,
    };
    anchors.into_iter().find_map(|at| beside(s, at))
}

/// The name written right after the word at `at` (past fillers and roles), else right
/// before it: "cc'ing Megan", "cc: my EA Megan", "Megan (cc'd)", "Megan, my assistant".
fn beside(s: &[Token], at: usize) -> Option<Vec<String>> {
    let skip = |t: &Token| FILLERS.contains(&t.lower.as_str()) || is_role(t);
    let after = (at + 1..s.len()).find(|&i| !skip(&s[i]));
    if let Some(name) = after.and_then(|i| name_at(s, i)) {
        return Some(name);
    }
    let before = (0..at).rev().find(|&i| !skip(&s[i]))?;
    name_before(s, before + 1)
}

/// Whether `name` (as words) is what `person` is called: their display name's first word,
/// or a name their address fits.
fn is_called(person: &Person, name: &[String]) -> bool {
    let first = name.first().map(|w| fold(w)).unwrap_or_default();
    let display = person
        .name
        .split_whitespace()
        .next()
        .map(fold)
        .unwrap_or_default();
    (!first.is_empty() && first == display) || fits_local_part(&person.email, name)
}

/// The name for `email` among `candidates`: the fullest that fits its local part, else one
/// that fits its domain; none when two different names fit equally.
fn name_for(email: &str, candidates: &[Vec<String>]) -> Option<String> {
    let pick = |fits: &dyn Fn(&[String]) -> bool| -> Option<String> {
        let mut best: Option<&Vec<String>> = None;
        for c in candidates.iter().filter(|c| fits(c)) {
            best = match best {
                None => Some(c),
                Some(b) if c.len() > b.len() && c.first() == b.first() => Some(c),
                Some(b) if b.len() > c.len() && c.first() == b.first() => Some(b),
                Some(b) if same(b, c) => Some(b),
                // Two different names fit: better no name than the wrong one.
                Some(_) => return None,
            };
        }
        best.map(|b| b.join(" "))
    };
    pick(&|c| fits_local_part(email, c)).or_else(|| {
        let local = email.split('@').next().unwrap_or("");
        if is_role_mailbox(local) {
            None
        } else {
            pick(&|c| fits_domain(email, c))
        }
    })
}

fn same(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fold(x) == fold(y))
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

/// Whether the local part spells the name: `olivia`, `olivia.grant`, `ogrant`, `oliviag`,
/// `grant` (for a full name). Initials alone (`og`) do not count: too many names share them.
fn fits_local_part(email: &str, name: &[String]) -> bool {
    let local = email.split('@').next().unwrap_or("");
    let local = fold(local.split('+').next().unwrap_or(local));
    // "Müller" is written `mueller` as often as `muller` in addresses.
    let german = |w: &String| {
        w.replace('ä', "ae")
            .replace('ö', "oe")
            .replace('ü', "ue")
            .replace('ß', "ss")
    };
    let as_written: Vec<String> = name.iter().map(|w| w.to_lowercase()).collect();
    let transliterated: Vec<String> = as_written.iter().map(|w| fold(&german(w))).collect();
    !local.is_empty()
        && (spells(
            &local,
            &as_written.iter().map(|w| fold(w)).collect::<Vec<_>>(),
        ) || spells(&local, &transliterated))
}

/// Whether `local` is one of the ways an address spells the (folded) name `words`.
fn spells(local: &str, words: &[String]) -> bool {
    let words: Vec<&String> = words.iter().filter(|w| !w.is_empty()).collect();
    let (Some(first), Some(last)) = (words.first(), words.last()) else {
        return false;
    };
    let initial = |w: &str| w.chars().next().map(String::from).unwrap_or_default();
    let mut spellings = vec![first.to_string()];
    if words.len() > 1 {
        spellings.push(words.iter().map(|w| w.as_str()).collect());
        spellings.push(format!("{}{last}", initial(first)));
        spellings.push(format!("{first}{}", initial(last)));
        spellings.push(format!("{last}{first}"));
        spellings.push(format!("{last}{}", initial(first)));
        spellings.push(last.to_string());
    }
    spellings.iter().any(|s| s == local)
}

/// Whether the domain carries the full name's surname: `grantlaw.example` ↔ "Olivia Grant".
fn fits_domain(email: &str, name: &[String]) -> bool {
    let Some(last) = name.last().map(|w| fold(w)) else {
        return false;
    };
    let domain = email.split('@').nth(1).unwrap_or("");
    let labels: Vec<&str> = domain.split('.').collect();
    // The top-level label is never a surname's company.
    name.len() > 1
        && last.chars().count() >= 3
        && labels[..labels.len().saturating_sub(1)]
            .iter()
            .any(|l| fold(l).starts_with(&last))
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
