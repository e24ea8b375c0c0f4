//! The rules: given the state and a command, which events follow (or why none may).

use chrono::NaiveDate;

use crate::envelope::{CommandContext, Facts};
use crate::standards::Standard;

use super::command::{DecisionInput, HouseholdCommand, ReplacementInput};
use super::error::HouseholdError;
use super::event::*;
use super::lifecycle::{derive, Movement};
use super::review;
use super::state::HouseholdState;
use super::validate::{self, limits};

/// The events a command produces, each with the facts its envelope takes from the domain.
pub fn decide(
    state: &HouseholdState,
    command: HouseholdCommand,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    match command {
        HouseholdCommand::Register {
            registration,
            effective_on,
            unit,
        } => {
            if state.registered_on.is_some() {
                return Err(HouseholdError::AlreadyRegistered);
            }
            let registration = validate::registration(&registration, effective_on, unit, ctx)?;
            Ok(one(
                HouseholdEvent::HouseholdRegistered(registration),
                effective_on,
            ))
        }
        HouseholdCommand::ChangeMembers(change) => {
            let registered_on = open(state)?;
            let change = validate::members_change(&change, state, registered_on, ctx, true)?;
            let on = change.changed_on;
            Ok(one(HouseholdEvent::MembersChanged(change), on))
        }
        HouseholdCommand::Move { moved, unit } => {
            let registered_on = open(state)?;
            let moved = validate::moved(&moved, unit, registered_on, ctx)?;
            let on = moved.moved_on;
            Ok(one(HouseholdEvent::HouseholdMoved(moved), on))
        }
        HouseholdCommand::Reassign {
            moved,
            unit,
            legal_basis,
            reason,
        } => {
            let registered_on = open(state)?;
            let moved = validate::moved(&moved, unit, registered_on, ctx)?;
            let facts = Facts {
                effective_on: Some(moved.moved_on),
                legal_basis: Some(validate::required(
                    "legal_basis",
                    &legal_basis,
                    validate::limits::CODE,
                )?),
                reason: validate::optional("reason", &reason, validate::limits::TEXT)?,
                decision_no: None,
            };
            Ok(vec![(HouseholdEvent::HouseholdMoved(moved), facts)])
        }
        HouseholdCommand::Close(closure) => {
            let registered_on = open(state)?;
            let closure = validate::closed(&closure, registered_on, ctx)?;
            let on = closure.closed_on;
            Ok(one(HouseholdEvent::HouseholdClosed(closure), on))
        }
        HouseholdCommand::Survey { survey, standards } => {
            let registered_on = open(state)?;
            let area = area_on(state, survey.survey_date)?;
            let survey = validate::survey(&survey, &standards, area, registered_on, ctx)?;
            let on = survey.survey_date;
            Ok(one(HouseholdEvent::HouseholdSurveyed(survey), on))
        }
        HouseholdCommand::Decide { standard, decision } => {
            decide_category(state, &standard, decision, ctx)
        }
        HouseholdCommand::RecordSupport(support) => {
            let registered_on = open(state)?;
            let support = validate::support(&support, state, registered_on, ctx)?;
            let facts = Facts {
                effective_on: Some(support.disbursed_on),
                decision_no: Some(support.decision_no.clone()),
                ..Facts::default()
            };
            Ok(vec![(HouseholdEvent::SupportReceived(support), facts)])
        }
        HouseholdCommand::Correct {
            corrects_sequence,
            reason,
            replacement,
        } => correct(state, corrects_sequence, &reason, replacement, ctx),
        HouseholdCommand::HoldMeeting(meeting) => {
            let registered_on = open(state)?;
            review::meeting(state, registered_on, meeting, ctx)
        }
        HouseholdCommand::ReceiveComplaint {
            complaint_id,
            complaint,
            received_by,
            deadline,
        } => {
            let registered_on = open(state)?;
            review::complaint(
                state,
                registered_on,
                complaint_id,
                complaint,
                &received_by,
                deadline,
                ctx,
            )
        }
        HouseholdCommand::ResolveComplaint(resolution) => {
            let registered_on = open(state)?;
            review::resolution(state, registered_on, resolution, ctx)
        }
        HouseholdCommand::ExplainFlag(f) => {
            let (rule, sequence) = flagged(state, &f.rule, f.sequence)?;
            let explained = FlagExplained {
                rule,
                sequence,
                reason: validate::required("reason", &f.reason, limits::TEXT)?,
                decision_no: validate::required("decision_no", &f.decision_no, limits::CODE)?,
            };
            let facts = Facts {
                reason: Some(explained.reason.clone()),
                decision_no: Some(explained.decision_no.clone()),
                ..Facts::default()
            };
            Ok(vec![(HouseholdEvent::FlagExplained(explained), facts)])
        }
        HouseholdCommand::AcceptFlag(f) => {
            let (rule, sequence) = flagged(state, &f.rule, f.sequence)?;
            match state.flag_explanations.get(&(rule.clone(), sequence)) {
                None => return Err(HouseholdError::FlagNotExplained { rule, sequence }),
                Some(e) if e.explained_by == ctx.actor.user_id => {
                    return Err(HouseholdError::OwnExplanation { rule, sequence })
                }
                Some(_) => {}
            }
            let accepted = FlagAccepted {
                rule,
                sequence,
                note: validate::optional("note", &f.note, limits::TEXT)?,
            };
            Ok(vec![(
                HouseholdEvent::FlagAccepted(accepted),
                Facts::default(),
            )])
        }
    }
}

