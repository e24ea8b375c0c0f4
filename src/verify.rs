//! Recomputing every hash chain, and the daily anchor auditors keep outside the system.
//!
//! Anchor of day D: take every household with at least one event recorded before the end of D
//! (midnight at the start of D+1, Vietnam time, UTC+7), its last such event's sequence and
//! hash; write one line `household_id:sequence:hash\n` per household (lowercase hyphenated
//! UUID, decimal sequence, hex hash), sorted by household id; then the same lines for the
//! chains of the other tables of [`CHAINED`] (funds, postings), table after table, each sorted by id;
//! the root is the lowercase hex SHA-256 of all lines concatenated. Anyone can recompute it
//! with `sha256sum`.

use ansinh_events::chain::{ChainBreak, ChainVerifier};
use ansinh_events::ChainHead;
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

/// Every event table holding hash chains, households first (their own count and anchor lines
/// come first). A new aggregate's table is one more entry.
pub const CHAINED: &[&str] = &["household_events", "fund_events", "posting_events"];

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("household {0} has no events")]
    UnknownHousehold(Uuid),
}

#[derive(Debug, Clone, Serialize)]
pub struct BrokenChain {
    /// The event table of the chain (`household_events`, `fund_events`).
    pub table: &'static str,
    /// The chain's aggregate id (a household's, or a fund's in `fund_events`).
    pub household_id: Uuid,
    pub first_bad_sequence: i64,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Anchor {
    pub date: NaiveDate,
    pub households: u64,
    pub events: u64,
    pub root: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub households: u64,
    /// Chains of the other tables of [`CHAINED`] (funds, postings), and their events (not
    /// counted in `events`, which are the households').
    pub other_chains: u64,
    pub other_events: u64,
    pub events: u64,
    pub broken: Vec<BrokenChain>,
    pub anchor: Option<Anchor>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
    }
}

/// Today in Vietnam (UTC+7), the day an anchor taken now belongs to.
pub fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

/// The first instant after day `date` in Vietnam (UTC+7).
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(date);
    next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - chrono::Duration::hours(7)
}

/// One household being checked; the anchor head is its last event recorded before the cutoff.
struct Walk {
    table: usize,
    household_id: Uuid,
    chain: ChainVerifier,
    anchor_head: Option<ChainHead>,
}

/// Streams the log in (household, sequence) order and checks every chain. With `anchor_date`,
/// also computes that day's anchor from the same pass.
pub async fn verify(
    pool: &PgPool,
    household: Option<Uuid>,
    anchor_date: Option<NaiveDate>,
    progress: &indicatif::ProgressBar,
) -> Result<VerifyReport, VerifyError> {
    let source = Source::Pool(pool.clone());
    Ok(verify_from(source, household, anchor_date, progress)
        .await?
        .0)
}

/// [`verify`] of every chain on one connection, which is handed back: inside a transaction
/// it checks the log as that transaction's snapshot sees it (what `ansinh backup` dumps).
pub async fn verify_on(
    conn: PoolConnection<Postgres>,
    anchor_date: Option<NaiveDate>,
    progress: &indicatif::ProgressBar,
) -> Result<(VerifyReport, PoolConnection<Postgres>), VerifyError> {
    let (report, source) =
        verify_from(Source::Connection(conn), None, anchor_date, progress).await?;
    match source {
        Source::Connection(conn) => Ok((report, conn)),
        Source::Pool(_) => unreachable!("the source comes back as it went in"),
    }
}

/// Where the rows are read from.
enum Source {
    Pool(PgPool),
    Connection(PoolConnection<Postgres>),
}

