//! Poverty standards as data: the shipped files, classification at every boundary, loading
//! user files, dated policy parameters, and properties of `classify`.
#![allow(clippy::unwrap_used)]

use ansinh_events::policy_params::{Amount, PolicyParameters, ELECTRICITY_SUBSIDY_MONTHLY};
use ansinh_events::standards::*;
use ansinh_events::{Area, Vnd};
use chrono::NaiveDate;
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn builtin() -> Standards {
    Standards::builtin().unwrap()
}

fn std(id: &str) -> Standard {
    builtin().get(id).unwrap().clone()
}

fn vnd(v: i64) -> Vnd {
    Vnd::new(v).unwrap()
}

fn classify(id: &str, area: Area, income: i64, deprivations: &[&str]) -> Classification {
    std(id).classify(area, vnd(income), deprivations).unwrap()
}

const D2022: [&str; 12] = [
    "employment",
    "dependants",
    "nutrition",
    "health_insurance",
    "adult_education",
    "child_school_attendance",
    "housing_quality",
    "housing_area",
    "domestic_water",
    "hygienic_latrine",
    "telecom_use",
    "information_access",
];

const D2016: [&str; 10] = [
    "adult_education",
    "child_school_attendance",
    "health_service_access",
    "health_insurance",
    "housing_quality",
    "housing_area",
    "domestic_water",
    "hygienic_latrine",
    "telecom_use",
    "information_access",
];

// ------------------------------------------------------------------ the shipped files

#[test]
fn the_national_standards_ship_as_data() {
    let s = builtin();
    assert_eq!(
        s.ids().collect::<Vec<_>>(),
        ["vn-2016-2020", "vn-2022-2025", "vn-2026-2030"]
    );
    let new = std("vn-2022-2025");
    assert_eq!(
        new.indicators()
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        D2022
    );
    assert_eq!(
        new.rule(),
        Rule::CountBased {
            poor_min_deprivations: 3
        }
    );
    assert_eq!(new.supersedes(), Some("vn-2016-2020"));
    assert!(new.legal_basis().contains("07/2021/NĐ-CP"));
    let old = std("vn-2016-2020");
    assert_eq!(
        old.indicators()
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        D2016
    );
    assert_eq!(
        old.rule(),
        Rule::PointBased {
            points_per_deprivation: 10,
            poor_min_score: 30
        }
    );
    assert!(old.legal_basis().contains("59/2015/QĐ-TTg"));
    for s in [&new, &old] {
        assert!(s.is_confirmed() && !s.is_example());
        assert_eq!(s.categories(), Category::ALL);
    }
    assert_eq!(
        s.source_of("vn-2022-2025"),
        Some("built-in vn-2022-2025.json")
    );
}

