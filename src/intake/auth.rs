//! The authenticity check of SPEC §3 (`require-authentication`): believe only what our own
//! receiving server wrote.
//!
//! `Authentication-Results` (RFC 8601) is read with a real tokenizer: quoted strings with
//! escaped characters, nested comments, and a `;` inside either never ends a result, so a
//! value the sender chose (`smtp.helo=x;dmarc=pass`, `smtp.mailfrom="x;dmarc=pass"@…`) stays
//! a value.
//!
//! Which fields count: our server adds its fields on top of the message, so only the
//! contiguous block of fields at the top whose authserv-id is trusted is read — every field
//! above the first one from anyone else. A field claiming a trusted authserv-id below a
//! foreign one was there before the message reached us, possibly written by the sender. The
//! fields of the block are read together (OpenDKIM, OpenDMARC and an SPF checker each write
//! their own), but each method is taken from the topmost field of the block that reports it:
//! a field the sender planted with our authserv-id, right below ours, cannot add a `dmarc`
//! or `dkim` result to the ones our server wrote.
//! The caller passes only the fields above the `Received` line our server added
//! ([`Mail::receiving_authentication_results`](super::message::Mail)): one planted under it
//! is never read at all.
//!
//! What passes: `dmarc=pass` for exactly the From domain, or `dkim=pass` for a signing domain
//! aligned with it, unless our server says DMARC failed for the From domain. Results about
//! any other domain never count, and SPF never suffices on its own.
//!
//! Microsoft 365 (Exchange Online) writes its field without an authserv-id: it starts with
//! `spf=…`. The special entry [`NO_AUTHSERV_ID`] trusts exactly that shape, and only in the
//! top block: no field that names an authserv-id can match it.

use std::borrow::Cow;

/// The `trusted-authserv-ids` entry that trusts a field without an authserv-id, the shape
/// Microsoft 365 and Exchange write (`Authentication-Results: spf=pass (sender IP is …) …`).
pub(crate) const NO_AUTHSERV_ID: &str = "no-authserv-id";

/// Whether the message passes: `Ok`, or why not in a few words.
///
/// `results` are the message's `Authentication-Results` field bodies, topmost first;
/// `from_domain` is the domain of its From address; `trusted` the configured
/// `trusted-authserv-ids`.
pub(crate) fn check<'a>(
    results: impl IntoIterator<Item = &'a str>,
    from_domain: &str,
    trusted: &[String],
) -> Result<(), String> {
    let mut block = Vec::new();
    for text in results {
        let field = parse(text);
        if !is_trusted(field.authserv_id.as_deref(), trusted) {
            if block.is_empty() {
                return Err(format!(
                    "no Authentication-Results from a trusted server on top (the topmost {})",
                    match &field.authserv_id {
                        Some(id) => format!("is from {id:?}"),
                        None => "names no authserv-id".to_string(),
                    }
                ));
            }
            break;
        }
        block.push(field);
    }
    if block.is_empty() {
        return Err("no Authentication-Results from a trusted server".into());
    }
    judge(&block, from_domain)
}

/// The verdict of the trusted top block on the From domain.
fn judge(block: &[Field], from_domain: &str) -> Result<(), String> {
    let from = bare_domain(from_domain);
    if from.is_empty() {
        // Nothing can be about no domain (an empty `header.from=` included).
        return Err("the From address has no domain".into());
    }
    let mut seen = Vec::new();
    let (mut dmarc_pass, mut dmarc_fail, mut dkim_pass) = (false, false, false);
    let mut owners: Vec<Keyword> = Vec::new();
    for field in block {
        let mut reported: Vec<Keyword> = Vec::new();
        for result in &field.results {
            let method = result.method;
            // The topmost field reporting a method owns it; lower ones may be planted.
            if owners.contains(&method) {
                continue;
            }
            if !reported.contains(&method) {
                reported.push(method);
            }
            let verdict = result.result;
            if method.is("dmarc") {
                // About the From domain only when every header.from it names is that.
                let other = result
                    .properties
                    .iter()
                    .filter(|p| p.is("header", "from"))
                    .map(|p| bare_domain(&p.value))
                    .find(|d| !d.eq_ignore_ascii_case(from));
                match other {
                    Some(d) => seen.push(format!(
                        "dmarc={verdict} for {}, not {}",
                        d.to_ascii_lowercase(),
                        from.to_ascii_lowercase()
                    )),
                    None if result.property("header", "from").is_none() => {
                        seen.push(format!("dmarc={verdict} without header.from"));
                    }
                    None if verdict.is("pass") => dmarc_pass = true,
                    None => {
                        dmarc_fail |= verdict.is("fail");
                        seen.push(format!("dmarc={verdict}"));
                    }
                }
            } else if method.is("dkim") {
                if !verdict.is("pass") {
                    seen.push(format!("dkim={verdict}"));
                    continue;
                }
                match result.signing_domain() {
                    Some(d) if aligned(d, from) => dkim_pass = true,
                    Some(d) => seen.push(format!(
                        "dkim=pass for {}, not aligned with {}",
                        d.to_ascii_lowercase(),
                        from.to_ascii_lowercase()
                    )),
                    None => seen.push("dkim=pass without a signing domain".into()),
                }
            }
        }
        owners.extend(reported);
    }
    if dmarc_fail {
        // The From domain's own policy failed; a DKIM pass it does not accept changes nothing.
        return Err(seen.join(", "));
    }
    if dmarc_pass || dkim_pass {
        return Ok(());
    }
    if seen.is_empty() {
        Err(format!(
            "no DMARC or DKIM pass for {}",
            from.to_ascii_lowercase()
        ))
    } else {
        Err(seen.join(", "))
    }
}

