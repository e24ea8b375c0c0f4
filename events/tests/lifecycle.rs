//! The lifecycle derivation table in full, and the same movements through the aggregate,
//! including the change of standard in 2022.
#![allow(clippy::unwrap_used)]

mod common;

use ansinh_events::household::lifecycle::{derive, Movement, Prior};
use ansinh_events::household::*;
use ansinh_events::standards::Category;
use common::*;
use Category::*;

fn code(m: Option<Movement>) -> String {
    match m {
        None => "-".to_owned(),
        Some(Movement::BecamePoor { from }) => format!("became_poor({from:?})"),
        Some(Movement::BecameNearPoor) => "became_near_poor".to_owned(),
        Some(Movement::ExitedPoverty { to }) => format!("exited_poverty({to})"),
        Some(Movement::ExitedNearPoverty { to }) => format!("exited_near_poverty({to})"),
        Some(Movement::FellBackIntoPoverty { from, .. }) => {
            format!("fell_back_into_poverty({from})")
        }
        Some(Movement::FellBackIntoNearPoverty { from, .. }) => {
            format!("fell_back_into_near_poverty({from})")
        }
    }
}

/// Every (previous category, exit history) × new category. Columns: → poor, → near_poor,
/// → middle_income, → not_poor. `P` = had exited poverty, `N` = had exited near-poverty.
#[rustfmt::skip]
const TABLE: &[(Option<Category>, &str, [&str; 4])] = &[
    (None,               "",   ["became_poor(None)",                      "became_near_poor",                                "-", "-"]),
    (None,               "P",  ["fell_back_into_poverty(not_poor)",       "became_near_poor",                                "-", "-"]),
    (None,               "N",  ["became_poor(None)",                      "fell_back_into_near_poverty(not_poor)",           "-", "-"]),
    (None,               "PN", ["fell_back_into_poverty(not_poor)",       "fell_back_into_near_poverty(not_poor)",           "-", "-"]),
    (Some(Poor),         "",   ["-", "exited_poverty(near_poor)", "exited_poverty(middle_income)", "exited_poverty(not_poor)"]),
    (Some(Poor),         "P",  ["-", "exited_poverty(near_poor)", "exited_poverty(middle_income)", "exited_poverty(not_poor)"]),
    (Some(Poor),         "N",  ["-", "exited_poverty(near_poor)", "exited_poverty(middle_income)", "exited_poverty(not_poor)"]),
    (Some(Poor),         "PN", ["-", "exited_poverty(near_poor)", "exited_poverty(middle_income)", "exited_poverty(not_poor)"]),
    (Some(NearPoor),     "",   ["became_poor(NearPoor)",                  "-", "exited_near_poverty(middle_income)", "exited_near_poverty(not_poor)"]),
    (Some(NearPoor),     "P",  ["fell_back_into_poverty(near_poor)",      "-", "exited_near_poverty(middle_income)", "exited_near_poverty(not_poor)"]),
    (Some(NearPoor),     "N",  ["became_poor(NearPoor)",                  "-", "exited_near_poverty(middle_income)", "exited_near_poverty(not_poor)"]),
    (Some(NearPoor),     "PN", ["fell_back_into_poverty(near_poor)",      "-", "exited_near_poverty(middle_income)", "exited_near_poverty(not_poor)"]),
    (Some(MiddleIncome), "",   ["became_poor(None)",                      "became_near_poor",                                "-", "-"]),
    (Some(MiddleIncome), "P",  ["fell_back_into_poverty(middle_income)",  "became_near_poor",                                "-", "-"]),
    (Some(MiddleIncome), "N",  ["became_poor(None)",                      "fell_back_into_near_poverty(middle_income)",      "-", "-"]),
    (Some(MiddleIncome), "PN", ["fell_back_into_poverty(middle_income)",  "fell_back_into_near_poverty(middle_income)",      "-", "-"]),
    (Some(NotPoor),      "",   ["became_poor(None)",                      "became_near_poor",                                "-", "-"]),
    (Some(NotPoor),      "P",  ["fell_back_into_poverty(not_poor)",       "became_near_poor",                                "-", "-"]),
    (Some(NotPoor),      "N",  ["became_poor(None)",                      "fell_back_into_near_poverty(not_poor)",           "-", "-"]),
    (Some(NotPoor),      "PN", ["fell_back_into_poverty(not_poor)",       "fell_back_into_near_poverty(not_poor)",           "-", "-"]),
];

