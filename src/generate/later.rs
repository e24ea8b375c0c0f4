//! The reviews after the reform of 1 July 2025 (new Tây Ninh only): the 2025 review under
//! `vn-2022-2025` (survey September–November 2025) and the 2026 review under `vn-2026-2030`,
//! held by the new communes, each row naming the household's new commune so that importing
//! the file records the reform's move of the household.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use ansinh_events::household::Member;
use ansinh_events::policy_params::PolicyParameters;
use ansinh_events::standards::{Standard, Standards};

use super::province::Reform;
use super::supports::{self, CommuneYear, LAST_DAY_MERGED};
use super::trajectory::{Trajectory, YEARS};
use super::{
    commune_year, date, review, standard_through, Commune, Fixed, GenerateError,
    GeneratedHousehold, Review,
};

/// The review years after [`YEARS`], each with its first survey day (plus up to 45 days for a
/// commune to start), last survey day, and first decision day (plus up to `decision_days`).
/// The 2026 review is held early enough that its history ends on [`LAST_DAY_MERGED`].
struct LaterYear {
    year: i32,
    survey_from: NaiveDate,
    start_days: i64,
    last_survey_day: NaiveDate,
    decided_from: NaiveDate,
    decision_days: i64,
}

fn later_years() -> [LaterYear; 2] {
    [
        LaterYear {
            year: 2025,
            survey_from: date(2025, 9, 1),
            start_days: 45,
            last_survey_day: date(2025, 11, 14),
            decided_from: date(2025, 11, 15),
            decision_days: 29,
        },
        LaterYear {
            year: 2026,
            survey_from: date(2026, 9, 1),
            start_days: 20,
            last_survey_day: date(2026, 10, 14),
            decided_from: date(2026, 10, 15),
            decision_days: 14,
        },
    ]
}

/// What a new commune decided in each later review.
struct NewCommuneYears {
    survey_from: [NaiveDate; 2],
    years: [CommuneYear; 2],
}

/// Everything the later reviews of every household share.
pub struct Later {
    reform: Reform,
    standards: [Standard; 2],
    /// By new commune code.
    communes: BTreeMap<String, NewCommuneYears>,
}

impl Later {
    /// The later reviews of every new commune of `reform`, drawn in code order.
    pub(super) fn new(
        rng: &mut ChaCha8Rng,
        reform: Reform,
        standards: &Standards,
    ) -> Result<Later, GenerateError> {
        let plan = later_years();
        let [y2025, y2026] = &plan;
        let standards = [
            standard_through(standards, y2025.survey_from, date(2025, 12, 31))?,
            standard_through(standards, y2026.survey_from, last_day())?,
        ];
        let mut codes: Vec<&String> = reform.new_communes.keys().collect();
        codes.sort();
        let mut communes = BTreeMap::new();
        for code in codes {
            let survey_from = plan
                .each_ref()
                .map(|y| y.survey_from + Duration::days(rng.gen_range(0..=y.start_days)));
            let years = plan.each_ref().map(|y| {
                let decided_on =
                    y.decided_from + Duration::days(rng.gen_range(0..=y.decision_days));
                commune_year(rng, decided_on)
            });
            communes.insert(code.clone(), NewCommuneYears { survey_from, years });
        }
        Ok(Later {
            reform,
            standards,
            communes,
        })
    }

    /// The later review rows and supports of a household of `old` (its commune until the
    /// reform) living in hamlet number `hamlet`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn household(
        &self,
        rng: &mut ChaCha8Rng,
        fixed: &Fixed<'_>,
        old: &Commune,
        hamlet: usize,
        trajectory: &Trajectory,
        members: &[Member],
        parameters: &PolicyParameters,
        loan_counter: &mut u64,
    ) -> Result<GeneratedHousehold, GenerateError> {
        let unit = self.reform.new_commune(&old.code, hamlet).ok_or_else(|| {
            GenerateError::Inconsistent(format!("no new commune for {}", old.code))
        })?;
        let setup = self.communes.get(&unit.code).ok_or_else(|| {
            GenerateError::Inconsistent(format!("no reviews for the new commune {}", unit.code))
        })?;
        let plan = later_years();
        let decided = trajectory.later(rng);
        let mut out = GeneratedHousehold::default();
        let mut loan_demands = [false; 2];
        let mut categories = decided;
        for (i, year) in plan.iter().enumerate() {
            let review_plan = Review {
                year: year.year,
                unit,
                standard: &self.standards[i],
                survey_from: setup.survey_from[i],
                last_survey_day: year.last_survey_day,
                decided: decided[i],
                commune_year: &setup.years[i],
            };
            let (row, loan_demand) = review(rng, fixed, &review_plan)?;
            loan_demands[i] = loan_demand;
            categories[i] = super::fit(&self.standards[i], decided[i]);
            out.reviews.push(row);
        }
        let last_of_old = trajectory.decided[YEARS.len() - 1];
        let years: Vec<supports::Year<'_>> = (0..plan.len())
            .map(|i| supports::Year {
                index: YEARS.len() + i,
                category: categories[i],
                // 2025 follows 2024 under the same standard; 2026 starts a new one.
                previous: (i == 0).then_some(last_of_old),
                loan_demand: loan_demands[i],
                commune: &setup.years[i],
                next_decided_on: setup.years.get(i + 1).map(|y| y.decided_on),
            })
            .collect();
        let h = supports::Household {
            key: fixed.key,
            disbursed_by: &unit.disbursed_by,
            members,
        };
        out.supports = supports::supports(rng, &h, &years, parameters, loan_counter, last_day());
        Ok(out)
    }
}

/// The last day of the merged province's histories.
pub fn last_day() -> NaiveDate {
    let (y, m, d) = LAST_DAY_MERGED;
    date(y, m, d)
}
