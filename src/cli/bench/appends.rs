//! Appends through the store (load, decide, seal, persist with idempotency handler) against a
//! plain single-row INSERT of a payload of the same size into a table of the same shape.

use std::sync::Arc;

use ansinh_events::household::{
    Area, Command, FundingSource, HouseholdCommand, HouseholdRegistered, Member, Policy, Sex,
    SupportReceived, UnitValidity,
};
use ansinh_events::money::Vnd;
use ansinh_events::{Actor, CommandContext, Source};
use chrono::{NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::measure::interleaved;
use super::{BenchOptions, Table};
use crate::store::{EventLog, StoreError};

/// Events each benchmark household holds before the timed appends start.
const HISTORY: usize = 10;

pub(super) fn command(household_id: Uuid, action: HouseholdCommand) -> Command {
    Command {
        ctx: CommandContext::new(
            household_id,
            Actor::system("bench"),
            Source::Cli,
            Utc::now(),
        ),
        action,
    }
}

pub(super) fn registration() -> HouseholdCommand {
    HouseholdCommand::Register {
        registration: HouseholdRegistered {
            head_name: "Nguyễn Văn An".into(),
            unit_code: "25459".into(),
            hamlet: "Ấp Thạnh Hiệp".into(),
            area: Area::Rural,
            ethnic_minority: false,
            merit_family: false,
            members: vec![Member {
                name: "Nguyễn Văn An".into(),
                birth_year: 1970,
                sex: Sex::Male,
                relation: "head".into(),
                id_number: None,
            }],
        },
        effective_on: NaiveDate::from_ymd_opt(2021, 9, 20).unwrap_or_default(),
        unit: Some(UnitValidity {
            valid_from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
            valid_to: None,
            commune: true,
        }),
    }
}

pub(super) fn support() -> HouseholdCommand {
    HouseholdCommand::RecordSupport(SupportReceived {
        policy: Policy::ElectricitySubsidy,
        amount_vnd: Vnd::new(46_000).unwrap_or_default(),
        in_kind: None,
        funding_source: FundingSource::CentralBudget,
        fund_id: None,
        disbursed_on: NaiveDate::from_ymd_opt(2023, 3, 1).unwrap_or_default(),
        disbursed_by: "UBND xã".into(),
        decision_no: "12/QĐ-UBND".into(),
        recipient_member: None,
        override_reason: None,
    })
}

/// The baseline of every command figure: one single-row INSERT of an event-sized payload into
/// a table of the log's shape (primary key and stream index), committed on its own.
pub async fn plain_insert(
    pool: PgPool,
    payload: Arc<serde_json::Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bench_plain_events (id, aggregate_id, payload, sequence_number) VALUES ($1, $2, $3, 1)",
    )
    .bind(Uuid::now_v7())
    .bind(Uuid::now_v7())
    .bind(sqlx::types::Json(&*payload))
    .execute(&pool)
    .await
    .map(|_| ())
}

/// The baseline of every history read: a household's events, in order, as any client of the
/// log would fetch them.
pub async fn plain_select(pool: PgPool, household_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT * FROM household_events WHERE aggregate_id = $1 ORDER BY sequence_number")
        .bind(household_id)
        .fetch_all(&pool)
        .await
        .map(|_| ())
}

/// The bare PostgreSQL floor of a command on a household the server has not met: read the
/// household's events, then insert one row. No server can decide a command on a household it
/// holds nothing of with less.
pub async fn plain_select_then_insert(
    pool: PgPool,
    household_id: Uuid,
    payload: Arc<serde_json::Value>,
) -> Result<(), sqlx::Error> {
    plain_select(pool.clone(), household_id).await?;
    plain_insert(pool, payload).await
}

/// The plain PostgreSQL baseline's table: the event log's columns and unique keys, no triggers.
/// Every section that inserts into it makes it (`--only province` runs without this one).
pub(super) async fn plain_table(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_plain_events (
            id uuid PRIMARY KEY, aggregate_id uuid NOT NULL, payload jsonb NOT NULL,
            occurred_on timestamptz NOT NULL DEFAULT now(), sequence_number int NOT NULL,
            UNIQUE (aggregate_id, sequence_number))",
    )
    .execute(pool)
    .await
    .map(drop)
}

pub(super) fn to_sqlx(e: StoreError) -> sqlx::Error {
    match e {
        StoreError::Database(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

pub async fn run(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    plain_table(pool).await?;
    let log = EventLog::new(pool.clone()).await.map_err(to_sqlx)?;
    // A payload like the store's, for the plain INSERT.
    let sample = {
        let id = Uuid::now_v7();
        let appended = log
            .execute(command(id, registration()), None)
            .await
            .map_err(to_sqlx)?;
        let support = log
            .execute(command(id, support()), None)
            .await
            .map_err(to_sqlx)?;
        let _ = appended;
        Arc::new(
            serde_json::to_value(&support.events[0])
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?,
        )
    };

    // Warm the server (caches, WAL segments) so the first figure is not penalised.
    for _ in 0..200 {
        log.execute(command(Uuid::now_v7(), registration()), None)
            .await
            .map_err(to_sqlx)?;
    }

    for concurrency in [1usize, 8] {
        let ops = options.ops;
        // One household per operation slot, each with a history, as in a real commune.
        // Enough households that each gains only a few events while timed.
        let households: Vec<Uuid> = (0..(ops / 5).max(concurrency))
            .map(|_| Uuid::now_v7())
            .collect();
        for id in &households {
            log.execute(command(*id, registration()), None)
                .await
                .map_err(to_sqlx)?;
            for _ in 1..HISTORY {
                log.execute(command(*id, support()), None)
                    .await
                    .map_err(to_sqlx)?;
            }
        }
        let households = Arc::new(households);
        let (pool_, payload, log_) = (pool.clone(), Arc::clone(&sample), log.clone());
        let (plain, store) = interleaved(
            (
                &format!("plain INSERT ×{concurrency}"),
                &format!("store append ×{concurrency}"),
            ),
            concurrency,
            ops,
            move |_| plain_insert(pool_.clone(), Arc::clone(&payload)),
            move |i| {
                let log = log_.clone();
                let id = households[i % households.len()];
                async move {
                    log.execute_retrying(command(id, support()))
                        .await
                        .map(|_| ())
                        .map_err(to_sqlx)
                }
            },
        )
        .await?;
        table.push(plain);
        table.push(store);
    }
    Ok(())
}
