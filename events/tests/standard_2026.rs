//! The 2026–2030 standard (Decree 351/2025/NĐ-CP) and income lines that change by date
//! within a standard: the shipped file, the lines of each survey date, the boundary day,
//! and refusal of badly dated lines.
#![allow(clippy::unwrap_used)]

use ansinh_events::standards::*;
use ansinh_events::{Area, Vnd};
use chrono::{Days, NaiveDate};
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn vn2026() -> Standard {
    Standards::builtin()
        .unwrap()
        .get("vn-2026-2030")
        .unwrap()
        .clone()
}

fn vnd(v: i64) -> Vnd {
    Vnd::new(v).unwrap()
}

const THREE: [&str; 3] = ["employment", "nutrition", "hygienic_latrine"];

fn category(date: &str, area: Area, income: i64, deprivations: &[&str]) -> Category {
    vn2026()
        .classify_on(d(date), area, vnd(income), deprivations)
        .unwrap()
        .category
}

#[test]
fn the_2026_standard_ships_with_what_is_not_confirmed_marked() {
    let s = vn2026();
    assert_eq!(s.legal_basis(), "Nghị định 351/2025/NĐ-CP");
    assert_eq!(
        (s.valid_from(), s.valid_to()),
        (d("2026-01-01"), Some(d("2030-12-31")))
    );
    assert_eq!(s.supersedes(), Some("vn-2022-2025"));
    assert_eq!(
        s.rule(),
        Rule::CountBased {
            poor_min_deprivations: 3
        }
    );
    assert_eq!(s.indicators().len(), 12);
    assert!(!s.is_confirmed() && !s.is_example());
    let note = s.note().unwrap();
    assert!(note.contains("NOT confirmed") && note.contains("middle-income"));
    // No middle-income line: above the poverty line a household is not poor.
    assert_eq!(
        s.categories(),
        [Category::Poor, Category::NearPoor, Category::NotPoor]
    );
    assert!(s.lines_change_by_date());
    let froms: Vec<NaiveDate> = s.dated_lines().iter().map(|l| l.from).collect();
    assert_eq!(froms, [d("2026-01-01"), d("2027-01-01")]);
}

#[test]
fn a_2026_survey_uses_decree_07s_lines_and_a_2027_one_the_new_lines() {
    let s = vn2026();
    for (date, rural, urban) in [
        ("2026-01-01", 1_500_000, 2_000_000),
        ("2026-10-05", 1_500_000, 2_000_000),
        ("2027-03-01", 2_200_000, 2_800_000),
        ("2030-12-31", 2_200_000, 2_800_000),
    ] {
        assert_eq!(s.lines_on(d(date), Area::Rural).poverty_vnd, vnd(rural));
        assert_eq!(s.lines_on(d(date), Area::Urban).poverty_vnd, vnd(urban));
        let c = s
            .classify_on(d(date), Area::Urban, vnd(urban), &THREE)
            .unwrap();
        assert_eq!(
            (c.category, c.income_line_vnd),
            (Category::Poor, vnd(urban))
        );
        assert!(c.explain().contains("Nghị định 351/2025/NĐ-CP"));
    }
    // 2,000,000 rural with 3 deprivations: above the 2026 line, at or below the 2027 one.
    assert_eq!(
        category("2026-10-05", Area::Rural, 2_000_000, &THREE),
        Category::NotPoor
    );
    assert_eq!(
        category("2027-10-05", Area::Rural, 2_000_000, &THREE),
        Category::Poor
    );
    assert_eq!(
        category("2027-10-05", Area::Rural, 2_000_000, &THREE[..2]),
        Category::NearPoor
    );
    // The issue's example: 2,100,000 rural with 3 deprivations, surveyed 2027-10-01 and
    // 2026-10-01.
    assert_eq!(
        category("2027-10-01", Area::Rural, 2_100_000, &THREE),
        Category::Poor
    );
    assert_eq!(
        category("2026-10-01", Area::Rural, 2_100_000, &THREE),
        Category::NotPoor
    );
    // Far above the line there is no middle-income band.
    assert_eq!(
        category("2027-10-05", Area::Urban, 10_000_000, &[]),
        Category::NotPoor
    );
}

