//! Registers for supervision: re-poverty (`/api/v1/re-poverty`) and the disbursement trail
//! (`/api/v1/disbursements`), for the unit asked (default: the user's own) and its descendants.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use ansinh_events::Category;
use ansinh_projections::disbursements::{self, DisbursementFilter, DisbursementList, Summary};
use ansinh_projections::log::parse_enum;
use ansinh_projections::re_poverty::{self, RePovertyFilter};

use super::auth::{need, PersonalDataRead, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded, MAX_OFFSET};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/re-poverty", get(re_poverty))
        .route("/disbursements", get(disbursements))
        .route("/disbursements/summary", get(disbursement_summary))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RePovertyQuery {
    /// Unit (with the units below it, by the household's unit on the relapse day); default:
    /// the user's unit.
    pub unit: Option<String>,
    /// Fell back on or after this day.
    pub from: Option<NaiveDate>,
    /// Fell back on or before this day.
    pub to: Option<NaiveDate>,
    /// Standard id; default: every standard.
    pub standard: Option<String>,
    /// `poor` (tái nghèo) or `near_poor` (tái cận nghèo); default: both.
    pub category: Option<String>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for RePovertyQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RePovertyItem {
    pub household_id: Uuid,
    /// The head's name when the household fell back.
    pub head_name: String,
    /// The household's unit on the day it fell back.
    pub unit_code: String,
    pub standard: String,
    /// `poor` or `near_poor`.
    pub category: String,
    pub exited_on: NaiveDate,
    pub exit_decision_no: Option<String>,
    pub exited_to: Option<String>,
    pub fell_back_on: NaiveDate,
    pub fell_back_decision_no: String,
    pub fell_back_from: String,
    /// Supports disbursed from the exit day up to the day before the relapse.
    pub supports_between: i64,
    pub supports_between_vnd: i64,
    /// The cause of poverty the survey behind the relapse gave.
    pub cause: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RePovertyRegister {
    pub items: Vec<RePovertyItem>,
    /// Over every matching relapse, not only this page.
    pub total: i64,
}

/// Households recognised poor (or near-poor) again after a recognised exit under the same
/// standard.
#[utoipa::path(get, path = "/api/v1/re-poverty", tag = "registers",
    params(RePovertyQuery),
    responses(
        (status = 200, body = RePovertyRegister),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn re_poverty(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Registers>,
    ApiQuery(q): ApiQuery<RePovertyQuery>,
) -> Result<Response, ApiError> {
    check_period(q.from, q.to)?;
    check_standard(&state, q.standard.as_deref())?;
    let category = match q.category.as_deref() {
        None => None,
        Some("poor") => Some(Category::Poor),
        Some("near_poor") => Some(Category::NearPoor),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "query parameter category: {other:?} is not poor or near_poor"
            )))
        }
    };
    let filter = RePovertyFilter {
        unit: Some(unit),
        from: q.from,
        to: q.to,
        standard: q.standard.clone(),
        category,
    };
    let list = re_poverty::list(
        &state.pool,
        &filter,
        q.limit.unwrap_or(100),
        q.offset.unwrap_or(0),
    )
    .await
    .map_err(ApiError::unexpected)?;
    let items = list
        .items
        .into_iter()
        .map(|r| RePovertyItem {
            household_id: r.household_id,
            head_name: r.head_name,
            unit_code: r.unit_code,
            standard: r.standard,
            category: r.category.as_str().to_owned(),
            exited_on: r.exited_on,
            exit_decision_no: r.exit_decision_no,
            exited_to: r.exited_to.map(|c| c.as_str().to_owned()),
            fell_back_on: r.fell_back_on,
            fell_back_decision_no: r.fell_back_decision_no,
            fell_back_from: r.fell_back_from.as_str().to_owned(),
            supports_between: r.supports_between,
            supports_between_vnd: r.supports_between_vnd,
            cause: r.cause,
        })
        .collect();
    let items: Vec<RePovertyItem> = items;
    // Names of households: a read of personal data, logged as the trail's is.
    let read = PersonalDataRead(
        items
            .iter()
            .map(|i| (i.household_id, i.unit_code.clone()))
            .collect(),
    );
    Ok(read.attach(Json(RePovertyRegister {
        items,
        total: list.total,
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisbursementQuery {
    /// Unit (with the units below it); default: the user's unit.
    pub unit: Option<String>,
    /// Policy, e.g. `preferential_credit`.
    pub policy: Option<String>,
    /// Funding source, e.g. `central_budget`.
    pub source: Option<String>,
    /// A named fund, e.g. the Fund for the Poor.
    pub fund: Option<String>,
    /// Disbursed on or after this day.
    pub from: Option<NaiveDate>,
    /// Disbursed on or before this day.
    pub to: Option<NaiveDate>,
    /// Only this household's supports.
    pub household: Option<Uuid>,
    /// Also list supports voided by a correction (never counted in totals).
    #[serde(default)]
    pub include_voided: bool,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for DisbursementQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

/// Every support disbursed (corrections applied), with totals; paged.
#[utoipa::path(get, path = "/api/v1/disbursements", tag = "registers",
    params(DisbursementQuery),
    responses(
        (status = 200, body = DisbursementList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn disbursements(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Registers>,
    ApiQuery(q): ApiQuery<DisbursementQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter(unit)?;
    let trail = disbursements::list(
        &state.pool,
        &filter,
        q.limit.unwrap_or(100),
        q.offset.unwrap_or(0),
    )
    .await
    .map_err(ApiError::unexpected)?;
    let read = PersonalDataRead(
        trail
            .items
            .iter()
            .map(|i| (i.household_id, i.unit_code.clone()))
            .collect(),
    );
    Ok(read.attach(Json(trail)))
}

impl DisbursementQuery {
    /// The projection's filter for `unit`, once the parameters are checked (400 naming one).
    fn filter(&self, unit: String) -> Result<DisbursementFilter, ApiError> {
        check_period(self.from, self.to)?;
        check_name("policy", self.policy.as_deref(), &POLICIES)?;
        check_name("source", self.source.as_deref(), &SOURCES)?;
        Ok(DisbursementFilter {
            unit: Some(unit),
            policy: self.policy.as_deref().and_then(parse_enum),
            source: self.source.as_deref().and_then(parse_enum),
            fund: self.fund.clone(),
            from: self.from,
            to: self.to,
            household: self.household,
            include_voided: self.include_voided,
        })
    }
}

/// The sums of the disbursement trail by month, by policy and by funding source and fund, over
/// every support the same filters match (corrections applied, voided supports never counted);
/// `limit`, `offset` and `include_voided` are ignored. It names no household, so it writes no
/// access-log row.
#[utoipa::path(get, path = "/api/v1/disbursements/summary", tag = "registers",
    params(DisbursementQuery),
    responses(
        (status = 200, body = Summary),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn disbursement_summary(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Registers>,
    ApiQuery(q): ApiQuery<DisbursementQuery>,
) -> Result<Json<Summary>, ApiError> {
    let filter = q.filter(unit)?;
    let summary = disbursements::summary(&state.pool, &filter)
        .await
        .map_err(ApiError::unexpected)?;
    Ok(Json(summary))
}

pub const POLICIES: [&str; 13] = [
    "preferential_credit",
    "health_insurance",
    "education",
    "housing",
    "legal_aid",
    "clean_water",
    "electricity_subsidy",
    "monthly_allowance",
    "emergency_aid",
    "vocational_training",
    "job_placement",
    "livelihood",
    "other",
];
pub const SOURCES: [&str; 4] = ["central_budget", "local_budget", "mobilized", "other"];

fn check_name(param: &str, value: Option<&str>, known: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !known.contains(&v) => Err(ApiError::BadRequest(format!(
            "query parameter {param}: unknown value {v:?}; one of {}",
            known.join(", ")
        ))),
        _ => Ok(()),
    }
}

pub fn check_period(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(), ApiError> {
    match (from, to) {
        (Some(f), Some(t)) if t < f => Err(ApiError::BadRequest(format!(
            "query parameter to: {t} is before from {f}"
        ))),
        _ => Ok(()),
    }
}

pub fn check_standard(state: &AppState, standard: Option<&str>) -> Result<(), ApiError> {
    match standard {
        Some(id) if state.standards.get(id).is_none() => {
            let known: Vec<&str> = state.standards.ids().collect();
            Err(ApiError::BadRequest(format!(
                "query parameter standard: unknown standard {id:?}; known: {}",
                known.join(", ")
            )))
        }
        _ => Ok(()),
    }
}
