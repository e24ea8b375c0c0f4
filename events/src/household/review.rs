//! The public part of the review (Decision 24/2021/QĐ-TTg): the village meeting's vote, the
//! complaints people bring while the results are posted, and what they mean for the chair's
//! decision.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::envelope::{CommandContext, Facts};
use crate::review_deadlines::DatedLimit;

use super::command::{ComplaintInput, MeetingInput, ResolutionInput};
use super::error::HouseholdError;
use super::event::*;
use super::state::{HouseholdState, SentBack};
use super::validate::{self, limits};

/// Most people a village meeting can count (a hamlet has a few hundred households).
pub const MAX_ATTENDEES: i64 = 100_000;

fn count(field: &'static str, value: i64, min: i64) -> Result<u32, HouseholdError> {
    if value < min || value > MAX_ATTENDEES {
        return Err(HouseholdError::OutOfRange {
            field,
            value,
            min,
            max: MAX_ATTENDEES,
        });
    }
    u32::try_from(value).map_err(|_| HouseholdError::OutOfRange {
        field,
        value,
        min,
        max: MAX_ATTENDEES,
    })
}

/// → `review_meeting_held`, voting on the latest survey of the meeting's period.
pub(super) fn meeting(
    state: &HouseholdState,
    registered_on: NaiveDate,
    input: MeetingInput,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    let period = validate::required("period", &input.period, limits::CODE)?;
    validate::dated("held_on", input.held_on, ctx, registered_on)?;
    let hamlet = validate::required("hamlet", &input.hamlet, limits::NAME)?;
    let minutes_no = validate::required("minutes_no", &input.minutes_no, limits::CODE)?;
    let attendees = count("attendees", input.attendees, 1)?;
    let votes_for = count("votes_for", input.votes_for, 0)?;
    let votes_against = count("votes_against", input.votes_against, 0)?;
    if u64::from(votes_for) + u64::from(votes_against) > u64::from(attendees) {
        return Err(HouseholdError::MoreVotesThanAttendees {
            attendees: input.attendees,
            votes_for: input.votes_for,
            votes_against: input.votes_against,
        });
    }
    let (survey_sequence, survey) = state
        .surveys
        .iter()
        .filter(|(_, s)| s.period == period)
        .max_by_key(|(seq, s)| (s.survey_date, **seq))
        .ok_or_else(|| HouseholdError::NoSurveyForPeriod {
            period: period.clone(),
        })?;
    if input.held_on < survey.survey_date {
        return Err(HouseholdError::MeetingBeforeSurvey {
            held_on: input.held_on,
            survey_date: survey.survey_date,
        });
    }
    let proposed = survey
        .proposed
        .iter()
        .map(|(std, p)| (std.clone(), p.category))
        .collect();
    let held_on = input.held_on;
    Ok(vec![(
        HouseholdEvent::ReviewMeetingHeld(ReviewMeetingHeld {
            period,
            held_on,
            hamlet,
            attendees,
            votes_for,
            votes_against,
            outcome: MeetingOutcome::of(attendees, votes_for),
            minutes_no: minutes_no.clone(),
            survey_sequence: *survey_sequence,
            proposed,
        }),
        Facts {
            effective_on: Some(held_on),
            decision_no: Some(minutes_no),
            ..Facts::default()
        },
    )])
}

/// → `complaint_received`, due by the limit in force on the day it was received.
pub(super) fn complaint(
    state: &HouseholdState,
    registered_on: NaiveDate,
    complaint_id: Uuid,
    input: ComplaintInput,
    received_by: &str,
    deadline: Option<DatedLimit>,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    let period = validate::required("period", &input.period, limits::CODE)?;
    validate::dated("received_on", input.received_on, ctx, registered_on)?;
    let from_name = validate::optional("from_name", &input.from_name, limits::NAME)?;
    let contact = validate::optional("contact", &input.contact, limits::NAME)?;
    let content = validate::required("content", &input.content, limits::TEXT)?;
    let received_by = validate::required("received_by", received_by, limits::NAME)?;
    if state.complaints.contains_key(&complaint_id) {
        return Err(HouseholdError::DuplicateComplaint { complaint_id });
    }
    let deadline =
        deadline
            .filter(|d| d.holds_on(input.received_on))
            .ok_or(HouseholdError::NoDeadline {
                date: input.received_on,
            })?;
    let received_on = input.received_on;
    Ok(vec![(
        HouseholdEvent::ComplaintReceived(ComplaintReceived {
            complaint_id,
            period,
            received_on,
            received_by,
            from_name,
            contact,
            content,
            resolve_by: deadline.ends(received_on),
            deadline_confirmed: deadline.confirmed,
        }),
        Facts {
            effective_on: Some(received_on),
            legal_basis: Some(deadline.source.clone()),
            ..Facts::default()
        },
    )])
}

/// → `complaint_resolved`.
pub(super) fn resolution(
    state: &HouseholdState,
    registered_on: NaiveDate,
    input: ResolutionInput,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    let complaint_id = input.complaint_id;
    let complaint = state
        .complaints
        .get(&complaint_id)
        .ok_or(HouseholdError::NoSuchComplaint { complaint_id })?;
    if let Some(done) = &complaint.resolved {
        return Err(HouseholdError::ComplaintAlreadyResolved {
            complaint_id,
            decided_on: done.decided_on,
        });
    }
    validate::dated("decided_on", input.decided_on, ctx, registered_on)?;
    if input.decided_on < complaint.received.received_on {
        return Err(HouseholdError::ResolvedBeforeReceived {
            decided_on: input.decided_on,
            received_on: complaint.received.received_on,
        });
    }
    let decision_no = validate::required("decision_no", &input.decision_no, limits::CODE)?;
    let reason = validate::optional("reason", &input.reason, limits::TEXT)?;
    if input.outcome == ComplaintOutcome::Rejected && reason.is_none() {
        return Err(HouseholdError::RejectionNeedsReason);
    }
    let decided_on = input.decided_on;
    Ok(vec![(
        HouseholdEvent::ComplaintResolved(ComplaintResolved {
            complaint_id,
            outcome: input.outcome,
            decided_on,
            decision_no: decision_no.clone(),
            reason: reason.clone(),
            late: decided_on > complaint.received.resolve_by,
        }),
        Facts {
            effective_on: Some(decided_on),
            reason,
            decision_no: Some(decision_no),
            ..Facts::default()
        },
    )])
}

/// What stands in the way of the chair's decision: an open complaint or a "review again"
/// without a new survey. Without a reason the decision is refused; with one it goes ahead and
/// carries what it overrode (open complaints, the day the household was sent back), which
/// supervisors see flagged.
pub(super) fn decision_gate(
    state: &HouseholdState,
    reason: Option<&str>,
) -> Result<(Vec<Uuid>, Option<NaiveDate>), HouseholdError> {
    let open = state.open_complaints();
    let sent_back = state.sent_back();
    if reason.is_none() {
        if let Some(first) = open.first() {
            return Err(HouseholdError::OpenComplaint {
                complaint_id: first.received.complaint_id,
                received_on: first.received.received_on,
            });
        }
        match sent_back {
            Some(SentBack::Meeting { held_on, .. }) => {
                return Err(HouseholdError::SentBackByMeeting { held_on })
            }
            Some(SentBack::UpheldComplaint { decided_on, .. }) => {
                return Err(HouseholdError::SentBackByComplaint { decided_on })
            }
            None => {}
        }
    }
    Ok((
        open.iter().map(|c| c.received.complaint_id).collect(),
        sent_back.map(SentBack::since),
    ))
}
