//! `ansinh import`: validate a whole review file, then write it in batches.
//!
//! Two passes over households, each in batches of a few hundred: the first runs every command
//! through the pure aggregate and keeps only the problems (so a file with a bad row writes
//! nothing, and memory stays bounded); the second runs them again and writes each batch —
//! events, import keys and read models — in one transaction, all or nothing.
//!
//! A batch is decided (rows read again from the file and parsed, commands run, events hashed
//! and encoded as binary COPY rows, read-model histories assembled) by a task of its own on a
//! blocking thread, ahead of the writers, so the machine's cores parse and hash while
//! PostgreSQL ingests. Two batches are written at once, each in its own transaction: a writer
//! only sends (COPY of the events and the keys, then the inline read models from the histories
//! already in memory; the log is never read back), and while one waits for its commit to reach
//! the disk the other keeps PostgreSQL busy.
//!
//! Every command of the file has a stable import key (`import:<household_key>:survey:<period>`,
//! …) stored in `idempotency_keys` with a digest of its row, so a second import of the same file
//! adds nothing, and a row changed since it was imported is reported instead of written twice.
//! So has the reform's move a row after a reform calls for (`import:<household_key>:reform:
//! <day>:<unit>`, see [`super::placement`]), recorded before that row's survey.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ansinh_events::chain;
use ansinh_events::household::{
    Command, Household, HouseholdCommand, HouseholdEvent, HouseholdState,
};
use ansinh_events::standards::Standards;
use ansinh_events::{Actor, CommandContext, Idempotency, Recorded, Source};
use ansinh_projections::log::HouseholdLog;
use ansinh_projections::StoredEvent;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::commands::{row_commands, RowCommand, RowError, REVIEWS};
use super::copy::{copy_events, copy_keys, push_event, push_key, BinaryRows, KeyRow};
use super::format::{ReviewRow, SupportRow};
use super::placement::{ReformMove, UnitIndex};
use super::read::{ReadError, RecordParser, RowStore, Sheets};

/// Households per transaction. A batch in flight holds its households' whole histories, states
/// and encoded rows (some 100 kB a household); with two written and two decided at once, 250
/// keeps that near 100 MB and is as fast as 500 (fewer would add commits).
pub const DEFAULT_BATCH: usize = 250;
/// Batches decided at once, ahead of the one being written: enough to keep both cores busy
/// while PostgreSQL ingests, few enough to keep memory bounded.
const AHEAD: usize = 2;
/// Batches written at once, each in its own transaction on its own connection: while one
/// waits for its commit to reach the disk, or for the next batch, the other keeps PostgreSQL
/// busy.
const WRITERS: usize = 2;
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
    /// Postings (one per commune and period) written from `posted_from` / `posted_to`.
    pub postings_written: u64,
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
    /// written: the log changed in between (another writer). Batches already written stay.
    #[error(
        "the log changed during the import ({}); the batches written so far stay written: import the file again",
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
fn materialize(store: &RowStore, refs: &[&RowRefs]) -> Result<Vec<Rows>, ReadError> {
    let mut parser = RecordParser::default();
    let review_indexes: Vec<usize> = refs
        .iter()
        .flat_map(|r| r.reviews.iter().copied())
        .collect();
    let support_indexes: Vec<usize> = refs
        .iter()
        .flat_map(|r| r.supports.iter().copied())
        .collect();
    let mut reviews = store.reviews(&mut parser, &review_indexes)?.into_iter();
    let mut supports = store.supports(&mut parser, &support_indexes)?.into_iter();
    Ok(refs
        .iter()
        .map(|r| Rows {
            key: r.key.clone(),
            id: r.id,
            reviews: reviews.by_ref().take(r.reviews.len()).collect(),
            supports: supports.by_ref().take(r.supports.len()).collect(),
        })
        .collect())
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
    let hk = &rows.key;
    match (&cmd.command, review, support) {
        (HouseholdCommand::Register { .. }, Some(r), _) => {
            (format!("import:{hk}:registration"), r.registration_digest())
        }
        (HouseholdCommand::Survey { .. }, Some(r), _) => (
            format!("import:{hk}:survey:{}", r.period),
            r.survey_digest(),
        ),
        (HouseholdCommand::Decide { standard, .. }, Some(r), _) => (
            format!("import:{hk}:decision:{}:{}", r.period, standard.id()),
            r.decision_digest(),
        ),
        (HouseholdCommand::HoldMeeting(_), Some(r), _) => (
            format!("import:{hk}:meeting:{}", r.period),
            r.meeting_digest(),
        ),
        (_, _, Some(s)) => {
            let d = s.digest();
            (format!("import:{hk}:support:{}", &d[..16]), d)
        }
        _ => (
            format!("import:{hk}:{}:{}", cmd.sheet, cmd.line),
            String::new(),
        ),
    }
}

