//! The variables a template sees: the public contract of `templates/README.md`. Every name
//! here is documented there, and a test keeps the two in step.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use serde::Serialize;

use super::Draft;
use super::words;
use crate::model::{Answer, OutboundKind, Person, ReferralId, clean_name};

/// The fields of every person variable (`recipient`, `introducer`, list items, `feedback.from`).
pub const PERSON_FIELDS: &[&str] = &["name", "first_name", "email", "is_owner", "named"];
/// The fields of `owner`.
pub const OWNER_FIELDS: &[&str] = &["name", "first_name", "email", "about"];
/// The fields of `referral`.
pub const REFERRAL_FIELDS: &[&str] =
    &["id", "subject", "topic", "introduced_on", "introduced_when"];
/// The fields of each `feedback` item. Loop items are checked by the sample renders, not by
/// path, so only the tests read this list: it keeps the context and the README in step.
#[cfg(test)]
pub const FEEDBACK_FIELDS: &[&str] = &[
    "from",
    "rating",
    "outcome",
    "outcome_words",
    "value",
    "currency",
    "value_text",
    "comment",
];

/// What a variable holds, for checking the attribute paths a template uses.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A string, number or boolean: no attributes.
    Plain,
    /// A person: [`PERSON_FIELDS`].
    Person,
    /// The owner: [`OWNER_FIELDS`].
    Owner,
    /// The referral: [`REFERRAL_FIELDS`].
    Referral,
    /// A list: items are reached by looping, not by attribute.
    List,
}

/// The variables every kind may use.
const COMMON: &[(&str, Shape)] = &[
    ("recipient", Shape::Person),
    ("owner", Shape::Owner),
    ("introducer", Shape::Person),
    ("parties", Shape::List),
    ("other_parties", Shape::List),
    ("third_parties", Shape::List),
    ("owner_is_party", Shape::Plain),
    ("owner_is_introducer", Shape::Plain),
    ("referral", Shape::Referral),
    ("reply_subject", Shape::Plain),
    ("tracking_address", Shape::Plain),
    ("heard_from", Shape::List),
    ("heard_when", Shape::Plain),
    ("told_by", Shape::List),
    ("told_us", Shape::Plain),
];

/// Variables only some kinds have.
fn extra(kind: OutboundKind) -> &'static [(&'static str, Shape)] {
    match kind {
        OutboundKind::OutcomeReport => &[("feedback", Shape::List)],
        _ => &[],
    }
}

fn variables(kind: OutboundKind) -> impl Iterator<Item = (&'static str, Shape)> {
    COMMON.iter().chain(extra(kind)).copied()
}

/// The top-level variable names `kind` templates may use, in documentation order.
pub fn names(kind: OutboundKind) -> Vec<&'static str> {
    variables(kind).map(|(name, _)| name).collect()
}

/// The attributes of a top-level variable, when it has any.
pub fn fields_of(kind: OutboundKind, name: &str) -> Option<&'static [&'static str]> {
    match variables(kind).find(|(n, _)| *n == name)?.1 {
        Shape::Person => Some(PERSON_FIELDS),
        Shape::Owner => Some(OWNER_FIELDS),
        Shape::Referral => Some(REFERRAL_FIELDS),
        Shape::Plain | Shape::List => None,
    }
}

/// Whether a variable path reported by minijinja (`recipient`, `recipient.first_name`) is one
/// `kind` templates may use.
pub fn allowed(kind: OutboundKind, path: &str) -> bool {
    let mut parts = path.split('.');
    let Some(head) = parts.next() else {
        return false;
    };
    let Some((_, shape)) = variables(kind).find(|(name, _)| *name == head) else {
        return false;
    };
    let fields: &[&str] = match shape {
        Shape::Person => PERSON_FIELDS,
        Shape::Owner => OWNER_FIELDS,
        Shape::Referral => REFERRAL_FIELDS,
        Shape::Plain | Shape::List => &[],
    };
    match (parts.next(), parts.next()) {
        (None, _) => true,
        (Some(field), None) => fields.contains(&field),
        // No variable nests deeper than one attribute (loop items aside).
        (Some(_), Some(_)) => false,
    }
}

