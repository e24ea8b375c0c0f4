//! Which lifecycle event a decision implies, per standard.
//!
//! Lifecycle is tracked separately under each standard: a decision under `vn-2022-2025` is
//! compared only with the household's earlier decisions under `vn-2022-2025`. The first decision
//! under a standard therefore has no previous category and can only make a household
//! `became_poor` (from none) or `became_near_poor`; a change of standard never counts as an exit
//! or as re-poverty. When the standard supersedes another (its file says `supersedes`), the
//! `became_*` event carries the household's latest category under the old standard
//! (`carried_over`), so reports can count the baseline as carried over rather than newly poor.
//!
//! | previous (same standard)          | → poor                         | → near_poor                         | → middle_income / not_poor   |
//! |-----------------------------------|--------------------------------|-------------------------------------|------------------------------|
//! | none, middle_income or not_poor   | `became_poor` (from none), or `fell_back_into_poverty` if it had exited poverty | `became_near_poor`, or `fell_back_into_near_poverty` if it had exited near-poverty | — |
//! | poor                              | —                              | `exited_poverty` (to near_poor)     | `exited_poverty` (to …)      |
//! | near_poor                         | `became_poor` (from near_poor), or `fell_back_into_poverty` if it had exited poverty | — | `exited_near_poverty` (to …) |
//!
//! "Had exited" means a recognised exit under the same standard at any earlier time
//! (`exited_poverty` / `exited_near_poverty`), so poor → near-poor → poor is re-poverty.

use chrono::NaiveDate;

use crate::standards::Category;

use super::event::PoorFrom;

/// What the derivation needs to know about a household under one standard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prior {
    /// The latest decided category under the standard (`None` before the first decision).
    pub category: Option<Category>,
    /// When the latest recognised exit from poverty was decided, if ever.
    pub exited_poverty_on: Option<NaiveDate>,
    /// When the latest recognised exit from near-poverty was decided, if ever.
    pub exited_near_poverty_on: Option<NaiveDate>,
}

/// The lifecycle movement a decision implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    BecamePoor {
        from: PoorFrom,
    },
    BecameNearPoor,
    ExitedPoverty {
        to: Category,
    },
    ExitedNearPoverty {
        to: Category,
    },
    FellBackIntoPoverty {
        from: Category,
        exited_on: NaiveDate,
    },
    FellBackIntoNearPoverty {
        from: Category,
        exited_on: NaiveDate,
    },
}

/// The movement from `prior` to a decided `new` category, or `None` when the decision changes
/// nothing a report counts (same category, or moves between middle-income and not poor).
pub fn derive(prior: &Prior, new: Category) -> Option<Movement> {
    use Category::*;
    // `from` of a fell-back event: the category just before, where "no decision" counts as
    // not poor (only reachable by hand-built state; real histories exit before falling back).
    let before = prior.category.unwrap_or(NotPoor);
    match (prior.category, new) {
        (Some(Poor), Poor) | (Some(NearPoor), NearPoor) => None,
        (Some(Poor), to) => Some(Movement::ExitedPoverty { to }),
        (Some(NearPoor), MiddleIncome | NotPoor) => Some(Movement::ExitedNearPoverty { to: new }),
        (_, Poor) => Some(match prior.exited_poverty_on {
            Some(exited_on) => Movement::FellBackIntoPoverty {
                from: before,
                exited_on,
            },
            None => Movement::BecamePoor {
                from: if before == NearPoor {
                    PoorFrom::NearPoor
                } else {
                    PoorFrom::None
                },
            },
        }),
        (_, NearPoor) => Some(match prior.exited_near_poverty_on {
            Some(exited_on) => Movement::FellBackIntoNearPoverty {
                from: before,
                exited_on,
            },
            None => Movement::BecameNearPoor,
        }),
        (_, MiddleIncome | NotPoor) => None,
    }
}
