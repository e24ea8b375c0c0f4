//! Public postings of a review's results: an officer posts the list of a commune's review
//! (`POST /postings`); anyone may read it without sign-in
//! (`GET /public/postings/{unit_code}/{period}`, rate limited per address): while it is up, the
//! list (head's name, hamlet, proposed category — nothing else); once it is down, that it was
//! posted, when and where, and the chair's decisions since, counted by decision and category.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use ansinh_events::household::HouseholdState;
use ansinh_events::posting::{
    handle, posting_id, PostedItem, PostingCommand, PostingError, PostingInput, PostingOpened,
};
use ansinh_events::review_deadlines::{ReviewDeadlines, POSTING_MIN};
use ansinh_events::{CommandContext, Source};

use super::auth::{need, Allowed};
use super::error::{ApiError, Problem};
use super::extract::JsonBody;
use super::write::unit_of;
use super::AppState;
use crate::posting_log::{self, PostingLogError};

/// Most households one posting lists.
pub const MAX_HOUSEHOLDS: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/postings", post(create))
}

impl From<PostingError> for ApiError {
    fn from(e: PostingError) -> Self {
        match &e {
            PostingError::AlreadyPosted { .. } => ApiError::Conflict {
                detail: e.to_string(),
                current_version: None,
                code: e.code(),
            },
            PostingError::Chain(_) => ApiError::internal(e),
            _ => ApiError::Invalid {
                field: e.field().map(str::to_owned),
                detail: e.to_string(),
                code: e.code(),
            },
        }
    }
}

