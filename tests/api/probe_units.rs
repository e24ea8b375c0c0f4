//! The holes an outside probe found (issue 10), reproduced: an admin taking over other units,
//! households placed in provinces, districts and other districts' communes, `merged_into`
//! naming anything, 403-versus-404 telling which households exist, and idempotency keys shared
//! between users.

use ansinh::users::Role;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{decision, registration, spawn_app, support, survey, Reply, TestApp};

/// A unit row for `POST /api/v1/units`.
fn row(code: &str, level: &str, parent: Option<&str>, from: &str, to: Option<&str>) -> Value {
    json!({"code": code, "name": format!("Đơn vị {code}"), "level": level,
           "parent_code": parent, "valid_from": from, "valid_to": to})
}

async fn post_units(app: &TestApp, token: &str, rows: &[Value]) -> Reply {
    app.post("/api/v1/units", token, &json!({ "units": rows }))
        .await
}

/// The stored (level, parent) of the version of `code` valid from `from`.
async fn stored_unit(app: &TestApp, code: &str, from: &str) -> Option<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT level, parent_code FROM admin_units WHERE code = $1 AND valid_from = $2::date",
    )
    .bind(code)
    .bind(from)
    .fetch_optional(&app.pool)
    .await
    .expect("query")
}

#[tokio::test]
async fn a_commune_admin_cannot_take_over_a_sibling_or_redefine_its_own_unit() {
    let app = spawn_app().await;
    let sibling_officer = app.token(Role::CommuneOfficer, "25459").await;
    let household = app.register(&sibling_officer, "25459").await;
    let admin = app.token(Role::Admin, "25456").await;

    // The probe: commune 25459 re-parented under commune 25456.
    let take_over = row(
        "25459",
        "commune",
        Some("25456"),
        "2000-01-01",
        Some("2025-06-30"),
    );
    let r = post_units(&app, &admin, &[take_over]).await;
    assert!(r.problem(403)["detail"]
        .as_str()
        .expect("detail")
        .starts_with("units[0]"));
    assert_eq!(
        stored_unit(&app, "25459", "2000-01-01").await,
        Some(("commune".into(), Some("703".into())))
    );
    let officer = app.token(Role::CommuneOfficer, "25456").await;
    app.get(&format!("/api/v1/households/{household}"), &officer)
        .await
        .problem(404);

    // Its own unit made a province with no parent: above its scope.
    let promoted = row("25456", "province", None, "2000-01-01", Some("2025-06-30"));
    post_units(&app, &admin, &[promoted]).await.problem(403);
    let moved = row(
        "25456",
        "commune",
        Some("705"),
        "2000-01-01",
        Some("2025-06-30"),
    );
    post_units(&app, &admin, &[moved]).await.problem(403);
    assert_eq!(
        stored_unit(&app, "25456", "2000-01-01").await,
        Some(("commune".into(), Some("703".into())))
    );
    // Its own unit's name is its own to keep.
    let renamed = row(
        "25456",
        "commune",
        Some("703"),
        "2000-01-01",
        Some("2025-06-30"),
    );
    let r = post_units(&app, &admin, &[renamed]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A province admin may not move its own province either.
    let province_admin = app.token(Role::Admin, "72").await;
    let under = row(
        "72",
        "province",
        Some("80"),
        "2000-01-01",
        Some("2025-06-30"),
    );
    post_units(&app, &province_admin, &[under])
        .await
        .problem(403);
}

#[tokio::test]
async fn re_parenting_takes_an_admin_strictly_above_both_parents() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let household = app.register(&officer, "25459").await;
    let to_705 = row(
        "25459",
        "commune",
        Some("705"),
        "2000-01-01",
        Some("2025-06-30"),
    );
    let to_72 = row(
        "25459",
        "commune",
        Some("72"),
        "2000-01-01",
        Some("2025-06-30"),
    );

    // District 703 is the old parent, not above it; nor does it cover 705 or 72.
    let district_admin = app.token(Role::Admin, "703").await;
    post_units(&app, &district_admin, std::slice::from_ref(&to_705))
        .await
        .problem(403);
    post_units(&app, &district_admin, std::slice::from_ref(&to_72))
        .await
        .problem(403);
    // Province 72 is the new parent in the second move, so not strictly above it.
    let province_admin = app.token(Role::Admin, "72").await;
    post_units(&app, &province_admin, &[to_72])
        .await
        .problem(403);
    assert_eq!(
        stored_unit(&app, "25459", "2000-01-01").await,
        Some(("commune".into(), Some("703".into())))
    );
    // Above both 703 and 705: the move is made, and scopes follow at once.
    let r = post_units(&app, &province_admin, &[to_705]).await;
    assert_eq!(r.body["updated"], 1, "{}", r.text);
    let path = format!("/api/v1/households/{household}");
    let d705 = app.token(Role::DistrictOfficer, "705").await;
    assert_eq!(app.get(&path, &d705).await.status, 200);
    let d703 = app.token(Role::DistrictOfficer, "703").await;
    app.get(&path, &d703).await.problem(404);
    // A district admin still adds communes of its own.
    let new = row(
        "99001",
        "commune",
        Some("703"),
        "2021-01-01",
        Some("2025-06-30"),
    );
    let r = post_units(&app, &district_admin, &[new]).await;
    assert_eq!(r.body["added"], 1, "{}", r.text);
}

