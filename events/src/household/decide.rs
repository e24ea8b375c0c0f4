//! The rules: given the state and a command, which events follow (or why none may).

use chrono::NaiveDate;

use crate::envelope::{CommandContext, Facts};

use super::error::HouseholdError;
use super::event::*;
use super::state::HouseholdState;

/// What a user asks to record about a household.
#[derive(Debug, Clone, PartialEq)]
pub enum HouseholdCommand {
    Register {
        registration: HouseholdRegistered,
        effective_on: NaiveDate,
    },
    RecordSupport(SupportReceived),
}

pub fn decide(
    state: &HouseholdState,
    command: HouseholdCommand,
    ctx: &CommandContext,
) -> Result<Vec<(HouseholdEvent, Facts)>, HouseholdError> {
    match command {
        HouseholdCommand::Register {
            registration,
            effective_on,
        } => {
            if state.registration.is_some() {
                return Err(HouseholdError::AlreadyRegistered);
            }
            if registration.head_name.trim().is_empty() {
                return Err(HouseholdError::Empty { field: "head_name" });
            }
            not_future("effective_on", effective_on, ctx)?;
            Ok(vec![(
                HouseholdEvent::HouseholdRegistered(registration),
                Facts {
                    effective_on: Some(effective_on),
                    ..Facts::default()
                },
            )])
        }
        HouseholdCommand::RecordSupport(support) => {
            let registered_on = open(state)?;
            not_future("disbursed_on", support.disbursed_on, ctx)?;
            if support.disbursed_on < registered_on {
                return Err(HouseholdError::BeforeRegistration {
                    field: "disbursed_on",
                    date: support.disbursed_on,
                    registered_on,
                });
            }
            let effective_on = support.disbursed_on;
            Ok(vec![(
                HouseholdEvent::SupportReceived(support),
                Facts {
                    effective_on: Some(effective_on),
                    ..Facts::default()
                },
            )])
        }
    }
}

/// The registration date of a household that can take new facts.
fn open(state: &HouseholdState) -> Result<NaiveDate, HouseholdError> {
    let registered_on = state.registered_on.ok_or(HouseholdError::NotRegistered)?;
    if state.closed {
        return Err(HouseholdError::Closed);
    }
    Ok(registered_on)
}

fn not_future(
    field: &'static str,
    date: NaiveDate,
    ctx: &CommandContext,
) -> Result<(), HouseholdError> {
    if date > ctx.today {
        Err(HouseholdError::FutureDate { field, date })
    } else {
        Ok(())
    }
}
