//! The outcome: did they meet, did they do business. Phrases are matched on words (contractions
//! expanded), then weighed with their negation: "signed" is won, "haven't signed yet" is met,
//! "didn't sign" is lost, "we haven't met" is not met.

use std::sync::LazyLock;

use crate::model::Outcome;

use super::text::{PhraseSet, Token, Words, negated, question_sentences};

/// What a phrase says when it stands on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// They did business: "signed", "closed the deal".
    Won,
    /// A won verb in its base form ("sign"): it only says something negated ("didn't sign").
    WonVerb,
    /// It did not work out: "too expensive", "went with someone else".
    Lost,
    /// They never met: "no reply", "ghosted".
    NotMet,
    /// They met or spoke: "had a call", "telefoniert"; negated, they did not.
    Met,
    /// A contact verb in its base form ("reach", "meet"): it only says something negated.
    MetVerb,
    /// A meeting described ("a great chat", "ein gutes Gespräch"): met, even when the
    /// description is negated ("not a great call" was still a call).
    MetNoun,
}

use Signal::{Lost, Met, MetNoun, MetVerb, NotMet, Won, WonVerb};

/// The phrase lists documented in the module doc of [`super`].
#[rustfmt::skip]
static PHRASES: LazyLock<PhraseSet<Signal>> = LazyLock::new(|| {
    PhraseSet::new(&[
        // Won
        ("did|done|doing ?some|any|more|the business", Won),
        ("do ?some|any business", WonVerb),
        ("signed|unterschrieben|unterzeichnet", Won),
        ("sign|unterschreiben|unterzeichnen", WonVerb),
        ("closed|won|landed|secured ~ deal|sale|contract|business|project|job|pitch|account|order|tender|work", Won),
        ("close ~ deal|sale|contract", WonVerb),
        ("deal|contract|sale ?is|was|has|got ?been closed|done|agreed|finalised|finalized", Won),
        ("hired|engaged|retained|appointed|commissioned|onboarded|beauftragt", Won),
        ("went|gone with him|her|them", Won),
        ("chose|picked|selected him|her|them", Won),
        ("zusammengearbeitet", Won),
        ("hire|engage|retain|appoint|commission|onboard|beauftragen", WonVerb),
        ("booked them|him|her", Won),
        ("became|become|becoming ?a|an|our ?new ?paying client|customer|clients|customers", Won),
        ("now ?a|an|our ?new ?paying client|customer", Won),
        ("working|worked together", Won),
        ("going ?to work together|with", Won),
        ("gonna work together|with", Won),
        ("contract|agreement|retainer|vertrag ~ in place", Won),
        ("got|gotten|landed ~ contract|deal|retainer|order|job|project|gig", Won),
        ("work together|zusammenarbeiten", WonVerb),
        ("are|now|started|been|begun working with", Won),
        ("work with them|him|her", WonVerb),
        ("started|began|begun|kicked off ~ project|work|engagement|contract|retainer", Won),
        ("ordered|purchased|bought|bestellt|gekauft", Won),
        ("order|purchase|buy|bestellen|kaufen", WonVerb),
        ("placed ~ order", Won),
        ("went|going ahead", Won),
        ("go ahead", WonVerb),
        ("proceeding|proceeded with", Won),
        ("proceed", WonVerb),
        ("accepted ~ offer|proposal|quote|terms", Won),
        ("accept ~ offer|proposal|quote", WonVerb),
        ("agreed ~ terms|deal|contract|price|fee|scope", Won),
        ("agreed to ~ start|proceed|pilot|work|engage|hire|sign|buy|order", Won),
        ("in business", Won),
        ("led|leads|leading to ~ ~ business|work|project|projects|deal|contract|order|orders|sale|sales|engagement|job|client", Won),
        ("lead to ~ business|work|project|projects|deal|contract|order|sale|sales|engagement|job", WonVerb),
        ("got|gotten|won|generated|brought ~ business|work out of", Won),
        ("zu ~ auftrag|aufträgen|geschäft|projekt|zusammenarbeit geführt", Won),
        ("auftrag ~ erteilt|bekommen|erhalten|vergeben|gegeben|unterschrieben", Won),
        ("vertrag|deal|geschäft|geschäfte ~ abgeschlossen|unterschrieben|gemacht", Won),
        ("angebot ~ angenommen", Won),
        ("zusage|zuschlag ~ bekommen|erhalten", Won),
        ("ins geschäft gekommen", Won),
        ("arbeiten|arbeitet ~ zusammen", Won),
        ("zusammenarbeit ~ vereinbart|begonnen|gestartet|läuft|beschlossen", Won),
        ("kunde|kundin|kunden geworden", Won),
        ("jetzt|nun ~ kunde|kundin", Won),
        // Lost
        ("not work|worked|pan|panned out", Lost),
        ("not work for us|me", Lost),
        ("not ?really ?a|the ?good|great|right|perfect fit|match", Lost),
        ("no|bad|poor|wrong fit|match", Lost),
        ("not ?right for us|me", Lost),
        ("went|go|going|chose|choose|chosen|picked|pick|hired|selected|decided|signed ~ someone|somebody|another|competitor", Lost),
        ("too expensive|pricey|costly", Lost),
        ("out of ?our budget|price", Lost),
        ("over|beyond ?our budget", Lost),
        ("no budget", Lost),
        ("not afford", Lost),
        ("not taking on ~ clients|customers|work|projects|anyone", Lost),
        ("not need|want ~ our|my services|help|product|products|offer|offering", Lost),
        ("not what we|i ~ need|needed|want|wanted|looking", Lost),
        ("not the right time|timing", Lost),
        ("timing ~ not right", Lost),
        ("not lead|led to anything", Lost),
        ("stay|stayed|staying|stick|stuck|sticking with our|my existing|current|old", Lost),
        ("existing|current provider|supplier|agency|vendor|accountant|advisor|adviser", Lost),
        ("we|i|they passed", Lost),
        ("passed on", Lost),
        ("decided|decide|chose|going to pass", Lost),
        ("decided|chose|chosen not to", Lost),
        ("decided against", Lost),
        ("not ?be proceed|proceeding", Lost),
        ("not ?be go|going|move|moving forward", Lost),
        ("no deal|business", Lost),
        ("lost ~ deal|contract|business|them|bid|pitch|tender", Lost),
        ("declined|rejected|abgesagt|abgelehnt", Lost),
        ("turned ~ down", Lost),
        ("not interested", Lost),
        ("kein interesse|bedarf", Lost),
        ("nothing came of|out", Lost),
        ("nothing has come of|out", Lost),
        ("fell|fallen through", Lost),
        ("dead end", Lost),
        ("not go|lead anywhere", Lost),
        ("no-go", Lost),
        ("nicht ~ gepasst|geklappt|zustande|zusammengepasst", Lost),
        ("passt|passte ~ nicht", Lost),
        ("kein|keinen auftrag|geschäft|vertrag|deal", Lost),
        ("zu teuer", Lost),
        ("nichts ~ ergeben", Lost),
        ("nicht einig", Lost),
        ("nichts ?dar|draus|daraus geworden", Lost),
        ("dagegen|anders entschieden", Lost),
        ("für einen|eine|jemanden|jemand anderen|andere|anderes", Lost),
        ("anderen anbieter|dienstleister|partner", Lost),
        // Not met
        ("no reply|replies|response|responses|answer|reaction|word|contact|luck", NotMet),
        ("unable to ~ reach|contact|meet|connect|speak|talk", NotMet),
        ("not had|found ~ chance|time|opportunity", NotMet),
        ("ghosted|ghosting|no-show", NotMet),
        ("radio silence", NotMet),
        ("no show", NotMet),
        ("yet to ~ meet|hear|speak|talk|connect", NotMet),
        ("still waiting ~ hear|reply|response|answer|him|her|them", NotMet),
        ("waiting to hear", NotMet),
        ("keine antwort|rückmeldung|reaktion", NotMet),
        ("nichts ~ gehört", NotMet),
        // Met
        ("met", Met),
        ("spoke|spoken|talked|chatted|phoned|zoomed|skyped", Met),
        ("had ~ call|calls|chat|chats|coffee|meeting|meetings|lunch|dinner|breakfast|drinks|conversation|conversations|zoom|talk|discussion|catch-up|catchup|phone|video|intro", Met),
        ("connected|reconnected", Met),
        ("got|been|are|were|is|am in touch|contact", Met),
        ("heard from|back", Met),
        ("received|got ~ email|e-mail|call|message|reply|response|answer|word", Met),
        ("got|gotten back to", Met),
        ("replied|responded|answered|wrote back", Met),
        ("called|emailed|messaged|texted|rang me|us", Met),
        ("got together", Met),
        ("did talk|speak|meet|chat|connect", Met),
        ("on the phone", Met),
        ("im gespräch", Met),
        ("in talks|discussions|negotiations", Met),
        ("meeting|call|chat|coffee|lunch|conversation went", MetNoun),
        ("gespräch|telefonat|treffen|kennenlernen lief", MetNoun),
        ("are|were|been talking|speaking|chatting|negotiating", Met),
        ("meeting|call|chat|coffee|lunch|conversation ~ yesterday|last|earlier|ago", Met),
        ("treffen|gespräch|telefonat|termin ~ gestern|letzte|letzten|letzter|vorige|vorigen", Met),
        ("caught up", Met),
        ("getroffen|telefoniert|gesprochen|ausgetauscht|kennengelernt|geantwortet", Met),
        ("zurückgemeldet|angerufen|zurückgerufen|gemeldet|unterhalten", Met),
        ("good|great|nice|quick|productive|lovely|long|short|brief|first|initial|interesting|helpful|useful|fantastic|excellent|positive|friendly|pleasant|fruitful|intro|introductory chat|call|meeting|conversation|coffee|lunch|talk|discussion|exchange", MetNoun),
        ("gutes|gute|nettes|nette|tolles|tolle|kurzes|kurze|erstes|erste|langes|angenehmes|produktives|interessantes|hilfreiches gespräch|telefonat|treffen|meeting|kennenlernen|austausch", MetNoun),
        ("uns gesehen", Met),
        ("hatten ~ gespräch|telefonat|termin|meeting|treffen|call|austausch|kaffee|videocall", Met),
        ("in kontakt", Met),
        ("reach|reached|contact|contacted|hear|meet|speak|talk|connect|respond|reply|answer|call|called|emailed", MetVerb),
        ("show|showed|turn|turned up", MetVerb),
        ("get|got hold", MetVerb),
        ("reach|reached out", MetVerb),
        ("get back", MetVerb),
        ("heard", MetVerb),
        ("kontakt|erreicht|erreichen", MetVerb),
    ])
});