#[tokio::test]
async fn unit_rows_that_break_the_hierarchy_are_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, "72").await;
    let field = |r: &Reply| r.problem(422)["field"].as_str().expect("field").to_owned();

    let good = row(
        "99001",
        "commune",
        Some("703"),
        "2021-01-01",
        Some("2024-12-31"),
    );
    let under_commune = row(
        "99002",
        "commune",
        Some("25456"),
        "2021-01-01",
        Some("2024-12-31"),
    );
    let r = post_units(&app, &admin, &[good, under_commune]).await;
    assert_eq!(field(&r), "units[1].parent_code");
    assert_eq!(stored_unit(&app, "99001", "2021-01-01").await, None);

    let district_under_district = row("719", "district", Some("703"), "2021-01-01", None);
    let r = post_units(&app, &admin, &[district_under_district]).await;
    assert_eq!(field(&r), "units[0].parent_code");
    let province_with_parent = row("99003", "province", Some("72"), "2021-01-01", None);
    let r = post_units(&app, &admin, &[province_with_parent]).await;
    assert_eq!(field(&r), "units[0].parent_code");
    // District 703 ends on 2025-06-30; the commune would outlive it.
    let outlives = row("99004", "commune", Some("703"), "2021-01-01", None);
    let r = post_units(&app, &admin, &[outlives]).await;
    assert_eq!(field(&r), "units[0].valid_to");
    // Code 80 names old Long An from 2000-01-01 (then the new Tây Ninh); the commune would
    // start before it.
    let early = row("99005", "commune", Some("80"), "1999-01-01", None);
    let admin80 = app.token(Role::Admin, "80").await;
    let r = post_units(&app, &admin80, &[early]).await;
    assert_eq!(field(&r), "units[0].valid_from");
    // Ending district 703 early would leave its communes without a district.
    let shortened = row(
        "703",
        "district",
        Some("72"),
        "2013-12-30",
        Some("2020-12-31"),
    );
    let r = post_units(&app, &admin, &[shortened]).await;
    assert_eq!(field(&r), "units[0].valid_to");
    assert!(
        r.body["detail"].as_str().expect("detail").contains("25456"),
        "{}",
        r.text
    );
    // A new province is above every admin.
    let province = row("99006", "province", None, "2021-01-01", None);
    post_units(&app, &admin, &[province]).await.problem(403);

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_units WHERE code LIKE '99%'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);
    assert_eq!(
        stored_unit(&app, "703", "2013-12-30").await,
        Some(("district".into(), Some("72".into())))
    );
}

/// A move of `household` to `unit` on `on`.
async fn move_to(app: &TestApp, token: &str, household: Uuid, unit: &str, on: &str) -> Reply {
    let body = json!({"moved_on": on, "unit_code": unit, "hamlet": "Khu phố 2", "area": "urban"});
    app.post(
        &format!("/api/v1/households/{household}/moves"),
        token,
        &body,
    )
    .await
}

#[tokio::test]
async fn households_are_placed_only_in_communes_valid_on_the_day_and_in_scope() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25456").await;
    let household = app.register(&officer, "25456").await;
    let events = app.event_count().await;

    // Not communes: 422 on unit_code, whoever asks.
    for unit in ["72", "703"] {
        let r = move_to(&app, &officer, household, unit, "2022-02-01").await;
        assert_eq!(r.problem(422)["field"], "unit_code", "{unit}");
    }
    // 25456 ended on 2025-06-30.
    let r = move_to(&app, &officer, household, "25456", "2025-08-01").await;
    assert_eq!(r.problem(422)["field"], "unit_code");
    // Communes, but outside the officer's unit: a sibling and another district's.
    for unit in ["25459", "25486"] {
        move_to(&app, &officer, household, unit, "2022-02-01")
            .await
            .problem(403);
    }
    assert_eq!(app.event_count().await, events, "nothing was recorded");
    // A district officer covers both the household's commune and its sibling.
    let district = app.token(Role::DistrictOfficer, "703").await;
    let r = move_to(&app, &district, household, "25459", "2022-02-01").await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Registration: a province officer may not register at the province or a district.
    let province = app.token(Role::ProvinceOfficer, "72").await;
    for unit in ["72", "703"] {
        let r = app
            .post("/api/v1/households", &province, &registration(unit))
            .await;
        assert_eq!(r.problem(422)["field"], "unit_code", "{unit}");
    }
    app.register(&province, "25486").await;

    // A correction cannot place the registration where a registration could not be.
    let other = app.register(&officer, "25456").await;
    let correct = |unit: &str| json!({"corrects_sequence": 1, "reason": "wrong commune", "replacement": registration(unit)});
    let path = format!("/api/v1/households/{other}/corrections");
    let r = app.post(&path, &officer, &correct("703")).await;
    assert_eq!(r.problem(422)["field"], "replacement.unit_code");
    app.post(&path, &officer, &correct("25486"))
        .await
        .problem(403);
}

