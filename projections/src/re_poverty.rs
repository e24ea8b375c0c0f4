//! Read model **re_poverty** (inline): the register of households that exited poverty (or
//! near-poverty) and were recognised again (tái nghèo / tái cận nghèo).
//!
//! Table (`migrations/0006_re_poverty.sql`): `re_poverty`, one row per `fell_back_into_*` event:
//! the standard, the exit it follows (date, decision, where to), the relapse (date, decision,
//! from which category), the supports received in between (count and VND; disbursed on or
//! after the exit day and before the relapse day, after corrections), the cause of poverty
//! the relapse survey gave, and the household's unit on the relapse day. A household's rows are
//! rewritten from its folded state (guarded by `re_poverty_households.version`) whenever a batch
//! brings it something that can change them: a relapse, a support, a correction, a move.

use std::collections::BTreeMap;

use ansinh_events::household::{HouseholdEvent, HouseholdState};
use ansinh_events::standards::Category;
use ansinh_events::Recorded;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::log::{self, HouseholdLog, StoredEvent};
use crate::status::to_i32;

pub(crate) const RELEVANT: [&str; 7] = [
    "household_registered",
    "members_changed",
    "household_moved",
    "support_received",
    "event_corrected",
    "fell_back_into_poverty",
    "fell_back_into_near_poverty",
];

/// One relapse, the contract's item plus the rest of the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relapse {
    pub household_id: Uuid,
    /// Sequence of the `fell_back_into_*` event.
    pub sequence: i64,
    pub standard: String,
    /// `poor` (tái nghèo) or `near_poor` (tái cận nghèo).
    pub category: Category,
    /// The household's unit on the day it fell back.
    pub unit_code: String,
    pub head_name: String,
    pub exited_on: NaiveDate,
    pub exit_decision_no: Option<String>,
    /// Where the exit went (near_poor, middle_income or not_poor).
    pub exited_to: Option<Category>,
    pub fell_back_on: NaiveDate,
    pub fell_back_decision_no: String,
    /// The category just before the relapse.
    pub fell_back_from: Category,
    /// Supports disbursed from the exit day up to the day before the relapse.
    pub supports_between: i64,
    pub supports_between_vnd: i64,
    /// The cause of poverty the survey behind the relapse decision gave.
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RePovertyFilter {
    /// Units include the units below them (by the household's unit on the relapse day).
    pub unit: Option<String>,
    /// Relapses decided on or after this day.
    pub from: Option<NaiveDate>,
    /// Relapses decided on or before this day.
    pub to: Option<NaiveDate>,
    pub standard: Option<String>,
    /// `poor` for re-poverty only, `near_poor` for re-near-poverty only; `None` for both.
    pub category: Option<Category>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RePovertyList {
    pub items: Vec<Relapse>,
    pub total: i64,
}

/// The relapses a household's history gives, in sequence order.
pub fn rows(l: &HouseholdLog) -> Vec<Relapse> {
    let mut rows = RelapseRows::default();
    rows.take_in(&l.events);
    rows.finish(l.household_id, &l.state);
    rows.rows.into_values().collect()
}

/// A household's relapse rows, kept up to date event by event, so a command computes them
/// without the history before its events (snapshots keep this too).
///
/// What a relapse takes from the events before it (the exit it follows, the classification
/// whose survey gives the cause) is noted as the events come; the unit, the head's name, the
/// supports in between and the cause are taken from the folded state afterwards
/// ([`RelapseRows::finish`]). Households have few relapses, so all of them are refreshed
/// whenever an event can change one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelapseRows {
    /// By the sequence of the `fell_back_into_*` event.
    pub rows: BTreeMap<i64, Relapse>,
    /// Standard → the latest exit from poverty (decision, where to).
    exits_poor: BTreeMap<String, (String, Category)>,
    /// Standard → the latest exit from near-poverty.
    exits_near_poor: BTreeMap<String, (String, Category)>,
    /// Standard → the survey behind its latest classification.
    classified_from: BTreeMap<String, i64>,
    /// Relapse → the survey whose cause of poverty it shows.
    cause_surveys: BTreeMap<i64, i64>,
}

