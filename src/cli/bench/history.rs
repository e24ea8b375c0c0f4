//! Whether a command's cost grows with the household's history: appends to, and cold loads of,
//! households of 1,000 events against households of 10, measured in alternating rounds like
//! every other figure. The goal is a ratio of at least 0.8 (a long household costing at most
//! 1.25× a short one).

use std::sync::Arc;

use ansinh_projections::snapshots;
use sqlx::PgPool;
use uuid::Uuid;

use super::appends::{command, registration, support, to_sqlx};
use super::measure::interleaved;
use super::{BenchOptions, Table};
use crate::store::EventLog;

const SHORT: usize = 10;
const LONG: usize = 1_000;
/// Households of each length: appends spread over them, as over a commune's households.
const HOUSEHOLDS: usize = 4;

async fn households(log: &EventLog, events: usize) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut ids = Vec::with_capacity(HOUSEHOLDS);
    for _ in 0..HOUSEHOLDS {
        let id = Uuid::now_v7();
        log.execute(command(id, registration()), None)
            .await
            .map_err(to_sqlx)?;
        for _ in 1..events {
            log.execute(command(id, support()), None)
                .await
                .map_err(to_sqlx)?;
        }
        ids.push(id);
    }
    Ok(ids)
}

pub async fn run(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let log = EventLog::new(pool.clone()).await.map_err(to_sqlx)?;
    eprintln!("writing {HOUSEHOLDS} households of {LONG} events and {HOUSEHOLDS} of {SHORT}…");
    let short = Arc::new(households(&log, SHORT).await?);
    let long = Arc::new(households(&log, LONG).await?);
    // Writing a thousand events to a household in one burst leaves its status row a thousand
    // dead versions that autovacuum, over the years such a history takes, would long have
    // cleared: measure the history, not the burst.
    sqlx::query("VACUUM").execute(pool).await?;
    let ops = options.ops.min(2_000);

    let append = |ids: Arc<Vec<Uuid>>, log: EventLog| {
        move |i: usize| {
            let (log, id) = (log.clone(), ids[i % ids.len()]);
            async move {
                log.execute_retrying(command(id, support()))
                    .await
                    .map(|_| ())
                    .map_err(to_sqlx)
            }
        }
    };
    let (a, b) = interleaved(
        (
            &format!("store append to a household of {SHORT} events ×1"),
            &format!("store append to a household of {LONG} events ×1"),
        ),
        1,
        ops,
        append(Arc::clone(&short), log.clone()),
        append(Arc::clone(&long), log.clone()),
    )
    .await?;
    table.push(a);
    table.push(b);

    // Snapshots fall every EVERY events, so a cold load reads a tail of 0 to EVERY − 1 events
    // whatever the history. Each short household is brought to the tail of a long one, so the
    // two figures differ only in the history behind the snapshot.
    for (s, l) in short.iter().zip(long.iter()) {
        let tail = log.household(*l).await.map_err(to_sqlx)?.version() % snapshots::EVERY;
        while log.household(*s).await.map_err(to_sqlx)?.version() % snapshots::EVERY != tail {
            log.execute(command(*s, support()), None)
                .await
                .map_err(to_sqlx)?;
        }
    }

    // A process that has not seen the household: its snapshot and the events after it, read
    // past the cache every time.
    let load = |ids: Arc<Vec<Uuid>>, log: EventLog| {
        move |i: usize| {
            let (log, id) = (log.clone(), ids[i % ids.len()]);
            async move {
                log.household_from_log(id)
                    .await
                    .map(|_| ())
                    .map_err(to_sqlx)
            }
        }
    };
    let (a, b) = interleaved(
        (
            "cold load of a short household (snapshot + tail) ×1",
            &format!(
                "cold load of a household {} events longer (same tail) ×1",
                LONG - SHORT
            ),
        ),
        1,
        ops,
        load(short, log.clone()),
        load(long, log),
    )
    .await?;
    table.push(a);
    table.push(b);
    Ok(())
}