#[test]
fn the_new_lines_start_on_1_january_2027() {
    assert_eq!(
        category("2026-12-31", Area::Rural, 2_200_000, &THREE),
        Category::NotPoor
    );
    assert_eq!(
        category("2027-01-01", Area::Rural, 2_200_000, &THREE),
        Category::Poor
    );
    assert_eq!(
        category("2027-01-01", Area::Rural, 2_200_001, &THREE),
        Category::NotPoor
    );
    assert_eq!(
        category("2026-12-31", Area::Urban, 2_000_000, &[]),
        Category::NearPoor
    );
    assert_eq!(
        category("2026-12-31", Area::Urban, 2_000_001, &[]),
        Category::NotPoor
    );
}

#[test]
fn without_a_survey_date_dated_lines_are_refused_naming_the_field() {
    let err = vn2026()
        .classify(Area::Rural, vnd(1_000_000), &THREE)
        .unwrap_err();
    assert_eq!(err.field(), "survey_date");
    assert!(err.to_string().contains("vn-2026-2030"), "{err}");
}

#[test]
fn old_single_object_files_still_load_and_classify_the_same_on_any_date() {
    for (id, text) in [
        ("vn-2016-2020", VN_2016_2020_JSON),
        ("vn-2022-2025", VN_2022_2025_JSON),
    ] {
        let s = Standard::from_json(id, text).unwrap();
        assert!(!s.lines_change_by_date());
        assert_eq!(s.dated_lines().len(), 1);
        assert_eq!(s.dated_lines()[0].from, s.valid_from());
        let undated = s.classify(Area::Rural, vnd(1_400_000), &["telecom_use"]);
        let dated = s.classify_on(
            d("2023-05-05"),
            Area::Rural,
            vnd(1_400_000),
            &["telecom_use"],
        );
        assert_eq!(undated.unwrap(), dated.unwrap());
    }
}

/// The shipped 2026 file with its `lines` list replaced.
fn with_lines(lines: &str) -> Result<Standard, StandardError> {
    let start = VN_2026_2030_JSON.find("\"lines\": [").unwrap();
    let end = start + VN_2026_2030_JSON[start..].find("],\n").unwrap() + 1;
    let text = format!(
        "{}\"lines\": {lines}{}",
        &VN_2026_2030_JSON[..start],
        &VN_2026_2030_JSON[end..]
    );
    Standard::from_json("edited.json", &text)
}

fn line(from: &str, rural: i64, urban: i64) -> String {
    format!(
        r#"{{"from": "{from}", "rural": {{"poverty_vnd": {rural}}}, "urban": {{"poverty_vnd": {urban}}}}}"#
    )
}

