//! Forwarded introductions: the introducer sent the introduction, then forwarded it to the
//! tracking address. What matters is the original message's sender and recipients, found
//! either in an attached `message/rfc822` part (forward as attachment) or in the header block
//! mail clients quote above the forwarded text:
//!
//! ```text
//! ---------- Forwarded message ---------          Gmail (web, Android, iOS app)
//! From: Bob <bob@x>  Date: …  Subject: …  To: …  Cc: …
//! Begin forwarded message:                         Apple Mail (iOS quotes it with "> ")
//! -------- Forwarded Message --------              Thunderbird (Subject and Date first)
//! ________________________________                 Outlook ("Sent:", ';' between addresses,
//! From: Bob [mailto:bob@x]  Sent: …  To: …           often HTML only)
//! ```
//!
//! Labels are read in the languages clients localise them into (`Von:`/`An:`/`Betreff:`,
//! `De :`/`À :`/`Objet :`…). A quoted block counts only when the message presents itself as a
//! forward (a `Fwd:`/`FW:`/`WG:` subject or a "forwarded message" line), so the header
//! quoted in an ordinary reply is never taken for one.

use std::borrow::Cow;

use mail_parser::PartType;
use mail_parser::decoders::html::html_to_text;

use super::address::{address_list, decode_words};
use super::message::{Field, Mail};
use crate::model::Person;

/// At most this many lines of the body are searched for the forwarded header block.
const MAX_LINES: usize = 2000;
/// A label is at most this many bytes before its colon ("Pièces jointes" is the longest).
const MAX_LABEL: usize = 32;

/// The forwarded message, as far as the forward shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Original {
    /// Its sender, when the forward shows an address for them.
    pub(crate) from: Option<Person>,
    /// Its To and Cc recipients, in order.
    pub(crate) recipients: Vec<Person>,
    /// Its subject.
    pub(crate) subject: Option<String>,
    /// Its Message-ID (only an attached message carries it).
    pub(crate) message_id: Option<String>,
    /// Its References chain, oldest first (only an attached message carries it).
    pub(crate) references: Vec<String>,
}

/// The message this one forwards, if it is a forward.
pub(crate) fn original(mail: &Mail<'_>, subject: &str) -> Option<Original> {
    attached(mail).or_else(|| {
        let text = body_text(mail)?;
        let (block, marked) = header_block(&text)?;
        (marked || crate::subject::has_forward_prefix(subject)).then(|| block.into_original())
    })
}

/// A forward-as-attachment: the first attached message that has a sender and recipients.
fn attached(mail: &Mail<'_>) -> Option<Original> {
    mail.parts().iter().skip(1).find_map(|part| {
        let PartType::Message(inner) = &part.body else {
            return None;
        };
        let inner = Mail::new(inner);
        let from = inner.from()?;
        let mut recipients = inner.people(Field::To);
        recipients.extend(inner.people(Field::Cc));
        if recipients.is_empty() {
            return None;
        }
        let subject = inner.subject();
        Some(Original {
            from: Some(from),
            recipients,
            subject: (!subject.is_empty()).then_some(subject),
            message_id: inner.message_id().map(str::to_string),
            references: inner.references().into_iter().map(str::to_string).collect(),
        })
    })
}

/// The body as text: the text/plain part, else the HTML with its block structure kept.
fn body_text<'m>(mail: &Mail<'m>) -> Option<Cow<'m, str>> {
    match mail.plain_body() {
        Some(text) => Some(Cow::Borrowed(text)),
        None => mail.html_body().map(|html| Cow::Owned(html_lines(html))),
    }
}

/// HTML as text with a line break at every block element. mail-parser's converter breaks
/// lines only at a bare `<br>` and `</p>`, which would run Outlook's `<div>`-built header
/// block and the text after it together into one line.
pub(crate) fn html_lines(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "br",
        "div",
        "p",
        "hr",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "center",
    ];
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(rest.get(..at).unwrap_or(""));
        let tag = rest.get(at + 1..).unwrap_or("");
        let name_len = tag
            .trim_start_matches('/')
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tag.len());
        let name = tag.trim_start_matches('/').get(..name_len).unwrap_or("");
        if BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(name)) {
            out.push_str("<br>");
            if name.eq_ignore_ascii_case("br") {
                // `<br clear="all">` is a line break mail-parser does not see: replace it.
                rest = tag.split_once('>').map_or("", |(_, after)| after);
                continue;
            }
        }
        out.push('<');
        rest = tag;
    }
    out.push_str(rest);
    html_to_text(&out)
}