#[test]
fn the_standard_in_force_changes_on_1_january_2022_and_2026() {
    let s = builtin();
    let ids = |date: &str| {
        s.in_force_on(d(date))
            .iter()
            .map(|s| s.id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("2016-01-01"), ["vn-2016-2020"]);
    assert_eq!(ids("2021-12-31"), ["vn-2016-2020"]);
    assert_eq!(ids("2022-01-01"), ["vn-2022-2025"]);
    assert_eq!(ids("2025-12-31"), ["vn-2022-2025"]);
    assert_eq!(ids("2026-01-01"), ["vn-2026-2030"]);
    assert_eq!(ids("2030-12-31"), ["vn-2026-2030"]);
    assert!(ids("2031-01-01").is_empty());
    assert!(ids("2015-12-31").is_empty());
}

#[test]
fn the_provincial_example_is_marked_and_refused_by_the_loader() {
    let example = Standard::from_json("example", EXAMPLE_PROVINCIAL_JSON).unwrap();
    assert!(example.is_example() && !example.is_confirmed());
    assert_eq!(example.scope(), Scope::Provincial);
    assert!(example.name().contains("EXAMPLE"));
    assert!(example.note().unwrap().contains("invented"));
    assert!(builtin().get(example.id()).is_none());
    let err = builtin()
        .add_json("copied.json", EXAMPLE_PROVINCIAL_JSON)
        .unwrap_err();
    assert!(matches!(err, StandardError::Example { .. }), "{err}");
}

// ------------------------------------------------------------------ the decree's answers

/// (standard, area, income, deprivations, category, line used) at and around every line.
#[rustfmt::skip]
const BOUNDARIES: &[(&str, Area, i64, usize, Category, i64)] = &[
    // vn-2022-2025 rural: poor/near-poor line 1,500,000; middle-income line 2,250,000.
    ("vn-2022-2025", Area::Rural, 0,         3, Category::Poor,         1_500_000),
    ("vn-2022-2025", Area::Rural, 1_500_000, 3, Category::Poor,         1_500_000),
    ("vn-2022-2025", Area::Rural, 1_500_000, 2, Category::NearPoor,     1_500_000),
    ("vn-2022-2025", Area::Rural, 1_500_000, 0, Category::NearPoor,     1_500_000),
    ("vn-2022-2025", Area::Rural, 1_500_001, 12, Category::MiddleIncome, 2_250_000),
    ("vn-2022-2025", Area::Rural, 2_250_000, 0, Category::MiddleIncome, 2_250_000),
    ("vn-2022-2025", Area::Rural, 2_250_001, 5, Category::NotPoor,      2_250_000),
    // vn-2022-2025 urban: 2,000,000 and 3,000,000.
    ("vn-2022-2025", Area::Urban, 2_000_000, 3, Category::Poor,         2_000_000),
    ("vn-2022-2025", Area::Urban, 2_000_000, 2, Category::NearPoor,     2_000_000),
    ("vn-2022-2025", Area::Urban, 2_000_001, 3, Category::MiddleIncome, 3_000_000),
    ("vn-2022-2025", Area::Urban, 3_000_000, 0, Category::MiddleIncome, 3_000_000),
    ("vn-2022-2025", Area::Urban, 3_000_001, 0, Category::NotPoor,      3_000_000),
    // vn-2016-2020 rural: 700,000 (poor by income), 1,000,000 (score ≥ 30 poor), 1,500,000.
    ("vn-2016-2020", Area::Rural, 700_000,   0, Category::Poor,         700_000),
    ("vn-2016-2020", Area::Rural, 700_001,   3, Category::Poor,         1_000_000),
    ("vn-2016-2020", Area::Rural, 700_001,   2, Category::NearPoor,     1_000_000),
    ("vn-2016-2020", Area::Rural, 1_000_000, 3, Category::Poor,         1_000_000),
    ("vn-2016-2020", Area::Rural, 1_000_000, 2, Category::NearPoor,     1_000_000),
    ("vn-2016-2020", Area::Rural, 1_000_001, 10, Category::MiddleIncome, 1_500_000),
    ("vn-2016-2020", Area::Rural, 1_500_000, 0, Category::MiddleIncome, 1_500_000),
    ("vn-2016-2020", Area::Rural, 1_500_001, 0, Category::NotPoor,      1_500_000),
    // vn-2016-2020 urban: 900,000, 1,300,000, 1,950,000.
    ("vn-2016-2020", Area::Urban, 900_000,   0, Category::Poor,         900_000),
    ("vn-2016-2020", Area::Urban, 900_001,   3, Category::Poor,         1_300_000),
    ("vn-2016-2020", Area::Urban, 900_001,   2, Category::NearPoor,     1_300_000),
    ("vn-2016-2020", Area::Urban, 1_300_000, 3, Category::Poor,         1_300_000),
    ("vn-2016-2020", Area::Urban, 1_300_000, 2, Category::NearPoor,     1_300_000),
    ("vn-2016-2020", Area::Urban, 1_300_001, 3, Category::MiddleIncome, 1_950_000),
    ("vn-2016-2020", Area::Urban, 1_950_000, 0, Category::MiddleIncome, 1_950_000),
    ("vn-2016-2020", Area::Urban, 1_950_001, 0, Category::NotPoor,      1_950_000),
];

#[test]
fn boundary_cases_give_the_decrees_answers() {
    for &(id, area, income, n, category, line) in BOUNDARIES {
        let all: &[&str] = if id == "vn-2016-2020" { &D2016 } else { &D2022 };
        let c = classify(id, area, income, &all[..n]);
        assert_eq!(
            (c.category, c.income_line_vnd.get()),
            (category, line),
            "{id} {area} income {income} with {n} deprivations"
        );
        assert_eq!(c.deprivation_count, n as u32);
        assert_eq!(
            c.deprivation_score,
            (id == "vn-2016-2020").then_some(n as u32 * 10)
        );
    }
}

#[test]
fn the_contract_example_is_poor() {
    let c = classify(
        "vn-2022-2025",
        Area::Rural,
        1_450_000,
        &["health_insurance", "housing_area", "hygienic_latrine"],
    );
    assert_eq!(c.category, Category::Poor);
    assert_eq!(c.deprivation_count, 3);
    assert_eq!(c.income_line_vnd, vnd(1_500_000));
    assert_eq!(
        c.explanation.rule,
        DecidingRule::DeprivationsAtOrAboveThreshold
    );
    assert_eq!(c.explanation.line, LineKind::Poverty);
    assert_eq!(
        c.explain(),
        "vn-2022-2025 (Nghị định 07/2021/NĐ-CP): rural income 1,450,000 VND \
         per person per month is at or below the poverty line of 1,500,000 VND, and 3 deprivations \
         counted (health_insurance, housing_area, hygienic_latrine), at or above the threshold \
         count of 3: poor."
    );
}

#[test]
fn explanations_name_the_line_the_count_and_the_rule() {
    let c = classify("vn-2016-2020", Area::Rural, 650_000, &["telecom_use"]);
    assert_eq!(c.explanation.rule, DecidingRule::IncomeAtOrBelowPovertyLine);
    let text = c.explain();
    assert!(text.contains("poverty line of 700,000 VND"), "{text}");
    assert!(text.contains("whatever its deprivations"), "{text}");
    assert!(
        text.contains("deprivation score is 10 (1 deprivation: telecom_use)"),
        "{text}"
    );

    let c = classify(
        "vn-2016-2020",
        Area::Urban,
        1_000_000,
        &["housing_area", "telecom_use"],
    );
    assert_eq!(c.category, Category::NearPoor);
    assert_eq!(
        c.explanation.line_below,
        Some((LineKind::Poverty, vnd(900_000)))
    );
    let text = c.explain();
    assert!(text.contains("above the poverty line of 900,000 VND and at or below the near-poverty line of 1,300,000 VND"), "{text}");
    assert!(
        text.contains("below the threshold score of 30: near-poor."),
        "{text}"
    );

    let c = classify("vn-2022-2025", Area::Urban, 3_500_000, &[]);
    assert_eq!(c.explanation.rule, DecidingRule::IncomeAboveHighestLine);
    let text = c.explain();
    assert!(
        text.contains(
            "above the highest line of the standard, the middle-income line of 3,000,000 VND"
        ),
        "{text}"
    );
    assert!(text.ends_with(": not poor."), "{text}");

    let c = classify("vn-2022-2025", Area::Rural, 2_000_000, &["nutrition"]);
    let text = c.explain();
    assert!(
        text.contains(
            "; 1 deprivation counted (nutrition), which above the poverty lines does not change"
        ),
        "{text}"
    );
    assert!(text.ends_with(": middle-income."), "{text}");
}

#[test]
fn indicators_must_belong_to_the_standard_and_appear_once() {
    let err = std("vn-2016-2020")
        .classify(Area::Rural, vnd(1), &["employment"])
        .unwrap_err();
    assert!(matches!(err, ClassifyError::UnknownIndicator { .. }));
    assert_eq!(err.field(), "deprivations");
    let err = std("vn-2022-2025")
        .classify(Area::Rural, vnd(1), &["health_service_access"])
        .unwrap_err();
    assert!(matches!(err, ClassifyError::UnknownIndicator { .. }));
    let err = std("vn-2022-2025")
        .classify(Area::Rural, vnd(1), &["nutrition", "nutrition"])
        .unwrap_err();
    assert!(matches!(err, ClassifyError::DuplicateIndicator { .. }));
}

// ------------------------------------------------------------------ validation and loading

fn edited(from: &str, to: &str) -> Result<Standard, StandardError> {
    assert!(VN_2016_2020_JSON.contains(from), "{from}");
    Standard::from_json("edited", &VN_2016_2020_JSON.replace(from, to))
}

#[test]
fn invalid_standard_files_are_refused() {
    let invalid = |r: Result<Standard, StandardError>| {
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                StandardError::Invalid { .. } | StandardError::Parse { .. }
            ),
            "{e}"
        );
        e.to_string()
    };
    invalid(edited(
        "\"poverty_vnd\": 700000",
        "\"poverty_vnd\": 1000000",
    ));
    invalid(edited("\"near_poverty_vnd\": 1000000, ", ""));
    invalid(edited(
        "\"middle_income_vnd\": 1500000",
        "\"middle_income_vnd\": 900000",
    ));
    invalid(edited(", \"middle_income_vnd\": 1500000", ""));
    invalid(edited("\"poor_min_score\": 30", "\"poor_min_score\": 110"));
    invalid(edited(
        "\"points_per_deprivation\": 10",
        "\"points_per_deprivation\": 0",
    ));
    invalid(edited(
        "\"valid_to\": \"2021-12-31\"",
        "\"valid_to\": \"2015-12-31\"",
    ));
    invalid(edited("\"id\": \"vn-2016-2020\"", "\"id\": \"VN 2016\""));
    invalid(edited(
        "\"name\": \"telecom_use\"",
        "\"name\": \"housing_area\"",
    ));
    invalid(edited(
        "\"name\": \"telecom_use\"",
        "\"name\": \"Telecom Use\"",
    ));
    invalid(edited(
        "\"kind\": \"point_based\"",
        "\"kind\": \"count_based\"",
    ));
    invalid(edited(
        "\"poverty_vnd\": 700000",
        "\"poverty_vnd\": -700000",
    ));
    invalid(edited(
        "\"poverty_vnd\": 700000",
        "\"poverty_vnd\": 700000.5",
    ));
    let msg = invalid(edited(
        "\"scope\": \"national\"",
        "\"scope\": \"national\", \"colour\": \"red\"",
    ));
    assert!(msg.contains("colour"), "{msg}");
    // Going through serde checks the same rules.
    let text = VN_2016_2020_JSON.replace("\"near_poverty_vnd\": 1000000, ", "");
    assert!(serde_json::from_str::<Standard>(&text).is_err());
    let round: Standard =
        serde_json::from_str(&serde_json::to_string(&std("vn-2016-2020")).unwrap()).unwrap();
    assert_eq!(round, std("vn-2016-2020"));
}

