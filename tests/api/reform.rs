//! `ansinh units reform` and the worklist: households carried across the 2025 merger of
//! communes as events, read before and after it, and split communes left to officers.

use ansinh::users::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common;
use crate::helpers::{decision, registration, spawn_app, survey, TestApp};

/// Runs `ansinh units reform ARGS` on the app's database; its JSON summary.
async fn reform(app: &TestApp, args: &[&str]) -> Value {
    let out = common::ansinh_async(app.db_url(), &[&["units", "reform"], args].concat()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary on stdout")
}

async fn register_in(app: &TestApp, token: &str, unit: &str, hamlet: &str) -> Uuid {
    let mut body = registration(unit);
    body["hamlet"] = json!(hamlet);
    let reply = app.post("/api/v1/households", token, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

/// Poor under vn-2022-2025 from its 2022 review.
async fn decide_poor(app: &TestApp, token: &str, id: Uuid) {
    let h = format!("/api/v1/households/{id}");
    let s = app
        .post(
            &format!("{h}/surveys"),
            token,
            &survey("2022-10-01", 900_000, 3),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    let d = app
        .post(
            &format!("{h}/decisions"),
            token,
            &decision("poor", "2022-11-15"),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.text);
}

/// The household's `household_moved` event as its history shows it.
async fn move_in_history(app: &TestApp, token: &str, id: Uuid) -> Value {
    let history = app
        .get(&format!("/api/v1/households/{id}/history"), token)
        .await;
    history.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "household_moved")
        .cloned()
        .unwrap_or_else(|| panic!("no move in {}", history.text))
}

async fn report(app: &TestApp, token: &str, unit: &str, year: i32) -> Value {
    app.projected().await;
    let reply = app
        .get(
            &format!("/api/v1/reports/movements?unit={unit}&from={year}-01-01&to={year}-12-31"),
            token,
        )
        .await;
    assert_eq!(reply.status, 200, "{unit} {year}: {}", reply.text);
    // The counts only: the position they are current to moves on with every event.
    let mut body = reply.body;
    body.as_object_mut()
        .and_then(|o| o.remove("current_to_position"))
        .expect("current_to_position");
    body
}

#[tokio::test]
async fn a_whole_commune_moves_with_the_resolution_and_the_past_reads_as_it_was() {
    let app = spawn_app().await;
    let old_tay_ninh = app.token(Role::ProvinceOfficer, "72").await;
    let province = app.token(Role::ProvinceOfficer, "80").await;
    let phuong_1 = register_in(&app, &old_tay_ninh, "25456", "Khu phố 1").await;
    decide_poor(&app, &old_tay_ninh, phuong_1).await;
    // Old Long An: the new province's officer covers its communes' past.
    let vinh_thanh = register_in(&app, &province, "27739", "Ấp Cả Bát").await;
    let before_commune = report(&app, &old_tay_ninh, "25456", 2024).await;
    let before_district = report(&app, &old_tay_ninh, "703", 2024).await;
    assert_eq!(before_commune["poor"]["closing"], 1, "{before_commune}");

    let dry = reform(&app, &["--dry-run"]).await;
    assert_eq!(
        (dry["moved"].as_i64(), dry["dry_run"].as_bool()),
        (Some(2), Some(true))
    );
    let unchanged = app
        .get(&format!("/api/v1/households/{phuong_1}"), &province)
        .await;
    assert_eq!(
        unchanged.body["unit_code"], "25456",
        "a dry run writes nothing"
    );

    let summary = reform(&app, &[]).await;
    assert_eq!(summary["moved"], 2, "{summary}");
    assert_eq!(summary["already_moved"], 0, "{summary}");
    assert_eq!(summary["unassigned"], 0, "{summary}");
    assert_eq!(summary["by_new_commune"]["25459"]["moved"], 1, "{summary}");
    assert_eq!(
        summary["by_new_commune"]["25459"]["name"],
        "Phường Tân Ninh"
    );
    assert_eq!(summary["by_new_commune"]["27721"]["moved"], 1, "{summary}");

    let now = app
        .get(&format!("/api/v1/households/{phuong_1}"), &province)
        .await;
    assert_eq!(now.status, 200, "{}", now.text);
    assert_eq!(now.body["unit_code"], "25459");
    assert_eq!(now.body["placed_on"], "2025-07-01");
    let then = app
        .get(
            &format!("/api/v1/households/{phuong_1}?as_of=2025-06-30"),
            &province,
        )
        .await;
    assert_eq!(then.body["unit_code"], "25456", "{}", then.text);
    let moved = move_in_history(&app, &province, phuong_1).await;
    assert_eq!(moved["legal_basis"], "1682/NQ-UBTVQH15", "{moved}");
    assert_eq!(moved["effective_on"], "2025-07-01");
    assert_eq!(moved["actor"]["role"], "system");
    assert_eq!(moved["data"]["unit_code"], "25459");
    let long_an = app
        .get(&format!("/api/v1/households/{vinh_thanh}"), &province)
        .await;
    assert_eq!(long_an.body["unit_code"], "27721", "{}", long_an.text);

    // Old Tây Ninh's officer no longer reaches a household placed in the new commune.
    let gone = app
        .get(&format!("/api/v1/households/{phuong_1}"), &old_tay_ninh)
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);

    // The new commune's 2025 report counts its predecessor's household from the start.
    let tan_ninh = report(&app, &province, "25459", 2025).await;
    assert_eq!(tan_ninh["poor"]["opening"], 1, "{tan_ninh}");
    assert_eq!(tan_ninh["poor"]["closing"], 1, "{tan_ninh}");
    assert_eq!(
        tan_ninh["poor"]["other_increase"], 0,
        "the reform is no move in"
    );
    // The past reports of the old units are what they were.
    assert_eq!(
        report(&app, &old_tay_ninh, "25456", 2024).await,
        before_commune
    );
    assert_eq!(
        report(&app, &old_tay_ninh, "703", 2024).await,
        before_district
    );

    let again = reform(&app, &[]).await;
    assert_eq!(again["moved"], 0, "{again}");
    assert_eq!(again["already_moved"], 2, "{again}");

    // The reform changes the status rows in place; folding every history again gives the same.
    let rows = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(s::text, E'\n' ORDER BY household_id) FROM household_status s",
        )
        .fetch_one(&app.pool)
        .await
        .expect("status rows")
    };
    let in_place = rows().await;
    let projections = ansinh_projections::rebuild::select(None).expect("projections");
    ansinh_projections::rebuild::rebuild(&app.pool, &projections, 100, |_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(rows().await, in_place);
}

#[tokio::test]
async fn a_split_commune_waits_for_an_officer_unless_a_hamlet_rule_places_it() {
    let app = spawn_app().await;
    let old_tay_ninh = app.token(Role::ProvinceOfficer, "72").await;
    // 25510 Xã Mỏ Công went partly to 25510 Xã Trà Vong and partly to 25549 Xã Tân Phú.
    let ruled = register_in(&app, &old_tay_ninh, "25510", "Ấp Hội Thanh").await;
    let waiting = register_in(&app, &old_tay_ninh, "25510", "Ấp Tân Thuận").await;
    let hamlets = std::env::temp_dir().join(format!("hamlets-{}.csv", Uuid::now_v7()));
    std::fs::write(
        &hamlets,
        "old_code,hamlet,new_code\n25510,ap hoi thanh,25549\n",
    )
    .expect("write the hamlet file");
    let hamlet_arg = hamlets.to_str().expect("path");
    let summary = reform(&app, &["--hamlets", hamlet_arg]).await;
    assert_eq!(
        (summary["moved"].as_i64(), summary["unassigned"].as_i64()),
        (Some(1), Some(1)),
        "{summary}"
    );
    assert_eq!(summary["by_new_commune"]["25549"]["moved"], 1, "{summary}");
    assert_eq!(
        summary["by_new_commune"]["25549"]["unassigned"], 1,
        "{summary}"
    );
    assert_eq!(
        summary["by_new_commune"]["25510"]["unassigned"], 1,
        "{summary}"
    );

    let officer = app.token(Role::CommuneOfficer, "25549").await;
    let placed = app
        .get(&format!("/api/v1/households/{ruled}"), &officer)
        .await;
    assert_eq!(placed.body["unit_code"], "25549", "{}", placed.text);

    let list = app
        .get("/api/v1/reform/worklist?unit=25549", &officer)
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["total"], 1, "{}", list.text);
    let item = &list.body["items"][0];
    assert_eq!(item["household_id"], waiting.to_string());
    assert_eq!(item["old_code"], "25510");
    assert_eq!(item["candidates"], json!(["25510", "25549"]));
    let elsewhere = app.token(Role::CommuneOfficer, "25486").await;
    let none = app.get("/api/v1/reform/worklist", &elsewhere).await;
    assert_eq!(none.body["total"], 0, "{}", none.text);

    let assign = format!("/api/v1/households/{waiting}/reform-assignment");
    let no_reason = app
        .post(
            &assign,
            &officer,
            &json!({"unit_code": "25549", "reason": " "}),
        )
        .await;
    assert_eq!(
        no_reason.problem(422)["field"],
        "reason",
        "{}",
        no_reason.text
    );
    let wrong = app
        .post(
            &assign,
            &officer,
            &json!({"unit_code": "25486", "reason": "nhầm"}),
        )
        .await;
    let problem = wrong.problem(422);
    assert_eq!(problem["field"], "unit_code", "{}", wrong.text);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("25549")),
        "{}",
        wrong.text
    );
    let done = app
        .post(
            &assign,
            &officer,
            &json!({"unit_code": "25549", "reason": "Ấp Tân Thuận về xã Tân Phú theo biên bản họp"}),
        )
        .await;
    assert_eq!(done.status, 201, "{}", done.text);
    let moved = move_in_history(&app, &officer, waiting).await;
    assert_eq!(moved["legal_basis"], "1682/NQ-UBTVQH15", "{moved}");
    assert_eq!(
        moved["reason"],
        "Ấp Tân Thuận về xã Tân Phú theo biên bản họp"
    );
    let twice = app
        .post(
            &assign,
            &officer,
            &json!({"unit_code": "25549", "reason": "lần hai"}),
        )
        .await;
    assert_eq!(
        twice.problem(422)["code"],
        "not_awaiting_assignment",
        "{}",
        twice.text
    );

    let again = reform(&app, &["--hamlets", hamlet_arg]).await;
    assert_eq!(
        (again["moved"].as_i64(), again["unassigned"].as_i64()),
        (Some(0), Some(0)),
        "{again}"
    );
    let _ = std::fs::remove_file(hamlets);
}

