//! `ansinh units reform`: carries every open household across a reform of the units (the 2025
//! merger of communes, Resolution 1682/NQ-UBTVQH15) as events.
//!
//! A household of an old commune that went **whole** into a new one gets a `household_moved`
//! to it, effective on the reform's first day, with the resolution as its legal basis and the
//! system as its actor. One of a **split** commune moves only when the hamlet file names its
//! hamlet; the rest are not guessed: they wait on the worklist ([`worklist`]) until an officer
//! assigns each one (`POST /api/v1/households/{id}/reform-assignment`).
//!
//! The households are taken in pages by id; each page is decided in memory from the histories,
//! linked onto each chain and written by binary COPY with its inline read models in one
//! transaction ([`batch`]). A page committed stays committed, and a household moved is no
//! longer a candidate (it is now placed in a new commune on the reform's day), so a second run
//! moves nothing and a run after a crash picks up where the last one stopped.

pub mod batch;
pub mod hamlets;
pub mod worklist;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::NaiveDate;
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use ansinh_projections::units::succession::{self, Successors};
use ansinh_projections::units::{self, Level, RowError, Succession, Unit};

use hamlets::{HamletError, HamletRules};

/// What `ansinh units reform` was asked to do.
#[derive(Debug, Clone)]
pub struct ReformOptions {
    /// A mapping file (`old_code,old_name,new_code,new_name,whole`); `None`: the stored one.
    pub mapping: Option<PathBuf>,
    /// A hamlet file (`old_code,hamlet,new_code`) for households of split communes.
    pub hamlets: Option<PathBuf>,
    pub effective_on: NaiveDate,
    pub legal_basis: String,
    /// Decide everything, write nothing.
    pub dry_run: bool,
    /// Households per transaction.
    pub batch: usize,
}

impl Default for ReformOptions {
    fn default() -> Self {
        ReformOptions {
            mapping: None,
            hamlets: None,
            effective_on: succession::shipped_effective_on(),
            legal_basis: succession::SHIPPED_LEGAL_BASIS.to_owned(),
            dry_run: false,
            batch: 2000,
        }
    }
}

/// The JSON summary printed on stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Households this run moved (or, with `--dry-run`, would move).
    pub moved: u64,
    /// Households an earlier run (or import) had already moved with this legal basis.
    pub already_moved: u64,
    /// Households of split communes no hamlet rule places: on the worklist.
    pub unassigned: u64,
    /// Per new commune: households moved into it, and households of its split predecessors
    /// that await assignment (such a household counts under each commune it may go to).
    pub by_new_commune: BTreeMap<String, CommuneCounts>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommuneCounts {
    pub name: String,
    pub moved: u64,
    pub unassigned: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReformError {
    #[error("{path}: {cause}")]
    Read { path: String, cause: String },
    #[error("the mapping has {} problem(s); nothing was moved", .0.len())]
    Mapping(Vec<RowError>),
    #[error("the hamlet file has {} problem(s); nothing was moved", .0.len())]
    Hamlets(Vec<HamletError>),
    #[error("no succession takes effect on {0}: load a mapping (--mapping) or give the reform's first day (--effective-on)")]
    NoMapping(NaiveDate),
    #[error("household {household_id}: {cause}")]
    Household { household_id: Uuid, cause: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A household to carry across, and where; with what its status row says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub household_id: Uuid,
    pub old_code: String,
    pub new_code: String,
    /// The hamlet rule that placed a household of a split commune.
    pub by_hamlet: Option<String>,
    pub hamlet: String,
    pub area: String,
    pub registered_on: NaiveDate,
    /// The household's version (its last event's sequence) when the page was read.
    pub version: i32,
}

/// A candidate as its status row gives it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Candidate {
    household_id: Uuid,
    unit_code: String,
    hamlet: String,
    area: String,
    registered_on: NaiveDate,
    version: i32,
}

/// Runs the reform; `progress` counts households looked at.
pub async fn run(
    pool: &PgPool,
    options: &ReformOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, ReformError> {
    let mut conn = pool.acquire().await?;
    let all_units = units::all(&mut conn).await?;
    let successions = match &options.mapping {
        Some(path) => {
            let text = read(path)?;
            let rows = succession::parse_csv(&text, options.effective_on, &options.legal_basis)
                .map_err(ReformError::Mapping)?;
            check_codes(&rows, &all_units).map_err(ReformError::Mapping)?;
            rows
        }
        None => units::successions(&mut conn)
            .await?
            .into_iter()
            .filter(|s| s.effective_on == options.effective_on)
            .filter(|s| is_commune_before(&all_units, &s.old_code, s.effective_on))
            .collect(),
    };
    if successions.is_empty() {
        return Err(ReformError::NoMapping(options.effective_on));
    }
    let successors = Successors::new(&successions, &all_units);
    let rules = match &options.hamlets {
        Some(path) => {
            HamletRules::parse(&read(path)?, &successors).map_err(ReformError::Hamlets)?
        }
        None => HamletRules::default(),
    };
    if options.mapping.is_some() && !options.dry_run {
        let mut tx = pool.begin().await?;
        units::lock_for_writing(&mut tx).await?;
        units::store_successions(&mut tx, &successions).await?;
        tx.commit().await?;
    }
    drop(conn);

    let names: HashMap<&str, &str> = all_units
        .iter()
        .filter(|u| u.valid_on(options.effective_on))
        .map(|u| (u.code.as_str(), u.name.as_str()))
        .collect();
    let mut summary = Summary {
        dry_run: options.dry_run,
        already_moved: already_moved(pool, options).await?,
        ..Summary::default()
    };
    let old_codes: Vec<String> = {
        let mut codes: Vec<String> = successions.iter().map(|s| s.old_code.clone()).collect();
        codes.sort();
        codes.dedup();
        codes
    };
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM household_status
          WHERE closed_on IS NULL AND placed_on < $1 AND unit_code = ANY($2)",
    )
    .bind(options.effective_on)
    .bind(&old_codes)
    .fetch_one(pool)
    .await?;
    progress.set_length(u64::try_from(total).unwrap_or_default());
    let writer = batch::Writer::new(pool, &all_units, options);
    // Pages are written two at a time: one is decided and hashed here while PostgreSQL takes
    // the other (pages hold different households, so they never wait on each other).
    let mut writing = FuturesUnordered::new();
    let mut after = Uuid::nil();
    loop {
        let page: Vec<Candidate> = sqlx::query_as(
            "SELECT household_id, unit_code, hamlet, area, registered_on, version
               FROM household_status
              WHERE closed_on IS NULL AND placed_on < $1 AND unit_code = ANY($2)
                AND household_id > $3
              ORDER BY household_id LIMIT $4",
        )
        .bind(options.effective_on)
        .bind(&old_codes)
        .bind(after)
        .bind(i64::try_from(options.batch.max(1)).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.household_id;
        let mut planned = Vec::new();
        for c in &page {
            let takers = successors.of(&c.unit_code);
            let target = match takers.as_slice() {
                [only] if only.whole => Some((only.new_code.clone(), None)),
                _ => rules
                    .target(&c.unit_code, &c.hamlet)
                    .map(|code| (code.to_owned(), Some(c.hamlet.clone()))),
            };
            match target {
                Some((new_code, by_hamlet)) => planned.push(Planned {
                    household_id: c.household_id,
                    old_code: c.unit_code.clone(),
                    new_code,
                    by_hamlet,
                    hamlet: c.hamlet.clone(),
                    area: c.area.clone(),
                    registered_on: c.registered_on,
                    version: c.version,
                }),
                None => {
                    summary.unassigned += 1;
                    for s in takers {
                        count(&mut summary, &names, &s.new_code).unassigned += 1;
                    }
                }
            }
        }
        progress.inc(page.len() as u64);
        if options.dry_run {
            tally(&mut summary, &names, &planned, &planned);
            continue;
        }
        let writer = &writer;
        writing.push(async move {
            let moved = writer.write(&planned).await;
            (planned, moved)
        });
        if writing.len() >= WRITERS {
            if let Some((planned, moved)) = writing.next().await {
                tally(&mut summary, &names, &planned, &moved?);
            }
        }
    }
    while let Some((planned, moved)) = writing.next().await {
        tally(&mut summary, &names, &planned, &moved?);
    }
    progress.finish_and_clear();
    Ok(summary)
}

/// Pages in flight at once.
const WRITERS: usize = 2;

/// Counts a written page; households another writer moved in between count as already moved.
fn tally(
    summary: &mut Summary,
    names: &HashMap<&str, &str>,
    planned: &[Planned],
    moved: &[Planned],
) {
    for p in moved {
        summary.moved += 1;
        count(summary, names, &p.new_code).moved += 1;
    }
    summary.already_moved += (planned.len() - moved.len()) as u64;
}

fn count<'a>(
    summary: &'a mut Summary,
    names: &HashMap<&str, &str>,
    code: &str,
) -> &'a mut CommuneCounts {
    summary
        .by_new_commune
        .entry(code.to_owned())
        .or_insert_with(|| CommuneCounts {
            name: names.get(code).copied().unwrap_or_default().to_owned(),
            ..CommuneCounts::default()
        })
}