/// Phrases that look like outcomes but are not.
#[rustfmt::skip]
static NOT_OUTCOMES: LazyLock<PhraseSet<()>> = LazyLock::new(|| {
    PhraseSet::new(&[
        ("met|meet|meets ~ deadline|deadlines|expectations|requirements|needs|criteria|standards|goal|goals|target|targets|budget|bar|brief", ()),
        ("entscheidung|wahl|vereinbarung|absprache|auswahl|maßnahmen|vorkehrungen ~ getroffen", ()),
        ("signed|sign off", ()),
        ("signed|sign ~ nda|ndas|non-disclosure|confidentiality", ()),
        ("signed|sign up for|to ~ newsletter|webinar|event|mailing|list|updates", ()),
        ("look|looking|looks forward ~", ()),
        ("freue|freuen ~ zusammenarbeit|treffen|gespräch|austausch", ()),
        ("auf ~ zusammenarbeit", ()),
        ("do not reply", ()),
        ("got|received your ~ email|e-mail|message|note|reminder|mail", ()),
    ])
});

/// Whether an outcome phrase occurs (signature detection uses this to keep such lines).
pub(super) fn mentions_outcome(words: &Words) -> bool {
    PHRASES
        .find_all(words)
        .iter()
        .any(|h| !matches!(h.value, WonVerb | MetVerb | MetNoun))
}