/// What the log already holds for a batch: each household's events and the state they fold
/// to, and the import keys.
#[derive(Default)]
struct Known {
    logs: HashMap<Uuid, (Vec<Recorded<HouseholdEvent>>, HouseholdState)>,
    keys: HashMap<String, String>,
}

async fn fetch(pool: &PgPool, ids: &[Uuid]) -> Result<Known, sqlx::Error> {
    let mut known = Known::default();
    let stored: Vec<(Uuid, Json<Recorded<HouseholdEvent>>)> = sqlx::query_as(
        "SELECT aggregate_id, payload FROM household_events WHERE aggregate_id = ANY($1)
          ORDER BY aggregate_id, sequence_number",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    // The import keys come with the events they stand for: every event carries its command's
    // key and digest in its envelope (as `idempotency_keys` does, which has no index by
    // household to look them up with).
    for (id, Json(event)) in stored {
        if let Some(idem) = &event.meta.idempotency {
            known
                .keys
                .insert(idem.key.clone(), idem.request_digest.clone());
        }
        let (events, state) = known.logs.entry(id).or_default();
        *state = std::mem::take(state).apply(&event);
        events.push(event);
    }
    Ok(known)
}

/// What every batch shares: the file and the rules (owned, so batch tasks can hold them).
struct Work {
    store: RowStore,
    households: Vec<RowRefs>,
    standards: Standards,
    units: UnitIndex,
    ctx: CommandContext,
}

/// Which pass a batch is decided for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The rules only: events are left unhashed and thrown away.
    Check,
    /// Events hashed and encoded for COPY, with the histories of the read models.
    Write,
}

/// What one batch becomes.
struct Decided {
    households: usize,
    /// Binary COPY rows of the events and the import keys (empty when checking).
    events: BinaryRows,
    keys: BinaryRows,
    /// Each written household's history, as the read models take it.
    logs: Vec<HouseholdLog>,
    already_imported: u64,
    problems: Vec<(Uuid, RowError)>,
    /// The rows of households with problems, for the rejects file.
    rejected_rows: Vec<Rows>,
    /// The postings the batch's rows name.
    postings: super::postings::Gathered,
}

/// What one household's rows become.
struct HouseholdPlan {
    events: Vec<Recorded<HouseholdEvent>>,
    /// Where each event's JSON as stored is in the batch's buffer (when writing).
    stored: Vec<std::ops::Range<usize>>,
    keys: Vec<KeyRow>,
    state: HouseholdState,
}

/// Runs one household's commands through the aggregate, from the state the log holds.
/// Any problem refuses the whole household.
fn decide_household(
    work: &Work,
    rows: &Rows,
    mut state: HouseholdState,
    known_keys: &HashMap<String, String>,
    pass: Pass,
    already_imported: &mut u64,
    json: &mut Vec<u8>,
) -> Result<HouseholdPlan, Vec<RowError>> {
    let commands = row_commands(
        &rows.reviews,
        &rows.supports,
        &work.standards,
        |code, day| work.units.validity(code, day),
    )?;
    let mut plan = HouseholdPlan {
        events: Vec::new(),
        stored: Vec::new(),
        keys: Vec::new(),
        state: HouseholdState::default(),
    };
    // The import keys of the household's rows so far, with their digest and line.
    let mut seen: HashMap<String, (String, u64)> = HashMap::new();
    for cmd in commands {
        let (key, digest) = import_key(rows, &cmd);
        if let Some(previous) = known_keys.get(&key) {
            if *previous == digest {
                *already_imported += 1;
                continue;
            }
            return Err(vec![RowError {
                sheet: cmd.sheet,
                line: cmd.line,
                field: "household_key",
                problem:
                    "this row was imported before with other content; record a correction instead"
                        .into(),
            }]);
        }
        match seen.get(&key) {
            // The same row twice in one file (a support: one payment, not two).
            Some((first, _)) if *first == digest => {
                *already_imported += 1;
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
                return Err(vec![RowError {
                    sheet: cmd.sheet,
                    line: cmd.line,
                    field: "period",
                    problem: format!(
                        "line {first_line} already has this household's review of {period}, with other content; one row per household and period"
                    ),
                }]);
            }
            None => {
                seen.insert(key.clone(), (digest.clone(), cmd.line));
            }
        }
        // A row after a reform names the new commune: the reform's move goes first.
        if let Some((events, step)) = reform_move(work, rows, &state, &cmd, known_keys)? {
            append(&mut plan, &mut state, events, step, rows.id, pass, json)?;
        }
        let ctx = command_context(work, rows, &key, &digest);
        let RowCommand {
            sheet,
            line,
            command: action,
        } = cmd;
        // Decided unhashed, then linked onto the chain: what `handle_command` does, with the
        // JSON made for the hash kept for the row.
        let events = Household::check_command(&state, Command { ctx, action })
            .map_err(|error| vec![work.units.refusal(sheet, line, &error)])?;
        let step = Step {
            sheet,
            line,
            key,
            digest,
        };
        append(&mut plan, &mut state, events, step, rows.id, pass, json)?;
    }
    plan.state = state;
    Ok(plan)
}

