//! Planner: which automated messages a referral should get, and when (SPEC §2). Pure: it
//! reads a snapshot of one referral, the schedule and `now`, and returns [`Step`]s for the
//! store to apply. Running it twice on the same snapshot gives the same steps, so the store
//! can re-plan a referral whenever anything about it changes.
//!
//! One function, [`intent`], decides for each kind of message and each participant whether the
//! message is wanted and when it is due. The same answer schedules a message that does not
//! exist yet and cancels a scheduled one that is no longer wanted, so the two can never
//! disagree.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::{Schedule, SendWindow};
use crate::intake::options::Options;
use crate::model::{
    Answer, OutboundId, OutboundKind, OutboundState, Outcome, PartyState, ReferralId,
    ReferralStatus, Role,
};

/// Row id of a contact (a person, across referrals).
pub type ContactId = i64;

/// What the planner reads about one referral.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The referral.
    pub id: ReferralId,
    /// Where it stands.
    pub status: ReferralStatus,
    /// The introduction's own date (its Date header, no later than when it reached the
    /// mailbox): the plan's delays count from here.
    pub introduced_at: DateTime<Utc>,
    /// When referrald recorded it: a message due more than `late-limit` before this is too
    /// late to send.
    pub recorded_at: DateTime<Utc>,
    /// Whether it was recorded as history (older than every message of the plan): nothing
    /// is ever sent about it.
    pub history: bool,
    /// Introducer first, then the parties.
    pub participants: Vec<Participant>,
    /// Every outbound message ever planned for it, in any state.
    pub outbound: Vec<Planned>,
    /// Every answer received for it.
    pub feedback: Vec<Answer<ContactId>>,
    /// When the introducer last got an outcome report about any referral.
    pub introducer_last_report: Option<DateTime<Utc>>,
    /// What the introduction's address asked (`intros+quiet@…`, `+nothanks`, `+5d`).
    pub options: Options,
    /// The owner paused it (`pause` by email): its mail is held until then.
    pub paused_until: Option<DateTime<Utc>>,
    /// What the owner already wrote on the thread, which our mail must not repeat.
    pub owner_wrote: OwnerWrote,
}

/// What the owner already said on a referral's thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerWrote {
    /// She thanked the introducer (to or cc them).
    pub thanked: bool,
    /// She offered a time, a call or a meeting.
    pub offered_time: bool,
}

/// A participant, as the planner sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Who.
    pub contact: ContactId,
    /// Introducer or party.
    pub role: Role,
    /// Pending, responded, opted out or bounced.
    pub state: PartyState,
    /// Whether this is the owner.
    pub is_owner: bool,
    /// The return date their proven auto-reply named: nothing goes to them before the day
    /// after it.
    pub back_on: Option<NaiveDate>,
}

/// An outbound message that exists, in any state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Its row.
    pub id: OutboundId,
    /// Which message of the plan.
    pub kind: OutboundKind,
    /// To whom.
    pub to: ContactId,
    /// Where it stands.
    pub state: OutboundState,
    /// When it is (or was) due.
    pub due_at: DateTime<Utc>,
    /// When it was accepted, if it was.
    pub sent_at: Option<DateTime<Utc>>,
    /// The owner released it after it was held: it goes as it is.
    pub released: bool,
}

