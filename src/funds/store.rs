//! A fund command in one transaction: the fund's row locked, its events read and folded, the
//! command decided, the new event sealed onto the chain and written with the read-model rows.

use ansinh_events::chain::{seal, ChainHead};
use ansinh_events::fund::{decide, FundCommand, FundError, FundEvent, FundState};
use ansinh_events::{CommandContext, Recorded};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum FundStoreError {
    #[error(transparent)]
    Domain(#[from] FundError),
    #[error("fund {0} was not found")]
    NotFound(Uuid),
    #[error("fund {0} changed meanwhile; send the request again")]
    Conflict(Uuid),
    #[error("fund {fund_id} is at version {actual}, not the version {expected} of If-Match; read it again")]
    Stale {
        fund_id: Uuid,
        expected: i64,
        actual: i64,
    },
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored fund event could not be read: {0}")]
    Corrupt(String),
}

/// A fund as the read model holds it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FundRow {
    pub fund_id: Uuid,
    pub version: i32,
    pub name: String,
    /// `central_budget`, `local_budget`, `mobilized` or `other`.
    pub funding_source: String,
    pub managing_unit: String,
    pub legal_basis: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub received_vnd: i64,
}

/// One allocation: what the fund gave a unit, what supports drew on it, what is left.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AllocationRow {
    pub unit_code: String,
    pub allocated_vnd: i64,
    pub drawn_vnd: i64,
    pub balance_vnd: i64,
}

#[derive(Clone)]
pub struct FundStore {
    pool: PgPool,
}

/// What a command appended.
#[derive(Debug, Clone)]
pub struct FundAppended {
    pub fund_id: Uuid,
    pub version: i64,
    pub event: Recorded<FundEvent>,
    /// The answer to an earlier request with the same Idempotency-Key: nothing was written.
    pub replayed: bool,
}

impl FundStore {
    pub fn new(pool: PgPool) -> Self {
        FundStore { pool }
    }

    /// The fund's events in sequence order.
    pub async fn events(&self, fund_id: Uuid) -> Result<Vec<Recorded<FundEvent>>, FundStoreError> {
        let mut conn = self.pool.acquire().await?;
        read_events(&mut conn, fund_id).await
    }

    /// Decides `command` for the fund `ctx.household_id` names (the chain's aggregate id) and
    /// writes its event and rows, all in one transaction. With `expected` (If-Match) the fund
    /// must stand at that version. A command carrying an idempotency key this user sent before
    /// returns what that request appended (money is never counted twice for a retry).
    pub async fn execute(
        &self,
        ctx: &CommandContext,
        command: FundCommand,
        expected: Option<i64>,
    ) -> Result<FundAppended, FundStoreError> {
        let fund_id = ctx.household_id;
        let mut tx = self.pool.begin().await?;
        if let Some(first) = replay(&mut tx, ctx).await? {
            return Ok(first);
        }
        let opening = matches!(command, FundCommand::Open(_));
        if !opening {
            // One command at a time per fund: the row lock orders them.
            let found: Option<(Uuid,)> =
                sqlx::query_as("SELECT fund_id FROM funds WHERE fund_id = $1 FOR UPDATE")
                    .bind(fund_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(FundStoreError::NotFound(fund_id));
            }
        }
        let events = read_events(&mut tx, fund_id).await?;
        let state = FundState::fold(events.iter().map(|e| &e.event));
        if let Some(expected) = expected.filter(|_| !opening) {
            if expected != state.version {
                return Err(FundStoreError::Stale {
                    fund_id,
                    expected,
                    actual: state.version,
                });
            }
        }
        let mut head = ChainHead::default();
        if let Some(last) = events.last() {
            head.advance(&last.meta);
        }
        let command = match command {
            FundCommand::Transfer { transfer, .. } => {
                // What supports drew on the allocation given away, locked until commit so no
                // support draws on it meanwhile.
                let drawn: Option<(i64,)> = sqlx::query_as(
                    "SELECT drawn_vnd FROM fund_allocations
                      WHERE fund_id = $1 AND unit_code = $2 FOR UPDATE",
                )
                .bind(fund_id)
                .bind(transfer.from_unit.trim())
                .fetch_optional(&mut *tx)
                .await?;
                FundCommand::Transfer {
                    transfer,
                    drawn_from: drawn.map_or(0, |d| d.0),
                }
            }
            other => other,
        };
        let (event, facts) = decide(&state, command, ctx.today)?;
        let next = state.clone().apply(&event);
        let mut sealed = seal(&head, ctx, vec![(event, facts)]).map_err(FundError::from)?;
        let recorded = sealed
            .pop()
            .ok_or(FundStoreError::Corrupt("nothing sealed".into()))?;
        let payload =
            serde_json::to_value(&recorded).map_err(|e| FundStoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO fund_events (id, aggregate_id, payload, sequence_number, occurred_on)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(fund_id)
        .bind(&payload)
        .bind(i32::try_from(recorded.meta.sequence).unwrap_or(i32::MAX))
        .bind(recorded.meta.recorded_at)
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(db)) = &inserted {
            if db.constraint() == Some("fund_events_stream") {
                return Err(FundStoreError::Conflict(fund_id));
            }
        }
        inserted?;
        write_rows(&mut tx, fund_id, &next, &recorded.event).await?;
        tx.commit().await?;
        Ok(FundAppended {
            fund_id,
            version: next.version,
            event: recorded,
            replayed: false,
        })
    }

