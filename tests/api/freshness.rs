//! Reads are served from caches (users by token, the unit closure) and from the status read
//! model; these tests show that a change is seen by the very next request: a disabled user, a
//! changed role or unit, a moved household, re-parented units. And that every personal-data
//! read is still logged, or refused when it cannot be.

use std::time::Duration;

use ansinh::users::{Role, UserCache};
use ansinh_projections::units::Coverage;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{mend_access_log, refuse_access_log, spawn_app, TestApp};

async fn create_user(app: &TestApp, admin: &str, role: &str, unit: &str) -> (Uuid, String) {
    let r = app
        .post(
            "/api/v1/users",
            admin,
            &json!({"name": format!("{role} {unit}"), "role": role, "unit_code": unit}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().and_then(|s| s.parse().ok());
    let token = r.body["token"].as_str().map(str::to_owned);
    (id.expect("id"), token.expect("token"))
}

async fn patch_user(
    app: &TestApp,
    admin: &str,
    id: Uuid,
    changes: &Value,
) -> crate::helpers::Reply {
    app.request(
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(admin),
        Some(changes),
        &[],
    )
    .await
}

#[tokio::test]
async fn a_user_disabled_through_the_api_loses_access_at_once_and_regains_it_when_enabled() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, "72").await;
    let (officer_id, officer) = create_user(&app, &admin, "commune_officer", "25459").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    // Read twice, so the token is surely in the cache.
    for _ in 0..2 {
        assert_eq!(app.get(&history, &officer).await.status, 200);
    }

    let r = patch_user(&app, &admin, officer_id, &json!({"disabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["disabled"], true);
    app.get(&history, &officer).await.problem(401);
    app.get(&format!("/api/v1/households/{household}"), &officer)
        .await
        .problem(401);
    app.post(
        "/api/v1/households",
        &officer,
        &crate::helpers::registration("25459"),
    )
    .await
    .problem(401);

    let r = patch_user(&app, &admin, officer_id, &json!({"disabled": false})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get(&history, &officer).await.status, 200);
}

#[tokio::test]
async fn a_changed_role_or_unit_applies_to_the_next_request() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, "72").await;
    let (id, officer) = create_user(&app, &admin, "commune_officer", "25459").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    let status = format!("/api/v1/households/{household}");
    assert_eq!(app.get(&history, &officer).await.status, 200);

    // A monitor may see the status but never a history.
    let r = patch_user(&app, &admin, id, &json!({"role": "monitor"})).await;
    assert_eq!(r.body["role"], "monitor", "{}", r.text);
    app.get(&history, &officer).await.problem(403);
    assert_eq!(app.get(&status, &officer).await.status, 200);

    // Another commune: out of scope at once.
    let r = patch_user(
        &app,
        &admin,
        id,
        &json!({"role": "commune_officer", "unit_code": "25486"}),
    )
    .await;
    assert_eq!(r.body["unit_code"], "25486", "{}", r.text);
    app.get(&history, &officer).await.problem(404);
    app.get(&status, &officer).await.problem(404);
    let r = patch_user(&app, &admin, id, &json!({"unit_code": "25459"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get(&history, &officer).await.status, 200);
}

#[tokio::test]
async fn only_an_admin_covering_both_units_changes_a_user_and_bad_changes_are_named() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, "72").await;
    let district_admin = app.token(Role::Admin, "703").await;
    let (id, _) = create_user(&app, &admin, "commune_officer", "25459").await;
    let (far, _) = create_user(&app, &admin, "commune_officer", "25486").await;
    // 25486 lies in district 705, outside district 703.
    patch_user(&app, &district_admin, far, &json!({"disabled": true}))
        .await
        .problem(403);
    patch_user(&app, &district_admin, id, &json!({"unit_code": "25486"}))
        .await
        .problem(403);
    let officer = app.token(Role::ProvinceOfficer, "72").await;
    patch_user(&app, &officer, id, &json!({"disabled": true}))
        .await
        .problem(403);
    let r = patch_user(&app, &admin, id, &json!({"unit_code": "00000"})).await;
    assert_eq!(r.problem(422)["field"], "unit_code");
    let r = patch_user(&app, &admin, id, &json!({"role": "pope"})).await;
    assert_eq!(r.problem(422)["field"], "role");
    patch_user(&app, &admin, Uuid::now_v7(), &json!({"disabled": true}))
        .await
        .problem(404);
    let disabled: bool =
        sqlx::query_scalar("SELECT disabled_at IS NOT NULL FROM users WHERE id = $1")
            .bind(far)
            .fetch_one(&app.pool)
            .await
            .expect("query");
    assert!(!disabled, "a refused change changes nothing");
}

#[tokio::test]
async fn after_a_move_the_old_communes_officer_is_refused_and_the_new_ones_is_served() {
    let app = spawn_app().await;
    let old = app.token(Role::CommuneOfficer, "25459").await;
    let new = app.token(Role::CommuneOfficer, "25486").await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let household = app.register(&old, "25459").await;
    let paths = [
        format!("/api/v1/households/{household}/history"),
        format!("/api/v1/households/{household}"),
    ];
    for path in &paths {
        assert_eq!(app.get(path, &old).await.status, 200);
        app.get(path, &new).await.problem(404);
    }
    let r = app
        .post(
            &format!("/api/v1/households/{household}/moves"),
            &province,
            &json!({"moved_on": "2023-02-01", "unit_code": "25486", "hamlet": "Khu phố 1",
                    "area": "urban"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for path in &paths {
        app.get(path, &old).await.problem(404);
        let r = app.get(path, &new).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let r = app.get(&paths[0], &new).await;
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["events"][1]["type"], "household_moved");
}

#[tokio::test]
async fn units_re_parented_through_the_api_change_scopes_at_once() {
    let app = spawn_app().await;
    // The unit comes in before the first request (as `ansinh units import` would bring it),
    // so the server's first snapshot of the closure has it under district 703.
    let unit = |parent: &str| ansinh_projections::units::Unit {
        code: "99010".into(),
        name: "Phường Thử".into(),
        level: ansinh_projections::units::Level::Commune,
        parent_code: Some(parent.into()),
        valid_from: "2020-01-01".parse().expect("date"),
        valid_to: "2025-06-30".parse().ok(),
    };
    let mut tx = app.pool.begin().await.expect("begin");
    ansinh_projections::units::upsert(&mut tx, &[unit("703")])
        .await
        .expect("units");
    tx.commit().await.expect("commit");
    let d703 = app.token(Role::DistrictOfficer, "703").await;
    let d705 = app.token(Role::DistrictOfficer, "705").await;
    let household = app.register(&d703, "99010").await;
    let history = format!("/api/v1/households/{household}/history");
    assert_eq!(app.get(&history, &d703).await.status, 200);
    app.get(&history, &d705).await.problem(404);

    let admin = app.token(Role::Admin, "72").await;
    let moved = json!({"units": [{"code": "99010", "name": "Phường Thử", "level": "commune",
                                  "parent_code": "705", "valid_from": "2020-01-01",
                                  "valid_to": "2025-06-30"}]});
    let r = app.post("/api/v1/units", &admin, &moved).await;
    assert_eq!(r.body["updated"], 1, "{}", r.text);
    app.get(&history, &d703).await.problem(404);
    assert_eq!(app.get(&history, &d705).await.status, 200);
}

#[tokio::test]
async fn every_history_read_by_an_auditor_writes_its_access_log_row() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let auditor = app.token(Role::Auditor, "72").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    let reads = 12;
    let replies = futures::future::join_all((0..reads).map(|_| app.get(&history, &auditor))).await;
    assert!(replies.iter().all(|r| r.status == 200));
    // The auditors' endpoint ships the server's journal before it answers: every read
    // answered so far is on it at once, and so in the table.
    let log = app
        .get(
            &format!("/api/v1/access-log?household={household}"),
            &auditor,
        )
        .await;
    assert_eq!(log.body["total"], reads, "{}", log.text);
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM access_log
          WHERE household_id = $1 AND role = 'auditor' AND unit_code = '25459'
            AND endpoint = 'GET /api/v1/households/{id}/history'",
    )
    .bind(household)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(logged, reads);
}

/// Only a read that hands the history out is logged: a refused one (another commune's
/// household, as on the day it was placed) records nothing, and a granted one records the
/// request's id as the response gives it.
#[tokio::test]
async fn a_history_read_outside_the_scope_records_nothing_and_a_granted_one_its_request_id() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let elsewhere = app.token(Role::CommuneOfficer, "25456").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    let rows = |user_unit: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<String>,)>(
                "SELECT request_id FROM access_log WHERE household_id = $1 AND user_unit = $2",
            )
            .bind(household)
            .bind(user_unit)
            .fetch_all(&pool)
            .await
            .expect("access log")
        }
    };
    app.get(&history, &elsewhere).await.problem(404);
    app.ship_access_log().await;
    assert!(rows("25456").await.is_empty());
    let granted = app.get(&history, &officer).await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    let sent = granted
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    app.ship_access_log().await;
    assert_eq!(rows("25459").await, vec![(Some(sent),)]);
}