/// What the store should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create a message, due at `due_at`.
    Schedule {
        /// Which message.
        kind: OutboundKind,
        /// To whom.
        to: ContactId,
        /// When (already inside the send window).
        due_at: DateTime<Utc>,
    },
    /// A person's next message, not yet due: no row is made for it. The store keeps the
    /// earliest of these as the referral's next due time and plans the referral again then,
    /// when the message is scheduled and sent in one go. Whatever happens before (an
    /// answer, a bounce, a stop) is planned with the rest, so nothing is planned only to be
    /// cancelled.
    Later {
        /// Which message.
        kind: OutboundKind,
        /// To whom.
        to: ContactId,
        /// When (already inside the send window).
        due_at: DateTime<Utc>,
    },
    /// A scheduled message is no longer wanted.
    Cancel {
        /// Its row.
        id: OutboundId,
        /// Why, in words for the event log.
        reason: String,
    },
    /// A due message must wait (the send window is closed, or that person already had mail
    /// about this referral today).
    Postpone {
        /// Its row.
        id: OutboundId,
        /// The new due time.
        due_at: DateTime<Utc>,
        /// Why, in words for the event log.
        reason: String,
    },
    /// A due outcome report carries bad news: it waits for the owner to send or skip it.
    Hold {
        /// Its row.
        id: OutboundId,
        /// Why, in words for the outbox and the event log.
        reason: String,
    },
    /// A message the plan would have sent is recorded as skipped, never to be sent: it fell
    /// due more than `late-limit` before the introduction was recorded.
    Skip {
        /// Which message.
        kind: OutboundKind,
        /// To whom.
        to: ContactId,
        /// When it would have been due.
        due_at: DateTime<Utc>,
        /// Why, in words for `show`, `outbox` and the event log.
        reason: String,
    },
    /// The introduction is older than every message of the plan: it is recorded as history
    /// and nothing is ever sent about it.
    History {
        /// Why, in words for the event log.
        reason: String,
    },
    /// A due message may go now.
    Send {
        /// Its row.
        id: OutboundId,
    },
    /// The referral's status changes.
    Status {
        /// The new status.
        status: ReferralStatus,
        /// Why, in words for the event log.
        reason: String,
    },
}

/// The parts of the configuration the planner reads.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// Delays and the send window.
    pub schedule: &'a Schedule,
    /// The owner's timezone, in which the window and "one a day" are reckoned.
    pub timezone: Tz,
}

/// The instant an introduction's plan counts from: its Date header, unless that is missing,
/// unreadable or later than the message reached the mailbox (`arrived`, else `recorded`, the
/// time of recording), which is then used. A Date can be written by anyone; the arrival is
/// the mail server's word, and nobody introduces people after the mail arrived.
pub fn introduced_at(
    date: Option<DateTime<Utc>>,
    arrived: Option<DateTime<Utc>>,
    recorded: DateTime<Utc>,
) -> DateTime<Utc> {
    let arrived = arrived.map_or(recorded, |a| a.min(recorded));
    date.filter(|d| *d <= arrived).unwrap_or(arrived)
}

