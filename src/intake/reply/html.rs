//! HTML to plain text, the way mail clients do it: block elements end lines, entities are
//! decoded, scripts and styles vanish, and quoted parts—`<blockquote>`, Gmail's attribution
//! (`gmail_attr`), Yahoo's and Proton's quote containers, Thunderbird's `moz-cite-prefix`—come
//! out as `> ` lines, so the plain-text rules of [`super::own_words`] drop them. Where Outlook
//! starts the original (`appendonsend`, `divRplyFwdMsg`, a `border-top` separator, `<hr>`) a
//! line of underscores is written, as Outlook does in its own plain text; where a signature
//! container starts (`gmail_signature`, `moz-signature`, `Signature`), a `-- ` line.
//!
//! One pass, no backtracking: unterminated tags, comments and scripts swallow the rest of the
//! input, as browsers do.

/// Outlook's separator line, written where the original starts.
const SEPARATOR: &str = "________________________________";

/// HTML to readable plain text.
pub(super) fn html_to_text(html: &str) -> String {
    let mut parser = Parser {
        src: html,
        out: Sink::default(),
        open: Vec::new(),
        open_counts: [0; BLOCKS.len()],
    };
    parser.run();
    parser.out.text
}

/// Elements that end a line and that we track while open.
#[rustfmt::skip]
const BLOCKS: &[&str] = &[
    "div", "p", "blockquote", "pre", "ul", "ol", "li", "table", "tr", "h1", "h2", "h3", "h4", "h5",
    "h6", "section", "article", "header", "footer", "address", "center", "dl", "dt", "dd", "form",
    "nav", "main", "aside", "figure", "figcaption", "fieldset", "body", "html", "span", "font",
    "td", "th", "tbody", "thead",
];
/// Of [`BLOCKS`], those that are inline: tracked (a signature may be a `<span>`) but no line.
const INLINE: &[&str] = &["span", "font", "td", "th", "tbody", "thead", "html", "body"];
/// Elements whose content is never text.
const RAW: &[&str] = &["script", "style", "title", "template", "xml", "noscript"];

/// What an open element did when it opened, to undo when it closes.
#[derive(Debug, Clone, Copy)]
struct Open {
    block: usize,
    quote: bool,
    pre: bool,
    /// A `<p>` that ends with an empty line (Outlook's `MsoNormal` paragraphs are lines).
    paragraph: bool,
}

struct Parser<'a> {
    src: &'a str,
    out: Sink,
    open: Vec<Open>,
    /// How many of each of [`BLOCKS`] are open, so an end tag with no open element is O(1).
    open_counts: [usize; BLOCKS.len()],
}

/// The attributes we look at.
#[derive(Debug, Default)]
struct Attrs {
    class: String,
    id: String,
    style: String,
    alt: Option<String>,
    smartmail: String,
    name: String,
}

impl Parser<'_> {
    fn run(&mut self) {
        let src = self.src;
        let mut pos = 0;
        while pos < src.len() {
            let rest = &src[pos..];
            if rest.starts_with('<') {
                match self.tag(pos) {
                    Some(next) => pos = next,
                    None => {
                        self.out.text("<", self.pre());
                        pos += 1;
                    }
                }
            } else {
                let end = rest.find('<').map_or(src.len(), |k| pos + k);
                let text = decode_entities(&src[pos..end]);
                self.out.text(&text, self.pre());
                pos = end;
            }
        }
    }

    fn pre(&self) -> bool {
        self.open.iter().rev().take(64).any(|o| o.pre)
    }

    /// Handles the tag at `pos` (a `<`); returns where parsing continues, or `None` when the
    /// `<` starts no tag and is text.
    fn tag(&mut self, pos: usize) -> Option<usize> {
        let src = self.src;
        let bytes = src.as_bytes();
        let end_of = |from: usize, pat: &str| {
            src[from..]
                .find(pat)
                .map_or(src.len(), |k| from + k + pat.len())
        };
        match *bytes.get(pos + 1)? {
            b'!' if src[pos..].starts_with("<!--") => Some(end_of(pos + 4, "-->")),
            b'!' | b'?' => Some(end_of(pos, ">")),
            b'/' => {
                let (name, after) = read_name(src, pos + 2);
                self.end_tag(&name);
                Some(end_of(after, ">"))
            }
            c if c.is_ascii_alphabetic() => {
                let (name, after_name) = read_name(src, pos + 1);
                let (attrs, after, self_closing) = read_attrs(src, after_name);
                Some(self.start_tag(&name, &attrs, after, self_closing))
            }
            _ => None,
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &Attrs, after: usize, self_closing: bool) -> usize {
        if RAW.contains(&name) || name == "head" {
            let close = format!("</{name}");
            return match find_ignore_case(self.src, after, &close) {
                Some(at) => self.src[at..]
                    .find('>')
                    .map_or(self.src.len(), |k| at + k + 1),
                // A `<head>` without its end holds the body too; scripts swallow the rest.
                None if name == "head" => after,
                None => self.src.len(),
            };
        }
        match name {
            "br" => self.out.line_break(),
            "hr" => self.out.line(SEPARATOR),
            "img" => {
                // Gmail sends emoji as images with the emoji as alt text: "⭐".
                if let Some(alt) = attrs.alt.as_deref().filter(|a| is_symbols(a)) {
                    self.out.text(alt, false);
                }
            }
            _ => {}
        }
        let Some(block) = BLOCKS.iter().position(|b| *b == name) else {
            return after;
        };
        let inline = INLINE.contains(&name);
        if starts_original(name, attrs) {
            self.out.line(SEPARATOR);
        }
        if is_signature(attrs) {
            self.out.line("-- ");
        }
        let quote = name == "blockquote" || is_quote_container(attrs);
        let paragraph = name == "p" && !attrs.class.to_ascii_lowercase().contains("msonormal");
        if paragraph {
            self.out.blank_line();
        } else if !inline {
            self.out.newline();
        }
        if name == "li" {
            self.out.text("- ", true);
        } else if matches!(name, "td" | "th") {
            self.out.space();
        }
        if self_closing {
            return after;
        }
        if quote {
            self.out.depth += 1;
        }
        self.open.push(Open {
            block,
            quote,
            pre: name == "pre",
            paragraph,
        });
        self.open_counts[block] += 1;
        after
    }

    fn end_tag(&mut self, name: &str) {
        let Some(block) = BLOCKS.iter().position(|b| *b == name) else {
            return;
        };
        if self.open_counts[block] == 0 {
            if !INLINE.contains(&name) {
                self.out.newline();
            }
            return;
        }
        // Close everything opened inside it too (mail HTML is rarely well nested).
        while let Some(open) = self.open.pop() {
            self.open_counts[open.block] -= 1;
            if open.quote {
                self.out.newline();
                self.out.depth = self.out.depth.saturating_sub(1);
            }
            if !INLINE.contains(&BLOCKS[open.block]) {
                self.out.newline();
            }
            if open.paragraph {
                self.out.blank_line();
            }
            if open.block == block {
                break;
            }
        }
    }
}

