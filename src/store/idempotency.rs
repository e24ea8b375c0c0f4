//! Idempotency records, written by a transactional handler in the same transaction as the
//! events they answer for: either both are stored or neither is.

use ansinh_events::household::Household;
use esrs::handler::TransactionalEventHandler;
use esrs::store::postgres::PgStoreError;
use esrs::store::StoreEvent;
use sqlx::PgConnection;
use uuid::Uuid;

/// The key is held by another, committed transaction.
#[derive(Debug, thiserror::Error)]
#[error("the idempotency key is already taken")]
pub struct KeyTaken;

pub struct IdempotencyHandler;

#[async_trait::async_trait]
impl TransactionalEventHandler<Household, PgStoreError, PgConnection> for IdempotencyHandler {
    async fn handle(
        &self,
        event: &StoreEvent<<Household as esrs::Aggregate>::Event>,
        tx: &mut PgConnection,
    ) -> Result<(), PgStoreError> {
        let meta = &event.payload.meta;
        let Some(idem) = &meta.idempotency else {
            return Ok(());
        };
        // The first event of the command inserts the record; later ones of the same
        // transaction extend its range. A row from any other transaction means the key is used.
        let result = sqlx::query(
            "INSERT INTO idempotency_keys (key, request_digest, household_id, first_sequence, last_sequence)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (key) DO UPDATE SET last_sequence = EXCLUDED.last_sequence
             WHERE idempotency_keys.transaction_id = pg_current_xact_id()
               AND idempotency_keys.household_id = EXCLUDED.household_id",
        )
        .bind(&idem.key)
        .bind(&idem.request_digest)
        .bind(event.aggregate_id)
        .bind(event.sequence_number)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(PgStoreError::Custom(Box::new(KeyTaken)));
        }
        Ok(())
    }
}

pub(super) struct Record {
    pub request_digest: String,
    pub household_id: Uuid,
    pub first_sequence: i64,
    pub last_sequence: i64,
}

pub(super) async fn lookup(pool: &sqlx::PgPool, key: &str) -> Result<Option<Record>, sqlx::Error> {
    let row: Option<(String, Uuid, i32, i32)> = sqlx::query_as(
        "SELECT request_digest, household_id, first_sequence, last_sequence FROM idempotency_keys WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(request_digest, household_id, first, last)| Record {
            request_digest,
            household_id,
            first_sequence: first.into(),
            last_sequence: last.into(),
        }),
    )
}
