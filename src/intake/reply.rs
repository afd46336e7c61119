//! Reading a reply: what the person wrote, the rating, the outcome, the value of the business,
//! and whether they asked us to stop. Pure functions of the text; no I/O.
//!
//! The reading is deliberately cautious: **when unsure, nothing is read** (the reply is still
//! kept as a comment). A missed rating costs the owner one glance at the comment; a wrong one
//! silently skews the statistics. Outcomes are read in English, German, French, Spanish,
//! Portuguese, Italian and Dutch, and in their common Japanese, Chinese and Korean forms;
//! ratings in words (praise) in English and German only—see "What is not read" below.
//!
//! # The reply's own words ([`own_words`])
//!
//! The text/plain part is used; the text/html part (through [`html_to_text`]) only when there
//! is no plain part or it is empty. Then, line by line:
//!
//! - Lines quoted with `>` are dropped wherever they are, so top-posted, bottom-posted and
//!   inline replies keep exactly the lines their author wrote.
//! - An attribution is dropped: `On Mon, 3 Nov 2026 at 10:02, Fred <fred@x> wrote:` (Gmail,
//!   also wrapped over two or three lines), `On 3 Nov 2026, at 10:02, Fred <fred@x> wrote:`
//!   (Apple Mail), `Am 03.11.2026 um 10:02 schrieb Fred <fred@x>:`, `Le … a écrit :`, and the
//!   Dutch, Spanish and Italian forms. It must hold a date or an address—except right before
//!   `>` lines, where `Fred wrote:` is enough. When unmarked text follows an attribution, that
//!   text is the original and everything from the attribution on is dropped.
//! - Everything from the start of the original on is dropped: an Outlook header block
//!   (`From:` with two of `Sent:`/`Date:`/`To:`/`Subject:` in the lines after it, or
//!   `Von:`/`Gesendet:`/`An:`/`Betreff:`, `De :`/`Envoyé :`/`À :`/`Objet :`…; also GMX's order
//!   with `Gesendet:` first), a line of 20 or more underscores, `-----Original Message-----`,
//!   `-----Ursprüngliche Nachricht-----`, `---------- Forwarded message ---------`,
//!   `Begin forwarded message:` and their kin.
//! - `[Quoted text hidden]` and `[image: …]` placeholders are dropped.
//! - The signature goes: everything after a `-- ` (or `--`) line; device lines ("Sent from my
//!   iPhone", "Get Outlook for iOS", "Von meinem iPhone gesendet", "Sent from Mail for
//!   Windows"…); confidentiality disclaimers; a closing ("Best,", "Thanks,", "Kind regards",
//!   "Viele Grüße", "Mit freundlichen Grüßen", "Cheers, Sally"…) when at most 15 name, title
//!   and contact lines follow it; and a trailing block of name, title and contact lines holding
//!   at least one contact line (a phone number, "M:"/"Tel."/"Mobile" labels, an email address,
//!   a URL, an address, a company-register line). A line with a digit, a rating word or an
//!   outcome phrase is never taken for a name or title, so content is not eaten ("Thanks,\n5"
//!   keeps the 5).
//! - Whitespace is normalised: runs of spaces collapse, lines are trimmed, and several empty
//!   lines become one (paragraphs stay apart; line breaks inside a paragraph are kept).
//!
//! # The rating (1–5)
//!
//! **A rating is read where one was asked for, or where it is written as one.** [`read`] is
//! told which of our messages the reply answers: a feedback request or its reminder asks for
//! a rating, and there every form below counts, words too. A follow-up, the owner's nudge, a
//! thank-you, the introduction's own thread or a reply matched only by its subject asks for
//! none: there only the explicit forms count (digits in a rating shape, `n/5`, stars,
//! `Rating:` …), and praise is never a number ("We met, it went great" is met, no rating).
//!
//! Explicit forms win over words; among explicit forms the first in the text counts.
//!
//! | form | examples | rating |
//! |---|---|---|
//! | fraction of 5 | `4/5`, `4 / 5`, `4 out of 5`, `4 of 5`, `4 von 5`, `four out of five`, `3/5 stars` | the number |
//! | fraction of 10 | `8/10`, `9 out of 10` | half, rounded up (`9/10` → 5, `7/10` → 4) |
//! | halves | `4.5/5`, `4,5 von 5` | rounded up (5) |
//! | stars | `★★★★☆` (filled stars count), `⭐⭐⭐⭐⭐`, `5 stars`, `five stars`, `4-star`, `4 Sterne`, `5*` | the count |
//! | keyword | `Rating: 3`, `Rating: four`, `rating 4`, `rated it 4`, `Score: 5`, `Bewertung: 4`, `I'd give it a 4`, `I'd say 3`, `ich würde eine 4 geben` | the number |
//! | other languages | `4 sur 5`, `quatre sur cinq`, `cinq étoiles`, `Note : 4` (French spacing only), `4 de 5`, `cuatro de cinco`, `cinco estrellas`, `Puntuación: 4`, `Valoración: 4`, `Avaliação: 4`, `4 su 5`, `cinque stelle`, `Valutazione: 4`, `4 van 5`, `Beoordeling: 4`, `评分：5/5`, `평점: 4/5` | the number |
//! | article | `It was a 4.`, `a solid 4`, `a solid four`, `that's an easy 5!`, `Def a 5!` | the number |
//! | opening a sentence | `5 — we signed…`, `4. Good chat`, `Five. We signed.`, `Hi Alice,\n5`, `Thanks. 3 (meh)`, `We're in talks. 4 for now.` | the digit |
//! | closing the reply | `No business yet, but promising. 4` | the digit |
//! | lone line | a line holding only `4` (or `4.`, or `4️⃣`); several such lines must agree | the digit |
//!
//! Never a rating: digits in the quoted original (already gone), dates (`3/5/2026`, `on 3/5`,
//! `Tue 4/5`, `3/5 at 10am`, `the 5th`, `May 5`, `Nov. 5`, `05.11.`, `5. November`), times
//! (`at 5`, `5pm`, `10:30`), phone numbers, money (`$5k`, `5 €`), counts (`5 people`,
//! `2 meetings`, `in 3 weeks`), ranges (`4-5`, `4 or 5`), versions (`v2`, `4.2`), references
//! (`No. 5`), list numbering (`1.` when a line starting `2.` follows), a star decorating a
//! number (`⭐ 4/5` is 4), names (`Five Star Plumbing`), a digit inside a sentence without a
//! keyword ("we spoke 3 times"), and any number above 5 outside a fraction of 10 ("I'd give it
//! a 7" gives nothing). School grades are **not** read: `Note: 2` means "good" to a German
//! and "poor" to everyone else, and `nota`, `voto`, `cijfer` run to 10 (a 4 fails in Italy), so
//! they give no rating; French `note : 4` (with the space French sets before a colon) does.
//!
//! Words, when there is no explicit form (English and German; inflected German forms such as
//! "gutes", "tolle" count too):
//!
//! | rating | words |
//! |---|---|
//! | 5 | excellent, outstanding, fantastic, amazing, perfect, superb, brilliant, exceptional, phenomenal, incredible, wonderful, awesome, fabulous, terrific, super, stellar, top-notch, first-class, world-class, five-star, "couldn't be better"; ausgezeichnet, hervorragend, exzellent, perfekt, fantastisch, großartig, klasse, spitze, genial, wunderbar, erstklassig, überragend, bestens, **sehr gut** |
//! | 4 | great, good, very/really/pretty good, nice, pleasant, helpful, useful, productive, positive, valuable, worthwhile, promising, lovely, enjoyable, fruitful, constructive, solid, "went well"; gut, toll, prima, schön, hilfreich, nützlich, produktiv, positiv, angenehm, erfreulich, wertvoll, vielversprechend, nett, "lief gut", "gut gelaufen" |
//! | 3 | ok, okay, fine, alright (only after a verb, an adverb or a negation: "it was ok", "just fine", "not ok"—a bare "Ok, so…" is not a rating), average, decent, so-so, mediocre, mixed, neutral, "good enough", "nothing special"; "ganz ok", "ganz gut", "geht so", mittelmäßig, durchschnittlich, passabel, akzeptabel, "in Ordnung" |
//! | 2 | poor, disappointing, underwhelming, meh, weak, bad, lacklustre, unhelpful, unproductive, frustrating, "not ideal", "a let down"; schlecht, enttäuschend, mäßig, dürftig, schwach, mau, durchwachsen |
//! | 1 | terrible, awful, useless, horrible, dreadful, appalling, atrocious, worst, disaster, pointless, abysmal, hopeless, rubbish, "waste of time", "very bad", "very poor"; "sehr schlecht", furchtbar, schrecklich, katastrophal, Zeitverschwendung, nutzlos, unbrauchbar, miserabel, grauenhaft, unterirdisch, sinnlos |
//!
//! Negation ("not", "never", "n't", "no", "nothing", "hardly", "nicht", "kein", "nichts",
//! "wenig", up to three words before, in the same clause) turns a 5 into 3 ("not amazing"), a 4
//! or 3 into 2 ("not good", "nicht gut", "not ok"), a 2 or 1 into 3 ("not bad", "nicht
//! schlecht", "not terrible"); "nicht sehr gut" is 2. A rating word does not count in a
//! question, after "would", "hope", "if", "wenn", "würde"…, or in set phrases ("good morning",
//! "good luck", "good news", "sounds good", "all good", "have a great weekend", "best regards",
//! "guten Tag", "alles Gute", "schönes Wochenende"…). The first rating word counts, unless the
//! rating words of the reply differ by two or more points ("great intro, but the meeting was
//! terrible"): then there is no rating.
//!
//! # The outcome
//!
//! | outcome | phrases (a selection) |
//! |---|---|
//! | won | did business, led to some business/work/a project, signed, closed the deal, won the contract, got a contract, contract in place, hired them, engaged them, went with them, became a client, now a client, working together, we're working with, going to work together, agreed to start, ordered, bought, placed an order, went ahead, accepted the offer; Auftrag erteilt/bekommen, unterschrieben, beauftragt, wir arbeiten (jetzt) zusammen, zusammengearbeitet, Vertrag abgeschlossen, Angebot angenommen, Zuschlag bekommen, Kunde geworden, bestellt, ins Geschäft gekommen |
//! | lost | didn't work out, not a (good) fit, went with someone else, chose another, stayed with our existing provider, too expensive, out of budget, we passed, decided not to, decided against, not moving forward, not what we need, not the right time, not taking on clients, didn't lead to anything, no deal, no business, lost the deal, declined, turned it down, not interested, nothing came of it, fell through; hat nicht gepasst, passt nicht, nicht geklappt, kein Auftrag, zu teuer, abgesagt, abgelehnt, kein Interesse, nichts draus geworden, hat sich nichts ergeben, nicht einig geworden, für einen anderen entschieden |
//! | not met | never heard from him, haven't heard back, no reply/response, never received an email, couldn't reach, didn't connect, we haven't met, haven't had a chance to, no call yet, ghosted, no-show, yet to meet, still waiting to hear; nie gemeldet, nicht getroffen, nicht erreicht, nicht zurückgerufen, keine Antwort/Rückmeldung, kein Kontakt |
//! | met | we met, had a call/chat/coffee/meeting, a great chat, a first call yesterday, the meeting went well, spoke, talked, on the phone, connected, got in touch, in talks, we're talking, heard from, replied, called me, grabbed coffee/lunch, jumped/hopped on a call, caught up, exchanged emails, working on/through a proposal/pricing/a quote, putting a quote together, drafting a contract; getroffen, Kaffee getrunken, arbeiten an einem Angebot, telefoniert, gesprochen, ausgetauscht, kennengelernt, hatten ein Gespräch, ein gutes Gespräch, das Gespräch lief gut, im Gespräch, in Kontakt, gemeldet, angerufen |
//!
//! Negation matters: a negated won phrase is **met** when "yet"/"still"/"noch"/"bisher" is
//! near it in the sentence ("we haven't signed yet", "noch nicht unterschrieben") and **lost**
//! otherwise ("we didn't sign", "decided not to", "keinen Auftrag erteilt"); a negated met
//! phrase is **not met** ("we haven't met", "never heard from him"); "signed with someone else"
//! is lost; a lost phrase with "yet" says nothing ("no business yet"). Won and met phrases do
//! not count after "would", "hope", "if", "plan", "probably", "once", "when", "wenn",
//! "würde"… ("we'd love to work together"), nor "looking forward to working together", nor
//! signing an NDA or up for a newsletter, nor a described meeting in the future ("a first call
//! next week"), nor anything in a question. When several outcomes appear: won beats
//! everything, lost beats met, met beats not met—except that "lost" with "not met" and no
//! meeting is not met ("never heard back, so nothing came of it"). A bare "yes" or "no" is not
//! read as an answer to "did it lead to business?".
//!
//! ## Other languages
//!
//! The same signals, with the same negation and precedence rules, in French ("nous nous
//! sommes rencontrés", "on a eu un appel", "nous avons signé", "nous travaillons ensemble",
//! "trop cher", "ça n'a pas marché", "aucune réponse"), Spanish ("nos vimos", "tuvimos una
//! reunión", "firmamos", "cerramos el acuerdo", "no funcionó", "eligieron a otro proveedor",
//! "sin respuesta"), Portuguese ("falei com ele", "tivemos uma reunião", "fechamos negócio",
//! "não deu certo", "sem resposta"), Italian ("ci siamo sentiti", "abbiamo parlato", "abbiamo
//! firmato", "lavoriamo insieme", "troppo caro", "nessuna risposta") and Dutch ("gesproken",
//! "gebeld", "gesprek gehad", "getekend", "we werken samen", "niet gelukt", "te duur", "geen
//! reactie"). Negation words: "pas", "jamais", "aucun", "rien", "no", "nunca", "ningún",
//! "nada", "não", "nenhum", "non", "nessuno", "niente", "niet", "nooit", "geen", "niets";
//! "yet" is "encore", "todavía", "aún", "ainda", "ancora", "nog" ("pas encore signé", "todavía
//! no hemos firmado" are met). "encore", "ancora", "mai"… between the negation and the verb
//! do not count towards its three words ("non ci siamo ancora incontrati" is not met). Spanish
//! and Portuguese "nos reunimos", "hablamos", "falamos" are present and past alike: met only
//! with a time in the past in the sentence ("la semana pasada", "ayer", "ontem", "ya"), not
//! met when negated ("no nos reunimos"), nothing otherwise ("hablamos la semana que viene").
//! Dutch "met" ("with") before a pronoun or article is not English "met".
//!
//! Japanese, Chinese and Korean write no spaces between words, so their phrases are found
//! inside the text: met "会いました", "話しました", "お会いしました", "打ち合わせしました",
//! "见面了", "聊过了", "谈过了", "만났습니다", "통화했습니다"; not met "会っていません",
//! "連絡がありません", "没见面", "没有回复", "만나지 못했습니다", "연락이 없습니다"; won
//! "契約しました", "成約しました", "签约了", "成交了", "계약했습니다"; lost "見送り", "没成交",
//! "不合适", "성사되지 않았"; not signed yet (met) "まだ契約していません", "还没签约", "아직 계약하지
//! 않았". Chinese "没"/"沒"/"未" and Korean "안 "/"못 " right before a met or won verb negate
//! it; a question ("会いましたか", "见面了吗", a "？" before the sentence ends), "…ましたら"
//! (once…) and "如果"/"希望"/"打算" (if, hope, plan) before it make it say nothing. Plans need
//! no rule: "会う予定", "下周见面", "만날 예정" are not past forms.
//!
//! ## What is not read
//!
//! - Praise in French, Spanish, Portuguese, Italian, Dutch, Japanese, Chinese or Korean ("très
//!   bien", "excelente", "ottimo", "とても良い") is not a rating: a word scale per language is
//!   guesswork, and only a rating written as one is read in those languages.
//! - One in words where "one" is also an article ("une étoile", "una estrella", "een ster").
//! - School-grade words (`Note:`, `nota`, `voto`, `cijfer`), as above.
//! - Ambiguous Spanish and Portuguese present/past forms without a time in the past, and
//!   Chinese/Japanese/Korean meetings described without a past-tense verb ("见面" alone).
//! - Amounts written with CJK multipliers ("500万円") are not a value.
//!
//! # The closed-business value
//!
//! An amount needs a currency marker—`$`, `€`, `£`, `¥`, `₹`, `US$`, `A$`, `C$`, ISO codes
//! (`USD`, `EUR`, `GBP`, `CHF`, `CAD`, `AUD`, `NZD`, `JPY`, `SEK`, `NOK`, `DKK`, `PLN`, `INR`,
//! also glued: `USD4000`) before or after, or the words dollars, bucks, euro(s), pounds, quid,
//! sterling, Franken, yen—or a context word: "worth", "value(d)", "deal", "contract", "order",
//! "fee", "invoice", "revenue", "Wert", "Auftragswert", "Volumen", "Umsatz", "Honorar" up to
//! three words before, or "deal", "contract", "order", "project", "job", "Auftrag", "Projekt"
//! right after ("a 3000 deal"); "5 grand" is money by itself. A number without a currency must
//! be at least 100 (or carry k/m), is never money before a count ("300 units", "40 hours"), and
//! a plain year (1900–2100) never is money. `$` is read as USD. A recurring amount is read as
//! written ("£1,500 a month" is 1500).
//!
//! Numbers are read in both conventions: a single `.` or `,` followed by exactly three digits
//! groups thousands ("2.500 €" and "$2,500" are 2500), otherwise it is the decimal point
//! ("2,50 €" is 2.5); with both, the last one is the decimal point ("1,200.50" and "1.200,50"
//! are 1200.5); `3'000` is 3000; "2.500,- €" is 2500; "2 500 €" (groups of three apart by
//! spaces) is 2500 next to a currency only. Multipliers: `k`/`K` (glued: "$10K"), `m`/`mn`
//! (glued: "£1.2m"), thousand, Tausend, Tsd., million, Mio., grand; with a multiplier a single
//! separator is always decimal ("$2.5k" is 2500). Phone numbers, dates, times, ranges and
//! percentages are never amounts.
//!
//! Which amount: an amount in a sentence about a proposal, a quote, an offer, an estimate, a
//! budget, a price or what might be ("could", "would", "hope", "Angebot", "Preis"…) is a price
//! under discussion and is skipped—unless that sentence also says it was won ("we accepted
//! their quote of €4,800"). Of the rest, the one nearest a won phrase counts; with no won
//! phrase, the largest. When the outcome is lost or not met, no value is read at all.
//!
//! # Opt-out ([`says_stop`])
//!
//! A reply opts out when a sentence, the last clause of a sentence ("Not interested, please
//! stop.") or a line is just a command—`STOP`, `Stop please`,
//! `unsubscribe (me)`, `opt out`, `remove me`, `abmelden`, `austragen`, `STOPP`—or when it says
//! "unsubscribe"/"opt out"/"abmelden"/"austragen"/"abbestellen" (not negated, and not inside
//! instructions such as "to unsubscribe, click here"), "stop emailing / sending / contacting /
//! these emails", "don't email / contact / remind me", "don't write to me again", "I don't want
//! (any more) emails", "I'd rather not get these emails", "no more emails", "remove me from your list", "take me off", "delete my
//! data", "leave me alone", "bitte keine E-Mails mehr", "schreiben Sie mir nicht mehr", "mich
//! aus dem Verteiler entfernen", "melden Sie mich ab", "tragen Sie mich aus". The subject counts
//! too ("unsubscribe", as a `List-Unsubscribe` mailto sends it). "stop" inside an ordinary
//! sentence never opts out: "we can't stop talking about the project", "don't stop", "I'll
//! stop by Tuesday", "the bus stop", a line "stop." that ends a sentence wrapped from the line
//! before. A refusal that is qualified is not an opt-out: "don't email me until Monday", "…
//! at this address", "…, call me instead", "no more reminders needed".

