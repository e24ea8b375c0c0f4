//! Writing the read-access log: who read whose personal data, when, through which endpoint.
//!
//! A read is answered once its row is in this server's journal, a file of its own
//! ([`journal`]); a writer task ships the journal to the `access_log` table every
//! [`SHIP_EVERY`], one transaction a batch. Committing a row before each read cost PostgreSQL
//! a statement and a commit per read, about a quarter of a history read's throughput (`ansinh
//! bench`, README "Benchmarks"); one batch every 100 ms costs it next to nothing.
//!
//! What that keeps of the log's promise:
//! * no read goes unlogged: a read whose row cannot be written to the journal is refused, and
//!   while the table refuses the journal's rows (a full disk, a broken table), so is every
//!   read after the first failed shipment, until a shipment succeeds;
//! * nothing is lost when the server dies: the journal outlives it, and the next server
//!   started on the same journal folder ships what it left ([`journal::recover`]);
//! * the table trails the reads by at most [`SHIP_EVERY`] (plus a failed shipment's retry),
//!   and `GET /api/v1/access-log` ships this server's journal before it answers.

mod journal;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot, watch};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::users::User;
use journal::{Journal, Line};

/// The writer's connection's `application_name`.
pub const APPLICATION_NAME: &str = "ansinh access log";
/// How often the journal is shipped to the table.
pub const SHIP_EVERY: Duration = Duration::from_millis(100);
/// How long a failed recovery of earlier servers' journals waits before it is tried again.
const RECOVER_RETRY: Duration = Duration::from_secs(60);
/// Requests handed to the writer at most at once.
const MAX_BATCH: usize = 256;
/// Requests that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;

/// One row of the access log, as auditors read it and as a server's journal holds it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct AccessLogEntry {
    pub at: DateTime<Utc>,
    pub user_id: Uuid,
    pub user_name: String,
    pub role: String,
    pub user_unit: String,
    pub household_id: Uuid,
    pub unit_code: String,
    pub endpoint: String,
    pub request_id: Option<String>,
}

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

/// The handle requests log through; cheap to clone. When the last handle is dropped the
/// writer ships what is left, removes its journal and stops.
#[derive(Clone)]
pub struct AccessLog {
    queue: mpsc::Sender<Message>,
    /// Set while the table refuses the journal's rows; every read is refused meanwhile.
    refused: watch::Receiver<Option<ApiError>>,
}

enum Message {
    Record {
        reader: Reader,
        rows: Vec<AccessRow>,
        done: oneshot::Sender<Result<(), ApiError>>,
    },
    /// Ship now; with `close`, also remove the journal's file.
    Ship {
        close: bool,
        done: oneshot::Sender<Result<(), ApiError>>,
    },
}

impl AccessLog {
    /// Starts the writer task on the current runtime, on a connection of its own to `pool`'s
    /// database. The journal goes in `dir`, where this server also ships what earlier ones
    /// left; `None` takes a private folder removed with the writer, for a server that has no
    /// folder of its own (tests, the bench): what it journals survives only while it runs.
    pub fn start(pool: &PgPool, dir: Option<PathBuf>) -> AccessLog {
        let (queue, messages) = mpsc::channel(QUEUE);
        let (refuse, refused) = watch::channel(None);
        let (dir, private) = match dir {
            Some(dir) => (dir, None),
            None => match tempfile::Builder::new()
                .prefix("ansinh-access-journal-")
                .tempdir()
            {
                Ok(private) => (private.path().to_owned(), Some(private)),
                // A shared folder then, kept like a server's own.
                Err(_) => (std::env::temp_dir().join("ansinh-access-journal"), None),
            },
        };
        let writer = Writer {
            // Named, so an operator sees it in `pg_stat_activity`.
            options: (*pool.connect_options())
                .clone()
                .application_name(APPLICATION_NAME),
            dir,
            connection: None,
            journal: None,
            unshipped: Vec::new(),
            refuse,
            recover_at: Some(Instant::now()),
        };
        tokio::spawn(writer.run(messages, private));
        AccessLog { queue, refused }
    }

