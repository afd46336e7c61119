//! What the commands print: short aligned lines for people, JSON for programs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::intake::{Classified, Verdict};
use crate::model::{
    Outcome, Person, ReferralId, format_amount, has_minor_units, is_unsafe_char, join_names,
};
use crate::outbox::{Delivery, DeliveryResult};
use crate::report::{Money, Report};
use crate::store::{
    Applied, Erasure, FORGOTTEN, OutboundView, PlannedView, ReferralDetail, ReferralView,
};

/// `println!` for lines that hold words from mail or from the store (names, subjects,
/// comments, reasons, errors): every line passes through [`visible`].
macro_rules! display {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", visible(&format!($($arg)*)))
    };
}

/// Prints a value as pretty JSON on standard output. serde escapes control characters.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Text as it may be shown on a terminal: a control character becomes its Unicode picture
/// (ESC `␛`, NUL `␀`, BEL `␇`, a line break `␊`, DEL `␡`), and a C1 control or an invisible
/// formatting character (a bidi override, a zero-width space) becomes `�`, one character
/// for one so columns stay aligned. Nothing read from mail, and nothing an older version
/// stored, can then move the cursor, recolour or retitle the terminal, or reorder a line.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\0'..='\u{1f}' => char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{fffd}'),
                '\u{7f}' => '\u{2421}',
                c if is_unsafe_char(c) => '\u{fffd}',
                c => c,
            })
            .collect(),
    )
}

/// `inspect --json`: the SPEC §5 shape, plus a few fields that help a person reading it.
#[derive(Debug, Serialize)]
pub struct Inspection<'a> {
    kind: &'static str,
    reason: Option<String>,
    introducer: Option<&'a Person>,
    parties: &'a [Person],
    /// People copied to help: not parties, never mailed.
    copied: &'a [Person],
    /// What the tracking address's `+detail` asked of an introduction.
    options: Option<&'a crate::intake::options::Options>,
    referral: Option<ReferralId>,
    rating: Option<u8>,
    outcome: Option<Outcome>,
    value: Option<f64>,
    currency: Option<&'a str>,
    comment: Option<&'a str>,
    message_id: &'a str,
    from: Option<&'a Person>,
    subject: &'a str,
    forwarded: Option<bool>,
}

impl<'a> From<&'a Classified> for Inspection<'a> {
    fn from(c: &'a Classified) -> Self {
        let mut out = Inspection {
            kind: c.verdict.kind(),
            reason: None,
            introducer: None,
            parties: &[],
            copied: &[],
            options: None,
            referral: c.verdict.referral(),
            rating: None,
            outcome: None,
            value: None,
            currency: None,
            comment: None,
            message_id: &c.message_id,
            from: c.from.as_ref(),
            subject: &c.subject,
            forwarded: None,
        };
        match &c.verdict {
            Verdict::Ignored(reason) => out.reason = Some(reason.to_string()),
            Verdict::Introduction(intro) => {
                out.introducer = Some(&intro.introducer);
                out.parties = &intro.parties;
                out.copied = &intro.copied;
                out.options = Some(&intro.options);
                out.forwarded = Some(intro.forwarded);
            }
            Verdict::Feedback { reading, .. } => {
                out.rating = reading.rating;
                out.outcome = reading.outcome;
                out.value = reading.value;
                out.currency = reading.currency.as_deref();
                out.comment = Some(&reading.comment);
            }
            Verdict::Bounce(b) => {
                out.reason = Some(match (&b.status, b.recipients.is_empty()) {
                    (_, true) => "delivery report without failed recipients".to_string(),
                    (Some(s), false) => format!("{} failed: {s}", b.recipients.join(", ")),
                    (None, false) => format!("{} failed", b.recipients.join(", ")),
                });
            }
            Verdict::OptOut { email, .. } => {
                out.reason = Some(format!("{email} asks not to be emailed"));
            }
            Verdict::Command(command) => out.comment = Some(&command.written),
            Verdict::AutoReply { .. } | Verdict::Duplicate | Verdict::ThreadReply { .. } => {}
        }
        out
    }
}