    pub async fn list(&self) -> Result<Vec<FundRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM funds ORDER BY valid_from DESC, name, fund_id")
            .fetch_all(&self.pool)
            .await
    }

    pub async fn get(&self, fund_id: Uuid) -> Result<Option<FundRow>, sqlx::Error> {
        sqlx::query_as("SELECT * FROM funds WHERE fund_id = $1")
            .bind(fund_id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn allocations(&self, fund_id: Uuid) -> Result<Vec<AllocationRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT unit_code, allocated_vnd, drawn_vnd, allocated_vnd - drawn_vnd AS balance_vnd
               FROM fund_allocations WHERE fund_id = $1 ORDER BY unit_code",
        )
        .bind(fund_id)
        .fetch_all(&self.pool)
        .await
    }
}

async fn read_events(
    conn: &mut PgConnection,
    fund_id: Uuid,
) -> Result<Vec<Recorded<FundEvent>>, FundStoreError> {
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT payload FROM fund_events WHERE aggregate_id = $1 ORDER BY sequence_number",
    )
    .bind(fund_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(p,)| serde_json::from_value(p).map_err(|e| FundStoreError::Corrupt(e.to_string())))
        .collect()
}

/// The fund's row and the allocation rows `event` changes.
async fn write_rows(
    conn: &mut PgConnection,
    fund_id: Uuid,
    state: &FundState,
    event: &FundEvent,
) -> Result<(), sqlx::Error> {
    let Some(o) = &state.opened else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO funds (fund_id, version, name, funding_source, managing_unit, legal_basis,
                            valid_from, valid_to, closed_on, received_vnd)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (fund_id) DO UPDATE SET version = EXCLUDED.version,
             closed_on = EXCLUDED.closed_on, received_vnd = EXCLUDED.received_vnd",
    )
    .bind(fund_id)
    .bind(i32::try_from(state.version).unwrap_or(i32::MAX))
    .bind(&o.name)
    .bind(ansinh_projections::log::enum_name(&o.funding_source))
    .bind(&o.managing_unit)
    .bind(&o.legal_basis)
    .bind(o.valid_from)
    .bind(o.valid_to)
    .bind(state.closed_on)
    .bind(state.received_vnd)
    .execute(&mut *conn)
    .await?;
    let units: Vec<&String> = match event {
        FundEvent::AllocatedToUnit(a) => vec![&a.unit_code],
        FundEvent::AllocationTransferred(t) => vec![&t.from_unit, &t.to_unit],
        _ => return Ok(()),
    };
    for unit in units {
        sqlx::query(
            "INSERT INTO fund_allocations (fund_id, unit_code, allocated_vnd) VALUES ($1, $2, $3)
             ON CONFLICT (fund_id, unit_code) DO UPDATE SET allocated_vnd = EXCLUDED.allocated_vnd",
        )
        .bind(fund_id)
        .bind(unit)
        .bind(state.allocations.get(unit).copied().unwrap_or(0))
        .execute(&mut *conn)
        .await?;
    }
    // A new allocation may now be the one that covers some supports' units.
    sqlx::query("SELECT ansinh_fund_redraw($1)")
        .bind(fund_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Why a support may not draw on the fund it names, before anything is written (the append
/// checks the balance again under the allocation's lock).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawRefused {
    #[error("fund_id {0:?} names no fund")]
    NoFund(String),
    #[error("fund {fund} is not open on {on} (its period: {from} to {to}{closed})")]
    NotOpen {
        fund: String,
        on: NaiveDate,
        from: NaiveDate,
        to: String,
        closed: String,
    },
    #[error("fund {fund} has no allocation covering unit {unit}")]
    NoAllocation { fund: String, unit: String },
}

impl DrawRefused {
    pub fn code(&self) -> &'static str {
        match self {
            DrawRefused::NoFund(_) => "unknown_fund",
            DrawRefused::NotOpen { .. } => "fund_not_open",
            DrawRefused::NoAllocation { .. } => "no_allocation",
        }
    }
}

