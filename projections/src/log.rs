//! What every read model starts from: a batch of stored events, completed into each touched
//! household's history up to its newest event in the batch, and folded by the pure domain.
//!
//! Read models that depend on more than one event (status, disbursements, re-poverty,
//! movements) recompute a household's rows from its whole history rather than patching them
//! event by event: a correction, a move recorded late or a voided closure then needs no special
//! case, and applying the same history twice writes the same rows (idempotent by construction).
//! A household has some 8–15 events, so the history is cheap to load; a batch loads the part
//! it lacks for all its households in one statement.

use std::collections::BTreeMap;

use ansinh_events::household::{HouseholdEvent, HouseholdState, Replacement, SupportReceived};
use ansinh_events::Recorded;
use chrono::NaiveDate;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

/// One stored event as the batch entry points take it: from the inline handler (one event),
/// the bulk importer or a rebuild (thousands).
#[derive(Debug, Clone, Copy)]
pub struct StoredEvent<'a> {
    pub household_id: Uuid,
    pub sequence: i64,
    /// The log's global position, when the caller knows it (not needed by any read model).
    pub global_position: Option<i64>,
    pub event: &'a Recorded<HouseholdEvent>,
}

impl<'a> StoredEvent<'a> {
    /// An event whose envelope names its household and sequence.
    pub fn new(event: &'a Recorded<HouseholdEvent>) -> Self {
        StoredEvent {
            household_id: event.meta.household_id,
            sequence: event.meta.sequence,
            global_position: None,
            event,
        }
    }
}

/// A household's history up to its newest event of a batch, and the state it folds to.
#[derive(Debug, Clone)]
pub struct HouseholdLog {
    pub household_id: Uuid,
    /// Sequence order, 1..=version.
    pub events: Vec<Recorded<HouseholdEvent>>,
    pub state: HouseholdState,
    /// The lowest sequence that came with the batch: events from here on are new to the
    /// read models, the ones before were seen already.
    pub first_new: i64,
}

impl HouseholdLog {
    pub fn version(&self) -> i64 {
        self.events.last().map_or(0, |e| e.meta.sequence)
    }

    /// The events this batch brought.
    pub fn new_events(&self) -> impl Iterator<Item = &Recorded<HouseholdEvent>> {
        let first_new = self.first_new;
        self.events
            .iter()
            .filter(move |e| e.meta.sequence >= first_new)
    }

    /// Whether the batch brought an event of one of these types (a correction counts as the
    /// type it corrects too).
    pub fn touches(&self, types: &[&str]) -> bool {
        touches(self.new_events(), types)
    }

    /// The first event with this sequence.
    pub fn event(&self, sequence: i64) -> Option<&Recorded<HouseholdEvent>> {
        let index = usize::try_from(sequence - 1).ok()?;
        self.events
            .get(index)
            .filter(|e| e.meta.sequence == sequence)
            .or_else(|| self.events.iter().find(|e| e.meta.sequence == sequence))
    }

    /// The supports in force after corrections (voided ones left out), by original sequence,
    /// with their content — which the folded state does not keep.
    pub fn supports(&self) -> Vec<(i64, &SupportReceived)> {
        // The latest correction of each original (the map runs in correction order).
        let latest: BTreeMap<i64, i64> = self
            .state
            .corrections
            .iter()
            .map(|(correction, original)| (*original, *correction))
            .collect();
        self.state
            .current_supports()
            .filter_map(|(original, _)| {
                let correction = latest.get(&original).and_then(|c| self.event(*c));
                let content = match correction.map(|e| &e.event) {
                    Some(HouseholdEvent::EventCorrected(c)) => c.replacement.as_ref(),
                    _ => None,
                };
                match content {
                    Some(Replacement::SupportReceived(s)) => Some((original, s)),
                    _ => match &self.event(original)?.event {
                        HouseholdEvent::SupportReceived(s) => Some((original, s)),
                        _ => None,
                    },
                }
            })
            .collect()
    }
}

/// Whether `events` hold one of these types (a correction counts as the type it corrects too).
pub fn touches<'a>(
    events: impl IntoIterator<Item = &'a Recorded<HouseholdEvent>>,
    types: &[&str],
) -> bool {
    events.into_iter().any(|e| {
        types.contains(&e.event.type_name())
            || matches!(&e.event, HouseholdEvent::EventCorrected(c) if types.contains(&c.corrects_type.as_str()))
    })
}