/// The row a command came from and its import key.
struct Step {
    sheet: &'static str,
    line: u64,
    key: String,
    digest: String,
}

/// The context of one command of `rows`, carrying its import key.
fn command_context(work: &Work, rows: &Rows, key: &str, digest: &str) -> CommandContext {
    let mut ctx = work.ctx.clone();
    ctx.household_id = rows.id;
    ctx.idempotency = Some(Idempotency {
        key: key.to_owned(),
        request_digest: digest.to_owned(),
    });
    ctx
}

/// Stable key and digest of the reform's move of a household, so a second import finds it.
fn reform_key(rows: &Rows, reform: &ReformMove) -> (String, String) {
    let m = &reform.moved;
    let mut h = Sha256::new();
    for cell in [
        m.unit_code.as_str(),
        m.hamlet.as_str(),
        m.area.as_str(),
        reform.legal_basis.as_str(),
    ] {
        h.update(cell.as_bytes());
        h.update([0x1f]);
    }
    (
        format!("import:{}:reform:{}:{}", rows.key, m.moved_on, m.unit_code),
        hex::encode(h.finalize()),
    )
}

/// The events one command decided.
type Events = Vec<Recorded<HouseholdEvent>>;

/// The reform's move a review row calls for (see [`UnitIndex::row_place`]), decided and
/// enveloped as the reform's, with its import key; `None` when the household is already where
/// the row says (or the move was imported before).
fn reform_move(
    work: &Work,
    rows: &Rows,
    state: &HouseholdState,
    cmd: &RowCommand,
    known_keys: &HashMap<String, String>,
) -> Result<Option<(Events, Step)>, Vec<RowError>> {
    let HouseholdCommand::Survey { .. } = &cmd.command else {
        return Ok(None);
    };
    let Some((_, row)) = rows.reviews.iter().find(|(l, _)| *l == cmd.line) else {
        return Ok(None);
    };
    let Some(reform) = work
        .units
        .row_place(state, row, cmd.line)
        .map_err(|e| vec![e])?
    else {
        return Ok(None);
    };
    let (key, digest) = reform_key(rows, &reform);
    if known_keys.contains_key(&key) {
        return Ok(None);
    }
    let ctx = command_context(work, rows, &key, &digest);
    let action = HouseholdCommand::Move {
        moved: reform.moved,
        unit: reform.unit,
    };
    let mut events = Household::check_command(state, Command { ctx, action })
        .map_err(|error| vec![work.units.refusal(cmd.sheet, cmd.line, &error)])?;
    // Set before the events are linked: the envelope is part of the hash.
    for event in &mut events {
        event.meta.legal_basis = Some(reform.legal_basis.clone());
        event.meta.actor = Actor::system("reform");
    }
    let step = Step {
        sheet: cmd.sheet,
        line: cmd.line,
        key,
        digest,
    };
    Ok(Some((events, step)))
}