fn read(path: &std::path::Path) -> Result<String, ReformError> {
    std::fs::read_to_string(path).map_err(|e| ReformError::Read {
        path: path.display().to_string(),
        cause: e.to_string(),
    })
}

/// Whether `code` names a commune on the day before `effective_on` (the mapping's old side).
fn is_commune_before(units: &[Unit], code: &str, effective_on: NaiveDate) -> bool {
    let Some(before) = effective_on.pred_opt() else {
        return false;
    };
    units
        .iter()
        .any(|u| u.code == code && u.level == Level::Commune && u.valid_on(before))
}

/// Every old code must be a commune the day before the reform, every new one a commune on its
/// first day; problems name the codes (a mapping's lines are checked by its parser).
fn check_codes(rows: &[Succession], units: &[Unit]) -> Result<(), Vec<RowError>> {
    let mut errors = Vec::new();
    for (index, s) in rows.iter().enumerate() {
        let line = index as u64 + 2;
        if !is_commune_before(units, &s.old_code, s.effective_on) {
            errors.push(RowError {
                line,
                field: "old_code".into(),
                problem: format!(
                    "{} is not a commune on the day before {}",
                    s.old_code, s.effective_on
                ),
            });
        }
        let new_ok = units.iter().any(|u| {
            u.code == s.new_code && u.level == Level::Commune && u.valid_on(s.effective_on)
        });
        if !new_ok {
            errors.push(RowError {
                line,
                field: "new_code".into(),
                problem: format!("{} is not a commune on {}", s.new_code, s.effective_on),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Households already moved into a new commune with this legal basis on the reform's day.
async fn already_moved(pool: &PgPool, options: &ReformOptions) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM household_status s
          WHERE s.placed_on = $1
            AND EXISTS (SELECT 1 FROM household_events e
                         WHERE e.aggregate_id = s.household_id
                           AND e.payload->>'type' = 'household_moved'
                           AND e.payload->'meta'->>'legal_basis' = $2
                           AND (e.payload->'meta'->>'effective_on')::date = $1)",
    )
    .bind(options.effective_on)
    .bind(&options.legal_basis)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(n).unwrap_or_default())
}
