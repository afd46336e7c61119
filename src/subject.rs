//! Subject lines as mail clients write them: the reply and forward prefixes of the languages
//! we meet ("Re:", "AW:", "SV:", "Fwd:", "WG:", "TR :", "回复："…), `Re[2]:` counters, and
//! `[External]` tags. One list for everything that reads or writes a subject — intake (is this
//! a reply? a forward?), the store (matching a reply to its referral) and the composer
//! (writing `Re:` without doubling it) — so they can never disagree.

/// Prefixes mail clients put before a subject when replying.
const REPLY: &[&str] = &[
    "re", "aw", "antw", "antwort", "sv", "vs", "ref", "réf", "rif", "r", "odp", "res", "ynt",
    "atb", "ant", "回复", "回覆", "答复",
];

/// Prefixes mail clients put before a subject when forwarding. "VS" is a reply in Finnish
/// and a forward in Danish and Norwegian, so it is in both lists.
const FORWARD: &[&str] = &[
    "fwd", "fw", "wg", "tr", "rv", "enc", "doorst", "vb", "vs", "i", "pd", "转发", "轉寄", "転送",
];

/// The subject after any leading `[tag]`s.
fn skip_tags(subject: &str) -> &str {
    let mut s = subject.trim_start();
    while let Some(rest) = s.strip_prefix('[') {
        s = rest
            .split_once(']')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    s
}

/// The prefix word before the first colon (ASCII or full-width) and the rest after it, when
/// that word is in `list`. "Re[2]:" and "Re(2):" count as "Re:".
fn strip<'a>(subject: &'a str, list: &[&str]) -> Option<&'a str> {
    let (head, rest) = subject.split_once([':', '：'])?;
    let word = head
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '[' | ']' | '(' | ')'));
    // Prefixes are short; a long head is a sentence with a colon in it.
    if word.chars().count() > 8 {
        return None;
    }
    let word = word.to_lowercase();
    list.iter().any(|p| *p == word).then(|| rest.trim_start())
}

/// Whether the subject starts like a reply ("Re:", "AW:", "[EXT] RE:"…).
pub fn has_reply_prefix(subject: &str) -> bool {
    strip(skip_tags(subject), REPLY).is_some()
}

/// Whether the subject starts like a forward ("Fwd:", "WG:", "[EXT] FW:"…).
pub fn has_forward_prefix(subject: &str) -> bool {
    strip(skip_tags(subject), FORWARD).is_some()
}

/// A forward's subject without its tags and forward prefixes, case kept:
/// "[EXT] Fwd: FW: Intro" → "Intro". A reply prefix after them stays.
pub fn strip_forward_prefixes(subject: &str) -> &str {
    let mut s = skip_tags(subject).trim_end();
    while let Some(rest) = strip(s, FORWARD) {
        s = skip_tags(rest);
    }
    s
}

/// The subject without its leading reply and forward prefixes, case and tags kept:
/// "Re: AW: Fwd: Fred, meet Sally" → "Fred, meet Sally".
pub fn topic(subject: &str) -> &str {
    let mut s = subject.trim();
    while let Some(rest) = strip(s, REPLY).or_else(|| strip(s, FORWARD)) {
        s = rest;
    }
    s
}

/// "Re: <subject>", without doubling a reply prefix the subject already has: a thread that
/// reads "AW: Vorstellung" keeps reading that way.
pub fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    if strip(subject, REPLY).is_some() {
        subject.to_string()
    } else {
        format!("Re: {subject}")
    }
}

/// A subject reduced to what a whole thread shares: tags and reply and forward prefixes
/// removed, whitespace folded, lower-cased. Two messages of one thread compare equal.
pub fn normalize_subject(subject: &str) -> String {
    let mut s = skip_tags(subject);
    while let Some(rest) = strip(s, REPLY).or_else(|| strip(s, FORWARD)) {
        s = skip_tags(rest);
    }
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_recognised_in_many_languages() {
        for s in [
            "Re: Intro",
            "RE: RE: x",
            "AW: Vorstellung",
            "Antwort: x",
            "Sv: Introduktion",
            "Re[2]: x",
            "Re(3): x",
            "[EXT] Re: x",
            "[EXT] [club] RE: x",
            "回复：介绍",
            "Réf : x",
        ] {
            assert!(has_reply_prefix(s), "{s}");
        }
        for s in [
            "Intro: Fred",
            "Fwd: Intro",
            "Regarding: x",
            "Reminder: x",
            "",
        ] {
            assert!(!has_reply_prefix(s), "{s}");
        }
    }

    #[test]
    fn forwards_are_recognised_in_many_languages() {
        for s in [
            "Fwd: Intro",
            "FW: Intro",
            "WG: Vorstellung",
            "TR : Présentation",
            "[EXT] Fwd: x",
            "转发: 介绍",
            "VS: Introduktion",
        ] {
            assert!(has_forward_prefix(s), "{s}");
        }
        for s in [
            "Re: Fwd: Intro",
            "Intro: Fred",
            "Fwdx: y",
            "Forwarding the plan: x",
            "",
        ] {
            assert!(!has_forward_prefix(s), "{s}");
        }
        assert_eq!(
            strip_forward_prefixes("[EXT] Fwd: FW: Intro: Fred <> Sally"),
            "Intro: Fred <> Sally"
        );
        assert_eq!(strip_forward_prefixes("Fwd: Re: Intro"), "Re: Intro");
    }

    #[test]
    fn topics_and_reply_subjects() {
        assert_eq!(topic("Re: AW: Fwd: Fred, meet Sally"), "Fred, meet Sally");
        assert_eq!(topic("Intro: Fred <> Sally"), "Intro: Fred <> Sally");
        assert_eq!(topic("[club] Re: Intro"), "[club] Re: Intro");
        assert_eq!(topic("回复：介绍"), "介绍");
        assert_eq!(reply_subject("Fred, meet Sally"), "Re: Fred, meet Sally");
        assert_eq!(
            reply_subject("RE: Fred, meet Sally"),
            "RE: Fred, meet Sally"
        );
        assert_eq!(reply_subject("AW: Vorstellung"), "AW: Vorstellung");
        assert_eq!(reply_subject("Re[2]: Intro"), "Re[2]: Intro");
        assert_eq!(reply_subject("  Intro  "), "Re: Intro");
        assert_eq!(
            reply_subject("Intro: Fred <> Sally"),
            "Re: Intro: Fred <> Sally"
        );
        assert_eq!(reply_subject("Fwd: Intro"), "Re: Fwd: Intro");
    }

    #[test]
    fn subjects_of_one_thread_normalise_alike() {
        let plain = normalize_subject("Intro: Fred <> Sally");
        for s in [
            "Re: Intro: Fred <> Sally",
            "RE: RE: Intro: Fred <> Sally",
            "AW: Intro: Fred <> Sally",
            "Antw: WG: Intro:  Fred <> Sally",
            "Fwd: Re: intro: fred <> sally",
            "Re[2]: Intro: Fred <> Sally",
            "[External] Re: Intro: Fred <> Sally",
            "Re: [External] Intro: Fred <> Sally",
            "回复：Intro: Fred <> Sally",
        ] {
            assert_eq!(normalize_subject(s), plain, "{s}");
        }
        // "Intro:" is not a reply prefix and stays.
        assert_eq!(plain, "intro: fred <> sally");
    }
}
