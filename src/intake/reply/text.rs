//! A reply cut into words, numbers and marks, and the small phrase patterns the readers match
//! against them. Everything here is linear in the length of the text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Letters (with inner apostrophes and hyphens), lower-cased.
    Word,
    /// Digits, with `.` `,` `'` between digit groups kept: `2.500`, `1,200.50`, `3'000`.
    Number,
    /// Any other visible character, one per token: `/`, `€`, `★`, `-`…
    Mark,
}

/// One token and where it stands.
#[derive(Debug, Clone)]
pub(super) struct Token<'a> {
    pub kind: Kind,
    /// Lower-cased word, the digits of a number, or the mark itself (borrowed from the text
    /// whenever it can be, so a long reply does not cost an allocation per token).
    pub text: Cow<'a, str>,
    /// Line number (0-based).
    pub line: usize,
    /// Clause number: it changes at `, ; : . ! ? ( ) - –` and at paragraph breaks.
    pub clause: usize,
    /// Sentence number: it changes at `. ! ?` and at paragraph breaks.
    pub sentence: usize,
    /// No whitespace between this token and the one before (always false for the first).
    pub glued: bool,
    /// The first token of its line.
    pub line_start: bool,
}

impl Token<'_> {
    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is the word `w`.
    pub fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text == w
    }

    /// Whether this is one of the words `ws`.
    pub fn is_any_word(&self, ws: &[&str]) -> bool {
        self.kind == Kind::Word && ws.contains(&self.as_str())
    }

    /// Whether this is the mark `c`.
    pub fn is_mark(&self, c: &str) -> bool {
        self.kind == Kind::Mark && self.text == c
    }

    /// Whether this is one of the marks in `cs`.
    pub fn is_any_mark(&self, cs: &[&str]) -> bool {
        self.kind == Kind::Mark && cs.contains(&self.as_str())
    }

    /// A plain integer of at most three digits ("5", "10"), without separators.
    pub fn small_int(&self) -> Option<u32> {
        if self.kind == Kind::Number && self.text.len() <= 3 {
            self.text.parse().ok()
        } else {
            None
        }
    }

    /// A number with at most one decimal separator followed by one or two digits ("4.5", "4,5"),
    /// or a plain integer.
    pub fn small_decimal(&self) -> Option<f64> {
        if self.kind != Kind::Number || self.text.len() > 6 {
            return None;
        }
        match self.text.split_once(['.', ',']) {
            None => self.text.parse().ok(),
            Some((whole, frac)) if (1..=2).contains(&frac.len()) && !frac.contains(['.', ',']) => {
                format!("{whole}.{frac}").parse().ok()
            }
            Some(_) => None,
        }
    }
}

/// Marks that end a clause.
const CLAUSE_MARKS: &[char] = &[
    ',', ';', ':', '.', '!', '?', '(', ')', '[', ']', '-', '–', '—', '…', '•', '|', '、', '，',
    '；', '：', '。', '！', '？', '¿', '¡',
];
/// Marks that end a sentence (CJK ones too).
const SENTENCE_MARKS: &[char] = &['.', '!', '?', '…', '。', '！', '？'];

/// Invisible characters that are skipped entirely: variation selectors, joiners, BOM, soft
/// hyphen, the keycap of "4️⃣".
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{FE0E}'
            | '\u{FE0F}'
            | '\u{200B}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{AD}'
            | '\u{20E3}'
    )
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ')
}