#[tokio::test]
async fn an_ended_commune_is_refused_after_the_reform_naming_what_replaced_it() {
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "80").await;
    let mut body = registration("25456");
    body["effective_on"] = json!("2026-03-01");
    let reply = app.post("/api/v1/households", &province, &body).await;
    let problem = reply.problem(422);
    assert_eq!(problem["field"], "unit_code", "{}", reply.text);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("25459 Phường Tân Ninh"), "{detail}");
    assert!(detail.contains("2025-07-01"), "{detail}");
    // 25507 was split between 25498 and 25549 (25510 was too, but its code lives on in a new
    // commune).
    let split = {
        let mut b = registration("25507");
        b["effective_on"] = json!("2026-03-01");
        app.post("/api/v1/households", &province, &b).await
    };
    let detail = split.problem(422)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("25498") && detail.contains("25549"),
        "{detail}"
    );
    // The new commune takes the registration.
    body["unit_code"] = json!("25459");
    let ok = app.post("/api/v1/households", &province, &body).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

/// The value of the hidden input `name` in a form's HTML.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the hidden input") + marker.len();
    let end = html[start..].find('"').expect("its end") + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn an_officer_assigns_a_household_of_a_split_commune_on_the_pages() {
    let app = spawn_app().await;
    let old_tay_ninh = app.token(Role::ProvinceOfficer, "72").await;
    // 25507 Xã Tân Phong went partly to 25498 Xã Thạnh Bình and partly to 25549 Xã Tân Phú.
    let id = register_in(&app, &old_tay_ninh, "25507", "Ấp Tân Đông").await;
    let summary = reform(&app, &[]).await;
    assert_eq!(summary["unassigned"], 1, "{summary}");
    let (cookie, _) = crate::helpers::signed_in(
        &app,
        "can_bo_tan_phu",
        Role::CommuneOfficer,
        "25549",
        "mat-khau-du-dai-123",
    )
    .await;
    let client = crate::helpers::page_client();
    let get = |path: String| {
        let (client, cookie, base) = (&client, &cookie, &app.base);
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, cookie.as_str())
                .send()
                .await
                .expect("get");
            (r.status(), r.text().await.expect("html"))
        }
    };
    let (status, html) = get("/reform".into()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Nguyễn Thị Lan") && html.contains("25507 Xã Tân Phong"),
        "{html}"
    );
    assert!(html.contains("25498 Xã Thạnh Bình"), "{html}");
    let form_path = format!("/households/{id}/reform-assignment/new");
    assert!(html.contains(&form_path), "{html}");

    let (status, html) = get(form_path.clone()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"<option value="25549">25549 Xã Tân Phú</option>"#),
        "{html}"
    );
    let post = |pairs: Vec<(&'static str, String)>| {
        let (client, cookie, base, path) = (&client, &cookie, &app.base, &form_path);
        async move {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            let r = client
                .post(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, cookie.as_str())
                .header(reqwest::header::ORIGIN, base.as_str())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("post");
            let location = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (r.status(), location, r.text().await.expect("html"))
        }
    };
    let version = hidden(&html, "version");
    let key = hidden(&html, "idempotency_key");
    let (status, _, refused) = post(vec![
        ("version", version.clone()),
        ("idempotency_key", key.clone()),
        ("unit_code", "25549".into()),
        ("hamlet", "Ấp Tân Đông".into()),
        ("reason", "".into()),
    ])
    .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains(r#"id="err-reason""#), "{refused}");
    let (status, location, html) = post(vec![
        ("version", version),
        ("idempotency_key", hidden(&refused, "idempotency_key")),
        ("unit_code", "25549".into()),
        ("hamlet", "Ấp Tân Đông".into()),
        (
            "reason",
            "Ấp Tân Đông về xã Tân Phú theo biên bản họp dân".into(),
        ),
    ])
    .await;
    assert_eq!(status, 303, "{html}");
    assert_eq!(location, Some(format!("/households/{id}?saved=reform")));
    let (_, html) = get("/reform".into()).await;
    assert!(html.contains("Không có hộ nào chờ xếp."), "{html}");
    let now = app
        .get(&format!("/api/v1/households/{id}"), &old_tay_ninh)
        .await;
    assert_eq!(
        now.status, 404,
        "moved out of old Tây Ninh's reach: {}",
        now.text
    );
}

