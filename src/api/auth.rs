//! Who may do what, where — in one place.
//!
//! * [`authenticate`] (middleware on every `/api/v1` route but the OpenAPI document) turns the
//!   bearer token, or else the signed-in session of the web pages, into an [`AuthUser`] (no or
//!   bad token → 401; a session's unsafe request from another site → 403), and on the way out writes the
//!   access log of personal-data reads, strips ID numbers and birth years from every
//!   response to a monitor, and tells a user whose unit has ended so (`Ansinh-Unit-Notice`).
//! * [`allows`] is the whole role matrix; [`AuthUser::authorize`] checks the role and then the
//!   unit scope (a unit covers itself and the units below it, whatever their validity dates)
//!   → 403; a household outside the scope is 404, as an unknown one is.
//! * Handlers name what they need in their signature — [`HouseholdAccess<N>`] (the route's
//!   household, 404), [`UnitAccess<N>`] (the `unit` asked about), [`Allowed<N>`] (the
//!   role; the handler checks a unit it only learns from the body, or from its own read, as
//!   the history does) — and these extractors run the checks before the handler, before its
//!   body is even parsed.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::Value;
use uuid::Uuid;

use ansinh_events::household::HouseholdState;
use ansinh_events::Actor;

use super::access_log::{AccessRow, Reader};
use super::error::ApiError;
use super::extract::{query_pairs, HouseholdId};
use super::write::{load, unit_of};
use super::AppState;
use crate::store::Cached;
use crate::users::{Role, User};
use tower_sessions::Session;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Register households; record surveys, decisions, supports, corrections, member changes,
    /// moves and closures.
    WriteHouseholds,
    /// A household's current or past status (`GET /households/{id}`).
    ReadStatus,
    /// A household as the system knew it on a past day (`known_on`).
    ReadAsKnown,
    /// A household's full history with envelopes and hashes.
    ReadHistory,
    /// Recompute a household's hash chain.
    VerifyChain,
    /// The re-poverty register and the disbursement trail.
    ReadRegisters,
    /// The movement report.
    ReadReports,
    /// The read-access log.
    ReadAccessLog,
    /// Create users.
    ManageUsers,
    /// Add or update administrative units.
    ManageUnits,
    /// Open funds of the user's unit, record their receipts, allocations, transfers, closure.
    ManageFunds,
    /// Funds, their reconciliation and the red flags.
    ReadFunds,
    /// Explain a red flag (an officer).
    ExplainFlags,
    /// Accept a red flag's explanation (a district or province officer, the supervisor).
    AcceptFlags,
}

impl Permission {
    fn describe(self) -> &'static str {
        match self {
            Permission::WriteHouseholds => "record facts about households",
            Permission::ReadStatus => "read household status",
            Permission::ReadAsKnown => "read a household as known on a past day",
            Permission::ReadHistory => "read household histories",
            Permission::VerifyChain => "verify household hash chains",
            Permission::ReadRegisters => "read the supervision registers",
            Permission::ReadReports => "read reports",
            Permission::ReadAccessLog => "read the access log",
            Permission::ManageUsers => "manage users",
            Permission::ManageUnits => "manage administrative units",
            Permission::ManageFunds => "manage funds",
            Permission::ReadFunds => "read funds and red flags",
            Permission::ExplainFlags => "explain red flags",
            Permission::AcceptFlags => "accept explanations of red flags",
        }
    }
}

/// The role matrix of the contract. Every role's reads and writes are limited to its unit.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        WriteHouseholds => role.is_officer(),
        ReadStatus => role.is_officer() || matches!(role, Auditor | Monitor),
        ReadHistory | VerifyChain => role.is_officer() || role == Auditor,
        ReadRegisters => role.is_officer() || matches!(role, Auditor | Monitor),
        ReadReports => matches!(role, DistrictOfficer | ProvinceOfficer | Auditor | Monitor),
        ReadAccessLog | ReadAsKnown => role == Auditor,
        ManageUsers | ManageUnits => role == Admin,
        ManageFunds | AcceptFlags => matches!(role, DistrictOfficer | ProvinceOfficer),
        ReadFunds => role.is_officer() || matches!(role, Auditor | Monitor),
        ExplainFlags => role.is_officer(),
    }
}

