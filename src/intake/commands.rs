//! The owner's commands by email: the first line of the owner's own words ("pause 2w",
//! "won 12k EUR", "cancel #12") read into a [`Command`], and what applying one to a referral
//! decides ([`decide`]). Pure: who may command, and which message is a command at all, is
//! decided by the classifier; the store applies the [`Decision`].
//!
//! Adding a command is one variant of [`Command`], one row of [`COMMANDS`] (its word, how its
//! arguments read, its help line) and one arm in [`decide`].

use std::time::Duration;

use crate::model::{ReferralId, ReferralStatus};
use chrono::{DateTime, Utc};

/// The longest first line read as a command, in bytes: a longer one is cut (at a character
/// boundary) before it is read, so a hostile line costs nothing.
pub const MAX_LINE: usize = 1000;

/// The longest pause `pause DURATION` accepts; longer reads as "until resume".
const MAX_PAUSE: Duration = Duration::from_secs(366 * 24 * 3600);

/// One command of the owner's.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open referrals and what is waiting (one referral's, when one is named).
    Status,
    /// Call the referral off: every pending message is cancelled.
    Cancel,
    /// Hold the referral's mail, for a while or until `resume`.
    Pause {
        /// How long; `None` until `resume`.
        until_resumed: Option<Duration>,
    },
    /// Let a paused referral's mail go again.
    Resume,
    /// The owner did business, perhaps worth an amount.
    Won {
        /// The amount, when given.
        value: Option<f64>,
        /// Its ISO 4217 currency, when given.
        currency: Option<String>,
    },
    /// It did not work out.
    Lost,
    /// A note for the referral's story.
    Note {
        /// The note's text.
        text: String,
    },
    /// Send a held report as it is (the one its notice is about, or `#ID`, its outbox id).
    Send,
    /// Never send a held report.
    Skip,
    /// The list of commands.
    Help,
}

/// How one command word reads its arguments (the rest of the line, `#ID` removed): the
/// command, `None` when the words make the line a sentence rather than a command ("Lost my
/// phone, will call Fred"), or what is wrong with the arguments.
type Reader = fn(&str) -> Result<Option<Command>, String>;

/// Words a command without arguments may carry and still be one ("cancel please").
const POLITE: &[&str] = &[
    "please", "pls", "thanks", "thank", "you", "it", "this", "that", "now",
];

/// A command that takes no arguments: with words other than polite ones, the line is a
/// sentence that happens to start with a command word.
fn no_args(args: &str, command: Command) -> Result<Option<Command>, String> {
    let polite = args.split_whitespace().all(|w| {
        let w = w.trim_matches(|c: char| c.is_ascii_punctuation());
        w.is_empty() || POLITE.iter().any(|p| p.eq_ignore_ascii_case(w))
    });
    Ok(polite.then_some(command))
}

/// Every command: its word, how its arguments read, whether it needs a referral, and its
/// line in the help text (what the reply template lists).
pub const COMMANDS: &[(&str, Reader, bool, &str)] = &[
    (
        "status",
        |args| no_args(args, Command::Status),
        false,
        "status — open referrals and what is waiting (or one referral's, with #ID)",
    ),
    (
        "cancel",
        |args| no_args(args, Command::Cancel),
        true,
        "cancel — call the referral off; nothing more is sent about it",
    ),
    (
        "pause",
        read_pause,
        true,
        "pause [DURATION] — hold its mail (pause 2w); without a duration, until resume",
    ),
    (
        "resume",
        |args| no_args(args, Command::Resume),
        true,
        "resume — let a paused referral's mail go again",
    ),
    (
        "won",
        read_won,
        true,
        "won [AMOUNT [CURRENCY]] — you did business (won 12k EUR)",
    ),
    (
        "lost",
        |args| no_args(args, Command::Lost),
        true,
        "lost — it did not work out",
    ),
    (
        "note",
        read_note,
        true,
        "note TEXT — add a note to the referral's story",
    ),
    (
        "send",
        |args| no_args(args, Command::Send),
        false,
        "send — in a reply to my note about a held report: send it as it is (elsewhere send #ID, the number in that note)",
    ),
    (
        "skip",
        |args| no_args(args, Command::Skip),
        false,
        "skip — in a reply to my note about a held report: never send it (elsewhere skip #ID)",
    ),
    (
        "help",
        |args| no_args(args, Command::Help),
        false,
        "help — this list",
    ),
];