/// The rule and event a flag command names: a known rule, an event of this household.
fn flagged(
    state: &HouseholdState,
    rule: &str,
    sequence: i64,
) -> Result<(String, i64), HouseholdError> {
    state.registered_on.ok_or(HouseholdError::NotRegistered)?;
    let rule = rule.trim();
    if !FLAG_RULES.contains(&rule) {
        return Err(HouseholdError::UnknownFlagRule {
            rule: rule.to_owned(),
        });
    }
    if !state.types.contains(sequence) {
        return Err(HouseholdError::NoFlaggedEvent { sequence });
    }
    Ok((rule.to_owned(), sequence))
}

fn one(event: HouseholdEvent, effective_on: NaiveDate) -> Vec<(HouseholdEvent, Facts)> {
    vec![(
        event,
        Facts {
            effective_on: Some(effective_on),
            ..Facts::default()
        },
    )]
}

/// The registration date of a household that can take new facts.
fn open(state: &HouseholdState) -> Result<NaiveDate, HouseholdError> {
    let registered_on = state.registered_on.ok_or(HouseholdError::NotRegistered)?;
    if state.closed {
        return Err(HouseholdError::Closed);
    }
    Ok(registered_on)
}

fn area_on(state: &HouseholdState, date: NaiveDate) -> Result<crate::area::Area, HouseholdError> {
    state.area_on(date).ok_or(HouseholdError::NotRegistered)
}

fn decide_category(
    state: &HouseholdState,
    standard: &Standard,
    decision: DecisionInput,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    let registered_on = open(state)?;
    let DecisionInput {
        category,
        decision_no,
        decided_on,
        reason,
    } = decision;
    validate::dated("decided_on", decided_on, ctx, registered_on)?;
    let decision_no = validate::required("decision_no", &decision_no, limits::CODE)?;
    validate::category_of(standard, category)?;
    let (survey_sequence, survey) = state.latest_survey_for(standard.id()).ok_or_else(|| {
        HouseholdError::NoSurveyForStandard {
            standard: standard.id().to_owned(),
        }
    })?;
    if decided_on < survey.survey_date {
        return Err(HouseholdError::DecisionBeforeSurvey {
            decided_on,
            survey_date: survey.survey_date,
        });
    }
    if let Some(status) = state.statuses.get(standard.id()) {
        if decided_on < status.last_decided_on {
            return Err(HouseholdError::DecisionOutOfOrder {
                decided_on,
                latest: status.last_decided_on,
            });
        }
    }
    let proposed = survey
        .proposed
        .get(standard.id())
        .map(|p| p.category)
        .ok_or_else(|| HouseholdError::NoSurveyForStandard {
            standard: standard.id().to_owned(),
        })?;
    let reason = validate::optional("reason", &reason, limits::TEXT)?;
    if category != proposed && reason.is_none() {
        return Err(HouseholdError::ReasonRequired {
            proposed,
            decided: category,
        });
    }
    let (open_complaints, sent_back_on) = review::decision_gate(state, reason.as_deref())?;
    let prior = state.prior(standard.id());
    let facts = Facts {
        effective_on: Some(decided_on),
        reason: reason.clone(),
        legal_basis: Some(standard.legal_basis().to_owned()),
        decision_no: Some(decision_no.clone()),
    };
    let mut events = vec![(
        HouseholdEvent::HouseholdClassified(HouseholdClassified {
            standard: standard.id().to_owned(),
            category,
            decision_no: decision_no.clone(),
            decided_on,
            reason,
            proposed,
            survey_sequence,
            previous: prior.category,
            open_complaints,
            sent_back_on,
        }),
        facts.clone(),
    )];
    let carried_over = match (prior.category, standard.supersedes()) {
        (None, Some(old)) => state.statuses.get(old).map(|s| CarriedOver {
            standard: old.to_owned(),
            category: s.category,
        }),
        _ => None,
    };
    let std_id = standard.id().to_owned();
    let lifecycle = derive(&prior, category).map(|movement| match movement {
        Movement::BecamePoor { from } => HouseholdEvent::BecamePoor(BecamePoor {
            standard: std_id,
            from,
            decided_on,
            decision_no,
            carried_over,
        }),
        Movement::BecameNearPoor => HouseholdEvent::BecameNearPoor(BecameNearPoor {
            standard: std_id,
            decided_on,
            decision_no,
            carried_over,
        }),
        Movement::ExitedPoverty { to } => HouseholdEvent::ExitedPoverty(ExitedPoverty {
            standard: std_id,
            to,
            decided_on,
            decision_no,
        }),
        Movement::ExitedNearPoverty { to } => {
            HouseholdEvent::ExitedNearPoverty(ExitedNearPoverty {
                standard: std_id,
                to,
                decided_on,
                decision_no,
            })
        }
        Movement::FellBackIntoPoverty { from, exited_on } => {
            HouseholdEvent::FellBackIntoPoverty(FellBack {
                standard: std_id,
                from,
                exited_on,
                decided_on,
                decision_no,
            })
        }
        Movement::FellBackIntoNearPoverty { from, exited_on } => {
            HouseholdEvent::FellBackIntoNearPoverty(FellBack {
                standard: std_id,
                from,
                exited_on,
                decided_on,
                decision_no,
            })
        }
    });
    if let Some(event) = lifecycle {
        events.push((event, facts));
    }
    Ok(events)
}