/// Cuts `text` into tokens. Contractions are expanded ("didn't" → "did" "not", "we're" → "we"
/// "are") so that phrase lists need only one spelling.
pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut line = 0;
    let mut clause = 0;
    let mut sentence = 0;
    let mut newlines = 0usize; // newlines seen since the last token
    let mut glued = false;
    let mut line_start = true;

    while let Some(&(start, c)) = chars.peek() {
        if is_ignorable(c) {
            chars.next();
            continue;
        }
        if c.is_whitespace() {
            if c == '\n' {
                line += 1;
                newlines += 1;
                line_start = true;
            }
            glued = false;
            chars.next();
            continue;
        }
        if newlines >= 2 && !out.is_empty() {
            // A blank line: a new paragraph starts a new clause and sentence.
            clause += 1;
            sentence += 1;
        }
        newlines = 0;
        let place = Place {
            line,
            clause,
            sentence,
            glued: glued && !out.is_empty(),
            line_start,
        };
        line_start = false;
        glued = true;

        if c.is_ascii_digit() {
            let end = scan_number(text, start);
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
            out.push(place.token(Kind::Number, Cow::Borrowed(&text[start..end])));
        } else if c.is_alphabetic() {
            let end = scan_word(text, start);
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
            push_word(&mut out, &place, &text[start..end]);
        } else {
            chars.next();
            let end = start + c.len_utf8();
            out.push(place.token(Kind::Mark, Cow::Borrowed(&text[start..end])));
            // "am 3.12. ein Telefonat", "approx. £250", "z. B. wir": a dot before a lower-case
            // word ends an abbreviation or a date, not the sentence.
            let abbreviation = c == '.' && continues_lower_case(&text[end..]);
            if CLAUSE_MARKS.contains(&c) && !abbreviation {
                clause += 1;
            }
            if SENTENCE_MARKS.contains(&c) && !abbreviation {
                sentence += 1;
            }
        }
    }
    out
}

/// Whether the next visible character on the line is a lower-case letter (or the next word,
/// past a currency sign, is: "approx. £250").
fn continues_lower_case(rest: &str) -> bool {
    rest.chars()
        .take(16)
        .take_while(|&c| c != '\n')
        .find(|c| !c.is_whitespace())
        .is_some_and(char::is_lowercase)
}

/// Where a token stands, shared by the tokens a contraction expands to.
struct Place {
    line: usize,
    clause: usize,
    sentence: usize,
    glued: bool,
    line_start: bool,
}

impl Place {
    fn token<'a>(&self, kind: Kind, text: Cow<'a, str>) -> Token<'a> {
        Token {
            kind,
            text,
            line: self.line,
            clause: self.clause,
            sentence: self.sentence,
            glued: self.glued,
            line_start: self.line_start,
        }
    }
}

/// End of the number starting at `start`: digit groups joined by single `.` `,` `'`.
fn scan_number(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut end = start;
    loop {
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        // A separator continues the number only when a digit follows it.
        let sep_len = match text[end..].chars().next() {
            Some(c @ ('.' | ',' | '\'' | '’')) => c.len_utf8(),
            _ => return end,
        };
        if bytes.get(end + sep_len).is_some_and(|b| b.is_ascii_digit()) {
            end += sep_len;
        } else {
            return end;
        }
    }
}

/// End of the word starting at `start`: letters, with apostrophes and hyphens between letters.
fn scan_word(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut it = text[start..].char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c.is_alphabetic() || is_ignorable(c) {
            end = start + i + c.len_utf8();
            continue;
        }
        let joins = is_apostrophe(c) || c == '-';
        if joins && it.peek().is_some_and(|&(_, n)| n.is_alphabetic()) {
            continue;
        }
        break;
    }
    end
}

/// Contractions typed without the apostrophe.
const BARE: &[(&str, &str)] = &[
    ("dont", "do"),
    ("didnt", "did"),
    ("doesnt", "does"),
    ("cant", "can"),
    ("couldnt", "could"),
    ("wont", "will"),
    ("wouldnt", "would"),
    ("isnt", "is"),
    ("wasnt", "was"),
    ("arent", "are"),
    ("werent", "were"),
    ("havent", "have"),
    ("hasnt", "has"),
    ("hadnt", "had"),
    ("shouldnt", "should"),
];

