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
    Area, ClosureReason, HouseholdClosed, HouseholdCommand, HouseholdMoved, HouseholdRegistered,
    HouseholdState, Member, MemberAdded, MemberChangeReason, MemberRemoved, MembersChanged, Sex,
};

use super::auth::{need, Allowed, HouseholdAccess, Permission, PersonalDataRead, UnitAccess};
use super::docs::enums;
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded, HouseholdId, JsonBody, WriteHeaders, MAX_OFFSET};
use super::write::{self, created, unit_of};
use super::AppState;
use ansinh_events::standards::Category;
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
    #[schema(schema_with = enums::sex, example = "female")]
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
    /// The commune the household lives in: a commune-level unit valid on `effective_on`.
    pub unit_code: String,
    #[serde(default)]
    pub hamlet: String,
    #[schema(schema_with = enums::area, example = "rural")]
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

/// A member joining the household.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MemberAddedBody {
    pub member: MemberBody,
    /// `birth`, `marriage`, `moved` or `other`.
    #[schema(schema_with = enums::member_change_reason, example = "birth")]
    pub reason: MemberChangeReason,
}

/// A member leaving, named by name and birth year.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MemberRemovedBody {
    pub name: String,
    pub birth_year: i32,
    /// `death`, `marriage`, `moved` or `other`.
    #[schema(schema_with = enums::member_change_reason, example = "death")]
    pub reason: MemberChangeReason,
}

/// Members join or leave, or the head changes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MembersChangeBody {
    pub changed_on: NaiveDate,
    #[serde(default)]
    pub added: Vec<MemberAddedBody>,
    #[serde(default)]
    pub removed: Vec<MemberRemovedBody>,
    /// The new head, when the head changes (required when the head leaves).
    #[serde(default)]
    pub new_head_name: Option<String>,
}

impl From<MembersChangeBody> for MembersChanged {
    fn from(c: MembersChangeBody) -> MembersChanged {
        MembersChanged {
            changed_on: c.changed_on,
            added: c
                .added
                .into_iter()
                .map(|a| MemberAdded {
                    member: a.member.into(),
                    reason: a.reason,
                })
                .collect(),
            removed: c
                .removed
                .into_iter()
                .map(|r| MemberRemoved {
                    name: r.name,
                    birth_year: r.birth_year,
                    reason: r.reason,
                })
                .collect(),
            new_head_name: c.new_head_name,
        }
    }
}

/// The household's new address.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MoveBody {
    pub moved_on: NaiveDate,
    /// The unit moved to.
    pub unit_code: String,
    pub hamlet: String,
    #[schema(schema_with = enums::area, example = "rural")]
    pub area: Area,
}

impl From<MoveBody> for HouseholdMoved {
    fn from(m: MoveBody) -> HouseholdMoved {
        HouseholdMoved {
            moved_on: m.moved_on,
            unit_code: m.unit_code,
            hamlet: m.hamlet,
            area: m.area,
        }
    }
}

/// Why and when the household's record is closed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ClosureBody {
    pub closed_on: NaiveDate,
    /// `dissolved`, `merged` or `left_province`.
    #[schema(schema_with = enums::closure_reason, example = "dissolved")]
    pub reason: ClosureReason,
    /// The household it merged into, for `merged`.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
    #[serde(default)]
    pub note: Option<String>,
}

