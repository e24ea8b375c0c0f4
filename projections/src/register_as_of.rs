//! The register as it stood at the end of a past day (`GET /api/v1/households?as_of=`).
//!
//! The status tables hold only each household's current state, so a past register is
//! computed: every household in the user's scope that was registered by then is replayed
//! through the pure domain to that day ([`crate::time_travel::replay`], the same cut as
//! `GET /api/v1/households/{id}?as_of=`), and the filters, sort and page apply to those past
//! states. Households are loaded a chunk at a time and only their summaries are kept, so memory
//! stays bounded by the number of matches, not by the events.

use std::collections::HashSet;

use ansinh_events::household::HouseholdEvent;
use ansinh_events::text::fold;
use ansinh_events::Recorded;
use chrono::NaiveDate;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::status::{
    from_state, name_matches, to_i32, HouseholdStatus, HouseholdSummary, SearchPage, SearchQuery,
    SearchSort,
};
use crate::time_travel;

/// Households replayed per statement.
const CHUNK: usize = 500;

/// [`crate::status::search`] for `q.as_of = Some(as_of)`.
pub async fn search(
    pool: &PgPool,
    q: &SearchQuery,
    as_of: NaiveDate,
) -> Result<SearchPage, sqlx::Error> {
    let folded = fold(&q.name);
    if folded.is_empty() && !q.name.trim().is_empty() {
        return Ok(SearchPage {
            items: Vec::new(),
            total: 0,
        });
    }
    // Registration dates are never corrected, so "registered by then" is read from the table.
    let scope = q.scope.as_ref().or(q.unit.as_ref());
    let candidates: Vec<Uuid> = sqlx::query_scalar(
        "SELECT household_id FROM household_status
          WHERE registered_on <= $1
            AND ($2::text IS NULL OR unit_code IN
                 (SELECT descendant FROM admin_unit_closure WHERE ancestor = $2))
          ORDER BY household_id",
    )
    .bind(as_of)
    .bind(scope)
    .fetch_all(pool)
    .await?;
    let units: Option<HashSet<String>> = match &q.unit {
        None => None,
        Some(unit) => Some(
            sqlx::query_scalar("SELECT descendant FROM admin_unit_closure WHERE ancestor = $1")
                .bind(unit)
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect(),
        ),
    };
    let mut found: Vec<(HouseholdStatus, String)> = Vec::new();
    for ids in candidates.chunks(CHUNK) {
        let rows: Vec<(Uuid, Json<Recorded<HouseholdEvent>>)> = sqlx::query_as(
            "SELECT aggregate_id, payload FROM household_events
              WHERE aggregate_id = ANY($1) ORDER BY aggregate_id, sequence_number",
        )
        .bind(ids)
        .fetch_all(pool)
        .await?;
        let mut rows = rows.into_iter().peekable();
        while let Some((id, Json(first))) = rows.next() {
            let mut events = vec![first];
            while let Some((_, Json(e))) = rows.next_if(|(other, _)| *other == id) {
                events.push(e);
            }
            let state = time_travel::replay(&events, Some(as_of), None);
            let Some(s) = from_state(id, &state, as_of) else {
                continue;
            };
            let name = fold(&s.head_name);
            if keeps(&s, &name, &folded, units.as_ref(), q) {
                found.push((s, name));
            }
        }
    }
    let key = |(s, name): &(HouseholdStatus, String)| match q.sort {
        SearchSort::Name => (name.clone(), None, s.id),
        SearchSort::Unit => (s.unit_code.clone(), None, s.id),
        SearchSort::RegisteredOn => (String::new(), Some(s.registered_on), s.id),
    };
    found.sort_by_cached_key(key);
    if q.descending {
        found.reverse();
    }
    let total = found.len() as i64;
    let offset = usize::try_from(q.offset.max(0)).unwrap_or(usize::MAX);
    let limit = usize::try_from(q.limit.clamp(1, 500)).unwrap_or(500);
    let page: Vec<HouseholdStatus> = found
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(s, _)| s)
        .collect();
    let codes: Vec<String> = page.iter().map(|s| s.unit_code.clone()).collect();
    let names: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (code) code, name FROM admin_units WHERE code = ANY($1)
          ORDER BY code, (valid_from <= $2 AND (valid_to IS NULL OR valid_to >= $2)) DESC,
                   valid_from DESC",
    )
    .bind(&codes)
    .bind(as_of)
    .fetch_all(pool)
    .await?;
    let items = page
        .into_iter()
        .map(|s| HouseholdSummary {
            unit_name: names
                .iter()
                .find(|(code, _)| *code == s.unit_code)
                .map(|(_, name)| name.clone()),
            id: s.id,
            head_name: s.head_name,
            unit_code: s.unit_code,
            hamlet: s.hamlet,
            member_count: to_i32(s.member_count),
            registered_on: s.registered_on,
            closed_on: s.closed_on,
            version: to_i32(s.version),
        })
        .collect();
    Ok(SearchPage { items, total })
}

/// Whether a past state passes the query's filters (the same ones as the SQL of the present).
fn keeps(
    s: &HouseholdStatus,
    folded_name: &str,
    folded_query: &str,
    units: Option<&HashSet<String>>,
    q: &SearchQuery,
) -> bool {
    (folded_query.is_empty() || name_matches(folded_name, folded_query))
        && units.is_none_or(|units| units.contains(&s.unit_code))
        && q.hamlet.as_ref().is_none_or(|h| *h == s.hamlet)
        && match (&q.standard, q.category) {
            (Some(standard), category) => s
                .status
                .get(standard)
                .is_some_and(|st| category.is_none_or(|c| st.category == c)),
            (None, Some(category)) => s.status.values().any(|st| st.category == category),
            (None, None) => true,
        }
        && q.ethnic_minority.is_none_or(|v| v == s.ethnic_minority)
        && q.merit_family.is_none_or(|v| v == s.merit_family)
        && q.no_working_capacity
            .is_none_or(|v| v == s.no_working_capacity)
}
