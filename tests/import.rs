//! `ansinh import` end to end on a real PostgreSQL: a generated province imported in bulk gives
//! the same log and read models as the same histories written one command at a time through
//! the event log; a second import adds nothing, and a later file holding the earlier rows adds
//! only the new ones; a file with a bad row writes nothing and names the row and the field; an
//! XLSX and a CSV of the same data give the same log; Vietnamese headers and a BOM are read.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use ansinh::generate::{self, Generated};
use ansinh::import::commands::row_commands;
use ansinh::import::format::{ReviewRow, SupportRow};
use ansinh::import::run::{household_id, ImportOptions};
use ansinh::store::EventLog;
use ansinh_events::household::{Command, UnitValidity};
use ansinh_events::standards::Standards;
use ansinh_events::{Actor, CommandContext, Source};
use ansinh_projections::rebuild::{self, Projection};
use ansinh_projections::units::{self, Unit};
use chrono::{DateTime, NaiveDate, Utc};
use common::{ansinh, text};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// With this seed, 150 households include a relapse, so every read model has rows.
const SEED: u64 = 35;
const HOUSEHOLDS: usize = 150;
/// For the tests that only need "a file": fewer households, faster.
const SMALL: usize = 50;

// ------------------------------------------------------------------------------ helpers

/// `ansinh import ARGS FILE`, expected to succeed; its JSON summary.
fn import_ok(db_url: &str, file: &Path, extra: &[&str]) -> Value {
    let file = file.to_str().expect("utf-8 path");
    let mut args = vec!["import", file];
    args.extend_from_slice(extra);
    let out = ansinh(db_url, &args);
    assert!(
        out.status.success(),
        "ansinh {args:?} failed ({:?}):\n{}",
        out.status,
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}):\n{}", text(&out.stdout)))
}

fn generated(households: usize) -> Generated {
    generate::generate(households, SEED).expect("generate")
}

/// Writes `g` as `dir/name` (CSV: plus its `.supports.csv`; XLSX: two sheets).
fn write(dir: &Path, name: &str, g: &Generated) -> PathBuf {
    let path = dir.join(name);
    generate::write(&path, g).expect("write the generated file");
    path
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM household_events")
        .fetch_one(pool)
        .await
        .expect("count events")
}

/// One event of the log as the comparisons see it: where it sits, and its payload without the
/// envelope fields that say how and by whom it was written rather than what happened.
#[derive(Debug, Clone, PartialEq)]
struct LogRow {
    household: Uuid,
    sequence: i32,
    kind: String,
    data: Value,
    /// `meta` without hash, prev_hash, actor, source, correlation_id and idempotency.
    meta: Value,
}

async fn log_rows(pool: &PgPool) -> Vec<LogRow> {
    let rows: Vec<(Uuid, i32, String, Value, Value)> = sqlx::query_as(
        "SELECT aggregate_id, sequence_number, payload->>'type', payload->'data',
                (payload->'meta') - ARRAY['hash', 'prev_hash', 'actor', 'source',
                                          'correlation_id', 'idempotency']
           FROM household_events ORDER BY aggregate_id, sequence_number",
    )
    .fetch_all(pool)
    .await
    .expect("read the log");
    rows.into_iter()
        .map(|(household, sequence, kind, data, meta)| LogRow {
            household,
            sequence,
            kind,
            data,
            meta,
        })
        .collect()
}

/// The log without the instant it was recorded at: each import has its own.
async fn log_rows_without_recorded_at(pool: &PgPool) -> Vec<LogRow> {
    let mut rows = log_rows(pool).await;
    for r in &mut rows {
        r.meta.as_object_mut().expect("meta").remove("recorded_at");
    }
    rows
}

/// Every read-model table as sorted rows, whole but for the replay guards' `version`: it records
/// the version of the batch that last touched the household (a whole household's history in
/// one import batch, one event at a time through the event log), not what any row shows.
/// `household_status.version` is kept: it is the household's version, the API's `If-Match`.
async fn read_models(pool: &PgPool) -> BTreeMap<&'static str, Vec<Value>> {
    let tables = [
        ("household_status", "household_id", ""),
        ("household_standard_status", "household_id, standard", ""),
        (
            "history_corrections",
            "household_id, correction_sequence",
            "",
        ),
        ("disbursements", "household_id, sequence", ""),
        ("disbursement_households", "household_id", " - 'version'"),
        ("re_poverty", "household_id, sequence", ""),
        ("re_poverty_households", "household_id", " - 'version'"),
        ("movement_households", "household_id", " - 'version'"),
        (
            "movement_counts",
            "standard, day, label, unit_a, group_a, flags_a, unit_b, group_b, flags_b",
            "",
        ),
    ];
    let mut out = BTreeMap::new();
    for (table, order, except) in tables {
        let rows: Vec<Value> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t){except} FROM {table} t ORDER BY {order}"
        ))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("read {table}: {e}"));
        out.insert(table, rows);
    }
    out
}

/// Read-model rows without the columns that hold the instant an event was recorded.
fn without_recorded_at(
    mut models: BTreeMap<&'static str, Vec<Value>>,
) -> BTreeMap<&'static str, Vec<Value>> {
    for rows in models.values_mut() {
        for row in rows.iter_mut() {
            if let Some(row) = row.as_object_mut() {
                row.remove("last_recorded_at");
                row.remove("recorded_at");
            }
        }
    }
    models
}

fn standards() -> Standards {
    Standards::builtin().expect("standards")
}

/// The movements read model is kept by the asynchronous runner (not by the import, nor by the
/// event log's inline handler): bring it up to date before comparing.
async fn catch_up(pool: &PgPool) {
    ansinh::projection_runner::catch_up(pool)
        .await
        .expect("movements catch up");
}

