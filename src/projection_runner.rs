//! Keeping the asynchronous read models current: the runner of asynchronous projections wired
//! to the gap-safe reader of the log. The API, the report commands and `ansinh rebuild` share
//! it, so it depends on neither the HTTP layer nor the command line.
//!
//! The projections crate cannot see the store (it sits below the application), so the reader is
//! handed to it through [`ansinh_projections::runner::LogReader`], implemented here on
//! [`crate::store::position::read_after`].

use std::time::Duration;

use ansinh_projections::runner::{self, AsyncProjection, Cursor, LogEvent, LogReader};
use sqlx::PgPool;

use crate::store::position;

/// Events per runner step.
pub const RUNNER_BATCH: i64 = 5_000;

/// The log, read in commit-safe order (see `store::position`).
pub struct GapSafeLog<'a> {
    pub pool: &'a PgPool,
}

impl LogReader for GapSafeLog<'_> {
    async fn read_after(&self, after: Cursor, limit: i64) -> Result<Vec<LogEvent>, sqlx::Error> {
        let from = position::Cursor {
            transaction_id: after.transaction_id,
            global_position: after.global_position,
        };
        let events = position::read_after(self.pool, from, limit).await?;
        Ok(events
            .into_iter()
            .map(|e| LogEvent {
                cursor: Cursor {
                    transaction_id: e.cursor.transaction_id,
                    global_position: e.cursor.global_position,
                },
                household_id: e.household_id,
                sequence: e.sequence,
                event: e.event,
            })
            .collect())
    }
}

/// Brings every asynchronous projection up to the log's final events; returns how many events
/// were read. A report can call it first to read fresh counts.
pub async fn catch_up(pool: &PgPool) -> Result<u64, sqlx::Error> {
    steps(pool, 1).await
}

/// One tick of the background runner: the events final now, read in full batches until a short
/// one. Events that commit meanwhile wait for the next tick rather than being chased in steps of
/// a few events each: under a stream of commands that chase cost a transaction for every few
/// commands.
async fn tick(pool: &PgPool) -> Result<(), sqlx::Error> {
    steps(pool, RUNNER_BATCH as usize).await.map(drop)
}

/// Waits for the horizon, then steps both projections again as long as a step read at least
/// `again` events; returns how many events were read.
async fn steps(pool: &PgPool, again: usize) -> Result<u64, sqlx::Error> {
    wait_for_horizon(pool).await?;
    let reader = GapSafeLog { pool };
    let mut read = 0;
    loop {
        let n = runner::step(pool, &reader, &AsyncProjection::ALL, RUNNER_BATCH).await?;
        read += n as u64;
        if n < again {
            return Ok(read);
        }
    }
}

/// Waits (at most a few seconds) until every transaction that had started when this was
/// called has ended, so the gap-safe reader can see everything committed before the call.
/// The horizon is this database's (`ansinh_log_horizon()`): a transaction open in another
/// database of the same server does not hold it back.
async fn wait_for_horizon(pool: &PgPool) -> Result<(), sqlx::Error> {
    let (target,): (String,) =
        sqlx::query_as("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
            .fetch_one(pool)
            .await?;
    for _ in 0..500 {
        let (passed,): (bool,) = sqlx::query_as("SELECT ansinh_log_horizon() >= $1::xid8")
            .bind(&target)
            .fetch_one(pool)
            .await?;
        if passed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Runs the asynchronous projections until `shutdown` resolves: a [`tick`] every `interval`, or
/// as soon as the last one ends when it took longer. Under load the read models then trail by
/// about one interval and one step, and each step carries an interval's events. Errors are
/// logged and retried at the next tick (the checkpoint did not move).
pub async fn run_projections(
    pool: PgPool,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        if let Err(e) = tick(&pool).await {
            tracing::error!(error = %e, "asynchronous projections failed; retrying");
        }
    }
}
