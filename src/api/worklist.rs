//! `/api/v1/worklist`: what needs attention in a unit (the start page of each role).
//!
//! * `undecided` — households surveyed since their last decision (or never decided): the
//!   commune's chair has a proposal waiting.
//! * `awaiting_support` — households recognised poor or near-poor (by their current decision)
//!   that have received no support since that decision.
//! * `differs_from_proposal` — decisions whose category is not the survey's proposal, with the
//!   reason given.
//!
//! Households are placed by their current unit; closed households are left out.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{need, PersonalDataRead, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded, MAX_OFFSET};
use super::registers::check_period;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/worklist", get(worklist))
}

/// The lists of the worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorklistKind {
    Undecided,
    AwaitingSupport,
    DiffersFromProposal,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorklistQuery {
    /// Which list: `undecided`, `awaiting_support` or `differs_from_proposal`.
    #[param(inline)]
    pub kind: WorklistKind,
    /// Unit (with the units below it, by the household's current unit); default: the user's.
    pub unit: Option<String>,
    /// On or after this day (the survey, the decision).
    pub from: Option<NaiveDate>,
    /// On or before this day.
    pub to: Option<NaiveDate>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
}

impl Bounded for WorklistQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct WorklistItem {
    pub household_id: Uuid,
    pub head_name: String,
    /// The household's current unit.
    pub unit_code: String,
    pub hamlet: String,
    /// The survey's day (`undecided`), the decision's (`awaiting_support`,
    /// `differs_from_proposal`).
    pub day: NaiveDate,
    /// The decision's standard (not for `undecided`).
    pub standard: Option<String>,
    /// The decided category (not for `undecided`).
    pub category: Option<String>,
    /// The survey's proposal (`differs_from_proposal`).
    pub proposed: Option<String>,
    pub decision_no: Option<String>,
    /// Why the decision differs from the proposal (`differs_from_proposal`).
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    pub kind: WorklistKind,
    /// Newest first.
    pub items: Vec<WorklistItem>,
    /// Over every matching household, not only this page.
    pub total: i64,
}

/// Households of the unit surveyed and not yet decided, decided and not yet supported, or
/// decided against the survey's proposal; newest first, paged.
#[utoipa::path(get, path = "/api/v1/worklist", tag = "registers",
    params(WorklistQuery),
    responses(
        (status = 200, body = Worklist),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn worklist(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Status>,
    ApiQuery(q): ApiQuery<WorklistQuery>,
) -> Result<Response, ApiError> {
    check_period(q.from, q.to)?;
    let limit = q.limit.unwrap_or(20);
    let offset = q.offset.unwrap_or(0);
    let source = match q.kind {
        WorklistKind::Undecided => UNDECIDED,
        WorklistKind::AwaitingSupport => AWAITING_SUPPORT,
        WorklistKind::DiffersFromProposal => DIFFERS,
    };
    let items: Vec<WorklistItem> = sqlx::query_as(&format!(
        "WITH w AS ({source}) SELECT * FROM w
          WHERE ($2::date IS NULL OR w.day >= $2) AND ($3::date IS NULL OR w.day <= $3)
          ORDER BY w.day DESC, w.household_id LIMIT $4 OFFSET $5"
    ))
    .bind(&unit)
    .bind(q.from)
    .bind(q.to)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!(
        "WITH w AS ({source}) SELECT count(*) FROM w
          WHERE ($2::date IS NULL OR w.day >= $2) AND ($3::date IS NULL OR w.day <= $3)"
    ))
    .bind(&unit)
    .bind(q.from)
    .bind(q.to)
    .fetch_one(&state.pool)
    .await?;
    let read = PersonalDataRead(
        items
            .iter()
            .map(|i| (i.household_id, i.unit_code.clone()))
            .collect(),
    );
    Ok(read.attach(Json(Worklist {
        kind: q.kind,
        items,
        total,
    })))
}

/// The latest survey came after the latest decision (or there is none).
const UNDECIDED: &str = "SELECT s.household_id, s.head_name, s.unit_code, s.hamlet,
        (e.last_survey->>'survey_date')::date AS day,
        NULL::text AS standard, NULL::text AS category, NULL::text AS proposed,
        NULL::text AS decision_no, NULL::text AS reason
    FROM household_status s
    JOIN admin_unit_closure c ON c.ancestor = $1 AND c.descendant = s.unit_code
         AND s.placed_on BETWEEN c.valid_from AND c.valid_to
    JOIN LATERAL (
        SELECT (array_agg(h.payload->'data' ORDER BY h.sequence_number DESC)
                   FILTER (WHERE h.payload->>'type' = 'household_surveyed'))[1] AS last_survey,
               max(h.sequence_number) FILTER (WHERE h.payload->>'type' = 'household_surveyed')
                   AS survey_seq,
               max(h.sequence_number) FILTER (WHERE h.payload->>'type' = 'household_classified')
                   AS decision_seq
          FROM household_events h WHERE h.aggregate_id = s.household_id) e ON true
    WHERE s.closed_on IS NULL AND e.survey_seq > coalesce(e.decision_seq, 0)";

/// Poor or near-poor by the current decision, and no support counted since it.
const AWAITING_SUPPORT: &str = "SELECT s.household_id, s.head_name, s.unit_code, s.hamlet,
        st.last_decided_on AS day, st.standard, st.category, NULL::text AS proposed,
        st.last_decision_no AS decision_no, NULL::text AS reason
    FROM household_status s
    JOIN admin_unit_closure c ON c.ancestor = $1 AND c.descendant = s.unit_code
         AND s.placed_on BETWEEN c.valid_from AND c.valid_to
    JOIN household_standard_status st ON st.household_id = s.household_id
    WHERE s.closed_on IS NULL AND st.category IN ('poor', 'near_poor')
      AND NOT EXISTS (SELECT 1 FROM disbursements d
                       WHERE d.household_id = s.household_id AND NOT d.voided
                         AND d.disbursed_on >= st.last_decided_on)";

/// Decisions whose category is not the proposal they were checked against.
const DIFFERS: &str = "SELECT s.household_id, s.head_name, s.unit_code, s.hamlet,
        (h.payload->'data'->>'decided_on')::date AS day,
        h.payload->'data'->>'standard' AS standard,
        h.payload->'data'->>'category' AS category,
        h.payload->'data'->>'proposed' AS proposed,
        h.payload->'data'->>'decision_no' AS decision_no,
        h.payload->'data'->>'reason' AS reason
    FROM household_status s
    JOIN admin_unit_closure c ON c.ancestor = $1 AND c.descendant = s.unit_code
         AND s.placed_on BETWEEN c.valid_from AND c.valid_to
    JOIN household_events h ON h.aggregate_id = s.household_id
    WHERE s.closed_on IS NULL AND h.payload->>'type' = 'household_classified'
      AND h.payload->'data'->>'category' <> h.payload->'data'->>'proposed'";
