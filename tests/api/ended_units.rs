//! Units that ended in the 2025 reform (district 703, old commune 25456, old province 72):
//! their users are told so on every response and page and can be moved by `ansinh users`;
//! reports past a unit's end are refused with what replaced it; a new commune's report counts
//! its predecessors' households; reading is scoped by the day a household was placed.

use ansinh::store::EventLog;
use ansinh::users::{self, Role};
use ansinh_events::household::{Area, Command, HouseholdCommand, HouseholdMoved};
use ansinh_events::{Actor, CommandContext, Source};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common;
use crate::helpers::{decision, page_client, registration, signed_in, spawn_app, survey, TestApp};

const NOTICE: &str = "ansinh-unit-notice";

/// A household registered in `unit` on `day`, surveyed poor and decided poor in 2022 when
/// `poor` (the officer must be of `unit`).
async fn household(app: &TestApp, officer: &str, unit: &str, day: &str, poor: bool) -> Uuid {
    let mut body = registration(unit);
    body["effective_on"] = json!(day);
    let reply = app.post("/api/v1/households", officer, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id: Uuid = reply.body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    if poor {
        let base = format!("/api/v1/households/{id}");
        let surveyed = app
            .post(
                &format!("{base}/surveys"),
                officer,
                &survey("2022-10-05", 1_200_000, 3),
            )
            .await;
        assert_eq!(surveyed.status, StatusCode::CREATED, "{}", surveyed.text);
        let decided = app
            .post(
                &format!("{base}/decisions"),
                officer,
                &decision("poor", "2022-12-10"),
            )
            .await;
        assert_eq!(decided.status, StatusCode::CREATED, "{}", decided.text);
    }
    id
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let response = page_client()
        .get(format!("{}{path}", app.base))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .expect("page");
    let status = response.status();
    let html = response.text().await.expect("html");
    // The templates escape `/` and `'` in text; the assertions read it as shown.
    (status, html.replace("&#x2f;", "/").replace("&#x27;", "'"))
}

fn movements(unit: &str, from: &str, to: &str) -> String {
    format!("/api/v1/reports/movements?unit={unit}&from={from}&to={to}&standard=vn-2022-2025")
}

/// Opening + increases − decreases = closing, in both tables.
fn assert_balances(report: &Value) {
    for table in ["poor", "near_poor"] {
        let t = &report[table];
        let n = |k: &str| {
            t[k].as_i64()
                .unwrap_or_else(|| panic!("{table}.{k}: {report}"))
        };
        assert_eq!(
            n("opening") + n("increases") - n("decreases"),
            n("closing"),
            "{table}: {report}"
        );
    }
}

#[tokio::test]
async fn a_user_of_an_ended_unit_is_told_on_every_response_and_page_and_keeps_working() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25456").await;
    let id = household(&app, &officer, "25456", "2022-01-15", false).await;

    // The commune officer of old 25456: the notice names the new commune, in ASCII.
    let reply = app.get(&format!("/api/v1/households/{id}"), &officer).await;
    assert_eq!(reply.status, StatusCode::OK, "still works: {}", reply.text);
    let notice = reply.headers[NOTICE].to_str().expect("ASCII header");
    assert!(
        notice.starts_with("unit 25456 (Phuong 1) ended on 2025-06-30; "),
        "{notice}"
    );
    assert!(notice.contains("25459 Phuong Tan Ninh"), "{notice}");
    assert!(notice.ends_with("ask an admin to move this user (ansinh users set-unit)"));

    // District 703 was abolished: its province's successor is named. Refusals carry it too.
    let (district_user, district) =
        users::create(&app.pool, "Huyện Cũ", Role::DistrictOfficer, "703")
            .await
            .expect("user");
    let reply = app
        .get(&format!("/api/v1/households/{id}"), &district)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let notice = reply.headers[NOTICE].to_str().expect("ASCII header");
    assert!(notice.starts_with("unit 703 ("), "{notice}");
    assert!(notice.contains("ended on 2025-06-30"), "{notice}");
    assert!(notice.contains("80 Tinh Tay Ninh"), "{notice}");
    let refused = app.get("/api/v1/access-log", &district).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.headers.contains_key(NOTICE));

    // A user of the new province is told nothing.
    let province = app.token(Role::ProvinceOfficer, "80").await;
    let reply = app
        .get(&format!("/api/v1/households/{id}"), &province)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(!reply.headers.contains_key(NOTICE), "{:?}", reply.headers);

    // An admin cannot move the user into an ended unit; moved into the new province, the user
    // is told nothing from the next request on.
    let admin = app.token(Role::Admin, "80").await;
    let path = format!("/api/v1/users/{}", district_user.id);
    let patch = |body: Value| {
        let path = path.clone();
        let admin = admin.clone();
        let app = &app;
        async move {
            app.request(
                reqwest::Method::PATCH,
                &path,
                Some(&admin),
                Some(&body),
                &[],
            )
            .await
        }
    };
    let refused = patch(json!({"unit_code": "25456"})).await;
    let problem = refused.problem(422);
    assert_eq!(problem["field"], "unit_code");
    assert_eq!(problem["code"], "unit_not_valid");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("25459 Phường Tân Ninh")),
        "{problem}"
    );
    let moved = patch(json!({"unit_code": "80"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    let reply = app
        .get(&format!("/api/v1/households/{id}"), &district)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(!reply.headers.contains_key(NOTICE), "{:?}", reply.headers);

    // Every page shows the banner, in the page's language.
    let (cookie, _) = signed_in(
        &app,
        "huyen",
        Role::DistrictOfficer,
        "703",
        "mat-khau-dai-1",
    )
    .await;
    let (status, html) = page(&app, "/", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("class=\"warning unit-notice\""), "{html}");
    assert!(html.contains("Đơn vị 703 ("), "{html}");
    assert!(html.contains("đã kết thúc ngày 30/06/2025"), "{html}");
    assert!(html.contains("80 Tỉnh Tây Ninh"), "{html}");
    let (_, html) = page(&app, &format!("/households/{id}?lang=en"), &cookie).await;
    assert!(
        html.contains("This account&#x27;s unit 703 (")
            || html.contains("This account's unit 703 ("),
        "{html}"
    );
    assert!(html.contains("ended on 2025-06-30"), "{html}");
    let (cookie, _) = signed_in(
        &app,
        "tinh-moi",
        Role::ProvinceOfficer,
        "80",
        "mat-khau-dai-2",
    )
    .await;
    let (status, html) = page(&app, "/", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("unit-notice"), "{html}");
}

/// Runs `ansinh ARGS` on `db`; exit code, stdout, stderr.
async fn ansinh(db_url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::ansinh_async(db_url, args).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn unit_of(db: &common::TestDb, id: Uuid) -> String {
    users::by_id(&db.pool, id)
        .await
        .expect("query")
        .expect("user")
        .user
        .unit_code
}

#[tokio::test]
async fn users_move_to_units_valid_today_and_never_into_an_ended_one() {
    let db = common::migrated_db().await;
    let (hoa, _) = users::create(&db.pool, "Lê Thị Hoa", Role::DistrictOfficer, "703")
        .await
        .expect("user");
    let (lan, _) = users::create(&db.pool, "Trần Thị Lan", Role::Monitor, "703")
        .await
        .expect("user");
    let (minh, _) = users::create(&db.pool, "Võ Văn Minh", Role::Auditor, "703")
        .await
        .expect("user");
    let (other, _) = users::create(&db.pool, "Ngô Văn Xã", Role::CommuneOfficer, "25456")
        .await
        .expect("user");

    // An ended commune is refused, naming what replaced it; nothing changes.
    let (code, out, err) = ansinh(
        &db.url,
        &["users", "set-unit", &hoa.id.to_string(), "25456"],
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("unit 25456 is not valid today"), "{err}");
    assert!(err.contains("ended on 2025-06-30"), "{err}");
    assert!(err.contains("25459 Phường Tân Ninh"), "{err}");
    assert_eq!(unit_of(&db, hoa.id).await, "703");
    // So is an ended province, and an unknown user or unit.
    let (code, _, err) = ansinh(&db.url, &["users", "move", "--from", "703", "--to", "72"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("80 Tỉnh Tây Ninh"), "{err}");
    let (code, _, err) = ansinh(&db.url, &["users", "set-unit", "Không Ai", "80"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no user is named"), "{err}");
    let (code, _, err) = ansinh(&db.url, &["users", "set-unit", "Lê Thị Hoa", "99999"]).await;
    assert_eq!(code, Some(2), "{err}");

    // One user by name.
    let (code, out, err) = ansinh(&db.url, &["users", "set-unit", "Lê Thị Hoa", "80"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        format!(
            "moved Lê Thị Hoa ({}, district_officer): unit 703 → 80\n",
            hoa.id
        )
    );
    assert_eq!(unit_of(&db, hoa.id).await, "80");

    // The rest of 703 in bulk: a dry run first changes nothing.
    let (code, out, err) = ansinh(
        &db.url,
        &["users", "move", "--from", "703", "--to", "80", "--dry-run"],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        format!(
            "would move Trần Thị Lan ({}, monitor): unit 703 → 80\n\
             would move Võ Văn Minh ({}, auditor): unit 703 → 80\n",
            lan.id, minh.id
        )
    );
    assert!(err.contains("dry run"), "{err}");
    assert_eq!(unit_of(&db, lan.id).await, "703");
    let (code, out, _) = ansinh(&db.url, &["users", "move", "--from", "703", "--to", "80"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.starts_with("moved ")), "{out}");
    assert_eq!(unit_of(&db, lan.id).await, "80");
    assert_eq!(unit_of(&db, minh.id).await, "80");
    assert_eq!(
        unit_of(&db, other.id).await,
        "25456",
        "other units untouched"
    );
    // The moved users' unit is valid: the cache no longer finds it ended.
    let cache = users::UserCache::new(users::UserCache::TTL);
    let (_, token) = users::create(&db.pool, "Mới", Role::Monitor, "703")
        .await
        .expect("user");
    let before = cache
        .authenticate(&db.pool, &token)
        .await
        .expect("query")
        .expect("user");
    assert!(before.unit_ended.is_some());
    let fresh = users::authenticate(&db.pool, &token)
        .await
        .expect("q")
        .expect("u");
    let (code, _, err) = ansinh(&db.url, &["users", "set-unit", &fresh.id.to_string(), "80"]).await;
    assert_eq!(code, Some(0), "{err}");
    cache.forget(fresh.id);
    let after = cache
        .authenticate(&db.pool, &token)
        .await
        .expect("query")
        .expect("user");
    assert_eq!(after.unit_code, "80");
    assert!(after.unit_ended.is_none());
}

#[tokio::test]
async fn a_report_past_the_units_end_is_refused_with_what_replaced_it() {
    let app = spawn_app().await;
    let auditor = app.token(Role::Auditor, "80").await;
    for (unit, from, to, successor) in [
        ("703", "2025-01-01", "2025-12-31", "80 Tỉnh Tây Ninh"),
        ("25456", "2026-01-01", "2026-06-30", "25459 Phường Tân Ninh"),
        ("72", "2024-01-01", "2025-07-01", "80 Tỉnh Tây Ninh"),
    ] {
        for format in ["json", "xlsx"] {
            let reply = app
                .get(
                    &format!("{}&format={format}", movements(unit, from, to)),
                    &auditor,
                )
                .await;
            let problem = reply.problem(422);
            assert_eq!(problem["code"], "unit_ended", "{unit}");
            assert_eq!(problem["field"], "to");
            let detail = problem["detail"].as_str().expect("detail");
            assert!(detail.contains(&format!("unit {unit} (")), "{detail}");
            assert!(detail.contains("ended on 2025-06-30"), "{detail}");
            assert!(detail.contains(successor), "{detail}");
        }
    }
    // Up to its last day it is a report as before.
    let reply = app
        .get(&movements("703", "2025-01-01", "2025-06-30"), &auditor)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // The command line says the same and exits 2.
    let (code, out, err) = ansinh(
        app.db_url(),
        &[
            "report",
            "movements",
            "--unit",
            "703",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty(), "no table of zeros: {out}");
    assert!(err.contains("--to: unit 703 ("), "{err}");
    assert!(err.contains("80 Tỉnh Tây Ninh"), "{err}");

    // The page says it above the form, and a user of 72 sees 72's last half-year by default.
    let (cookie, _) = signed_in(
        &app,
        "tinh-cu",
        Role::ProvinceOfficer,
        "72",
        "mat-khau-dai-3",
    )
    .await;
    let (status, html) = page(
        &app,
        "/reports/movements?unit=703&from=2025-01-01&to=2025-12-31",
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Không lập báo cáo cho kỳ này"), "{html}");
    assert!(html.contains("80 Tỉnh Tây Ninh"), "{html}");
    assert!(html.contains("name=\"to\" value=\"2025-12-31\""), "{html}");
    let (status, html) = page(&app, "/reports/movements", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("01/01/2025 – 30/06/2025"), "{html}");
}

#[tokio::test]
async fn a_new_communes_report_counts_its_predecessors_and_the_reform_move_is_internal() {
    let app = spawn_app().await;
    let tay_ninh = app.token(Role::CommuneOfficer, "25456").await;
    let long_an = app.token(Role::CommuneOfficer, "27739").await;
    let auditor = app.token(Role::Auditor, "80").await;
    let moved = household(&app, &tay_ninh, "25456", "2022-01-15", true).await;
    let stayed = household(&app, &long_an, "27739", "2022-02-01", true).await;

    let numbers = |reply: crate::helpers::Reply| {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        json!({
            "poor": reply.body["poor"],
            "near_poor": reply.body["near_poor"],
            "breakdowns": reply.body["breakdowns"],
        })
    };
    app.projected().await;
    let old_commune = numbers(
        app.get(&movements("25456", "2024-01-01", "2024-12-31"), &auditor)
            .await,
    );
    let district = numbers(
        app.get(&movements("703", "2024-01-01", "2024-12-31"), &auditor)
            .await,
    );
    assert_eq!(old_commune["poor"]["closing"], 1, "{old_commune}");
    assert_eq!(district["poor"]["closing"], 1, "{district}");

    // The reform moves the household into new 25459 as the system does: a reassignment with the
    // resolution in its envelope.
    let log = EventLog::new(app.pool.clone()).await.expect("log");
    let day = "2025-07-01".parse().expect("date");
    let versions = ansinh_projections::units::by_code(&app.pool, "25459")
        .await
        .expect("units");
    let command = Command {
        ctx: CommandContext::new(
            moved,
            Actor::system("reform"),
            Source::Cli,
            chrono::Utc::now(),
        ),
        action: HouseholdCommand::Reassign {
            moved: HouseholdMoved {
                moved_on: day,
                unit_code: "25459".into(),
                hamlet: "Khu phố 1".into(),
                area: Area::Urban,
            },
            unit: ansinh_projections::units::placement_record(&versions, day),
            legal_basis: "1682/NQ-UBTVQH15".into(),
            reason: None,
        },
    };
    let appended = log.execute_retrying(command).await.expect("reassigned");
    assert_eq!(
        appended.events[0].meta.legal_basis.as_deref(),
        Some("1682/NQ-UBTVQH15")
    );
    app.projected().await;

    // 2024 is as it was.
    assert_eq!(
        numbers(
            app.get(&movements("25456", "2024-01-01", "2024-12-31"), &auditor)
                .await
        ),
        old_commune
    );
    assert_eq!(
        numbers(
            app.get(&movements("703", "2024-01-01", "2024-12-31"), &auditor)
                .await
        ),
        district
    );

    // The new commune's 2025 counts its predecessor's household from the start; the move into it
    // is neither an increase nor a decrease.
    let new_commune = app
        .get(&movements("25459", "2025-01-01", "2025-12-31"), &auditor)
        .await;
    assert_eq!(new_commune.status, StatusCode::OK, "{}", new_commune.text);
    let poor = &new_commune.body["poor"];
    assert_eq!(poor["opening"], 1, "{poor}");
    assert_eq!(poor["other_increase"], 0, "{poor}");
    assert_eq!(poor["other_decrease"], 0, "{poor}");
    assert_eq!(poor["closing"], 1, "{poor}");
    assert_balances(&new_commune.body);

    // The new province counts both old provinces' households, old Long An's included.
    let province = app
        .get(&movements("80", "2025-01-01", "2025-12-31"), &auditor)
        .await;
    assert_eq!(province.status, StatusCode::OK, "{}", province.text);
    let poor = &province.body["poor"];
    assert_eq!(poor["opening"], 2, "{poor}");
    assert_eq!(poor["increases"], 0, "{poor}");
    assert_eq!(poor["decreases"], 0, "{poor}");
    assert_eq!(poor["closing"], 2, "{poor}");
    assert_balances(&province.body);
    // Before the reform, 80 is the new province's whole area: both old provinces.
    let before = app
        .get(&movements("80", "2022-01-01", "2022-12-31"), &auditor)
        .await;
    assert_eq!(before.body["poor"]["closing"], 2, "{}", before.text);
    let reply = app
        .get(&format!("/api/v1/households/{stayed}"), &auditor)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn scope_is_judged_on_the_day_a_household_was_placed() {
    let app = spawn_app().await;
    let tay_ninh_2022 = household(
        &app,
        &app.token(Role::CommuneOfficer, "25456").await,
        "25456",
        "2022-01-15",
        false,
    )
    .await;
    let long_an_2022 = household(
        &app,
        &app.token(Role::CommuneOfficer, "27739").await,
        "27739",
        "2022-02-01",
        false,
    )
    .await;
    // 25459 is a new commune since 2025-07-01 and was old 25459 (Phường 3) before.
    let new_2026 = household(
        &app,
        &app.token(Role::CommuneOfficer, "25459").await,
        "25459",
        "2026-03-02",
        false,
    )
    .await;

    let new_province = app.token(Role::ProvinceOfficer, "80").await;
    for id in [tay_ninh_2022, long_an_2022, new_2026] {
        let reply = app
            .get(&format!("/api/v1/households/{id}"), &new_province)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.text);
    }
    let old_province = app.token(Role::ProvinceOfficer, "72").await;
    let reply = app
        .get(
            &format!("/api/v1/households/{tay_ninh_2022}"),
            &old_province,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    for id in [new_2026, long_an_2022] {
        let reply = app
            .get(&format!("/api/v1/households/{id}"), &old_province)
            .await;
        reply.problem(404);
    }

    // A report judges the unit on its last day: 25459 in 2024 is old Phường 3 of district 703,
    // in 2026 the new commune, which 703 and 72 do not reach.
    let district = app.token(Role::DistrictOfficer, "703").await;
    for token in [&district, &old_province] {
        let old = app
            .get(&movements("25459", "2024-01-01", "2024-12-31"), token)
            .await;
        assert_eq!(old.status, StatusCode::OK, "{}", old.text);
        app.get(&movements("25459", "2026-01-01", "2026-06-30"), token)
            .await
            .problem(403);
    }
    let new = app
        .get(
            &movements("25459", "2026-01-01", "2026-06-30"),
            &new_province,
        )
        .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.text);
    assert_eq!(new.body["poor"]["closing"], 0, "{}", new.text);
}
