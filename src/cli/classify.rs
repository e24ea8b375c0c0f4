//! `ansinh classify`: surveys as JSON lines on stdin, one classification per line on stdout.
//!
//! In: `{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":1450000,
//! "deprivations":["health_insurance","housing_area","hygienic_latrine"]}` (`standard` may be
//! left out when `--standard` gives a default; a line's own `standard` wins).
//!
//! Out: `{"standard","category","deprivation_count"[,"deprivation_score"],"income_line_vnd",
//! "explanation","line"[,"id"]}` — `deprivation_score` for point-based standards
//! (vn-2016-2020), `line` the input line number, `id` echoed when the input line has one (so
//! results can be matched to inputs when bad lines are skipped).
//!
//! A bad line (not a JSON object, an unknown standard or indicator, a missing field, a negative
//! or non-integer income, …) prints nothing on stdout; stderr gets `line N: field F: why`, and
//! the remaining lines are still classified. Blank lines are skipped. `run` returns whether
//! every line was good; the caller exits 2 when one was not.

use std::io::{BufRead, BufWriter, Write};

use ansinh_events::standards::{Classification, Standards};
use ansinh_events::{Area, Vnd};
use serde::Serialize;
use serde_json::{Map, Value};

/// Classifies every line of `reader` under `standards`, writing results to `writer` and one
/// sentence per bad line to `errors`. Returns `Ok(true)` when every line was good.
pub fn run(
    mut reader: impl BufRead,
    writer: impl Write,
    mut errors: impl Write,
    default_standard: Option<&str>,
    standards: &Standards,
) -> Result<bool, std::io::Error> {
    let mut out = BufWriter::new(writer);
    let mut all_ok = true;
    let mut buf = Vec::new();
    let mut number: u64 = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        number += 1;
        let result = match std::str::from_utf8(&buf) {
            Ok(text) => {
                let text = text.trim_start_matches('\u{feff}').trim();
                if text.is_empty() {
                    continue;
                }
                classify_line(text, default_standard, standards)
            }
            Err(_) => Err(LineError::whole("the line is not valid UTF-8")),
        };
        match result {
            Ok((classification, id)) => {
                serde_json::to_writer(&mut out, &Output::new(&classification, number, id))?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                all_ok = false;
                match e.field {
                    Some(field) => writeln!(errors, "line {number}: field {field}: {}", e.message)?,
                    None => writeln!(errors, "line {number}: {}", e.message)?,
                }
            }
        }
    }
    out.flush()?;
    errors.flush()?;
    Ok(all_ok)
}

#[derive(Serialize)]
struct Output<'a> {
    standard: &'a str,
    category: &'static str,
    deprivation_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    deprivation_score: Option<u32>,
    income_line_vnd: i64,
    explanation: String,
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Value>,
}

impl<'a> Output<'a> {
    fn new(c: &'a Classification, line: u64, id: Option<Value>) -> Self {
        Output {
            standard: &c.standard,
            category: c.category.as_str(),
            deprivation_count: c.deprivation_count,
            deprivation_score: c.deprivation_score,
            income_line_vnd: c.income_line_vnd.get(),
            explanation: c.explain(),
            line,
            id,
        }
    }
}

/// What is wrong with one line: the field (when one is to blame) and why.
struct LineError {
    field: Option<&'static str>,
    message: String,
}

impl LineError {
    fn whole(message: impl Into<String>) -> Self {
        LineError {
            field: None,
            message: message.into(),
        }
    }

    fn field(field: &'static str, message: impl Into<String>) -> Self {
        LineError {
            field: Some(field),
            message: message.into(),
        }
    }
}

fn required<'v>(obj: &'v Map<String, Value>, field: &'static str) -> Result<&'v Value, LineError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(LineError::field(field, "is missing")),
        Some(v) => Ok(v),
    }
}