/// Plans one referral at `now`.
pub fn plan(s: &Snapshot, rules: &Rules, now: DateTime<Utc>) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pending: Vec<&Planned> = Vec::new();

    // Cancel what is no longer wanted; keep the rest.
    for p in s
        .outbound
        .iter()
        .filter(|p| p.state == OutboundState::Scheduled)
    {
        let who = s.participants.iter().find(|x| x.contact == p.to);
        let verdict = match (p.kind, who) {
            (OutboundKind::OutcomeReport, Some(who)) => report_intent(s, who, rules, now),
            (kind, Some(who)) => intent(s, kind, who, rules),
            (_, None) => Err("the recipient no longer takes part".to_string()),
        };
        match verdict {
            // Someone away (their auto-reply said until when) hears from us once back.
            Ok(_) => match who.and_then(|w| Some((w, away(w, rules)?))) {
                Some((who, back)) if p.due_at < back => {
                    steps.push(Step::Postpone {
                        id: p.id,
                        due_at: next_open(&rules.schedule.send_window, rules.timezone, back),
                        reason: away_reason(who),
                    });
                }
                _ => pending.push(p),
            },
            Err(reason) => steps.push(Step::Cancel { id: p.id, reason }),
        }
    }

    // Schedule, per person, what is already due (one a day: `send_due` lets the latest kind
    // go and supersedes the rest, as after downtime); otherwise say when their next message
    // falls due ([`Step::Later`]), when nothing is waiting to go to them: it is made when it
    // is due, and what comes after once that has gone or been cancelled, so nothing is
    // planned ahead only to be cancelled. What fell due too long before the introduction was
    // recorded is skipped instead.
    let cancelled: Vec<OutboundId> = steps
        .iter()
        .filter_map(|st| match st {
            Step::Cancel { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let mut late: Vec<Step> = Vec::new();
    // People with a message due that is only now planned: what is due for them goes in the
    // next round, when it can be weighed against the new one.
    let mut catching_up: Vec<ContactId> = Vec::new();
    for who in &s.participants {
        let mut wanted: Vec<(OutboundKind, DateTime<Utc>)> = Vec::new();
        for &kind in OutboundKind::ALL {
            if kind == OutboundKind::OutcomeReport {
                // A held report is still the one report: the owner decides about it.
                let exists = s.outbound.iter().any(|p| {
                    p.kind == kind
                        && p.to == who.contact
                        && matches!(p.state, OutboundState::Scheduled | OutboundState::Held)
                });
                if !exists && let Ok(due) = report_intent(s, who, rules, now) {
                    wanted.push((kind, due));
                }
                continue;
            }
            let exists = s
                .outbound
                .iter()
                .any(|p| p.kind == kind && p.to == who.contact);
            if !exists && let Ok(due) = intent(s, kind, who, rules) {
                match too_late(s, due, rules) {
                    Some(reason) => late.push(Step::Skip {
                        kind,
                        to: who.contact,
                        due_at: due,
                        reason,
                    }),
                    None => wanted.push((kind, place(due, who, rules))),
                }
            }
        }
        let (due, ahead): (Vec<_>, Vec<_>) = wanted.into_iter().partition(|(_, d)| *d <= now);
        let waiting = !due.is_empty()
            || s.outbound.iter().any(|p| {
                p.to == who.contact
                    && !cancelled.contains(&p.id)
                    && matches!(
                        p.state,
                        OutboundState::Scheduled | OutboundState::Sending | OutboundState::Held
                    )
            });
        let next = ahead
            .into_iter()
            .min_by_key(|(_, d)| *d)
            .filter(|_| !waiting);
        if !due.is_empty() {
            catching_up.push(who.contact);
        }
        for (kind, due_at) in due {
            steps.push(Step::Schedule {
                kind,
                to: who.contact,
                due_at,
            });
        }
        if let Some((kind, due_at)) = next {
            steps.push(Step::Later {
                kind,
                to: who.contact,
                due_at,
            });
        }
    }
    // A new referral none of whose messages is still timely is history, not a list of
    // skipped mail.
    let scheduled = steps
        .iter()
        .any(|st| matches!(st, Step::Schedule { .. } | Step::Later { .. }));
    if !late.is_empty() && !scheduled && s.outbound.is_empty() {
        steps.push(Step::History {
            reason: format!(
                "introduced {}, older than every message of the plan: recorded as history, nothing is sent",
                introduced_day(s, rules)
            ),
        });
    } else {
        steps.append(&mut late);
    }

    // A paused referral holds its mail: nothing goes and nothing stalls until the pause
    // ends, when what fell due meanwhile goes as after any downtime.
    if s.paused_until.is_some_and(|until| until > now) {
        return steps;
    }
    pending.retain(|p| !catching_up.contains(&p.to));
    send_due(s, &pending, rules, now, &mut steps);

    if let Some(step) = stall(s, &steps, rules, now) {
        steps.push(step);
    }
    steps
}

/// Whether `kind` is wanted for `who` and, if so, when it falls due (before the send window is
/// applied); if not, why not. Outcome reports are decided by [`report_intent`].
fn intent(
    s: &Snapshot,
    kind: OutboundKind,
    who: &Participant,
    rules: &Rules,
) -> Result<DateTime<Utc>, String> {
    reachable(s, who)?;
    let t0 = s.introduced_at;
    let sched = rules.schedule;
    let theirs = || s.feedback.iter().filter(|a| a.from == who.contact);
    // Any answer means they responded; only a rating or an outcome tells us how it went.
    let answered = theirs().next().is_some();
    let told_us = theirs().any(|a| a.says_how_it_went());
    let party = who.role == Role::Party;
    let finished = matches!(
        s.status,
        ReferralStatus::Succeeded | ReferralStatus::Unsuccessful
    );
    match kind {
        OutboundKind::ThankYou => {
            if who.role != Role::Introducer {
                Err("only the introducer is thanked".into())
            } else if who.is_owner {
                Err("the introducer is the owner".into())
            } else if !s.options.thanks {
                Err("the introduction asked for no thank-you (+nothanks)".into())
            } else if s.owner_wrote.thanked {
                Err("the owner already thanked them on the thread".into())
            } else {
                Ok(t0 + span(sched.thank_you_after))
            }
        }
        OutboundKind::OwnerNudge => {
            if !(party && who.is_owner) {
                Err("only the owner, as a party, is nudged".into())
            } else if who.state == PartyState::Responded {
                Err("the owner already replied on the thread".into())
            } else if finished {
                Err(format!("the referral is {}", s.status))
            } else {
                Ok(nudge_due(t0, rules))
            }
        }
        OutboundKind::FollowUp => {
            if !party || who.is_owner {
                Err("follow-ups go to parties other than the owner".into())
            } else if who.state == PartyState::Responded || answered {
                Err("they already replied".into())
            } else if finished {
                Err(format!("the referral is {}", s.status))
            } else if let Some(known) = already_known(s) {
                Err(known)
            } else {
                Ok(t0 + span(follow_up_after(s, sched)))
            }
        }
        OutboundKind::FeedbackRequest => {
            if !party || who.is_owner {
                Err("feedback is asked of parties other than the owner".into())
            } else if told_us {
                Err("they already told us how it went".into())
            } else {
                // A later follow-up moves the request as much later, so it still comes second.
                let later = follow_up_after(s, sched).saturating_sub(sched.follow_up_after);
                Ok(t0 + span(sched.feedback_after) + span(later))
            }
        }
        OutboundKind::FeedbackReminder => {
            let request = s.outbound.iter().find(|p| {
                p.kind == OutboundKind::FeedbackRequest
                    && p.to == who.contact
                    && p.state == OutboundState::Sent
            });
            if let Some(known) = someone_met(s) {
                return Err(known);
            }
            match request.and_then(|r| r.sent_at) {
                None => Err("no feedback request was sent".into()),
                Some(sent) if theirs().any(|a| a.at >= sent || a.says_how_it_went()) => {
                    Err("they already answered".into())
                }
                Some(sent) => Ok(sent + span(sched.reminder_after)),
            }
        }
        OutboundKind::OutcomeReport => Err("outcome reports are planned on their own".into()),
    }
}

/// Why asking a party "did you connect?" is pointless, if it is: a party already said they
/// met or did business, or the owner, a party, already offered them a time on the thread.
fn already_known(s: &Snapshot) -> Option<String> {
    someone_met(s).or_else(|| {
        let owner_party = s
            .participants
            .iter()
            .any(|p| p.is_owner && p.role == Role::Party);
        (owner_party && s.owner_wrote.offered_time)
            .then(|| "the owner already offered a time on the thread".to_string())
    })
}

/// Whether a party already said they met or did business (a deal lost was still a meeting):
/// no follow-up or reminder asks it again.
fn someone_met(s: &Snapshot) -> Option<String> {
    s.feedback
        .iter()
        .any(|a| matches!(a.outcome, Some(Outcome::Met | Outcome::Won | Outcome::Lost)))
        .then(|| "a party already said they met".to_string())
}

/// Whether an outcome report is wanted for `who` and when: the introducer (not the owner)
/// hears when a party has said how it went (a rating or an outcome; a bare comment is news
/// only alongside those) and they have not been told yet, at most once a day.
fn report_intent(
    s: &Snapshot,
    who: &Participant,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    reachable(s, who)?;
    if who.role != Role::Introducer || who.is_owner {
        return Err("outcome reports go to an introducer other than the owner".into());
    }
    let newest = s
        .feedback
        .iter()
        .filter(|a| !a.reported && a.says_how_it_went())
        .map(|a| a.at)
        .max()
        .ok_or_else(|| "no feedback to report".to_string())?;
    let mut due = newest;
    if let Some(last) = s.introducer_last_report {
        // At most one a day: the next one waits for the next day in the owner's timezone.
        if local_day(last, rules.timezone) >= local_day(now.max(newest), rules.timezone) {
            due = start_of_next_day(last, rules.timezone);
        }
    }
    Ok(next_open(&rules.schedule.send_window, rules.timezone, due))
}

/// Whether a `kind` message is wanted for `who` at `now`, and when it falls due (inside the
/// send window), or why not: the same answer [`plan`] acts on, for `preview` to show.
pub fn wanted(
    s: &Snapshot,
    kind: OutboundKind,
    who: &Participant,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    match kind {
        OutboundKind::OutcomeReport => report_intent(s, who, rules, now),
        kind => {
            let due = intent(s, kind, who, rules)?;
            match too_late(s, due, rules) {
                Some(reason) => Err(reason),
                None => Ok(place(due, who, rules)),
            }
        }
    }
}

/// Why a message due at `due` is too late to send, if it is: it fell due more than
/// `late-limit` before the introduction was recorded (an old introduction found in the
/// mailbox). Measured from the recording, not from `now`, so every plan agrees.
fn too_late(s: &Snapshot, due: DateTime<Utc>, rules: &Rules) -> Option<String> {
    (s.recorded_at - due > span(rules.schedule.late_limit))
        .then(|| format!("too late: introduced {}", introduced_day(s, rules)))
}

/// The introduction's date in the owner's timezone, as the reasons write it.
fn introduced_day(s: &Snapshot, rules: &Rules) -> NaiveDate {
    local_day(s.introduced_at, rules.timezone)
}

/// When a message due at `due` goes to `who`: not before they are back from an absence
/// their auto-reply announced, and inside the send window.
fn place(due: DateTime<Utc>, who: &Participant, rules: &Rules) -> DateTime<Utc> {
    let due = away(who, rules).map_or(due, |back| due.max(back));
    next_open(&rules.schedule.send_window, rules.timezone, due)
}

/// The start of the day after the return date `who`'s auto-reply named (owner's timezone).
fn away(who: &Participant, rules: &Rules) -> Option<DateTime<Utc>> {
    let day = who.back_on?.succ_opt()?;
    Some(local_instant(rules.timezone, day, chrono::NaiveTime::MIN))
}

fn away_reason(who: &Participant) -> String {
    match who.back_on {
        Some(day) => format!("their auto-reply says they are back on {day}"),
        None => "their auto-reply says they are away".into(),
    }
}

/// When the owner's nudge falls due: `owner-nudge-after` of send-window time after the
/// introduction, so a 4-hour nudge for an introduction at 16:00 on a Friday comes on Monday
/// at noon, not in the middle of the weekend nor on Monday at 09:00.
fn nudge_due(t0: DateTime<Utc>, rules: &Rules) -> DateTime<Utc> {
    within_window(
        &rules.schedule.send_window,
        rules.timezone,
        t0,
        rules.schedule.owner_nudge_after,
    )
}

/// The instant `delay` of open send-window time after `start` (plain time when the window
/// is "always"). Counting stops after a year of windows: a longer delay means "never" there.
pub(crate) fn within_window(
    window: &SendWindow,
    tz: Tz,
    start: DateTime<Utc>,
    delay: std::time::Duration,
) -> DateTime<Utc> {
    let SendWindow::Hours { to, .. } = window else {
        return start + span(delay);
    };
    let mut left = span(delay);
    let mut t = next_open(window, tz, start);
    for _ in 0..366 {
        let close = local_instant(tz, local_day(t, tz), *to);
        let open_for = close - t;
        if left < open_for {
            return t + left;
        }
        left -= open_for;
        let next = next_open(window, tz, close);
        if next <= t {
            // A window that never reopens (config validation forbids it): give up counting.
            break;
        }
        t = next;
    }
    t
}

/// The follow-up delay: the introduction's address's (`intros+5d@…`), else the schedule's.
fn follow_up_after(s: &Snapshot, sched: &Schedule) -> std::time::Duration {
    s.options
        .follow_up_after
        .as_ref()
        .map_or(sched.follow_up_after, |d| d.span)
}

/// Nothing goes to the cancelled, to the opted-out or to the bounced, and nothing at all
/// about a referral introduced to `intros+quiet@…` or recorded as history.
fn reachable(s: &Snapshot, who: &Participant) -> Result<(), String> {
    if s.history {
        return Err("the referral was recorded as history".into());
    }
    if s.status == ReferralStatus::Cancelled {
        return Err("the referral was cancelled".into());
    }
    if s.options.quiet {
        return Err("the introduction asked for quiet (+quiet)".into());
    }
    match who.state {
        PartyState::OptedOut => Err("they opted out".into()),
        PartyState::Bounced => Err("their address bounced".into()),
        PartyState::Pending | PartyState::Responded => Ok(()),
    }
}

/// Decides which of the due messages go now. Per recipient, the latest kind in plan order
/// wins and the others are superseded; nothing goes outside the send window or to someone
/// who already had mail about this referral today.
fn send_due(
    s: &Snapshot,
    pending: &[&Planned],
    rules: &Rules,
    now: DateTime<Utc>,
    steps: &mut Vec<Step>,
) {
    let window = &rules.schedule.send_window;
    let tz = rules.timezone;
    let mut due: Vec<&Planned> = pending
        .iter()
        .copied()
        .filter(|p| p.due_at <= now)
        .collect();
    due.sort_by_key(|p| (p.to, p.kind));
    for group in due.chunk_by(|a, b| a.to == b.to) {
        let Some((winner, superseded)) = group.split_last() else {
            continue;
        };
        for p in superseded {
            steps.push(Step::Cancel {
                id: p.id,
                reason: format!(
                    "superseded by the {} due the same day (one message a day)",
                    winner.kind
                ),
            });
        }
        let today = local_day(now, tz);
        let had_mail_today = s.outbound.iter().any(|p| {
            p.to == winner.to
                && matches!(p.state, OutboundState::Sent | OutboundState::Sending)
                && p.sent_at.is_some_and(|t| local_day(t, tz) == today)
        });
        if had_mail_today {
            steps.push(Step::Postpone {
                id: winner.id,
                due_at: next_open(window, tz, start_of_next_day(now, tz)),
                reason: "they already had a message about this referral today".into(),
            });
        } else if next_open(window, tz, now) != now {
            steps.push(Step::Postpone {
                id: winner.id,
                due_at: next_open(window, tz, now),
                reason: "outside the send window".into(),
            });
        } else if let Some(reason) = held(s, winner) {
            steps.push(Step::Hold {
                id: winner.id,
                reason,
            });
        } else {
            steps.push(Step::Send { id: winner.id });
        }
    }
}

/// Why a due message must wait for the owner, if it must: bad news never leaves on its own.
/// An outcome report that would carry a rating of 1–2, `lost` or `not_met` (anyone's latest
/// answer) is held until the owner sends it (`referrald send ID`) or skips it.
fn held(s: &Snapshot, p: &Planned) -> Option<String> {
    if p.kind != OutboundKind::OutcomeReport || p.released {
        return None;
    }
    let mut latest: Vec<&Answer<ContactId>> = Vec::new();
    for a in &s.feedback {
        latest.retain(|b| b.from != a.from);
        latest.push(a);
    }
    let bad = latest.iter().find_map(|a| {
        if let Some(o @ (Outcome::Lost | Outcome::NotMet)) = a.outcome {
            Some(format!("an answer says {o}"))
        } else {
            a.rating
                .filter(|r| *r <= 2)
                .map(|r| format!("an answer rates it {r}/5"))
        }
    })?;
    Some(format!(
        "held for you: {bad}; `referrald send {id}` sends it, `referrald skip {id}` does not",
        id = p.id
    ))
}

/// An open referral whose plan has run out with no word from anyone is stalled once the last
/// message has had as long to be answered as the reminder gave the request.
fn stall(s: &Snapshot, steps: &[Step], rules: &Rules, now: DateTime<Utc>) -> Option<Step> {
    if s.status != ReferralStatus::Open {
        return None;
    }
    let still_planned = steps.iter().any(|st| {
        matches!(
            st,
            Step::Schedule { .. }
                | Step::Later { .. }
                | Step::Postpone { .. }
                | Step::Send { .. }
                | Step::Hold { .. }
        )
    }) || s.outbound.iter().any(|p| {
        matches!(p.state, OutboundState::Sending | OutboundState::Held)
            || (p.state == OutboundState::Scheduled
                && !steps
                    .iter()
                    .any(|st| matches!(st, Step::Cancel { id, .. } if *id == p.id)))
    });
    if still_planned {
        return None;
    }
    let last_sent = s.outbound.iter().filter_map(|p| p.sent_at).max()?;
    (now >= last_sent + span(rules.schedule.reminder_after)).then(|| Step::Status {
        status: ReferralStatus::Stalled,
        reason: "the plan ran out with no answer from anyone".into(),
    })
}

/// A message the plan will send later, once the ones before it have gone, if nobody answers
/// and nothing changes: what `outbox` lists after the scheduled rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// Which message.
    pub kind: OutboundKind,
    /// To whom.
    pub to: ContactId,
    /// When it would fall due.
    pub due_at: DateTime<Utc>,
    /// The person's next message under the plan as it stands (the store keeps its due
    /// time): `outbox` lists it as scheduled. The rest comes after it, if nobody answers.
    pub next: bool,
}

/// The rest of the plan from `now`: the planner makes each message only when it is due and
/// says only when each person's next one falls due, so this plays the referral forward,
/// planning it, sending the earliest message at its due time (as the store plans again after
/// a send), and collecting every message the plan makes, until nothing more would go. Pure:
/// the snapshot is not changed. Rows already made are not repeated.
pub fn forecast(s: &Snapshot, rules: &Rules, now: DateTime<Utc>) -> Vec<Forecast> {
    let mut sim = s.clone();
    // Forecast rows get ids no stored row has.
    let mut next_id: OutboundId = -1;
    let mut seen: Vec<OutboundId> = Vec::new();
    // The rows the first round makes: what the plan as it stands says comes next.
    let mut next: Option<OutboundId> = None;
    let mut at = now;
    // Each round sends one message: a plan has at most a handful per person.
    for _ in 0..4 * OutboundKind::ALL.len() * sim.participants.len().max(1) {
        for step in plan(&sim, rules, at) {
            match step {
                Step::Schedule { kind, to, due_at } | Step::Later { kind, to, due_at } => {
                    sim.outbound.push(Planned {
                        id: next_id,
                        kind,
                        to,
                        state: OutboundState::Scheduled,
                        due_at,
                        sent_at: None,
                        released: false,
                    });
                    seen.push(next_id);
                    next_id -= 1;
                }
                Step::Cancel { id, .. } => {
                    if let Some(p) = sim.outbound.iter_mut().find(|p| p.id == id) {
                        p.state = OutboundState::Cancelled;
                    }
                }
                Step::Postpone { id, due_at, .. } => {
                    if let Some(p) = sim.outbound.iter_mut().find(|p| p.id == id) {
                        p.due_at = due_at;
                    }
                }
                Step::Status { status, .. } => sim.status = status,
                // Sends are played one at a time below; the rest changes nothing ahead.
                Step::Send { .. }
                | Step::Hold { .. }
                | Step::Skip { .. }
                | Step::History { .. } => {}
            }
        }
        next.get_or_insert(next_id);
        let Some(first) = sim
            .outbound
            .iter_mut()
            .filter(|p| p.state == OutboundState::Scheduled)
            .min_by_key(|p| (p.due_at, p.id))
        else {
            break;
        };
        at = at.max(first.due_at);
        first.state = OutboundState::Sent;
        first.sent_at = Some(at);
        if first.kind == OutboundKind::OutcomeReport {
            // As the store records a report sent: what it carried is reported.
            sim.introducer_last_report = Some(at);
            for a in sim.feedback.iter_mut().filter(|a| a.at <= at) {
                a.reported = true;
            }
        }
    }
    let mut ahead: Vec<Forecast> = sim
        .outbound
        .iter()
        .filter(|p| seen.contains(&p.id) && p.state != OutboundState::Cancelled)
        .map(|p| Forecast {
            kind: p.kind,
            to: p.to,
            due_at: p.due_at,
            next: next.is_some_and(|first_later| p.id > first_later),
        })
        .collect();
    ahead.sort_by_key(|f| (f.due_at, f.to, f.kind));
    ahead
}

/// The referral's status once feedback has arrived, from the latest answer of each person:
/// a win by anyone succeeds; otherwise a loss fails; otherwise a meeting connects; otherwise
/// "never met" fails. A rating without an outcome means they spoke, so it connects an open
/// referral. A cancelled referral stays cancelled.
pub fn status_after_feedback(
    current: ReferralStatus,
    outcomes: &[Outcome],
    rated: bool,
) -> ReferralStatus {
    if current == ReferralStatus::Cancelled {
        return current;
    }
    let said = |o: Outcome| outcomes.contains(&o);
    if said(Outcome::Won) {
        ReferralStatus::Succeeded
    } else if said(Outcome::Lost) {
        ReferralStatus::Unsuccessful
    } else if said(Outcome::Met) {
        ReferralStatus::Connected
    } else if said(Outcome::NotMet) {
        ReferralStatus::Unsuccessful
    } else if rated && matches!(current, ReferralStatus::Open | ReferralStatus::Stalled) {
        ReferralStatus::Connected
    } else {
        current
    }
}

/// The earliest instant at or after `t` inside the send window.
pub fn next_open(window: &SendWindow, tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
    let SendWindow::Hours { days, from, to } = window else {
        return t;
    };
    let start_day = local_day(t, tz);
    // A window that is open at least one day a week opens within eight days.
    for offset in 0..8 {
        let Some(day) = start_day.checked_add_days(Days::new(offset)) else {
            break;
        };
        if !days.contains(&day.weekday()) {
            continue;
        }
        let open = local_instant(tz, day, *from);
        let close = local_instant(tz, day, *to);
        if t < open {
            return open;
        }
        if t < close {
            return t;
        }
    }
    // No weekday configured at all: config validation forbids it, but never stall the plan.
    t
}

/// The calendar day of `t` in `tz`.
pub fn local_day(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// Midnight after `t`'s day, in `tz`.
fn start_of_next_day(t: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let day = local_day(t, tz);
    let next = day.succ_opt().unwrap_or(day);
    local_instant(tz, next, chrono::NaiveTime::MIN)
}

/// The instant a local wall-clock time happens; times skipped by a DST change move forward to
/// the first instant after the gap, and repeated times take the earlier of the two.
pub(crate) fn local_instant(tz: Tz, day: NaiveDate, time: chrono::NaiveTime) -> DateTime<Utc> {
    let wall = day.and_time(time);
    for minutes in 0..=180 {
        if let Some(t) = tz
            .from_local_datetime(&(wall + TimeDelta::minutes(minutes)))
            .earliest()
        {
            return t.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&wall)
}

/// A configured duration as a time span (saturating: a huge one means "never").
pub(crate) fn span(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests;
