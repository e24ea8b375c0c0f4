//! Funds (`/api/v1/funds`): opening, receipts, allocations, transfers and closure by a district
//! or province officer of the managing unit; the funds, their allocations and their
//! reconciliation for officers, auditors and monitors whose unit reaches them.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use ansinh_events::fund::{
    AllocatedToUnit, AllocationTransferred, FundClosed, FundCommand, FundError, FundEvent,
    FundOpened, MoneyReceived,
};
use ansinh_events::household::FundingSource;
use ansinh_events::{CommandContext, Source, Vnd};

use super::auth::{need, Allowed, AuthUser};
use super::docs::enums;
use super::error::{ApiError, Problem};
use super::extract::{uuid_path, ApiQuery, Bounded, JsonBody, WriteHeaders};
use super::reports::{Download, ExportLang, ReportFormat};
use super::AppState;
use crate::export;
use crate::funds::reconcile::{self, Period, Reconciliation};
use crate::funds::store::{AllocationRow, FundAppended, FundRow, FundStore, FundStoreError};
use crate::web::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/funds", post(open).get(list))
        .route("/funds/{id}", get(show))
        .route("/funds/{id}/receipts", post(receive))
        .route("/funds/{id}/allocations", post(allocate))
        .route("/funds/{id}/transfers", post(transfer))
        .route("/funds/{id}/closure", post(close))
        .route("/funds/{id}/reconciliation", get(reconciliation))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FundOpenBody {
    pub name: String,
    #[schema(schema_with = enums::funding_source, example = "mobilized")]
    pub funding_source: FundingSource,
    /// The unit whose district or province officers manage the fund.
    pub managing_unit: String,
    pub legal_basis: String,
    pub valid_from: NaiveDate,
    /// Open-ended when left out.
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FundReceiptBody {
    #[schema(value_type = i64, minimum = 1)]
    pub amount_vnd: Vnd,
    pub received_on: NaiveDate,
    pub decision_no: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FundAllocationBody {
    /// A unit under the fund's managing unit.
    pub unit_code: String,
    #[schema(value_type = i64, minimum = 1)]
    pub amount_vnd: Vnd,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FundTransferBody {
    pub from_unit: String,
    pub to_unit: String,
    #[schema(value_type = i64, minimum = 1)]
    pub amount_vnd: Vnd,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FundClosureBody {
    pub closed_on: NaiveDate,
    pub decision_no: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundVersion {
    pub id: Uuid,
    pub version: i64,
}

/// A fund with its allocations and its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundDetail {
    #[serde(flatten)]
    pub fund: FundRow,
    pub allocated_vnd: i64,
    pub allocations: Vec<AllocationRow>,
    /// The fund's events, oldest first: `{"sequence","type","data","recorded_at","actor"}`.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundList {
    pub items: Vec<FundRow>,
    pub total: i64,
}

/// The `{id}` of a fund route (400 naming `id` when it is no UUID).
pub struct FundId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for FundId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        uuid_path(parts, state, "fund").await.map(FundId)
    }
}

impl From<FundStoreError> for ApiError {
    fn from(e: FundStoreError) -> Self {
        match e {
            FundStoreError::Domain(d) => match (d.field(), &d) {
                (_, FundError::NotOpened) => ApiError::NotFound(d.to_string()),
                (_, FundError::Closed { .. }) => ApiError::Conflict {
                    detail: d.to_string(),
                    current_version: None,
                    code: "fund_closed",
                },
                (Some(field), _) => ApiError::invalid_as(d.code(), field, d.to_string()),
                (None, _) => ApiError::internal(d),
            },
            FundStoreError::NotFound(id) => ApiError::NotFound(format!("fund {id} was not found")),
            FundStoreError::Conflict(_) => ApiError::Conflict {
                detail: e.to_string(),
                current_version: None,
                code: "fund_changed",
            },
            FundStoreError::Stale { actual, .. } => ApiError::Conflict {
                detail: e.to_string(),
                current_version: Some(actual),
                code: "stale_version",
            },
            FundStoreError::IdempotencyKeyReused => {
                ApiError::invalid_as("idempotency_key_reused", "Idempotency-Key", e.to_string())
            }
            FundStoreError::Database(e) => e.into(),
            FundStoreError::Corrupt(_) => ApiError::internal(e),
        }
    }
}

/// The fund of the route's `{id}`, readable by this user: the user's unit covers the managing
/// unit, or the managing unit covers the user's (a province fund seen from a commune); 404
/// either way otherwise.
async fn readable(
    state: &AppState,
    auth: &AuthUser,
    parts_id: Uuid,
) -> Result<(FundRow, bool), ApiError> {
    let not_found = || ApiError::NotFound(format!("fund {parts_id} was not found"));
    let fund = FundStore::new(state.pool.clone())
        .get(parts_id)
        .await?
        .ok_or_else(not_found)?;
    let manages = auth.covers(state, &fund.managing_unit, None).await?;
    let below = state
        .coverage
        .covers(
            &state.pool,
            &fund.managing_unit,
            &auth.user().unit_code,
            None,
        )
        .await?;
    if manages || below {
        Ok((fund, manages))
    } else {
        Err(not_found())
    }
}

fn context(
    auth: &AuthUser,
    fund_id: Uuid,
    headers: &WriteHeaders,
    body: &JsonBody,
) -> CommandContext {
    let mut ctx = CommandContext::new(fund_id, auth.actor(), Source::Api, Utc::now());
    ctx.idempotency = super::write::idempotency(auth, headers, body);
    ctx
}

/// A 201 with `ETag: "VERSION"`, marked when it replays an earlier request's result.
fn created(appended: &FundAppended) -> Response {
    super::write::created_at(
        appended.version,
        appended.replayed,
        FundVersion {
            id: appended.fund_id,
            version: appended.version,
        },
    )
}

/// Open a fund managed by a unit in the user's scope.
#[utoipa::path(post, path = "/api/v1/funds", tag = "funds",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the first response and opens no second fund")),
    request_body = FundOpenBody,
    responses(
        (status = 201, body = FundVersion),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn open(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Funds>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: FundOpenBody = body.parse()?;
    let unit = b.managing_unit.trim().to_owned();
    if unit.is_empty() {
        return Err(ApiError::invalid_as(
            "required",
            "managing_unit",
            "managing_unit must not be empty",
        ));
    }
    if ansinh_projections::units::by_code(&state.pool, &unit)
        .await?
        .is_empty()
    {
        return Err(ApiError::invalid_as(
            "unknown_unit",
            "managing_unit",
            format!("administrative unit {unit} is not known"),
        ));
    }
    auth.require_scope(&state, &unit, None).await?;
    let id = Uuid::now_v7();
    let appended = FundStore::new(state.pool.clone())
        .execute(
            &context(&auth, id, &headers, &body),
            FundCommand::Open(FundOpened {
                name: b.name,
                funding_source: b.funding_source,
                managing_unit: unit,
                legal_basis: b.legal_basis,
                valid_from: b.valid_from,
                valid_to: b.valid_to,
            }),
            None,
        )
        .await?;
    Ok(created(&appended))
}

/// The fund of `{id}` for a manager: readable, and its managing unit in the user's scope (403).
async fn managed(state: &AppState, auth: &AuthUser, id: Uuid) -> Result<FundRow, ApiError> {
    let (fund, manages) = readable(state, auth, id).await?;
    if !manages {
        return Err(ApiError::Forbidden(format!(
            "fund {id} is managed by unit {}, outside the scope of this user (unit {})",
            fund.managing_unit,
            auth.user().unit_code
        )));
    }
    Ok(fund)
}

/// A command on an existing fund, with the request's `If-Match` and `Idempotency-Key`.
async fn run(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    (headers, body): (&WriteHeaders, &JsonBody),
    command: FundCommand,
) -> Result<Response, ApiError> {
    let appended = FundStore::new(state.pool.clone())
        .execute(&context(auth, id, headers, body), command, headers.if_match)
        .await?;
    Ok(created(&appended))
}

/// Record money the fund received.
#[utoipa::path(post, path = "/api/v1/funds/{id}/receipts", tag = "funds",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "Expected fund version, e.g. \"3\"; 409 when stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the first response and records nothing")),
    request_body = FundReceiptBody,
    responses((status = 201, body = FundVersion),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn receive(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Funds>,
    FundId(id): FundId,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    managed(&state, &auth, id).await?;
    let b: FundReceiptBody = body.parse()?;
    run(
        &state,
        &auth,
        id,
        (&headers, &body),
        FundCommand::Receive(MoneyReceived {
            amount_vnd: b.amount_vnd,
            received_on: b.received_on,
            decision_no: b.decision_no,
        }),
    )
    .await
}

/// The unit must lie under the fund's managing unit (422 on `field`).
async fn under_fund(
    state: &AppState,
    fund: &FundRow,
    unit: &str,
    field: &str,
) -> Result<String, ApiError> {
    let unit = unit.trim().to_owned();
    if unit.is_empty() {
        return Err(ApiError::invalid_as(
            "required",
            field,
            format!("{field} must not be empty"),
        ));
    }
    let under = state
        .coverage
        .covers(&state.pool, &fund.managing_unit, &unit, None)
        .await?;
    if !under {
        return Err(ApiError::invalid_as(
            "unit_outside_fund",
            field,
            format!(
                "unit {unit} is not a unit under the fund's managing unit {}",
                fund.managing_unit
            ),
        ));
    }
    Ok(unit)
}

/// Allocate part of what the fund received to a unit under its managing unit.
#[utoipa::path(post, path = "/api/v1/funds/{id}/allocations", tag = "funds",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "Expected fund version, e.g. \"3\"; 409 when stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the first response and records nothing")),
    request_body = FundAllocationBody,
    responses((status = 201, body = FundVersion),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn allocate(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Funds>,
    FundId(id): FundId,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let fund = managed(&state, &auth, id).await?;
    let b: FundAllocationBody = body.parse()?;
    let unit_code = under_fund(&state, &fund, &b.unit_code, "unit_code").await?;
    run(
        &state,
        &auth,
        id,
        (&headers, &body),
        FundCommand::Allocate(AllocatedToUnit {
            unit_code,
            amount_vnd: b.amount_vnd,
            decided_on: b.decided_on,
            decision_no: b.decision_no,
        }),
    )
    .await
}

/// Move part of one unit's allocation (what supports have not drawn) to another unit.
#[utoipa::path(post, path = "/api/v1/funds/{id}/transfers", tag = "funds",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "Expected fund version, e.g. \"3\"; 409 when stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the first response and records nothing")),
    request_body = FundTransferBody,
    responses((status = 201, body = FundVersion),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn transfer(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Funds>,
    FundId(id): FundId,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let fund = managed(&state, &auth, id).await?;
    let b: FundTransferBody = body.parse()?;
    let from_unit = under_fund(&state, &fund, &b.from_unit, "from_unit").await?;
    let to_unit = under_fund(&state, &fund, &b.to_unit, "to_unit").await?;
    run(
        &state,
        &auth,
        id,
        (&headers, &body),
        FundCommand::Transfer {
            transfer: AllocationTransferred {
                from_unit,
                to_unit,
                amount_vnd: b.amount_vnd,
                decided_on: b.decided_on,
                decision_no: b.decision_no,
            },
            drawn_from: 0,
        },
    )
    .await
}

/// Close the fund: no support may draw on it from `closed_on`.
#[utoipa::path(post, path = "/api/v1/funds/{id}/closure", tag = "funds",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "Expected fund version, e.g. \"3\"; 409 when stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the first response and records nothing")),
    request_body = FundClosureBody,
    responses((status = 201, body = FundVersion),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Funds>,
    FundId(id): FundId,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    managed(&state, &auth, id).await?;
    let b: FundClosureBody = body.parse()?;
    run(
        &state,
        &auth,
        id,
        (&headers, &body),
        FundCommand::Close(FundClosed {
            closed_on: b.closed_on,
            decision_no: b.decision_no,
            reason: b.reason,
        }),
    )
    .await
}

/// The funds the user's unit reaches: those it manages and those managed above it.
#[utoipa::path(get, path = "/api/v1/funds", tag = "funds",
    responses((status = 200, body = FundList),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ReadFunds>,
) -> Result<Json<FundList>, ApiError> {
    let mut items = Vec::new();
    for fund in FundStore::new(state.pool.clone()).list().await? {
        let manages = auth.covers(&state, &fund.managing_unit, None).await?;
        let below = state
            .coverage
            .covers(
                &state.pool,
                &fund.managing_unit,
                &auth.user().unit_code,
                None,
            )
            .await?;
        if manages || below {
            items.push(fund);
        }
    }
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(Json(FundList { items, total }))
}

/// A fund, its allocations and its history.
#[utoipa::path(get, path = "/api/v1/funds/{id}", tag = "funds",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = FundDetail),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ReadFunds>,
    FundId(id): FundId,
) -> Result<Json<FundDetail>, ApiError> {
    let (fund, _) = readable(&state, &auth, id).await?;
    let store = FundStore::new(state.pool.clone());
    let allocations = store.allocations(id).await?;
    let history = store
        .events(id)
        .await?
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "sequence": e.meta.sequence,
                "type": e.event.type_name(),
                "data": serde_json::to_value(&e.event).map(|v| v["data"].clone()).unwrap_or(Value::Null),
                "effective_on": e.meta.effective_on,
                "decision_no": e.meta.decision_no,
                "recorded_at": e.meta.recorded_at,
                "actor": e.meta.actor.name,
            })
        })
        .collect();
    Ok(Json(FundDetail {
        allocated_vnd: allocations.iter().map(|a| a.allocated_vnd).sum(),
        fund,
        allocations,
        history,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// Unit (with the units below it); default: the whole fund for its managers, the user's
    /// unit for anyone else.
    pub unit: Option<String>,
    /// From this day (disbursed, received, decided).
    pub from: Option<NaiveDate>,
    /// Up to this day.
    pub to: Option<NaiveDate>,
    /// `json` (default), `csv` or `xlsx`: the total row (the JSON's figures), then one row per
    /// allocated unit.
    #[param(inline)]
    pub format: Option<ReportFormat>,
    /// Language of the CSV / XLSX headers: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<ExportLang>,
}

impl Bounded for ReconciliationQuery {}

/// Received, allocated, disbursed, corrected, voided and balance of a fund over a unit and a
/// period; `disbursed_vnd` equals the disbursement trail's total for `fund`, `unit`, `from`,
/// `to`.
#[utoipa::path(get, path = "/api/v1/funds/{id}/reconciliation", tag = "funds",
    params(("id" = uuid::Uuid, Path), ReconciliationQuery),
    responses(
        (status = 200, description = "The reconciliation as JSON, CSV or XLSX (see `format`)",
            content(
            (Reconciliation = "application/json"),
            (inline(Download) = "text/csv"),
            (inline(Download) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reconciliation(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::ReadFunds>,
    FundId(id): FundId,
    ApiQuery(q): ApiQuery<ReconciliationQuery>,
) -> Result<Response, ApiError> {
    let r = reconciliation_of(&state, &auth, id, &q).await?;
    let lang = Lang::from(q.lang.unwrap_or_default());
    Ok(match q.format.unwrap_or_default() {
        ReportFormat::Json => Json(r).into_response(),
        ReportFormat::Csv => export::reconciliation::respond(&r, export::Format::Csv, lang).await,
        ReportFormat::Xlsx => export::reconciliation::respond(&r, export::Format::Xlsx, lang).await,
    })
}

/// The reconciliation a user may see (shared with the export and the pages).
pub async fn reconciliation_of(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
    q: &ReconciliationQuery,
) -> Result<Reconciliation, ApiError> {
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ApiError::bad_parameter(
                "to",
                "query parameter to: before from",
            ));
        }
    }
    let (_, manages) = readable(state, auth, id).await?;
    let unit = q
        .unit
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| (!manages).then(|| auth.user().unit_code.clone()));
    if let Some(u) = &unit {
        if !auth.covers(state, u, None).await? {
            return Err(ApiError::Forbidden(format!(
                "unit {u} is outside the scope of this user (unit {})",
                auth.user().unit_code
            )));
        }
    }
    let events: Vec<FundEvent> = FundStore::new(state.pool.clone())
        .events(id)
        .await?
        .into_iter()
        .map(|e| e.event)
        .collect();
    let period = Period {
        from: q.from,
        to: q.to,
    };
    Ok(reconcile::load(&state.pool, id, &events, unit.as_deref(), &period).await?)
}