impl From<PostingLogError> for ApiError {
    fn from(e: PostingLogError) -> Self {
        match e {
            PostingLogError::Conflict(_) => ApiError::Conflict {
                detail: e.to_string(),
                current_version: None,
                code: "already_posted",
            },
            PostingLogError::Database(e) => e.into(),
            PostingLogError::Corrupt(_) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PostingBody {
    #[schema(example = "25459")]
    pub unit_code: String,
    #[schema(example = "2025-annual")]
    pub period: String,
    pub posted_from: NaiveDate,
    /// At least the dated minimum of working days after `posted_from` (3, not confirmed).
    pub posted_to: NaiveDate,
    /// Where the list hangs.
    #[schema(example = json!(["Trụ sở UBND phường", "Nhà văn hóa khu phố 1"]))]
    pub places: Vec<String>,
    /// The households of the unit whose review results are posted; each needs a survey of the
    /// period and must not be sent back to review.
    pub households: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingCreated {
    /// The posting's id (one per unit and period).
    pub id: Uuid,
}

/// Today in Vietnam (UTC+7).
fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

/// The posted line of household `id` (at `households[i]`): its head, hamlet and the category
/// its latest survey of `period` proposes under the standard in force on `on`.
fn posted_item(
    state: &AppState,
    i: usize,
    id: Uuid,
    household: &HouseholdState,
    unit_code: &str,
    period: &str,
    on: NaiveDate,
) -> Result<PostedItem, ApiError> {
    let field = format!("households[{i}]");
    let current = household
        .current
        .as_ref()
        .filter(|_| unit_of(household) == unit_code && !household.closed)
        .ok_or_else(|| {
            ApiError::invalid_as(
                "not_in_unit",
                field.clone(),
                format!("household {id} is not an open household of unit {unit_code}"),
            )
        })?;
    let survey = household
        .surveys
        .values()
        .filter(|s| s.period == period)
        .max_by_key(|s| s.survey_date)
        .ok_or_else(|| {
            ApiError::invalid_as(
                "no_survey_for_period",
                field.clone(),
                format!("household {id} has no survey of period {period}"),
            )
        })?;
    if let Some(back) = household.sent_back() {
        return Err(ApiError::invalid_as(
            "sent_back",
            field,
            format!(
                "household {id} was sent back to review on {}; survey it again before posting",
                back.since()
            ),
        ));
    }
    let in_force: Vec<String> = state
        .standards
        .in_force_on(on)
        .iter()
        .map(|s| s.id().to_owned())
        .collect();
    let proposal = in_force
        .iter()
        .find_map(|std| survey.proposed.get(std))
        .or_else(|| survey.proposed.values().next_back())
        .ok_or_else(|| {
            ApiError::invalid_as(
                "no_survey_for_period",
                field.clone(),
                format!("household {id}'s survey of period {period} proposes nothing"),
            )
        })?;
    Ok(PostedItem {
        household_id: id,
        head_name: current.head_name.clone(),
        hamlet: current.hamlet.clone(),
        proposed_category: proposal.category,
    })
}

/// Post a commune's review results publicly for a period.
#[utoipa::path(post, path = "/api/v1/postings", tag = "review",
    request_body = PostingBody,
    responses(
        (status = 201, body = PostingCreated),
        (status = 409, description = "The unit's results of this period are already posted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Too short a posting, no place, or a household not of the unit, without a survey of the period, or sent back to review", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Write>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: PostingBody = body.parse()?;
    let unit_code = b.unit_code.trim().to_owned();
    if unit_code.is_empty() {
        return Err(ApiError::invalid_as(
            "empty",
            "unit_code",
            "unit_code must not be empty",
        ));
    }
    auth.require_scope(&state, &unit_code, Some(b.posted_from))
        .await?;
    if b.households.len() > MAX_HOUSEHOLDS {
        return Err(ApiError::invalid_as(
            "too_long",
            "households",
            format!("at most {MAX_HOUSEHOLDS} households are posted at once"),
        ));
    }
    let period = b.period.trim().to_owned();
    let mut items = Vec::with_capacity(b.households.len());
    for (i, id) in b.households.iter().enumerate() {
        let loaded = state.log.household_from_log(*id).await?;
        let household = &loaded.state;
        if household.registered_on.is_none() {
            return Err(ApiError::invalid_as(
                "not_in_unit",
                format!("households[{i}]"),
                format!("household {id} was not found"),
            ));
        }
        items.push(posted_item(
            &state,
            i,
            *id,
            household,
            &unit_code,
            &period,
            b.posted_from,
        )?);
    }
    let id = posting_id(&unit_code, &period);
    let (posting, _) = posting_log::load(&state.pool, id).await?;
    let ctx = CommandContext::new(id, auth.actor(), Source::Api, Utc::now());
    let command = PostingCommand::Open {
        posting: PostingInput {
            unit_code,
            period,
            posted_from: b.posted_from,
            posted_to: b.posted_to,
            places: b.places,
        },
        items,
        minimum: ReviewDeadlines::shipped()
            .on(POSTING_MIN, b.posted_from)
            .cloned(),
    };
    let events = handle(&posting, command, &ctx)?;
    posting_log::append(&state.pool, id, &events).await?;
    Ok((StatusCode::CREATED, Json(PostingCreated { id })).into_response())
}

// ---------------------------------------------------------------- the public side

/// One household as the public sees it while the list is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicItem {
    pub head_name: String,
    pub hamlet: String,
    #[schema(example = "poor")]
    pub proposed_category: String,
}

/// The chair's decisions on the posted households since the posting began, counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicDecision {
    pub decision_no: String,
    pub decided_on: NaiveDate,
    #[schema(example = "poor")]
    pub category: String,
    pub households: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPosting {
    pub unit_code: String,
    pub period: String,
    pub posted_from: NaiveDate,
    pub posted_to: NaiveDate,
    /// Whether the list is up today.
    pub open: bool,
    /// `scheduled` (not yet up), `open` or `closed`.
    #[schema(example = "open")]
    pub status: String,
    pub places: Vec<String>,
    /// How many households the list held.
    pub households_posted: u32,
    /// The list, while it is up (empty otherwise).
    pub items: Vec<PublicItem>,
    /// After it closed: the decisions taken on the posted households.
    pub decisions: Vec<PublicDecision>,
    /// After it closed: posted households without a decision yet.
    pub undecided: u32,
}

/// What the public sees of the posting of `unit_code`'s review `period`, or 404. Path values
/// that cannot be a unit code or a period (`..`, slashes, anything but letters, digits and
/// `-`) are 404 like an unknown posting, so nothing else can be reached through them.
pub async fn public_view(
    state: &AppState,
    unit_code: &str,
    period: &str,
    today: NaiveDate,
) -> Result<PublicPosting, ApiError> {
    let not_found = || ApiError::NotFound("no posting of that unit and period".into());
    let unit_ok =
        (1..=10).contains(&unit_code.len()) && unit_code.bytes().all(|b| b.is_ascii_digit());
    let period_ok = (1..=40).contains(&period.len())
        && period
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !unit_ok || !period_ok {
        return Err(not_found());
    }
    let (posting, _) = posting_log::load(&state.pool, posting_id(unit_code, period)).await?;
    let opened = posting.opened.ok_or_else(not_found)?;
    // The stream id is derived from both; a collision of another pair is still refused.
    if opened.unit_code != unit_code || opened.period != period {
        return Err(not_found());
    }
    let open = opened.open_on(today);
    let closed = today > opened.posted_to;
    let (decisions, undecided) = if closed {
        final_decisions(state, &opened).await?
    } else {
        (Vec::new(), 0)
    };
    Ok(PublicPosting {
        unit_code: opened.unit_code,
        period: opened.period,
        posted_from: opened.posted_from,
        posted_to: opened.posted_to,
        open,
        status: if open {
            "open"
        } else if closed {
            "closed"
        } else {
            "scheduled"
        }
        .to_owned(),
        places: opened.places,
        households_posted: u32::try_from(opened.items.len()).unwrap_or(u32::MAX),
        items: if open {
            opened
                .items
                .into_iter()
                .map(|i| PublicItem {
                    head_name: i.head_name,
                    hamlet: i.hamlet,
                    proposed_category: i.proposed_category.as_str().to_owned(),
                })
                .collect()
        } else {
            Vec::new()
        },
        decisions,
        undecided,
    })
}

/// The latest decision on each posted household taken since the posting began, counted by
/// decision number, day and category; and how many have none.
async fn final_decisions(
    state: &AppState,
    opened: &PostingOpened,
) -> Result<(Vec<PublicDecision>, u32), ApiError> {
    let ids: Vec<Uuid> = opened.items.iter().map(|i| i.household_id).collect();
    let rows: Vec<(Uuid, String, String, NaiveDate)> = sqlx::query_as(
        "SELECT DISTINCT ON (aggregate_id) aggregate_id, payload->'data'->>'category',
                payload->'data'->>'decision_no', (payload->'data'->>'decided_on')::date
           FROM household_events
          WHERE aggregate_id = ANY($1) AND payload->>'type' = 'household_classified'
            AND (payload->'data'->>'decided_on')::date >= $2
          ORDER BY aggregate_id, sequence_number DESC",
    )
    .bind(&ids)
    .bind(opened.posted_from)
    .fetch_all(&state.pool)
    .await?;
    let decided = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let mut counts: BTreeMap<(NaiveDate, String, String), u32> = BTreeMap::new();
    for (_, category, decision_no, decided_on) in rows {
        *counts
            .entry((decided_on, decision_no, category))
            .or_default() += 1;
    }
    let decisions = counts
        .into_iter()
        .map(
            |((decided_on, decision_no, category), households)| PublicDecision {
                decision_no,
                decided_on,
                category,
                households,
            },
        )
        .collect();
    let posted = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    Ok((decisions, posted.saturating_sub(decided)))
}

/// A commune's posted review results, without sign-in: the list while it is up, the outcome
/// after. Nothing else is reachable here; at most 60 requests a minute per client address
/// (`serve --public-rate-limit`), then 429 with `Retry-After`.
#[utoipa::path(get, path = "/api/v1/public/postings/{unit_code}/{period}", tag = "review",
    params(("unit_code" = String, Path, example = "25459"), ("period" = String, Path, example = "2025-annual")),
    responses(
        (status = 200, body = PublicPosting),
        (status = 404, description = "No posting of that unit and period", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn public_posting(
    State(state): State<AppState>,
    Path((unit_code, period)): Path<(String, String)>,
) -> Result<Json<PublicPosting>, ApiError> {
    Ok(Json(
        public_view(&state, &unit_code, &period, today()).await?,
    ))
}
