//! The message plan of SPEC §2, row by row, on a fixed clock. A tiny simulator applies the
//! planner's steps to a snapshot the way the store does, so whole timelines can be played.

use super::*;
use crate::config::Schedule;
use chrono::TimeZone;

const BOB: ContactId = 1;
const FRED: ContactId = 2;
const SALLY: ContactId = 3;
const TOM: ContactId = 4;

/// Monday 2 November 2026, 10:00 in London (GMT, so also 10:00 UTC).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// The default schedule with the thank-you at once, as these tests were written before it
/// waited (its wait has tests of its own, which use [`Schedule::default`]).
fn schedule() -> Schedule {
    Schedule {
        thank_you_after: std::time::Duration::ZERO,
        ..Schedule::default()
    }
}

fn rules(schedule: &Schedule) -> Rules<'_> {
    Rules {
        schedule,
        timezone: chrono_tz::Europe::London,
    }
}

fn who(contact: ContactId, role: Role, is_owner: bool) -> Participant {
    Participant {
        contact,
        role,
        state: PartyState::Pending,
        is_owner,
        back_on: None,
    }
}

/// Bob introduces Fred and Sally; the owner is none of them unless `owner` names one.
fn referral(at: DateTime<Utc>, owner: Option<ContactId>) -> Snapshot {
    Snapshot {
        id: 1,
        status: ReferralStatus::Open,
        introduced_at: at,
        recorded_at: at,
        history: false,
        participants: vec![
            who(BOB, Role::Introducer, owner == Some(BOB)),
            who(FRED, Role::Party, owner == Some(FRED)),
            who(SALLY, Role::Party, owner == Some(SALLY)),
        ],
        outbound: Vec::new(),
        feedback: Vec::new(),
        introducer_last_report: None,
        options: Options::default(),
        paused_until: None,
        owner_wrote: OwnerWrote::default(),
    }
}

/// Applies steps as the store does, except that a message the store only keeps the due
/// time of ([`Step::Later`]) gets a row here too, so that [`scheduled`] shows each person's
/// next message: the plan as stores made before issue 9 kept it, which the planner still
/// follows. [`lazily`] applies steps exactly as the store does now, and
/// `keeping_only_due_times_sends_the_same_mail` shows the two send the same.
fn apply(s: &mut Snapshot, steps: &[Step], now: DateTime<Utc>) -> Vec<(OutboundKind, ContactId)> {
    let mut sent = Vec::new();
    for step in steps {
        match step {
            Step::Schedule { kind, to, due_at } | Step::Later { kind, to, due_at } => {
                let id = s.outbound.len() as OutboundId + 1;
                s.outbound.push(Planned {
                    id,
                    kind: *kind,
                    to: *to,
                    state: OutboundState::Scheduled,
                    due_at: *due_at,
                    sent_at: None,
                    released: false,
                });
            }
            Step::Cancel { id, .. } => row(s, *id).state = OutboundState::Cancelled,
            Step::Postpone { id, due_at, .. } => row(s, *id).due_at = *due_at,
            Step::Send { id } => {
                let r = row(s, *id);
                r.state = OutboundState::Sent;
                r.sent_at = Some(now);
                sent.push((r.kind, r.to));
                if r.kind == OutboundKind::OutcomeReport {
                    s.introducer_last_report = Some(now);
                    for a in &mut s.feedback {
                        a.reported = true;
                    }
                }
            }
            Step::Status { status, .. } => s.status = *status,
            Step::Hold { id, .. } => row(s, *id).state = OutboundState::Held,
            Step::Skip {
                kind, to, due_at, ..
            } => {
                let id = s.outbound.len() as OutboundId + 1;
                s.outbound.push(Planned {
                    id,
                    kind: *kind,
                    to: *to,
                    state: OutboundState::Cancelled,
                    due_at: *due_at,
                    sent_at: None,
                    released: false,
                });
            }
            Step::History { .. } => s.history = true,
        }
    }
    sent
}

fn row(s: &mut Snapshot, id: OutboundId) -> &mut Planned {
    s.outbound.iter_mut().find(|p| p.id == id).unwrap()
}

/// Plans and applies until nothing changes, like a tick; returns what was sent.
fn tick(s: &mut Snapshot, sched: &Schedule, now: DateTime<Utc>) -> Vec<(OutboundKind, ContactId)> {
    let mut sent = Vec::new();
    for _ in 0..4 {
        let steps = plan(s, &rules(sched), now);
        if steps.is_empty() {
            break;
        }
        sent.extend(apply(s, &steps, now));
    }
    sent.sort();
    sent
}

fn scheduled(s: &Snapshot) -> Vec<(OutboundKind, ContactId, DateTime<Utc>)> {
    let mut v: Vec<_> = s
        .outbound
        .iter()
        .filter(|p| p.state == OutboundState::Scheduled)
        .map(|p| (p.kind, p.to, p.due_at))
        .collect();
    v.sort();
    v
}

/// What is scheduled and what the forecast says follows it: the whole plan as `outbox`
/// lists it.
fn whole_plan(
    s: &Snapshot,
    sched: &Schedule,
    now: DateTime<Utc>,
) -> Vec<(OutboundKind, ContactId, DateTime<Utc>)> {
    let mut v = scheduled(s);
    v.extend(
        forecast(s, &rules(sched), now)
            .into_iter()
            .map(|f| (f.kind, f.to, f.due_at)),
    );
    v.sort();
    v
}

fn state_of(s: &Snapshot, kind: OutboundKind, to: ContactId) -> Option<OutboundState> {
    s.outbound
        .iter()
        .find(|p| p.kind == kind && p.to == to)
        .map(|p| p.state)
}

#[test]
fn a_new_referral_gets_the_whole_plan() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    let steps = plan(&s, &rules(&sched), t0());
    apply(&mut s, &steps, t0());
    use OutboundKind::*;
    // Each person's next message is scheduled; what follows, the forecast says.
    assert_eq!(
        scheduled(&s),
        vec![
            (ThankYou, BOB, t0()),
            (FollowUp, FRED, t0() + days(2)),
            (FollowUp, SALLY, t0() + days(2)),
        ]
    );
    assert_eq!(
        whole_plan(&s, &sched, t0()),
        vec![
            (ThankYou, BOB, t0()),
            (FollowUp, FRED, t0() + days(2)),
            (FollowUp, SALLY, t0() + days(2)),
            (FeedbackRequest, FRED, t0() + days(14)),
            (FeedbackRequest, SALLY, t0() + days(14)),
            // Once the requests have gone unanswered for a week (which the store's rows
            // never showed ahead of time).
            (FeedbackReminder, FRED, t0() + days(21)),
            (FeedbackReminder, SALLY, t0() + days(21)),
        ]
    );
    // Nothing is planned only to be cancelled: planning again adds nothing.
    assert!(
        !plan(&s, &rules(&sched), t0() + TimeDelta::minutes(1))
            .iter()
            .any(|st| matches!(st, Step::Schedule { .. }))
    );
}

