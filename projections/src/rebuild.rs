//! Rebuilding read models from the log: empty them and apply every event again, in batches.
//!
//! Not esrs's `PgRebuilder` (which holds every event in memory and deletes per event): one
//! REPEATABLE READ transaction locks the read models' tables (in
//! [`crate::locking::LOCK_ORDER`], the order every writer takes them, so a concurrent append
//! waits instead of deadlocking, then updates the rebuilt rows when the rebuild commits),
//! empties them, and walks the log by `(aggregate_id, sequence_number)` — the unique index's
//! order — `batch` events at a time, handing each batch to the same `write` functions the
//! inline handler and the bulk importer use. The log is read on a second connection that
//! imports the transaction's snapshot (`pg_export_snapshot`), up to two batches ahead
//! of the writes: on one connection, reading and writing took turns and left a core idle about a
//! third of the time (perf). Memory holds those batches and the histories of their households.
//! Readers keep seeing the old rows until the commit.
//!
//! The asynchronous movements model is rebuilt the same way, then its checkpoint is set to the
//! last event (in commit order) of the transactions older than every one still running when the
//! rebuild's snapshot was taken: the runner re-reads from there, and its version guard skips
//! what the rebuild already applied.
//!
//! A rebuild that PostgreSQL rolls back for a deadlock or a serialization failure is run again,
//! up to [`locking::MAX_ATTEMPTS`] times.

use std::time::{Duration, Instant};

use ansinh_events::household::HouseholdEvent;
use ansinh_events::Recorded;
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::locking;
use crate::log::{self, StoredEvent};
use crate::runner::{self, AsyncProjection, Cursor};

/// Events per batch unless the caller says otherwise.
pub const DEFAULT_BATCH: i64 = 5_000;

/// A read model that can be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    Status,
    History,
    Disbursements,
    RePoverty,
    Flags,
    Movements,
    /// Not a read model but the households' snapshots (a cache of state and rows).
    Snapshots,
}

impl Projection {
    /// In the order their tables are locked and written.
    pub const ALL: [Projection; 7] = [
        Projection::Status,
        Projection::History,
        Projection::Disbursements,
        Projection::RePoverty,
        Projection::Flags,
        Projection::Movements,
        Projection::Snapshots,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Projection::Status => "status",
            Projection::History => "history",
            Projection::Disbursements => "disbursements",
            Projection::RePoverty => "re_poverty",
            Projection::Flags => "flags",
            Projection::Movements => "movements",
            Projection::Snapshots => "snapshots",
        }
    }

    /// Accepts `re-poverty` for `re_poverty`.
    pub fn parse(name: &str) -> Option<Projection> {
        let name = name.trim().replace('-', "_");
        Projection::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The runner's projection this read model is, if the runner keeps it (not the append).
    pub fn kept_by_runner(self) -> Option<AsyncProjection> {
        match self {
            Projection::Flags => Some(AsyncProjection::Flags),
            Projection::Movements => Some(AsyncProjection::Movements),
            _ => None,
        }
    }

    /// The tables it owns, in write order.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Projection::Status => &["household_status", "household_standard_status"],
            Projection::History => &["history_corrections"],
            Projection::Disbursements => &["disbursement_households", "disbursements"],
            Projection::RePoverty => &["re_poverty_households", "re_poverty"],
            Projection::Flags => &["flag_households", "flags"],
            Projection::Movements => &["movement_households", "movement_counts"],
            Projection::Snapshots => &["household_snapshots"],
        }
    }
}

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("database error during rebuild: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "unknown read model {0:?}; known: status, history, disbursements, re_poverty, flags, movements, snapshots"
    )]
    UnknownProjection(String),
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub projections: Vec<Projection>,
    pub events: u64,
    pub households: u64,
    pub batches: u64,
    pub elapsed: Duration,
}

