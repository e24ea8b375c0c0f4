//! `/api/v1/households`: registration, status (now or as of a day), history, chain check, and
//! the changes of membership, address and closure.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use ansinh_events::household::{
    Area, HouseholdClosed, HouseholdCommand, HouseholdMoved, HouseholdRegistered, HouseholdState,
    Member, MembersChanged, Sex,
};

use super::auth::{need, Allowed, HouseholdAccess, Permission, PersonalDataRead, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, HouseholdId, JsonBody, WriteHeaders};
use super::write::{self, created, unit_of};
use super::AppState;
use ansinh_projections::{history, status, time_travel};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households", post(register).get(search))
        .route("/households/{id}", get(show))
        .route("/households/{id}/history", get(history))
        .route("/households/{id}/verify", get(verify))
        .route("/households/{id}/member-changes", post(change_members))
        .route("/households/{id}/moves", post(move_household))
        .route("/households/{id}/closure", post(close))
}

// ------------------------------------------------------------------ shapes

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MemberBody {
    pub name: String,
    pub birth_year: i32,
    #[schema(value_type = String, example = "female")]
    pub sex: Sex,
    /// Relation to the head: `head`, `spouse`, `child`, …
    pub relation: String,
    /// CMND (9 digits) or CCCD (12 digits).
    #[serde(default)]
    pub id_number: Option<String>,
}

impl From<MemberBody> for Member {
    fn from(m: MemberBody) -> Member {
        Member {
            name: m.name,
            birth_year: m.birth_year,
            sex: m.sex,
            relation: m.relation,
            id_number: m.id_number,
        }
    }
}

/// A household as registered.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RegisterBody {
    pub head_name: String,
    /// Commune (or any unit) code the household lives in.
    pub unit_code: String,
    #[serde(default)]
    pub hamlet: String,
    #[schema(value_type = String, example = "rural")]
    pub area: Area,
    #[serde(default)]
    pub ethnic_minority: bool,
    /// Family of a person with merit (người có công).
    #[serde(default)]
    pub merit_family: bool,
    pub members: Vec<MemberBody>,
    /// The day the household was registered in the programme.
    pub effective_on: NaiveDate,
}

