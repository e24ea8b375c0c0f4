//! Read model **status** (inline: written in the transaction that appends the events).
//!
//! Tables (`migrations/0003_status.sql`): `household_status`, one row per household (unit,
//! hamlet, area, head name and its folded form for search, member count, flags, version), and
//! `household_standard_status`, one row per household and standard (category, since when, on
//! which decision, the latest exits). Both are rewritten from the household's folded state, so
//! corrections and late facts need no special handling; a row is only replaced by a newer
//! version (`version` guard), which makes a replayed event a no-op.
//!
//! Time travel ([`status_as_of`]) does not read these tables: it replays the household's events
//! through the pure domain (see [`crate::time_travel`]) and shapes the result the same way.

use std::collections::BTreeMap;

use ansinh_events::household::HouseholdState;
use ansinh_events::standards::Category;
use ansinh_events::text::fold;
use ansinh_events::Area;
use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::log::{self, HouseholdLog, StoredEvent};
use crate::time_travel;

/// How long a household that exited poverty counts as "recently exited" (hộ mới thoát nghèo)
/// for the status flag. Policies differ (credit, health insurance); 36 months is the common
/// one and is to be confirmed against the decisions that apply.
pub const RECENTLY_EXITED_MONTHS: u32 = 36;

/// A household's status, the shape of `GET /api/v1/households/{id}` (plus fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdStatus {
    pub id: Uuid,
    pub head_name: String,
    pub unit_code: String,
    pub hamlet: String,
    pub area: Area,
    /// The sequence of the latest event this status includes.
    pub version: i64,
    pub member_count: i64,
    pub ethnic_minority: bool,
    /// Family of a person with merit (người có công).
    pub merit_family: bool,
    /// The latest survey found no working capacity (hộ không có khả năng lao động).
    pub no_working_capacity: bool,
    /// Recently exited poverty under some standard (see [`RECENTLY_EXITED_MONTHS`]).
    pub recently_exited: bool,
    pub registered_on: NaiveDate,
    /// The day it was placed in `unit_code` (registered or moved there): the day the code
    /// speaks of, since codes are reused across the 2025 reform of the units.
    pub placed_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    /// Standard id → standing.
    pub status: BTreeMap<String, Standing>,
    /// Set when this is the state as of the end of that day (by effective date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// Set when this is the state as known at the end of that day (by recording time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_on: Option<NaiveDate>,
}

/// A household's standing under one standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub category: Category,
    /// When the current category was first decided (re-confirmations keep it).
    pub since: NaiveDate,
    /// The decision that set the current category.
    pub decision_no: String,
    pub last_decided_on: NaiveDate,
    pub last_decision_no: String,
    pub exited_poverty_on: Option<NaiveDate>,
    pub exited_near_poverty_on: Option<NaiveDate>,
    pub recently_exited: bool,
}

/// A search result or list entry: enough to pick a household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct HouseholdSummary {
    pub id: Uuid,
    pub head_name: String,
    pub unit_code: String,
    /// The unit's name (valid on the day the list is for), when the unit is known.
    pub unit_name: Option<String>,
    pub hamlet: String,
    pub member_count: i32,
    pub registered_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub version: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words of the head's name, in any case, with or without diacritics; each word of the
    /// query must start a word of the name, in order ("nguyen van" finds "Nguyễn Văn A",
    /// "van a" too). Empty: every household (the register list).
    pub name: String,
    /// Only households in this unit or below it.
    pub unit: Option<String>,
    /// Only households in this hamlet (exactly as recorded).
    pub hamlet: Option<String>,
    /// With `category`: only households whose current category under this standard is it.
    /// Alone: only households decided under this standard.
    pub standard: Option<String>,
    pub category: Option<Category>,
    pub ethnic_minority: Option<bool>,
    pub merit_family: Option<bool>,
    pub no_working_capacity: Option<bool>,
    pub sort: SearchSort,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    /// The register as it stood at the end of this day: every filter then applies to each
    /// household's state replayed to that day (see [`crate::register_as_of`]).
    pub as_of: Option<NaiveDate>,
    /// With `as_of`: the user's own unit, which bounds the households replayed (by their
    /// current unit, as every household read is scoped); `unit` then filters the unit they
    /// were in on `as_of`.
    pub scope: Option<String>,
}

/// The order of a search or list page (ties broken by household id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchSort {
    /// The head's name, folded (case and diacritics ignored).
    #[default]
    Name,
    Unit,
    RegisteredOn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    pub items: Vec<HouseholdSummary>,
    pub total: i64,
}