/// A fresh folder under the system temp dir, removed when the guard drops (even when the
/// test fails half way).
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ansinh-standards-")
        .tempdir()
        .unwrap()
}

fn provincial(id: &str, poverty: i64) -> String {
    EXAMPLE_PROVINCIAL_JSON
        .replace("\"example\": true", "\"example\": false")
        .replace("\"confirmed\": false", "\"confirmed\": true")
        .replace("example-provincial-tay-ninh", id)
        .replace(
            "\"poverty_vnd\": 1600000",
            &format!("\"poverty_vnd\": {poverty}"),
        )
}

#[test]
fn user_files_are_loaded_from_a_folder() {
    let tmp = temp_dir();
    let dir = tmp.path();
    std::fs::write(
        dir.join("tay-ninh.json"),
        provincial("tay-ninh-2022", 1_550_000),
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), "not a standard").unwrap();
    // A user file can correct a shipped standard.
    std::fs::write(
        dir.join("fix.json"),
        VN_2022_2025_JSON.replace(
            "\"valid_to\": \"2025-12-31\"",
            "\"valid_to\": \"2026-06-30\"",
        ),
    )
    .unwrap();
    let s = Standards::builtin_with_dir(dir).unwrap();
    assert_eq!(
        s.ids().collect::<Vec<_>>(),
        [
            "tay-ninh-2022",
            "vn-2016-2020",
            "vn-2022-2025",
            "vn-2026-2030"
        ]
    );
    assert_eq!(
        s.get("tay-ninh-2022")
            .unwrap()
            .lines(Area::Rural)
            .poverty_vnd,
        vnd(1_550_000)
    );
    assert_eq!(
        s.get("vn-2022-2025").unwrap().valid_to(),
        Some(d("2026-06-30"))
    );
    assert!(s
        .source_of("tay-ninh-2022")
        .unwrap()
        .ends_with("tay-ninh.json"));
    assert_eq!(s.in_force_on(d("2023-01-01")).len(), 2);

    // Two user files with one id are an error naming both.
    std::fs::write(
        dir.join("tay-ninh-copy.json"),
        provincial("tay-ninh-2022", 1_600_000),
    )
    .unwrap();
    let err = Standards::builtin_with_dir(dir).unwrap_err();
    assert!(matches!(err, StandardError::DuplicateId { .. }), "{err}");
    std::fs::remove_file(dir.join("tay-ninh-copy.json")).unwrap();

    // An example copied unchanged is refused, naming the file.
    std::fs::write(dir.join("example.json"), EXAMPLE_PROVINCIAL_JSON).unwrap();
    let err = Standards::builtin_with_dir(dir).unwrap_err();
    assert!(err.to_string().contains("example.json"), "{err}");
    std::fs::remove_file(dir.join("example.json")).unwrap();

    // A broken file is refused, naming the file.
    std::fs::write(dir.join("broken.json"), "{").unwrap();
    let err = Standards::builtin_with_dir(dir).unwrap_err();
    assert!(
        matches!(err, StandardError::Parse { ref source_name, .. } if source_name.ends_with("broken.json")),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();

    let err = Standards::builtin_with_dir(dir).unwrap_err();
    assert!(matches!(err, StandardError::Io { .. }), "{err}");
}