/// The user a request acts for, put in place by [`authenticate`].
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl AuthUser {
    pub fn user(&self) -> &User {
        &self.0
    }

    /// The event envelope's actor.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.0.id,
            name: self.0.name.clone(),
            role: self.0.role.as_str().to_owned(),
            unit: self.0.unit_code.clone(),
        }
    }

    /// The role check alone (403 if the role may not do this anywhere).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if allows(self.0.role, permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} may not {}",
                self.0.role,
                permission.describe()
            )))
        }
    }

    /// The role check, then the scope check for something in `unit`.
    pub async fn authorize(
        &self,
        state: &AppState,
        permission: Permission,
        unit: &str,
        day: Option<NaiveDate>,
    ) -> Result<(), ApiError> {
        self.require(permission)?;
        self.require_scope(state, unit, day).await
    }

    /// Whether the user's unit covers what lies in `unit` on `day` (codes are reused across
    /// the 2025 reform, so a household's unit is judged on the day it was placed there);
    /// `None`: on any day.
    pub async fn covers(
        &self,
        state: &AppState,
        unit: &str,
        day: Option<NaiveDate>,
    ) -> Result<bool, ApiError> {
        Ok(state
            .coverage
            .covers(&state.pool, &self.0.unit_code, unit, day)
            .await?)
    }

    /// The scope check alone: the user's unit must cover `unit` on `day` (see [`Self::covers`]).
    pub async fn require_scope(
        &self,
        state: &AppState,
        unit: &str,
        day: Option<NaiveDate>,
    ) -> Result<(), ApiError> {
        if self.covers(state, unit, day).await? {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "unit {unit} is outside the scope of this user (unit {})",
                self.0.unit_code
            )))
        }
    }
}

impl AuthUser {
    /// The scope check for a household placed in `unit` on `placed_on`: outside the user's
    /// units it answers as an unknown household does (404, see [`ApiError::household_not_found`]).
    pub async fn require_household_scope(
        &self,
        state: &AppState,
        id: Uuid,
        unit: &str,
        placed_on: Option<NaiveDate>,
    ) -> Result<(), ApiError> {
        match self.require_scope(state, unit, placed_on).await {
            Err(ApiError::Forbidden(_)) => Err(ApiError::household_not_found(id)),
            other => other,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuthUser>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))
    }
}

/// What an endpoint needs, as a type: the extractors below check it before the handler runs,
/// so a handler states its permission in its signature and cannot forget the check.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// The [`Need`]s of the endpoints, one per [`Permission`].
pub mod need {
    use super::{Need, Permission};

    macro_rules! needs {
        ($($name:ident => $permission:ident),* $(,)?) => {$(
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Permission = Permission::$permission;
            }
        )*};
    }

    needs! {
        Write => WriteHouseholds,
        Status => ReadStatus,
        History => ReadHistory,
        Verify => VerifyChain,
        Registers => ReadRegisters,
        Reports => ReadReports,
        AccessLog => ReadAccessLog,
        Users => ManageUsers,
        Units => ManageUnits,
        Funds => ManageFunds,
        ReadFunds => ReadFunds,
        ExplainFlags => ExplainFlags,
        AcceptFlags => AcceptFlags,
    }
}

/// A user whose role has `N`'s permission somewhere (403 otherwise); for endpoints whose unit
/// is only known from the body, the handler checks the scope with [`AuthUser::require_scope`].
pub struct Allowed<N> {
    pub auth: AuthUser,
    need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<AppState> for Allowed<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        auth.require(N::PERMISSION)?;
        Ok(Allowed {
            auth,
            need: PhantomData,
        })
    }
}

/// The household of the route's `{id}`, loaded and within the user's scope for `N` (a unit
/// covers itself and the units below it); unknown or out of scope, it is 404 either way. A
/// role without `N` is 403 before the household is looked at.
pub struct HouseholdAccess<N> {
    pub id: Uuid,
    /// Shared with the event log's cache: a handler that does not look at it costs nothing.
    pub household: Arc<Cached>,
    pub auth: AuthUser,
    need: PhantomData<N>,
}

impl<N> HouseholdAccess<N> {
    /// The household's folded state.
    pub fn state(&self) -> &HouseholdState {
        &self.household.state
    }

    /// The household's unit now (after moves and corrections).
    pub fn unit(&self) -> &str {
        unit_of(self.state())
    }
}

impl<N: Need> FromRequestParts<AppState> for HouseholdAccess<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        auth.require(N::PERMISSION)?;
        let HouseholdId(id) = HouseholdId::from_request_parts(parts, state).await?;
        let for_write = N::PERMISSION == Permission::WriteHouseholds;
        let household = load(state, id, for_write).await?;
        let placed_on = household.state.placed_on();
        auth.require_household_scope(state, id, unit_of(&household.state), placed_on)
            .await?;
        Ok(HouseholdAccess {
            id,
            household,
            auth,
            need: PhantomData,
        })
    }
}