/// The forecast is a promise: a referral nobody answers gets, hour by hour, exactly the
/// rows and the forecast made on the day it was recorded, at those times; and forecasting
/// changes nothing.
#[test]
fn a_quiet_referral_gets_what_the_forecast_said() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    let promised = whole_plan(&s, &sched, t0());
    let rows = s.outbound.len();
    let _ = forecast(&s, &rules(&sched), t0());
    assert_eq!(s.outbound.len(), rows, "the forecast changed the snapshot");
    let mut got: Vec<(OutboundKind, ContactId, DateTime<Utc>)> = (0..24 * 40)
        .flat_map(|h| {
            let at = t0() + TimeDelta::hours(h);
            tick(&mut s, &sched, at)
                .into_iter()
                .map(move |(kind, to)| (kind, to, at))
        })
        .collect();
    // The thank-you went at the first tick; the rest as promised.
    got.sort();
    assert_eq!(got, promised);
    assert_eq!(promised.len(), 6, "{promised:?}");
}

/// A report already scheduled carries the answers it was planned for: the forecast must not
/// promise a second one (it did, until sending a report in the forecast marked them told).
#[test]
fn a_scheduled_report_is_not_forecast_twice() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    s.feedback.push(Answer {
        from: SALLY,
        at: t0() + TimeDelta::hours(1),
        rating: Some(4),
        ..Answer::default()
    });
    tick(&mut s, &sched, t0() + TimeDelta::hours(2));
    assert_eq!(
        state_of(&s, OutboundKind::OutcomeReport, BOB),
        Some(OutboundState::Scheduled)
    );
    let reports = forecast(&s, &rules(&sched), t0() + TimeDelta::hours(2))
        .into_iter()
        .filter(|f| f.kind == OutboundKind::OutcomeReport)
        .count();
    assert_eq!(reports, 0);
}

#[test]
fn no_thank_you_when_the_owner_introduced() {
    let sched = schedule();
    let mut s = referral(t0(), Some(BOB));
    tick(&mut s, &sched, t0());
    assert_eq!(state_of(&s, OutboundKind::ThankYou, BOB), None);
    assert_eq!(
        state_of(&s, OutboundKind::FollowUp, FRED),
        Some(OutboundState::Scheduled)
    );
}

#[test]
fn the_owner_as_party_gets_a_nudge_instead_of_follow_ups() {
    let sched = schedule();
    let mut s = referral(t0(), Some(SALLY));
    tick(&mut s, &sched, t0());
    use OutboundKind::*;
    assert_eq!(
        whole_plan(&s, &sched, t0()),
        vec![
            (OwnerNudge, SALLY, t0() + TimeDelta::hours(4)),
            (FollowUp, FRED, t0() + days(2)),
            (FeedbackRequest, FRED, t0() + days(14)),
            (FeedbackReminder, FRED, t0() + days(21)),
        ]
    );
    // The thank-you went at once: it was due now, inside the window.
    assert_eq!(state_of(&s, ThankYou, BOB), Some(OutboundState::Sent));
}

#[test]
fn the_owners_reply_on_the_thread_cancels_the_nudge() {
    let sched = schedule();
    let mut s = referral(t0(), Some(SALLY));
    tick(&mut s, &sched, t0());
    s.participants[2].state = PartyState::Responded;
    let steps = plan(&s, &rules(&sched), t0() + TimeDelta::hours(3));
    assert!(steps.iter().any(
        |st| matches!(st, Step::Cancel { reason, .. } if reason.contains("owner already replied"))
    ));
    apply(&mut s, &steps, t0());
    assert_eq!(
        state_of(&s, OutboundKind::OwnerNudge, SALLY),
        Some(OutboundState::Cancelled)
    );
}

#[test]
fn a_party_who_replied_gets_no_follow_up_but_still_the_feedback_request() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    s.participants[1].state = PartyState::Responded; // Fred replied on the thread
    let sent = tick(&mut s, &sched, t0() + days(3));
    assert_eq!(sent, vec![(OutboundKind::FollowUp, SALLY)]);
    assert_eq!(
        state_of(&s, OutboundKind::FollowUp, FRED),
        Some(OutboundState::Cancelled)
    );
    let sent = tick(&mut s, &sched, t0() + days(15));
    assert_eq!(
        sent,
        vec![
            (OutboundKind::FeedbackRequest, FRED),
            (OutboundKind::FeedbackRequest, SALLY)
        ]
    );
}

#[test]
fn nothing_goes_to_the_opted_out_or_the_bounced() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    s.participants[1].state = PartyState::OptedOut;
    s.participants[2].state = PartyState::Bounced;
    let mut all = Vec::new();
    for d in [1, 3, 15, 22, 40] {
        all.extend(tick(&mut s, &sched, t0() + days(d)));
    }
    assert!(all.is_empty(), "sent {all:?}");
    assert!(scheduled(&s).is_empty());
    // An opted-out introducer is not even thanked.
    let mut s = referral(t0(), None);
    s.participants[0].state = PartyState::OptedOut;
    assert!(!tick(&mut s, &sched, t0()).contains(&(OutboundKind::ThankYou, BOB)));
}

