//! A command writes only the rows its events change, computed from those events and the
//! rows before them (`HouseholdRows::advance`): applying every append's changes in turn, as
//! `ansinh_append` does, leaves exactly the rows the whole history gives — by the definition
//! below, read off the whole history (as the read models were first written), not by the
//! incremental code under test.
#![allow(clippy::unwrap_used)]

#[path = "support/histories.rs"]
mod histories;

use std::collections::BTreeMap;

use ansinh_events::household::{HouseholdEvent, HouseholdState, Replacement, SupportReceived};
use ansinh_events::standards::Category;
use ansinh_projections::changes::HouseholdRows;
use ansinh_projections::disbursements::Disbursement;
use ansinh_projections::log::{fold, unit_on};
use ansinh_projections::re_poverty::Relapse;
use ansinh_projections::HouseholdLog;
use chrono::SubsecRound;
use histories::{plan, simulate};
use proptest::prelude::*;
use uuid::Uuid;

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

#[derive(Debug, Default, PartialEq)]
struct Tables {
    status: Option<ansinh_projections::changes::StatusRow>,
    standings: BTreeMap<String, ansinh_projections::status::Standing>,
    disbursements: BTreeMap<i64, Disbursement>,
    relapses: BTreeMap<i64, Relapse>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn applying_each_append_s_changes_gives_the_rows_of_the_whole_history(plan in plan()) {
        let id = Uuid::from_u128(7);
        let (_, events) = simulate(id, &plan);
        let mut tables = Tables::default();
        let mut rows = HouseholdRows::default();
        let mut state = HouseholdState::default();
        for n in 1..=events.len() {
            let new = &events[n - 1..n];
            state = state.apply(&new[0]);
            let c = rows.advance(id, &state, new);
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
            let log = HouseholdLog {
                household_id: id,
                events: events[..n].to_vec(),
                state: fold(&events[..n]),
                first_new: 1,
            };
            let whole = HouseholdRows::of(&log);
            let expected = Tables {
                status: whole.status.clone(),
                standings: whole.standings.clone(),
                disbursements: disbursement_rows(&log).into_iter().map(|d| (d.sequence, d)).collect(),
                relapses: relapse_rows(&log).into_iter().map(|r| (r.sequence, r)).collect(),
            };
            prop_assert_eq!(&tables, &expected, "after event {}", n);
            // A household read as a snapshot and then its later events has the same rows.
            prop_assert_eq!(&rows, &whole, "incremental against whole, after event {}", n);
        }
    }
}

// ------------------------------------------------------------- the rows, read off the history

/// The rows a household's history gives, in sequence order.
fn disbursement_rows(l: &HouseholdLog) -> Vec<Disbursement> {
    let state = &l.state;
    let head_name = state
        .current
        .as_ref()
        .map(|c| c.head_name.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for sequence in state.supports.keys() {
        let Some(original) = l.event(sequence) else {
            continue;
        };
        let HouseholdEvent::SupportReceived(first) = &original.event else {
            continue;
        };
        let latest_correction = state
            .corrections
            .iter()
            .filter(|(_, o)| **o == sequence)
            .map(|(c, _)| *c)
            .max();
        let correction_reason =
            latest_correction
                .and_then(|c| l.event(c))
                .and_then(|e| match &e.event {
                    HouseholdEvent::EventCorrected(c) => Some(c.reason.clone()),
                    _ => None,
                });
        let replaced = latest_correction
            .and_then(|c| l.event(c))
            .and_then(|e| match &e.event {
                HouseholdEvent::EventCorrected(c) => match &c.replacement {
                    Some(Replacement::SupportReceived(s)) => Some(s),
                    _ => None,
                },
                _ => None,
            });
        let (support, voided): (&SupportReceived, bool) = match replaced {
            Some(s) => (s, false),
            None if latest_correction.is_some() => (first, true),
            None => (first, false),
        };
        let amount = support.amount_vnd.get();
        out.push(Disbursement {
            household_id: l.household_id,
            sequence,
            head_name: head_name.clone(),
            unit_code: unit_on(state, support.disbursed_on).unwrap_or_default(),
            policy: support.policy,
            amount_vnd: amount,
            in_kind: support.in_kind.clone(),
            funding_source: support.funding_source,
            fund_id: support.fund_id.clone(),
            disbursed_on: support.disbursed_on,
            disbursed_by: support.disbursed_by.clone(),
            decision_no: support.decision_no.clone(),
            recipient_member: support.recipient_member.clone(),
            recorded_at: original.meta.recorded_at.trunc_subsecs(6),
            original_amount_vnd: Some(first.amount_vnd.get()).filter(|a| *a != amount),
            corrected_by: latest_correction,
            correction_reason,
            voided,
            override_reason: support.override_reason.clone(),
        });
    }
    out
}

/// The relapses a household's history gives, in sequence order.
fn relapse_rows(l: &HouseholdLog) -> Vec<Relapse> {
    let state: &HouseholdState = &l.state;
    let head_name = state
        .current
        .as_ref()
        .map(|c| c.head_name.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (index, e) in l.events.iter().enumerate() {
        let (fell, category) = match &e.event {
            HouseholdEvent::FellBackIntoPoverty(f) => (f, Category::Poor),
            HouseholdEvent::FellBackIntoNearPoverty(f) => (f, Category::NearPoor),
            _ => continue,
        };
        let before = &l.events[..index];
        let exit = before
            .iter()
            .rev()
            .find_map(|p| match (&p.event, category) {
                (HouseholdEvent::ExitedPoverty(x), Category::Poor)
                    if x.standard == fell.standard =>
                {
                    Some((x.decision_no.clone(), x.to))
                }
                (HouseholdEvent::ExitedNearPoverty(x), Category::NearPoor)
                    if x.standard == fell.standard =>
                {
                    Some((x.decision_no.clone(), x.to))
                }
                _ => None,
            });
        let cause = before
            .iter()
            .rev()
            .find_map(|p| match &p.event {
                HouseholdEvent::HouseholdClassified(c) if c.standard == fell.standard => {
                    Some(c.survey_sequence)
                }
                _ => None,
            })
            .and_then(|survey| state.surveys.get(&survey))
            .and_then(|s| s.cause_of_poverty.clone());
        let between = state
            .current_supports()
            .filter(|(_, s)| s.disbursed_on >= fell.exited_on && s.disbursed_on < fell.decided_on);
        let (count, amount) = between.fold((0, 0), |(n, vnd), (_, s)| (n + 1, vnd + s.amount_vnd));
        out.push(Relapse {
            household_id: l.household_id,
            sequence: e.meta.sequence,
            standard: fell.standard.clone(),
            category,
            unit_code: unit_on(state, fell.decided_on).unwrap_or_default(),
            head_name: head_name.clone(),
            exited_on: fell.exited_on,
            exit_decision_no: exit.as_ref().map(|x| x.0.clone()),
            exited_to: exit.map(|x| x.1),
            fell_back_on: fell.decided_on,
            fell_back_decision_no: fell.decision_no.clone(),
            fell_back_from: fell.from,
            supports_between: count,
            supports_between_vnd: amount,
            cause,
        });
    }
    out
}
