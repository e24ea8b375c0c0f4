//! The event log foundation against a real PostgreSQL: concurrency, conflicts, append-only
//! enforcement, the gap-safe reader, idempotency, tamper detection and anchors.

mod common;

use std::process::Command as Process;

use ansinh::store::position::{read_after, Cursor};
use ansinh::store::{EventLog, StoreError};
use ansinh_events::household::{
    Area, Command, FundingSource, HouseholdCommand, HouseholdRegistered, Member, Policy, Sex,
    SupportReceived, UnitValidity,
};
use ansinh_events::money::Vnd;
use ansinh_events::{Actor, CommandContext, Idempotency, Source};
use chrono::{NaiveDate, Utc};
use uuid::Uuid;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn ctx(household_id: Uuid) -> CommandContext {
    CommandContext::new(
        household_id,
        Actor {
            // One user for every command: idempotency keys are kept per user.
            user_id: Uuid::from_u128(0x7f3a),
            name: "Trần Văn Bình".into(),
            role: "commune_officer".into(),
            unit: "25459".into(),
        },
        Source::Api,
        Utc::now(),
    )
}

fn register(household_id: Uuid) -> Command {
    Command {
        ctx: ctx(household_id),
        action: HouseholdCommand::Register {
            registration: HouseholdRegistered {
                head_name: "Nguyễn Thị Lan".into(),
                unit_code: "25459".into(),
                hamlet: "Ấp Thạnh Hiệp".into(),
                area: Area::Rural,
                ethnic_minority: false,
                merit_family: false,
                members: vec![Member {
                    name: "Nguyễn Thị Lan".into(),
                    birth_year: 1978,
                    sex: Sex::Female,
                    relation: "head".into(),
                    id_number: Some("072178000123".into()),
                }],
            },
            effective_on: date("2021-09-20"),
            unit: Some(UnitValidity {
                valid_from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
                valid_to: None,
                commune: true,
            }),
        },
    }
}

fn support(household_id: Uuid, amount: i64) -> Command {
    Command {
        ctx: ctx(household_id),
        action: HouseholdCommand::RecordSupport(SupportReceived {
            policy: Policy::ElectricitySubsidy,
            amount_vnd: Vnd::new(amount).expect("non-negative"),
            in_kind: None,
            funding_source: FundingSource::CentralBudget,
            fund_id: None,
            disbursed_on: date("2023-03-01"),
            disbursed_by: "UBND xã Tân Lập".into(),
            decision_no: "12/QĐ-UBND".into(),
            recipient_member: None,
            override_reason: None,
        }),
    }
}

async fn household_with_supports(log: &EventLog, supports: usize) -> Uuid {
    let id = Uuid::now_v7();
    log.execute(register(id), None).await.expect("register");
    for i in 0..supports {
        log.execute(support(id, 46_000 + i as i64), None)
            .await
            .expect("support");
    }
    id
}

/// The household's events run 1..=n with no gap and its hash chain recomputes.
async fn assert_contiguous_and_intact(log: &EventLog, db: &common::TestDb, id: Uuid, n: i64) {
    let sequences: Vec<i64> = log
        .events(id)
        .await
        .expect("events")
        .iter()
        .map(|e| e.meta.sequence)
        .collect();
    assert_eq!(sequences, (1..=n).collect::<Vec<_>>());
    let report =
        ansinh::verify::verify(&db.pool, Some(id), None, &indicatif::ProgressBar::hidden())
            .await
            .expect("verify");
    assert!(report.intact(), "{:?}", report.broken);
    assert_eq!(report.events, n as u64);
}

#[tokio::test]
async fn twenty_concurrent_writers_get_contiguous_sequences_and_an_unbroken_chain() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let id = household_with_supports(&log, 0).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.execute_retrying(support(id, 1_000 * (i + 1))).await })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("task")
            .expect("append lands after retries");
    }
    assert_contiguous_and_intact(&log, &db, id, 21).await;
}

/// The writers append on connections of their own: one that PostgreSQL closes (a restart, an
/// administrator) fails at most the append under way, and the next opens a new one.
#[tokio::test]
async fn a_writer_s_connection_closed_by_the_server_is_opened_again() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let id = household_with_supports(&log, 2).await;
    let closed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&db.pool)
    .await
    .expect("close the other connections");
    assert!(!closed.is_empty());
    let mut written = 3;
    for attempt in 0..6 {
        match log.execute(support(id, 50_000 + attempt), None).await {
            Ok(appended) => {
                written += 1;
                assert_eq!(appended.version, written);
            }
            // Only the append that met the closed connection may fail, never a later one.
            Err(StoreError::Database(e)) if attempt < 2 => eprintln!("{e}"),
            Err(e) => panic!("attempt {attempt}: {e}"),
        }
    }
    assert!(written >= 7, "{written}");
    assert_contiguous_and_intact(&log, &db, id, written).await;
}

