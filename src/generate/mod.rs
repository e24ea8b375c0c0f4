//! `ansinh generate`: a synthetic province in the import format (see
//! [`crate::import::format`]) on the shipped communes: new Tây Ninh ([`Province::TayNinh`]:
//! old Tây Ninh's and old Long An's communes, histories 2021–2026 across the reform of 1 July
//! 2025) or old Tây Ninh alone ([`Province::TayNinh72`], province 72, histories 2021–2024).
//!
//! How a household is made:
//! 1. its commune (households spread over the old communes, roughly by a size weight), hamlet,
//!    area (`urban` for phường and thị trấn, `rural` for xã), members with names, birth years and
//!    ID numbers, ethnic minority (~2%) and merit family (~2%);
//! 2. its *latent trajectory*: the category recognised each year — 2021 under `vn-2016-2020`,
//!    the 2022 baseline under `vn-2022-2025` (~0.6% poor, ~1.2% near-poor, ~4.5% middle-income),
//!    then yearly exits, relapses (tái nghèo) and newly poor ([`trajectory`]);
//! 3. each year's survey, drawn so that the real `Standard::classify` of the standard in force
//!    on the survey date proposes the intended category, and the chair's decision; about 1% of
//!    decisions differ from the proposal and carry a reason;
//! 4. supports that fit each year's category ([`supports`]);
//! 5. across the reform (new Tây Ninh only, [`later`]): the 2025 review (`vn-2022-2025`) and
//!    the 2026 review (`vn-2026-2030`) in the new commune the reform put the household in
//!    (whole: the mapping's; split: the household's hamlet picks one), so importing the file
//!    moves the household across the reform; drawn after everything else, so the households'
//!    first four years are drawn as old Tây Ninh's are.
//!
//! Registration in August 2021; each year a survey between 1 September and 14 November and
//! the commune's decision between 15 November and 14 December (2026: survey by 14 October,
//! decision by 29 October, the history ends on [`supports::LAST_DAY_MERGED`]). Everything is
//! drawn from ChaCha8 generators seeded from the seed, so the same province, households and
//! seed give the same files, byte for byte, on every platform.

pub mod complaints;
pub mod funds;
pub mod later;
pub mod names;
pub mod province;
pub mod supports;
pub mod trajectory;
pub mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ansinh_events::household::{Member, Sex, UnitValidity};
use ansinh_events::policy_params::PolicyParameters;
use ansinh_events::standards::{Category, Standard, Standards};
use ansinh_events::Area;
use ansinh_projections::units::{self, Unit};

use crate::import::format::{ReviewRow, SupportRow};

use later::Later;
use names::{Ethnicity, IdNumbers};
pub use province::Province;
use province::OLD_PROVINCES;
use supports::CommuneYear;
use trajectory::{Profile, Trajectory, YEARS};

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 2024;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the number of households must be at least 1")]
    NoHouseholds,
    #[error("{path}: the output must end in .csv or .xlsx")]
    UnknownFormat { path: String },
    #[error("the shipped administrative units cannot be read: {0}")]
    Units(String),
    #[error(transparent)]
    Standards(#[from] ansinh_events::standards::StandardError),
    #[error(transparent)]
    Parameters(#[from] ansinh_events::policy_params::PolicyParameterError),
    #[error("the generator is inconsistent with the standards: {0}")]
    Inconsistent(String),
    #[error("could not write {path}: {message}")]
    Write { path: String, message: String },
}

impl GenerateError {
    /// True for a mistake in the request (exit 2) rather than a failure (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            GenerateError::NoHouseholds | GenerateError::UnknownFormat { .. }
        )
    }
}

/// A generated province: review rows (four per household, six across the reform; grouped by
/// household, in survey order) and support rows (grouped by household, in date order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    pub households: usize,
    pub reviews: Vec<ReviewRow>,
    pub supports: Vec<SupportRow>,
}

