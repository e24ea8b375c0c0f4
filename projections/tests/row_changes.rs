//! A command writes only the rows it changes: applying every append's changes in turn, as
//! `ansinh_append` does, leaves exactly the rows the whole history gives.
#![allow(clippy::unwrap_used)]

#[path = "support/histories.rs"]
mod histories;

use std::collections::BTreeMap;

use ansinh_projections::changes::{HouseholdRows, RowChanges};
use ansinh_projections::log::fold;
use ansinh_projections::HouseholdLog;
use histories::{plan, simulate};
use proptest::prelude::*;
use uuid::Uuid;

fn log_upto(
    id: Uuid,
    events: &[ansinh_events::Recorded<ansinh_events::household::HouseholdEvent>],
    n: usize,
) -> HouseholdLog {
    HouseholdLog {
        household_id: id,
        events: events[..n].to_vec(),
        state: fold(&events[..n]),
        first_new: n as i64,
    }
}

/// The tables as the append function leaves them: delete the changed and gone keys, insert
/// the changed rows.
fn apply<K: Ord + Clone, V: Clone>(table: &mut BTreeMap<K, V>, changed: Vec<(K, V)>, gone: Vec<K>) {
    for k in gone {
        table.remove(&k);
    }
    for (k, v) in changed {
        table.insert(k, v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn applying_each_append_s_changes_gives_the_rows_of_the_whole_history(plan in plan()) {
        let id = Uuid::from_u128(7);
        let (_, events) = simulate(id, &plan);
        let mut tables = HouseholdRows::default();
        let mut before = HouseholdRows::default();
        for n in 1..=events.len() {
            let log = log_upto(id, &events, n);
            let after = HouseholdRows::of(&log);
            let c = RowChanges::between(&before, &after, &log);
            if let Some(status) = c.status {
                tables.status = Some(status);
            }
            apply(
                &mut tables.standings,
                c.standings.into_iter().map(|r| (r.standard, r.standing)).collect(),
                c.standings_gone,
            );
            apply(
                &mut tables.disbursements,
                c.disbursements.into_iter().map(|d| (d.sequence, d)).collect(),
                c.disbursements_gone,
            );
            apply(
                &mut tables.relapses,
                c.relapses.into_iter().map(|r| (r.sequence, r)).collect(),
                c.relapses_gone,
            );
            apply(
                &mut tables.flags,
                c.flags.into_iter().map(|f| ((f.rule.clone(), f.sequence), f)).collect(),
                c.flags_gone.into_iter().map(|k| (k.rule, k.sequence)).collect(),
            );
            prop_assert_eq!(&tables, &after, "after event {}", n);
            before = after;
        }
    }
}
