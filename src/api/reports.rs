//! `/api/v1/reports/movements`: the poor and near-poor movement tables of a unit and period.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use ansinh_projections::movements;

use super::auth::{need, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded};
use super::registers::{check_period, check_standard};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/reports/movements", get(movements))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    /// Unit (with the units below it); default: the user's unit.
    pub unit: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Standard id (default `vn-2022-2025`).
    pub standard: Option<String>,
}

impl Bounded for MovementQuery {}

/// The movement report of a unit (with the units below it) for a period under one standard.
#[utoipa::path(get, path = "/api/v1/reports/movements", tag = "reports",
    params(MovementQuery),
    responses(
        (status = 200, body = movements::MovementReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn movements(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Reports>,
    ApiQuery(q): ApiQuery<MovementQuery>,
) -> Result<Json<movements::MovementReport>, ApiError> {
    check_period(Some(q.from), Some(q.to))?;
    let standard = q
        .standard
        .clone()
        .unwrap_or_else(|| DEFAULT_STANDARD.into());
    check_standard(&state, Some(&standard))?;
    // The movement counts are kept by the asynchronous runner: bring them up to the log first,
    // so a report reads every event recorded before it was asked for.
    crate::rebuild::catch_up(&state.pool).await?;
    let report = movements::report(&state.pool, &unit, q.from, q.to, &standard)
        .await
        .map_err(|e| match e {
            movements::ReportError::UnknownUnit(_) | movements::ReportError::BadPeriod { .. } => {
                ApiError::BadRequest(e.to_string())
            }
            other => ApiError::unexpected(other),
        })?;
    Ok(Json(report))
}

const DEFAULT_STANDARD: &str = "vn-2022-2025";
