//! Writers, rebuilds and reports side by side: one lock order (`LOCK_ORDER` in
//! projections/src/locking.rs) means no deadlock, a rebuild leaves what a fresh one would, and
//! a movement report only reads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ansinh::users::Role;
use ansinh_projections::locking::LOCK_ORDER;
use ansinh_projections::rebuild::{self, Projection};
use serde_json::{json, Value};
use sqlx::{Connection, PgPool};
use uuid::Uuid;

use crate::helpers::{decision, spawn_app, support, survey, TestApp};

const WRITERS: usize = 8;
const UNIT: &str = "25459";

async fn created(app: &TestApp, path: &str, token: &str, body: &Value) -> Value {
    let r = app.post(path, token, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

/// One writer's household through every read model: poor, supported (a support corrected),
/// out of poverty, poor again (a relapse), then supports and corrections until `stop`.
async fn writer(app: Arc<TestApp>, token: String, id: Uuid, stop: Arc<AtomicBool>) -> usize {
    let base = format!("/api/v1/households/{id}");
    let (surveys, decisions) = (format!("{base}/surveys"), format!("{base}/decisions"));
    let (supports, corrections) = (format!("{base}/supports"), format!("{base}/corrections"));
    let t = token.as_str();
    created(&app, &surveys, t, &survey("2022-10-05", 1_200_000, 3)).await;
    created(&app, &decisions, t, &decision("poor", "2022-12-10")).await;
    created(&app, &supports, t, &support(30_000_000, "2023-03-01")).await;
    created(&app, &surveys, t, &survey("2023-10-05", 2_500_000, 1)).await;
    created(&app, &decisions, t, &decision("not_poor", "2023-12-10")).await;
    created(&app, &surveys, t, &survey("2024-10-05", 1_100_000, 4)).await;
    created(&app, &decisions, t, &decision("poor", "2024-12-10")).await;
    let mut posts = 7;
    // At least a few rounds, then until the rebuilds are done.
    let mut round = 0;
    while round < 4 || !stop.load(Ordering::Relaxed) {
        round += 1;
        let amount = 1_000_000 + 10_000 * round as i64;
        let s = created(&app, &supports, t, &support(amount, "2025-01-15")).await;
        let fix = json!({"corrects_sequence": s["sequence"], "reason": "nhập nhầm số tiền",
                         "replacement": support(amount - 5_000, "2025-01-15")});
        created(&app, &corrections, t, &fix).await;
        posts += 2;
    }
    posts
}

/// Every read model's rows, ordered, as JSON.
async fn tables(pool: &PgPool) -> BTreeMap<&'static str, Vec<Value>> {
    let mut out = BTreeMap::new();
    for p in Projection::ALL {
        for table in p.tables() {
            let rows: Vec<Value> = sqlx::query_scalar(&format!(
                "SELECT to_jsonb(t) FROM {table} t ORDER BY to_jsonb(t)::text"
            ))
            .fetch_all(pool)
            .await
            .expect("rows");
            out.insert(*table, rows);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilds_beside_eight_writers_neither_deadlock_nor_fail_and_leave_a_fresh_rebuilds_rows()
{
    let app = Arc::new(spawn_app().await);
    let token = app.token(Role::CommuneOfficer, UNIT).await;
    let mut ids = Vec::new();
    for _ in 0..WRITERS {
        ids.push(app.register(&token, UNIT).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = ids
        .iter()
        .map(|id| tokio::spawn(writer(app.clone(), token.clone(), *id, stop.clone())))
        .collect();

    // All of them, then each alone, four times over: 24 rebuilds, as in the issue.
    let mut rebuilds = 0;
    for _ in 0..4 {
        let mut runs = vec![Projection::ALL.to_vec()];
        runs.extend(Projection::ALL.iter().map(|p| vec![*p]));
        for run in runs {
            rebuild::rebuild(&app.pool, &run, 50, |_, _| {})
                .await
                .unwrap_or_else(|e| panic!("rebuild of {run:?}: {e}"));
            rebuilds += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut posts = 0;
    for w in writers {
        // A writer's failed POST panics its task: no 500, no deadlock answered.
        posts += w.await.expect("every POST answered 201");
    }
    assert_eq!(rebuilds, 24);
    assert!(posts >= WRITERS * 15, "{posts} POSTs");

    app.projected().await;
    let after_the_race = tables(&app.pool).await;
    rebuild::rebuild(&app.pool, &Projection::ALL, 5_000, |_, _| {})
        .await
        .expect("a fresh rebuild");
    app.projected().await;
    let fresh = tables(&app.pool).await;
    for (table, rows) in &fresh {
        assert!(!rows.is_empty(), "{table} has rows");
        assert_eq!(after_the_race[table], *rows, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_movement_reports_take_no_write_or_row_lock() {
    let app = Arc::new(spawn_app().await);
    let token = app.token(Role::CommuneOfficer, UNIT).await;
    let id = app.register(&token, UNIT).await;
    let stop = Arc::new(AtomicBool::new(true));
    writer(app.clone(), token, id, stop).await;
    app.projected().await;
    let head: i64 = sqlx::query_scalar(
        "SELECT global_position FROM household_events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the log's head");

    // Every table of the log and the read models held in EXCLUSIVE mode, which lets only plain
    // reads (ACCESS SHARE) through: a report that wrote, locked a row (FOR UPDATE, as the
    // runner's step does) or caught up would wait here until this transaction ends.
    let mut holder = sqlx::PgConnection::connect(app.db_url())
        .await
        .expect("connect");
    let mut hold = holder.begin().await.expect("begin");
    sqlx::query(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        LOCK_ORDER.join(", ")
    ))
    .execute(&mut *hold)
    .await
    .expect("lock");

    let district = app.token(Role::DistrictOfficer, "703").await;
    let period = "from=2024-01-01&to=2024-12-31";
    let reports: Vec<_> = (0..WRITERS)
        .map(|i| {
            let app = app.clone();
            let district = district.clone();
            let path = match i % 4 {
                0 => format!("/api/v1/reports/movements?unit=703&{period}"),
                1 => format!("/api/v1/reports/movements?unit={UNIT}&{period}"),
                2 => format!("/api/v1/reports/movements?unit=703&{period}&format=csv"),
                _ => format!("/api/v1/reports/movements?unit=703&{period}&format=xlsx"),
            };
            tokio::spawn(async move { (app.get(&path, &district).await, path) })
        })
        .collect();
    // Only a ceiling on a hang, which is what a report that writes would do here.
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures::future::join_all(reports),
    )
    .await
    .expect("the reports waited on the held tables: a report writes or locks rows");
    for r in answered {
        let (reply, path) = r.expect("report task");
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(
            reply.headers["current-to-position"].to_str().ok(),
            Some(head.to_string().as_str()),
            "{path}"
        );
        if !path.contains("format=") {
            assert_eq!(reply.body["current_to_position"], head, "{path}");
            assert_eq!(reply.body["poor"]["fell_back"], 1, "{path}: {}", reply.text);
        }
    }
    hold.rollback().await.expect("release");
}