/// Rows grouped by household in file order, each with its line (header = line 1), as the
/// importer groups them.
type Grouped<'a> = Vec<(
    &'a str,
    Vec<(u64, &'a ReviewRow)>,
    Vec<(u64, &'a SupportRow)>,
)>;

fn grouped(g: &Generated) -> Grouped<'_> {
    let mut out: Grouped<'_> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in g.reviews.iter().enumerate() {
        let at = *index.entry(&r.household_key).or_insert_with(|| {
            out.push((&r.household_key, Vec::new(), Vec::new()));
            out.len() - 1
        });
        out[at].1.push((i as u64 + 2, r));
    }
    for (i, s) in g.supports.iter().enumerate() {
        let at = *index
            .get(s.household_key.as_str())
            .expect("supports of generated households have review rows");
        out[at].2.push((i as u64 + 2, s));
    }
    out
}

/// The unit lookup the importer uses, on the database's units: the record of the code valid
/// on the day, else the code's latest record; `None` for an unknown code.
async fn unit_lookup(
    pool: &PgPool,
    g: &Generated,
) -> impl Fn(&str, NaiveDate) -> Option<UnitValidity> {
    let mut by_code: HashMap<String, Vec<Unit>> = HashMap::new();
    for r in &g.reviews {
        if !by_code.contains_key(&r.unit_code) {
            let versions = units::by_code(pool, &r.unit_code).await.expect("units");
            by_code.insert(r.unit_code.clone(), versions);
        }
    }
    move |code: &str, day: NaiveDate| units::placement_record(by_code.get(code)?, day)
}

/// Writes every household of `g` through `EventLog::execute`, one command per call, each
/// recorded at `recorded_at`, under the household id the importer derives from its key.
async fn replay_one_command_at_a_time(pool: &PgPool, g: &Generated, recorded_at: DateTime<Utc>) {
    let standards = standards();
    let log = EventLog::new(pool.clone()).await.expect("event log");
    let lookup = unit_lookup(pool, g).await;
    let actor = Actor {
        user_id: Uuid::now_v7(),
        name: "Trần Thị Thu".into(),
        role: "province_officer".into(),
        unit: "72".into(),
    };
    for (key, reviews, supports) in grouped(g) {
        let id = household_id(key);
        let commands = row_commands(&reviews, &supports, &standards, &lookup)
            .unwrap_or_else(|e| panic!("household {key}: {e:?}"));
        for row in commands {
            let ctx = CommandContext::new(id, actor.clone(), Source::Api, recorded_at);
            let what = format!("household {key} line {}: {:?}", row.line, row.command);
            log.execute(
                Command {
                    ctx,
                    action: row.command,
                },
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{what} was refused: {e}"));
        }
    }
}

// ------------------------------------------------------------------------------ tests

#[tokio::test]
async fn a_generated_file_imports_and_every_read_model_agrees_with_replaying_one_command_at_a_time()
{
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = generated(HOUSEHOLDS);
    let file = write(tmp.path(), "tay-ninh.csv", &g);
    let (a, b) = tokio::join!(common::migrated_db(), common::migrated_db());

    // A: the bulk import, in a child process as a user would run it.
    let before = Utc::now();
    let summary = import_ok(&a.url, &file, &[]);
    let after = Utc::now();
    assert_eq!(summary["households"], HOUSEHOLDS);
    assert_eq!(summary["rejected_households"], 0);
    let written = summary["events_written"].as_u64().expect("events_written");
    assert_eq!(written, event_count(&a.pool).await as u64);
    assert!(written > 5 * HOUSEHOLDS as u64, "{summary}");

    // The import records every event at one instant, with the batch as the source.
    // (Read as text: the payload keeps nanoseconds, a timestamptz only microseconds.)
    let envelopes: Vec<(String, Value, Value)> = sqlx::query_as(
        "SELECT DISTINCT payload#>>'{meta,recorded_at}', payload#>'{meta,source}',
                payload#>'{meta,correlation_id}'
           FROM household_events",
    )
    .fetch_all(&a.pool)
    .await
    .expect("envelopes");
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let (recorded_at, source, correlation) = envelopes[0].clone();
    let recorded_at: DateTime<Utc> = recorded_at.parse().expect("recorded_at");
    assert!(before <= recorded_at && recorded_at <= after);
    assert_eq!(source["kind"], "import");
    assert_eq!(source["batch_id"], summary["batch_id"]);
    assert_eq!(correlation, summary["batch_id"]);

    // B: the same households, one command at a time through the event log (esrs, the inline
    // read-model handler, one transaction per command), built from the generated rows rather
    // than the file, so writing and reading the CSV is checked on the way. Recorded at the import's instant: the
    // aggregate's decisions depend on "today" (dates in the future are refused), and so every
    // business fact, and every read-model column derived from `recorded_at`
    // (`household_status.last_recorded_at`, `disbursements.recorded_at`), must come out the
    // same. What legitimately differs is how the events were written — the row ids, the
    // actor, the source and correlation id, the import's idempotency keys — and the hashes,
    // which cover those. No read model holds any of them, so read-model rows are compared
    // whole (but for the replay guards' versions, see `read_models`), and the logs without
    // those envelope fields.
    replay_one_command_at_a_time(&b.pool, &g, recorded_at).await;

    let log_a = log_rows(&a.pool).await;
    let log_b = log_rows(&b.pool).await;
    assert_eq!(log_a.len(), log_b.len());
    for (x, y) in log_a.iter().zip(&log_b) {
        assert_eq!(x, y, "the logs differ");
    }
    let households: std::collections::HashSet<Uuid> = log_a.iter().map(|r| r.household).collect();
    assert_eq!(households.len(), HOUSEHOLDS);
    // The village meetings are in both logs alike; the import also posted each commune's
    // results of each period (the replay of household commands writes no posting).
    let meetings = |pool: PgPool| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM household_events WHERE payload->>'type' = 'review_meeting_held'",
        )
        .fetch_one(&pool)
        .await
        .expect("meetings");
        n
    };
    let held = meetings(a.pool.clone()).await;
    assert!(held > 0, "the generated file holds meetings");
    assert_eq!(held, meetings(b.pool.clone()).await);
    assert!(summary["postings_written"].as_u64() > Some(0), "{summary}");

    catch_up(&a.pool).await;
    catch_up(&b.pool).await;
    let models_a = read_models(&a.pool).await;
    let models_b = read_models(&b.pool).await;
    for (table, rows) in &models_a {
        // The import records no corrections; every other read model has rows.
        if *table != "history_corrections" {
            assert!(!rows.is_empty(), "{table} is empty after the import");
        }
        let other = &models_b[table];
        assert_eq!(rows.len(), other.len(), "{table}: row counts differ");
        for (x, y) in rows.iter().zip(other) {
            assert_eq!(x, y, "{table}: the import and the replay differ");
        }
    }

    // A full rebuild of A's read models from its log gives the rows the import wrote.
    rebuild::rebuild(&a.pool, &Projection::ALL, 5_000, |_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(read_models(&a.pool).await, models_a);

    // The same file in batches of 16 households (the command's batches hold more than this
    // whole file): the batches are decided and written in a pipeline, and must not change a
    // thing but the instant of the import.
    let c = common::migrated_db().await;
    let options = ImportOptions {
        batch_households: 16,
        ..ImportOptions::default()
    };
    let progress = indicatif::ProgressBar::hidden();
    let batched = ansinh::import::run::import(&c.pool, &file, &standards(), &options, &progress)
        .await
        .expect("import in small batches");
    assert_eq!(batched.events_written, written);
    assert_eq!(
        log_rows_without_recorded_at(&c.pool).await,
        log_rows_without_recorded_at(&a.pool).await
    );
    catch_up(&c.pool).await;
    assert_eq!(
        without_recorded_at(read_models(&c.pool).await),
        without_recorded_at(models_a.clone())
    );

    // The imported chains are intact.
    let verify = ansinh(&a.url, &["verify"]);
    assert!(
        verify.status.success(),
        "verify: {:?}\n{}{}",
        verify.status,
        text(&verify.stdout),
        text(&verify.stderr)
    );
}

