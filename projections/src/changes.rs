//! The inline read-model rows of one household, and what changes in them when a command
//! appends events: the write path of a command (`ansinh_append`, newest: migrations/0043).
//!
//! The batch writers (`status::write`, `disbursements::write`, …) rewrite a household's rows
//! whole, which suits imports and rebuilds. A command adds one event to a household that
//! already has rows, so it writes only the rows that differ between the history before and
//! after it — computed here, purely, from the same row functions the batch writers use, so
//! both paths give the same tables.

use std::collections::BTreeMap;

use ansinh_events::household::{HouseholdEvent, HouseholdState};
use ansinh_events::text::fold;
use ansinh_events::Recorded;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::disbursements::{self, Disbursement, DisbursementRows};
use crate::log::{touches, HouseholdLog};
use crate::re_poverty::{self, Relapse, RelapseRows};
use crate::status::{self, Standing};

/// A `household_status` row (column names as keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRow {
    pub household_id: Uuid,
    pub version: i64,
    pub head_name: String,
    pub head_name_folded: String,
    pub unit_code: String,
    pub hamlet: String,
    pub area: String,
    pub member_count: i64,
    pub ethnic_minority: bool,
    pub merit_family: bool,
    pub no_working_capacity: bool,
    pub registered_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub last_recorded_at: DateTime<Utc>,
    pub placed_on: NaiveDate,
}

/// A `household_standard_status` row: the [`Standing`]'s fields are the columns (its
/// `recently_exited` flag, judged when read, is no column and is ignored by the writer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandingRow {
    pub household_id: Uuid,
    pub standard: String,
    #[serde(flatten)]
    pub standing: Standing,
}

/// A `history_corrections` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRow {
    pub household_id: Uuid,
    pub correction_sequence: i64,
    pub corrects_sequence: i64,
    pub original_sequence: i64,
    pub corrects_type: String,
    pub voids: bool,
}

/// Every inline read-model row a household's history gives (the links aside: they only ever
/// grow, one per correction, so they are taken from the new events), with what later events
/// need to keep them up to date — so the rows move on with each command's events alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HouseholdRows {
    pub status: Option<StatusRow>,
    /// By standard.
    pub standings: BTreeMap<String, Standing>,
    pub disbursements: DisbursementRows,
    pub relapses: RelapseRows,
}

impl HouseholdRows {
    /// The rows of `log`'s whole history, as the batch writers would write them.
    pub fn of(log: &HouseholdLog) -> Self {
        let mut rows = HouseholdRows::default();
        rows.take_in(log.household_id, &log.state, &log.events, false);
        rows
    }

    /// What a snapshot keeps of the rows: all but the support rows.
    pub fn kept_in_snapshot(&self) -> HouseholdRows {
        HouseholdRows {
            status: self.status.clone(),
            standings: self.standings.clone(),
            disbursements: DisbursementRows::none_held(),
            relapses: self.relapses.clone(),
        }
    }

    /// Whether taking in `events` needs support rows these rows do not hold.
    pub fn lack_rows_for(&self, events: &[Recorded<HouseholdEvent>]) -> bool {
        self.disbursements.partial && events.iter().any(disbursements::needs_every_row)
    }

    /// Moves the rows on past events that `state` is already folded past (a household read as
    /// its snapshot and the events after it).
    pub fn extend(
        &mut self,
        household_id: Uuid,
        state: &HouseholdState,
        events: &[Recorded<HouseholdEvent>],
    ) {
        if !events.is_empty() {
            self.take_in(household_id, state, events, false);
        }
    }

    /// Moves the rows on past `new` events (in sequence order) that `state` is already folded
    /// past, and says what to write: the cost follows the events and the rows they touch, not
    /// the household's history.
    pub fn advance(
        &mut self,
        household_id: Uuid,
        state: &HouseholdState,
        new: &[Recorded<HouseholdEvent>],
    ) -> RowChanges {
        self.take_in(household_id, state, new, true)
            .unwrap_or_default()
    }

    /// Takes in events; with `track`, returns what changed.
    fn take_in(
        &mut self,
        household_id: Uuid,
        state: &HouseholdState,
        new: &[Recorded<HouseholdEvent>],
        track: bool,
    ) -> Option<RowChanges> {
        let mut changes = RowChanges::default();
        // Rows before the events, for the keys the events may change (every row when the
        // head or the units are taken again: rare, and a relapse row is refreshed each time).
        let before_disbursements = track.then(|| self.disbursements.before(new));
        let before_relapses = track.then(|| self.relapses.rows.clone());

        let touched = self.disbursements.take_in(household_id, new);
        self.disbursements.finish(state, &touched);
        let relapses_touched = self.relapses.take_in(new);
        if relapses_touched {
            self.relapses.finish(household_id, state);
        }

        let status = status::from_state(household_id, state, NaiveDate::MAX);
        let last_recorded_at = new
            .last()
            .map(|e| micros(e.meta.recorded_at))
            .or(self.status.as_ref().map(|s| s.last_recorded_at));
        let standings = status
            .as_ref()
            .map(|s| s.status.clone())
            .unwrap_or_default();
        let status_row = status.zip(last_recorded_at).map(|(s, at)| StatusRow {
            household_id,
            version: s.version,
            head_name_folded: fold(&s.head_name),
            head_name: s.head_name,
            unit_code: s.unit_code,
            hamlet: s.hamlet,
            area: s.area.as_str().to_owned(),
            member_count: s.member_count,
            ethnic_minority: s.ethnic_minority,
            merit_family: s.merit_family,
            no_working_capacity: s.no_working_capacity,
            registered_on: s.registered_on,
            placed_on: s.placed_on,
            closed_on: s.closed_on,
            last_recorded_at: at,
        });
        if track {
            changes.status = status_row
                .clone()
                .filter(|s| self.status.as_ref() != Some(s));
            let (changed, gone) = diff(&self.standings, &standings);
            changes.standings = changed
                .into_iter()
                .map(|(standard, standing)| StandingRow {
                    household_id,
                    standard,
                    standing,
                })
                .collect();
            changes.standings_gone = gone;
        }
        self.status = status_row;
        self.standings = standings;
        let (Some(before_d), Some(before_r)) = (before_disbursements, before_relapses) else {
            return None;
        };
        let after_d = self.disbursements.touched(&touched);
        changes.fund_draws = fund_draws(&before_d, &after_d);
        let (changed, gone) = diff(&before_d, &after_d);
        changes.disbursements = changed.into_iter().map(|(_, d)| d).collect();
        changes.disbursements_gone = gone;
        changes.disbursements_guard = touches(new, &disbursements::RELEVANT);
        if relapses_touched {
            let (changed, gone) = diff(&before_r, &self.relapses.rows);
            changes.relapses = changed.into_iter().map(|(_, r)| r).collect();
            changes.relapses_gone = gone;
        }
        changes.relapses_guard =
            touches(new, &re_poverty::RELEVANT) && !self.relapses.rows.is_empty();
        changes.links = links(household_id, new);
        Some(changes)
    }
}