/// The fields of a quoted header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    From,
    To,
    Cc,
    Subject,
    Date,
    /// Reply-To, Importance, Attachments…: part of the block, not needed.
    Other,
}

/// A quoted header block, its values as written.
#[derive(Debug, Default)]
struct Block {
    from: Option<String>,
    to: String,
    subject: Option<String>,
    dated: bool,
}

impl Block {
    /// Adds a field's value, or with `continued` a wrapped line of it.
    fn append(&mut self, field: Label, value: &str, continued: bool) {
        let target = match field {
            Label::From => self.from.get_or_insert_with(String::new),
            Label::To | Label::Cc => &mut self.to,
            Label::Subject => self.subject.get_or_insert_with(String::new),
            Label::Date => {
                self.dated = true;
                return;
            }
            Label::Other => return,
        };
        if !target.is_empty() {
            // To and Cc are one list; a wrapped line continues the value.
            target.push(if continued || field == Label::Subject {
                ' '
            } else {
                ','
            });
        }
        target.push_str(value);
    }

    fn is_header(&self) -> bool {
        self.from.is_some() && (!self.to.is_empty() || self.subject.is_some() || self.dated)
    }

    fn into_original(self) -> Original {
        let from = self
            .from
            .as_deref()
            .and_then(|f| address_list(f).into_iter().next());
        let subject = self
            .subject
            .map(|s| decode_words(s.trim()).into_owned())
            .filter(|s| !s.is_empty());
        Original {
            from,
            recipients: address_list(&self.to),
            subject,
            message_id: None,
            references: Vec::new(),
        }
    }
}

/// The first quoted header block in the text, and whether a "forwarded message" line came
/// before it.
fn header_block(text: &str) -> Option<(Block, bool)> {
    let lines: Vec<&str> = text.lines().take(MAX_LINES).collect();
    let mut marked = false;
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        let line = unquote(line);
        if is_forward_marker(line) {
            marked = true;
        } else if label(line).is_some() {
            let (block, next) = read_block(&lines, i);
            if block.is_header() {
                return Some((block, marked));
            }
            i = next.max(i + 1);
            continue;
        }
        i += 1;
    }
    None
}

/// Reads the block starting at line `start`; returns it and the line after it.
fn read_block(lines: &[&str], start: usize) -> (Block, usize) {
    let mut block = Block::default();
    let mut last: Option<Label> = None;
    let mut previous_soft_break = false;
    let mut j = start;
    while let Some(raw) = lines.get(j) {
        let line = unquote(raw);
        if line.is_empty() {
            // Converted HTML may put blank lines between the fields: the block goes on if
            // another field follows closely.
            let next = (j + 1..lines.len().min(j + 4))
                .find(|&k| lines.get(k).is_some_and(|l| !unquote(l).is_empty()));
            match next {
                Some(k)
                    if lines
                        .get(k)
                        .and_then(|l| label(unquote(l)))
                        .is_some_and(|(f, _)| f != Label::From) =>
                {
                    j = k;
                    last = None;
                    continue;
                }
                _ => break,
            }
        }
        if let Some((field, value)) = label(line) {
            if field == Label::From && block.from.is_some() {
                break;
            }
            block.append(field, value, false);
            last = Some(field);
        } else {
            // A wrapped value: an address list goes on while it names addresses, a subject
            // only after a format=flowed soft break.
            match last {
                Some(f @ (Label::To | Label::Cc | Label::From)) if line.contains('@') => {
                    block.append(f, line, true)
                }
                Some(Label::Subject) if previous_soft_break => {
                    block.append(Label::Subject, line, true)
                }
                _ => break,
            }
        }
        previous_soft_break = raw.ends_with(' ');
        j += 1;
    }
    (block, j)
}

