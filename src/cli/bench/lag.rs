//! How far the asynchronous read models (movements, flags) trail the log while commands
//! arrive: a movements report answers from them, and is to be at most a second behind under
//! load.
//!
//! A watcher reads the log's head and the runner's checkpoints every [`TICK`]. Each new head
//! it sees is timed until every checkpoint has reached it, so a figure is accurate to about a
//! tick either way.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ansinh_projections::runner::{self, AsyncProjection, Cursor};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::measure::{percentile_ms, Figure};

const TICK: Duration = Duration::from_millis(50);

/// How long the watcher waits, once stopped, for the runner to reach the last head it saw.
const SETTLE: Duration = Duration::from_secs(10);

/// A watcher started beside a load.
pub struct Watch {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Vec<Duration>, sqlx::Error>>,
}

/// Starts watching the log and the runner's checkpoints.
pub fn start(pool: PgPool) -> Watch {
    let (stop, stopped) = oneshot::channel();
    Watch {
        stop,
        task: tokio::spawn(watch(pool, stopped)),
    }
}

impl Watch {
    /// Stops watching once the runner has caught up, and names the figure: `ops` is the
    /// number of heads timed, p50 and p99 their lag, the worst in the name.
    pub async fn finish(self, during: &str) -> Result<Figure, sqlx::Error> {
        let _ = self.stop.send(());
        let mut lags = self
            .task
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))??;
        lags.sort_unstable();
        let worst = percentile_ms(&lags, 1.0);
        Ok(Figure {
            name: format!(
                "movements and flags behind the log during {during} (p50, p99: the lag; worst {worst:.0} ms)"
            ),
            concurrency: 1,
            ops: lags.len(),
            per_sec: 0.0,
            p50_ms: percentile_ms(&lags, 0.50),
            p99_ms: percentile_ms(&lags, 0.99),
            baseline: None,
            ratio: None,
            goal: Some("goal: at most 1,000 ms behind".to_owned()),
            round_ratios: None,
        })
    }
}

async fn watch(
    pool: PgPool,
    mut stopped: oneshot::Receiver<()>,
) -> Result<Vec<Duration>, sqlx::Error> {
    let mut pending: VecDeque<(Instant, Cursor)> = VecDeque::new();
    let mut lags = Vec::new();
    let mut stopping: Option<Instant> = None;
    loop {
        let head = head(&pool).await?;
        let mut projected = head;
        for projection in AsyncProjection::ALL {
            projected = projected.min(runner::checkpoint(&pool, projection).await?);
        }
        let now = Instant::now();
        if pending.back().is_none_or(|(_, seen)| *seen < head) {
            pending.push_back((now, head));
        }
        while let Some((seen_at, seen)) = pending.front().copied() {
            if seen > projected {
                break;
            }
            lags.push(now - seen_at);
            pending.pop_front();
        }
        if stopping.is_none() && stopped.try_recv().is_ok() {
            stopping = Some(now);
        }
        if let Some(since) = stopping {
            if pending.is_empty() {
                return Ok(lags);
            }
            if since.elapsed() > SETTLE {
                // Never caught up: each head still waiting counts with the time it waited.
                lags.extend(pending.iter().map(|(seen_at, _)| now - *seen_at));
                return Ok(lags);
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

/// The log's last event in commit order.
async fn head(pool: &PgPool) -> Result<Cursor, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM household_events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map_or(Cursor::default(), |(transaction_id, global_position)| {
            Cursor {
                transaction_id,
                global_position,
            }
        }),
    )
}