/// Folds events through the pure domain, as the aggregate does.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Recorded<HouseholdEvent>>) -> HouseholdState {
    events
        .into_iter()
        .fold(HouseholdState::default(), |state, e| state.apply(e))
}

/// A batch's events per household, by sequence.
pub fn by_household<'a>(
    batch: &[StoredEvent<'a>],
) -> BTreeMap<Uuid, BTreeMap<i64, &'a Recorded<HouseholdEvent>>> {
    let mut out: BTreeMap<Uuid, BTreeMap<i64, &Recorded<HouseholdEvent>>> = BTreeMap::new();
    for e in batch {
        out.entry(e.household_id)
            .or_default()
            .insert(e.sequence, e.event);
    }
    out
}

/// The first and last sequence of a household's events in a batch.
pub fn span<V>(events: &BTreeMap<i64, V>) -> Option<(i64, i64)> {
    Some((*events.keys().next()?, *events.keys().next_back()?))
}

/// Whether a household's events in a batch follow each other with no sequence missing.
pub fn contiguous<V>(events: &BTreeMap<i64, V>) -> bool {
    span(events).is_some_and(|(first, last)| last - first + 1 == events.len() as i64)
}

/// Completes a batch into household histories: events already in the batch are taken from it,
/// the rest is read from `household_events` on the caller's connection (inside the inline
/// handler's transaction that includes the events being appended).
pub async fn load(
    conn: &mut PgConnection,
    batch: &[StoredEvent<'_>],
) -> Result<Vec<HouseholdLog>, sqlx::Error> {
    let by_household = by_household(batch);
    // What to read per household: everything below the batch's first event when the batch's
    // events are contiguous, else everything up to its last one.
    let mut ids = Vec::new();
    let mut upto = Vec::new();
    for (id, events) in &by_household {
        let Some((first, last)) = span(events) else {
            continue;
        };
        let read_upto = if contiguous(events) { first - 1 } else { last };
        if read_upto >= 1 {
            ids.push(*id);
            upto.push(i32::try_from(read_upto).unwrap_or(i32::MAX));
        }
    }
    let mut stored: BTreeMap<Uuid, Vec<Recorded<HouseholdEvent>>> = BTreeMap::new();
    if !ids.is_empty() {
        let rows: Vec<(Uuid, Json<Recorded<HouseholdEvent>>)> = sqlx::query_as(
            // LATERAL keeps the (aggregate_id, sequence_number) index in use: a plain join
            // with UNNEST (estimated at 100 rows) makes the planner scan the whole log.
            "SELECT b.id, e.payload
               FROM UNNEST($1::uuid[], $2::int[]) AS b(id, upto)
               CROSS JOIN LATERAL (
                   SELECT payload, sequence_number FROM household_events
                    WHERE aggregate_id = b.id AND sequence_number <= b.upto
                    ORDER BY sequence_number) e
              ORDER BY b.id, e.sequence_number",
        )
        .bind(&ids)
        .bind(&upto)
        .fetch_all(&mut *conn)
        .await?;
        for (id, Json(event)) in rows {
            stored.entry(id).or_default().push(event);
        }
    }
    let mut logs = Vec::with_capacity(by_household.len());
    for (household_id, batch_events) in by_household {
        let first_new = batch_events.keys().next().copied().unwrap_or(1);
        let mut events = stored.remove(&household_id).unwrap_or_default();
        let have = events.last().map_or(0, |e| e.meta.sequence);
        events.extend(
            batch_events
                .into_iter()
                .filter(|(sequence, _)| *sequence > have)
                .map(|(_, e)| e.clone()),
        );
        let state = fold(&events);
        logs.push(HouseholdLog {
            household_id,
            events,
            state,
            first_new,
        });
    }
    Ok(logs)
}

/// The household's unit on `date`: the registered unit changed by every move on or before that
/// date, in the order the moves were recorded (the domain's rule, see `HouseholdState::area_on`).
pub fn unit_on(state: &HouseholdState, date: NaiveDate) -> Option<String> {
    let registered = &state.registration.as_ref()?.unit_code;
    Some(unit_among(registered, moves(state), date))
}

/// The moves in force (voided ones left out, corrected ones as corrected), in the order they
/// were recorded: (moved on, unit).
pub fn moves(state: &HouseholdState) -> impl Iterator<Item = (NaiveDate, &str)> {
    state.facts.values().filter_map(|fact| match &fact.current {
        Some(Replacement::HouseholdMoved(m)) => Some((m.moved_on, m.unit_code.as_str())),
        _ => None,
    })
}

/// The unit on `date` given the registered unit and the moves in recorded order (the last
/// recorded move on or before the date wins).
pub fn unit_among<'a>(
    registered: &'a str,
    moves: impl IntoIterator<Item = (NaiveDate, &'a str)>,
    date: NaiveDate,
) -> String {
    moves
        .into_iter()
        .filter(|(on, _)| *on <= date)
        .last()
        .map_or(registered, |(_, unit)| unit)
        .to_owned()
}

/// The day the household was closed, if a closure counts (not voided).
pub fn closed_on(state: &HouseholdState) -> Option<NaiveDate> {
    state
        .facts
        .values()
        .filter_map(|f| match &f.current {
            Some(Replacement::HouseholdClosed(c)) => Some(c.closed_on),
            _ => None,
        })
        .min()
}

/// Whether the latest survey on or before `date` (latest survey date, then sequence) found no
/// working capacity; `false` before any survey.
pub fn no_working_capacity_on(state: &HouseholdState, date: NaiveDate) -> bool {
    state
        .surveys
        .iter()
        .filter(|(_, s)| s.survey_date <= date)
        .max_by_key(|(seq, s)| (s.survey_date, **seq))
        .is_some_and(|(_, s)| !s.working_capacity)
}

/// The contract name of a serde enum (`preferential_credit`, `central_budget`, …).
pub fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The enum value of a contract name, if it is one.
pub fn parse_enum<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// Today in Vietnam (UTC+7), the date flags such as "recently exited" are judged on.
/// The day an instant falls on in Vietnam (UTC+7).
pub fn vietnam_date(at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    (at + chrono::Duration::hours(7)).date_naive()
}

pub fn today_in_vietnam() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive()
}

