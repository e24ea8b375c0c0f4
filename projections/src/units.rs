//! Administrative units as reference data: parsing the units CSV, loading it, and the one
//! place that knows which units a unit covers. The rules a batch of units must follow live in
//! [`hierarchy`] (levels, parents, validity) and [`scope`] (what an admin may change), shared
//! by `ansinh units import` and `POST /api/v1/units`.

pub mod closure;
mod hierarchy;
pub mod scope;
pub mod succession;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use ansinh_events::household::UnitValidity;
use unicode_normalization::UnicodeNormalization;

pub use succession::Succession;

/// The units shipped with ansinh: old Tây Ninh (province 72) and the merged province 80 ...
pub const SHIPPED_UNITS_CSV: &str = include_str!("../../data/units-tay-ninh.csv");
/// ... and old Long An (province 80 until 2025-06-30), with the same columns.
pub const SHIPPED_LONG_AN_CSV: &str = include_str!("../../data/units-long-an-old.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Level {
    Province,
    District,
    Commune,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub parent_code: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl Unit {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }

    /// What the household rules need to know of this record (see [`placement_record`]).
    pub fn validity(&self) -> UnitValidity {
        UnitValidity {
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            commune: self.level == Level::Commune,
        }
    }
}

/// The record of a code that the placement rule (`ansinh_events::household::placement`) judges
/// for `day`: the version valid that day, else the latest, so the refusal can say when the code
/// was valid. `versions` are one code's records, oldest first; `None` when there are none.
pub fn placement_record(versions: &[Unit], day: NaiveDate) -> Option<UnitValidity> {
    versions
        .iter()
        .find(|u| u.valid_on(day))
        .or_else(|| versions.last())
        .map(Unit::validity)
}

/// A bad row of a units file, named by its line and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {problem}")]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub problem: String,
}

#[derive(Debug, Deserialize)]
struct RawRow {
    code: String,
    name: String,
    level: String,
    parent_code: String,
    valid_from: String,
    valid_to: String,
}

/// Parses and checks a whole units file (`code,name,level,parent_code,valid_from,valid_to`):
/// every row's fields, then the hierarchy the rows make with the `existing` units (see
/// [`check_hierarchy`]). Every problem is reported; nothing is returned unless the whole file
/// is good.
pub fn parse_csv(text: &str, existing: &[Unit]) -> Result<Vec<Unit>, Vec<RowError>> {
    let units = parse_rows(text)?;
    check_hierarchy(&units, existing)?;
    Ok(units)
}

