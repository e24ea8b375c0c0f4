//! Appends in one statement, `ansinh_append` (migrations/0043_append_in_batches.sql): the
//! events in esrs's row layout, the idempotency records and the changed inline read-model rows,
//! in the statement's own transaction.
//!
//! Commands decided at the same moment are sent together ("group commit"): a few writer tasks
//! take whatever appends are queued when they are free and send them as one batch, so a busy
//! server pays one round trip, one commit and one statement per table for all of them. Alone,
//! a command is a batch of one and waits for nobody. A batch holds one command per household
//! (its rows in household order, see the migration); should it fail for any reason, each of
//! its commands is sent again on its own, which gives each its own answer — a lost race, a
//! refused draw — while the others are written.
//!
//! Each writer sends on a connection of its own, outside the request pool: no pool round
//! trip per batch, and a burst of reads never makes a write wait for a free connection.
//!
//! The statement writes its tables in `LOCK_ORDER` (ansinh_projections::locking); rolled back
//! for a deadlock or a serialization failure (a rebuild or batch beside it), nothing of it was
//! kept and it is sent again, a bounded number of times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ansinh_events::household::HouseholdEvent;
use ansinh_events::{Idempotency, Recorded};
use ansinh_projections::changes::RowChanges;
use ansinh_projections::locking;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

/// Writer tasks: one batch in flight each. Two keep PostgreSQL busy while the other batch's
/// answers go back to their requests; more would only make batches smaller.
const WRITERS: usize = 2;
/// Commands in one batch at most: bounds one transaction's size and a command's wait.
const MAX_BATCH: usize = 64;

/// One command's append, ready to send.
pub(super) struct Append {
    household_id: Uuid,
    ids: Vec<Uuid>,
    sequences: Vec<i32>,
    payloads: Vec<String>,
    /// The moment the command was decided, as the events' hashed `recorded_at` says (and as
    /// the import writes it), not when the statement happens to run.
    occurred_on: DateTime<Utc>,
    idempotency: Option<serde_json::Value>,
    changes: RowChanges,
}

impl Append {
    pub(super) fn new(
        household_id: Uuid,
        events: &[Recorded<HouseholdEvent>],
        idempotency: Option<(Uuid, &Idempotency)>,
        changes: RowChanges,
    ) -> Result<Self, sqlx::Error> {
        let mut append = Append {
            household_id,
            ids: Vec::with_capacity(events.len()),
            sequences: Vec::with_capacity(events.len()),
            payloads: Vec::with_capacity(events.len()),
            occurred_on: events.first().map_or_else(Utc::now, |e| e.meta.recorded_at),
            idempotency: None,
            changes,
        };
        for e in events {
            // Time-ordered ids keep the primary-key index append-mostly (as esrs's UuidFormat::V7).
            append.ids.push(Uuid::now_v7());
            append
                .sequences
                .push(i32::try_from(e.meta.sequence).unwrap_or(i32::MAX));
            append
                .payloads
                .push(serde_json::to_string(e).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
        }
        append.idempotency = idempotency.map(|(user_id, i)| {
            serde_json::json!({
                "user_id": user_id, "key": i.key, "request_digest": i.request_digest,
                "first_sequence": append.sequences.first(),
            })
        });
        Ok(append)
    }

    /// What the append writes besides events, as `ansinh_append` names the statements it
    /// runs only when some command of the batch needs them.
    fn parts(&self) -> impl Iterator<Item = &'static str> {
        let c = &self.changes;
        [
            ("idempotency", self.idempotency.is_some()),
            ("status", c.status.is_some()),
            ("standings", !c.standings.is_empty()),
            ("standings_gone", !c.standings_gone.is_empty()),
            ("links", !c.links.is_empty()),
            ("disbursements_guard", c.disbursements_guard),
            ("disbursements", !c.disbursements.is_empty()),
            ("disbursements_gone", !c.disbursements_gone.is_empty()),
            ("fund_draws", !c.fund_draws.is_empty()),
            ("relapses_guard", c.relapses_guard),
            ("relapses", !c.relapses.is_empty()),
            ("relapses_gone", !c.relapses_gone.is_empty()),
        ]
        .into_iter()
        .filter_map(|(part, present)| present.then_some(part))
    }

    /// The household's version once this is written.
    fn version(&self) -> i32 {
        self.sequences.last().copied().unwrap_or_default()
    }
}

type Job = (Append, oneshot::Sender<Result<(), sqlx::Error>>);

/// The queue of appends and the writer tasks that empty it. The writers end when the last
/// clone of this is dropped.
#[derive(Clone)]
pub(super) struct Appender {
    queue: mpsc::UnboundedSender<Job>,
}

impl Appender {
    /// Starts the writers on the current tokio runtime.
    pub(super) fn start(pool: PgPool) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..WRITERS {
            tokio::spawn(write(Link::new(&pool), Arc::clone(&jobs)));
        }
        Appender { queue }
    }

    /// Writes `append` (with whatever else is queued) and says how it went.
    pub(super) async fn append(&self, append: Append) -> Result<(), sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((append, reply))
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// A writer's own connection, opened when first needed and again after it failed.
struct Link {
    options: PgConnectOptions,
    /// How long opening it may take: the request pool's acquire timeout.
    timeout: Duration,
    open: Option<(PgConnection, Instant)>,
}

impl Link {
    fn new(pool: &PgPool) -> Self {
        Link {
            options: (*pool.connect_options()).clone(),
            timeout: pool.options().get_acquire_timeout(),
            open: None,
        }
    }

