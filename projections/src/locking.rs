//! The one order in which every writer takes the tables of the log and of the read models, and
//! which failures of a writer are worth trying again.
//!
//! Two transactions that take the same tables in the same order cannot deadlock on them: the
//! second waits for the first instead. So every path that writes these tables writes (or locks)
//! them in [`LOCK_ORDER`]:
//!
//! * a command's append, `ansinh_append` (newest definition: migrations/0043_append_in_batches.sql);
//! * the batch writers — [`crate::inline::apply_loaded`] after the importer's COPY of events
//!   and keys (src/import/run.rs), the reform's batch (events, then `household_status`) and the
//!   runner (its checkpoint, then the movement tables);
//! * [`crate::rebuild`], which locks the tables of the read models it rebuilds with one
//!   `LOCK TABLE` in this order before it reads anything.
//!
//! A version guard (`*_households`) comes before the rows it guards because the batch writers
//! must know which households advanced before they rewrite their rows. Reads of one table
//! followed by another in one transaction must follow the order too: the rebuild's
//! `ACCESS EXCLUSIVE` lock conflicts with reads (the movement report reads the checkpoint, then
//! the counts). tests/api/locking.rs checks the order each writer really takes.

/// Every table written by more than one path, in the order they are taken.
pub const LOCK_ORDER: &[&str] = &[
    "household_events",
    "idempotency_keys",
    "household_status",
    "household_standard_status",
    "history_corrections",
    "disbursement_households",
    "disbursements",
    "fund_allocations",
    "re_poverty_households",
    "re_poverty",
    "projection_checkpoints",
    "flag_households",
    "flags",
    "movement_households",
    "movement_counts",
    "household_snapshots",
];

/// `tables` sorted into [`LOCK_ORDER`] (tables it does not name go last, in their order).
pub fn in_lock_order<'a>(tables: &[&'a str]) -> Vec<&'a str> {
    let mut sorted = tables.to_vec();
    sorted.sort_by_key(|t| LOCK_ORDER.iter().position(|o| o == t).unwrap_or(usize::MAX));
    sorted.dedup();
    sorted
}

/// Whether `tables` (the order some writer takes them in) agrees with [`LOCK_ORDER`]: every
/// table is in it and none comes after a table that follows it there. Returns the first pair
/// out of order, or a table it does not name.
pub fn check_order(tables: &[&str]) -> Result<(), String> {
    let mut last: Option<(usize, &str)> = None;
    for t in tables {
        let Some(i) = LOCK_ORDER.iter().position(|o| o == t) else {
            return Err(format!("{t} is not in LOCK_ORDER"));
        };
        if let Some((j, before)) = last {
            if i < j {
                return Err(format!(
                    "{t} is taken after {before}; LOCK_ORDER has it before"
                ));
            }
        }
        last = Some((i, t));
    }
    Ok(())
}

/// SQLSTATE of "deadlock detected".
pub const DEADLOCK_DETECTED: &str = "40P01";
/// SQLSTATE of "could not serialize access".
pub const SERIALIZATION_FAILURE: &str = "40001";

/// How often a writer tries a transaction that failed only because of another one.
pub const MAX_ATTEMPTS: usize = 5;

/// Whether `e` is a deadlock or a serialization failure: PostgreSQL rolled the transaction
/// back because of another one, and the same transaction run again can succeed.
pub fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some(DEADLOCK_DETECTED | SERIALIZATION_FAILURE)
        ),
        _ => false,
    }
}

/// The pause before attempt `attempt + 1` (a few ms, growing), so two transactions that just
/// collided do not collide again at once.
pub fn backoff(attempt: usize) -> std::time::Duration {
    std::time::Duration::from_millis(5 << attempt.min(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest migration that defines `ansinh_append`, and its name.
    fn newest_append() -> (String, String) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("the migrations folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        files
            .into_iter()
            .rev()
            .find_map(|p| {
                let sql = std::fs::read_to_string(&p).ok()?;
                let start = sql.find("FUNCTION ansinh_append(")?;
                let name = p.file_name()?.to_string_lossy().into_owned();
                Some((name, sql[start..].to_owned()))
            })
            .expect("a migration defines ansinh_append")
    }

    /// The tables a SQL body writes (INSERT INTO, DELETE FROM, UPDATE), in the order of
    /// their first write.
    fn first_writes(sql: &str) -> Vec<String> {
        let words: Vec<String> = sql
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut tables: Vec<String> = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let target = match (w.as_str(), words.get(i + 1).map(String::as_str)) {
                ("insert", Some("into")) | ("delete", Some("from")) => words.get(i + 2),
                ("update", Some(t)) if t != "set" => words.get(i + 1),
                _ => None,
            };
            if let Some(t) = target {
                if !tables.contains(t) {
                    tables.push(t.clone());
                }
            }
        }
        tables
    }

    #[test]
    fn the_append_function_writes_in_lock_order() {
        let (file, body) = newest_append();
        let body = &body[..body.find("$$;").unwrap_or(body.len())];
        let tables = first_writes(body);
        assert!(tables.len() >= 9, "{file}: found only {tables:?}");
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        check_order(&tables).unwrap_or_else(|e| panic!("{file}: {e} ({tables:?})"));
    }

    #[test]
    fn rebuild_locks_in_lock_order() {
        use crate::rebuild::Projection;
        let mut all = vec!["projection_checkpoints"];
        for p in Projection::ALL {
            all.extend(p.tables());
        }
        let sorted = in_lock_order(&all);
        check_order(&sorted).expect("sorted");
        assert_eq!(sorted.len(), all.len(), "every table is in LOCK_ORDER");
    }

    #[test]
    fn out_of_order_is_named() {
        let e = check_order(&["disbursements", "disbursement_households"]);
        assert!(
            e.as_ref()
                .is_err_and(|e| e.contains("disbursement_households")),
            "{e:?}"
        );
        assert!(check_order(&["nope"]).is_err());
    }
}
