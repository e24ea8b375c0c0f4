//! `/api/v1/users` (admins create, change and disable users in their unit) and `/api/v1/access-log` (auditors read
//! who looked at whose personal data, for the households of their unit).

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::access_log::AccessLogEntry;
use super::auth::{need, Allowed, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded, JsonBody, UserId, MAX_OFFSET};
use super::AppState;
use crate::users::{self, Role, UserError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", post(create_user).get(list_users))
        .route("/users/{id}", patch(update_user))
        .route("/units", post(import_units).get(list_units))
        .route("/access-log", get(access_log))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    /// The unit the user acts for; it must lie within the admin's unit.
    pub unit_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub unit_code: String,
    /// The bearer token, shown this once (only its SHA-256 is stored).
    pub token: String,
}

/// Create a user (admins, within their unit).
#[utoipa::path(post, path = "/api/v1/users", tag = "administration",
    request_body = NewUser,
    responses(
        (status = 201, body = CreatedUser),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Users>,
    body: JsonBody,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let input: NewUser = body.parse()?;
    let unit = input.unit_code.trim();
    require_known_unit(&state, unit).await?;
    auth.require_scope(&state, unit, None).await?;
    let (user, token) = users::create(&state.pool, &input.name, input.role, unit)
        .await
        .map_err(|e| match e {
            UserError::EmptyName | UserError::NameTooLong(_) => {
                ApiError::invalid("name", e.to_string())
            }
            UserError::UnknownUnit(_) => ApiError::invalid("unit_code", e.to_string()),
            UserError::UnknownRole(_) => ApiError::invalid("role", e.to_string()),
            other => ApiError::unexpected(other),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            id: user.id,
            name: user.name,
            role: user.role,
            unit_code: user.unit_code,
            token,
        }),
    ))
}

/// 422 on `unit_code` unless some administrative unit has this code.
async fn require_known_unit(state: &AppState, unit: &str) -> Result<(), ApiError> {
    if ansinh_projections::units::by_code(&state.pool, unit)
        .await?
        .is_empty()
    {
        return Err(ApiError::invalid(
            "unit_code",
            format!("no administrative unit has code {unit:?}"),
        ));
    }
    Ok(())
}

/// What changes about a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    pub role: Option<Role>,
    /// Must lie within the admin's unit.
    pub unit_code: Option<String>,
    /// `true`: the user's token is refused from now on; `false`: accepted again.
    pub disabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub unit_code: String,
    pub disabled: bool,
}

