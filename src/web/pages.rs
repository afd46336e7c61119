//! What each page shows, read through the store's own functions and put in the words the
//! command line uses (`show`, `stats`): the view models the templates render. The templates
//! escape every value; nothing here writes HTML.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::cli::print::{amount, local, local_time, money, percent, rating};
use crate::composer::Composer;
use crate::config::Config;
use crate::model::{Person, ReferralId, ReferralStatus};
use crate::report::{self, Since};
use crate::store::{ReferralFilter, ReferralView, Store};

use super::svg;

/// Referrals per page of the list.
pub const PAGE: usize = 50;
/// Referrals listed on a person's page (the list, filtered by them, has the rest).
const ON_PERSON: usize = 100;

/// The actions a referral's page offers, as the owner's commands name them.
pub const ACTIONS: &[&str] = &["cancel", "pause", "resume", "won", "lost"];

/// How long ago, in the largest whole unit: "3 d", "5 h", "2 min".
fn age(created_at: &str, now: DateTime<Utc>) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(created_at) else {
        return String::new();
    };
    let d = now.signed_duration_since(t.to_utc());
    if d.num_days() > 0 {
        format!("{} d", d.num_days())
    } else if d.num_hours() > 0 {
        format!("{} h", d.num_hours())
    } else {
        format!("{} min", d.num_minutes().max(0))
    }
}

fn name_of(name: &str, email: &str) -> String {
    if name.is_empty() {
        email.to_string()
    } else {
        name.to_string()
    }
}

/// One row of a list of referrals.
fn row(store: &Store, r: &ReferralView, config: &Config, now: DateTime<Utc>) -> Result<Value> {
    let waiting = store.waiting(r.id, config, now)?.map(|w| {
        format!(
            "{} to {}, {}",
            w.kind.as_str(),
            w.to,
            local(&w.due_at, config)
        )
    });
    let paused = store.paused_until(r.id)?.is_some_and(|t| t > now);
    let parties: Vec<Value> = r
        .parties
        .iter()
        .map(|p| json!({ "email": p.email, "name": name_of(&p.name, &p.email) }))
        .collect();
    Ok(json!({
        "id": r.id,
        "status": r.status.as_str(),
        "paused": paused,
        "subject": r.subject,
        "introducer": r.introducer.name_or_email(),
        "introducer_email": r.introducer.email,
        "parties": parties,
        "age": age(&r.created_at, now),
        "waiting": waiting.unwrap_or_default(),
    }))
}

/// What the list's query string asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `status`: one status, or any.
    pub status: Option<ReferralStatus>,
    /// `person`: an address.
    pub person: Option<String>,
    /// `q`: words to find.
    pub search: Option<String>,
    /// `page`: from 1.
    pub page: usize,
}

impl ListQuery {
    /// The list's address for page `page` with the same filters.
    fn href(&self, page: usize) -> String {
        let mut parts = vec![format!("page={page}")];
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.as_str()));
        }
        if let Some(p) = &self.person {
            parts.push(format!("person={}", super::encode(p)));
        }
        if let Some(q) = &self.search {
            parts.push(format!("q={}", super::encode(q)));
        }
        format!("/?{}", parts.join("&"))
    }
}

/// `/`: the referrals, newest first, a page at a time.
pub fn referrals(
    store: &Store,
    config: &Config,
    query: &ListQuery,
    now: DateTime<Utc>,
) -> Result<Value> {
    let page = query.page.max(1);
    let filter = ReferralFilter {
        status: query.status,
        person: query.person.clone(),
        search: query.search.clone(),
    };
    let (list, more) = store.referrals_page(&filter, (page - 1) * PAGE, PAGE)?;
    let rows = list
        .iter()
        .map(|r| row(store, r, config, now))
        .collect::<Result<Vec<_>>>()?;
    let statuses: Vec<&str> = ReferralStatus::ALL.iter().map(|s| s.as_str()).collect();
    Ok(json!({
        "referrals": rows,
        "statuses": statuses,
        "status": query.status.map(|s| s.as_str()).unwrap_or(""),
        "person": query.person.as_deref().unwrap_or(""),
        "q": query.search.as_deref().unwrap_or(""),
        "prev_page": (page > 1).then(|| query.href(page - 1)),
        "next_page": more.then(|| query.href(page + 1)),
    }))
}

