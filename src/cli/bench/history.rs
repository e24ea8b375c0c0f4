//! Whether a command's cost grows with the household's history: appends to, and cold loads of,
//! households of 1,000 events against households of 10, measured in alternating rounds like
//! every other figure. The goal is a ratio of at least 0.8 (a long household costing at most
//! 1.25× a short one).

use std::sync::Arc;

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

    // A process that has not seen the household: its snapshot and the events after it (the
    // long households wrote one every 64 appends), read past the cache every time.
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
            &format!("cold load of a household of {SHORT} events ×1"),
            &format!("cold load of a household of {LONG} events (snapshot + tail) ×1"),
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