/// `ansinh import FILE | head -c 0`: a reader gone before the summary is written ends the
/// command quietly, the import done, not with a panic.
#[tokio::test]
async fn an_import_whose_reader_went_away_finishes_without_a_panic() {
    let db = common::test_db().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "small.csv", &generated(SMALL));
    let mut child = Process::new(env!("CARGO_BIN_EXE_ansinh"))
        .arg("import")
        .arg(&file)
        .env("DATABASE_URL", &db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ansinh import");
    // The pipe's only reader closes before the command writes a byte.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(event_count(&db.pool).await > 0);
}

#[tokio::test]
async fn a_second_import_of_the_same_file_adds_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write(tmp.path(), "review.csv", &generated(SMALL));
    let db = common::migrated_db().await;

    let first = import_ok(&db.url, &file, &[]);
    let events = event_count(&db.pool).await;
    assert!(events > 0);
    assert_eq!(first["events_written"], events);
    assert_eq!(first["rows_already_imported"], 0);
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&db.pool)
        .await
        .expect("keys");
    let models = read_models(&db.pool).await;

    let second = import_ok(&db.url, &file, &[]);
    assert_eq!(second["events_written"], 0, "{second}");
    assert_eq!(second["rows_already_imported"], keys, "{second}");
    assert_eq!(second["rejected_households"], 0);
    assert_ne!(second["batch_id"], first["batch_id"]);
    assert_eq!(event_count(&db.pool).await, events);
    assert_eq!(read_models(&db.pool).await, models);
}

/// Households of the file an import is killed in the middle of: eight batches of 250.
const KILLED: usize = 2000;

