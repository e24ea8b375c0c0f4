//! `GET /api/v1/households` as the register list: no name needed, filters, paging, sorting,
//! scope, access log and monitor redaction.

use ansinh::users::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{decision, registration, spawn_app, survey, TestApp};

const HOME: &str = "25459";
const OTHER: &str = "25471";

/// Registers a household with these fields changed; returns its id.
async fn register(
    app: &TestApp,
    token: &str,
    unit: &str,
    head: &str,
    hamlet: &str,
    registered_on: &str,
    flags: (bool, bool),
) -> Uuid {
    let mut body = registration(unit);
    body["head_name"] = head.into();
    body["members"][0]["name"] = head.into();
    body["hamlet"] = hamlet.into();
    body["effective_on"] = registered_on.into();
    body["ethnic_minority"] = flags.0.into();
    body["merit_family"] = flags.1.into();
    let r = app.post("/api/v1/households", token, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id")
}

fn ids(body: &Value) -> Vec<Uuid> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| h["id"].as_str().and_then(|s| s.parse().ok()).expect("id"))
        .collect()
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| h["head_name"].as_str().expect("name").to_owned())
        .collect()
}

struct Register {
    app: TestApp,
    officer: String,
    an: Uuid,
    binh: Uuid,
    cuong: Uuid,
    elsewhere: Uuid,
}

/// Three households in HOME (An, Bình, Cường, registered in that order of day but not of
/// name), one in OTHER.
async fn register_three() -> Register {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, HOME).await;
    let other = app.token(Role::CommuneOfficer, OTHER).await;
    let cuong = register(
        &app,
        &officer,
        HOME,
        "Lê Văn Cường",
        "Ấp Một",
        "2021-01-10",
        (false, false),
    )
    .await;
    let an = register(
        &app,
        &officer,
        HOME,
        "Trần Thị An",
        "Ấp Hai",
        "2021-03-10",
        (true, false),
    )
    .await;
    let binh = register(
        &app,
        &officer,
        HOME,
        "Đỗ Văn Bình",
        "Ấp Một",
        "2021-02-10",
        (false, true),
    )
    .await;
    let elsewhere = register(
        &app,
        &other,
        OTHER,
        "Trần Văn Ánh",
        "Ấp Một",
        "2021-01-01",
        (true, true),
    )
    .await;
    Register {
        app,
        officer,
        an,
        binh,
        cuong,
        elsewhere,
    }
}

async fn list(r: &Register, query: &str) -> Value {
    let reply = r
        .app
        .get(&format!("/api/v1/households{query}"), &r.officer)
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply.body
}

#[tokio::test]
async fn the_list_without_a_name_is_the_callers_households_only() {
    let r = register_three().await;
    let body = list(&r, "").await;
    assert_eq!(body["total"], 3, "{body}");
    let found = ids(&body);
    assert_eq!(
        found,
        vec![r.binh, r.cuong, r.an],
        "name order, folded: đỗ, lê, trần"
    );
    assert!(!found.contains(&r.elsewhere));
    // A district-wide user sees both communes; narrowing by unit keeps one.
    let district = r.app.token(Role::Auditor, "72").await;
    let all = r.app.get("/api/v1/households", &district).await;
    assert_eq!(all.body["total"], 4, "{}", all.text);
    let one = r
        .app
        .get(&format!("/api/v1/households?unit={OTHER}"), &district)
        .await;
    assert_eq!(ids(&one.body), vec![r.elsewhere], "{}", one.text);
    // Another commune is out of the officer's scope.
    let out = r
        .app
        .get(&format!("/api/v1/households?unit={OTHER}"), &r.officer)
        .await;
    assert_eq!(out.status, 403, "{}", out.text);
    // The name still searches, diacritics-insensitively.
    assert_eq!(ids(&list(&r, "?name=tran").await), vec![r.an]);
}