/// Whether a field with this authserv-id (`None`: the field names none) is one of ours.
/// Entries match case-insensitively; `*.example.net` matches any name under example.net
/// (Fastmail's MX hosts are `mx1.messagingengine.com`, `phl-mx-07.messagingengine.com`…).
fn is_trusted(authserv_id: Option<&str>, trusted: &[String]) -> bool {
    match authserv_id {
        None => trusted
            .iter()
            .any(|t| t.eq_ignore_ascii_case(NO_AUTHSERV_ID)),
        Some(id) => {
            let id = id.trim_end_matches('.');
            trusted.iter().any(|t| {
                if t.eq_ignore_ascii_case(NO_AUTHSERV_ID) {
                    return false;
                }
                match t.strip_prefix("*.") {
                    Some(parent) => {
                        id.len() > parent.len() + 1 && {
                            let (head, tail) = id.split_at(id.len() - parent.len());
                            tail.eq_ignore_ascii_case(parent) && head.ends_with('.')
                        }
                    }
                    None => t.trim_end_matches('.').eq_ignore_ascii_case(id),
                }
            })
        }
    }
}

/// A domain as compared (case aside): without surrounding space or a trailing dot.
fn bare_domain(domain: &str) -> &str {
    domain.trim().trim_end_matches('.')
}

/// Relaxed alignment (RFC 7489 §3.1): the two domains share an organisational domain.
/// Domains compare without regard to ASCII case.
pub(crate) fn aligned(signer: &str, from_domain: &str) -> bool {
    let signer = signer.trim_end_matches('.');
    let from = from_domain.trim_end_matches('.');
    !signer.is_empty()
        && (signer.eq_ignore_ascii_case(from)
            || organisational_domain(signer).eq_ignore_ascii_case(organisational_domain(from)))
}

/// The registrable domain, approximated without the Public Suffix List: the last two labels,
/// or three under a country's second-level domain (`example.co.uk`, `example.com.au`). Good
/// enough for alignment, where a wrong guess at worst treats two subdomains of one
/// registry-level name as aligned.
fn organisational_domain(domain: &str) -> &str {
    let labels: Vec<&str> = domain.rsplitn(4, '.').collect();
    let keep = match labels.as_slice() {
        [tld, sld, _, ..] if tld.len() == 2 && is_second_level(&sld.to_ascii_lowercase()) => 3,
        _ => 2,
    };
    let mut cut = domain.len();
    for _ in 0..keep {
        match domain.get(..cut).and_then(|d| d.rfind('.')) {
            Some(dot) => cut = dot,
            None => return domain,
        }
    }
    domain.get(cut + 1..).unwrap_or(domain)
}

fn is_second_level(label: &str) -> bool {
    matches!(
        label,
        "co" | "com" | "net" | "org" | "ac" | "gov" | "edu" | "ne" | "or" | "gv" | "ltd" | "plc"
    )
}

/// One `Authentication-Results` field, read (RFC 8601 §2.2). It borrows from the field's
/// text: reading a field allocates only its lists (and a value that had quotes to remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// Who wrote it, as written; `None` when the field starts with its first result, as
    /// Microsoft's do.
    pub(crate) authserv_id: Option<Cow<'a, str>>,
    /// Its results in order; a result that cannot be read is left out, `none` gives none.
    pub(crate) results: Vec<MethodResult<'a>>,
}

/// A method, result, ptype or property name as written (ASCII letters, digits, `-`, `_`).
/// RFC 8601 keywords are case-insensitive, and so are comparisons of this type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyword<'a>(&'a str);

impl Keyword<'_> {
    /// Whether it is this keyword, case aside.
    pub(crate) fn is(self, word: &str) -> bool {
        self.0.eq_ignore_ascii_case(word)
    }
}

impl PartialEq for Keyword<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.is(other.0)
    }
}

impl Eq for Keyword<'_> {}

impl std::fmt::Display for Keyword<'_> {
    /// Lower-cased, as keywords are written in our messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0
            .chars()
            .try_for_each(|c| std::fmt::Write::write_char(f, c.to_ascii_lowercase()))
    }
}

/// One `method=result` of a field, with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MethodResult<'a> {
    /// `dkim`, `dmarc`, `spf`…, without a method version.
    pub(crate) method: Keyword<'a>,
    /// `pass`, `fail`, `none`…
    pub(crate) result: Keyword<'a>,
    /// Its properties in order.
    pub(crate) properties: Vec<Property<'a>>,
}

/// One property of a result: `ptype.property=value` (`header.from=…`, `smtp.mailfrom=…`) or a
/// bare `name=value` (`reason`, Microsoft's `action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property<'a> {
    /// The ptype, or the bare name.
    pub(crate) ptype: Keyword<'a>,
    /// The property after the `.`; `None` for a bare name.
    pub(crate) property: Option<Keyword<'a>>,
    /// The value, unquoted and unescaped.
    pub(crate) value: Cow<'a, str>,
}