/// The version guard of the read models that rewrite a household's rows from its whole
/// history: records each household's version in `guard_table` where it is newer than the one
/// there, deletes the household's rows from `rows_table`, and returns the households whose rows
/// must be written again (the others are already as new or newer: redelivery changes nothing).
pub async fn advance(
    conn: &mut PgConnection,
    guard_table: &'static str,
    rows_table: &'static str,
    touched: &[&HouseholdLog],
) -> Result<Vec<Uuid>, sqlx::Error> {
    advance_carrying(conn, guard_table, rows_table, touched, None).await
}

/// [`advance`], storing with each household's new version what the read model keeps beside it
/// (`contexts`, one per touched household, in the guard table's `context` column).
pub async fn advance_carrying(
    conn: &mut PgConnection,
    guard_table: &'static str,
    rows_table: &'static str,
    touched: &[&HouseholdLog],
    contexts: Option<Vec<serde_json::Value>>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = touched.iter().map(|l| l.household_id).collect();
    let versions: Vec<i32> = touched
        .iter()
        .map(|l| i32::try_from(l.version()).unwrap_or(i32::MAX))
        .collect();
    let (column, value, set) = match contexts {
        Some(_) => (", context", ", $3::jsonb[]", ", context = EXCLUDED.context"),
        None => ("", "", ""),
    };
    let sql = format!(
        "INSERT INTO {guard_table} AS h (household_id, version{column})
         SELECT * FROM UNNEST($1::uuid[], $2::int[]{value})
         ON CONFLICT (household_id) DO UPDATE SET version = EXCLUDED.version{set}
         WHERE h.version < EXCLUDED.version
         RETURNING household_id"
    );
    let mut query = sqlx::query_scalar(&sql).bind(&ids).bind(&versions);
    if let Some(contexts) = contexts {
        query = query.bind(contexts);
    }
    let advanced: Vec<Uuid> = query.fetch_all(&mut *conn).await?;
    if !advanced.is_empty() {
        sqlx::query(&format!(
            "DELETE FROM {rows_table} WHERE household_id = ANY($1)"
        ))
        .bind(&advanced)
        .execute(&mut *conn)
        .await?;
    }
    Ok(advanced)
}
