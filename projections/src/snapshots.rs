//! Snapshots of households (table `household_snapshots`, migrations/0027): the folded state
//! and inline rows at one event, so loading a household costs a snapshot and the events after
//! it, not its whole history.
//!
//! Never trusted blindly: a snapshot is used only when its schema version is [`SCHEMA_VERSION`],
//! its body matches its digest and parses, and both the row and the state inside it name the
//! hash of the household's event at its sequence. Anything else is deleted (with a warning) and
//! the household is folded from its events; the chain and `verify` never look at snapshots.

use crate::changes::HouseholdRows;
use crate::log::HouseholdLog;
use ansinh_events::household::{HouseholdEvent, HouseholdState};
use ansinh_events::Recorded;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Bumped whenever `HouseholdState` or `HouseholdRows` change shape or meaning: older
/// snapshots are then dropped and written again.
pub const SCHEMA_VERSION: i32 = 4;

/// A household gets a new snapshot once this many events came after its last one.
pub const EVERY: i64 = 64;

#[derive(Serialize)]
struct BodyRef<'a> {
    state: &'a HouseholdState,
    rows: &'a HouseholdRows,
}

#[derive(Deserialize)]
struct Body {
    state: HouseholdState,
    rows: HouseholdRows,
}

/// A snapshot ready to be written.
pub struct Encoded {
    pub household_id: Uuid,
    pub sequence: i64,
    pub hash: String,
    pub body: String,
    pub body_crc32: i64,
}

/// Encodes a household's state and rows (the state names its chain head). The support rows
/// are left out ([`HouseholdRows::kept_in_snapshot`]): they grow with every support, and a
/// command needs them back only to correct a support or change every row.
pub fn encode(
    household_id: Uuid,
    state: &HouseholdState,
    rows: &HouseholdRows,
) -> Result<Encoded, serde_json::Error> {
    let rows = &rows.kept_in_snapshot();
    let body = serde_json::to_string(&BodyRef { state, rows })?;
    Ok(Encoded {
        household_id,
        sequence: state.chain.sequence,
        hash: state.chain.hash.clone(),
        body_crc32: i64::from(crc32fast::hash(body.as_bytes())),
        body,
    })
}

/// Snapshots of the households of a batch (import, rebuild) whose history is long enough for
/// one to pay ([`EVERY`] events or more).
pub async fn write_logs(conn: &mut PgConnection, logs: &[HouseholdLog]) -> Result<(), sqlx::Error> {
    let mut encoded = Vec::new();
    for l in logs.iter().filter(|l| l.version() >= EVERY) {
        let rows = HouseholdRows::of(l);
        encoded.push(
            encode(l.household_id, &l.state, &rows)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
        );
    }
    write(conn, &encoded).await
}

/// Writes snapshots, keeping a newer one already stored (writers may finish out of order).
pub async fn write(conn: &mut PgConnection, snapshots: &[Encoded]) -> Result<(), sqlx::Error> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = snapshots.iter().map(|s| s.household_id).collect();
    let sequences: Vec<i32> = snapshots
        .iter()
        .map(|s| i32::try_from(s.sequence).unwrap_or(i32::MAX))
        .collect();
    let hashes: Vec<&str> = snapshots.iter().map(|s| s.hash.as_str()).collect();
    let bodies: Vec<&str> = snapshots.iter().map(|s| s.body.as_str()).collect();
    let digests: Vec<i64> = snapshots.iter().map(|s| s.body_crc32).collect();
    sqlx::query(
        "INSERT INTO household_snapshots
             (household_id, sequence, hash, schema_version, body, body_crc32)
         SELECT id, seq, hash, $6, body, digest
           FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::text[], $5::bigint[])
                AS s(id, seq, hash, body, digest)
         ON CONFLICT (household_id) DO UPDATE
            SET sequence = EXCLUDED.sequence, hash = EXCLUDED.hash,
                schema_version = EXCLUDED.schema_version, body = EXCLUDED.body,
                body_crc32 = EXCLUDED.body_crc32, written_at = now()
          WHERE household_snapshots.sequence < EXCLUDED.sequence
             OR household_snapshots.schema_version <> EXCLUDED.schema_version",
    )
    .bind(&ids)
    .bind(&sequences)
    .bind(&hashes)
    .bind(&bodies)
    .bind(&digests)
    .bind(SCHEMA_VERSION)
    .execute(conn)
    .await?;
    Ok(())
}