/// Who the owner is, as the composer knows them.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Display name, e.g. "Alice Smith".
    pub name: String,
    /// Every address the owner writes from (lower-cased).
    pub emails: Vec<String>,
    /// One clause on who the owner is (`[owner] about`), or empty.
    pub about: String,
}

impl Owner {
    /// Whether `person` is the owner, by any of her addresses.
    pub fn is(&self, person: &Person) -> bool {
        self.emails
            .iter()
            .any(|e| e.eq_ignore_ascii_case(&person.email))
    }
}

/// Everything a template renders from. Field names are the documented variable names.
#[derive(Debug, Serialize)]
pub struct Context {
    recipient: PersonVars,
    owner: OwnerVars,
    introducer: PersonVars,
    parties: Vec<PersonVars>,
    other_parties: Vec<PersonVars>,
    third_parties: Vec<PersonVars>,
    owner_is_party: bool,
    owner_is_introducer: bool,
    referral: ReferralVars,
    reply_subject: String,
    tracking_address: String,
    heard_from: Vec<PersonVars>,
    heard_when: String,
    told_by: Vec<PersonVars>,
    told_us: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback: Option<Vec<FeedbackVars>>,
}

#[derive(Debug, Serialize)]
struct PersonVars {
    name: String,
    first_name: String,
    email: String,
    is_owner: bool,
    /// Whether referrald knows what they are called; when not, `name` and `first_name` are
    /// the address, and a greeting says "Hello," rather than "Hi ogrant@…,".
    named: bool,
}

#[derive(Debug, Serialize)]
struct OwnerVars {
    name: String,
    first_name: String,
    email: String,
    about: String,
}

#[derive(Debug, Serialize)]
struct ReferralVars {
    id: ReferralId,
    subject: String,
    topic: String,
    introduced_on: String,
    introduced_when: String,
}

#[derive(Debug, Serialize)]
struct FeedbackVars {
    from: PersonVars,
    rating: Option<u8>,
    outcome: Option<&'static str>,
    outcome_words: Option<&'static str>,
    value: Option<f64>,
    currency: Option<String>,
    value_text: Option<String>,
    comment: String,
}