fn correct(
    state: &HouseholdState,
    corrects_sequence: i64,
    reason: &str,
    replacement: Option<ReplacementInput>,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    let registered_on = state.registered_on.ok_or(HouseholdError::NotRegistered)?;
    let reason = validate::required("reason", reason, limits::TEXT)?;
    let type_name = state
        .event_type(corrects_sequence)
        .ok_or(HouseholdError::NoSuchEvent {
            sequence: corrects_sequence,
        })?;
    let original_sequence = state.original_of(corrects_sequence);
    let (fact_type, fact_effective_on) =
        state
            .fact_at(original_sequence)
            .ok_or(HouseholdError::NotCorrectable {
                sequence: corrects_sequence,
                type_name,
            })?;
    let invalid = |e: HouseholdError| HouseholdError::InvalidReplacement(Box::new(e));
    let replacement = match replacement {
        None => {
            if fact_type == "household_registered" {
                return Err(HouseholdError::RegistrationCannotBeVoided);
            }
            None
        }
        Some(input) => {
            let content = match input {
                ReplacementInput::Registration { registration, unit } => {
                    Replacement::HouseholdRegistered(
                        validate::registration(&registration, registered_on, unit, ctx)
                            .map_err(invalid)?,
                    )
                }
                ReplacementInput::MembersChange(change) => Replacement::MembersChanged(
                    validate::members_change(&change, state, registered_on, ctx, false)
                        .map_err(invalid)?,
                ),
                ReplacementInput::Move { moved, unit } => Replacement::HouseholdMoved(
                    validate::moved(&moved, unit, registered_on, ctx).map_err(invalid)?,
                ),
                ReplacementInput::Closure(closure) => Replacement::HouseholdClosed(
                    validate::closed(&closure, registered_on, ctx).map_err(invalid)?,
                ),
                ReplacementInput::Survey { survey, standards } => {
                    let area = area_on(state, survey.survey_date)?;
                    Replacement::HouseholdSurveyed(
                        validate::survey(&survey, &standards, area, registered_on, ctx)
                            .map_err(invalid)?,
                    )
                }
                ReplacementInput::Support(support) => Replacement::SupportReceived(
                    validate::support(&support, state, registered_on, ctx).map_err(invalid)?,
                ),
            };
            if content.type_name() != fact_type {
                return Err(HouseholdError::ReplacementMismatch {
                    sequence: original_sequence,
                    expected: fact_type,
                    found: content.type_name(),
                });
            }
            Some(content)
        }
    };
    let effective_on = match &replacement {
        Some(Replacement::HouseholdRegistered(_)) => registered_on,
        Some(r) => r.own_date().unwrap_or(fact_effective_on),
        None => fact_effective_on,
    };
    Ok(vec![(
        HouseholdEvent::EventCorrected(EventCorrected {
            corrects_sequence,
            original_sequence,
            corrects_type: fact_type.to_owned(),
            reason: reason.clone(),
            replacement,
        }),
        Facts {
            effective_on: Some(effective_on),
            reason: Some(reason),
            ..Facts::default()
        },
    )])
}
