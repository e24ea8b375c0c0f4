//! Public postings: posting a commune's review, what the public sees without sign-in during
//! and after, that nothing else is reachable that way, the rate limit, and verify over the
//! postings' chains.

use ansinh::users::Role;
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{decision, spawn_app, survey, TestApp};

const UNIT: &str = "25459";

fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

/// A household of UNIT surveyed on `date` (poor); its id.
async fn surveyed(app: &TestApp, officer: &str, date: &str) -> uuid::Uuid {
    let id = app.register(officer, UNIT).await;
    let r = app
        .post(
            &format!("/api/v1/households/{id}/surveys"),
            officer,
            &survey(date, 1_200_000, 3),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    id
}

fn posting(period: &str, from: NaiveDate, to: NaiveDate, households: &[uuid::Uuid]) -> Value {
    json!({
        "unit_code": UNIT, "period": period,
        "posted_from": from, "posted_to": to,
        "places": ["Trụ sở UBND phường", "Nhà văn hóa khu phố 1"],
        "households": households,
    })
}

/// An anonymous GET; status and body.
async fn public_get(app: &TestApp, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.expect("body"), headers)
}

/// An anonymous GET of a raw request target, as a client that does not normalise `..` or
/// `%2e%2e` would send it; the status.
async fn raw_get(app: &TestApp, target: &str) -> u16 {
    let host = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Nothing personal but the head's name and hamlet: no ID number, birth year, income or id.
fn assert_nothing_personal(text: &str, household: uuid::Uuid) {
    for secret in [
        "072178000123",
        "072205000456",
        "1978",
        "2005",
        "1200000",
        "1.200.000",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} in the public answer: {text}"
        );
    }
    assert!(
        !text.contains(&household.to_string()),
        "the household id is public: {text}"
    );
    for key in ["id_number", "birth_year", "income"] {
        assert!(!text.contains(key), "{key} in the public answer: {text}");
    }
}

#[tokio::test]
async fn an_open_posting_shows_the_list_without_sign_in_and_nothing_personal() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let day = today();
    let surveyed_on = (day - Duration::days(20)).to_string();
    let period = format!("{}-annual", &surveyed_on[..4]);
    let a = surveyed(&app, &officer, &surveyed_on).await;
    let b = surveyed(&app, &officer, &surveyed_on).await;

    let body = posting(
        &period,
        day - Duration::days(1),
        day + Duration::days(7),
        &[a, b],
    );
    let r = app.post("/api/v1/postings", &officer, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = app.post("/api/v1/postings", &officer, &body).await;
    assert_eq!(r.problem(409)["code"], "already_posted");

    let (status, text, _) =
        public_get(&app, &format!("/api/v1/public/postings/{UNIT}/{period}")).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["open"], true);
    assert_eq!(v["status"], "open");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["items"][0],
        json!({"head_name": "Nguyễn Thị Lan", "hamlet": "Ấp Thạnh Hiệp", "proposed_category": "poor"})
    );
    assert_nothing_personal(&text, a);
    assert!(!text.contains(&id));

    // The page: Vietnamese first, the same list, nothing personal.
    let (status, page, _) = public_get(&app, &format!("/public/{UNIT}/{period}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html lang=\"vi\">"), "{page}");
    assert!(page.contains("Niêm yết công khai"), "{page}");
    assert!(page.contains("Nguyễn Thị Lan") && page.contains("Ấp Thạnh Hiệp"));
    assert_nothing_personal(&page, a);
}

#[tokio::test]
async fn a_closed_posting_shows_when_it_was_posted_and_the_decisions_not_the_list() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let a = surveyed(&app, &officer, "2022-10-05").await;
    let b = surveyed(&app, &officer, "2022-10-05").await;
    let from = NaiveDate::from_ymd_opt(2022, 11, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2022, 11, 10).expect("date");
    let r = app
        .post(
            "/api/v1/postings",
            &officer,
            &posting("2022-annual", from, to, &[a, b]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/households/{a}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let (status, text, _) =
        public_get(&app, &format!("/api/v1/public/postings/{UNIT}/2022-annual")).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (v["open"].clone(), v["status"].clone()),
        (json!(false), json!("closed"))
    );
    assert_eq!(v["items"], json!([]));
    assert_eq!(v["households_posted"], 2);
    assert_eq!(
        v["decisions"],
        json!([{"decision_no": "12/QĐ-UBND", "decided_on": "2022-12-10", "category": "poor", "households": 1}])
    );
    assert_eq!(v["undecided"], 1);
    assert_nothing_personal(&text, a);
    assert!(
        !text.contains("Nguyễn Thị Lan"),
        "names stay off the closed posting: {text}"
    );

    let (status, page, _) = public_get(&app, &format!("/public/{UNIT}/2022-annual?lang=en")).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        // minijinja writes `/` as `&#x2f;`.
        page.contains("Posting ended") && page.contains("QĐ-UBND"),
        "{page}"
    );
    assert_nothing_personal(&page, a);
}

