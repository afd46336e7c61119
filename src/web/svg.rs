//! Charts drawn on the server as inline SVG: no JavaScript, no images to fetch, no inline
//! styles (the CSP allows only the stylesheet). Colours come from the stylesheet's classes
//! (one per status, `bar`, `line`), so dark and light both read.
//!
//! Every chart by month shares one axis: each month from the first to the last with a
//! referral, empty months included, at most the last [`MAX_MONTHS`] of them; so the charts of
//! one page line up month under month.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cli::print::amount;
use crate::model::ReferralStatus;
use crate::store::MonthFigures;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// Room for the axis labels ("100%", "12.5k"), the same in every chart so that they line up.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;
/// The height of the plot, between the top margin and the month labels.
const PLOT: f64 = HEIGHT - BOTTOM - TOP;
/// The most months a chart draws: the most recent ones (a longer span is a choice of `since`).
pub const MAX_MONTHS: usize = 60;
/// The most currencies drawn, one chart each: the ones with business in the most months.
pub const MAX_CURRENCIES: usize = 4;
/// How wide a month's label is, at the labels' size: closer labels are thinned out.
const LABEL_WIDTH: f64 = 46.0;

/// A stacked bar per month (`YYYY-MM`), one segment per status, with a legend.
pub fn referrals_per_month(rows: &[(String, ReferralStatus, usize)]) -> String {
    let mut months: BTreeMap<&str, BTreeMap<ReferralStatus, usize>> = BTreeMap::new();
    for (month, status, n) in rows {
        *months
            .entry(month.as_str())
            .or_default()
            .entry(*status)
            .or_default() += n;
    }
    let axis = MonthAxis::new(months.keys().copied());
    let most = months
        .values()
        .map(|m| m.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = open("per-month", "Referrals per month by status");
    y_labels(&mut svg, &most.to_string(), "0");
    for (i, month) in axis.months.iter().enumerate() {
        let Some(counts) = months.get(month.as_str()) else {
            continue;
        };
        let (x, bar) = axis.bar(i);
        let mut y = TOP + PLOT;
        for status in ReferralStatus::ALL {
            let n = counts.get(status).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = PLOT * n as f64 / most as f64;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect class="s-{status}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{month}: {n} {status}</title></rect>"#,
                status = status.as_str(),
                month = escape(month)
            );
        }
    }
    axis.labels(&mut svg);
    let legend: Vec<(String, &str)> = ReferralStatus::ALL
        .iter()
        .map(|s| (format!("s-{}", s.as_str()), s.as_str()))
        .collect();
    self::legend(&mut svg, &legend);
    svg.push_str("</svg>");
    svg
}

/// Which of a month's referrals a line counts.
type Count = fn(&MonthFigures) -> usize;

/// Two lines over the months: the share of each month's referrals that connected, and the
/// share that succeeded. A month without referrals has no rate: the lines break there.
pub fn rates_per_month(months: &[MonthFigures]) -> String {
    let axis = MonthAxis::new(months.iter().map(|m| m.month.as_str()));
    let by_month: BTreeMap<&str, &MonthFigures> =
        months.iter().map(|m| (m.month.as_str(), m)).collect();
    let mut svg = open("rates", "Connection and success rate per month");
    y_labels(&mut svg, "100%", "0%");
    let series: [(&str, &str, Count); 2] = [
        ("s-connected", "connected", |m| m.connected),
        ("s-succeeded", "succeeded", |m| m.succeeded),
    ];
    for (class, word, count) in series {
        // Runs of months with referrals, each one polyline; every point has its figures.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        let mut points = String::new();
        for (i, month) in axis.months.iter().enumerate() {
            let Some(m) = by_month.get(month.as_str()).filter(|m| m.referrals > 0) else {
                if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
                continue;
            };
            let part = count(m);
            let rate = part as f64 / m.referrals as f64;
            let (x, y) = (axis.center(i), TOP + PLOT * (1.0 - rate));
            if let Some(run) = runs.last_mut() {
                run.push((x, y));
            }
            let _ = write!(
                points,
                r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="3"><title>{month}: {part} of {n} {word} ({percent:.0}%)</title></circle>"#,
                month = escape(month),
                n = m.referrals,
                percent = rate * 100.0
            );
        }
        for run in runs.iter().filter(|r| r.len() > 1) {
            let line: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                svg,
                r#"<polyline class="line {class}" points="{}"/>"#,
                line.join(" ")
            );
        }
        svg.push_str(&points);
    }
    axis.labels(&mut svg);
    legend(
        &mut svg,
        &[
            ("s-connected".into(), "connection rate"),
            ("s-succeeded".into(), "success rate"),
        ],
    );
    svg.push_str("</svg>");
    svg
}

