//! `ansinh import`: validate a whole review file, then write it in batches.
//!
//! Two passes over households, each in batches of a few thousand: the first runs every
//! command through the pure aggregate and keeps only the problems (so a file with a bad row
//! writes nothing, and memory stays bounded); the second runs them again and writes each batch
//! — events, import keys and read models — with COPY in one transaction, all or nothing.
//!
//! Every command of the file has a stable import key (`import:<household_key>:survey:<period>`,
//! …) stored in `idempotency_keys` with a digest of its row, so a second import of the same file
//! adds nothing, and a row changed since it was imported is reported instead of written twice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ansinh_events::household::{
    Command, Household, HouseholdCommand, HouseholdEvent, HouseholdState, UnitValidity,
};
use ansinh_events::standards::Standards;
use ansinh_events::{Actor, CommandContext, Idempotency, Recorded, Source};
use ansinh_projections::units::Unit;
use ansinh_projections::StoredEvent;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::commands::{row_commands, RowCommand, RowError, REVIEWS};
use super::copy::{copy_events, copy_keys, KeyRow};
use super::format::{ReviewRow, SupportRow};
use super::read::{ReadError, RowStore, Sheets};

/// Households per transaction.
pub const DEFAULT_BATCH: usize = 500;
/// Namespace of household ids derived from import keys (UUIDv5).
const HOUSEHOLD_NAMESPACE: Uuid = Uuid::from_u128(0x6a1e_5c3b_7d2f_4e10_9b8a_72a0_1c0d_e5f1);

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// Write the valid households and put the rows of the others in a rejects file.
    pub skip_invalid: bool,
    pub batch_households: usize,
    /// Who the events are recorded as.
    pub actor: Actor,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            skip_invalid: false,
            batch_households: DEFAULT_BATCH,
            actor: Actor::system("import"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub file: String,
    pub batch_id: Uuid,
    pub dry_run: bool,
    pub households: usize,
    pub review_rows: usize,
    pub support_rows: usize,
    pub events_written: u64,
    pub rows_already_imported: u64,
    pub rejected_households: usize,
    pub rejects_file: Option<String>,
    pub seconds: f64,
    pub events_per_second: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{} problem(s) in the file; nothing was imported", .0.len())]
    Invalid(Vec<RowError>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("could not write the rejects file {path}: {cause}")]
    Rejects { path: String, cause: String },
    /// Rows that passed the check were refused when their batch was decided again to be
    /// written: the log changed in between (another writer). Earlier batches were written.
    #[error(
        "the log changed during the import ({}); the batches before were written: import the file again",
        .0.first().map(ToString::to_string).unwrap_or_default()
    )]
    Changed(Vec<RowError>),
}

/// One household's rows of the file.
struct Rows {
    key: String,
    id: Uuid,
    reviews: Vec<(u64, ReviewRow)>,
    supports: Vec<(u64, SupportRow)>,
}

/// The household id an import key stands for, the same on every import.
pub fn household_id(household_key: &str) -> Uuid {
    Uuid::new_v5(&HOUSEHOLD_NAMESPACE, household_key.as_bytes())
}

/// One household's rows by index into the store, in order of first appearance.
struct RowRefs {
    key: String,
    id: Uuid,
    reviews: Vec<usize>,
    supports: Vec<usize>,
}

fn group(store: &RowStore) -> Vec<RowRefs> {
    let mut order: Vec<RowRefs> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut slot = |key: &str, order: &mut Vec<RowRefs>| -> usize {
        if let Some(i) = index.get(key) {
            return *i;
        }
        order.push(RowRefs {
            key: key.to_owned(),
            id: household_id(key),
            reviews: Vec::new(),
            supports: Vec::new(),
        });
        index.insert(key.to_owned(), order.len() - 1);
        order.len() - 1
    };
    for (n, (key, _)) in store.review_keys().into_iter().enumerate() {
        let i = slot(key, &mut order);
        order[i].reviews.push(n);
    }
    for (n, (key, _)) in store.support_keys().into_iter().enumerate() {
        let i = slot(key, &mut order);
        order[i].supports.push(n);
    }
    order
}