impl RelapseRows {
    /// Takes in events in sequence order; says whether they can change a row.
    pub fn take_in<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Recorded<HouseholdEvent>>,
    ) -> bool {
        let mut touched = false;
        for e in events {
            touched |= RELEVANT.contains(&e.event.type_name());
            let (fell, category, exit) = match &e.event {
                HouseholdEvent::ExitedPoverty(x) => {
                    let exit = (x.decision_no.clone(), x.to);
                    self.exits_poor.insert(x.standard.clone(), exit);
                    continue;
                }
                HouseholdEvent::ExitedNearPoverty(x) => {
                    let exit = (x.decision_no.clone(), x.to);
                    self.exits_near_poor.insert(x.standard.clone(), exit);
                    continue;
                }
                HouseholdEvent::HouseholdClassified(c) => {
                    self.classified_from
                        .insert(c.standard.clone(), c.survey_sequence);
                    continue;
                }
                HouseholdEvent::FellBackIntoPoverty(f) => {
                    (f, Category::Poor, self.exits_poor.get(&f.standard))
                }
                HouseholdEvent::FellBackIntoNearPoverty(f) => {
                    (f, Category::NearPoor, self.exits_near_poor.get(&f.standard))
                }
                _ => continue,
            };
            let sequence = e.meta.sequence;
            if let Some(survey) = self.classified_from.get(&fell.standard) {
                self.cause_surveys.insert(sequence, *survey);
            }
            let row = Relapse {
                household_id: e.meta.household_id,
                sequence,
                standard: fell.standard.clone(),
                category,
                unit_code: String::new(),
                head_name: String::new(),
                exited_on: fell.exited_on,
                exit_decision_no: exit.map(|x| x.0.clone()),
                exited_to: exit.map(|x| x.1),
                fell_back_on: fell.decided_on,
                fell_back_decision_no: fell.decision_no.clone(),
                fell_back_from: fell.from,
                supports_between: 0,
                supports_between_vnd: 0,
                cause: None,
            };
            self.rows.insert(sequence, row);
        }
        touched
    }

    /// Fills in every row what it takes from `state`, folded past every event taken in.
    pub fn finish(&mut self, household_id: Uuid, state: &HouseholdState) {
        let head_name = state
            .current
            .as_ref()
            .map(|c| c.head_name.as_str())
            .unwrap_or_default();
        for row in self.rows.values_mut() {
            row.household_id = household_id;
            head_name.clone_into(&mut row.head_name);
            row.unit_code = log::unit_on(state, row.fell_back_on).unwrap_or_default();
            let between = state.current_supports().filter(|(_, s)| {
                s.disbursed_on >= row.exited_on && s.disbursed_on < row.fell_back_on
            });
            (row.supports_between, row.supports_between_vnd) =
                between.fold((0, 0), |(n, vnd), (_, s)| (n + 1, vnd + s.amount_vnd));
            row.cause = self
                .cause_surveys
                .get(&row.sequence)
                .and_then(|survey| state.surveys.get(survey))
                .and_then(|s| s.cause_of_poverty.clone());
        }
    }
}

// ------------------------------------------------------------------------------ writing

pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    let logs = log::load(conn, events).await?;
    write(conn, &logs).await
}

/// Whether the events `l` brings can change its rows (its version guard then moves on). Only
/// households that ever fell back have rows (relapses are never corrected away).
pub fn rewrites(l: &HouseholdLog) -> bool {
    l.touches(&RELEVANT)
        && l.events.iter().any(|e| {
            matches!(
                e.event,
                HouseholdEvent::FellBackIntoPoverty(_) | HouseholdEvent::FellBackIntoNearPoverty(_)
            )
        })
}

pub async fn write(conn: &mut PgConnection, logs: &[HouseholdLog]) -> Result<(), sqlx::Error> {
    let touched: Vec<&HouseholdLog> = logs.iter().filter(|l| rewrites(l)).collect();
    if touched.is_empty() {
        return Ok(());
    }
    let advanced = log::advance(conn, "re_poverty_households", "re_poverty", &touched).await?;
    if advanced.is_empty() {
        return Ok(());
    }
    let mut c = Columns::default();
    for l in touched
        .iter()
        .filter(|l| advanced.contains(&l.household_id))
    {
        for r in rows(l) {
            c.push(r);
        }
    }
    if c.ids.is_empty() {
        return Ok(());
    }
    let t = crate::tables::RE_POVERTY;
    sqlx::query(&format!(
        "INSERT INTO {} ({})
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::date[], $8::text[], $9::text[], $10::date[],
                              $11::text[], $12::text[], $13::int[], $14::bigint[], $15::text[])",
        t.name,
        t.column_list()
    ))
    .bind(&c.ids)
    .bind(&c.sequences)
    .bind(&c.standards)
    .bind(&c.categories)
    .bind(&c.units)
    .bind(&c.head_names)
    .bind(&c.exited_on)
    .bind(&c.exit_decisions)
    .bind(&c.exited_to)
    .bind(&c.fell_back_on)
    .bind(&c.fell_back_decisions)
    .bind(&c.fell_back_from)
    .bind(&c.supports)
    .bind(&c.supports_vnd)
    .bind(&c.causes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    sequences: Vec<i32>,
    standards: Vec<String>,
    categories: Vec<String>,
    units: Vec<String>,
    head_names: Vec<String>,
    exited_on: Vec<NaiveDate>,
    exit_decisions: Vec<Option<String>>,
    exited_to: Vec<Option<String>>,
    fell_back_on: Vec<NaiveDate>,
    fell_back_decisions: Vec<String>,
    fell_back_from: Vec<String>,
    supports: Vec<i32>,
    supports_vnd: Vec<i64>,
    causes: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, r: Relapse) {
        self.ids.push(r.household_id);
        self.sequences.push(to_i32(r.sequence));
        self.standards.push(r.standard);
        self.categories.push(r.category.as_str().to_owned());
        self.units.push(r.unit_code);
        self.head_names.push(r.head_name);
        self.exited_on.push(r.exited_on);
        self.exit_decisions.push(r.exit_decision_no);
        self.exited_to
            .push(r.exited_to.map(|c| c.as_str().to_owned()));
        self.fell_back_on.push(r.fell_back_on);
        self.fell_back_decisions.push(r.fell_back_decision_no);
        self.fell_back_from
            .push(r.fell_back_from.as_str().to_owned());
        self.supports.push(to_i32(r.supports_between));
        self.supports_vnd.push(r.supports_between_vnd);
        self.causes.push(r.cause);
    }
}

