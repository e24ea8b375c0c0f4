//! The asynchronous projection runner: reads the log in commit-safe order and keeps a checkpoint
//! per projection (`projection_checkpoints`, `migrations/0008_projection_checkpoints.sql`).
//!
//! One step is one transaction for all the projections: lock their checkpoint rows, read up to
//! `limit` events after the one furthest behind with the gap-safe reader (which never returns an
//! event that could be followed by an earlier-committing one, see `ansinh::store::position`),
//! apply to each projection the events after its own checkpoint, move the checkpoints, commit.
//! Under a stream of commands each step was a read and a decoding of the same events per
//! projection; one now serves both. The events' effects and the checkpoints commit together, so
//! a crash replays at most the step that did not commit; handlers are idempotent anyway
//! (at-least-once). Two runners on the same database take turns on the checkpoint rows. A
//! restart continues from the checkpoints.
//!
//! The reader is a trait because the gap-safe reader lives in the application crate (next to the
//! store that writes the log); this crate only needs its output.

use std::future::Future;

use ansinh_events::household::HouseholdEvent;
use ansinh_events::Recorded;
use sqlx::PgPool;
use uuid::Uuid;

use crate::log::StoredEvent;

/// A position in the log's commit order: (writing transaction, global position).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub transaction_id: i64,
    pub global_position: i64,
}

/// An event read from the log with its position.
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub cursor: Cursor,
    pub household_id: Uuid,
    pub sequence: i64,
    pub event: Recorded<HouseholdEvent>,
}

/// Reads the log after a cursor, oldest transaction first, only events that are final.
pub trait LogReader: Sync {
    fn read_after(
        &self,
        after: Cursor,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<LogEvent>, sqlx::Error>> + Send;
}

/// The projections kept by the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsyncProjection {
    Movements,
    /// Red flags: their rules read a household's whole history (who recorded what, when), so
    /// they are kept here, a moment behind, rather than by every command's append.
    Flags,
}

impl AsyncProjection {
    pub const ALL: [AsyncProjection; 2] = [AsyncProjection::Movements, AsyncProjection::Flags];

    /// Where its tables come in [`crate::locking::LOCK_ORDER`]: a step applies projections in
    /// this order.
    fn lock_rank(self) -> usize {
        let first = crate::rebuild::Projection::ALL
            .into_iter()
            .find(|p| p.kept_by_runner() == Some(self))
            .and_then(|p| p.tables().first().copied());
        crate::locking::LOCK_ORDER
            .iter()
            .position(|t| Some(*t) == first)
            .unwrap_or(usize::MAX)
    }

    /// The checkpoint's name.
    pub fn name(self) -> &'static str {
        match self {
            AsyncProjection::Movements => "movements",
            AsyncProjection::Flags => "flags",
        }
    }

    async fn apply(
        self,
        conn: &mut sqlx::PgConnection,
        events: &[StoredEvent<'_>],
    ) -> Result<(), sqlx::Error> {
        match self {
            AsyncProjection::Movements => crate::movements::apply(conn, events).await,
            AsyncProjection::Flags => crate::flags::apply(conn, events).await,
        }
    }
}

/// Where a projection's checkpoint stands (the zero cursor before its first step).
pub async fn checkpoint(pool: &PgPool, projection: AsyncProjection) -> Result<Cursor, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    checkpoint_on(&mut conn, projection).await
}

/// [`checkpoint`] on the caller's connection (a report reads it in its own snapshot).
pub async fn checkpoint_on(
    conn: &mut sqlx::PgConnection,
    projection: AsyncProjection,
) -> Result<Cursor, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id, global_position FROM projection_checkpoints WHERE projection = $1",
    )
    .bind(projection.name())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map_or(Cursor::default(), |(t, g)| Cursor {
        transaction_id: t,
        global_position: g,
    }))
}

/// Sets a projection's checkpoint on the caller's connection (rebuild uses it).
pub async fn set_checkpoint(
    conn: &mut sqlx::PgConnection,
    projection: AsyncProjection,
    cursor: Cursor,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection, transaction_id, global_position)
         VALUES ($1, $2, $3)
         ON CONFLICT (projection) DO UPDATE
            SET transaction_id = EXCLUDED.transaction_id,
                global_position = EXCLUDED.global_position,
                updated_at = now()",
    )
    .bind(projection.name())
    .bind(cursor.transaction_id)
    .bind(cursor.global_position)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies the next batch of at most `limit` events to every projection in `projections`;
/// returns how many events were read.
///
/// One read of the log serves them all: it starts at the checkpoint furthest behind, and each
/// projection gets only the events after its own. They are applied in the order their tables
/// come in [`crate::locking::LOCK_ORDER`] (flags before movements), in one transaction with
/// the checkpoints, so they commit together.
pub async fn step<R: LogReader>(
    pool: &PgPool,
    reader: &R,
    projections: &[AsyncProjection],
    limit: i64,
) -> Result<usize, sqlx::Error> {
    let mut projections = projections.to_vec();
    projections.sort_by_key(|p| p.lock_rank());
    projections.dedup();
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection, transaction_id, global_position)
         SELECT unnest($1::text[]), 0, 0 ON CONFLICT (projection) DO NOTHING",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    // Rows locked in one order (by name), as every runner locks them.
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT projection, transaction_id, global_position FROM projection_checkpoints
          WHERE projection = ANY($1) ORDER BY projection FOR UPDATE",
    )
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    let at = |p: AsyncProjection| {
        rows.iter()
            .find(|(name, _, _)| name == p.name())
            .map_or(Cursor::default(), |(_, t, g)| Cursor {
                transaction_id: *t,
                global_position: *g,
            })
    };
    let from = projections.iter().map(|p| at(*p)).min().unwrap_or_default();
    let events = reader.read_after(from, limit).await?;
    let Some(last) = events.last().map(|e| e.cursor) else {
        tx.commit().await?;
        return Ok(0);
    };
    for projection in &projections {
        let after = at(*projection);
        let stored: Vec<StoredEvent<'_>> = events
            .iter()
            .filter(|e| e.cursor > after)
            .map(|e| StoredEvent {
                household_id: e.household_id,
                sequence: e.sequence,
                global_position: Some(e.cursor.global_position),
                event: &e.event,
            })
            .collect();
        if stored.is_empty() {
            continue;
        }
        projection.apply(&mut tx, &stored).await?;
        set_checkpoint(&mut tx, *projection, last).await?;
    }
    tx.commit().await?;
    Ok(events.len())
}