impl Command {
    /// The command's word.
    pub fn word(&self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Cancel => "cancel",
            Command::Pause { .. } => "pause",
            Command::Resume => "resume",
            Command::Won { .. } => "won",
            Command::Lost => "lost",
            Command::Note { .. } => "note",
            Command::Send => "send",
            Command::Skip => "skip",
            Command::Help => "help",
        }
    }

    /// Whether it acts on one referral, and so needs one named.
    pub fn needs_referral(&self) -> bool {
        COMMANDS
            .iter()
            .find(|(word, ..)| *word == self.word())
            .is_some_and(|(_, _, needs, _)| *needs)
    }
}

/// The help text's lines, one per command.
pub fn help_lines() -> Vec<&'static str> {
    COMMANDS.iter().map(|(.., help)| *help).collect()
}

/// What a first line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A command, with the referral it names (`#12`), if any.
    Command {
        /// The command.
        command: Command,
        /// `#ID` on the line.
        referral: Option<ReferralId>,
    },
    /// A command word with arguments that do not read ("pause soon"): answered with why and
    /// the help text, nothing changed.
    Invalid {
        /// The command word.
        word: &'static str,
        /// What is wrong, in a few words.
        why: String,
    },
    /// Not a command word: no command at all.
    NotACommand,
}

/// Reads the first line of the owner's words. A command is its first word (any case,
/// trailing punctuation such as "cancel." or "pause:" ignored), its arguments the rest; a
/// `#ID` token anywhere on the line names the referral ("cancel #12", "#12 cancel").
pub fn parse(line: &str) -> Line {
    let line = cut(line.trim(), MAX_LINE);
    let mut referral = None;
    let mut rest: Vec<&str> = Vec::new();
    let mut tokens = line.split_whitespace().peekable();
    // A leading `#ID` may come before the word.
    while let Some(token) = tokens.peek() {
        match referral_id(token) {
            Some(id) if referral.is_none() => {
                referral = Some(id);
                tokens.next();
            }
            _ => break,
        }
    }
    let Some(first) = tokens.next() else {
        return Line::NotACommand;
    };
    let word = first.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '#');
    let Some((word, read, ..)) = COMMANDS.iter().find(|(w, ..)| w.eq_ignore_ascii_case(word))
    else {
        return Line::NotACommand;
    };
    // A note's text is the owner's own: only an `#ID` right after the word names a referral.
    for (i, token) in tokens.enumerate() {
        match referral_id(token) {
            Some(id) if referral.is_none() && (*word != "note" || i == 0) => referral = Some(id),
            _ => rest.push(token),
        }
    }
    match read(&rest.join(" ")) {
        Ok(Some(command)) => Line::Command { command, referral },
        Ok(None) => Line::NotACommand,
        Err(why) => Line::Invalid { word, why },
    }
}

/// The referral a subject names: the first `#ID` in it ("Re: pause #12").
pub fn referral_in_subject(subject: &str) -> Option<ReferralId> {
    cut(subject, MAX_LINE)
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ','))
        .find_map(referral_id)
}

/// `#12` (with trailing punctuation: "#12." "#12,") as a referral id.
fn referral_id(token: &str) -> Option<ReferralId> {
    let digits = token
        .strip_prefix('#')?
        .trim_end_matches(|c: char| c.is_ascii_punctuation());
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

pub(crate) fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn read_pause(args: &str) -> Result<Option<Command>, String> {
    pause_for(args).map(Some)
}

fn pause_for(args: &str) -> Result<Command, String> {
    let args = args.trim().trim_end_matches(['.', '!']);
    if args.is_empty() || args.eq_ignore_ascii_case("until resume") {
        return Ok(Command::Pause {
            until_resumed: None,
        });
    }
    // "for 2w", "2 weeks": humantime reads "2 weeks" and "2w"; "for" is a word people add.
    let written = args
        .strip_prefix("for ")
        .or_else(|| args.strip_prefix("For "))
        .unwrap_or(args);
    match humantime::parse_duration(written) {
        Ok(d) if d.is_zero() => Err(format!("a pause of {written} is no pause")),
        Ok(d) if d > MAX_PAUSE => Ok(Command::Pause {
            until_resumed: None,
        }),
        Ok(d) => Ok(Command::Pause {
            until_resumed: Some(d),
        }),
        Err(_) => Err(format!(
            "cannot read {written:?} as a duration (write it like 3d, 2w or 12h)"
        )),
    }
}

fn read_won(args: &str) -> Result<Option<Command>, String> {
    won_for(args).map(Some)
}

fn won_for(args: &str) -> Result<Command, String> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(Command::Won {
            value: None,
            currency: None,
        });
    }
    match super::reply::read_amount(args) {
        Some((value, currency)) if value.is_finite() && value >= 0.0 => Ok(Command::Won {
            value: Some(value),
            currency,
        }),
        _ => Err(format!(
            "cannot read {args:?} as an amount (write it like 12000, 12k EUR or €12,000)"
        )),
    }
}

