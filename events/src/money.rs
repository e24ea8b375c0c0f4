//! Money is whole Vietnamese đồng in an integer, never a float.

use serde::{Deserialize, Serialize};

/// An amount in whole VND, never negative.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Vnd(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an amount in VND must be a whole number of at least 0, got {0}")]
pub struct NegativeAmount(pub i64);

impl Vnd {
    pub const ZERO: Vnd = Vnd(0);

    pub const fn new(amount: i64) -> Result<Vnd, NegativeAmount> {
        if amount < 0 {
            Err(NegativeAmount(amount))
        } else {
            Ok(Vnd(amount))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Vnd {
    type Error = NegativeAmount;
    fn try_from(amount: i64) -> Result<Self, Self::Error> {
        Vnd::new(amount)
    }
}

impl From<Vnd> for i64 {
    fn from(amount: Vnd) -> i64 {
        amount.0
    }
}

impl std::fmt::Display for Vnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} VND", self.0)
    }
}