/// `inspect` for people.
pub fn inspection(c: &Classified) {
    display!("kind:       {}", c.verdict.kind());
    display!("message-id: {}", c.message_id);
    if let Some(from) = &c.from {
        display!("from:       {from}");
    }
    display!("subject:    {}", c.subject);
    if let Some(r) = c.verdict.referral() {
        display!("referral:   #{r}");
    }
    display!("verdict:    {}", describe(&c.verdict));
    if let Verdict::Introduction(intro) = &c.verdict {
        display!("introducer: {}", intro.introducer);
        for p in &intro.parties {
            display!("party:      {p}");
        }
        for p in &intro.copied {
            display!("copied:     {p} (helping; not a party)");
        }
        if !intro.options.is_default() {
            display!("options:    {}", intro.options.describe());
        }
    }
}

/// One line about one ingested message, written to `out` (`ingest` hands it a buffer for a
/// whole batch: a write to the terminal or a pipe per message costs as much as classifying it).
pub fn applied(out: &mut impl std::io::Write, a: &Applied) -> std::io::Result<()> {
    let line = match &a.result {
        Ok(r) => {
            let what = describe(&r.classified.verdict);
            match r.referral {
                Some(id) => format!(
                    "{}  {}  #{id} {what}",
                    a.origin,
                    r.classified.verdict.kind()
                ),
                None => format!("{}  {}  {what}", a.origin, r.classified.verdict.kind()),
            }
        }
        Err(reason) => format!("{}  rejected  {reason} (kept in the database)", a.origin),
    };
    writeln!(out, "{}", visible(&line))
}

/// A verdict in a few words.
pub fn describe(v: &Verdict) -> String {
    match v {
        Verdict::Ignored(reason) => reason.to_string(),
        Verdict::Bounce(b) if b.recipients.is_empty() => "a delivery report with no failure".into(),
        Verdict::Bounce(b) => format!(
            "mail to {} bounced{}",
            b.recipients.join(", "),
            b.status
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ),
        Verdict::AutoReply { away: None, .. } => {
            "an automatic reply: not answered, not counted".into()
        }
        Verdict::AutoReply { away: Some(a), .. } => format!(
            "an automatic reply: not answered, not counted; {} is back on {}, mail to them waits until the day after",
            a.email, a.back_on
        ),
        Verdict::Duplicate => "already processed".into(),
        Verdict::OptOut { email, .. } => format!("{email} asks not to be emailed again"),
        Verdict::Feedback { from, reading, .. } => {
            let mut said = Vec::new();
            if let Some(r) = reading.rating {
                said.push(format!("rated it {r}/5"));
            }
            if let Some(o) = reading.outcome {
                said.push(outcome_words(o).to_string());
            }
            if let Some(v) = reading.value {
                let currency = reading.currency.as_deref();
                let worth = format!("worth {} {}", amount(v, currency), currency.unwrap_or(""));
                said.push(worth.trim_end().to_string());
            }
            if said.is_empty() {
                said.push("wrote back".into());
            }
            format!("{} {}", from.name_or_email(), said.join(", "))
        }
        Verdict::ThreadReply { from, .. } => {
            format!("{} replied on the thread", from.name_or_email())
        }
        Verdict::Command(c) => format!("the owner's command {:?}", c.written),
        Verdict::Introduction(intro) => {
            let names: Vec<&str> = intro.parties.iter().map(Person::name_or_email).collect();
            format!(
                "{} introduced {}{}",
                intro.introducer.name_or_email(),
                join_names(&names),
                if intro.forwarded { " (forwarded)" } else { "" }
            )
        }
    }
}

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Met => "they met",
        Outcome::NotMet => "they never met",
        Outcome::Won => "they did business",
        Outcome::Lost => "it did not work out",
    }
}

