//! Outcomes in Japanese, Chinese and Korean. These scripts write no spaces between words (Korean
//! spaces words but glues endings to them), so phrases are found inside the text rather than
//! word by word. The past tense is in the verb form ("会いました", "见面了", "만났습니다"), so a
//! plan or a wish ("会いたい", "下周见面", "만날 예정") never matches. Negation is a form of its
//! own in Japanese ("会っていません"), and a word just before the verb in Chinese ("没见面") and
//! Korean ("안 만났습니다", "못 만났습니다").

use super::{Seen, Signal};
use Signal::{Lost, Met, NotMet, Won};

/// The phrases, by script; where one phrase holds another, the longer one counts.
#[rustfmt::skip]
const PHRASES: &[(&str, Signal)] = &[
    // Japanese: met
    ("会いました", Met), ("お会いしました", Met), ("会ってきました", Met), ("お会いできました", Met),
    ("会えました", Met), ("話しました", Met), ("お話ししました", Met), ("お話しました", Met),
    ("話せました", Met), ("話をしました", Met), ("打ち合わせしました", Met),
    ("打ち合わせをしました", Met), ("打合せしました", Met), ("面談しました", Met),
    ("電話しました", Met), ("通話しました", Met), ("ミーティングしました", Met),
    ("ミーティングをしました", Met), ("商談しました", Met), ("連絡がありました", Met),
    ("連絡をもらいました", Met), ("連絡を取りました", Met), ("やり取りしました", Met),
    ("やりとりしました", Met), ("返事がありました", Met), ("返信がありました", Met),
    ("見積もりを作成中", Met), ("提案書を作成中", Met),
    // Japanese: not met
    ("会っていません", NotMet), ("会えていません", NotMet), ("会えませんでした", NotMet),
    ("会っていない", NotMet), ("会えていない", NotMet), ("話していません", NotMet),
    ("話せていません", NotMet), ("話していない", NotMet), ("話せませんでした", NotMet),
    ("連絡がありません", NotMet), ("連絡が来ていません", NotMet), ("連絡がない", NotMet),
    ("連絡が取れていません", NotMet), ("連絡が取れません", NotMet), ("返事がありません", NotMet),
    ("返信がありません", NotMet), ("返事がない", NotMet), ("返信がない", NotMet),
    // Japanese: won
    ("契約しました", Won), ("契約を結びました", Won), ("契約が決まりました", Won),
    ("契約に至りました", Won), ("成約しました", Won), ("成約に至りました", Won),
    ("受注しました", Won), ("受注できました", Won), ("発注しました", Won),
    ("お願いすることになりました", Won), ("取引が始まりました", Won), ("取引を開始しました", Won),
    // Japanese: not signed yet (they talked), and lost
    ("まだ契約していません", Met), ("まだ契約には至っていません", Met), ("まだ成約していません", Met),
    ("契約しませんでした", Lost), ("契約には至りませんでした", Lost), ("契約に至りませんでした", Lost),
    ("成約しませんでした", Lost), ("成約に至りませんでした", Lost), ("契約していません", Lost),
    ("見送りとなりました", Lost), ("見送りになりました", Lost), ("見送ることに", Lost),
    ("見送らせて", Lost), ("見送りました", Lost), ("ご縁がありませんでした", Lost), ("他社に決め", Lost),
    ("他社にお願いすることになりました", Lost), ("お断りしました", Lost), ("断りました", Lost),
    ("断られました", Lost), ("うまくいきませんでした", Lost), ("まとまりませんでした", Lost),
    ("合いませんでした", Lost), ("高すぎ", Lost), ("予算が合わ", Lost),
    // Chinese (simplified and traditional): met
    ("见面了", Met), ("見面了", Met), ("见过面", Met), ("見過面", Met), ("见了面", Met),
    ("見了面", Met), ("见过了", Met), ("見過了", Met), ("碰过面", Met), ("碰過面", Met),
    ("碰了面", Met), ("聊过", Met), ("聊過", Met), ("聊了", Met), ("谈过", Met), ("談過", Met),
    ("谈了", Met), ("談了", Met), ("通过电话", Met), ("通過電話", Met), ("打过电话", Met),
    ("打過電話", Met), ("通了电话", Met), ("通了電話", Met), ("开过会", Met), ("開過會", Met),
    ("开了会", Met), ("開了會", Met), ("联系上了", Met), ("聯繫上了", Met), ("联系过了", Met),
    ("聯繫過了", Met), ("回复了", Met), ("回覆了", Met), ("正在谈", Met), ("正在談", Met),
    ("还在谈", Met), ("還在談", Met), ("正在沟通", Met), ("正在溝通", Met), ("在准备报价", Met),
    ("在準備報價", Met),
    ("在准备方案", Met), ("在準備方案", Met),
    // Chinese: not met
    ("没见面", NotMet), ("沒見面", NotMet), ("没有见面", NotMet), ("沒有見面", NotMet),
    ("还没见", NotMet), ("還沒見", NotMet), ("没见过", NotMet), ("沒見過", NotMet),
    ("没联系", NotMet), ("沒聯繫", NotMet), ("没有联系", NotMet), ("沒有聯繫", NotMet),
    ("联系不上", NotMet), ("聯繫不上", NotMet), ("没回复", NotMet), ("沒回覆", NotMet),
    ("没有回复", NotMet), ("沒有回覆", NotMet), ("没回音", NotMet), ("沒回音", NotMet),
    ("没有回音", NotMet), ("沒有回音", NotMet), ("没有消息", NotMet), ("沒有消息", NotMet),
    // Chinese: won
    ("签约了", Won), ("簽約了", Won), ("已签约", Won), ("已簽約", Won), ("签了合同", Won),
    ("簽了合同", Won), ("签合同了", Won), ("簽合同了", Won), ("成交了", Won), ("已成交", Won),
    ("达成合作", Won), ("達成合作", Won), ("开始合作了", Won), ("開始合作了", Won),
    ("下单了", Won), ("下單了", Won), ("合作了", Won),
    // Chinese: not signed yet (they talked), and lost
    ("还没签约", Met), ("還沒簽約", Met), ("还没有签约", Met), ("還沒有簽約", Met),
    ("还没成交", Met), ("還沒成交", Met), ("还没有成交", Met), ("還沒有成交", Met),
    ("尚未签约", Met), ("尚未簽約", Met),
    ("没成交", Lost), ("沒成交", Lost), ("没有成交", Lost), ("沒有成交", Lost), ("没签约", Lost),
    ("沒簽約", Lost), ("没有签约", Lost), ("沒有簽約", Lost), ("没谈成", Lost), ("沒談成", Lost),
    ("没合作", Lost), ("沒合作", Lost), ("没有合作", Lost), ("沒有合作", Lost), ("不合适", Lost),
    ("不合適", Lost), ("太贵", Lost), ("太貴", Lost), ("选择了其他", Lost), ("選擇了其他", Lost),
    ("找了别人", Lost), ("找了別人", Lost), ("黄了", Lost), ("黃了", Lost), ("拒绝了", Lost),
    ("拒絕了", Lost),
    // Korean: met
    ("만났습니다", Met), ("만났어요", Met), ("만났다", Met), ("만나봤습니다", Met),
    ("만나 봤습니다", Met), ("만나봤어요", Met), ("뵀습니다", Met), ("뵈었습니다", Met),
    ("통화했습니다", Met), ("통화했어요", Met), ("통화했다", Met), ("이야기했습니다", Met),
    ("이야기했어요", Met), ("이야기를 나눴습니다", Met), ("얘기했습니다", Met), ("얘기했어요", Met),
    ("대화했습니다", Met), ("대화를 나눴습니다", Met), ("미팅했습니다", Met),
    ("미팅을 했습니다", Met), ("미팅을 가졌습니다", Met), ("회의했습니다", Met),
    ("연락했습니다", Met), ("연락이 왔습니다", Met), ("연락을 받았습니다", Met),
    ("답장을 받았습니다", Met), ("논의 중입니다", Met), ("협의 중입니다", Met),
    // Korean: not met
    ("만나지 못했", NotMet), ("만나지 않았", NotMet), ("통화하지 못했", NotMet),
    ("통화를 못 했", NotMet), ("통화 못 했", NotMet), ("연락이 없", NotMet), ("연락을 못 받", NotMet),
    ("답장이 없", NotMet), ("답이 없", NotMet), ("연락이 닿지 않", NotMet),
    // Korean: won
    ("계약했습니다", Won), ("계약했어요", Won), ("계약을 했습니다", Won), ("계약을 체결했", Won),
    ("계약을 맺었", Won), ("수주했습니다", Won), ("거래를 시작했", Won), ("거래하기로 했", Won),
    ("성사되었", Won), ("성사됐", Won), ("함께 일하게 되었", Won), ("함께 일하기로 했", Won),
    // Korean: not signed yet (they talked), and lost
    ("아직 계약하지 않았", Met), ("아직 계약은 안 했", Met), ("아직 계약 안 했", Met),
    ("계약하지 않았", Lost), ("계약하지 않기로", Lost), ("계약 안 했", Lost), ("계약을 안 했", Lost),
    ("성사되지 않았", Lost), ("성사되지 못했", Lost), ("거절했", Lost), ("거절당했", Lost),
    ("맞지 않았", Lost), ("안 맞았", Lost), ("다른 업체", Lost), ("진행하지 않기로", Lost),
    ("무산되었", Lost), ("무산됐", Lost), ("너무 비싸", Lost),
];