#[test]
fn a_new_standard_is_a_file_not_a_code_change() {
    // A made-up successor standard with invented lines (for the test only).
    let text = VN_2022_2025_JSON
        .replace("\"id\": \"vn-2022-2025\"", "\"id\": \"vn-2031-2035\"")
        .replace(
            "\"supersedes\": \"vn-2016-2020\"",
            "\"supersedes\": \"vn-2026-2030\"",
        )
        .replace(
            "\"valid_from\": \"2022-01-01\"",
            "\"valid_from\": \"2031-01-01\"",
        )
        .replace(
            "\"valid_to\": \"2025-12-31\"",
            "\"valid_to\": \"2035-12-31\"",
        )
        .replace("1500000", "2000000")
        .replace("2250000", "2800000");
    let mut s = builtin();
    s.add_json("vn-2031-2035.json", &text).unwrap();
    let new = s.in_force_on(d("2031-10-01"));
    assert_eq!(new.len(), 1);
    let c = new[0]
        .classify(
            Area::Rural,
            vnd(1_900_000),
            &["nutrition", "employment", "dependants"],
        )
        .unwrap();
    assert_eq!(c.category, Category::Poor);
}

// ------------------------------------------------------------------ policy parameters

#[test]
fn the_electricity_subsidy_is_a_dated_parameter() {
    let p = PolicyParameters::builtin().unwrap();
    let in_2021 = p
        .value_on(ELECTRICITY_SUBSIDY_MONTHLY, d("2021-06-01"))
        .unwrap();
    assert_eq!(in_2021.amount_vnd, Amount::Fixed(vnd(30_000)));
    assert!(in_2021.confirmed);
    let later = p
        .value_on(ELECTRICITY_SUBSIDY_MONTHLY, d("2024-06-01"))
        .unwrap();
    assert_eq!(
        (later.amount_vnd.min(), later.amount_vnd.max()),
        (vnd(46_000), vnd(49_000))
    );
    assert!(!later.confirmed, "the later amount is not confirmed");
    assert!(p
        .value_on(ELECTRICITY_SUBSIDY_MONTHLY, d("2020-12-31"))
        .is_none());
    assert!(p.value_on("no_such_parameter", d("2021-06-01")).is_none());
    assert_eq!(
        p.get(ELECTRICITY_SUBSIDY_MONTHLY).unwrap().policy,
        Some(ansinh_events::household::Policy::ElectricitySubsidy)
    );
}