/// The server process behind a connection of the read pool.
async fn backend_pid(conn: &mut sqlx::PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("backend pid")
}

#[tokio::test]
async fn the_read_pool_reuses_a_finished_connection_closes_any_other_and_reads_past_a_closed_one() {
    use ansinh::pg::ReadPool;
    let db = common::migrated_db().await;
    let reads = ReadPool::new(&db.pool);

    // Declared finished: lent again as it is.
    let mut conn = reads.get().await.expect("lease");
    let first = backend_pid(&mut conn).await;
    conn.finished();
    let mut conn = reads.get().await.expect("lease");
    assert_eq!(
        backend_pid(&mut conn).await,
        first,
        "a finished connection is reused"
    );

    // Dropped without that (an error, a cancelled request): closed, never lent again.
    drop(conn);
    let mut conn = reads.get().await.expect("lease");
    let second = backend_pid(&mut conn).await;
    assert_ne!(
        second, first,
        "a connection not declared finished is not reused"
    );
    conn.finished();
    let gone = async {
        loop {
            let alive: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)")
                    .bind(first)
                    .fetch_one(&db.pool)
                    .await
                    .expect("pg_stat_activity");
            if !alive {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), gone)
        .await
        .expect("the dropped connection is closed");

    // A request cancelled in the middle of a statement leaves a connection that is still busy
    // with it: the next read gets another one and answers at once.
    let busy = async {
        let mut conn = reads.get().await.expect("lease");
        sqlx::query("SELECT pg_sleep(30)")
            .execute(&mut *conn)
            .await
            .expect("sleep");
        conn.finished();
    };
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), busy)
            .await
            .is_err(),
        "the statement was cancelled"
    );
    let mut conn = reads.get().await.expect("lease");
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::query_scalar::<_, i32>("SELECT 7").fetch_one(&mut *conn),
    )
    .await
    .expect("answered without waiting for the cancelled statement")
    .expect("select");
    assert_eq!(answered, 7);
    let third = backend_pid(&mut conn).await;
    assert_ne!(
        third, second,
        "the connection busy with the cancelled statement is not lent"
    );
    conn.finished();

    // A connection PostgreSQL closed while it sat idle fails no read: the read runs again on
    // a new one.
    let closed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(third)
        .fetch_one(&db.pool)
        .await
        .expect("terminate");
    assert!(closed);
    let pid = reads
        .read(|conn| {
            Box::pin(sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(conn))
        })
        .await
        .expect("read again on a new connection");
    assert_ne!(pid, third);
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_appends_nothing() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let id = household_with_supports(&log, 2).await;
    let err = log
        .execute(support(id, 1), Some(2))
        .await
        .expect_err("version 2 is stale, the household is at 3");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 2,
                actual: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(log.events(id).await.expect("events").len(), 3);
    let ok = log.execute(support(id, 1), Some(3)).await.expect("fresh");
    assert_eq!(ok.version, 4);
}

/// Two processes (two event logs, each with its own cache of households) writing the same
/// household: the one holding a stale state loses like any race, reads again, and neither the
/// chain nor the read models go wrong; a client's If-Match at the newer version is honoured.
#[tokio::test]
async fn a_household_cached_by_another_process_is_read_again_not_overwritten() {
    let db = common::migrated_db().await;
    let a = EventLog::new(db.pool.clone()).await.expect("store a");
    let b = EventLog::new(db.pool.clone()).await.expect("store b");
    let id = household_with_supports(&a, 1).await;
    // b caches version 2, then a moves the household on to 3.
    assert_eq!(b.household(id).await.expect("b loads").version(), 2);
    a.execute(support(id, 2_000), None)
        .await
        .expect("a appends");

    let err = b
        .execute(support(id, 3_000), None)
        .await
        .expect_err("b decided on version 2");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let retried = b
        .execute_retrying(support(id, 3_000))
        .await
        .expect("b reads again and lands");
    assert_eq!(retried.version, 4);
    // a holds version 3; a client that saw 4 (written by b) is not refused.
    let ok = a
        .execute(support(id, 4_000), Some(4))
        .await
        .expect("If-Match at the newer version");
    assert_eq!(ok.version, 5);

    assert_contiguous_and_intact(&a, &db, id, 5).await;
    let (status_version, supports, total): (i32, i64, i64) = sqlx::query_as(
        "SELECT s.version, count(d.*), coalesce(sum(d.amount_vnd), 0)::bigint
           FROM household_status s LEFT JOIN disbursements d USING (household_id)
          WHERE s.household_id = $1 GROUP BY s.version",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("read models");
    assert_eq!((status_version, supports, total), (5, 4, 46_000 + 9_000));
}

#[tokio::test]
async fn writers_that_lose_the_race_get_a_typed_conflict_not_a_database_error() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let id = household_with_supports(&log, 0).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.execute(support(id, i + 1), Some(1)).await })
        })
        .collect();
    let mut landed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(appended) => {
                assert_eq!(appended.version, 2);
                landed += 1;
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(landed, 1);
}