/// A commune households are generated in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    pub code: String,
    pub name: String,
    pub area: Area,
    /// The unit that disburses supports: `UBND xã Thạnh Tân`, `UBND phường 3`.
    pub disbursed_by: String,
    /// Index into [`OLD_PROVINCES`] of the old province it lay in (0 for a new commune).
    pub old_province: usize,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn shipped_units() -> Result<Vec<Unit>, GenerateError> {
    units::shipped().map_err(|e| GenerateError::Units(e.to_string()))
}

/// The commune-level units of old Tây Ninh (under districts 703–712) valid from August 2021 to
/// the end of 2024, in code order.
pub fn shipped_communes() -> Result<Vec<Commune>, GenerateError> {
    province::communes_of(Province::TayNinh72)
}

/// A unit lookup on the shipped units, as the importer's is on the database: the record of
/// `code` valid on the date, else the code's latest record; `None` for an unknown code.
pub fn shipped_unit_validity(
) -> Result<impl Fn(&str, NaiveDate) -> Option<UnitValidity>, GenerateError> {
    let mut by_code: HashMap<String, Vec<Unit>> = HashMap::new();
    for u in shipped_units()? {
        by_code.entry(u.code.clone()).or_default().push(u);
    }
    for records in by_code.values_mut() {
        records.sort_by_key(|r| r.valid_from);
    }
    Ok(move |code: &str, on: NaiveDate| units::placement_record(by_code.get(code)?, on))
}

/// Everything decided once per commune.
struct CommuneSetup {
    commune: Commune,
    hamlets: Vec<String>,
    surveyors: Vec<String>,
    /// First survey day of each review year.
    survey_from: [NaiveDate; 4],
    years: [CommuneYear; 4],
}

fn commune_setup(rng: &mut ChaCha8Rng, commune: Commune) -> CommuneSetup {
    let urban = commune.area == Area::Urban;
    let hamlet_count: u32 = if urban {
        rng.gen_range(3..=8)
    } else {
        rng.gen_range(5..=12)
    };
    let hamlets = names::hamlets(rng, urban, hamlet_count as usize);
    let surveyors = (0..rng.gen_range(2u32..=4))
        .map(|_| names::person_name(rng))
        .collect();
    let survey_from = YEARS.map(|y| date(y, 9, 1) + Duration::days(rng.gen_range(0..=45)));
    let years = YEARS.map(|y| {
        let decided_on = date(y, 11, 15) + Duration::days(rng.gen_range(0..=29));
        commune_year(rng, decided_on)
    });
    CommuneSetup {
        commune,
        hamlets,
        surveyors,
        survey_from,
        years,
    }
}

/// A commune's decision of one review year, decided on `decided_on`, and the supports that
/// follow it.
fn commune_year(rng: &mut ChaCha8Rng, decided_on: NaiveDate) -> CommuneYear {
    let numbers = sample(rng, 380, 5);
    let no = |i: usize| format!("{}/QĐ-UBND", 100 + numbers.index(i));
    CommuneYear {
        decided_on,
        decision_no: no(0),
        health_insurance_on: decided_on + Duration::days(rng.gen_range(3..=12)),
        health_insurance_no: no(1),
        electricity_on: decided_on + Duration::days(rng.gen_range(5..=17)),
        electricity_no: no(2),
        education_no: no(3),
        emergency_no: no(4),
    }
}