#[test]
fn badly_dated_lines_are_refused_naming_the_field() {
    let refused = |lines: Vec<String>, field: &str| {
        let err = with_lines(&format!("[{}]", lines.join(", "))).unwrap_err();
        assert!(
            err.to_string().contains(field),
            "expected {field} in: {err}"
        );
    };
    let ok = with_lines(&format!(
        "[{}, {}]",
        line("2026-01-01", 1, 2),
        line("2027-01-01", 3, 4)
    ))
    .unwrap();
    assert_eq!(
        ok.lines_on(d("2027-01-01"), Area::Urban).poverty_vnd,
        vnd(4)
    );
    // The first dated lines must start with the standard.
    refused(
        vec![line("2026-02-01", 1, 2)],
        "lines[0].from is 2026-02-01, but the first dated lines must start on valid_from (2026-01-01)",
    );
    // In order, no two on one day.
    refused(
        vec![
            line("2026-01-01", 1, 2),
            line("2028-01-01", 3, 4),
            line("2027-01-01", 5, 6),
        ],
        "lines[2].from (2027-01-01) must be after lines[1].from (2028-01-01)",
    );
    refused(
        vec![line("2026-01-01", 1, 2), line("2026-01-01", 3, 4)],
        "lines[1].from",
    );
    // Inside the standard's validity.
    refused(
        vec![line("2026-01-01", 1, 2), line("2031-01-01", 3, 4)],
        "lines[1].from (2031-01-01) is after the standard's valid_to (2030-12-31)",
    );
    refused(vec![], "lines: the list of dated lines is empty");
    // Each entry is checked like single lines, and named.
    refused(
        vec![
            line("2026-01-01", 1, 2),
            r#"{"from": "2027-01-01", "rural": {"poverty_vnd": 3}}"#.to_owned(),
        ],
        "lines[1]: missing field `urban`",
    );
    refused(
        vec![
            line("2026-01-01", 1, 2),
            r#"{"from": "2027-01-01", "rural": {"poverty_vnd": 3, "near_poverty_vnd": 4}, "urban": {"poverty_vnd": 5}}"#.to_owned(),
        ],
        "lines[1].rural: a count-based rule has no near_poverty_vnd line",
    );
    refused(
        vec![
            r#"{"from": "2026-01-01", "rural": {"poverty_vnd": 3, "middle_income_vnd": 4}, "urban": {"poverty_vnd": 5, "middle_income_vnd": 6}}"#.to_owned(),
            line("2027-01-01", 1, 2),
        ],
        "middle_income_vnd must be given in every dated line or in none",
    );
    let err = with_lines("\"1500000\"").unwrap_err();
    assert!(err.to_string().contains("lines must be an object"), "{err}");
}

fn areas() -> impl Strategy<Value = Area> {
    prop_oneof![Just(Area::Rural), Just(Area::Urban)]
}

const ALL: [&str; 12] = [
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

proptest! {
    /// On every day of the standard the decision follows the line in force that day:
    /// poor iff income ≤ line and ≥ 3 deprivations, near-poor iff ≤ line and fewer.
    #[test]
    fn every_survey_date_uses_the_line_of_its_year(
        day in 0u64..(365 * 5 + 1),
        area in areas(),
        income in 0i64..4_000_000,
        n in 0usize..=12,
    ) {
        let date = d("2026-01-01").checked_add_days(Days::new(day)).unwrap();
        let line = match (date < d("2027-01-01"), area) {
            (true, Area::Rural) => 1_500_000,
            (true, Area::Urban) => 2_000_000,
            (false, Area::Rural) => 2_200_000,
            (false, Area::Urban) => 2_800_000,
        };
        let c = vn2026().classify_on(date, area, vnd(income), &ALL[..n]).unwrap();
        let expected = match (income <= line, n >= 3) {
            (true, true) => Category::Poor,
            (true, false) => Category::NearPoor,
            (false, _) => Category::NotPoor,
        };
        prop_assert_eq!(c.category, expected, "{} {} {} {}", date, area, income, n);
        prop_assert_eq!(c.income_line_vnd, vnd(line));
    }

    /// A later survey never makes a household richer: the 2027 lines are higher.
    #[test]
    fn a_later_line_never_gives_a_richer_category(
        a in 0u64..(365 * 5 + 1),
        later in 0u64..(365 * 5 + 1),
        area in areas(),
        income in 0i64..4_000_000,
        n in 0usize..=12,
    ) {
        let s = vn2026();
        let first = d("2026-01-01").checked_add_days(Days::new(a)).unwrap();
        let second = first.checked_add_days(Days::new(later)).unwrap();
        let c1 = s.classify_on(first, area, vnd(income), &ALL[..n]).unwrap().category;
        let c2 = s.classify_on(second, area, vnd(income), &ALL[..n]).unwrap().category;
        prop_assert!(c2 <= c1, "{} {} then {} {}", first, c1, second, c2);
    }
}