#[tokio::test]
async fn merged_into_must_name_another_household_the_user_may_see() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25456").await;
    let closing = app.register(&officer, "25456").await;
    let target = app.register(&officer, "25456").await;
    let elsewhere = app
        .register(&app.token(Role::CommuneOfficer, "25459").await, "25459")
        .await;
    let path = format!("/api/v1/households/{closing}/closure");
    let close =
        |into: Uuid| json!({"closed_on": "2023-01-01", "reason": "merged", "merged_into": into});

    for into in [Uuid::now_v7(), elsewhere] {
        let r = app.post(&path, &officer, &close(into)).await;
        let problem = r.problem(422);
        assert_eq!(problem["field"], "merged_into");
        assert_eq!(problem["detail"], format!("household {into} was not found"));
    }
    let r = app.post(&path, &officer, &close(closing)).await;
    assert_eq!(r.problem(422)["field"], "merged_into");
    let r = app.post(&path, &officer, &close(target)).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// A problem document with the household id and the request id taken out.
fn shape(reply: &Reply, id: Uuid) -> Value {
    let mut body = reply.body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.remove("request_id");
        if let Some(detail) = obj.get_mut("detail") {
            *detail = json!(detail
                .as_str()
                .unwrap_or_default()
                .replace(&id.to_string(), "{id}"));
        }
    }
    body
}

#[tokio::test]
async fn a_household_outside_the_users_units_answers_exactly_as_an_unknown_one() {
    let app = spawn_app().await;
    let owner = app.token(Role::CommuneOfficer, "25459").await;
    let hidden = app.register(&owner, "25459").await;
    let unknown = Uuid::now_v7();
    let officer = app.token(Role::CommuneOfficer, "25456").await;
    let requests: [(Method, &str, Option<Value>); 10] = [
        (Method::GET, "", None),
        (Method::GET, "/history", None),
        (Method::GET, "/verify", None),
        (
            Method::POST,
            "/surveys",
            Some(survey("2022-10-05", 1_200_000, 3)),
        ),
        (
            Method::POST,
            "/decisions",
            Some(decision("poor", "2022-12-10")),
        ),
        (
            Method::POST,
            "/supports",
            Some(support(46_000, "2023-03-01")),
        ),
        (
            Method::POST,
            "/corrections",
            Some(
                json!({"corrects_sequence": 1, "reason": "typo", "replacement": registration("25456")}),
            ),
        ),
        (
            Method::POST,
            "/member-changes",
            Some(
                json!({"changed_on": "2022-01-15", "removed": [{"name": "Trần Văn Nam",
                        "birth_year": 2005, "reason": "moved_away"}]}),
            ),
        ),
        (
            Method::POST,
            "/moves",
            Some(
                json!({"moved_on": "2022-02-01", "unit_code": "25456", "hamlet": "Khu phố 2", "area": "urban"}),
            ),
        ),
        (
            Method::POST,
            "/closure",
            Some(json!({"closed_on": "2023-01-01", "reason": "dissolved"})),
        ),
    ];
    for (method, tail, body) in &requests {
        let mut shapes = Vec::new();
        for id in [hidden, unknown] {
            let path = format!("/api/v1/households/{id}{tail}");
            let r = app
                .request(method.clone(), &path, Some(&officer), body.as_ref(), &[])
                .await;
            r.problem(404);
            shapes.push(shape(&r, id));
        }
        assert_eq!(shapes[0], shapes[1], "{method} {tail}");
        assert_eq!(shapes[0]["detail"], "household {id} was not found");
    }
    assert_eq!(app.event_count().await, 1, "nothing was recorded");
    // A role refusal stays 403, for any household.
    let monitor = app.token(Role::Monitor, "25456").await;
    for id in [hidden, unknown] {
        app.post(
            &format!("/api/v1/households/{id}/supports"),
            &monitor,
            &support(46_000, "2023-03-01"),
        )
        .await
        .problem(403);
    }
}

#[tokio::test]
async fn two_users_with_the_same_idempotency_key_each_get_their_own_result() {
    let app = spawn_app().await;
    let first = app.token(Role::CommuneOfficer, "25459").await;
    let second = app.token(Role::CommuneOfficer, "25459").await;
    let body = registration("25459");
    let key = [("Idempotency-Key", "shared-key")];
    let send = |token: String| {
        let (app, body) = (&app, &body);
        async move {
            let r = app
                .request(
                    Method::POST,
                    "/api/v1/households",
                    Some(&token),
                    Some(body),
                    &key,
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let replayed = r.headers.contains_key("idempotent-replayed");
            (r.body["id"].as_str().expect("id").to_owned(), replayed)
        }
    };
    let (a, a_replayed) = send(first.clone()).await;
    let (b, b_replayed) = send(second.clone()).await;
    assert_ne!(a, b, "each user gets a household of their own");
    assert!(!a_replayed && !b_replayed);
    assert_eq!(app.event_count().await, 2);
    // Each one's retry answers with that user's own first result.
    assert_eq!(send(first).await, (a, true));
    assert_eq!(send(second).await, (b, true));
    assert_eq!(app.event_count().await, 2);
}