/// One snapshot, written on its own connection (after an append: a failure only costs a
/// longer load later, so it is logged, never returned to the command).
pub async fn write_one(pool: PgPool, snapshot: Encoded) {
    let written = async {
        let mut tx = pool.begin().await?;
        // A rebuild replacing the snapshots holds their rows: give up instead of waiting.
        sqlx::query("SET LOCAL lock_timeout = '100ms'")
            .execute(&mut *tx)
            .await?;
        write(&mut tx, std::slice::from_ref(&snapshot)).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = written {
        tracing::warn!(household_id = %snapshot.household_id, error = %e, "snapshot not written");
    }
}

/// A snapshot that passed every check.
pub struct Loaded {
    pub state: HouseholdState,
    pub rows: HouseholdRows,
}

/// Why a stored snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    OldSchema(i32),
    /// The household has no event with the snapshot's hash at its sequence.
    HashMismatch,
    BodyDigest,
    Body(String),
}

/// A household as stored: its snapshot, if it has one that passes every check, and its events
/// after it (after none: every event), in sequence order.
pub struct Stored {
    pub snapshot: Option<Loaded>,
    pub tail: Vec<Recorded<HouseholdEvent>>,
}

/// A snapshot row and its event's hash, or an event after it.
type Row = (
    i32,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<Json<Recorded<HouseholdEvent>>>,
);

/// Reads the household's snapshot and the events after it in one statement — a cold load is
/// one round trip. A snapshot that fails a check is deleted (so the next write puts a sound one
/// in its place) and the whole history read instead.
pub async fn load(conn: &mut PgConnection, household_id: Uuid) -> Result<Stored, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "WITH s AS (
             SELECT s.sequence, s.hash, s.schema_version, s.body, s.body_crc32,
                    e.payload->'meta'->>'hash' AS event_hash
               FROM household_snapshots s
               LEFT JOIN household_events e
                 ON e.aggregate_id = s.household_id AND e.sequence_number = s.sequence
              WHERE s.household_id = $1)
         SELECT s.sequence, s.hash, s.schema_version, s.body, s.body_crc32, s.event_hash,
                NULL::jsonb
           FROM s
         UNION ALL
         SELECT e.sequence_number, NULL, NULL, NULL, NULL, NULL, e.payload
           FROM household_events e
          WHERE e.aggregate_id = $1
            AND e.sequence_number > coalesce((SELECT sequence FROM s), 0)",
    )
    .bind(household_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut snapshot = None;
    let mut tail = Vec::with_capacity(rows.len());
    for (sequence, hash, schema_version, body, digest, event_hash, payload) in rows {
        match payload {
            Some(Json(event)) => tail.push(event),
            None => {
                let checked = check(
                    sequence,
                    hash.as_deref().unwrap_or_default(),
                    schema_version.unwrap_or_default(),
                    body.as_deref().unwrap_or_default(),
                    digest.unwrap_or_default(),
                    event_hash.as_deref(),
                );
                snapshot = Some((sequence, checked));
            }
        }
    }
    tail.sort_by_key(|e| e.meta.sequence);
    match snapshot {
        None => Ok(Stored {
            snapshot: None,
            tail,
        }),
        Some((_, Ok(loaded))) => Ok(Stored {
            snapshot: Some(loaded),
            tail,
        }),
        Some((sequence, Err(why))) => {
            tracing::warn!(%household_id, sequence, ?why, "snapshot dropped; folding the household from its events");
            sqlx::query(
                "DELETE FROM household_snapshots WHERE household_id = $1 AND sequence = $2",
            )
            .bind(household_id)
            .bind(sequence)
            .execute(&mut *conn)
            .await?;
            Ok(Stored {
                snapshot: None,
                tail: crate::status::household_events(conn, household_id).await?,
            })
        }
    }
}

/// The checks a stored snapshot must pass to be used.
pub fn check(
    sequence: i32,
    hash: &str,
    schema_version: i32,
    body: &str,
    body_crc32: i64,
    event_hash: Option<&str>,
) -> Result<Loaded, Rejected> {
    if schema_version != SCHEMA_VERSION {
        return Err(Rejected::OldSchema(schema_version));
    }
    if event_hash != Some(hash) {
        return Err(Rejected::HashMismatch);
    }
    if i64::from(crc32fast::hash(body.as_bytes())) != body_crc32 {
        return Err(Rejected::BodyDigest);
    }
    let Body { state, rows } =
        serde_json::from_str(body).map_err(|e| Rejected::Body(e.to_string()))?;
    if state.chain.hash != hash || state.chain.sequence != i64::from(sequence) {
        return Err(Rejected::HashMismatch);
    }
    Ok(Loaded { state, rows })
}