/// The read models named, or all of them for `None`.
pub fn select(name: Option<&str>) -> Result<Vec<Projection>, RebuildError> {
    match name {
        None => Ok(Projection::ALL.to_vec()),
        Some(n) => Projection::parse(n)
            .map(|p| vec![p])
            .ok_or_else(|| RebuildError::UnknownProjection(n.to_owned())),
    }
}

/// Rebuilds `projections` from the log; `progress(done, total)` is called after each batch.
/// A deadlock or serialization failure starts it again (the failed attempt left nothing).
pub async fn rebuild(
    pool: &PgPool,
    projections: &[Projection],
    batch: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    let mut projections = projections.to_vec();
    projections.sort();
    projections.dedup();
    let batch = batch.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match once(pool, &projections, batch, &mut progress).await {
            Err(RebuildError::Database(e))
                if locking::is_retryable(&e) && attempt < locking::MAX_ATTEMPTS =>
            {
                tracing::warn!(error = %e, attempt, "rebuild rolled back; trying again");
                tokio::time::sleep(locking::backoff(attempt)).await;
            }
            Err(e) => return Err(e),
            Ok((events, households, batches)) => {
                return Ok(RebuildReport {
                    projections,
                    events,
                    households,
                    batches,
                    elapsed: started.elapsed(),
                })
            }
        }
    }
}