impl Context {
    /// The variables for one draft, with dates reckoned in the owner's timezone at `now`.
    pub fn new(
        draft: &Draft,
        owner: &Owner,
        timezone: Tz,
        tracking_address: &str,
        now: DateTime<Utc>,
    ) -> Context {
        let person = |p: &Person| {
            // Names stored by an older version may still hold controls or be of any length.
            let clean = Person {
                email: p.email.clone(),
                name: clean_name(&p.name),
            };
            let named = !clean.name.is_empty();
            PersonVars {
                first_name: if named {
                    clean.first_name().to_string()
                } else {
                    clean.email.clone()
                },
                is_owner: owner.is(&clean),
                name: clean.name_or_email().to_string(),
                email: clean.email,
                named,
            }
        };
        let r = &draft.referral;
        let is_recipient = |p: &&Person| p.email.eq_ignore_ascii_case(&draft.to.email);
        let today = now.with_timezone(&timezone).date_naive();
        let introduced = r.introduced_at.with_timezone(&timezone).date_naive();
        let subject = words::one_line(&r.subject);
        let (subject, topic) = if subject.is_empty() {
            // An introduction without a subject still needs a thread to reply on.
            let names: Vec<String> = r
                .parties
                .iter()
                .map(|p| match p.first_name() {
                    "" => p.email.clone(),
                    first => first.to_string(),
                })
                .collect();
            let made_up = format!("Introduction: {}", crate::model::join_names(&names));
            (String::new(), made_up)
        } else {
            let topic = crate::subject::topic(&subject).to_string();
            (subject, topic)
        };
        let reply_subject = if subject.is_empty() {
            crate::subject::reply_subject(&topic)
        } else {
            crate::subject::reply_subject(&subject)
        };
        // What referrald already knows from the others, so a message can say it rather than
        // ask it: who wrote back and when, and what someone said about how it went.
        let others = |p: &Person| !is_recipient(&p) && !owner.is(p);
        let heard: Vec<&(Person, DateTime<Utc>)> =
            r.heard.iter().filter(|(p, _)| others(p)).collect();
        let heard_when = heard
            .iter()
            .map(|(_, at)| *at)
            .max()
            .map(|at| words::when(at.with_timezone(&timezone).date_naive(), today))
            .unwrap_or_default();
        let mut told: Vec<&Answer<Person>> = draft
            .feedback
            .iter()
            .filter(|f| f.outcome.is_some() && others(&f.from))
            .collect();
        told.sort_by_key(|f| f.at);
        let told_us = told
            .last()
            .and_then(|f| f.outcome)
            .map(|o| words::outcome_words(o).to_string())
            .unwrap_or_default();
        let owner_first = Person {
            email: String::new(),
            name: owner.name.clone(),
        };
        Context {
            recipient: person(&draft.to),
            owner: OwnerVars {
                name: words::one_line(&owner.name),
                first_name: words::one_line(owner_first.first_name()),
                email: owner.emails.first().cloned().unwrap_or_default(),
                about: words::one_line(&owner.about),
            },
            introducer: person(&r.introducer),
            parties: r.parties.iter().map(person).collect(),
            other_parties: r
                .parties
                .iter()
                .filter(|p| !is_recipient(p))
                .map(person)
                .collect(),
            third_parties: r
                .parties
                .iter()
                .filter(|p| !is_recipient(p) && !owner.is(p))
                .map(person)
                .collect(),
            owner_is_party: r.parties.iter().any(|p| owner.is(p)),
            owner_is_introducer: owner.is(&r.introducer),
            referral: ReferralVars {
                id: r.id,
                subject,
                topic,
                introduced_on: words::day_name(introduced, today),
                introduced_when: words::when(introduced, today),
            },
            reply_subject,
            tracking_address: tracking_address.to_string(),
            heard_from: heard.iter().map(|(p, _)| person(p)).collect(),
            heard_when,
            told_by: told.iter().map(|f| person(&f.from)).collect(),
            told_us,
            feedback: (draft.kind == OutboundKind::OutcomeReport).then(|| {
                draft
                    .feedback
                    .iter()
                    .map(|f: &Answer<Person>| FeedbackVars {
                        from: person(&f.from),
                        rating: f.rating.filter(|r| (1..=5).contains(r)),
                        outcome: f.outcome.map(|o| o.as_str()),
                        outcome_words: f.outcome.map(words::outcome_words),
                        value: f.value.filter(|v| v.is_finite()),
                        currency: f.currency.as_ref().map(|c| c.trim().to_uppercase()),
                        value_text: f.value.and_then(|v| words::money(v, f.currency.as_deref())),
                        comment: words::comment(&f.comment),
                    })
                    .collect()
            }),
        }
    }
}

/// The `first_names` filter: "Fred", "Fred and Sally", "Fred, Sally and Tom". Two people
/// who share a first name are told apart by their full names.
pub fn first_names(people: Value) -> Result<String, Error> {
    let list = name_list(&people)?;
    let firsts: Vec<String> = list
        .iter()
        .map(|(first, full)| {
            let shared = list.iter().filter(|(f, _)| f == first).count() > 1;
            if shared { full.clone() } else { first.clone() }
        })
        .collect();
    Ok(crate::model::join_names(&firsts))
}