/// The rows of a batch of households, read from the store.
fn materialize(store: &RowStore, refs: &[RowRefs]) -> Vec<Rows> {
    refs.iter()
        .map(|r| Rows {
            key: r.key.clone(),
            id: r.id,
            reviews: r.reviews.iter().map(|i| store.review(*i)).collect(),
            supports: r.supports.iter().map(|i| store.support(*i)).collect(),
        })
        .collect()
}

/// Units by code, for the validity facts commands carry.
struct UnitIndex(HashMap<String, Vec<Unit>>);

impl UnitIndex {
    async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let all: Vec<Unit> = sqlx::query_as(
            "SELECT code, name, level, parent_code, valid_from, valid_to FROM admin_units ORDER BY valid_from",
        )
        .fetch_all(pool)
        .await?;
        let mut map: HashMap<String, Vec<Unit>> = HashMap::new();
        for u in all {
            map.entry(u.code.clone()).or_default().push(u);
        }
        Ok(UnitIndex(map))
    }

    /// The record valid on `day`, else the code's latest; `None` for an unknown code.
    fn validity(&self, code: &str, day: NaiveDate) -> Option<UnitValidity> {
        let versions = self.0.get(code)?;
        let unit = versions
            .iter()
            .find(|u| u.valid_on(day))
            .or_else(|| versions.last())?;
        Some(UnitValidity {
            valid_from: unit.valid_from,
            valid_to: unit.valid_to,
        })
    }
}

/// What one batch becomes: sealed events and the import keys of the rows they came from.
#[derive(Default)]
struct Planned {
    events: Vec<Recorded<HouseholdEvent>>,
    keys: Vec<KeyRow>,
    already_imported: u64,
    problems: Vec<(Uuid, RowError)>,
}

/// Stable key and row digest of one command.
fn import_key(rows: &Rows, cmd: &RowCommand) -> (String, String) {
    let review = rows
        .reviews
        .iter()
        .find(|(l, _)| *l == cmd.line)
        .map(|(_, r)| r);
    let support = rows
        .supports
        .iter()
        .find(|(l, _)| *l == cmd.line)
        .map(|(_, s)| s);
    let digest = |cells: &[&str]| {
        let mut h = Sha256::new();
        for c in cells {
            h.update(c.as_bytes());
            h.update([0x1f]);
        }
        hex::encode(h.finalize())
    };
    let hk = &rows.key;
    match (&cmd.command, review, support) {
        (HouseholdCommand::Register { .. }, Some(r), _) => (
            format!("import:{hk}:registration"),
            digest(&[
                &r.head_name,
                &r.unit_code,
                &r.hamlet,
                &r.area,
                &r.ethnic_minority,
                &r.merit_family,
                &r.registered_on,
                &r.members,
            ]),
        ),
        (HouseholdCommand::Survey { .. }, Some(r), _) => (
            format!("import:{hk}:survey:{}", r.period),
            digest(&r.cells()[9..17]),
        ),
        (HouseholdCommand::Decide { standard, .. }, Some(r), _) => (
            format!("import:{hk}:decision:{}:{}", r.period, standard.id()),
            digest(&r.cells()[17..]),
        ),
        (_, _, Some(s)) => {
            let d = digest(&s.cells());
            (format!("import:{hk}:support:{}", &d[..16]), d)
        }
        _ => (
            format!("import:{hk}:{}:{}", cmd.sheet, cmd.line),
            String::new(),
        ),
    }
}

/// What the log already holds for a batch: each household's state and its import keys.
struct Known {
    states: HashMap<Uuid, HouseholdState>,
    keys: HashMap<String, String>,
}