#[tokio::test]
async fn an_import_killed_midway_and_run_again_gives_the_log_of_a_clean_import() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write(tmp.path(), "province.csv", &generated(KILLED));
    let (a, b) = tokio::join!(common::migrated_db(), common::migrated_db());

    // kill -9 once the first batches are committed, long before the last.
    let mut child = Process::new(env!("CARGO_BIN_EXE_ansinh"))
        .arg("import")
        .arg(&file)
        .env("DATABASE_URL", &a.url)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ansinh import");
    while event_count(&a.pool).await == 0 {
        let status = child.try_wait().expect("try_wait");
        assert!(
            status.is_none(),
            "the import ended ({status:?}) before it wrote anything"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.kill().expect("kill -9 the import");
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "the import finished before it was killed"
    );
    let partial = event_count(&a.pool).await;

    // What it committed is whole: every chain verifies.
    let verify = ansinh(&a.url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));

    // Run again, and a clean import of the same file into another database, side by side.
    let rerun = {
        let (url, file) = (a.url.clone(), file.clone());
        tokio::task::spawn_blocking(move || import_ok(&url, &file, &[]))
    };
    let clean = import_ok(&b.url, &file, &[]);
    let rerun = rerun.await.expect("rerun");
    let total = clean["events_written"].as_i64().expect("events_written");
    assert!(
        0 < partial && partial < total,
        "killed with {partial} of {total} events written"
    );
    assert_eq!(
        rerun["events_written"].as_i64(),
        Some(total - partial),
        "{rerun}"
    );
    assert_eq!(rerun["rejected_households"], 0);
    eprintln!("killed after {partial} of {total} events");

    // The same events, at the same places, with the same payloads, but for the instant and
    // the batch of the import that wrote them.
    let (log_a, log_b) = (
        log_rows_without_recorded_at(&a.pool).await,
        log_rows_without_recorded_at(&b.pool).await,
    );
    assert_eq!(log_a.len(), log_b.len());
    for (x, y) in log_a.iter().zip(&log_b) {
        assert_eq!(x, y, "the resumed import and the clean one differ");
    }
    let verify = ansinh(&a.url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

#[tokio::test]
async fn a_later_file_with_the_earlier_rows_adds_only_what_is_new() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let full = generated(SMALL);
    // The file of a year earlier: the reviews surveyed and the supports paid before 2024.
    let mut early = full.clone();
    early
        .reviews
        .retain(|r| r.survey_date.as_str() < "2024-01-01");
    early
        .supports
        .retain(|s| s.disbursed_on.as_str() < "2024-01-01");
    assert!(early.reviews.len() < full.reviews.len());
    let early_file = write(tmp.path(), "2023.csv", &early);
    let full_file = write(tmp.path(), "2024.csv", &full);
    let (a, b) = tokio::join!(common::migrated_db(), common::migrated_db());

    let first = import_ok(&a.url, &early_file, &[]);
    let then = import_ok(&a.url, &full_file, &[]);
    assert!(then["rows_already_imported"].as_u64() > Some(0), "{then}");
    assert!(then["events_written"].as_u64() > Some(0), "{then}");
    let at_once = import_ok(&b.url, &full_file, &[]);
    assert_eq!(
        first["events_written"]
            .as_u64()
            .zip(then["events_written"].as_u64())
            .map(|(x, y)| x + y),
        at_once["events_written"].as_u64()
    );
    // The same histories, in the same order, as the whole file imported at once.
    assert_eq!(
        log_rows_without_recorded_at(&a.pool).await,
        log_rows_without_recorded_at(&b.pool).await
    );
}

/// A copy of the CSV file at `from` as `to` (and its supports file), with one cell of the first
/// row of `sheet` that `row` picks changed to `value` — or, with `repeat`, that row kept and a
/// copy of it with the cell changed written after it. Returns the file line (header = line 1)
/// of the changed row.
fn break_cell(
    from: &Path,
    to: &Path,
    sheet: &str,
    row: impl Fn(&csv::StringRecord, &csv::StringRecord) -> bool,
    (column, value): (&str, &str),
    repeat: bool,
) -> u64 {
    let source = |p: &Path| {
        if sheet == "supports" {
            ansinh::import::format::supports_path(p)
        } else {
            p.to_path_buf()
        }
    };
    let other = |p: &Path| {
        if sheet == "supports" {
            p.to_path_buf()
        } else {
            ansinh::import::format::supports_path(p)
        }
    };
    if other(from).exists() {
        std::fs::copy(other(from), other(to)).expect("copy the other sheet");
    }
    let mut reader = csv::Reader::from_path(source(from)).expect("read");
    let headers = reader.headers().expect("headers").clone();
    let at = headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let mut writer = csv::Writer::from_path(source(to)).expect("write");
    writer.write_record(&headers).expect("header");
    let mut line = None;
    let mut written = 1;
    for record in reader.records() {
        let record = record.expect("record");
        if line.is_none() && row(&headers, &record) {
            if repeat {
                writer.write_record(&record).expect("row");
                written += 1;
            }
            let changed: Vec<&str> = record
                .iter()
                .enumerate()
                .map(|(j, cell)| if j == at { value } else { cell })
                .collect();
            writer.write_record(changed).expect("row");
            written += 1;
            line = Some(written);
        } else {
            writer.write_record(&record).expect("row");
            written += 1;
        }
    }
    writer.flush().expect("flush");
    line.expect("a row to break")
}

/// [`break_cell`] on `file` itself.
fn break_in_place(
    file: &Path,
    sheet: &str,
    row: impl Fn(&csv::StringRecord, &csv::StringRecord) -> bool,
    change: (&str, &str),
) -> u64 {
    let staged = file.with_file_name("staged.csv");
    std::fs::rename(file, &staged).expect("stage");
    let supports = ansinh::import::format::supports_path(file);
    if supports.exists() {
        std::fs::rename(&supports, ansinh::import::format::supports_path(&staged)).expect("stage");
    }
    break_cell(&staged, file, sheet, row, change, false)
}

/// The rows of one sheet of a CSV file, by file line.
fn rows_by_line(file: &Path) -> BTreeMap<u64, csv::StringRecord> {
    csv::Reader::from_path(file)
        .expect("read")
        .records()
        .enumerate()
        .map(|(i, r)| (i as u64 + 2, r.expect("record")))
        .collect()
}

fn cell<'r>(headers: &csv::StringRecord, record: &'r csv::StringRecord, column: &str) -> &'r str {
    let at = headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    record.get(at).unwrap_or_default()
}