/// Counts ingested messages by kind, for the closing line.
#[derive(Debug, Default)]
pub struct Tally {
    total: usize,
    kinds: BTreeMap<&'static str, usize>,
}

impl Tally {
    /// Counts one message.
    pub fn add(&mut self, a: &Applied) {
        self.total += 1;
        let kind = match &a.result {
            Ok(r) => r.classified.verdict.kind(),
            Err(_) => "rejected",
        };
        *self.kinds.entry(kind).or_default() += 1;
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.total == 1 { "" } else { "s" };
        write!(f, "{} message{plural}", self.total)?;
        let parts: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// A stored time in the owner's timezone, to the minute.
pub fn local(at: &str, config: &Config) -> String {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => local_time(t.with_timezone(&Utc), config),
        Err(_) => at.to_string(),
    }
}

/// A time in the owner's timezone, to the minute.
pub fn local_time(at: DateTime<Utc>, config: &Config) -> String {
    at.with_timezone(&config.owner.timezone)
        .format("%a %Y-%m-%d %H:%M")
        .to_string()
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// One line about one delivery attempt.
pub fn delivery(d: &Delivery) {
    let what = match d.referral {
        Some(referral) => format!("#{referral} {} to {}", d.kind, d.to),
        None => format!("{} to {}", d.kind, d.to),
    };
    match &d.result {
        DeliveryResult::Sent => display!("sent    {what}"),
        DeliveryResult::Retry(e) => display!("retry   {what}: {e}"),
        DeliveryResult::Failed(e) | DeliveryResult::Refused(_, e) => {
            display!("failed  {what}: {e}")
        }
    }
}

/// The closing line of `tick`.
pub fn tick_summary(deliveries: &[Delivery], next: Option<DateTime<Utc>>, config: &Config) {
    let sent = deliveries
        .iter()
        .filter(|d| d.result == DeliveryResult::Sent)
        .count();
    let plural = if sent == 1 { "" } else { "s" };
    match next {
        Some(t) => display!(
            "{sent} message{plural} sent; next one due {}",
            local(&t.to_rfc3339(), config)
        ),
        None => display!("{sent} message{plural} sent; nothing else is scheduled"),
    }
}

/// `referrals` for people.
pub fn referrals(list: &[ReferralView], config: &Config) {
    if list.is_empty() {
        display!("No referrals yet.");
        return;
    }
    display!(
        "{:>4}  {:<14}  {:<20}  {:<18}  {:<32}  SUBJECT",
        "ID",
        "STATUS",
        "RECORDED",
        "INTRODUCER",
        "PARTIES"
    );
    for r in list {
        let parties: Vec<&str> = r
            .parties
            .iter()
            .map(|p| if p.name.is_empty() { &p.email } else { &p.name })
            .map(String::as_str)
            .collect();
        display!(
            "{:>4}  {:<14}  {:<20}  {:<18}  {:<32}  {}",
            r.id,
            status_of(r),
            local(&r.created_at, config),
            clip(r.introducer.name_or_email(), 18),
            clip(&join_names(&parties), 32),
            clip(&r.subject, 50)
        );
    }
}

/// A referral's status as people read it: "open (history)" for an old introduction
/// recorded for the record only.
fn status_of(r: &ReferralView) -> String {
    if r.history {
        format!("{} (history)", r.status)
    } else {
        r.status.to_string()
    }
}

/// `show` for people: who, what happened, what was sent, what they said.
pub fn referral(d: &ReferralDetail, config: &Config) {
    let r = &d.referral;
    display!("Referral #{} — {}", r.id, r.subject);
    display!("  status:     {}", status_of(r));
    display!("  introduced: {}", local(&r.introduced_at, config));
    display!("  recorded:   {}", local(&r.created_at, config));
    if r.history {
        display!(
            "  history:    older than every message of the plan when recorded; no mail is sent"
        );
    }
    display!("  introducer: {}", r.introducer);
    for p in &r.parties {
        let owner = if p.is_owner { ", the owner" } else { "" };
        let who = Person {
            email: p.email.clone(),
            name: p.name.clone(),
        };
        display!("  party:      {who} ({}{owner})", p.state);
    }
    for p in &d.copied {
        display!("  copied:     {p} (helping; never mailed)");
    }
    if !d.options.is_default() {
        display!("  options:    {}", d.options.describe());
    }
    display!();
    display!("Story:");
    for e in &d.events {
        display!("  {}  {:<10}  {}", local(&e.at, config), e.kind, e.detail);
    }
    if !d.outbound.is_empty() {
        display!();
        display!("Mail:");
        for o in &d.outbound {
            let when = o.sent_at.as_deref().unwrap_or(&o.due_at);
            let note = o
                .last_error
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default();
            display!(
                "  {}  {:<10}  {:<18} to {}{note}",
                local(when, config),
                o.state.as_str(),
                o.kind.as_str(),
                o.to
            );
        }
    }
    if !d.feedback.is_empty() {
        display!();
        display!("Feedback:");
        for f in &d.feedback {
            let mut said = Vec::new();
            if let Some(r) = f.rating {
                said.push(format!("{r}/5"));
            }
            if let Some(o) = f.outcome {
                said.push(o.to_string());
            }
            if let Some(v) = f.value {
                let currency = f.currency.as_deref();
                let worth = format!("{} {}", amount(v, currency), currency.unwrap_or(""));
                said.push(worth.trim_end().to_string());
            }
            display!(
                "  {}  {}  {}",
                local_time(f.at, config),
                f.from,
                said.join(", ")
            );
            if !f.comment.is_empty() {
                display!("      “{}”", clip(&f.comment.replace('\n', " "), 100));
            }
        }
    }
}

/// One line of `outbox --json`: a row, or a message the plan will send and has not made yet
/// (with no id or Message-ID): `"scheduled"` if it is the person's next, else `"planned"`.
#[derive(Serialize)]
pub struct OutboxEntry<'a> {
    id: Option<i64>,
    referral_id: i64,
    kind: &'a str,
    to: &'a str,
    state: &'a str,
    due_at: &'a str,
    sent_at: Option<&'a str>,
    attempts: i64,
    last_error: Option<&'a str>,
    message_id: Option<&'a str>,
}

/// `outbox --json`: the rows and what is planned after them, in due order (rows first at the
/// same time).
pub fn outbox_json<'a>(
    rows: &'a [OutboundView],
    planned: &'a [PlannedView],
) -> Vec<OutboxEntry<'a>> {
    let mut all: Vec<OutboxEntry<'a>> = rows
        .iter()
        .map(|o| OutboxEntry {
            id: Some(o.id),
            referral_id: o.referral_id,
            kind: o.kind.as_str(),
            to: &o.to,
            state: o.state.as_str(),
            due_at: &o.due_at,
            sent_at: o.sent_at.as_deref(),
            attempts: o.attempts,
            last_error: o.last_error.as_deref(),
            message_id: Some(&o.message_id),
        })
        .chain(planned.iter().map(|p| OutboxEntry {
            id: None,
            referral_id: p.referral_id,
            kind: p.kind.as_str(),
            to: &p.to,
            state: planned_state(p),
            due_at: &p.due_at,
            sent_at: None,
            attempts: 0,
            last_error: None,
            message_id: None,
        }))
        .collect();
    all.sort_by(|a, b| a.due_at.cmp(b.due_at));
    all
}