/// Words that make a positive signal hypothetical: "we'd love to work together", "hope to sign".
#[rustfmt::skip]
const CONDITIONALS: &[&str] = &[
    "would", "might", "hope", "hoping", "hopefully", "if", "wish", "plan", "planning", "want",
    "wants", "expect", "expecting", "likely", "probably", "maybe", "perhaps", "wenn", "falls",
    "würde", "wäre", "hoffe", "hoffentlich", "ob", "vielleicht", "wahrscheinlich", "wollen",
    "möchten", "planen", "once", "when", "sobald",
];

/// Words that put a described meeting in the future: "a first call next week".
#[rustfmt::skip]
const FUTURE: &[&str] = &[
    "next", "tomorrow", "upcoming", "scheduled", "planned", "will", "going", "nächste", "nächsten",
    "nächster", "morgen", "geplant", "kommende", "kommenden",
];

/// Words that turn "not signed" into "not signed yet".
const YET: &[&str] = &["yet", "still", "noch", "bisher", "bislang"];

/// Words after a won phrase that mean the business went elsewhere: "signed with another firm".
#[rustfmt::skip]
const ELSEWHERE: &[&str] = &[
    "someone", "somebody", "another", "competitor", "jemand", "jemanden", "anderen", "konkurrenz",
];