/// A read is answered once its row is in the server's journal. When the table refuses the
/// journal's rows, every read after the first failed shipment is refused and hands out
/// nothing; the rows of the reads answered meanwhile reach the table once it takes them again.
#[tokio::test]
async fn while_the_table_refuses_the_log_reads_are_refused_and_no_answered_read_is_lost() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let auditor = app.token(Role::Auditor, "72").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    assert_eq!(app.get(&history, &auditor).await.status, 200);
    app.ship_access_log().await;
    refuse_access_log(&app.pool).await;
    // Nothing is waiting to be shipped, so no shipment has failed yet: answered.
    let during = app.get(&history, &auditor).await;
    assert_eq!(during.status, 200, "{}", during.text);
    assert!(app.access_log.ship().await.is_err(), "the table refuses");
    for path in [history.clone(), format!("/api/v1/households/{household}")] {
        let r = app.get(&path, &auditor).await;
        r.problem(500);
        assert!(!r.text.contains("Nguyễn"), "{}", r.text);
    }
    mend_access_log(&app.pool).await;
    app.ship_access_log().await;
    assert_eq!(app.get(&history, &auditor).await.status, 200);
    app.ship_access_log().await;
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM access_log WHERE household_id = $1 AND role = 'auditor'",
    )
    .bind(household)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    // The first read, the one answered during the outage, the last one.
    assert_eq!(logged, 3);
}