/// A line without the `> ` quoting of iOS and plain-text forwards, and without bold `*`.
fn unquote(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .trim_end()
}

fn is_forward_marker(line: &str) -> bool {
    const MARKERS: &[&str] = &[
        "forwarded message",
        "begin forwarded message",
        "weitergeleitete nachricht",
        "ursprüngliche nachricht",
        "message transféré",
        "message transfere",
        "mensaje reenviado",
        "messaggio inoltrato",
        "doorgestuurd bericht",
        "mensagem encaminhada",
        "videresendt",
        "vidarebefordrat",
        "转发的邮件",
        "轉寄的郵件",
        "転送されたメッセージ",
    ];
    if line.len() > 120 {
        return false;
    }
    let lower = line.to_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

/// A `Label: value` line of a quoted header block.
fn label(line: &str) -> Option<(Label, &str)> {
    let (at, colon_len) = match (line.find(':'), line.find('：')) {
        (Some(a), Some(b)) if b < a => (b, '：'.len_utf8()),
        (Some(a), _) => (a, 1),
        (None, Some(b)) => (b, '：'.len_utf8()),
        (None, None) => return None,
    };
    if at > MAX_LABEL {
        return None;
    }
    let name = line
        .get(..at)?
        .trim()
        .trim_matches('*')
        .trim()
        .to_lowercase();
    let value = line.get(at + colon_len..)?.trim_start_matches('*').trim();
    let field = match name.as_str() {
        "from" | "von" | "de" | "da" | "van" | "fra" | "från" | "od" | "от" | "发件人"
        | "寄件者" | "差出人" => Label::From,
        "to" | "an" | "à" | "a" | "para" | "aan" | "til" | "till" | "do" | "кому" | "收件人"
        | "宛先" => Label::To,
        "cc" | "kopie" | "copie" | "cópia" | "kopia" | "копия" | "抄送" | "副本" => {
            Label::Cc
        }
        "subject" | "betreff" | "objet" | "asunto" | "oggetto" | "onderwerp" | "assunto"
        | "emne" | "ämne" | "temat" | "тема" | "主题" | "主旨" | "件名" => {
            Label::Subject
        }
        "date"
        | "sent"
        | "datum"
        | "gesendet"
        | "envoyé"
        | "envoye"
        | "fecha"
        | "enviado"
        | "data"
        | "inviato"
        | "verzonden"
        | "sendt"
        | "skickat"
        | "wysłano"
        | "дата"
        | "отправлено"
        | "日期"
        | "发送时间"
        | "送信日時"
        | "日時" => Label::Date,
        "reply-to" | "antwort an" | "répondre à" | "bcc" | "importance" | "priority"
        | "attachments" | "anlagen" | "pièces jointes" => Label::Other,
        _ => return None,
    };
    Some((field, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<(Original, bool)> {
        header_block(text).map(|(b, marked)| (b.into_original(), marked))
    }

    fn emails(o: &Original) -> Vec<&str> {
        o.recipients.iter().map(|p| p.email.as_str()).collect()
    }

    #[test]
    fn gmail_block() {
        let text = "FYI\n\n---------- Forwarded message ---------\nFrom: Bob Smith <bob@networkers.example>\nDate: Tue, Mar 5, 2024 at 10:12 AM\nSubject: Intro: Fred <> Sally\nTo: Fred Jones <fred@bookkeepers.example>\nCc: Sally Lee <sally@sallys-bakery.example>\n\n\nHi Fred, meet Sally.\n";
        let (o, marked) = parse(text).unwrap();
        assert!(marked);
        assert_eq!(o.from.as_ref().unwrap().email, "bob@networkers.example");
        assert_eq!(o.subject.as_deref(), Some("Intro: Fred <> Sally"));
        assert_eq!(
            emails(&o),
            ["fred@bookkeepers.example", "sally@sallys-bakery.example"]
        );
    }

    #[test]
    fn thunderbird_block_starts_with_subject() {
        let text = "-------- Forwarded Message --------\nSubject: \tIntro\nDate: \tTue, 5 Mar 2024 10:12:00 +0100\nFrom: \tBob Smith <bob@networkers.example>\nTo: \tFred Jones <fred@x.example>, Sally Lee\n <sally@y.example>\nCC: \tCarol <carol@z.example>\n\nHi all\n";
        let (o, _) = parse(text).unwrap();
        assert_eq!(o.from.as_ref().unwrap().name, "Bob Smith");
        assert_eq!(
            emails(&o),
            ["fred@x.example", "sally@y.example", "carol@z.example"]
        );
        assert_eq!(o.recipients[1].name, "Sally Lee");
    }

    #[test]
    fn outlook_block_with_mailto_and_semicolons() {
        let text = "________________________________\nFrom: Smith, Bob [mailto:bob@networkers.example]\nSent: Tuesday, March 5, 2024 10:12 AM\nTo: Jones, Fred <fred@x.example>; 'Sally Lee' <sally@y.example>\nSubject: Intro\n\nFred, Sally, meet.\n";
        let (o, marked) = parse(text).unwrap();
        assert!(
            !marked,
            "an underline alone is how Outlook quotes replies too"
        );
        let from = o.from.unwrap();
        assert_eq!(
            (from.email.as_str(), from.name.as_str()),
            ("bob@networkers.example", "Smith, Bob")
        );
        assert_eq!(o.recipients[0].name, "Jones, Fred");
        assert_eq!(o.recipients[1].name, "Sally Lee");
    }

    #[test]
    fn apple_block_quoted_by_ios() {
        let text = "Sent from my iPhone\n\nBegin forwarded message:\n\n> From: Bob Smith <bob@networkers.example>\n> Date: 5 March 2024 at 10:12:00 GMT\n> To: Fred Jones <fred@x.example>, Sally Lee <sally@y.example>\n> Subject: Intro\n>\n> Hi both\n";
        let (o, marked) = parse(text).unwrap();
        assert!(marked);
        assert_eq!(emails(&o), ["fred@x.example", "sally@y.example"]);
    }

    #[test]
    fn german_and_french_labels() {
        let de = "---------- Weitergeleitete Nachricht ---------\nVon: Bob <bob@x.example>\nDatum: Di., 5. März 2024 um 10:12 Uhr\nBetreff: Vorstellung\nAn: Fred <fred@y.example>\nCc: Sally <sally@z.example>\n\nHallo";
        let (o, marked) = parse(de).unwrap();
        assert!(marked);
        assert_eq!(o.subject.as_deref(), Some("Vorstellung"));
        assert_eq!(emails(&o), ["fred@y.example", "sally@z.example"]);
        let fr = "De : Bob <bob@x.example>\nEnvoyé : mardi 5 mars 2024 10:12\nÀ : Fred <fred@y.example>; Sally <sally@z.example>\nObjet : Présentation\n\nBonjour";
        let (o, _) = parse(fr).unwrap();
        assert_eq!(o.subject.as_deref(), Some("Présentation"));
        assert_eq!(emails(&o).len(), 2);
    }

    #[test]
    fn html_blocks_keep_their_lines() {
        let html = "<div id=\"divRplyFwdMsg\"><font><b>From:</b> Bob Smith &lt;bob@networkers.example&gt;<br><b>Sent:</b> Tuesday<br><b>To:</b> Fred &lt;fred@x.example&gt;; Sally &lt;sally@y.example&gt;<br clear=\"all\"><b>Subject:</b> Intro: Fred &amp; Sally</font><div>&nbsp;</div></div><div>Hi Fred, meet Sally.</div>";
        let text = html_lines(html);
        let (o, _) = parse(&text).unwrap();
        assert_eq!(o.subject.as_deref(), Some("Intro: Fred & Sally"));
        assert_eq!(emails(&o), ["fred@x.example", "sally@y.example"]);
    }

    #[test]
    fn no_block_in_ordinary_text() {
        assert!(parse("Hi Fred,\n\nmeet Sally: she bakes.\nTo: be continued\n").is_none());
        assert!(parse("").is_none());
        assert!(parse("From: nobody\n\nbody").is_none());
    }
}
