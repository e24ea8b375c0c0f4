//! Poverty standards (chuẩn nghèo) as data.
//!
//! A standard is a JSON file: its id, legal basis, validity period, income lines per area,
//! indicators, and the kind of rule that combines income with deprivations. The national
//! standards ship inside the crate (`events/standards/*.json`, embedded with `include_str!`);
//! more are loaded from a folder the caller names (see [`Standards::add_dir`]). Adding a
//! standard (a provincial one) is a new file, never a code change.
//!
//! Two rule kinds cover the standards known so far; every income line is inclusive (`≤`):
//!
//! * `count_based` (`vn-2022-2025`): income ≤ poverty line → poor when the number of
//!   deprivations is at least `poor_min_deprivations`, near-poor otherwise; income ≤
//!   middle-income line → middle-income; above → not poor.
//! * `point_based` (`vn-2016-2020`): each deprivation is worth `points_per_deprivation`;
//!   income ≤ poverty line → poor whatever the score; income ≤ near-poverty line → poor when
//!   the score is at least `poor_min_score`, near-poor otherwise; income ≤ middle-income line →
//!   middle-income; above → not poor.
//!
//! A standard without a middle-income line has no middle-income category: income above its
//! highest line is "not poor".
//!
//! `lines` is either one object (`{"rural": …, "urban": …}`, the same all through the standard)
//! or a list of dated lines (`[{"from": "2026-01-01", "rural": …, "urban": …}, …]`) when the
//! lines change within the standard (`vn-2026-2030`); a survey is then classified against the
//! lines in force on its date (see [`Standard::classify_on`]).

mod classify;
mod lines;
mod load;

pub use classify::{Classification, ClassifyError, DecidingRule, Explanation, LineKind};
pub use lines::DatedLines;
use lines::{check_area_lines, check_dated_lines, LinesFile};
pub use load::{
    Standards, EXAMPLE_PROVINCIAL_JSON, VN_2016_2020_JSON, VN_2022_2025_JSON, VN_2026_2030_JSON,
};

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::area::Area;
use crate::money::Vnd;

/// The category a household is recognised in under one standard.
///
/// Ordered from poorest to richest, so `a < b` means "a is a poorer category than b".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Poor,
    NearPoor,
    MiddleIncome,
    NotPoor,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Poor,
        Category::NearPoor,
        Category::MiddleIncome,
        Category::NotPoor,
    ];

    /// The contract name: `poor`, `near_poor`, `middle_income` or `not_poor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Poor => "poor",
            Category::NearPoor => "near_poor",
            Category::MiddleIncome => "middle_income",
            Category::NotPoor => "not_poor",
        }
    }

    /// Parses a contract name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who issued a standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    National,
    Provincial,
}

/// How income and deprivations combine into a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Poor when income ≤ poverty line and deprivations ≥ `poor_min_deprivations`.
    CountBased { poor_min_deprivations: u32 },
    /// Poor when income ≤ poverty line, or income ≤ near-poverty line and
    /// deprivations × `points_per_deprivation` ≥ `poor_min_score`.
    PointBased {
        points_per_deprivation: u32,
        poor_min_score: u32,
    },
}

/// Income lines of one area, in VND per person per month; each line is inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomeLines {
    pub poverty_vnd: Vnd,
    /// Upper line of the near-poverty band of a point-based standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near_poverty_vnd: Option<Vnd>,
    /// Upper line of the middle-income band, when the standard has that category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_income_vnd: Option<Vnd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaLines {
    pub rural: IncomeLines,
    pub urban: IncomeLines,
}

impl AreaLines {
    pub fn get(&self, area: Area) -> &IncomeLines {
        match area {
            Area::Rural => &self.rural,
            Area::Urban => &self.urban,
        }
    }
}

/// One deprivation indicator of a standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// snake_case name used everywhere (`health_insurance`, …).
    pub name: String,
    pub dimension: String,
    pub deprived_when: String,
    /// Unit of the raw measure a survey may record for it (`m2_per_person`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure_unit: Option<String>,
}

