//! Reading the whole log in commit-safe order without ever skipping an event.
//!
//! Positions are handed out when a row is inserted, not when its transaction commits, so a
//! reader that asks for `global_position > last_seen` can pass over a slow transaction's event
//! and never come back (the out-of-order-commit bug of Marten, Eventuous, SQLStreamStore and
//! Axon). Filtering on `transaction_id < pg_snapshot_xmin(...)` alone is not enough either:
//! a finished transaction may hold positions on both sides of a running one's.
//!
//! So readers walk the log in `(transaction_id, global_position)` order and only return rows
//! written by transactions older than every transaction still running that could write here
//! (`ansinh_log_horizon()`, migrations/0041_log_horizon.sql: those of other databases on the
//! same server are left out). Every such transaction has ended, and any transaction that
//! writes later has a larger id, so nothing can ever appear behind a reader's cursor.

use ansinh_events::household::HouseholdEvent;
use ansinh_events::Recorded;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

/// Where a reader stands: the last (transaction, position) it has processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub transaction_id: i64,
    pub global_position: i64,
}

#[derive(Debug, Clone)]
pub struct PositionedEvent {
    pub cursor: Cursor,
    pub household_id: Uuid,
    pub sequence: i64,
    pub event: Recorded<HouseholdEvent>,
}

type PositionRow = (i64, i64, Uuid, i32, Json<Recorded<HouseholdEvent>>);

/// The reader's statement: `$1` the cursor's transaction (as text), `$2` its position, `$3`
/// the limit. The order names the table's columns (`e.`): the output's `transaction_id` is
/// the bigint cast, and ordering by it made PostgreSQL sort every row after the cursor instead
/// of walking the commit-order index (tests/event_log.rs checks the plan).
pub const READ_AFTER: &str =
    "SELECT e.transaction_id::text::bigint AS transaction_id, e.global_position,
            e.aggregate_id, e.sequence_number, e.payload
       FROM household_events e
      WHERE (e.transaction_id, e.global_position) > ($1::text::xid8, $2)
        AND e.transaction_id < ansinh_log_horizon()
      ORDER BY e.transaction_id, e.global_position
      LIMIT $3";

/// Up to `limit` events after `after`, oldest transaction first, all of them final.
pub async fn read_after(
    pool: &PgPool,
    after: Cursor,
    limit: i64,
) -> Result<Vec<PositionedEvent>, sqlx::Error> {
    let rows: Vec<PositionRow> = sqlx::query_as(READ_AFTER)
        .bind(after.transaction_id.to_string())
        .bind(after.global_position)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(transaction_id, global_position, household_id, sequence, Json(event))| {
                PositionedEvent {
                    cursor: Cursor {
                        transaction_id,
                        global_position,
                    },
                    household_id,
                    sequence: sequence.into(),
                    event,
                }
            },
        )
        .collect())
}