/// The unit a read is about: the `unit` query parameter, or the user's own unit; checked for
/// `N` and the user's scope (403).
pub struct UnitAccess<N> {
    pub unit: String,
    pub auth: AuthUser,
    need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<AppState> for UnitAccess<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        let pairs = query_pairs(parts)?;
        let unit = pairs
            .iter()
            .find(|(k, _)| k == "unit")
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| auth.user().unit_code.clone());
        // Reports and registers of a unit reach into its past (and a new commune's into its
        // predecessors'), so the unit is judged on any day the user's unit covered it; but a
        // report's counts stop at its last day (`to`), and a code valid that day is judged
        // that day: 25459 in 2024 is old Phường 3 of district 703, in 2026 the new Phường Tân
        // Ninh, which old Tây Ninh does not reach.
        let mut day = None;
        if N::PERMISSION == Permission::ReadReports {
            if let Some(to) = pairs
                .iter()
                .find(|(k, _)| k == "to")
                .and_then(|(_, v)| v.trim().parse::<NaiveDate>().ok())
            {
                day = ansinh_projections::units::valid_on(&state.pool, &unit, to)
                    .await?
                    .map(|_| to);
            }
        }
        auth.authorize(state, N::PERMISSION, &unit, day).await?;
        Ok(UnitAccess {
            unit,
            auth,
            need: PhantomData,
        })
    }
}

/// Households whose personal data a response carries, for the access log; handlers attach
/// it to their response and [`authenticate`] writes it once the response is a success.
#[derive(Debug, Clone, Default)]
pub struct PersonalDataRead(pub Vec<(Uuid, String)>);

impl PersonalDataRead {
    pub fn one(household_id: Uuid, unit_code: &str) -> Self {
        PersonalDataRead(vec![(household_id, unit_code.to_owned())])
    }

    /// `response` with this record attached.
    pub fn attach(self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Fields no monitor ever receives.
const HIDDEN_FROM_MONITORS: [&str; 3] = ["id_number", "birth_year", "birth_date"];
/// The same keys as they stand in a JSON body, for a scan without parsing.
const HIDDEN_KEYS_QUOTED: [&str; 3] = ["\"id_number\"", "\"birth_year\"", "\"birth_date\""];

/// Whether a JSON body we wrote holds `quoted` (a key or string with its quotes): our
/// serializers, and PostgreSQL's jsonb output, write ASCII keys and type names literally, so
/// one byte scan answers without parsing the body.
pub fn mentions(body: &[u8], quoted: &str) -> bool {
    memchr::memmem::find(body, quoted.as_bytes()).is_some()
}

/// Removes ID numbers and birth years anywhere in a JSON document.
pub fn redact_personal(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in HIDDEN_FROM_MONITORS {
                map.remove(key);
            }
            map.values_mut().for_each(redact_personal);
        }
        Value::Array(items) => items.iter_mut().for_each(redact_personal),
        _ => {}
    }
}

/// Largest response a monitor's filter buffers (registers are paged far below this).
const MAX_FILTERED_BODY: usize = 64 << 20;

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let user = match token {
        Some(token) => match state.users.authenticate(&state.pool, &token).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return ApiError::Unauthorized("the bearer token is not valid".into())
                    .into_response()
            }
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => match session_user(&state, session_of(&state, &request)).await {
            Ok(user) => user,
            Err(e) => return e.into_response(),
        },
    };
    let endpoint = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| request.uri().path(), |p| p.as_str())
    );
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    request.extensions_mut().insert(AuthUser(user.clone()));

    let mut response = next.run(request).await;

    if let Some(read) = response.extensions_mut().remove::<PersonalDataRead>() {
        if response.status().is_success() && !read.0.is_empty() {
            // Fail closed: personal data whose reading cannot be logged is not handed out.
            // One row per household a response names, however many of its items are that
            // household's (a list of flags names it once per flag).
            let mut seen = std::collections::HashSet::new();
            let rows = read
                .0
                .into_iter()
                .filter(|(household_id, _)| seen.insert(*household_id))
                .map(|(household_id, unit_code)| AccessRow {
                    household_id,
                    unit_code,
                })
                .collect();
            let reader = Reader {
                user: user.clone(),
                endpoint,
                request_id,
            };
            if let Err(e) = state.access_log.record(reader, rows).await {
                return e.into_response();
            }
        }
    }
    if user.role == Role::Monitor {
        response = redact_response(response).await;
    }
    if let Some(ended) = &user.unit_ended {
        // ASCII by construction; a value that still fails is left out, never a failed response.
        if let Ok(value) = HeaderValue::from_str(ended.header_value()) {
            response.headers_mut().insert(UNIT_NOTICE, value);
        }
    }
    response
}

