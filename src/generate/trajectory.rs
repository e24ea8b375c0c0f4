//! The latent history of a household: the category the commune chair recognises each year,
//! drawn first, and then a survey (income and deprivations) whose proposal under the standard
//! in force — computed by the real [`Standard::classify`] — is the intended category.

use chrono::NaiveDate;
use rand::Rng;

use ansinh_events::standards::{Category, Rule, Standard};
use ansinh_events::{Area, Vnd};

use super::GenerateError;

/// Years of review: 2021 under `vn-2016-2020`, 2022–2024 under `vn-2022-2025`.
pub const YEARS: [i32; 4] = [2021, 2022, 2023, 2024];

/// What shapes a household's chances.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub ethnic_minority: bool,
    pub merit_family: bool,
}

/// The categories decided each year (index as [`YEARS`]) and whether the household has no
/// working capacity.
#[derive(Debug, Clone)]
pub struct Trajectory {
    pub decided: [Category; 4],
    pub no_working_capacity: bool,
}

/// Shares of households poor, near-poor and middle-income in the 2022 baseline under
/// `vn-2022-2025`, for one old province.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub poor: f64,
    pub near_poor: f64,
    pub middle: f64,
}

/// The shares of every old province, in one place.
///
/// Old Tây Ninh (72): 0.64% poor, 1.17% near-poor at the 2022 baseline (the figures the
/// generator has used since it was written; middle-income ~4.5% is *not confirmed*).
pub const BASELINE_TAY_NINH_72: Baseline = Baseline {
    poor: 0.0062,
    near_poor: 0.0114,
    middle: 0.045,
};

/// Old Long An (80 until 2025-06-30): *not confirmed* — no source for Long An's 2022 baseline
/// is at hand; these are plausible shares close to old Tây Ninh's (a low-poverty province of
/// the south-east), to be replaced by the province's published baseline.
pub const BASELINE_LONG_AN_80: Baseline = Baseline {
    poor: 0.0055,
    near_poor: 0.0105,
    middle: 0.04,
};

fn draw(rng: &mut impl Rng, p: [f64; 4]) -> Category {
    let total: f64 = p.iter().sum();
    let mut x = rng.gen::<f64>() * total;
    for (category, w) in Category::ALL.into_iter().zip(p) {
        if x < w {
            return category;
        }
        x -= w;
    }
    Category::NotPoor
}

/// Probabilities of [poor, near-poor, middle-income, not poor] next year under the same
/// standard. Households that exited before fall back more often (tái nghèo).
fn next_year(
    current: Category,
    exited_poverty: bool,
    exited_near_poverty: bool,
    no_working_capacity: bool,
) -> [f64; 4] {
    match current {
        Category::Poor if no_working_capacity => [0.85, 0.12, 0.03, 0.0],
        Category::Poor => [0.50, 0.30, 0.13, 0.07],
        Category::NearPoor if exited_poverty => [0.10, 0.58, 0.22, 0.10],
        Category::NearPoor => [0.04, 0.58, 0.26, 0.12],
        Category::MiddleIncome => {
            let poor = if exited_poverty { 0.05 } else { 0.003 };
            let near = if exited_poverty || exited_near_poverty {
                0.06
            } else {
                0.02
            };
            [poor, near, 0.68, 1.0 - poor - near - 0.68]
        }
        Category::NotPoor => {
            let poor = if exited_poverty { 0.03 } else { 0.0004 };
            let near = if exited_poverty || exited_near_poverty {
                0.04
            } else {
                0.0025
            };
            [poor, near, 0.015, 1.0 - poor - near - 0.015]
        }
    }
}

/// The 2021 category under the old standard, given the 2022 baseline under the new one (the
/// old lines are far lower: most households poor in 2022 were near-poor or above in 2021).
fn year_2021_given_2022(baseline: Category) -> [f64; 4] {
    match baseline {
        Category::Poor => [0.25, 0.35, 0.28, 0.12],
        Category::NearPoor => [0.03, 0.25, 0.47, 0.25],
        Category::MiddleIncome => [0.002, 0.03, 0.25, 0.718],
        Category::NotPoor => [0.0002, 0.001, 0.01, 0.9888],
    }
}