/// Whether an exit on `exited_on` still counts as recent on `on`.
pub fn recently_exited(category: Category, exited_on: Option<NaiveDate>, on: NaiveDate) -> bool {
    let Some(exited_on) = exited_on else {
        return false;
    };
    let window_start = on
        .checked_sub_months(Months::new(RECENTLY_EXITED_MONTHS))
        .unwrap_or(NaiveDate::MIN);
    category != Category::Poor && exited_on > window_start && exited_on <= on
}

/// The status a folded state shows, with flags judged on `on`; `None` before registration.
pub fn from_state(id: Uuid, state: &HouseholdState, on: NaiveDate) -> Option<HouseholdStatus> {
    let current = state.current.as_ref()?;
    let registered_on = state.registered_on?;
    let status: BTreeMap<String, Standing> = state
        .statuses
        .iter()
        .map(|(standard, s)| {
            (
                standard.clone(),
                Standing {
                    category: s.category,
                    since: s.since,
                    decision_no: s.decision_no.clone(),
                    last_decided_on: s.last_decided_on,
                    last_decision_no: s.last_decision_no.clone(),
                    exited_poverty_on: s.exited_poverty_on,
                    exited_near_poverty_on: s.exited_near_poverty_on,
                    recently_exited: recently_exited(s.category, s.exited_poverty_on, on),
                },
            )
        })
        .collect();
    Some(HouseholdStatus {
        id,
        head_name: current.head_name.clone(),
        unit_code: current.unit_code.clone(),
        hamlet: current.hamlet.clone(),
        area: current.area,
        version: state.version(),
        member_count: current.members.len() as i64,
        ethnic_minority: current.ethnic_minority,
        merit_family: current.merit_family,
        no_working_capacity: log::no_working_capacity_on(state, NaiveDate::MAX),
        recently_exited: status.values().any(|s| s.recently_exited),
        registered_on,
        placed_on: state.placed_on().unwrap_or(registered_on),
        closed_on: log::closed_on(state),
        status,
        as_of: None,
        known_on: None,
    })
}

// ------------------------------------------------------------------------------ writing

/// Applies a batch of stored events (see [`crate::log`]).
pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    let logs = log::load(conn, events).await?;
    write(conn, &logs).await
}

/// Writes the status of these households, each from its folded state, in three statements.
pub async fn write(conn: &mut PgConnection, logs: &[HouseholdLog]) -> Result<(), sqlx::Error> {
    let mut h = HouseholdColumns::default();
    let mut standings = Vec::new();
    for l in logs {
        // Flags that depend on the day are computed when read; none is stored.
        let Some(s) = from_state(l.household_id, &l.state, NaiveDate::MAX) else {
            continue;
        };
        let Some(last) = l.events.last() else {
            continue;
        };
        h.push(&s, last.meta.recorded_at);
        standings.push(s);
    }
    if h.ids.is_empty() {
        return Ok(());
    }
    let t = crate::tables::HOUSEHOLD_STATUS;
    let advanced: Vec<Uuid> = sqlx::query_scalar(&format!(
        "INSERT INTO {} AS s ({})
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::text[], $8::int[], $9::bool[], $10::bool[],
                              $11::bool[], $12::date[], $13::date[], $14::timestamptz[],
                              $15::date[])
         ON CONFLICT (household_id) DO UPDATE SET {}
         WHERE s.version < EXCLUDED.version
         RETURNING household_id",
        t.name,
        t.column_list(),
        t.update_all()
    ))
    .bind(&h.ids)
    .bind(&h.versions)
    .bind(&h.head_names)
    .bind(&h.folded)
    .bind(&h.units)
    .bind(&h.hamlets)
    .bind(&h.areas)
    .bind(&h.member_counts)
    .bind(&h.ethnic_minority)
    .bind(&h.merit_family)
    .bind(&h.no_working_capacity)
    .bind(&h.registered_on)
    .bind(&h.closed_on)
    .bind(&h.recorded_at)
    .bind(&h.placed_on)
    .fetch_all(&mut *conn)
    .await?;
    if advanced.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM household_standard_status WHERE household_id = ANY($1)")
        .bind(&advanced)
        .execute(&mut *conn)
        .await?;
    let mut c = StandingColumns::default();
    for s in standings.iter().filter(|s| advanced.contains(&s.id)) {
        for (standard, standing) in &s.status {
            c.push(s.id, standard, standing);
        }
    }
    if c.ids.is_empty() {
        return Ok(());
    }
    let t = crate::tables::HOUSEHOLD_STANDARD_STATUS;
    sqlx::query(&format!(
        "INSERT INTO {} ({})
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::date[], $5::text[],
                              $6::date[], $7::text[], $8::date[], $9::date[])",
        t.name,
        t.column_list()
    ))
    .bind(&c.ids)
    .bind(&c.standards)
    .bind(&c.categories)
    .bind(&c.since)
    .bind(&c.decision_no)
    .bind(&c.last_decided_on)
    .bind(&c.last_decision_no)
    .bind(&c.exited_poverty_on)
    .bind(&c.exited_near_poverty_on)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Default)]