/// Links a command's events onto the household's chain (when writing), keeps its import key
/// and folds them into the state.
fn append(
    plan: &mut HouseholdPlan,
    state: &mut HouseholdState,
    mut events: Vec<Recorded<HouseholdEvent>>,
    step: Step,
    household_id: Uuid,
    pass: Pass,
    json: &mut Vec<u8>,
) -> Result<(), Vec<RowError>> {
    if pass == Pass::Write {
        let mut head = state.chain.clone();
        let stored = chain::link_into(&mut head, &mut events, json).map_err(|e| {
            vec![RowError {
                sheet: step.sheet,
                line: step.line,
                field: "row",
                problem: e.to_string(),
            }]
        })?;
        plan.stored.extend(stored);
    }
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        plan.keys.push(KeyRow {
            key: step.key,
            digest: step.digest,
            household_id,
            first_sequence: first.meta.sequence,
            last_sequence: last.meta.sequence,
        });
    }
    for event in events {
        *state = std::mem::take(state).apply(&event);
        plan.events.push(event);
    }
    Ok(())
}

/// Decides one batch of households (CPU only: runs on a blocking thread).
fn decide(
    work: &Work,
    refs: &[&RowRefs],
    known: Known,
    pass: Pass,
) -> Result<Decided, ImportError> {
    let Known {
        logs: mut known_logs,
        keys: known_keys,
    } = known;
    let batch = materialize(&work.store, refs)?;
    let mut decided = Decided {
        households: batch.len(),
        events: BinaryRows::with_capacity(if pass == Pass::Write {
            batch.len() * 16_000
        } else {
            0
        }),
        keys: BinaryRows::with_capacity(if pass == Pass::Write {
            batch.len() * 1_500
        } else {
            0
        }),
        logs: Vec::new(),
        already_imported: 0,
        problems: Vec::new(),
        rejected_rows: Vec::new(),
        postings: Default::default(),
    };
    // The stored JSON of a household's events, reused from household to household.
    let mut json = Vec::with_capacity(64 * 1024);
    for rows in batch {
        let (mut history, state) = known_logs.remove(&rows.id).unwrap_or_default();
        json.clear();
        let plan = decide_household(
            work,
            &rows,
            state,
            &known_keys,
            pass,
            &mut decided.already_imported,
            &mut json,
        );
        let plan = match plan {
            Ok(plan) => plan,
            Err(errors) => {
                decided
                    .problems
                    .extend(errors.into_iter().map(|e| (rows.id, e)));
                decided.rejected_rows.push(rows);
                continue;
            }
        };
        if pass == Pass::Write {
            decided.postings.add(rows.id, &rows.reviews, &plan.state);
        }
        if pass == Pass::Check || plan.events.is_empty() {
            continue;
        }
        for (event, span) in plan.events.iter().zip(&plan.stored) {
            push_event(&mut decided.events, event, &json[span.clone()])?;
        }
        for key in &plan.keys {
            push_key(&mut decided.keys, key)?;
        }
        let first_new = plan.events.first().map_or(1, |e| e.meta.sequence);
        history.extend(plan.events);
        decided.logs.push(HouseholdLog {
            household_id: rows.id,
            events: history,
            state: plan.state,
            first_new,
        });
    }
    // The order `log::load` gives, so the read models are written as a replay writes them.
    decided.logs.sort_by_key(|l| l.household_id);
    Ok(decided)
}