mod html;
mod money;
mod outcome;
mod owner;
mod quote;
mod rating;
mod signature;
mod stop;
mod text;

#[cfg(test)]
mod tests;

use crate::model::{OutboundKind, Outcome};

use super::Reading;

/// The reply's own words: quoted text, forwarded originals and signatures removed.
/// `plain` is the text/plain body if any; `html` the text/html body if any (used when there is
/// no plain part, or the plain part is empty).
pub fn own_words(plain: Option<&str>, html: Option<&str>) -> String {
    let text = match (plain, html) {
        (Some(p), _) if !p.trim().is_empty() => p.to_string(),
        (_, Some(h)) => html_to_text(h),
        _ => String::new(),
    };
    let text = normalize_spaces(&text);
    let lines: Vec<&str> = text.lines().collect();
    let kept = quote::strip_quotes(&lines);
    let kept = signature::strip_signature(kept);
    tidy(&kept)
}

/// Reads a rating, an outcome, a closed-business value and the comment from a reply's own
/// words. `answers` is the kind of our message the reply answers (`None` when it answers none
/// of ours, or matched only by subject): only a feedback request or its reminder asks for a
/// rating, so only there is a bare digit or praise read as one.
pub fn read(own_words: &str, answers: Option<OutboundKind>) -> Reading {
    let asked = matches!(
        answers,
        Some(OutboundKind::FeedbackRequest | OutboundKind::FeedbackReminder)
    );
    let normalized = normalize_spaces(own_words);
    let lines: Vec<&str> = normalized.lines().collect();
    let comment = tidy(&lines);
    let tokens = text::tokenize(&comment);
    let words = text::Words::new(&tokens);
    let rating = rating::read(&tokens, &words, asked);
    let (outcome, won_at) = outcome::read(&comment, &tokens, &words);
    // An amount in a lost or never-met reply is a price quoted, not business done.
    let closed = !matches!(outcome, Some(Outcome::Lost | Outcome::NotMet));
    let money = money::read(&tokens, &won_at).filter(|_| closed);
    Reading {
        rating,
        outcome,
        value: money.map(|(v, _)| v),
        currency: money.and_then(|(_, c)| c).map(str::to_string),
        comment,
    }
}

