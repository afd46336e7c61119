//! Options in the address: what the owner asks of one referral by copying the tracking address
//! with a `+detail` (`intros+nothanks+5d@…`). Pure: addresses in, [`Options`] out.
//!
//! - `quiet`: record the referral and send nothing about it, ever;
//! - `nothanks`: no thank-you to the introducer;
//! - a duration (`36h`, `3d`, `1w`, within [`MIN_DELAY`]..=[`MAX_DELAY`]): the follow-up delay;
//! - `stop` / `unsubscribe`: the sender asks not to be emailed again (never an introduction).
//!
//! Options combine and are read case-insensitively; anything else is ignored and listed.
//! Every option makes us send less or later, except a delay shorter than `follow-up-after`.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// The shortest follow-up delay an address may ask for.
pub const MIN_DELAY: Duration = Duration::from_secs(3600);
/// The longest follow-up delay an address may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(90 * 86400);

/// At most this many options are read from one message; a hostile address may hold thousands.
const MAX_OPTIONS: usize = 16;
/// At most this many unknown options are listed on a referral.
const MAX_UNKNOWN: usize = 8;
/// An unknown option is listed cut to this many characters.
const MAX_SHOWN: usize = 32;

/// What the addresses asked for. The default is what an address without options means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Options {
    /// Record the referral, send nothing about it.
    pub quiet: bool,
    /// Whether the introducer gets a thank-you (`+nothanks` says no).
    pub thanks: bool,
    /// The follow-up delay for this referral, instead of `follow-up-after`.
    pub follow_up_after: Option<Delay>,
    /// Options not understood: ignored, listed so the owner sees the typo.
    pub unknown: Vec<String>,
    /// The sender asks not to be emailed again (`+stop`, `+unsubscribe`): the message is an
    /// opt-out, never an introduction, so this is never stored with a referral.
    #[serde(skip)]
    pub stop: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quiet: false,
            thanks: true,
            follow_up_after: None,
            unknown: Vec::new(),
            stop: false,
        }
    }
}

/// A follow-up delay, as written in the address and as a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delay {
    /// As written, lower-cased (`5d`).
    pub written: String,
    /// How long.
    pub span: Duration,
}

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.written)
    }
}

impl Options {
    /// Whether these are the options of an address without any.
    pub fn is_default(&self) -> bool {
        *self == Options::default()
    }

    /// One line for people: `quiet, no thank-you, follow-up after 5d, ignored: foo`; "" when
    /// there is nothing to say.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.quiet {
            parts.push("quiet (nothing is sent)".to_string());
        }
        if !self.thanks {
            parts.push("no thank-you".to_string());
        }
        if let Some(d) = &self.follow_up_after {
            parts.push(format!("follow-up after {}", d.written));
        }
        if !self.unknown.is_empty() {
            parts.push(format!("ignored: {}", self.unknown.join(", ")));
        }
        parts.join(", ")
    }
}

/// The options of the tracking addresses a message was sent to (lower-cased or not, with or
/// without `+detail`), all of them together. When two delays are given the longer wins: an
/// address must never make us write sooner than its sender asked.
pub fn parse<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Options {
    let mut options = Options::default();
    let details = addresses
        .into_iter()
        .flat_map(|address| {
            let local = address.rsplit_once('@').map_or(address, |(local, _)| local);
            local.split('+').skip(1)
        })
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .take(MAX_OPTIONS);
    for detail in details {
        let word: String = detail
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | '.'))
            .flat_map(char::to_lowercase)
            .collect();
        match word.as_str() {
            "quiet" => options.quiet = true,
            "nothanks" => options.thanks = false,
            "stop" | "unsubscribe" => options.stop = true,
            _ => match delay(detail) {
                Some(d) => {
                    if options
                        .follow_up_after
                        .as_ref()
                        .is_none_or(|old| d.span > old.span)
                    {
                        options.follow_up_after = Some(d);
                    }
                }
                None => {
                    let shown = shown(detail);
                    if options.unknown.len() < MAX_UNKNOWN && !options.unknown.contains(&shown) {
                        options.unknown.push(shown);
                    }
                }
            },
        }
    }
    options
}

/// A humantime-style duration (`36h`, `3d`, `1w`, `2d12h`) within the sane bounds.
fn delay(detail: &str) -> Option<Delay> {
    // Short and plain ASCII, starting with a digit: nothing else can be a duration.
    if detail.len() > 12
        || !detail.starts_with(|c: char| c.is_ascii_digit())
        || !detail.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    let written = detail.to_ascii_lowercase();
    let span = humantime::parse_duration(&written).ok()?;
    (MIN_DELAY..=MAX_DELAY)
        .contains(&span)
        .then_some(Delay { written, span })
}

