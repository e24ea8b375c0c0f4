//! The scripted review in one commune, end to end over HTTP: surveys → village meeting
//! (one household below half, sent back) → posting → a complaint on another household → its
//! decision refused without a reason → complaint upheld → re-survey → decision; the public
//! posting during (no ID number, birth year or income) and after (the outcome); the
//! supervisors' report and page.

use ansinh::api::AppState;
use ansinh::store::EventLog;
use ansinh::users::Role;
use ansinh::web::WebConfig;
use ansinh_events::standards::Standards;
use chrono::NaiveDate;
use reqwest::header::COOKIE;
use serde_json::{json, Value};

use crate::helpers::{
    self, decision, occurred_on_is_when_decided, page_client, spawn_app, survey, TestApp,
};

const UNIT: &str = "25459";
const PERIOD: &str = "2022-annual";

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

async fn post_ok(app: &TestApp, token: &str, path: &str, body: &Value) -> Value {
    let r = app.post(path, token, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

fn meeting(attendees: i64, votes_for: i64) -> Value {
    json!({"period": PERIOD, "held_on": "2022-10-20", "hamlet": "Ấp Thạnh Hiệp",
           "attendees": attendees, "votes_for": votes_for,
           "votes_against": attendees - votes_for, "minutes_no": "07/BB-ÂTH"})
}

fn complaint(on: &str) -> Value {
    json!({"period": PERIOD, "received_on": on, "from_name": null,
           "contact": "0912 345 678", "content": "Đề nghị xem lại thu nhập của hộ."})
}

fn without_secrets(text: &str) {
    for secret in [
        "072178000123",
        "072205000456",
        "1978",
        "1200000",
        "income",
        "birth_year",
        "id_number",
    ] {
        assert!(!text.contains(secret), "{secret} is public: {text}");
    }
}

#[tokio::test]
async fn the_scripted_review_of_one_commune_runs_end_to_end() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let hh = |id: &uuid::Uuid, tail: &str| format!("/api/v1/households/{id}/{tail}");

    // Surveys: three households proposed poor.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = app.register(&officer, UNIT).await;
        post_ok(
            &app,
            &officer,
            &hh(&id, "surveys"),
            &survey("2022-10-05", 1_200_000, 3),
        )
        .await;
        ids.push(id);
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    // The meeting: A below half (sent back), B and C agreed.
    let r = post_ok(&app, &officer, &hh(&a, "meetings"), &meeting(41, 20)).await;
    assert_eq!(r["outcome"], "review_again");
    for id in [b, c] {
        let r = post_ok(&app, &officer, &hh(&id, "meetings"), &meeting(41, 30)).await;
        assert_eq!(r["outcome"], "agreed");
    }

    // The posting: A cannot be posted while sent back; B and C are.
    let posting = |households: &[uuid::Uuid]| {
        json!({"unit_code": UNIT, "period": PERIOD, "posted_from": "2022-11-01",
               "posted_to": "2022-11-10", "places": ["Trụ sở UBND phường", "Nhà văn hóa khu phố 1"],
               "households": households})
    };
    let r = app
        .post("/api/v1/postings", &officer, &posting(&[a, b, c]))
        .await;
    assert_eq!(
        (r.problem(422)["field"].clone(), r.body["code"].clone()),
        (json!("households[0]"), json!("sent_back"))
    );
    post_ok(&app, &officer, "/api/v1/postings", &posting(&[b, c])).await;

    // During the posting the public sees the list, and nothing personal.
    let state = AppState::new(
        app.pool.clone(),
        EventLog::new(app.pool.clone()).await.expect("log"),
        Standards::builtin().expect("standards"),
        WebConfig::default(),
    );
    let during = ansinh::api::postings::public_view(&state, UNIT, PERIOD, d("2022-11-05"))
        .await
        .expect("open posting");
    let during = serde_json::to_string(&during).expect("json");
    let v: Value = serde_json::from_str(&during).expect("json");
    assert_eq!(v["status"], "open");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2));
    assert!(during.contains("Nguyễn Thị Lan"));
    without_secrets(&during);
    assert!(!during.contains(&b.to_string()));

    // A complaint on B; B's decision is refused without a reason.
    let r = post_ok(
        &app,
        &officer,
        &hh(&b, "complaints"),
        &complaint("2022-11-03"),
    )
    .await;
    let complaint_b = r["complaint_id"].as_str().expect("id").to_owned();
    let r = app
        .post(
            &hh(&b, "decisions"),
            &officer,
            &decision("poor", "2022-11-15"),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "open_complaint");
    // The complaint is upheld; B is surveyed again (now not poor) and decided.
    post_ok(
        &app,
        &officer,
        &hh(&b, &format!("complaints/{complaint_b}/resolution")),
        &json!({"outcome": "upheld", "decided_on": "2022-11-16", "decision_no": "21/QĐ-UBND",
                "reason": "Hộ có thu nhập từ lương hưu chưa kê khai."}),
    )
    .await;
    let r = app
        .post(
            &hh(&b, "decisions"),
            &officer,
            &decision("poor", "2022-11-17"),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "sent_back_by_complaint");
    let r = post_ok(
        &app,
        &officer,
        &hh(&b, "surveys"),
        &survey("2022-11-20", 3_000_000, 0),
    )
    .await;
    assert_eq!(r["proposed"]["vn-2022-2025"], "not_poor");
    post_ok(
        &app,
        &officer,
        &hh(&b, "decisions"),
        &decision("not_poor", "2022-11-25"),
    )
    .await;

    // A complaint on C is never resolved: overdue. C is decided with a reason: flagged.
    post_ok(
        &app,
        &officer,
        &hh(&c, "complaints"),
        &complaint("2022-11-04"),
    )
    .await;
    let mut dc = decision("poor", "2022-11-25");
    dc["reason"] = json!("Khiếu nại không có căn cứ mới; quyết định theo kết quả họp dân.");
    post_ok(&app, &officer, &hh(&c, "decisions"), &dc).await;
    // A is surveyed again and decided without a reason.
    post_ok(
        &app,
        &officer,
        &hh(&a, "surveys"),
        &survey("2022-11-05", 1_200_000, 3),
    )
    .await;
    post_ok(
        &app,
        &officer,
        &hh(&a, "decisions"),
        &decision("poor", "2022-11-25"),
    )
    .await;

    // After closing the public sees that it was posted, when, and the decisions.
    let r = app
        .client
        .get(format!(
            "{}/api/v1/public/postings/{UNIT}/{PERIOD}",
            app.base
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    without_secrets(&text);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["status"], "closed");
    assert_eq!(
        (v["posted_from"].clone(), v["posted_to"].clone()),
        (json!("2022-11-01"), json!("2022-11-10"))
    );
    assert_eq!(
        v["decisions"],
        json!([
            {"decision_no": "11/QĐ-UBND", "decided_on": "2022-11-25", "category": "not_poor", "households": 1},
            {"decision_no": "11/QĐ-UBND", "decided_on": "2022-11-25", "category": "poor", "households": 1}
        ])
    );
    assert_eq!(v["undecided"], 0);

    // The supervisors' report.
    let district = app.token(Role::DistrictOfficer, "703").await;
    let r = app
        .get(
            &format!("/api/v1/reports/review?unit={UNIT}&period={PERIOD}"),
            &district,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let report = &r.body;
    assert_eq!(
        (
            report["postings"].clone(),
            report["households_posted"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(
        report["complaints"],
        json!({"received": 2, "upheld": 1, "rejected": 0, "open": 1, "overdue": 1, "resolved_late": 0})
    );
    assert_eq!(report["decisions_before_posting_closed"], json!([]));
    assert_eq!(
        report["flagged_decisions"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(report["flagged_decisions"][0]["household_id"], json!(c));
    assert_eq!(report["overdue_complaints"][0]["household_id"], json!(c));
    assert_eq!(report["overdue_complaints"][0]["resolve_by"], "2022-12-04");
    assert!(!r.text.contains("0912"), "contacts stay off the report");
    // Commune officers read no reports; the district's report covers its communes.
    assert_eq!(
        app.get("/api/v1/reports/review?unit=25459", &officer)
            .await
            .status,
        403
    );
    let r = app.get("/api/v1/reports/review?unit=703", &district).await;
    assert_eq!(r.body["complaints"]["received"], 2, "{}", r.text);

    // The chains hold every new event.
    let bar = indicatif::ProgressBar::hidden();
    let verified = ansinh::verify::verify(&app.pool, None, None, &bar)
        .await
        .expect("verify");
    assert!(verified.intact(), "{:?}", verified.broken);

    // Rebuilding the read models from the log, new event types and all, gives them back.
    let status = |pool: sqlx::PgPool| async move {
        let rows: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
            "SELECT household_id, unit_code, version::bigint FROM household_status ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .expect("status");
        rows
    };
    let before = status(app.pool.clone()).await;
    ansinh_projections::rebuild::rebuild(
        &app.pool,
        &ansinh_projections::rebuild::Projection::ALL,
        1_000,
        |_, _| {},
    )
    .await
    .expect("rebuild");
    assert_eq!(status(app.pool.clone()).await, before);

    // The supervisors' page.
    let (cookie, _) = helpers::signed_in(
        &app,
        "giam.sat.ra.soat",
        Role::DistrictOfficer,
        "703",
        "mật-khẩu-dài-đủ-12",
    )
    .await;
    let page = page_client()
        .get(format!(
            "{}/reports/review?unit={UNIT}&period={PERIOD}",
            app.base
        ))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("Khiếu nại quá hạn") && html.contains(&c.to_string()),
        "{html}"
    );
    occurred_on_is_when_decided(&app.pool, &["household_events", "posting_events"]).await;
}