    /// Puts `rows` in the journal; an error means they are not, and the read must be refused
    /// (503 when the database cannot be reached, else 500). Also refused, without writing,
    /// while the table refuses the journal's rows.
    pub async fn record(&self, reader: Reader, rows: Vec<AccessRow>) -> Result<(), ApiError> {
        if let Some(refused) = self.refused.borrow().clone() {
            return Err(refused);
        }
        let (done, journaled) = oneshot::channel();
        self.send(Message::Record { reader, rows, done }, journaled)
            .await
    }

    /// Ships this server's journal to the table now: what the table shows afterwards holds
    /// every read this server answered before the call.
    pub async fn ship(&self) -> Result<(), ApiError> {
        let (done, shipped) = oneshot::channel();
        let close = false;
        self.send(Message::Ship { close, done }, shipped).await
    }

    /// Ships the journal and removes its file, as a server stopping does; a read after this
    /// opens a new journal.
    pub async fn close(&self) -> Result<(), ApiError> {
        let (done, closed) = oneshot::channel();
        let close = true;
        self.send(Message::Ship { close, done }, closed).await
    }

    async fn send(
        &self,
        message: Message,
        answer: oneshot::Receiver<Result<(), ApiError>>,
    ) -> Result<(), ApiError> {
        self.queue
            .send(message)
            .await
            .map_err(|_| ApiError::internal("the access-log writer has stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the access-log writer stopped before answering"))?
    }
}

/// The writer task's state: its connection, its journal and the rows not yet shipped.
struct Writer {
    options: PgConnectOptions,
    dir: PathBuf,
    connection: Option<PgConnection>,
    journal: Option<Journal>,
    unshipped: Vec<Line>,
    refuse: watch::Sender<Option<ApiError>>,
    /// When to ship the journals earlier servers left in `dir`; `None` once done.
    recover_at: Option<Instant>,
}

