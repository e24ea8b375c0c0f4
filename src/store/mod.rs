//! The household event log on esrs's `PgStore`, with the project's own schema (see
//! `migrations/`), typed conflicts, idempotent commands and a gap-safe position reader.

mod idempotency;
pub mod position;

use ansinh_events::household::{
    Command, Household, HouseholdError, HouseholdEvent, HouseholdState,
};
use ansinh_events::Recorded;
use esrs::manager::AggregateManager;
use esrs::store::postgres::{PgStore, PgStoreBuilder, PgStoreError, UuidFormat};
use esrs::store::EventStore;
use esrs::AggregateState;
use sqlx::PgPool;
use uuid::Uuid;

pub use idempotency::IdempotencyHandler;

/// Name of the unique index that keeps a household's chain from forking.
const STREAM_CONSTRAINT: &str = "household_events_stream";
const IDEMPOTENCY_CONSTRAINT: &str = "idempotency_keys_pkey";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] HouseholdError),
    #[error("household {0} was not found")]
    NotFound(Uuid),
    /// Another writer appended first, or the caller's expected version is stale.
    #[error("household {household_id} changed meanwhile: expected version {expected}, it is now {actual}")]
    Conflict {
        household_id: Uuid,
        expected: i64,
        actual: i64,
    },
    #[error("the idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored event could not be read: {0}")]
    Corrupt(String),
}

/// What a command appended (or, for a retried idempotent command, had appended the first time).
#[derive(Debug, Clone)]
pub struct Appended {
    pub household_id: Uuid,
    pub version: i64,
    pub events: Vec<Recorded<HouseholdEvent>>,
    /// True when this is the stored result of an earlier request with the same idempotency key.
    pub replayed: bool,
}

/// The event log of households.
#[derive(Clone)]
pub struct EventLog {
    pool: PgPool,
    store: PgStore<Household>,
}

impl EventLog {
    /// Wraps the pool in an esrs store. The schema must already be migrated (`db::migrate`).
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        let store = PgStoreBuilder::<Household>::new(pool.clone())
            .without_running_migrations()
            // Time-ordered ids keep the primary-key index append-mostly.
            .with_event_id_format(UuidFormat::V7)
            .add_transactional_event_handler(IdempotencyHandler)
            // Status, history links, disbursements, re-poverty: in the append's transaction.
            .add_transactional_event_handler(ansinh_projections::inline::InlineProjections)
            .try_build()
            .await?;
        Ok(EventLog { pool, store })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The household's state folded from its events, or `None` if it has none.
    pub async fn load(
        &self,
        household_id: Uuid,
    ) -> Result<Option<AggregateState<HouseholdState>>, StoreError> {
        AggregateManager::new(self.store.clone())
            .load(household_id)
            .await
            .map_err(|e| pg_error(e, household_id, 0))
    }

    /// The household's stored events in sequence order.
    pub async fn events(
        &self,
        household_id: Uuid,
    ) -> Result<Vec<Recorded<HouseholdEvent>>, StoreError> {
        let events = self
            .store
            .by_aggregate_id(household_id)
            .await
            .map_err(|e| pg_error(e, household_id, 0))?;
        Ok(events.into_iter().map(|e| e.payload).collect())
    }

    /// Decides and appends once. `expected_version` (the client's `If-Match`) makes a stale
    /// state a `Conflict`; losing a race to another writer is a `Conflict` too.
    pub async fn execute(
        &self,
        command: Command,
        expected_version: Option<i64>,
    ) -> Result<Appended, StoreError> {
        let household_id = command.ctx.household_id;
        if let Some(idem) = &command.ctx.idempotency {
            if let Some(first) = self.replay(idem).await? {
                return Ok(first);
            }
        }
        let mut state = match self.load(household_id).await? {
            Some(state) => state,
            None => AggregateState::with_id(household_id),
        };
        let current = state.inner().version();
        if let Some(expected) = expected_version {
            if expected != current {
                return Err(StoreError::Conflict {
                    household_id,
                    expected,
                    actual: current,
                });
            }
        }
        let idempotency = command.ctx.idempotency.clone();
        let events = <Household as esrs::Aggregate>::handle_command(state.inner(), command)?;
        match self.store.persist(&mut state, events).await {
            Ok(stored) => {
                let events: Vec<_> = stored.into_iter().map(|e| e.payload).collect();
                let version = events.last().map_or(current, |e| e.meta.sequence);
                Ok(Appended {
                    household_id,
                    version,
                    events,
                    replayed: false,
                })
            }
            Err(e) => {
                let err = pg_error(e, household_id, current);
                // A concurrent request with the same key won: answer with its result.
                if let (StoreError::IdempotencyKeyReused, Some(idem)) = (&err, &idempotency) {
                    if let Some(first) = self.replay(idem).await? {
                        return Ok(first);
                    }
                }
                Err(err)
            }
        }
    }

    /// Like `execute` without an expected version, but a lost race is decided again on the
    /// fresh state, so plain concurrent writers never see a spurious conflict.
    pub async fn execute_retrying(&self, command: Command) -> Result<Appended, StoreError> {
        const MAX_ATTEMPTS: usize = 50;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.execute(command.clone(), None).await {
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    /// The stored result of an earlier request with this idempotency key, if any.
    async fn replay(
        &self,
        idem: &ansinh_events::Idempotency,
    ) -> Result<Option<Appended>, StoreError> {
        let Some(record) = idempotency::lookup(&self.pool, &idem.key).await? else {
            return Ok(None);
        };
        if record.request_digest != idem.request_digest {
            return Err(StoreError::IdempotencyKeyReused);
        }
        let events: Vec<_> = self
            .events(record.household_id)
            .await?
            .into_iter()
            .filter(|e| (record.first_sequence..=record.last_sequence).contains(&e.meta.sequence))
            .collect();
        Ok(Some(Appended {
            household_id: record.household_id,
            version: record.last_sequence,
            events,
            replayed: true,
        }))
    }
}

/// Turns esrs's error into ours: unique violations become typed conflicts.
fn pg_error(error: PgStoreError, household_id: Uuid, current: i64) -> StoreError {
    match error {
        PgStoreError::Sqlx(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            match db.constraint() {
                Some(STREAM_CONSTRAINT) => StoreError::Conflict {
                    household_id,
                    expected: current,
                    actual: current + 1,
                },
                Some(IDEMPOTENCY_CONSTRAINT) => StoreError::IdempotencyKeyReused,
                _ => StoreError::Database(sqlx::Error::Database(db)),
            }
        }
        PgStoreError::Sqlx(e) => StoreError::Database(e),
        PgStoreError::Json(e) => StoreError::Corrupt(e.to_string()),
        PgStoreError::Custom(e) => match e.downcast::<idempotency::KeyTaken>() {
            Ok(_) => StoreError::IdempotencyKeyReused,
            Err(e) => StoreError::Corrupt(e.to_string()),
        },
    }
}
