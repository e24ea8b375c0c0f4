//! Read model **movements** (asynchronous, kept by the runner in [`crate::runner`]): the movement
//! tables of poor and near-poor households per unit, period and standard.
//!
//! # How it balances by construction
//!
//! Each household, under each standard, is at any day in one *cell*: its unit, its group
//! (`poor`, `near_poor`, or `other` = neither, not yet registered, or closed) and its flags
//! (ethnic minority, no working capacity, merit family). From its whole history (corrections
//! applied, dates by effect) the household's path through cells is computed as a list of
//! *transitions* `(day, from cell, to cell, label)`, one per day on which its cell changes
//! ([`transitions`]); each transition's `from` is the previous one's `to`. The label says why the
//! group changed (a decision, a relapse, a baseline carried over from the superseded standard, a
//! closure) or `other` (a move or a change of flags).
//!
//! `movement_counts` keeps the number of households per (standard, day, label, from cell, to
//! cell) — rows grow with units × decision days, not with events — and a report reads only
//! those counts. For a unit U and a table T, a transition *enters* when its `to` cell is in U
//! and T and its `from` is not, *leaves* in the opposite case. Then
//!
//! * opening = Σ enters − Σ leaves over every transition before `from`,
//! * each increase column counts entering transitions in the period, each decrease column
//!   leaving ones (the label and groups choose the column),
//! * closing = opening + increases − decreases.
//!
//! Closing is *defined* by the flows, so the identity always holds; and because transitions
//! chain, it equals the number of households in T and U at the end of `to` — which the property
//! test checks against an independent replay of every household. A move between two communes of
//! the reported unit enters and leaves nowhere; a move across its boundary is an other
//! increase / decrease; a flag change only moves a household between breakdowns.
//!
//! A household's transitions are stored (`movement_households`) so that a new event, a late
//! move or a correction replaces them: the runner subtracts the old ones from the counts and adds
//! the new ones. A household's row is only replaced by a longer history (version guard: the
//! sequence of the last event that counts for movements), which makes redelivered events no-ops.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ansinh_events::household::{HouseholdEvent, HouseholdState, Replacement};
use ansinh_events::standards::Category;
use ansinh_events::Recorded;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::log::{self, HouseholdLog, StoredEvent};
use crate::status::to_i32;

/// Flag bits of a cell.
pub const ETHNIC_MINORITY: i16 = 1;
pub const NO_WORKING_CAPACITY: i16 = 2;
pub const MERIT_FAMILY: i16 = 4;

/// Which table a household counts in under a standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Poor,
    NearPoor,
    /// Neither poor nor near-poor, not registered yet, or closed.
    Other,
}

impl Group {
    pub fn of(category: Option<Category>) -> Group {
        match category {
            Some(Category::Poor) => Group::Poor,
            Some(Category::NearPoor) => Group::NearPoor,
            _ => Group::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Poor => "poor",
            Group::NearPoor => "near_poor",
            Group::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<Group> {
        [Group::Poor, Group::NearPoor, Group::Other]
            .into_iter()
            .find(|g| g.as_str() == name)
    }
}

/// Why a household's cell changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A decision: newly poor / near-poor, from the other table, or an exit.
    Decision,
    /// Recognised again after a recognised exit (tái nghèo / tái cận nghèo).
    FellBack,
    /// The first decision under a standard that supersedes another: the baseline.
    CarriedOver,
    /// The household was closed (dissolved, merged, left the province).
    Closed,
    /// A move or a change of flags; the group stayed.
    Other,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Decision => "decision",
            Label::FellBack => "fell_back",
            Label::CarriedOver => "carried_over",
            Label::Closed => "closed",
            Label::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<Label> {
        [
            Label::Decision,
            Label::FellBack,
            Label::CarriedOver,
            Label::Closed,
            Label::Other,
        ]
        .into_iter()
        .find(|l| l.as_str() == name)
    }
}

/// Where a household stands on a day under one standard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub unit: String,
    pub group: Group,
    pub flags: i16,
}

/// A change of cell at the end of `day`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Transition {
    pub standard: String,
    pub day: NaiveDate,
    pub label: Label,
    pub from: Cell,
    pub to: Cell,
}

