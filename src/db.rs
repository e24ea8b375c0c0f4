//! Where the database comes from: the user's `DATABASE_URL`, or ansinh's own cluster.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::pg::{EmbeddedPg, EmbeddedPgError};

/// The database ansinh uses inside its own cluster.
const EMBEDDED_DATABASE: &str = "ansinh";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedPgError),
    #[error("the database URL is not valid: {0}")]
    BadUrl(sqlx::Error),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(sqlx::Error),
    #[error("could not apply the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not start the embedded PostgreSQL: {0}")]
    Join(String),
}

/// A connected pool and, when ansinh runs its own cluster, the handle that stops it on drop.
pub struct Database {
    pub pool: PgPool,
    /// The database as a URL libpq clients take (pg_dump, pg_restore, psql).
    pub url: String,
    /// Kept alive so the cluster is stopped (if this process started it) when dropped.
    pub embedded: Option<EmbeddedPg>,
}

/// Where to find PostgreSQL, from the global command-line options.
#[derive(Debug, Clone)]
pub enum Location {
    Url(String),
    Embedded(PathBuf),
}

impl Database {
    pub async fn open(location: &Location, max_connections: u32) -> Result<Database, DbError> {
        let (options, embedded, url) = match location {
            Location::Url(url) => (
                PgConnectOptions::from_str(url).map_err(DbError::BadUrl)?,
                None,
                url.clone(),
            ),
            Location::Embedded(dir) => {
                let embedded = start_embedded(dir).await?;
                embedded
                    .create_database_if_missing(EMBEDDED_DATABASE)
                    .await?;
                let url = embedded.url(EMBEDDED_DATABASE);
                (
                    embedded.connect_options(EMBEDDED_DATABASE),
                    Some(embedded),
                    url,
                )
            }
        };
        // Full scans (verify, rebuild) are slow by design; do not warn about them.
        let options = options.log_slow_statements(
            tracing::log::LevelFilter::Warn,
            std::time::Duration::from_secs(60),
        );
        let pool = pool_options(max_connections)
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Database {
            pool,
            url,
            embedded,
        })
    }
}

/// A connection idle at least this long is checked with a round trip before it is used.
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether a pooled connection of this `age`, idle this long, may be used: one opened before
/// the embedded server was restarted may not (it leads to a server that is gone); one idle
/// for [`IDLE_CHECK`] or more is pinged first. Every pool of ansinh lends by this rule.
pub async fn fit_for_use(
    conn: &mut sqlx::PgConnection,
    age: std::time::Duration,
    idle: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    if crate::pg::predates_restart(age) {
        return Ok(false);
    }
    if idle >= IDLE_CHECK {
        sqlx::Connection::ping(conn).await?;
    }
    Ok(true)
}

/// Every pool of ansinh: a connection is checked before use only when it sat idle a while,
/// not at every acquire (sqlx's default adds a round trip to every statement, a third of a
/// short read's cost). A connection that breaks in steady use fails one statement and is
/// dropped on release; one opened before the embedded server was restarted is dropped
/// unused.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| Box::pin(fit_for_use(conn, meta.age, meta.idle_for)))
}

async fn start_embedded(dir: &Path) -> Result<EmbeddedPg, DbError> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || EmbeddedPg::start(&dir))
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
        .map_err(DbError::from)
}

/// Applies the schema migrations embedded in the binary (never edit an applied one).
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}

/// Whether `e` says the database cannot be reached (rather than that a statement failed):
/// no connection free before the pool's acquire timeout, a connection that broke or was
/// refused, or the server shutting down, crashing or starting up.
pub fn database_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown,
        // cannot connect now; 53300: too many connections.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}
