//! `/api/v1/anchor`: the anchor of a day (see [`crate::verify`]) and the verification of every
//! chain that computed it, with the query anyone can run to recompute the root.
//!
//! A full pass reads the whole log, so the last one is kept: asked again for the same day while
//! the log has not grown, the kept result is the answer (`checked_at` says when it ran).

use std::sync::Mutex;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{need, Allowed};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded};
use super::AppState;
use crate::verify::{self, end_of_day};

pub fn router() -> Router<AppState> {
    Router::new().route("/anchor", get(anchor))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnchorQuery {
    /// The day (Vietnam time); default: today. Not after today.
    pub date: Option<NaiveDate>,
}

impl Bounded for AnchorQuery {}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokenChainView {
    pub household_id: Uuid,
    pub first_bad_sequence: i64,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnchorView {
    pub date: NaiveDate,
    /// Households with an event recorded before the end of the day.
    pub households: u64,
    /// The sum of their last sequences before the end of the day.
    pub events: u64,
    /// Lowercase hex SHA-256 of the anchor's lines.
    pub root: String,
    /// When the verification behind this answer ran.
    pub checked_at: DateTime<Utc>,
    /// Chains and events the verification checked (the whole log when it ran).
    pub chains_checked: u64,
    pub events_checked: u64,
    /// Whether every chain was intact.
    pub intact: bool,
    /// Broken chains in all.
    pub broken_total: usize,
    /// The broken chains of households in the user's units.
    pub broken: Vec<BrokenChainView>,
    /// A query whose output, piped to `sha256sum`, is the root: `psql -At -c "…" | sha256sum`.
    pub recompute_sql: String,
}

/// The last full verification, and the log it covered.
#[derive(Debug, Clone)]
pub struct KeptRun {
    date: NaiveDate,
    log_mark: (i64, i64),
    report: verify::VerifyReport,
    checked_at: DateTime<Utc>,
}

/// Where [`AppState`] keeps the last run.
pub type AnchorCache = std::sync::Arc<Mutex<Option<KeptRun>>>;

/// The anchor of a day (default today) and whether every chain is intact (officers and
/// auditors). One line `household_id:sequence:hash` per household with an event recorded before
/// the end of the day (Vietnam time), its last such event; sorted by household id; the root is
/// the SHA-256 of the lines, each ending in a newline. `recompute_sql` prints those lines.
#[utoipa::path(get, path = "/api/v1/anchor", tag = "households",
    params(AnchorQuery),
    responses(
        (status = 200, body = AnchorView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn anchor(
    State(state): State<AppState>,
    Allowed { auth, .. }: Allowed<need::Verify>,
    ApiQuery(q): ApiQuery<AnchorQuery>,
) -> Result<Json<AnchorView>, ApiError> {
    let today = verify::today();
    let date = q.date.unwrap_or(today);
    if date > today {
        return Err(ApiError::bad_parameter(
            "date",
            format!("query parameter date: {date} is after today ({today}, Vietnam time)"),
        ));
    }
    let log_mark: (i64, i64) =
        sqlx::query_as("SELECT coalesce(max(global_position), 0), count(*) FROM household_events")
            .fetch_one(&state.pool)
            .await?;
    let kept = state
        .anchors
        .lock()
        .ok()
        .and_then(|k| k.clone())
        .filter(|k| k.date == date && k.log_mark == log_mark);
    let run = match kept {
        Some(run) => run,
        None => {
            let checked_at = Utc::now();
            let report = verify::verify(
                &state.pool,
                None,
                Some(date),
                &indicatif::ProgressBar::hidden(),
            )
            .await
            .map_err(ApiError::unexpected)?;
            let run = KeptRun {
                date,
                log_mark,
                report,
                checked_at,
            };
            if let Ok(mut k) = state.anchors.lock() {
                *k = Some(run.clone());
            }
            run
        }
    };
    let anchor = run
        .report
        .anchor
        .clone()
        .ok_or_else(|| ApiError::internal("the verification computed no anchor"))?;
    // Household ids of broken chains are shown only within the user's units.
    let broken_ids: Vec<Uuid> = run.report.broken.iter().map(|b| b.household_id).collect();
    let units: Vec<(Uuid, String, NaiveDate)> = sqlx::query_as(
        "SELECT household_id, unit_code, placed_on FROM household_status
          WHERE household_id = ANY($1)",
    )
    .bind(&broken_ids)
    .fetch_all(&state.pool)
    .await?;
    let mut broken = Vec::new();
    for b in &run.report.broken {
        // A broken chain of another log (a posting's) is named to every auditor: it holds
        // no personal data and its unit is in its own payload, which may be what was changed.
        if b.table != crate::verify::CHAINED[0] {
            broken.push(BrokenChainView {
                household_id: b.household_id,
                first_bad_sequence: b.first_bad_sequence,
                problem: format!("{}: {}", b.table, b.problem),
            });
            continue;
        }
        let unit = units.iter().find(|(id, ..)| *id == b.household_id);
        if let Some((_, unit, placed_on)) = unit {
            if auth.covers(&state, unit, Some(*placed_on)).await? {
                broken.push(BrokenChainView {
                    household_id: b.household_id,
                    first_bad_sequence: b.first_bad_sequence,
                    problem: b.problem.clone(),
                });
            }
        }
    }
    Ok(Json(AnchorView {
        date: anchor.date,
        households: anchor.households,
        events: anchor.events,
        root: anchor.root,
        checked_at: run.checked_at,
        chains_checked: run.report.households,
        events_checked: run.report.events,
        intact: run.report.intact(),
        broken_total: run.report.broken.len(),
        broken,
        recompute_sql: recompute_sql(date),
    }))
}

/// The anchor's lines of `date` as one SQL query (see [`crate::verify`]).
pub fn recompute_sql(date: NaiveDate) -> String {
    let cutoff = end_of_day(date).to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        "SELECT DISTINCT ON (aggregate_id) aggregate_id || ':' || sequence_number || ':' || \
         (payload->'meta'->>'hash') FROM household_events \
         WHERE (payload->'meta'->>'recorded_at')::timestamptz < '{cutoff}' \
         ORDER BY aggregate_id, sequence_number DESC"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_recompute_query_stops_at_midnight_vietnam_time() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).expect("day");
        let sql = super::recompute_sql(day);
        assert!(sql.contains("< '2026-12-02T17:00:00Z'"), "{sql}");
    }
}