/// The correction links of `events`.
fn links(household_id: Uuid, events: &[Recorded<HouseholdEvent>]) -> Vec<LinkRow> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            HouseholdEvent::EventCorrected(c) => Some(LinkRow {
                household_id,
                correction_sequence: e.meta.sequence,
                corrects_sequence: c.corrects_sequence,
                original_sequence: c.original_sequence,
                corrects_type: c.corrects_type.clone(),
                voids: c.replacement.is_none(),
            }),
            _ => None,
        })
        .collect()
}

/// The rows to write for one append: changed or new rows in full, gone rows by key.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RowChanges {
    pub status: Option<StatusRow>,
    pub standings: Vec<StandingRow>,
    pub standings_gone: Vec<String>,
    pub disbursements: Vec<Disbursement>,
    pub disbursements_gone: Vec<i64>,
    /// Move the disbursements' version guard to this history's version (as the batch writer
    /// does for the same events).
    pub disbursements_guard: bool,
    pub relapses: Vec<Relapse>,
    pub relapses_gone: Vec<i64>,
    pub relapses_guard: bool,
    pub links: Vec<LinkRow>,
    /// What the changed supports draw on fund allocations, in (fund, unit) order.
    pub fund_draws: Vec<FundDraw>,
}

/// A change of what a household's supports draw on one fund in one unit (the household's unit
/// on the disbursement day); `ansinh_append` moves the covering allocation's `drawn_vnd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundDraw {
    pub fund_id: String,
    pub unit_code: String,
    pub delta_vnd: i64,
    /// Refuse the draw if it leaves the allocation below zero: it takes more and no changed
    /// support in it carries an override reason.
    pub check: bool,
}

/// What the supports that changed between `before` and `after` draw, net, per fund and unit.
pub fn fund_draws(
    before: &BTreeMap<i64, Disbursement>,
    after: &BTreeMap<i64, Disbursement>,
) -> Vec<FundDraw> {
    let mut net: BTreeMap<(String, String), (i64, bool)> = BTreeMap::new();
    let counted = |d: &Disbursement| -> Option<(String, String)> {
        let fund = d.fund_id.clone().filter(|_| !d.voided)?;
        Some((fund, d.unit_code.clone()))
    };
    let keys = before
        .keys()
        .chain(after.keys())
        .collect::<std::collections::BTreeSet<_>>();
    for k in keys {
        let (old, new) = (before.get(k), after.get(k));
        if old == new {
            continue;
        }
        if let Some(d) = old {
            if let Some(key) = counted(d) {
                let e = net.entry(key).or_default();
                e.0 = e.0.saturating_sub(d.amount_vnd);
            }
        }
        if let Some(d) = new {
            if let Some(key) = counted(d) {
                let e = net.entry(key).or_default();
                e.0 = e.0.saturating_add(d.amount_vnd);
                e.1 |= d.override_reason.is_some();
            }
        }
    }
    net.into_iter()
        .filter(|(_, (delta, _))| *delta != 0)
        .map(|((fund_id, unit_code), (delta_vnd, overridden))| FundDraw {
            fund_id,
            unit_code,
            delta_vnd,
            check: delta_vnd > 0 && !overridden,
        })
        .collect()
}

/// PostgreSQL keeps microseconds: truncated as sqlx truncates a bound timestamp (parsing the
/// JSON text would round instead), so both write paths store the same instant.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Entries of `after` that are new or differ from `before`, and keys only `before` has.
fn diff<K: Ord + Clone, V: PartialEq + Clone>(
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
) -> (Vec<(K, V)>, Vec<K>) {
    let changed = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let gone = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    (changed, gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_new_changed_and_gone_entries_only() {
        let before = BTreeMap::from([(1, "a"), (2, "b"), (3, "c")]);
        let after = BTreeMap::from([(1, "a"), (2, "B"), (4, "d")]);
        let (changed, gone) = diff(&before, &after);
        assert_eq!(changed, vec![(2, "B"), (4, "d")]);
        assert_eq!(gone, vec![3]);
        let (changed, gone) = diff(&after, &after);
        assert!(changed.is_empty() && gone.is_empty());
    }
}
