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
use ansinh_events::Source;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrected_by: Vec<i64>,
    /// True for a fact a later correction voided.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
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

/// A row of `history_corrections`.
struct Link {
    correction: i64,
    corrects: i64,
    original: i64,
    type_name: String,
    voids: bool,
}

/// What [`fetch`] read: the page's rows as PostgreSQL sent them, and what the first row says
/// of the whole household.
struct Fetched {
    total: i64,
    unit_code: String,
    placed_on: NaiveDate,
    links: Vec<Link>,
    rows: Vec<PgRow>,
}

impl Fetched {
    /// The page's events as `(sequence, payload as JSON text)`, borrowed from the rows.
    fn events(&self) -> impl Iterator<Item = Result<(i64, &str), sqlx::Error>> {
        self.rows.iter().filter_map(|row| {
            match (
                row.try_get::<Option<i32>, _>(8),
                row.try_get::<Option<&str>, _>(9),
            ) {
                (Ok(Some(sequence)), Ok(Some(payload))) => Some(Ok((sequence.into(), payload))),
                (Ok(_), Ok(_)) => None,
                (Err(e), _) | (_, Err(e)) => Some(Err(e)),
            }
        })
    }
}

/// Up to `limit` events after sequence `after` (0 for the first page); `None` for a household
/// never registered: [`page_json_in_unit`] read back into the trail's types.
pub async fn page(
    pool: &PgPool,
    household_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Option<HistoryPage>, sqlx::Error> {
    let Some(found) = page_json_in_unit(pool, household_id, after, limit).await? else {
        return Ok(None);
    };
    let page = serde_json::from_slice(&found.json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(page))
}

/// A page of the trail as JSON, with the household's unit now (from the status read model, so
/// a caller checks its scope with no further query).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPageInUnit {
    pub unit_code: String,
    /// The day it was placed in that unit (the day the code speaks of).
    pub placed_on: NaiveDate,
    pub next_after: Option<i64>,
    /// The [`HistoryPage`] as JSON, `data` exactly as stored.
    pub json: Vec<u8>,
}