impl Property<'_> {
    /// Whether this is `ptype.property`, case aside.
    fn is(&self, ptype: &str, property: &str) -> bool {
        self.ptype.is(ptype) && self.property.is_some_and(|p| p.is(property))
    }
}

impl<'a> MethodResult<'a> {
    /// The value of the first `ptype.property`.
    fn property(&self, ptype: &str, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.is(ptype, property))
            .map(|p| p.value.as_ref())
    }

    /// The DKIM signing domain: `header.d`, else the domain of `header.i`.
    fn signing_domain(&self) -> Option<&str> {
        let d = self.property("header", "d").or_else(|| {
            self.property("header", "i")
                .map(|i| i.rsplit_once('@').map_or(i, |(_, d)| d))
        })?;
        Some(bare_domain(d)).filter(|d| !d.is_empty())
    }
}

/// Reads one field body. Never fails: what cannot be read is left out.
pub(crate) fn parse(text: &str) -> Field<'_> {
    let mut c = Cursor::new(text);
    c.skip_cfws();
    let start = c.i;
    // An authserv-id cannot be followed by `=` or `/`: a field that starts `spf=pass …`
    // (Microsoft) names none and starts with its first result.
    let starts_with_result = c.keyword().is_some() && {
        c.skip_cfws();
        matches!(c.peek(), Some(b'=' | b'/'))
    };
    c.i = start;
    let mut results = Vec::new();
    let authserv_id = if starts_with_result {
        results.extend(resinfo(&mut c));
        None
    } else {
        // An authserv-id version (`mx.example.org 1;`) or anything else before the first
        // `;` carries no result.
        Some(c.value().unwrap_or_default())
    };
    c.skip_to_semicolon();
    while c.eat(b';') {
        results.extend(resinfo(&mut c));
        c.skip_to_semicolon();
    }
    Field {
        authserv_id,
        results,
    }
}

/// One `resinfo` from the cursor up to the next `;` (not consumed), or `None` when it is
/// not one (`none`, a stray word, a property without a value).
fn resinfo<'a>(c: &mut Cursor<'a>) -> Option<MethodResult<'a>> {
    c.skip_cfws();
    let method = c.keyword()?;
    c.skip_cfws();
    if c.eat(b'/') {
        c.skip_cfws();
        c.keyword()?;
        c.skip_cfws();
    }
    if !c.eat(b'=') {
        return None;
    }
    c.skip_cfws();
    let result = c.keyword()?;
    let mut properties = Vec::new();
    loop {
        c.skip_cfws();
        match c.peek() {
            None | Some(b';') => break,
            _ => {}
        }
        let ptype = c.keyword()?;
        c.skip_cfws();
        let mut property = None;
        if c.eat(b'.') {
            c.skip_cfws();
            property = Some(c.keyword()?);
            c.skip_cfws();
        }
        if !c.eat(b'=') {
            return None;
        }
        c.skip_cfws();
        properties.push(Property {
            ptype,
            property,
            value: c.value()?,
        });
    }
    Some(MethodResult {
        method,
        result,
        properties,
    })
}

/// A position in a field body. Every step moves forward or stops, so reading is linear in
/// the field's length whatever it holds.
struct Cursor<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            s: text.as_bytes(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.i += 1;
        }
        found
    }

    /// Skips white space (folding included) and comments, which nest and may hold
    /// quoted pairs (`\)`); an unclosed comment runs to the end.
    fn skip_cfws(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b'\\' if depth > 0 => self.i += 1,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if depth > 0 => {}
                _ => return,
            }
            self.i += 1;
        }
    }

    /// A method, result, ptype or property name: letters, digits, `-` and `_`.
    fn keyword(&mut self) -> Option<Keyword<'a>> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.i += 1;
        }
        // Only ASCII bytes were taken, so the slice is on character boundaries.
        let word = self.text.get(start..self.i)?;
        (!word.is_empty()).then_some(Keyword(word))
    }

    /// A value: a token, a quoted string, or both run together (`"a;b"@example.org`), up to
    /// white space, a comment or a `;` outside quotes. Quotes are removed and escapes
    /// resolved. An unclosed quote runs to the end and makes the value `None`: it is not
    /// one. A value without quotes is borrowed as it stands.
    fn value(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'(' | b';' => break,
                b'"' => return self.quoted_value(start),
                _ => self.i += 1,
            }
        }
        Some(match self.text.get(start..self.i) {
            Some(token) => Cow::Borrowed(token),
            None => String::from_utf8_lossy(self.s.get(start..self.i).unwrap_or_default()),
        })
    }

    /// The rest of a value from `start`, which holds a quoted string: unquoted into a copy.
    fn quoted_value(&mut self, start: usize) -> Option<Cow<'a, str>> {
        let mut out = self.s.get(start..self.i).unwrap_or_default().to_vec();
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'(' | b';' => break,
                b'"' => {
                    self.i += 1;
                    let mut closed = false;
                    while let Some(q) = self.peek() {
                        self.i += 1;
                        match q {
                            b'"' => {
                                closed = true;
                                break;
                            }
                            b'\\' => {
                                if let Some(escaped) = self.peek() {
                                    out.push(escaped);
                                    self.i += 1;
                                }
                            }
                            // Folding inside a quoted string is not part of its value.
                            b'\r' | b'\n' => {}
                            _ => out.push(q),
                        }
                    }
                    if !closed {
                        return None;
                    }
                }
                _ => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        Some(Cow::Owned(String::from_utf8(out).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        })))
    }

    /// Moves to the next `;` that is outside quoted strings and comments, or to the end.
    fn skip_to_semicolon(&mut self) {
        loop {
            self.skip_cfws();
            match self.peek() {
                None | Some(b';') => return,
                Some(b'"') => {
                    let _ = self.value();
                }
                Some(_) => self.i += 1,
            }
        }
    }
}