#[test]
fn the_derivation_table_is_covered_in_full() {
    let mut checked = 0;
    for (category, exits, expected) in TABLE {
        let prior = Prior {
            category: *category,
            exited_poverty_on: exits.contains('P').then(|| d("2020-12-01")),
            exited_near_poverty_on: exits.contains('N').then(|| d("2020-12-02")),
        };
        for (new, want) in Category::ALL.into_iter().zip(expected) {
            let got = code(derive(&prior, new));
            assert_eq!(&got, want, "{category:?} with exits {exits:?} → {new}");
            checked += 1;
        }
    }
    // 5 previous states × 4 exit histories × 4 new categories.
    assert_eq!(checked, 80);
}

#[test]
fn fell_back_events_carry_the_date_of_the_exit() {
    let prior = Prior {
        category: Some(NearPoor),
        exited_poverty_on: Some(d("2022-12-10")),
        exited_near_poverty_on: None,
    };
    assert_eq!(
        derive(&prior, Poor),
        Some(Movement::FellBackIntoPoverty {
            from: NearPoor,
            exited_on: d("2022-12-10")
        })
    );
}

// ------------------------------------------------------------------ through the aggregate

const POOR_DEPRIVATIONS: [&str; 3] = ["health_insurance", "housing_area", "hygienic_latrine"];

/// Survey that proposes `category` under vn-2022-2025 (rural), then the matching decision.
fn review_2022(year: i32, category: Category) -> Vec<HouseholdCommand> {
    let (income, deprivations): (i64, &[&str]) = match category {
        Poor => (1_200_000, &POOR_DEPRIVATIONS),
        NearPoor => (1_200_000, &[]),
        MiddleIncome => (2_000_000, &[]),
        NotPoor => (3_000_000, &[]),
    };
    vec![
        survey(&format!("{year}-10-05"), income, deprivations),
        decision(
            "vn-2022-2025",
            category,
            &format!("{year}-12-10"),
            &format!("{year}/QĐ"),
        ),
    ]
}

fn history(categories: &[Category]) -> Given {
    let mut g = given_commands(vec![register()]);
    for (i, c) in categories.iter().enumerate() {
        for command in review_2022(2022 + i as i32, *c) {
            g = g.and(command);
        }
    }
    g
}

fn lifecycle_types(g: &Given) -> Vec<&'static str> {
    g.history
        .iter()
        .filter(|r| r.event.is_lifecycle())
        .map(|r| r.event.type_name())
        .collect()
}

#[test]
fn poor_then_exited_then_poor_again_is_re_poverty() {
    let g = history(&[Poor, NotPoor, Poor]);
    assert_eq!(
        lifecycle_types(&g),
        ["became_poor", "exited_poverty", "fell_back_into_poverty"]
    );
    let last = g.history.last().unwrap();
    let HouseholdEvent::FellBackIntoPoverty(f) = &last.event else {
        panic!()
    };
    assert_eq!(
        (f.from, f.exited_on, f.decided_on),
        (NotPoor, d("2023-12-10"), d("2024-12-10"))
    );
}

#[test]
fn poor_to_near_poor_and_back_is_re_poverty() {
    let g = history(&[Poor, NearPoor, Poor]);
    assert_eq!(
        lifecycle_types(&g),
        ["became_poor", "exited_poverty", "fell_back_into_poverty"]
    );
}

#[test]
fn near_poor_to_poor_without_an_exit_is_from_near_poor() {
    let g = history(&[NearPoor, Poor]);
    let types = lifecycle_types(&g);
    assert_eq!(types, ["became_near_poor", "became_poor"]);
    let HouseholdEvent::BecamePoor(b) = &g.history.last().unwrap().event else {
        panic!()
    };
    assert_eq!(b.from, PoorFrom::NearPoor);
}