/// At most this many phrase matches are weighed (a reply says its outcome once or twice).
const MAX_MATCHES: usize = 64;

/// Whether `c` is a Han, kana or Hangul character.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
}

/// Marks that end a sentence, for the question check.
fn ends_sentence(c: char) -> bool {
    matches!(c, '。' | '！' | '.' | '!' | '\n')
}

/// Only this much of a reply is searched: an outcome is said near the top, and every phrase is
/// looked for separately.
const MAX_TEXT: usize = 64 << 10;

/// Adds what the CJK phrases of `text` say to `seen`.
pub(super) fn read(text: &str, seen: &mut Seen) {
    let mut cut = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = &text[..cut];
    if !text.chars().any(is_cjk) {
        return;
    }
    let mut found: Vec<(usize, usize, Signal)> = Vec::new();
    for &(phrase, signal) in PHRASES {
        for (at, _) in text.match_indices(phrase).take(MAX_MATCHES) {
            found.push((at, at + phrase.len(), signal));
        }
        if found.len() >= MAX_MATCHES {
            break;
        }
    }
    // Longest first: "まだ契約していません" (not yet) over "契約していません" (didn't).
    found.sort_by_key(|&(start, end, _)| (std::cmp::Reverse(end - start), start));
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (start, end, signal) in found {
        if taken.iter().any(|&(s, e)| start < e && s < end) {
            continue;
        }
        taken.push((start, end));
        let (before, after) = (&text[..start], &text[end..]);
        if asks(after) {
            continue;
        }
        let positive = matches!(signal, Met | Won);
        if positive && hypothetical(before, after) {
            continue;
        }
        match (signal, negated(before)) {
            (Met, true) => seen.not_met = true,
            (Won, true) if still(before) => seen.met = true,
            (Won, true) => seen.lost = true,
            (Met, false) => seen.met = true,
            (Won, false) => seen.won = true,
            (Lost, _) => seen.lost = true,
            (NotMet, _) => seen.not_met = true,
            _ => {}
        }
    }
}

