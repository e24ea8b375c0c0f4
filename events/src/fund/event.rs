//! The fund event catalogue. Type names and field names are part of the outside contract.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::household::FundingSource;
use crate::money::Vnd;

/// Every fact recorded about a fund, stored as `{"type", "data"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum FundEvent {
    FundOpened(FundOpened),
    MoneyReceived(MoneyReceived),
    AllocatedToUnit(AllocatedToUnit),
    AllocationTransferred(AllocationTransferred),
    FundClosed(FundClosed),
}

impl FundEvent {
    /// Every contract name, in catalogue order.
    pub const TYPE_NAMES: [&'static str; 5] = [
        "fund_opened",
        "money_received",
        "allocated_to_unit",
        "allocation_transferred",
        "fund_closed",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            FundEvent::FundOpened(_) => "fund_opened",
            FundEvent::MoneyReceived(_) => "money_received",
            FundEvent::AllocatedToUnit(_) => "allocated_to_unit",
            FundEvent::AllocationTransferred(_) => "allocation_transferred",
            FundEvent::FundClosed(_) => "fund_closed",
        }
    }

    /// The day the fact took effect.
    pub fn effective_on(&self) -> NaiveDate {
        match self {
            FundEvent::FundOpened(e) => e.valid_from,
            FundEvent::MoneyReceived(e) => e.received_on,
            FundEvent::AllocatedToUnit(e) => e.decided_on,
            FundEvent::AllocationTransferred(e) => e.decided_on,
            FundEvent::FundClosed(e) => e.closed_on,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundOpened {
    pub name: String,
    pub funding_source: FundingSource,
    /// The unit whose officers manage the fund.
    pub managing_unit: String,
    pub legal_basis: String,
    pub valid_from: NaiveDate,
    /// Open-ended when `None`.
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyReceived {
    pub amount_vnd: Vnd,
    pub received_on: NaiveDate,
    /// The decision or voucher the money came with.
    pub decision_no: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocatedToUnit {
    pub unit_code: String,
    pub amount_vnd: Vnd,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationTransferred {
    pub from_unit: String,
    pub to_unit: String,
    pub amount_vnd: Vnd,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundClosed {
    pub closed_on: NaiveDate,
    pub decision_no: String,
    pub reason: String,
}