/// Runs `ansinh import FILE`, expecting exit code 2 and a message naming `line` and `field`.
fn assert_refused(db_url: &str, file: &Path, sheet: &str, line: u64, field: &str) {
    let out = ansinh(db_url, &["import", file.to_str().expect("utf-8 path")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
    assert!(
        stderr.contains(&format!("{sheet} line {line}: {field}: ")),
        "{}: expected {sheet} line {line}: {field}; stderr:\n{stderr}",
        file.display()
    );
    assert!(
        stderr.contains("nothing was imported"),
        "{}: {stderr}",
        file.display()
    );
    assert!(out.stdout.is_empty(), "no summary on failure");
}

#[tokio::test]
async fn a_file_with_a_bad_row_writes_nothing_and_names_the_row_and_field() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let good = write(dir, "good.csv", &generated(SMALL));
    let db = common::migrated_db().await;

    // A dry run of a good file checks everything and writes nothing.
    let dry = import_ok(&db.url, &good, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["households"], SMALL);
    assert_eq!(dry["events_written"], 0);
    assert_eq!(event_count(&db.pool).await, 0);

    let any = |_: &csv::StringRecord, _: &csv::StringRecord| true;
    // The n-th row of the file (1-based, header not counted).
    let nth = |n: usize| {
        let seen = std::cell::Cell::new(0);
        move |_: &csv::StringRecord, _: &csv::StringRecord| {
            seen.set(seen.get() + 1);
            seen.get() == n
        }
    };
    // The first row of the n-th household (1-based): its registration comes from that row.
    let first_row_of = |n: usize| {
        let households = std::cell::Cell::new(0);
        let previous = std::cell::RefCell::new(String::new());
        move |h: &csv::StringRecord, r: &csv::StringRecord| {
            let key = cell(h, r, "household_key");
            if *previous.borrow() != key {
                households.set(households.get() + 1);
                *previous.borrow_mut() = key.to_owned();
                households.get() == n
            } else {
                false
            }
        }
    };
    let decided =
        |h: &csv::StringRecord, r: &csv::StringRecord| !cell(h, r, "decided_on").is_empty();

    // A negative income.
    let file = dir.join("negative-income.csv");
    let change = ("income_per_capita_vnd", "-1200000");
    let line = break_cell(&good, &file, "reviews", nth(7), change, false);
    assert_refused(&db.url, &file, "reviews", line, "income_per_capita_vnd");

    // An indicator no standard in force knows.
    let file = dir.join("unknown-indicator.csv");
    let change = ("deprivations", "housing_area, flying_carpet");
    let line = break_cell(&good, &file, "reviews", nth(30), change, false);
    assert_refused(&db.url, &file, "reviews", line, "deprivations");

    // A decision dated in the future: the cell parses, the aggregate refuses it.
    let file = dir.join("future-decision.csv");
    let change = ("decided_on", "2099-01-15");
    let line = break_cell(&good, &file, "reviews", decided, change, false);
    assert_refused(&db.url, &file, "reviews", line, "decided_on");

    // An unknown commune, on a household's first row (where its registration comes from).
    let file = dir.join("unknown-unit.csv");
    let change = ("unit_code", "99999");
    let line = break_cell(&good, &file, "reviews", first_row_of(2), change, false);
    assert_refused(&db.url, &file, "reviews", line, "unit_code");

    // A support with a policy nobody knows: named in the supports sheet.
    let file = dir.join("unknown-policy.csv");
    let change = ("policy", "free_money");
    let line = break_cell(&good, &file, "supports", any, change, false);
    assert_refused(&db.url, &file, "supports", line, "policy");

    // An amount above any support's plausible maximum, and one beyond any integer: both named.
    for (name, amount) in [
        ("huge-amount.csv", "9.000.000.000.000"),
        ("endless-amount.csv", "99999999999999999999999"),
    ] {
        let file = dir.join(name);
        let line = break_cell(&good, &file, "supports", any, ("amount_vnd", amount), false);
        assert_refused(&db.url, &file, "supports", line, "amount_vnd");
    }

    // A second row for the same household and period, with another income: which survey
    // counts? Refused, not one of them silently dropped.
    let file = dir.join("period-twice.csv");
    let change = ("income_per_capita_vnd", "1000000");
    let line = break_cell(&good, &file, "reviews", nth(10), change, true);
    assert_refused(&db.url, &file, "reviews", line, "period");

    // A NUL character, which PostgreSQL cannot keep in a JSON payload: refused with the rest,
    // not when the batch is written.
    let file = dir.join("nul.csv");
    let change = ("head_name", "Nguyễn\0Văn An");
    let line = break_cell(&good, &file, "reviews", nth(12), change, false);
    assert_refused(&db.url, &file, "reviews", line, "head_name");

    // An empty line in a CRLF file counts: the line named is the one an editor shows.
    let file = dir.join("blank-line.csv");
    let change = ("income_per_capita_vnd", "lots");
    let line = break_cell(&good, &file, "reviews", nth(9), change, false);
    let content = std::fs::read_to_string(&file).expect("read");
    let mut lines: Vec<&str> = content.lines().collect();
    lines.insert(3, "");
    std::fs::write(&file, lines.join("\r\n") + "\r\n").expect("write");
    assert_refused(&db.url, &file, "reviews", line + 1, "income_per_capita_vnd");

    assert_eq!(
        event_count(&db.pool).await,
        0,
        "a refused file wrote events"
    );
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&db.pool)
        .await
        .expect("keys");
    assert_eq!(keys, 0);

    // --skip-invalid writes the other households and names the bad rows in FILE.rejects.csv:
    // a bad review on line 2, an unknown unit, and a bad support on line 2 of the supports
    // file (another household's).
    let file = dir.join("three-bad.csv");
    std::fs::copy(&good, &file).expect("copy");
    std::fs::copy(
        ansinh::import::format::supports_path(&good),
        ansinh::import::format::supports_path(&file),
    )
    .expect("copy");
    let bad_income = break_in_place(&file, "reviews", nth(1), ("income_per_capita_vnd", "-5"));
    let bad_unit = break_in_place(&file, "reviews", first_row_of(6), ("unit_code", "99999"));
    let bad_policy = break_in_place(&file, "supports", any, ("policy", "free_money"));
    let reviews = rows_by_line(&file);
    let supports = rows_by_line(&ansinh::import::format::supports_path(&file));
    let rejected = [
        reviews[&bad_income][0].to_owned(),
        reviews[&bad_unit][0].to_owned(),
        supports[&bad_policy][0].to_owned(),
    ];
    assert_eq!(
        bad_income, bad_policy,
        "the same line number in both sheets"
    );
    assert!(
        rejected[0] != rejected[1] && rejected[1] != rejected[2] && rejected[0] != rejected[2],
        "{rejected:?}"
    );

    let summary = import_ok(&db.url, &file, &["--skip-invalid"]);
    assert_eq!(summary["rejected_households"], 3, "{summary}");
    let rejects = dir.join("three-bad.rejects.csv");
    assert_eq!(summary["rejects_file"], rejects.to_str().expect("utf-8"));
    let report = std::fs::read_to_string(&rejects).expect("the rejects file");
    let named: Vec<[String; 4]> = csv::Reader::from_reader(report.as_bytes())
        .records()
        .map(|r| {
            let r = r.expect("rejects row");
            [0, 1, 2, 3].map(|i| r[i].to_owned())
        })
        .collect();
    for (sheet, line, key, field) in [
        ("reviews", bad_income, &rejected[0], "income_per_capita_vnd"),
        ("reviews", bad_unit, &rejected[1], "unit_code"),
        ("supports", bad_policy, &rejected[2], "policy"),
    ] {
        let expected = [sheet.into(), line.to_string(), key.clone(), field.into()];
        assert!(named.contains(&expected), "{expected:?} in\n{report}");
    }
    let imported: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM household_events")
            .fetch_all(&db.pool)
            .await
            .expect("households");
    assert_eq!(imported.len(), SMALL - 3);
    for key in &rejected {
        assert!(!imported.contains(&household_id(key)), "{key} was imported");
    }
    assert_eq!(
        summary["events_written"].as_i64(),
        Some(event_count(&db.pool).await)
    );
}