/// The referral's next messages as `preview` renders them: to whom, when, subject and text.
fn next_mail(
    store: &Store,
    composer: &Composer,
    config: &Config,
    id: ReferralId,
    now: DateTime<Utc>,
) -> Result<Vec<Value>> {
    store
        .preview_next(id, config, now)?
        .iter()
        .map(|p| {
            // Dated as it would be sent, so that "on Monday" reads as the recipient would see it.
            let rendered = composer.render(&p.draft, p.due_at.max(now))?;
            Ok(json!({
                "kind": p.draft.kind.as_str(),
                "to": p.draft.to.to_string(),
                "due": local(&p.due_at.to_rfc3339(), config),
                "subject": rendered.subject,
                "body": rendered.body,
            }))
        })
        .collect()
}

/// `/referrals/ID`: the same facts `show` prints, the text of each mail sent, and the text of
/// what goes out next.
pub fn referral(
    store: &Store,
    composer: &Composer,
    config: &Config,
    id: ReferralId,
    now: DateTime<Utc>,
) -> Result<Option<Value>> {
    let Some(d) = store.referral(id)? else {
        return Ok(None);
    };
    let r = &d.referral;
    let paused = store
        .paused_until(id)?
        .filter(|t| *t > now)
        .map(|t| local(&t.to_rfc3339(), config));
    let events: Vec<Value> = d
        .events
        .iter()
        .map(|e| json!({ "at": local(&e.at, config), "kind": e.kind, "detail": e.detail }))
        .collect();
    let mut texts = store.sent_texts(id)?;
    let outbound: Vec<Value> = d
        .outbound
        .iter()
        .map(|o| {
            let text = texts.remove(&o.id);
            json!({
                "when": local(o.sent_at.as_deref().unwrap_or(&o.due_at), config),
                "state": o.state.as_str(),
                "kind": o.kind.as_str(),
                "to": o.to,
                "note": o.last_error.as_deref().unwrap_or(""),
                // What it said, when it went (mail sent before referrald kept texts has none).
                "sent": o.sent_at.is_some() || text.is_some(),
                "subject": text.as_ref().map(|t| t.subject.as_str()),
                "body": text.as_ref().map(|t| t.body.as_str()),
            })
        })
        .collect();
    let feedback: Vec<Value> = d
        .feedback
        .iter()
        .map(|f| {
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
            json!({
                "at": local_time(f.at, config),
                "from": f.from,
                "said": said.join(", "),
                "comment": f.comment,
            })
        })
        .collect();
    let parties: Vec<Value> = r
        .parties
        .iter()
        .map(|p| {
            json!({
                "email": p.email,
                "name": p.name,
                "state": p.state.to_string(),
                "is_owner": p.is_owner,
            })
        })
        .collect();
    Ok(Some(json!({
        "r": {
            "id": r.id,
            "subject": r.subject,
            "status": r.status.as_str(),
            "recorded": local(&r.created_at, config),
            "paused": paused,
            "introducer": { "email": r.introducer.email, "name": r.introducer.name },
            "parties": parties,
            "copied": d.copied,
            "options": if d.options.is_default() { String::new() } else { d.options.describe() },
            "events": events,
            "outbound": outbound,
            "feedback": feedback,
            "next": next_mail(store, composer, config, id, now)?,
        },
        "actions": ACTIONS,
    })))
}

/// One line of the ledger as the pages show it.
fn partner(p: &report::Partner) -> Value {
    json!({
        "email": p.email,
        "name": name_of(&p.name, &p.email),
        "introduced": p.introduced,
        "gave_you": p.gave_you,
        "you_gave": p.you_gave,
        "was_introduced": p.was_introduced,
        "success": percent(p.success_rate),
        "rating": rating(p.average_rating),
        "value": money(&p.value),
    })
}

