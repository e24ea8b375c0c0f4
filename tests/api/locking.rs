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
const ROUNDS: usize = 2;
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

/// Every read model's rows, ordered, as JSON (snapshots aside: a cache, stamped when written,
/// and only for long households; tests/snapshots.rs checks them against the log).
async fn tables(pool: &PgPool) -> BTreeMap<&'static str, Vec<Value>> {
    let mut out = BTreeMap::new();
    for p in Projection::ALL
        .into_iter()
        .filter(|p| *p != Projection::Snapshots)
    {
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
async fn rebuilds_beside_eight_writers_neither_deadlock_nor_fail_and_leave_a_fresh_rebuilds_rows() {
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

    // All of them, then each alone, twice over: every rebuild meets writers mid-append (the
    // issue's deadlock took 24 rebuilds beside 4 writers; 8 writers here wait on each of the
    // 16 rebuilds, and the suite shares a 2-core machine).
    let mut rebuilds = 0;
    for _ in 0..ROUNDS {
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
    assert_eq!(rebuilds, ROUNDS * (1 + Projection::ALL.len()));
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

/// Each transaction's writes to the log's and read models' tables, in the order it made them
/// (statement triggers note the table and the writing transaction).
async fn note_writes(pool: &PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE write_order (n bigserial PRIMARY KEY, txid text NOT NULL, tbl text NOT NULL);
         CREATE FUNCTION note_write() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO write_order (txid, tbl) VALUES (pg_current_xact_id()::text, TG_TABLE_NAME);
             RETURN NULL;
         END $$;",
    )
    .execute(pool)
    .await
    .expect("the write log");
    for table in LOCK_ORDER {
        sqlx::query(&format!(
            "CREATE TRIGGER note_write AFTER INSERT OR UPDATE OR DELETE ON {table}
             FOR EACH STATEMENT EXECUTE FUNCTION note_write()"
        ))
        .execute(pool)
        .await
        .expect("a trigger");
    }
}

/// The tables each transaction wrote, in the order of its first write to each.
async fn writes(pool: &PgPool) -> Vec<Vec<String>> {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT txid, array_agg(tbl ORDER BY n) FROM write_order GROUP BY txid ORDER BY min(n)",
    )
    .fetch_all(pool)
    .await
    .expect("the write log");
    rows.into_iter()
        .map(|(_, tables)| {
            let mut first = Vec::new();
            for t in tables {
                if !first.contains(&t) {
                    first.push(t);
                }
            }
            first
        })
        .collect()
}

/// An officer of old commune 25456, which the 2025 reform merges into 25459.
async fn token_of_old_commune(app: &TestApp) -> String {
    app.token(Role::ProvinceOfficer, "72").await
}

#[tokio::test]
async fn the_append_the_import_the_reform_and_the_runner_write_their_tables_in_lock_order() {
    let app = Arc::new(spawn_app().await);
    note_writes(&app.pool).await;
    // Commands over HTTP: the append function, through every inline read model.
    let token = app.token(Role::CommuneOfficer, UNIT).await;
    let id = app.register(&token, UNIT).await;
    writer(app.clone(), token, id, Arc::new(AtomicBool::new(true))).await;
    // The bulk import: COPY of events and keys, then the batch writers.
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("province.csv");
    let generated = ansinh::generate::generate(150, 35).expect("generate");
    ansinh::generate::write(&file, &generated).expect("write the file");
    let standards = ansinh_events::standards::Standards::builtin().expect("standards");
    ansinh::import::run::import(
        &app.pool,
        &file,
        &standards,
        &ansinh::import::run::ImportOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .expect("import");
    // The reform's batch: COPY of the reassignments' events, then the households' status.
    app.register(&token_of_old_commune(&app).await, "25456")
        .await;
    let out = crate::common::ansinh_async(app.db_url(), &["units", "reform"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("the reform's summary");
    assert!(summary["moved"].as_i64() > Some(0), "{summary}");
    // The runner beside the server: its checkpoints, then the flags', then the movements' tables
    // (one step applies both).
    app.projected().await;

    let seen = writes(&app.pool).await;
    for tables in &seen {
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        ansinh_projections::locking::check_order(&tables).unwrap_or_else(|e| panic!("{e}"));
    }
    let wrote = |a: &str, b: &str| {
        seen.iter()
            .filter(|t| t.iter().any(|x| x == a) && t.iter().any(|x| x == b))
            .count()
    };
    // Every pair a path writes together was seen together, so its order was checked.
    for (a, b) in [
        ("household_events", "idempotency_keys"),
        ("household_status", "history_corrections"),
        ("disbursement_households", "disbursements"),
        ("re_poverty_households", "re_poverty"),
        ("history_corrections", "disbursements"),
        ("projection_checkpoints", "movement_counts"),
        ("flag_households", "movement_households"),
        ("movement_households", "movement_counts"),
    ] {
        assert!(
            wrote(a, b) > 0,
            "no transaction wrote both {a} and {b}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_post_rolled_back_for_a_deadlock_is_sent_again_and_answered_201() {
    let app = Arc::new(spawn_app().await);
    let token = app.token(Role::CommuneOfficer, UNIT).await;
    let id = app.register(&token, UNIT).await;
    let before = app.event_count().await;

    // Another transaction holds `disbursements`, the last table a support writes.
    let mut holder = sqlx::PgConnection::connect(app.db_url())
        .await
        .expect("connect");
    // Whichever waits longer is chosen as the victim: never this one.
    sqlx::query("SET deadlock_timeout = '10min'")
        .execute(&mut holder)
        .await
        .expect("deadlock_timeout");
    let mut hold = holder.begin().await.expect("begin");
    sqlx::query("LOCK TABLE disbursements IN EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .expect("lock");
    let post = {
        let app = app.clone();
        let path = format!("/api/v1/households/{id}/supports");
        tokio::spawn(async move {
            app.post(&path, &token, &support(2_000_000, "2024-03-01"))
                .await
        })
    };
    // Once the append waits for `disbursements` it holds the tables before it...
    waits_for(&app.pool, "disbursements").await;
    // ...so waiting for one of them closes the circle: PostgreSQL rolls the append back
    // ("deadlock detected"), this lock is granted, and the append is sent again once we end.
    sqlx::query("LOCK TABLE household_status IN EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .expect("granted once the append was rolled back");
    hold.rollback().await.expect("release");
    let reply = post.await.expect("the POST");
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(app.event_count().await, before + 1, "written once");
}

/// Returns once some transaction waits for a lock on `table` (panics after 30 s).
async fn waits_for(pool: &PgPool, table: &str) {
    let started = std::time::Instant::now();
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                             WHERE c.relname = $1 AND NOT l.granted)",
        )
        .bind(table)
        .fetch_one(pool)
        .await
        .expect("pg_locks");
        if waiting {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "nobody waited for {table}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_rebuild_rolled_back_for_a_deadlock_runs_again() {
    let app = spawn_app().await;
    let token = app.token(Role::CommuneOfficer, UNIT).await;
    app.register(&token, UNIT).await;

    let mut holder = sqlx::PgConnection::connect(app.db_url())
        .await
        .expect("connect");
    sqlx::query("SET deadlock_timeout = '10min'")
        .execute(&mut holder)
        .await
        .expect("deadlock_timeout");
    let mut hold = holder.begin().await.expect("begin");
    sqlx::query("LOCK TABLE disbursements IN EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .expect("lock");
    let pool = app.pool.clone();
    let rebuilt =
        tokio::spawn(async move { rebuild::rebuild(&pool, &Projection::ALL, 50, |_, _| {}).await });
    // The rebuild holds the tables before `disbursements` in LOCK_ORDER and waits for it; a
    // read of one of them closes the circle, and PostgreSQL rolls the rebuild back.
    waits_for(&app.pool, "disbursements").await;
    sqlx::query("SELECT count(*) FROM household_status")
        .execute(&mut *hold)
        .await
        .expect("read once the rebuild was rolled back");
    hold.rollback().await.expect("release");
    let report = rebuilt
        .await
        .expect("the rebuild task")
        .expect("the rebuild ran again and finished");
    assert!(report.events > 0, "{report:?}");
}
