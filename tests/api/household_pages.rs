//! The register page (`/households`) and the household page (`/households/{id}`) over HTTP with
//! a signed-in session: they list what the API lists, show the past, hide what monitors may not
//! see, and answer refusals as the API does.

use ansinh::users::Role;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{self, decision, registration, spawn_app, support, survey, TestApp};

const HOME: &str = "25459";
const OTHER: &str = "25456";
const PASSWORD: &str = "mật khẩu trang hộ";
/// The ID numbers `registration()` gives the members.
const ID_NUMBERS: [&str; 2] = ["072178000123", "072205000456"];

fn client() -> reqwest::Client {
    helpers::page_client()
}

/// A signed-in user: the session cookie for pages, the token for the API.
struct User {
    cookie: String,
    token: String,
}

async fn user(app: &TestApp, name: &str, role: Role, unit: &str) -> User {
    let (cookie, token) = helpers::signed_in(app, name, role, unit, PASSWORD).await;
    User { cookie, token }
}

/// A page as `user`: its status and HTML.
async fn page(app: &TestApp, user: &User, path: &str) -> (StatusCode, String) {
    let response = client()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, &user.cookie)
        .send()
        .await
        .expect("page");
    let status = response.status();
    // minijinja escapes `/` in what it fills in; the assertions read the text as shown.
    let html = response.text().await.expect("html").replace("&#x2f;", "/");
    (status, html)
}

async fn api(app: &TestApp, user: &User, path: &str) -> Value {
    let reply = app.get(path, &user.token).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.body
}

/// The households a register page links to, in order.
fn linked(html: &str) -> Vec<Uuid> {
    html.split(r#"<th scope="row"><a href="/households/"#)
        .skip(1)
        .filter_map(|rest| rest.get(..36))
        .map(|id| id.parse().expect("uuid"))
        .collect()
}

fn ids(body: &Value) -> Vec<Uuid> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| h["id"].as_str().and_then(|s| s.parse().ok()).expect("id"))
        .collect()
}

struct World {
    app: TestApp,
    officer: User,
    /// Poor from 2022-12-10, near poor from 2023-12-10; a support voided by a correction.
    cuong: Uuid,
    others: Vec<Uuid>,
    /// The support's sequence and its correction's.
    voided: (i64, i64),
}