/// One attempt: events, households and batches done.
async fn once(
    pool: &PgPool,
    projections: &[Projection],
    batch: i64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(u64, u64, u64), RebuildError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await?;
    // Locks first: the snapshot is taken by the first query after them, so every append that
    // touched these tables before has committed and is in it. LOCK TABLE takes them one by one
    // in the order named: LOCK_ORDER's, as every writer.
    let mut tables: Vec<&str> = Vec::new();
    if projections.iter().any(|p| p.kept_by_runner().is_some()) {
        tables.push("projection_checkpoints");
    }
    // Snapshots are a cache that every cold load reads: they are replaced row by row, never
    // locked whole, so no command waits for a rebuild to read one.
    for p in projections.iter().filter(|p| **p != Projection::Snapshots) {
        tables.extend(p.tables());
    }
    let tables = locking::in_lock_order(&tables);
    if !tables.is_empty() {
        sqlx::query(&format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            tables.join(", ")
        ))
        .execute(&mut *tx)
        .await?;
    }
    let (total, horizon): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM household_events),
                ansinh_log_horizon()::text::bigint",
    )
    .fetch_one(&mut *tx)
    .await?;
    let total = u64::try_from(total).unwrap_or(0);
    let owned: Vec<&str> = projections
        .iter()
        .filter(|p| **p != Projection::Snapshots)
        .flat_map(|p| p.tables())
        .copied()
        .collect();
    if !owned.is_empty() {
        sqlx::query(&format!("TRUNCATE {}", owned.join(", ")))
            .execute(&mut *tx)
            .await?;
    }
    if projections.contains(&Projection::Snapshots) {
        sqlx::query("DELETE FROM household_snapshots")
            .execute(&mut *tx)
            .await?;
    }
    progress(0, total);

    // The log is read on a second connection that shares this transaction's snapshot, so
    // PostgreSQL reads and this process decodes the next batch while the last one is written.
    let (snapshot,): (String,) = sqlx::query_as("SELECT pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await?;
    let reader = PgConnection::connect_with(&pool.connect_options()).await?;
    let (sender, mut batches_read) = mpsc::channel(READ_AHEAD);
    let reading = tokio::spawn(read_batches(reader, snapshot, batch, sender));
    let (mut done, mut households, mut batches) = (0_u64, 0_u64, 0_u64);
    while let Some(rows) = batches_read.recv().await {
        let rows = rows?;
        let stored: Vec<StoredEvent<'_>> = rows
            .iter()
            .map(|(id, sequence, position, Json(event))| StoredEvent {
                household_id: *id,
                sequence: (*sequence).into(),
                global_position: Some(*position),
                event,
            })
            .collect();
        households += stored.iter().filter(|e| e.sequence == 1).count() as u64;
        // The history links need no histories.
        let logs = if projections.iter().any(|p| *p != Projection::History) {
            log::load(&mut tx, &stored).await?
        } else {
            Vec::new()
        };
        for p in projections {
            match p {
                Projection::Status => crate::status::write(&mut tx, &logs).await?,
                Projection::History => crate::history::apply(&mut tx, &stored).await?,
                Projection::Disbursements => crate::disbursements::write(&mut tx, &logs).await?,
                Projection::RePoverty => crate::re_poverty::write(&mut tx, &logs).await?,
                Projection::Flags => crate::flags::write(&mut tx, &logs).await?,
                Projection::Movements => crate::movements::write(&mut tx, &logs).await?,
                Projection::Snapshots => crate::snapshots::write_logs(&mut tx, &logs).await?,
            }
        }
        done += rows.len() as u64;
        batches += 1;
        progress(done, total.max(done));
    }
    // Every batch was received, so the reader has finished (an error came as a batch).
    reading
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let runner_kept: Vec<AsyncProjection> = projections
        .iter()
        .filter_map(|p| p.kept_by_runner())
        .collect();
    if !runner_kept.is_empty() {
        // Everything below the log's horizon at the snapshot (no transaction older than it can
        // still write here) is in the rebuild: the checkpoint is the last of those events, a
        // real position a report can name.
        let last: Option<(i64, i64)> = sqlx::query_as(
            // `e.`: the table's columns, whose index gives the last row at once (the output's
            // bigint cast would be sorted).
            "SELECT e.transaction_id::text::bigint, e.global_position FROM household_events e
              WHERE e.transaction_id < $1::text::xid8
              ORDER BY e.transaction_id DESC, e.global_position DESC
              LIMIT 1",
        )
        .bind(horizon.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let below = last.map_or(Cursor::default(), |(transaction_id, global_position)| {
            Cursor {
                transaction_id,
                global_position,
            }
        });
        for projection in runner_kept {
            runner::set_checkpoint(&mut tx, projection, below).await?;
        }
    }
    tx.commit().await?;
    Ok((done, households, batches))
}

/// Batches the reader may hold decoded ahead of the writer.
const READ_AHEAD: usize = 2;

/// A batch of the log: household, sequence, global position and the event.
type Batch = Vec<(Uuid, i32, i64, Json<Recorded<HouseholdEvent>>)>;

/// Reads the log in `(aggregate_id, sequence_number)` order, `batch` events at a time, on
/// `conn` in a read-only transaction that imports the rebuild's `snapshot` (so it sees exactly
/// what the rebuild locked and counted), and sends each batch on; a failure is sent as the
/// last item. Stops early when the rebuild stops listening. The connection closes with it,
/// ending its transaction.
async fn read_batches(
    mut conn: PgConnection,
    snapshot: String,
    batch: i64,
    out: mpsc::Sender<Result<Batch, sqlx::Error>>,
) {
    let read = async {
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut conn)
            .await?;
        // The snapshot's name is PostgreSQL's own (hex digits and dashes); SET takes no
        // parameters.
        let name: String = snapshot
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .collect();
        sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{name}'"))
            .execute(&mut conn)
            .await?;
        let mut after = (Uuid::nil(), 0_i32);
        loop {
            let rows: Batch = sqlx::query_as(
                "SELECT aggregate_id, sequence_number, global_position, payload
                   FROM household_events
                  WHERE (aggregate_id, sequence_number) > ($1, $2)
                  ORDER BY aggregate_id, sequence_number
                  LIMIT $3",
            )
            .bind(after.0)
            .bind(after.1)
            .bind(batch)
            .fetch_all(&mut conn)
            .await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = (last.0, last.1);
            if out.send(Ok(rows)).await.is_err() {
                return Ok(());
            }
        }
    };
    if let Err(e) = read.await {
        let _ = out.send(Err(e)).await;
    }
}