#[tokio::test]
async fn a_row_placing_a_household_in_a_district_or_province_is_refused_naming_unit_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let good = write(dir, "good.csv", &generated(SMALL));
    let db = common::migrated_db().await;
    // The file's first row registers its first household (in 2021, when 703 and 72 were valid):
    // households live in communes only.
    let first = |_: &csv::StringRecord, _: &csv::StringRecord| true;
    for code in ["703", "72"] {
        let file = dir.join(format!("at-{code}.csv"));
        let line = break_cell(&good, &file, "reviews", first, ("unit_code", code), false);
        assert_refused(&db.url, &file, "reviews", line, "unit_code");
    }
    assert_eq!(event_count(&db.pool).await, 0);
}

#[tokio::test]
async fn an_xlsx_and_a_csv_of_the_same_data_give_the_same_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = generated(SMALL);
    assert!(!g.supports.is_empty());
    let csv_file = write(tmp.path(), "review.csv", &g);
    let xlsx_file = write(tmp.path(), "review.xlsx", &g);
    let (a, b) = tokio::join!(common::migrated_db(), common::migrated_db());
    let from_csv = import_ok(&a.url, &csv_file, &[]);
    let from_xlsx = import_ok(&b.url, &xlsx_file, &[]);
    assert_eq!(from_csv["events_written"], from_xlsx["events_written"]);
    assert_eq!(from_csv["support_rows"], from_xlsx["support_rows"]);

    // Each import has its own instant; everything else that is not about the writing agrees.
    let log_csv = log_rows_without_recorded_at(&a.pool).await;
    let log_xlsx = log_rows_without_recorded_at(&b.pool).await;
    assert!(!log_csv.is_empty());
    assert_eq!(log_csv.len(), log_xlsx.len());
    for (x, y) in log_csv.iter().zip(&log_xlsx) {
        assert_eq!(x, y, "the CSV and the XLSX gave different logs");
    }
}

#[tokio::test]
async fn vietnamese_headers_and_a_bom_are_accepted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("rà-soát-2022.csv");
    std::fs::write(
        &file,
        "\u{feff}Mã hộ,Họ tên chủ hộ,Mã xã,Ấp,Khu vực,Dân tộc thiểu số,Người có công,\
         Ngày đăng ký,Thành viên,Kỳ rà soát,Ngày rà soát,Thu nhập bình quân,Chỉ số thiếu hụt,\
         Khả năng lao động,Nhu cầu vay vốn,Nguyên nhân nghèo,Rà soát viên,Chuẩn nghèo,\
         Phân loại,Số quyết định,Ngày quyết định,Ghi chú\n\
         TN-001,Nguyễn Văn An,25459,Khu phố 3,Thành thị,không,không,20/08/2021,\
         Nguyễn Văn An/1970/nam/head/; Lê Thị Bé/1972/nữ/spouse/,2022-annual,05/10/2022,\
         \"1.200.000\",\"health_insurance; housing_area, hygienic_latrine\",có,có,Thiếu vốn,\
         Trần Thị Cúc,vn-2022-2025,Hộ nghèo,215/QĐ-UBND,01/12/2022,\n\
         TN-002,Đỗ Thị Đào,25459,Khu phố 1,thành thị,,,,Đỗ Thị Đào/1985/nữ/head/,2022-annual,\
         2022-10-06,4500000,,x,,,Trần Thị Cúc,,Không nghèo,216/QĐ-UBND,2022-12-01,ghi chú\n",
    )
    .expect("write reviews");
    std::fs::write(
        ansinh::import::format::supports_path(&file),
        "\u{feff}Mã hộ,Chính sách,Số tiền,Hiện vật,Nguồn vốn,Mã quỹ,Ngày chi,Đơn vị chi,\
         Số quyết định,Người nhận\n\
         TN-001,Bảo hiểm y tế,\"804.600\",,Ngân sách trung ương,,20/12/2022,UBND phường 3,\
         12/QĐ-UBND,Lê Thị Bé\n",
    )
    .expect("write supports");
    let db = common::migrated_db().await;
    let summary = import_ok(&db.url, &file, &[]);
    assert_eq!(summary["households"], 2, "{summary}");
    assert_eq!(summary["support_rows"], 1);

    let status: Vec<(String, String, String, i32)> = sqlx::query_as(
        "SELECT head_name, unit_code, hamlet, member_count FROM household_status ORDER BY head_name",
    )
    .fetch_all(&db.pool)
    .await
    .expect("status");
    assert_eq!(
        status,
        [
            (
                "Nguyễn Văn An".into(),
                "25459".into(),
                "Khu phố 3".into(),
                2
            ),
            ("Đỗ Thị Đào".into(), "25459".into(), "Khu phố 1".into(), 1),
        ]
    );
    let categories: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT household_id, category FROM household_standard_status WHERE standard = 'vn-2022-2025'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("categories");
    let categories: HashMap<Uuid, String> = categories.into_iter().collect();
    assert_eq!(categories[&household_id("TN-001")], "poor");
    assert_eq!(categories[&household_id("TN-002")], "not_poor");
    let paid: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT policy, amount_vnd, recipient_member FROM disbursements")
            .fetch_all(&db.pool)
            .await
            .expect("disbursements");
    assert_eq!(
        paid,
        [("health_insurance".into(), 804_600, "Lê Thị Bé".into())]
    );
}

