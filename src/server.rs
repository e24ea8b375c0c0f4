//! The HTTP server: binds, serves the routes of `api`, and stops cleanly on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use ansinh_events::standards::Standards;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::store::EventLog;
use crate::web::WebConfig;
use tower::ServiceExt as _;
use tower_sessions::ExpiredDeletion as _;
use tower_sessions_sqlx_store::PostgresStore;

/// Connections the request pool opens before the first request and keeps open, so a burst
/// of requests does not wait for connection start-ups (several ms each).
const WARM_CONNECTIONS: u32 = 8;

/// How long a request waits for a database connection before it answers 503
/// `database-unavailable`: while PostgreSQL is down or restarting, a request fails in this
/// time rather than in sqlx's default 30 s. Requests take milliseconds, so a healthy server
/// never makes one wait this long for a free connection.
pub const REQUEST_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A pool for request handling: the caller's database and size, with the pool policy of
/// [`crate::db::pool_options`] whatever pool the caller built, the short
/// [`REQUEST_ACQUIRE_TIMEOUT`], and `warm` connections opened before the first request.
async fn request_pool(pool: &PgPool, warm: u32) -> Result<PgPool, sqlx::Error> {
    let max = pool.options().get_max_connections();
    crate::db::pool_options(max)
        .acquire_timeout(REQUEST_ACQUIRE_TIMEOUT)
        .min_connections(warm.min(max))
        .connect_with((*pool.connect_options()).clone())
        .await
}

/// A bound, not yet running server. Binding first lets tests use port 0 and learn the port.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pool: PgPool,
    sessions: PostgresStore,
    access_log: crate::api::access_log::AccessLog,
}

/// How often expired sessions are deleted from the session table.
const SESSION_CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);

/// How often the asynchronous read models (movements, flags) look for new events. A report
/// is to trail the log by at most a second under load: this pause plus one catch-up (`ansinh
/// bench` measures the lag beside its HTTP commands). An idle server pays a few small reads,
/// four times a second, for it.
const PROJECTION_INTERVAL: Duration = Duration::from_millis(250);

impl Application {
    /// The application with the shipped poverty standards.
    pub async fn build(pool: PgPool, bind: SocketAddr) -> std::io::Result<Application> {
        let standards = Standards::builtin().map_err(std::io::Error::other)?;
        Self::build_with_standards(pool, bind, standards).await
    }

    /// The application with the given poverty standards (the shipped ones plus a folder's).
    pub async fn build_with_standards(
        pool: PgPool,
        bind: SocketAddr,
        standards: Standards,
    ) -> std::io::Result<Application> {
        Self::build_with_config(pool, bind, standards, WebConfig::default()).await
    }

    /// The application with the given poverty standards and web configuration
    /// (`--public-url`). Creates the session table (`tower_sessions.session`) if missing.
    pub async fn build_with_config(
        pool: PgPool,
        bind: SocketAddr,
        standards: Standards,
        web: WebConfig,
    ) -> std::io::Result<Application> {
        // The writes' pool (the event log's) fails as fast as the reads' pool.
        let writes = request_pool(&pool, 0)
            .await
            .map_err(std::io::Error::other)?;
        let cache = web
            .cache_events
            .unwrap_or(crate::store::cache::DEFAULT_CAPACITY_EVENTS);
        let log = EventLog::with_cache(writes, cache)
            .await
            .map_err(std::io::Error::other)?;
        let requests = request_pool(&pool, WARM_CONNECTIONS)
            .await
            .map_err(std::io::Error::other)?;
        let state = AppState::new(requests, log, standards, web);
        state
            .sessions
            .migrate()
            .await
            .map_err(std::io::Error::other)?;
        let sessions = state.sessions.clone();
        let access_log = state.access_log.clone();
        let listener = TcpListener::bind(bind).await?;
        Ok(Application {
            access_log,
            listener,
            router: api::router(state),
            pool,
            sessions,
        })
    }

    /// The server's access-log writer (to ship its journal now, as `GET /access-log` does).
    pub fn access_log(&self) -> crate::api::access_log::AccessLog {
        self.access_log.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves, and keeps the asynchronous read models up to date, until `shutdown` completes;
    /// then lets in-flight requests finish and stops the projection runner.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runner = tokio::spawn(crate::projection_runner::run_projections(
            self.pool,
            PROJECTION_INTERVAL,
            async move {
                let mut stopped = stopped;
                // Completes on the signal, or when the sender is dropped.
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
        let sessions = self.sessions;
        let cleanup = tokio::spawn(async move {
            let mut every = tokio::time::interval(SESSION_CLEANUP_INTERVAL);
            loop {
                every.tick().await;
                if let Err(e) = sessions.delete_expired().await {
                    tracing::warn!(error = %e, "expired sessions could not be deleted");
                }
            }
        });
        let served = serve(self.listener, self.router, async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
        cleanup.abort();
        // The reads answered are in the table before the process ends, and the journal goes.
        if let Err(e) = self.access_log.close().await {
            tracing::error!(error = %e, "the access-log journal could not be shipped; the next \
                server started on its folder ships it");
        }
        if let Err(e) = runner.await {
            tracing::error!(error = %e, "the projection runner stopped abnormally");
        }
        served
    }
}

/// How long a client may take to send a request's headers; a connection that has not sent
/// them all by then is closed (a slow-headers client cannot hold connections open).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` (HTTP/1.1 and HTTP/2, with upgrades) until `shutdown`
/// completes; then stops accepting, lets in-flight requests finish and closes idle
/// connections. Unlike `axum::serve`, it closes a connection whose request headers do not
/// arrive within [`HEADER_READ_TIMEOUT`].
async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The client's address, for the sign-in log (`ConnectInfo`, as `axum::serve` gives it).
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Set once the process has been asked to stop, when `listen_for_shutdown` was called.
static SHUTDOWN: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>> =
    std::sync::OnceLock::new();

/// Takes over SIGINT and SIGTERM for the whole process, now: from here on they never kill it
/// outright (which would leave the embedded PostgreSQL running), they make every
/// `shutdown_signal` complete. Call it first thing, inside the runtime.
pub fn listen_for_shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    if SHUTDOWN.set(rx).is_ok() {
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(true);
        });
    }
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    if let Some(rx) = SHUTDOWN.get() {
        let mut rx = rx.clone();
        let _ = rx.wait_for(|stop| *stop).await;
        return;
    }
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