/// What the owner's own message on a thread says that referrald's mail should not repeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerNote {
    /// She thanked someone (the store counts it when the introducer was among its recipients).
    pub thanks: bool,
    /// She offered a time, a call or a meeting.
    pub offers_time: bool,
}

/// Reads the owner's own words on a thread.
pub fn owner_note(own_words: &str) -> OwnerNote {
    OwnerNote {
        thanks: owner::thanks(own_words),
        offers_time: owner::offers_time(own_words),
    }
}

/// An amount as the owner writes it after `won` ("12k EUR", "€12,000", "4500"), with its
/// ISO 4217 currency when one is written: the reply reader's money rules, where a bare
/// number counts too (after `won` it can only be the value).
pub fn read_amount(text: &str) -> Option<(f64, Option<String>)> {
    let normalized = normalize_spaces(text);
    let read = |text: &str| {
        let tokens = text::tokenize(text);
        money::read(&tokens, &[]).map(|(v, c)| (v, c.map(str::to_string)))
    };
    read(&normalized).or_else(|| read(&format!("worth {normalized}")))
}

/// Whether the reply asks to stop receiving mail ("STOP", "unsubscribe", "please don't email
/// me", "remove me from your list", German "abmelden", "bitte keine E-Mails mehr" …). `subject`
/// counts too (a List-Unsubscribe mailto sends subject "unsubscribe"). It does not fire on
/// ordinary sentences that merely contain these words in another sense ("we can't stop talking
/// about the project", "don't stop", "I'll stop by Tuesday", "the bus stop").
pub fn says_stop(own_words: &str, subject: &str) -> bool {
    stop::says_stop(own_words, subject)
}

