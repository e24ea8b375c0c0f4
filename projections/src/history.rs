//! Read model **history** (inline): the audit trail of one household.
//!
//! The trail itself is the log (`household_events`, append-only, hash-chained): copying it
//! would only add a second thing to keep equal. What the log does not index is the link between
//! a correction and the fact it corrects, so this read model keeps that link
//! (`history_corrections`, `migrations/0004_history.sql`, one row per `event_corrected`, keyed by
//! household and sequence, inserted with `ON CONFLICT DO NOTHING`). A page of the trail is one
//! keyset read of the log by `(aggregate_id, sequence_number)` plus the links of that page.

use ansinh_events::household::HouseholdEvent;
use ansinh_events::{Envelope, Source};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::log::StoredEvent;
use crate::status::to_i32;

/// Who recorded an event, as the contract shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorView {
    /// The person's name.
    pub user: String,
    pub user_id: Uuid,
    pub role: String,
    pub unit: String,
}

/// What a correction corrects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corrects {
    /// The event the correction names (the original fact or an earlier correction of it).
    pub sequence: i64,
    /// The original fact.
    pub original_sequence: i64,
    #[serde(rename = "type")]
    pub type_name: String,
}

/// One event of the trail, the contract's shape plus the rest of its envelope and its links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub sequence: i64,
    #[serde(rename = "type")]
    pub type_name: String,
    pub effective_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub actor: ActorView,
    pub reason: Option<String>,
    pub decision_no: Option<String>,
    pub legal_basis: Option<String>,
    pub source: Source,
    pub correlation_id: Uuid,
    pub data: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
    /// For a correction: what it corrects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<Corrects>,
    /// For a correctable fact: the corrections of it, oldest first (the last one counts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrected_by: Vec<i64>,
    /// True for a fact a later correction voided.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub voided: bool,
}

/// A page of a household's trail in sequence order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub household_id: Uuid,
    pub events: Vec<HistoryEntry>,
    /// The household's number of events (its version).
    pub total: i64,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_after: Option<i64>,
}

/// The log row as stored, loosely typed so the trail shows exactly what was recorded.
#[derive(Debug, Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    data: serde_json::Value,
    meta: Envelope,
}

// ------------------------------------------------------------------------------ writing

/// Records the links of the corrections in a batch (the only thing this read model stores).
pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    let mut ids = Vec::new();
    let mut sequences = Vec::new();
    let mut corrects = Vec::new();
    let mut originals = Vec::new();
    let mut types = Vec::new();
    let mut voids = Vec::new();
    for e in events {
        if let HouseholdEvent::EventCorrected(c) = &e.event.event {
            ids.push(e.household_id);
            sequences.push(to_i32(e.sequence));
            corrects.push(to_i32(c.corrects_sequence));
            originals.push(to_i32(c.original_sequence));
            types.push(c.corrects_type.clone());
            voids.push(c.replacement.is_none());
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO history_corrections
             (household_id, correction_sequence, corrects_sequence, original_sequence,
              corrects_type, voids)
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::int[], $4::int[], $5::text[], $6::bool[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&sequences)
    .bind(&corrects)
    .bind(&originals)
    .bind(&types)
    .bind(&voids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------------ reading

/// Up to `limit` events after sequence `after` (0 for the first page); `None` when the
/// household has no events.
pub async fn page(
    pool: &PgPool,
    household_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Option<HistoryPage>, sqlx::Error> {
    let limit = limit.clamp(1, 1000);
    let total: Option<i32> = sqlx::query_scalar(
        "SELECT max(sequence_number) FROM household_events WHERE aggregate_id = $1",
    )
    .bind(household_id)
    .fetch_one(pool)
    .await?;
    let Some(total) = total else {
        return Ok(None);
    };
    let rows: Vec<(i32, Json<RawEvent>)> = sqlx::query_as(
        "SELECT sequence_number, payload FROM household_events
          WHERE aggregate_id = $1 AND sequence_number > $2
          ORDER BY sequence_number LIMIT $3",
    )
    .bind(household_id)
    .bind(to_i32(after))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let (first, last) = match (rows.first(), rows.last()) {
        (Some(f), Some(l)) => (f.0, l.0),
        _ => (0, 0),
    };
    // Links of this page: corrections made by its events and corrections of its facts.
    let links: Vec<(i32, i32, i32, String, bool)> = sqlx::query_as(
        "SELECT correction_sequence, corrects_sequence, original_sequence, corrects_type, voids
           FROM history_corrections
          WHERE household_id = $1
            AND (correction_sequence BETWEEN $2 AND $3 OR original_sequence BETWEEN $2 AND $3)
          ORDER BY correction_sequence",
    )
    .bind(household_id)
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    let events = rows
        .into_iter()
        .map(|(sequence, Json(raw))| {
            let sequence = i64::from(sequence);
            let corrects = links
                .iter()
                .find(|l| i64::from(l.0) == sequence)
                .map(|l| Corrects {
                    sequence: l.1.into(),
                    original_sequence: l.2.into(),
                    type_name: l.3.clone(),
                });
            let of_this: Vec<&(i32, i32, i32, String, bool)> = links
                .iter()
                .filter(|l| i64::from(l.2) == sequence)
                .collect();
            let voided = of_this.last().is_some_and(|l| l.4);
            let m = raw.meta;
            HistoryEntry {
                sequence,
                type_name: raw.type_name,
                effective_on: m.effective_on,
                recorded_at: m.recorded_at,
                actor: ActorView {
                    user: m.actor.name,
                    user_id: m.actor.user_id,
                    role: m.actor.role,
                    unit: m.actor.unit,
                },
                reason: m.reason,
                decision_no: m.decision_no,
                legal_basis: m.legal_basis,
                source: m.source,
                correlation_id: m.correlation_id,
                data: raw.data,
                prev_hash: m.prev_hash,
                hash: m.hash,
                corrects,
                corrected_by: of_this.iter().map(|l| i64::from(l.0)).collect(),
                voided,
            }
        })
        .collect::<Vec<_>>();
    let next_after = events
        .last()
        .map(|e| e.sequence)
        .filter(|s| *s < i64::from(total));
    Ok(Some(HistoryPage {
        household_id,
        events,
        total: total.into(),
        next_after,
    }))
}