/// Tells a user whose unit has ended, on every response, what replaced it and what to do
/// (see [`crate::ended_units::EndedUnit::header_value`]); they keep working meanwhile.
pub const UNIT_NOTICE: HeaderName = HeaderName::from_static("ansinh-unit-notice");

/// The user of the request's signed-in session (the session cookie of the web pages), when it
/// has no bearer token: 401 without one. An unsafe method (POST, PUT, PATCH, DELETE) must come
/// from the site's own pages ([`crate::web::same_origin`]), else 403: a session's cookie goes
/// with a cross-site request, a bearer token does not.
async fn session_user(
    state: &AppState,
    (session, cross_site): (Option<Session>, bool),
) -> Result<User, ApiError> {
    let user = match session {
        Some(session) => crate::web::session_user(state, &session).await?,
        None => None,
    };
    let user = user.ok_or_else(|| {
        ApiError::Unauthorized(
            "a bearer token (Authorization: Bearer …) or a signed-in session is required".into(),
        )
    })?;
    if cross_site {
        return Err(ApiError::Forbidden(
            "a request signed in by the session cookie that changes something must come from \
             this site's own pages (its Origin or Referer header is another site, or missing)"
                .into(),
        ));
    }
    Ok(user)
}

/// The request's session, and whether the request changes something and comes from another
/// site (read before any await: a `&Request` cannot be held across one).
fn session_of(state: &AppState, request: &Request) -> (Option<Session>, bool) {
    let session = request.extensions().get::<Session>().cloned();
    let cross_site = !request.method().is_safe()
        && !crate::web::same_origin(request.headers(), request.uri(), &state.web);
    (session, cross_site)
}

/// A monitor's response without ID numbers or birth years.
async fn redact_response(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FILTERED_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::internal(format!("monitor filter: {e}")).into_response(),
    };
    // A body that names no hidden key goes out as it is: nothing to remove, and re-reading it
    // into a `Value` would turn integers beyond i64 (a register's i128 totals) into floats.
    // Our serializer writes every key literally, so a hidden key always shows as `"key"`.
    let names_hidden = HIDDEN_KEYS_QUOTED
        .iter()
        .any(|quoted| mentions(&bytes, quoted));
    if !names_hidden {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        // Not JSON after all: nothing we could filter, so nothing is sent.
        Err(e) => return ApiError::internal(format!("monitor filter: {e}")).into_response(),
    };
    redact_personal(&mut value);
    let body = match serde_json::to_vec(&value) {
        Ok(body) => body,
        Err(e) => return ApiError::internal(format!("monitor filter: {e}")).into_response(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_removes_id_numbers_and_birth_years_at_any_depth() {
        let mut v = json!({
            "head_name": "A",
            "members": [{"name": "A", "birth_year": 1978, "id_number": "072178000123"}],
            "events": [{"data": {"added": [{"member": {"birth_year": 2020, "id_number": null}}]}}]
        });
        redact_personal(&mut v);
        let text = v.to_string();
        assert!(!text.contains("birth_year"), "{text}");
        assert!(!text.contains("id_number"), "{text}");
        assert!(text.contains("head_name"));
    }

    #[test]
    fn the_quoted_keys_are_the_hidden_keys() {
        let quoted: Vec<String> = HIDDEN_FROM_MONITORS
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect();
        assert_eq!(quoted, HIDDEN_KEYS_QUOTED);
    }

    #[test]
    fn only_officers_write_and_only_auditors_read_the_access_log() {
        for role in Role::ALL {
            assert_eq!(
                allows(role, Permission::WriteHouseholds),
                role.is_officer(),
                "{role}"
            );
            assert_eq!(
                allows(role, Permission::ReadAccessLog),
                role == Role::Auditor
            );
        }
        assert!(!allows(Role::Monitor, Permission::ReadHistory));
        assert!(!allows(Role::CommuneOfficer, Permission::ReadReports));
        assert!(!allows(Role::Admin, Permission::ReadStatus));
    }
}