/// Who a message's topmost `Authentication-Results` field says wrote it: what `doctor`
/// reports for each of the newest messages in the mailbox.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Stamp {
    /// The field names this authserv-id (lower-cased).
    Named(String),
    /// The field starts with its first result (Microsoft 365, Exchange).
    Unnamed,
}

/// The mail providers whose `Authentication-Results` `doctor` recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// `mx.google.com`, for Gmail and Google Workspace.
    Gmail,
    /// `mxN.messagingengine.com`, a different host from message to message.
    Fastmail,
    /// No authserv-id at all.
    Microsoft365,
    /// Any other name: the user's own server (Postfix with OpenDKIM/OpenDMARC, rspamd…),
    /// which writes its host name unless configured otherwise.
    Other,
}

impl Provider {
    /// How `doctor` names the provider.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Provider::Gmail => "Gmail",
            Provider::Fastmail => "Fastmail",
            Provider::Microsoft365 => "Microsoft 365",
            Provider::Other => "your own server, it seems",
        }
    }
}

impl Stamp {
    /// The provider this stamp looks like.
    pub(crate) fn provider(&self) -> Provider {
        match self {
            Stamp::Unnamed => Provider::Microsoft365,
            Stamp::Named(id) if id == "mx.google.com" => Provider::Gmail,
            Stamp::Named(id) if id.ends_with(".messagingengine.com") => Provider::Fastmail,
            Stamp::Named(_) => Provider::Other,
        }
    }

    /// The `trusted-authserv-ids` entry that trusts mail stamped like this.
    pub(crate) fn entry(&self) -> String {
        match (self, self.provider()) {
            (Stamp::Unnamed, _) => NO_AUTHSERV_ID.to_string(),
            (_, Provider::Fastmail) => "*.messagingengine.com".to_string(),
            (Stamp::Named(id), _) => id.clone(),
        }
    }

    /// Whether `trusted-authserv-ids` already trusts mail stamped like this.
    pub(crate) fn is_trusted(&self, trusted: &[String]) -> bool {
        match self {
            Stamp::Named(id) => is_trusted(Some(id), trusted),
            Stamp::Unnamed => is_trusted(None, trusted),
        }
    }
}