/// Pushes a word, expanding contractions and dropping possessive `'s`.
fn push_word<'a>(out: &mut Vec<Token<'a>>, place: &Place, raw: &'a str) {
    let plain = raw
        .chars()
        .all(|c| !c.is_uppercase() && !is_apostrophe(c) && !is_ignorable(c));
    if plain {
        // Already lower-case: borrow it (only "dont", "didnt"… expand).
        match BARE.iter().find(|(w, _)| *w == raw) {
            Some(&(_, base)) => {
                out.push(place.token(Kind::Word, Cow::Borrowed(base)));
                out.push(place.token(Kind::Word, Cow::Borrowed("not")));
            }
            None => out.push(place.token(Kind::Word, Cow::Borrowed(raw))),
        }
        return;
    }
    let word: String = raw
        .chars()
        .filter(|&c| !is_ignorable(c))
        .map(|c| if is_apostrophe(c) { '\'' } else { c })
        .flat_map(char::to_lowercase)
        .collect();
    for part in expand_contraction(&word) {
        out.push(place.token(Kind::Word, Cow::Owned(part)));
    }
}

/// "didn't" → ["did", "not"]; "we're" → ["we", "are"]; "fred's" → ["fred"]; also the
/// apostrophe-less spellings people type on phones ("didnt", "dont", "cant").
fn expand_contraction(word: &str) -> Vec<String> {
    if let Some(&(_, base)) = BARE.iter().find(|(w, _)| *w == word) {
        return vec![base.to_string(), "not".to_string()];
    }
    if let Some(parts) = split_elision(word) {
        return parts;
    }
    if let Some(base) = word.strip_suffix("n't") {
        let base = match base {
            "wo" => "will",
            "ca" => "can",
            "sha" => "shall",
            "ai" => "is",
            other => other,
        };
        return vec![base.to_string(), "not".to_string()];
    }
    const SUFFIXES: &[(&str, &str)] = &[
        ("'re", "are"),
        ("'ve", "have"),
        ("'ll", "will"),
        ("'d", "would"),
        ("'m", "am"),
    ];
    for (suffix, full) in SUFFIXES {
        if let Some(base) = word.strip_suffix(suffix)
            && !base.is_empty()
        {
            return vec![base.to_string(), full.to_string()];
        }
    }
    if let Some(base) = word.strip_suffix("'s") {
        return match base {
            "it" | "that" | "he" | "she" | "there" | "what" | "here" | "who" => {
                vec![base.to_string(), "is".to_string()]
            }
            "let" => vec!["let".to_string(), "us".to_string()],
            _ => vec![base.to_string()],
        };
    }
    vec![word.to_string()]
}

/// French and Italian elisions: "n'avons" → ["ne", "avons"], "l'appel" → ["le", "appel"],
/// "un'offerta" → ["un", "offerta"], so that phrase lists match the bare word.
fn split_elision(word: &str) -> Option<Vec<String>> {
    const PREFIXES: &[(&str, &str)] = &[
        ("l", "le"),
        ("d", "de"),
        ("j", "je"),
        ("m", "me"),
        ("n", "ne"),
        ("s", "se"),
        ("t", "te"),
        ("c", "ce"),
        ("qu", "que"),
        ("lorsqu", "lorsque"),
        ("puisqu", "puisque"),
        ("jusqu", "jusque"),
        ("un", "un"),
        ("all", "alla"),
        ("dell", "della"),
        ("nell", "nella"),
        ("dall", "dalla"),
        ("sull", "sulla"),
        ("quell", "quella"),
    ];
    let (head, rest) = word.split_once('\'')?;
    let &(_, full) = PREFIXES.iter().find(|(p, _)| *p == head)?;
    (!rest.is_empty()).then(|| vec![full.to_string(), rest.to_string()])
}

/// The words and numbers of a token list, in order: the view phrase patterns walk.
pub(super) struct Words<'t> {
    pub tokens: &'t [Token<'t>],
    /// Token index of each word or number.
    pub at: Vec<usize>,
}