#[test]
fn the_shipped_parameters_bound_every_policy_and_a_folder_file_replaces_them() {
    use ansinh_events::household::Policy;
    let shipped = PolicyParameters::shipped();
    assert_eq!(*shipped, PolicyParameters::builtin().unwrap());
    for policy in Policy::ALL {
        let max = shipped.support_max(policy, d("2024-01-01"));
        assert!(max.parameter.is_some(), "{policy:?} has no bound");
        assert!(max.amount > vnd(1_000_000), "{policy:?}: {max:?}");
    }
    assert_eq!(
        Standards::builtin().unwrap().parameters().as_ref(),
        shipped.as_ref()
    );
    let tmp = temp_dir();
    let dir = tmp.path();
    std::fs::write(
        dir.join("policy-parameters.json"),
        r#"{"parameters":[{"name":"support_max_default","unit":"vnd_per_support","description":"x",
            "values":[{"valid_from":"2000-01-01","amount_vnd":5000000,"confirmed":true,"source":"a"}]}]}"#,
    )
    .unwrap();
    let s = Standards::builtin_with_dir(dir).unwrap();
    assert_eq!(
        s.ids().count(),
        builtin().ids().count(),
        "the parameters file is not read as a standard"
    );
    let max = s.parameters().support_max(Policy::Housing, d("2024-01-01"));
    assert_eq!(max.amount, vnd(5_000_000));
    std::fs::write(dir.join("policy-parameters.json"), "{").unwrap();
    let err = Standards::builtin_with_dir(dir).unwrap_err().to_string();
    assert!(err.contains("policy-parameters.json"), "{err}");
}