/// A bar for each rating from 1 to 5: how many people gave it (each person's latest rating
/// on each referral, the ones the average is over).
pub fn ratings(counts: &[usize; 5]) -> String {
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut svg = open("ratings", "Ratings given, from 1 to 5");
    y_labels(&mut svg, &most.to_string(), "0");
    let slot = (WIDTH - LEFT) / 5.0;
    let bar = (slot * 0.7).min(64.0);
    for (i, n) in counts.iter().enumerate() {
        let stars = i + 1;
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let h = PLOT * *n as f64 / most as f64;
        let y = TOP + PLOT - h;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{stars} of 5: {n} rating{s}</title></rect><text class="label" x="{cx:.1}" y="{ty}" text-anchor="middle">{stars} ({n})</text>"#,
            s = if *n == 1 { "" } else { "s" },
            cx = x + bar / 2.0,
            ty = HEIGHT - 6.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Closed business per month, one chart per currency (amounts in different currencies are
/// never added up): the [`MAX_CURRENCIES`] with business in the most months, each with its
/// name. None when no business was closed.
pub fn business_per_month(months: &[MonthFigures]) -> Vec<(String, String)> {
    let mut currencies: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for money in months.iter().flat_map(|m| &m.business) {
        *currencies.entry(money.currency.as_deref()).or_default() += 1;
    }
    let mut order: Vec<(Option<&str>, usize)> = currencies.into_iter().collect();
    // Most months first; then named currencies alphabetically, an amount without one last.
    order.sort_by(|(a, n), (b, m)| m.cmp(n).then((a.is_none(), a).cmp(&(b.is_none(), b))));
    order
        .into_iter()
        .take(MAX_CURRENCIES)
        .enumerate()
        .map(|(i, (currency, _))| {
            let name = currency.unwrap_or("no currency named").to_string();
            (name, business_chart(months, currency, i))
        })
        .collect()
}

/// One currency's chart of [`business_per_month`]; `n` tells its title's id from the others'.
fn business_chart(months: &[MonthFigures], currency: Option<&str>, n: usize) -> String {
    let value_in = |m: &MonthFigures| {
        m.business
            .iter()
            .find(|b| b.currency.as_deref() == currency)
            .map(|b| b.value)
    };
    let most = months.iter().filter_map(value_in).fold(0.0, f64::max);
    let axis = MonthAxis::new(months.iter().map(|m| m.month.as_str()));
    let by_month: BTreeMap<&str, f64> = months
        .iter()
        .filter_map(|m| Some((m.month.as_str(), value_in(m)?)))
        .collect();
    let code = escape(currency.unwrap_or(""));
    let mut svg = open(
        &format!("business-{n}"),
        &format!(
            "Closed business per month {}",
            if code.is_empty() {
                "(no currency named)"
            } else {
                &code
            }
        ),
    );
    y_labels(&mut svg, &short_amount(most), "0");
    for (i, month) in axis.months.iter().enumerate() {
        let Some(value) = by_month.get(month.as_str()).filter(|v| **v > 0.0) else {
            continue;
        };
        let (x, bar) = axis.bar(i);
        let h = PLOT * value / most.max(f64::MIN_POSITIVE);
        let _ = write!(
            svg,
            r#"<rect class="bar business" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{month}: {worth} {code}</title></rect>"#,
            y = TOP + PLOT - h,
            month = escape(month),
            worth = amount(*value, currency),
        );
    }
    axis.labels(&mut svg);
    svg.push_str("</svg>");
    svg
}

/// The months along the bottom of a chart, and where each one's slot is.
struct MonthAxis {
    months: Vec<String>,
    slot: f64,
}

impl MonthAxis {
    /// Every month from the earliest to the latest of `months` (`YYYY-MM`; anything else is
    /// left out), the last [`MAX_MONTHS`] of them.
    fn new<'m>(months: impl Iterator<Item = &'m str>) -> MonthAxis {
        let numbers: Vec<i64> = months.filter_map(month_number).collect();
        let months: Vec<String> = match (numbers.iter().min(), numbers.iter().max()) {
            (Some(&first), Some(&last)) => {
                let first = first.max(last - MAX_MONTHS as i64 + 1);
                (first..=last)
                    .map(|n| format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1))
                    .collect()
            }
            _ => Vec::new(),
        };
        let slot = (WIDTH - LEFT) / months.len().max(1) as f64;
        MonthAxis { months, slot }
    }

    /// The left edge and width of month `i`'s bar.
    fn bar(&self, i: usize) -> (f64, f64) {
        let bar = (self.slot * 0.7).min(48.0);
        (LEFT + self.slot * i as f64 + (self.slot - bar) / 2.0, bar)
    }

    /// The middle of month `i`'s slot.
    fn center(&self, i: usize) -> f64 {
        LEFT + self.slot * (i as f64 + 0.5)
    }

    /// The months' names under their slots, every n-th one when they would overlap (always
    /// the last).
    fn labels(&self, svg: &mut String) {
        let every = (LABEL_WIDTH / self.slot).ceil().max(1.0) as usize;
        let last = self.months.len().saturating_sub(1);
        for (i, month) in self.months.iter().enumerate() {
            if !(last - i).is_multiple_of(every) {
                continue;
            }
            let _ = write!(
                svg,
                r#"<text class="label" x="{cx:.1}" y="{ty}" text-anchor="middle">{month}</text>"#,
                cx = self.center(i),
                ty = HEIGHT - 6.0,
                month = escape(month)
            );
        }
    }
}

/// An amount short enough for the axis' top label: 950, 12.5k, 3M (the bars' titles say it
/// exactly).
fn short_amount(value: f64) -> String {
    let (scaled, unit) = [(1e9, "B"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(size, _)| value >= *size)
        .map_or((value, ""), |(size, unit)| (value / size, unit));
    let text = format!("{scaled:.1}");
    format!("{}{unit}", text.trim_end_matches(".0"))
}

/// `YYYY-MM` as a count of months since year 0, so that months can be stepped through.
fn month_number(text: &str) -> Option<i64> {
    let (year, month) = text.split_once('-')?;
    let (year, month): (i64, i64) = (year.parse().ok()?, month.parse().ok()?);
    ((1..=12).contains(&month) && (0..=9999).contains(&year)).then_some(year * 12 + month - 1)
}

/// The start of a chart, with its accessible title (and room under the plot for a legend).
fn open(id: &str, title: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {h}" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title>"#,
        h = HEIGHT + 20.0
    )
}

/// The baseline, and the values at the top and the bottom of the plot.
fn y_labels(svg: &mut String, top: &str, bottom: &str) {
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{y}" x2="{WIDTH}" y2="{y}"/><text class="label" x="{x}" y="{t}" text-anchor="end">{top}</text><text class="label" x="{x}" y="{y}" text-anchor="end">{bottom}</text>"#,
        y = TOP + PLOT,
        x = LEFT - 4.0,
        t = TOP + 10.0,
        top = escape(top),
        bottom = escape(bottom)
    );
}

