//! Why a fund command was refused, one named error per rule, each naming its field.

use chrono::NaiveDate;

use crate::chain::ChainError;

#[derive(Debug, thiserror::Error)]
pub enum FundError {
    #[error("the fund is already opened")]
    AlreadyOpened,
    #[error("the fund was not found")]
    NotOpened,
    #[error("the fund was closed on {closed_on}")]
    Closed { closed_on: NaiveDate },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {length} characters long; at most {max} are accepted")]
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error("{field} must be more than 0 VND")]
    NotPositive { field: &'static str },
    #[error("{field} {date} is in the future")]
    FutureDate {
        field: &'static str,
        date: NaiveDate,
    },
    #[error("{field} {date} is outside the fund's period ({from} to {})", .to.map(|d| d.to_string()).unwrap_or_else(|| "open-ended".into()))]
    OutsidePeriod {
        field: &'static str,
        date: NaiveDate,
        from: NaiveDate,
        to: Option<NaiveDate>,
    },
    #[error("valid_to {valid_to} is before valid_from {valid_from}")]
    PeriodReversed {
        valid_from: NaiveDate,
        valid_to: NaiveDate,
    },
    #[error(
        "amount_vnd {amount} VND is more than the {available} VND received and not yet allocated"
    )]
    AllocationAboveReceived { amount: i64, available: i64 },
    #[error("amount_vnd {amount} VND is more than the {available} VND left of the allocation to {unit_code}")]
    TransferAboveBalance {
        unit_code: String,
        amount: i64,
        available: i64,
    },
    #[error("to_unit must differ from from_unit")]
    SameUnit,
    #[error("{field}: the total would exceed the largest amount ansinh can hold")]
    TooMuch { field: &'static str },
    #[error("the event could not be sealed: {0}")]
    Chain(#[from] ChainError),
}

impl FundError {
    /// The request field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            FundError::Empty { field }
            | FundError::TooLong { field, .. }
            | FundError::NotPositive { field }
            | FundError::FutureDate { field, .. }
            | FundError::OutsidePeriod { field, .. }
            | FundError::TooMuch { field } => Some(field),
            FundError::PeriodReversed { .. } => Some("valid_to"),
            FundError::AllocationAboveReceived { .. } | FundError::TransferAboveBalance { .. } => {
                Some("amount_vnd")
            }
            FundError::SameUnit => Some("to_unit"),
            FundError::AlreadyOpened
            | FundError::NotOpened
            | FundError::Closed { .. }
            | FundError::Chain(_) => None,
        }
    }

    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            FundError::AlreadyOpened => "fund_already_opened",
            FundError::NotOpened => "fund_not_found",
            FundError::Closed { .. } => "fund_closed",
            FundError::Empty { .. } => "required",
            FundError::TooLong { .. } => "too_long",
            FundError::NotPositive { .. } => "not_positive",
            FundError::FutureDate { .. } => "future_date",
            FundError::OutsidePeriod { .. } => "outside_fund_period",
            FundError::PeriodReversed { .. } => "period_reversed",
            FundError::AllocationAboveReceived { .. } => "allocation_above_received",
            FundError::TransferAboveBalance { .. } => "transfer_above_balance",
            FundError::SameUnit => "same_unit",
            FundError::TooMuch { .. } => "amount_too_large",
            FundError::Chain(_) => "internal",
        }
    }
}