#[tokio::test]
async fn each_filter_narrows_the_list() {
    let r = register_three().await;
    assert_eq!(
        ids(&list(&r, "?hamlet=%E1%BA%A4p%20M%E1%BB%99t").await),
        vec![r.binh, r.cuong]
    );
    assert_eq!(ids(&list(&r, "?ethnic_minority=true").await), vec![r.an]);
    assert_eq!(
        ids(&list(&r, "?ethnic_minority=false").await),
        vec![r.binh, r.cuong]
    );
    assert_eq!(ids(&list(&r, "?merit_family=true").await), vec![r.binh]);
    assert_eq!(
        ids(&list(&r, "?no_working_capacity=true").await),
        Vec::<Uuid>::new()
    );

    // Cường: surveyed without working capacity and decided poor; An decided near poor.
    let mut s = survey("2022-10-05", 1_200_000, 3);
    s["working_capacity"] = false.into();
    for (id, category) in [(r.cuong, "poor"), (r.an, "near_poor")] {
        let base = format!("/api/v1/households/{id}");
        let reply = r.app.post(&format!("{base}/surveys"), &r.officer, &s).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let mut d = decision(category, "2022-12-10");
        d["reason"] = "thu nhập sát chuẩn".into();
        let reply = r
            .app
            .post(&format!("{base}/decisions"), &r.officer, &d)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    assert_eq!(
        ids(&list(&r, "?no_working_capacity=true").await),
        vec![r.cuong, r.an]
    );
    assert_eq!(
        ids(&list(&r, "?standard=vn-2022-2025&category=poor").await),
        vec![r.cuong]
    );
    assert_eq!(
        ids(&list(&r, "?standard=vn-2022-2025&category=near_poor").await),
        vec![r.an]
    );
    assert_eq!(
        ids(&list(&r, "?standard=vn-2022-2025").await),
        vec![r.cuong, r.an]
    );
    assert_eq!(
        ids(&list(&r, "?standard=vn-2016-2020").await),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        ids(&list(
            &r,
            "?standard=vn-2022-2025&category=poor&hamlet=%E1%BA%A4p%20Hai"
        )
        .await),
        Vec::<Uuid>::new()
    );
    let bad = r
        .app
        .get(
            "/api/v1/households?standard=vn-2022-2025&category=rich",
            &r.officer,
        )
        .await;
    assert_eq!(bad.problem(400)["field"], "category", "{}", bad.text);
    let bad = r
        .app
        .get("/api/v1/households?category=poor", &r.officer)
        .await;
    assert_eq!(bad.problem(400)["field"], "standard", "{}", bad.text);
}

#[tokio::test]
async fn pages_carry_the_total_and_sorts_go_both_ways() {
    let r = register_three().await;
    let first = list(&r, "?limit=2").await;
    assert_eq!(first["total"], 3);
    assert_eq!(ids(&first), vec![r.binh, r.cuong]);
    let second = list(&r, "?limit=2&offset=2").await;
    assert_eq!(second["total"], 3);
    assert_eq!(ids(&second), vec![r.an]);
    let past = list(&r, "?offset=5").await;
    assert_eq!(past["total"], 3);
    assert_eq!(ids(&past), Vec::<Uuid>::new());

    assert_eq!(
        names(&list(&r, "?sort=-name").await),
        ["Trần Thị An", "Lê Văn Cường", "Đỗ Văn Bình"]
    );
    assert_eq!(
        ids(&list(&r, "?sort=registered_on").await),
        vec![r.cuong, r.binh, r.an]
    );
    assert_eq!(
        ids(&list(&r, "?sort=-registered_on").await),
        vec![r.an, r.binh, r.cuong]
    );
    assert_eq!(
        ids(&list(&r, "?sort=-registered_on&limit=1&offset=1").await),
        vec![r.binh]
    );
    let district = r.app.token(Role::Auditor, "72").await;
    let by_unit = r.app.get("/api/v1/households?sort=unit", &district).await;
    assert_eq!(ids(&by_unit.body)[3], r.elsewhere, "{}", by_unit.text);
    let by_unit = r.app.get("/api/v1/households?sort=-unit", &district).await;
    assert_eq!(ids(&by_unit.body)[0], r.elsewhere, "{}", by_unit.text);

    for bad in ["age", "--name", "-", "name,unit"] {
        let reply = r
            .app
            .get(&format!("/api/v1/households?sort={bad}"), &r.officer)
            .await;
        assert_eq!(reply.problem(400)["field"], "sort", "{bad}: {}", reply.text);
    }
}

#[tokio::test]
async fn a_monitors_list_has_no_id_numbers_or_birth_years_and_is_logged() {
    let r = register_three().await;
    let monitor = r.app.token(Role::Monitor, "72").await;
    let reply = r.app.get("/api/v1/households?sort=name", &monitor).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["total"], 4);
    for key in ["id_number", "birth_year", "072178000123", "1978"] {
        assert!(!reply.text.contains(key), "{key} in {}", reply.text);
    }
    // Each household listed is a personal-data read in the access log, as with the search.
    let mut logged = 0_i64;
    for _ in 0..50 {
        logged = sqlx::query_scalar(
            "SELECT count(DISTINCT household_id) FROM access_log WHERE role = 'monitor'",
        )
        .fetch_one(&r.app.pool)
        .await
        .expect("count");
        if logged == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(logged, 4);
}

/// Surveys `id` on `surveyed_on` and decides `category` on `decided_on` with a reason.
async fn decide(r: &Register, id: Uuid, surveyed_on: &str, category: &str, decided_on: &str) {
    let base = format!("/api/v1/households/{id}");
    let s = survey(surveyed_on, 1_200_000, 3);
    let reply = r.app.post(&format!("{base}/surveys"), &r.officer, &s).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let mut d = decision(category, decided_on);
    d["reason"] = format!("họp bình xét {decided_on}").into();
    let reply = r
        .app
        .post(&format!("{base}/decisions"), &r.officer, &d)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

#[tokio::test]
async fn the_register_as_of_a_day_lists_each_household_as_it_stood_then() {
    let r = register_three().await;
    // Registered by then: Cường (10/01) and Bình (10/02), not An (10/03).
    let early = list(&r, "?as_of=2021-02-15").await;
    assert_eq!(early["total"], 2, "{early}");
    assert_eq!(ids(&early), vec![r.binh, r.cuong]);

    // Cường: poor from 2022-12-10, near poor from 2023-12-10.
    decide(&r, r.cuong, "2022-10-05", "poor", "2022-12-10").await;
    decide(&r, r.cuong, "2023-10-05", "near_poor", "2023-12-10").await;
    let poor = "&standard=vn-2022-2025&category=poor";
    let near_poor = "&standard=vn-2022-2025&category=near_poor";
    assert_eq!(
        ids(&list(&r, &format!("?as_of=2023-06-30{poor}")).await),
        vec![r.cuong]
    );
    assert_eq!(
        ids(&list(&r, &format!("?as_of=2023-06-30{near_poor}")).await),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        ids(&list(&r, &format!("?as_of=2022-12-09{poor}")).await),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        ids(&list(&r, &format!("?x=1{poor}")).await),
        Vec::<Uuid>::new()
    );
    assert_eq!(
        ids(&list(&r, &format!("?x=1{near_poor}")).await),
        vec![r.cuong]
    );

    // The status of one household as of then carries the decision's proposal and reason.
    let then = r
        .app
        .get(
            &format!("/api/v1/households/{}?as_of=2023-06-30", r.cuong),
            &r.officer,
        )
        .await;
    let standing = &then.body["status"]["vn-2022-2025"];
    assert_eq!(standing["category"], "poor", "{}", then.text);
    assert_eq!(standing["decision_reason"], "họp bình xét 2022-12-10");
    assert!(standing["proposed"].is_string(), "{}", then.text);
    let now = r
        .app
        .get(&format!("/api/v1/households/{}", r.cuong), &r.officer)
        .await;
    let standing = &now.body["status"]["vn-2022-2025"];
    assert_eq!(standing["category"], "near_poor", "{}", now.text);
    assert_eq!(standing["decision_reason"], "họp bình xét 2023-12-10");

    // Bình moves to the other commune on 2022-06-01: the district sees it in HOME as of 2022
    // and in OTHER now; the unit filter is the unit of the day.
    let province = r.app.token(Role::ProvinceOfficer, "72").await;
    let moved = r
        .app
        .post(
            &format!("/api/v1/households/{}/moves", r.binh),
            &province,
            &serde_json::json!({"moved_on": "2022-06-01", "unit_code": OTHER,
                                "hamlet": "Ấp Mới", "area": "rural"}),
        )
        .await;
    assert_eq!(moved.status, 201, "{}", moved.text);
    let auditor = r.app.token(Role::Auditor, "72").await;
    let at = |query: &'static str| {
        let (app, auditor) = (&r.app, &auditor);
        async move {
            let reply = app
                .get(&format!("/api/v1/households{query}"), auditor)
                .await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.text);
            reply.body
        }
    };
    let home_then = at("?unit=25459&as_of=2022-01-01").await;
    assert_eq!(ids(&home_then), vec![r.binh, r.cuong, r.an]);
    assert_eq!(home_then["items"][0]["hamlet"], "Ấp Một");
    assert_eq!(
        ids(&at("?unit=25459").await),
        vec![r.cuong, r.an],
        "Bình lives elsewhere now"
    );
    let other_then = at("?unit=25471&as_of=2022-01-01&sort=-name").await;
    assert_eq!(ids(&other_then), vec![r.elsewhere]);
    let other_now = at("?unit=25471&as_of=2022-06-01").await;
    assert_eq!(ids(&other_now), vec![r.binh, r.elsewhere]);
    assert_eq!(other_now["items"][0]["hamlet"], "Ấp Mới");
    // Sorting and paging apply to the past states.
    let by_day = at("?as_of=2022-01-01&sort=-registered_on&limit=2&offset=1").await;
    assert_eq!(by_day["total"], 4);
    assert_eq!(ids(&by_day), vec![r.binh, r.cuong]);
    let by_name = at("?as_of=2022-01-01&name=tran").await;
    assert_eq!(ids(&by_name), vec![r.an, r.elsewhere]);

    let bad = r
        .app
        .get("/api/v1/households?as_of=2022-13-01", &r.officer)
        .await;
    assert_eq!(bad.problem(400)["field"], "as_of", "{}", bad.text);
}

#[tokio::test]
async fn the_list_names_each_households_unit_as_it_was_named_on_the_day() {
    let r = register_three().await;
    // 25459 was "Phường 3" before the 2025 reorganisation reused its code.
    for (query, day) in [("", "2026-01-01"), ("?as_of=2021-12-31", "2021-12-31")] {
        let name: String = sqlx::query_scalar(
            "SELECT name FROM admin_units WHERE code = $1
                AND valid_from <= $2::date AND (valid_to IS NULL OR valid_to >= $2::date)",
        )
        .bind(HOME)
        .bind(day)
        .fetch_one(&r.app.pool)
        .await
        .expect("unit name");
        let body = list(&r, query).await;
        for item in body["items"].as_array().expect("items") {
            assert_eq!(item["unit_name"], name.as_str(), "{query}: {body}");
        }
    }
}