fn read_note(args: &str) -> Result<Option<Command>, String> {
    let text = args.trim();
    if text.is_empty() {
        return Err("a note needs its text (note Called Fred, all good)".into());
    }
    Ok(Some(Command::Note {
        text: text.to_string(),
    }))
}

/// What is known of the referral a command acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its id.
    pub id: ReferralId,
    /// Where it stands.
    pub status: ReferralStatus,
    /// Its mail is held until then (far in the future for "until resume").
    pub paused_until: Option<DateTime<Utc>>,
}

/// A pause "until resume" holds the mail until this far ahead: further than any plan reaches.
pub fn until_resumed(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::TimeDelta::days(365 * 100)
}

/// What applying a command decides; the store carries it out and answers the owner with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer with the state of the referrals (or of `Some` one).
    Status(Option<ReferralId>),
    /// Answer with the help text; `why` says what was wrong, if anything.
    Help {
        /// Why the owner gets the help text instead of what they asked for.
        why: Option<String>,
    },
    /// Nothing to change: the answer says why ("#12 is already cancelled").
    Unchanged {
        /// The referral.
        referral: ReferralId,
        /// Why nothing changed.
        why: String,
    },
    /// Cancel the referral and all its pending mail.
    Cancel(ReferralId),
    /// Hold its mail until then (`None`: until resume).
    Pause {
        /// The referral.
        referral: ReferralId,
        /// When the pause ends; `None` until resume.
        until: Option<DateTime<Utc>>,
    },
    /// Lift the pause.
    Resume(ReferralId),
    /// Record the owner's outcome and close the referral.
    Outcome {
        /// The referral.
        referral: ReferralId,
        /// `succeeded` for won, `unsuccessful` for lost.
        won: bool,
        /// The amount, when given.
        value: Option<f64>,
        /// Its currency, when given.
        currency: Option<String>,
    },
    /// Add a note to the referral's story.
    Note {
        /// The referral.
        referral: ReferralId,
        /// The note.
        text: String,
    },
    /// Send (or, `send: false`, skip) a held message: the one the line names by its outbox id
    /// (`send #6`), else the one the notice replied to is about. The store finds which.
    Held {
        /// Send it; otherwise skip it.
        send: bool,
    },
}