impl From<ClosureBody> for HouseholdClosed {
    fn from(c: ClosureBody) -> HouseholdClosed {
        HouseholdClosed {
            closed_on: c.closed_on,
            reason: c.reason,
            merged_into: c.merged_into,
            note: c.note,
        }
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
    /// The category the latest decision's survey proposed (what the decision was checked
    /// against); absent for a baseline carried over without a decision of its own.
    #[schema(example = "poor")]
    pub proposed: Option<String>,
    /// Why the latest decision differs from the proposal (given only when it does).
    pub decision_reason: Option<String>,
}

/// What the latest survey under a standard proposes: what a decision under it is judged
/// against (a decision that differs needs a reason).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalView {
    #[schema(example = "poor")]
    pub category: String,
    /// The survey the proposal comes from (its event sequence) and its date.
    pub survey_sequence: i64,
    pub survey_date: NaiveDate,
    pub period: String,
    pub deprivation_count: u32,
    pub income_per_capita_vnd: i64,
    /// How the domain reached the category, in English.
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub name: String,
    /// Never sent to monitors.
    #[schema(required = false)]
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
    /// The unit's name on the day shown, if the unit is known.
    #[schema(example = "Xã Tân Thành")]
    pub unit_name: Option<String>,
    pub hamlet: String,
    #[schema(example = "rural")]
    pub area: String,
    pub ethnic_minority: bool,
    pub merit_family: bool,
    /// The latest survey found no working capacity.
    pub no_working_capacity: bool,
    pub recently_exited: bool,
    pub registered_on: NaiveDate,
    /// Since when it lives in `unit_code` (registered or moved there): the day the code speaks
    /// of, since the 2025 reform reused codes of old communes for new ones.
    pub placed_on: NaiveDate,
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
    /// Standard id → the proposal of the latest survey under it (the one a decision under
    /// that standard is compared with), for every standard some survey proposed under.
    pub proposals: BTreeMap<String, ProposalView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The state as it was at the end of this day (by effective date, corrections included).
    pub as_of: Option<NaiveDate>,
    /// Auditors: the state as known at the end of this day (only what had been recorded by
    /// then, Vietnam time). Combines with `as_of`.
    pub known_on: Option<NaiveDate>,
}

impl Bounded for AsOf {}

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
    /// For a correctable fact: its corrections, oldest first (the last one counts); absent
    /// when it was never corrected.
    #[schema(required = false)]
    pub corrected_by: Vec<i64>,
    /// Present (`true`) only on a fact a later correction voided.
    #[schema(required = false)]
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
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Events after this sequence (default 0: from the first).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Page size (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl Bounded for HistoryQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("after", self.after, 0, i64::MAX),
            ("limit", self.limit, 1, 1000),
        ]
    }
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
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words of the head's name, any case, with or without diacritics ("nguyen van" finds
    /// "Nguyễn Văn A"; đ ↔ d). Absent: every household (the register list).
    pub name: Option<String>,
    /// Only households in this unit or below it; default: the user's unit.
    pub unit: Option<String>,
    /// Only households in this hamlet (exactly as recorded).
    pub hamlet: Option<String>,
    /// Only households decided under this standard (e.g. `vn-2022-2025`); with `category`,
    /// only those whose current category under it is that one.
    pub standard: Option<String>,
    /// `poor`, `near_poor`, `middle_income` or `not_poor` under `standard` (required with it).
    pub category: Option<String>,
    pub ethnic_minority: Option<bool>,
    /// Family of a person with merit (người có công).
    pub merit_family: Option<bool>,
    /// The latest survey found no working capacity.
    pub no_working_capacity: Option<bool>,
    /// The register as it stood at the end of this day: each household's unit, hamlet,
    /// category, flags and head as of then (by effective date, corrections included, as
    /// `GET /api/v1/households/{id}?as_of=`); only households registered by then. `unit`
    /// filters the unit a household was in on that day, among the households in the user's
    /// units now. Slower than the present register: every household in scope is replayed.
    pub as_of: Option<NaiveDate>,
    /// `name` (default), `unit` or `registered_on`; a leading `-` sorts descending.
    pub sort: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Households to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for SearchParams {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 500),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdSummary {
    pub id: Uuid,
    pub head_name: String,
    pub unit_code: String,
    /// The unit's name (valid on `as_of` when given), if the unit is known.
    #[schema(example = "Xã Tân Thành")]
    pub unit_name: Option<String>,
    pub hamlet: String,
    pub member_count: i32,
    pub registered_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<HouseholdSummary>,
    pub total: i64,
}

// ------------------------------------------------------------------ handlers

