//! Classifying one household under one standard, with the reasons that decided it.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Category, IncomeLines, Rule, Standard};
use crate::area::Area;
use crate::money::Vnd;

/// Which income line of a standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Poverty,
    NearPoverty,
    MiddleIncome,
}

impl LineKind {
    fn words(self) -> &'static str {
        match self {
            LineKind::Poverty => "poverty line",
            LineKind::NearPoverty => "near-poverty line",
            LineKind::MiddleIncome => "middle-income line",
        }
    }
}

/// The rule of the standard that decided the category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidingRule {
    /// Point-based standards: income at or below the poverty line is poor whatever the score.
    IncomeAtOrBelowPovertyLine,
    /// Income in a poor band and deprivations (count or score) at or above the threshold.
    DeprivationsAtOrAboveThreshold,
    /// Income in a poor band but deprivations below the threshold: near-poor.
    DeprivationsBelowThreshold,
    /// Income above the poverty lines and at or below the middle-income line.
    IncomeAtOrBelowMiddleIncomeLine,
    /// Income above every line of the standard.
    IncomeAboveHighestLine,
}

/// Why a household got its category: the line its income was compared with, the deprivations
/// counted, and the rule that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub area: Area,
    pub income_per_capita_vnd: Vnd,
    /// The line that decided: the lowest line the income is at or below, or the highest line
    /// when the income is above them all.
    pub line: LineKind,
    pub line_vnd: Vnd,
    /// The line just below the income, when the income is above one.
    pub line_below: Option<(LineKind, Vnd)>,
    pub rule: DecidingRule,
    /// The deprived indicators counted, in the standard's order.
    pub deprivations: Vec<String>,
    /// The minimum count (count-based) or score (point-based) that makes a household poor.
    pub threshold: u32,
}

/// The category of one household under one standard, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub standard: String,
    pub legal_basis: String,
    pub category: Category,
    pub deprivation_count: u32,
    /// Point-based standards only: deprivations × points per deprivation.
    pub deprivation_score: Option<u32>,
    /// Same as `explanation.line_vnd`.
    pub income_line_vnd: Vnd,
    pub explanation: Explanation,
}

/// Why a household could not be classified under a standard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("indicator {indicator} does not belong to standard {standard}")]
    UnknownIndicator { standard: String, indicator: String },
    #[error("indicator {indicator} is listed more than once")]
    DuplicateIndicator { indicator: String },
    #[error("standard {standard} has income lines that change by date: give the survey_date")]
    SurveyDateRequired { standard: String },
}

impl ClassifyError {
    /// The input field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ClassifyError::SurveyDateRequired { .. } => "survey_date",
            _ => "deprivations",
        }
    }
}

impl Standard {
    /// Classifies a household with `income` per person per month in `area`, deprived in the
    /// named indicators (each must belong to this standard, each at most once). Without a date
    /// only a standard whose lines never change can answer; see [`Standard::classify_on`].
    pub fn classify<S: AsRef<str>>(
        &self,
        area: Area,
        income: Vnd,
        deprivations: &[S],
    ) -> Result<Classification, ClassifyError> {
        if self.lines_change_by_date() {
            return Err(ClassifyError::SurveyDateRequired {
                standard: self.id().to_owned(),
            });
        }
        self.classify_with(self.lines(area), area, income, deprivations)
    }

    /// Classifies a survey made on `survey_date` against the lines in force that day.
    pub fn classify_on<S: AsRef<str>>(
        &self,
        survey_date: NaiveDate,
        area: Area,
        income: Vnd,
        deprivations: &[S],
    ) -> Result<Classification, ClassifyError> {
        self.classify_with(self.lines_on(survey_date, area), area, income, deprivations)
    }