/// Change a user's role or unit, or disable it (admins, for users within their unit). Takes
/// effect at once on this server; other server processes see it within five seconds.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "administration",
    params(("id" = Uuid, Path)),
    request_body = UserChanges,
    responses(
        (status = 200, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Users>,
    UserId(id): UserId,
    body: JsonBody,
) -> Result<Json<UserView>, ApiError> {
    let changes: UserChanges = body.parse()?;
    let not_found = || ApiError::NotFound(format!("user {id} was not found"));
    let current = users::by_id(&state.pool, id).await?.ok_or_else(not_found)?;
    auth.require_scope(&state, &current.user.unit_code, None)
        .await?;
    let unit_code = changes.unit_code.map(|u| u.trim().to_owned());
    if let Some(unit) = &unit_code {
        require_known_unit(&state, unit).await?;
        auth.require_scope(&state, unit, None).await?;
    }
    let changes = users::Changes {
        role: changes.role,
        unit_code,
        disabled: changes.disabled,
    };
    let updated = users::update(&state.pool, id, &changes)
        .await
        .map_err(|e| match e {
            UserError::UnknownUnit(_) => ApiError::invalid("unit_code", e.to_string()),
            UserError::UnitNotValidToday { .. } => {
                ApiError::invalid_as("unit_not_valid", "unit_code", e.to_string())
            }
            other => ApiError::unexpected(other),
        })?;
    // Committed: the user's next request is authenticated afresh.
    state.users.forget(id);
    let account = updated.ok_or_else(not_found)?;
    Ok(Json(UserView {
        id: account.user.id,
        name: account.user.name,
        role: account.user.role,
        unit_code: account.user.unit_code,
        disabled: account.disabled,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Users of this unit and the units below it (default: the admin's unit).
    pub unit: Option<String>,
    /// Only names containing this text (case-insensitive).
    pub name: Option<String>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for UserListQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct UserListItem {
    pub id: Uuid,
    pub name: String,
    /// One of the roles of `NewUser.role`.
    pub role: String,
    pub unit_code: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserListItem>,
    pub total: i64,
}

/// The users of a unit and the units below it, by name (admins, within their unit).
#[utoipa::path(get, path = "/api/v1/users", tag = "administration",
    params(UserListQuery),
    responses(
        (status = 200, body = UserList),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Users>,
    ApiQuery(q): ApiQuery<UserListQuery>,
) -> Result<Json<UserList>, ApiError> {
    const FILTER: &str = "FROM users u
        WHERE EXISTS (SELECT 1 FROM admin_unit_closure c
                       WHERE c.ancestor = $1 AND c.descendant = u.unit_code)
          AND ($2::text IS NULL OR strpos(lower(u.name), lower($2)) > 0)";
    let name = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let items: Vec<UserListItem> = sqlx::query_as(&format!(
        "SELECT u.id, u.name, u.role, u.unit_code, u.created_at,
                u.disabled_at IS NOT NULL AS disabled
         {FILTER} ORDER BY u.name, u.id LIMIT $3 OFFSET $4"
    ))
    .bind(&unit)
    .bind(name)
    .bind(q.limit.unwrap_or(100))
    .bind(q.offset.unwrap_or(0))
    .fetch_all(&state.pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) {FILTER}"))
        .bind(&unit)
        .bind(name)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(UserList { items, total }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitListQuery {
    /// Units below this one, itself included (default: the admin's unit).
    pub unit: Option<String>,
    /// Only units whose code starts with, or whose name contains, this text.
    pub q: Option<String>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for UnitListQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitList {
    /// By code, then validity.
    pub items: Vec<UnitRow>,
    pub total: i64,
}

/// The administrative units below a unit, every version of each (admins, within their unit).
#[utoipa::path(get, path = "/api/v1/units", tag = "administration",
    params(UnitListQuery),
    responses(
        (status = 200, body = UnitList),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_units(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Units>,
    ApiQuery(q): ApiQuery<UnitListQuery>,
) -> Result<Json<UnitList>, ApiError> {
    const FILTER: &str = "FROM admin_units a
        JOIN admin_unit_closure c ON c.ancestor = $1 AND c.descendant = a.code
         AND a.valid_from BETWEEN c.valid_from AND c.valid_to
        WHERE ($2::text IS NULL OR a.code LIKE $2 || '%' OR strpos(lower(a.name), lower($2)) > 0)";
    let search = q.q.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let items: Vec<UnitRow> = sqlx::query_as(&format!(
        "SELECT a.code, a.name, a.level, a.parent_code, a.valid_from, a.valid_to
         {FILTER} ORDER BY a.code, a.valid_from LIMIT $3 OFFSET $4"
    ))
    .bind(&unit)
    .bind(search)
    .bind(q.limit.unwrap_or(100))
    .bind(q.offset.unwrap_or(0))
    .fetch_all(&state.pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) {FILTER}"))
        .bind(&unit)
        .bind(search)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(UnitList { items, total }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// Only reads of this household.
    pub household: Option<Uuid>,
    /// Only reads by this user.
    pub user: Option<Uuid>,
    /// Only households of this unit (default: the auditor's unit).
    pub unit: Option<String>,
    /// From this day (Vietnam time).
    pub from: Option<NaiveDate>,
    /// To the end of this day (Vietnam time).
    pub to: Option<NaiveDate>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Entries to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for AccessLogQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogPage {
    pub items: Vec<AccessLogEntry>,
    pub total: i64,
}

/// Who read whose personal data, newest first (auditors).
#[utoipa::path(get, path = "/api/v1/access-log", tag = "administration",
    params(AccessLogQuery),
    responses(
        (status = 200, body = AccessLogPage),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn access_log(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::AccessLog>,
    ApiQuery(q): ApiQuery<AccessLogQuery>,
) -> Result<Json<AccessLogPage>, ApiError> {
    // Every read this server answered so far is in the table before it is read (other
    // servers' reads come within their next shipment).
    state.access_log.ship().await?;
    let limit = q.limit.unwrap_or(100);
    let offset = q.offset.unwrap_or(0);
    const FILTER: &str = "FROM access_log a
        WHERE EXISTS (SELECT 1 FROM admin_unit_closure c
                       WHERE c.ancestor = $1 AND c.descendant = a.unit_code)
          AND ($2::uuid IS NULL OR a.household_id = $2)
          AND ($3::uuid IS NULL OR a.user_id = $3)
          AND ($4::date IS NULL OR a.at >= ($4::date::timestamp AT TIME ZONE 'UTC') - interval '7 hours')
          AND ($5::date IS NULL OR a.at < (($5::date + 1)::timestamp AT TIME ZONE 'UTC') - interval '7 hours')";
    let items: Vec<AccessLogEntry> = sqlx::query_as(&format!(
        "SELECT a.at, a.user_id, a.user_name, a.role, a.user_unit, a.household_id, a.unit_code,
                a.endpoint, a.request_id {FILTER} ORDER BY a.at DESC, a.id DESC LIMIT $6 OFFSET $7"
    ))
    .bind(&unit)
    .bind(q.household)
    .bind(q.user)
    .bind(q.from)
    .bind(q.to)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT count(*) {FILTER}"))
        .bind(&unit)
        .bind(q.household)
        .bind(q.user)
        .bind(q.from)
        .bind(q.to)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(AccessLogPage { items, total }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct UnitRow {
    /// Numeric code (communes of the new province reuse old codes: a unit is keyed by code and
    /// `valid_from`).
    pub code: String,
    pub name: String,
    /// `province`, `district` or `commune`.
    pub level: String,
    #[serde(default)]
    pub parent_code: Option<String>,
    pub valid_from: NaiveDate,
    /// Absent: still valid.
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UnitImport {
    pub units: Vec<UnitRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitsImported {
    pub units: u64,
    pub added: u64,
    pub updated: u64,
}

/// Add or update administrative units (admins, below their unit). Every row must lie below the
/// admin's unit before and after the change (403): a stored row's old parent and its new one
/// are both covered, moving a unit to another parent takes an admin strictly above both, and
/// the admin's own unit keeps its level, parent and validity. Then the hierarchy (422, as
/// `ansinh units import` checks it): a province has no parent, a district's parent is a
/// province, a commune's a district or a province, valid over the child's whole validity.
/// Nothing is stored unless every row is good.
#[utoipa::path(post, path = "/api/v1/units", tag = "administration",
    request_body = UnitImport,
    responses(
        (status = 200, body = UnitsImported),
        (status = 403, description = "A row lies outside the admin's unit before or after the change", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A row is invalid; `field` names it as `units[i].field`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn import_units(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Units>,
    body: JsonBody,
) -> Result<Json<UnitsImported>, ApiError> {
    use ansinh_projections::units;
    let input: UnitImport = body.parse()?;
    if input.units.is_empty() {
        return Err(ApiError::invalid("units", "no units were given"));
    }
    // The same checks as `ansinh units import`: through the CSV reader.
    let mut csv = csv::Writer::from_writer(Vec::new());
    for u in &input.units {
        csv.serialize(u).map_err(ApiError::internal)?;
    }
    let text = csv
        .into_inner()
        .map_err(ApiError::internal)
        .and_then(|bytes| String::from_utf8(bytes).map_err(ApiError::internal))?;
    let parsed = units::parse_rows(&text).map_err(row_problem)?;
    // Checked and written under the units' lock, so no other import moves them in between.
    let mut tx = state.pool.begin().await?;
    units::lock_for_writing(&mut tx).await?;
    let existing = units::all(&mut tx).await?;
    let admin = &auth.user().unit_code;
    let below: HashSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT descendant FROM admin_unit_closure WHERE ancestor = $1",
    )
    .bind(admin)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    for (i, unit) in parsed.iter().enumerate() {
        if let Some(refusal) = units::scope::refusal(admin, &below, unit, &existing) {
            return Err(ApiError::Forbidden(format!("units[{i}]: {refusal}")));
        }
    }
    units::check_hierarchy(&parsed, &existing).map_err(row_problem)?;
    let added = units::upsert(&mut tx, &parsed).await?;
    tx.commit().await?;
    state.coverage.forget();
    state.users.forget_units();
    let total = parsed.len() as u64;
    Ok(Json(UnitsImported {
        units: total,
        added,
        updated: total - added,
    }))
}

/// The first bad row as a 422 naming `units[i].field` (rows are CSV lines 2, 3, …).
fn row_problem(errors: Vec<ansinh_projections::units::RowError>) -> ApiError {
    let Some(first) = errors.first() else {
        return ApiError::invalid("units", "the units are not valid");
    };
    let index = first.line.saturating_sub(2);
    let more = match errors.len() {
        1 => String::new(),
        n => format!(" (and {} more problems)", n - 1),
    };
    ApiError::invalid(
        format!("units[{index}].{}", first.field),
        format!("units[{index}].{}: {}{more}", first.field, first.problem),
    )
}