/// Checks a support naming `fund_id`, disbursed on `on` to a household in `unit`: `Ok(None)`
/// when it may draw, `Ok(Some(why))` when it may not.
pub async fn check_draw(
    pool: &PgPool,
    fund_id: &str,
    unit: &str,
    on: NaiveDate,
) -> Result<Option<DrawRefused>, sqlx::Error> {
    let fund_text = fund_id.trim().to_owned();
    let Ok(id) = Uuid::parse_str(&fund_text) else {
        return Ok(Some(DrawRefused::NoFund(fund_text)));
    };
    let Some(fund) = FundStore::new(pool.clone()).get(id).await? else {
        return Ok(Some(DrawRefused::NoFund(fund_text)));
    };
    let open = on >= fund.valid_from
        && fund.valid_to.is_none_or(|to| on <= to)
        && fund.closed_on.is_none_or(|c| on < c);
    if !open {
        return Ok(Some(DrawRefused::NotOpen {
            fund: fund_text,
            on,
            from: fund.valid_from,
            to: fund
                .valid_to
                .map_or_else(|| "open-ended".to_owned(), |d| d.to_string()),
            closed: fund
                .closed_on
                .map(|c| format!("; closed on {c}"))
                .unwrap_or_default(),
        }));
    }
    let (covering,): (Option<String>,) =
        sqlx::query_as("SELECT ansinh_fund_allocation_for($1, $2)")
            .bind(id)
            .bind(unit)
            .fetch_one(pool)
            .await?;
    Ok(covering.is_none().then(|| DrawRefused::NoAllocation {
        fund: fund_text,
        unit: unit.to_owned(),
    }))
}

/// The event an earlier request of this user with the command's idempotency key appended, if
/// any (refused when that request was another). Same-key requests take turns on an advisory
/// lock held to the end of the transaction, so a concurrent retry finds the first one's event.
async fn replay(
    tx: &mut PgConnection,
    ctx: &CommandContext,
) -> Result<Option<FundAppended>, FundStoreError> {
    let Some(idempotency) = &ctx.idempotency else {
        return Ok(None);
    };
    let user = ctx.actor.user_id.to_string();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7))")
        .bind(&user)
        .bind(&idempotency.key)
        .execute(&mut *tx)
        .await?;
    let found: Option<(sqlx::types::Json<Recorded<FundEvent>>,)> = sqlx::query_as(
        "SELECT payload FROM fund_events
          WHERE payload->'meta'->'idempotency'->>'key' = $2
            AND payload->'meta'->'actor'->>'user_id' = $1
          LIMIT 1",
    )
    .bind(&user)
    .bind(&idempotency.key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((sqlx::types::Json(event),)) = found else {
        return Ok(None);
    };
    if event.meta.idempotency.as_ref() != Some(idempotency) {
        return Err(FundStoreError::IdempotencyKeyReused);
    }
    Ok(Some(FundAppended {
        fund_id: event.meta.household_id,
        version: event.meta.sequence,
        event,
        replayed: true,
    }))
}
