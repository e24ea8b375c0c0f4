//! The registers, report, start, auditors' and admins' pages over HTTP with a signed-in session
//! cookie, against the API's own answers; and the API endpoints they added (disbursement sums,
//! worklist, anchor, user and unit lists).

use ansinh::users::Role;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{self, decision, spawn_app, support, survey, TestApp};

const PASSWORD: &str = "mật khẩu trang 2026";
const ID_NUMBER: &str = "072178000123";

/// A user who can sign in; returns the session cookie (`name=value`) and the bearer token.
async fn signed_in(app: &TestApp, name: &str, role: Role, unit: &str) -> (String, String) {
    helpers::signed_in(app, name, role, unit, PASSWORD).await
}

fn client() -> reqwest::Client {
    helpers::page_client()
}

/// A page as the cookie's user: status and HTML.
async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let r = client()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("send");
    let status = r.status();
    if status.is_success() {
        assert_eq!(
            r.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
    }
    // minijinja escapes `/` in what it prints as `&#x2f;`; the tests read text as shown.
    let html = r.text().await.expect("html").replace("&#x2f;", "/");
    (status, html)
}

/// A form posted from this site's own page.
async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .header(ORIGIN, &app.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
        )
        .send()
        .await
        .expect("send")
}

async fn created(app: &TestApp, path: &str, token: &str, body: &Value) -> Value {
    let r = app.post(path, token, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

/// The story of tests/api/story.rs in short: poor in 2022, supported (30 M, corrected to 25 M,
/// and 2 M voided), exited in 2023, supported in 2024 (1 M), poor again in December 2024.
async fn relapsed_household(app: &TestApp, officer: &str) -> Uuid {
    let id = app.register(officer, "25459").await;
    let base = format!("/api/v1/households/{id}");
    let surveys = format!("{base}/surveys");
    let decisions = format!("{base}/decisions");
    let supports = format!("{base}/supports");
    created(app, &surveys, officer, &survey("2022-10-05", 1_200_000, 3)).await;
    created(app, &decisions, officer, &decision("poor", "2022-12-10")).await;
    let credit = created(app, &supports, officer, &support(30_000_000, "2023-03-01")).await;
    let mut water = support(2_000_000, "2023-04-15");
    water["policy"] = json!("clean_water");
    let water = created(app, &supports, officer, &water).await;
    created(app, &surveys, officer, &survey("2023-10-05", 2_500_000, 1)).await;
    created(
        app,
        &decisions,
        officer,
        &decision("not_poor", "2023-12-10"),
    )
    .await;
    created(app, &supports, officer, &support(1_000_000, "2024-03-01")).await;
    created(app, &surveys, officer, &survey("2024-10-05", 1_100_000, 4)).await;
    created(app, &decisions, officer, &decision("poor", "2024-12-10")).await;
    let corrections = format!("{base}/corrections");
    created(
        app,
        &corrections,
        officer,
        &json!({"corrects_sequence": credit["sequence"], "reason": "nhập nhầm số tiền",
                "replacement": support(25_000_000, "2023-03-01")}),
    )
    .await;
    created(
        app,
        &corrections,
        officer,
        &json!({"corrects_sequence": water["sequence"], "reason": "ghi trùng", "replacement": null}),
    )
    .await;
    id
}

/// The text of the element with this id (`<dd id="x">text</dd>`).
fn text_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
        + id.len()
        + 6;
    let end = html[start..].find('<').expect("closing tag") + start;
    &html[start..end]
}

#[tokio::test]
async fn a_supervisors_re_poverty_page_lists_the_case_in_both_languages() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = relapsed_household(&app, &officer).await;
    let (cookie, _) = signed_in(&app, "giam.sat.huyen", Role::DistrictOfficer, "703").await;

    let (status, html) = page(
        &app,
        "/re-poverty?unit=25459&standard=vn-2022-2025",
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(&format!("href=\"/households/{id}\"")),
        "{html}"
    );
    assert!(html.contains("Nguyễn Thị Lan"));
    assert!(html.contains("Sổ theo dõi hộ tái nghèo"));
    assert!(
        html.contains("10/12/2024"),
        "the relapse day, read day first"
    );
    // One support of 1.000.000 đ between the exit and the relapse.
    assert!(html.contains("1.000.000 đ"), "{html}");
    let (_, english) = page(&app, "/re-poverty?unit=25459&lang=en", &cookie).await;
    assert!(english.contains("Re-poverty register"));
    assert!(english.contains("<html lang=\"en\">"));
    // A period without the relapse lists nothing.
    let (_, none) = page(&app, "/re-poverty?unit=25459&from=2025-01-01", &cookie).await;
    assert!(!none.contains(&format!("/households/{id}")));
    // A bad filter is the API's 400, as a page.
    let (status, _) = page(&app, "/re-poverty?from=2025-01-01&to=2024-01-01", &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_disbursement_pages_totals_and_sums_equal_the_apis() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    relapsed_household(&app, &officer).await;
    let (cookie, monitor) = signed_in(&app, "mat.tran", Role::Monitor, "703").await;

    let api = app.get("/api/v1/disbursements?unit=25459", &monitor).await;
    assert_eq!(api.status, 200, "{}", api.text);
    // 25 M (corrected from 30 M) and 1 M count; the voided 2 M does not.
    assert_eq!(
        api.body["totals"],
        json!({"count": 2, "amount_vnd": 26_000_000})
    );
    let sums = app
        .get("/api/v1/disbursements/summary?unit=25459", &monitor)
        .await;
    assert_eq!(sums.status, 200, "{}", sums.text);
    assert_eq!(sums.body["totals"], api.body["totals"]);
    assert_eq!(sums.body["voided"], 1);
    assert_eq!(
        sums.body["by_month"],
        json!([{"key": "2023-03", "count": 1, "amount_vnd": 25_000_000},
               {"key": "2024-03", "count": 1, "amount_vnd": 1_000_000}])
    );
    assert_eq!(
        sums.body["by_policy"],
        json!([{"key": "preferential_credit", "count": 2, "amount_vnd": 26_000_000}])
    );
    assert_eq!(
        sums.body["by_fund"],
        json!([{"key": "central_budget", "count": 2, "amount_vnd": 26_000_000}])
    );

    let (status, html) = page(&app, "/disbursements?unit=25459", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(text_of(&html, "total-count"), "2");
    assert_eq!(text_of(&html, "total-amount"), "26.000.000 đ");
    // The corrected and the voided entries are there with their reasons.
    assert!(html.contains("nhập nhầm số tiền"), "{html}");
    assert!(html.contains("ghi trùng"));
    assert!(html.contains("class=\"voided\""));
    assert!(
        html.contains("<del"),
        "the amount first recorded is shown struck out"
    );
    // Charts with a text alternative, and the same numbers in tables.
    assert!(html.contains(
        "<svg role=\"img\" aria-labelledby=\"chart-by-month-title chart-by-month-desc\""
    ));
    assert!(
        html.contains("<title id=\"chart-by-policy-title\">Số tiền hỗ trợ theo chính sách</title>")
    );
    assert!(html.contains("<th scope=\"row\">2023-03</th><td class=\"num\">1</td><td class=\"num\">25.000.000</td>"), "{html}");
    let (_, english) = page(&app, "/disbursements?unit=25459&lang=en", &cookie).await;
    assert!(english.contains("Amounts by policy"));
    assert!(english.contains("Preferential credit"));
    // A filter narrows the page and its sums alike.
    let (_, march) = page(&app, "/disbursements?unit=25459&from=2024-01-01", &cookie).await;
    assert_eq!(text_of(&march, "total-amount"), "1.000.000 đ");
    let (status, _) = page(&app, "/disbursements?policy=free_money", &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_monitors_pages_show_no_id_number_and_write_the_access_log() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    relapsed_household(&app, &officer).await;
    app.projected().await;
    let (cookie, _) = signed_in(&app, "mat.tran.xa", Role::Monitor, "703").await;
    for path in [
        "/",
        "/re-poverty?unit=25459",
        "/disbursements?unit=25459",
        "/reports/movements?unit=703&from=2024-01-01&to=2024-12-31",
    ] {
        let (status, html) = page(&app, path, &cookie).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(!html.contains(ID_NUMBER), "{path} shows an ID number");
        assert!(!html.contains("072205000456"), "{path} shows an ID number");
    }
    app.ship_access_log().await;
    let reads: i64 = sqlx::query_scalar("SELECT count(*) FROM access_log WHERE role = 'monitor'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert!(
        reads >= 2,
        "the re-poverty and disbursement pages log their reads: {reads}"
    );
}

#[tokio::test]
async fn the_movement_report_page_shows_the_apis_tables_and_prints() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    relapsed_household(&app, &officer).await;
    app.projected().await;
    let (cookie, token) = signed_in(&app, "tinh", Role::ProvinceOfficer, "72").await;
    let query = "unit=703&from=2024-01-01&to=2024-12-31&standard=vn-2022-2025";
    let api = app
        .get(&format!("/api/v1/reports/movements?{query}"), &token)
        .await;
    assert_eq!(api.status, 200, "{}", api.text);
    assert_eq!(api.body["poor"]["fell_back"], 1);
    let (status, html) = page(&app, &format!("/reports/movements?{query}"), &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Hộ tái nghèo</th>\n    <td class=\"num\">1</td>"),
        "{html}"
    );
    assert!(
        html.contains("Số hộ nghèo cuối kỳ</th>\n    <td class=\"num\">1</td>"),
        "{html}"
    );
    assert!(html.contains("01/01/2024 – 31/12/2024"));
    assert!(html.contains("<svg role=\"img\""));
    let (_, english) = page(
        &app,
        &format!("/reports/movements?{query}&lang=en"),
        &cookie,
    )
    .await;
    assert!(english.contains("Fell back into poverty</th>"));
    // Without a period the page shows this year so far.
    let (status, _) = page(&app, "/reports/movements", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    // A commune officer may not read reports: the API's 403, as a page.
    let (commune, _) = signed_in(&app, "xa", Role::CommuneOfficer, "25459").await;
    let (status, _) = page(&app, "/reports/movements", &commune).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The printed page leaves out navigation and filters.
    let css = reqwest::get(format!("{}/static/ansinh.css", app.base))
        .await
        .expect("css")
        .text()
        .await
        .expect("text");
    let print = &css[css.find("@media print").expect("a print stylesheet")..];
    assert!(print.contains(".filters"));
}

#[tokio::test]
async fn a_non_auditor_gets_a_403_page_saying_why_on_the_access_log() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = relapsed_household(&app, &officer).await;
    let (monitor, _) = signed_in(&app, "giam.sat", Role::Monitor, "703").await;
    page(&app, "/disbursements?unit=25459", &monitor).await;
    let (status, html) = page(&app, "/access-log", &monitor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("Chỉ kiểm toán viên, thanh tra được xem nhật ký truy cập."),
        "{html}"
    );
    let (status, html) = page(&app, "/access-log?lang=en", &monitor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("Only auditors may read the access log."),
        "{html}"
    );

    let (auditor, _) = signed_in(&app, "kiem.toan", Role::Auditor, "72").await;
    let (status, html) = page(&app, "/access-log", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("giam.sat"),
        "the monitor's read is listed: {html}"
    );
    assert!(html.contains("GET /api/v1/disbursements"));
    assert!(html.contains(&format!("/households/{id}")));
}

#[tokio::test]
async fn the_start_page_shows_each_role_what_needs_attention() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    // Surveyed, not decided.
    let waiting = app.register(&officer, "25459").await;
    created(
        &app,
        &format!("/api/v1/households/{waiting}/surveys"),
        &officer,
        &survey("2024-10-05", 1_000_000, 3),
    )
    .await;
    // Decided poor against a near-poor proposal (with a reason), no support since.
    let against = app.register(&officer, "25459").await;
    created(
        &app,
        &format!("/api/v1/households/{against}/surveys"),
        &officer,
        &survey("2024-10-05", 1_000_000, 0),
    )
    .await;
    let mut decided = decision("poor", "2024-12-01");
    decided["reason"] = json!("ốm đau kéo dài");
    let d = app
        .post(
            &format!("/api/v1/households/{against}/decisions"),
            &officer,
            &decided,
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.text);

    let api = app
        .get("/api/v1/worklist?kind=undecided&unit=25459", &officer)
        .await;
    assert_eq!(api.status, 200, "{}", api.text);
    assert_eq!(api.body["total"], 1);
    assert_eq!(api.body["items"][0]["household_id"], waiting.to_string());
    assert_eq!(api.body["items"][0]["day"], "2024-10-05");
    let api = app
        .get("/api/v1/worklist?kind=awaiting_support", &officer)
        .await;
    assert_eq!(api.body["total"], 1, "{}", api.text);
    assert_eq!(api.body["items"][0]["household_id"], against.to_string());
    let api = app
        .get(
            "/api/v1/worklist?kind=differs_from_proposal&unit=703",
            &app.token(Role::DistrictOfficer, "703").await,
        )
        .await;
    assert_eq!(api.body["total"], 1, "{}", api.text);
    assert_eq!(api.body["items"][0]["reason"], "ốm đau kéo dài");
    assert_ne!(api.body["items"][0]["proposed"], "poor");
    app.get("/api/v1/worklist?kind=everything", &officer)
        .await
        .problem(400);
    app.get(
        "/api/v1/worklist?kind=undecided",
        &app.token(Role::Admin, "72").await,
    )
    .await
    .problem(403);

    let (commune, _) = signed_in(&app, "can.bo.xa", Role::CommuneOfficer, "25459").await;
    let (status, html) = page(&app, "/", &commune).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Hộ đã rà soát, chưa có quyết định"));
    assert!(html.contains(&format!("/households/{waiting}")));
    assert!(html.contains(&format!("/households/{against}")));
    let (district, _) = signed_in(&app, "huyen", Role::DistrictOfficer, "703").await;
    // The start page counts the last 12 months from today, so only its lists are checked here;
    // the API's answers above prove their content.
    let (status, html) = page(&app, "/?lang=en", &district).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Decisions that differ from the proposal"),
        "{html}"
    );
    assert!(html.contains("Re-poverty cases (last 12 months)"));
    let (monitor, _) = signed_in(&app, "mttq", Role::Monitor, "703").await;
    let (status, html) = page(&app, "/", &monitor).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Chi trả tháng"));
    let (admin, _) = signed_in(&app, "quan.tri", Role::Admin, "72").await;
    let (_, html) = page(&app, "/", &admin).await;
    assert!(html.contains("href=\"/admin/users\""));
}

