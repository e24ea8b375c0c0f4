//! The postings' event log (`posting_events`, migrations/0040): read a posting's stream, and
//! append a command's events. A posting takes one command in its life and is written far less
//! often than a household, so the append is a plain INSERT whose unique stream index refuses a
//! second writer (the loser is told the posting exists).

use ansinh_events::posting::{PostingEvent, PostingOpened, PostingState};
use ansinh_events::Recorded;
use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

const STREAM_CONSTRAINT: &str = "posting_events_stream";

#[derive(Debug, thiserror::Error)]
pub enum PostingLogError {
    #[error("posting {0} was written meanwhile by another request")]
    Conflict(Uuid),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored posting event could not be read: {0}")]
    Corrupt(String),
}

/// A posting's events in order, and its folded state (empty for a posting never opened).
pub async fn load(
    pool: &PgPool,
    id: Uuid,
) -> Result<(PostingState, Vec<Recorded<PostingEvent>>), PostingLogError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT payload::text FROM posting_events WHERE aggregate_id = $1 ORDER BY sequence_number",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut state = PostingState::default();
    let mut events = Vec::with_capacity(rows.len());
    for (payload,) in rows {
        let recorded: Recorded<PostingEvent> =
            serde_json::from_str(&payload).map_err(|e| PostingLogError::Corrupt(e.to_string()))?;
        state = state.apply(&recorded);
        events.push(recorded);
    }
    Ok((state, events))
}

/// Writes a command's events onto the posting's stream, in one transaction.
pub async fn append(
    pool: &PgPool,
    id: Uuid,
    events: &[Recorded<PostingEvent>],
) -> Result<(), PostingLogError> {
    let mut tx = pool.begin().await?;
    for e in events {
        let payload =
            serde_json::to_string(e).map_err(|e| PostingLogError::Corrupt(e.to_string()))?;
        let sequence = i32::try_from(e.meta.sequence).unwrap_or(i32::MAX);
        let inserted = sqlx::query(
            "INSERT INTO posting_events (id, aggregate_id, payload, occurred_on, sequence_number, version)
             VALUES ($1, $2, $3::jsonb, $4, $5, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(id)
        .bind(payload)
        .bind(e.meta.recorded_at)
        .bind(sequence)
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(db)) = &inserted {
            if db.constraint() == Some(STREAM_CONSTRAINT) {
                return Err(PostingLogError::Conflict(id));
            }
        }
        inserted?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every posting opened in one of `units` (all units for an empty list) for `period` (any
/// period for `None`), whose posting starts on or before `to`.
pub async fn opened(
    pool: &PgPool,
    units: &[String],
    period: Option<&str>,
    to: Option<NaiveDate>,
) -> Result<Vec<(Uuid, PostingOpened)>, PostingLogError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT aggregate_id, (payload->'data')::text FROM posting_events
          WHERE payload->>'type' = 'posting_opened'
            AND (cardinality($1::text[]) = 0 OR payload->'data'->>'unit_code' = ANY($1))
            AND ($2::text IS NULL OR payload->'data'->>'period' = $2)
            AND ($3::date IS NULL OR (payload->'data'->>'posted_from')::date <= $3)
          ORDER BY payload->'data'->>'unit_code', payload->'data'->>'period'",
    )
    .bind(units)
    .bind(period)
    .bind(to)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, data)| {
            serde_json::from_str(&data)
                .map(|o| (id, o))
                .map_err(|e| PostingLogError::Corrupt(e.to_string()))
        })
        .collect()
}