impl<'t> Words<'t> {
    pub fn new(tokens: &'t [Token<'t>]) -> Words<'t> {
        let at = tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind != Kind::Mark)
            .map(|(i, _)| i)
            .collect();
        Words { tokens, at }
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn token(&self, pos: usize) -> &'t Token<'t> {
        &self.tokens[self.at[pos]]
    }

    pub fn text(&self, pos: usize) -> &'t str {
        &self.token(pos).text
    }

    /// The word at `pos` when it lies in `clause`.
    fn in_clause(&self, pos: usize, clause: usize) -> Option<&'t str> {
        let i = *self.at.get(pos)?;
        let t = &self.tokens[i];
        (t.clause == clause).then_some(t.as_str())
    }

    /// Whether one of `ws` occurs among the `n` words before `pos`, within its clause.
    pub fn before_has(&self, pos: usize, n: usize, ws: &[&str]) -> bool {
        let clause = self.token(pos).clause;
        (1..=n)
            .map_while(|k| pos.checked_sub(k))
            .map_while(|p| self.in_clause(p, clause))
            .any(|w| ws.contains(&w))
    }

    /// Whether one of `ws` occurs within `n` words before `start` or after `end` (exclusive),
    /// in the same sentence: "no deal (yet)", "noch nicht unterschrieben".
    pub fn sentence_has_near(&self, start: usize, end: usize, n: usize, ws: &[&str]) -> bool {
        let Some(&first) = self.at.get(start) else {
            return false;
        };
        let sentence = self.tokens[first].sentence;
        let near = |p: usize| {
            let t = &self.tokens[self.at[p]];
            t.sentence == sentence && ws.contains(&t.as_str())
        };
        let before = (start.saturating_sub(n)..start).any(near);
        let after = (end..(end + n).min(self.len())).any(near);
        before || after
    }

    /// Whether one of `ws` occurs among the `n` words after `pos`, within its clause.
    pub fn after_has(&self, pos: usize, n: usize, ws: &[&str]) -> bool {
        let clause = self.token(pos).clause;
        (1..=n)
            .map_while(|k| self.in_clause(pos + k, clause))
            .any(|w| ws.contains(&w))
    }
}

/// One slot of a phrase pattern.
#[derive(Debug)]
enum Slot {
    /// One word out of these (`"sign*"` matches any word starting with "sign").
    One(Vec<&'static str>),
    /// One of these words, or nothing.
    Maybe(Vec<&'static str>),
    /// Up to this many arbitrary words.
    Gap(usize),
}

/// A phrase pattern, written as words separated by spaces: `a|b` is either word, `?a|b` is
/// optional, `~` skips up to three words, `word*` matches a prefix. A phrase never crosses a
/// clause boundary.
#[derive(Debug)]
struct Phrase {
    slots: Vec<Slot>,
}

impl Phrase {
    fn parse(pattern: &'static str) -> Phrase {
        let slots = pattern
            .split_whitespace()
            .map(|s| {
                if s == "~" {
                    Slot::Gap(3)
                } else if let Some(rest) = s.strip_prefix('?') {
                    Slot::Maybe(rest.split('|').collect())
                } else {
                    Slot::One(s.split('|').collect())
                }
            })
            .collect();
        Phrase { slots }
    }

    /// The literal first words, if the first slot is a plain `One` without prefixes.
    fn first_words(&self) -> Option<&[&'static str]> {
        match self.slots.first() {
            Some(Slot::One(alts)) if alts.iter().all(|a| !a.ends_with('*')) => Some(alts),
            _ => None,
        }
    }

    /// Where a match starting at `pos` ends (exclusive), preferring the longest.
    fn match_at(&self, words: &Words, pos: usize) -> Option<usize> {
        let clause = words.token(pos).clause;
        match_slots(words, pos, &self.slots, clause)
    }
}

fn alt_matches(alt: &str, word: &str) -> bool {
    match alt.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => alt == word,
    }
}

fn match_slots(words: &Words, pos: usize, slots: &[Slot], clause: usize) -> Option<usize> {
    let Some((first, rest)) = slots.split_first() else {
        return Some(pos);
    };
    let here = words.in_clause(pos, clause);
    let fits = |alts: &[&str]| here.is_some_and(|w| alts.iter().any(|a| alt_matches(a, w)));
    match first {
        Slot::One(alts) => {
            if fits(alts) {
                match_slots(words, pos + 1, rest, clause)
            } else {
                None
            }
        }
        Slot::Maybe(alts) => {
            let longer = if fits(alts) {
                match_slots(words, pos + 1, rest, clause)
            } else {
                None
            };
            longer.or_else(|| match_slots(words, pos, rest, clause))
        }
        Slot::Gap(n) => (0..=*n)
            .take_while(|&k| k == 0 || words.in_clause(pos + k - 1, clause).is_some())
            .filter_map(|k| match_slots(words, pos + k, rest, clause))
            .max(),
    }
}

/// A match of a phrase set: word positions `start..end` and the phrase's value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit<T> {
    pub start: usize,
    pub end: usize,
    pub value: T,
}