/// Decides the batches of `pass` on blocking threads, [`AHEAD`] at a time, in order; the
/// households in `skip` are left out.
fn decide_all(
    work: &Arc<Work>,
    pool: &PgPool,
    batch_size: usize,
    pass: Pass,
    skip: &Arc<HashSet<Uuid>>,
) -> impl futures::Stream<Item = Result<Decided, ImportError>> + 'static {
    let ranges: Vec<std::ops::Range<usize>> = (0..work.households.len())
        .step_by(batch_size)
        .map(|start| start..(start + batch_size).min(work.households.len()))
        .collect();
    let (work, pool, skip) = (Arc::clone(work), pool.clone(), Arc::clone(skip));
    futures::stream::iter(ranges)
        .map(move |range| {
            let (work, pool, skip) = (Arc::clone(&work), pool.clone(), Arc::clone(&skip));
            // Spawned, so a batch is fetched and decided while the consumer writes another.
            tokio::spawn(async move {
                let ids: Vec<Uuid> = work.households[range.clone()]
                    .iter()
                    .map(|h| h.id)
                    .filter(|id| !skip.contains(id))
                    .collect();
                let known = fetch(&pool, &ids).await?;
                let decided = tokio::task::spawn_blocking(move || {
                    let refs: Vec<&RowRefs> = work.households[range]
                        .iter()
                        .filter(|h| !skip.contains(&h.id))
                        .collect();
                    decide(&work, &refs, known, pass)
                })
                .await;
                match decided {
                    Ok(decided) => decided,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            })
        })
        .buffered(AHEAD)
        .map(|joined| match joined {
            Ok(decided) => decided,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        })
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
    let mut summary = import_store(pool, store, standards, options, progress).await?;
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

/// Imports rows already read (the demo calls this with generated rows).
pub async fn import_sheets(
    pool: &PgPool,
    sheets: Sheets,
    standards: &Standards,
    options: &ImportOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, ImportError> {
    import_store(pool, RowStore::Memory(sheets), standards, options, progress).await
}

async fn import_store(
    pool: &PgPool,
    store: RowStore,
    standards: &Standards,
    options: &ImportOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let households = group(&store);
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
    ctx.parameters = standards.parameters().clone();
    let work = Arc::new(Work {
        store,
        households,
        standards: standards.clone(),
        units: UnitIndex::load(pool).await?,
        ctx,
    });
    let batch_size = options.batch_households.max(1);

    // Pass 1: every problem of the file, nothing written.
    progress.set_length(household_count as u64 * 2);
    progress.set_message("checking");
    let mut problems: Vec<(Uuid, RowError)> = Vec::new();
    // Only the rows of rejected households are kept, for the rejects file.
    let mut rejected_rows: Vec<Rows> = Vec::new();
    let none = Arc::new(HashSet::new());
    let mut checked = std::pin::pin!(decide_all(&work, pool, batch_size, Pass::Check, &none));
    while let Some(decided) = checked.try_next().await? {
        rejected_rows.extend(decided.rejected_rows);
        problems.extend(decided.problems);
        progress.inc(decided.households as u64);
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
        Some(write_rejects(&rejected_rows, &rejected, &problems)?)
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
        postings_written: 0,
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

    // Pass 2: one transaction per batch, the next batches decided meanwhile.
    progress.set_message("importing");
    progress.inc(rejected.len() as u64);
    let rejected = Arc::new(rejected);
    let batches = decide_all(&work, pool, batch_size, Pass::Write, &rejected);
    let mut written = std::pin::pin!(batches
        .map_ok(|decided| write_batch(pool, decided, progress))
        .try_buffer_unordered(WRITERS));
    let mut postings = super::postings::Gathered::default();
    while let Some(batch) = written.try_next().await? {
        summary.events_written += batch.events_written;
        summary.rows_already_imported += batch.already_imported;
        postings.merge(batch.postings);
    }
    // The postings once every household they list is written.
    summary.postings_written = postings.write(pool, &work.ctx).await.map_err(|e| match e {
        crate::posting_log::PostingLogError::Database(e) => ImportError::Database(e),
        other => ImportError::Database(sqlx::Error::Protocol(other.to_string())),
    })?;
    progress.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events_written as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

/// What writing one batch did.
struct Written {
    events_written: u64,
    already_imported: u64,
    postings: super::postings::Gathered,
}

/// Events, import keys and inline read models of one batch, all or nothing.
async fn write_batch(
    pool: &PgPool,
    decided: Decided,
    progress: &indicatif::ProgressBar,
) -> Result<Written, ImportError> {
    if !decided.problems.is_empty() {
        // Writing the rest would drop these households without a word.
        return Err(ImportError::Changed(
            decided.problems.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    let mut written = Written {
        events_written: 0,
        already_imported: decided.already_imported,
        postings: decided.postings,
    };
    if decided.events.rows() > 0 {
        let mut tx = pool.begin().await?;
        written.events_written = copy_events(&mut tx, decided.events).await?;
        copy_keys(&mut tx, decided.keys).await?;
        let stored: Vec<StoredEvent<'_>> = decided
            .logs
            .iter()
            .flat_map(|l| l.new_events().map(StoredEvent::new))
            .collect();
        ansinh_projections::inline::apply_loaded(&mut tx, &stored, &decided.logs).await?;
        tx.commit().await?;
    }
    progress.inc(decided.households as u64);
    Ok(written)
}

/// Every problem of the rejected households, naming its row, as CSV in a temp file.
fn write_rejects(
    rows: &[Rows],
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
    let key_of: HashMap<Uuid, &str> = rows
        .iter()
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