/// The file layout of a standard, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardFile {
    id: String,
    name: String,
    legal_basis: String,
    scope: Scope,
    #[serde(default)]
    example: bool,
    confirmed: bool,
    #[serde(default)]
    note: Option<String>,
    valid_from: NaiveDate,
    #[serde(default)]
    valid_to: Option<NaiveDate>,
    #[serde(default)]
    supersedes: Option<String>,
    rule: Rule,
    lines: LinesFile,
    indicators: Vec<Indicator>,
}

/// A validated poverty standard. Build one with [`Standard::from_json`] or through
/// [`Standards`]; deserializing checks the same rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StandardFile")]
pub struct Standard {
    id: String,
    name: String,
    legal_basis: String,
    scope: Scope,
    example: bool,
    confirmed: bool,
    note: Option<String>,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    supersedes: Option<String>,
    rule: Rule,
    lines: LinesFile,
    indicators: Vec<Indicator>,
    /// `lines` as periods, boxed so a `Standard` stays small inside commands.
    #[serde(skip)]
    periods: Box<Periods>,
}

/// The lines of a standard by period: the first (from `valid_from`) and the later ones in
/// date order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Periods {
    first: DatedLines,
    later: Vec<DatedLines>,
}

/// Why a standard file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardError {
    #[error("standard file {source_name} is not valid: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("standard {id} is not valid: {message}")]
    Invalid { id: String, message: String },
    #[error("standard {id} is defined twice, in {first} and {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("standard file {source_name} is marked as an example; confirm its thresholds and set \"example\" to false before using it")]
    Example { source_name: String },
    #[error("standards folder {path} could not be read: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Parameters(#[from] crate::policy_params::PolicyParameterError),
}

fn invalid(id: &str, message: impl Into<String>) -> StandardError {
    StandardError::Invalid {
        id: id.to_owned(),
        message: message.into(),
    }
}

fn is_snake_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_standard_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl TryFrom<StandardFile> for Standard {
    type Error = StandardError;

    fn try_from(f: StandardFile) -> Result<Self, StandardError> {
        if !is_standard_id(&f.id) {
            return Err(invalid(
                &f.id,
                "the id must be lowercase letters, digits and dashes",
            ));
        }
        let id = f.id.as_str();
        if f.name.trim().is_empty() || f.legal_basis.trim().is_empty() {
            return Err(invalid(id, "name and legal_basis must not be empty"));
        }
        if let Some(to) = f.valid_to {
            if to < f.valid_from {
                return Err(invalid(id, "valid_to is before valid_from"));
            }
        }
        if f.supersedes.as_deref() == Some(id) {
            return Err(invalid(id, "a standard cannot supersede itself"));
        }
        if f.indicators.is_empty() {
            return Err(invalid(id, "a standard needs at least one indicator"));
        }
        let mut names = BTreeSet::new();
        for indicator in &f.indicators {
            if !is_snake_name(&indicator.name) {
                return Err(invalid(
                    id,
                    format!(
                        "indicator name {:?} must be snake_case ASCII",
                        indicator.name
                    ),
                ));
            }
            if !names.insert(indicator.name.as_str()) {
                return Err(invalid(
                    id,
                    format!("indicator {} is listed twice", indicator.name),
                ));
            }
        }
        let indicator_count = u32::try_from(f.indicators.len()).unwrap_or(u32::MAX);
        match f.rule {
            Rule::CountBased {
                poor_min_deprivations,
            } => {
                if poor_min_deprivations == 0 || poor_min_deprivations > indicator_count {
                    return Err(invalid(
                        id,
                        "poor_min_deprivations must be between 1 and the number of indicators",
                    ));
                }
            }
            Rule::PointBased {
                points_per_deprivation,
                poor_min_score,
            } => {
                if points_per_deprivation == 0 || points_per_deprivation > 1000 {
                    return Err(invalid(
                        id,
                        "points_per_deprivation must be between 1 and 1000",
                    ));
                }
                let max_score = points_per_deprivation.saturating_mul(indicator_count);
                if poor_min_score == 0 || poor_min_score > max_score {
                    return Err(invalid(
                        id,
                        "poor_min_score must be between 1 and the highest possible score",
                    ));
                }
            }
        }
        let periods = match &f.lines {
            LinesFile::Single(lines) => vec![(
                "lines".to_owned(),
                DatedLines {
                    from: f.valid_from,
                    rural: lines.rural,
                    urban: lines.urban,
                },
            )],
            LinesFile::Dated(dated) => {
                check_dated_lines(id, dated, f.valid_from, f.valid_to)?;
                dated
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (format!("lines[{i}]"), *l))
                    .collect()
            }
        };
        for (field, lines) in &periods {
            check_area_lines(id, field, lines, f.rule)?;
        }
        let with_middle = periods
            .iter()
            .filter(|(_, l)| l.rural.middle_income_vnd.is_some())
            .count();
        if with_middle != 0 && with_middle != periods.len() {
            return Err(invalid(
                id,
                "lines: middle_income_vnd must be given in every dated line or in none",
            ));
        }
        let mut periods = periods.into_iter().map(|(_, l)| l);
        let Some(first_lines) = periods.next() else {
            return Err(invalid(id, "lines: the list of dated lines is empty"));
        };
        let later_lines = periods.collect();
        Ok(Standard {
            periods: Box::new(Periods {
                first: first_lines,
                later: later_lines,
            }),
            id: f.id,
            name: f.name,
            legal_basis: f.legal_basis,
            scope: f.scope,
            example: f.example,
            confirmed: f.confirmed,
            note: f.note,
            valid_from: f.valid_from,
            valid_to: f.valid_to,
            supersedes: f.supersedes,
            rule: f.rule,
            lines: f.lines,
            indicators: f.indicators,
        })
    }
}

