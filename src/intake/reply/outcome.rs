//! The outcome: did they meet, did they do business. Phrases are matched on words (contractions
//! expanded), then weighed with their negation: "signed" is won, "haven't signed yet" is met,
//! "didn't sign" is lost, "we haven't met" is not met.

mod cjk;

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
    /// A verb form that is past and present alike (Spanish and Portuguese "nos reunimos",
    /// "hablamos"): met only when the sentence says when in the past ("la semana pasada",
    /// "ayer"); negated ("no nos reunimos"), not met.
    MetIfPast,
}

use Signal::{Lost, Met, MetIfPast, MetNoun, MetVerb, NotMet, Won, WonVerb};

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
        // Won: French, Spanish, Portuguese, Italian, Dutch
        ("signé|signée|signés|firmamos|firmado|firmada|firmó|firmaron|firmé|firmato|firmata|firmati", Won),
        ("abbiamo|hanno firmato", Won),
        ("assinamos|assinado|assinada|assinou|assinaram|assinei|getekend|ondertekend", Won),
        ("signer|firmar|firmare|assinar|tekenen|ondertekenen", WonVerb),
        ("conclu|conclus|conclue|cerramos|cerrado|cerró|fechamos|fechado|fechou|fechei|chiuso|concluso ~ affaire|contrat|accord|marché|vente|acuerdo|trato|contrato|venta|negocio|negócio|acordo|parceria|venda|contratto|accordo|affare|trattativa|vendita", Won),
        ("cerrar|fechar|chiudere|conclure ~ acuerdo|trato|contrato|negocio|negócio|contratto|accordo|affare|contrat|affaire", WonVerb),
        ("contrat|contrato|contratto|acuerdo|accordo|acordo|trato|negócio|affare|overeenkomst|contract|deal ~ signé|firmado|firmato|assinado|getekend|ondertekend|cerrado|fechado|chiuso|conclu|gesloten|rond", Won),
        ("fait|faire ?des affaire|affaires", Won),
        ("hecho|hicimos|fizemos|feito|fatto ?un|um|algún|algum ?buen|bom negocio|negocios|negócio|negócios|affari", Won),
        ("zaken gedaan", Won),
        ("travaillons|travaillerons|trabajamos|trabajando|trabajaremos|trabalhamos|trabalhando|trabalharemos|lavoriamo|lavorando|lavoreremo ensemble|juntos|juntas|insieme", Won),
        ("travailler|trabajar|trabalhar|lavorare ensemble|juntos|insieme", WonVerb),
        ("werken|werkt ~ samen", Won),
        ("samengewerkt", Won),
        ("samenwerken", WonVerb),
        ("devenu|devenue|devenus|diventato|diventata|diventati|convirtió|convertido|tornou|tornou-se|virou ~ client|cliente|clients|clienta|clienti", Won),
        ("maintenant|ahora|agora|ora ~ client|cliente|clienta", Won),
        ("klant ?van ?ons geworden", Won),
        ("nu ~ klant", Won),
        ("accepté|acceptée|aceptado|aceptamos|aceptaron|aceptó|aceitamos|aceitou|aceitaram|aceito|accettato|accettata ~ devis|offre|proposition|propuesta|presupuesto|oferta|cotización|proposta|orçamento|preventivo|offerta", Won),
        ("offerte|voorstel ~ geaccepteerd|aangenomen|goedgekeurd", Won),
        ("opdracht ~ gekregen|gegeven|verstrekt|binnen", Won),
        ("contratamos|contrataron|contraté|contratei|contrataram|mandaté|embauché|ingehuurd|ingaggiato", Won),
        ("commandé|encargamos|encomendamos|encomendou|ordinato|besteld", Won),
        ("remporté ~ contrat|marché|appel", Won),
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
        // Lost: French, Spanish, Portuguese, Italian, Dutch
        ("pas ~ abouti|marché|fonctionné|convenu", Lost),
        ("pas ~ donné suite", Lost),
        ("sans|aucune suite", Lost),
        ("rien donné", Lost),
        ("trop cher|chère|chers|chères", Lost),
        ("hors ?de ?notre budget", Lost),
        ("choisi|opté|retenu|préféré ~ autre|quelqu'un|concurrent", Lost),
        ("décidé ~ ne pas", Lost),
        ("pas intéressé|intéressés|intéressée|intéressées", Lost),
        ("refusé|décliné|refusée", Lost),
        ("no ~ funcionó|cuajó|prosperó|encajó|encaja|resultó|salió", Lost),
        ("no es lo que ~ buscamos|necesitamos|buscábamos|necesitábamos", Lost),
        ("no llegamos ~ acuerdo", Lost),
        ("no hubo|hay ~ acuerdo|negocio|trato", Lost),
        ("ningún|sin acuerdo|negocio|trato|interés", Lost),
        ("no ~ interesa|interesados|interesado|interesada|interesadas", Lost),
        ("demasiado ~ caro|cara|costoso|costosa", Lost),
        ("fuera de ?nuestro presupuesto", Lost),
        ("eligieron|elegimos|optamos|optaron|decidieron|decidimos|contrataron|escolheram|escolhemos|optaram|fecharam ~ otro|otra|otros|outro|outra|outros", Lost),
        ("decidimos|decidieron|decidiram no|não", Lost),
        ("descartado|descartamos|descartaron|rechazado|rechazó|rechazaron|rechazamos|declinamos|declinó", Lost),
        ("não ~ deu certo", Lost),
        ("não rolou", Lost),
        ("não ~ avançou|avançamos|funcionou", Lost),
        ("caro demais", Lost),
        ("muito caro", Lost),
        ("fora do ?nosso orçamento", Lost),
        ("sem|nenhum interesse|acordo", Lost),
        ("não ~ interesse", Lost),
        ("recusou|recusaram|recusamos|recusado", Lost),
        ("non ~ funzionato", Lost),
        ("non ~ andata|andato in porto", Lost),
        ("non se ne ~ fatto", Lost),
        ("non fa per noi", Lost),
        ("troppo caro|cara|costoso|costosa", Lost),
        ("fuori ?dal ?nostro budget", Lost),
        ("scelto|optato|deciso ~ altro|altra|altri|concorrente", Lost),
        ("deciso di non", Lost),
        ("nessun|nessuna accordo|affare|interesse", Lost),
        ("non ~ interessati|interessato|interessata|interessa", Lost),
        ("rifiutato|rifiutata|declinato", Lost),
        ("niet ~ gelukt|doorgegaan|gepast|uitgekomen", Lost),
        ("past|paste ~ niet", Lost),
        ("te duur", Lost),
        ("buiten ?ons budget", Lost),
        ("andere|ander partij|leverancier|bureau|aanbieder", Lost),
        ("afgewezen|afgezegd|afgehaakt", Lost),
        ("geen interesse|opdracht|deal|zaken|akkoord", Lost),
        ("niets ~ uitgekomen|geworden", Lost),
        ("besloten ~ niet", Lost),
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
        // Not met: French, Spanish, Portuguese, Italian, Dutch
        ("pas de réponse|nouvelles|retour", NotMet),
        ("aucune|aucun|sans réponse|nouvelle|nouvelles|retour|contact", NotMet),
        ("sin|ninguna respuesta|noticias|noticia|contestación", NotMet),
        ("no ~ sabido nada", NotMet),
        ("sem|nenhuma|nenhum resposta|retorno|notícias|notícia|contato|contacto", NotMet),
        ("nessuna|nessun risposta|notizia|notizie|riscontro|contatto", NotMet),
        ("geen reactie|antwoord|contact|respons", NotMet),
        ("niets ~ gehoord", NotMet),
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
        // Met: English paraphrases
        ("grabbed ~ coffee|coffees|lunch|drinks|drink|beer|beers|breakfast|dinner|call|bite", Met),
        ("jumped|hopped|got on ~ call|zoom|phone|teams|video|facetime", Met),
        ("working|worked on|through ~ proposal|proposals|pricing|price|prices|quote|quotes|quotation|contract|scope|terms|numbers|details|estimate|sow|statement|offer", Met),
        ("putting ~ together ~ proposal|quote|offer", Met),
        ("preparing|drafting ~ proposal|quote|quotation|offer|contract", Met),
        ("exchanged ~ emails|messages|e-mails|notes", Met),
        // Met: German paraphrases
        ("arbeiten|arbeitet ~ angebot|konzept|preis|preisen|konditionen|vorschlag|vertrag", Met),
        ("kaffee ~ getrunken", Met),
        // Met: French
        ("rencontrés|rencontré|rencontrée|rencontrées|parlé|discuté|échangé|téléphoné|répondu", Met),
        ("se|nous|vous ~ vus", Met),
        ("me|nous ?a|avons appelé|rappelé|écrit|répondu", Met),
        ("avons|avez|ont|a eu ~ appel|rendez-vous|réunion|échange|call|café|déjeuner|entretien|visio|conversation|rdv", Met),
        ("pris ~ café|verre|déjeuner", Met),
        ("sommes|sont|étions en discussion|discussions|négociation|négociations|contact", Met),
        ("travaillons|travaillent|travaille ~ proposition|devis|offre|contrat", Met),
        // Met: Spanish
        ("reunido|hablado|conversado|charlado|respondido|contestado", Met),
        ("nos ~ visto|conocido", Met),
        ("nos vimos|conocimos", Met),
        ("hablé|hablaron|conversé|conversaron|reuní|reunieron|respondió|contestó|escribió", Met),
        ("me|nos|le llamó|llamé|llamaron|escribió", Met),
        ("tuvimos|tuve ~ reunión|llamada|videollamada|café|comida|almuerzo|cena|charla|conversación|call|zoom|encuentro", Met),
        ("estamos|seguimos hablando|negociando|conversando", Met),
        ("estamos|estuvimos|estado en contacto|conversaciones|negociaciones", Met),
        ("trabajando|preparando ~ propuesta|presupuesto|cotización|oferta", Met),
        ("nos reunimos|juntamos|encontramos", MetIfPast),
        ("hablamos|charlamos|conversamos|reunimos", MetIfPast),
        ("tomamos ~ café|algo", MetIfPast),
        // Met: Portuguese
        ("falado|conversado|retornado", Met),
        ("falei|conversei|conversaram|falaram|reuniram|ligou|liguei|respondeu|retornou", Met),
        ("nos vimos", Met),
        ("tivemos|tive ~ reunião|chamada|ligação|conversa|call|café|almoço|jantar|encontro|videochamada", Met),
        ("estamos conversando|negociando|falando", Met),
        ("estamos|estivemos|estado em contato|contacto|negociação|conversas", Met),
        ("trabalhando|preparando ~ proposta|orçamento|cotação", Met),
        ("falamos|conhecemos", MetIfPast),
        // Met: Italian
        ("ci siamo|eravamo ~ sentiti|visti|incontrati|parlati|conosciuti|sentite|viste|incontrate", Met),
        ("incontrato|incontrata|incontrati|parlato|telefonato|risposto|richiamato", Met),
        ("avuto|fatto ~ call|chiamata|riunione|incontro|videochiamata|colloquio|telefonata|caffè|pranzo|meeting", Met),
        ("mi|ci ha chiamato|chiamata|scritto", Met),
        ("siamo in contatto|trattativa", Met),
        ("stiamo ~ parlando|trattando", Met),
        ("lavorando|preparando ~ proposta|preventivo|offerta", Met),
        // Met: Dutch
        ("gesproken|gebeld|gemaild|gereageerd|teruggebeld|geantwoord", Met),
        ("ontmoet", Met),
        ("gesprek|gesprekje|call|kennismaking|afspraak|overleg|meeting|koffie|lunch ~ gehad", Met),
        ("contact gehad", Met),
        ("koffie ~ gedronken", Met),
        ("zijn|waren in gesprek|overleg|contact", Met),
        ("werken|werkt ~ aan ~ voorstel|offerte|prijs|prijzen", Met),
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
        // Dutch "met" is "with": "contact met hem", "met de klant".
        ("met hem|haar|de|het|een|ons|jullie|elkaar|mijn|onze|je|u|zijn|hun|die|dat|deze|wie|wat|vriendelijke", ()),
        ("got|received your ~ email|e-mail|message|note|reminder|mail", ()),
    ])
});