/// Whether `line` holds one of the phrases (signature detection keeps such lines).
pub(super) fn mentions(line: &str) -> bool {
    line.chars().any(is_cjk) && PHRASES.iter().any(|(p, _)| line.contains(p))
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    let at = s
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &s[at..]
}

/// A question: "会いましたか", "见面了吗", or a question mark before the sentence ends.
fn asks(after: &str) -> bool {
    if after.starts_with(['か', '吗', '嗎', '么', '麼', '呢']) {
        return true;
    }
    after
        .chars()
        .take(40)
        .take_while(|&c| !ends_sentence(c))
        .any(|c| c == '?' || c == '？')
}

/// A wish or a plan: "如果签约了" (if), "希望" (hope), "会いましたら" (once we have met).
fn hypothetical(before: &str, after: &str) -> bool {
    const WORDS: &[&str] = &[
        "如果", "要是", "希望", "打算", "准备", "準備", "もし", "만약",
    ];
    after.starts_with('ら') || WORDS.iter().any(|w| tail(before, 12).contains(w))
}

/// A negation just before the verb: Chinese "没"/"沒"/"未", Korean "안 "/"못 ".
fn negated(before: &str) -> bool {
    tail(before, 2).contains(['没', '沒', '未', '不'])
        || before.ends_with("안 ")
        || before.ends_with("못 ")
}

/// "还"/"まだ"/"아직" (still, not yet) shortly before: not signed yet, still talking.
fn still(before: &str) -> bool {
    let near = tail(before, 8);
    ["还", "還", "尚", "まだ", "아직"]
        .iter()
        .any(|w| near.contains(w))
}
