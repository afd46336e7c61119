//! Composer: turns a due outbound message into an email, from one template per message kind.
//!
//! Templates are plain-text minijinja files, one per [`OutboundKind`], built into the binary
//! and overridable from `templates.dir` (see `templates/README.md` for the file format and
//! every variable). All of them are compiled, checked for variables their kind does not have,
//! and rendered against sample drafts when the [`Composer`] is built, so a bad template stops
//! the daemon at startup instead of putting a blank into someone's inbox.

mod notices;
mod samples;
mod templates;
mod vars;
mod words;

use std::collections::BTreeMap;
use std::time::SystemTime;

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use minijinja::{Environment, Value};

use crate::config::Config;
use crate::model::{Answer, OutboundKind, Person, ReferralId, clean_name, is_message_id};
pub use notices::{NOTICE_COMMAND_REPLY, NOTICE_DIGEST, NOTICE_HELD_REPORT, Notice, notice_kind};
use templates::{Part, Source};

/// The footer's last sentence, the same under every message whoever the owner is: intake
/// recognises our mail quoted back to us by it.
pub(crate) const FOOTER_STOP: &str = "Reply STOP and you won't get any more of these notes.";

/// Everything a template may say about one outbound message.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Which message of the plan this is.
    pub kind: OutboundKind,
    /// Our Message-ID for it, without angle brackets; fixed when it was first scheduled.
    pub message_id: String,
    /// The recipient.
    pub to: Person,
    /// The referral it is about.
    pub referral: ReferralSummary,
    /// What the parties said so far, latest per person (for `outcome_report`).
    pub feedback: Vec<Answer<Person>>,
}

/// The referral as templates and threading headers see it.
#[derive(Debug, Clone)]
pub struct ReferralSummary {
    /// Row id, shown nowhere in mail but useful in logs.
    pub id: ReferralId,
    /// The introduction's subject (without `Fwd:` for forwarded introductions).
    pub subject: String,
    /// The Message-ID our mail threads under (without brackets).
    pub thread_root: String,
    /// The introduction's References chain, oldest first, ending with `thread_root`.
    pub references: Vec<String>,
    /// When the introduction was written: its Date, no later than it reached the mailbox
    /// (for referrals recorded before referrald kept that, when it was recorded).
    pub introduced_at: DateTime<Utc>,
    /// Who made the introduction.
    pub introducer: Person,
    /// The people introduced, in the order they were addressed.
    pub parties: Vec<Person>,
    /// The parties who wrote back (on the thread or to us), with when they first did.
    pub heard: Vec<(Person, DateTime<Utc>)>,
}

/// A rendered message before it becomes an email: what the recipient will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body, ending with the opt-out footer.
    pub body: String,
}

/// At most this many Message-IDs in `References:`. Long chains are trimmed as RFC 5322 §3.6.4
/// suggests clients do: the first (the thread's root) and the most recent ones are kept.
const MAX_REFERENCES: usize = 10;

/// The longest subject we write, in characters. lettre folds a header only between words, so
/// an intro subject that is one 10,000-character word would otherwise make one line of it.
const MAX_SUBJECT_CHARS: usize = 200;

/// The longest address we write to (RFC 5321 §4.5.3.1: 64 + 1 + 255, in practice 254).
const MAX_ADDRESS: usize = 254;

/// Renders drafts into email, with the owner's templates.
pub struct Composer {
    env: Environment<'static>,
    sources: BTreeMap<OutboundKind, Source>,
    /// Each notice kind's template origin, by kind.
    notice_origins: BTreeMap<&'static str, String>,
    /// The origin of the HTML alternative of the notice kinds that have one.
    notice_html_origins: BTreeMap<&'static str, String>,
    owner: vars::Owner,
    /// The From display name of mail to others ("Alice Smith via referrald").
    from_name: String,
    timezone: Tz,
    tracking_address: String,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer")
            .field(
                "templates",
                &self.sources.values().map(|s| &s.origin).collect::<Vec<_>>(),
            )
            .field("tracking_address", &self.tracking_address)
            .finish()
    }
}

