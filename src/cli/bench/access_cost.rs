//! What the access log's write costs a read: the server's own access-log writer, alone, at the
//! history figure's concurrency, one row per read as a history GET hands it, against the same
//! plain SELECT. Every personal-data read waits for its row to be committed before it answers
//! (`src/api/access_log.rs`), so on this machine, where everything shares two cores, the two
//! costs add up: a read cannot be faster than `1 / (1/page + 1/log)`, whatever the page costs.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use super::measure::interleaved;
use super::province::err;
use super::Table;
use crate::api::access_log::{AccessLog, AccessRow, Reader};
use crate::users::{Role, User};

/// The name of the user whose reads the figure logs.
const WRITER_ALONE: &str = "bench auditor (access log alone)";

/// Runs the writer alone against the plain SELECT of a household's events, interleaved.
pub async fn run(
    pool: &PgPool,
    ops: usize,
    ids: &Arc<Vec<Uuid>>,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let log = AccessLog::start(pool);
    // As the history GET logs an auditor's read (`src/api/auth.rs`); named apart from the
    // auditor of the HTTP figures, so its rows can be told from theirs and counted.
    let reader = Reader {
        user: User {
            id: Uuid::new_v4(),
            name: WRITER_ALONE.to_owned(),
            role: Role::Auditor,
            unit_code: "72".to_owned(),
            unit_ended: None,
        },
        endpoint: "GET /api/v1/households/{id}/history".to_owned(),
        request_id: None,
    };
    let (p, ids_s, ids_l) = (pool.clone(), Arc::clone(ids), Arc::clone(ids));
    let (select, logged) = interleaved(
        (
            "plain SELECT of a household's events ×8 (beside the access log)",
            "access-log row of a read ×8 (the writer alone, no page)",
        ),
        8,
        ops,
        move |i| super::appends::plain_select(p.clone(), ids_s[i % ids_s.len()]),
        move |i| {
            let (log, reader) = (log.clone(), reader.clone());
            let row = AccessRow {
                household_id: ids_l[i % ids_l.len()],
                unit_code: "72".to_owned(),
            };
            async move { log.record(reader, vec![row]).await.map_err(err) }
        },
    )
    .await?;
    // Each operation must have committed its row, in the real log.
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