/// `/people`: page `page` (from 1) of the reciprocity ledger `stats` prints, [`PAGE`] lines
/// of it, read from the ledger the store keeps.
pub fn people(store: &Store, config: &Config, page: usize) -> Result<Value> {
    let page = page.max(1);
    let offset = (page - 1).saturating_mul(PAGE);
    let max = config.intake.max_amount;
    let (lines, more) = if store.ledger_uncounted()? == 0 {
        store.ledger_page(offset, PAGE, max)?
    } else {
        // Referrals the ledger has not counted (the page could not write it): the report
        // over every referral, as `stats` counts it.
        let all = report::build(None, &store.referrals_for_report(None)?, max).partners;
        let more = all.len() > offset.saturating_add(PAGE);
        (all.into_iter().skip(offset).take(PAGE).collect(), more)
    };
    let partners: Vec<Value> = lines.iter().map(partner).collect();
    let (you_made, you_received) = store.owners_referrals()?;
    Ok(json!({
        "partners": partners,
        "you_made": you_made,
        "you_received": you_received,
        "prev_page": (page > 1).then(|| format!("/people?page={}", page - 1)),
        "next_page": more.then(|| format!("/people?page={}", page + 1)),
    }))
}

/// `/people/EMAIL`: their line of the ledger and every referral they were in.
pub fn person(store: &Store, config: &Config, email: &str) -> Result<Value> {
    let max = config.intake.max_amount;
    let line = if store.ledger_uncounted()? == 0 {
        store.ledger_line(email, max)?
    } else {
        // Not all counted in the ledger: the report over the referrals they were in.
        report::build(
            None,
            &store.referrals_for_report_of(None, Some(email))?,
            max,
        )
        .partners
        .into_iter()
        .find(|p| p.email == email)
    };
    let line = line.as_ref();
    let filter = ReferralFilter {
        person: Some(email.to_string()),
        ..ReferralFilter::default()
    };
    let (list, more) = store.referrals_page(&filter, 0, ON_PERSON)?;
    let name = line
        .map(|p| name_of(&p.name, &p.email))
        .or_else(|| {
            list.iter().find_map(|r| {
                std::iter::once(Person::clone(&r.introducer))
                    .chain(r.parties.iter().map(|p| Person {
                        email: p.email.clone(),
                        name: p.name.clone(),
                    }))
                    .find(|p| p.email == email)
                    .map(|p| p.name_or_email().to_string())
            })
        })
        .unwrap_or_else(|| email.to_string());
    let referrals: Vec<Value> = list
        .iter()
        .map(|r| json!({ "id": r.id, "status": r.status.as_str(), "subject": r.subject }))
        .collect();
    Ok(json!({
        "email": email,
        "name": name,
        "partner": line.map(partner),
        "referrals": referrals,
        "more": more,
    }))
}

/// `/stats`: the `stats` figures from `since` (a day in the owner's timezone), and the charts:
/// referrals per month by status, connection and success rate per month, the ratings, and
/// closed business per month in each currency.
pub fn stats(store: &Store, config: &Config, since: Option<NaiveDate>) -> Result<Value> {
    let start = since.map(|d| Since::Day(d).start(config.owner.timezone));
    // The same figures `stats` prints, counted without reading every referral.
    let (report, figures) = store.figures(start, config.intake.max_amount)?;
    let business: Vec<Value> = svg::business_per_month(&figures.months)
        .into_iter()
        .map(|(currency, chart)| json!({ "currency": currency, "chart": chart }))
        .collect();
    let by_status: Vec<(String, usize)> = report
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str().to_string(), *n))
        .collect();
    let chart = svg::referrals_per_month(&figures.per_status);
    Ok(json!({
        "since": since.map(|d| d.to_string()).unwrap_or_default(),
        // The figures only: the ledger (one line per person) is the people page's.
        "report": {
            "referrals": report.referrals,
            "ratings": report.ratings,
            "you_made": report.you_made,
            "you_received": report.you_received,
        },
        "by_status": by_status,
        "connection_rate": percent(report.connection_rate),
        "success_rate": percent(report.success_rate),
        "average_rating": rating(report.average_rating),
        "closed_business": money(&report.closed_business),
        "per_month": chart,
        "rates": svg::rates_per_month(&figures.months),
        "ratings": svg::ratings(&figures.ratings),
        "business": business,
        "more_currencies": report.closed_business.len() > business.len(),
    }))
}