#[test]
fn near_poverty_exits_and_falls_back() {
    let g = history(&[NearPoor, MiddleIncome, NearPoor]);
    assert_eq!(
        lifecycle_types(&g),
        [
            "became_near_poor",
            "exited_near_poverty",
            "fell_back_into_near_poverty"
        ]
    );
}

#[test]
fn re_confirmations_and_moves_above_near_poverty_derive_nothing() {
    let g = history(&[Poor, Poor, MiddleIncome]);
    assert_eq!(lifecycle_types(&g), ["became_poor", "exited_poverty"]);
    let g = history(&[MiddleIncome, NotPoor, MiddleIncome]);
    assert!(lifecycle_types(&g).is_empty());
    assert_eq!(
        g.history
            .iter()
            .filter(|r| r.event.type_name() == "household_classified")
            .count(),
        3
    );
}

// ------------------------------------------------------------------ change of standard

fn review_2021(category_2016: Category) -> Vec<HouseholdCommand> {
    let (income, deprivations): (i64, &[&str]) = match category_2016 {
        Poor => (650_000, &[]),
        NearPoor => (900_000, &[]),
        MiddleIncome => (1_200_000, &[]),
        NotPoor => (2_000_000, &[]),
    };
    vec![
        survey("2021-10-20", income, deprivations),
        decision("vn-2016-2020", category_2016, "2021-12-10", "2021/QĐ"),
    ]
}

#[test]
fn poor_under_both_standards_is_carried_over_not_newly_poor() {
    let mut g = given_commands(vec![register()]);
    for c in review_2021(Poor).into_iter().chain(review_2022(2022, Poor)) {
        g = g.and(c);
    }
    let last = g.history.last().unwrap();
    assert_eq!(
        last.event,
        HouseholdEvent::BecamePoor(BecamePoor {
            standard: "vn-2022-2025".to_owned(),
            from: PoorFrom::None,
            decided_on: d("2022-12-10"),
            decision_no: "2022/QĐ".to_owned(),
            carried_over: Some(CarriedOver {
                standard: "vn-2016-2020".to_owned(),
                category: Poor,
            }),
        })
    );
}

#[test]
fn poor_in_2021_and_not_poor_in_2022_is_not_an_exit() {
    let mut g = given_commands(vec![register()]);
    for c in review_2021(Poor)
        .into_iter()
        .chain(review_2022(2022, MiddleIncome))
    {
        g = g.and(c);
    }
    assert_eq!(lifecycle_types(&g), ["became_poor"]);
    let HouseholdEvent::HouseholdClassified(c) = &g.history.last().unwrap().event else {
        panic!()
    };
    assert_eq!(c.previous, None);
    // Each standard keeps its own status.
    assert_eq!(g.state.statuses["vn-2016-2020"].category, Poor);
    assert_eq!(g.state.statuses["vn-2022-2025"].category, MiddleIncome);
}

#[test]
fn an_exit_under_the_old_standard_never_makes_re_poverty_under_the_new() {
    let mut g = given_commands(vec![register()]);
    for c in review_2021(Poor) {
        g = g.and(c);
    }
    g = g.and(survey("2021-11-20", 1_200_000, &[])).and(decision(
        "vn-2016-2020",
        MiddleIncome,
        "2021-12-20",
        "2021b/QĐ",
    ));
    for c in review_2022(2022, Poor) {
        g = g.and(c);
    }
    assert_eq!(
        lifecycle_types(&g),
        ["became_poor", "exited_poverty", "became_poor"]
    );
    let HouseholdEvent::BecamePoor(b) = &g.history.last().unwrap().event else {
        panic!()
    };
    assert_eq!(
        b.carried_over.as_ref().map(|c| c.category),
        Some(MiddleIncome)
    );
}

#[test]
fn a_first_decision_without_an_earlier_standard_carries_nothing_over() {
    let g = history(&[NearPoor]);
    let HouseholdEvent::BecameNearPoor(b) = &g.history.last().unwrap().event else {
        panic!()
    };
    assert_eq!(b.carried_over, None);
}