/// A row of (class, name) swatches under the plot.
fn legend(svg: &mut String, entries: &[(String, &str)]) {
    let mut x = LEFT;
    for (class, name) in entries {
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{x}" y="{y}" width="10" height="10"/><text class="label" x="{tx}" y="{ty}">{name}</text>"#,
            y = HEIGHT + 4.0,
            tx = x + 14.0,
            ty = HEIGHT + 13.0,
            name = escape(name)
        );
        x += if name.len() > 12 { 140.0 } else { 100.0 };
    }
}

/// Text made safe for SVG (XML) content and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Money;

    #[test]
    fn one_bar_per_month_stacked_by_status() {
        let svg = referrals_per_month(&[
            ("2026-10".into(), ReferralStatus::Open, 2),
            ("2026-11".into(), ReferralStatus::Succeeded, 1),
            ("2026-11".into(), ReferralStatus::Open, 3),
        ]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("2026-10: 2 open"));
        assert!(svg.contains("2026-11: 1 succeeded"));
        // The tallest month (4) fills the plot: 188 px for 4, 47 for 1.
        assert!(
            svg.contains(r#"height="141.0"><title>2026-11: 3 open"#),
            "{svg}"
        );
    }

    #[test]
    fn no_referrals_draws_an_empty_chart() {
        let svg = referrals_per_month(&[]);
        assert!(svg.contains("</svg>") && !svg.contains("<title>20"));
        assert!(rates_per_month(&[]).ends_with("</svg>"));
        assert!(ratings(&[0; 5]).contains(r#"height="0.0""#));
        assert!(business_per_month(&[]).is_empty());
    }

    fn month(month: &str, referrals: usize, connected: usize, succeeded: usize) -> MonthFigures {
        MonthFigures {
            month: month.into(),
            referrals,
            connected,
            succeeded,
            business: Vec::new(),
        }
    }

    #[test]
    fn months_without_referrals_keep_their_place_on_the_axis() {
        let axis = MonthAxis::new(["2026-11", "2025-12", "nonsense", "2026-13"].into_iter());
        assert_eq!(axis.months.len(), 12);
        assert_eq!(axis.months.first().map(String::as_str), Some("2025-12"));
        assert_eq!(axis.months.last().map(String::as_str), Some("2026-11"));
        // A span longer than MAX_MONTHS keeps the most recent.
        let axis = MonthAxis::new(["1990-01", "2026-11"].into_iter());
        assert_eq!(axis.months.len(), MAX_MONTHS);
        assert_eq!(axis.months[0], "2021-12");
        // 60 slots of 9.7 px: every fifth label, the last one included.
        let mut svg = String::new();
        axis.labels(&mut svg);
        assert_eq!(svg.matches("<text").count(), 12, "{svg}");
        assert!(svg.contains(">2026-11<") && svg.contains(">2026-06<"));
        assert!(!svg.contains(">2026-10<"));
    }

    #[test]
    fn rates_are_points_on_a_line_from_0_to_100_percent_broken_by_empty_months() {
        let svg = rates_per_month(&[
            month("2026-08", 4, 4, 1),
            month("2026-09", 2, 1, 0),
            // October: no referrals, so no rate.
            month("2026-11", 1, 0, 0),
        ]);
        // Four slots of 146 px from x = 56; the plot is 188 px high from y = 8.
        assert!(
            svg.contains(r#"cx="129.0" cy="8.0" r="3"><title>2026-08: 4 of 4 connected (100%)"#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"cx="275.0" cy="102.0" r="3"><title>2026-09: 1 of 2 connected (50%)"#)
        );
        assert!(
            svg.contains(r#"cx="567.0" cy="196.0" r="3"><title>2026-11: 0 of 1 connected (0%)"#)
        );
        assert!(svg.contains(r#"cy="149.0" r="3"><title>2026-08: 1 of 4 succeeded (25%)"#));
        assert!(!svg.contains("2026-10:"));
        // August to September is one line per rate; November stands alone.
        assert!(
            svg.contains(r#"<polyline class="line s-connected" points="129.0,8.0 275.0,102.0"/>"#)
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
    }

    #[test]
    fn ratings_are_five_bars_scaled_to_the_most_given() {
        let svg = ratings(&[0, 1, 0, 2, 4]);
        // 4 fills the plot (188 px), 2 half of it, 1 a quarter.
        assert!(
            svg.contains(r#"height="188.0"><title>5 of 5: 4 ratings"#),
            "{svg}"
        );
        assert!(svg.contains(r#"height="94.0"><title>4 of 5: 2 ratings"#));
        assert!(svg.contains(r#"height="47.0"><title>2 of 5: 1 rating<"#));
        assert!(svg.contains(r#"height="0.0"><title>1 of 5: 0 ratings"#));
        assert!(svg.contains(">5 (4)<"));
    }

    #[test]
    fn the_top_of_an_amount_axis_is_short() {
        assert_eq!(short_amount(950.0), "950");
        assert_eq!(short_amount(12_000.0), "12k");
        assert_eq!(short_amount(12_500.0), "12.5k");
        assert_eq!(short_amount(3_000_000.0), "3M");
        assert_eq!(short_amount(2.5e9), "2.5B");
    }

    #[test]
    fn business_is_drawn_per_currency_never_summed_across_them() {
        let money = |currency: Option<&str>, value: f64| Money {
            currency: currency.map(str::to_string),
            value,
        };
        let mut october = month("2026-10", 3, 2, 2);
        october.business = vec![money(Some("EUR"), 12_000.0), money(Some("USD"), 500.0)];
        let mut november = month("2026-11", 2, 1, 1);
        november.business = vec![money(Some("EUR"), 3_000.0), money(Some("<b>"), 1.0)];
        let charts = business_per_month(&[october, november]);
        let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
        // EUR has business in two months, so it comes first.
        assert_eq!(names, ["EUR", "<b>", "USD"]);
        let eur = &charts[0].1;
        assert!(eur.contains(">12k<"), "the top of the axis: {eur}");
        assert!(
            eur.contains(r#"height="188.0"><title>2026-10: 12,000 EUR"#),
            "{eur}"
        );
        assert!(
            eur.contains(r#"height="47.0"><title>2026-11: 3,000 EUR"#),
            "{eur}"
        );
        assert!(
            !eur.contains("500")
                && !charts[2].1.contains("12,000")
                && !charts[2].1.contains(">12k<")
        );
        // A currency code came from someone's mail: escaped, like every word from mail.
        assert!(charts[1].1.contains("&lt;b&gt;") && !charts[1].1.contains("<b>"));

        // However many currencies there are, the page holds MAX_CURRENCIES charts.
        let mut many = month("2026-11", 6, 6, 6);
        many.business = ["AUD", "CAD", "CHF", "EUR", "GBP", "USD"]
            .iter()
            .map(|c| money(Some(c), 1.0))
            .collect();
        let charts = business_per_month(&[many]);
        assert_eq!(charts.len(), MAX_CURRENCIES);
        assert_eq!(charts[0].0, "AUD");
    }
}
