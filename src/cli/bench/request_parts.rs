//! Parts of a request the HTTP figures pay, each run alone at their concurrency against the
//! same plain baseline: the access-log row every history read puts in the server's journal
//! before it answers (`src/api/access_log/`), and the load of a household a command meets for the first time
//! since the server started. On this machine everything shares two cores, so the parts' costs
//! add up: a request cannot run faster than `1 / (1/a + 1/b + …)` of its parts' rates,
//! whatever the rest costs.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use super::flags::PROVINCE;
use super::measure::interleaved;
use super::province::err;
use super::Table;
use crate::api::access_log::{AccessLog, AccessRow, Reader};
use crate::store::EventLog;
use crate::users::{Role, User};

/// The name of the user whose reads the figure logs.
const WRITER_ALONE: &str = "bench auditor (access log alone)";

/// Runs both parts against their baselines.
pub async fn run(
    pool: &PgPool,
    ops: usize,
    ids: &Arc<Vec<Uuid>>,
    sample: &Arc<serde_json::Value>,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    access_log(pool, ops, ids, table).await?;
    first_load(pool, ops, ids, sample, table).await
}

/// The server's own access-log writer alone against the plain SELECT of a household's events,
/// interleaved: one row per read, as a history GET hands it, each waiting for its journal line
/// (the shipments to the table run beside them, as in the server).
async fn access_log(
    pool: &PgPool,
    ops: usize,
    ids: &Arc<Vec<Uuid>>,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let log = AccessLog::start(pool, None);
    // As the history GET logs an auditor's read (`src/api/auth.rs`); named apart from the
    // auditor of the HTTP figures, so its rows can be told from theirs and counted.
    let reader = Reader {
        user: User {
            id: Uuid::new_v4(),
            name: WRITER_ALONE.to_owned(),
            role: Role::Auditor,
            unit_code: PROVINCE.to_owned(),
            unit_ended: None,
        },
        endpoint: "GET /api/v1/households/{id}/history".to_owned(),
        request_id: None,
    };
    let (p, ids_s, ids_l, writer) = (pool.clone(), Arc::clone(ids), Arc::clone(ids), log.clone());
    let (select, logged) = interleaved(
        (
            "plain SELECT of a household's events ×8 (beside the access log)",
            "access-log row of a read ×8 (the journal alone, no page)",
        ),
        8,
        ops,
        move |i| super::appends::plain_select(p.clone(), ids_s[i % ids_s.len()]),
        move |i| {
            let (log, reader) = (writer.clone(), reader.clone());
            let row = AccessRow {
                household_id: ids_l[i % ids_l.len()],
                unit_code: PROVINCE.to_owned(),
            };
            async move { log.record(reader, vec![row]).await.map_err(err) }
        },
    )
    .await?;
    // Each operation's row must reach the real log.
    log.close().await.map_err(err)?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM access_log WHERE user_name = $1")
        .bind(WRITER_ALONE)
        .fetch_one(pool)
        .await?;
    if usize::try_from(rows).ok() != Some(ops) {
        return Err(err(format!(
            "the access log holds {rows} rows of the writer's {ops} reads"
        )));
    }
    table.push(select);
    table.push(logged);
    Ok(())
}

/// A household read as a command meets it first (its snapshot and the events after it, read
/// past the cache, decoded and folded) against a plain one-row INSERT, interleaved: what the
/// first-touch POST pays before it decides anything.
async fn first_load(
    pool: &PgPool,
    ops: usize,
    ids: &Arc<Vec<Uuid>>,
    sample: &Arc<serde_json::Value>,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let log = EventLog::new(pool.clone())
        .await
        .map_err(super::appends::to_sqlx)?;
    let (p, sample, ids) = (pool.clone(), Arc::clone(sample), Arc::clone(ids));
    let (insert, load) = interleaved(
        (
            "plain INSERT ×8 (beside the first load)",
            "load of a household met for the first time ×8 (alone, no command)",
        ),
        8,
        ops,
        move |_| super::appends::plain_insert(p.clone(), Arc::clone(&sample)),
        move |i| {
            let (log, id) = (log.clone(), ids[i % ids.len()]);
            async move {
                let loaded = log
                    .household_from_log(id)
                    .await
                    .map_err(super::appends::to_sqlx)?;
                // An imported household, so a load that found nothing is a broken figure.
                match loaded.state.registered_on {
                    Some(_) => Ok(()),
                    None => Err(err(format!("household {id} was not found"))),
                }
            }
        },
    )
    .await?;
    table.push(insert);
    table.push(load);
    Ok(())
}