/// The element's classes, lower-cased, without the `x_` Outlook puts before the classes and
/// ids of HTML it quotes again.
fn classes(attrs: &Attrs) -> Vec<String> {
    attrs
        .class
        .split_whitespace()
        .map(|c| c.to_ascii_lowercase().trim_start_matches("x_").to_string())
        .collect()
}

/// The element's id, lower-cased, without Outlook's `x_`.
fn id(attrs: &Attrs) -> String {
    attrs
        .id
        .to_ascii_lowercase()
        .trim_start_matches("x_")
        .to_string()
}

/// The element's style, lower-cased, without spaces: `border-top:1ptsolid`.
fn style(attrs: &Attrs) -> String {
    attrs.style.to_ascii_lowercase().replace(' ', "")
}

/// Whether the element holds a quoted message (its attribution included).
fn is_quote_container(attrs: &Attrs) -> bool {
    let style = style(attrs);
    // Not Gmail's `gmail_quote` div: inline answers are typed inside it, between its
    // blockquotes. Its attribution (`gmail_attr`) is quoted.
    let quote_class = classes(attrs).iter().any(|c| {
        matches!(
            c.as_str(),
            "gmail_attr" | "yahoo_quoted" | "protonmail_quote" | "moz-cite-prefix" | "zmail_extra"
        )
    });
    quote_class
        || attrs.name.eq_ignore_ascii_case("quote")
        || (style.contains("border-left") && style.contains("solid") && style.contains("padding"))
}

/// Whether the original message starts at this element (Outlook).
fn starts_original(name: &str, attrs: &Attrs) -> bool {
    let style = style(attrs);
    matches!(
        id(attrs).as_str(),
        "appendonsend" | "divrplyfwdmsg" | "mail-editor-reference-message-container"
    ) || classes(attrs).iter().any(|c| c == "outlookmessageheader")
        || (name == "div" && style.contains("border-top") && style.contains("solid"))
}

/// Whether the element is a signature container.
fn is_signature(attrs: &Attrs) -> bool {
    classes(attrs).iter().any(|c| {
        matches!(
            c.as_str(),
            "gmail_signature" | "moz-signature" | "signature"
        )
    }) || attrs.smartmail.eq_ignore_ascii_case("gmail_signature")
        || matches!(
            id(attrs).as_str(),
            "signature" | "applemailsignature" | "ms-outlook-mobile-signature"
        )
}

/// Alt text made of symbols only (emoji), not words.
fn is_symbols(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.chars().count() <= 8 && !s.chars().any(char::is_alphanumeric)
}

/// A tag or attribute name at `from`, lower-cased, and where it ends.
fn read_name(src: &str, from: usize) -> (String, usize) {
    let bytes = src.as_bytes();
    let mut end = from;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b':' | b'-' | b'_'))
    {
        end += 1;
    }
    (src[from..end].to_ascii_lowercase(), end)
}