    fn classify_with<S: AsRef<str>>(
        &self,
        lines: &IncomeLines,
        area: Area,
        income: Vnd,
        deprivations: &[S],
    ) -> Result<Classification, ClassifyError> {
        let mut named = BTreeSet::new();
        for name in deprivations {
            let name = name.as_ref();
            if !self.has_indicator(name) {
                return Err(ClassifyError::UnknownIndicator {
                    standard: self.id().to_owned(),
                    indicator: name.to_owned(),
                });
            }
            if !named.insert(name) {
                return Err(ClassifyError::DuplicateIndicator {
                    indicator: name.to_owned(),
                });
            }
        }
        let counted: Vec<String> = self
            .indicators()
            .iter()
            .filter(|i| named.contains(i.name.as_str()))
            .map(|i| i.name.clone())
            .collect();
        let count = u32::try_from(counted.len()).unwrap_or(u32::MAX);
        let (measure, threshold, score) = match self.rule() {
            Rule::CountBased {
                poor_min_deprivations,
            } => (count, poor_min_deprivations, None),
            Rule::PointBased {
                points_per_deprivation,
                poor_min_score,
            } => {
                let score = count.saturating_mul(points_per_deprivation);
                (score, poor_min_score, Some(score))
            }
        };
        let by_deprivations = if measure >= threshold {
            (Category::Poor, DecidingRule::DeprivationsAtOrAboveThreshold)
        } else {
            (Category::NearPoor, DecidingRule::DeprivationsBelowThreshold)
        };
        let poverty = (LineKind::Poverty, lines.poverty_vnd);
        // The bands of the standard, lowest first: (upper line, what decides inside it).
        let mut bands: Vec<((LineKind, Vnd), (Category, DecidingRule))> = Vec::with_capacity(3);
        match (self.rule(), lines.near_poverty_vnd) {
            (Rule::PointBased { .. }, Some(near)) => {
                bands.push((
                    poverty,
                    (Category::Poor, DecidingRule::IncomeAtOrBelowPovertyLine),
                ));
                bands.push(((LineKind::NearPoverty, near), by_deprivations));
            }
            (Rule::PointBased { .. }, None) => bands.push((
                poverty,
                (Category::Poor, DecidingRule::IncomeAtOrBelowPovertyLine),
            )),
            (Rule::CountBased { .. }, _) => bands.push((poverty, by_deprivations)),
        }
        if let Some(middle) = lines.middle_income_vnd {
            bands.push((
                (LineKind::MiddleIncome, middle),
                (
                    Category::MiddleIncome,
                    DecidingRule::IncomeAtOrBelowMiddleIncomeLine,
                ),
            ));
        }
        let mut line_below = None;
        let mut decided = None;
        for (line, outcome) in &bands {
            if income <= line.1 {
                decided = Some((*line, *outcome));
                break;
            }
            line_below = Some(*line);
        }
        let (line, (category, rule)) = match decided {
            Some(found) => found,
            None => {
                let highest = line_below.unwrap_or(poverty);
                line_below = None;
                (
                    highest,
                    (Category::NotPoor, DecidingRule::IncomeAboveHighestLine),
                )
            }
        };
        Ok(Classification {
            standard: self.id().to_owned(),
            legal_basis: self.legal_basis().to_owned(),
            category,
            deprivation_count: count,
            deprivation_score: score,
            income_line_vnd: line.1,
            explanation: Explanation {
                area,
                income_per_capita_vnd: income,
                line: line.0,
                line_vnd: line.1,
                line_below,
                rule,
                deprivations: counted,
                threshold,
            },
        })
    }
}

/// `1500000` → `1,500,000`.
pub(crate) fn group_digits(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if amount < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn category_words(category: Category) -> &'static str {
    match category {
        Category::Poor => "poor",
        Category::NearPoor => "near-poor",
        Category::MiddleIncome => "middle-income",
        Category::NotPoor => "not poor",
    }
}

impl Classification {
    /// One English sentence: the line used, the deprivations counted, the rule that decided.
    pub fn explain(&self) -> String {
        let e = &self.explanation;
        let vnd = |v: Vnd| format!("{} VND", group_digits(v.get()));
        let mut s = format!(
            "{} ({}): {} income {} per person per month is ",
            self.standard,
            self.legal_basis,
            e.area,
            vnd(e.income_per_capita_vnd)
        );
        match (e.rule, e.line_below) {
            (DecidingRule::IncomeAboveHighestLine, _) => s.push_str(&format!(
                "above the highest line of the standard, the {} of {}",
                e.line.words(),
                vnd(e.line_vnd)
            )),
            (_, Some((below, below_vnd))) => s.push_str(&format!(
                "above the {} of {} and at or below the {} of {}",
                below.words(),
                vnd(below_vnd),
                e.line.words(),
                vnd(e.line_vnd)
            )),
            (_, None) => s.push_str(&format!(
                "at or below the {} of {}",
                e.line.words(),
                vnd(e.line_vnd)
            )),
        }
        let listed = if e.deprivations.is_empty() {
            "none".to_owned()
        } else {
            e.deprivations.join(", ")
        };
        let n = self.deprivation_count;
        let plural = if n == 1 { "" } else { "s" };
        let counted = match self.deprivation_score {
            Some(score) => {
                format!("the deprivation score is {score} ({n} deprivation{plural}: {listed})")
            }
            None => format!("{n} deprivation{plural} counted ({listed})"),
        };
        let measure = if self.deprivation_score.is_some() {
            "score"
        } else {
            "count"
        };
        match e.rule {
            DecidingRule::IncomeAtOrBelowPovertyLine => s.push_str(&format!(
                ", which makes the household poor whatever its deprivations; {counted}"
            )),
            DecidingRule::DeprivationsAtOrAboveThreshold => s.push_str(&format!(
                ", and {counted}, at or above the threshold {measure} of {}",
                e.threshold
            )),
            DecidingRule::DeprivationsBelowThreshold => s.push_str(&format!(
                ", and {counted}, below the threshold {measure} of {}",
                e.threshold
            )),
            DecidingRule::IncomeAtOrBelowMiddleIncomeLine
            | DecidingRule::IncomeAboveHighestLine => s.push_str(&format!(
                "; {counted}, which above the poverty lines does not change the category"
            )),
        }
        s.push_str(&format!(": {}.", category_words(self.category)));
        s
    }
}