async fn verify_from(
    source: Source,
    household: Option<Uuid>,
    anchor_date: Option<NaiveDate>,
    progress: &indicatif::ProgressBar,
) -> Result<(VerifyReport, Source), VerifyError> {
    let cutoff = anchor_date.map(end_of_day);
    let mut report = VerifyReport {
        households: 0,
        other_chains: 0,
        other_events: 0,
        events: 0,
        broken: Vec::new(),
        anchor: None,
    };
    let mut anchor_lines = Sha256::new();
    let mut anchor_counts = (0u64, 0u64);
    let mut walk: Option<Walk> = None;

    let mut finish = |walk: Walk, report: &mut VerifyReport| {
        if walk.table == 0 {
            report.households += 1;
        } else {
            report.other_chains += 1;
        }
        if let Err(b) = walk.chain.finish() {
            report
                .broken
                .push(broken(CHAINED[walk.table], walk.household_id, &b));
        }
        if let Some(head) = walk.anchor_head {
            anchor_lines.update(format!(
                "{}:{}:{}\n",
                walk.household_id, head.sequence, head.hash
            ));
            anchor_counts.0 += 1;
            anchor_counts.1 += u64::try_from(head.sequence).unwrap_or(0);
        }
    };

    // Reading and hashing overlap: a task streams rows in chunks while this one hashes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(usize, Vec<Row>), sqlx::Error>>(8);
    let reader = tokio::spawn(stream_rows(source, household, tx));
    while let Some(chunk) = rx.recv().await {
        let (table, rows) = chunk?;
        for (household_id, sequence, payload) in rows {
            let sequence = i64::from(sequence);
            if walk.as_ref().map(|w| (w.table, w.household_id)) != Some((table, household_id)) {
                if let Some(done) = walk.take() {
                    finish(done, &mut report);
                }
                walk = Some(Walk {
                    table,
                    household_id,
                    chain: ChainVerifier::new(household_id),
                    anchor_head: None,
                });
            }
            let Some(current) = walk.as_mut() else {
                continue;
            };
            let payload: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
            // The anchor head is read before the payload is handed to the verifier.
            if let Some(cutoff) = cutoff {
                if recorded_at(&payload).is_some_and(|at| at < cutoff) {
                    current.anchor_head = Some(ChainHead {
                        sequence,
                        hash: payload["meta"]["hash"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    });
                }
            }
            current.chain.push_owned(sequence, payload);
            if table == 0 {
                report.events += 1;
            } else {
                report.other_events += 1;
            }
            progress.inc(1);
        }
    }
    let source = reader
        .await
        .map_err(|e| VerifyError::Database(sqlx::Error::Protocol(e.to_string())))?;
    if let Some(done) = walk.take() {
        finish(done, &mut report);
    }
    if let Some(id) = household {
        if report.events == 0 {
            return Err(VerifyError::UnknownHousehold(id));
        }
    }
    if let Some(date) = anchor_date {
        report.anchor = Some(Anchor {
            date,
            households: anchor_counts.0,
            events: anchor_counts.1,
            root: hex::encode(anchor_lines.finalize()),
        });
    }
    Ok((report, source))
}

type Row = (Uuid, i32, String);

type RowSender = tokio::sync::mpsc::Sender<Result<(usize, Vec<Row>), sqlx::Error>>;

/// Sends each chained table's rows in (aggregate, sequence) order, in chunks tagged with the
/// table's place in [`CHAINED`]; one household's: only the household table. Hands the source
/// back.
async fn stream_rows(mut source: Source, household: Option<Uuid>, tx: RowSender) -> Source {
    let tables = if household.is_some() {
        1
    } else {
        CHAINED.len()
    };
    for table in 0..tables {
        let sent = match &mut source {
            Source::Pool(pool) => send_rows(&*pool, table, household, tx.clone()).await,
            Source::Connection(conn) => send_rows(&mut **conn, table, household, tx.clone()).await,
        };
        if !sent {
            break;
        }
    }
    source
}

/// Whether every row was sent (false: the receiver left, or an error was sent).
async fn send_rows<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres> + 'e,
    table: usize,
    household: Option<Uuid>,
    tx: RowSender,
) -> bool {
    let name = CHAINED[table];
    let one = format!(
        "SELECT aggregate_id, sequence_number, payload::text FROM {name}
          WHERE aggregate_id = $1 ORDER BY sequence_number"
    );
    let all = format!(
        "SELECT aggregate_id, sequence_number, payload::text FROM {name}
          ORDER BY aggregate_id, sequence_number"
    );
    const CHUNK: usize = 1_000;
    // Two statements, not `$1 IS NULL OR aggregate_id = $1`, which a generic plan answers
    // with a full scan even for one household.
    let mut rows = match household {
        Some(id) => sqlx::query_as::<_, Row>(&one).bind(id).fetch(executor),
        None => sqlx::query_as::<_, Row>(&all).fetch(executor),
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        match rows.try_next().await {
            Ok(Some(row)) => {
                chunk.push(row);
                if chunk.len() == CHUNK
                    && tx
                        .send(Ok((table, std::mem::take(&mut chunk))))
                        .await
                        .is_err()
                {
                    return false;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return false;
            }
        }
    }
    chunk.is_empty() || tx.send(Ok((table, chunk))).await.is_ok()
}

fn recorded_at(payload: &Value) -> Option<DateTime<Utc>> {
    payload["meta"]["recorded_at"].as_str()?.parse().ok()
}

fn broken(table: &'static str, household_id: Uuid, b: &ChainBreak) -> BrokenChain {
    BrokenChain {
        table,
        household_id,
        first_bad_sequence: b.sequence(),
        problem: b.to_string(),
    }
}

/// Number of events, for sizing the progress bar of a full run (on a pool or a connection).
pub async fn count_events<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
) -> Result<u64, sqlx::Error> {
    let sum = CHAINED
        .iter()
        .map(|t| format!("(SELECT count(*) FROM {t})"))
        .collect::<Vec<_>>()
        .join(" + ");
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT ({sum})::bigint"))
        .fetch_one(executor)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
