//! A fund folded from its events.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::event::{FundEvent, FundOpened};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FundState {
    pub version: i64,
    pub opened: Option<FundOpened>,
    /// Whole VND received so far.
    pub received_vnd: i64,
    /// Net allocation per unit code (allocations plus transfers in, minus transfers out).
    pub allocations: BTreeMap<String, i64>,
    pub closed_on: Option<NaiveDate>,
}

impl FundState {
    /// The state after `event` (events come from the log, already decided: no rule here).
    pub fn apply(mut self, event: &FundEvent) -> Self {
        self.version += 1;
        match event {
            FundEvent::FundOpened(e) => self.opened = Some(e.clone()),
            FundEvent::MoneyReceived(e) => {
                self.received_vnd = self.received_vnd.saturating_add(e.amount_vnd.get());
            }
            FundEvent::AllocatedToUnit(e) => {
                let a = self.allocations.entry(e.unit_code.clone()).or_default();
                *a = a.saturating_add(e.amount_vnd.get());
            }
            FundEvent::AllocationTransferred(e) => {
                let amount = e.amount_vnd.get();
                let from = self.allocations.entry(e.from_unit.clone()).or_default();
                *from = from.saturating_sub(amount);
                let to = self.allocations.entry(e.to_unit.clone()).or_default();
                *to = to.saturating_add(amount);
            }
            FundEvent::FundClosed(e) => self.closed_on = Some(e.closed_on),
        }
        self
    }

    pub fn fold<'a>(events: impl IntoIterator<Item = &'a FundEvent>) -> Self {
        events
            .into_iter()
            .fold(FundState::default(), |s, e| s.apply(e))
    }

    /// Total allocated to units (net of transfers, which move money between units).
    pub fn allocated_vnd(&self) -> i64 {
        self.allocations
            .values()
            .fold(0i64, |sum, a| sum.saturating_add(*a))
    }

    /// Whether the fund may pay out on `day`: opened, within its period and not closed by then.
    pub fn open_on(&self, day: NaiveDate) -> bool {
        let Some(o) = &self.opened else {
            return false;
        };
        day >= o.valid_from
            && o.valid_to.is_none_or(|to| day <= to)
            && self.closed_on.is_none_or(|closed| day < closed)
    }
}