/// Whether `line` holds a Japanese, Chinese or Korean outcome phrase (signature detection keeps
/// such lines).
pub(super) fn mentions_cjk_outcome(line: &str) -> bool {
    cjk::mentions(line)
}

/// Whether an outcome phrase occurs (signature detection uses this to keep such lines).
pub(super) fn mentions_outcome(words: &Words) -> bool {
    PHRASES
        .find_all(words)
        .iter()
        .any(|h| !matches!(h.value, WonVerb | MetVerb | MetNoun | MetIfPast))
}

/// Words that make a positive signal hypothetical: "we'd love to work together", "hope to sign".
/// Portuguese and Italian "se" (if) is left out: it is also the reflexive "eles se reuniram".
#[rustfmt::skip]
const CONDITIONALS: &[&str] = &[
    "would", "might", "hope", "hoping", "hopefully", "if", "wish", "plan", "planning", "want",
    "wants", "expect", "expecting", "likely", "probably", "maybe", "perhaps", "wenn", "falls",
    "würde", "wäre", "hoffe", "hoffentlich", "ob", "vielleicht", "wahrscheinlich", "wollen",
    "möchten", "planen", "once", "when", "sobald", "si", "espère", "espérons", "peut-être",
    "quand", "lorsque", "aimerions", "aimerais", "voudrions", "espero", "esperamos", "ojalá",
    "quizás", "quizá", "cuando", "gustaría", "encantaría", "talvez", "quando", "caso",
    "gostaríamos", "gostaria", "spero", "speriamo", "forse", "magari", "vorremmo", "vorrei",
    "hoop", "hopen", "hopelijk", "misschien", "zodra", "wanneer", "zou", "zouden",
];

