//! The movement tables always balance, and their opening and closing counts are the households
//! an independent replay finds in the table at each end of the period.
#![allow(clippy::unwrap_used)]

#[path = "support/histories.rs"]
mod histories;

use ansinh_events::household::{HouseholdEvent, HouseholdState};
use ansinh_events::Recorded;
use ansinh_projections::log::{self, no_working_capacity_on};
use ansinh_projections::movements::{
    self, Group, NearPoorTable, PoorTable, Tables, Transition, ETHNIC_MINORITY, MERIT_FAMILY,
    NO_WORKING_CAPACITY,
};
use ansinh_projections::time_travel::replay;
use chrono::{Duration, NaiveDate};
use histories::{covers, plan, simulate, Plan, REPORT_UNITS, STANDARDS};
use proptest::prelude::*;
use uuid::Uuid;

/// Where a household is at the end of `day` under `standard`, by replaying its events cut at
/// that day — a path that shares nothing with `movements::transitions` but the domain's fold.
fn cell_on(
    events: &[Recorded<HouseholdEvent>],
    standard: &str,
    day: NaiveDate,
) -> Option<(String, Group, i16)> {
    let state: HouseholdState = replay(events, Some(day), None);
    let registration = state.registration.as_ref()?;
    if state.closed {
        return None;
    }
    let current = state.current.as_ref()?;
    let group = Group::of(state.statuses.get(standard).map(|s| s.category));
    let flags = (i16::from(registration.ethnic_minority) * ETHNIC_MINORITY)
        | (i16::from(registration.merit_family) * MERIT_FAMILY)
        | (i16::from(no_working_capacity_on(&state, day)) * NO_WORKING_CAPACITY);
    Some((current.unit_code.clone(), group, flags))
}

fn count(
    histories: &[Vec<Recorded<HouseholdEvent>>],
    standard: &str,
    unit: &str,
    group: Group,
    only: i16,
    day: NaiveDate,
) -> i64 {
    histories
        .iter()
        .filter_map(|events| cell_on(events, standard, day))
        .filter(|(u, g, f)| covers(unit, u) && *g == group && f & only == only)
        .count() as i64
}

fn check_poor(t: &PoorTable) -> Result<(), TestCaseError> {
    let columns = [
        t.opening,
        t.newly_poor,
        t.fell_back,
        t.from_near_poor,
        t.exited_to_near_poor,
        t.exited_above_near_poor,
        t.other_increase,
        t.other_decrease,
        t.closing,
    ];
    prop_assert!(columns.iter().all(|n| *n >= 0), "{t:?}");
    prop_assert_eq!(
        t.opening + t.newly_poor + t.fell_back + t.from_near_poor + t.other_increase
            - t.exited_to_near_poor
            - t.exited_above_near_poor
            - t.other_decrease,
        t.closing
    );
    Ok(())
}

fn check_near(t: &NearPoorTable) -> Result<(), TestCaseError> {
    let columns = [
        t.opening,
        t.newly_near_poor,
        t.fell_back,
        t.from_poor,
        t.to_poor,
        t.exited,
        t.other_increase,
        t.other_decrease,
        t.closing,
    ];
    prop_assert!(columns.iter().all(|n| *n >= 0), "{t:?}");
    prop_assert_eq!(
        t.opening + t.newly_near_poor + t.fell_back + t.from_poor + t.other_increase
            - t.to_poor
            - t.exited
            - t.other_decrease,
        t.closing
    );
    Ok(())
}