/// `outbox` for people: the rows, then what the plan will send after them.
pub fn outbox(rows: &[OutboundView], planned: &[PlannedView], config: &Config) {
    if rows.is_empty() && planned.is_empty() {
        display!("The outbox is empty.");
        return;
    }
    display!(
        "{:>5}  {:>4}  {:<18}  {:<10}  {:<20}  {:<32}  NOTE",
        "ID",
        "REF",
        "KIND",
        "STATE",
        "DUE / SENT",
        "TO"
    );
    for o in rows {
        let when = o.sent_at.as_deref().unwrap_or(&o.due_at);
        display!(
            "{:>5}  {:>4}  {:<18}  {:<10}  {:<20}  {:<32}  {}",
            o.id,
            o.referral_id,
            o.kind.as_str(),
            o.state.as_str(),
            local(when, config),
            clip(&o.to, 32),
            o.last_error
                .as_deref()
                .map(|e| clip(e, 60))
                .unwrap_or_default()
        );
    }
    for p in planned {
        display!(
            "{:>5}  {:>4}  {:<18}  {:<10}  {:<20}  {:<32}  {}",
            "-",
            p.referral_id,
            p.kind.as_str(),
            planned_state(p),
            local(&p.due_at, config),
            clip(&p.to, 32),
            if p.next {
                "made when it falls due"
            } else {
                "after the ones before it, if nobody answers"
            }
        );
    }
}