/// The `full_names` filter: "Fred Bloggs and Sally Jones".
pub fn full_names(people: Value) -> Result<String, Error> {
    let fulls: Vec<String> = name_list(&people)?
        .into_iter()
        .map(|(_, full)| full)
        .collect();
    Ok(crate::model::join_names(&fulls))
}

/// The `and_list` filter: any list of strings joined the same way.
pub fn and_list(items: Value) -> Result<String, Error> {
    let items: Vec<String> = items
        .try_iter()?
        .map(|item| match item.as_str() {
            Some(s) => s.to_string(),
            None => item.to_string(),
        })
        .collect();
    Ok(crate::model::join_names(&items))
}

/// (first name, full name) of each person in a list of people or plain names.
fn name_list(people: &Value) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for item in people.try_iter()? {
        if let Some(name) = item.as_str() {
            out.push((name.to_string(), name.to_string()));
            continue;
        }
        let field = |key: &str| -> Result<String, Error> {
            let value = item.get_attr(key)?;
            value.as_str().map(str::to_string).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("expected a list of people (with `{key}`), got {item}"),
                )
            })
        };
        out.push((field("first_name")?, field("name")?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_against_the_documented_shape() {
        let kind = OutboundKind::FollowUp;
        assert!(allowed(kind, "recipient"));
        assert!(allowed(kind, "recipient.first_name"));
        assert!(allowed(kind, "referral.introduced_on"));
        assert!(allowed(kind, "owner.first_name"));
        assert!(!allowed(kind, "owner.emails"));
        assert!(!allowed(kind, "recipient.nickname"));
        assert!(!allowed(kind, "recipient.name.upper"));
        assert!(!allowed(kind, "parties.name"));
        assert!(!allowed(kind, "feedback"));
        assert!(allowed(OutboundKind::OutcomeReport, "feedback"));
    }

    #[test]
    fn every_variable_is_documented() {
        let readme = include_str!("../../templates/README.md");
        let mut paths: Vec<String> = Vec::new();
        for kind in OutboundKind::ALL {
            paths.extend(names(*kind).into_iter().map(String::from));
        }
        for (var, fields) in [
            ("recipient", PERSON_FIELDS),
            ("introducer", PERSON_FIELDS),
            ("owner", OWNER_FIELDS),
            ("referral", REFERRAL_FIELDS),
            ("f", FEEDBACK_FIELDS),
        ] {
            paths.extend(fields.iter().map(|field| format!("{var}.{field}")));
        }
        for path in paths {
            assert!(
                readme.contains(&format!("`{path}`")),
                "templates/README.md lacks `{path}`"
            );
        }
    }

    #[test]
    fn the_context_has_exactly_the_documented_shape() {
        let owner = Owner {
            name: "Alice Smith".into(),
            emails: vec!["owner@sample.example".into()],
            about: String::new(),
        };
        for kind in OutboundKind::ALL {
            let draft = &super::super::samples::drafts(*kind, &owner.name, &owner.emails[0])[1];
            let context = Context::new(draft, &owner, Tz::UTC, "intros@x.example", Utc::now());
            let json = serde_json::to_value(&context).unwrap();
            let keys = |v: &serde_json::Value| -> Vec<String> {
                let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
                k.sort();
                k
            };
            let sorted = |list: &[&str]| -> Vec<String> {
                let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
                k.sort();
                k
            };
            assert_eq!(keys(&json), sorted(&names(*kind)), "{kind}");
            assert_eq!(keys(&json["recipient"]), sorted(PERSON_FIELDS));
            assert_eq!(keys(&json["parties"][0]), sorted(PERSON_FIELDS));
            assert_eq!(keys(&json["owner"]), sorted(OWNER_FIELDS));
            assert_eq!(keys(&json["referral"]), sorted(REFERRAL_FIELDS));
            if *kind == OutboundKind::OutcomeReport {
                assert_eq!(keys(&json["feedback"][0]), sorted(FEEDBACK_FIELDS));
            }
        }
    }
}
