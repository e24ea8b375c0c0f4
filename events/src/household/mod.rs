//! The household aggregate: one stream of events per household, decided by pure rules.
//!
//! * `event` — the catalogue (contract names), `command` — what users ask for,
//! * `decide` — the rules, `validate` — checks shared by commands and corrections,
//! * `lifecycle` — which movement a decision implies (per standard; see its docs for how a
//!   change of standard is treated), `state` — what the rules know, folded from events,
//! * `error` — one named error per rule.

mod command;
mod compact;
mod decide;
mod error;
mod event;
pub mod lifecycle;
mod review;
mod state;
mod validate;

pub use command::{
    ComplaintInput, DecisionInput, HouseholdCommand, MeetingInput, ReplacementInput,
    ResolutionInput, SurveyInput, UnitValidity,
};
pub use compact::{SupportFact, SupportFacts, TypeRuns};
pub use decide::decide;
pub use error::HouseholdError;
pub use event::*;
pub use state::{Complaint, Fact, HouseholdState, SentBack, StandardStatus};
pub use validate::limits;
pub use validate::{category_of, placement};

use crate::chain::{envelope_unhashed, seal};
use crate::envelope::{CommandContext, Recorded};

/// Marker type binding the household rules to esrs.
pub struct Household;

/// A command plus what the application knows about the request.
#[derive(Debug, Clone)]
pub struct Command {
    pub ctx: CommandContext,
    pub action: HouseholdCommand,
}

impl Household {
    /// Decides like `handle_command` but leaves the events unhashed: for validating a whole
    /// import before writing, where hashing would be thrown away.
    pub fn check_command(
        state: &HouseholdState,
        command: Command,
    ) -> Result<Vec<Recorded<HouseholdEvent>>, HouseholdError> {
        let events = decide(state, command.action, &command.ctx)?;
        envelope_unhashed(&state.chain, &command.ctx, events).map_err(HouseholdError::from)
    }
}

impl esrs::Aggregate for Household {
    /// Gives the event table its name: `household_events`.
    const NAME: &'static str = "household";
    type State = HouseholdState;
    type Command = Command;
    type Event = Recorded<HouseholdEvent>;
    type Error = HouseholdError;

    fn handle_command(
        state: &HouseholdState,
        command: Command,
    ) -> Result<Vec<Self::Event>, HouseholdError> {
        let events = decide(state, command.action, &command.ctx)?;
        seal(&state.chain, &command.ctx, events).map_err(HouseholdError::from)
    }

    fn apply_event(state: HouseholdState, event: Self::Event) -> HouseholdState {
        state.apply(&event)
    }
}