/// The household's transitions under every standard it was decided under, from its whole
/// history (`state` is that history folded).
pub fn transitions(events: &[Recorded<HouseholdEvent>], state: &HouseholdState) -> Vec<Transition> {
    let (Some(registration), Some(registered_on)) = (&state.registration, state.registered_on)
    else {
        return Vec::new();
    };
    let constant = if registration.ethnic_minority {
        ETHNIC_MINORITY
    } else {
        0
    } | if registration.merit_family {
        MERIT_FAMILY
    } else {
        0
    };
    let closed_on = log::closed_on(state);
    let mut days = BTreeSet::from([registered_on]);
    days.extend(closed_on);
    for fact in state.facts.values() {
        if let Some(Replacement::HouseholdMoved(m)) = &fact.current {
            days.insert(m.moved_on);
        }
    }
    days.extend(state.surveys.values().map(|s| s.survey_date));

    // Per standard: decisions (date, category) and lifecycle events (date, group, label), in
    // sequence order.
    type Lifecycle = Vec<(NaiveDate, Group, Label)>;
    let mut decisions: BTreeMap<&str, Vec<(NaiveDate, Category)>> = BTreeMap::new();
    let mut lifecycle: BTreeMap<&str, Lifecycle> = BTreeMap::new();
    let baseline = |carried: bool| {
        if carried {
            Label::CarriedOver
        } else {
            Label::Decision
        }
    };
    for e in events {
        let (standard, entry) = match &e.event {
            HouseholdEvent::HouseholdClassified(c) => {
                decisions
                    .entry(&c.standard)
                    .or_default()
                    .push((c.decided_on, c.category));
                continue;
            }
            HouseholdEvent::BecamePoor(b) => (
                &b.standard,
                (
                    b.decided_on,
                    Group::Poor,
                    baseline(b.carried_over.is_some()),
                ),
            ),
            HouseholdEvent::BecameNearPoor(b) => (
                &b.standard,
                (
                    b.decided_on,
                    Group::NearPoor,
                    baseline(b.carried_over.is_some()),
                ),
            ),
            HouseholdEvent::ExitedPoverty(x) => (
                &x.standard,
                (x.decided_on, Group::of(Some(x.to)), Label::Decision),
            ),
            HouseholdEvent::ExitedNearPoverty(x) => (
                &x.standard,
                (x.decided_on, Group::of(Some(x.to)), Label::Decision),
            ),
            HouseholdEvent::FellBackIntoPoverty(f) => {
                (&f.standard, (f.decided_on, Group::Poor, Label::FellBack))
            }
            HouseholdEvent::FellBackIntoNearPoverty(f) => (
                &f.standard,
                (f.decided_on, Group::NearPoor, Label::FellBack),
            ),
            _ => continue,
        };
        lifecycle.entry(standard).or_default().push(entry);
    }

    let mut out = Vec::new();
    for (standard, decided) in &decisions {
        let group_on = |day: NaiveDate| {
            Group::of(
                decided
                    .iter()
                    .rev()
                    .find(|(on, _)| *on <= day)
                    .map(|(_, c)| *c),
            )
        };
        let cell = |day: NaiveDate| {
            let unit = log::unit_on(state, day).unwrap_or_default();
            if day < registered_on || closed_on.is_some_and(|c| c <= day) {
                return Cell {
                    unit,
                    group: Group::Other,
                    flags: 0,
                };
            }
            let nwc = if log::no_working_capacity_on(state, day) {
                NO_WORKING_CAPACITY
            } else {
                0
            };
            Cell {
                unit,
                group: group_on(day),
                flags: constant | nwc,
            }
        };
        let standard_days = days.iter().copied().chain(decided.iter().map(|d| d.0));
        let standard_days: BTreeSet<NaiveDate> = standard_days.collect();
        for day in standard_days {
            let Some(before) = day.pred_opt() else {
                continue;
            };
            let (from, to) = (cell(before), cell(day));
            if from == to || (from.group == Group::Other && to.group == Group::Other) {
                continue;
            }
            let label = if closed_on == Some(day) {
                Label::Closed
            } else if from.group != to.group {
                lifecycle
                    .get(standard)
                    .and_then(|events| {
                        events
                            .iter()
                            .rev()
                            .find(|(on, group, _)| *on == day && *group == to.group)
                    })
                    .map_or(Label::Decision, |(_, _, label)| *label)
            } else {
                Label::Other
            };
            out.push(Transition {
                standard: (*standard).to_owned(),
                day,
                label,
                from,
                to,
            });
        }
    }
    out
}

// ------------------------------------------------------------------------------ writing

/// The key of a `movement_counts` row.
type CountKey = (String, NaiveDate, Label, Cell, Cell);