/// Words that put a described meeting in the future: "a first call next week".
#[rustfmt::skip]
const FUTURE: &[&str] = &[
    "next", "tomorrow", "upcoming", "scheduled", "planned", "will", "going", "nächste", "nächsten",
    "nächster", "morgen", "geplant", "kommende", "kommenden", "prochaine", "prochain", "demain",
    "prévu", "prévue", "próxima", "próximo", "mañana", "viene", "vamos", "programada",
    "programado", "prevista", "previsto", "amanhã", "vai", "prossima", "prossimo", "domani",
    "volgende", "gepland",
];

/// Words that put an ambiguous verb form in the past: "nos reunimos la semana pasada".
#[rustfmt::skip]
const PAST: &[&str] = &[
    "pasada", "pasado", "ayer", "anteayer", "anoche", "ya", "hace", "passada", "passado", "ontem",
    "anteontem", "já", "há", "finalmente",
];

/// Words that turn "not signed" into "not signed yet".
#[rustfmt::skip]
const YET: &[&str] = &[
    "yet", "still", "noch", "bisher", "bislang", "encore", "todavía", "todavia", "aún", "aun",
    "ainda", "ancora", "nog",
];

/// Words after a won phrase that mean the business went elsewhere: "signed with another firm".
#[rustfmt::skip]
const ELSEWHERE: &[&str] = &[
    "someone", "somebody", "another", "competitor", "jemand", "jemanden", "anderen", "konkurrenz",
];

/// The outcome of `text` (cut into `tokens` and `words`), and the token indices of the won
/// phrases (money is read nearest to them).
pub(super) fn read(text: &str, tokens: &[Token], words: &Words) -> (Option<Outcome>, Vec<usize>) {
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
        let positive = matches!(
            hit.value,
            Won | WonVerb | Met | MetVerb | MetNoun | MetIfPast
        );
        if positive && words.before_has(hit.start, 4, CONDITIONALS) {
            continue;
        }
        let future = words.sentence_has_near(hit.start, hit.end, 6, FUTURE);
        if hit.value == MetNoun && future {
            continue;
        }
        // "nos reunimos" is "we meet" as much as "we met": only a time in the past decides.
        let past = words.sentence_has_near(hit.start, hit.end, 8, PAST) && !future;
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
            (NotMet, false) | (Met | MetVerb | MetIfPast, true) => seen.not_met = true,
            (Met, false) | (MetNoun, _) => seen.met = true,
            (MetIfPast, false) if past => seen.met = true,
            (WonVerb | MetVerb | MetIfPast, false) | (Lost, _) | (NotMet, true) => {}
        }
    }
    cjk::read(text, &mut seen);
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