#[tokio::test]
async fn the_anchor_is_what_anyone_recomputes_from_the_log() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    relapsed_household(&app, &officer).await;
    let other = app.token(Role::CommuneOfficer, "25456").await;
    app.register(&other, "25456").await;
    let auditor = app.token(Role::Auditor, "72").await;
    let r = app.get("/api/v1/anchor", &auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["intact"], true);
    assert_eq!(r.body["households"], 2);
    // The published query, its lines hashed as `psql -At … | sha256sum` would.
    let sql = r.body["recompute_sql"].as_str().expect("sql");
    let lines: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(&app.pool)
        .await
        .expect("the recompute query runs");
    let mut hash = Sha256::new();
    for line in &lines {
        hash.update(format!("{line}\n"));
    }
    assert_eq!(r.body["root"], hex::encode(hash.finalize()));
    // Asked again with the log unchanged, the kept verification answers.
    let again = app.get("/api/v1/anchor", &auditor).await;
    assert_eq!(again.body["checked_at"], r.body["checked_at"]);
    // A day before any event has an empty anchor.
    let early = app.get("/api/v1/anchor?date=2000-01-01", &auditor).await;
    assert_eq!(early.body["households"], 0);
    app.get("/api/v1/anchor?date=2999-01-01", &auditor)
        .await
        .problem(400);
    app.get("/api/v1/anchor", &app.token(Role::Monitor, "72").await)
        .await
        .problem(403);

    let (cookie, _) = signed_in(&app, "kiem.toan.vien", Role::Auditor, "72").await;
    let (status, html) = page(&app, "/verify", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r.body["root"].as_str().expect("root")));
    assert!(html.contains("sha256sum"));
    let (_, home) = page(&app, "/", &cookie).await;
    assert!(
        home.contains(r.body["root"].as_str().expect("root")),
        "{home}"
    );
}