#[test]
fn the_scripted_timeline_sends_each_row_on_its_day() {
    // SPEC §2 with the defaults: ingest at T, tick at T+1d, T+3d, T+15d, T+22d.
    let sched = schedule();
    let mut s = referral(t0(), None);
    let steps = plan(&s, &rules(&sched), t0());
    apply(&mut s, &steps, t0());
    use OutboundKind::*;
    assert_eq!(tick(&mut s, &sched, t0() + days(1)), vec![(ThankYou, BOB)]);
    assert_eq!(
        tick(&mut s, &sched, t0() + days(3)),
        vec![(FollowUp, FRED), (FollowUp, SALLY)]
    );
    assert_eq!(
        tick(&mut s, &sched, t0() + days(15)),
        vec![(FeedbackRequest, FRED), (FeedbackRequest, SALLY)]
    );
    // The reminders are planned from when the requests went.
    assert_eq!(
        scheduled(&s),
        vec![
            (FeedbackReminder, FRED, t0() + days(22)),
            (FeedbackReminder, SALLY, t0() + days(22)),
        ]
    );
    // Sally answered in the meantime: only Fred is reminded.
    s.feedback.push(Answer {
        from: SALLY,
        at: t0() + days(16),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    assert_eq!(
        tick(&mut s, &sched, t0() + days(22)),
        vec![(FeedbackReminder, FRED), (OutcomeReport, BOB)]
    );
    // Once: no second reminder, ever.
    assert!(tick(&mut s, &sched, t0() + days(40)).is_empty());
}

#[test]
fn due_times_move_into_the_send_window() {
    let sched = schedule();
    // Friday 6 November, 16:30: the thank-you can go now; the follow-up falls on Sunday.
    let friday = Utc.with_ymd_and_hms(2026, 11, 6, 16, 30, 0).unwrap();
    let mut s = referral(friday, None);
    let steps = plan(&s, &rules(&sched), friday);
    apply(&mut s, &steps, friday);
    let monday_nine = Utc.with_ymd_and_hms(2026, 11, 9, 9, 0, 0).unwrap();
    assert!(scheduled(&s).contains(&(OutboundKind::ThankYou, BOB, friday)));
    assert!(scheduled(&s).contains(&(OutboundKind::FollowUp, FRED, monday_nine)));

    // An introduction on Saturday is thanked on Monday at nine.
    let saturday = Utc.with_ymd_and_hms(2026, 11, 7, 11, 0, 0).unwrap();
    let mut s = referral(saturday, None);
    assert!(tick(&mut s, &sched, saturday).is_empty());
    assert!(scheduled(&s).contains(&(OutboundKind::ThankYou, BOB, monday_nine)));
}

#[test]
fn a_tick_outside_the_window_postpones_what_is_overdue() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    let steps = plan(&s, &rules(&sched), t0());
    apply(&mut s, &steps, t0());
    // First tick on Wednesday at 20:00: the thank-you waits for Thursday at nine.
    let evening = Utc.with_ymd_and_hms(2026, 11, 4, 20, 0, 0).unwrap();
    assert!(tick(&mut s, &sched, evening).is_empty());
    let thursday_nine = Utc.with_ymd_and_hms(2026, 11, 5, 9, 0, 0).unwrap();
    assert!(scheduled(&s).contains(&(OutboundKind::ThankYou, BOB, thursday_nine)));
    assert_eq!(
        tick(&mut s, &sched, thursday_nine),
        vec![
            (OutboundKind::ThankYou, BOB),
            (OutboundKind::FollowUp, FRED),
            (OutboundKind::FollowUp, SALLY)
        ]
    );
}

#[test]
fn the_window_is_reckoned_in_the_owners_timezone() {
    let sched = schedule();
    let tz = chrono_tz::America::New_York;
    let r = Rules {
        schedule: &sched,
        timezone: tz,
    };
    // 13:00 UTC is 08:00 in New York (EST): not yet open; opens at 14:00 UTC.
    let t = Utc.with_ymd_and_hms(2026, 11, 2, 13, 0, 0).unwrap();
    assert_eq!(
        next_open(&r.schedule.send_window, tz, t),
        Utc.with_ymd_and_hms(2026, 11, 2, 14, 0, 0).unwrap()
    );
    // Across the spring DST change in London (29 March 2026), nine o'clock is 08:00 UTC.
    let london = chrono_tz::Europe::London;
    let sunday = Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap();
    assert_eq!(
        next_open(&sched.send_window, london, sunday),
        Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap()
    );
    assert_eq!(next_open(&SendWindow::Always, london, sunday), sunday);
}

#[test]
fn after_downtime_the_later_kind_wins_and_the_earlier_is_superseded() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    let steps = plan(&s, &rules(&sched), t0());
    apply(&mut s, &steps, t0());
    // Nothing ran for fifteen days: follow-ups and feedback requests are both due.
    let sent = tick(&mut s, &sched, t0() + days(15));
    use OutboundKind::*;
    assert_eq!(
        sent,
        vec![
            (ThankYou, BOB),
            (FeedbackRequest, FRED),
            (FeedbackRequest, SALLY)
        ]
    );
    assert_eq!(state_of(&s, FollowUp, FRED), Some(OutboundState::Cancelled));
    assert_eq!(
        state_of(&s, FollowUp, SALLY),
        Some(OutboundState::Cancelled)
    );
}