/// The register list: households in the user's unit (or a unit below it), optionally found by
/// the head's name and narrowed by hamlet, category under a standard and flags; paged, sorted.
#[utoipa::path(get, path = "/api/v1/households", tag = "households",
    params(SearchParams),
    responses(
        (status = 200, body = SearchResults),
        (status = 400, description = "A query parameter is invalid; `field` names it", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    UnitAccess { unit, auth, .. }: UnitAccess<need::Status>,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> Result<Response, ApiError> {
    let (sort, descending) = parse_sort(q.sort.as_deref())?;
    let category = match q.category.as_deref() {
        None => None,
        Some(c) => Some(Category::parse(c).ok_or_else(|| {
            ApiError::bad_parameter(
                "category",
                "category must be poor, near_poor, middle_income or not_poor",
            )
        })?),
    };
    if category.is_some() && q.standard.is_none() {
        return Err(ApiError::bad_parameter(
            "standard",
            "category needs the standard it is under",
        ));
    }
    let page = status::search(
        &state.pool,
        &status::SearchQuery {
            name: q.name.unwrap_or_default(),
            unit: Some(unit),
            hamlet: q.hamlet,
            standard: q.standard,
            category,
            ethnic_minority: q.ethnic_minority,
            merit_family: q.merit_family,
            no_working_capacity: q.no_working_capacity,
            sort,
            descending,
            limit: q.limit.unwrap_or(50),
            offset: q.offset.unwrap_or(0),
            as_of: q.as_of,
            scope: Some(auth.user().unit_code.clone()),
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
                unit_name: h.unit_name,
                hamlet: h.hamlet,
                member_count: h.member_count,
                registered_on: h.registered_on,
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
    let unit = write::placement_target(
        &state,
        &auth,
        &registration.unit_code,
        effective_on,
        "unit_code",
    )
    .await?;
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
    let current = &current.state;
    let unit = unit_of(current).to_owned();
    let version = current.version();
    let (shown, decisions) = if query.as_of.is_none() && query.known_on.is_none() {
        let decisions = current
            .statuses
            .iter()
            .map(|(standard, s)| (standard.clone(), (s.last_proposed, s.last_reason.clone())))
            .collect();
        (current.clone(), decisions)
    } else {
        let events = state.log.events(id).await?;
        let decisions = latest_decisions(&events, query.as_of, query.known_on);
        (
            time_travel::replay(&events, query.as_of, query.known_on),
            decisions,
        )
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
    let mut view = household_view(status, &shown, version, query.as_of, query.known_on);
    // The name on the day shown (a renamed commune shows its new name), unless a reform ended
    // the commune the household was placed in: then that commune's, not the one that reuses its
    // code.
    view.unit_name = sqlx::query_scalar(
        "SELECT name FROM admin_units a WHERE code = $1
          ORDER BY (valid_from <= $3 AND valid_to < $2 AND valid_to >= $3
                    AND EXISTS (SELECT 1 FROM unit_successions s WHERE s.old_code = a.code
                                   AND s.effective_on = a.valid_to + 1)) DESC,
                   (valid_from <= $2 AND (valid_to IS NULL OR valid_to >= $2)) DESC,
                   valid_from DESC LIMIT 1",
    )
    .bind(&view.unit_code)
    .bind(on)
    .bind(view.placed_on)
    .fetch_optional(&state.pool)
    .await?;
    for (standard, (proposed, reason)) in decisions {
        if let Some(status) = view.status.get_mut(&standard) {
            status.proposed = Some(proposed.as_str().to_owned());
            status.decision_reason = reason;
        }
    }
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
        unit_name: None,
        hamlet: s.hamlet,
        area: s.area.as_str().to_owned(),
        ethnic_minority: s.ethnic_minority,
        merit_family: s.merit_family,
        no_working_capacity: s.no_working_capacity,
        recently_exited: s.recently_exited,
        registered_on: s.registered_on,
        placed_on: s.placed_on,
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
        proposals: proposals(state),
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
                        proposed: None,
                        decision_reason: None,
                    },
                )
            })
            .collect(),
    }
}

/// The latest survey's proposal under each standard some survey proposed under.
fn proposals(state: &HouseholdState) -> BTreeMap<String, ProposalView> {
    let standards: std::collections::BTreeSet<&String> = state
        .surveys
        .values()
        .flat_map(|s| s.proposed.keys())
        .collect();
    standards
        .into_iter()
        .filter_map(|standard| {
            let (sequence, survey) = state.latest_survey_for(standard)?;
            let proposal = survey.proposed.get(standard)?;
            Some((
                standard.clone(),
                ProposalView {
                    category: proposal.category.as_str().to_owned(),
                    survey_sequence: sequence,
                    survey_date: survey.survey_date,
                    period: survey.period.clone(),
                    deprivation_count: proposal.deprivation_count,
                    income_per_capita_vnd: survey.income_per_capita_vnd.get(),
                    explanation: proposal.explanation.clone(),
                },
            ))
        })
        .collect()
}

