//! One page of the reform written at import speed: the histories read in one statement, each
//! household's move decided by the domain (`HouseholdCommand::Reassign`) and linked onto its
//! chain in memory, then the events sent by binary COPY and the inline read models written
//! from the histories at hand, all in one transaction.

use std::collections::HashMap;

use chrono::Utc;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use ansinh_events::chain;
use ansinh_events::household::{
    Command, Household, HouseholdCommand, HouseholdEvent, HouseholdMoved, HouseholdState,
};
use ansinh_events::{Actor, CommandContext, Recorded, Source};
use ansinh_projections::log::{HouseholdLog, StoredEvent};
use ansinh_projections::units::{self, Unit};

use super::{Planned, ReformError, ReformOptions};
use crate::import::copy::{copy_events, push_event, BinaryRows};

/// How often a page is decided again after another writer appended to one of its households.
const ATTEMPTS: usize = 3;

pub struct Writer<'a> {
    pool: &'a PgPool,
    by_code: HashMap<&'a str, Vec<Unit>>,
    options: &'a ReformOptions,
    ctx: CommandContext,
}

impl<'a> Writer<'a> {
    pub fn new(pool: &'a PgPool, units: &'a [Unit], options: &'a ReformOptions) -> Self {
        let mut by_code: HashMap<&str, Vec<Unit>> = HashMap::new();
        for u in units {
            by_code.entry(u.code.as_str()).or_default().push(u.clone());
        }
        let ctx = CommandContext::new(
            Uuid::nil(),
            Actor::system("reform"),
            Source::Cli,
            Utc::now(),
        );
        Writer {
            pool,
            by_code,
            options,
            ctx,
        }
    }

    /// Moves the planned households; returns those it moved (a household another writer moved
    /// meanwhile is left out).
    pub async fn write(&self, planned: &[Planned]) -> Result<Vec<Planned>, ReformError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_write(planned).await {
                // Another writer appended to one of these households: decide the page again.
                Err(ReformError::Database(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && attempt < ATTEMPTS => {}
                other => return other,
            }
        }
    }

    async fn try_write(&self, planned: &[Planned]) -> Result<Vec<Planned>, ReformError> {
        if planned.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = planned.iter().map(|p| p.household_id).collect();
        let mut histories = histories(self.pool, &ids).await?;
        let mut rows = BinaryRows::with_capacity(planned.len() * 1024);
        let mut json = Vec::with_capacity(1024);
        let mut logs = Vec::with_capacity(planned.len());
        let mut moved = Vec::with_capacity(planned.len());
        for p in planned {
            let Some((events, state)) = histories.remove(&p.household_id) else {
                continue;
            };
            let Some(current) = state.current.as_ref() else {
                continue;
            };
            // Moved, closed or corrected since the page was read: nothing to carry.
            let still_there = current.unit_code == p.old_code
                && !state.closed
                && state
                    .placed_on()
                    .is_some_and(|d| d < self.options.effective_on);
            if !still_there {
                continue;
            }
            let command = HouseholdCommand::Reassign {
                moved: HouseholdMoved {
                    moved_on: self.options.effective_on,
                    unit_code: p.new_code.clone(),
                    hamlet: current.hamlet.clone(),
                    area: current.area,
                },
                unit: self.by_code.get(p.new_code.as_str()).and_then(|versions| {
                    units::placement_record(versions, self.options.effective_on)
                }),
                legal_basis: self.options.legal_basis.clone(),
                reason: p.by_hamlet.as_ref().map(|hamlet| {
                    format!(
                        "hamlet {hamlet} of {} went to {} (hamlet file)",
                        p.old_code, p.new_code
                    )
                }),
            };
            let mut ctx = self.ctx.clone();
            ctx.household_id = p.household_id;
            let refused = |cause: String| ReformError::Household {
                household_id: p.household_id,
                cause,
            };
            let mut new = Household::check_command(
                &state,
                Command {
                    ctx,
                    action: command,
                },
            )
            .map_err(|e| refused(e.to_string()))?;
            let mut head = state.chain.clone();
            json.clear();
            let spans = chain::link_into(&mut head, &mut new, &mut json)
                .map_err(|e| refused(e.to_string()))?;
            for (event, span) in new.iter().zip(spans) {
                push_event(&mut rows, event, &json[span])?;
            }
            let first_new = new.first().map_or(0, |e| e.meta.sequence);
            let state = new.iter().fold(state, |s, e| s.apply(e));
            let mut events = events;
            events.extend(new);
            logs.push(HouseholdLog {
                household_id: p.household_id,
                events,
                state,
                first_new,
            });
            moved.push(p.clone());
        }
        if logs.is_empty() {
            return Ok(moved);
        }
        let mut tx = self.pool.begin().await?;
        copy_events(&mut tx, rows).await?;
        let stored: Vec<StoredEvent<'_>> = logs
            .iter()
            .flat_map(|l| l.new_events().map(StoredEvent::new))
            .collect();
        ansinh_projections::inline::apply_loaded(&mut tx, &stored, &logs).await?;
        tx.commit().await?;
        Ok(moved)
    }
}

type History = (Vec<Recorded<HouseholdEvent>>, HouseholdState);

/// The whole histories of these households, folded, in one statement.
async fn histories(pool: &PgPool, ids: &[Uuid]) -> Result<HashMap<Uuid, History>, sqlx::Error> {
    let stored: Vec<(Uuid, Json<Recorded<HouseholdEvent>>)> = sqlx::query_as(
        "SELECT aggregate_id, payload FROM household_events WHERE aggregate_id = ANY($1)
          ORDER BY aggregate_id, sequence_number",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<Uuid, History> = HashMap::with_capacity(ids.len());
    for (id, Json(event)) in stored {
        let (events, state) = out.entry(id).or_default();
        *state = std::mem::take(state).apply(&event);
        events.push(event);
    }
    Ok(out)
}