#[test]
fn never_two_messages_to_one_person_about_one_referral_on_one_day() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0()); // thank-you to Bob at 10:00
    // Sally's feedback arrives at 11:00: Bob's outcome report must wait for tomorrow.
    s.feedback.push(Answer {
        from: SALLY,
        at: t0() + TimeDelta::hours(1),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    let sent = tick(&mut s, &sched, t0() + TimeDelta::hours(2));
    assert!(sent.is_empty(), "{sent:?}");
    let tomorrow_nine = Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap();
    assert!(scheduled(&s).contains(&(OutboundKind::OutcomeReport, BOB, tomorrow_nine)));
    assert_eq!(
        tick(&mut s, &sched, tomorrow_nine),
        vec![(OutboundKind::OutcomeReport, BOB)]
    );
}

#[test]
fn outcome_reports_go_to_the_introducer_at_most_once_a_day() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    let t = t0() + days(15);
    s.feedback.push(Answer {
        from: FRED,
        at: t,
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    assert!(tick(&mut s, &sched, t).contains(&(OutboundKind::OutcomeReport, BOB)));
    // A second answer the same day waits for the next day.
    s.feedback.push(Answer {
        from: SALLY,
        at: t + TimeDelta::hours(1),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    assert!(
        !tick(&mut s, &sched, t + TimeDelta::hours(2))
            .contains(&(OutboundKind::OutcomeReport, BOB))
    );
    assert!(tick(&mut s, &sched, t + days(1)).contains(&(OutboundKind::OutcomeReport, BOB)));
    // Another referral's report today counts too: the last report is per introducer.
    let mut other = referral(t0(), None);
    other.id = 2;
    // Bob was thanked for it long ago: his next message is the report.
    other.outbound.push(Planned {
        id: 1,
        kind: OutboundKind::ThankYou,
        to: BOB,
        state: OutboundState::Sent,
        due_at: t0(),
        sent_at: Some(t0()),
        released: false,
    });
    other.introducer_last_report = Some(t + days(3));
    other.feedback.push(Answer {
        from: FRED,
        at: t + days(3),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    let steps = plan(&other, &rules(&sched), t + days(3) + TimeDelta::hours(1));
    let report_due = steps.iter().find_map(|st| match st {
        Step::Later {
            kind: OutboundKind::OutcomeReport,
            due_at,
            ..
        } => Some(*due_at),
        _ => None,
    });
    // Friday the 20th already had one: the next day is Saturday, so Monday at nine.
    assert_eq!(
        report_due,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
    );
}

#[test]
fn no_outcome_report_when_the_owner_introduced() {
    let sched = schedule();
    let mut s = referral(t0(), Some(BOB));
    s.feedback.push(Answer {
        from: FRED,
        at: t0(),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    let sent = tick(&mut s, &sched, t0());
    assert!(!sent.iter().any(|(k, _)| *k == OutboundKind::OutcomeReport));
    assert!(state_of(&s, OutboundKind::OutcomeReport, BOB).is_none());
}

#[test]
fn answering_early_skips_the_follow_up_and_the_request() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    s.feedback.push(Answer {
        from: FRED,
        at: t0() + days(1),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    s.status = ReferralStatus::Succeeded;
    let mut sent = Vec::new();
    for d in [3, 15, 22] {
        sent.extend(tick(&mut s, &sched, t0() + days(d)));
    }
    use OutboundKind::*;
    assert!(!sent.contains(&(FollowUp, FRED)) && !sent.contains(&(FeedbackRequest, FRED)));
    // Sally has not told us anything yet: she is still asked how it went.
    assert!(sent.contains(&(FeedbackRequest, SALLY)));
    assert!(
        !sent.contains(&(FollowUp, SALLY)),
        "no follow-up once the referral succeeded"
    );
}

#[test]
fn group_introductions_plan_for_every_party() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    s.participants.push(who(TOM, Role::Party, false));
    let sent = tick(&mut s, &sched, t0() + days(3));
    assert_eq!(
        sent.iter()
            .filter(|(k, _)| *k == OutboundKind::FollowUp)
            .count(),
        3
    );
}

#[test]
fn a_cancelled_referral_sends_nothing_more() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    s.status = ReferralStatus::Cancelled;
    assert!(tick(&mut s, &sched, t0() + days(3)).is_empty());
    assert!(scheduled(&s).is_empty());
}

#[test]
fn a_silent_referral_stalls_when_its_plan_runs_out() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    for d in [0, 3, 15, 22] {
        tick(&mut s, &sched, t0() + days(d));
    }
    assert_eq!(s.status, ReferralStatus::Open);
    tick(&mut s, &sched, t0() + days(28));
    assert_eq!(
        s.status,
        ReferralStatus::Open,
        "the reminder still has time"
    );
    tick(&mut s, &sched, t0() + days(29));
    assert_eq!(s.status, ReferralStatus::Stalled);
}

#[test]
fn planning_is_idempotent() {
    let sched = schedule();
    let mut s = referral(t0(), Some(SALLY));
    for d in [0, 1, 3, 15] {
        let now = t0() + days(d);
        tick(&mut s, &sched, now);
        assert!(plan(&s, &rules(&sched), now).is_empty(), "day {d}");
    }
}

#[test]
fn delays_follow_the_configuration() {
    let config = crate::config::testing::config(
        r#"
[schedule]
follow-up-after = "3d"
feedback-after = "10d"
send-window = "always"
"#,
    );
    let mut s = referral(t0(), None);
    let steps = plan(&s, &rules(&config.schedule), t0());
    apply(&mut s, &steps, t0());
    let plan_of = whole_plan(&s, &config.schedule, t0());
    assert!(plan_of.contains(&(OutboundKind::FollowUp, FRED, t0() + days(3))));
    assert!(plan_of.contains(&(OutboundKind::FeedbackRequest, FRED, t0() + days(10))));
    // With send-window "always", a Sunday 03:00 tick sends.
    let sunday_night = Utc.with_ymd_and_hms(2026, 11, 8, 3, 0, 0).unwrap();
    let sent = tick(&mut s, &config.schedule, sunday_night);
    assert_eq!(sent.len(), 3, "{sent:?}");
}

#[test]
fn feedback_moves_the_status() {
    use crate::model::Outcome::*;
    use ReferralStatus::*;
    assert_eq!(status_after_feedback(Open, &[Won], true), Succeeded);
    assert_eq!(
        status_after_feedback(Connected, &[Met, Won], false),
        Succeeded
    );
    assert_eq!(status_after_feedback(Open, &[Lost], false), Unsuccessful);
    assert_eq!(status_after_feedback(Open, &[NotMet], false), Unsuccessful);
    // One says they never met, the other that they did: they met.
    assert_eq!(
        status_after_feedback(Open, &[NotMet, Met], false),
        Connected
    );
    assert_eq!(status_after_feedback(Open, &[], true), Connected);
    assert_eq!(status_after_feedback(Stalled, &[], true), Connected);
    // A comment alone says nothing about the outcome.
    assert_eq!(status_after_feedback(Open, &[], false), Open);
    // Later feedback (the caller passes only the latest per person) can undo a verdict.
    assert_eq!(
        status_after_feedback(Succeeded, &[Lost], false),
        Unsuccessful
    );
    assert_eq!(status_after_feedback(Cancelled, &[Won], true), Cancelled);
}

#[test]
fn a_bare_comment_is_a_response_but_not_news_for_the_introducer() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    // Fred answers the follow-up with "not yet, I'll call her next week".
    s.feedback.push(Answer {
        from: FRED,
        at: t0() + days(3),
        reported: false,
        outcome: None,
        rating: None,
        ..Answer::default()
    });
    let mut sent = tick(&mut s, &sched, t0() + days(3));
    use OutboundKind::*;
    assert!(!sent.contains(&(OutcomeReport, BOB)), "{sent:?}");
    assert_eq!(state_of(&s, FollowUp, FRED), Some(OutboundState::Cancelled));
    // He is still asked how it went, and, having not answered the request, reminded.
    sent.extend(tick(&mut s, &sched, t0() + days(15)));
    sent.extend(tick(&mut s, &sched, t0() + days(22)));
    assert!(
        sent.contains(&(FeedbackRequest, FRED)) && sent.contains(&(FeedbackReminder, FRED)),
        "{sent:?}"
    );
}

/// Bob introduces Fred and Sally to `intros+<detail>@…`.
fn with_options(detail: &str) -> Snapshot {
    let mut s = referral(t0(), None);
    s.options = crate::intake::options::parse([format!("intros+{detail}@x").as_str()]);
    s
}

/// Plays the referral for a month, a tick an hour; returns everything sent.
fn a_month_of(s: &mut Snapshot, sched: &Schedule) -> Vec<(OutboundKind, ContactId)> {
    (0..24 * 30)
        .flat_map(|h| tick(s, sched, t0() + TimeDelta::hours(h)))
        .collect()
}

#[test]
fn quiet_sends_nothing_ever() {
    // Guards against `intros+quiet@` still mailing the introducer or the parties.
    let sched = schedule();
    let mut s = with_options("quiet");
    assert_eq!(a_month_of(&mut s, &sched), vec![]);
    assert!(s.outbound.is_empty());
    // Not even an outcome report once someone says how it went, nor a nudge to the owner.
    s.feedback.push(Answer {
        from: FRED,
        at: t0() + days(31),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    s.participants[2].is_owner = true;
    assert_eq!(tick(&mut s, &sched, t0() + days(31)), vec![]);
    assert!(
        wanted(
            &s,
            OutboundKind::ThankYou,
            &s.participants[0],
            &rules(&sched),
            t0()
        )
        .is_err_and(|why| why.contains("+quiet"))
    );
}

#[test]
fn nothanks_drops_only_the_thank_you() {
    // Guards against thanking an introducer the owner asked us not to.
    let sched = schedule();
    let mut s = with_options("NoThanks");
    let sent = a_month_of(&mut s, &sched);
    use OutboundKind::*;
    assert!(!sent.iter().any(|(kind, _)| *kind == ThankYou));
    assert!(sent.contains(&(FollowUp, FRED)) && sent.contains(&(FeedbackRequest, SALLY)));
}

#[test]
fn a_delay_in_the_address_sets_the_follow_up_and_keeps_the_order() {
    // Guards against `intros+3d@` following up after the configured two days anyway.
    let sched = schedule();
    let mut s = with_options("nothanks+3d");
    tick(&mut s, &sched, t0());
    use OutboundKind::*;
    assert_eq!(
        whole_plan(&s, &sched, t0()),
        vec![
            (FollowUp, FRED, t0() + days(3)),
            (FollowUp, SALLY, t0() + days(3)),
            // A day later than planned, as the follow-up is: the request still comes after.
            (FeedbackRequest, FRED, t0() + days(15)),
            (FeedbackRequest, SALLY, t0() + days(15)),
            (FeedbackReminder, FRED, t0() + days(22)),
            (FeedbackReminder, SALLY, t0() + days(22)),
        ]
    );
    // A shorter one moves the follow-up only.
    let mut s = with_options("28h");
    tick(&mut s, &sched, t0());
    let plan_of = whole_plan(&s, &sched, t0());
    let due = |kind| plan_of.iter().find(|p| p.0 == kind).unwrap().2;
    assert_eq!(due(FollowUp), t0() + TimeDelta::hours(28));
    assert_eq!(due(FeedbackRequest), t0() + days(14));
}

#[test]
fn unknown_options_change_nothing() {
    let sched = schedule();
    let mut plain = referral(t0(), None);
    let mut odd = with_options("foo+vip");
    assert_eq!(a_month_of(&mut odd, &sched), a_month_of(&mut plain, &sched));
}

// The nudge came at the 24-hour mark, too late for a 24-hour rule: it counts working hours.
#[test]
fn the_owners_nudge_comes_four_working_hours_after_the_introduction() {
    let sched = schedule();
    let nudge_at = |at: DateTime<Utc>| {
        let mut s = referral(at, Some(SALLY));
        tick(&mut s, &sched, at);
        s.outbound
            .iter()
            .find(|p| p.kind == OutboundKind::OwnerNudge)
            .map(|p| p.due_at)
    };
    // Monday 10:00 → 14:00 the same day.
    assert_eq!(nudge_at(t0()), Some(t0() + TimeDelta::hours(4)));
    // Monday 15:00 → two hours that day, two on Tuesday: 11:00.
    assert_eq!(
        nudge_at(t0() + TimeDelta::hours(5)),
        Some(t0() + days(1) + TimeDelta::hours(1))
    );
    // Friday 16:00 → one hour on Friday, three on Monday: 12:00, not the weekend.
    assert_eq!(
        nudge_at(t0() + days(4) + TimeDelta::hours(6)),
        Some(t0() + days(7) + TimeDelta::hours(2))
    );
    // Saturday → Monday 13:00.
    assert_eq!(
        nudge_at(t0() + days(5)),
        Some(t0() + days(7) + TimeDelta::hours(3))
    );
    // With the window "always", plain hours.
    let always = Schedule {
        send_window: SendWindow::Always,
        ..Schedule::default()
    };
    let mut s = referral(t0() + days(5), Some(SALLY));
    tick(&mut s, &always, t0() + days(5));
    let due = s
        .outbound
        .iter()
        .find(|p| p.kind == OutboundKind::OwnerNudge);
    assert_eq!(
        due.map(|p| p.due_at),
        Some(t0() + days(5) + TimeDelta::hours(4))
    );
}

// The thank-you went at once, before the owner had a chance to thank the introducer herself.
#[test]
fn the_thank_you_waits_an_hour_and_is_skipped_when_the_owner_thanked_them() {
    let sched = Schedule::default();
    let mut s = referral(t0(), Some(SALLY));
    assert!(!tick(&mut s, &sched, t0()).contains(&(OutboundKind::ThankYou, BOB)));
    assert_eq!(
        s.outbound
            .iter()
            .find(|p| p.kind == OutboundKind::ThankYou)
            .map(|p| p.due_at),
        Some(t0() + TimeDelta::hours(1))
    );
    // She wrote "Thanks so much, Bob!" on the thread half an hour in.
    s.owner_wrote.thanked = true;
    let steps = plan(&s, &rules(&sched), t0() + TimeDelta::minutes(30));
    assert!(
        steps.iter().any(
            |st| matches!(st, Step::Cancel { reason, .. } if reason.contains("already thanked"))
        )
    );
    apply(&mut s, &steps, t0() + TimeDelta::minutes(30));
    assert_eq!(
        state_of(&s, OutboundKind::ThankYou, BOB),
        Some(OutboundState::Cancelled)
    );
    assert!(tick(&mut s, &sched, t0() + TimeDelta::hours(2)).is_empty());
}

// Fred got "how did things go with Sally?" after Sally wrote "we signed!".
#[test]
fn no_follow_up_or_reminder_once_a_party_said_they_met() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    // Sally says they met, before the follow-ups: neither party is asked "did you connect?".
    s.feedback.push(Answer {
        from: SALLY,
        at: t0() + days(1),
        reported: false,
        outcome: Some(Outcome::Met),
        rating: None,
        ..Answer::default()
    });
    let sent = tick(&mut s, &sched, t0() + days(2));
    assert!(
        !sent.iter().any(|(k, _)| *k == OutboundKind::FollowUp),
        "{sent:?}"
    );
    assert_eq!(
        state_of(&s, OutboundKind::FollowUp, FRED),
        Some(OutboundState::Cancelled)
    );
    // Fred is still asked how it went from his side, once, but never reminded.
    assert!(tick(&mut s, &sched, t0() + days(14)).contains(&(OutboundKind::FeedbackRequest, FRED)));
    let later: Vec<_> = (15..40)
        .flat_map(|d| tick(&mut s, &sched, t0() + days(d)))
        .collect();
    assert!(
        !later.contains(&(OutboundKind::FeedbackReminder, FRED)),
        "{later:?}"
    );

    // A rating alone, or "we never met", says nothing about a meeting: the plan goes on.
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    s.feedback.push(Answer {
        from: SALLY,
        at: t0() + days(1),
        reported: false,
        outcome: Some(Outcome::NotMet),
        rating: None,
        ..Answer::default()
    });
    assert!(tick(&mut s, &sched, t0() + days(2)).contains(&(OutboundKind::FollowUp, FRED)));
}

// A follow-up asked Carol for "a couple of times that suit you" after the owner had offered a call.
#[test]
fn no_follow_up_when_the_owner_already_offered_a_time() {
    let sched = schedule();
    let mut s = referral(t0(), Some(SALLY));
    tick(&mut s, &sched, t0());
    s.owner_wrote.offered_time = true;
    let sent = tick(&mut s, &sched, t0() + days(2));
    assert!(!sent.contains(&(OutboundKind::FollowUp, FRED)), "{sent:?}");
    assert_eq!(
        state_of(&s, OutboundKind::FollowUp, FRED),
        Some(OutboundState::Cancelled)
    );
    // When the owner is not a party, her offer is not the parties' meeting: they are asked.
    let mut s = referral(t0(), Some(BOB));
    tick(&mut s, &sched, t0());
    s.owner_wrote.offered_time = true;
    assert!(tick(&mut s, &sched, t0() + days(2)).contains(&(OutboundKind::FollowUp, FRED)));
}

// A 1/5 or "it didn't work out" went to the introducer as it came, unseen by the owner.
#[test]
fn bad_news_is_held_for_the_owner_and_goes_once_released() {
    let sched = schedule();
    let bad = [
        (Some(1), None),
        (Some(2), Some(Outcome::Met)),
        (None, Some(Outcome::Lost)),
        (None, Some(Outcome::NotMet)),
    ];
    for (rating, outcome) in bad {
        let mut s = referral(t0(), None);
        tick(&mut s, &sched, t0());
        s.feedback.push(Answer {
            from: FRED,
            at: t0() + days(3),
            reported: false,
            outcome,
            rating,
            ..Answer::default()
        });
        tick(&mut s, &sched, t0() + days(3));
        let report = s
            .outbound
            .iter()
            .find(|p| p.kind == OutboundKind::OutcomeReport);
        let steps = plan(&s, &rules(&sched), t0() + days(3));
        assert!(steps.is_empty() || report.is_some(), "{steps:?}");
        assert_eq!(
            state_of(&s, OutboundKind::OutcomeReport, BOB),
            Some(OutboundState::Held)
        );
        // Held, it stays the one report: nothing more is scheduled or sent to Bob.
        let later = tick(&mut s, &sched, t0() + days(4));
        assert!(
            !later.contains(&(OutboundKind::OutcomeReport, BOB)),
            "{later:?}"
        );
        assert_eq!(
            s.outbound
                .iter()
                .filter(|p| p.kind == OutboundKind::OutcomeReport)
                .count(),
            1
        );
        // Released by the owner, it goes.
        let report = s
            .outbound
            .iter_mut()
            .find(|p| p.kind == OutboundKind::OutcomeReport)
            .unwrap();
        report.state = OutboundState::Scheduled;
        report.released = true;
        assert!(tick(&mut s, &sched, t0() + days(4)).contains(&(OutboundKind::OutcomeReport, BOB)));
    }
    // The hold says how to decide.
    let mut s = referral(t0(), None);
    s.feedback.push(Answer {
        from: FRED,
        at: t0(),
        reported: false,
        outcome: Some(Outcome::Lost),
        rating: None,
        ..Answer::default()
    });
    let steps = plan(&s, &rules(&sched), t0());
    apply(&mut s, &steps, t0());
    let steps = plan(&s, &rules(&sched), t0());
    assert!(
        steps.iter().any(|st| matches!(st, Step::Hold { reason, .. }
            if reason.contains("says lost") && reason.contains("referrald skip"))),
        "{steps:?}"
    );
    // Good news, or a later answer that takes the bad one back, goes on its own.
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    for (at, rating) in [(3, 2), (4, 4)] {
        s.feedback.push(Answer {
            from: FRED,
            at: t0() + days(at),
            reported: false,
            outcome: Some(Outcome::Met),
            rating: Some(rating),
            ..Answer::default()
        });
    }
    assert!(tick(&mut s, &sched, t0() + days(4)).contains(&(OutboundKind::OutcomeReport, BOB)));
}

// Timing anchored to the introduction (issue 8, item 1).

/// Bob's introduction of Fred and Sally, written `ago` before it is recorded at `t0()`.
fn introduced_ago(ago: TimeDelta) -> Snapshot {
    let mut s = referral(t0() - ago, None);
    s.recorded_at = t0();
    s
}

fn skipped(steps: &[Step]) -> Vec<(OutboundKind, ContactId, String)> {
    let mut v: Vec<_> = steps
        .iter()
        .filter_map(|st| match st {
            Step::Skip {
                kind, to, reason, ..
            } => Some((*kind, *to, reason.clone())),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_plan_counts_from_the_introductions_own_date() {
    let sched = schedule();
    let mut s = introduced_ago(days(1));
    let sent = tick(&mut s, &sched, t0());
    // The thank-you, a day late, goes at once; the follow-ups count from the day before.
    assert_eq!(sent, vec![(OutboundKind::ThankYou, BOB)]);
    assert!(scheduled(&s).contains(&(OutboundKind::FollowUp, FRED, t0() + days(1))));
    // The request, due on Sunday the 15th, waits for Monday's window.
    let monday_nine = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    assert!(whole_plan(&s, &sched, t0()).contains(&(
        OutboundKind::FeedbackRequest,
        SALLY,
        monday_nine
    )));
    assert!(!s.history);
}

#[test]
fn what_fell_due_more_than_the_late_limit_before_recording_is_skipped() {
    let sched = schedule();
    let mut s = introduced_ago(days(4) + TimeDelta::hours(1));
    let steps = plan(&s, &rules(&sched), t0());
    let reason = "too late: introduced 2026-10-29".to_string();
    // Thank-you (due 4 days ago) and follow-ups (due 2 days and an hour ago) are too late.
    assert_eq!(
        skipped(&steps),
        vec![
            (OutboundKind::ThankYou, BOB, reason.clone()),
            (OutboundKind::FollowUp, FRED, reason.clone()),
            (OutboundKind::FollowUp, SALLY, reason),
        ]
    );
    tick(&mut s, &sched, t0());
    assert!(!s.history);
    assert_eq!(
        state_of(&s, OutboundKind::ThankYou, BOB),
        Some(OutboundState::Cancelled)
    );
    // The later steps keep their times, counted from the introduction.
    let request = t0() - days(4) - TimeDelta::hours(1) + days(14);
    assert!(scheduled(&s).contains(&(OutboundKind::FeedbackRequest, FRED, request)));
    // Planning again changes nothing: skipped rows are not planned twice.
    assert!(plan(&s, &rules(&sched), t0()).is_empty());
}

#[test]
fn exactly_the_late_limit_is_still_in_time() {
    let sched = schedule();
    let s = introduced_ago(days(2));
    let steps = plan(&s, &rules(&sched), t0());
    assert!(skipped(&steps).is_empty());
}

#[test]
fn the_late_limit_follows_the_configuration() {
    let sched = Schedule {
        late_limit: std::time::Duration::from_secs(12 * 3600),
        ..schedule()
    };
    let steps = plan(&introduced_ago(days(1)), &rules(&sched), t0());
    assert_eq!(
        skipped(&steps),
        vec![(
            OutboundKind::ThankYou,
            BOB,
            "too late: introduced 2026-11-01".to_string()
        )]
    );
}

#[test]
fn an_introduction_older_than_every_step_is_history_and_gets_nothing() {
    let sched = schedule();
    let mut s = introduced_ago(days(730));
    let steps = plan(&s, &rules(&sched), t0());
    assert!(
        matches!(steps.as_slice(), [Step::History { reason }] if reason.contains("introduced 2024-11-02")),
        "{steps:?}"
    );
    assert!(tick(&mut s, &sched, t0()).is_empty());
    assert!(s.history && s.outbound.is_empty());
    // A month later, even with feedback in hand, nothing goes: not even an outcome report.
    s.feedback.push(Answer {
        from: FRED,
        at: t0() + days(1),
        reported: false,
        outcome: None,
        rating: Some(4),
        ..Answer::default()
    });
    assert!(a_month_of(&mut s, &sched).is_empty());
    assert!(s.outbound.is_empty());
}

#[test]
fn one_step_still_in_time_keeps_an_old_introduction_out_of_history() {
    let sched = schedule();
    // 15 days: everything is too late but the feedback requests, due a day ago.
    let mut s = introduced_ago(days(15));
    tick(&mut s, &sched, t0());
    assert!(!s.history);
    assert_eq!(
        state_of(&s, OutboundKind::FeedbackRequest, FRED),
        Some(OutboundState::Sent)
    );
    assert_eq!(
        state_of(&s, OutboundKind::FollowUp, FRED),
        Some(OutboundState::Cancelled)
    );
}

#[test]
fn a_quiet_old_introduction_is_not_called_history() {
    let sched = schedule();
    let mut s = introduced_ago(days(730));
    s.options.quiet = true;
    assert!(plan(&s, &rules(&sched), t0()).is_empty());
}

#[test]
fn the_anchor_is_the_date_bounded_by_the_arrival() {
    let arrived = t0() - TimeDelta::hours(3);
    let date = t0() - days(2);
    assert_eq!(introduced_at(Some(date), Some(arrived), t0()), date);
    // A Date after the arrival (a wrong clock, or a lie) counts as the arrival.
    assert_eq!(
        introduced_at(Some(t0() + days(1)), Some(arrived), t0()),
        arrived
    );
    assert_eq!(
        introduced_at(Some(t0() - TimeDelta::hours(1)), Some(arrived), t0()),
        arrived
    );
    // No Date: the arrival; no arrival known (a file): the recording.
    assert_eq!(introduced_at(None, Some(arrived), t0()), arrived);
    assert_eq!(introduced_at(Some(t0() + days(1)), None, t0()), t0());
    assert_eq!(introduced_at(Some(date), None, t0()), date);
    // An arrival the server dates after our own clock is no later than now.
    assert_eq!(introduced_at(None, Some(t0() + days(3)), t0()), t0());
}

#[test]
fn someone_away_hears_from_us_the_day_after_their_return_date() {
    let sched = schedule();
    let mut s = referral(t0(), None);
    tick(&mut s, &sched, t0());
    // Fred's auto-reply: back on Thursday 5 November (the follow-up was due on the 4th).
    let back = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
    s.participants[1].back_on = Some(back);
    let steps = plan(&s, &rules(&sched), t0() + TimeDelta::hours(1));
    let friday_nine = Utc.with_ymd_and_hms(2026, 11, 6, 9, 0, 0).unwrap();
    assert!(
        steps
            .iter()
            .any(|st| matches!(st, Step::Postpone { due_at, reason, .. }
            if *due_at == friday_nine && reason.contains("2026-11-05"))),
        "{steps:?}"
    );
    apply(&mut s, &steps, t0() + TimeDelta::hours(1));
    // On the 4th Sally gets her follow-up and Fred nothing; Fred's comes on the 6th.
    assert_eq!(
        tick(&mut s, &sched, t0() + days(2)),
        vec![(OutboundKind::FollowUp, SALLY)]
    );
    assert!(tick(&mut s, &sched, t0() + days(3)).is_empty());
    assert_eq!(
        tick(&mut s, &sched, friday_nine),
        vec![(OutboundKind::FollowUp, FRED)]
    );
    // A return date in the past holds nothing back.
    let mut s = referral(t0(), None);
    s.participants[1].back_on = NaiveDate::from_ymd_opt(2026, 10, 1);
    tick(&mut s, &sched, t0());
    assert!(scheduled(&s).contains(&(OutboundKind::FollowUp, FRED, t0() + days(2))));
}

#[test]
fn a_paused_referral_holds_its_mail_until_the_pause_ends() {
    // Guards against `pause 2w` by email still letting the follow-ups go.
    let sched = schedule();
    let mut s = referral(t0(), None);
    s.paused_until = Some(t0() + days(10));
    let mut sent = Vec::new();
    for h in 0..24 * 10 {
        sent.extend(tick(&mut s, &sched, t0() + TimeDelta::hours(h)));
    }
    assert!(sent.is_empty(), "sent while paused: {sent:?}");
    // Planned meanwhile, and never stalled.
    assert!(!scheduled(&s).is_empty());
    assert_eq!(s.status, ReferralStatus::Open);
    // Once it ends, what fell due goes (the latest kind per person, as after downtime).
    let after: Vec<_> = (0..24)
        .flat_map(|h| tick(&mut s, &sched, t0() + days(10) + TimeDelta::hours(h)))
        .collect();
    assert!(
        after.iter().any(|(k, _)| *k == OutboundKind::ThankYou),
        "{after:?}"
    );
    assert!(
        after
            .iter()
            .any(|(k, to)| *k == OutboundKind::FollowUp && *to == FRED),
        "{after:?}"
    );
}

/// The store's way with the plan since issue 9: a message is made only when it is due, and
/// otherwise the referral keeps just the earliest due time ([`Step::Later`]). `changed`: mail
/// or a command changed the referral this hour, and the store planned it again (making
/// nothing). Then, if the due time has come or a message already made is due, the outbox's
/// round plans it to send, and each message sent is planned after. Returns what was sent.
fn store_round(
    s: &mut Snapshot,
    next_due: &mut Option<DateTime<Utc>>,
    changed: bool,
    sched: &Schedule,
    now: DateTime<Utc>,
) -> Vec<(OutboundKind, ContactId)> {
    let due_time = |steps: &[Step]| {
        steps
            .iter()
            .filter_map(|st| match st {
                Step::Schedule { due_at, .. } | Step::Later { due_at, .. } => Some(*due_at),
                _ => None,
            })
            .min()
    };
    // What the store applies outside the outbox's round: nothing made, nothing sent.
    let replan = |s: &mut Snapshot, next_due: &mut Option<DateTime<Utc>>| {
        let steps = plan(s, &rules(sched), now);
        *next_due = due_time(&steps);
        let kept: Vec<Step> = steps
            .into_iter()
            .filter(|st| {
                !matches!(
                    st,
                    Step::Schedule { .. } | Step::Later { .. } | Step::Send { .. }
                )
            })
            .collect();
        apply(s, &kept, now);
    };
    // The store also looks again at open referrals with nothing ahead, which may stall.
    if changed || (next_due.is_none() && s.status == ReferralStatus::Open) {
        replan(s, next_due);
    }
    let made_due = s
        .outbound
        .iter()
        .any(|p| p.state == OutboundState::Scheduled && p.due_at <= now);
    if !made_due && !next_due.is_some_and(|t| t <= now) {
        return Vec::new();
    }
    let mut sent = Vec::new();
    for _ in 0..4 {
        let steps = plan(s, &rules(sched), now);
        let made_any = steps.iter().any(|st| matches!(st, Step::Schedule { .. }));
        *next_due = steps
            .iter()
            .filter_map(|st| match st {
                Step::Later { due_at, .. } => Some(*due_at),
                _ => None,
            })
            .min();
        let kept: Vec<Step> = steps
            .into_iter()
            .filter(|st| !matches!(st, Step::Later { .. }))
            .collect();
        sent.extend(apply(s, &kept, now));
        if !made_any {
            break;
        }
    }
    if !sent.is_empty() {
        replan(s, next_due);
    }
    sent.sort();
    sent
}

/// Something that may happen to a referral at an hour: true when it did.
type Event = fn(&mut Snapshot, i64) -> bool;

/// Keeping only each referral's next due time, and making a message when it falls due,
/// sends exactly what keeping a row for each person's next message sent, at the same hours,
/// whatever happens meanwhile; and makes nothing that is then cancelled when nothing
/// happens.
#[test]
fn keeping_only_due_times_sends_the_same_mail() {
    let sched = schedule();
    // What happens to the referral, hour by hour.
    let stories: [(&str, Event); 4] = [
        ("nobody answers", |_, _| false),
        ("Fred replies on the thread on day 1", |s, h| {
            (h == 30)
                .then(|| s.participants[1].state = PartyState::Responded)
                .is_some()
        }),
        ("Sally rates it 4 on day 15", |s, h| {
            (h == 24 * 15 + 5)
                .then(|| {
                    s.feedback.push(Answer {
                        from: SALLY,
                        at: t0() + TimeDelta::hours(h),
                        rating: Some(4),
                        ..Answer::default()
                    })
                })
                .is_some()
        }),
        ("Fred says they lost it on day 16", |s, h| {
            (h == 24 * 16 + 2)
                .then(|| {
                    s.feedback.push(Answer {
                        from: FRED,
                        at: t0() + TimeDelta::hours(h),
                        outcome: Some(Outcome::Lost),
                        ..Answer::default()
                    })
                })
                .is_some()
        }),
    ];
    for (story, happen) in stories {
        let mut rows = referral(t0(), None);
        let mut lazy = referral(t0(), None);
        let mut next_due = None;
        let (mut by_rows, mut by_due_times) = (Vec::new(), Vec::new());
        for h in 0..24 * 40 {
            let at = t0() + TimeDelta::hours(h);
            happen(&mut rows, h);
            let changed = happen(&mut lazy, h) || h == 0;
            by_rows.extend(tick(&mut rows, &sched, at).into_iter().map(|m| (h, m)));
            by_due_times.extend(
                store_round(&mut lazy, &mut next_due, changed, &sched, at)
                    .into_iter()
                    .map(|m| (h, m)),
            );
        }
        assert_eq!(by_due_times, by_rows, "{story}");
        assert!(!by_rows.is_empty(), "{story}: nothing was sent at all");
        assert_eq!(lazy.status, rows.status, "{story}");
        if story == "nobody answers" {
            let cancelled: Vec<_> = lazy
                .outbound
                .iter()
                .filter(|p| p.state == OutboundState::Cancelled)
                .collect();
            assert!(
                cancelled.is_empty(),
                "made only to be cancelled: {cancelled:?}"
            );
        }
    }
}

/// A new referral's plan makes only what is due now; the rest is a due time.
#[test]
fn a_new_referral_makes_only_what_is_due() {
    let sched = schedule();
    let s = referral(t0(), None);
    let steps = plan(&s, &rules(&sched), t0());
    let made: Vec<OutboundKind> = steps
        .iter()
        .filter_map(|st| match st {
            Step::Schedule { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(made, vec![OutboundKind::ThankYou]);
    let later: Vec<(OutboundKind, ContactId, DateTime<Utc>)> = steps
        .iter()
        .filter_map(|st| match st {
            Step::Later { kind, to, due_at } => Some((*kind, *to, *due_at)),
            _ => None,
        })
        .collect();
    assert_eq!(
        later,
        vec![
            (OutboundKind::FollowUp, FRED, t0() + days(2)),
            (OutboundKind::FollowUp, SALLY, t0() + days(2)),
        ]
    );
}