/// What applying `command` to `target` (the referral the message names, when it names one
/// that exists) does at `now`. `named` is the referral id the message named, found or not, so
/// an unknown `#99` gets an answer that says so.
pub fn decide(
    command: &Command,
    named: Option<ReferralId>,
    target: Option<&Target>,
    now: DateTime<Utc>,
) -> Decision {
    // `send`/`skip` name a held message, not a referral: the store resolves which.
    if let Command::Send | Command::Skip = command {
        return Decision::Held {
            send: *command == Command::Send,
        };
    }
    let needs = command.needs_referral();
    let target = match (target, named) {
        (Some(t), _) => t,
        (None, _) if !needs => {
            return match command {
                Command::Help => Decision::Help { why: None },
                _ => Decision::Status(None),
            };
        }
        (None, Some(id)) => {
            return Decision::Help {
                why: Some(format!("there is no referral #{id}")),
            };
        }
        (None, None) => {
            return Decision::Help {
                why: Some(format!(
                    "{} needs a referral: reply to one of its messages, or write #ID (\"{} #12\")",
                    command.word(),
                    command.word()
                )),
            };
        }
    };
    let id = target.id;
    let closed = matches!(
        target.status,
        ReferralStatus::Cancelled | ReferralStatus::Succeeded | ReferralStatus::Unsuccessful
    );
    let paused = target.paused_until.is_some_and(|t| t > now);
    let unchanged = |why: String| Decision::Unchanged { referral: id, why };
    match command {
        Command::Help => Decision::Help { why: None },
        Command::Send | Command::Skip => Decision::Held {
            send: *command == Command::Send,
        },
        Command::Status => Decision::Status(Some(id)),
        Command::Cancel if target.status == ReferralStatus::Cancelled => {
            unchanged(format!("#{id} is already cancelled"))
        }
        Command::Cancel => Decision::Cancel(id),
        Command::Pause { .. } if closed => unchanged(format!(
            "#{id} is {}: it has no mail to hold",
            target.status
        )),
        Command::Pause { until_resumed } => Decision::Pause {
            referral: id,
            until: until_resumed.and_then(|d| {
                chrono::TimeDelta::from_std(d)
                    .ok()
                    .and_then(|d| now.checked_add_signed(d))
            }),
        },
        Command::Resume if !paused => unchanged(format!("#{id} is not paused")),
        Command::Resume => Decision::Resume(id),
        Command::Won { value, currency } => Decision::Outcome {
            referral: id,
            won: true,
            value: *value,
            currency: currency.clone(),
        },
        Command::Lost => Decision::Outcome {
            referral: id,
            won: false,
            value: None,
            currency: None,
        },
        Command::Note { text } => Decision::Note {
            referral: id,
            text: text.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> (Command, Option<ReferralId>) {
        match parse(line) {
            Line::Command { command, referral } => (command, referral),
            other => panic!("{line:?} read as {other:?}"),
        }
    }

    fn pause(d: Option<u64>) -> Command {
        Command::Pause {
            until_resumed: d.map(Duration::from_secs),
        }
    }

    #[test]
    fn send_and_skip_name_a_held_message_not_a_referral() {
        assert_eq!(command("send"), (Command::Send, None));
        assert_eq!(command("Skip."), (Command::Skip, None));
        assert_eq!(command("send #6"), (Command::Send, Some(6)));
        assert_eq!(command("skip it please"), (Command::Skip, None));
        // A sentence that starts with the word is no command.
        assert_eq!(parse("Send me the contract, Fred"), Line::NotACommand);
        assert_eq!(parse("skip the call, let's meet"), Line::NotACommand);
        // Whatever referral the message is about, the decision is the store's to resolve.
        let target = Target {
            id: 3,
            status: ReferralStatus::Cancelled,
            paused_until: None,
        };
        let now = Utc::now();
        assert_eq!(
            decide(&Command::Send, Some(6), Some(&target), now),
            Decision::Held { send: true }
        );
        assert_eq!(
            decide(&Command::Skip, None, None, now),
            Decision::Held { send: false }
        );
    }

    #[test]
    fn every_command_word_reads_in_any_case_with_punctuation() {
        assert_eq!(command("status"), (Command::Status, None));
        assert_eq!(command("  STATUS?  "), (Command::Status, None));
        assert_eq!(command("Cancel."), (Command::Cancel, None));
        assert_eq!(command("cancel!"), (Command::Cancel, None));
        assert_eq!(command("cancel please"), (Command::Cancel, None));
        assert_eq!(command("Status, thanks!"), (Command::Status, None));
        assert_eq!(command("Resume"), (Command::Resume, None));
        assert_eq!(command("lost"), (Command::Lost, None));
        assert_eq!(command("Help"), (Command::Help, None));
        assert_eq!(command("pause"), (pause(None), None));
        assert_eq!(command("pause: 2w"), (pause(Some(14 * 86400)), None));
        assert_eq!(
            command("note Called Fred, all good."),
            (
                Command::Note {
                    text: "Called Fred, all good.".into()
                },
                None
            )
        );
    }

    #[test]
    fn referral_ids_anywhere_on_the_line() {
        assert_eq!(command("cancel #12"), (Command::Cancel, Some(12)));
        assert_eq!(command("#12 cancel"), (Command::Cancel, Some(12)));
        assert_eq!(command("pause #3 2w."), (pause(Some(14 * 86400)), Some(3)));
        assert_eq!(command("status #7."), (Command::Status, Some(7)));
        // In a note, a second #ID is the note's text; the first names the referral.
        assert_eq!(
            command("note #4 same as #5"),
            (
                Command::Note {
                    text: "same as #5".into()
                },
                Some(4)
            )
        );
        // Not ids, so words that make the line no command: "#", "#0", a number too long.
        assert_eq!(parse("cancel #0"), Line::NotACommand);
        assert_eq!(command("status #").1, None);
        assert_eq!(parse("status #1234567890123"), Line::NotACommand);
        assert_eq!(referral_in_subject("Re: cancel (#42)"), Some(42));
        assert_eq!(referral_in_subject("Re: Fred, meet Sally"), None);
    }

    #[test]
    fn pause_durations() {
        assert_eq!(command("pause 2w").0, pause(Some(14 * 86400)));
        assert_eq!(command("pause 3 days").0, pause(Some(3 * 86400)));
        assert_eq!(command("pause for 12h").0, pause(Some(12 * 3600)));
        assert_eq!(command("pause until resume").0, pause(None));
        // Longer than a year: until resume.
        assert_eq!(command("pause 5years").0, pause(None));
        assert!(matches!(
            parse("pause soon"),
            Line::Invalid { word: "pause", .. }
        ));
        assert!(matches!(parse("pause 0s"), Line::Invalid { .. }));
    }

    #[test]
    fn won_amounts() {
        let won = |line: &str| match command(line).0 {
            Command::Won { value, currency } => (value, currency),
            other => panic!("{other:?}"),
        };
        assert_eq!(won("won"), (None, None));
        assert_eq!(won("won 12k EUR"), (Some(12000.0), Some("EUR".into())));
        assert_eq!(won("won €12,000"), (Some(12000.0), Some("EUR".into())));
        assert_eq!(won("Won 4500"), (Some(4500.0), None));
        assert_eq!(won("won $2,500.50!"), (Some(2500.5), Some("USD".into())));
        assert_eq!(
            won("won 1.2m GBP #9"),
            (Some(1_200_000.0), Some("GBP".into()))
        );
        assert!(matches!(
            parse("won big"),
            Line::Invalid { word: "won", .. }
        ));
    }

    #[test]
    fn garbage_is_not_a_command() {
        for line in [
            "",
            "   ",
            "Status of the Henderson deal: signed",
            "Lost my phone, will call Fred tomorrow",
            "Help! Who is Fred?",
            "Cancel the meeting with Sally",
            "Thanks, Fred and I met on Tuesday",
            "statuses",
            "cancellation policy attached",
            "#12",
            "won't make it, sorry",
            "\u{202e}cancel",
            "pausé",
        ] {
            assert_eq!(parse(line), Line::NotACommand, "{line:?}");
        }
        assert!(matches!(parse("note"), Line::Invalid { word: "note", .. }));
    }

    #[test]
    fn over_long_lines_cost_nothing_and_are_cut() {
        let long = format!("note {}", "é".repeat(100_000));
        match parse(&long) {
            Line::Command {
                command: Command::Note { text },
                ..
            } => assert!(text.len() <= MAX_LINE),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&"x".repeat(1_000_000)), Line::NotACommand);
        assert!(referral_in_subject(&"#".repeat(100_000)).is_none());
    }

    fn target(status: ReferralStatus, paused_until: Option<DateTime<Utc>>) -> Target {
        Target {
            id: 12,
            status,
            paused_until,
        }
    }

    #[test]
    fn decisions() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let open = target(ReferralStatus::Open, None);
        assert_eq!(
            decide(&Command::Cancel, Some(12), Some(&open), now),
            Decision::Cancel(12)
        );
        assert_eq!(
            decide(&pause(Some(86400)), None, Some(&open), now),
            Decision::Pause {
                referral: 12,
                until: Some(now + chrono::TimeDelta::days(1))
            }
        );
        assert_eq!(
            decide(&pause(None), None, Some(&open), now),
            Decision::Pause {
                referral: 12,
                until: None
            }
        );
        assert!(matches!(
            decide(&Command::Resume, None, Some(&open), now),
            Decision::Unchanged { .. }
        ));
        let paused = target(
            ReferralStatus::Open,
            Some(now + chrono::TimeDelta::hours(1)),
        );
        assert_eq!(
            decide(&Command::Resume, None, Some(&paused), now),
            Decision::Resume(12)
        );
        let cancelled = target(ReferralStatus::Cancelled, None);
        assert!(matches!(
            decide(&Command::Cancel, None, Some(&cancelled), now),
            Decision::Unchanged { .. }
        ));
        assert!(matches!(
            decide(&pause(None), None, Some(&cancelled), now),
            Decision::Unchanged { .. }
        ));
        assert!(matches!(
            decide(&Command::Lost, None, Some(&open), now),
            Decision::Outcome { won: false, .. }
        ));
        // Without a referral: status lists all, help is help, the rest explain and help.
        assert_eq!(
            decide(&Command::Status, None, None, now),
            Decision::Status(None)
        );
        assert_eq!(
            decide(&Command::Help, None, None, now),
            Decision::Help { why: None }
        );
        match decide(&Command::Cancel, None, None, now) {
            Decision::Help { why: Some(why) } => assert!(why.contains("#ID"), "{why}"),
            other => panic!("{other:?}"),
        }
        match decide(&Command::Cancel, Some(99), None, now) {
            Decision::Help { why: Some(why) } => assert!(why.contains("#99"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_lists_every_command() {
        let help = help_lines().join("\n");
        for (word, ..) in COMMANDS {
            assert!(help.contains(word), "{word}");
        }
    }
}