/// The stamp of the topmost `Authentication-Results` field in a message's header (raw
/// bytes, as `BODY.PEEK[HEADER]` returns them); `None` when it has none.
pub(crate) fn topmost_stamp(header: &[u8]) -> Option<Stamp> {
    let message = mail_parser::MessageParser::default().parse_headers(header)?;
    let root = message.parts.first()?;
    let text = root
        .headers
        .iter()
        .find_map(|h| match (&h.name, &h.value) {
            (mail_parser::HeaderName::AuthenticationResults, mail_parser::HeaderValue::Text(t)) => {
                Some(t.as_ref())
            }
            (mail_parser::HeaderName::AuthenticationResults, _) => Some(""),
            _ => None,
        })?;
    match parse(text).authserv_id {
        Some(id) => {
            let id = id.trim_end_matches('.').to_ascii_lowercase();
            // An empty field names nobody to trust.
            (!id.is_empty()).then_some(Stamp::Named(id))
        }
        None => Some(Stamp::Unnamed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "networkers.example";

    fn trusted() -> Vec<String> {
        vec!["mx.tracker.example.org".to_string()]
    }

    fn passes(fields: &[&str], trusted: &[String]) -> Result<(), String> {
        check(fields.iter().copied(), FROM, trusted)
    }

    #[test]
    fn alignment_is_relaxed() {
        assert!(aligned("brightside.example", "brightside.example"));
        assert!(aligned("mail.brightside.example", "brightside.example"));
        assert!(aligned("Brightside.Example", "eu.brightside.example"));
        assert!(!aligned("sendgrid.net", "brightside.example"));
        assert!(!aligned("evilbrightside.example", "brightside.example"));
        assert!(aligned("mail.shop.co.uk", "shop.co.uk"));
        assert!(!aligned("other.co.uk", "shop.co.uk"));
        assert!(!aligned("", "shop.co.uk"));
    }

    #[test]
    fn the_tokenizer_reads_quotes_escapes_comments_and_versions() {
        let field = parse(
            "mx.tracker.example.org 1 (v=2; really);\r\n\tdkim/1 = pass (2048-bit (nested; key)) header.b=\"ab\\\"c;d\" header.d=Networkers.Example;\r\n spf=pass smtp.mailfrom=\"bob \\\\ x\"@networkers.example reason=\"ok (fine)\"",
        );
        assert_eq!(field.authserv_id.as_deref(), Some("mx.tracker.example.org"));
        // Each result written back as `method=result name=[value]…`.
        let read: Vec<String> = field
            .results
            .iter()
            .map(|r| {
                let mut line = format!("{}={}", r.method, r.result);
                for p in &r.properties {
                    match p.property {
                        Some(property) => line += &format!(" {}.{property}", p.ptype),
                        None => line += &format!(" {}", p.ptype),
                    }
                    line += &format!("=[{}]", p.value);
                }
                line
            })
            .collect();
        assert_eq!(
            read,
            [
                "dkim=pass header.b=[ab\"c;d] header.d=[Networkers.Example]",
                "spf=pass smtp.mailfrom=[bob \\ x@networkers.example] reason=[ok (fine)]",
            ]
        );
        // Keywords compare without regard to case; plain values are borrowed, not copied.
        assert!(
            parse("x; DKIM=Pass header.d=a.example").results[0]
                .method
                .is("dkim")
        );
        assert!(matches!(
            field.results[0].properties[1].value,
            Cow::Borrowed("Networkers.Example")
        ));
        let none = parse("mx.tracker.example.org; none");
        assert!(none.results.is_empty());
        let quoted_id = parse("\"mx.tracker.example.org\"; dmarc=pass header.from=x.example");
        assert_eq!(
            quoted_id.authserv_id.as_deref(),
            Some("mx.tracker.example.org")
        );
        assert_eq!(quoted_id.results.len(), 1);
    }

    #[test]
    fn unreadable_input_never_panics_and_never_passes() {
        for text in [
            "",
            ";",
            "(",
            "\"",
            "\\",
            "=",
            "mx.tracker.example.org; dmarc=",
            "mx.tracker.example.org; dmarc=pass header.from=",
            "mx.tracker.example.org; dmarc=pass header.from=\"networkers.example",
            "mx.tracker.example.org; (dmarc=pass header.from=networkers.example",
            "mx.tracker.example.org; dmarc=pass header=networkers.example.",
            "mx.tracker.example.org; dmarc=pass header.=networkers.example",
            "mx.tracker.example.org; dmarc pass header.from=networkers.example",
            "mx.tracker.example.org; =pass header.from=networkers.example",
            "\u{0}\u{7f}é; dmarc=pass \\",
        ] {
            assert!(passes(&[text], &trusted()).is_err(), "{text:?}");
        }
    }

    /// Harm: a HELO name the attacker chose, copied unquoted by the receiving server, adds a
    /// `dmarc=pass` of its own; it names no From domain, so it cannot pass.
    #[test]
    fn a_helo_name_carrying_dmarc_pass_never_passes() {
        for field in [
            "mx.tracker.example.org; spf=none smtp.helo=x;dmarc=pass",
            "mx.tracker.example.org; spf=none smtp.helo=\"x;dmarc=pass header.from=networkers.example\"",
            "mx.tracker.example.org; spf=none (helo=x;dmarc=pass header.from=networkers.example) smtp.helo=x",
            "mx.tracker.example.org; spf=none smtp.helo=\"x\\\";dmarc=pass header.from=networkers.example\"",
        ] {
            let err = passes(&[field], &trusted()).unwrap_err();
            assert!(!err.is_empty(), "{field}");
        }
    }

    /// Harm: an envelope sender `"x;dmarc=pass header.from=…"@attacker` quoted in the field
    /// read as a result of its own.
    #[test]
    fn a_quoted_mail_from_carrying_dmarc_pass_never_passes() {
        let field = "mx.tracker.example.org; spf=pass smtp.mailfrom=\"x;dmarc=pass header.from=networkers.example \"@attacker.example; dkim=none";
        assert_eq!(passes(&[field], &trusted()), Err("dkim=none".to_string()));
        let parsed = parse(field);
        assert_eq!(
            parsed.results[0].property("smtp", "mailfrom"),
            Some("x;dmarc=pass header.from=networkers.example @attacker.example")
        );
    }

    /// Harm: a genuine message rejected because its server writes each method in its own
    /// field (Postfix with policyd-spf, OpenDKIM and OpenDMARC).
    #[test]
    fn spf_in_one_field_and_dkim_dmarc_in_another_pass_together() {
        let spf = "mx.tracker.example.org; spf=pass (sender SPF authorized) smtp.mailfrom=networkers.example";
        let dkim_dmarc = "mx.tracker.example.org; dkim=pass header.d=networkers.example; dmarc=pass header.from=networkers.example";
        assert_eq!(passes(&[spf, dkim_dmarc], &trusted()), Ok(()));
        assert_eq!(passes(&[dkim_dmarc, spf], &trusted()), Ok(()));
    }

    /// Harm: a field the sender wrote with our authserv-id, below someone else's, believed.
    #[test]
    fn a_trusted_field_below_a_foreign_one_does_not_count() {
        let foreign = "relay.elsewhere.example; spf=pass smtp.mailfrom=networkers.example";
        let ours = "mx.tracker.example.org; dmarc=pass header.from=networkers.example";
        let err = passes(&[foreign, ours], &trusted()).unwrap_err();
        assert!(err.contains("relay.elsewhere.example"), "{err}");
        // Nor below a field without authserv-id, unless that shape is trusted.
        let microsoft = "spf=fail smtp.mailfrom=networkers.example";
        assert!(passes(&[microsoft, ours], &trusted()).is_err());
        // A trusted block is cut at the first foreign field: what lies below never counts.
        let fail = "mx.tracker.example.org; dkim=none; spf=fail smtp.mailfrom=networkers.example";
        assert!(passes(&[fail, foreign, ours], &trusted()).is_err());
    }

    /// Harm: a sender plants a field with our authserv-id right under ours, adding a pass
    /// for a method our server already judged.
    #[test]
    fn a_planted_field_adds_nothing_to_a_method_our_server_reported() {
        let ours = "mx.tracker.example.org; dkim=none; spf=softfail smtp.mailfrom=networkers.example; dmarc=none header.from=networkers.example";
        let planted = "mx.tracker.example.org; dkim=pass header.d=networkers.example; dmarc=pass header.from=networkers.example";
        assert_eq!(
            passes(&[ours, planted], &trusted()),
            Err("dkim=none, dmarc=none".into())
        );
    }

    /// Harm: a pass for a domain the attacker owns taken for the From domain's.
    #[test]
    fn results_for_another_domain_never_count() {
        let dmarc = "mx.tracker.example.org; dmarc=pass header.from=attacker.example";
        assert_eq!(
            passes(&[dmarc], &trusted()),
            Err("dmarc=pass for attacker.example, not networkers.example".into())
        );
        let dkim = "mx.tracker.example.org; dkim=pass header.d=attacker.example; spf=pass smtp.mailfrom=networkers.example";
        let err = passes(&[dkim], &trusted()).unwrap_err();
        assert!(err.contains("not aligned"), "{err}");
        // A result naming the From domain and another one is not about the From domain.
        let both = "mx.tracker.example.org; dmarc=pass header.from=networkers.example header.from=attacker.example";
        assert!(passes(&[both], &trusted()).is_err());
        // A look-alike that merely ends with the From domain.
        let suffix = "mx.tracker.example.org; dmarc=pass header.from=evilnetworkers.example";
        assert!(passes(&[suffix], &trusted()).is_err());
        // DMARC speaks about exactly the From domain: a parent domain is another domain.
        assert!(
            check(
                ["mx.tracker.example.org; dmarc=pass header.from=networkers.example"],
                "mail.networkers.example",
                &trusted()
            )
            .is_err()
        );
    }

    /// Keywords and domains are case-insensitive (RFC 8601 §2.2, RFC 1035): a server that
    /// writes them in capitals is read the same, and our reasons stay lower case.
    #[test]
    fn case_never_matters() {
        let upper = "MX.Tracker.Example.Org; DKIM=Pass header.D=Mail.Networkers.Example; DMARC=PASS Header.From=NETWORKERS.example.";
        assert_eq!(passes(&[upper], &trusted()), Ok(()));
        let other = "mx.tracker.example.org; DMARC=Pass header.from=Attacker.Example";
        assert_eq!(
            passes(&[other], &trusted()),
            Err("dmarc=pass for attacker.example, not networkers.example".into())
        );
        let failed = "mx.tracker.example.org; DKIM=Pass header.d=networkers.example; DMARC=FAIL header.from=networkers.example";
        assert_eq!(passes(&[failed], &trusted()), Err("dmarc=fail".into()));
    }

    #[test]
    fn spf_alone_never_passes() {
        let spf = "mx.tracker.example.org; spf=pass smtp.mailfrom=bob@networkers.example";
        assert_eq!(
            passes(&[spf], &trusted()),
            Err("no DMARC or DKIM pass for networkers.example".into())
        );
    }

    #[test]
    fn a_dmarc_fail_for_the_from_domain_outweighs_a_dkim_pass() {
        let field = "mx.tracker.example.org; dkim=pass header.d=mail.networkers.example; dmarc=fail (p=reject adkim=s) header.from=networkers.example";
        assert_eq!(passes(&[field], &trusted()), Err("dmarc=fail".into()));
    }

    #[test]
    fn dkim_passes_with_a_signing_domain_aligned_with_from() {
        let d = "mx.tracker.example.org; dkim=pass header.d=mail.networkers.example; dmarc=none header.from=networkers.example";
        assert_eq!(passes(&[d], &trusted()), Ok(()));
        let i = "mx.tracker.example.org 1;\r\n dkim=pass header.i=@networkers.example header.s=s1";
        assert_eq!(passes(&[i], &trusted()), Ok(()));
        let neither = "mx.tracker.example.org; dkim=pass header.s=s1";
        assert_eq!(
            passes(&[neither], &trusted()),
            Err("dkim=pass without a signing domain".into())
        );
    }

    #[test]
    fn without_a_trusted_field_nothing_passes() {
        assert_eq!(
            passes(&[], &trusted()),
            Err("no Authentication-Results from a trusted server".into())
        );
        let forged = "evil.example; dmarc=pass header.from=networkers.example";
        let err = passes(&[forged], &trusted()).unwrap_err();
        assert!(err.contains("\"evil.example\""), "{err}");
        assert!(passes(&["mx.tracker.example.org; none"], &trusted()).is_err());
        let empty = "mx.tracker.example.org; dmarc=pass header.from=";
        assert!(check([empty], "", &trusted()).is_err());
    }

    #[test]
    fn trusted_entries_match_exactly_by_wildcard_or_by_shape() {
        let fastmail = vec!["*.messagingengine.com".to_string()];
        assert!(is_trusted(Some("mx4.messagingengine.com"), &fastmail));
        assert!(is_trusted(Some("PHL-MX-07.MessagingEngine.com"), &fastmail));
        assert!(!is_trusted(Some("messagingengine.com"), &fastmail));
        assert!(!is_trusted(Some("mx4.evilmessagingengine.com"), &fastmail));
        assert!(!is_trusted(
            Some("mx4.messagingengine.com.evil.example"),
            &fastmail
        ));
        assert!(!is_trusted(None, &fastmail));
        assert!(is_trusted(Some("MX.Tracker.Example.Org."), &trusted()));
        assert!(!is_trusted(Some("tracker.example.org"), &trusted()));
        let microsoft = vec![NO_AUTHSERV_ID.to_string()];
        assert!(is_trusted(None, &microsoft));
        // The special entry is no authserv-id: a field naming it is not trusted by it.
        assert!(!is_trusted(Some(NO_AUTHSERV_ID), &microsoft));
    }

    // Real shapes, written after what each provider stamps on incoming mail.

    #[test]
    fn gmail() {
        let gmail = vec!["mx.google.com".to_string()];
        let field = "mx.google.com;\r\n       dkim=pass header.i=@networkers.example header.s=20230601 header.b=Xy1+Ab/c;\r\n       spf=pass (google.com: domain of bob@networkers.example designates 209.85.220.41 as permitted sender) smtp.mailfrom=bob@networkers.example;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=networkers.example";
        assert_eq!(passes(&[field], &gmail), Ok(()));
        let spoofed = "mx.google.com;\r\n       spf=fail (google.com: domain of bob@networkers.example does not designate 203.0.113.9 as permitted sender) smtp.mailfrom=bob@networkers.example;\r\n       dmarc=fail (p=REJECT sp=REJECT dis=REJECT) header.from=networkers.example";
        assert_eq!(passes(&[spoofed], &gmail), Err("dmarc=fail".into()));
        let arc_below = "i=1; mx.google.com; dmarc=pass header.from=networkers.example";
        assert!(passes(&[spoofed, arc_below], &gmail).is_err());
    }

    #[test]
    fn fastmail() {
        let fastmail = vec!["*.messagingengine.com".to_string()];
        let field = "mx4.messagingengine.com;\r\n    dkim=pass (2048-bit rsa key sha256) header.d=networkers.example\r\n      header.i=@networkers.example header.b=QWe3rTy5 header.a=rsa-sha256\r\n      header.s=fm1 x-bits=2048;\r\n    dmarc=pass policy.published-domain-policy=none\r\n      policy.published-subdomain-policy=none\r\n      policy.applied-disposition=none policy.evaluated-disposition=none\r\n      (p=none,sp=none,d=none,d.eval=none) policy.policy-from=p\r\n      header.from=networkers.example;\r\n    iprev=pass smtp.remote-ip=198.51.100.5 (mail.networkers.example);\r\n    spf=pass smtp.mailfrom=bob@networkers.example\r\n      smtp.helo=mail.networkers.example;\r\n    x-aligned-from=pass (Address match);\r\n    x-me-sender=none;\r\n    x-ptr=pass smtp.helo=mail.networkers.example\r\n      policy.ptr=mail.networkers.example;\r\n    x-return-mx=pass header.domain=networkers.example policy.is_org=yes\r\n      (MX Records found: mx1.networkers.example);\r\n    x-tls=pass smtp.version=TLSv1.3 smtp.cipher=TLS_AES_256_GCM_SHA384\r\n      smtp.bits=256/256";
        assert_eq!(passes(&[field], &fastmail), Ok(()));
        let other = "mx4.messagingengine.com; x-csa=none; x-me-sender=none; x-ptr=pass smtp.helo=mail.networkers.example policy.ptr=mail.networkers.example";
        assert_eq!(passes(&[other, field], &fastmail), Ok(()));
    }

    #[test]
    fn microsoft_365() {
        let microsoft = vec![NO_AUTHSERV_ID.to_string()];
        let field = "spf=pass (sender IP is 198.51.100.5)\r\n smtp.mailfrom=networkers.example; dkim=pass (signature was verified)\r\n header.d=networkers.example;dmarc=pass action=none\r\n header.from=networkers.example;compauth=pass reason=100";
        let parsed = parse(field);
        assert_eq!(parsed.authserv_id, None);
        assert_eq!(
            parsed
                .results
                .iter()
                .map(|r| r.method.to_string())
                .collect::<Vec<_>>(),
            ["spf", "dkim", "dmarc", "compauth"]
        );
        assert_eq!(passes(&[field], &microsoft), Ok(()));
        // DKIM by the tenant's onmicrosoft.com domain, DMARC passing through SPF.
        let tenant = "spf=pass (sender IP is 198.51.100.5) smtp.mailfrom=networkers.example; dkim=pass (signature was verified) header.d=networkers.onmicrosoft.com;dmarc=pass action=none header.from=networkers.example;compauth=pass reason=100";
        assert_eq!(passes(&[tenant], &microsoft), Ok(()));
        // No DMARC record: Microsoft's "best guess" is no pass.
        let guess = "spf=pass (sender IP is 203.0.113.9) smtp.mailfrom=networkers.example; dkim=none (message not signed) header.d=none;dmarc=bestguesspass action=none header.from=networkers.example;compauth=pass reason=109";
        assert_eq!(
            passes(&[guess], &microsoft),
            Err("dkim=none, dmarc=bestguesspass".into())
        );
        // Older Exchange Online fields with stray words between the results.
        let older = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=networkers.example; hotmail.com; dkim=pass (signature was verified) header.d=networkers.example;hotmail.com; dmarc=pass action=none header.from=networkers.example;";
        assert_eq!(passes(&[older], &microsoft), Ok(()));
        // A field that names an authserv-id never matches the special entry.
        let named = "no-authserv-id; dmarc=pass header.from=networkers.example";
        assert!(passes(&[named], &microsoft).is_err());
        // Microsoft's field on top; a field without authserv-id lower down is not read.
        let spoofed = "spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=networkers.example; dkim=none (message not signed) header.d=none;dmarc=fail action=quarantine header.from=networkers.example;compauth=fail reason=000";
        let planted = "spf=pass smtp.mailfrom=networkers.example; dmarc=pass action=none header.from=networkers.example";
        assert!(passes(&[spoofed, planted], &microsoft).is_err());
    }

    #[test]
    fn postfix_with_opendkim_and_opendmarc() {
        let own = vec!["mail.tracker.example.org".to_string()];
        // Each milter inserts its own field at the top: OpenDMARC's last, so topmost.
        let dmarc =
            "mail.tracker.example.org; dmarc=pass (p=none dis=none) header.from=networkers.example";
        let dkim = "mail.tracker.example.org;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=networkers.example header.i=@networkers.example header.a=rsa-sha256 header.s=default header.b=Qm3xA1bC;\r\n\tdkim-atps=neutral";
        let spf = "mail.tracker.example.org; spf=pass (sender SPF authorized) smtp.mailfrom=networkers.example (client-ip=198.51.100.5; helo=mail.networkers.example; envelope-from=bob@networkers.example; receiver=<UNKNOWN>)";
        assert_eq!(passes(&[dmarc, dkim, spf], &own), Ok(()));
        // A forgery: SPF fails, nothing is signed, DMARC fails.
        let failed = "mail.tracker.example.org; dmarc=fail (p=reject dis=reject) header.from=networkers.example";
        let spf_fail = "mail.tracker.example.org; spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=networkers.example";
        assert_eq!(passes(&[failed, spf_fail], &own), Err("dmarc=fail".into()));
    }

    #[test]
    fn rspamd() {
        let own = vec!["mail.tracker.example.org".to_string()];
        let field = "mail.tracker.example.org;\r\n\tdkim=pass header.d=networkers.example header.s=dkim header.b=\"a1B2/c3+\";\r\n\tdmarc=pass (policy=none) header.from=networkers.example;\r\n\tspf=pass (mail.tracker.example.org: domain of \"bob@networkers.example\" designates 198.51.100.5 as permitted sender) smtp.mailfrom=bob@networkers.example";
        assert_eq!(passes(&[field], &own), Ok(()));
        let reject = "mail.tracker.example.org;\r\n\tdkim=none;\r\n\tdmarc=fail reason=\"No valid SPF, No valid DKIM\" header.from=networkers.example (policy=reject);\r\n\tspf=fail (mail.tracker.example.org: domain of bob@networkers.example does not designate 203.0.113.9 as permitted sender) smtp.mailfrom=bob@networkers.example";
        assert_eq!(passes(&[reject], &own), Err("dkim=none, dmarc=fail".into()));
    }

    #[test]
    fn doctor_reads_the_topmost_stamp_and_the_provider() {
        let header = |fields: &str| {
            format!(
                "Return-Path: <bob@networkers.example>\r\nDelivered-To: intros@tracker.example.org\r\n{fields}From: Bob <bob@networkers.example>\r\nSubject: hi\r\n\r\n"
            )
        };
        let stamp = |fields: &str| topmost_stamp(header(fields).as_bytes());
        assert_eq!(stamp(""), None);
        let gmail = stamp(
            "Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@networkers.example;\r\nAuthentication-Results: evil.example; dmarc=pass\r\n",
        )
        .unwrap();
        assert_eq!(gmail, Stamp::Named("mx.google.com".into()));
        assert_eq!(gmail.provider(), Provider::Gmail);
        assert_eq!(gmail.entry(), "mx.google.com");
        let fastmail =
            stamp("Authentication-Results: MX4.MessagingEngine.com; x-me-sender=none\r\n").unwrap();
        assert_eq!(fastmail.provider(), Provider::Fastmail);
        assert_eq!(fastmail.entry(), "*.messagingengine.com");
        assert!(fastmail.is_trusted(&["*.messagingengine.com".into()]));
        let microsoft = stamp(
            "Authentication-Results: spf=pass (sender IP is 198.51.100.5)\r\n smtp.mailfrom=networkers.example; dmarc=pass action=none header.from=networkers.example\r\n",
        )
        .unwrap();
        assert_eq!(microsoft, Stamp::Unnamed);
        assert_eq!(microsoft.provider(), Provider::Microsoft365);
        assert_eq!(microsoft.entry(), NO_AUTHSERV_ID);
        assert!(microsoft.is_trusted(&[NO_AUTHSERV_ID.into()]));
        let own = stamp(
            "Received: from mail.networkers.example\r\nAuthentication-Results: mail.tracker.example.org 1; spf=pass smtp.mailfrom=networkers.example\r\n",
        )
        .unwrap();
        assert_eq!(own.provider(), Provider::Other);
        assert_eq!(own.entry(), "mail.tracker.example.org");
        assert!(!own.is_trusted(&trusted()));
        assert_eq!(stamp("Authentication-Results:\r\n"), None);
        // Bytes that are no header at all.
        assert_eq!(topmost_stamp(b"\x00\xff\r\n\r\n"), None);
        assert_eq!(topmost_stamp(b""), None);
    }
}