async fn fetch(pool: &PgPool, batch: &[Rows]) -> Result<Known, sqlx::Error> {
    let ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
    let mut states: HashMap<Uuid, HouseholdState> = HashMap::new();
    let stored: Vec<(Uuid, Json<Recorded<HouseholdEvent>>)> = sqlx::query_as(
        "SELECT aggregate_id, payload FROM household_events WHERE aggregate_id = ANY($1)
          ORDER BY aggregate_id, sequence_number",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    for (id, Json(event)) in stored {
        let state = states.remove(&id).unwrap_or_default();
        states.insert(id, state.apply(&event));
    }
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT key, request_digest FROM idempotency_keys WHERE household_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    Ok(Known {
        states,
        keys: keys.into_iter().collect(),
    })
}

/// What every batch shares.
struct Work {
    standards: Standards,
    units: UnitIndex,
    ctx: CommandContext,
}

/// Runs one batch of households through the aggregate (CPU only; runs on a blocking thread
/// so the next batch is decided while the previous one is written). Without `hash` the events
/// are left unhashed: enough to check the rules, and much cheaper.
fn compute(work: &Work, batch: Vec<Rows>, known: Known, hash: bool) -> (Vec<Rows>, Planned) {
    let Known {
        mut states,
        keys: known,
    } = known;
    let mut planned = Planned::default();
    for rows in &batch {
        let commands = match row_commands(
            &rows.reviews,
            &rows.supports,
            &work.standards,
            |code, day| work.units.validity(code, day),
        ) {
            Ok(commands) => commands,
            Err(errors) => {
                planned
                    .problems
                    .extend(errors.into_iter().map(|e| (rows.id, e)));
                continue;
            }
        };
        let mut state = states.remove(&rows.id).unwrap_or_default();
        let mut events = Vec::new();
        let mut keys = Vec::new();
        // The import keys of the household's rows so far, with their digest and line.
        let mut seen: HashMap<String, (String, u64)> = HashMap::new();
        for cmd in commands {
            let (key, digest) = import_key(rows, &cmd);
            if let Some(previous) = known.get(&key) {
                if *previous == digest {
                    planned.already_imported += 1;
                    continue;
                }
                planned.problems.push((
                    rows.id,
                    RowError {
                        sheet: cmd.sheet,
                        line: cmd.line,
                        field: "household_key",
                        problem: "this row was imported before with other content; record a correction instead".into(),
                    },
                ));
                // Nothing of a refused household is written.
                events.clear();
                keys.clear();
                break;
            }
            match seen.get(&key) {
                // The same row twice in one file (a support: one payment, not two).
                Some((first, _)) if *first == digest => {
                    planned.already_imported += 1;
                    continue;
                }
                // Two rows of one household and period that differ: which one counts is not
                // ours to guess (dropping the second would lose it without a word).
                Some((_, first_line)) => {
                    let period = rows
                        .reviews
                        .iter()
                        .find(|(l, _)| *l == cmd.line)
                        .map_or("", |(_, r)| r.period.as_str());
                    planned.problems.push((
                        rows.id,
                        RowError {
                            sheet: cmd.sheet,
                            line: cmd.line,
                            field: "period",
                            problem: format!(
                                "line {first_line} already has this household's review of {period}, with other content; one row per household and period"
                            ),
                        },
                    ));
                    events.clear();
                    keys.clear();
                    break;
                }
                None => {
                    seen.insert(key.clone(), (digest.clone(), cmd.line));
                }
            }
            let mut ctx = work.ctx.clone();
            ctx.household_id = rows.id;
            ctx.idempotency = Some(Idempotency {
                key: key.clone(),
                request_digest: digest.clone(),
            });
            let command = Command {
                ctx,
                action: cmd.command.clone(),
            };
            let decided = if hash {
                <Household as esrs::Aggregate>::handle_command(&state, command)
            } else {
                Household::check_command(&state, command)
            };
            match decided {
                Ok(sealed) => {
                    if let (Some(first), Some(last)) = (sealed.first(), sealed.last()) {
                        keys.push(KeyRow {
                            key,
                            digest,
                            household_id: rows.id,
                            first_sequence: first.meta.sequence,
                            last_sequence: last.meta.sequence,
                        });
                    }
                    for event in sealed {
                        state = state.apply(&event);
                        events.push(event);
                    }
                }
                Err(error) => {
                    planned
                        .problems
                        .push((rows.id, RowError::from_domain(&cmd, &error)));
                    events.clear();
                    keys.clear();
                    break;
                }
            }
        }
        planned.events.extend(events);
        planned.keys.extend(keys);
    }
    (batch, planned)
}

