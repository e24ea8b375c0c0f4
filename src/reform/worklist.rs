//! The reform's worklist: open households of a split old commune that no hamlet rule placed,
//! per new commune that may take them, until an officer assigns each one. Read by
//! `GET /api/v1/reform/worklist` and `ansinh units worklist`.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// A household awaiting assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Awaiting {
    pub household_id: Uuid,
    pub head_name: String,
    /// The old commune it is still placed in.
    pub old_code: String,
    pub old_name: String,
    pub hamlet: String,
    /// Since when it lives there.
    pub placed_on: NaiveDate,
    /// The new communes that took over part of the old one (codes), with their names.
    pub candidates: Vec<String>,
    pub candidate_names: Vec<String>,
    /// The reform's first day: an assignment takes effect then.
    pub effective_on: NaiveDate,
}

/// Households awaiting assignment whose old commune went (in part) to a commune `unit` covers;
/// every one for `None`. Ordered by old commune, hamlet and name.
const AWAITING: &str = "
    SELECT s.household_id, s.head_name, s.unit_code AS old_code,
           coalesce((SELECT a.name FROM admin_units a
                      WHERE a.code = s.unit_code AND a.valid_from <= s.placed_on
                        AND (a.valid_to IS NULL OR a.valid_to >= s.placed_on)), '') AS old_name,
           s.hamlet, s.placed_on,
           array_agg(us.new_code ORDER BY us.new_code) AS candidates,
           array_agg(coalesce(n.name, '') ORDER BY us.new_code) AS candidate_names,
           min(us.effective_on) AS effective_on
      FROM household_status s
      JOIN unit_successions us
        ON us.old_code = s.unit_code AND s.placed_on < us.effective_on AND NOT us.whole
      LEFT JOIN admin_units n
        ON n.code = us.new_code AND n.valid_from <= us.effective_on
       AND (n.valid_to IS NULL OR n.valid_to >= us.effective_on)
     WHERE s.closed_on IS NULL
       AND ($1::text IS NULL OR EXISTS (
             SELECT 1 FROM unit_successions u2
               JOIN admin_unit_closure c
                 ON c.descendant = u2.new_code
                AND u2.effective_on BETWEEN c.valid_from AND c.valid_to
              WHERE u2.old_code = s.unit_code AND NOT u2.whole AND c.ancestor = $1))
     GROUP BY s.household_id, s.head_name, s.unit_code, s.hamlet, s.placed_on";

/// A page of the worklist (of one household with `household`) and how many households await
/// in all.
pub async fn page(
    pool: &PgPool,
    unit: Option<&str>,
    household: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Awaiting>, i64), sqlx::Error> {
    let items: Vec<Awaiting> = sqlx::query_as(&format!(
        "SELECT * FROM ({AWAITING}) w WHERE ($2::uuid IS NULL OR w.household_id = $2)
          ORDER BY w.old_code, w.hamlet, w.head_name, w.household_id LIMIT $3 OFFSET $4"
    ))
    .bind(unit)
    .bind(household)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM ({AWAITING}) w WHERE ($2::uuid IS NULL OR w.household_id = $2)"
    ))
    .bind(unit)
    .bind(household)
    .fetch_one(pool)
    .await?;
    Ok((items, total))
}

/// Why `household` may not be assigned to `new_code`, or the reform's first day when it may:
/// it must await assignment (open, placed in a split old commune before the reform) and
/// `new_code` must be one of the communes that took over part of it.
pub async fn assignment(
    pool: &PgPool,
    household_id: Uuid,
    new_code: &str,
) -> Result<Result<NaiveDate, Refusal>, sqlx::Error> {
    let found: Option<Awaiting> = sqlx::query_as(&format!(
        "SELECT * FROM ({AWAITING}) w WHERE w.household_id = $2"
    ))
    .bind(None::<String>)
    .bind(household_id)
    .fetch_optional(pool)
    .await?;
    let Some(awaiting) = found else {
        return Ok(Err(Refusal::NotAwaiting));
    };
    if !awaiting.candidates.iter().any(|c| c == new_code) {
        let named: Vec<String> = awaiting
            .candidates
            .iter()
            .zip(&awaiting.candidate_names)
            .map(|(code, name)| format!("{code} {name}"))
            .collect();
        return Ok(Err(Refusal::NotASuccessor {
            old_code: awaiting.old_code,
            candidates: named,
        }));
    }
    Ok(Ok(awaiting.effective_on))
}

/// Why an assignment is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this household does not await assignment: it is not placed in a split commune from before a reform")]
    NotAwaiting,
    #[error("{old_code} was split between {}; choose one of them", candidates.join(" and "))]
    NotASuccessor {
        old_code: String,
        candidates: Vec<String>,
    },
}