#[test]
fn overlapping_or_malformed_parameters_are_refused() {
    let overlap = r#"{"parameters":[{"name":"x","unit":"vnd","description":"x","values":[
        {"valid_from":"2021-01-01","valid_to":"2021-12-31","amount_vnd":1,"confirmed":true,"source":"a"},
        {"valid_from":"2021-06-01","amount_vnd":2,"confirmed":true,"source":"b"}]}]}"#;
    assert!(PolicyParameters::from_json("t", overlap).is_err());
    let open_then_more = r#"{"parameters":[{"name":"x","unit":"vnd","description":"x","values":[
        {"valid_from":"2021-01-01","amount_vnd":1,"confirmed":true,"source":"a"},
        {"valid_from":"2022-01-01","amount_vnd":2,"confirmed":true,"source":"b"}]}]}"#;
    assert!(PolicyParameters::from_json("t", open_then_more).is_err());
    let bad_range = r#"{"parameters":[{"name":"x","unit":"vnd","description":"x","values":[
        {"valid_from":"2021-01-01","amount_vnd":{"min":5,"max":4},"confirmed":true,"source":"a"}]}]}"#;
    assert!(PolicyParameters::from_json("t", bad_range).is_err());
    let negative = r#"{"parameters":[{"name":"x","unit":"vnd","description":"x","values":[
        {"valid_from":"2021-01-01","amount_vnd":-1,"confirmed":true,"source":"a"}]}]}"#;
    assert!(PolicyParameters::from_json("t", negative).is_err());
    let tmp = temp_dir();
    let dir = tmp.path();
    let path = dir.join("p.json");
    std::fs::write(&path, ansinh_events::policy_params::POLICY_PARAMETERS_JSON).unwrap();
    assert_eq!(
        PolicyParameters::load_file(&path).unwrap(),
        PolicyParameters::builtin().unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
    assert!(PolicyParameters::load_file(&path).is_err());
}

