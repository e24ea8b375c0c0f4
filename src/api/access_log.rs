//! Writing the read-access log: who read whose personal data, when, through which endpoint.
//!
//! Fail-closed: a request waits until its rows are committed before its response goes out,
//! and gets an error (so hands out nothing) when they are not. Two things keep that cheap:
//!
//! * the rows of requests that arrive while a write is under way are written together by one
//!   writer task, in one INSERT and one commit (group commit), so eight readers at once cost
//!   about one or two inserts, not eight;
//! * the writer has a connection of its own (no pool round trips), whose commits do not wait
//!   for the WAL flush (`synchronous_commit` off for that session only). A crash of PostgreSQL
//!   may lose the entries of its last moments (at most three `wal_writer_delay`s, 0.6 s by
//!   default), never part of one: each batch is one transaction.

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::users::User;

/// Rows handed to the writer at most at once.
const MAX_BATCH: usize = 256;
/// Requests that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;

/// One read of one household.
#[derive(Debug, Clone)]
pub struct AccessRow {
    pub household_id: Uuid,
    /// The household's unit when it was read, so auditors see the log of their own units.
    pub unit_code: String,
}

/// What the rows of one request share.
#[derive(Debug, Clone)]
pub struct Reader {
    pub user: User,
    /// Method and route, e.g. `GET /api/v1/households/{id}/history`.
    pub endpoint: String,
    pub request_id: Option<String>,
}

/// The handle requests log through; cheap to clone. The writer task stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct AccessLog {
    queue: mpsc::Sender<Pending>,
}

struct Pending {
    reader: Reader,
    rows: Vec<AccessRow>,
    done: oneshot::Sender<Result<(), ApiError>>,
}

impl AccessLog {
    /// Starts the writer task on the current runtime, on a connection to `pool`'s database.
    pub fn start(pool: &PgPool) -> AccessLog {
        let (queue, pending) = mpsc::channel(QUEUE);
        let options = (*pool.connect_options()).clone();
        tokio::spawn(write_batches(options, pending));
        AccessLog { queue }
    }

    /// Logs `rows` and returns once they are committed; an error means they are not (503 when
    /// the database cannot be reached, else 500).
    pub async fn record(&self, reader: Reader, rows: Vec<AccessRow>) -> Result<(), ApiError> {
        let (done, committed) = oneshot::channel();
        let pending = Pending { reader, rows, done };
        self.queue
            .send(pending)
            .await
            .map_err(|_| ApiError::internal("the access-log writer has stopped"))?;
        committed
            .await
            .map_err(|_| ApiError::internal("the access-log writer stopped before committing"))?
    }
}

async fn write_batches(options: PgConnectOptions, mut pending: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut connection: Option<PgConnection> = None;
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write(&options, &mut connection, &batch).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, rows = batch.len(), "the access log could not be written");
            // Whatever went wrong, the next batch starts on a fresh connection.
            connection = None;
        }
        let result = result.map_err(ApiError::from);
        for request in batch.drain(..) {
            // A request that gave up waiting needs no answer.
            let _ = request.done.send(result.clone());
        }
    }
}

async fn write(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    batch: &[Pending],
) -> Result<(), sqlx::Error> {
    let conn = match connection {
        Some(conn) => conn,
        None => {
            let mut conn = PgConnection::connect_with(options).await?;
            sqlx::query("SET synchronous_commit TO off")
                .execute(&mut conn)
                .await?;
            connection.insert(conn)
        }
    };
    insert(conn, batch).await
}

async fn insert(conn: &mut PgConnection, batch: &[Pending]) -> Result<(), sqlx::Error> {
    let mut columns = Columns::default();
    for request in batch {
        for row in &request.rows {
            columns.push(&request.reader, row);
        }
    }
    if columns.household_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO access_log (user_id, user_name, role, user_unit, household_id, unit_code,
                                 endpoint, request_id)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[],
                              $6::text[], $7::text[], $8::text[])",
    )
    .bind(&columns.user_ids)
    .bind(&columns.user_names)
    .bind(&columns.roles)
    .bind(&columns.user_units)
    .bind(&columns.household_ids)
    .bind(&columns.unit_codes)
    .bind(&columns.endpoints)
    .bind(&columns.request_ids)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Default)]
struct Columns {
    user_ids: Vec<Uuid>,
    user_names: Vec<String>,
    roles: Vec<&'static str>,
    user_units: Vec<String>,
    household_ids: Vec<Uuid>,
    unit_codes: Vec<String>,
    endpoints: Vec<String>,
    request_ids: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, reader: &Reader, row: &AccessRow) {
        self.user_ids.push(reader.user.id);
        self.user_names.push(reader.user.name.clone());
        self.roles.push(reader.user.role.as_str());
        self.user_units.push(reader.user.unit_code.clone());
        self.household_ids.push(row.household_id);
        self.unit_codes.push(row.unit_code.clone());
        self.endpoints.push(reader.endpoint.clone());
        self.request_ids.push(reader.request_id.clone());
    }
}