// ------------------------------------------------------------------------------ reading

#[derive(Debug, thiserror::Error)]
pub enum RePovertyError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored value {value:?} of {field} is not valid")]
    Corrupt { field: &'static str, value: String },
}

#[derive(sqlx::FromRow)]
struct Row {
    household_id: Uuid,
    sequence: i32,
    standard: String,
    category: String,
    unit_code: String,
    head_name: String,
    exited_on: NaiveDate,
    exit_decision_no: Option<String>,
    exited_to: Option<String>,
    fell_back_on: NaiveDate,
    fell_back_decision_no: String,
    fell_back_from: String,
    supports_between: i32,
    supports_between_vnd: i64,
    cause: Option<String>,
}

fn category(field: &'static str, value: String) -> Result<Category, RePovertyError> {
    Category::parse(&value).ok_or(RePovertyError::Corrupt { field, value })
}

impl Row {
    fn into_relapse(self) -> Result<Relapse, RePovertyError> {
        Ok(Relapse {
            household_id: self.household_id,
            sequence: self.sequence.into(),
            standard: self.standard,
            category: category("category", self.category)?,
            unit_code: self.unit_code,
            head_name: self.head_name,
            exited_on: self.exited_on,
            exit_decision_no: self.exit_decision_no,
            exited_to: self
                .exited_to
                .map(|c| category("exited_to", c))
                .transpose()?,
            fell_back_on: self.fell_back_on,
            fell_back_decision_no: self.fell_back_decision_no,
            fell_back_from: category("fell_back_from", self.fell_back_from)?,
            supports_between: self.supports_between.into(),
            supports_between_vnd: self.supports_between_vnd,
            cause: self.cause,
        })
    }
}

/// The matching relapses, by relapse date then household, with their total count.
pub async fn list(
    pool: &PgPool,
    filter: &RePovertyFilter,
    limit: i64,
    offset: i64,
) -> Result<RePovertyList, RePovertyError> {
    const WHERE: &str = "($1::text IS NULL OR unit_code IN
                           (SELECT descendant FROM admin_unit_closure WHERE ancestor = $1))
                     AND ($2::date IS NULL OR fell_back_on >= $2)
                     AND ($3::date IS NULL OR fell_back_on <= $3)
                     AND ($4::text IS NULL OR standard = $4)
                     AND ($5::text IS NULL OR category = $5)";
    let category = filter.category.map(|c| c.as_str().to_owned());
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM re_poverty WHERE {WHERE}"))
        .bind(&filter.unit)
        .bind(filter.from)
        .bind(filter.to)
        .bind(&filter.standard)
        .bind(&category)
        .fetch_one(pool)
        .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT household_id, sequence, standard, category, unit_code, head_name, exited_on,
                exit_decision_no, exited_to, fell_back_on, fell_back_decision_no, fell_back_from,
                supports_between, supports_between_vnd, cause
           FROM re_poverty WHERE {WHERE}
          ORDER BY fell_back_on, household_id, sequence
          LIMIT $6 OFFSET $7"
    ))
    .bind(&filter.unit)
    .bind(filter.from)
    .bind(filter.to)
    .bind(&filter.standard)
    .bind(&category)
    .bind(limit.clamp(1, 1000))
    .bind(offset.max(0))
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(Row::into_relapse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RePovertyList { items, total })
}