#[tokio::test]
async fn the_database_refuses_update_delete_and_truncate_of_events() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    household_with_supports(&log, 1).await;
    for statement in [
        "UPDATE household_events SET payload = '{}'::jsonb",
        "DELETE FROM household_events",
        "TRUNCATE household_events",
    ] {
        let err = sqlx::query(statement)
            .execute(&db.pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("never changed or deleted"),
            "{statement}: {err}"
        );
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM household_events")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 2);
}

/// The position reader walks the commit-order index and stops at its limit: it never sorts
/// what follows the cursor (which, for a runner far behind, is the whole log), whatever plan
/// PostgreSQL settles on for the prepared statement.
#[tokio::test]
async fn the_position_reader_walks_the_commit_order_index_without_sorting() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    for _ in 0..20 {
        household_with_supports(&log, 5).await;
    }
    sqlx::query("ANALYZE household_events")
        .execute(&db.pool)
        .await
        .expect("analyze");
    let mut conn = db.pool.acquire().await.expect("connection");
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::query(&format!("SET plan_cache_mode = {mode}"))
            .execute(&mut *conn)
            .await
            .expect("plan mode");
        sqlx::query(&format!(
            "PREPARE read_after_{mode} AS {}",
            ansinh::store::position::READ_AFTER
        ))
        .execute(&mut *conn)
        .await
        .expect("prepare");
        let plan: serde_json::Value = sqlx::query_scalar(&format!(
            "EXPLAIN (FORMAT JSON) EXECUTE read_after_{mode}('0', 0, 50)"
        ))
        .fetch_one(&mut *conn)
        .await
        .expect("explain");
        let text = plan.to_string();
        assert!(!text.contains("\"Sort\""), "{mode}: {plan:#}");
        assert!(
            text.contains("household_events_commit_order"),
            "{mode}: {plan:#}"
        );
    }
}

