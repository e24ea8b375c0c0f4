//! Where a review row places its household. Every row names the household's commune on its
//! survey date: a row naming a commune that no longer exists on that day is refused with what
//! replaced it, and a row after a reform of the units names the new commune, so the import
//! records the reform's move of the household (once, before that row's survey) instead of
//! ignoring the row's `unit_code`. Any other change of commune needs a move recorded first.

use std::collections::HashMap;

use ansinh_events::household::{placement, HouseholdError, HouseholdMoved, HouseholdState};
use ansinh_events::household::{Replacement, UnitValidity};
use ansinh_projections::units::{self, Unit};
use chrono::NaiveDate;
use sqlx::PgPool;

use super::commands::{parse_area, parse_date, RowError, REVIEWS};
use super::format::ReviewRow;

/// Units by code, for the validity facts commands carry, and what replaced ended ones.
pub(super) struct UnitIndex {
    by_code: HashMap<String, Vec<Unit>>,
    successors: units::succession::Successors,
}

/// The move a reform made of a household, as a row after the reform tells it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ReformMove {
    pub moved: HouseholdMoved,
    /// The new commune's record on the day of the move.
    pub unit: Option<UnitValidity>,
    /// The act that made the new commune (the envelope's `legal_basis`).
    pub legal_basis: String,
}

impl UnitIndex {
    pub(super) async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let all: Vec<Unit> = sqlx::query_as(
            "SELECT code, name, level, parent_code, valid_from, valid_to FROM admin_units ORDER BY valid_from",
        )
        .fetch_all(pool)
        .await?;
        let successors = units::successors(pool).await?;
        let mut by_code: HashMap<String, Vec<Unit>> = HashMap::new();
        for u in all {
            by_code.entry(u.code.clone()).or_default().push(u);
        }
        Ok(UnitIndex {
            by_code,
            successors,
        })
    }

    /// The record the placement rule judges (see [`units::placement_record`]).
    pub(super) fn validity(&self, code: &str, day: NaiveDate) -> Option<UnitValidity> {
        units::placement_record(self.by_code.get(code)?, day)
    }

    /// The unit `code` named on `day` (codes are reused: the day says which).
    fn record_on(&self, code: &str, day: NaiveDate) -> Option<&Unit> {
        self.by_code.get(code)?.iter().find(|u| u.valid_on(day))
    }

    /// The aggregate's refusal of a row; one of a commune a reform ended names its successors.
    pub(super) fn refusal(
        &self,
        sheet: &'static str,
        line: u64,
        error: &HouseholdError,
    ) -> RowError {
        let mut refused = RowError::refused(sheet, line, error);
        if let HouseholdError::UnitNotValid {
            unit_code, date, ..
        } = error
        {
            if let Some(why) = self.successors.explain(unit_code, *date) {
                refused.problem = format!("{}; {why}", refused.problem);
            }
        }
        refused
    }

    /// What the review `row` (at `line`) says of the household's place on its survey date,
    /// given what `state` holds so far: nothing to record (`None`: the household is there, or
    /// the row is refused elsewhere), the reform's move into the row's commune, or a refusal
    /// on `unit_code`.
    pub(super) fn row_place(
        &self,
        state: &HouseholdState,
        row: &ReviewRow,
        line: u64,
    ) -> Result<Option<ReformMove>, RowError> {
        let code = row.unit_code.trim();
        // An empty cell or a bad date is the command builder's to refuse (or, for a later
        // row, says nothing about the place).
        let (false, Some(day)) = (code.is_empty(), parse_date(&row.survey_date)) else {
            return Ok(None);
        };
        placement(code, self.validity(code, day), day)
            .map_err(|error| self.refusal(REVIEWS, line, &error))?;
        // Not registered: the aggregate refuses the survey.
        let Some((current, placed_on)) = placement_on(state, day) else {
            return Ok(None);
        };
        let record = self.record_on(current, placed_on);
        let still_there = record.is_none_or(|u| u.valid_on(day));
        if still_there && current == code {
            return Ok(None);
        }
        if !still_there {
            let succession = self.successors.of(current).into_iter().find(|s| {
                s.new_code == code && placed_on < s.effective_on && s.effective_on <= day
            });
            if let Some(s) = succession {
                let area = parse_area(&row.area).ok_or_else(|| RowError {
                    sheet: REVIEWS,
                    line,
                    field: "area",
                    problem: format!("{:?} is not rural or urban", row.area),
                })?;
                return Ok(Some(ReformMove {
                    moved: HouseholdMoved {
                        moved_on: s.effective_on,
                        unit_code: code.to_owned(),
                        hamlet: row.hamlet.trim().to_owned(),
                        area,
                    },
                    unit: self.validity(code, s.effective_on),
                    legal_basis: s.legal_basis.clone(),
                }));
            }
        }
        let name = record.map(|u| format!(" {}", u.name)).unwrap_or_default();
        let why = if still_there {
            String::new()
        } else {
            self.successors
                .explain(current, day)
                .map(|why| format!(" ({why})"))
                .unwrap_or_default()
        };
        Err(RowError {
            sheet: REVIEWS,
            line,
            field: "unit_code",
            problem: format!(
                "the household is in {current}{name} on {day}{why}, not in {code}; record a move first"
            ),
        })
    }
}

/// The household's commune on `day` and the day it was placed there: its registration, then
/// the latest move on or before `day` (after corrections).
fn placement_on(state: &HouseholdState, day: NaiveDate) -> Option<(&str, NaiveDate)> {
    let mut place: Option<(&str, NaiveDate)> = None;
    for fact in state.facts.values() {
        match &fact.current {
            Some(Replacement::HouseholdRegistered(r)) => {
                place = Some((r.unit_code.as_str(), fact.effective_on));
            }
            Some(Replacement::HouseholdMoved(m))
                if m.moved_on <= day && place.is_none_or(|(_, on)| on <= m.moved_on) =>
            {
                place = Some((m.unit_code.as_str(), m.moved_on));
            }
            _ => {}
        }
    }
    place
}