fn key(t: &Transition) -> CountKey {
    (
        t.standard.clone(),
        t.day,
        t.label,
        t.from.clone(),
        t.to.clone(),
    )
}

/// The event types that never move a household between cells: supports, meetings,
/// complaints and flag answers. Every other type (and a correction of one) may, including
/// types added later. A batch that brings a household only these is not read at all, so a
/// busy stream of supports costs the movements nothing but reading the batch.
const STILL: &[&str] = &[
    "support_received",
    "review_meeting_held",
    "complaint_received",
    "complaint_resolved",
    "flag_explained",
    "flag_accepted",
];

/// Whether `e` can change a household's transitions (a correction: what it corrects).
fn moves(e: &Recorded<HouseholdEvent>) -> bool {
    !log::touches([e], STILL)
}

/// The sequence of the household's last event its transitions depend on: what its stored row
/// is guarded by, the same whether the row came from the runner or a rebuild.
fn moved_version(l: &HouseholdLog) -> i64 {
    l.events
        .iter()
        .rev()
        .find(|e| moves(e))
        .map_or(0, |e| e.meta.sequence)
}

pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    let moving: HashSet<Uuid> = events
        .iter()
        .filter(|e| moves(e.event))
        .map(|e| e.household_id)
        .collect();
    let events: Vec<StoredEvent<'_>> = events
        .iter()
        .filter(|e| moving.contains(&e.household_id))
        .copied()
        .collect();
    let logs = log::load(conn, &events).await?;
    write(conn, &logs).await
}

/// Replaces the transitions of these households and moves the counts by the difference.
pub async fn write(conn: &mut PgConnection, logs: &[HouseholdLog]) -> Result<(), sqlx::Error> {
    if logs.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = logs.iter().map(|l| l.household_id).collect();
    let stored: Vec<(Uuid, i32, Json<Vec<Transition>>)> = sqlx::query_as(
        "SELECT household_id, version, transitions FROM movement_households
          WHERE household_id = ANY($1) FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let stored: HashMap<Uuid, (i64, Vec<Transition>)> = stored
        .into_iter()
        .map(|(id, version, Json(t))| (id, (version.into(), t)))
        .collect();
    let mut deltas: HashMap<CountKey, i64> = HashMap::new();
    let (mut new_ids, mut new_versions, mut new_transitions) = (Vec::new(), Vec::new(), Vec::new());
    for l in logs {
        let old = stored.get(&l.household_id);
        let version = moved_version(l);
        if old.is_some_and(|(stored, _)| *stored >= version) {
            continue;
        }
        let new = transitions(&l.events, &l.state);
        for t in old.map(|o| o.1.as_slice()).unwrap_or_default() {
            *deltas.entry(key(t)).or_default() -= 1;
        }
        for t in &new {
            *deltas.entry(key(t)).or_default() += 1;
        }
        new_ids.push(l.household_id);
        new_versions.push(to_i32(version));
        new_transitions.push(Json(new));
    }
    if new_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO movement_households (household_id, version, transitions)
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::jsonb[])
         ON CONFLICT (household_id) DO UPDATE
            SET version = EXCLUDED.version, transitions = EXCLUDED.transitions",
    )
    .bind(&new_ids)
    .bind(&new_versions)
    .bind(&new_transitions)
    .execute(&mut *conn)
    .await?;
    deltas.retain(|_, n| *n != 0);
    if deltas.is_empty() {
        return Ok(());
    }
    let mut c = CountColumns::default();
    let mut any_decrease = false;
    for ((standard, day, label, from, to), n) in deltas {
        any_decrease |= n < 0;
        c.standards.push(standard);
        c.days.push(day);
        c.labels.push(label.as_str().to_owned());
        c.units_a.push(from.unit);
        c.groups_a.push(from.group.as_str().to_owned());
        c.flags_a.push(from.flags);
        c.units_b.push(to.unit);
        c.groups_b.push(to.group.as_str().to_owned());
        c.flags_b.push(to.flags);
        c.households.push(n);
    }
    sqlx::query(
        "INSERT INTO movement_counts AS m
             (standard, day, label, unit_a, group_a, flags_a, unit_b, group_b, flags_b, households)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::text[], $4::text[], $5::text[],
                              $6::smallint[], $7::text[], $8::text[], $9::smallint[], $10::bigint[])
         ON CONFLICT (standard, day, label, unit_a, group_a, flags_a, unit_b, group_b, flags_b)
         DO UPDATE SET households = m.households + EXCLUDED.households",
    )
    .bind(&c.standards)
    .bind(&c.days)
    .bind(&c.labels)
    .bind(&c.units_a)
    .bind(&c.groups_a)
    .bind(&c.flags_a)
    .bind(&c.units_b)
    .bind(&c.groups_b)
    .bind(&c.flags_b)
    .bind(&c.households)
    .execute(&mut *conn)
    .await?;
    if any_decrease {
        sqlx::query(
            "DELETE FROM movement_counts m
              USING UNNEST($1::text[], $2::date[], $3::text[], $4::text[], $5::text[],
                           $6::smallint[], $7::text[], $8::text[], $9::smallint[])
                    AS k(standard, day, label, unit_a, group_a, flags_a, unit_b, group_b, flags_b)
              WHERE m.households = 0
                AND (m.standard, m.day, m.label, m.unit_a, m.group_a, m.flags_a,
                     m.unit_b, m.group_b, m.flags_b)
                  = (k.standard, k.day, k.label, k.unit_a, k.group_a, k.flags_a,
                     k.unit_b, k.group_b, k.flags_b)",
        )
        .bind(&c.standards)
        .bind(&c.days)
        .bind(&c.labels)
        .bind(&c.units_a)
        .bind(&c.groups_a)
        .bind(&c.flags_a)
        .bind(&c.units_b)
        .bind(&c.groups_b)
        .bind(&c.flags_b)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(Default)]
