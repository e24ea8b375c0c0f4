//! What is recorded about a registered household: surveys, decisions, supports, corrections.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use ansinh_events::household::{
    DecisionInput, FundingSource, HouseholdClosed, HouseholdCommand, HouseholdEvent,
    HouseholdMoved, HouseholdState, Policy, ReplacementInput, SupportReceived, SurveyInput,
};
use ansinh_events::{Category, Vnd};

use super::auth::{need, AuthUser, HouseholdAccess};
use super::docs::enums;
use super::error::{ApiError, Problem};
use super::extract::{parse_part, JsonBody, WriteHeaders};
use super::households::{version_created, ClosureBody, MembersChangeBody, MoveBody, RegisterBody};
use super::write::{self, created};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households/{id}/surveys", post(survey))
        .route("/households/{id}/decisions", post(decide))
        .route("/households/{id}/supports", post(support))
        .route("/households/{id}/corrections", post(correct))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SurveyBody {
    /// The review it belongs to: `2022-annual`, `2023-06-regular`.
    pub period: String,
    pub survey_date: NaiveDate,
    #[schema(value_type = i64, minimum = 0)]
    pub income_per_capita_vnd: Vnd,
    /// The deprived indicators (names of the standards in force on the survey date).
    #[serde(default)]
    pub deprivations: Vec<String>,
    /// Raw measures by indicator, e.g. m² per person for `housing_area`.
    #[serde(default)]
    pub measures: BTreeMap<String, f64>,
    pub working_capacity: bool,
    pub loan_demand: bool,
    #[serde(default)]
    pub cause_of_poverty: Option<String>,
    /// Defaults to the authenticated user's name.
    #[serde(default)]
    pub surveyor: Option<String>,
}