struct HouseholdColumns {
    ids: Vec<Uuid>,
    versions: Vec<i32>,
    head_names: Vec<String>,
    folded: Vec<String>,
    units: Vec<String>,
    hamlets: Vec<String>,
    areas: Vec<String>,
    member_counts: Vec<i32>,
    ethnic_minority: Vec<bool>,
    merit_family: Vec<bool>,
    no_working_capacity: Vec<bool>,
    registered_on: Vec<NaiveDate>,
    closed_on: Vec<Option<NaiveDate>>,
    recorded_at: Vec<DateTime<Utc>>,
    placed_on: Vec<NaiveDate>,
}

impl HouseholdColumns {
    fn push(&mut self, s: &HouseholdStatus, recorded_at: DateTime<Utc>) {
        self.ids.push(s.id);
        self.versions.push(to_i32(s.version));
        self.head_names.push(s.head_name.clone());
        self.folded.push(fold(&s.head_name));
        self.units.push(s.unit_code.clone());
        self.hamlets.push(s.hamlet.clone());
        self.areas.push(s.area.as_str().to_owned());
        self.member_counts.push(to_i32(s.member_count));
        self.ethnic_minority.push(s.ethnic_minority);
        self.merit_family.push(s.merit_family);
        self.no_working_capacity.push(s.no_working_capacity);
        self.registered_on.push(s.registered_on);
        self.closed_on.push(s.closed_on);
        self.recorded_at.push(recorded_at);
        self.placed_on.push(s.placed_on);
    }
}

#[derive(Default)]
struct StandingColumns {
    ids: Vec<Uuid>,
    standards: Vec<String>,
    categories: Vec<String>,
    since: Vec<NaiveDate>,
    decision_no: Vec<String>,
    last_decided_on: Vec<NaiveDate>,
    last_decision_no: Vec<String>,
    exited_poverty_on: Vec<Option<NaiveDate>>,
    exited_near_poverty_on: Vec<Option<NaiveDate>>,
}

impl StandingColumns {
    fn push(&mut self, id: Uuid, standard: &str, s: &Standing) {
        self.ids.push(id);
        self.standards.push(standard.to_owned());
        self.categories.push(s.category.as_str().to_owned());
        self.since.push(s.since);
        self.decision_no.push(s.decision_no.clone());
        self.last_decided_on.push(s.last_decided_on);
        self.last_decision_no.push(s.last_decision_no.clone());
        self.exited_poverty_on.push(s.exited_poverty_on);
        self.exited_near_poverty_on.push(s.exited_near_poverty_on);
    }
}

pub(crate) fn to_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

// ------------------------------------------------------------------------------ reading

/// Why a status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored value {value:?} of {field} is not valid")]
    Corrupt { field: &'static str, value: String },
}

/// The current status of a household, flags judged today (Vietnam time); `None` if unknown.
pub async fn status(pool: &PgPool, id: Uuid) -> Result<Option<HouseholdStatus>, StatusError> {
    status_on(pool, id, log::today_in_vietnam()).await
}