struct CountColumns {
    standards: Vec<String>,
    days: Vec<NaiveDate>,
    labels: Vec<String>,
    units_a: Vec<String>,
    groups_a: Vec<String>,
    flags_a: Vec<i16>,
    units_b: Vec<String>,
    groups_b: Vec<String>,
    flags_b: Vec<i16>,
    households: Vec<i64>,
}

// ------------------------------------------------------------------------------ the tables

/// The poor table of the contract. opening + increases − decreases = closing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoorTable {
    pub opening: i64,
    /// Poor, never recognised poor before (phát sinh mới).
    pub newly_poor: i64,
    /// Poor again after a recognised exit (tái nghèo).
    pub fell_back: i64,
    /// Near-poor who became poor without ever having exited poverty.
    pub from_near_poor: i64,
    pub exited_to_near_poor: i64,
    pub exited_above_near_poor: i64,
    /// Moved in, the baseline carried over from the superseded standard, a flag change into a
    /// breakdown.
    pub other_increase: i64,
    /// Moved out, closed (dissolved, merged, left the province), a flag change out of a
    /// breakdown.
    pub other_decrease: i64,
    pub closing: i64,
    pub increases: i64,
    pub decreases: i64,
}

/// The near-poor table, mirroring the poor one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NearPoorTable {
    pub opening: i64,
    /// Near-poor, never recognised near-poor before (phát sinh cận nghèo).
    pub newly_near_poor: i64,
    /// Near-poor again after a recognised exit from near-poverty (tái cận nghèo).
    pub fell_back: i64,
    /// Poor households that exited poverty to near-poor.
    pub from_poor: i64,
    /// Near-poor households recognised poor (newly or again).
    pub to_poor: i64,
    /// Exited near-poverty (thoát cận nghèo).
    pub exited: i64,
    pub other_increase: i64,
    pub other_decrease: i64,
    pub closing: i64,
    pub increases: i64,
    pub decreases: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tables {
    pub poor: PoorTable,
    pub near_poor: NearPoorTable,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breakdowns {
    pub ethnic_minority: Tables,
    pub no_working_capacity: Tables,
    pub merit_family: Tables,
}

/// `GET /api/v1/reports/movements`: the contract's `poor` and `near_poor` plus breakdowns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MovementReport {
    pub unit: String,
    pub standard: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub poor: PoorTable,
    pub near_poor: NearPoorTable,
    pub breakdowns: Breakdowns,
}

/// Counted transitions as a report reads them: whether before the period, why, between which
/// groups and flags, and whether each side is in the reported unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub before: bool,
    pub label: Label,
    pub from: Group,
    pub to: Group,
    pub from_flags: i16,
    pub to_flags: i16,
    pub from_in_unit: bool,
    pub to_in_unit: bool,
    pub households: i64,
}