/// Levels, parents and validity of `units` (in file order, the header on line 1) together with
/// the `existing` units they add to or replace: a province has no parent, a district's parent
/// is a province, a commune's is a district or (since the 2025 reform) a province, and the
/// parent holds that level over the child's whole validity. Units already stored below a
/// changed unit are checked too; their problems are reported on the row that causes them.
pub fn check_hierarchy(units: &[Unit], existing: &[Unit]) -> Result<(), Vec<RowError>> {
    let errors = hierarchy::check(units, existing);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Every row's own fields and duplicate keys, without looking at other units.
pub fn parse_rows(text: &str) -> Result<Vec<Unit>, Vec<RowError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut units = Vec::new();
    let mut errors = Vec::new();
    for (index, record) in reader.deserialize::<RawRow>().enumerate() {
        // Line 1 is the header.
        let line = index as u64 + 2;
        let raw = match record {
            Ok(raw) => raw,
            Err(e) => {
                bad(&mut errors, line, "row", format!("cannot be read ({e})"));
                continue;
            }
        };
        let date = |field: &str, value: &str| -> Result<Option<NaiveDate>, RowError> {
            if value.is_empty() {
                return Ok(None);
            }
            value.parse().map(Some).map_err(|_| RowError {
                line,
                field: field.to_owned(),
                problem: format!("{value:?} is not a date (YYYY-MM-DD)"),
            })
        };
        let level = match raw.level.as_str() {
            "province" => Some(Level::Province),
            "district" => Some(Level::District),
            "commune" => Some(Level::Commune),
            other => {
                bad(
                    &mut errors,
                    line,
                    "level",
                    format!("{other:?} is not province, district or commune"),
                );
                None
            }
        };
        if raw.code.is_empty() || !raw.code.chars().all(|c| c.is_ascii_digit()) {
            bad(
                &mut errors,
                line,
                "code",
                format!("{:?} is not a numeric unit code", raw.code),
            );
        }
        if raw.name.is_empty() {
            bad(&mut errors, line, "name", "must not be empty".into());
        }
        let valid_from = match date("valid_from", &raw.valid_from) {
            Ok(Some(d)) => Some(d),
            Ok(None) => {
                bad(&mut errors, line, "valid_from", "must not be empty".into());
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let valid_to = date("valid_to", &raw.valid_to).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if let (Some(from), Some(to)) = (valid_from, valid_to) {
            if to < from {
                bad(
                    &mut errors,
                    line,
                    "valid_to",
                    format!("{to} is before valid_from {from}"),
                );
            }
        }
        let parent_code = Some(raw.parent_code).filter(|p| !p.is_empty());
        if parent_code.is_none() && level.is_some_and(|l| l != Level::Province) {
            bad(
                &mut errors,
                line,
                "parent_code",
                "must not be empty below province level".into(),
            );
        }
        if let (Some(level), Some(valid_from)) = (level, valid_from) {
            units.push((
                line,
                Unit {
                    code: raw.code,
                    name: raw.name.nfc().collect(),
                    level,
                    parent_code,
                    valid_from,
                    valid_to,
                },
            ));
        }
    }
    let mut keys = HashMap::new();
    for (line, unit) in &units {
        if let Some(first) = keys.insert((unit.code.clone(), unit.valid_from), *line) {
            errors.push(RowError {
                line: *line,
                field: "code".into(),
                problem: format!(
                    "unit {} valid from {} is already on line {first}",
                    unit.code, unit.valid_from
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(units.into_iter().map(|(_, u)| u).collect())
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn bad(errors: &mut Vec<RowError>, line: u64, field: &str, problem: String) {
    errors.push(RowError {
        line,
        field: field.to_owned(),
        problem,
    });
}

/// Every stored unit, oldest version of each code first: what an imported file adds to.
pub async fn all(conn: &mut PgConnection) -> Result<Vec<Unit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, name, level, parent_code, valid_from, valid_to FROM admin_units
          ORDER BY code, valid_from",
    )
    .fetch_all(conn)
    .await
}

/// Serialises writers of units (two imports, or an import and the shipped load, at once): the
/// checks of a batch hold until its commit. Call it first in the writing transaction.
pub async fn lock_for_writing(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(7262001)")
        .execute(conn)
        .await?;
    Ok(())
}

/// Checks `text` against the stored units and stores it, in one transaction under
/// [`lock_for_writing`]; `Ok(Err(_))` names the bad rows and nothing is written. For callers
/// without a scope to check (the command line); returns the units and how many were new.
pub async fn import_csv(
    pool: &PgPool,
    text: &str,
) -> Result<Result<(Vec<Unit>, u64), Vec<RowError>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_for_writing(&mut tx).await?;
    let existing = all(&mut tx).await?;
    let units = match parse_csv(text, &existing) {
        Ok(units) => units,
        Err(errors) => return Ok(Err(errors)),
    };
    let added = upsert(&mut tx, &units).await?;
    tx.commit().await?;
    Ok(Ok((units, added)))
}

/// Inserts or updates units (keyed by code and valid_from) and recomputes coverage, in the
/// caller's transaction. Returns how many rows were new.
pub async fn upsert(conn: &mut PgConnection, units: &[Unit]) -> Result<u64, sqlx::Error> {
    let inserted = write_units(conn, units).await?;
    rebuild_closure(conn).await?;
    Ok(inserted)
}

/// The rows of [`upsert`], in one statement, without recomputing coverage.
async fn write_units(conn: &mut PgConnection, units: &[Unit]) -> Result<u64, sqlx::Error> {
    let text = |f: fn(&Unit) -> String| units.iter().map(f).collect::<Vec<_>>();
    let new: Vec<bool> = sqlx::query_scalar(
        "INSERT INTO admin_units (code, name, level, parent_code, valid_from, valid_to)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::date[],
                              $6::date[])
         ON CONFLICT (code, valid_from) DO UPDATE
           SET name = EXCLUDED.name, level = EXCLUDED.level,
               parent_code = EXCLUDED.parent_code, valid_to = EXCLUDED.valid_to
         RETURNING (xmax = 0)",
    )
    .bind(text(|u| u.code.clone()))
    .bind(text(|u| u.name.clone()))
    .bind(units.iter().map(|u| u.level).collect::<Vec<_>>())
    .bind(
        units
            .iter()
            .map(|u| u.parent_code.clone())
            .collect::<Vec<_>>(),
    )
    .bind(units.iter().map(|u| u.valid_from).collect::<Vec<_>>())
    .bind(units.iter().map(|u| u.valid_to).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    Ok(new.into_iter().filter(|n| *n).count() as u64)
}

/// Recomputes `admin_unit_closure` from the stored units and successions (see [`closure`]).
async fn rebuild_closure(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let units = all(&mut *conn).await?;
    let successions = successions(&mut *conn).await?;
    let edges = closure::edges(&units, &successions);
    sqlx::query("DELETE FROM admin_unit_closure")
        .execute(&mut *conn)
        .await?;
    let column = |f: fn(&closure::Edge) -> String| edges.iter().map(f).collect::<Vec<_>>();
    let days = |f: fn(&closure::Edge) -> NaiveDate| edges.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO admin_unit_closure (ancestor, descendant, valid_from, valid_to)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $4::date[])",
    )
    .bind(column(|e| e.ancestor.clone()))
    .bind(column(|e| e.descendant.clone()))
    .bind(days(|e| e.valid_from))
    .bind(days(|e| e.valid_to))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The stored successions with the new communes' names, for refusals of ended communes.
pub async fn successors(pool: &PgPool) -> Result<succession::Successors, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let units = all(&mut conn).await?;
    let rows = successions(&mut conn).await?;
    Ok(succession::Successors::new(&rows, &units))
}

/// Every stored succession (old commune → new commune).
pub async fn successions(conn: &mut PgConnection) -> Result<Vec<Succession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT old_code, new_code, whole, effective_on, legal_basis FROM unit_successions
          ORDER BY old_code, new_code",
    )
    .fetch_all(conn)
    .await
}

/// Stores successions (a mapping file) and recomputes coverage, under [`lock_for_writing`] in
/// the caller's transaction. Returns how many pairs were new.
pub async fn store_successions(
    conn: &mut PgConnection,
    rows: &[Succession],
) -> Result<u64, sqlx::Error> {
    let added = write_successions(conn, rows).await?;
    rebuild_closure(conn).await?;
    Ok(added)
}

/// The rows of [`store_successions`], without recomputing coverage.
async fn write_successions(
    conn: &mut PgConnection,
    rows: &[Succession],
) -> Result<u64, sqlx::Error> {
    let column = |f: fn(&Succession) -> String| rows.iter().map(f).collect::<Vec<_>>();
    Ok(sqlx::query(
        "INSERT INTO unit_successions (old_code, new_code, whole, effective_on, legal_basis)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::date[], $5::text[])
         ON CONFLICT (old_code, new_code, effective_on) DO UPDATE
            SET whole = EXCLUDED.whole, legal_basis = EXCLUDED.legal_basis",
    )
    .bind(column(|s| s.old_code.clone()))
    .bind(column(|s| s.new_code.clone()))
    .bind(rows.iter().map(|s| s.whole).collect::<Vec<_>>())
    .bind(rows.iter().map(|s| s.effective_on).collect::<Vec<_>>())
    .bind(column(|s| s.legal_basis.clone()))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Loads the shipped units (idempotent: run by `migrate` and `serve`).
/// The file is checked on its own, not against what is stored: a start must not fail on units
/// an admin added since.
pub async fn load_shipped(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let units = shipped()
        .map_err(|e| sqlx::Error::Protocol(format!("the shipped units file is invalid: {e}")))?;
    let mapping = succession::shipped()
        .map_err(|e| sqlx::Error::Protocol(format!("the shipped unit mapping is invalid: {e}")))?;
    let mut tx = pool.begin().await?;
    lock_for_writing(&mut tx).await?;
    // Both written, then coverage computed once.
    let inserted = write_units(&mut tx, &units).await?;
    write_successions(&mut tx, &mapping).await?;
    rebuild_closure(&mut tx).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// The shipped units, parsed and checked (no database).
pub fn shipped() -> Result<Vec<Unit>, RowError> {
    let tay_ninh = parse_csv(SHIPPED_UNITS_CSV, &[]).map_err(|mut errors| errors.swap_remove(0))?;
    let long_an =
        parse_csv(SHIPPED_LONG_AN_CSV, &tay_ninh).map_err(|mut errors| errors.swap_remove(0))?;
    Ok(tay_ninh.into_iter().chain(long_an).collect())
}

/// Whether `ancestor` covers what lies in `unit` on `day` (itself or any unit below it; a new
/// commune also covers its predecessors' days). `None`: on any day.
pub async fn covers(
    pool: &PgPool,
    ancestor: &str,
    unit: &str,
    day: Option<NaiveDate>,
) -> Result<bool, sqlx::Error> {
    let (yes,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM admin_unit_closure WHERE ancestor = $1 AND descendant = $2
                          AND ($3::date IS NULL OR $3 BETWEEN valid_from AND valid_to))",
    )
    .bind(ancestor)
    .bind(unit)
    .bind(day)
    .fetch_one(pool)
    .await?;
    Ok(yes)
}

/// Ancestor → unit → the days over which it covers that unit.
type Below = HashMap<String, HashMap<String, Vec<(NaiveDate, NaiveDate)>>>;

/// Which units each unit covers, held in memory: the scope check of every request without a
/// query. Units are reference data that rarely change, so a snapshot of `admin_unit_closure` is
/// kept for `ttl`. A pair the snapshot lacks is asked of the database (a unit just imported
/// by another process is covered at once); a pair an import elsewhere removed (a unit moved
/// under another parent) is still granted for at most `ttl`. An import through this process
/// calls [`Coverage::forget`] after its commit.
pub struct Coverage {
    snapshot: RwLock<Option<Snapshot>>,
    /// Moves on at every `forget`, so a load that raced with it is not kept.
    generation: AtomicU64,
    ttl: Duration,
}

struct Snapshot {
    below: Arc<Below>,
    loaded_at: Instant,
}

impl Coverage {
    /// How long a snapshot is trusted.
    pub const TTL: Duration = Duration::from_secs(60);

    pub fn new(ttl: Duration) -> Self {
        Coverage {
            snapshot: RwLock::new(None),
            generation: AtomicU64::new(0),
            ttl,
        }
    }

    /// Whether `ancestor` covers what lies in `unit` on `day` (see [`covers`]).
    pub async fn covers(
        &self,
        pool: &PgPool,
        ancestor: &str,
        unit: &str,
        day: Option<NaiveDate>,
    ) -> Result<bool, sqlx::Error> {
        let (below, fresh) = match self.fresh() {
            Some(below) => (below, false),
            None => (self.load(pool).await?, true),
        };
        let ranges = below.get(ancestor).and_then(|units| units.get(unit));
        if ranges.is_some_and(|r| closure::holds(r, day)) {
            return Ok(true);
        }
        if fresh {
            return Ok(false);
        }
        covers(pool, ancestor, unit, day).await
    }

    /// Drops the snapshot: the next check loads the closure again. Call it after units were
    /// imported (after the commit).
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn fresh(&self) -> Option<Arc<Below>> {
        let snapshot = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
        snapshot
            .as_ref()
            .filter(|s| s.loaded_at.elapsed() < self.ttl)
            .map(|s| Arc::clone(&s.below))
    }

    async fn load(&self, pool: &PgPool) -> Result<Arc<Below>, sqlx::Error> {
        let generation = self.generation.load(Ordering::Acquire);
        let loaded_at = Instant::now();
        let rows: Vec<(String, String, NaiveDate, NaiveDate)> = sqlx::query_as(
            "SELECT ancestor, descendant, valid_from, valid_to FROM admin_unit_closure",
        )
        .fetch_all(pool)
        .await?;
        let mut below: Below = HashMap::new();
        for (ancestor, descendant, from, to) in rows {
            below
                .entry(ancestor)
                .or_default()
                .entry(descendant)
                .or_default()
                .push((from, to));
        }
        let below = Arc::new(below);
        let mut snapshot = self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Under the lock, so a `forget` is either seen here or comes after the store.
        if self.generation.load(Ordering::Acquire) == generation {
            *snapshot = Some(Snapshot {
                below: Arc::clone(&below),
                loaded_at,
            });
        }
        Ok(below)
    }
}

/// The unit with this code that is valid on `day`, if any.
pub async fn valid_on(
    pool: &PgPool,
    code: &str,
    day: NaiveDate,
) -> Result<Option<Unit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, name, level, parent_code, valid_from, valid_to FROM admin_units
          WHERE code = $1 AND valid_from <= $2 AND (valid_to IS NULL OR $2 <= valid_to)",
    )
    .bind(code)
    .bind(day)
    .fetch_optional(pool)
    .await
}

/// Every version of the unit with this code, oldest first.
pub async fn by_code(pool: &PgPool, code: &str) -> Result<Vec<Unit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, name, level, parent_code, valid_from, valid_to FROM admin_units
          WHERE code = $1 ORDER BY valid_from",
    )
    .bind(code)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "code,name,level,parent_code,valid_from,valid_to\n";

    #[test]
    fn the_shipped_file_parses_with_both_structures() {
        let units = shipped().expect("valid");
        // The copies of the shared files plus the earlier names of districts 703, 709, 712
        // and 794, so that each commune's district is valid over the commune's whole validity.
        assert_eq!(units.len(), 204 + 203);
        let day = |s: &str| s.parse::<NaiveDate>().expect("date");
        let long_hoa: Vec<_> = units.iter().filter(|u| u.code == "25630").collect();
        assert_eq!(long_hoa.len(), 2, "old and new units share the code");
        assert!(long_hoa
            .iter()
            .any(|u| u.valid_on(day("2024-01-01")) && u.parent_code.as_deref() == Some("709")));
        assert!(long_hoa
            .iter()
            .any(|u| u.valid_on(day("2025-07-01")) && u.parent_code.as_deref() == Some("80")));
    }

    #[test]
    fn every_bad_field_is_named_with_its_line_and_nothing_is_returned() {
        let text = format!(
            "{HEADER}72,Tỉnh Tây Ninh,province,,2000-01-01,\n\
             703,Thành phố,city,72,2000-01-01,\n\
             25459,Xã A,commune,999,2000-13-01,\n\
             25460,Xã B,commune,703,2020-01-01,2019-01-01\n"
        );
        let errors = parse_csv(&text, &[]).expect_err("invalid");
        let named: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert!(named.contains(&(3, "level")), "{errors:?}");
        assert!(named.contains(&(4, "valid_from")), "{errors:?}");
        assert!(named.contains(&(5, "valid_to")), "{errors:?}");
        assert!(errors
            .iter()
            .any(|e| e.line == 5 && e.problem.contains("before")));
    }

    #[test]
    fn a_parent_may_already_be_in_the_database_and_names_are_nfc() {
        let decomposed = "Xa\u{0303} Mo\u{031b}\u{0301}i";
        let text = format!("{HEADER}99999,{decomposed},commune,72,2021-01-01,2024-12-31\n");
        let stored = shipped().expect("valid");
        let units = parse_csv(&text, &stored).expect("valid");
        assert_eq!(units[0].name, "Xã Mới");
        assert!(parse_csv(&text, &[]).is_err());
    }
}
