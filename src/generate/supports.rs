//! Supports that fit each year's recognised category, disbursed after the decision that made
//! the household eligible and before the next one (and never after the history's last day:
//! the end of 2024 for old Tây Ninh alone, [`LAST_DAY_MERGED`] across the reform).

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;

use ansinh_events::household::Member;
use ansinh_events::policy_params::{PolicyParameters, ELECTRICITY_SUBSIDY_MONTHLY};
use ansinh_events::standards::Category;

use crate::import::format::SupportRow;

/// The last day a generated support of old Tây Ninh's histories (2021–2024) may be dated.
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default()
}

/// The last day of the merged province's histories (through the 2026 review): a file
/// generated with them imports from the next day on (nothing may be dated in the future).
pub const LAST_DAY_MERGED: (i32, u32, u32) = (2026, 11, 20);

/// At most this many supports per household.
const MAX_SUPPORTS: usize = 6;

/// Fund of the Vietnam Bank for Social Policies (preferential credit).
pub const FUND_NHCSXH: &str = "NHCSXH";
/// The Fund for the Poor run by the Fatherland Front.
pub const FUND_FOR_THE_POOR: &str = "QUY_VI_NGUOI_NGHEO";

/// Health insurance premium per person per year: 4.5% of 12 months of the base salary (lương
/// cơ sở) in force — 1,490,000 (Decree 38/2019), 1,800,000 from 1 July 2023 (Decree 24/2023),
/// 2,340,000 from 1 July 2024 (Decree 73/2024). Synthetic data only: the application keeps
/// amounts as recorded.
fn health_insurance_premium(on: NaiveDate) -> i64 {
    let base = if on >= NaiveDate::from_ymd_opt(2024, 7, 1).unwrap_or_default() {
        2_340_000
    } else if on >= NaiveDate::from_ymd_opt(2023, 7, 1).unwrap_or_default() {
        1_800_000
    } else {
        1_490_000
    };
    base * 45 / 1000 * 12
}

/// Study-cost support per pupil of a poor household: 150,000 VND a month for 9 months
/// (Decree 81/2021).
const STUDY_COSTS: i64 = 150_000 * 9;

/// What the commune decided and when, for one review year.
#[derive(Debug, Clone)]
pub struct CommuneYear {
    /// The chair's decision on the review.
    pub decided_on: NaiveDate,
    pub decision_no: String,
    /// Health insurance cards bought for the year.
    pub health_insurance_on: NaiveDate,
    pub health_insurance_no: String,
    /// The electricity subsidy paid for the year.
    pub electricity_on: NaiveDate,
    pub electricity_no: String,
    pub education_no: String,
    pub emergency_no: String,
}

/// One household's situation in a review year.
pub struct Year<'a> {
    pub index: usize,
    pub category: Category,
    /// Previous year's category under the same standard (None for 2021 and 2022).
    pub previous: Option<Category>,
    pub loan_demand: bool,
    pub commune: &'a CommuneYear,
    /// The next review's decision date (supports stop the day before it).
    pub next_decided_on: Option<NaiveDate>,
}

pub struct Household<'a> {
    pub key: &'a str,
    pub disbursed_by: &'a str,
    pub members: &'a [Member],
}

fn day_between(rng: &mut impl Rng, from: NaiveDate, to: NaiveDate) -> Option<NaiveDate> {
    let days = (to - from).num_days();
    (days >= 0).then(|| from + Duration::days(rng.gen_range(0..=days)))
}

fn row(
    h: &Household<'_>,
    policy: &str,
    amount: i64,
    source: &str,
    fund: &str,
    on: NaiveDate,
    decision_no: &str,
) -> SupportRow {
    SupportRow {
        household_key: h.key.to_owned(),
        policy: policy.to_owned(),
        amount_vnd: amount.to_string(),
        in_kind: String::new(),
        funding_source: source.to_owned(),
        fund_id: fund.to_owned(),
        disbursed_on: on.to_string(),
        disbursed_by: h.disbursed_by.to_owned(),
        decision_no: decision_no.to_owned(),
        recipient_member: String::new(),
    }
}

