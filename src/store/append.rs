//! A command's append as one statement: `ansinh_append` (migrations/0021_append.sql) inserts
//! the events in esrs's row layout, the idempotency record and the changed inline read-model
//! rows in the statement's own transaction — one round trip and one commit, where esrs's
//! `persist` takes a BEGIN, an INSERT per event, a statement or more per handler and a COMMIT.
//!
//! The statement writes its tables in `LOCK_ORDER` (ansinh_projections::locking); should it
//! still be rolled back for a deadlock or a serialization failure (a rebuild or batch beside
//! it), nothing of it was kept and it is sent again, a bounded number of times.

use ansinh_events::household::HouseholdEvent;
use ansinh_events::{Idempotency, Recorded};
use ansinh_projections::changes::RowChanges;
use ansinh_projections::locking;
use chrono::Utc;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

pub(super) async fn append(
    pool: &PgPool,
    household_id: Uuid,
    events: &[Recorded<HouseholdEvent>],
    idempotency: Option<(Uuid, &Idempotency)>,
    changes: &RowChanges,
) -> Result<(), sqlx::Error> {
    let mut ids = Vec::with_capacity(events.len());
    let mut sequences = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for e in events {
        // Time-ordered ids keep the primary-key index append-mostly (as esrs's UuidFormat::V7).
        ids.push(Uuid::now_v7());
        sequences.push(i32::try_from(e.meta.sequence).unwrap_or(i32::MAX));
        payloads.push(serde_json::to_string(e).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
    }
    let idempotency = idempotency.map(|(user_id, i)| {
        Json(serde_json::json!({ "user_id": user_id, "key": i.key, "request_digest": i.request_digest }))
    });
    // `occurred_on` is the moment the command was decided, as the events' hashed `recorded_at`
    // says (and as the import writes it), not when this statement happens to run.
    let occurred_on = events.first().map_or_else(Utc::now, |e| e.meta.recorded_at);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = sqlx::query("SELECT ansinh_append($1, $2, $3, $4, $5, $6, $7)")
            .bind(household_id)
            .bind(&ids)
            .bind(&sequences)
            .bind(&payloads)
            .bind(occurred_on)
            .bind(&idempotency)
            .bind(Json(changes))
            .execute(pool)
            .await;
        match sent {
            Err(e) if locking::is_retryable(&e) && attempt < locking::MAX_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, %household_id, "append rolled back; sending it again");
                tokio::time::sleep(locking::backoff(attempt)).await;
            }
            other => return other.map(drop),
        }
    }
}