impl Trajectory {
    pub fn draw(rng: &mut impl Rng, profile: Profile, shares: &Baseline) -> Trajectory {
        let (mut poor, mut near) = (shares.poor, shares.near_poor);
        if profile.ethnic_minority {
            poor *= 3.0;
            near *= 2.0;
        }
        if profile.merit_family {
            poor *= 0.3;
            near *= 0.5;
        }
        let middle = shares.middle;
        let baseline = draw(rng, [poor, near, middle, 1.0 - poor - near - middle]);
        let no_working_capacity = rng.gen_bool(match baseline {
            Category::Poor => 0.15,
            Category::NearPoor => 0.05,
            _ => 0.004,
        });
        let y2021 = draw(rng, year_2021_given_2022(baseline));
        let mut decided = [y2021, baseline, baseline, baseline];
        let (mut exited_poverty, mut exited_near) = (false, false);
        for i in 2..decided.len() {
            let previous = decided[i - 1];
            let next = draw(
                rng,
                next_year(previous, exited_poverty, exited_near, no_working_capacity),
            );
            exited_poverty |= previous == Category::Poor && next > Category::Poor;
            exited_near |= previous == Category::NearPoor && next > Category::NearPoor;
            decided[i] = next;
        }
        Trajectory {
            decided,
            no_working_capacity,
        }
    }

    /// The categories of the two reviews after [`YEARS`]: 2025 (`vn-2022-2025`, one more
    /// year) and 2026 (`vn-2026-2030`, whose 2026 income lines are those of 2025, so the
    /// same yearly change). Drawn after everything else, so the first four years are the
    /// same as the old province's.
    pub fn later(&self, rng: &mut impl Rng) -> [Category; 2] {
        let (mut exited_poverty, mut exited_near) = (false, false);
        for pair in self.decided[1..].windows(2) {
            exited_poverty |= pair[0] == Category::Poor && pair[1] > Category::Poor;
            exited_near |= pair[0] == Category::NearPoor && pair[1] > Category::NearPoor;
        }
        let mut previous = self.decided[YEARS.len() - 1];
        let mut out = [previous; 2];
        for slot in &mut out {
            let next = draw(
                rng,
                next_year(
                    previous,
                    exited_poverty,
                    exited_near,
                    self.no_working_capacity,
                ),
            );
            exited_poverty |= previous == Category::Poor && next > Category::Poor;
            exited_near |= previous == Category::NearPoor && next > Category::NearPoor;
            *slot = next;
            previous = next;
        }
        out
    }
}

/// How likely an indicator is among a household's deprivations (unknown names: 1).
fn indicator_weight(name: &str) -> f64 {
    match name {
        "employment" => 2.0,
        "dependants" => 1.5,
        "nutrition" => 0.6,
        "health_insurance" => 0.5,
        "adult_education" => 1.5,
        "child_school_attendance" => 0.5,
        "housing_quality" => 2.0,
        "housing_area" => 1.5,
        "domestic_water" => 1.0,
        "hygienic_latrine" => 2.0,
        "telecom_use" => 0.7,
        "information_access" => 0.6,
        "health_service_access" => 0.8,
        _ => 1.0,
    }
}

/// A household's deprivations in the order they strike it (most likely first), so the same
/// problems persist from year to year and across standards.
pub fn deprivation_order(rng: &mut impl Rng, standards: &[Standard]) -> Vec<String> {
    let mut pool: Vec<(String, f64)> = Vec::new();
    for s in standards {
        for i in s.indicators() {
            if !pool.iter().any(|(n, _)| *n == i.name) {
                pool.push((i.name.clone(), indicator_weight(&i.name)));
            }
        }
    }
    let mut order = Vec::with_capacity(pool.len());
    while !pool.is_empty() {
        let total: f64 = pool.iter().map(|(_, w)| w).sum();
        let mut x = rng.gen::<f64>() * total;
        let mut chosen = pool.len() - 1;
        for (i, (_, w)) in pool.iter().enumerate() {
            if x < *w {
                chosen = i;
                break;
            }
            x -= w;
        }
        order.push(pool.swap_remove(chosen).0);
    }
    order
}

/// The fewest deprivations that make a household poor under `standard`'s rule.
fn poor_min_deprivations(standard: &Standard) -> usize {
    match standard.rule() {
        Rule::CountBased {
            poor_min_deprivations,
        } => poor_min_deprivations as usize,
        Rule::PointBased {
            points_per_deprivation,
            poor_min_score,
        } => poor_min_score.div_ceil(points_per_deprivation.max(1)) as usize,
    }
}

fn between(rng: &mut impl Rng, low: i64, high: i64) -> i64 {
    if high <= low {
        low
    } else {
        rng.gen_range(low..=high)
    }
}