fn dates() -> impl Strategy<Value = (NaiveDate, NaiveDate)> {
    (0..2_000_i64, 0..800_i64).prop_map(|(from, length)| {
        let from = histories::start() + Duration::days(from);
        (from, from + Duration::days(length))
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn movement_tables_balance_and_match_an_independent_replay(
        plans in prop::collection::vec(plan(), 1..14),
        periods in prop::collection::vec(dates(), 3),
    ) {
        let histories: Vec<Vec<Recorded<HouseholdEvent>>> = plans
            .iter()
            .enumerate()
            .map(|(i, p): (usize, &Plan)| simulate(Uuid::from_u128(i as u128 + 1), p).1)
            .collect();
        let transitions: Vec<Transition> = histories
            .iter()
            .flat_map(|events| movements::transitions(events, &log::fold(events)))
            .collect();
        for standard in STANDARDS {
            for unit in REPORT_UNITS {
                for (from, to) in &periods {
                    let flows = movements::flows_of(&transitions, standard, *from, *to, |u| covers(unit, u));
                    let report = movements::report_from_flows(unit, standard, *from, *to, &flows);
                    let eve = from.pred_opt().unwrap();
                    let tables: [(i16, &Tables); 4] = [
                        (0, &Tables { poor: report.poor, near_poor: report.near_poor }),
                        (ETHNIC_MINORITY, &report.breakdowns.ethnic_minority),
                        (NO_WORKING_CAPACITY, &report.breakdowns.no_working_capacity),
                        (MERIT_FAMILY, &report.breakdowns.merit_family),
                    ];
                    for (only, t) in tables {
                        check_poor(&t.poor)?;
                        check_near(&t.near_poor)?;
                        let at = |group, day| count(&histories, standard, unit, group, only, day);
                        prop_assert_eq!(t.poor.opening, at(Group::Poor, eve), "poor opening, {} {} {}..{} flags {}", standard, unit, from, to, only);
                        prop_assert_eq!(t.poor.closing, at(Group::Poor, *to), "poor closing, {} {} {}..{} flags {}", standard, unit, from, to, only);
                        prop_assert_eq!(t.near_poor.opening, at(Group::NearPoor, eve), "near-poor opening");
                        prop_assert_eq!(t.near_poor.closing, at(Group::NearPoor, *to), "near-poor closing");
                    }
                }
            }
        }
    }

    #[test]
    fn every_households_transitions_chain(plan in plan()) {
        let (_, events) = simulate(Uuid::from_u128(7), &plan);
        let transitions = movements::transitions(&events, &log::fold(&events));
        for standard in STANDARDS {
            let path: Vec<&Transition> = transitions.iter().filter(|t| t.standard == standard).collect();
            for pair in path.windows(2) {
                prop_assert!(pair[0].day < pair[1].day);
                // Consecutive changes meet in the same cell, or both sides are outside every table.
                prop_assert!(
                    pair[0].to == pair[1].from
                        || (pair[0].to.group == Group::Other && pair[1].from.group == Group::Other)
                );
            }
        }
    }
}

/// The generator reaches what the property is about: relapses, exits, baselines carried over,
/// moves, closures and corrections (else the property above would hold vacuously).
#[test]
fn generated_histories_contain_every_kind_of_movement() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..300 {
        let plan = plan().new_tree(&mut runner).unwrap().current();
        let (_, events) = simulate(Uuid::from_u128(i), &plan);
        for e in &events {
            let mut name = e.event.type_name().to_owned();
            if let HouseholdEvent::EventCorrected(c) = &e.event {
                name = format!("corrected {}", c.corrects_type);
            }
            *seen.entry(name).or_default() += 1;
        }
        for t in movements::transitions(&events, &log::fold(&events)) {
            *seen.entry(format!("label {:?}", t.label)).or_default() += 1;
        }
    }
    for kind in [
        "became_poor",
        "became_near_poor",
        "exited_poverty",
        "exited_near_poverty",
        "fell_back_into_poverty",
        "fell_back_into_near_poverty",
        "household_moved",
        "household_closed",
        "corrected household_moved",
        "corrected household_surveyed",
        "corrected household_registered",
        "label CarriedOver",
        "label FellBack",
        "label Closed",
        "label Other",
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {seen:?}"
        );
    }
}