/// The tables for households whose flags include `only` (0 = every household).
pub fn tabulate(flows: &[Flow], only: i16) -> Tables {
    let mut poor = PoorTable::default();
    let mut near = NearPoorTable::default();
    for f in flows {
        let n = f.households;
        for table in [Group::Poor, Group::NearPoor] {
            let was = f.from_in_unit && f.from == table && f.from_flags & only == only;
            let is = f.to_in_unit && f.to == table && f.to_flags & only == only;
            if was == is {
                continue;
            }
            if f.before {
                let opening = match table {
                    Group::Poor => &mut poor.opening,
                    _ => &mut near.opening,
                };
                *opening += if is { n } else { -n };
                continue;
            }
            let same_group = f.from == f.to;
            let column = match (table, is) {
                (Group::Poor, true) => match (same_group, f.label, f.from) {
                    (true, _, _) | (_, Label::CarriedOver | Label::Other | Label::Closed, _) => {
                        &mut poor.other_increase
                    }
                    (_, Label::FellBack, _) => &mut poor.fell_back,
                    (_, Label::Decision, Group::NearPoor) => &mut poor.from_near_poor,
                    (_, Label::Decision, _) => &mut poor.newly_poor,
                },
                (Group::Poor, false) => match (same_group, f.label, f.to) {
                    (true, _, _) | (_, Label::Closed | Label::Other, _) => &mut poor.other_decrease,
                    (_, _, Group::NearPoor) => &mut poor.exited_to_near_poor,
                    (_, _, _) => &mut poor.exited_above_near_poor,
                },
                (_, true) => match (same_group, f.label, f.from) {
                    (true, _, _) | (_, Label::CarriedOver | Label::Other | Label::Closed, _) => {
                        &mut near.other_increase
                    }
                    (_, Label::FellBack, _) => &mut near.fell_back,
                    (_, Label::Decision, Group::Poor) => &mut near.from_poor,
                    (_, Label::Decision, _) => &mut near.newly_near_poor,
                },
                (_, false) => match (same_group, f.label, f.to) {
                    (true, _, _) | (_, Label::Closed | Label::Other, _) => &mut near.other_decrease,
                    (_, _, Group::Poor) => &mut near.to_poor,
                    (_, _, _) => &mut near.exited,
                },
            };
            *column += n;
        }
    }
    poor.increases = poor.newly_poor + poor.fell_back + poor.from_near_poor + poor.other_increase;
    poor.decreases = poor.exited_to_near_poor + poor.exited_above_near_poor + poor.other_decrease;
    poor.closing = poor.opening + poor.increases - poor.decreases;
    near.increases = near.newly_near_poor + near.fell_back + near.from_poor + near.other_increase;
    near.decreases = near.to_poor + near.exited + near.other_decrease;
    near.closing = near.opening + near.increases - near.decreases;
    Tables {
        poor,
        near_poor: near,
    }
}

/// The report from counted flows.
pub fn report_from_flows(
    unit: &str,
    standard: &str,
    from: NaiveDate,
    to: NaiveDate,
    flows: &[Flow],
) -> MovementReport {
    let all = tabulate(flows, 0);
    MovementReport {
        unit: unit.to_owned(),
        standard: standard.to_owned(),
        from,
        to,
        poor: all.poor,
        near_poor: all.near_poor,
        breakdowns: Breakdowns {
            ethnic_minority: tabulate(flows, ETHNIC_MINORITY),
            no_working_capacity: tabulate(flows, NO_WORKING_CAPACITY),
            merit_family: tabulate(flows, MERIT_FAMILY),
        },
    }
}

// ------------------------------------------------------------------------------ reading

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no administrative unit has code {0}")]
    UnknownUnit(String),
    #[error("the period ends ({to}) before it starts ({from})")]
    BadPeriod { from: NaiveDate, to: NaiveDate },
    #[error("stored value {value:?} of {field} is not valid")]
    Corrupt { field: &'static str, value: String },
}

type FlowRow = (bool, String, String, String, i16, i16, bool, bool, i64);

/// The movement tables of `unit` (with the units below it) from the start of `from` to the end
/// of `to` under `standard`, as far as the runner has read the log.
pub async fn report(
    pool: &PgPool,
    unit: &str,
    from: NaiveDate,
    to: NaiveDate,
    standard: &str,
) -> Result<MovementReport, ReportError> {
    let mut conn = pool.acquire().await?;
    report_on(&mut conn, unit, from, to, standard).await
}

