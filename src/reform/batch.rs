//! One page of the reform written at import speed, at a cost that does not grow with the
//! households' histories.
//!
//! A move's rules read three things of a household: its registration day, whether it is
//! closed, and its chain head. The status read model is written in the very transaction of every
//! append, so its row (registration day, version, open or not) and the event at that version
//! (its hash) are the household as the log has it; the move is decided on that by the domain
//! (`HouseholdCommand::Reassign`), linked onto the chain, sent by binary COPY, and the status
//! row changed in place, all in one transaction. Nothing else a read model keeps depends on
//! the unit a household lives in now (supports and relapses keep the unit of their day).
//! Should another writer append meanwhile, the stream's unique key or the status version
//! refuses the page, which is then decided again.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use ansinh_events::chain::{self, ChainHead};
use ansinh_events::household::{
    Command, Household, HouseholdCommand, HouseholdMoved, HouseholdState,
};
use ansinh_events::{Actor, Area, CommandContext, Source};
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

/// Why a page has to be decided again.
struct Raced;

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
    /// or closed meanwhile is left out).
    pub async fn write(&self, planned: &[Planned]) -> Result<Vec<Planned>, ReformError> {
        let mut planned = planned.to_vec();
        for attempt in 1..=ATTEMPTS {
            match self.try_write(&planned).await? {
                Ok(moved) => return Ok(moved),
                Err(Raced) if attempt < ATTEMPTS => planned = self.reread(&planned).await?,
                Err(Raced) => break,
            }
        }
        Err(ReformError::Database(sqlx::Error::Protocol(
            "other writers kept changing these households; run the reform again".into(),
        )))
    }

    async fn try_write(
        &self,
        planned: &[Planned],
    ) -> Result<Result<Vec<Planned>, Raced>, ReformError> {
        if planned.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let heads = heads(self.pool, planned).await?;
        let mut rows = BinaryRows::with_capacity(planned.len() * 1024);
        let mut json = Vec::with_capacity(1024);
        let mut moved = Vec::with_capacity(planned.len());
        let mut status = StatusChanges::default();
        for p in planned {
            let Some(hash) = heads.get(&p.household_id) else {
                // Its status row and its log disagree only while another writer appends.
                return Ok(Err(Raced));
            };
            let refused = |cause: String| ReformError::Household {
                household_id: p.household_id,
                cause,
            };
            let area = Area::parse(&p.area)
                .ok_or_else(|| refused(format!("stored area {:?} is not valid", p.area)))?;
            let state = HouseholdState {
                chain: ChainHead {
                    sequence: i64::from(p.version),
                    hash: hash.clone(),
                },
                registered_on: Some(p.registered_on),
                ..HouseholdState::default()
            };
            let command = HouseholdCommand::Reassign {
                moved: HouseholdMoved {
                    moved_on: self.options.effective_on,
                    unit_code: p.new_code.clone(),
                    hamlet: p.hamlet.clone(),
                    area,
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
            status.push(
                p,
                head.sequence,
                self.ctx.recorded_at,
                self.options.effective_on,
            );
            moved.push(p.clone());
        }
        let mut tx = self.pool.begin().await?;
        match copy_events(&mut tx, rows).await {
            Err(e) if raced(&e) => return Ok(Err(Raced)),
            other => other?,
        };
        match status.write(&mut tx).await {
            Ok(changed) if changed == moved.len() as u64 => {}
            Ok(_) => return Ok(Err(Raced)),
            Err(e) if raced(&e) => return Ok(Err(Raced)),
            Err(e) => return Err(e.into()),
        }
        match tx.commit().await {
            Err(e) if raced(&e) => return Ok(Err(Raced)),
            other => other?,
        };
        Ok(Ok(moved))
    }

    /// The planned households as their status rows now say (moved or closed ones dropped).
    async fn reread(&self, planned: &[Planned]) -> Result<Vec<Planned>, sqlx::Error> {
        let ids: Vec<Uuid> = planned.iter().map(|p| p.household_id).collect();
        let rows: Vec<(Uuid, String, String, String, i32, NaiveDate)> = sqlx::query_as(
            "SELECT household_id, unit_code, hamlet, area, version, placed_on FROM household_status
              WHERE household_id = ANY($1) AND closed_on IS NULL",
        )
        .bind(&ids)
        .fetch_all(self.pool)
        .await?;
        let now: HashMap<Uuid, _> = rows.into_iter().map(|r| (r.0, r)).collect();
        Ok(planned
            .iter()
            .filter_map(|p| {
                let (_, unit, hamlet, area, version, placed_on) = now.get(&p.household_id)?;
                (*unit == p.old_code && *placed_on < self.options.effective_on).then(|| Planned {
                    hamlet: hamlet.clone(),
                    area: area.clone(),
                    version: *version,
                    ..p.clone()
                })
            })
            .collect())
    }
}

/// Another writer got there first (the stream's unique key), or PostgreSQL chose this page to
/// undo (a deadlock, a serialization failure: SQLSTATE 40P01, 40001): decide it again.
fn raced(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(e) => {
            e.is_unique_violation() || matches!(e.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

/// The hash of each household's event at the version its status row gave.
async fn heads(pool: &PgPool, planned: &[Planned]) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let ids: Vec<Uuid> = planned.iter().map(|p| p.household_id).collect();
    let versions: Vec<i32> = planned.iter().map(|p| p.version).collect();
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT e.aggregate_id, e.payload->'meta'->>'hash'
           FROM UNNEST($1::uuid[], $2::int[]) AS v(id, version)
           JOIN household_events e ON e.aggregate_id = v.id AND e.sequence_number = v.version",
    )
    .bind(&ids)
    .bind(&versions)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The status rows of moved households, changed in place where still at the version read.
#[derive(Default)]
struct StatusChanges {
    ids: Vec<Uuid>,
    old_versions: Vec<i32>,
    versions: Vec<i32>,
    units: Vec<String>,
    recorded_at: Vec<DateTime<Utc>>,
    placed_on: Vec<NaiveDate>,
}

impl StatusChanges {
    fn push(&mut self, p: &Planned, version: i64, at: DateTime<Utc>, placed_on: NaiveDate) {
        self.ids.push(p.household_id);
        self.old_versions.push(p.version);
        self.versions
            .push(i32::try_from(version).unwrap_or(i32::MAX));
        self.units.push(p.new_code.clone());
        self.recorded_at.push(at);
        self.placed_on.push(placed_on);
    }

    /// Returns how many rows changed.
    async fn write(&self, conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE household_status s
                SET unit_code = v.unit, placed_on = v.placed_on, version = v.version,
                    last_recorded_at = v.recorded_at
               FROM UNNEST($1::uuid[], $2::int[], $3::int[], $4::text[], $5::timestamptz[],
                           $6::date[]) AS v(id, old_version, version, unit, recorded_at, placed_on)
              WHERE s.household_id = v.id AND s.version = v.old_version",
        )
        .bind(&self.ids)
        .bind(&self.old_versions)
        .bind(&self.versions)
        .bind(&self.units)
        .bind(&self.recorded_at)
        .bind(&self.placed_on)
        .execute(conn)
        .await?
        .rows_affected())
    }
}
