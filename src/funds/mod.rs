//! Funds: their event log (`fund_events`) and read models (`funds`, `fund_allocations`),
//! the check a support drawing on a fund passes, and the reconciliation of a fund.

pub mod reconcile;
pub mod store;

pub use store::{FundStore, FundStoreError};