/// Imports a review file (and its supports). See the module docs.
pub async fn import(
    pool: &PgPool,
    path: &Path,
    standards: &Standards,
    options: &ImportOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, ImportError> {
    let store = RowStore::open(path)?;
    let mut summary = import_store(pool, &store, standards, options, progress).await?;
    summary.file = path.display().to_string();
    if let Some(rejects) = &summary.rejects_file {
        let target = rejects_path(path);
        std::fs::copy(rejects, &target).map_err(|e| ImportError::Rejects {
            path: target.display().to_string(),
            cause: e.to_string(),
        })?;
        let _ = std::fs::remove_file(rejects);
        summary.rejects_file = Some(target.display().to_string());
    }
    Ok(summary)
}

fn rejects_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.rejects.csv"))
}

/// Decides a batch on a blocking thread.
async fn decide_batch(
    work: &Arc<Work>,
    pool: &PgPool,
    batch: Vec<Rows>,
    hash: bool,
) -> Result<tokio::task::JoinHandle<(Vec<Rows>, Planned)>, sqlx::Error> {
    let known = fetch(pool, &batch).await?;
    let work = Arc::clone(work);
    Ok(tokio::task::spawn_blocking(move || {
        compute(&work, batch, known, hash)
    }))
}

async fn joined<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match handle.await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Imports rows already read (the demo calls this with generated rows).
pub async fn import_sheets(
    pool: &PgPool,
    sheets: Sheets,
    standards: &Standards,
    options: &ImportOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, ImportError> {
    let store = RowStore::Memory(sheets);
    import_store(pool, &store, standards, options, progress).await
}

async fn import_store(
    pool: &PgPool,
    store: &RowStore,
    standards: &Standards,
    options: &ImportOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let households = group(store);
    let review_rows = households.iter().map(|h| h.reviews.len()).sum::<usize>();
    let support_rows = households.iter().map(|h| h.supports.len()).sum::<usize>();
    let household_count = households.len();
    let batch_id = Uuid::now_v7();
    let recorded_at: DateTime<Utc> = Utc::now();
    let mut ctx = CommandContext::new(
        Uuid::nil(),
        options.actor.clone(),
        Source::Import { batch_id },
        recorded_at,
    );
    ctx.correlation_id = batch_id;
    let work = Arc::new(Work {
        standards: standards.clone(),
        units: UnitIndex::load(pool).await?,
        ctx,
    });
    let batch_size = options.batch_households.max(1);
    let batches: Vec<&[RowRefs]> = households.chunks(batch_size).collect();

    // Pass 1: every problem of the file, nothing written.
    progress.set_length(household_count as u64 * 2);
    progress.set_message("checking");
    let mut problems: Vec<(Uuid, RowError)> = Vec::new();
    // Only the rows of rejected households are kept, for the rejects file.
    let mut rejected_rows: Vec<Rows> = Vec::new();
    for refs in &batches {
        let batch = materialize(store, refs);
        let (batch, planned) = joined(decide_batch(&work, pool, batch, false).await?).await;
        let bad: HashSet<Uuid> = planned.problems.iter().map(|(id, _)| *id).collect();
        rejected_rows.extend(batch.into_iter().filter(|r| bad.contains(&r.id)));
        problems.extend(planned.problems);
        progress.inc(refs.len() as u64);
    }
    problems.sort_by_key(|(_, e)| (e.sheet != REVIEWS, e.line));
    let rejected: HashSet<Uuid> = problems.iter().map(|(id, _)| *id).collect();
    if !problems.is_empty() && !options.skip_invalid {
        progress.finish_and_clear();
        return Err(ImportError::Invalid(
            problems.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    let rejects_file = if problems.is_empty() || options.dry_run {
        None
    } else {
        Some(write_rejects(&[rejected_rows], &rejected, &problems)?)
    };

    let mut summary = Summary {
        file: String::new(),
        batch_id,
        dry_run: options.dry_run,
        households: household_count,
        review_rows,
        support_rows,
        events_written: 0,
        rows_already_imported: 0,
        rejected_households: rejected.len(),
        rejects_file,
        seconds: 0.0,
        events_per_second: 0.0,
    };
    if options.dry_run {
        progress.finish_and_clear();
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }

    // Pass 2: decide batch k+1 while batch k is written, one transaction per batch.
    progress.set_message("importing");
    let mut pending = None;
    for refs in &batches {
        let mut batch = materialize(store, refs);
        batch.retain(|r| !rejected.contains(&r.id));
        let next = decide_batch(&work, pool, batch, true).await?;
        if let Some(previous) = pending.replace(next) {
            write_batch(pool, joined(previous).await, &mut summary, progress).await?;
        }
    }
    if let Some(last) = pending {
        write_batch(pool, joined(last).await, &mut summary, progress).await?;
    }
    progress.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events_written as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

/// Events, import keys and inline read models of one batch, all or nothing.
async fn write_batch(
    pool: &PgPool,
    (batch, planned): (Vec<Rows>, Planned),
    summary: &mut Summary,
    progress: &indicatif::ProgressBar,
) -> Result<(), ImportError> {
    if !planned.problems.is_empty() {
        // Writing the rest would drop these households without a word.
        return Err(ImportError::Changed(
            planned.problems.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    summary.rows_already_imported += planned.already_imported;
    let mut tx = pool.begin().await?;
    summary.events_written += copy_events(&mut tx, &planned.events).await?;
    copy_keys(&mut tx, &planned.keys).await?;
    let stored: Vec<StoredEvent<'_>> = planned.events.iter().map(StoredEvent::new).collect();
    ansinh_projections::inline::apply(&mut tx, &stored).await?;
    tx.commit().await?;
    progress.inc(batch.len() as u64);
    Ok(())
}

/// Every problem of the rejected households, naming its row, as CSV in a temp file.
fn write_rejects(
    batches: &[Vec<Rows>],
    rejected: &HashSet<Uuid>,
    problems: &[(Uuid, RowError)],
) -> Result<String, ImportError> {
    let err = |e: &dyn std::fmt::Display| ImportError::Rejects {
        path: "rejects".into(),
        cause: e.to_string(),
    };
    let path = std::env::temp_dir().join(format!("ansinh-rejects-{}.csv", Uuid::now_v7()));
    let mut w = csv::Writer::from_path(&path).map_err(|e| err(&e))?;
    w.write_record(["sheet", "line", "household_key", "field", "problem"])
        .map_err(|e| err(&e))?;
    let key_of: HashMap<Uuid, &str> = batches
        .iter()
        .flatten()
        .filter(|r| rejected.contains(&r.id))
        .map(|r| (r.id, r.key.as_str()))
        .collect();
    // Every problem, in the order they were sorted in (reviews first, by line): keyed by line
    // alone, a support's problem would hide a review's on the same line number, and a row's
    // second problem its first.
    for (id, p) in problems {
        let key = key_of.get(id).copied().unwrap_or_default();
        w.write_record([p.sheet, &p.line.to_string(), key, p.field, &p.problem])
            .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    Ok(path.display().to_string())
}