impl RegisterBody {
    pub fn registration(self) -> (HouseholdRegistered, NaiveDate) {
        (
            HouseholdRegistered {
                head_name: self.head_name,
                unit_code: self.unit_code,
                hamlet: self.hamlet,
                area: self.area,
                ethnic_minority: self.ethnic_minority,
                merit_family: self.merit_family,
                members: self.members.into_iter().map(Member::from).collect(),
            },
            self.effective_on,
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub id: Uuid,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub version: i64,
    /// Sequence of the event recorded.
    pub sequence: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    #[schema(example = "poor")]
    pub category: String,
    /// When the current category was first decided.
    pub since: NaiveDate,
    pub decision_no: String,
    pub last_decided_on: NaiveDate,
    pub last_decision_no: String,
    pub exited_poverty_on: Option<NaiveDate>,
    pub exited_near_poverty_on: Option<NaiveDate>,
    /// Exited poverty within the last 36 months (judged on `as_of`, else today).
    pub recently_exited: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub name: String,
    /// Never sent to monitors.
    pub birth_year: i32,
    pub sex: String,
    pub relation: String,
    /// Never sent to monitors.
    pub id_number: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdView {
    pub id: Uuid,
    pub head_name: String,
    pub unit_code: String,
    pub hamlet: String,
    #[schema(example = "rural")]
    pub area: String,
    pub ethnic_minority: bool,
    pub merit_family: bool,
    /// The latest survey found no working capacity.
    pub no_working_capacity: bool,
    pub recently_exited: bool,
    pub registered_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub member_count: i64,
    pub members: Vec<MemberView>,
    /// The household's current version (for `If-Match`), also with `as_of` / `known_on`.
    pub version: i64,
    /// The latest event the state shown includes.
    pub version_shown: i64,
    /// The day the state is given for, when asked with `as_of`.
    pub as_of: Option<NaiveDate>,
    /// The day the state is given as known on, when asked with `known_on`.
    pub known_on: Option<NaiveDate>,
    /// Standard id → the household's standing under it.
    pub status: BTreeMap<String, StatusView>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AsOf {
    /// The state as it was at the end of this day (by effective date, corrections included).
    pub as_of: Option<NaiveDate>,
    /// Auditors: the state as known at the end of this day (only what had been recorded by
    /// then, Vietnam time). Combines with `as_of`.
    pub known_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// The user's name.
    pub user: String,
    pub user_id: Uuid,
    pub role: String,
    pub unit: String,
}

/// What a correction corrects.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectsView {
    pub sequence: i64,
    pub original_sequence: i64,
    #[serde(rename = "type")]
    pub type_name: String,
}

/// One event of the trail (documentation of the shape `ansinh_projections::history` gives).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    pub sequence: i64,
    #[serde(rename = "type")]
    #[schema(example = "household_registered")]
    pub kind: String,
    pub effective_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub actor: ActorView,
    pub reason: Option<String>,
    pub decision_no: Option<String>,
    pub legal_basis: Option<String>,
    /// `{"kind": "api"}`, `{"kind": "import", "batch_id": ...}`, …
    #[schema(value_type = Object)]
    pub source: Value,
    pub correlation_id: Uuid,
    #[schema(value_type = Object)]
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
    /// For a correction: what it corrects.
    pub corrects: Option<CorrectsView>,
    /// For a correctable fact: its corrections, oldest first (the last one counts).
    pub corrected_by: Vec<i64>,
    /// A fact a later correction voided.
    pub voided: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub household_id: Uuid,
    pub events: Vec<HistoryEvent>,
    /// The household's number of events.
    pub total: i64,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Events after this sequence (default 0: from the first).
    pub after: Option<i64>,
    /// Page size (default and maximum 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenLink {
    pub sequence: i64,
    pub problem: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub intact: bool,
    pub events: u64,
    pub head_hash: String,
    pub broken: Vec<BrokenLink>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Words of the head's name, any case, with or without diacritics ("nguyen van" finds
    /// "Nguyễn Văn A"; đ ↔ d).
    pub name: String,
    /// Only households in this unit or below it; default: the user's unit.
    pub unit: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdSummary {
    pub id: Uuid,
    pub head_name: String,
    pub unit_code: String,
    pub hamlet: String,
    pub member_count: i32,
    pub closed_on: Option<NaiveDate>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<HouseholdSummary>,
    pub total: i64,
}

// ------------------------------------------------------------------ handlers

/// Find households by the head's name, in the user's unit (or a unit below it).
#[utoipa::path(get, path = "/api/v1/households", tag = "households",
    params(SearchParams),
    responses(
        (status = 200, body = SearchResults),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Status>,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> Result<Response, ApiError> {
    let page = status::search(
        &state.pool,
        &status::SearchQuery {
            name: q.name,
            unit: Some(unit),
            limit: q.limit.unwrap_or(50),
            offset: q.offset.unwrap_or(0),
        },
    )
    .await?;
    let read = PersonalDataRead(
        page.items
            .iter()
            .map(|h| (h.id, h.unit_code.clone()))
            .collect(),
    );
    let results = SearchResults {
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|h| HouseholdSummary {
                id: h.id,
                head_name: h.head_name,
                unit_code: h.unit_code,
                hamlet: h.hamlet,
                member_count: h.member_count,
                closed_on: h.closed_on,
                version: h.version,
            })
            .collect(),
    };
    Ok(read.attach(Json(results)))
}

/// Register a household.
#[utoipa::path(post, path = "/api/v1/households", tag = "households",
    request_body = RegisterBody,
    params(
        ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\"; 409 when stale"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body returns the first response"),
    ),
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid; `field` names it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let input: RegisterBody = body.parse()?;
    let (registration, effective_on) = input.registration();
    let unit = write::unit_validity(&state, &registration.unit_code, effective_on).await?;
    if unit.is_some() {
        auth.require_scope(&state, registration.unit_code.trim())
            .await?;
    }
    let appended = write::execute(
        &state,
        &auth,
        Uuid::now_v7(),
        &headers,
        &body,
        HouseholdCommand::Register {
            registration,
            effective_on,
            unit,
        },
    )
    .await?;
    let mut response = created(
        &appended,
        Registered {
            id: appended.household_id,
            version: appended.version,
        },
    );
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/households/{}", appended.household_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A household's profile and status under each standard, now or at the end of `as_of`.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "households",
    params(("id" = Uuid, Path), AsOf),
    responses(
        (status = 200, body = HouseholdView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    access: HouseholdAccess<need::Status>,
    ApiQuery(query): ApiQuery<AsOf>,
) -> Result<Response, ApiError> {
    let HouseholdAccess {
        id,
        household: current,
        auth,
        ..
    } = access;
    if query.known_on.is_some() {
        auth.require(Permission::ReadAsKnown)?;
    }
    let current = &current.log.state;
    let unit = unit_of(current).to_owned();
    let version = current.version();
    let shown = if query.as_of.is_none() && query.known_on.is_none() {
        current.clone()
    } else {
        let events = state.log.events(id).await?;
        time_travel::replay(&events, query.as_of, query.known_on)
    };
    let on = query
        .as_of
        .or(query.known_on)
        .unwrap_or_else(ansinh_projections::log::today_in_vietnam);
    let Some(status) = status::from_state(id, &shown, on) else {
        return Err(ApiError::NotFound(format!(
            "household {id} was not yet registered then"
        )));
    };
    let view = household_view(status, &shown, version, query.as_of, query.known_on);
    let mut response = Json(view).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(PersonalDataRead::one(id, &unit).attach(response))
}

fn household_view(
    s: status::HouseholdStatus,
    state: &HouseholdState,
    version: i64,
    as_of: Option<NaiveDate>,
    known_on: Option<NaiveDate>,
) -> HouseholdView {
    let members = state
        .current
        .as_ref()
        .map(|c| c.members.as_slice())
        .unwrap_or_default();
    HouseholdView {
        id: s.id,
        head_name: s.head_name,
        unit_code: s.unit_code,
        hamlet: s.hamlet,
        area: s.area.as_str().to_owned(),
        ethnic_minority: s.ethnic_minority,
        merit_family: s.merit_family,
        no_working_capacity: s.no_working_capacity,
        recently_exited: s.recently_exited,
        registered_on: s.registered_on,
        closed_on: s.closed_on,
        member_count: s.member_count,
        members: members
            .iter()
            .map(|m| MemberView {
                name: m.name.clone(),
                birth_year: m.birth_year,
                sex: match m.sex {
                    Sex::Female => "female",
                    Sex::Male => "male",
                }
                .to_owned(),
                relation: m.relation.clone(),
                id_number: m.id_number.clone(),
            })
            .collect(),
        version,
        version_shown: s.version,
        as_of,
        known_on,
        status: s
            .status
            .into_iter()
            .map(|(standard, st)| {
                (
                    standard,
                    StatusView {
                        category: st.category.as_str().to_owned(),
                        since: st.since,
                        decision_no: st.decision_no,
                        last_decided_on: st.last_decided_on,
                        last_decision_no: st.last_decision_no,
                        exited_poverty_on: st.exited_poverty_on,
                        exited_near_poverty_on: st.exited_near_poverty_on,
                        recently_exited: st.recently_exited,
                    },
                )
            })
            .collect(),
    }
}

/// Every event of a household in sequence order, with envelopes and hashes.
#[utoipa::path(get, path = "/api/v1/households/{id}/history", tag = "households",
    params(("id" = Uuid, Path), HistoryQuery),
    responses(
        (status = 200, body = History),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::History>,
    HouseholdId(id): HouseholdId,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let found = history::page_in_unit::<history::RawData>(
        &state.pool,
        id,
        q.after.unwrap_or(0).max(0),
        q.limit.unwrap_or(1000),
    )
    .await?;
    let Some(history::PageInUnit {
        unit_code: Some(unit),
        page,
    }) = found
    else {
        return Err(ApiError::NotFound(format!("household {id} was not found")));
    };
    // The unit comes with the page (one statement, not two); nothing is handed out before the
    // scope check.
    auth.require_scope(&state, &unit).await?;
    Ok(PersonalDataRead::one(id, &unit).attach(Json(page)))
}

/// Recompute the household's hash chain.
#[utoipa::path(get, path = "/api/v1/households/{id}/verify", tag = "households",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Verification),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    access: HouseholdAccess<need::Verify>,
) -> Result<Json<Verification>, ApiError> {
    let HouseholdAccess { id, household, .. } = access;
    let report = crate::verify::verify(
        &state.pool,
        Some(id),
        None,
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .map_err(|e| match e {
        crate::verify::VerifyError::UnknownHousehold(id) => {
            ApiError::NotFound(format!("household {id} was not found"))
        }
        other => ApiError::unexpected(other),
    })?;
    Ok(Json(Verification {
        intact: report.intact(),
        events: report.events,
        head_hash: household.log.state.chain.hash.clone(),
        broken: report
            .broken
            .into_iter()
            .map(|b| BrokenLink {
                sequence: b.first_bad_sequence,
                problem: b.problem,
            })
            .collect(),
    }))
}

/// Members join or leave (birth, death, marriage, moving), or the head changes.
#[utoipa::path(post, path = "/api/v1/households/{id}/member-changes", tag = "households",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`{\"changed_on\", \"added\": [{\"member\": {...}, \"reason\"}], \"removed\": [{\"name\", \"birth_year\", \"reason\"}], \"new_head_name\"}`"),
    responses(
        (status = 201, body = Version),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn change_members(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let change: MembersChanged = body.parse()?;
    let appended = write::execute(
        &state,
        &auth,
        id,
        &headers,
        &body,
        HouseholdCommand::ChangeMembers(change),
    )
    .await?;
    Ok(version_created(&appended))
}

/// The household moves to another unit (the user must cover its current unit).
#[utoipa::path(post, path = "/api/v1/households/{id}/moves", tag = "households",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`{\"moved_on\", \"unit_code\", \"hamlet\", \"area\"}`"),
    responses(
        (status = 201, body = Version),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn move_household(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let moved: HouseholdMoved = body.parse()?;
    let unit = write::unit_validity(&state, &moved.unit_code, moved.moved_on).await?;
    let appended = write::execute(
        &state,
        &auth,
        id,
        &headers,
        &body,
        HouseholdCommand::Move { moved, unit },
    )
    .await?;
    Ok(version_created(&appended))
}

/// The household is dissolved, merged into another or leaves the province.
#[utoipa::path(post, path = "/api/v1/households/{id}/closure", tag = "households",
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`{\"closed_on\", \"reason\": \"dissolved|merged|left_province\", \"merged_into\", \"note\"}`"),
    responses(
        (status = 201, body = Version),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let closure: HouseholdClosed = body.parse()?;
    let appended = write::execute(
        &state,
        &auth,
        id,
        &headers,
        &body,
        HouseholdCommand::Close(closure),
    )
    .await?;
    Ok(version_created(&appended))
}

pub fn version_created(appended: &crate::store::Appended) -> Response {
    created(
        appended,
        Version {
            version: appended.version,
            sequence: write::first_sequence(appended),
        },
    )
}