#[tokio::test]
async fn admins_list_create_and_disable_users_and_import_units_on_their_pages() {
    let app = spawn_app().await;
    let (cookie, token) = signed_in(&app, "quan.tri.huyen", Role::Admin, "703").await;
    let (status, html) = page(&app, "/admin/users", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("quan.tri.huyen"));

    let r = post_form(
        &app,
        "/admin/users",
        &cookie,
        &[
            ("name", "Lê Văn Mới"),
            ("role", "commune_officer"),
            ("unit_code", "25459"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.expect("html");
    assert!(html.contains("Lê Văn Mới"));
    let listed = app.get("/api/v1/users?name=mới", &token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["total"], 1);
    let new_id = listed.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Outside the admin's unit: refused beside the unit field, nothing created.
    let r = post_form(
        &app,
        "/admin/users",
        &cookie,
        &[
            ("name", "Ngoài phạm vi"),
            ("role", "monitor"),
            ("unit_code", "72"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .expect("html")
        .contains("id=\"n-unit-error\""));
    assert_eq!(
        app.get("/api/v1/users?name=ngoài", &token).await.body["total"],
        0
    );

    let r = post_form(
        &app,
        &format!("/admin/users/{new_id}/disabled"),
        &cookie,
        &[("disabled", "true")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/users");
    let listed = app.get("/api/v1/users?name=mới", &token).await;
    assert_eq!(listed.body["items"][0]["disabled"], true);
    // A form from another site changes nothing.
    let forged = client()
        .post(format!("{}/admin/users/{new_id}/disabled", app.base))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("disabled=false")
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/users?name=mới", &token).await.body["items"][0]["disabled"],
        true
    );

    let (status, html) = page(&app, "/admin/units?q=25459", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<th scope=\"row\">25459</th>"), "{html}");
    let csv = "code,name,level,parent_code,valid_from,valid_to\n99901,Xã Thử Nghiệm,commune,703,2020-01-01,2025-06-30\n";
    let r = post_form(&app, "/admin/units", &cookie, &[("csv", csv)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let units = app.get("/api/v1/units?q=99901", &token).await;
    assert_eq!(
        units.body["items"][0]["name"], "Xã Thử Nghiệm",
        "{}",
        units.text
    );
    let r = post_form(
        &app,
        "/admin/units",
        &cookie,
        &[("csv", "code,name\n1,x\n")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Not an admin: a page saying who may.
    let (auditor, _) = signed_in(&app, "kt", Role::Auditor, "72").await;
    let (status, html) = page(&app, "/admin/users?lang=en", &auditor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Only administrators may manage users."));
}

/// A download of a page as the cookie's user: status, content type, bytes.
async fn download(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String, Vec<u8>) {
    let r = client()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("send");
    let status = r.status();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, r.bytes().await.expect("body").to_vec())
}

/// The CSV's records (after its byte-order mark), header first.
fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a UTF-8 BOM");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

/// The first sheet of an XLSX as rows of cells.
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("an XLSX");
    let first = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&first).expect("a sheet");
    range.rows().map(<[calamine::Data]>::to_vec).collect()
}

#[tokio::test]
async fn every_register_exports_exactly_what_is_filtered_as_csv_and_xlsx() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = relapsed_household(&app, &officer).await;
    app.projected().await;

    // Re-poverty as CSV, for a supervisor: the case, with the API's numbers.
    let (district, token) = signed_in(&app, "huyen.xuat", Role::DistrictOfficer, "703").await;
    let (html_status, html) = page(&app, "/re-poverty?unit=25459", &district).await;
    assert_eq!(html_status, StatusCode::OK);
    assert!(
        html.contains("/re-poverty?unit=25459&amp;format=xlsx"),
        "{html}"
    );
    let (status, kind, bytes) =
        download(&app, "/re-poverty?unit=25459&format=csv", &district).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "text/csv; charset=utf-8");
    let records = csv_records(&bytes);
    assert_eq!(records[0][0], "Mã hộ");
    assert_eq!(records.len(), 2, "{records:?}");
    let api = app.get("/api/v1/re-poverty?unit=25459", &token).await;
    assert_eq!(records[1][0], id.to_string());
    assert_eq!(
        records[1][11],
        api.body["items"][0]["supports_between_vnd"].to_string()
    );
    let (_, _, empty) = download(
        &app,
        "/re-poverty?unit=25459&from=2025-01-01&format=csv",
        &district,
    )
    .await;
    assert_eq!(csv_records(&empty).len(), 1, "only the header");

    // The disbursement trail as XLSX, for a monitor: every row the page lists, voided ones
    // marked, the counted amounts summing to the API's total, no ID number anywhere.
    let (monitor, monitor_token) = signed_in(&app, "mttq.xuat", Role::Monitor, "703").await;
    let (status, kind, bytes) =
        download(&app, "/disbursements?unit=25459&format=xlsx", &monitor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/vnd.openxmlformats"), "{kind}");
    let rows = xlsx_rows(&bytes);
    let header: Vec<String> = rows[0].iter().map(ToString::to_string).collect();
    assert_eq!(header[5], "Số tiền");
    assert_eq!(header[13], "Tình trạng");
    assert_eq!(rows.len(), 4, "2 counted and 1 voided: {rows:?}");
    let counted: f64 = rows[1..]
        .iter()
        .filter(|r| r[13] != "Đã hủy")
        .filter_map(|r| calamine::DataType::as_f64(&r[5]))
        .sum();
    let api = app
        .get("/api/v1/disbursements?unit=25459", &monitor_token)
        .await;
    assert_eq!(
        counted as i64,
        api.body["totals"]["amount_vnd"].as_i64().expect("total")
    );
    assert!(rows
        .iter()
        .flatten()
        .all(|c| !c.to_string().contains(ID_NUMBER)));
    let (_, _, csv) = download(
        &app,
        "/disbursements?unit=25459&source=local_budget&format=csv",
        &monitor,
    )
    .await;
    assert_eq!(csv_records(&csv).len(), 1, "a filter narrows the export");
    let (status, _, _) = download(&app, "/disbursements?format=pdf", &monitor).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The access log as CSV for an auditor; refused for anyone else.
    let (auditor, _) = signed_in(&app, "kiem.toan.xuat", Role::Auditor, "72").await;
    let (status, _, bytes) = download(&app, "/access-log?format=csv", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    let records = csv_records(&bytes);
    assert!(
        records
            .iter()
            .any(|r| r[1] == "mttq.xuat" && r[7] == "GET /api/v1/disbursements"),
        "{records:?}"
    );
    let (status, _, _) = download(&app, "/access-log?format=xlsx", &monitor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The movement report links to the official form, which opens with the session cookie.
    let (province, _) = signed_in(&app, "tinh.xuat", Role::ProvinceOfficer, "72").await;
    let (_, html) = page(
        &app,
        "/reports/movements?unit=703&from=2024-01-01&to=2024-12-31",
        &province,
    )
    .await;
    let link = "/api/v1/reports/movements?unit=703&from=2024-01-01&to=2024-12-31&standard=vn-2022-2025&format=xlsx&lang=vi";
    assert!(html.contains(&link.replace('&', "&amp;")), "{html}");
    let (status, kind, bytes) = download(&app, link, &province).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/vnd.openxmlformats"), "{kind}");
    assert!(!xlsx_rows(&bytes).is_empty());
}