/// How many households each commune gets: proportional to a size weight (wards and towns are
/// denser), by largest remainder.
fn allocate(rng: &mut ChaCha8Rng, communes: &[Commune], households: usize) -> Vec<usize> {
    let weights: Vec<f64> = communes
        .iter()
        .map(|c| {
            let base = if c.area == Area::Urban { 1.3 } else { 1.0 };
            base * rng.gen_range(0.6..1.4)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights
        .iter()
        .map(|w| w / total * households as f64)
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let assigned: usize = counts.iter().sum();
    let mut by_remainder: Vec<usize> = (0..communes.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in by_remainder
        .iter()
        .take(households.saturating_sub(assigned))
    {
        counts[i] += 1;
    }
    counts
}

/// The standards of each review year, from the survey dates the generator uses.
fn year_standards(standards: &Standards) -> Result<[Standard; 4], GenerateError> {
    let mut out = Vec::with_capacity(YEARS.len());
    for y in YEARS {
        out.push(standard_through(standards, date(y, 9, 1), date(y, 12, 31))?);
    }
    out.try_into()
        .map_err(|_| GenerateError::Inconsistent("four review years".into()))
}

/// The one standard in force on every day of a review from `from` to `to`.
fn standard_through(
    standards: &Standards,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Standard, GenerateError> {
    let mut in_force = standards.in_force_on(from);
    if in_force.len() != 1 || !in_force[0].in_force_on(to) {
        return Err(GenerateError::Inconsistent(format!(
            "expected exactly one standard in force from {from} to {to}"
        )));
    }
    Ok(in_force.remove(0))
}

/// One generated household: its review rows (one per year, in survey order) and its supports
/// (in date order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedHousehold {
    pub reviews: Vec<ReviewRow>,
    pub supports: Vec<SupportRow>,
}

/// The households of a synthetic province, one at a time (bounded memory for any size).
pub struct Generator {
    households: usize,
    seed: u64,
    by_year: [Standard; 4],
    all_standards: Vec<Standard>,
    parameters: PolicyParameters,
    setups: Vec<CommuneSetup>,
    counts: Vec<usize>,
    /// Commune being filled and the number of its next household (1-based).
    commune: usize,
    number: usize,
    done: usize,
    /// ID numbers of each old province (as [`OLD_PROVINCES`]).
    ids: Vec<IdNumbers>,
    loan_counter: u64,
    /// The reviews after the reform (new Tây Ninh only).
    later: Option<Later>,
}

impl Generator {
    /// A generator of `households` households (at least 1) of `province` from `seed`.
    pub fn new(
        province: Province,
        households: usize,
        seed: u64,
    ) -> Result<Generator, GenerateError> {
        if households == 0 {
            return Err(GenerateError::NoHouseholds);
        }
        let standards = Standards::builtin()?;
        let by_year = year_standards(&standards)?;
        let all_standards: Vec<Standard> = standards.iter().cloned().collect();
        let parameters = PolicyParameters::builtin()?;
        let communes = province::communes_of(province)?;
        let reform = if province.crosses_the_reform() {
            Some(province::Reform::shipped(&communes)?)
        } else {
            None
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::MAX);
        let counts = allocate(&mut rng, &communes, households);
        let setups: Vec<CommuneSetup> = communes
            .into_iter()
            .map(|c| commune_setup(&mut rng, c))
            .collect();
        // Drawn in this order so old Tây Ninh alone is drawn as it always was.
        let mut ids = vec![IdNumbers::new(&mut rng)];
        for old in &province.old_provinces()[1..] {
            ids.push(IdNumbers::of_province(&mut rng, old.id_prefix));
        }
        let later = match reform {
            Some(reform) => Some(Later::new(&mut rng, reform, &standards)?),
            None => None,
        };
        Ok(Generator {
            households,
            seed,
            by_year,
            all_standards,
            parameters,
            setups,
            counts,
            commune: 0,
            number: 1,
            done: 0,
            ids,
            loan_counter: 0,
            later,
        })
    }

    /// How many households this generator makes in all.
    pub fn households(&self) -> usize {
        self.households
    }
}

impl Iterator for Generator {
    type Item = Result<GeneratedHousehold, GenerateError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self
            .counts
            .get(self.commune)
            .is_some_and(|c| self.number > *c)
        {
            self.commune += 1;
            self.number = 1;
        }
        let setup = self.setups.get(self.commune)?;
        // Each household draws from its own stream: deterministic whatever came before.
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(self.done as u64);
        let ctx = HouseholdContext {
            setup,
            number: self.number,
            by_year: &self.by_year,
            all_standards: &self.all_standards,
            parameters: &self.parameters,
            later: self.later.as_ref(),
        };
        let ids = &mut self.ids[setup.commune.old_province.min(OLD_PROVINCES.len() - 1)];
        let generated = household(&mut rng, &ctx, ids, &mut self.loan_counter);
        self.number += 1;
        self.done += 1;
        Some(generated)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.households - self.done;
        (left, Some(left))
    }
}

/// Generates `households` households of old Tây Ninh ([`Province::TayNinh72`]) from `seed`,
/// all in memory; see [`generate_in`].
pub fn generate(households: usize, seed: u64) -> Result<Generated, GenerateError> {
    generate_in(Province::TayNinh72, households, seed)
}

/// Generates `households` households of `province` from `seed`, all in memory (about 5 KB a
/// household; for large provinces iterate a [`Generator`] instead).
pub fn generate_in(
    province: Province,
    households: usize,
    seed: u64,
) -> Result<Generated, GenerateError> {
    let mut out = Generated {
        households,
        reviews: Vec::with_capacity(households * YEARS.len()),
        supports: Vec::with_capacity(households / 10),
    };
    for household in Generator::new(province, households, seed)? {
        let household = household?;
        out.reviews.extend(household.reviews);
        out.supports.extend(household.supports);
    }
    Ok(out)
}

struct HouseholdContext<'a> {
    setup: &'a CommuneSetup,
    number: usize,
    by_year: &'a [Standard; 4],
    all_standards: &'a [Standard],
    parameters: &'a PolicyParameters,
    later: Option<&'a Later>,
}

const RELATION_HEAD: &str = "head";

fn members(rng: &mut ChaCha8Rng, ethnicity: Ethnicity, ids: &mut IdNumbers) -> Vec<Member> {
    let size = names::weighted(
        rng,
        &[
            (1usize, 8.0),
            (2, 18.0),
            (3, 25.0),
            (4, 27.0),
            (5, 13.0),
            (6, 6.0),
            (7, 3.0),
        ],
    );
    let head_sex = if rng.gen_bool(if size == 1 { 0.45 } else { 0.72 }) {
        Sex::Male
    } else {
        Sex::Female
    };
    let head_year = if size == 1 && rng.gen_bool(0.6) {
        rng.gen_range(1935..=1965)
    } else {
        rng.gen_range(1950..=1996)
    };
    let head_family = names::family_name(rng, ethnicity);
    // (family, birth year, sex, relation)
    let mut people: Vec<(&str, i32, Sex, &str)> =
        vec![(head_family, head_year, head_sex, RELATION_HEAD)];
    let opposite = |s: Sex| match s {
        Sex::Male => Sex::Female,
        Sex::Female => Sex::Male,
    };
    let mut father_family = head_family;
    if size >= 2 && rng.gen_bool(0.85) {
        let spouse_family = names::family_name(rng, ethnicity);
        let spouse_year = (head_year + rng.gen_range(-3..=6)).min(2000);
        people.push((spouse_family, spouse_year, opposite(head_sex), "spouse"));
        if head_sex == Sex::Female {
            father_family = spouse_family;
        }
    }
    if people.len() < size && head_year >= 1972 && rng.gen_bool(0.3) {
        let year = (head_year - rng.gen_range(22..=32)).max(1925);
        let sex = if rng.gen_bool(0.6) {
            Sex::Female
        } else {
            Sex::Male
        };
        let family = if sex == Sex::Male {
            head_family
        } else {
            names::family_name(rng, ethnicity)
        };
        people.push((family, year, sex, "parent"));
    }
    while people.len() < size {
        let sex = if rng.gen_bool(0.51) {
            Sex::Male
        } else {
            Sex::Female
        };
        let oldest_child = head_year + 20;
        if oldest_child + 22 <= 2021 && rng.gen_bool(0.25) {
            let year = rng.gen_range(oldest_child + 20..=2021);
            people.push((father_family, year, sex, "grandchild"));
        } else if oldest_child <= 2021 {
            let year = rng.gen_range(oldest_child..=(head_year + 42).min(2021));
            people.push((father_family, year, sex, "child"));
        } else {
            let year = (head_year + rng.gen_range(-8..=8)).min(2003);
            people.push((head_family, year, sex, "sibling"));
        }
    }
    let mut out: Vec<Member> = Vec::with_capacity(people.len());
    for (family, year, sex, relation) in people {
        let mut name = names::full_name(rng, family, sex, year);
        for _ in 0..5 {
            if !out.iter().any(|m| m.name == name) {
                break;
            }
            name = names::full_name(rng, family, sex, year);
        }
        let adult = year <= 2003;
        let has_id = adult && rng.gen_bool(if year < 1945 { 0.8 } else { 0.93 });
        out.push(Member {
            name,
            birth_year: year,
            sex,
            relation: relation.to_owned(),
            id_number: has_id.then(|| ids.issue(sex, year)),
        });
    }
    out
}

fn sex_name(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

const CAUSES: &[&str] = &[
    "Thiếu vốn sản xuất, kinh doanh",
    "Thiếu đất canh tác",
    "Thiếu phương tiện sản xuất",
    "Thiếu lao động",
    "Không có tay nghề, thiếu kiến thức làm ăn",
    "Có người ốm đau, bệnh nặng",
    "Đông người ăn theo",
    "Gặp rủi ro, thiên tai, dịch bệnh",
];
const NO_WORKING_CAPACITY: &str = "Không có khả năng lao động";

/// A category next to `c`, as the survey may propose it when the village meeting disagreed.
fn neighbour(rng: &mut ChaCha8Rng, c: Category) -> Category {
    match c {
        Category::Poor => Category::NearPoor,
        Category::NearPoor if rng.gen_bool(0.5) => Category::Poor,
        Category::NearPoor => Category::MiddleIncome,
        Category::MiddleIncome if rng.gen_bool(0.5) => Category::NearPoor,
        Category::MiddleIncome => Category::NotPoor,
        Category::NotPoor => Category::MiddleIncome,
    }
}

/// Share of decisions that differ from the survey's proposal.
const OVERRIDE_SHARE: f64 = 0.01;

fn household(
    rng: &mut ChaCha8Rng,
    ctx: &HouseholdContext<'_>,
    ids: &mut IdNumbers,
    loan_counter: &mut u64,
) -> Result<GeneratedHousehold, GenerateError> {
    let setup = ctx.setup;
    let commune = &setup.commune;
    let key = format!("{}-{:05}", commune.code, ctx.number);
    let ethnic_minority = rng.gen_bool(0.02);
    let merit_family = rng.gen_bool(0.02);
    let ethnicity = if ethnic_minority {
        Ethnicity::minority(rng)
    } else {
        Ethnicity::Kinh
    };
    let members = members(rng, ethnicity, ids);
    let hamlet_index = names::index(rng, setup.hamlets.len());
    let hamlet = &setup.hamlets[hamlet_index];
    let surveyor = &setup.surveyors[hamlet_index % setup.surveyors.len()];
    let registered_on = date(2021, 8, 2) + Duration::days(rng.gen_range(0..=29));
    let trajectory = Trajectory::draw(
        rng,
        Profile {
            ethnic_minority,
            merit_family,
        },
        &OLD_PROVINCES[commune.old_province.min(OLD_PROVINCES.len() - 1)].baseline,
    );
    let order = trajectory::deprivation_order(rng, ctx.all_standards);
    let cause = if trajectory.no_working_capacity {
        NO_WORKING_CAPACITY
    } else {
        names::pick(rng, CAUSES)
    };
    let members_text = members
        .iter()
        .map(|m| {
            format!(
                "{}/{}/{}/{}/{}",
                m.name,
                m.birth_year,
                sex_name(m.sex),
                m.relation,
                m.id_number.as_deref().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let fixed = Fixed {
        key: &key,
        head_name: &members[0].name,
        hamlet,
        ethnic_minority,
        merit_family,
        registered_on,
        members: &members_text,
        surveyor,
        cause,
        no_working_capacity: trajectory.no_working_capacity,
        order: &order,
    };

    let mut out = GeneratedHousehold {
        reviews: Vec::with_capacity(YEARS.len()),
        supports: Vec::new(),
    };
    let mut loan_demands = [false; 4];
    for (i, year) in YEARS.iter().enumerate() {
        let plan = Review {
            year: *year,
            unit: commune,
            standard: &ctx.by_year[i],
            survey_from: setup.survey_from[i],
            last_survey_day: date(*year, 11, 14),
            decided: trajectory.decided[i],
            commune_year: &setup.years[i],
        };
        let (row, loan_demand) = review(rng, &fixed, &plan)?;
        loan_demands[i] = loan_demand;
        out.reviews.push(row);
    }

    let years: Vec<supports::Year<'_>> = (0..YEARS.len())
        .map(|i| supports::Year {
            index: i,
            category: trajectory.decided[i],
            // Exits are recognised within one standard: 2021 → 2022 is a change of standard.
            previous: (i >= 2).then(|| trajectory.decided[i - 1]),
            loan_demand: loan_demands[i],
            commune: &setup.years[i],
            next_decided_on: setup.years.get(i + 1).map(|y| y.decided_on),
        })
        .collect();
    let h = supports::Household {
        key: &key,
        disbursed_by: &commune.disbursed_by,
        members: &members,
    };
    out.supports = supports::supports(
        rng,
        &h,
        &years,
        ctx.parameters,
        loan_counter,
        supports::last_day(),
    );
    if let Some(later) = ctx.later {
        let extra = later.household(
            rng,
            &fixed,
            commune,
            hamlet_index,
            &trajectory,
            &members,
            ctx.parameters,
            loan_counter,
        )?;
        out.reviews.extend(extra.reviews);
        out.supports.extend(extra.supports);
    }
    Ok(out)
}

/// What every review row of a household repeats, and what shapes its surveys.
struct Fixed<'a> {
    key: &'a str,
    head_name: &'a str,
    hamlet: &'a str,
    ethnic_minority: bool,
    merit_family: bool,
    registered_on: NaiveDate,
    members: &'a str,
    surveyor: &'a str,
    cause: &'a str,
    no_working_capacity: bool,
    /// The household's deprivations, most likely first.
    order: &'a [String],
}

/// One review of a household: where, under which standard, when, and the category decided.
struct Review<'a> {
    year: i32,
    unit: &'a Commune,
    standard: &'a Standard,
    survey_from: NaiveDate,
    last_survey_day: NaiveDate,
    decided: Category,
    commune_year: &'a CommuneYear,
}

/// `c`, or the category a standard without it uses instead (`vn-2026-2030` has no
/// middle-income line: such a household is not poor).
fn fit(standard: &Standard, c: Category) -> Category {
    if c == Category::MiddleIncome && !standard.has_category(c) {
        Category::NotPoor
    } else {
        c
    }
}

/// Draws one review row (a survey that proposes the decided category, or a neighbour of it
/// when the village meeting disagreed, and the decision); the row and its loan demand.
fn review(
    rng: &mut ChaCha8Rng,
    fixed: &Fixed<'_>,
    plan: &Review<'_>,
) -> Result<(ReviewRow, bool), GenerateError> {
    let survey_date = (plan.survey_from + Duration::days(rng.gen_range(0..=25)))
        .min(plan.last_survey_day)
        .max(fixed.registered_on);
    let decided = fit(plan.standard, plan.decided);
    let overridden = rng.gen_bool(OVERRIDE_SHARE);
    let proposed = if overridden {
        fit(plan.standard, neighbour(rng, decided))
    } else {
        decided
    };
    let (income, deprivations) = trajectory::survey_for(
        rng,
        plan.standard,
        survey_date,
        plan.unit.area,
        proposed,
        fixed.order,
    )?;
    let reason = match decided.cmp(&proposed) {
        std::cmp::Ordering::Less => {
            "Họp dân xác nhận thu nhập thực tế thấp hơn kê khai (có người ốm đau dài ngày)"
        }
        std::cmp::Ordering::Greater => "Họp dân xác nhận hộ có nguồn thu nhập chưa kê khai",
        std::cmp::Ordering::Equal => "",
    };
    let loan_demand = rng.gen_bool(match decided {
        Category::Poor | Category::NearPoor => 0.45,
        Category::MiddleIncome => 0.08,
        Category::NotPoor => 0.02,
    });
    let poor_or_near = matches!(decided, Category::Poor | Category::NearPoor);
    let row = ReviewRow {
        household_key: fixed.key.to_owned(),
        head_name: fixed.head_name.to_owned(),
        unit_code: plan.unit.code.clone(),
        hamlet: fixed.hamlet.to_owned(),
        area: plan.unit.area.as_str().to_owned(),
        ethnic_minority: yes_no(fixed.ethnic_minority).to_owned(),
        merit_family: yes_no(fixed.merit_family).to_owned(),
        registered_on: fixed.registered_on.to_string(),
        members: fixed.members.to_owned(),
        period: format!("{}-annual", plan.year),
        survey_date: survey_date.to_string(),
        income_per_capita_vnd: income.get().to_string(),
        deprivations: deprivations.join(", "),
        working_capacity: yes_no(!fixed.no_working_capacity).to_owned(),
        loan_demand: yes_no(loan_demand).to_owned(),
        cause_of_poverty: if poor_or_near {
            fixed.cause.to_owned()
        } else {
            String::new()
        },
        surveyor: fixed.surveyor.to_owned(),
        standard: plan.standard.id().to_owned(),
        category: decided.as_str().to_owned(),
        decision_no: plan.commune_year.decision_no.clone(),
        decided_on: plan.commune_year.decided_on.to_string(),
        decision_reason: reason.to_owned(),
        ..ReviewRow::default()
    };
    Ok((
        public_review(fixed.key, plan, survey_date, row),
        loan_demand,
    ))
}

/// Share of village meetings where fewer than half agree (the household is reviewed again and
/// the chair decides with a reason).
const REVIEW_AGAIN_SHARE: f64 = 0.01;

/// The public part of a review row: the village meeting's vote and the commune's posting of
/// the results (three working days ending the working day before the decision). Drawn from a
/// generator of the household's own, so the rest of the province is drawn as before.
fn public_review(
    key: &str,
    plan: &Review<'_>,
    survey_date: NaiveDate,
    mut row: ReviewRow,
) -> ReviewRow {
    use ansinh_events::review_deadlines::is_working_day;
    let decided_on = plan.commune_year.decided_on;
    let mut posted_to = decided_on - Duration::days(1);
    while !is_working_day(posted_to) {
        posted_to -= Duration::days(1);
    }
    let mut posted_from = posted_to;
    for _ in 0..2 {
        posted_from -= Duration::days(1);
        while !is_working_day(posted_from) {
            posted_from -= Duration::days(1);
        }
    }
    let held_on = (posted_from - Duration::days(1)).max(survey_date);
    if held_on > decided_on {
        return row;
    }
    // FNV-1a of the key and year: a stable seed without another dependency.
    let seed = format!("{key}/{}", plan.year)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let attendees: u32 = rng.gen_range(25..=60);
    let again = rng.gen_bool(REVIEW_AGAIN_SHARE);
    let votes_for = if again {
        rng.gen_range(attendees / 4..attendees.div_ceil(2))
    } else {
        rng.gen_range(attendees.div_ceil(2)..=attendees)
    };
    let votes_against = rng.gen_range(0..=attendees - votes_for);
    if again && row.decision_reason.is_empty() {
        row.decision_reason =
            "Họp dân chưa đủ một nửa đồng ý; Ban chỉ đạo xã đã xác minh lại và giữ kết quả rà soát"
                .to_owned();
    }
    row.meeting_held_on = held_on.to_string();
    row.meeting_attendees = attendees.to_string();
    row.meeting_votes_for = votes_for.to_string();
    row.meeting_votes_against = votes_against.to_string();
    row.meeting_minutes_no = format!("{}/BB-HD", (seed % 90) + 10);
    row.posted_from = posted_from.to_string();
    row.posted_to = posted_to.to_string();
    row
}

/// The output format, by the extension of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, GenerateError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(GenerateError::UnknownFormat {
                path: path.display().to_string(),
            }),
        }
    }
}

