//! What the rules need to know about a household, folded from its events.

use crate::chain::ChainHead;
use crate::envelope::Recorded;

use super::event::{HouseholdEvent, HouseholdRegistered};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HouseholdState {
    /// Where this household's hash chain stands; new events link onto it.
    pub chain: ChainHead,
    pub registration: Option<HouseholdRegistered>,
    pub registered_on: Option<chrono::NaiveDate>,
    pub closed: bool,
}

impl HouseholdState {
    pub fn apply(mut self, recorded: &Recorded<HouseholdEvent>) -> Self {
        self.chain.advance(&recorded.meta);
        match &recorded.event {
            HouseholdEvent::HouseholdRegistered(r) => {
                self.registration = Some(r.clone());
                self.registered_on = Some(recorded.meta.effective_on);
            }
            HouseholdEvent::SupportReceived(_) => {}
        }
        self
    }

    pub fn version(&self) -> i64 {
        self.chain.sequence
    }
}