async fn world() -> World {
    let app = spawn_app().await;
    let officer = user(&app, "can_bo_xa", Role::CommuneOfficer, HOME).await;
    let mut ids = Vec::new();
    for (head, hamlet, day, ethnic) in [
        ("Lê Văn Cường", "Ấp Một", "2021-01-10", false),
        ("Trần Thị An", "Ấp Hai", "2021-03-10", true),
        ("Đỗ Văn Bình", "Ấp Một", "2021-02-10", false),
    ] {
        let mut body = registration(HOME);
        body["head_name"] = head.into();
        body["members"][0]["name"] = head.into();
        body["hamlet"] = hamlet.into();
        body["effective_on"] = day.into();
        body["ethnic_minority"] = ethnic.into();
        let r = app.post("/api/v1/households", &officer.token, &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().expect("id").parse().expect("uuid"));
    }
    let cuong = ids[0];
    let base = format!("/api/v1/households/{cuong}");
    for (surveyed, category, decided) in [
        ("2022-10-05", "poor", "2022-12-10"),
        ("2023-10-05", "near_poor", "2023-12-10"),
    ] {
        let r = app
            .post(
                &format!("{base}/surveys"),
                &officer.token,
                &survey(surveyed, 1_200_000, 3),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mut d = decision(category, decided);
        d["reason"] = format!("họp bình xét {decided}").into();
        let r = app
            .post(&format!("{base}/decisions"), &officer.token, &d)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app
        .post(
            &format!("{base}/supports"),
            &officer.token,
            &support(2_500_000, "2023-01-15"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let support_seq = r.body["sequence"].as_i64().expect("sequence");
    let r = app
        .post(
            &format!("{base}/corrections"),
            &officer.token,
            &json!({"corrects_sequence": support_seq, "reason": "ghi nhầm hộ", "replacement": null}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let correction_seq = r.body["sequence"].as_i64().expect("sequence");
    World {
        app,
        officer,
        cuong,
        others: ids[1..].to_vec(),
        voided: (support_seq, correction_seq),
    }
}

#[tokio::test]
async fn the_register_lists_exactly_what_the_api_lists_for_the_same_filters() {
    let w = world().await;
    for query in [
        "",
        "?limit=2",
        "?limit=2&offset=2",
        "?sort=-name",
        "?sort=registered_on",
        "?hamlet=%E1%BA%A4p%20M%E1%BB%99t",
        "?ethnic_minority=true",
        "?standard=vn-2022-2025&category=near_poor",
        "?name=tran",
        "?as_of=2021-02-15",
        "?as_of=2023-06-30&standard=vn-2022-2025&category=poor",
    ] {
        let (status, html) = page(&w.app, &w.officer, &format!("/households{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {html}");
        let listed = api(&w.app, &w.officer, &format!("/api/v1/households{query}")).await;
        assert_eq!(linked(&html), ids(&listed), "{query}");
        let total = listed["total"].as_i64().expect("total");
        if total > 0 {
            let shown = ids(&listed).len();
            let offset: usize = if query.contains("offset=2") { 2 } else { 0 };
            let range = format!("Hộ {}–{} trên tổng số {total}", offset + 1, offset + shown);
            assert!(html.contains(&range), "{query}: {range} not in {html}");
        } else {
            assert!(html.contains("Không có hộ nào khớp bộ lọc."), "{query}");
        }
    }
    // The as_of register is the earlier one: Cường poor then, near poor now.
    let (_, then) = page(
        &w.app,
        &w.officer,
        "/households?as_of=2023-06-30&standard=vn-2022-2025&category=poor",
    )
    .await;
    assert_eq!(linked(&then), vec![w.cuong]);
    assert!(then.contains(&format!("/households/{}?as_of=2023-06-30", w.cuong)));
    let (_, now) = page(
        &w.app,
        &w.officer,
        "/households?standard=vn-2022-2025&category=poor",
    )
    .await;
    assert!(linked(&now).is_empty(), "{now}");
}

#[tokio::test]
async fn the_register_pages_sorts_and_refuses_a_filter_beside_its_field() {
    let w = world().await;
    let (_, html) = page(&w.app, &w.officer, "/households?limit=2&sort=-name").await;
    // The sorted column says so; its link turns the order around; the others sort ascending.
    assert!(
        html.contains(r#"aria-sort="descending"><a href="/households?limit=2&amp;sort=name""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/households?limit=2&amp;sort=unit""#),
        "{html}"
    );
    assert!(
        html.contains(r#"href="/households?limit=2&amp;sort=-name&amp;offset=2" rel="next""#),
        "{html}"
    );
    assert!(!html.contains(r#"rel="prev""#));
    let (_, second) = page(
        &w.app,
        &w.officer,
        "/households?limit=2&sort=-name&offset=2",
    )
    .await;
    assert!(
        second.contains(r#"href="/households?limit=2&amp;sort=-name" rel="prev""#),
        "{second}"
    );
    assert!(!second.contains(r#"rel="next""#));
    assert!(second.contains("Hộ 3–3 trên tổng số 3"), "{second}");

    // A category needs its standard: the API says so and the page shows it by that field.
    let (status, html) = page(&w.app, &w.officer, "/households?category=poor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(r#"id="f-standard" name="standard" aria-invalid="true""#),
        "{html}"
    );
    assert!(
        html.contains("category needs the standard it is under"),
        "{html}"
    );
    let (status, html) = page(&w.app, &w.officer, "/households?as_of=2023-02-30&lang=en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(
            r#"id="f-as_of" name="as_of" type="date" value="2023-02-30" aria-invalid="true""#
        ),
        "{html}"
    );
    assert!(html.contains("A filter is not valid"), "{html}");
}

#[tokio::test]
async fn the_household_page_shows_status_timeline_corrections_and_the_chain() {
    let w = world().await;
    let path = format!("/households/{}", w.cuong);
    let (status, html) = page(&w.app, &w.officer, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Lê Văn Cường") && html.contains("Ấp Một"));
    // Registered in old Phường 3 (25459) in 2021 and not yet carried across the 2025 reform:
    // the page names the old commune, not the new one that reuses its code.
    assert!(
        html.contains("Phường 3 <span class=\"muted\">(25459)</span>"),
        "{html}"
    );
    // Decided near poor with the reason given; the officer sees ID numbers.
    assert!(
        html.contains(r#"<span class="badge near_poor">Hộ cận nghèo</span>"#),
        "{html}"
    );
    assert!(html.contains("họp bình xét 2023-12-10"));
    for id in ID_NUMBERS {
        assert!(html.contains(id), "{id}");
    }
    // Every event is on the timeline; the voided support is struck through and linked to its
    // correction, which stands right after it.
    let history = api(
        &w.app,
        &w.officer,
        &format!("/api/v1/households/{}/history", w.cuong),
    )
    .await;
    let events = history["events"].as_array().expect("events");
    for e in events {
        assert!(
            html.contains(&format!(r#"id="event-{}""#, e["sequence"])),
            "{e}"
        );
    }
    let (support, correction) = w.voided;
    let support_row = format!(r#"<tr id="event-{support}" class="voided">"#);
    let correction_row = format!(r#"<tr id="event-{correction}" class="correction">"#);
    let (s, c) = (html.find(&support_row), html.find(&correction_row));
    assert!(s.is_some() && c.is_some(), "{html}");
    assert!(s < c);
    assert!(
        !html[s.unwrap_or(0) + 10..c.unwrap_or(0)].contains("<tr id=\"event-"),
        "the correction follows its fact"
    );
    assert!(
        html.contains(&format!(
            r##"đã được đính chính bởi <a href="#event-{correction}">#{correction}</a>"##
        )),
        "{html}"
    );
    assert!(html.contains("ghi nhầm hộ"));
    // The chain is intact and its last hash is the API's.
    let verified = api(
        &w.app,
        &w.officer,
        &format!("/api/v1/households/{}/verify", w.cuong),
    )
    .await;
    assert!(html.contains(verified["head_hash"].as_str().expect("hash")));
    assert!(
        html.contains(&format!("Chuỗi {} sự kiện nguyên vẹn", events.len())),
        "{html}"
    );
    assert!(html.contains(&format!(r#"href="/households/{}?verify=1""#, w.cuong)));
    let (status, _) = page(&w.app, &w.officer, &format!("{path}?verify=1")).await;
    assert_eq!(status, StatusCode::OK);
    // Officers get the forms' links and no known_on picker; the English page is English.
    for form in ["surveys", "decisions", "supports", "corrections"] {
        assert!(
            html.contains(&format!(r#"href="{path}/{form}/new""#)),
            "{form}"
        );
    }
    assert!(!html.contains(r#"name="known_on""#));
    let (_, english) = page(&w.app, &w.officer, &format!("{path}?lang=en")).await;
    assert!(english.contains(r#"<html lang="en">"#));
    assert!(
        english.contains("Timeline")
            && english.contains("corrected by")
            && english.contains("Near-poor")
    );
}

#[tokio::test]
async fn an_auditor_sees_the_household_as_it_stood_and_as_it_was_known() {
    let w = world().await;
    let auditor = user(&w.app, "kiem_toan", Role::Auditor, "72").await;
    let path = format!("/households/{}", w.cuong);
    let (status, html) = page(&w.app, &auditor, &format!("{path}?as_of=2023-06-30")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(r#"<span class="badge poor">Hộ nghèo</span>"#),
        "{html}"
    );
    let (status_part, timeline) = html.split_once(r#"id="timeline""#).expect("timeline");
    assert!(!status_part.contains(r#"<span class="badge near_poor">Hộ cận nghèo</span>"#));
    // The later decision is on the timeline, marked as after the day shown.
    assert!(timeline.contains(r#"class="later ""#), "{timeline}");
    assert!(timeline.contains("sau thời điểm đang xem"));
    assert!(html.contains("họp bình xét 2022-12-10"));
    assert!(html.contains("Hộ như vào cuối ngày 30/06/2023"), "{html}");
    assert!(
        html.contains("Phường 3 <span class=\"muted\">(25459)</span>"),
        "the unit's name then: {html}"
    );
    assert!(
        html.contains(r#"name="known_on""#),
        "auditors have the known_on picker"
    );
    assert!(!html.contains("/surveys/new"), "auditors record nothing");
    // Before the first decision there is none.
    let (_, before) = page(
        &w.app,
        &auditor,
        &format!("{path}?as_of=2022-01-01&lang=en"),
    )
    .await;
    assert!(
        before.contains("No decision about this household yet"),
        "{before}"
    );
    // Known on a day before anything was recorded (today is after every recording): the
    // household was not yet registered in the system, which the API answers with 404.
    let (status, _) = page(&w.app, &auditor, &format!("{path}?known_on=2020-01-01")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An officer may not ask for known_on: the API's 403 says why.
    let (status, refused) = page(&w.app, &w.officer, &format!("{path}?known_on=2030-01-01")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        refused.contains("Bạn không được phép xem trang này"),
        "{refused}"
    );
    assert!(
        refused.contains("read a household as known on a past day"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_monitor_sees_no_id_number_birth_year_or_timeline() {
    let w = world().await;
    let monitor = user(&w.app, "mat_tran", Role::Monitor, "72").await;
    let mut pages = vec!["/households".to_owned(), "/households?lang=en".to_owned()];
    for id in std::iter::once(w.cuong).chain(w.others.iter().copied()) {
        pages.push(format!("/households/{id}"));
        pages.push(format!("/households/{id}?lang=en&as_of=2023-06-30"));
    }
    for path in &pages {
        let (status, html) = page(&w.app, &monitor, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        for id in ID_NUMBERS {
            assert!(!html.contains(id), "{id} on {path}");
        }
        for year in ["1978", "2005"] {
            assert!(!html.contains(&format!(">{year}<")), "{year} on {path}");
        }
    }
    let (_, html) = page(&w.app, &monitor, &format!("/households/{}", w.cuong)).await;
    assert!(html.contains("Trần Văn Nam"), "members are listed by name");
    assert!(
        html.contains("Năm sinh và số giấy tờ tùy thân không hiển thị"),
        "{html}"
    );
    assert!(
        html.contains("vai trò của bạn không được xem lịch sử hộ"),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="event-1""#),
        "no timeline for monitors"
    );
    assert!(!html.contains("/corrections/new") && !html.contains(r#"name="known_on""#));
}

#[tokio::test]
async fn refusals_answer_as_the_api_does() {
    let w = world().await;
    // A household of another commune is "not found", as the API says, in both languages.
    let elsewhere = user(&w.app, "can_bo_xa_khac", Role::CommuneOfficer, OTHER).await;
    let path = format!("/households/{}", w.cuong);
    let api_reply = w.app.get(&format!("/api/v1{path}"), &elsewhere.token).await;
    assert_eq!(api_reply.status, 404);
    let (status, html) = page(&w.app, &elsewhere, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Không tìm thấy"), "{html}");
    let (status, html) = page(&w.app, &elsewhere, &format!("{path}?lang=en")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Not found"), "{html}");
    let (status, _) = page(&w.app, &elsewhere, "/households/not-a-household").await;
    assert_eq!(
        status.as_u16(),
        w.app
            .get("/api/v1/households/not-a-household", &elsewhere.token)
            .await
            .status
            .as_u16()
    );
    // Nor may it list another commune.
    let (status, html) = page(&w.app, &elsewhere, &format!("/households?unit={HOME}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");

    // An administrator may not read households: the page says why, in each language.
    let admin = user(&w.app, "quan_tri", Role::Admin, "72").await;
    let (status, html) = page(&w.app, &admin, "/households").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Bạn không được phép xem trang này"), "{html}");
    assert!(html.contains("read household status"), "{html}");
    let (status, html) = page(&w.app, &admin, "/households?lang=en").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("You may not see this page"), "{html}");

    // Signed out: to the sign-in page, and back here afterwards.
    let response = client()
        .get(format!("{}/households?limit=20", w.app.base))
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=%2Fhouseholds%3Flimit%3D20"
    );
}

async fn download(app: &TestApp, user: &User, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = client()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, &user.cookie)
        .send()
        .await
        .expect("download");
    let status = response.status();
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        disposition,
        response.bytes().await.expect("body").to_vec(),
    )
}

#[tokio::test]
async fn the_register_exports_exactly_what_is_filtered_as_csv_and_xlsx() {
    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};

    let w = world().await;
    let monitor = user(&w.app, "mat_tran_xuat", Role::Monitor, "72").await;
    for (who, query) in [
        (&w.officer, "?sort=-name&limit=2"),
        (&w.officer, "?hamlet=%E1%BA%A4p%20M%E1%BB%99t"),
        (
            &w.officer,
            "?as_of=2023-06-30&standard=vn-2022-2025&category=poor",
        ),
        (&monitor, "?sort=registered_on"),
    ] {
        // The export holds every page: the API's list without paging.
        let api_query = query.replace("&limit=2", "");
        let listed = api(&w.app, who, &format!("/api/v1/households{api_query}")).await;
        let items = listed["items"].as_array().expect("items").clone();
        assert!(!items.is_empty(), "{query}");

        let (status, disposition, csv) =
            download(&w.app, who, &format!("/households{query}&format=csv")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert!(disposition.contains("danh-sach-ho"), "{disposition}");
        let text = String::from_utf8(csv).expect("utf-8");
        let text = text.trim_start_matches('\u{feff}');
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().expect("headers").clone();
        assert_eq!(&headers[0], "Chủ hộ");
        let records: Vec<csv::StringRecord> =
            reader.records().map(|r| r.expect("record")).collect();
        assert_eq!(records.len(), items.len(), "{query}");
        for (record, item) in records.iter().zip(&items) {
            assert_eq!(&record[0], item["head_name"].as_str().expect("name"));
            assert_eq!(&record[1], item["unit_code"].as_str().expect("unit"));
            assert_eq!(&record[2], item["unit_name"].as_str().expect("unit name"));
            assert_eq!(&record[4], item["registered_on"].as_str().expect("day"));
            assert_eq!(record[5].parse::<i64>().ok(), item["member_count"].as_i64());
            assert_eq!(&record[7], item["id"].as_str().expect("id"));
        }
        for id in ID_NUMBERS {
            assert!(!text.contains(id), "{id} in the CSV");
        }

        let (status, _, xlsx) = download(
            &w.app,
            who,
            &format!("/households{query}&format=xlsx&lang=en"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("an XLSX");
        let range = book
            .worksheet_range_at(0)
            .expect("a sheet")
            .expect("readable");
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(rows[0][0], Data::String("Head of household".into()));
        assert_eq!(rows.len() - 1, items.len(), "{query}");
        for (row, item) in rows[1..].iter().zip(&items) {
            assert_eq!(
                row[0],
                Data::String(item["head_name"].as_str().expect("name").into())
            );
            let members = match &row[5] {
                Data::Float(f) => *f as i64,
                Data::Int(n) => *n,
                other => panic!("members: {other:?}"),
            };
            assert_eq!(Some(members), item["member_count"].as_i64());
            assert_eq!(
                row[7],
                Data::String(item["id"].as_str().expect("id").into())
            );
            for cell in row.iter() {
                let shown = cell.to_string();
                assert!(!ID_NUMBERS.iter().any(|id| shown.contains(id)), "{shown}");
            }
        }
    }
    // What the page may not list, it may not export.
    let elsewhere = user(&w.app, "can_bo_khac_xuat", Role::CommuneOfficer, OTHER).await;
    let (status, disposition, _) = download(
        &w.app,
        &elsewhere,
        &format!("/households?unit={HOME}&format=xlsx"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(disposition.is_empty());
    let (status, _, _) = download(&w.app, &w.officer, "/households?format=pdf").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