impl Writer {
    async fn run(
        mut self,
        mut queue: mpsc::Receiver<Message>,
        _private: Option<tempfile::TempDir>,
    ) {
        let mut messages = Vec::with_capacity(MAX_BATCH);
        let mut tick = tokio::time::interval(SHIP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = queue.recv_many(&mut messages, MAX_BATCH) => {
                    if received == 0 {
                        break;
                    }
                    self.handle(&mut messages).await;
                }
                _ = tick.tick() => {
                    let _ = self.ship().await;
                }
            }
        }
        // The last handle is gone: ship what is left and remove the journal.
        let _ = self.close().await;
    }

    async fn close(&mut self) -> Result<(), ApiError> {
        self.ship().await?;
        if let (Some(journal), Some(conn)) = (self.journal.take(), self.connection.as_mut()) {
            journal.close(conn).await;
        }
        Ok(())
    }

    /// Journals the rows of the requests in `messages` with one write, answers them, then
    /// ships if asked to.
    async fn handle(&mut self, messages: &mut Vec<Message>) {
        let mut lines = Vec::new();
        let mut recorded = Vec::new();
        let mut ships = Vec::new();
        let mut close = false;
        let at = Utc::now();
        for message in messages.drain(..) {
            match message {
                Message::Record { reader, rows, done } => {
                    lines.extend(rows.into_iter().map(|row| line(&reader, row, at)));
                    recorded.push(done);
                }
                Message::Ship { close: c, done } => {
                    close |= c;
                    ships.push(done);
                }
            }
        }
        if !recorded.is_empty() {
            let result = self.journal(lines).await;
            for done in recorded {
                // A request that gave up waiting needs no answer.
                let _ = done.send(result.clone());
            }
        }
        if !ships.is_empty() {
            // Closing ships too.
            let result = if close {
                self.close().await
            } else {
                self.ship().await
            };
            for done in ships {
                let _ = done.send(result.clone());
            }
        }
    }

    async fn journal(&mut self, mut lines: Vec<Line>) -> Result<(), ApiError> {
        if let Some(refused) = self.refuse.borrow().clone() {
            return Err(refused);
        }
        if self.journal.is_none() {
            let conn = connected(&mut self.connection, &self.options).await?;
            let opened = Journal::open(&self.dir, conn).await;
            self.journal = Some(opened.map_err(|e| {
                tracing::error!(error = %e, "the access-log journal could not be opened");
                ApiError::internal(e)
            })?);
        }
        let Some(journal) = self.journal.as_mut() else {
            return Err(ApiError::internal("the access-log journal is not open"));
        };
        journal.append(&mut lines).map_err(|e| {
            tracing::error!(error = %e, "the access-log journal could not be written");
            ApiError::internal(format!("the access-log journal: {e}"))
        })?;
        self.unshipped.append(&mut lines);
        Ok(())
    }

    /// Ships the unshipped rows; on a failure every read is refused until a shipment
    /// succeeds. Also ships what earlier servers left, until that has worked once.
    async fn ship(&mut self) -> Result<(), ApiError> {
        self.recover().await;
        let mut result = self.try_ship().await;
        if result.is_err() {
            // A connection PostgreSQL closed while it sat idle (a restart, a terminated
            // backend) fails once: try again on a fresh one before refusing any read.
            self.connection = None;
            result = self.try_ship().await;
        }
        match &result {
            Ok(()) => {
                self.refuse
                    .send_if_modified(|refused| refused.take().is_some());
            }
            Err(e) => {
                tracing::error!(error = %e, rows = self.unshipped.len(),
                    "the access log could not be shipped; reads are refused until it is");
                // Whatever went wrong, the next try starts on a fresh connection.
                self.connection = None;
                self.refuse.send_replace(Some(e.clone()));
            }
        }
        result
    }

    async fn try_ship(&mut self) -> Result<(), ApiError> {
        let Some(id) = self.journal.as_ref().map(|j| j.id) else {
            return Ok(());
        };
        if self.unshipped.is_empty() {
            return Ok(());
        }
        let conn = connected(&mut self.connection, &self.options).await?;
        journal::ship(conn, id, &self.unshipped).await?;
        self.unshipped.clear();
        if let Some(Err(e)) = self.journal.as_mut().map(Journal::all_shipped) {
            // Harmless: the mark says its lines are shipped, so none is shipped twice.
            tracing::warn!(error = %e, "the shipped access-log journal could not be emptied");
        }
        Ok(())
    }

    /// Ships the journals earlier servers left in the folder. A failure is logged, not
    /// answered to reads (they are not this server's rows), and tried again a minute later.
    async fn recover(&mut self) {
        if self.recover_at.is_none_or(|at| Instant::now() < at) {
            return;
        }
        let result = match connected(&mut self.connection, &self.options).await {
            Ok(conn) => journal::recover(&self.dir, conn).await,
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(_) => self.recover_at = None,
            Err(e) => {
                tracing::error!(error = %e, "journals left by stopped servers could not be shipped");
                self.recover_at = Some(Instant::now() + RECOVER_RETRY);
            }
        }
    }
}

/// The writer's connection, opened if it has none.
async fn connected<'c>(
    connection: &'c mut Option<PgConnection>,
    options: &PgConnectOptions,
) -> Result<&'c mut PgConnection, sqlx::Error> {
    if connection.is_none() {
        *connection = Some(PgConnection::connect_with(options).await?);
    }
    connection.as_mut().ok_or(sqlx::Error::PoolClosed)
}

/// The journal's line for one row of a read answered `at`.
fn line(reader: &Reader, row: AccessRow, at: DateTime<Utc>) -> Line {
    Line {
        seq: 0,
        row: AccessLogEntry {
            at,
            user_id: reader.user.id,
            user_name: reader.user.name.clone(),
            role: reader.user.role.as_str().to_owned(),
            user_unit: reader.user.unit_code.clone(),
            household_id: row.household_id,
            unit_code: row.unit_code,
            endpoint: reader.endpoint.clone(),
            request_id: reader.request_id.clone(),
        },
    }
}