#[tokio::test]
async fn postings_are_checked_and_scoped() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let a = surveyed(&app, &officer, "2022-10-05").await;
    let elsewhere_officer = app.token(Role::CommuneOfficer, "25456").await;
    let elsewhere = app.register(&elsewhere_officer, "25456").await;
    let from = NaiveDate::from_ymd_opt(2022, 11, 4).expect("date"); // a Friday
    let monday = NaiveDate::from_ymd_opt(2022, 11, 7).expect("date");
    let r = app
        .post(
            "/api/v1/postings",
            &officer,
            &posting("2022-annual", from, monday, &[a]),
        )
        .await;
    let p = r.problem(422);
    assert_eq!(
        (p["field"].as_str(), p["code"].as_str()),
        (Some("posted_to"), Some("posting_too_short"))
    );
    let later = monday + Duration::days(3);
    let r = app
        .post(
            "/api/v1/postings",
            &officer,
            &posting("2022-annual", from, later, &[a, elsewhere]),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "households[1]");
    let r = app
        .post(
            "/api/v1/postings",
            &officer,
            &posting("2023-annual", from, later, &[a]),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "no_survey_for_period");
    let mut no_places = posting("2022-annual", from, later, &[a]);
    no_places["places"] = json!([]);
    let r = app.post("/api/v1/postings", &officer, &no_places).await;
    assert_eq!(r.problem(422)["field"], "places");
    let r = app
        .post(
            "/api/v1/postings",
            &elsewhere_officer,
            &posting("2022-annual", from, later, &[a]),
        )
        .await;
    r.problem(403);
    let monitor = app.token(Role::Monitor, "72").await;
    let r = app
        .post(
            "/api/v1/postings",
            &monitor,
            &posting("2022-annual", from, later, &[a]),
        )
        .await;
    r.problem(403);
}

#[tokio::test]
async fn without_sign_in_only_the_posting_is_reachable() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let a = surveyed(&app, &officer, "2022-10-05").await;
    let from = NaiveDate::from_ymd_opt(2022, 11, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2022, 11, 10).expect("date");
    let r = app
        .post(
            "/api/v1/postings",
            &officer,
            &posting("2022-annual", from, to, &[a]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let ok = format!("/api/v1/public/postings/{UNIT}/2022-annual");
    assert_eq!(public_get(&app, &ok).await.0, 200);
    for path in [
        format!("/api/v1/public/postings/{UNIT}/2023-annual"),
        "/api/v1/public/postings/25456/2022-annual".to_owned(),
        format!("/api/v1/public/postings/{a}/2022-annual"),
        format!("/api/v1/public/postings/{UNIT}/{a}"),
        format!("/api/v1/public/households/{a}"),
        format!("/public/{UNIT}/2023-annual"),
        format!("/public/{a}"),
    ] {
        let (status, text, _) = public_get(&app, &path).await;
        assert_eq!(status, 404, "{path}: {text}");
        assert_nothing_personal(&text, a);
    }
    // The households themselves still need a sign-in.
    let (status, _, _) = public_get(&app, &format!("/api/v1/households/{a}")).await;
    assert_eq!(status, 401);
    for target in [
        format!("/api/v1/public/postings/{UNIT}/../../households/{a}"),
        format!("/api/v1/public/postings/{UNIT}/..%2F..%2Fhouseholds%2F{a}"),
        format!("/api/v1/public/postings/%2e%2e/%2e%2e%2fhouseholds%2f{a}"),
        format!("/api/v1/public/postings/{UNIT}%2F2022-annual/x"),
        format!("/public/{UNIT}/..%2f..%2fapi%2fv1%2fhouseholds%2f{a}"),
        format!("/public/%2e%2e/{a}"),
    ] {
        let status = raw_get(&app, &target).await;
        assert!(
            status == 404 || status == 401 || status == 400,
            "{target}: {status}"
        );
    }
}

#[tokio::test]
async fn the_public_routes_answer_429_with_retry_after_past_60_a_minute() {
    let app = spawn_app().await;
    let path = "/api/v1/public/postings/25459/2022-annual";
    for i in 0..60 {
        let (status, text, _) = public_get(
            &app,
            if i % 2 == 0 {
                path
            } else {
                "/public/25459/2022-annual"
            },
        )
        .await;
        assert_eq!(status, 404, "request {i}: {text}");
    }
    let (status, text, headers) = public_get(&app, path).await;
    assert_eq!(status, 429, "{text}");
    let wait: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    // Signed-in routes are not limited by it.
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    assert_eq!(
        app.get("/api/v1/households?unit=25459", &officer)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn verify_checks_the_postings_chains_and_finds_a_changed_list() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let a = surveyed(&app, &officer, "2022-10-05").await;
    let from = NaiveDate::from_ymd_opt(2022, 11, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2022, 11, 10).expect("date");
    let r = app
        .post(
            "/api/v1/postings",
            &officer,
            &posting("2022-annual", from, to, &[a]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let bar = indicatif::ProgressBar::hidden();
    let report = ansinh::verify::verify(&app.pool, None, None, &bar)
        .await
        .expect("verify");
    assert!(report.intact(), "{:?}", report.broken);
    assert_eq!((report.households, report.other_chains), (1, 1));

    // The append-only triggers hold on the postings' table too.
    let refused = sqlx::query("UPDATE posting_events SET payload = payload")
        .execute(&app.pool)
        .await;
    assert!(refused.is_err());

    let mut tx = app.pool.begin().await.expect("begin");
    for sql in [
        "ALTER TABLE posting_events DISABLE TRIGGER USER",
        "UPDATE posting_events SET payload = jsonb_set(payload, '{data,items,0,proposed_category}', '\"not_poor\"')",
        "ALTER TABLE posting_events ENABLE TRIGGER USER",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.expect(sql);
    }
    tx.commit().await.expect("commit");
    let report = ansinh::verify::verify(&app.pool, None, None, &bar)
        .await
        .expect("verify");
    assert_eq!(report.broken.len(), 1, "{:?}", report.broken);
    assert_eq!(report.broken[0].table, "posting_events");
    assert_eq!(report.broken[0].first_bad_sequence, 1);
}
