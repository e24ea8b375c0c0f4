//! The reform of the units seen from the API: the worklist of households of split communes,
//! and an officer's assignment of one of them to a new commune (see [`crate::reform`]).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use ansinh_events::household::{HouseholdCommand, HouseholdMoved};
use ansinh_events::Area;

use super::auth::{need, HouseholdAccess, PersonalDataRead, UnitAccess};
use super::docs::enums;
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded, JsonBody, WriteHeaders, MAX_OFFSET};
use super::households::{version_created, Version};
use super::write;
use super::AppState;
use crate::reform::worklist::{self, Awaiting, Refusal};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reform/worklist", get(reform_worklist))
        .route("/households/{id}/reform-assignment", post(assign))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReformWorklistQuery {
    /// A new commune, or a unit above new communes; default: the user's unit.
    pub unit: Option<String>,
    /// Only this household (whether it awaits assignment, and where it may go).
    pub household_id: Option<uuid::Uuid>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for ReformWorklistQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReformWorklist {
    pub items: Vec<Awaiting>,
    /// Over every household awaiting assignment in the unit, not only this page.
    pub total: i64,
}

/// Households of split old communes that await assignment to one of the new communes that
/// took them over, for the new communes the unit covers; by old commune, hamlet and name.
#[utoipa::path(get, path = "/api/v1/reform/worklist", tag = "households",
    params(ReformWorklistQuery),
    responses(
        (status = 200, body = ReformWorklist),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reform_worklist(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Status>,
    ApiQuery(q): ApiQuery<ReformWorklistQuery>,
) -> Result<Response, ApiError> {
    let (items, total) = worklist::page(
        &state.pool,
        Some(&unit),
        q.household_id,
        q.limit.unwrap_or(50),
        q.offset.unwrap_or(0),
    )
    .await?;
    let read = PersonalDataRead(
        items
            .iter()
            .map(|i| (i.household_id, i.old_code.clone()))
            .collect(),
    );
    Ok(read.attach(Json(ReformWorklist { items, total })))
}

/// An officer's choice of new commune for a household of a split commune.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    /// One of the new communes that took over part of the household's old commune.
    pub unit_code: String,
    /// Why this commune (e.g. the hamlet went to it by the commune's decision).
    pub reason: String,
    /// The hamlet in the new commune; default: the household's hamlet.
    pub hamlet: Option<String>,
    /// Default: the household's area.
    #[schema(schema_with = enums::area)]
    pub area: Option<Area>,
}

/// Assigns a household of a split old commune to one of the new communes that took it over,
/// effective on the reform's first day; the user must cover the household and the new commune.
#[utoipa::path(post, path = "/api/v1/households/{id}/reform-assignment", tag = "households",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = AssignmentBody,
    responses(
        (status = 201, body = Version),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    access: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: AssignmentBody = body.parse()?;
    let unit_code = b.unit_code.trim().to_owned();
    if b.reason.trim().is_empty() {
        return Err(ApiError::invalid_as(
            "empty",
            "reason",
            "say why the household goes to this commune (for example, which hamlet went there)",
        ));
    }
    let effective_on = match worklist::assignment(&state.pool, access.id, &unit_code).await? {
        Ok(day) => day,
        Err(refusal @ Refusal::NotAwaiting) => {
            return Err(ApiError::invalid_as(
                "not_awaiting_assignment",
                "unit_code",
                refusal.to_string(),
            ))
        }
        Err(refusal) => {
            return Err(ApiError::invalid_as(
                "not_a_successor",
                "unit_code",
                refusal.to_string(),
            ))
        }
    };
    let Some(current) = access.state().current.clone() else {
        return Err(ApiError::household_not_found(access.id));
    };
    let unit = write::placement_target(&state, &access.auth, &unit_code, effective_on, "unit_code")
        .await?;
    let legal_basis: String = sqlx::query_scalar(
        "SELECT legal_basis FROM unit_successions
          WHERE old_code = $1 AND new_code = $2 AND effective_on = $3",
    )
    .bind(&current.unit_code)
    .bind(&unit_code)
    .bind(effective_on)
    .fetch_one(&state.pool)
    .await?;
    let command = HouseholdCommand::Reassign {
        moved: HouseholdMoved {
            moved_on: effective_on,
            unit_code,
            hamlet: b.hamlet.unwrap_or(current.hamlet),
            area: b.area.unwrap_or(current.area),
        },
        unit,
        legal_basis,
        reason: Some(b.reason),
    };
    let appended =
        write::execute(&state, &access.auth, access.id, &headers, &body, command).await?;
    Ok(version_created(&appended))
}