// ------------------------------------------------------------------------- across the reform

/// A review row without a decision (a survey only), in `unit` on `survey_date`.
fn survey_row(key: &str, unit: &str, registered_on: &str, survey_date: &str) -> ReviewRow {
    let year = &survey_date[..4];
    ReviewRow {
        household_key: key.into(),
        head_name: "Phạm Văn Hùng".into(),
        unit_code: unit.into(),
        hamlet: "Khu phố 2".into(),
        area: "urban".into(),
        ethnic_minority: "no".into(),
        merit_family: "no".into(),
        registered_on: registered_on.into(),
        members: "Phạm Văn Hùng/1975/male/head/; Võ Thị Lan/1978/female/spouse/".into(),
        period: format!("{year}-annual"),
        survey_date: survey_date.into(),
        income_per_capita_vnd: "4500000".into(),
        deprivations: String::new(),
        working_capacity: "yes".into(),
        loan_demand: "no".into(),
        cause_of_poverty: String::new(),
        surveyor: "Trần Thị Cúc".into(),
        standard: String::new(),
        category: String::new(),
        decision_no: String::new(),
        decided_on: String::new(),
        decision_reason: String::new(),
        ..ReviewRow::default()
    }
}

fn reviews_file(dir: &Path, name: &str, reviews: Vec<ReviewRow>) -> PathBuf {
    let g = Generated {
        households: 0,
        reviews,
        supports: Vec::new(),
    };
    write(dir, name, &g)
}

/// The household's events as (type, effective_on, legal_basis, actor name, unit_code).
async fn history(
    pool: &PgPool,
    key: &str,
) -> Vec<(String, String, Option<String>, String, Option<String>)> {
    sqlx::query_as(
        "SELECT payload->>'type', payload->'meta'->>'effective_on', payload->'meta'->>'legal_basis',
                payload->'meta'->'actor'->>'name', payload->'data'->>'unit_code'
           FROM household_events WHERE aggregate_id = $1 ORDER BY sequence_number",
    )
    .bind(household_id(key))
    .fetch_all(pool)
    .await
    .expect("history")
}

async fn unit_of(pool: &PgPool, key: &str) -> (String, NaiveDate) {
    sqlx::query_as("SELECT unit_code, placed_on FROM household_status WHERE household_id = $1")
        .bind(household_id(key))
        .fetch_one(pool)
        .await
        .expect("status")
}

