//! What the owner's own message on a referral's thread tells referrald, so its mail does not
//! repeat her: whether she thanked someone ("Thanks so much for the intro, Bob!", "danke",
//! "merci", "ありがとう"), and whether she offered a time or a call ("are you free on
//! Thursday?", "let's set up a call", "here's my Calendly"). Her sign-off ("Thanks, Alice") is
//! a signature and removed before this reads anything.

use std::sync::LazyLock;

use super::text::{PhraseSet, Words, negated, tokenize};

/// Thanks in the reply languages the reader knows.
#[rustfmt::skip]
static THANKS: LazyLock<PhraseSet<()>> = LazyLock::new(|| {
    PhraseSet::new(&[
        ("thank|thanks|thx|ty|cheers|grateful|appreciate|appreciated", ()),
        ("danke|dankeschön|dank|bedankt|dankjewel", ()),
        ("merci|remercie|remercier", ()),
        ("gracias|agradezco|agradecido|agradecida", ()),
        ("obrigado|obrigada|agradeço", ()),
        ("grazie|ringrazio", ()),
    ])
});

/// Thanks in the CJK forms, matched in the text as written.
const CJK_THANKS: &[&str] = &["ありがとう", "感謝", "谢谢", "謝謝", "感谢", "감사", "고맙"];

/// Offers of a time, a call or a meeting.
#[rustfmt::skip]
static OFFERS: LazyLock<PhraseSet<()>> = LazyLock::new(|| {
    const DAY: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today|tonight|mon|tue|tues|wed|thu|thurs|fri";
    let day = |p: &'static str| -> &'static str { Box::leak(p.replace("DAY", DAY).into_boxed_str()) };
    PhraseSet::new(&[
        ("are|is you|u ~ free|available", ()),
        ("when|what ~ free|available|suits|suit", ()),
        ("what works", ()),
        ("free|available for ?a call|chat|coffee|meeting|zoom|catch-up|catchup", ()),
        (day("how|what about ?next|this DAY|week|morning|afternoon"), ()),
        (day("does|would|could ?next|this DAY ~ work|suit"), ()),
        (day("on|next|this DAY at ~ am|pm"), ()),
        ("let's|lets ~ call|chat|talk|speak|meet|coffee|time|zoom", ()),
        ("could|can|would|shall you|we ~ call|chat|talk|speak|meet|coffee|zoom", ()),
        ("let us ~ call|chat|talk|speak|meet|coffee|time|zoom", ()),
        ("set|book|schedule|arrange|find|grab|jump|hop ~ call|chat|time|meeting|coffee|slot|zoom", ()),
        ("my calendar|calendly|diary|availability", ()),
        ("calendly", ()),
        ("time|times|slot|slots that ~ work|works|suit|suits", ()),
        ("hätten|hast|haben sie|du ~ zeit", ()),
        ("telefonieren|termin", ()),
        ("treffen wir", ()),
        ("êtes-vous|es-tu|seriez-vous disponible|libre", ()),
        ("un appel|café|rendez-vous", ()),
    ])
});

/// Whether the text thanks someone (not "no thanks").
pub(super) fn thanks(text: &str) -> bool {
    if CJK_THANKS.iter().any(|t| text.contains(t)) {
        return true;
    }
    let tokens = tokenize(text);
    let words = Words::new(&tokens);
    // "No thanks needed" declines; it thanks nobody.
    let declined = |pos: usize| pos > 0 && words.text(pos - 1) == "no";
    THANKS
        .find_all(&words)
        .iter()
        .any(|hit| !negated(&words, hit.start) && !declined(hit.start))
}

/// Whether the text offers a time, a call or a meeting.
pub(super) fn offers_time(text: &str) -> bool {
    let tokens = tokenize(text);
    let words = Words::new(&tokens);
    OFFERS
        .find_all(&words)
        .iter()
        .any(|hit| !negated(&words, hit.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanks_in_the_languages_the_reader_knows() {
        for text in [
            "Thanks so much for the intro, Bob!",
            "Bob, thank you for thinking of me.",
            "Really appreciate this, Bob.",
            "Vielen Dank, Bob!",
            "Merci beaucoup pour la mise en relation.",
            "¡Gracias, Bob!",
            "Obrigada pela apresentação.",
            "Grazie mille!",
            "Bedankt voor de introductie.",
            "ご紹介ありがとうございます。",
            "谢谢你的介绍",
            "소개해 주셔서 감사합니다",
        ] {
            assert!(thanks(text), "{text}");
        }
        for text in [
            "Fred, lovely to meet you. Are you free on Thursday?",
            "No thanks needed, happy to help.",
            "",
        ] {
            assert!(!thanks(text), "{text}");
        }
    }

    #[test]
    fn offers_of_a_time_or_a_call() {
        for text in [
            "Carol, are you free for a call on Thursday?",
            "How about Tuesday at 10?",
            "Would next Monday work for you?",
            "Let's set up a call next week.",
            "Here's my Calendly: https://calendly.com/alice",
            "Send me a couple of times that work and I'll book us in.",
            "Hätten Sie nächste Woche Zeit?",
            "Could you do a call on Thursday at 2?",
            "Seriez-vous disponible jeudi ?",
        ] {
            assert!(offers_time(text), "{text}");
        }
        for text in [
            "Thanks Bob! Carol, lovely to meet you.",
            "We met last week and it went well.",
            "I'm not free this week, sorry.",
            "Could you send me the contract?",
        ] {
            assert!(!offers_time(text), "{text}");
        }
    }
}
