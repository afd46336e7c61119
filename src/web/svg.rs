//! Charts drawn on the server as inline SVG: no JavaScript, no images to fetch. Colours come
//! from the stylesheet (one class per status), so dark and light both read.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::ReferralStatus;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// Room for the axis labels.
const LEFT: f64 = 32.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

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
    let most = months
        .values()
        .map(|m| m.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {h}" role="img" aria-labelledby="per-month-title" xmlns="http://www.w3.org/2000/svg"><title id="per-month-title">Referrals per month by status</title>"#,
        h = HEIGHT + 20.0
    );
    let plot = HEIGHT - BOTTOM - TOP;
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{y}" x2="{WIDTH}" y2="{y}"/><text class="label" x="{x}" y="{t}" text-anchor="end">{most}</text><text class="label" x="{x}" y="{y}" text-anchor="end">0</text>"#,
        y = TOP + plot,
        x = LEFT - 4.0,
        t = TOP + 10.0
    );
    if !months.is_empty() {
        let slot = (WIDTH - LEFT) / months.len() as f64;
        let bar = (slot * 0.7).min(48.0);
        for (i, (month, counts)) in months.iter().enumerate() {
            let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
            let mut y = TOP + plot;
            for status in ReferralStatus::ALL {
                let n = counts.get(status).copied().unwrap_or(0);
                if n == 0 {
                    continue;
                }
                let h = plot * n as f64 / most as f64;
                y -= h;
                let _ = write!(
                    svg,
                    r#"<rect class="s-{status}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{month}: {n} {status}</title></rect>"#,
                    status = status.as_str(),
                    month = escape(month)
                );
            }
            let _ = write!(
                svg,
                r#"<text class="label" x="{cx:.1}" y="{ty}" text-anchor="middle">{month}</text>"#,
                cx = x + bar / 2.0,
                ty = HEIGHT - 6.0,
                month = escape(month)
            );
        }
    }
    let mut x = LEFT;
    for status in ReferralStatus::ALL {
        let _ = write!(
            svg,
            r#"<rect class="s-{s}" x="{x}" y="{y}" width="10" height="10"/><text class="label" x="{tx}" y="{ty}">{s}</text>"#,
            s = status.as_str(),
            y = HEIGHT + 4.0,
            tx = x + 14.0,
            ty = HEIGHT + 13.0
        );
        x += 100.0;
    }
    svg.push_str("</svg>");
    svg
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
    }
}