#[tokio::test]
async fn the_position_reader_does_not_skip_an_event_whose_transaction_commits_late() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let early = household_with_supports(&log, 0).await;
    // Reads below retry (bounded) in case a background transaction of this database (the
    // statistics collector's, autovacuum's) holds the horizon back for a moment.
    // A slow writer: takes its transaction id now, writes an event, and stays open.
    let slow_id = Uuid::now_v7();
    let mut slow = db.pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *slow)
        .await
        .expect("xid");
    let sealed = <ansinh_events::household::Household as esrs::Aggregate>::handle_command(
        &Default::default(),
        register(slow_id),
    )
    .expect("decide");
    sqlx::query(
        "INSERT INTO household_events (id, aggregate_id, payload, sequence_number) VALUES ($1, $2, $3, 1)",
    )
    .bind(Uuid::now_v7())
    .bind(slow_id)
    .bind(sqlx::types::Json(&sealed[0]))
    .execute(&mut *slow)
    .await
    .expect("slow insert");
    // Faster writers commit after it.
    let later = household_with_supports(&log, 2).await;

    let mut first = Vec::new();
    for _ in 0..500 {
        first = read_after(&db.pool, Cursor::default(), 100)
            .await
            .expect("read");
        if first.iter().any(|e| e.household_id == early) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let seen: Vec<Uuid> = first.iter().map(|e| e.household_id).collect();
    assert!(seen.contains(&early));
    assert!(
        !seen.contains(&slow_id),
        "uncommitted event must not be read"
    );
    assert!(
        !seen.contains(&later),
        "events of transactions newer than a running one wait for it"
    );
    let cursor = first.last().map(|e| e.cursor).unwrap_or_default();

    slow.commit().await.expect("commit");
    let mut rest = Vec::new();
    for _ in 0..500 {
        rest = read_after(&db.pool, cursor, 100).await.expect("read");
        if rest.iter().filter(|e| e.household_id == later).count() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let seen: Vec<Uuid> = rest.iter().map(|e| e.household_id).collect();
    assert_eq!(seen.first(), Some(&slow_id), "the late event comes first");
    assert_eq!(seen.iter().filter(|h| **h == later).count(), 3);
    let again = read_after(&db.pool, rest.last().expect("some").cursor, 100)
        .await
        .expect("read");
    assert!(again.is_empty());
}

#[tokio::test]
async fn a_transaction_left_open_in_another_database_does_not_hold_the_reader_back() {
    let db = common::migrated_db().await;
    let other = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    // Another database of the same server: a session that took a transaction id and stays open
    // (an idle psql, another deployment). It cannot write this log, so it must not stop readers.
    let mut idle = other.pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *idle)
        .await
        .expect("xid");
    let id = household_with_supports(&log, 1).await;
    let mut seen = Vec::new();
    for _ in 0..500 {
        seen = read_after(&db.pool, Cursor::default(), 100)
            .await
            .expect("read");
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen.iter().filter(|e| e.household_id == id).count(),
        2,
        "the events committed here are read while the other database's transaction is open"
    );
    idle.rollback().await.expect("rollback");
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_first_result_and_appends_nothing() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let id = household_with_supports(&log, 0).await;
    let keyed = |amount: i64, digest: &str| {
        let mut cmd = support(id, amount);
        cmd.ctx.idempotency = Some(Idempotency {
            key: "req-7f3a".into(),
            request_digest: digest.into(),
        });
        cmd
    };
    let first = log
        .execute(keyed(500_000, "d1"), None)
        .await
        .expect("first");
    assert!(!first.replayed);
    let retry = log
        .execute(keyed(500_000, "d1"), None)
        .await
        .expect("retry");
    assert!(retry.replayed);
    assert_eq!(retry.version, first.version);
    assert_eq!(retry.events, first.events);
    assert_eq!(log.events(id).await.expect("events").len(), 2);
    let other = log
        .execute(keyed(9, "d2"), None)
        .await
        .expect_err("other body");
    assert!(
        matches!(other, StoreError::IdempotencyKeyReused),
        "{other:?}"
    );
    assert_eq!(log.events(id).await.expect("events").len(), 2);
}