/// An unknown option as it may be shown: lower-cased letters, digits and `-_.` only (no
/// control or direction-changing characters), cut to [`MAX_SHOWN`] characters.
fn shown(detail: &str) -> String {
    detail
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '?'
            }
        })
        .take(MAX_SHOWN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(address: &str) -> Options {
        parse([address])
    }

    fn days(n: u64) -> Duration {
        Duration::from_secs(n * 86400)
    }

    #[test]
    fn an_address_without_options_asks_for_nothing() {
        assert!(of("intros@tracker.example").is_default());
        assert!(of("intros+@tracker.example").is_default());
        assert!(parse([]).is_default());
    }

    #[test]
    fn quiet_and_nothanks_are_read_in_any_case() {
        let o = of("intros+QUIET@tracker.example");
        assert!(o.quiet && o.thanks);
        let o = of("intros+NoThanks@tracker.example");
        assert!(!o.quiet && !o.thanks);
        assert!(!of("intros+no-thanks@x").thanks);
    }

    #[test]
    fn delays_set_the_follow_up() {
        let d = |a: &str| of(a).follow_up_after.map(|d| (d.written, d.span));
        assert_eq!(d("intros+3d@x"), Some(("3d".into(), days(3))));
        assert_eq!(d("intros+1W@x"), Some(("1w".into(), days(7))));
        assert_eq!(
            d("intros+36h@x"),
            Some(("36h".into(), Duration::from_secs(36 * 3600)))
        );
        assert_eq!(d("intros+90d@x"), Some(("90d".into(), days(90))));
    }

    #[test]
    fn delays_out_of_bounds_are_ignored_and_listed() {
        // A minute would mail people at once; a year is surely a typo.
        for (address, listed) in [
            ("intros+5m@x", "5m"),
            ("intros+0d@x", "0d"),
            ("intros+91d@x", "91d"),
            ("intros+99999999999999999999d@x", "99999999999999999999d"),
        ] {
            let o = of(address);
            assert_eq!(o.follow_up_after, None, "{address}");
            assert_eq!(o.unknown, vec![listed.to_string()], "{address}");
        }
    }

    #[test]
    fn options_combine_across_details_and_addresses() {
        let o = of("Intros+NoThanks+5d@tracker.example");
        assert!(!o.thanks && !o.quiet);
        assert_eq!(o.follow_up_after.map(|d| d.span), Some(days(5)));
        // The longer of two delays wins: never sooner than asked.
        let o = parse(["intros+2d@x", "intros+quiet+1w@x", "intros+3d@x"]);
        assert!(o.quiet);
        assert_eq!(o.follow_up_after.map(|d| d.written), Some("1w".into()));
    }

    #[test]
    fn unknown_options_are_listed_once_and_change_nothing() {
        let o = of("intros+foo+vip+FOO@x");
        assert!(!o.quiet && o.thanks && o.follow_up_after.is_none());
        assert_eq!(o.unknown, vec!["foo".to_string(), "vip".to_string()]);
    }

    #[test]
    fn stop_and_unsubscribe_ask_for_an_opt_out() {
        assert!(of("intros+stop@x").stop);
        assert!(of("intros+Unsubscribe@x").stop);
        assert!(!of("intros+stopper@x").stop);
        // Never shown as an option of a referral.
        assert!(
            !serde_json::to_string(&of("intros+stop@x"))
                .unwrap()
                .contains("stop")
        );
    }

    #[test]
    fn thousands_of_pluses_are_cheap_and_harmless() {
        let address = format!("intros{}@x", "+".repeat(100_000));
        assert!(of(&address).is_default());
        let address = format!("intros{}@x", "+foo".repeat(100_000));
        assert_eq!(of(&address).unknown, vec!["foo".to_string()]);
        // Only the first few options count: quiet after thousands of others is not read.
        let many: String = (0..5000).map(|i| format!("+x{i}")).collect();
        let o = of(&format!("intros{many}+quiet@x"));
        assert!(!o.quiet);
        assert_eq!(o.unknown.len(), MAX_UNKNOWN);
    }

    #[test]
    fn long_and_non_ascii_options_are_cut_and_cleaned() {
        let long = format!("intros+{}@x", "a".repeat(10_000));
        assert_eq!(of(&long).unknown, vec!["a".repeat(MAX_SHOWN)]);
        let o = of("intros+ruhig+\u{202e}evil+ÉTÉ+3ｄ+静か@x");
        assert_eq!(o.unknown, vec!["ruhig", "?evil", "été", "3ｄ", "静か"]);
        assert!(o.follow_up_after.is_none() && !o.quiet);
        // Characters that lower-case to several keep the cut on characters, not bytes.
        let o = of(&format!("intros+{}@x", "İ".repeat(100)));
        assert!(o.unknown[0].chars().count() <= MAX_SHOWN);
    }

    #[test]
    fn json_lists_every_field() {
        let o = of("intros+nothanks+5d+foo@x");
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            serde_json::json!({
                "quiet": false, "thanks": false, "follow_up_after": "5d", "unknown": ["foo"]
            })
        );
    }
}