/// [`report`] on the caller's connection: in a read-only transaction, several reports and the
/// runner's checkpoint (read first, see `crate::locking`) come from one snapshot.
pub async fn report_on(
    conn: &mut PgConnection,
    unit: &str,
    from: NaiveDate,
    to: NaiveDate,
    standard: &str,
) -> Result<MovementReport, ReportError> {
    if to < from {
        return Err(ReportError::BadPeriod { from, to });
    }
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM admin_unit_closure WHERE ancestor = $1)")
            .bind(unit)
            .fetch_one(&mut *conn)
            .await?;
    if !known {
        return Err(ReportError::UnknownUnit(unit.to_owned()));
    }
    let rows: Vec<FlowRow> = sqlx::query_as(
        "WITH covered AS (SELECT descendant FROM admin_unit_closure WHERE ancestor = $1)
         SELECT m.day < $3, m.label, m.group_a, m.group_b, m.flags_a, m.flags_b,
                m.unit_a IN (SELECT descendant FROM covered),
                m.unit_b IN (SELECT descendant FROM covered),
                sum(m.households)::bigint
           FROM movement_counts m
          WHERE m.standard = $2 AND m.day <= $4
            AND (m.unit_a IN (SELECT descendant FROM covered)
                 OR m.unit_b IN (SELECT descendant FROM covered))
          GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
    )
    .bind(unit)
    .bind(standard)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let mut flows = Vec::with_capacity(rows.len());
    for (before, label, group_a, group_b, flags_a, flags_b, a_in, b_in, n) in rows {
        let group = |field, value: String| {
            Group::parse(&value).ok_or(ReportError::Corrupt { field, value })
        };
        flows.push(Flow {
            before,
            label: Label::parse(&label).ok_or(ReportError::Corrupt {
                field: "label",
                value: label.clone(),
            })?,
            from: group("group_a", group_a)?,
            to: group("group_b", group_b)?,
            from_flags: flags_a,
            to_flags: flags_b,
            from_in_unit: a_in,
            to_in_unit: b_in,
            households: n,
        });
    }
    Ok(report_from_flows(unit, standard, from, to, &flows))
}

/// Flows of in-memory transitions, as [`report`] reads them from the counts (for tests and
/// tools that hold histories in memory). `covers` says whether a unit code is in the report.
pub fn flows_of<'a>(
    transitions: impl IntoIterator<Item = &'a Transition>,
    standard: &str,
    from: NaiveDate,
    to: NaiveDate,
    covers: impl Fn(&str) -> bool,
) -> Vec<Flow> {
    transitions
        .into_iter()
        .filter(|t| t.standard == standard && t.day <= to)
        .map(|t| Flow {
            before: t.day < from,
            label: t.label,
            from: t.from.group,
            to: t.to.group,
            from_flags: t.from.flags,
            to_flags: t.to.flags,
            from_in_unit: covers(&t.from.unit),
            to_in_unit: covers(&t.to.unit),
            households: 1,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(before: bool, label: Label, from: Group, to: Group, a: bool, b: bool) -> Flow {
        Flow {
            before,
            label,
            from,
            to,
            from_flags: 0,
            to_flags: 0,
            from_in_unit: a,
            to_in_unit: b,
            households: 1,
        }
    }

    #[test]
    fn each_movement_lands_in_its_column_and_the_tables_balance() {
        use Group::{NearPoor, Poor};
        use Label::{CarriedOver, Closed, Decision, FellBack};
        let none = Group::Other;
        let moved = Label::Other;
        let flows = vec![
            flow(true, Decision, none, Poor, true, true),
            flow(true, CarriedOver, none, NearPoor, true, true),
            flow(false, Decision, Poor, NearPoor, true, true),
            flow(false, FellBack, NearPoor, Poor, true, true),
            flow(false, Decision, none, Poor, true, true),
            flow(false, moved, Poor, Poor, true, false),
            flow(false, Closed, NearPoor, none, true, true),
            // A move between two communes of the unit counts nowhere.
            flow(false, moved, NearPoor, NearPoor, true, true),
        ];
        let t = tabulate(&flows, 0);
        assert_eq!(t.poor.opening, 1);
        assert_eq!(t.near_poor.opening, 1);
        assert_eq!(t.poor.exited_to_near_poor, 1);
        assert_eq!(t.near_poor.from_poor, 1);
        assert_eq!(t.poor.fell_back, 1);
        assert_eq!(t.near_poor.to_poor, 1);
        assert_eq!(t.poor.newly_poor, 1);
        assert_eq!(t.poor.other_decrease, 1);
        assert_eq!(t.near_poor.other_decrease, 1);
        assert_eq!(t.poor.closing, 1 + 2 - 2);
        assert_eq!(t.near_poor.closing, 1 + 1 - 2);
    }
}