#[tokio::test]
async fn a_row_after_the_reform_in_the_new_commune_records_the_reform_move_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut long_an = survey_row("LA-1", "27739", "2023-05-02", "2023-10-02");
    long_an.area = "rural".into();
    let mut long_an_2026 = survey_row("LA-1", "27721", "2023-05-02", "2026-10-02");
    long_an_2026.area = "rural".into();
    // Xã Mỏ Công (25510) was split between Xã Trà Vong, which reuses its code, and Xã Tân Phú
    // (25549): the row says which one the household's hamlet went to.
    let split = |key: &str, new: &str| {
        [("2022-10-04", "25510"), ("2026-10-07", new)].map(|(day, unit)| {
            let mut r = survey_row(key, unit, "2022-03-01", day);
            r.area = "rural".into();
            r
        })
    };
    let rows = vec![
        // Registered in 2022 in Phường 1 (25456), which went whole into Phường Tân Ninh (25459).
        survey_row("TN-1", "25456", "2022-03-01", "2022-10-03"),
        survey_row("TN-1", "25459", "2022-03-01", "2026-10-05"),
        // Registered after the reform, in the new commune.
        survey_row("TN-2", "25459", "2026-03-01", "2026-10-06"),
        // Old Long An: Vĩnh Thạnh (27739) went into Tân Hưng (27721).
        long_an,
        long_an_2026,
    ]
    .into_iter()
    .chain(split("MC-1", "25510"))
    .chain(split("MC-2", "25549"))
    .collect::<Vec<_>>();
    let file = reviews_file(dir, "reform.csv", rows.clone());
    let db = common::migrated_db().await;
    let first = import_ok(&db.url, &file, &[]);
    assert_eq!(first["households"], 5, "{first}");

    let tn1 = history(&db.pool, "TN-1").await;
    let kinds: Vec<&str> = tn1.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "household_registered",
            "household_surveyed",
            "household_moved",
            "household_surveyed"
        ],
        "{tn1:?}"
    );
    assert_eq!(
        tn1[2],
        (
            "household_moved".to_owned(),
            "2025-07-01".to_owned(),
            Some("1682/NQ-UBTVQH15".to_owned()),
            "reform".to_owned(),
            Some("25459".to_owned())
        )
    );
    let day = |s: &str| s.parse::<NaiveDate>().expect("date");
    assert_eq!(
        unit_of(&db.pool, "TN-1").await,
        ("25459".into(), day("2025-07-01"))
    );
    assert_eq!(
        unit_of(&db.pool, "TN-2").await,
        ("25459".into(), day("2026-03-01"))
    );
    assert_eq!(
        unit_of(&db.pool, "LA-1").await,
        ("27721".into(), day("2025-07-01"))
    );
    assert_eq!(
        unit_of(&db.pool, "MC-1").await,
        ("25510".into(), day("2025-07-01"))
    );
    assert_eq!(
        unit_of(&db.pool, "MC-2").await,
        ("25549".into(), day("2025-07-01"))
    );
    assert!(history(&db.pool, "TN-2")
        .await
        .iter()
        .all(|e| e.0 != "household_moved"));

    // The same file again adds nothing, the move included.
    let events = event_count(&db.pool).await;
    let again = import_ok(&db.url, &file, &[]);
    assert_eq!(again["events_written"], 0, "{again}");
    assert_eq!(event_count(&db.pool).await, events);

    // A later file with one more row in the new commune: its survey only, no second move.
    let mut later = rows;
    later.push({
        let mut r = survey_row("TN-1", "25459", "2022-03-01", "2026-11-02");
        r.period = "2026-recheck".into();
        r
    });
    let later = reviews_file(dir, "later.csv", later);
    let added = import_ok(&db.url, &later, &[]);
    assert_eq!(added["events_written"], 1, "{added}");
    let moves = history(&db.pool, "TN-1")
        .await
        .iter()
        .filter(|e| e.0 == "household_moved")
        .count();
    assert_eq!(moves, 1);
}

#[tokio::test]
async fn a_row_naming_an_ended_commune_or_another_one_is_refused_on_unit_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = common::migrated_db().await;
    let refused = |file: &Path| {
        let out = ansinh(&db.url, &["import", file.to_str().expect("utf-8 path")]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    // A 2026 survey in Phường 1, which ended on 2025-06-30: the message names its successor.
    let ended = reviews_file(
        dir,
        "ended.csv",
        vec![
            survey_row("TN-1", "25456", "2022-03-01", "2022-10-03"),
            survey_row("TN-1", "25456", "2022-03-01", "2026-10-05"),
        ],
    );
    let stderr = refused(&ended);
    assert!(stderr.contains("reviews line 3: unit_code: "), "{stderr}");
    assert!(stderr.contains("25459 Phường Tân Ninh"), "{stderr}");
    // A 2024 survey in another commune (Phường 3, 25459 before the reform): a move first.
    let moved = reviews_file(
        dir,
        "moved.csv",
        vec![
            survey_row("TN-1", "25456", "2022-03-01", "2022-10-03"),
            survey_row("TN-1", "25459", "2022-03-01", "2024-10-05"),
        ],
    );
    let stderr = refused(&moved);
    assert!(stderr.contains("reviews line 3: unit_code: "), "{stderr}");
    assert!(stderr.contains("record a move first"), "{stderr}");
    // After the reform, a new commune that did not take over the household's old one.
    let elsewhere = reviews_file(
        dir,
        "elsewhere.csv",
        vec![
            survey_row("TN-1", "25456", "2022-03-01", "2022-10-03"),
            survey_row("TN-1", "27721", "2022-03-01", "2026-10-05"),
        ],
    );
    let stderr = refused(&elsewhere);
    assert!(stderr.contains("reviews line 3: unit_code: "), "{stderr}");
    assert!(stderr.contains("record a move first"), "{stderr}");
    assert_eq!(event_count(&db.pool).await, 0);
}

#[tokio::test]
async fn the_province_benchmark_runs_on_its_own_and_sets_the_flag_summary_over_http_beside_plain_sql(
) {
    // `ansinh bench --only province`, as the README runs it: it imports a generated province
    // as a child process, so it runs as the real binary.
    let db = common::test_db().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("bench.json");
    let out = Process::new(env!("CARGO_BIN_EXE_ansinh"))
        .args([
            "bench",
            "--only",
            "province",
            "--households",
            "40",
            "--ops",
            "16",
        ])
        .arg("--json")
        .arg(&json)
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("ansinh bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(&json).expect("the JSON table");
    for figure in [
        "HTTP POST support ×8",
        "HTTP POST support ×8 from a cold start (server just started, no warm-up)",
        "HTTP POST support ×8 to households in memory",
        "plain count of the flags ×8 (alongside HTTP)",
        "HTTP GET flag summary of the whole province ×8",
        // The runner's lag beside the commands, read against its goal.
        "movements and flags behind the log during both HTTP POST passes",
        "goal: at most 1,000 ms behind",
        // The HTTP exchange alone, from a bare server, beside the same baselines.
        "HTTP GET of a stored history page from a bare server ×8 (no database)",
        "HTTP POST of a support to a bare server ×8 (no database)",
        // Parts of a request alone, beside the same baselines.
        "access-log row of a read ×8 (the journal alone, no page)",
        "load of a household met for the first time ×8 (alone, no command)",
    ] {
        assert!(table.contains(figure), "{figure} in {table}");
    }
}