/// Per standard, the latest decision's proposal and reason among the events shown with this
/// cut (decisions are never corrected; they count from their effective day, as in
/// [`time_travel::replay`], and only once recorded by the end of `known_on`).
fn latest_decisions(
    events: &[ansinh_events::Recorded<ansinh_events::household::HouseholdEvent>],
    as_of: Option<NaiveDate>,
    known_on: Option<NaiveDate>,
) -> BTreeMap<String, (Category, Option<String>)> {
    let known_by = known_on.map(time_travel::end_of_day_in_vietnam);
    let mut latest = BTreeMap::new();
    for e in events {
        if let ansinh_events::household::HouseholdEvent::HouseholdClassified(c) = &e.event {
            if as_of.is_none_or(|day| e.meta.effective_on <= day)
                && known_by.is_none_or(|at| e.meta.recorded_at < at)
            {
                latest.insert(c.standard.clone(), (c.proposed, c.reason.clone()));
            }
        }
    }
    latest
}

/// Every event of a household in sequence order, with envelopes and hashes.
#[utoipa::path(get, path = "/api/v1/households/{id}/history", tag = "households",
    params(("id" = Uuid, Path), HistoryQuery),
    responses(
        (status = 200, body = History, headers(("Link" = String,
            description = "`<…/history?after=N&limit=L>; rel=\"next\"` while more events follow"))),
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
    let (after, limit) = (q.after.unwrap_or(0), q.limit.unwrap_or(1000));
    let page = state
        .log
        .reads()
        .read(|conn| Box::pin(history::page_json_in_unit(conn, id, after, limit)))
        .await?;
    let Some(page) = page else {
        return Err(ApiError::household_not_found(id));
    };
    // The unit comes with the page (one statement, not two); nothing is handed out before the
    // scope check.
    auth.require_household_scope(&state, id, &page.unit_code, Some(page.placed_on))
        .await?;
    let read = PersonalDataRead::one(id, &page.unit_code);
    let response = if super::review::sees_contact(auth.user().role)
        || !super::review::holds_complaint(&page.json)
    {
        // As written from the log, not parsed and written again.
        read.attach(([(header::CONTENT_TYPE, "application/json")], page.json))
    } else {
        // Other readers get the page without complainants' contact details.
        let mut body: serde_json::Value =
            serde_json::from_slice(&page.json).map_err(ApiError::internal)?;
        super::review::hide_contacts(&mut body);
        read.attach(Json(body))
    };
    Ok(next_link(response, id, page.next_after, limit))
}

/// A history page names the next one in a `Link` header (RFC 8288), so a client follows
/// links instead of building URLs; the body's `next_after` says the same.
fn next_link(mut response: Response, id: Uuid, next_after: Option<i64>, limit: i64) -> Response {
    if let Some(after) = next_after {
        let link =
            format!("</api/v1/households/{id}/history?after={after}&limit={limit}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
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
        crate::verify::VerifyError::UnknownHousehold(id) => ApiError::household_not_found(id),
        other => ApiError::unexpected(other),
    })?;
    Ok(Json(Verification {
        intact: report.intact(),
        events: report.events,
        head_hash: household.state.chain.hash.clone(),
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
    params(("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = MembersChangeBody,
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
    let change: MembersChanged = body.parse::<MembersChangeBody>()?.into();
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

/// The household moves to another commune, valid on `moved_on` (the user must cover both the
/// household's current unit and the new one).
#[utoipa::path(post, path = "/api/v1/households/{id}/moves", tag = "households",
    params(("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = MoveBody,
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
    let moved: HouseholdMoved = body.parse::<MoveBody>()?.into();
    // The current unit was checked with the household; the new one must be in scope too.
    let unit =
        write::placement_target(&state, &auth, &moved.unit_code, moved.moved_on, "unit_code")
            .await?;
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
    params(("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ClosureBody,
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
    let closure: HouseholdClosed = body.parse::<ClosureBody>()?.into();
    write::merge_target(&state, &auth, id, closure.merged_into, "merged_into").await?;
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

/// `name`, `unit` or `registered_on`, with `-` in front for descending.
fn parse_sort(sort: Option<&str>) -> Result<(status::SearchSort, bool), ApiError> {
    let Some(sort) = sort else {
        return Ok((status::SearchSort::Name, false));
    };
    let (key, descending) = match sort.strip_prefix('-') {
        Some(key) => (key, true),
        None => (sort, false),
    };
    let by = match key {
        "name" => status::SearchSort::Name,
        "unit" => status::SearchSort::Unit,
        "registered_on" => status::SearchSort::RegisteredOn,
        _ => {
            return Err(ApiError::bad_parameter(
                "sort",
                "sort must be name, unit or registered_on, with - in front for descending",
            ))
        }
    };
    Ok((by, descending))
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
