//! The fund aggregate: money a unit manages for the programme (a budget line or a mobilised
//! fund such as the Fund for the Poor, Quỹ Vì người nghèo), what it received, what it allocated
//! to which units, and its closure. Same envelope and hash chain as households (the envelope's
//! `household_id` carries the fund's id: it is the aggregate id of the chain).
//!
//! What the supports drew from an allocation is not the fund's own history: the store gives it
//! to a transfer as a fact from outside ([`FundCommand::Transfer`]'s `drawn_from`), and the
//! database checks it again in the transfer's own transaction.

mod decide;
mod error;
mod event;
mod state;

pub use decide::{decide, FundCommand};
pub use error::FundError;
pub use event::{
    AllocatedToUnit, AllocationTransferred, FundClosed, FundEvent, FundOpened, MoneyReceived,
};
pub use state::FundState;