fn classify_line(
    text: &str,
    default_standard: Option<&str>,
    standards: &Standards,
) -> Result<(Classification, Option<Value>), LineError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| LineError::whole(format!("the line is not valid JSON ({e})")))?;
    let Value::Object(obj) = value else {
        return Err(LineError::whole("the line must be a JSON object"));
    };

    let standard_id = match obj.get("standard") {
        None | Some(Value::Null) => default_standard.ok_or_else(|| {
            LineError::field("standard", "is missing and no --standard was given")
        })?,
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(LineError::field("standard", "must be a string")),
    };
    let standard = standards.get(standard_id).ok_or_else(|| {
        let known: Vec<&str> = standards.ids().collect();
        LineError::field(
            "standard",
            format!(
                "unknown standard {standard_id:?} (known: {})",
                known.join(", ")
            ),
        )
    })?;

    let area = match required(&obj, "area")? {
        Value::String(s) => Area::parse(s),
        _ => None,
    }
    .ok_or_else(|| LineError::field("area", "must be \"rural\" or \"urban\""))?;

    let income = match required(&obj, "income_per_capita_vnd")? {
        Value::Number(n) => match (n.as_i64(), n.is_u64()) {
            (Some(v), _) if v < 0 => {
                return Err(LineError::field(
                    "income_per_capita_vnd",
                    format!("must be at least 0, got {v}"),
                ))
            }
            (Some(v), _) => {
                Vnd::new(v).map_err(|e| LineError::field("income_per_capita_vnd", e.to_string()))?
            }
            (None, true) => return Err(LineError::field("income_per_capita_vnd", "is too large")),
            (None, false) => {
                let f = n.as_f64().unwrap_or(0.0);
                let message = if f < 0.0 {
                    format!("must be at least 0, got {n}")
                } else if f.fract() == 0.0 && f >= 9.2e18 {
                    "is too large".to_owned()
                } else {
                    format!("must be a whole number of VND (no decimal point or exponent), got {n}")
                };
                return Err(LineError::field("income_per_capita_vnd", message));
            }
        },
        _ => {
            return Err(LineError::field(
                "income_per_capita_vnd",
                "must be a whole number of VND",
            ))
        }
    };

    let deprivations = match required(&obj, "deprivations")? {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str())
            .collect::<Option<Vec<&str>>>()
            .ok_or_else(|| LineError::field("deprivations", "must be a list of indicator names"))?,
        _ => {
            return Err(LineError::field(
                "deprivations",
                "must be a list of indicator names",
            ))
        }
    };
    // Optional, but a standard whose lines change by date refuses a line without it.
    let survey_date = match obj.get("survey_date") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(
            |_| {
                LineError::field(
                    "survey_date",
                    format!("must be a date YYYY-MM-DD, got {s:?}"),
                )
            },
        )?),
        Some(_) => return Err(LineError::field("survey_date", "must be a date YYYY-MM-DD")),
    };
    let classification = match survey_date {
        Some(date) => standard.classify_on(date, area, income, &deprivations),
        None => standard.classify(area, income, &deprivations),
    }
    .map_err(|e| LineError::field(e.field(), e.to_string()))?;
    Ok((classification, obj.get("id").cloned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn classify(input: &str, default: Option<&str>) -> (bool, String, String) {
        let standards = Standards::builtin().unwrap();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let ok = run(input.as_bytes(), &mut out, &mut err, default, &standards).unwrap();
        (
            ok,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn the_contract_example() {
        let (ok, out, err) = classify(
            r#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":1450000,"deprivations":["health_insurance","housing_area","hygienic_latrine"]}"#,
            None,
        );
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["standard"], "vn-2022-2025");
        assert_eq!(v["category"], "poor");
        assert_eq!(v["deprivation_count"], 3);
        assert_eq!(v["income_line_vnd"], 1_500_000);
        assert!(v.get("deprivation_score").is_none());
        assert!(v["explanation"].as_str().unwrap().contains("1,500,000"));
    }

    #[test]
    fn bad_lines_are_named_and_the_rest_classified() {
        let input = "{\"area\":\"urban\",\"income_per_capita_vnd\":900000,\"deprivations\":[]}\n\
                     \n\
                     {\"area\":\"urban\",\"income_per_capita_vnd\":-1,\"deprivations\":[]}\n\
                     not json\n\
                     {\"area\":\"urban\",\"income_per_capita_vnd\":900001,\"deprivations\":[],\"id\":\"hh-7\"}\r\n";
        let (ok, out, err) = classify(input, Some("vn-2016-2020"));
        assert!(!ok);
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["category"], "poor");
        assert_eq!(lines[0]["deprivation_score"], 0);
        assert_eq!(lines[1]["category"], "near_poor");
        assert_eq!(
            (lines[1]["line"].as_u64(), lines[1]["id"].as_str()),
            (Some(5), Some("hh-7"))
        );
        let errs: Vec<&str> = err.lines().collect();
        assert_eq!(errs.len(), 2, "{err}");
        assert!(
            errs[0].starts_with("line 3: field income_per_capita_vnd:"),
            "{err}"
        );
        assert!(
            errs[1].starts_with("line 4: the line is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn dated_lines_need_the_survey_date_and_use_the_lines_of_that_day() {
        let line = |date: &str| {
            format!(
                r#"{{"standard":"vn-2026-2030","area":"rural","income_per_capita_vnd":2000000,"deprivations":["employment","nutrition","hygienic_latrine"]{date}}}"#
            )
        };
        let (ok, out, err) = classify(&line(r#","survey_date":"2026-12-31""#), None);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            (v["category"].as_str(), v["income_line_vnd"].as_i64()),
            (Some("not_poor"), Some(1_500_000))
        );
        let (ok, out, err) = classify(&line(r#","survey_date":"2027-01-01""#), None);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(
            (v["category"].as_str(), v["income_line_vnd"].as_i64()),
            (Some("poor"), Some(2_200_000))
        );
        let (ok, out, err) = classify(&line(""), None);
        assert!(!ok && out.is_empty());
        assert!(err.starts_with("line 1: field survey_date:"), "{err}");
        let (ok, _, err) = classify(&line(r#","survey_date":"2027-13-01""#), None);
        assert!(!ok);
        assert!(err.starts_with("line 1: field survey_date:"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_a_bad_line() {
        let standards = Standards::builtin().unwrap();
        let mut input = b"\xff\xfe\n".to_vec();
        input.extend_from_slice(
            br#"{"standard":"vn-2022-2025","area":"rural","income_per_capita_vnd":1,"deprivations":[]}"#,
        );
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let ok = run(&input[..], &mut out, &mut err, None, &standards).unwrap();
        assert!(!ok);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
        assert!(String::from_utf8(err)
            .unwrap()
            .starts_with("line 1: the line is not valid UTF-8"));
    }
}