/// FNV-1a: the phrase index is looked up once per word, and its keys are short words.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A list of phrases with a value each, indexed by first word so that matching a long reply
/// stays linear.
pub(super) struct PhraseSet<T> {
    phrases: Vec<(Phrase, T)>,
    by_first: HashMap<&'static str, Vec<usize>, BuildHasherDefault<Fnv>>,
    anywhere: Vec<usize>,
}

impl<T: Copy> PhraseSet<T> {
    pub fn new(list: &[(&'static str, T)]) -> PhraseSet<T> {
        let mut set = PhraseSet {
            phrases: Vec::new(),
            by_first: HashMap::default(),
            anywhere: Vec::new(),
        };
        for &(pattern, value) in list {
            let phrase = Phrase::parse(pattern);
            let n = set.phrases.len();
            match phrase.first_words() {
                Some(firsts) => {
                    for w in firsts {
                        set.by_first.entry(w).or_default().push(n);
                    }
                }
                None => set.anywhere.push(n),
            }
            set.phrases.push((phrase, value));
        }
        set
    }

    /// The longest phrase matching at `pos`.
    pub fn longest_at(&self, words: &Words, pos: usize) -> Option<Hit<T>> {
        let word = words.text(pos);
        // No phrase word is longer than this; a long "word" need not be hashed.
        let indexed = (word.len() <= 40)
            .then(|| self.by_first.get(word))
            .flatten()
            .into_iter()
            .flatten();
        indexed
            .chain(&self.anywhere)
            .filter_map(|&n| {
                let (phrase, value) = &self.phrases[n];
                phrase.match_at(words, pos).map(|end| Hit {
                    start: pos,
                    end,
                    value: *value,
                })
            })
            .filter(|h| h.end > h.start)
            .max_by_key(|h| h.end)
    }

    /// All matches, left to right, longest first, never overlapping.
    pub fn find_all(&self, words: &Words) -> Vec<Hit<T>> {
        let mut hits = Vec::new();
        let mut pos = 0;
        while pos < words.len() {
            match self.longest_at(words, pos) {
                Some(hit) => {
                    pos = hit.end;
                    hits.push(hit);
                }
                None => pos += 1,
            }
        }
        hits
    }

    /// Whether any phrase matches anywhere.
    pub fn any_in(&self, words: &Words) -> bool {
        (0..words.len()).any(|pos| self.longest_at(words, pos).is_some())
    }
}

/// Words that negate what follows them (English, German, French, Spanish, Portuguese,
/// Italian, Dutch; French "ne" is left out: "pas"/"jamais" always come with it, and Italian
/// "ne" is a pronoun).
#[rustfmt::skip]
pub(super) const NEGATORS: &[&str] = &[
    "not", "no", "never", "nor", "hardly", "barely", "without", "nothing", "nicht", "kein",
    "keine", "keinen", "keinem", "keiner", "nie", "niemals", "wenig", "nichts", "pas", "jamais",
    "aucun", "aucune", "rien", "sans", "nunca", "ningún", "ninguna", "ninguno", "nada", "sin",
    "não", "nao", "nenhum", "nenhuma", "sem", "non", "nessun", "nessuna", "nessuno", "niente",
    "nulla", "senza", "niet", "nooit", "geen", "niets", "zonder",
];

/// Adverbs that stand between a negation and its verb without counting as one of the three
/// words it reaches over: "non ci siamo ancora incontrati", "pas encore rencontré". Italian
/// "mai" is here rather than a negator: it is also the German month ("im Mai getroffen").
#[rustfmt::skip]
const NEGATION_FILLERS: &[&str] = &[
    "yet", "still", "even", "noch", "nog", "encore", "ancora", "mai", "ainda", "todavía",
    "todavia", "aún", "aun", "già", "já",
];

/// Whether the words just before `pos` (up to three, not counting [`NEGATION_FILLERS`], same
/// clause) negate it.
pub(super) fn negated(words: &Words, pos: usize) -> bool {
    let Some(&at) = words.at.get(pos) else {
        return false;
    };
    let clause = words.tokens[at].clause;
    let mut counted = 0;
    for p in (0..pos).rev().take(6) {
        let Some(w) = words.in_clause(p, clause) else {
            return false;
        };
        if NEGATORS.contains(&w) {
            return true;
        }
        if !NEGATION_FILLERS.contains(&w) {
            counted += 1;
            if counted == 3 {
                return false;
            }
        }
    }
    false
}

/// For each sentence number, whether the sentence is a question.
pub(super) fn question_sentences(tokens: &[Token]) -> Vec<bool> {
    let count = tokens.last().map_or(0, |t| t.sentence + 1);
    let mut questions = vec![false; count];
    for t in tokens.iter().filter(|t| t.is_any_mark(&["?", "？"])) {
        questions[t.sentence] = true;
    }
    questions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s)
            .into_iter()
            .map(|t| t.text.into_owned())
            .collect()
    }

