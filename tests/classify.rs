//! `ansinh classify` as a user runs it: JSON lines in, one classification per line out, bad
//! lines named on stderr with exit code 2. No database needed.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};

/// `ansinh classify ARGS` started with piped stdin, stdout and stderr.
fn start(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .arg("classify")
        .args(args)
        // classify needs no database; make sure none is touched.
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ansinh starts")
}

/// `input` written to the child's stdin, then closed; what the child gave back.
fn finish(mut child: Child, input: &str) -> Output {
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    child.wait_with_output().expect("ansinh finishes")
}

fn classify(args: &[&str], input: &str) -> Output {
    finish(start(args), input)
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("utf-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

fn survey(standard: &str, area: &str, income: i64, deprivations: &[&str]) -> String {
    json!({
        "standard": standard,
        "area": area,
        "income_per_capita_vnd": income,
        "deprivations": deprivations,
    })
    .to_string()
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

#[test]
fn the_contract_example() {
    let out = classify(
        &[],
        r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":1450000,"deprivations":["health_insurance","housing_area","hygienic_latrine"]}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty());
    let got = lines(&out);
    assert_eq!(got.len(), 1);
    let c = &got[0];
    assert_eq!(c["standard"], "vn-2022-2025");
    assert_eq!(c["category"], "poor");
    assert_eq!(c["deprivation_count"], 3);
    assert_eq!(c["income_line_vnd"], 1_500_000);
    assert!(c.get("deprivation_score").is_none());
    let why = c["explanation"].as_str().expect("explanation");
    assert!(why.contains("poverty line of 1,500,000 VND"), "{why}");
    assert!(
        why.contains("health_insurance, housing_area, hygienic_latrine"),
        "{why}"
    );
}

/// (standard, area, income, deprivations, category, income line used)
#[rustfmt::skip]
const BOUNDARIES: &[(&str, &str, i64, usize, &str, i64)] = &[
    ("vn-2022-2025", "rural", 1_500_000, 3, "poor",          1_500_000),
    ("vn-2022-2025", "rural", 1_500_000, 2, "near_poor",     1_500_000),
    ("vn-2022-2025", "rural", 1_500_001, 3, "middle_income", 2_250_000),
    ("vn-2022-2025", "rural", 2_250_000, 0, "middle_income", 2_250_000),
    ("vn-2022-2025", "rural", 2_250_001, 0, "not_poor",      2_250_000),
    ("vn-2022-2025", "urban", 2_000_000, 3, "poor",          2_000_000),
    ("vn-2022-2025", "urban", 2_000_000, 2, "near_poor",     2_000_000),
    ("vn-2022-2025", "urban", 2_000_001, 12, "middle_income", 3_000_000),
    ("vn-2022-2025", "urban", 3_000_000, 0, "middle_income", 3_000_000),
    ("vn-2022-2025", "urban", 3_000_001, 0, "not_poor",      3_000_000),
    ("vn-2016-2020", "rural", 700_000,   0, "poor",          700_000),
    ("vn-2016-2020", "rural", 700_001,   2, "near_poor",     1_000_000),
    ("vn-2016-2020", "rural", 1_000_000, 3, "poor",          1_000_000),
    ("vn-2016-2020", "rural", 1_000_000, 2, "near_poor",     1_000_000),
    ("vn-2016-2020", "rural", 1_000_001, 10, "middle_income", 1_500_000),
    ("vn-2016-2020", "rural", 1_500_000, 0, "middle_income", 1_500_000),
    ("vn-2016-2020", "rural", 1_500_001, 0, "not_poor",      1_500_000),
    ("vn-2016-2020", "urban", 900_000,   0, "poor",          900_000),
    ("vn-2016-2020", "urban", 900_001,   2, "near_poor",     1_300_000),
    ("vn-2016-2020", "urban", 1_300_000, 3, "poor",          1_300_000),
    ("vn-2016-2020", "urban", 1_300_000, 2, "near_poor",     1_300_000),
    ("vn-2016-2020", "urban", 1_300_001, 3, "middle_income", 1_950_000),
    ("vn-2016-2020", "urban", 1_950_000, 0, "middle_income", 1_950_000),
    ("vn-2016-2020", "urban", 1_950_001, 0, "not_poor",      1_950_000),
];

fn deprivations(standard: &str, n: usize) -> &'static [&'static str] {
    if standard == "vn-2016-2020" {
        &D2016[..n]
    } else {
        &D2022[..n]
    }
}

#[test]
fn boundary_cases_of_both_standards_and_areas_give_the_decrees_answers() {
    let input: Vec<String> = BOUNDARIES
        .iter()
        .map(|&(s, area, income, n, _, _)| survey(s, area, income, deprivations(s, n)))
        .collect();
    let out = classify(&[], &input.join("\n"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = lines(&out);
    assert_eq!(got.len(), BOUNDARIES.len());
    for (c, &(s, area, income, n, category, line)) in got.iter().zip(BOUNDARIES) {
        let case = format!("{s} {area} {income} with {n} deprivations");
        assert_eq!(c["standard"], s, "{case}");
        assert_eq!(c["category"], category, "{case}");
        assert_eq!(c["income_line_vnd"], line, "{case}");
        assert_eq!(c["deprivation_count"], n, "{case}");
        if s == "vn-2016-2020" {
            assert_eq!(c["deprivation_score"], n * 10, "{case}");
        } else {
            assert!(c.get("deprivation_score").is_none(), "{case}");
        }
    }
}

#[test]
fn the_standard_can_come_from_the_command_line() {
    let input = [
        r#"{"area":"rural","income_per_capita_vnd":700000,"deprivations":[]}"#,
        // A line's own standard wins over --standard.
        r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":700000,"deprivations":[]}"#,
    ]
    .join("\n");
    let out = classify(&["--standard", "vn-2016-2020"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = lines(&out);
    assert_eq!(
        (&got[0]["standard"], &got[0]["category"]),
        (&json!("vn-2016-2020"), &json!("poor"))
    );
    assert_eq!(
        (&got[1]["standard"], &got[1]["category"]),
        (&json!("vn-2022-2025"), &json!("near_poor"))
    );
}

#[test]
fn malformed_lines_are_named_and_the_rest_still_classified() {
    let good = survey("vn-2022-2025", "urban", 2_000_000, &D2022[..3]);
    let input = [
        good.as_str(), // 1
        r#"{"standard":"vn-2030","area":"rural","income_per_capita_vnd":1,"deprivations":[]}"#, // 2
        r#"{"standard":"vn-2016-2020","area":"rural","income_per_capita_vnd":1,"deprivations":["nutrition"]}"#, // 3
        r#"{"standard":"vn-2022-2025","income_per_capita_vnd":1,"deprivations":[]}"#, // 4
        r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":-1,"deprivations":[]}"#, // 5
        r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":1500000.5,"deprivations":[]}"#, // 6
        r#"{"area":"rural","income_per_capita_vnd":1,"deprivations":[]}"#, // 7
        "this is not json",                                                // 8
        r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":1}"#, // 9
        r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":"1000","deprivations":[]}"#, // 10
        r#"{"standard":"vn-2022-2025","area":"rural","deprivations":[]}"#, // 11
        good.as_str(),                                                     // 12
    ]
    .join("\n");
    let out = classify(&[], &input);
    assert_eq!(out.status.code(), Some(2));
    let got = lines(&out);
    assert_eq!(got.len(), 2, "only the good lines are printed");
    assert!(got.iter().all(|c| c["category"] == "poor"));
    let err = stderr(&out);
    let expected = [
        (2, "standard"),
        (3, "deprivations"),
        (4, "area"),
        (5, "income_per_capita_vnd"),
        (6, "income_per_capita_vnd"),
        (7, "standard"),
        (9, "deprivations"),
        (10, "income_per_capita_vnd"),
        (11, "income_per_capita_vnd"),
    ];
    for (line, field) in expected {
        let prefix = format!("line {line}: field {field}");
        assert!(
            err.lines().any(|l| l.starts_with(&prefix)),
            "stderr lacks {prefix:?}:\n{err}"
        );
    }
    assert!(err.lines().any(|l| l.starts_with("line 8:")), "{err}");
    assert_eq!(
        err.lines().count(),
        10,
        "one line per bad input line:\n{err}"
    );
}

#[test]
fn blank_lines_are_skipped_and_empty_input_is_fine() {
    let out = classify(&[], "\n\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn standards_are_also_read_from_a_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The shipped provincial example, made a real file with its own id (test values only).
    let example = include_str!("../events/standards/example-provincial-tay-ninh.json")
        .replace("\"example\": true", "\"example\": false")
        .replace("example-provincial-tay-ninh", "tay-ninh-test");
    std::fs::write(dir.path().join("tay-ninh-test.json"), example).expect("file written");
    let dir_arg = dir.path().to_str().expect("utf-8 path");
    let input = [
        survey(
            "tay-ninh-test",
            "rural",
            1_800_000,
            &["housing_area", "hygienic_latrine", "employment"],
        ),
        survey("vn-2022-2025", "rural", 1_800_000, &[]),
    ]
    .join("\n");
    let out = classify(&["--standards-dir", dir_arg], &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = lines(&out);
    assert_eq!(got[0]["category"], "poor");
    assert_eq!(got[0]["deprivation_score"], 30);
    assert_eq!(got[1]["category"], "middle_income");
}

/// `ansinh classify < surveys | head -n 0`: the reader of its output gone, it still reads its
/// input to the end and leaves as it would have (exit 0 here), with nothing said of the pipe.
#[test]
fn a_reader_that_went_away_ends_the_output_quietly() {
    let mut child = start(&[]);
    drop(child.stdout.take());
    let line = survey("vn-2022-2025", "rural", 1_000_000, &[]);
    // More than a pipe's buffer, so the output is written while no one reads it.
    let out = finish(child, &format!("{line}\n").repeat(5_000));
    let said = stderr(&out);
    assert!(out.status.success(), "{:?}: {said}", out.status);
    assert!(said.is_empty(), "{said}");
}