impl SurveyBody {
    fn input(self, auth: &AuthUser) -> SurveyInput {
        SurveyInput {
            period: self.period,
            survey_date: self.survey_date,
            income_per_capita_vnd: self.income_per_capita_vnd,
            deprivations: self.deprivations,
            measures: self.measures,
            working_capacity: self.working_capacity,
            loan_demand: self.loan_demand,
            cause_of_poverty: self.cause_of_poverty,
            surveyor: self.surveyor.unwrap_or_else(|| auth.user().name.clone()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Surveyed {
    pub version: i64,
    pub sequence: i64,
    /// Standard id → proposed category, for every standard in force on the survey date.
    #[schema(example = json!({"vn-2022-2025": "poor"}))]
    pub proposed: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DecisionBody {
    #[schema(example = "vn-2022-2025")]
    pub standard: String,
    #[schema(schema_with = enums::category, example = "poor")]
    pub category: Category,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    /// Required when the category differs from the latest survey's proposal.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Decided {
    pub version: i64,
    /// The events recorded: `household_classified` and the lifecycle event it implies.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SupportBody {
    #[schema(schema_with = enums::policy, example = "preferential_credit")]
    pub policy: Policy,
    /// 0 for a support given only in kind.
    #[serde(default)]
    #[schema(value_type = i64, minimum = 0)]
    pub amount_vnd: Vnd,
    #[serde(default)]
    pub in_kind: Option<String>,
    #[schema(schema_with = enums::funding_source, example = "central_budget")]
    pub funding_source: FundingSource,
    #[serde(default)]
    pub fund_id: Option<String>,
    pub disbursed_on: NaiveDate,
    pub disbursed_by: String,
    pub decision_no: String,
    #[serde(default)]
    pub recipient_member: Option<String>,
    /// Lets a support drawn on `fund_id` take the allocation below zero; recorded on the
    /// support and flagged (`overdrawn`).
    #[serde(default)]
    pub override_reason: Option<String>,
}

impl From<SupportBody> for SupportReceived {
    fn from(s: SupportBody) -> SupportReceived {
        SupportReceived {
            policy: s.policy,
            amount_vnd: s.amount_vnd,
            in_kind: s.in_kind,
            funding_source: s.funding_source,
            fund_id: s.fund_id,
            disbursed_on: s.disbursed_on,
            disbursed_by: s.disbursed_by,
            decision_no: s.decision_no,
            recipient_member: s.recipient_member,
            override_reason: s.override_reason,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CorrectionBody {
    /// The event corrected (the original fact or an earlier correction of it).
    pub corrects_sequence: i64,
    pub reason: String,
    /// The corrected fact in the shape its own endpoint takes (a registration, survey,
    /// support, member change, move or closure); `null` voids a fact recorded in error.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub replacement: Option<Value>,
}

/// Record a survey; the domain proposes a category under every standard in force that day.
#[utoipa::path(post, path = "/api/v1/households/{id}/surveys", tag = "records",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = SurveyBody,
    responses(
        (status = 201, body = Surveyed),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn survey(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let input = body.parse::<SurveyBody>()?.input(&auth);
    let command = input.into_command(&state.standards);
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    let proposed = appended
        .events
        .iter()
        .find_map(|e| match &e.event {
            HouseholdEvent::HouseholdSurveyed(s) => Some(
                s.proposed
                    .iter()
                    .map(|(k, p)| (k.clone(), p.category.as_str().to_owned()))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    Ok(created(
        &appended,
        Surveyed {
            version: appended.version,
            sequence: write::first_sequence(&appended),
            proposed,
        },
    ))
}

/// Record the commune chair's decision under one standard; the lifecycle event follows.
#[utoipa::path(post, path = "/api/v1/households/{id}/decisions", tag = "records",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = DecisionBody,
    responses(
        (status = 201, body = Decided),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No survey under the standard, or a category that differs from the proposal without a reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let input: DecisionBody = body.parse()?;
    let standard = state
        .standards
        .get(&input.standard)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = state.standards.ids().collect();
            ApiError::invalid_as(
                "unknown_standard",
                "standard",
                format!(
                    "unknown standard {:?}; known: {}",
                    input.standard,
                    known.join(", ")
                ),
            )
        })?;
    let command = HouseholdCommand::Decide {
        standard,
        decision: DecisionInput {
            category: input.category,
            decision_no: input.decision_no,
            decided_on: input.decided_on,
            reason: input.reason,
        },
    };
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    Ok(created(
        &appended,
        Decided {
            version: appended.version,
            events: appended
                .events
                .iter()
                .map(|e| e.event.type_name().to_owned())
                .collect(),
        },
    ))
}

/// Record a support disbursed to the household.
#[utoipa::path(post, path = "/api/v1/households/{id}/supports", tag = "records",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = SupportBody,
    responses(
        (status = 201, body = super::households::Version),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn support(
    State(state): State<AppState>,
    access: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let input: SupportBody = body.parse()?;
    fund_draw(&state, access.state(), &input, "fund_id").await?;
    let command = HouseholdCommand::RecordSupport(input.into());
    let (id, auth) = (access.id, &access.auth);
    let appended = write::execute(&state, auth, id, &headers, &body, command).await?;
    Ok(version_created(&appended))
}

/// Correct (or void) an earlier fact. Nothing is deleted or overwritten: the correction is a
/// new event and the original stays in the log.
#[utoipa::path(post, path = "/api/v1/households/{id}/corrections", tag = "records",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CorrectionBody,
    responses(
        (status = 201, body = super::households::Version),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn correct(
    State(state): State<AppState>,
    access: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let HouseholdAccess {
        id,
        household,
        auth,
        ..
    } = access;
    let input: CorrectionBody = body.parse()?;
    let replacement = match &input.replacement {
        None | Some(Value::Null) => None,
        Some(value) => {
            replacement(
                &state,
                &auth,
                (id, &household.state),
                input.corrects_sequence,
                value,
            )
            .await?
        }
    };
    let command = HouseholdCommand::Correct {
        corrects_sequence: input.corrects_sequence,
        reason: input.reason,
        replacement,
    };
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    Ok(version_created(&appended))
}

/// Reads a replacement in the shape of the corrected fact's own command. For a sequence that
/// does not exist or cannot be corrected, `None`: the domain then names that problem.
async fn replacement(
    state: &AppState,
    auth: &AuthUser,
    (id, household): (Uuid, &HouseholdState),
    corrects_sequence: i64,
    value: &Value,
) -> Result<Option<ReplacementInput>, ApiError> {
    const FIELD: &str = "replacement";
    let original = household.original_of(corrects_sequence);
    let Some((fact_type, fact_effective_on)) = household.fact_at(original) else {
        return Ok(None);
    };
    let registered_on = household.registered_on.unwrap_or(fact_effective_on);
    Ok(Some(match fact_type {
        "household_registered" => {
            // The registration date is not corrected here; the body may omit it.
            let mut value = value.clone();
            if let Some(obj) = value.as_object_mut() {
                obj.entry("effective_on")
                    .or_insert_with(|| Value::String(registered_on.to_string()));
            }
            let body: RegisterBody = parse_part(&value, FIELD)?;
            let (registration, _) = body.registration();
            let unit = write::placement_target(
                state,
                auth,
                &registration.unit_code,
                registered_on,
                &format!("{FIELD}.unit_code"),
            )
            .await?;
            ReplacementInput::Registration { registration, unit }
        }
        "members_changed" => {
            ReplacementInput::MembersChange(parse_part::<MembersChangeBody>(value, FIELD)?.into())
        }
        "household_moved" => {
            let moved: HouseholdMoved = parse_part::<MoveBody>(value, FIELD)?.into();
            let unit = write::placement_target(
                state,
                auth,
                &moved.unit_code,
                moved.moved_on,
                &format!("{FIELD}.unit_code"),
            )
            .await?;
            ReplacementInput::Move { moved, unit }
        }
        "household_closed" => {
            let closure: HouseholdClosed = parse_part::<ClosureBody>(value, FIELD)?.into();
            let field = "replacement.merged_into";
            write::merge_target(state, auth, id, closure.merged_into, field).await?;
            ReplacementInput::Closure(closure)
        }
        "household_surveyed" => {
            let survey = parse_part::<SurveyBody>(value, FIELD)?.input(auth);
            let standards = state.standards.in_force_on(survey.survey_date);
            ReplacementInput::Survey { survey, standards }
        }
        "support_received" => {
            let body = parse_part::<SupportBody>(value, FIELD)?;
            fund_draw(state, household, &body, "replacement.fund_id").await?;
            ReplacementInput::Support(body.into())
        }
        _ => return Ok(None),
    }))
}

/// A support naming a fund must name one open on the disbursement day with an allocation
/// covering the household's unit that day (422 on `field`). Whether the allocation holds
/// enough is decided in the append itself, under the allocation's lock.
async fn fund_draw(
    state: &AppState,
    household: &HouseholdState,
    support: &SupportBody,
    field: &str,
) -> Result<(), ApiError> {
    let Some(fund_id) = support.fund_id.as_deref().filter(|f| !f.trim().is_empty()) else {
        return Ok(());
    };
    let unit =
        ansinh_projections::log::unit_on(household, support.disbursed_on).unwrap_or_default();
    match crate::funds::store::check_draw(&state.pool, fund_id, &unit, support.disbursed_on).await?
    {
        None => Ok(()),
        Some(why) => Err(ApiError::invalid_as(why.code(), field, why.to_string())),
    }
}