#[tokio::test]
async fn the_user_cache_keeps_a_user_for_its_ttl_unless_forgotten() {
    let app = spawn_app().await;
    let token = app.token(Role::Auditor, "72").await;
    let disable = |disabled: bool| {
        let pool = app.pool.clone();
        async move {
            sqlx::query(
                "UPDATE users SET disabled_at = CASE WHEN $1 THEN now() END
                  WHERE role = 'auditor'",
            )
            .bind(disabled)
            .execute(&pool)
            .await
            .expect("update");
        }
    };
    // A change made by another process (here: SQL) is not seen while the entry is fresh…
    let cache = UserCache::new(Duration::from_secs(3600));
    let user = cache.authenticate(&app.pool, &token).await.expect("query");
    let user = user.expect("active");
    disable(true).await;
    let cached = cache.authenticate(&app.pool, &token).await.expect("query");
    assert_eq!(cached.as_ref(), Some(&user), "within the TTL");
    // …and is once the user is forgotten, or the entry has expired.
    cache.forget(user.id);
    assert_eq!(
        cache.authenticate(&app.pool, &token).await.expect("query"),
        None
    );
    disable(false).await;
    let expiring = UserCache::new(Duration::ZERO);
    assert!(expiring
        .authenticate(&app.pool, &token)
        .await
        .expect("query")
        .is_some());
    disable(true).await;
    assert_eq!(
        expiring
            .authenticate(&app.pool, &token)
            .await
            .expect("query"),
        None
    );
    // A token not found is never cached: a user enabled elsewhere is accepted at once.
    disable(false).await;
    assert!(cache
        .authenticate(&app.pool, &token)
        .await
        .expect("query")
        .is_some());
}