#[tokio::test]
async fn a_run_that_stopped_part_way_is_finished_by_the_next_and_moves_each_household_once() {
    let app = spawn_app().await;
    let old_tay_ninh = app.token(Role::ProvinceOfficer, "72").await;
    let first = register_in(&app, &old_tay_ninh, "25456", "Khu phố 1").await;
    let second = register_in(&app, &old_tay_ninh, "25486", "Khu phố 2").await;
    // What a crash after the first page leaves: one household moved, the other not.
    let part = std::env::temp_dir().join(format!("mapping-{}.csv", Uuid::now_v7()));
    std::fs::write(
        &part,
        "old_code,old_name,new_code,new_name,whole\n25456,Phường 1,25459,Phường Tân Ninh,yes\n",
    )
    .expect("write the partial mapping");
    let stopped = reform(&app, &["--mapping", part.to_str().expect("path")]).await;
    assert_eq!(stopped["moved"], 1, "{stopped}");
    let finished = reform(&app, &[]).await;
    assert_eq!(finished["moved"], 1, "{finished}");
    assert_eq!(finished["already_moved"], 1, "{finished}");
    let province = app.token(Role::ProvinceOfficer, "80").await;
    for (id, unit) in [(first, "25459"), (second, "25486")] {
        let h = app
            .get(&format!("/api/v1/households/{id}"), &province)
            .await;
        assert_eq!(h.body["unit_code"], unit, "{}", h.text);
        let history = app
            .get(&format!("/api/v1/households/{id}/history"), &province)
            .await;
        let moves = history.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "household_moved")
            .count();
        assert_eq!(moves, 1, "{}", history.text);
    }
    let _ = std::fs::remove_file(part);
}
