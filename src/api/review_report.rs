//! `/api/v1/reports/review`: the public review of a unit (and the units below it) for a period,
//! for supervisors: households posted, complaints received / upheld / rejected / open /
//! overdue, decisions taken before the posting closed (there should be none), decisions taken
//! over an open complaint or a "review again" (flagged), and the list of overdue complaints.
//!
//! Read from the logs as they stand (households by their current unit), never from a lagging
//! read model: the counts are few and the supervisors act on them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{need, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded};
use super::AppState;
use crate::posting_log;

pub fn router() -> Router<AppState> {
    Router::new().route("/reports/review", get(review_report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewReportQuery {
    /// The unit (and every unit below it); the user's own by default.
    pub unit: Option<String>,
    /// The review period (`2025-annual`); every period when absent.
    pub period: Option<String>,
}

impl Bounded for ReviewReportQuery {}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ComplaintCounts {
    pub received: u32,
    pub upheld: u32,
    pub rejected: u32,
    /// Not resolved yet.
    pub open: u32,
    /// Not resolved and past their deadline today.
    pub overdue: u32,
    /// Resolved, but after their deadline.
    pub resolved_late: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueComplaint {
    pub household_id: Uuid,
    pub unit_code: String,
    pub complaint_id: Uuid,
    pub period: String,
    pub received_on: NaiveDate,
    pub resolve_by: NaiveDate,
    pub days_overdue: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EarlyDecision {
    pub household_id: Uuid,
    pub unit_code: String,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    /// The last day of the posting it came before the end of.
    pub posted_to: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedDecision {
    pub household_id: Uuid,
    pub unit_code: String,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    pub reason: Option<String>,
    /// Complaints open when it was decided.
    pub open_complaints: u32,
    /// Set when the household was back in review (meeting or upheld complaint) without a new
    /// survey.
    pub sent_back_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewReport {
    pub unit: String,
    pub period: Option<String>,
    /// Postings of the unit and the units below it.
    pub postings: u32,
    pub households_posted: u32,
    pub complaints: ComplaintCounts,
    /// Decisions on posted households taken before their posting closed (should be none).
    pub decisions_before_posting_closed: Vec<EarlyDecision>,
    pub flagged_decisions: Vec<FlaggedDecision>,
    pub overdue_complaints: Vec<OverdueComplaint>,
}

/// Today in Vietnam (UTC+7).
fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

/// The events the report reads, of the households now in `unit` or below, with the
/// household's unit: surveys and complaints of `period` (any period for `None`), every
/// resolution, and the decisions that are flagged or on a household of `posted`. Filtered in
/// the statement, so a province's report does not read every decision of every household.
async fn unit_events(
    state: &AppState,
    unit: &str,
    period: Option<&str>,
    posted: &[Uuid],
) -> Result<Vec<(Uuid, String, i32, Value)>, ApiError> {
    let rows: Vec<(Uuid, String, i32, sqlx::types::Json<Value>)> = sqlx::query_as(
        "SELECT e.aggregate_id, s.unit_code, e.sequence_number, e.payload->'data'
           FROM household_status s
           JOIN household_events e ON e.aggregate_id = s.household_id
          WHERE s.unit_code IN (SELECT descendant FROM admin_unit_closure WHERE ancestor = $1)
            AND (   (e.payload->>'type' IN ('complaint_received', 'household_surveyed')
                     AND ($2::text IS NULL OR e.payload->'data'->>'period' = $2))
                 OR e.payload->>'type' = 'complaint_resolved'
                 OR (e.payload->>'type' = 'household_classified'
                     AND (e.payload->'data' ? 'open_complaints'
                          OR e.payload->'data' ? 'sent_back_on'
                          OR e.aggregate_id = ANY($3))))
          ORDER BY e.aggregate_id, e.sequence_number",
    )
    .bind(unit)
    .bind(period)
    .bind(posted)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, unit, seq, data)| (id, unit, seq, data.0))
        .collect())
}

fn date(v: &Value) -> Option<NaiveDate> {
    v.as_str()?.parse().ok()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The public review of a unit and period, for supervisors.
#[utoipa::path(get, path = "/api/v1/reports/review", tag = "review",
    params(ReviewReportQuery),
    responses(
        (status = 200, body = ReviewReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn review_report(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Reports>,
    ApiQuery(q): ApiQuery<ReviewReportQuery>,
) -> Result<Json<ReviewReport>, ApiError> {
    let period = q
        .period
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    let today = today();
    // Postings of the unit and below first: the decisions on their households are read.
    let units: Vec<String> =
        sqlx::query_scalar("SELECT descendant FROM admin_unit_closure WHERE ancestor = $1")
            .bind(&unit)
            .fetch_all(&state.pool)
            .await?;
    let postings = posting_log::opened(&state.pool, &units, period.as_deref(), None).await?;
    let posted: Vec<Uuid> = postings
        .iter()
        .flat_map(|(_, p)| p.items.iter().map(|i| i.household_id))
        .collect();
    let events = unit_events(&state, &unit, period.as_deref(), &posted).await?;
    let in_period = |data: &Value| period.as_deref().is_none_or(|p| data["period"] == p);

    // Complaints of the period and their resolutions.
    let mut resolutions: BTreeMap<Uuid, &Value> = BTreeMap::new();
    for (_, _, _, data) in &events {
        if let Some(id) = data["complaint_id"].as_str().and_then(|s| s.parse().ok()) {
            if data.get("outcome").is_some() {
                resolutions.insert(id, data);
            }
        }
    }
    let mut counts = ComplaintCounts::default();
    let mut overdue = Vec::new();
    // Earliest survey date of the period per household, for flagged decisions.
    let mut surveyed: BTreeMap<Uuid, NaiveDate> = BTreeMap::new();
    for (household_id, unit_code, _, data) in &events {
        if data.get("survey_date").is_some() && in_period(data) {
            if let Some(day) = date(&data["survey_date"]) {
                let e = surveyed.entry(*household_id).or_insert(day);
                *e = (*e).min(day);
            }
        }
        if data.get("received_by").is_none() || !in_period(data) {
            continue;
        }
        let (Some(complaint_id), Some(resolve_by)) = (
            data["complaint_id"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok()),
            date(&data["resolve_by"]),
        ) else {
            continue;
        };
        counts.received += 1;
        match resolutions.get(&complaint_id) {
            Some(r) => {
                match r["outcome"].as_str() {
                    Some("upheld") => counts.upheld += 1,
                    _ => counts.rejected += 1,
                }
                if r["late"] == true {
                    counts.resolved_late += 1;
                }
            }
            None => {
                counts.open += 1;
                if today > resolve_by {
                    counts.overdue += 1;
                    overdue.push(OverdueComplaint {
                        household_id: *household_id,
                        unit_code: unit_code.clone(),
                        complaint_id,
                        period: text(&data["period"]),
                        received_on: date(&data["received_on"]).unwrap_or(resolve_by),
                        resolve_by,
                        days_overdue: (today - resolve_by).num_days(),
                    });
                }
            }
        }
    }
    overdue.sort_by_key(|o| (o.resolve_by, o.household_id));

    let flagged_decisions = events
        .iter()
        .filter(|(_, _, _, d)| d.get("survey_sequence").is_some() && d.get("category").is_some())
        .filter(|(_, _, _, d)| {
            d.get("open_complaints").is_some() || d.get("sent_back_on").is_some()
        })
        .filter(
            |(id, _, _, d)| match (&period, surveyed.get(id), date(&d["decided_on"])) {
                (None, _, _) => true,
                (Some(_), Some(first), Some(decided)) => decided >= *first,
                _ => false,
            },
        )
        .map(|(id, unit_code, _, d)| FlaggedDecision {
            household_id: *id,
            unit_code: unit_code.clone(),
            decision_no: text(&d["decision_no"]),
            decided_on: date(&d["decided_on"]).unwrap_or(today),
            reason: d["reason"].as_str().map(str::to_owned),
            open_complaints: d["open_complaints"]
                .as_array()
                .map_or(0, |a| u32::try_from(a.len()).unwrap_or(u32::MAX)),
            sent_back_on: date(&d["sent_back_on"]),
        })
        .collect();

    // Decisions on posted households taken before their posting closed.
    let mut by_household: BTreeMap<Uuid, Vec<&Value>> = BTreeMap::new();
    let mut unit_of: BTreeMap<Uuid, &str> = BTreeMap::new();
    for (id, unit_code, _, data) in &events {
        by_household.entry(*id).or_default().push(data);
        unit_of.insert(*id, unit_code);
    }
    let mut households_posted = 0u32;
    let mut early = Vec::new();
    for (_, posting) in &postings {
        households_posted += u32::try_from(posting.items.len()).unwrap_or(u32::MAX);
        for item in &posting.items {
            let Some(own) = by_household.get(&item.household_id) else {
                continue;
            };
            let first_survey = own
                .iter()
                .filter(|d| {
                    d.get("survey_date").is_some() && d["period"] == posting.period.as_str()
                })
                .filter_map(|d| date(&d["survey_date"]))
                .min();
            let Some(first_survey) = first_survey else {
                continue;
            };
            for d in own {
                if d.get("survey_sequence").is_none() || d.get("category").is_none() {
                    continue;
                }
                let Some(decided_on) = date(&d["decided_on"]) else {
                    continue;
                };
                if decided_on >= first_survey && decided_on <= posting.posted_to {
                    early.push(EarlyDecision {
                        household_id: item.household_id,
                        unit_code: unit_of
                            .get(&item.household_id)
                            .map(|u| (*u).to_owned())
                            .unwrap_or_default(),
                        decision_no: text(&d["decision_no"]),
                        decided_on,
                        posted_to: posting.posted_to,
                    });
                }
            }
        }
    }
    Ok(Json(ReviewReport {
        unit,
        period,
        postings: u32::try_from(postings.len()).unwrap_or(u32::MAX),
        households_posted,
        complaints: counts,
        decisions_before_posting_closed: early,
        flagged_decisions,
        overdue_complaints: overdue,
    }))
}
