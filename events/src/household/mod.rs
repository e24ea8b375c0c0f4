//! The household aggregate: one stream of events per household, decided by pure rules.

mod decide;
mod error;
mod event;
mod state;

pub use decide::{decide, HouseholdCommand};
pub use error::HouseholdError;
pub use event::*;
pub use state::HouseholdState;

use crate::chain::seal;
use crate::envelope::{CommandContext, Recorded};

/// Marker type binding the household rules to esrs.
pub struct Household;

/// A command plus what the application knows about the request.
#[derive(Debug, Clone)]
pub struct Command {
    pub ctx: CommandContext,
    pub action: HouseholdCommand,
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