/// The outcome, and the token indices of the won phrases (money is read nearest to them).
pub(super) fn read(tokens: &[Token], words: &Words) -> (Option<Outcome>, Vec<usize>) {
    let mut blocked = vec![false; words.len()];
    for hit in NOT_OUTCOMES.find_all(words) {
        blocked[hit.start..hit.end].fill(true);
    }
    let questions = question_sentences(tokens);
    let mut seen = Seen::default();
    let mut won_at = Vec::new();
    for hit in PHRASES.find_all(words) {
        if blocked[hit.start..hit.end].iter().any(|&b| b) {
            continue;
        }
        let sentence = words.token(hit.start).sentence;
        if questions.get(sentence).copied().unwrap_or(false) {
            continue;
        }
        let neg = negated(words, hit.start);
        let positive = matches!(hit.value, Won | WonVerb | Met | MetVerb | MetNoun);
        if positive && words.before_has(hit.start, 4, CONDITIONALS) {
            continue;
        }
        if hit.value == MetNoun && words.sentence_has_near(hit.start, hit.end, 6, FUTURE) {
            continue;
        }
        let yet = words.sentence_has_near(hit.start, hit.end, 4, YET);
        match (hit.value, neg) {
            (Won, false) if words.after_has(hit.end - 1, 4, ELSEWHERE) => seen.lost = true,
            (Won, false) => {
                seen.won = true;
                won_at.push(words.at[hit.start]);
            }
            (Won | WonVerb, true) if yet => seen.met = true,
            (Won | WonVerb, true) => seen.lost = true,
            // "no deal yet" is still open.
            (Lost, false) if !yet => seen.lost = true,
            (NotMet, false) | (Met | MetVerb, true) => seen.not_met = true,
            (Met, false) | (MetNoun, _) => seen.met = true,
            (WonVerb | MetVerb, false) | (Lost, _) | (NotMet, true) => {}
        }
    }
    (seen.outcome(), won_at)
}

/// Which signals a reply gave.
#[derive(Debug, Default)]
struct Seen {
    won: bool,
    lost: bool,
    not_met: bool,
    met: bool,
}

impl Seen {
    /// Won beats everything; lost beats met; "never heard from him, so nothing came of it" is
    /// not met rather than lost, because they never met.
    fn outcome(&self) -> Option<Outcome> {
        if self.won {
            Some(Outcome::Won)
        } else if self.lost && (self.met || !self.not_met) {
            Some(Outcome::Lost)
        } else if self.not_met && !self.met {
            Some(Outcome::NotMet)
        } else if self.met {
            Some(Outcome::Met)
        } else {
            None
        }
    }
}