/// HTML to readable plain text: block elements end lines, entities are decoded, scripts and
/// styles are removed; `<blockquote>` (Gmail, Apple Mail, Thunderbird), Gmail's attribution,
/// Yahoo's, Proton's and GMX's quote containers come out as `> ` lines, Outlook's start of the
/// original (`appendonsend`, `divRplyFwdMsg`, a `border-top` separator, `<hr>`) as a line of
/// underscores and signature containers as a `-- ` line, so [`own_words`] drops them. Emoji
/// sent as images keep their alt text ("⭐").
pub fn html_to_text(html: &str) -> String {
    html::html_to_text(html)
}

/// Line ends as `\n`; no-break and other odd spaces as plain spaces; invisible characters gone.
fn normalize_spaces(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    text.chars()
        .filter_map(|c| match c {
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{0B}' | '\u{0C}' => Some('\n'),
            '\u{200B}' | '\u{FEFF}' | '\u{2060}' => None,
            c if c.is_whitespace() && c != '\n' => Some(' '),
            c if c.is_control() && c != '\n' => None,
            c => Some(c),
        })
        .collect()
}

/// Trimmed lines with single spaces; at most one empty line in a row; none at either end.
fn tidy(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut blank_due = false;
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            blank_due = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_due { "\n\n" } else { "\n" });
        }
        blank_due = false;
        out.push_str(&words.join(" "));
    }
    out
}
