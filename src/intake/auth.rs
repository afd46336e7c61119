//! The authenticity check of SPEC §3 (`require-authentication`): believe only what our own
//! receiving server wrote.
//!
//! Only the topmost `Authentication-Results` field whose authserv-id is trusted counts. Fields
//! from anyone else are ignored entirely, and a field claiming a trusted authserv-id further
//! down is ignored too: our server adds its field on top, so anything below it was written
//! before the message reached us, possibly by the sender. The From domain passes with
//! `dmarc=pass`, or with `dkim=pass` for a signing domain aligned with it.

/// Whether the message passes: `Ok`, or why not in a few words.
pub(crate) fn check<'a>(
    results: impl IntoIterator<Item = &'a str>,
    from_domain: &str,
    trusted: &[String],
) -> Result<(), String> {
    let Some(resinfo) = results.into_iter().find_map(|field| {
        let text = strip_comments(field);
        let (authserv, rest) = text.split_once(';').unwrap_or((&text, ""));
        let id = authserv.split_whitespace().next().unwrap_or("");
        trusted
            .iter()
            .any(|t| t.eq_ignore_ascii_case(id))
            .then(|| rest.to_string())
    }) else {
        return Err("no Authentication-Results from a trusted server".into());
    };

    let mut seen = Vec::new();
    for result in resinfo.split(';') {
        let mut words = result.split_whitespace();
        let Some((method, verdict)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let method = method.to_ascii_lowercase();
        let verdict = verdict.to_ascii_lowercase();
        let props: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        let prop = |name: &str| {
            props
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim_matches('"'))
        };
        match (method.as_str(), verdict.as_str()) {
            ("dmarc", "pass") => {
                // A trusted DMARC pass is about this message's From, unless it names another.
                match prop("header.from") {
                    Some(d) if !d.eq_ignore_ascii_case(from_domain) => {
                        seen.push(format!("dmarc=pass for {d}, not {from_domain}"))
                    }
                    _ => return Ok(()),
                }
            }
            ("dkim", "pass") => {
                let signer = prop("header.d")
                    .or_else(|| prop("header.i").map(|i| i.rsplit_once('@').map_or(i, |(_, d)| d)));
                match signer {
                    Some(d) if aligned(d, from_domain) => return Ok(()),
                    Some(d) => {
                        seen.push(format!("dkim=pass for {d}, not aligned with {from_domain}"))
                    }
                    None => seen.push("dkim=pass without a signing domain".into()),
                }
            }
            ("dmarc" | "dkim", _) => seen.push(format!("{method}={verdict}")),
            _ => {}
        }
    }
    if seen.is_empty() {
        Err(format!("no DMARC or DKIM pass for {from_domain}"))
    } else {
        Err(seen.join(", "))
    }
}

/// Relaxed alignment (RFC 7489 §3.1): the two domains share an organisational domain.
pub(crate) fn aligned(signer: &str, from_domain: &str) -> bool {
    let signer = signer.trim_end_matches('.').to_ascii_lowercase();
    let from = from_domain.trim_end_matches('.').to_ascii_lowercase();
    !signer.is_empty()
        && (signer == from || organisational_domain(&signer) == organisational_domain(&from))
}

/// The registrable domain, approximated without the Public Suffix List: the last two labels,
/// or three under a country's second-level domain (`example.co.uk`, `example.com.au`). Good
/// enough for alignment, where a wrong guess at worst treats two subdomains of one
/// registry-level name as aligned.
fn organisational_domain(domain: &str) -> &str {
    let labels: Vec<&str> = domain.rsplitn(4, '.').collect();
    let keep = match labels.as_slice() {
        [tld, sld, _, ..] if tld.len() == 2 && is_second_level(sld) => 3,
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

/// The field without RFC 5322 comments (`(2048-bit key)`), which may nest.
fn strip_comments(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut depth = 0usize;
    let mut in_quotes = false;
    for c in field.chars() {
        match c {
            '"' if depth == 0 => {
                in_quotes = !in_quotes;
                out.push(c);
            }
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> Vec<String> {
        vec!["mx.tracker.example.org".to_string()]
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
    fn dmarc_or_aligned_dkim_from_a_trusted_server_passes() {
        let dmarc = "mx.tracker.example.org; dkim=pass (2048-bit key) header.d=sendgrid.net; dmarc=pass (p=none) header.from=brightside.example";
        assert_eq!(check([dmarc], "brightside.example", &trusted()), Ok(()));
        let dkim =
            "mx.tracker.example.org 1;\r\n dkim=pass header.i=@mail.brightside.example header.s=s1";
        assert_eq!(check([dkim], "brightside.example", &trusted()), Ok(()));
    }

    #[test]
    fn unaligned_dkim_fails() {
        let field = "mx.tracker.example.org; dkim=pass header.d=sendgrid.net; spf=pass smtp.mailfrom=sendgrid.net; dmarc=none";
        let err = check([field], "brightside.example", &trusted()).unwrap_err();
        assert!(err.contains("not aligned"), "{err}");
        assert!(err.contains("dmarc=none"), "{err}");
    }

    #[test]
    fn only_the_topmost_trusted_field_counts() {
        let forged = "evil.example; dmarc=pass header.from=brightside.example";
        let real = "mx.tracker.example.org; dkim=fail; dmarc=fail header.from=brightside.example";
        let planted = "mx.tracker.example.org; dmarc=pass header.from=brightside.example";
        let err = check([forged, real, planted], "brightside.example", &trusted()).unwrap_err();
        assert_eq!(err, "dkim=fail, dmarc=fail");
        let err = check([forged], "brightside.example", &trusted()).unwrap_err();
        assert!(err.contains("trusted"), "{err}");
        assert!(check(Vec::<&str>::new(), "x.org", &trusted()).is_err());
        assert!(check(["mx.tracker.example.org; none"], "x.org", &trusted()).is_err());
    }
}