/// How `outbox` names a message not made yet: the person's next is scheduled (its due time
/// is kept); what comes after it is planned.
fn planned_state(p: &PlannedView) -> &'static str {
    if p.next { "scheduled" } else { "planned" }
}

/// `stats` for people: the figures, then the reciprocity ledger.
pub fn stats(report: &Report, config: &Config) {
    let period = report
        .since
        .map(|t| format!(" since {}", local(&t.to_rfc3339(), config)))
        .unwrap_or_default();
    if report.referrals == 0 {
        display!("No referrals{period}.");
        return;
    }
    let of = |n: usize| format!("({n} of {})", report.referrals);
    let statuses: Vec<String> = report
        .by_status
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    display!("Referrals{period}:  {}", report.referrals);
    display!("  status:           {}", statuses.join(", "));
    display!(
        "  connection rate:  {} {}",
        percent(report.connection_rate),
        of(report.connected)
    );
    display!(
        "  success rate:     {} {}",
        percent(report.success_rate),
        of(report.succeeded)
    );
    let plural = if report.ratings == 1 { "" } else { "s" };
    display!(
        "  average rating:   {} ({} rating{plural})",
        rating(report.average_rating),
        report.ratings
    );
    display!("  closed business:  {}", money(&report.closed_business));
    display!(
        "  you made {}, you received {}",
        report.you_made,
        report.you_received
    );
    if report.partners.is_empty() {
        return;
    }
    let who: Vec<String> = report
        .partners
        .iter()
        .map(|p| {
            let who = Person {
                email: p.email.clone(),
                name: p.name.clone(),
            };
            clip(&who.to_string(), 48)
        })
        .collect();
    let width = who.iter().map(|w| w.chars().count()).max().unwrap_or(0);
    display!();
    display!(
        "{:<width$}  {:>8}  {:>10}  {:>8}  {:>9}  {:>7}  {:>6}  VALUE",
        "PARTNER",
        "GAVE YOU",
        "INTRODUCED",
        "YOU GAVE",
        "SUCCEEDED",
        "SUCCESS",
        "RATING"
    );
    for (p, who) in report.partners.iter().zip(&who) {
        display!(
            "{who:<width$}  {:>8}  {:>10}  {:>8}  {:>9}  {:>7}  {:>6}  {}",
            p.gave_you,
            p.introduced,
            p.you_gave,
            p.succeeded,
            percent(p.success_rate),
            rating(p.average_rating),
            money(&p.value)
        );
    }
}

