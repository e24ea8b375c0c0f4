//! Why a command was refused, one named error per rule.

use chrono::NaiveDate;

use crate::chain::ChainError;

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    #[error("the household is already registered")]
    AlreadyRegistered,
    #[error("the household is not registered")]
    NotRegistered,
    #[error("the household is closed; only corrections may be recorded")]
    Closed,
    #[error("{field} {date} is in the future")]
    FutureDate {
        field: &'static str,
        date: NaiveDate,
    },
    #[error("{field} {date} is before the household was registered on {registered_on}")]
    BeforeRegistration {
        field: &'static str,
        date: NaiveDate,
        registered_on: NaiveDate,
    },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl HouseholdError {
    /// The request field the error is about, for 422 responses that name it.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            HouseholdError::FutureDate { field, .. }
            | HouseholdError::BeforeRegistration { field, .. }
            | HouseholdError::Empty { field } => Some(field),
            _ => None,
        }
    }
}