#[tokio::test]
async fn the_unit_coverage_asks_the_database_before_refusing_and_reloads_when_forgotten() {
    let app = spawn_app().await;
    let coverage = Coverage::new(Duration::from_secs(3600));
    let covers = |a: &'static str, u: &'static str| {
        let (coverage, pool) = (&coverage, app.pool.clone());
        let day = "2024-06-01".parse().ok();
        async move { coverage.covers(&pool, a, u, day).await.expect("query") }
    };
    assert!(covers("703", "25459").await);
    assert!(covers("72", "25486").await);
    assert!(!covers("703", "25486").await);
    // Another process puts 25486 under 703 too (here: SQL on the closure).
    sqlx::query(
        "INSERT INTO admin_unit_closure (ancestor, descendant, valid_from, valid_to)
         VALUES ('703', '25486', '2000-01-01', '2025-06-30')",
    )
    .execute(&app.pool)
    .await
    .expect("insert");
    assert!(
        covers("703", "25486").await,
        "a pair not in memory is asked for"
    );
    // And takes 25459 away from 703: granted from memory until the snapshot is dropped.
    sqlx::query("DELETE FROM admin_unit_closure WHERE ancestor = '703' AND descendant = '25459'")
        .execute(&app.pool)
        .await
        .expect("delete");
    assert!(covers("703", "25459").await, "within the TTL");
    coverage.forget();
    assert!(!covers("703", "25459").await);
    assert!(covers("703", "25486").await);
}

/// The server holds households it wrote in its event log's cache; what it shows must still be
/// the log: a support recorded by another process (another event log on the same database) is
/// in the very next status read, and the next write through this server lands after it.
#[tokio::test]
async fn a_household_written_by_another_process_is_shown_as_the_log_has_it() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let path = format!("/api/v1/households/{id}/supports");
    let r = app
        .post(
            &path,
            &officer,
            &crate::helpers::support(100_000, "2023-03-01"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let other = ansinh::store::EventLog::new(app.pool.clone())
        .await
        .expect("another process's event log");
    use ansinh_events::household::{
        Command, FundingSource, HouseholdCommand, Policy, SupportReceived,
    };
    let command = Command {
        ctx: ansinh_events::CommandContext::new(
            id,
            ansinh_events::Actor::system("other process"),
            ansinh_events::Source::Cli,
            chrono::Utc::now(),
        ),
        action: HouseholdCommand::RecordSupport(SupportReceived {
            policy: Policy::ElectricitySubsidy,
            amount_vnd: ansinh_events::Vnd::new(46_000).expect("amount"),
            in_kind: None,
            funding_source: FundingSource::CentralBudget,
            fund_id: None,
            disbursed_on: "2023-04-01".parse().expect("date"),
            disbursed_by: "UBND xã".into(),
            decision_no: "13/QĐ-UBND".into(),
            recipient_member: None,
            override_reason: None,
        }),
    };
    other
        .execute(command, None)
        .await
        .expect("recorded elsewhere");

    let shown = app.get(&format!("/api/v1/households/{id}"), &officer).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["version"], 3, "{}", shown.text);
    let r = app
        .post(
            &path,
            &officer,
            &crate::helpers::support(200_000, "2023-05-01"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["version"], 4, "{}", r.text);
}

#[tokio::test]
async fn a_history_read_page_by_page_follows_its_next_links_to_the_last_event() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let auditor = app.token(Role::Auditor, "72").await;
    let household = app.register(&officer, "25459").await;
    for month in 1..=4 {
        let r = app
            .post(
                &format!("/api/v1/households/{household}/supports"),
                &officer,
                &crate::helpers::support(1_000_000, &format!("2025-0{month}-15")),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let mut next = Some(format!("/api/v1/households/{household}/history?limit=2"));
    let mut sequences = Vec::new();
    while let Some(path) = next.take() {
        let page = app.get(&path, &auditor).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let events = page.body["events"].as_array().expect("events");
        assert!(events.len() <= 2, "{}", page.text);
        sequences.extend(
            events
                .iter()
                .map(|e| e["sequence"].as_i64().expect("sequence")),
        );
        next = page.headers.get("link").map(|link| {
            let link = link.to_str().expect("ascii");
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link.trim_start_matches('<')
                .trim_end_matches(">; rel=\"next\"")
                .to_owned()
        });
        assert_eq!(
            next.is_some(),
            !page.body["next_after"].is_null(),
            "{}",
            page.text
        );
    }
    assert_eq!(
        sequences,
        (1..=5).collect::<Vec<_>>(),
        "every event once, in order"
    );
}
