//! Read model **history** (inline): the audit trail of one household.
//!
//! The trail itself is the log (`household_events`, append-only, hash-chained): copying it
//! would only add a second thing to keep equal. What the log does not index is the link between
//! a correction and the fact it corrects, so this read model keeps that link
//! (`history_corrections`, `migrations/0004_history.sql`, one row per `event_corrected`, keyed by
//! household and sequence, inserted with `ON CONFLICT DO NOTHING`). A page of the trail is one
//! statement: a keyset read of the log by `(aggregate_id, sequence_number)` joined to the
//! links of that page.

use ansinh_events::household::HouseholdEvent;
use ansinh_events::{Envelope, Source};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
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
/// `D` is what `data` is read into: a [`serde_json::Value`] to look inside, or [`RawData`] to
/// hand it on exactly as stored without building it up and writing it out again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry<D = serde_json::Value> {
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
    pub data: D,
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

/// An event's `data` as stored (`null` for an event without data).
pub type RawData = Option<Box<serde_json::value::RawValue>>;

/// A page of a household's trail in sequence order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage<D = serde_json::Value> {
    pub household_id: Uuid,
    pub events: Vec<HistoryEntry<D>>,
    /// The household's number of events (its version).
    pub total: i64,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_after: Option<i64>,
}

/// The log row as stored, loosely typed so the trail shows exactly what was recorded.
#[derive(Debug, Deserialize)]
struct RawEvent<D> {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    data: D,
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
    let t = crate::tables::HISTORY_CORRECTIONS;
    sqlx::query(&format!(
        "INSERT INTO {} ({})
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::int[], $4::int[], $5::text[], $6::bool[])
         ON CONFLICT DO NOTHING",
        t.name,
        t.column_list()
    ))
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

/// A page with the household's unit now, from the status read model (`None` for a household
/// that has events but was never registered), so a caller checks its scope with no further
/// query.
#[derive(Debug, Clone, PartialEq)]
pub struct PageInUnit<D> {
    pub unit_code: Option<String>,
    /// The day it was placed in that unit (the day the code speaks of).
    pub placed_on: Option<NaiveDate>,
    pub page: HistoryPage<D>,
}

/// One row of [`page_in_unit`]'s statement: the household's last sequence and unit, every
/// correction link of the household (as columns), then an event of the page (`None` past the
/// last event).
type PageRow<D> = (
    Option<i32>,
    Option<String>,
    Option<NaiveDate>,
    Option<Vec<i32>>,
    Option<Vec<i32>>,
    Option<Vec<i32>>,
    Option<Vec<String>>,
    Option<Vec<bool>>,
    Option<i32>,
    Option<Json<RawEvent<D>>>,
);

/// A row of `history_corrections`.
struct Link {
    correction: i64,
    corrects: i64,
    original: i64,
    type_name: String,
    voids: bool,
}

/// Up to `limit` events after sequence `after` (0 for the first page); `None` when the
/// household has no events. One statement: the total, the page and its correction links.
pub async fn page(
    pool: &PgPool,
    household_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Option<HistoryPage>, sqlx::Error> {
    let found = page_in_unit(pool, household_id, after, limit).await?;
    Ok(found.map(|p| p.page))
}

/// [`page`] with the household's unit, and `data` read into `D` (see [`HistoryEntry`]).
pub async fn page_in_unit<D>(
    pool: &PgPool,
    household_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Option<PageInUnit<D>>, sqlx::Error>
where
    D: DeserializeOwned + Default + Send + Unpin + 'static,
{
    let limit = limit.clamp(1, 1000);
    // The first row always comes back, so an empty page still tells a known household from an
    // unknown one. The links are the household's all (a few at most; most have none), read by
    // one index probe rather than two per event, and matched to the page here.
    let mut rows: Vec<PageRow<D>> = sqlx::query_as(
        "SELECT t.total, s.unit_code, s.placed_on, k.corrections, k.corrected, k.originals, k.types, k.voids,
                e.sequence_number, e.payload
           FROM (SELECT max(sequence_number) AS total FROM household_events
                  WHERE aggregate_id = $1) t
           LEFT JOIN household_status s ON s.household_id = $1
          CROSS JOIN (
                SELECT array_agg(correction_sequence) AS corrections,
                       array_agg(corrects_sequence) AS corrected,
                       array_agg(original_sequence) AS originals,
                       array_agg(corrects_type) AS types, array_agg(voids) AS voids
                  FROM history_corrections WHERE household_id = $1) k
           LEFT JOIN LATERAL (
                SELECT sequence_number, payload FROM household_events
                 WHERE aggregate_id = $1 AND sequence_number > $2
                 ORDER BY sequence_number LIMIT $3) e ON t.total IS NOT NULL
          ORDER BY e.sequence_number",
    )
    .bind(household_id)
    .bind(to_i32(after))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let Some(first) = rows.first_mut() else {
        return Ok(None);
    };
    let Some(total) = first.0 else {
        return Ok(None);
    };
    let unit_code = first.1.take();
    let placed_on = first.2;
    let mut links: Vec<Link> = first
        .3
        .take()
        .unwrap_or_default()
        .into_iter()
        .zip(first.4.take().unwrap_or_default())
        .zip(first.5.take().unwrap_or_default())
        .zip(first.6.take().unwrap_or_default())
        .zip(first.7.take().unwrap_or_default())
        .map(
            |((((correction, corrects), original), type_name), voids)| Link {
                correction: correction.into(),
                corrects: corrects.into(),
                original: original.into(),
                type_name,
                voids,
            },
        )
        .collect();
    // One aggregate node feeds each row to all five arrays, so they line up; sorted here
    // rather than by five sorts in the statement.
    links.sort_unstable_by_key(|l| l.correction);
    let events = rows
        .into_iter()
        .filter_map(|(.., sequence, raw)| Some(entry(sequence?.into(), raw?.0, &links)))
        .collect::<Vec<_>>();
    let next_after = events
        .last()
        .map(|e| e.sequence)
        .filter(|s| *s < i64::from(total));
    let page = HistoryPage {
        household_id,
        events,
        total: total.into(),
        next_after,
    };
    Ok(Some(PageInUnit {
        unit_code,
        placed_on,
        page,
    }))
}

fn entry<D>(sequence: i64, raw: RawEvent<D>, links: &[Link]) -> HistoryEntry<D> {
    let corrects = links
        .iter()
        .find(|l| l.correction == sequence)
        .map(|l| Corrects {
            sequence: l.corrects,
            original_sequence: l.original,
            type_name: l.type_name.clone(),
        });
    // Oldest first: the last correction of a fact is the one that counts.
    let corrections: Vec<&Link> = links.iter().filter(|l| l.original == sequence).collect();
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
        corrected_by: corrections.iter().map(|l| l.correction).collect(),
        voided: corrections.last().is_some_and(|l| l.voids),
    }
}