/// Writes a generated province to `path` (CSV: `path` and its `.supports.csv`; XLSX: sheets
/// `reviews` and `supports`); returns the files written.
pub fn write(path: &Path, generated: &Generated) -> Result<Vec<PathBuf>, GenerateError> {
    write::generated(path, generated)
}

/// What [`generate_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub households: usize,
    pub reviews: usize,
    pub supports: usize,
    pub files: Vec<PathBuf>,
}

/// Generates and writes household by household (memory stays small for any size), calling
/// `progress(done)` every 1,000 households.
pub fn generate_to(
    province: Province,
    path: &Path,
    households: usize,
    seed: u64,
    mut progress: impl FnMut(usize),
) -> Result<Summary, GenerateError> {
    let generator = Generator::new(province, households, seed)?;
    let mut writer = write::Writer::create(path)?;
    let (mut reviews, mut supports) = (0, 0);
    for (i, household) in generator.enumerate() {
        let household = household?;
        for r in &household.reviews {
            writer.review(r)?;
        }
        for s in &household.supports {
            writer.support(s)?;
        }
        reviews += household.reviews.len();
        supports += household.supports.len();
        if (i + 1) % 1000 == 0 {
            progress(i + 1);
        }
    }
    progress(households);
    Ok(Summary {
        households,
        reviews,
        supports,
        files: writer.finish()?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_communes_are_the_94_of_old_tay_ninh_with_their_areas() {
        let communes = shipped_communes().unwrap();
        assert_eq!(communes.len(), 94);
        let ward = communes.iter().find(|c| c.name == "Phường 1").unwrap();
        assert_eq!(ward.area, Area::Urban);
        assert_eq!(ward.disbursed_by, "UBND phường 1");
        let xa = communes.iter().find(|c| c.name.starts_with("Xã ")).unwrap();
        assert_eq!(xa.area, Area::Rural);
        assert!(xa.disbursed_by.starts_with("UBND xã "));
        assert!(communes
            .iter()
            .any(|c| c.name.starts_with("Thị trấn") && c.area == Area::Urban));
    }

    #[test]
    fn the_merged_province_has_the_280_old_communes_and_where_the_reform_put_each() {
        let communes = province::communes_of(Province::TayNinh).unwrap();
        let of = |p: usize| communes.iter().filter(|c| c.old_province == p).count();
        assert_eq!((of(0), of(1)), (94, 186));
        let reform = province::Reform::shipped(&communes).unwrap();
        assert_eq!(reform.new_communes.len(), 96);
        // Whole: Phường 1 went into Phường Tân Ninh, whatever the hamlet.
        for hamlet in 0..4 {
            let new = reform.new_commune("25456", hamlet).unwrap();
            assert_eq!((new.code.as_str(), new.area), ("25459", Area::Urban));
        }
        // Split: the hamlet picks, the same on every call.
        let picks: std::collections::BTreeSet<&str> = (0..6)
            .map(|h| reform.new_commune("25510", h).unwrap().code.as_str())
            .collect();
        assert!(picks.len() >= 2, "{picks:?}");
        assert_eq!(
            reform.new_commune("25510", 3).unwrap(),
            reform.new_commune("25510", 3).unwrap()
        );
    }

    #[test]
    fn households_are_spread_over_every_commune() {
        let communes = shipped_communes().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let counts = allocate(&mut rng, &communes, 10_000);
        assert_eq!(counts.iter().sum::<usize>(), 10_000);
        assert!(counts.iter().all(|c| *c > 30), "{counts:?}");
    }

    #[test]
    fn no_households_and_unknown_extensions_are_bad_input() {
        assert!(generate(0, 1).unwrap_err().is_bad_input());
        assert!(Format::of(Path::new("x.ods")).unwrap_err().is_bad_input());
        assert_eq!(Format::of(Path::new("x.CSV")).unwrap(), Format::Csv);
    }

    #[test]
    fn members_have_a_head_first_and_plausible_ids() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut ids = IdNumbers::new(&mut rng);
        for _ in 0..2000 {
            let m = members(&mut rng, Ethnicity::Kinh, &mut ids);
            assert!((1..=7).contains(&m.len()));
            assert_eq!(m[0].relation, RELATION_HEAD);
            for member in &m {
                assert!((1925..=2021).contains(&member.birth_year), "{member:?}");
                if let Some(id) = &member.id_number {
                    assert_eq!(id.len(), 12);
                    assert!(id.starts_with("072"));
                    assert_eq!(&id[4..6], format!("{:02}", member.birth_year % 100));
                }
            }
        }
    }
}