    /// Runs `send` on the connection; one that breaks is closed, and the next batch opens
    /// a new one.
    async fn send(&mut self, appends: &[&Append]) -> Result<(), sqlx::Error> {
        // One opened before PostgreSQL last restarted leads nowhere (see crate::pg).
        if let Some((_, opened)) = &self.open {
            if crate::pg::predates_restart(opened.elapsed()) {
                self.open = None;
            }
        }
        let conn = match &mut self.open {
            Some((conn, _)) => conn,
            None => {
                let conn =
                    tokio::time::timeout(self.timeout, PgConnection::connect_with(&self.options))
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)??;
                &mut self.open.insert((conn, Instant::now())).0
            }
        };
        let sent = send(conn, appends).await;
        if sent.as_ref().is_err_and(is_broken) {
            self.open = None;
        }
        sent
    }
}

/// Whether `e` leaves the connection unusable (rather than only the statement refused): the
/// database cannot be reached, or the connection's protocol state is lost.
fn is_broken(e: &sqlx::Error) -> bool {
    crate::db::database_unreachable(e) || matches!(e, sqlx::Error::Protocol(_))
}

/// One writer: takes what is queued, one batch at a time.
async fn write(mut link: Link, jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
    let mut taken = Vec::with_capacity(MAX_BATCH);
    loop {
        if jobs.lock().await.recv_many(&mut taken, MAX_BATCH).await == 0 {
            return; // every sender is gone
        }
        // Household order, a household's later commands after its first: those wait for the
        // next statement (decided on the same state, they would fail the batch).
        taken.sort_by_key(|(a, _)| a.household_id);
        let mut batch: Vec<Job> = Vec::with_capacity(taken.len());
        let mut later = Vec::new();
        for job in taken.drain(..) {
            match batch.last() {
                Some((a, _)) if a.household_id == job.0.household_id => later.push(job),
                _ => batch.push(job),
            }
        }
        send_batch(&mut link, batch).await;
        for job in later {
            send_batch(&mut link, vec![job]).await;
        }
    }
}

/// Sends `batch`; if PostgreSQL refuses it, each of its commands on its own.
async fn send_batch(link: &mut Link, batch: Vec<Job>) {
    if batch.len() > 1 {
        let appends: Vec<&Append> = batch.iter().map(|(a, _)| a).collect();
        match link.send(&appends).await {
            Ok(()) => {
                for (_, reply) in batch {
                    let _ = reply.send(Ok(()));
                }
                return;
            }
            // The connection broke: the batch may have been committed before the answer was
            // lost. Sent again, its commands would meet their own events as a lost race and
            // be decided a second time; each is told the outcome is unknown instead (a client
            // retries safely with its Idempotency-Key).
            Err(e) if is_broken(&e) => {
                tracing::warn!(error = %e, commands = batch.len(), "connection lost under a batch");
                for (_, reply) in batch {
                    let _ = reply.send(Err(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        format!("the connection was lost while the append was sent: {e}"),
                    ))));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, commands = batch.len(), "batch refused; sending its commands one by one")
            }
        }
    }
    for (append, reply) in batch {
        // The request may have gone away meanwhile; its append is written all the same.
        let _ = reply.send(send_retrying(link, &append).await);
    }
}

/// One command, sent again after a deadlock or serialization failure.
async fn send_retrying(link: &mut Link, append: &Append) -> Result<(), sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match link.send(&[append]).await {
            Err(e) if locking::is_retryable(&e) && attempt < locking::MAX_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, household_id = %append.household_id, "append rolled back; sending it again");
                tokio::time::sleep(locking::backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

/// One `ansinh_append` of `appends` (distinct households, in household order).
async fn send(conn: &mut PgConnection, appends: &[&Append]) -> Result<(), sqlx::Error> {
    let events = appends.iter().map(|a| a.ids.len()).sum();
    let mut event_households = Vec::with_capacity(events);
    let mut ids = Vec::with_capacity(events);
    let mut sequences = Vec::with_capacity(events);
    let mut payloads = Vec::with_capacity(events);
    let mut occurred_on = Vec::with_capacity(events);
    for a in appends {
        event_households.extend(std::iter::repeat_n(a.household_id, a.ids.len()));
        ids.extend_from_slice(&a.ids);
        sequences.extend_from_slice(&a.sequences);
        payloads.extend(a.payloads.iter().map(String::as_str));
        occurred_on.extend(std::iter::repeat_n(a.occurred_on, a.ids.len()));
    }
    let households: Vec<Uuid> = appends.iter().map(|a| a.household_id).collect();
    let versions: Vec<i32> = appends.iter().map(|a| a.version()).collect();
    let idempotency: Vec<Option<Json<&serde_json::Value>>> = appends
        .iter()
        .map(|a| a.idempotency.as_ref().map(Json))
        .collect();
    let changes: Vec<Json<&RowChanges>> = appends.iter().map(|a| Json(&a.changes)).collect();
    let mut parts: Vec<&str> = appends.iter().flat_map(|a| a.parts()).collect();
    parts.sort_unstable();
    parts.dedup();
    sqlx::query("SELECT ansinh_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&event_households)
        .bind(&ids)
        .bind(&sequences)
        .bind(&payloads)
        .bind(&occurred_on)
        .bind(&households)
        .bind(&versions)
        .bind(&idempotency)
        .bind(&changes)
        .bind(&parts)
        .execute(conn)
        .await
        .map(drop)
}