impl Standard {
    /// Parses and validates one standard file; `source_name` names it in errors.
    pub fn from_json(source_name: &str, text: &str) -> Result<Standard, StandardError> {
        let file: StandardFile = serde_json::from_str(text).map_err(|e| StandardError::Parse {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        Standard::try_from(file)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn legal_basis(&self) -> &str {
        &self.legal_basis
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// True for a file that only shows the format (the provincial example).
    pub fn is_example(&self) -> bool {
        self.example
    }

    /// False when the file says its thresholds are not confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    pub fn valid_from(&self) -> NaiveDate {
        self.valid_from
    }

    pub fn valid_to(&self) -> Option<NaiveDate> {
        self.valid_to
    }

    /// The standard this one replaces (`vn-2022-2025` supersedes `vn-2016-2020`).
    pub fn supersedes(&self) -> Option<&str> {
        self.supersedes.as_deref()
    }

    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The lines of `area` from the standard's start: its only lines unless
    /// [`Standard::lines_change_by_date`]; use [`Standard::lines_on`] for a survey.
    pub fn lines(&self, area: Area) -> &IncomeLines {
        self.periods.first.get(area)
    }

    /// The lines of `area` in force on `date`: the last dated lines starting on or before it
    /// (the first ones for a date before the standard starts).
    pub fn lines_on(&self, date: NaiveDate, area: Area) -> &IncomeLines {
        self.periods
            .later
            .iter()
            .rev()
            .find(|l| l.from <= date)
            .unwrap_or(&self.periods.first)
            .get(area)
    }

    /// True when the lines change within the standard, so classifying needs the survey date.
    pub fn lines_change_by_date(&self) -> bool {
        !self.periods.later.is_empty()
    }

    /// The dated lines of the standard in date order (one entry, from `valid_from`, for a
    /// standard whose lines never change).
    pub fn dated_lines(&self) -> Vec<DatedLines> {
        std::iter::once(self.periods.first)
            .chain(self.periods.later.iter().copied())
            .collect()
    }

    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    pub fn indicator(&self, name: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.name == name)
    }

    pub fn has_indicator(&self, name: &str) -> bool {
        self.indicator(name).is_some()
    }

    /// Whether the standard applies on `date` (both ends inclusive).
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        date >= self.valid_from && self.valid_to.is_none_or(|to| date <= to)
    }

    /// The categories this standard can give: poor, near-poor and not poor always;
    /// middle-income when it has a middle-income line.
    pub fn categories(&self) -> Vec<Category> {
        Category::ALL
            .into_iter()
            .filter(|c| self.has_category(*c))
            .collect()
    }

    pub fn has_category(&self, category: Category) -> bool {
        match category {
            // Validation makes every dated line agree, so the first one answers.
            Category::MiddleIncome => Area::ALL
                .iter()
                .all(|a| self.lines(*a).middle_income_vnd.is_some()),
            _ => true,
        }
    }
}
