//! The inline read-model rows of one household, and what changes in them when a command
//! appends events: the write path of a single command (`ansinh_append`, migrations/0021).
//!
//! The batch writers (`status::write`, `disbursements::write`, …) rewrite a household's rows
//! whole, which suits imports and rebuilds. A command adds one event to a household that
//! already has rows, so it writes only the rows that differ between the history before and
//! after it — computed here, purely, from the same row functions the batch writers use, so
//! both paths give the same tables.

use std::collections::BTreeMap;

use ansinh_events::household::HouseholdEvent;
use ansinh_events::text::fold;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::disbursements::{self, Disbursement};
use crate::flags::{self, Flag};
use crate::log::HouseholdLog;
use crate::re_poverty::{self, Relapse};
use crate::status::{self, Standing};

/// A `household_status` row (column names as keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    pub household_id: Uuid,
    pub version: i64,
    pub head_name: String,
    pub head_name_folded: String,
    pub unit_code: String,
    pub hamlet: String,
    pub area: &'static str,
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
/// grow, one per correction, so they are taken from the new events).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HouseholdRows {
    pub status: Option<StatusRow>,
    /// By standard.
    pub standings: BTreeMap<String, Standing>,
    /// By sequence.
    pub disbursements: BTreeMap<i64, Disbursement>,
    pub relapses: BTreeMap<i64, Relapse>,
    /// By (rule, sequence).
    pub flags: BTreeMap<(String, i32), Flag>,
}

impl HouseholdRows {
    /// The rows of `log`'s whole history, as the batch writers would write them.
    pub fn of(log: &HouseholdLog) -> Self {
        let id = log.household_id;
        let status = status::from_state(id, &log.state, NaiveDate::MAX);
        let last_recorded_at = log.events.last().map(|e| e.meta.recorded_at);
        HouseholdRows {
            standings: status
                .as_ref()
                .map(|s| s.status.clone())
                .unwrap_or_default(),
            status: status.zip(last_recorded_at).map(|(s, at)| StatusRow {
                household_id: id,
                version: s.version,
                head_name_folded: fold(&s.head_name),
                head_name: s.head_name,
                unit_code: s.unit_code,
                hamlet: s.hamlet,
                area: s.area.as_str(),
                member_count: s.member_count,
                ethnic_minority: s.ethnic_minority,
                merit_family: s.merit_family,
                no_working_capacity: s.no_working_capacity,
                registered_on: s.registered_on,
                placed_on: s.placed_on,
                closed_on: s.closed_on,
                last_recorded_at: micros(at),
            }),
            disbursements: disbursements::rows(log)
                .into_iter()
                .map(|d| {
                    let recorded_at = micros(d.recorded_at);
                    (d.sequence, Disbursement { recorded_at, ..d })
                })
                .collect(),
            relapses: re_poverty::rows(log)
                .into_iter()
                .map(|r| (r.sequence, r))
                .collect(),
            flags: flags::rows(log)
                .into_iter()
                .map(|f| ((f.rule.clone(), f.sequence), f))
                .collect(),
        }
    }
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
    pub flags: Vec<Flag>,
    pub flags_gone: Vec<FlagKey>,
    pub flags_guard: bool,
}

/// A flag's key, for a flag gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagKey {
    pub rule: String,
    pub sequence: i32,
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

impl RowChanges {
    /// What turns `before`'s rows into `after`'s (the rows of `log`, whose new events are the
    /// ones appended), plus the correction links of the new events.
    pub fn between(before: &HouseholdRows, after: &HouseholdRows, log: &HouseholdLog) -> Self {
        let household_id = log.household_id;
        let (standings, standings_gone) = diff(&before.standings, &after.standings);
        let (disbursements, disbursements_gone) = diff(&before.disbursements, &after.disbursements);
        let fund_draws = fund_draws(&before.disbursements, &after.disbursements);
        let (flags, flags_gone) = diff(&before.flags, &after.flags);
        let (relapses, relapses_gone) = diff(&before.relapses, &after.relapses);
        RowChanges {
            status: after
                .status
                .clone()
                .filter(|s| before.status.as_ref() != Some(s)),
            standings: standings
                .into_iter()
                .map(|(standard, standing)| StandingRow {
                    household_id,
                    standard,
                    standing,
                })
                .collect(),
            standings_gone,
            disbursements: disbursements.into_iter().map(|(_, d)| d).collect(),
            disbursements_gone,
            disbursements_guard: disbursements::rewrites(log),
            relapses: relapses.into_iter().map(|(_, r)| r).collect(),
            relapses_gone,
            relapses_guard: re_poverty::rewrites(log),
            links: log
                .new_events()
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
                .collect(),
            fund_draws,
            flags: flags.into_iter().map(|(_, f)| f).collect(),
            flags_gone: flags_gone
                .into_iter()
                .map(|(rule, sequence)| FlagKey { rule, sequence })
                .collect(),
            flags_guard: flags::rewrites(log),
        }
    }
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
