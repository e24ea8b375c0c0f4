//! Snapshots against a real PostgreSQL: a long household is read as its snapshot plus the
//! events after it, with the very state and rows its whole history folds to; a snapshot that
//! is corrupted, stands for another chain, or is of an older schema is detected, dropped and
//! replaced — never served.

mod common;

use ansinh::store::EventLog;
use ansinh_events::household::{
    Area, Command, FundingSource, HouseholdCommand, HouseholdRegistered, Member, MemberAdded,
    MemberChangeReason, MembersChanged, Policy, ReplacementInput, Sex, SupportReceived,
    UnitValidity,
};
use ansinh_events::money::Vnd;
use ansinh_events::{Actor, CommandContext, Source};
use ansinh_projections::changes::HouseholdRows;
use ansinh_projections::log::fold;
use ansinh_projections::snapshots::{self, EVERY, SCHEMA_VERSION};
use ansinh_projections::HouseholdLog;
use chrono::{NaiveDate, Utc};
use uuid::Uuid;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn ctx(household_id: Uuid) -> CommandContext {
    CommandContext::new(
        household_id,
        Actor {
            user_id: Uuid::from_u128(0x5a),
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
                    id_number: None,
                }],
            },
            effective_on: date("2021-09-20"),
            unit: Some(UnitValidity {
                valid_from: date("2000-01-01"),
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

/// A household with `events` events, written through the store.
async fn household(log: &EventLog, events: i64) -> Uuid {
    let id = Uuid::now_v7();
    log.execute(register(id), None).await.expect("register");
    for i in 1..events {
        log.execute(support(id, 46_000 + i), None)
            .await
            .expect("support");
    }
    id
}

/// What the whole history folds to, read from the log.
async fn whole(
    log: &EventLog,
    id: Uuid,
) -> (ansinh_events::household::HouseholdState, HouseholdRows) {
    let events = log.events(id).await.expect("events");
    let l = HouseholdLog {
        household_id: id,
        state: fold(&events),
        events,
        first_new: 1,
    };
    let rows = HouseholdRows::of(&l);
    (l.state, rows)
}

/// Rows read as a snapshot and a tail agree with the whole history's: the same status,
/// standings and relapses, and each support row held (those after the snapshot) as the fold
/// gives it.
fn assert_rows_agree(loaded: &HouseholdRows, whole: &HouseholdRows) {
    assert_eq!(loaded.kept_in_snapshot(), whole.kept_in_snapshot());
    for (sequence, row) in &loaded.disbursements.rows {
        assert_eq!(
            Some(row),
            whole.disbursements.rows.get(sequence),
            "row {sequence}"
        );
    }
    if !loaded.disbursements.partial {
        assert_eq!(loaded.disbursements, whole.disbursements);
    }
}

async fn snapshot_sequence(pool: &sqlx::PgPool, id: Uuid) -> Option<i32> {
    sqlx::query_scalar("SELECT sequence FROM household_snapshots WHERE household_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .expect("snapshot row")
}

/// Snapshots are written after the append, in the background: wait for the one expected.
async fn await_snapshot(pool: &sqlx::PgPool, id: Uuid, at_least: i32) -> i32 {
    for _ in 0..200 {
        if let Some(s) = snapshot_sequence(pool, id).await.filter(|s| *s >= at_least) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no snapshot at {at_least} or later was written for {id}");
}

#[tokio::test]
async fn a_long_household_is_read_as_its_snapshot_and_the_events_after_it() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("log");
    let n = EVERY * 2 + 10;
    let id = household(&log, n).await;
    let at = await_snapshot(&db.pool, id, i32::try_from(EVERY).expect("small")).await;
    assert!(
        i64::from(at) < n,
        "the snapshot stands at {at}, events follow it"
    );

    // Another process: nothing cached, so it reads the snapshot and the tail.
    let fresh = EventLog::new(db.pool.clone()).await.expect("log");
    let loaded = fresh.household_from_log(id).await.expect("load");
    let (state, rows) = whole(&fresh, id).await;
    assert_eq!(loaded.state, state);
    assert_rows_agree(&loaded.rows, &rows);
    assert!(
        loaded.rows.disbursements.partial,
        "a snapshot keeps no support rows"
    );
    assert_eq!(loaded.version(), n);

    // And it goes on from there: its next command appends at n + 1 with rows as a fold gives.
    fresh
        .execute(support(id, 99_000), None)
        .await
        .expect("append after a snapshot load");
    let again = EventLog::new(db.pool.clone()).await.expect("log");
    let loaded = again.household_from_log(id).await.expect("load");
    let (state, rows) = whole(&again, id).await;
    assert_eq!(loaded.version(), n + 1);
    assert_eq!(loaded.state, state);
    assert_rows_agree(&loaded.rows, &rows);
}

/// Spoils the household's snapshot with `statement` ($1 = household), then checks that a new
/// process does not serve it: the household loads as its whole history folds, and the spoilt
/// row is gone or replaced.
async fn spoilt_snapshot_is_not_served(statement: &str) {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("log");
    let id = household(&log, EVERY + 3).await;
    await_snapshot(&db.pool, id, i32::try_from(EVERY).expect("small")).await;
    let row = "SELECT md5(s::text) FROM household_snapshots s WHERE household_id = $1";
    let before: String = sqlx::query_scalar(row)
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("row");
    sqlx::query(statement)
        .bind(id)
        .execute(&db.pool)
        .await
        .expect(statement);
    let after: String = sqlx::query_scalar(row)
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("row");
    assert_ne!(
        before, after,
        "the statement spoils the snapshot: {statement}"
    );

    let fresh = EventLog::new(db.pool.clone()).await.expect("log");
    let loaded = fresh.household_from_log(id).await.expect("load");
    let (state, rows) = whole(&fresh, id).await;
    assert_eq!(loaded.state, state, "after: {statement}");
    assert_eq!(loaded.rows, rows, "after: {statement}");
    // The spoilt snapshot was dropped; the load (a tail of EVERY+3 events) wrote a sound one
    // at the newest event.
    let newest = i32::try_from(EVERY + 3).expect("small");
    let replaced = await_snapshot(&db.pool, id, newest).await;
    let (schema, digest_ok): (i32, bool) = sqlx::query_as(
        "SELECT schema_version, body_crc32 = $2
           FROM household_snapshots WHERE household_id = $1",
    )
    .bind(id)
    .bind(i64::from(crc32fast::hash(
        body_of(&db.pool, id).await.as_bytes(),
    )))
    .fetch_one(&db.pool)
    .await
    .expect("replaced snapshot");
    assert_eq!(
        (schema, digest_ok, replaced),
        (SCHEMA_VERSION, true, newest)
    );
}

#[tokio::test]
async fn a_snapshot_whose_body_was_changed_is_dropped_and_replaced() {
    // Supports edited in the body (three zero bytes put before the first: the encoded
    // supports are base64 of varints): the body no longer matches its digest.
    spoilt_snapshot_is_not_served(
        r#"UPDATE household_snapshots SET body = replace(body, '"supports":"', '"supports":"AAAA')
          WHERE household_id = $1"#,
    )
    .await;
}

#[tokio::test]
async fn a_snapshot_of_another_chain_is_dropped_and_replaced() {
    // The hash no longer names the household's event at the snapshot's sequence.
    spoilt_snapshot_is_not_served(
        "UPDATE household_snapshots SET hash = repeat('0', 64) WHERE household_id = $1",
    )
    .await;
}

#[tokio::test]
async fn a_snapshot_of_an_older_schema_is_dropped_and_replaced() {
    spoilt_snapshot_is_not_served(
        "UPDATE household_snapshots SET schema_version = schema_version - 1 WHERE household_id = $1",
    )
    .await;
}

async fn body_of(pool: &sqlx::PgPool, id: Uuid) -> String {
    sqlx::query_scalar("SELECT body FROM household_snapshots WHERE household_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("body")
}

#[tokio::test]
async fn a_snapshot_that_no_longer_parses_is_dropped_even_with_a_matching_checksum() {
    // An event type the code does not know, with the checksum made to match.
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("log");
    let id = household(&log, EVERY + 3).await;
    await_snapshot(&db.pool, id, i32::try_from(EVERY).expect("small")).await;
    let body = body_of(&db.pool, id)
        .await
        .replace("support_received", "support_invented");
    sqlx::query(
        "UPDATE household_snapshots SET body = $2, body_crc32 = $3 WHERE household_id = $1",
    )
    .bind(id)
    .bind(&body)
    .bind(i64::from(crc32fast::hash(body.as_bytes())))
    .execute(&db.pool)
    .await
    .expect("spoil");
    let fresh = EventLog::new(db.pool.clone()).await.expect("log");
    let loaded = fresh.household_from_log(id).await.expect("load");
    let (state, rows) = whole(&fresh, id).await;
    assert_eq!((loaded.state.clone(), loaded.rows.clone()), (state, rows));
    // Written again in the background after the load.
    await_snapshot(&db.pool, id, i32::try_from(EVERY + 3).expect("small")).await;
    assert_ne!(
        body_of(&db.pool, id).await,
        body,
        "the unparsable body was replaced"
    );
}

#[test]
fn the_checks_refuse_each_kind_of_spoilt_snapshot() {
    use snapshots::{check, Rejected};
    let body = r#"{"state":{},"rows":{}}"#;
    assert_eq!(
        check(1, "h", SCHEMA_VERSION - 1, body, 0, Some("h")).err(),
        Some(Rejected::OldSchema(SCHEMA_VERSION - 1))
    );
    assert_eq!(
        check(1, "h", SCHEMA_VERSION, body, 0, Some("other")).err(),
        Some(Rejected::HashMismatch)
    );
    assert_eq!(
        check(1, "h", SCHEMA_VERSION, body, 0, None).err(),
        Some(Rejected::HashMismatch)
    );
    assert_eq!(
        check(1, "h", SCHEMA_VERSION, body, 0, Some("h")).err(),
        Some(Rejected::BodyDigest)
    );
}

#[tokio::test]
async fn rebuild_rewrites_every_snapshot_and_import_s_batch_writer_writes_them() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("log");
    let long = household(&log, EVERY + 1).await;
    let short = household(&log, 5).await;
    await_snapshot(&db.pool, long, i32::try_from(EVERY).expect("small")).await;
    sqlx::query("UPDATE household_snapshots SET body = 'spoilt'")
        .execute(&db.pool)
        .await
        .expect("spoil");
    ansinh_projections::rebuild::rebuild(
        &db.pool,
        &[ansinh_projections::rebuild::Projection::Snapshots],
        7,
        |_, _| {},
    )
    .await
    .expect("rebuild");
    assert_eq!(
        snapshot_sequence(&db.pool, long).await,
        Some(i32::try_from(EVERY + 1).expect("small")),
        "the rebuild writes the long household's snapshot at its newest event"
    );
    assert_eq!(
        snapshot_sequence(&db.pool, short).await,
        None,
        "too short to pay"
    );
    let fresh = EventLog::new(db.pool.clone()).await.expect("log");
    let loaded = fresh.household_from_log(long).await.expect("load");
    let (state, rows) = whole(&fresh, long).await;
    assert_eq!(loaded.state, state);
    assert_rows_agree(&loaded.rows, &rows);
}

/// The support rows, as stored.
async fn disbursement_rows(pool: &sqlx::PgPool, id: Uuid) -> Vec<serde_json::Value> {
    sqlx::query_scalar(
        "SELECT to_jsonb(d) FROM disbursements d WHERE household_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("rows")
}

#[tokio::test]
async fn after_a_snapshot_load_corrections_and_a_new_head_write_the_rows_a_rebuild_gives() {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("log");
    let n = EVERY + 3;
    let id = household(&log, n).await;
    await_snapshot(&db.pool, id, i32::try_from(EVERY).expect("small")).await;

    // Another process reads the snapshot (no support rows) and the tail, then corrects and
    // voids supports from before the snapshot and gives the household a new head: each needs
    // rows the snapshot did not keep.
    let fresh = EventLog::new(db.pool.clone()).await.expect("log");
    assert!(
        fresh
            .household_from_log(id)
            .await
            .expect("load")
            .rows
            .disbursements
            .partial
    );
    let correct = |sequence: i64, replacement: Option<ReplacementInput>| Command {
        ctx: ctx(id),
        action: HouseholdCommand::Correct {
            corrects_sequence: sequence,
            reason: "Nhập sai số tiền".into(),
            replacement,
        },
    };
    let HouseholdCommand::RecordSupport(mut corrected) = support(id, 77_000).action else {
        unreachable!("a support")
    };
    corrected.disbursed_on = date("2023-04-01");
    fresh
        .execute(correct(3, Some(ReplacementInput::Support(corrected))), None)
        .await
        .expect("correct a support from before the snapshot");
    fresh
        .execute(correct(4, None), None)
        .await
        .expect("void one");
    let head = Member {
        name: "Trần Văn Hùng".into(),
        birth_year: 1975,
        sex: Sex::Male,
        relation: "husband".into(),
        id_number: None,
    };
    fresh
        .execute(
            Command {
                ctx: ctx(id),
                action: HouseholdCommand::ChangeMembers(MembersChanged {
                    changed_on: date("2023-05-01"),
                    added: vec![MemberAdded {
                        member: head,
                        reason: MemberChangeReason::Marriage,
                    }],
                    removed: vec![],
                    new_head_name: Some("Trần Văn Hùng".into()),
                }),
            },
            None,
        )
        .await
        .expect("a new head");
    fresh
        .execute(support(id, 55_000), None)
        .await
        .expect("a support after");

    let written = disbursement_rows(&db.pool, id).await;
    assert_eq!(written.len(), usize::try_from(n).expect("small"));
    assert!(written.iter().all(|r| r["head_name"] == "Trần Văn Hùng"));
    assert_eq!(written[1]["amount_vnd"], 77_000);
    assert_eq!(written[2]["voided"], true);
    ansinh_projections::rebuild::rebuild(
        &db.pool,
        &[ansinh_projections::rebuild::Projection::Disbursements],
        1_000,
        |_, _| {},
    )
    .await
    .expect("rebuild");
    assert_eq!(disbursement_rows(&db.pool, id).await, written);
}

/// A long household's snapshot is read from its own row, compressed, not from TOAST chunks
/// (migrations/0045): the column's storage says so, and a body of a thousand supports' worth
/// of text is stored in a fraction of its length.
#[tokio::test]
async fn snapshot_bodies_are_kept_compressed_in_their_row() {
    let db = common::migrated_db().await;
    let storage: String = sqlx::query_scalar(
        "SELECT attstorage::text FROM pg_attribute
          WHERE attrelid = 'household_snapshots'::regclass AND attname = 'body'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("column");
    assert_eq!(storage, "m", "STORAGE MAIN");
    let body = format!("{{\"supports\":\"{}\"}}", "AgACAAI".repeat(1_500));
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO household_snapshots (household_id, sequence, hash, schema_version, body, body_crc32)
         VALUES ($1, 1, 'h', 0, $2, 0)",
    )
    .bind(id)
    .bind(&body)
    .execute(&db.pool)
    .await
    .expect("insert");
    let (length, stored): (i32, i32) = sqlx::query_as(
        "SELECT octet_length(body), pg_column_size(body) FROM household_snapshots
          WHERE household_id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("stored");
    assert!(stored * 4 < length, "{stored} bytes stored for {length}");
}
