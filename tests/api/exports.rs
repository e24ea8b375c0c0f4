//! The movement report's CSV and XLSX exports, over HTTP and from `ansinh report movements`,
//! carry the numbers of the API's JSON, cell by cell: a story with poor, near-poor, exits and a
//! relapse across two communes of district 703.

use std::io::Cursor;

use ansinh::export::movements::{json_fields, layout};
use ansinh::users::Role;
use calamine::{open_workbook_from_rs, Data, Range, Reader, Xlsx};
use serde_json::{json, Value};

use crate::common;
use crate::helpers::{survey, TestApp};

const PERIOD: &str = "from=2024-01-01&to=2024-12-31&standard=vn-2022-2025";
const COMMUNE_A: &str = "25459";
const COMMUNE_B: &str = "25462";

fn decide(category: &str, date: &str) -> Value {
    json!({
        "standard": "vn-2022-2025",
        "category": category,
        "decision_no": format!("{}/QĐ-UBND", &date[5..7]),
        "decided_on": date,
        "reason": "as the commune council agreed"
    })
}

/// A household of `unit` through these (survey date, income, deprivations, decision).
async fn household(app: &TestApp, token: &str, unit: &str, steps: &[(&str, i64, usize, &str)]) {
    let id = app.register(token, unit).await;
    for (date, income, deprived, category) in steps {
        let r = app
            .post(
                &format!("/api/v1/households/{id}/surveys"),
                token,
                &survey(date, *income, *deprived),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let decided = format!("{}-12-10", &date[..4]);
        let r = app
            .post(
                &format!("/api/v1/households/{id}/decisions"),
                token,
                &decide(category, &decided),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

/// Two communes of 703 in 2024: in A a relapse, a newly near-poor and an exit to near-poor;
/// in B a newly poor and an exit above near-poor. Returns a district officer's token.
async fn story(app: &TestApp) -> String {
    let a = app.token(Role::CommuneOfficer, COMMUNE_A).await;
    let b = app.token(Role::CommuneOfficer, COMMUNE_B).await;
    let (poor, near, not_poor) = ((1_200_000, 3), (1_200_000, 1), (2_500_000, 1));
    let step =
        |date, (income, deprived): (i64, usize), category| (date, income, deprived, category);
    household(
        app,
        &a,
        COMMUNE_A,
        &[
            step("2022-10-05", poor, "poor"),
            step("2023-10-05", not_poor, "not_poor"),
            step("2024-10-05", poor, "poor"),
        ],
    )
    .await;
    household(app, &a, COMMUNE_A, &[step("2024-10-05", near, "near_poor")]).await;
    household(
        app,
        &a,
        COMMUNE_A,
        &[
            step("2023-10-05", poor, "poor"),
            step("2024-10-05", near, "near_poor"),
        ],
    )
    .await;
    household(app, &b, COMMUNE_B, &[step("2024-10-05", poor, "poor")]).await;
    household(
        app,
        &b,
        COMMUNE_B,
        &[
            step("2023-10-05", poor, "poor"),
            step("2024-10-05", not_poor, "not_poor"),
        ],
    )
    .await;
    app.token(Role::DistrictOfficer, "703").await
}

/// The JSON report of `unit`, once the runner has projected the whole story.
async fn json_report(app: &TestApp, token: &str, unit: &str) -> Value {
    app.projected().await;
    let r = app
        .get(
            &format!("/api/v1/reports/movements?unit={unit}&{PERIOD}"),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type(), "application/json");
    r.body
}

/// The numbers of a JSON report (or one of its breakdowns) in the exports' column order.
fn json_numbers(tables: &Value) -> Vec<i64> {
    json_fields()
        .iter()
        .map(|f| {
            let (table, field) = f.split_once('.').expect("dotted");
            tables[table][field]
                .as_i64()
                .unwrap_or_else(|| panic!("{f} in {tables}"))
        })
        .collect()
}

/// The report's expected JSON of each unit: 703 and its communes, by code.
async fn expected(app: &TestApp, token: &str) -> Vec<(String, Value)> {
    let mut units = vec![("703".to_owned(), json_report(app, token, "703").await)];
    let communes: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT code FROM admin_units WHERE parent_code = '703'
            AND valid_from <= '2024-12-31' AND (valid_to IS NULL OR valid_to >= '2024-01-01')
          ORDER BY code",
    )
    .fetch_all(&app.pool)
    .await
    .expect("communes");
    assert!(communes.len() >= 2);
    for code in communes {
        let report = json_report(app, token, &code).await;
        units.push((code, report));
    }
    units
}

fn assert_story_numbers(total: &Value) {
    let poor = &total["poor"];
    assert_eq!(
        (
            poor["opening"].as_i64(),
            poor["fell_back"].as_i64(),
            poor["newly_poor"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{total}"
    );
    assert_eq!(poor["exited_to_near_poor"], 1, "{total}");
    assert_eq!(poor["exited_above_near_poor"], 1, "{total}");
    let near = &total["near_poor"];
    assert_eq!(near["newly_near_poor"], 1, "{total}");
    assert_eq!(near["from_poor"], 1, "{total}");
    assert_eq!(near["closing"], 2, "{total}");
}

fn sheet(bytes: &[u8]) -> (Range<Data>, Vec<calamine::Dimensions>) {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an XLSX");
    let merged = book.merge_cells_by_sheet_id(0).expect("merged regions");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    (range, merged)
}

fn text_at(range: &Range<Data>, row: u32, col: u32) -> String {
    match range.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        other => panic!("({row}, {col}) is not text: {other:?}"),
    }
}

/// The numbers of a sheet row, each a real number cell.
fn numbers_at(range: &Range<Data>, row: u32) -> Vec<i64> {
    (0..json_fields().len() as u32)
        .map(|j| {
            let col = u32::from(layout::FIRST_NUMBER_COL) + j;
            match range.get_value((row, col)) {
                Some(Data::Float(f)) => *f as i64,
                Some(Data::Int(n)) => *n,
                other => panic!("({row}, {col}) is not a number: {other:?}"),
            }
        })
        .collect()
}

/// Every row of the official form against the JSON of its unit, cell by cell.
fn check_xlsx(bytes: &[u8], units: &[(String, Value)]) {
    let (range, merged) = sheet(bytes);
    assert!(text_at(&range, 0, 0).contains("BIẾN ĐỘNG HỘ NGHÈO"));
    assert!(text_at(&range, 2, 0).contains("01/01/2024"), "the period");
    assert!(text_at(&range, 2, 0).contains("31/12/2024"), "the period");
    assert!(
        text_at(&range, 3, 0).contains("vn-2022-2025"),
        "the standard"
    );
    let top = layout::HEADER_ROW;
    let first = u32::from(layout::FIRST_NUMBER_COL);
    assert_eq!(text_at(&range, top, first), "Hộ nghèo");
    assert_eq!(text_at(&range, top, first + 11), "Hộ cận nghèo");
    assert_eq!(text_at(&range, top + 1, first + 1), "Tăng trong kỳ");
    assert_eq!(text_at(&range, top + 2, first + 2), "Tái nghèo");
    let spans = |r: u32, c: u32, r2: u32, c2: u32| {
        merged
            .iter()
            .any(|d| d.start == (r, c) && d.end == (r2, c2))
    };
    assert!(
        spans(top, first, top, first + 10),
        "Hộ nghèo over its 11 columns: {merged:?}"
    );
    assert!(
        spans(top, first + 11, top, first + 21),
        "Hộ cận nghèo: {merged:?}"
    );
    assert!(
        spans(top + 1, first + 1, top + 1, first + 5),
        "tăng: {merged:?}"
    );
    assert!(
        spans(top + 1, first, top + 2, first),
        "đầu kỳ spans two rows: {merged:?}"
    );

    let children = &units[1..];
    for (i, (code, report)) in children.iter().enumerate() {
        let row = layout::FIRST_DATA_ROW + i as u32;
        assert_eq!(text_at(&range, row, 1), *code);
        assert_eq!(numbers_at(&range, row), json_numbers(report), "unit {code}");
    }
    let total_row = layout::FIRST_DATA_ROW + children.len() as u32;
    let (code, total) = &units[0];
    assert_eq!(text_at(&range, total_row, 1), *code);
    assert!(text_at(&range, total_row, 2).starts_with("Tổng cộng"));
    assert_eq!(numbers_at(&range, total_row), json_numbers(total));
    for (k, breakdown) in ["ethnic_minority", "no_working_capacity", "merit_family"]
        .iter()
        .enumerate()
    {
        let row = total_row + 1 + k as u32;
        assert_eq!(
            numbers_at(&range, row),
            json_numbers(&total["breakdowns"][breakdown]),
            "{breakdown}"
        );
    }
}

/// Every CSV line against the JSON of its unit.
fn check_csv(bytes: &[u8], units: &[(String, Value)]) {
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .expect("a UTF-8 byte order mark");
    let mut reader = csv::Reader::from_reader(bytes);
    assert_eq!(&reader.headers().expect("headers")[0], "Mã đơn vị");
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("csv");
    let numbers = |r: &csv::StringRecord| -> Vec<i64> {
        r.iter()
            .skip(3)
            .map(|f| f.parse().expect("an integer"))
            .collect()
    };
    let children = &units[1..];
    assert_eq!(records.len(), children.len() + 1 + 3);
    for (record, (code, report)) in records.iter().zip(children) {
        assert_eq!(&record[0], code);
        assert_eq!(numbers(record), json_numbers(report), "unit {code}");
    }
    let total = &records[children.len()];
    assert_eq!(&total[0], "703");
    assert_eq!(&total[2], "tổng cộng");
    assert_eq!(numbers(total), json_numbers(&units[0].1));
    let ethnic = &records[children.len() + 1];
    assert_eq!(
        numbers(ethnic),
        json_numbers(&units[0].1["breakdowns"]["ethnic_minority"])
    );
}

async fn download(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/reports/movements?{query}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn the_movement_report_downloads_as_csv_and_xlsx_with_the_json_numbers() {
    let app = crate::helpers::spawn_app().await;
    let district = story(&app).await;
    let units = expected(&app, &district).await;
    assert_story_numbers(&units[0].1);
    let a = units
        .iter()
        .find(|(c, _)| c == COMMUNE_A)
        .expect("commune A");
    assert_eq!(a.1["poor"]["fell_back"], 1);
    assert_eq!(a.1["near_poor"]["closing"], 2);

    let xlsx = download(&app, &district, &format!("unit=703&{PERIOD}&format=xlsx")).await;
    assert_eq!(xlsx.status(), 200);
    let headers = xlsx.headers().clone();
    // A download names the log position its numbers are current to, as the JSON does.
    assert_eq!(
        headers["current-to-position"].to_str().ok(),
        Some(units[0].1["current_to_position"].to_string().as_str())
    );
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(
        disposition.starts_with(
            "attachment; filename=\"Bao-cao-bien-dong-703-2024-01-01-2024-12-31.xlsx\""
        ),
        "{disposition}"
    );
    assert!(
        disposition.contains(
            "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20bi%E1%BA%BFn%20%C4%91%E1%BB%99ng%20703"
        ),
        "{disposition}"
    );
    let bytes = xlsx.bytes().await.expect("body");
    assert_eq!(
        headers["content-length"].to_str().ok(),
        Some(bytes.len().to_string().as_str())
    );
    check_xlsx(&bytes, &units);

    let csv = download(&app, &district, &format!("unit=703&{PERIOD}&format=csv")).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    check_csv(&csv.bytes().await.expect("body"), &units);

    // One level up, the district is a row of the province's form, with its own numbers.
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let csv = download(&app, &province, &format!("unit=72&{PERIOD}&format=csv")).await;
    assert_eq!(csv.status(), 200);
    let bytes = csv.bytes().await.expect("body");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("csv");
    let line = |code: &str, kind: &str| -> Vec<i64> {
        let record = records
            .iter()
            .find(|r| &r[0] == code && &r[2] == kind)
            .unwrap_or_else(|| panic!("no {kind} line of {code}"));
        record
            .iter()
            .skip(3)
            .map(|f| f.parse().expect("an integer"))
            .collect()
    };
    assert_eq!(line("703", "đơn vị trực thuộc"), json_numbers(&units[0].1));
    let whole = json_report(&app, &province, "72").await;
    assert_eq!(line("72", "tổng cộng"), json_numbers(&whole));
    assert!(
        records
            .iter()
            .filter(|r| &r[2] == "đơn vị trực thuộc")
            .count()
            >= 9
    );

    // English headers on request; the JSON stays the JSON.
    let en = download(
        &app,
        &district,
        &format!("unit=703&{PERIOD}&format=csv&lang=en"),
    )
    .await;
    let text = String::from_utf8(en.bytes().await.expect("body").to_vec()).expect("utf-8");
    assert!(
        text.starts_with("\u{feff}Unit code,Unit name,Row,Poor households – Opening,"),
        "{text}"
    );
    let json = download(&app, &district, &format!("unit=703&{PERIOD}&format=json")).await;
    let json: Value = json.json().await.expect("json");
    assert_eq!(json, units[0].1);

    // Mistakes are problems naming the parameter, not downloads.
    for (query, field) in [
        (format!("unit=703&{PERIOD}&format=pdf"), "format"),
        (format!("unit=703&{PERIOD}&format=xlsx&lang=fr"), "lang"),
        (
            "unit=703&from=2024-12-31&to=2024-01-01&format=xlsx".to_owned(),
            "to",
        ),
        (
            "unit=703&from=2024-01-01&to=2024-12-31&standard=vn-1999&format=csv".to_owned(),
            "standard",
        ),
    ] {
        let r = app
            .get(&format!("/api/v1/reports/movements?{query}"), &district)
            .await;
        assert_eq!(r.problem(400)["field"], field, "{query}: {}", r.text);
    }
    // Scope applies to downloads as to JSON.
    let other = app.token(Role::CommuneOfficer, COMMUNE_B).await;
    let r = app
        .get(
            &format!("/api/v1/reports/movements?unit=703&{PERIOD}&format=xlsx"),
            &other,
        )
        .await;
    r.problem(403);
}

#[tokio::test]
async fn ansinh_report_movements_writes_the_same_numbers_as_json_csv_and_xlsx() {
    let app = crate::helpers::spawn_app().await;
    let district = story(&app).await;
    let units = expected(&app, &district).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "report",
        "movements",
        "--unit",
        "703",
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
    ];

    let out = common::ansinh_async(app.db_url(), &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json, units[0].1);

    let csv_path = dir.path().join("bao-cao.csv");
    let csv_arg = csv_path.to_str().expect("utf-8 path");
    let out = common::ansinh_async(app.db_url(), &[&args[..], &["--out", csv_arg]].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    assert!(out.stdout.is_empty());
    check_csv(&std::fs::read(&csv_path).expect("the CSV"), &units);

    let xlsx_path = dir.path().join("bao-cao");
    let xlsx_arg = xlsx_path.to_str().expect("utf-8 path");
    let out = common::ansinh_async(
        app.db_url(),
        &[&args[..], &["--format", "xlsx", "--out", xlsx_arg]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    check_xlsx(&std::fs::read(&xlsx_path).expect("the XLSX"), &units);

    // Mistakes: exit 2, one clear sentence naming the argument, nothing on stdout.
    for (mistake, says) in [
        (vec!["--from", "2024-02-30"], "--from"),
        (
            vec!["--unit", "99999"],
            "--unit: no administrative unit has code 99999",
        ),
        (
            vec!["--to", "2023-01-01"],
            "--to: 2023-01-01 is before from 2024-01-01",
        ),
        (
            vec!["--standard", "vn-1999"],
            "--standard: unknown standard",
        ),
        (vec!["--format", "pdf"], "--format"),
    ] {
        let mut call: Vec<&str> = args.to_vec();
        for pair in mistake.chunks(2) {
            match call.iter().position(|a| *a == pair[0]) {
                Some(i) => call[i + 1] = pair[1],
                None => call.extend_from_slice(pair),
            }
        }
        let out = common::ansinh_async(app.db_url(), &call).await;
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{call:?}: {stderr}");
        assert!(stderr.contains(says), "{call:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{call:?}");
    }
}

/// On a terminal, `--format xlsx` without `--out` refuses to print a binary file (run under
/// `script`, which gives the command a terminal; skipped where util-linux's `script` is missing).
#[tokio::test]
async fn xlsx_is_not_written_to_a_terminal() {
    let has_script = tokio::process::Command::new("script")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: no `script` to give the command a terminal");
        return;
    }
    let db = common::migrated_db().await;
    let command = format!(
        "{} report movements --unit 703 --from 2024-01-01 --to 2024-12-31 --format xlsx",
        env!("CARGO_BIN_EXE_ansinh")
    );
    let out = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run script");
    let said = common::text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("--format xlsx writes a binary file: give --out"),
        "{said}"
    );
    assert!(!said.contains("PK"), "{said}");
}

/// The OpenAPI document tells clients about `format`, `lang` and the three answers.
#[tokio::test]
async fn the_openapi_document_describes_the_download_formats() {
    let app = crate::helpers::spawn_app().await;
    let doc = app.openapi().await;
    let op = &doc["paths"]["/api/v1/reports/movements"]["get"];
    let param = |name: &str| -> Value {
        op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {op}"))["schema"]
            .clone()
    };
    assert_eq!(
        param("format")["enum"],
        json!(["json", "csv", "xlsx"]),
        "{op}"
    );
    assert_eq!(param("lang")["enum"], json!(["vi", "en"]), "{op}");
    let content = &op["responses"]["200"]["content"];
    assert!(content["application/json"]["schema"]["$ref"]
        .as_str()
        .is_some_and(|r| r.ends_with("/ProjectedReport")));
    assert!(
        op["responses"]["200"]["headers"]["current-to-position"].is_object(),
        "{op}"
    );
    for media in [
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ] {
        assert_eq!(
            content[media]["schema"],
            json!({"type": "string", "format": "binary"}),
            "{media} in {content}"
        );
    }
}
