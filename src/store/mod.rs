//! The household event log on esrs's `PgStore`, with the project's own schema (see
//! `migrations/`), typed conflicts, idempotent commands and a gap-safe position reader.
//!
//! Commands are decided by the esrs aggregate (`Household::handle_command`) on a household's
//! folded state — held in this process's [`cache`], or read as its [`snapshot`] plus the events
//! after it — and appended in one statement ([`append`]) with the inline read-model rows their
//! events change, computed from those events alone: a command's cost does not grow with the
//! household's history. The stream's unique index keeps every append honest: one decided on
//! a stale state fails like any lost race.

mod append;
pub mod cache;
mod idempotency;
pub mod position;

use std::sync::Arc;

use ansinh_events::household::{
    Command, Household, HouseholdError, HouseholdEvent, HouseholdState,
};
use ansinh_events::Recorded;
use ansinh_projections::changes::HouseholdRows;
use ansinh_projections::disbursements::DisbursementRows;
use ansinh_projections::snapshots as snapshot;
use esrs::store::postgres::{PgStore, PgStoreBuilder, PgStoreError, UuidFormat};
use esrs::store::EventStore;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

pub use cache::Cached;
use cache::HouseholdCache;

use crate::pg::ReadPool;

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
    /// A support would take a fund's allocation below zero without an override reason.
    #[error("the allocation of fund {fund_id} to unit {unit_code} is short by {shortfall_vnd} VND for this support; give override_reason to record it anyway (it is then flagged)")]
    Overdrawn {
        fund_id: String,
        unit_code: String,
        shortfall_vnd: i64,
    },
    /// A support names a fund with no allocation covering the household's unit.
    #[error("fund {fund_id} has no allocation covering unit {unit_code}")]
    NoAllocation { fund_id: String, unit_code: String },
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

/// How often a command without an expected version is decided again after losing a race.
const MAX_ATTEMPTS: usize = 50;

/// The event log of households.
#[derive(Clone)]
pub struct EventLog {
    pool: PgPool,
    store: PgStore<Household>,
    cache: HouseholdCache,
    /// The loads' connections, handed back without sqlx's release round trip.
    reads: ReadPool,
    appender: append::Appender,
    snapshot_writers: Arc<tokio::sync::Semaphore>,
}

/// Snapshots written in the background at once, by one process.
const SNAPSHOT_WRITERS: usize = 2;