impl Composer {
    /// Loads and checks one template per kind: built in, or from `templates.dir`. A syntax
    /// error, a variable the kind does not have, a file in the directory that names no kind,
    /// or a template that fails on a sample draft is an error naming the file and the kind.
    pub fn new(config: &Config) -> anyhow::Result<Composer> {
        let dir = config.templates_dir();
        let sources = templates::load(dir.as_deref())?;
        let mut composer = Composer {
            env: templates::environment(),
            sources: BTreeMap::new(),
            notice_origins: BTreeMap::new(),
            notice_html_origins: BTreeMap::new(),
            owner: vars::Owner {
                name: config.owner.name.clone(),
                emails: config.owner.emails.clone(),
                about: config.owner.about.clone().unwrap_or_default(),
            },
            from_name: config.owner.from_name(),
            timezone: config.owner.timezone,
            tracking_address: config.tracking.address.clone(),
        };
        for source in sources {
            composer.add(source)?;
        }
        for (kind, built_in) in notices::BUILT_IN {
            let (origin, text) = templates::notice_source(dir.as_deref(), kind, built_in)?;
            let parts = templates::split_text(&text, &origin, kind)?;
            for (part, text) in [(Part::Subject, parts.subject), (Part::Body, parts.body)] {
                composer
                    .env
                    .add_template_owned(notice_template_name(kind, part), text)
                    .map_err(|e| anyhow!("template {origin} ({kind}): {e:#}"))?;
            }
            composer.notice_origins.insert(kind, origin);
            let built_in_html = notices::BUILT_IN_HTML
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, t)| *t);
            if let Some((origin, text)) =
                templates::notice_html_source(dir.as_deref(), kind, built_in_html)?
            {
                let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
                composer
                    .env
                    .add_template_owned(notice_html_name(kind), text)
                    .map_err(|e| anyhow!("template {origin} ({kind}): {e:#}"))?;
                composer.notice_html_origins.insert(kind, origin);
            }
        }
        composer.check()?;
        for (kind, _) in notices::BUILT_IN {
            for facts in notices::samples(kind) {
                let sample = Notice {
                    kind,
                    message_id: "referrald.notice.1.2@sample.example".into(),
                    to: Person::new("owner@sample.example", Some(&composer.owner.name)),
                    subject: "status".into(),
                    references: vec!["command@sample.example".into()],
                    facts,
                };
                composer.render_notice(&sample)?;
                composer.render_notice_html(&sample)?;
            }
        }
        Ok(composer)
    }

    /// A notice's HTML alternative (every value HTML-escaped), when its kind has one.
    pub fn render_notice_html(&self, notice: &Notice) -> anyhow::Result<Option<String>> {
        let Some(origin) = self.notice_html_origins.get(notice.kind) else {
            return Ok(None);
        };
        let context = Value::from(minijinja::value::Serde(&self.notice_context(notice)));
        self.env
            .get_template(&notice_html_name(notice.kind))
            .and_then(|t| t.render(&context))
            .map(Some)
            .map_err(|e| anyhow!("template {origin} ({}): {e:#}", notice.kind))
    }

    /// What a notice's templates read: its facts, the owner, the tracking address and the
    /// reply subject.
    fn notice_context(&self, notice: &Notice) -> serde_json::Map<String, serde_json::Value> {
        let mut context = match &notice.facts {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let owner = Person::new(
            self.owner.emails.first().map_or("", String::as_str),
            Some(&self.owner.name),
        );
        context.insert(
            "owner".into(),
            serde_json::json!({
                "name": owner.name,
                "first_name": owner.first_name(),
                "email": notice.to.email,
            }),
        );
        context.insert(
            "tracking_address".into(),
            serde_json::json!(self.tracking_address),
        );
        let reply_subject = if notice.subject.trim().is_empty() {
            "Your referrald command".to_string()
        } else {
            crate::subject::reply_subject(&notice.subject)
        };
        context.insert("reply_subject".into(), serde_json::json!(reply_subject));
        context
    }

    /// A notice as the owner will read it: subject and body.
    pub fn render_notice(&self, notice: &Notice) -> anyhow::Result<Rendered> {
        let origin = self
            .notice_origins
            .get(notice.kind)
            .ok_or_else(|| anyhow!("no template for {}", notice.kind))?;
        let context = Value::from(minijinja::value::Serde(&self.notice_context(notice)));
        let render = |part: Part| -> anyhow::Result<String> {
            self.env
                .get_template(&notice_template_name(notice.kind, part))
                .and_then(|t| t.render(&context))
                .map_err(|e| anyhow!("template {origin} ({}): {e:#}", notice.kind))
        };
        let subject = words::clip(&words::one_line(&render(Part::Subject)?), MAX_SUBJECT_CHARS);
        if subject.is_empty() {
            bail!(
                "template {origin} ({}): the subject rendered empty",
                notice.kind
            );
        }
        let body = words::tidy(&render(Part::Body)?);
        Ok(Rendered {
            subject,
            body: format!("{body}\n\n-- \nYour referrald, {}\n", self.tracking_address),
        })
    }

    /// The email for a notice to the owner, dated `now`: threaded under the mail it answers,
    /// marked as an automatic answer (RFC 3834) so no responder answers it, and without the
    /// opt-out footer and List-Unsubscribe of mail to other people (the owner is not on a list).
    pub fn compose_notice(&self, notice: &Notice, now: DateTime<Utc>) -> anyhow::Result<Message> {
        let rendered = self.render_notice(notice)?;
        let tracking = self
            .tracking_address
            .parse::<lettre::Address>()
            .with_context(|| {
                format!(
                    "tracking address {:?} cannot be used in From",
                    self.tracking_address
                )
            })?;
        if notice.to.email.len() > MAX_ADDRESS {
            bail!(
                "cannot write to {:?}: the address is too long",
                notice.to.email
            );
        }
        let to = notice
            .to
            .email
            .parse::<lettre::Address>()
            .with_context(|| {
                format!(
                    "cannot write to {:?}: not an email address",
                    notice.to.email
                )
            })?;
        if !is_message_id(&notice.message_id) {
            bail!("{:?} cannot be a Message-ID", notice.message_id);
        }
        let mut builder = Message::builder()
            .from(Mailbox::new(
                Some("referrald".to_string()),
                tracking.clone(),
            ))
            .reply_to(Mailbox::new(None, tracking))
            .to(Mailbox::new(
                Some(clean_name(&notice.to.name)).filter(|n| !n.is_empty()),
                to,
            ))
            .subject(rendered.subject)
            .date(SystemTime::from(now))
            .message_id(Some(format!("<{}>", notice.message_id)));
        let answered = notice
            .references
            .last()
            .map(|id| bare_id(id))
            .filter(|id| is_message_id(id));
        if let Some(id) = answered {
            builder = builder.in_reply_to(format!("<{id}>"));
        }
        let chain = references(&notice.references, answered);
        if !chain.is_empty() {
            builder = builder.references(
                chain
                    .iter()
                    .map(|id| format!("<{id}>"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        for (name, value) in [
            // An answer to a command is a reply; a digest is mail of our own (RFC 3834).
            (
                "Auto-Submitted",
                if notice.kind == NOTICE_DIGEST {
                    "auto-generated"
                } else {
                    "auto-replied"
                },
            ),
            ("X-Auto-Response-Suppress", "OOF, AutoReply"),
            ("X-Loop", self.tracking_address.as_str()),
            ("X-Referrald-Kind", notice.kind),
        ] {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value.to_string(),
            ));
        }
        let built = match self.render_notice_html(notice)? {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(rendered.body, html)),
            None => builder.singlepart(SinglePart::plain(rendered.body)),
        };
        built.with_context(|| {
            format!(
                "cannot build the {} email to {}",
                notice.kind, notice.to.email
            )
        })
    }

    /// Where the template of `kind` came from: `built-in follow_up.txt`, or the override's path.
    pub fn template_origin(&self, kind: OutboundKind) -> &str {
        self.sources.get(&kind).map_or("", |s| s.origin.as_str())
    }

    /// Compiles one template file.
    fn add(&mut self, source: Source) -> anyhow::Result<()> {
        let parts = templates::split(&source)?;
        for (part, text) in [(Part::Subject, parts.subject), (Part::Body, parts.body)] {
            self.env
                .add_template_owned(templates::template_name(source.kind, part), text)
                .map_err(|e| templates::describe(&source, part, &e))?;
        }
        self.sources.insert(source.kind, source);
        Ok(())
    }

    /// The startup checks: every variable a template names exists for its kind (all branches,
    /// statically), and every template renders against every sample draft (strictly).
    fn check(&self) -> anyhow::Result<()> {
        for (kind, source) in &self.sources {
            if let Some((part, path)) = templates::unknown_variables(&self.env, *kind).first() {
                let line = match part {
                    Part::Subject => Some(1),
                    Part::Body => templates::line_of(&source.text, path),
                };
                let place = match line {
                    Some(line) => format!("template {} ({kind}), line {line}", source.origin),
                    None => format!("template {} ({kind})", source.origin),
                };
                let head = path.split('.').next().unwrap_or(path);
                let hint = if head != path.as_str() && vars::names(*kind).contains(&head) {
                    match vars::fields_of(*kind, head) {
                        Some(fields) => format!("`{head}` has {}", fields.join(", ")),
                        None => format!("`{head}` has no attributes"),
                    }
                } else if source.text.contains(&format!("set {head} ")) {
                    format!(
                        "a `{{% set %}}` inside `{{% if %}}` does not last beyond the block; set `{head}` with an if-expression instead"
                    )
                } else {
                    format!("{kind} templates can use {}", vars::names(*kind).join(", "))
                };
                bail!("{place}: unknown variable `{path}`; {hint} (see templates/README.md)");
            }
        }
        // The samples need an owner that can appear in them, whatever the configuration says.
        let sample_owner = vars::Owner {
            name: self.owner.name.clone(),
            emails: vec!["owner@sample.example".into()],
            about: self.owner.about.clone(),
        };
        for kind in self.sources.keys() {
            for draft in samples::drafts(*kind, &self.owner.name, &sample_owner.emails[0]) {
                self.render_as(&draft, &sample_owner, samples::now())?;
            }
        }
        Ok(())
    }

    /// The subject and body of a draft as the recipient will read them, footer included.
    pub fn render(&self, draft: &Draft, now: DateTime<Utc>) -> anyhow::Result<Rendered> {
        self.render_as(draft, &self.owner, now)
    }

    fn render_as(
        &self,
        draft: &Draft,
        owner: &vars::Owner,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Rendered> {
        let source = self
            .sources
            .get(&draft.kind)
            .ok_or_else(|| anyhow!("no template for {}", draft.kind))?;
        let context = vars::Context::new(draft, owner, self.timezone, &self.tracking_address, now);
        let context = Value::from(minijinja::value::Serde(&context));
        let render = |part: Part| -> anyhow::Result<String> {
            let template = self
                .env
                .get_template(&templates::template_name(draft.kind, part))
                .map_err(|e| templates::describe(source, part, &e))?;
            template
                .render(&context)
                .map_err(|e| templates::describe(source, part, &e))
        };
        let subject = words::clip(&words::one_line(&render(Part::Subject)?), MAX_SUBJECT_CHARS);
        if subject.is_empty() {
            bail!(
                "template {} ({}): the subject rendered empty",
                source.origin,
                draft.kind
            );
        }
        let body = words::tidy(&render(Part::Body)?);
        let footer = if owner.is(&draft.to) {
            self.owner_footer()
        } else {
            self.footer()
        };
        Ok(Rendered {
            subject,
            body: format!("{body}\n\n-- \n{footer}\n"),
        })
    }

    /// The opt-out line under every message to others. Not part of the templates: no
    /// override can drop it.
    fn footer(&self) -> String {
        format!(
            "Sent automatically on behalf of {}. {FOOTER_STOP}",
            words::one_line(&self.owner.name)
        )
    }

    /// The line under mail to the owner: her own tool, which she does not opt out of.
    fn owner_footer(&self) -> String {
        format!(
            "referrald, your introduction tracker at {}",
            words::one_line(&self.tracking_address)
        )
    }

    /// The owner's first address under her name, for `Reply-To`, when it is an address.
    fn owner_mailbox(&self) -> Option<Mailbox> {
        let email = self.owner.emails.first()?;
        let address = email.parse::<lettre::Address>().ok()?;
        Some(Mailbox::new(
            Some(clean_name(&self.owner.name)).filter(|n| !n.is_empty()),
            address,
        ))
    }

    /// The email for a draft, with every header of SPEC §2, dated `now`.
    pub fn compose(&self, draft: &Draft, now: DateTime<Utc>) -> anyhow::Result<Message> {
        self.compose_with_text(draft, now).map(|(email, _)| email)
    }

    /// [`Composer::compose`], and the subject and text the email carries: what the outbox
    /// keeps of each message it sends.
    pub fn compose_with_text(
        &self,
        draft: &Draft,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Message, Rendered)> {
        let rendered = self.render(draft, now)?;
        let text = rendered.clone();
        // It is written whole into From, Reply-To and List-Unsubscribe.
        if self.tracking_address.len() > MAX_ADDRESS {
            bail!("the tracking address is longer than {MAX_ADDRESS} bytes");
        }
        let tracking = self
            .tracking_address
            .parse::<lettre::Address>()
            .with_context(|| {
                format!(
                    "tracking address {:?} cannot be used in From",
                    self.tracking_address
                )
            })?;
        if draft.to.email.len() > MAX_ADDRESS {
            bail!(
                "cannot write to {:?}: the address is too long",
                draft.to.email
            );
        }
        let to = draft.to.email.parse::<lettre::Address>().with_context(|| {
            format!("cannot write to {:?}: not an email address", draft.to.email)
        })?;
        if !is_message_id(&draft.message_id) {
            bail!("{:?} cannot be a Message-ID", draft.message_id);
        }
        // Names are cleaned again here: a database written by an older version may hold
        // names with control characters (which made lettre drop the recipient) or of any length.
        // Mail to others is the owner's tracker writing ("Alice Smith via referrald"), never a
        // person's name alone on another domain, which impersonation filters flag; mail to
        // the owner comes from the tool itself.
        let from_name = if self.owner.is(&draft.to) {
            "referrald".to_string()
        } else {
            clean_name(&self.from_name)
        };
        let mut builder = Message::builder().from(Mailbox::new(Some(from_name), tracking.clone()));
        // A reply from anyone else reaches the owner as well as the tracker: the owner sees
        // every human answer ("Thank you so much for this, Alice") as it arrives.
        if !self.owner.is(&draft.to)
            && let Some(owner) = self.owner_mailbox()
        {
            builder = builder.reply_to(owner);
        }
        builder = builder
            .reply_to(Mailbox::new(None, tracking))
            .to(Mailbox::new(
                Some(clean_name(&draft.to.name)).filter(|n| !n.is_empty()),
                to,
            ))
            .subject(rendered.subject)
            .date(SystemTime::from(now))
            .message_id(Some(format!("<{}>", draft.message_id)));
        // Only well-formed ids are written: intake keeps only those in an introduction's
        // References, but its own Message-ID is kept as it came (replies are matched on it),
        // and an older version may have stored anything.
        let root = Some(bare_id(&draft.referral.thread_root)).filter(|id| is_message_id(id));
        if let Some(root) = root {
            builder = builder.in_reply_to(format!("<{root}>"));
        }
        let chain = references(&draft.referral.references, root);
        if !chain.is_empty() {
            // Space-separated, so that lettre folds the field between ids.
            builder = builder.references(
                chain
                    .iter()
                    .map(|id| format!("<{id}>"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let unsubscribe = format!("<mailto:{}?subject=unsubscribe>", self.tracking_address);
        for (name, value) in [
            // RFC 3834: automatic responders must not answer this.
            ("Auto-Submitted", "auto-generated"),
            // Exchange and Outlook: no out-of-office or auto replies.
            ("X-Auto-Response-Suppress", "OOF, AutoReply"),
            ("List-Unsubscribe", unsubscribe.as_str()),
            // Robots (procmail, helpdesks) that honour it never answer mail carrying their
            // own address here; our intake ignores it on anything that would be an intro.
            ("X-Loop", self.tracking_address.as_str()),
            // How intake knows its own mail when it comes back.
            ("X-Referrald-Kind", draft.kind.as_str()),
        ] {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value.to_string(),
            ));
        }
        let email = builder
            .singlepart(SinglePart::plain(rendered.body))
            .with_context(|| {
                format!(
                    "cannot build the {} email to {}",
                    draft.kind, draft.to.email
                )
            })?;
        Ok((email, text))
    }
}

/// The compiled name of a notice's HTML alternative (`.html`: escaped).
fn notice_html_name(kind: &str) -> String {
    format!("notice/{kind}/alternative.html")
}

/// The compiled name of a notice template's part.
fn notice_template_name(kind: &str, part: Part) -> String {
    match part {
        Part::Subject => format!("notice/{kind}/subject"),
        Part::Body => format!("notice/{kind}/body"),
    }
}

/// A Message-ID without the angle brackets it may have been stored with.
fn bare_id(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// The References chain: unique, well-formed ids ending with the root (when it is one), at
/// most [`MAX_REFERENCES`] long, keeping the first and the most recent.
fn references(chain: &[String], root: Option<&str>) -> Vec<String> {
    let mut ids: Vec<&str> = Vec::new();
    for id in chain.iter().map(|id| bare_id(id)) {
        if is_message_id(id) && Some(id) != root && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.extend(root);
    if ids.len() > MAX_REFERENCES {
        let tail = ids.len() - (MAX_REFERENCES - 1);
        ids = std::iter::once(ids[0])
            .chain(ids[tail..].iter().copied())
            .collect();
    }
    ids.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_keep_the_first_and_the_latest() {
        let chain: Vec<String> = (1..=15).map(|i| format!("m{i}@x")).collect();
        let refs = references(&chain, Some("m15@x"));
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "m1@x");
        assert_eq!(refs[1], "m7@x");
        assert_eq!(refs.last().unwrap(), "m15@x");

        let refs = references(
            &["a@x".into(), "<b@x>".into(), "bad id".into(), "a@x".into()],
            Some("r@x"),
        );
        assert_eq!(refs, ["a@x", "b@x", "r@x"]);
        assert_eq!(references(&[], Some("r@x")), ["r@x"]);
        // Invalid ids (stored by older versions) are never copied: not even a bad root.
        assert_eq!(
            references(&["a\"b@x".into(), "ok@x".into(), "<c d@x>".into()], None),
            ["ok@x"]
        );
        assert!(references(&[], None).is_empty());
    }
}
