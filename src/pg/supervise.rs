//! Keeping the embedded PostgreSQL running: the process that started the cluster (`serve`,
//! `demo`) watches its postmaster and starts it again when it dies (killed, OOM-killed,
//! crashed), so the server serves again without anyone restarting ansinh. When every attempt
//! fails, the watcher gives up and the caller exits non-zero, for an outside supervisor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::{EmbeddedPg, EmbeddedPgError};

/// How often the postmaster is looked at (a read of two small /proc files).
const CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// Starts tried in a row before giving up, waiting 1, 2, 4 and 8 s in between.
const RESTART_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Watches a cluster this process started; see [`EmbeddedPg::supervisor`].
pub struct Supervisor {
    pg: Arc<std::sync::Mutex<EmbeddedPg>>,
}

impl EmbeddedPg {
    /// A watcher for this cluster when this value started its server; `None` when it found
    /// the server running: the process (or administrator) that started it keeps it running.
    pub fn supervisor(&self) -> Option<Supervisor> {
        self.started_server().then(|| Supervisor {
            pg: Arc::new(std::sync::Mutex::new(self.detached())),
        })
    }
}

impl Supervisor {
    /// Runs until the server died and could not be started again in [`RESTART_ATTEMPTS`]
    /// tries; returns the last error then. Every death and restart is logged.
    pub async fn keep_running(self) -> EmbeddedPgError {
        loop {
            tokio::time::sleep(CHECK_INTERVAL).await;
            if self
                .blocking(|pg| Ok(pg.postmaster_alive()))
                .await
                .unwrap_or(true)
            {
                continue;
            }
            let down = Instant::now();
            // Connections opened before now are to the dead server: pools drop them unused.
            note_restart();
            tracing::warn!("the embedded PostgreSQL server has stopped; starting it again");
            let mut backoff = FIRST_BACKOFF;
            let mut attempt = 1;
            loop {
                match self.blocking(EmbeddedPg::restart).await {
                    Ok(ours) => {
                        note_restart();
                        tracing::info!(
                            attempt,
                            by_this_process = ours,
                            down_ms = down.elapsed().as_millis() as u64,
                            "the embedded PostgreSQL server is running again"
                        );
                        break;
                    }
                    Err(error) if attempt >= RESTART_ATTEMPTS => {
                        tracing::error!(%error, attempt, "giving up on the embedded PostgreSQL");
                        return error;
                    }
                    Err(error) => {
                        tracing::error!(
                            %error,
                            attempt,
                            retry_in_s = backoff.as_secs(),
                            "could not start the embedded PostgreSQL again"
                        );
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                        attempt += 1;
                    }
                }
            }
        }
    }

    /// Runs `f` on the cluster on a blocking thread (it waits on locks and on pg_ctl).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut EmbeddedPg) -> Result<T, EmbeddedPgError> + Send + 'static,
    ) -> Result<T, EmbeddedPgError> {
        let pg = Arc::clone(&self.pg);
        tokio::task::spawn_blocking(move || {
            let mut pg = pg.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut pg)
        })
        .await
        .unwrap_or_else(|e| {
            Err(EmbeddedPgError::Command {
                program: "ansinh",
                status: "panicked".into(),
                detail: e.to_string(),
            })
        })
    }
}

/// The process's clock for [`note_restart`], in milliseconds since its first use.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// When the server was last found dead or started again, as milliseconds after [`epoch`]
/// plus one (0: never).
static LAST_RESTART: AtomicU64 = AtomicU64::new(0);

fn note_restart() {
    let at = epoch().elapsed().as_millis() as u64 + 1;
    LAST_RESTART.store(at, Ordering::Relaxed);
}

/// Whether a connection of this `age` was opened before the server last died or restarted:
/// it leads to a server that is gone, and is closed instead of failing a statement.
pub fn predates_restart(age: Duration) -> bool {
    let at = LAST_RESTART.load(Ordering::Relaxed);
    if at == 0 {
        return false;
    }
    let since_restart = epoch()
        .elapsed()
        .saturating_sub(Duration::from_millis(at - 1));
    age > since_restart
}