impl EventLog {
    /// Wraps the pool in an esrs store. The schema must already be migrated (`db::migrate`).
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        Self::with_cache(pool, cache::DEFAULT_CAPACITY_EVENTS).await
    }

    /// Like [`EventLog::new`], holding in memory households that stand for at most
    /// `cache_events` events together.
    pub async fn with_cache(pool: PgPool, cache_events: u64) -> Result<Self, StoreError> {
        let store = PgStoreBuilder::<Household>::new(pool.clone())
            .without_running_migrations()
            .with_event_id_format(UuidFormat::V7)
            .try_build()
            .await?;
        Ok(EventLog {
            appender: append::Appender::start(pool.clone()),
            reads: ReadPool::new(&pool),
            pool,
            store,
            cache: HouseholdCache::new(cache_events),
            snapshot_writers: Arc::new(tokio::sync::Semaphore::new(SNAPSHOT_WRITERS)),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How full the cache of households is.
    pub fn cache_fill(&self) -> cache::Fill {
        self.cache.fill()
    }

    /// Connections for one-statement reads on a hot path (see [`ReadPool`]).
    pub fn reads(&self) -> &ReadPool {
        &self.reads
    }

    /// The household's history, state and read-model rows: from this process's cache, else read
    /// through esrs. An unknown household has an empty history.
    pub async fn household(&self, household_id: Uuid) -> Result<Arc<Cached>, StoreError> {
        if let Some(held) = self.cache.get(&household_id) {
            return Ok(held);
        }
        self.household_from_log(household_id).await
    }

    /// The household read from the database, never from the cache (which it refreshes): for
    /// reads shown to people, where a state another process has moved on must not be served.
    /// Its snapshot (when sound) and the events after it; a long tail gets a new snapshot.
    pub async fn household_from_log(&self, household_id: Uuid) -> Result<Arc<Cached>, StoreError> {
        let stored = self
            .reads
            .read(|conn| Box::pin(snapshot::load(conn, household_id)))
            .await
            .map_err(read_error)?;
        let (mut state, mut rows) = match stored.snapshot {
            Some(s) => (s.state, s.rows),
            None => Default::default(),
        };
        let from = state.version();
        let tail = stored.tail;
        for e in &tail {
            state = state.apply(e);
        }
        rows.extend(household_id, &state, &tail);
        let mut snapshot_at = from;
        if tail.len() as i64 >= snapshot::EVERY {
            snapshot_at = self.snapshot_later(household_id, &state, &rows);
        }
        let loaded = Arc::new(Cached {
            household_id,
            state,
            rows,
            snapshot_at,
        });
        self.cache.offer(Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Writes a snapshot of the household in the background; returns the sequence it stands at
    /// (the old one if it could not be encoded).
    ///
    /// At most [`SNAPSHOT_WRITERS`] are written at once, each giving up rather than waiting on a
    /// lock: a snapshot is only ever a shortcut, and one skipped is written by a later command
    /// or load, while a command must never wait for a free connection behind them.
    fn snapshot_later(
        &self,
        household_id: Uuid,
        state: &HouseholdState,
        rows: &HouseholdRows,
    ) -> i64 {
        let Ok(permit) = Arc::clone(&self.snapshot_writers).try_acquire_owned() else {
            return 0;
        };
        match snapshot::encode(household_id, state, rows) {
            Ok(encoded) => {
                let at = encoded.sequence;
                let pool = self.pool.clone();
                tokio::spawn(async move {
                    snapshot::write_one(pool, encoded).await;
                    drop(permit);
                });
                at
            }
            Err(e) => {
                tracing::warn!(%household_id, error = %e, "snapshot not encoded");
                0
            }
        }
    }

    /// The household's events up to `through`, in order.
    async fn read_events_through(
        &self,
        household_id: Uuid,
        through: i64,
    ) -> Result<Vec<Recorded<HouseholdEvent>>, StoreError> {
        let rows: Vec<(Json<Recorded<HouseholdEvent>>,)> = sqlx::query_as(
            "SELECT payload FROM household_events
              WHERE aggregate_id = $1 AND sequence_number <= $2
              ORDER BY sequence_number",
        )
        .bind(household_id)
        .bind(i32::try_from(through).unwrap_or(i32::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(read_error)?;
        Ok(rows.into_iter().map(|(Json(e),)| e).collect())
    }

    /// Like [`EventLog::household`], but a cached state at another version than the caller's
    /// `expected` one is read again first: the caller may have seen a newer version written by
    /// another process, and must not get a conflict for it.
    pub async fn household_at(
        &self,
        household_id: Uuid,
        expected: Option<i64>,
    ) -> Result<Arc<Cached>, StoreError> {
        let held = self.household(household_id).await?;
        match expected {
            Some(v) if v != held.version() => {
                self.cache.forget(&household_id);
                self.household(household_id).await
            }
            _ => Ok(held),
        }
    }

    /// The household's stored events in sequence order, read from the log (never cached).
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
        if let Some(first) = self.replay_of(&command).await? {
            return Ok(first);
        }
        let current = self
            .household_at(command.ctx.household_id, expected_version)
            .await?;
        self.execute_on(&current, command, expected_version).await
    }

    /// Like `execute` without an expected version, but a lost race is decided again on the
    /// fresh state, so plain concurrent writers never see a spurious conflict.
    pub async fn execute_retrying(&self, command: Command) -> Result<Appended, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.execute(command.clone(), None).await {
                Err(StoreError::Conflict { .. }) if attempt < MAX_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    /// The stored result of an earlier request with the command's idempotency key, if any.
    pub async fn replay_of(&self, command: &Command) -> Result<Option<Appended>, StoreError> {
        match &command.ctx.idempotency {
            Some(idem) => self.replay(command.ctx.actor.user_id, idem).await,
            None => Ok(None),
        }
    }

    /// Decides `command` on `current` (from [`EventLog::household`]) and appends its events
    /// with the read-model rows they change, in one statement.
    pub async fn execute_on(
        &self,
        current: &Cached,
        command: Command,
        expected_version: Option<i64>,
    ) -> Result<Appended, StoreError> {
        let household_id = current.household_id;
        let version = current.version();
        if let Some(expected) = expected_version {
            if expected != version {
                return Err(StoreError::Conflict {
                    household_id,
                    expected,
                    actual: version,
                });
            }
        }
        let idempotency = command.ctx.idempotency.clone();
        // A key belongs to the user who sent it.
        let owner = command.ctx.actor.user_id;
        let events = <Household as esrs::Aggregate>::handle_command(&current.state, command)?;
        if events.is_empty() {
            return Ok(Appended {
                household_id,
                version,
                events,
                replayed: false,
            });
        }
        let mut next = if current.rows.lack_rows_for(&events) {
            self.with_every_row(current).await?
        } else {
            current.clone()
        };
        for e in &events {
            next.state = std::mem::take(&mut next.state).apply(e);
        }
        let changes = next.rows.advance(household_id, &next.state, &events);
        let append = append::Append::new(
            household_id,
            &events,
            idempotency.as_ref().map(|i| (owner, i)),
            changes,
        )?;
        let sent = self.appender.append(append).await;
        match sent {
            Ok(()) => {
                let version = next.version();
                if version - next.snapshot_at >= snapshot::EVERY {
                    next.snapshot_at = self.snapshot_later(household_id, &next.state, &next.rows);
                }
                self.cache.offer(Arc::new(next));
                Ok(Appended {
                    household_id,
                    version,
                    events,
                    replayed: false,
                })
            }
            Err(e) => {
                // Stale, raced or unknown outcome: the next command reads the household again.
                self.cache.forget(&household_id);
                let err = sqlx_error(e, household_id, version);
                // A concurrent request with the same key won: answer with its result.
                if let (StoreError::IdempotencyKeyReused, Some(idem)) = (&err, &idempotency) {
                    if let Some(first) = self.replay(owner, idem).await? {
                        return Ok(first);
                    }
                }
                Err(err)
            }
        }
    }

    /// `current` with every support row, read back from its events: a household loaded from a
    /// snapshot holds only the rows after it, and only a correction of a support or a change
    /// of head or unit needs the others (rare; the result is cached whole).
    async fn with_every_row(&self, current: &Cached) -> Result<Cached, StoreError> {
        let id = current.household_id;
        let history = self.read_events_through(id, current.version()).await?;
        let mut whole = current.clone();
        whole.rows.disbursements = DisbursementRows::of(id, &current.state, &history);
        Ok(whole)
    }

    /// The stored result of an earlier request of this user with this idempotency key, if any.
    async fn replay(
        &self,
        user_id: Uuid,
        idem: &ansinh_events::Idempotency,
    ) -> Result<Option<Appended>, StoreError> {
        let Some(record) = idempotency::lookup(&self.pool, user_id, &idem.key).await? else {
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

/// A read's error: a stored event that does not decode is corrupt.
fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { source, .. } => StoreError::Corrupt(source.to_string()),
        e => StoreError::Database(e),
    }
}

/// Turns a database error into ours: unique violations become typed conflicts, a refused
/// draw on a fund allocation (migrations/0030_funds.sql) a typed refusal.
fn sqlx_error(error: sqlx::Error, household_id: Uuid, current: i64) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        if let Some(refused) = fund_refusal(db.as_ref()) {
            return refused;
        }
    }
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => match db.constraint() {
            Some(STREAM_CONSTRAINT) => StoreError::Conflict {
                household_id,
                expected: current,
                actual: current + 1,
            },
            Some(IDEMPOTENCY_CONSTRAINT) => StoreError::IdempotencyKeyReused,
            _ => StoreError::Database(sqlx::Error::Database(db)),
        },
        e => StoreError::Database(e),
    }
}

/// The same for esrs's errors (reads).
fn pg_error(error: PgStoreError, household_id: Uuid, current: i64) -> StoreError {
    match error {
        PgStoreError::Sqlx(e) => sqlx_error(e, household_id, current),
        PgStoreError::Json(e) => StoreError::Corrupt(e.to_string()),
        PgStoreError::Custom(e) => StoreError::Corrupt(e.to_string()),
    }
}

/// The refusal `ansinh_append` raises for a draw, from its constraint name and JSON detail.
fn fund_refusal(db: &dyn sqlx::error::DatabaseError) -> Option<StoreError> {
    let constraint = db.constraint()?;
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    let detail: serde_json::Value = serde_json::from_str(pg.detail()?).ok()?;
    let text = |k: &str| detail[k].as_str().unwrap_or_default().to_owned();
    match constraint {
        "fund_allocation_overdrawn" => Some(StoreError::Overdrawn {
            fund_id: text("fund_id"),
            unit_code: text("unit_code"),
            shortfall_vnd: detail["shortfall_vnd"].as_i64().unwrap_or(0),
        }),
        "fund_allocation_missing" => Some(StoreError::NoAllocation {
            fund_id: text("fund_id"),
            unit_code: text("unit_code"),
        }),
        _ => None,
    }
}