/// The supports of one household over every review year, in date order.
pub fn supports(
    rng: &mut impl Rng,
    h: &Household<'_>,
    years: &[Year<'_>],
    parameters: &PolicyParameters,
    loan_counter: &mut u64,
    last_day: NaiveDate,
) -> Vec<SupportRow> {
    let mut out: Vec<SupportRow> = Vec::new();
    let mut last_loan_year: Option<usize> = None;
    for y in years {
        let decided_on = y.commune.decided_on;
        let end = y
            .next_decided_on
            .map(|d| d - Duration::days(1))
            .unwrap_or(last_day)
            .min(last_day);
        if end <= decided_on {
            continue;
        }
        let members = i64::try_from(h.members.len()).unwrap_or(1).max(1);
        let in_window = |d: NaiveDate| d > decided_on && d <= end;
        match y.category {
            Category::Poor => {
                let on = y.commune.health_insurance_on;
                if in_window(on) && rng.gen_bool(0.95) {
                    let mut r = row(
                        h,
                        "health_insurance",
                        health_insurance_premium(on) * members,
                        "central_budget",
                        "",
                        on,
                        &y.commune.health_insurance_no,
                    );
                    r.in_kind = format!("{members} thẻ BHYT");
                    out.push(r);
                }
                let on = y.commune.electricity_on;
                let monthly = parameters
                    .value_on(ELECTRICITY_SUBSIDY_MONTHLY, on)
                    .map(|v| v.amount_vnd.min().get());
                if let Some(monthly) = monthly.filter(|_| in_window(on) && rng.gen_bool(0.9)) {
                    out.push(row(
                        h,
                        "electricity_subsidy",
                        monthly * 12,
                        "central_budget",
                        "",
                        on,
                        &y.commune.electricity_no,
                    ));
                }
                let year_after = decided_on.year() + 1;
                let pupils: Vec<&Member> = h
                    .members
                    .iter()
                    .filter(|m| (6..=17).contains(&(year_after - m.birth_year)))
                    .collect();
                if !pupils.is_empty() && rng.gen_bool(0.7) {
                    let from = decided_on + Duration::days(15);
                    if let Some(on) = day_between(rng, from, end.min(from + Duration::days(45))) {
                        let pupil = pupils[super::names::index(rng, pupils.len())];
                        let mut r = row(
                            h,
                            "education",
                            STUDY_COSTS,
                            "local_budget",
                            "",
                            on,
                            &y.commune.education_no,
                        );
                        r.recipient_member.clone_from(&pupil.name);
                        out.push(r);
                    }
                }
            }
            Category::NearPoor => {
                let on = y.commune.health_insurance_on;
                if in_window(on) && rng.gen_bool(0.85) {
                    let mut r = row(
                        h,
                        "health_insurance",
                        health_insurance_premium(on) * 70 / 100 * members,
                        "central_budget",
                        "",
                        on,
                        &y.commune.health_insurance_no,
                    );
                    r.in_kind = format!("{members} thẻ BHYT (hỗ trợ 70%)");
                    out.push(r);
                }
            }
            _ => {}
        }
        // Preferential credit: poor and near-poor who ask, and households that just exited.
        let exited = matches!(y.previous, Some(Category::Poor | Category::NearPoor))
            && y.category > y.previous.unwrap_or(Category::NotPoor);
        let chance = match y.category {
            Category::Poor if y.loan_demand => 0.45,
            Category::NearPoor if y.loan_demand => 0.35,
            _ if exited => 0.25,
            _ => 0.0,
        };
        let recent_loan = last_loan_year.is_some_and(|i| y.index - i < 2);
        if chance > 0.0 && !recent_loan && rng.gen_bool(chance) {
            let from = decided_on + Duration::days(10);
            if let Some(on) = day_between(rng, from, end.min(from + Duration::days(150))) {
                let step = if exited || y.category == Category::NearPoor {
                    rng.gen_range(4..=12)
                } else {
                    rng.gen_range(4..=20)
                };
                *loan_counter += 1;
                out.push(row(
                    h,
                    "preferential_credit",
                    step * 5_000_000,
                    "central_budget",
                    FUND_NHCSXH,
                    on,
                    &format!("{}/HĐTD-NHCSXH", 1000 + *loan_counter % 9000),
                ));
                last_loan_year = Some(y.index);
            }
        }
        // Emergency aid from the Fund for the Poor: illness, fire, flood.
        let chance = match y.category {
            Category::Poor => 0.05,
            Category::NearPoor => 0.025,
            _ => 0.0015,
        };
        if rng.gen_bool(chance) {
            if let Some(on) = day_between(rng, decided_on + Duration::days(1), end) {
                out.push(row(
                    h,
                    "emergency_aid",
                    rng.gen_range(2..=10) * 500_000,
                    "mobilized",
                    FUND_FOR_THE_POOR,
                    on,
                    &y.commune.emergency_no,
                ));
            }
        }
    }
    if out.len() > MAX_SUPPORTS {
        out.shuffle(rng);
        out.truncate(MAX_SUPPORTS);
    }
    out.sort_by(|a, b| a.disbursed_on.cmp(&b.disbursed_on));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_insurance_premium_follows_the_base_salary() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(health_insurance_premium(d(2021, 12, 1)), 804_600);
        assert_eq!(health_insurance_premium(d(2023, 12, 1)), 972_000);
        assert_eq!(health_insurance_premium(d(2024, 12, 1)), 1_263_600);
        assert_eq!(health_insurance_premium(d(2021, 12, 1)) * 70 / 100, 563_220);
    }
}