/// A page of the trail as JSON in [`HistoryPage`]'s shape, written straight from the log: each
/// stored event is read in place (its fields kept as the JSON text they were stored as, nothing
/// parsed into values or copied) and written out in the trail's order. Parsing and writing the
/// envelopes was most of a history read's cost; the typed [`page`] reads this back.
pub async fn page_json_in_unit<'e>(
    db: impl sqlx::PgExecutor<'e>,
    household_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Option<JsonPageInUnit>, sqlx::Error> {
    let Some(found) = fetch(db, household_id, after, limit).await? else {
        return Ok(None);
    };
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    // One pass: each entry borrows its fields from the row's text, not from a parsed copy.
    let events = found
        .events()
        .map(|event| {
            let (sequence, payload) = event?;
            let s: StoredText = serde_json::from_str(payload).map_err(decode)?;
            let (corrects, corrected_by, voided) = links_of(sequence, &found.links);
            let m = s.meta;
            Ok(EntryText {
                sequence,
                type_name: s.type_name,
                effective_on: m.effective_on,
                recorded_at: m.recorded_at,
                actor: ActorText {
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
                data: s.data,
                prev_hash: m.prev_hash,
                hash: m.hash,
                corrects,
                corrected_by,
                voided,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // The next page starts after this one's last event, unless that is the household's last.
    let next_after = events
        .last()
        .map(|e| e.sequence)
        .filter(|s| *s < found.total);
    let json = serde_json::to_vec(&PageText {
        household_id,
        events,
        total: found.total,
        next_after,
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    Ok(Some(JsonPageInUnit {
        unit_code: found.unit_code,
        placed_on: found.placed_on,
        next_after,
        json,
    }))
}

/// The page's statement; `None` for a household that was never registered (no status row).
/// The status row's version is the household's number of events: the append writes it with
/// the events, in the same transaction.
async fn fetch<'e>(
    db: impl sqlx::PgExecutor<'e>,
    household_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Option<Fetched>, sqlx::Error> {
    let limit = limit.clamp(1, 1000);
    // The first row always comes back, so an empty page still tells a known household from an
    // unknown one. The links are the household's all (a few at most; most have none), read by
    // one index probe rather than two per event, and matched to the page here. The payload
    // comes as text, to be read in place. No ORDER BY over the join: a sort there holds every
    // payload of the page before the first goes out (a quarter of the statement's cost); the
    // events come in the lateral scan's order, and are put in order here all the same.
    let mut rows = sqlx::query(
        "SELECT s.version, s.unit_code, s.placed_on, k.corrections, k.corrected, k.originals, k.types, k.voids,
                e.sequence_number, e.payload::text
           FROM household_status s
          CROSS JOIN (
                SELECT array_agg(correction_sequence) AS corrections,
                       array_agg(corrects_sequence) AS corrected,
                       array_agg(original_sequence) AS originals,
                       array_agg(corrects_type) AS types, array_agg(voids) AS voids
                  FROM history_corrections WHERE household_id = $1) k
           LEFT JOIN LATERAL (
                SELECT sequence_number, payload FROM household_events
                 WHERE aggregate_id = $1 AND sequence_number > $2
                 ORDER BY sequence_number LIMIT $3) e ON true
          WHERE s.household_id = $1",
    )
    .bind(household_id)
    .bind(to_i32(after))
    .bind(limit)
    .fetch_all(db)
    .await?;
    // Already in order (the lateral's ORDER BY, below one status row): linear.
    rows.sort_by_cached_key(|row| row.try_get::<Option<i32>, _>(8).ok().flatten());
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let total: i32 = first.try_get(0)?;
    let unit_code: String = first.try_get(1)?;
    let placed_on: NaiveDate = first.try_get(2)?;
    let column = |i| {
        first
            .try_get::<Option<Vec<i32>>, _>(i)
            .map(Option::unwrap_or_default)
    };
    let (corrections, corrected, originals) = (column(3)?, column(4)?, column(5)?);
    let types: Vec<String> = first.try_get::<Option<_>, _>(6)?.unwrap_or_default();
    let voids: Vec<bool> = first.try_get::<Option<_>, _>(7)?.unwrap_or_default();
    let mut links: Vec<Link> = corrections
        .into_iter()
        .zip(corrected)
        .zip(originals)
        .zip(types)
        .zip(voids)
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
    Ok(Some(Fetched {
        total: total.into(),
        unit_code,
        placed_on,
        links,
        rows,
    }))
}

/// What the links say of the event at `sequence`: what it corrects, the corrections of it
/// (oldest first: the last one counts) and whether that last one voids it.
fn links_of(sequence: i64, links: &[Link]) -> (Option<Corrects>, Vec<i64>, bool) {
    let corrects = links
        .iter()
        .find(|l| l.correction == sequence)
        .map(|l| Corrects {
            sequence: l.corrects,
            original_sequence: l.original,
            type_name: l.type_name.clone(),
        });
    let corrections: Vec<&Link> = links.iter().filter(|l| l.original == sequence).collect();
    let voided = corrections.last().is_some_and(|l| l.voids);
    (
        corrects,
        corrections.iter().map(|l| l.correction).collect(),
        voided,
    )
}

// ------------------------------------------------------------------------------ read in place

/// A stored event as [`page_json_in_unit`] reads it: each field the trail shows kept as the
/// JSON text it is stored as (strings with their quotes and escapes), the rest skipped.
#[derive(Deserialize)]
struct StoredText<'a> {
    #[serde(rename = "type", borrow)]
    type_name: &'a RawValue,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    meta: MetaText<'a>,
}

/// The envelope's fields the trail shows, as [`ansinh_events::Envelope`] names them.
#[derive(Deserialize)]
struct MetaText<'a> {
    #[serde(borrow)]
    actor: StoredActorText<'a>,
    #[serde(borrow)]
    recorded_at: &'a RawValue,
    #[serde(borrow)]
    effective_on: &'a RawValue,
    #[serde(default, borrow)]
    reason: Option<&'a RawValue>,
    #[serde(default, borrow)]
    legal_basis: Option<&'a RawValue>,
    #[serde(default, borrow)]
    decision_no: Option<&'a RawValue>,
    #[serde(borrow)]
    source: &'a RawValue,
    #[serde(borrow)]
    correlation_id: &'a RawValue,
    #[serde(borrow)]
    prev_hash: &'a RawValue,
    #[serde(borrow)]
    hash: &'a RawValue,
}

#[derive(Deserialize)]
struct StoredActorText<'a> {
    #[serde(borrow)]
    user_id: &'a RawValue,
    #[serde(borrow)]
    name: &'a RawValue,
    #[serde(borrow)]
    role: &'a RawValue,
    #[serde(borrow)]
    unit: &'a RawValue,
}

/// [`HistoryEntry`] borrowing its fields from the stored text; the same keys in the same order.
#[derive(Serialize)]
struct EntryText<'a> {
    sequence: i64,
    #[serde(rename = "type")]
    type_name: &'a RawValue,
    effective_on: &'a RawValue,
    recorded_at: &'a RawValue,
    actor: ActorText<'a>,
    reason: Option<&'a RawValue>,
    decision_no: Option<&'a RawValue>,
    legal_basis: Option<&'a RawValue>,
    source: &'a RawValue,
    correlation_id: &'a RawValue,
    data: Option<&'a RawValue>,
    prev_hash: &'a RawValue,
    hash: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    corrects: Option<Corrects>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    corrected_by: Vec<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    voided: bool,
}

/// [`ActorView`] borrowing from the stored text.
#[derive(Serialize)]
struct ActorText<'a> {
    user: &'a RawValue,
    user_id: &'a RawValue,
    role: &'a RawValue,
    unit: &'a RawValue,
}

/// [`HistoryPage`] of [`EntryText`]s.
#[derive(Serialize)]
struct PageText<'a> {
    household_id: Uuid,
    events: Vec<EntryText<'a>>,
    total: i64,
    next_after: Option<i64>,
}