/// A survey's income and deprivations that `standard` classifies as `target` in `area` on
/// `survey_date`: drawn in the band of the lines in force that day, then checked with
/// [`Standard::classify_on`] (redrawn if it disagrees).
pub fn survey_for(
    rng: &mut impl Rng,
    standard: &Standard,
    survey_date: NaiveDate,
    area: Area,
    target: Category,
    order: &[String],
) -> Result<(Vnd, Vec<String>), GenerateError> {
    let lines = standard.lines_on(survey_date, area);
    let poverty = lines.poverty_vnd.get();
    let near = lines.near_poverty_vnd.map(Vnd::get);
    let band_top = near.unwrap_or(poverty);
    let middle = lines.middle_income_vnd.map(Vnd::get).unwrap_or(band_top);
    let own: Vec<&String> = order.iter().filter(|n| standard.has_indicator(n)).collect();
    let max = own.len();
    let min_poor = poor_min_deprivations(standard).min(max);
    for _ in 0..50 {
        let (income, count) = match (target, near) {
            (Category::Poor, None) => (
                between(rng, poverty * 11 / 20, poverty),
                between(rng, min_poor as i64, (min_poor + 3).min(max) as i64),
            ),
            (Category::Poor, Some(near)) => {
                if rng.gen_bool(0.5) {
                    (
                        between(rng, poverty * 3 / 5, poverty),
                        between(rng, 1, (min_poor + 1).min(max) as i64),
                    )
                } else {
                    (
                        between(rng, poverty + 1, near),
                        between(rng, min_poor as i64, (min_poor + 2).min(max) as i64),
                    )
                }
            }
            (Category::NearPoor, None) => (
                between(rng, poverty * 3 / 5, poverty),
                between(rng, 0, min_poor as i64 - 1),
            ),
            (Category::NearPoor, Some(near)) => (
                between(rng, poverty + 1, near),
                between(rng, 0, min_poor as i64 - 1),
            ),
            (Category::MiddleIncome, _) => (between(rng, band_top + 1, middle), between(rng, 0, 2)),
            (Category::NotPoor, _) => {
                // A long tail above the middle-income line (only correctly rounded
                // operations, no libm, so every platform draws the same incomes).
                let u = rng.gen::<f64>();
                let above = 0.03 + 0.8 * u / (1.05 - u);
                let income = middle + (middle as f64 * above) as i64 + 1;
                let count = if rng.gen_bool(0.2) { 1 } else { 0 };
                (income, count)
            }
        };
        let count = usize::try_from(count).unwrap_or(0).min(max);
        let deprivations: Vec<String> = own.iter().take(count).map(|s| (*s).clone()).collect();
        let income = Vnd::new(income).map_err(|e| GenerateError::Inconsistent(e.to_string()))?;
        let classified = standard
            .classify_on(survey_date, area, income, &deprivations)
            .map_err(|e| GenerateError::Inconsistent(e.to_string()))?;
        if classified.category == target {
            return Ok((income, deprivations));
        }
    }
    Err(GenerateError::Inconsistent(format!(
        "no survey found that {} classifies as {target} in a {area} area",
        standard.id()
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ansinh_events::Standards;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn surveys_propose_the_intended_category_under_every_standard_and_line() {
        let standards = Standards::builtin().unwrap();
        let all: Vec<Standard> = standards.iter().cloned().collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for standard in &all {
            for area in Area::ALL {
                for target in Category::ALL {
                    if !standard.has_category(target) {
                        continue;
                    }
                    for day in standard.dated_lines().iter().map(|l| l.from) {
                        for _ in 0..200 {
                            let order = deprivation_order(&mut rng, &all);
                            let (income, deps) =
                                survey_for(&mut rng, standard, day, area, target, &order).unwrap();
                            let c = standard.classify_on(day, area, income, &deps).unwrap();
                            assert_eq!(c.category, target);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_baseline_lands_near_the_provincial_shares() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let profile = Profile {
            ethnic_minority: false,
            merit_family: false,
        };
        let n = 200_000;
        let mut counts = [[0usize; 4]; 4];
        for _ in 0..n {
            let t = Trajectory::draw(&mut rng, profile, &BASELINE_TAY_NINH_72);
            for (year, c) in t.decided.iter().enumerate() {
                counts[year][*c as usize] += 1;
            }
        }
        let share = |year: usize, c: Category| counts[year][c as usize] as f64 / n as f64;
        assert!((0.005..0.0075).contains(&share(1, Category::Poor)));
        assert!((0.010..0.013).contains(&share(1, Category::NearPoor)));
        assert!(share(3, Category::Poor) < share(1, Category::Poor));
    }
}