type StatusRow = (
    Uuid,
    i32,
    String,
    String,
    String,
    String,
    i32,
    bool,
    bool,
    bool,
    NaiveDate,
    Option<NaiveDate>,
    NaiveDate,
);
type StandingRow = (
    String,
    String,
    NaiveDate,
    String,
    NaiveDate,
    String,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

/// The current status with the day-dependent flags judged on `on`.
pub async fn status_on(
    pool: &PgPool,
    id: Uuid,
    on: NaiveDate,
) -> Result<Option<HouseholdStatus>, StatusError> {
    let row: Option<StatusRow> = sqlx::query_as(
        "SELECT household_id, version, head_name, unit_code, hamlet, area, member_count,
                ethnic_minority, merit_family, no_working_capacity, registered_on, closed_on,
                placed_on
           FROM household_status WHERE household_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let standings: Vec<StandingRow> = sqlx::query_as(
        "SELECT standard, category, since, decision_no, last_decided_on, last_decision_no,
                exited_poverty_on, exited_near_poverty_on
           FROM household_standard_status WHERE household_id = $1 ORDER BY standard",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut status = BTreeMap::new();
    for (standard, category, since, decision_no, last_on, last_no, exited_p, exited_np) in standings
    {
        let category = Category::parse(&category).ok_or(StatusError::Corrupt {
            field: "category",
            value: category,
        })?;
        status.insert(
            standard,
            Standing {
                category,
                since,
                decision_no,
                last_decided_on: last_on,
                last_decision_no: last_no,
                exited_poverty_on: exited_p,
                exited_near_poverty_on: exited_np,
                recently_exited: recently_exited(category, exited_p, on),
            },
        );
    }
    let (
        id,
        version,
        head_name,
        unit_code,
        hamlet,
        area,
        members,
        em,
        merit,
        nwc,
        reg,
        closed,
        placed,
    ) = row;
    let area = Area::parse(&area).ok_or(StatusError::Corrupt {
        field: "area",
        value: area,
    })?;
    Ok(Some(HouseholdStatus {
        id,
        head_name,
        unit_code,
        hamlet,
        area,
        version: version.into(),
        member_count: members.into(),
        ethnic_minority: em,
        merit_family: merit,
        no_working_capacity: nwc,
        recently_exited: status.values().any(|s| s.recently_exited),
        registered_on: reg,
        placed_on: placed,
        closed_on: closed,
        status,
        as_of: None,
        known_on: None,
    }))
}

/// The status of a household as of the end of `as_of` (by effective date, corrections
/// included) and/or as known at the end of `known_on` (only events recorded by then), by
/// replaying its events; with neither, the current status from the read model. `None` when the
/// household is unknown or was not yet registered then.
pub async fn status_as_of(
    pool: &PgPool,
    id: Uuid,
    as_of: Option<NaiveDate>,
    known_on: Option<NaiveDate>,
) -> Result<Option<HouseholdStatus>, StatusError> {
    if as_of.is_none() && known_on.is_none() {
        return status(pool, id).await;
    }
    let events = household_events(pool, id).await?;
    let state = time_travel::replay(&events, as_of, known_on);
    let on = as_of.or(known_on).unwrap_or_else(log::today_in_vietnam);
    Ok(from_state(id, &state, on).map(|mut s| {
        s.as_of = as_of;
        s.known_on = known_on;
        s
    }))
}

/// Every stored event of a household, in sequence order.
pub async fn household_events<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Vec<ansinh_events::Recorded<ansinh_events::household::HouseholdEvent>>, sqlx::Error> {
    let rows: Vec<(Json<ansinh_events::Recorded<ansinh_events::household::HouseholdEvent>>,)> =
        sqlx::query_as(
            "SELECT payload FROM household_events WHERE aggregate_id = $1 ORDER BY sequence_number",
        )
        .bind(id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|(Json(e),)| e).collect())
}

/// Households whose head's name matches, ignoring case and diacritics (đ ↔ d), narrowed by
/// the other filters, in the order asked (name order by default); an empty name matches all.
pub async fn search(pool: &PgPool, q: &SearchQuery) -> Result<SearchPage, sqlx::Error> {
    if let Some(as_of) = q.as_of {
        return crate::register_as_of::search(pool, q, as_of).await;
    }
    let folded = fold(&q.name);
    if folded.is_empty() && !q.name.trim().is_empty() {
        return Ok(SearchPage {
            items: Vec::new(),
            total: 0,
        });
    }
    let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) FROM household_status WHERE ");
    push_filters(&mut count, &folded, q);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut items = QueryBuilder::<Postgres>::new(
        "SELECT household_id AS id, head_name, unit_code,
                (SELECT u.name FROM admin_units u WHERE u.code = household_status.unit_code
                  ORDER BY u.valid_to IS NULL DESC, u.valid_from DESC LIMIT 1) AS unit_name,
                hamlet, member_count, registered_on, closed_on, version
           FROM household_status WHERE ",
    );
    push_filters(&mut items, &folded, q);
    let column = match q.sort {
        SearchSort::Name => "head_name_folded",
        SearchSort::Unit => "unit_code",
        SearchSort::RegisteredOn => "registered_on",
    };
    let direction = if q.descending { "DESC" } else { "ASC" };
    items.push(format!(
        " ORDER BY {column} {direction}, household_id {direction} LIMIT "
    ));
    items.push_bind(q.limit.clamp(1, 500));
    items.push(" OFFSET ");
    items.push_bind(q.offset.max(0));
    let items = items
        .build_query_as::<HouseholdSummary>()
        .fetch_all(pool)
        .await?;
    Ok(SearchPage { items, total })
}

/// The WHERE conditions of [`search`], every value bound.
fn push_filters(b: &mut QueryBuilder<'_, Postgres>, folded: &str, q: &SearchQuery) {
    b.push("TRUE");
    if !folded.is_empty() {
        let escaped = escape_like(folded);
        // Each query word starts a name word, in order: " nguyen% van%" against " nguyen van a".
        let words: Vec<&str> = escaped.split(' ').collect();
        let word_pattern = format!("% {}%", words.join("% "));
        b.push(" AND (head_name_folded LIKE ");
        b.push_bind(format!("{escaped}%"));
        b.push(" OR (head_name_folded LIKE ");
        b.push_bind(format!("%{escaped}%"));
        b.push(" AND (' ' || head_name_folded) LIKE ");
        b.push_bind(word_pattern);
        b.push("))");
    }
    if let Some(unit) = &q.unit {
        // Judged on the day the household was placed: a code reused by a new commune does not
        // pull in households left in the old commune of that code.
        b.push(
            " AND EXISTS (SELECT 1 FROM admin_unit_closure c
                 WHERE c.descendant = household_status.unit_code
                   AND household_status.placed_on BETWEEN c.valid_from AND c.valid_to
                   AND c.ancestor = ",
        );
        b.push_bind(unit.clone());
        b.push(")");
    }
    if let Some(hamlet) = &q.hamlet {
        b.push(" AND hamlet = ");
        b.push_bind(hamlet.clone());
    }
    if q.standard.is_some() || q.category.is_some() {
        b.push(
            " AND EXISTS (SELECT 1 FROM household_standard_status s
                 WHERE s.household_id = household_status.household_id",
        );
        if let Some(standard) = &q.standard {
            b.push(" AND s.standard = ");
            b.push_bind(standard.clone());
        }
        if let Some(category) = q.category {
            b.push(" AND s.category = ");
            b.push_bind(category.as_str());
        }
        b.push(")");
    }
    for (column, value) in [
        ("ethnic_minority", q.ethnic_minority),
        ("merit_family", q.merit_family),
        ("no_working_capacity", q.no_working_capacity),
    ] {
        if let Some(value) = value {
            b.push(format!(" AND {column} = "));
            b.push_bind(value);
        }
    }
}

/// Whether a folded name matches a folded query as [`search`]'s SQL does: the name starts
/// with the query, or each query word starts a name word, in order, and the query occurs in it.
pub fn name_matches(folded_name: &str, folded_query: &str) -> bool {
    if folded_name.starts_with(folded_query) {
        return true;
    }
    if !folded_name.contains(folded_query) {
        return false;
    }
    let spaced = format!(" {folded_name}");
    let mut rest = spaced.as_str();
    for word in folded_query.split(' ') {
        match rest.find(&format!(" {word}")) {
            Some(at) => rest = &rest[at + 1 + word.len()..],
            None => return false,
        }
    }
    true
}

/// `text` with LIKE's wildcards taken literally (the default escape character is `\`).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn an_exit_counts_as_recent_for_36_months_and_not_once_poor_again() {
        let on = d("2025-06-30");
        assert!(recently_exited(
            Category::NearPoor,
            Some(d("2022-07-01")),
            on
        ));
        assert!(!recently_exited(
            Category::NearPoor,
            Some(d("2022-06-30")),
            on
        ));
        assert!(!recently_exited(Category::Poor, Some(d("2024-12-01")), on));
        assert!(!recently_exited(Category::NotPoor, None, on));
        assert!(!recently_exited(
            Category::NotPoor,
            Some(d("2025-07-01")),
            on
        ));
    }

    #[test]
    fn names_match_by_word_starts_in_order() {
        assert!(name_matches("nguyen van a", "nguyen van"));
        assert!(name_matches("nguyen van a", "van a"));
        assert!(name_matches("nguyen van a", "a"));
        assert!(!name_matches("nguyen van a", "an"));
        assert!(!name_matches("nguyen van a", "a van"));
        assert!(!name_matches("nguyen van a", "guyen"));
    }

    #[test]
    fn like_wildcards_are_taken_literally() {
        assert_eq!(escape_like("a%b_c\\"), "a\\%b\\_c\\\\");
    }
}