/// The attributes from `from` to the end of the tag; where the tag ends; whether it was
/// self-closing (`/>`).
fn read_attrs(src: &str, from: usize) -> (Attrs, usize, bool) {
    let bytes = src.as_bytes();
    let mut attrs = Attrs::default();
    let mut i = from;
    let mut self_closing = false;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            return (attrs, src.len(), false);
        };
        match b {
            b'>' => return (attrs, i + 1, self_closing),
            b'/' => {
                self_closing = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        self_closing = false;
        let start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        if i == start {
            i += 1; // a stray '=': skip it
            continue;
        }
        let name = src[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let close = src[i + 1..].find(char::from(q)).map(|k| i + 1 + k);
                let Some(close) = close else {
                    return (attrs, src.len(), false);
                };
                let v = &src[i + 1..close];
                i = close + 1;
                v
            }
            _ => {
                let s = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                &src[s..i]
            }
        };
        match name.as_str() {
            "class" => attrs.class = value.to_string(),
            "id" => attrs.id = value.to_string(),
            "style" => attrs.style = value.to_string(),
            "alt" => attrs.alt = Some(decode_entities(value)),
            "data-smartmail" => attrs.smartmail = value.to_string(),
            "name" => attrs.name = value.to_string(),
            _ => {}
        }
    }
}

/// The first `needle` (ASCII, lower-case) at or after `from`, ignoring ASCII case.
fn find_ignore_case(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    (from..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Text as it reads: whitespace collapsed, lines ended where blocks end, quoted lines marked.
#[derive(Debug, Default)]
struct Sink {
    text: String,
    /// Inside how many quote containers we are.
    depth: usize,
    /// Something was written on the current line.
    line_open: bool,
    /// A space is due before the next character.
    space_due: bool,
    /// Line ends at the end of `text` (0, 1 or 2).
    trailing_newlines: usize,
}

impl Sink {
    fn push(&mut self, c: char) {
        if !self.line_open {
            if self.depth > 0 {
                self.text.push_str("> ");
            }
            self.line_open = true;
        } else if self.space_due {
            self.text.push(' ');
        }
        self.space_due = false;
        self.text.push(c);
        self.trailing_newlines = 0;
    }

    fn text(&mut self, s: &str, pre: bool) {
        for c in s.chars() {
            if pre && c == '\n' {
                self.line_break();
            } else if pre && c.is_whitespace() {
                self.push(' ');
            } else if c.is_whitespace() {
                self.space();
            } else {
                self.push(c);
            }
        }
    }

    fn space(&mut self) {
        self.space_due = self.line_open;
    }

    /// Ends the current line, if anything is on it.
    fn newline(&mut self) {
        if self.line_open {
            self.text.push('\n');
            self.line_open = false;
            self.space_due = false;
            self.trailing_newlines = 1;
        }
    }

    /// `<br>`: ends the line, or adds an empty one.
    fn line_break(&mut self) {
        if self.line_open {
            self.newline();
        } else if self.trailing_newlines < 2 && !self.text.is_empty() {
            self.text.push('\n');
            self.trailing_newlines += 1;
        }
    }

    /// Ends the paragraph: one empty line after it.
    fn blank_line(&mut self) {
        self.newline();
        if self.trailing_newlines == 1 {
            self.text.push('\n');
            self.trailing_newlines = 2;
        }
    }

    /// A line of its own.
    fn line(&mut self, s: &str) {
        self.newline();
        self.text(s, true);
        self.newline();
    }
}

/// Decodes `&amp;`, `&#8364;`, `&#x20AC;` and the named entities mail uses; anything else is
/// kept as written.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let body_len = rest[1..]
            .bytes()
            .take(32)
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'#')
            .count();
        let decoded = (rest.as_bytes().get(1 + body_len) == Some(&b';'))
            .then(|| entity(&rest[1..1 + body_len]))
            .flatten();
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[body_len + 2..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name (`amp`, `#8364`, `#x20AC`) stands for.
fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return Some(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "zwnj" | "zwj" | "shy" => '\u{200B}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "dollar" => '$',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "plusmn" => '±',
        "sect" => '§',
        "para" => '¶',
        "frac12" => '½',
        "starf" | "bigstar" => '★',
        "star" => '☆',
        "hearts" => '♥',
        "check" => '✓',
        "rarr" => '→',
        "larr" => '←',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "euml" => 'ë',
        "Eacute" => 'É',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "Agrave" => 'À',
        "ccedil" => 'ç',
        "Ccedil" => 'Ç',
        "iacute" => 'í',
        "icirc" => 'î',
        "iuml" => 'ï',
        "ntilde" => 'ñ',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "oslash" => 'ø',
        "uacute" => 'ú',
        "ugrave" => 'ù',
        "ucirc" => 'û',
        "aring" => 'å',
        "aelig" => 'æ',
        "iexcl" => '¡',
        "iquest" => '¿',
        "num" => '#',
        "commat" => '@',
        "colon" => ':',
        "comma" => ',',
        "period" => '.',
        "excl" => '!',
        "quest" => '?',
        "lpar" => '(',
        "rpar" => ')',
        "sol" => '/',
        "percnt" => '%',
        "plus" => '+',
        "equals" => '=',
        "lowbar" => '_',
        "minus" => '−',
        _ => return None,
    };
    Some(c)
}
