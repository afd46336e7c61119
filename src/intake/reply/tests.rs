//! Unit tests of reply reading: one table per rule of the module doc, then robustness. The
//! golden replies (whole bodies as mail clients write them) are in `tests/replies.rs`.

use super::money::parse_number;
use super::*;
use crate::model::OutboundKind::{
    FeedbackReminder, FeedbackRequest, FollowUp, OwnerNudge, ThankYou,
};
use crate::model::Outcome::{Lost, Met, NotMet, Won};

/// Reads `s` as an answer to our feedback request, which asks for a rating.
fn asked(s: &str) -> Reading {
    read(s, Some(FeedbackRequest))
}

/// Reads `s` as an answer that no request for a rating preceded (a follow-up).
fn unasked(s: &str) -> Reading {
    read(s, Some(FollowUp))
}

fn rating(s: &str) -> Option<u8> {
    asked(s).rating
}

fn outcome(s: &str) -> Option<Outcome> {
    asked(s).outcome
}

/// A value and its currency.
type Money = (Option<f64>, Option<String>);

fn value(s: &str) -> Money {
    let r = asked(s);
    (r.value, r.currency)
}

/// Runs `check` over every case and reports all failures at once.
fn table<T: std::fmt::Debug + PartialEq>(cases: &[(&str, T)], f: impl Fn(&str) -> T) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(input, want)| {
            let got = f(input);
            (got != *want).then(|| format!("{input:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn explicit_ratings() {
    table(
        &[
            ("5", Some(5)),
            ("3", Some(3)),
            ("2!", Some(2)),
            ("5/5", Some(5)),
            ("4 / 5", Some(4)),
            ("4 out of 5", Some(4)),
            ("4 of 5", Some(4)),
            ("3/5 stars", Some(3)),
            ("four out of five", Some(4)),
            ("★★★★", Some(4)),
            ("★★☆☆☆", Some(2)),
            ("⭐⭐⭐⭐⭐", Some(5)),
            ("⭐️⭐️⭐️", Some(3)),
            ("5 stars", Some(5)),
            ("a 4-star intro", Some(4)),
            ("5*", Some(5)),
            ("Rating: 3", Some(3)),
            ("rating 4", Some(4)),
            ("Score: 2", Some(2)),
            ("I'd give it a 4", Some(4)),
            ("I would rate it 5.", Some(5)),
            ("4 von 5", Some(4)),
            ("Ich gebe 4 von 5 Sternen.", Some(4)),
            ("Bewertung: 1", Some(1)),
            ("ich würde eine 4 geben", Some(4)),
            ("5 — we signed", Some(5)),
            ("5 - we signed", Some(5)),
            ("4. Good chat", Some(4)),
            ("3, it was ok", Some(3)),
            ("Hi Alice,\n\n5\n\nThanks", Some(5)),
            ("Hi Alice, 4 – good call", Some(4)),
            ("Good chat.\n4\nSee you", Some(4)),
            ("It was a 4.", Some(4)),
            ("a solid 4 from me", Some(4)),
            ("that's an easy 5!", Some(5)),
            ("8/10", Some(4)),
            ("9 out of 10", Some(5)),
            ("10/10 would recommend", Some(5)),
            ("4.5/5", Some(5)),
            ("4,5 von 5", Some(5)),
            ("⭐ 4/5", Some(4)),
            ("Five. We signed.", Some(5)),
            ("I'd say 3.", Some(3)),
            ("We're in talks. 4 for now.", Some(4)),
            ("No business yet, but promising. 4", Some(4)),
            ("Thanks. 3 (meh)", Some(3)),
            ("Def a 5!", Some(5)),
            ("I'd rate it a solid four.", Some(4)),
            ("Rating: four", Some(4)),
            ("Bewertung: vier von fünf", Some(4)),
            ("4️⃣", Some(4)),
            ("I'd give Fred 5 stars", Some(5)),
        ],
        rating,
    );
}

#[test]
fn numbers_that_are_never_ratings() {
    let cases: Vec<(&str, Option<u8>)> = [
        "Note: 2",
        "We met on 3/5/2026.",
        "We met on 3/5.",
        "See you on the 5th",
        "May 5 works for me",
        "Treffen am 05.11. um 10 Uhr",
        "Let's talk at 5",
        "5pm works",
        "Meet at 10:30",
        "+44 20 7946 0958",
        "Call 555-0100",
        "$5k",
        "5 €",
        "€5",
        "5 people came",
        "2 meetings so far",
        "in 3 weeks",
        "3 weeks ago we met",
        "v2.3 is out",
        "version 4 is out",
        "4.2 release",
        "1. Met\n2. Signed",
        "I'd give it a 7",
        "6",
        "We spoke 3 times",
        "4-5 people",
        "I'd give it a 4 or 5",
        "10/10/2026",
        "1/5 of the budget",
        "5. November haben wir telefoniert",
        "Give me 5 minutes",
        "They gave us 3 options",
        "24/7 support",
        "On a good day",
        "Tue 4/5 works",
        "Meeting 3/5 at 10am",
        "Meeting 3/5 10:30",
        "Let's meet again on Nov. 5",
        "See you at 5",
        "Ref. No. 5",
        "Sally Jones\nFive Star Plumbing Ltd",
        "2 calls so far",
        "One more thing: we met.",
        "",
        "12",
        "0",
    ]
    .iter()
    .map(|s| (*s, None))
    .collect();
    table(&cases, rating);
}

#[test]
fn rating_words_follow_the_documented_scale() {
    table(
        &[
            ("Excellent", Some(5)),
            ("outstanding intro", Some(5)),
            ("Fantastic, thank you", Some(5)),
            ("It was great", Some(4)),
            ("very good", Some(4)),
            ("good", Some(4)),
            ("really helpful", Some(4)),
            ("it was ok", Some(3)),
            ("It was fine.", Some(3)),
            ("average", Some(3)),
            ("decent", Some(3)),
            ("poor", Some(2)),
            ("disappointing", Some(2)),
            ("terrible", Some(1)),
            ("a waste of time", Some(1)),
            ("very bad", Some(1)),
            ("ausgezeichnet", Some(5)),
            ("hervorragend", Some(5)),
            ("Super!", Some(5)),
            ("sehr gut", Some(5)),
            ("gut", Some(4)),
            ("Das war ein tolles Gespräch", Some(4)),
            ("ganz ok", Some(3)),
            ("okay, war ganz gut", Some(3)),
            ("schlecht", Some(2)),
            ("sehr schlecht", Some(1)),
            ("furchtbar", Some(1)),
            ("Zeitverschwendung", Some(1)),
        ],
        rating,
    );
}

#[test]
fn negation_moves_rating_words() {
    table(
        &[
            ("not good", Some(2)),
            ("not great", Some(2)),
            ("It wasn't really that great.", Some(2)),
            ("nicht gut", Some(2)),
            ("nicht so gut", Some(2)),
            ("nicht sehr gut", Some(2)),
            ("not ok", Some(2)),
            ("not bad", Some(3)),
            ("nicht schlecht", Some(3)),
            ("It wasn't amazing.", Some(3)),
            ("not terrible", Some(3)),
            ("It couldn't have been better!", Some(5)),
            ("No, it was great", Some(4)),
        ],
        rating,
    );
}

#[test]
fn rating_words_out_of_context_give_nothing() {
    let cases: Vec<(&str, Option<u8>)> = [
        "Good morning!",
        "Good luck with the launch",
        "Sounds good",
        "Hope all is good with you",
        "It would be great to meet him",
        "Was it good?",
        "Ok, thanks",
        "Fine, I'll call him",
        "Great intro, but the meeting was terrible",
        "Have a great weekend",
        "Best regards",
        "Guten Tag",
        "Schönes Wochenende",
        "Alles Gute",
        "Ok",
        "Good news: nothing to report yet.",
    ]
    .iter()
    .map(|s| (*s, None))
    .collect();
    table(&cases, rating);
}

#[test]
fn explicit_forms_win_over_words() {
    table(
        &[
            ("Excellent people, but 3/5 overall", Some(3)),
            ("Terrible traffic, great meeting: 4 out of 5", Some(4)),
            ("Rating: 2. They were lovely though.", Some(2)),
            ("★★★★★ even if the start was poor", Some(5)),
        ],
        rating,
    );
}

#[test]
fn outcomes_from_the_issue() {
    table(
        &[
            ("we did business", Some(Won)),
            ("We signed!", Some(Won)),
            ("closed the deal last week", Some(Won)),
            ("We hired them.", Some(Won)),
            ("She became a client", Some(Won)),
            ("we're working together now", Some(Won)),
            ("They ordered 20 units", Some(Won)),
            ("Auftrag erteilt", Some(Won)),
            ("Der Vertrag ist unterschrieben.", Some(Won)),
            ("Wir arbeiten seit Montag zusammen", Some(Won)),
            ("It didn't work out", Some(Lost)),
            ("not a fit", Some(Lost)),
            ("They went with someone else", Some(Lost)),
            ("too expensive for us", Some(Lost)),
            ("We passed.", Some(Lost)),
            ("Hat leider nicht gepasst", Some(Lost)),
            ("kein Auftrag", Some(Lost)),
            ("never heard from him", Some(NotMet)),
            ("we haven't met", Some(NotMet)),
            ("no reply so far", Some(NotMet)),
            ("I couldn't reach him", Some(NotMet)),
            ("we didn't connect", Some(NotMet)),
            ("Er hat sich nie gemeldet", Some(NotMet)),
            ("Wir haben uns nicht getroffen", Some(NotMet)),
            ("we met", Some(Met)),
            ("We had a call", Some(Met)),
            ("had coffee on Friday", Some(Met)),
            ("spoke on Tuesday", Some(Met)),
            ("We had a great chat", Some(Met)),
            ("Wir haben uns getroffen", Some(Met)),
            ("Wir haben telefoniert", Some(Met)),
        ],
        outcome,
    );
}

#[test]
fn outcome_negation_and_precedence() {
    table(
        &[
            ("We haven't signed yet", Some(Met)),
            ("Nothing signed yet", Some(Met)),
            ("we still haven't signed", Some(Met)),
            ("noch nicht unterschrieben", Some(Met)),
            ("We didn't sign", Some(Lost)),
            ("We decided not to go ahead", Some(Lost)),
            ("They signed with someone else", Some(Lost)),
            ("Wir haben keinen Auftrag erteilt", Some(Lost)),
            ("We met and then signed", Some(Won)),
            ("Had a call, then closed the deal", Some(Won)),
            ("We met but it didn't work out", Some(Lost)),
            ("Never heard back, so nothing came of it", Some(NotMet)),
            ("He called me but we haven't met in person", Some(Met)),
            ("No deal yet, but we had a call", Some(Met)),
            ("We'd love to work together", None),
            ("Looking forward to working together", None),
            ("I hope we sign soon", None),
            ("Did you sign?", None),
            ("They met our expectations", None),
            ("Wir haben eine Entscheidung getroffen", None),
            ("We're meeting next week", None),
            ("I'll call him tomorrow", None),
            ("We signed off on the plan", None),
            ("Signed an NDA, first meeting next week.", None),
            ("We signed up for his newsletter", None),
            ("We didn't meet, but we did talk on the phone.", Some(Met)),
            ("Wir sind noch im Gespräch", Some(Met)),
            ("Wir haben den Zuschlag bekommen", Some(Won)),
            ("Got your email - we met on Monday.", Some(Met)),
            ("Got your email, nothing to report yet.", None),
            ("We went with them in the end.", Some(Won)),
            ("Haven't had a chance to connect yet", Some(NotMet)),
            ("The meeting went well", Some(Met)),
            ("Das Gespräch lief gut", Some(Met)),
            ("Es hat sich leider nichts ergeben", Some(Lost)),
            ("Wir sind uns nicht einig geworden", Some(Lost)),
            ("", None),
        ],
        outcome,
    );
}

#[test]
fn values_with_currencies() {
    let usd = Some("USD".to_string());
    let eur = Some("EUR".to_string());
    let gbp = Some("GBP".to_string());
    table(
        &[
            ("$2,500", (Some(2500.0), usd.clone())),
            ("$2.5k", (Some(2500.0), usd.clone())),
            ("$10K", (Some(10000.0), usd.clone())),
            ("USD 4000", (Some(4000.0), usd.clone())),
            ("4000 USD", (Some(4000.0), usd.clone())),
            ("US$ 700", (Some(700.0), usd.clone())),
            ("1,200.50 dollars", (Some(1200.5), usd.clone())),
            ("2.500 €", (Some(2500.0), eur.clone())),
            ("2500 EUR", (Some(2500.0), eur.clone())),
            ("€3,000", (Some(3000.0), eur.clone())),
            ("5.000 Euro", (Some(5000.0), eur.clone())),
            ("2,50 €", (Some(2.5), eur.clone())),
            ("1.200,50 €", (Some(1200.5), eur.clone())),
            ("2.500,- €", (Some(2500.0), eur.clone())),
            ("1,5 Mio. €", (Some(1_500_000.0), eur.clone())),
            ("5k€", (Some(5000.0), eur.clone())),
            ("EUR 2.500,00", (Some(2500.0), eur.clone())),
            ("£1.2k", (Some(1200.0), gbp.clone())),
            ("£1.2m", (Some(1_200_000.0), gbp.clone())),
            ("1,200 pounds", (Some(1200.0), gbp.clone())),
            ("CHF 3'000", (Some(3000.0), Some("CHF".into()))),
            ("contract worth 4000", (Some(4000.0), None)),
            ("a 3000 deal", (Some(3000.0), None)),
            ("Auftragswert: 4.000", (Some(4000.0), None)),
            ("a deal worth 5k", (Some(5000.0), None)),
            ("2 500 €", (Some(2500.0), eur.clone())),
            ("CHF 1 200 000", (Some(1_200_000.0), Some("CHF".into()))),
            ("USD4000", (Some(4000.0), usd.clone())),
            ("$2,500/month", (Some(2500.0), usd.clone())),
            ("about 5 grand", (Some(5000.0), None)),
        ],
        value,
    );
}

#[test]
fn numbers_that_are_never_values() {
    let cases: Vec<(&str, Money)> = [
        "2500",
        "Call +44 20 7946 0958",
        "Call 555-0100",
        "on 03.11.2026",
        "at 10:30",
        "5 people",
        "the deal closes in 2026",
        "50% off",
        "worth 5",
        "$",
        "3/5/2026",
        "We spoke 12 times",
        "Too expensive: they quoted €15,000",
        "Never heard from him, even though I offered $500",
        "First order of 300 units arrived",
    ]
    .iter()
    .map(|s| (*s, (None, None)))
    .collect();
    table(&cases, value);
}

#[test]
fn several_amounts_take_the_one_nearest_business_else_the_largest() {
    assert_eq!(
        value("They quoted $15,000 at first. In the end we signed for $12,000."),
        (Some(12000.0), Some("USD".into()))
    );
    assert_eq!(
        value("Two small jobs so far: €2,000 and €5,000."),
        (Some(5000.0), Some("EUR".into()))
    );
    assert_eq!(
        value("We met. Their proposal is €5,000, we're thinking about it."),
        (None, None),
        "a proposal is not business done"
    );
    assert_eq!(
        value("Budget €2,000 to €5,000, still talking."),
        (None, None)
    );
    assert_eq!(
        value("We accepted their quote of €4,800."),
        (Some(4800.0), Some("EUR".into()))
    );
}

#[test]
fn numbers_parse_in_both_conventions() {
    table(
        &[
            ("2500", Some(2500.0)),
            ("2.500", Some(2500.0)),
            ("2,500", Some(2500.0)),
            ("2,50", Some(2.5)),
            ("2.5", Some(2.5)),
            ("1,200.50", Some(1200.5)),
            ("1.200,50", Some(1200.5)),
            ("1.200.000", Some(1_200_000.0)),
            ("3'000", Some(3000.0)),
            ("1234.567", Some(1234.567)),
            ("03.11.2026", None),
            ("1.2.3", None),
            ("1,20,000", None),
        ],
        |s| parse_number(s, false),
    );
    assert_eq!(parse_number("1.250", true), Some(1.25), "with k: decimal");
}

#[test]
fn opt_out_requests() {
    let yes: Vec<(&str, bool)> = [
        "STOP",
        "stop",
        "Stop.",
        "STOP please",
        "Please stop!",
        "STOPP",
        "unsubscribe",
        "Unsubscribe me",
        "Please unsubscribe me from this.",
        "How do I unsubscribe?",
        "opt out",
        "please don't email me",
        "Please do not contact me again.",
        "Please stop emailing me",
        "stop sending me these reminders",
        "remove me from your list",
        "Please take me off your mailing list",
        "I don't want any more emails from this service",
        "no more emails please",
        "abmelden",
        "Bitte abmelden",
        "bitte keine E-Mails mehr",
        "Bitte schreiben Sie mir nicht mehr.",
        "Bitte entfernen Sie mich aus dem Verteiler.",
        "Melden Sie mich bitte ab.",
        "Hi Alice,\n\nSTOP\n\nThanks",
        "Hi Alice,\nstop\nFred",
        "Please don't email me at all.",
        "Don't write to me again.",
        "Please don't send me any more reminders",
        "Until further notice, unsubscribe me.",
        "Not interested, please stop.",
        "I'd rather not get these emails",
    ]
    .iter()
    .map(|s| (*s, true))
    .collect();
    table(&yes, |s| says_stop(s, "Re: How did it go?"));

    let no: Vec<(&str, bool)> = [
        "we can't stop talking about the project",
        "don't stop",
        "I'll stop by Tuesday",
        "the bus stop",
        "We met near the bus\nstop.",
        "Stop by anytime",
        "non-stop meetings all week",
        "Don't email me until Monday, I'm travelling",
        "Please don't email me at this address, use fred@home.example",
        "Please email me the contract",
        "Don't hesitate to contact me",
        "I didn't receive any emails from Fred",
        "We had to stop the project for a month",
        "Don't forget to email me the deck",
        "She unsubscribed from their newsletter",
        "I don't want to unsubscribe, this is useful",
        "No more reminders needed, we've met!",
        "Don't send me the invoice yet",
        "To unsubscribe from our newsletter, click here.",
        "Don't email me, call me instead.",
        "Don't remind me until the new year",
        "5/5, we signed",
        "",
    ]
    .iter()
    .map(|s| (*s, false))
    .collect();
    table(&no, |s| says_stop(s, "Re: How did it go?"));
}

#[test]
fn opt_out_by_subject() {
    table(
        &[
            ("unsubscribe", true),
            ("Unsubscribe", true),
            ("Re: STOP", true),
            ("Abmelden", true),
            ("Re: please stop emailing me", true),
            ("Re: Intro: Fred <> Sally", false),
            ("Re: How did it go?", false),
            ("Bus stop meeting", false),
            ("", false),
        ],
        |subject| says_stop("", subject),
    );
}

#[test]
fn html_blocks_entities_and_quotes() {
    assert_eq!(html_to_text("<div>a</div><div>b<br>c</div>"), "a\nb\nc\n");
    assert_eq!(
        html_to_text("<p>x &lt;&gt;&amp;&euro;&#8364;&#x20AC; &bogus; & y</p>").trim(),
        "x <>&€€€ &bogus; & y"
    );
    assert_eq!(
        html_to_text("<div>mine</div><blockquote>theirs<br>more</blockquote><div>after</div>"),
        "mine\n> theirs\n> more\nafter\n"
    );
    assert_eq!(
        html_to_text("<style>p{color:red}</style><SCRIPT>alert(1)</script>text<!-- c -->!"),
        "text!"
    );
    assert_eq!(html_to_text("  spaced \n\t out  "), "spaced out");
    assert_eq!(html_to_text("<pre>a  b\n c</pre>"), "a  b\n c\n");
    assert_eq!(
        html_to_text("<ul><li>one</li><li>two</li></ul>"),
        "- one\n- two\n"
    );
    assert_eq!(
        html_to_text("<img alt=\"⭐\"><img alt='⭐'><img alt=\"Acme logo\">"),
        "⭐⭐"
    );
}

#[test]
fn html_marks_where_outlook_starts_the_original() {
    let text = html_to_text(
        "<div>5, signed</div><div id=\"appendonsend\"></div><div id=\"divRplyFwdMsg\">\
         <b>From:</b> Alice<br><b>Sent:</b> Monday<br><b>To:</b> Fred<br><b>Subject:</b> Hi</div>\
         <div>How did it go? 1-5</div>",
    );
    assert!(
        text.starts_with("5, signed\n________________________________\n"),
        "{text}"
    );
    assert_eq!(own_words(Some(&text), None), "5, signed");
}

#[test]
fn html_signature_containers_become_delimiters() {
    let text = html_to_text(
        "<div>Good call.</div><div class=\"gmail_signature\">Sally<br>+44 20 7946 0958</div>",
    );
    assert_eq!(text, "Good call.\n-- \nSally\n+44 20 7946 0958\n");
}

#[test]
fn html_never_panics_on_broken_markup() {
    for html in [
        "<",
        "a < b",
        "<div class=\"unterminated",
        "<!-- never closed",
        "<script>never closed",
        "</div></div></blockquote>x",
        "<blockquote><blockquote>deep",
        "<a href='x>y",
        "&#0; &#xD800; &#99999999; &",
        "<div/><br/><p/>",
        "<ä><ö attr=ü>",
        "<head>no end<div>body</div>",
    ] {
        let _ = html_to_text(html);
        let _ = own_words(None, Some(html));
    }
    assert_eq!(
        html_to_text("<head>no end<div>body</div>"),
        "no end\nbody\n"
    );
    assert_eq!(html_to_text("&#0;&#xD800;"), "\u{FFFD}\u{FFFD}");
}

#[test]
fn own_words_prefers_plain_and_falls_back_to_html() {
    assert_eq!(own_words(Some("plain"), Some("<p>html</p>")), "plain");
    assert_eq!(own_words(Some(" \r\n "), Some("<p>html</p>")), "html");
    assert_eq!(own_words(None, Some("<p>html</p>")), "html");
    assert_eq!(own_words(None, None), "");
}

#[test]
fn comments_keep_paragraphs_and_fold_spaces() {
    assert_eq!(
        own_words(Some("  a \t  b \r\n\r\n\r\n\n c\nd  \n\n"), None),
        "a b\n\nc\nd"
    );
    assert_eq!(asked("x\u{a0}\u{a0}y\n\n\n\nz").comment, "x y\n\nz");
}

#[test]
fn attributions_need_a_date_unless_quotes_follow() {
    // Not an attribution: no date, no address, no quote after it.
    assert_eq!(
        own_words(Some("As I wrote:\nwe signed"), None),
        "As I wrote:\nwe signed"
    );
    assert_eq!(
        own_words(Some("4\n\nFred wrote:\n> How was it?"), None),
        "4"
    );
    // An attribution followed by unmarked text: the rest is the original.
    assert_eq!(
        own_words(
            Some("Great.\n\nOn Mon, 17 Nov 2026 at 09:00, Alice <a@x.org> wrote:\nHow was it? 1-5"),
            None
        ),
        "Great."
    );
}

#[test]
fn inline_replies_keep_every_own_line() {
    let body = "> How did it go?\nWell.\n> Rating 1-5?\n4\n> Business?\n>\n> (value)\nYes, $900.\n";
    assert_eq!(own_words(Some(body), None), "Well.\n4\nYes, $900.");
}

#[test]
fn signatures_go_but_content_stays() {
    assert_eq!(own_words(Some("Thanks,\n5"), None), "Thanks,\n5");
    assert_eq!(
        own_words(
            Some("Signed!\n\nBest,\n\nSally Jones\nCEO, Acme Ltd\n+44 20 7946 0958"),
            None
        ),
        "Signed!"
    );
    assert_eq!(
        own_words(Some("Good call.\nCheers, Sally"), None),
        "Good call."
    );
    assert_eq!(
        own_words(
            Some("We met.\n\nSally Jones | Acme | sally@acme.example"),
            None
        ),
        "We met."
    );
    assert_eq!(
        own_words(Some("Top.\n\nViele Grüße aus Berlin\nSally"), None),
        "Top."
    );
    assert_eq!(
        own_words(Some("Thanks, we signed.\nSally"), None),
        "Thanks, we signed.\nSally",
        "a closing word starting a sentence is no closing"
    );
    assert_eq!(
        own_words(Some("Excellent\n\nSally Jones\nM: +44 7700 900123"), None),
        "Excellent",
        "a rating word is never a name"
    );
    assert_eq!(own_words(Some("4\n\nSent from my iPad"), None), "4");
    assert_eq!(own_words(Some("4\n\nGet Outlook for iOS"), None), "4");
    assert_eq!(own_words(Some("-- \nonly a signature"), None), "");
}

/// What one reply should read as: rating, outcome, value and currency.
type Expected = (Option<u8>, Option<Outcome>, Option<(f64, &'static str)>);

#[test]
fn short_replies_as_people_write_them() {
    let cases: &[(&str, Expected)] = &[
        (
            "4 - we've had two calls and she's sending over a proposal next week.",
            (Some(4), Some(Met), None),
        ),
        (
            "5! It led to a €3k website project. Thanks Bob!",
            (Some(5), Some(Won), Some((3000.0, "EUR"))),
        ),
        (
            "Hi Alice, I'd say 3. We met for coffee but nothing came of it.",
            (Some(3), Some(Lost), None),
        ),
        (
            "2. Never really got going – he didn't answer my last two emails.",
            (Some(2), Some(NotMet), None),
        ),
        (
            "Five. We signed a 12-month retainer at £800/month.",
            (Some(5), Some(Won), Some((800.0, "GBP"))),
        ),
        (
            "3/5 — nice enough guy but not what we need right now.",
            (Some(3), Some(Lost), None),
        ),
        ("No business yet, but promising. 4", (Some(4), None, None)),
        (
            "We did! Signed last Friday, about $25,000 over the year.",
            (None, Some(Won), Some((25000.0, "USD"))),
        ),
        ("Not yet – we're meeting on the 28th.", (None, None, None)),
        (
            "1. Waste of time, he was just trying to sell me insurance.",
            (Some(1), None, None),
        ),
        (
            "4/5, led to some work: 2,000 EUR so far",
            (Some(4), Some(Won), Some((2000.0, "EUR"))),
        ),
        (
            "Great chat with Sally, really helpful. No business (yet).",
            (Some(4), Some(Met), None),
        ),
        (
            "Unfortunately it didn't lead to anything.",
            (None, Some(Lost), None),
        ),
        (
            "3 – we spoke but the timing isn't right for us",
            (Some(3), Some(Lost), None),
        ),
        ("We're in talks. 4 for now.", (Some(4), Some(Met), None)),
        ("Def a 5!", (Some(5), None, None)),
        (
            "Solid 4. Had lunch, might work together later in the year.",
            (Some(4), Some(Met), None),
        ),
        (
            "It's a 5 from me – we closed a deal worth $40k last week.",
            (Some(5), Some(Won), Some((40000.0, "USD"))),
        ),
        (
            "We have been working together since March – it's going great! 5 stars",
            (Some(5), Some(Won), None),
        ),
        ("3 (meh)", (Some(3), None, None)),
        (
            "4/5: helpful chat, they're putting a quote together.",
            (Some(4), Some(Met), None),
        ),
        (
            "We had a call on 12/11 but he quoted $8,000 which is way over budget.",
            (None, Some(Lost), None),
        ),
        (
            "Yes! We're now a client of theirs. 5/5, brilliant intro.",
            (Some(5), Some(Won), None),
        ),
        (
            "Thanks for checking in. We have a first call scheduled for next Tuesday at 3.",
            (None, None, None),
        ),
        (
            "Very helpful intro. Not a customer yet but we're talking.",
            (Some(4), Some(Met), None),
        ),
        (
            "5 - they're doing our books now (approx. £250/month)",
            (Some(5), None, Some((250.0, "GBP"))),
        ),
        (
            "I'd rate the intro 4/5. We haven't done any business yet, but I expect we will in Q1.",
            (Some(4), Some(Met), None),
        ),
        ("Nope, didn't work out. 2", (Some(2), Some(Lost), None)),
        (
            "Re the intro: we never connected, he's been travelling.",
            (None, Some(NotMet), None),
        ),
        (
            "We haven't managed to meet yet, diaries are a nightmare. Will report back.",
            (None, Some(NotMet), None),
        ),
        (
            "thx alice. met him twice, nice guy, doesnt need our services tho. 3",
            (Some(3), Some(Lost), None),
        ),
        (
            "Alice, I never received an email from Fred. Can you resend his details? 1/5 so far, sorry!",
            (Some(1), Some(NotMet), None),
        ),
        (
            "Thanks. Yes, did some business - small job (€450). Would rate 4.",
            (Some(4), Some(Won), Some((450.0, "EUR"))),
        ),
        (
            "Hallo Alice, 4 von 5 – wir hatten ein gutes Gespräch, ein Auftrag ist noch nicht zustande gekommen.",
            (Some(4), Some(Met), None),
        ),
        (
            "Leider kein Kontakt zustande gekommen, er hat nie zurückgerufen.",
            (None, Some(NotMet), None),
        ),
        (
            "Wir haben einen Auftrag über 8.500 € erhalten. Top!",
            (None, Some(Won), Some((8500.0, "EUR"))),
        ),
        (
            "Gut, 4 von 5. Wir arbeiten ab Januar zusammen, Volumen ca. 12.000 Euro.",
            (Some(4), Some(Won), Some((12000.0, "EUR"))),
        ),
        (
            "Hat leider nicht gepasst – der Preis war zu hoch. 2/5",
            (Some(2), Some(Lost), None),
        ),
        (
            "Wir hatten am 3.12. ein Telefonat, sehr nett, aber bisher kein Auftrag. 3",
            (Some(3), Some(Met), None),
        ),
        (
            "Die Vorstellung war super, vielen Dank! Wir sind seit zwei Wochen in Kontakt und haben ein Angebot über 4.800 EUR angenommen.",
            (Some(5), Some(Won), Some((4800.0, "EUR"))),
        ),
        (
            "Es passt leider preislich nicht: sein Angebot lag bei 15.000 €, unser Budget bei 8.000 €. 2 von 5.",
            (Some(2), Some(Lost), None),
        ),
    ];
    table(cases, |s| {
        let r = asked(s);
        let money = r.value.map(|v| {
            // The currency as a &'static str, for comparing with the table.
            let c = r.currency.as_deref().unwrap_or("none");
            let known = ["EUR", "USD", "GBP", "CHF", "none"];
            (v, known.into_iter().find(|k| *k == c).unwrap_or("other"))
        });
        (r.rating, r.outcome, money)
    });
}

/// Harm: praise in answer to a follow-up ("did you two connect?") was stored as a rating of 4
/// the person never gave, skewing the owner's statistics.
#[test]
fn praise_is_a_rating_only_where_one_was_asked_for() {
    for kind in [Some(FollowUp), Some(OwnerNudge), Some(ThankYou), None] {
        let r = read("We met, it went great", kind);
        assert_eq!(
            (r.rating, r.outcome),
            (None, Some(Met)),
            "answering {kind:?}"
        );
    }
    for kind in [FeedbackRequest, FeedbackReminder] {
        let r = read("We met, it went great", Some(kind));
        assert_eq!(
            (r.rating, r.outcome),
            (Some(4), Some(Met)),
            "answering {kind:?}"
        );
    }
}

/// Harm: a rating written as one ("4/5", "Rating: 3", "5 - we signed") in answer to a
/// follow-up was lost, or praise there ("excellent intro") taken for one.
#[test]
fn unasked_replies_read_only_ratings_written_as_ratings() {
    table(
        &[
            (
                "4/5 – good people, we're still working through pricing",
                Some(4),
            ),
            ("★★★★ great chat", Some(4)),
            ("Rating: 3", Some(3)),
            ("It was a 4.", Some(4)),
            ("a solid 4 from me", Some(4)),
            ("I'd give it a 4", Some(4)),
            ("5 stars", Some(5)),
            ("Bewertung: 4", Some(4)),
            ("Note : 4", Some(4)),
            ("Puntuación: 4", Some(4)),
            ("cuatro de cinco", Some(4)),
            ("cinq étoiles", Some(5)),
            ("5 - we signed", Some(5)),
            ("Hi Alice,\n\n5\n\nThanks", Some(5)),
            ("We're in talks. 4 for now.", Some(4)),
            ("No business yet, but promising. 4", Some(4)),
            ("We spoke 3 times", None),
            ("Excellent intro", None),
            ("Really helpful, thanks", None),
            ("Not great, to be honest", None),
            ("Terrible, he never showed up", None),
        ],
        |s| unasked(s).rating,
    );
}

/// Harm: a rating written in French, Spanish, Portuguese, Italian or Dutch was lost, or a
/// school grade ("Note: 2" is good in German, "voto 4" a fail in Italian) read as one.
#[test]
fn ratings_written_in_more_languages() {
    table(
        &[
            ("4 sur 5", Some(4)),
            ("quatre sur cinq", Some(4)),
            ("Note : 3", Some(3)),
            ("4 de 5", Some(4)),
            ("cinco estrellas", Some(5)),
            ("Valoración: 5", Some(5)),
            ("Avaliação: 4", Some(4)),
            ("quatro de cinco", Some(4)),
            ("cinco estrelas", Some(5)),
            ("4 su 5", Some(4)),
            ("Valutazione: 3", Some(3)),
            ("cinque stelle", Some(5)),
            ("4 van 5", Some(4)),
            ("Beoordeling: 4", Some(4)),
            ("评分：5/5", Some(5)),
            ("평점: 4/5", Some(4)),
            ("Note: 2", None),
            ("Nota: 4", None),
            ("Voto: 4", None),
            ("Cijfer: 4", None),
            ("Nos vemos el 4 de mayo", None),
            ("2 de 5 reuniones", None),
            ("note : 4 personnes", None),
            ("Puntuación: 4 o 5", None),
            ("Très bien, merci", None),
            ("Excelente, gracias", None),
        ],
        rating,
    );
}

/// Harm: "we grabbed coffee", "had a call", "we're working on a proposal" said the parties
/// talked, and the referral stayed open as if nobody had answered.
#[test]
fn paraphrases_of_meeting() {
    table(
        &[
            (
                "We grabbed coffee a couple of weeks ago and really enjoyed it",
                Some(Met),
            ),
            ("Grabbed lunch with Sally on Friday", Some(Met)),
            ("We had a call on Tuesday", Some(Met)),
            ("Jumped on a call yesterday", Some(Met)),
            ("We hopped on a quick Zoom", Some(Met)),
            ("Caught up over lunch", Some(Met)),
            ("We spoke last week", Some(Met)),
            ("We're working on a proposal", Some(Met)),
            ("We're still working through pricing", Some(Met)),
            ("They're working on a quote for us", Some(Met)),
            ("They are drafting a contract", Some(Met)),
            ("I sent him a proposal but never heard back", Some(NotMet)),
            ("Wir arbeiten gerade an einem Angebot", Some(Met)),
            ("Wir haben zusammen Kaffee getrunken", Some(Met)),
            ("I'll grab coffee with him next week if he's around", None),
            ("We'd like to work on a proposal together", None),
            ("Let's jump on a call?", None),
        ],
        outcome,
    );
}

/// Harm: replies in French, Spanish, Portuguese, Italian and Dutch read no outcome, so the
/// referral looked unanswered and its reminders went on.
#[test]
fn outcomes_in_more_languages() {
    table(
        &[
            // French
            ("Nous nous sommes rencontrés mardi", Some(Met)),
            ("On s'est vus hier", Some(Met)),
            ("Nous avons eu un appel jeudi", Some(Met)),
            ("Il m'a appelé lundi", Some(Met)),
            ("Nous avons signé le contrat", Some(Won)),
            ("Nous travaillons ensemble depuis lundi", Some(Won)),
            ("Il est devenu client", Some(Won)),
            ("Ça n'a pas marché", Some(Lost)),
            ("C'était trop cher pour nous", Some(Lost)),
            ("Ils ont choisi un autre prestataire", Some(Lost)),
            ("Aucune réponse de sa part", Some(NotMet)),
            ("Pas de nouvelles pour l'instant", Some(NotMet)),
            // Spanish
            ("Nos reunimos en Jerez la semana pasada", Some(Met)),
            ("Hablamos ayer por teléfono", Some(Met)),
            ("Tuvimos una reunión el lunes", Some(Met)),
            ("Ya hemos hablado", Some(Met)),
            ("Firmamos el contrato", Some(Won)),
            ("Cerramos el acuerdo la semana pasada", Some(Won)),
            ("Trabajamos juntos desde enero", Some(Won)),
            ("No funcionó", Some(Lost)),
            ("Era demasiado caro", Some(Lost)),
            ("Eligieron a otro proveedor", Some(Lost)),
            ("Sin respuesta hasta ahora", Some(NotMet)),
            ("Hablamos la semana que viene", None),
            ("Nos reunimos el martes", None),
            ("Me pondré en contacto con él", None),
            // Portuguese
            ("Nos reunimos ontem", Some(Met)),
            ("Falei com ele ontem", Some(Met)),
            ("Tivemos uma reunião ótima", Some(Met)),
            ("Fechamos negócio!", Some(Won)),
            ("Contrato assinado", Some(Won)),
            ("Não deu certo", Some(Lost)),
            ("Ficou muito caro", Some(Lost)),
            ("Sem resposta até agora", Some(NotMet)),
            ("Vou entrar em contato com ele", None),
            // Italian
            ("Ci siamo sentiti al telefono", Some(Met)),
            ("Abbiamo parlato ieri", Some(Met)),
            ("Ho incontrato Sally a Milano", Some(Met)),
            ("Abbiamo firmato il contratto", Some(Won)),
            ("Ora lavoriamo insieme", Some(Won)),
            ("Non ha funzionato", Some(Lost)),
            ("Era troppo caro", Some(Lost)),
            ("Nessuna risposta", Some(NotMet)),
            // Dutch
            ("We hebben elkaar gesproken", Some(Met)),
            ("We hebben gisteren gebeld", Some(Met)),
            ("Goed gesprek gehad", Some(Met)),
            ("Contract getekend!", Some(Won)),
            ("We werken nu samen", Some(Won)),
            ("Het is niet gelukt", Some(Lost)),
            ("Te duur voor ons", Some(Lost)),
            ("Geen reactie ontvangen", Some(NotMet)),
            ("Ik neem contact met hem op", None),
            ("Met vriendelijke groet", None),
        ],
        outcome,
    );
}

/// Harm: "no nos reunimos" or "pas encore rencontré" read as a meeting, or "not signed yet"
/// as a lost deal, in any of the languages read.
#[test]
fn negation_in_more_languages() {
    table(
        &[
            ("No nos reunimos", Some(NotMet)),
            ("Todavía no nos hemos reunido", Some(NotMet)),
            ("No ha contestado", Some(NotMet)),
            ("Todavía no hemos firmado", Some(Met)),
            ("No firmamos", Some(Lost)),
            ("Pas encore rencontré", Some(NotMet)),
            ("Nous ne nous sommes jamais parlé", Some(NotMet)),
            ("Il n'a jamais répondu", Some(NotMet)),
            ("Nous n'avons pas encore signé", Some(Met)),
            ("Nous n'avons pas signé", Some(Lost)),
            ("Ainda não nos falamos", Some(NotMet)),
            ("Ele não respondeu", Some(NotMet)),
            ("Ainda não assinamos", Some(Met)),
            ("Non ci siamo ancora incontrati", Some(NotMet)),
            ("Non ha mai risposto", Some(NotMet)),
            ("Non abbiamo ancora firmato", Some(Met)),
            ("We hebben elkaar nog niet ontmoet", Some(NotMet)),
            ("Nog niet gesproken", Some(NotMet)),
            ("Nog niet getekend", Some(Met)),
            ("Wir haben uns nicht getroffen", Some(NotMet)),
            ("Wir haben uns im Mai getroffen", Some(Met)),
            ("didn't meet", Some(NotMet)),
        ],
        outcome,
    );
}

/// Harm: Japanese, Chinese and Korean replies read no outcome; or a plan ("来週会う予定"),
/// a question ("见面了吗？") or a negation ("没见面", "안 만났습니다") read as a meeting.
#[test]
fn outcomes_in_japanese_chinese_and_korean() {
    table(
        &[
            ("オンラインで2回話しました", Some(Met)),
            ("会いました", Some(Met)),
            ("お会いしました", Some(Met)),
            ("打ち合わせしました", Some(Met)),
            ("会っていません", Some(NotMet)),
            ("まだ連絡がありません", Some(NotMet)),
            ("契約しました", Some(Won)),
            ("まだ契約していません", Some(Met)),
            ("今回は見送りとなりました", Some(Lost)),
            ("来週会う予定です", None),
            ("空港まで見送りに行きます", None),
            ("会いましたか？", None),
            ("会いましたらご連絡します", None),
            ("见面了", Some(Met)),
            ("聊过了", Some(Met)),
            ("谈过了", Some(Met)),
            ("签约了", Some(Won)),
            ("成交了", Some(Won)),
            ("簽約了", Some(Won)),
            ("没见面", Some(NotMet)),
            ("还没签约", Some(Met)),
            ("没成交", Some(Lost)),
            ("见面了吗？", None),
            ("下周见面", None),
            ("如果签约了再告诉你", None),
            ("만났습니다", Some(Met)),
            ("통화했습니다", Some(Met)),
            ("계약했습니다", Some(Won)),
            ("안 만났습니다", Some(NotMet)),
            ("아직 만나지 못했습니다", Some(NotMet)),
            ("아직 계약하지 않았습니다", Some(Met)),
            ("다음 주에 만날 예정입니다", None),
            ("만났어요?", None),
        ],
        outcome,
    );
}

/// A small deterministic generator (xorshift64*), so the fuzz cases are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// Fragments that exercise every rule: markup, quotes, numbers, separators, multi-byte text.
const FRAGMENTS: &[&str] = &[
    "<",
    ">",
    "</div>",
    "<div>",
    "<blockquote>",
    "</blockquote>",
    "<br>",
    "&",
    "&#",
    "&#x",
    ";",
    "&amp;",
    "<p class=MsoNormal>",
    "<div id=\"appendonsend\">",
    "<!--",
    "-->",
    "<script>",
    "<style>",
    "\"",
    "'",
    "=",
    "On ",
    " wrote:",
    "Am ",
    " schrieb ",
    ":",
    "\n",
    "\r\n",
    "\r",
    "> ",
    ">",
    "-- ",
    "--",
    "From: ",
    "Sent: ",
    "To: ",
    "Subject: ",
    "Von: ",
    "____________________",
    "-----Original Message-----",
    "5",
    "4",
    "1",
    "0",
    "9",
    "10",
    "/",
    ".",
    ",",
    "-",
    "–",
    "€",
    "$",
    "£",
    "k",
    "m",
    "K",
    "ä",
    "ß",
    "é",
    "★",
    "☆",
    "⭐",
    "\u{FE0F}",
    "\u{200B}",
    "\u{0}",
    "\u{a0}",
    "🙂",
    "日本",
    "会いました",
    "没见面",
    "안 ",
    "만났습니다",
    "n'avons pas ",
    "nos reunimos ",
    "pasada",
    "not ",
    "nicht ",
    "great ",
    "good ",
    "signed ",
    "met ",
    "stop",
    "STOP ",
    "unsubscribe",
    "n't ",
    "’",
    "we ",
    "Thanks,",
    "Best,",
    "Sally Jones",
    "M: +44 7700 900123",
    "Rating: ",
    "out of ",
    "von ",
    "stars",
    " ",
    "  ",
    "\t",
    "yet ",
    "worth ",
    "Mio.",
    "'",
];

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(120);
    let mut s = String::new();
    for _ in 0..len {
        if rng.below(8) == 0 {
            // Any Unicode scalar value, including controls and unassigned ones.
            let c = char::from_u32(u32::try_from(rng.next() % 0x11_0000).unwrap_or(0));
            s.push(c.unwrap_or('\u{FFFD}'));
        } else {
            s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
    }
    s
}

fn assert_sane(input: &str, reading: &Reading) {
    if let Some(r) = reading.rating {
        assert!((1..=5).contains(&r), "rating {r} from {input:?}");
    }
    if let Some(v) = reading.value {
        assert!(v.is_finite() && v > 0.0, "value {v} from {input:?}");
    }
    assert_eq!(
        reading.comment.trim(),
        reading.comment,
        "untrimmed comment from {input:?}"
    );
    assert!(!reading.comment.contains("\n\n\n"), "{input:?}");
}

#[test]
fn arbitrary_input_never_panics() {
    let mut rng = Rng(0x5EED_CAFE_F00D_BEEF);
    for _ in 0..3000 {
        let s = random_text(&mut rng);
        for words in [own_words(Some(&s), None), own_words(None, Some(&s))] {
            assert_sane(&s, &asked(&words));
            let _ = says_stop(&words, &s);
        }
        assert_sane(&s, &asked(&s));
        let _ = html_to_text(&s);
    }
    for _ in 0..500 {
        let bytes: Vec<u8> = (0..rng.below(300))
            .map(|_| (rng.next() & 0xFF) as u8)
            .collect();
        let s = String::from_utf8_lossy(&bytes);
        assert_sane(&s, &asked(&own_words(Some(&s), Some(&s))));
        let _ = own_words(None, Some(&s));
        let _ = says_stop(&s, &s);
    }
}

#[test]
fn long_replies_are_read_in_linear_time() {
    // Shapes that would be quadratic in a naive scanner, 128 KiB each (every step is linear:
    // quadrupling the size quadruples the time), and one realistic 1 MiB reply.
    let shapes = [
        "a",
        "<div>",
        "<blockquote>x",
        "</span>",
        "> quoted line\n",
        "★",
        "5/5 ",
        "From: x\n",
        "Thanks,\n",
        "Sally Jones\n",
        "not signed yet ",
        "* 500 ",
        "1.",
        "\n",
        "<script>",
        "On 3 Nov 2026 Fred wrote:\n",
        "stop ",
        "great ",
        "&amp",
        "Best,\nSally\n",
        "123 €",
        "1. a\n",
        "Thanks. ",
        "not ",
        "Hi, ",
    ];
    for unit in shapes {
        let s = unit.repeat((128 << 10) / unit.len());
        let words = own_words(Some(&s), None);
        assert_sane(unit, &asked(&words));
        let _ = says_stop(&words, &s);
        let _ = own_words(None, Some(&s));
    }
    let paragraph = "We met twice and talked through the plan in detail; the second call was \
                     on 3/12 at 10:30 with 5 people. Nothing signed yet.\n\n";
    let original = "> Hi Fred, how did it go? Reply with 1-5.\n".repeat(2000);
    let body = format!(
        "4 - good so far.\n\n{}Best,\nSally\nM: +44 7700 900123\n\nOn Mon, 17 Nov 2026 at \
         09:00, Alice <a@x.org> wrote:\n{original}",
        paragraph.repeat((1 << 20) / paragraph.len())
    );
    let reading = asked(&own_words(Some(&body), None));
    assert_eq!(reading.rating, Some(4));
    assert_eq!(reading.outcome, Some(Met));
    assert!(reading.comment.ends_with("Nothing signed yet."));
}