    #[test]
    fn contractions_expand_and_numbers_keep_their_separators() {
        assert_eq!(
            texts("We didn’t sign, they're 2.500€"),
            ["we", "did", "not", "sign", ",", "they", "are", "2.500", "€"]
        );
        assert_eq!(
            texts("Fred's e-mail 1,200.50."),
            ["fred", "e-mail", "1,200.50", "."]
        );
        assert_eq!(texts("cant"), ["can", "not"]);
    }

    #[test]
    fn clauses_lines_and_glue_are_tracked() {
        let t = tokenize("a b, c\n\nd 5pm");
        assert_eq!(t[0].clause, t[1].clause);
        assert_ne!(t[1].clause, t[3].clause);
        assert_ne!(
            t[3].clause, t[4].clause,
            "a paragraph break ends the clause"
        );
        assert_eq!(t[4].line, 2);
        assert!(t[4].line_start && !t[5].line_start);
        assert!(t[6].glued && !t[5].glued);
    }

    #[test]
    fn phrases_match_with_gaps_and_options() {
        let set = PhraseSet::new(&[("had ~ call|chat", 1), ("not ?a ?good fit", 2)]);
        let tokens = tokenize("we had a really quick call. Not a fit. had, call");
        let words = Words::new(&tokens);
        let hits: Vec<_> = set.find_all(&words).iter().map(|h| h.value).collect();
        assert_eq!(hits, [1, 2], "the gap never crosses the comma");
    }
}