/// What `forget` did, in counts.
pub fn erasure(email: &str, e: &Erasure, config: &Config) {
    if !e.found_anything() {
        match &e.forgotten_before {
            Some(at) => display!(
                "{email} was already forgotten on {}: nothing more to forget.",
                local(at, config)
            ),
            None => display!("referrald knows nothing about {email}: nothing to forget."),
        }
        return;
    }
    match &e.contact {
        Some((_, placeholder)) => {
            display!("Forgot {email}: they are now {FORGOTTEN} <{placeholder}>.")
        }
        None => display!("Forgot {email}, which was mentioned but is nobody's contact."),
    }
    display!("  referrals they took part in:     {}", e.referrals);
    display!("  scheduled messages cancelled:    {}", e.cancelled);
    display!("  their comments blanked:          {}", e.comments);
    display!("  other texts redacted:            {}", e.redacted);
    display!("  stored raw messages deleted:     {}", e.rejected);
    display!("  texts of sent mail deleted:      {}", e.sent_texts);
    if e.variants > 0 {
        display!("  +detail addresses also erased:  {}", e.variants);
    }
    display!(
        "Kept: a SHA-256 hash of the address, so that they are never emailed again if introduced later."
    );
    display!(
        "Not reached: mail already sent, .eml files the file transport wrote, copies in mailboxes."
    );
}

/// A share as a whole percentage, or "—" when there is nothing to divide.
pub(crate) fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".into(), |s| format!("{:.0}%", s * 100.0))
}

pub(crate) fn rating(average: Option<f64>) -> String {
    average.map_or_else(|| "—".into(), |r| format!("{r:.1}"))
}

/// Amounts per currency: "12,500 USD; 800.50 EUR; 3,000 (no currency)".
pub(crate) fn money(amounts: &[Money]) -> String {
    if amounts.is_empty() {
        return "—".into();
    }
    let parts: Vec<String> = amounts
        .iter()
        .map(|m| {
            let currency = m.currency.as_deref().unwrap_or("(no currency)");
            format!("{} {currency}", amount(m.value, m.currency.as_deref()))
        })
        .collect();
    parts.join("; ")
}

/// One amount as every command writes it ([`format_amount`]), with its currency's cents.
pub(crate) fn amount(value: f64, currency: Option<&str>) -> String {
    format_amount(value, has_minor_units(currency)).unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_cannot_drive_the_terminal() {
        // ESC sequences in a subject or an old database's names recoloured, cleared or
        // retitled the terminal of whoever ran `referrals`.
        assert_eq!(
            visible("Intro \u{1b}[2J\u{1b}]0;pwn\u{7} you\0two\u{7f}"),
            "Intro ␛[2J␛]0;pwn␇ you␀two␡"
        );
        assert_eq!(visible("a\r\nb\tc"), "a␍␊b␉c");
        // One character for one: table columns stay where they were.
        assert_eq!(
            visible("\u{202e}Fred\u{200b}\u{9b}"),
            "\u{fffd}Fred\u{fffd}\u{fffd}"
        );
        assert!(matches!(
            visible("José Müller"),
            Cow::Borrowed("José Müller")
        ));
    }

    #[test]
    fn amounts_group_thousands_and_keep_cents() {
        assert_eq!(amount(0.0, None), "0");
        assert_eq!(amount(999.0, None), "999");
        assert_eq!(amount(2500.0, Some("USD")), "2,500");
        assert_eq!(amount(1234567.5, Some("EUR")), "1,234,567.50");
        assert_eq!(amount(-1200.0, None), "-1,200");
        assert_eq!(amount(1500.5, Some("JPY")), "1,501");
        assert_eq!(
            money(&[
                Money {
                    currency: Some("USD".into()),
                    value: 12500.0
                },
                Money {
                    currency: None,
                    value: 300.0
                }
            ]),
            "12,500 USD; 300 (no currency)"
        );
        assert_eq!(money(&[]), "—");
        assert_eq!(percent(None), "—");
        assert_eq!(percent(Some(2.0 / 3.0)), "67%");
        assert_eq!(rating(Some(13.0 / 3.0)), "4.3");
    }
}
