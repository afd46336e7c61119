//! Data portability (SPEC §5 `export`): every referral, oldest first, as JSON — an array of
//! the objects `show --json` prints — or as CSV, one row per referral. Written while it is
//! read, one referral at a time, so memory stays flat however many there are.

use std::borrow::Cow;
use std::io::{self, Write};

use anyhow::Result;

use crate::report;
use crate::store::{ReferralDetail, Store};

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 13] = [
    "id",
    "status",
    "created_at",
    "subject",
    "introducer_email",
    "introducer_name",
    "parties",
    "party_states",
    "rating",
    "outcomes",
    "value",
    "currency",
    "answers",
];

/// Writes every referral as a JSON array of `show --json` objects; returns how many.
pub fn json(store: &Store, out: &mut impl Write) -> Result<usize> {
    let mut count = 0;
    out.write_all(b"[")?;
    store.each_referral(|detail| {
        out.write_all(if count == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer_pretty(&mut *out, &detail)?;
        count += 1;
        Ok(())
    })?;
    out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })?;
    Ok(count)
}

/// Writes every referral as CSV (RFC 4180, with a header line); returns how many. Values
/// above `max_amount` are not counted as closed business (see [`csv_row`]).
pub fn csv(store: &Store, out: &mut impl Write, max_amount: f64) -> Result<usize> {
    let mut count = 0;
    write_record(out, &CSV_HEADER)?;
    store.each_referral(|detail| {
        write_record(out, &csv_row(&detail, max_amount))?;
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// One referral as a CSV row, in [`CSV_HEADER`]'s order. Ratings, outcomes and value follow
/// `stats`: each person's latest answer counts, a deal both parties report counts once, and
/// a value above `max_amount` not at all.
pub fn csv_row(d: &ReferralDetail, max_amount: f64) -> Vec<String> {
    let r = &d.referral;
    let facts = report_facts(d);
    let latest = facts.latest(max_amount);
    let name_of = |email: &str| {
        std::iter::once((&r.introducer.email, &r.introducer.name))
            .chain(r.parties.iter().map(|p| (&p.email, &p.name)))
            .find(|(e, _)| *e == email)
            .map_or(email.to_string(), |(_, n)| n.clone())
    };
    let outcomes: Vec<String> = latest
        .iter()
        .filter_map(|l| l.outcome.map(|o| format!("{}: {o}", name_of(&l.from))))
        .collect();
    let business = report::Referral::closed_business(&latest);
    let values: Vec<String> = business.iter().map(|m| m.value.to_string()).collect();
    let currencies: Vec<&str> = business
        .iter()
        .map(|m| m.currency.as_deref().unwrap_or(""))
        .collect();
    let parties: Vec<String> = r
        .parties
        .iter()
        .map(|p| {
            // A person without a known name is written as their address alone.
            crate::model::Person {
                email: p.email.clone(),
                name: p.name.clone(),
            }
            .to_string()
        })
        .collect();
    let states: Vec<&str> = r.parties.iter().map(|p| p.state.as_str()).collect();
    vec![
        r.id.to_string(),
        r.status.to_string(),
        r.created_at.clone(),
        r.subject.clone(),
        r.introducer.email.clone(),
        r.introducer.name.clone(),
        parties.join("; "),
        states.join("; "),
        report::Referral::average_rating(&latest)
            .map(|a| ((a * 100.0).round() / 100.0).to_string())
            .unwrap_or_default(),
        outcomes.join("; "),
        values.join("; "),
        currencies.join("; "),
        d.feedback.len().to_string(),
    ]
}

/// What the report needs of a referral shown in full.
fn report_facts(d: &ReferralDetail) -> report::Referral {
    let r = &d.referral;
    report::Referral {
        id: r.id,
        status: r.status,
        introducer: report::Participant {
            email: r.introducer.email.clone(),
            name: r.introducer.name.clone(),
            // Not needed for one row: who the owner is matters to the ledger only.
            is_owner: false,
        },
        parties: r
            .parties
            .iter()
            .map(|p| report::Participant {
                email: p.email.clone(),
                name: p.name.clone(),
                is_owner: p.is_owner,
            })
            .collect(),
        feedback: d.feedback.clone(),
    }
}

/// Writes one CSV record: fields quoted where RFC 4180 requires it, ended by CRLF.
pub fn write_record<S: AsRef<str>>(out: &mut impl Write, fields: &[S]) -> io::Result<()> {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(csv_field(field.as_ref()).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

/// One field as RFC 4180 writes it: a field holding a comma, a double quote, CR or LF is
/// enclosed in double quotes, and each double quote inside is doubled.
pub fn csv_field(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

/// A strict RFC 4180 reader, for tests to check what the writer wrote (shared with the
/// integration tests).
#[cfg(test)]
#[path = "../tests/support/csv.rs"]
pub(crate) mod csv_reader;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("Müller & Søn — 東京"), "Müller & Søn — 東京");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(
            csv_field("He said \"hi\""),
            "\"He said \"\"hi\"\"\"",
            "inner quotes are doubled"
        );
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\ronly"), "\"cr\ronly\"");
        assert_eq!(csv_field("\""), "\"\"\"\"");
        // Spaces and semicolons need no quotes in RFC 4180.
        assert_eq!(csv_field(" padded; "), " padded; ");
    }

    #[test]
    fn records_end_with_crlf_and_read_back_field_for_field() {
        let nasty = [
            "1",
            "Intro: Fred, meet \"Sally\"",
            "line one\r\nline two\nline three",
            "Zoë Ångström <zoe@例え.jp>",
            "",
            ",",
        ];
        let mut out = Vec::new();
        write_record(&mut out, &nasty).unwrap();
        write_record(&mut out, &["last"]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("\r\nlast\r\n"), "{text:?}");
        assert_eq!(csv_reader::read_csv(&text), [nasty.to_vec(), vec!["last"]]);
    }
}