/// Runs the `ansinh` binary against the test database.
fn ansinh(db: &common::TestDb, args: &[&str]) -> std::process::Output {
    Process::new(env!("CARGO_BIN_EXE_ansinh"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run ansinh")
}

/// Changes the log behind the application's back, as a superuser with triggers off would.
async fn tamper(db: &common::TestDb, statement: &str) {
    let mut tx = db.pool.begin().await.expect("begin");
    for sql in [
        "ALTER TABLE household_events DISABLE TRIGGER USER",
        statement,
        "ALTER TABLE household_events ENABLE TRIGGER USER",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.expect(sql);
    }
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn verify_names_edited_deleted_and_swapped_events_and_their_households() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let intact = household_with_supports(&log, 3).await;
    let edited = household_with_supports(&log, 3).await;
    let deleted = household_with_supports(&log, 3).await;
    let swapped = household_with_supports(&log, 3).await;

    let out = ansinh(&db, &["verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    tamper(
        &db,
        &format!(
            "UPDATE household_events SET payload = jsonb_set(payload, '{{data,amount_vnd}}', '9999999')
              WHERE aggregate_id = '{edited}' AND sequence_number = 3"
        ),
    )
    .await;
    tamper(
        &db,
        &format!(
            "DELETE FROM household_events WHERE aggregate_id = '{deleted}' AND sequence_number = 2"
        ),
    )
    .await;
    tamper(
        &db,
        &format!(
            "UPDATE household_events e SET payload = o.payload
               FROM household_events o
              WHERE e.aggregate_id = '{swapped}' AND o.aggregate_id = e.aggregate_id
                AND e.sequence_number IN (2, 3) AND o.sequence_number = 5 - e.sequence_number"
        ),
    )
    .await;

    let out = ansinh(&db, &["verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("household {edited} at event 3")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("household {deleted} at event 2")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("household {swapped} at event 2")),
        "{stdout}"
    );
    assert!(!stdout.contains(&intact.to_string()), "{stdout}");

    let one = ansinh(&db, &["verify", "--household", &intact.to_string()]);
    assert_eq!(one.status.code(), Some(0));
    let one = ansinh(&db, &["verify", "--household", &edited.to_string()]);
    assert_eq!(one.status.code(), Some(1));
    let unknown = ansinh(&db, &["verify", "--household", &Uuid::nil().to_string()]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[tokio::test]
async fn an_anchor_can_be_recomputed_by_hand_and_checked_later() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let mut heads = Vec::new();
    for n in 0..3 {
        let id = household_with_supports(&log, n).await;
        let last = log.events(id).await.expect("events").pop().expect("one");
        heads.push(format!(
            "{}:{}:{}\n",
            id, last.meta.sequence, last.meta.hash
        ));
    }
    heads.sort();
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(heads.concat().as_bytes()))
    };
    let today = (Utc::now() + chrono::Duration::hours(7))
        .date_naive()
        .to_string();
    let out = ansinh(&db, &["anchor", "--date", &today]);
    assert_eq!(out.status.code(), Some(0));
    let anchor: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(anchor["root"], expected.as_str());
    assert_eq!(anchor["households"], 3);

    let ok = ansinh(&db, &["verify", "--anchor", &expected, "--date", &today]);
    assert_eq!(ok.status.code(), Some(0));
    // A day before anything was written has the empty anchor, so today's root fails there.
    let wrong = ansinh(
        &db,
        &["verify", "--anchor", &expected, "--date", "2021-01-01"],
    );
    assert_eq!(wrong.status.code(), Some(1));
}

/// A read model's rows, ordered, as JSON.
async fn rows(db: &common::TestDb, table: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {table} t ORDER BY to_jsonb(t)::text"
    ))
    .fetch_all(&db.pool)
    .await
    .expect("rows")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_sent_at_once_share_transactions_and_a_refused_one_takes_none_of_the_others_down()
{
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("store");
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(household_with_supports(&log, 0).await);
    }
    // Two supports per household, all at once; and one idempotency key sent with two different
    // bodies for two other households, so a batch holding both is refused as a whole.
    let keyed_ids = [
        household_with_supports(&log, 0).await,
        household_with_supports(&log, 0).await,
    ];
    // The log is held until the commands have queued behind the first appends, so batches form
    // however fast this machine answers a lone append (on an idle one, each could otherwise be
    // written before the next arrived).
    let mut hold = db.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE household_events IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .expect("hold the log");
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for n in 0..2 {
            let (log, id) = (log.clone(), *id);
            let amount = 1_000 * (i as i64 + 1) + n;
            tasks.push(tokio::spawn(async move {
                log.execute_retrying(support(id, amount)).await
            }));
        }
    }
    let keyed: Vec<_> = ["first body", "second body"]
        .into_iter()
        .zip(keyed_ids)
        .map(|(digest, id)| {
            let log = log.clone();
            let mut cmd = support(id, 777);
            cmd.ctx.idempotency = Some(Idempotency {
                key: "req-batch".into(),
                request_digest: digest.into(),
            });
            tokio::spawn(async move { log.execute(cmd, None).await })
        })
        .collect();
    let blocked = async {
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&db.pool)
            .await
            .expect("pg_stat_activity");
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), blocked)
        .await
        .expect("an append waits for the log");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    hold.commit().await.expect("let the appends go");
    for task in tasks {
        task.await
            .expect("task")
            .expect("every plain support lands");
    }
    let mut landed = Vec::new();
    for task in keyed {
        match task.await.expect("task") {
            Ok(a) => landed.push(a.household_id),
            Err(StoreError::IdempotencyKeyReused) => {}
            Err(e) => panic!("a reused key is refused as such, not {e:?}"),
        }
    }
    assert_eq!(landed.len(), 1, "one of the two keyed bodies lands");

    for id in &ids {
        assert_contiguous_and_intact(&log, &db, *id, 3).await;
    }
    for id in &keyed_ids {
        let n = 1 + i64::from(landed.contains(id));
        assert_contiguous_and_intact(&log, &db, *id, n).await;
    }
    // Group commit happened: fewer transactions than the supports they wrote.
    let (supports, transactions): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT transaction_id) FROM household_events
          WHERE payload->>'type' = 'support_received'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("counts");
    assert_eq!(supports, 49);
    assert!(
        transactions < supports,
        "{transactions} transactions for {supports} supports"
    );

    // The rows written batch by batch are the rows a rebuild gives.
    let tables = [
        "household_status",
        "disbursement_households",
        "disbursements",
    ];
    let mut written = Vec::new();
    for t in tables {
        written.push(rows(&db, t).await);
    }
    assert_eq!(written[2].len(), 49);
    ansinh_projections::rebuild::rebuild(
        &db.pool,
        &ansinh_projections::rebuild::Projection::ALL,
        5_000,
        |_, _| {},
    )
    .await
    .expect("rebuild");
    for (t, before) in tables.into_iter().zip(written) {
        assert_eq!(rows(&db, t).await, before, "{t}");
    }
}