// ------------------------------------------------------------------ properties

fn standard_ids() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("vn-2016-2020"), Just("vn-2022-2025")]
}

fn areas() -> impl Strategy<Value = Area> {
    prop_oneof![Just(Area::Rural), Just(Area::Urban)]
}

fn indicators_of(id: &str) -> &'static [&'static str] {
    if id == "vn-2016-2020" {
        &D2016
    } else {
        &D2022
    }
}

/// A subset of the standard's indicators, as a bit mask.
fn subset(id: &str, mask: u16) -> Vec<&'static str> {
    indicators_of(id)
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

proptest! {
    #[test]
    fn more_income_never_gives_a_poorer_category(
        id in standard_ids(),
        area in areas(),
        a in 0i64..5_000_000,
        extra in 0i64..5_000_000,
        mask in 0u16..4096,
    ) {
        let s = std(id);
        let dep = subset(id, mask);
        let lower = s.classify(area, vnd(a), &dep).unwrap().category;
        let higher = s.classify(area, vnd(a + extra), &dep).unwrap().category;
        prop_assert!(higher >= lower, "{id} {area}: {a} → {lower}, {} → {higher}", a + extra);
    }

    #[test]
    fn more_deprivations_never_give_a_richer_category(
        id in standard_ids(),
        area in areas(),
        income in 0i64..5_000_000,
        mask in 0u16..4096,
        more in 0u16..4096,
    ) {
        let s = std(id);
        let fewer = s.classify(area, vnd(income), &subset(id, mask)).unwrap().category;
        let with_more = s.classify(area, vnd(income), &subset(id, mask | more)).unwrap().category;
        prop_assert!(with_more <= fewer, "{id} {area} {income}: {fewer} then {with_more}");
    }

    #[test]
    fn every_income_line_is_inclusive(
        id in standard_ids(),
        area in areas(),
        mask in 0u16..4096,
    ) {
        let s = std(id);
        let dep = subset(id, mask);
        let lines = *s.lines(area);
        let all = [Some(lines.poverty_vnd), lines.near_poverty_vnd, lines.middle_income_vnd];
        for line in all.into_iter().flatten() {
            let at = s.classify(area, line, &dep).unwrap();
            let above = s.classify(area, vnd(line.get() + 1), &dep).unwrap();
            // At the line the household is in the band the line closes, and the line is the
            // one reported; one đồng above, it is in the next band.
            prop_assert_eq!(at.income_line_vnd, line);
            prop_assert!(at.explanation.line_below.is_none_or(|(_, below)| below < line));
            prop_assert!(above.income_line_vnd > line || above.category == Category::NotPoor);
            prop_assert!(above.category >= at.category);
        }
        // Exactly at the poverty line the household is poor or near-poor, never richer.
        let at_poverty = s.classify(area, lines.poverty_vnd, &dep).unwrap().category;
        prop_assert!(at_poverty <= Category::NearPoor);
        // One đồng above the highest line it is not poor, whatever its deprivations.
        let top = lines.middle_income_vnd.unwrap();
        prop_assert_eq!(s.classify(area, vnd(top.get() + 1), &dep).unwrap().category, Category::NotPoor);
        prop_assert_eq!(s.classify(area, top, &dep).unwrap().category, Category::MiddleIncome);
    }

    #[test]
    fn the_score_and_count_follow_the_deprivations(
        id in standard_ids(),
        area in areas(),
        income in 0i64..3_000_000,
        mask in 0u16..4096,
    ) {
        let dep = subset(id, mask);
        let c = std(id).classify(area, vnd(income), &dep).unwrap();
        prop_assert_eq!(c.deprivation_count as usize, dep.len());
        if id == "vn-2016-2020" {
            prop_assert_eq!(c.deprivation_score, Some(dep.len() as u32 * 10));
        } else {
            prop_assert_eq!(c.deprivation_score, None);
        }
        prop_assert!(!c.explain().contains('\n'));
    }
}
