//! Connections for the hottest reads (a household's load, a history page), handed back to
//! their pool without a round trip.
//!
//! sqlx's pool tests every connection it takes back with a `Sync` to the server and waits for
//! the answer (sqlx 0.8, unconditionally): for a one-statement read that is a second wake-up of
//! the server process and of ours per request. Here a connection goes back as it is, but only
//! when its caller says its statements finished ([`Lease::finished`]); a lease dropped before
//! that — an error, a request cancelled mid-statement — closes its connection instead, so a
//! connection in an unknown state is never reused. [`bb8`] keeps the pool; this module only
//! says how a connection is opened, checked and judged.

use std::time::Instant;

use futures::future::BoxFuture;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// Connections kept at most: reads are short, and eight keep two cores busy.
const MAX_CONNECTIONS: u32 = 8;
/// How long a read waits for a connection before it answers 503: as the request pool, so a
/// server whose PostgreSQL is down or restarting says so in the same time on every route.
const ACQUIRE_TIMEOUT: std::time::Duration = crate::server::REQUEST_ACQUIRE_TIMEOUT;

/// A pool of connections to the database of the request pool it was made from.
#[derive(Clone)]
pub struct ReadPool {
    pool: bb8::Pool<Manager>,
}

/// A connection lent by a [`ReadPool`]; it derefs to the `PgConnection` statements run on.
pub struct Lease<'a> {
    conn: bb8::PooledConnection<'a, Manager>,
}

impl ReadPool {
    /// A pool on the same server, database and settings as `pool`; opens nothing until used.
    pub fn new(pool: &PgPool) -> ReadPool {
        let manager = Manager {
            options: (*pool.connect_options()).clone(),
        };
        ReadPool {
            pool: bb8::Pool::builder()
                .max_size(MAX_CONNECTIONS)
                .min_idle(Some(0))
                .connection_timeout(ACQUIRE_TIMEOUT)
                .error_sink(Box::new(LogErrors))
                .build_unchecked(manager),
        }
    }

    /// Runs `read` on a lent connection and hands the connection back when it succeeds.
    ///
    /// A connection PostgreSQL closed while it sat idle (a terminated backend, a restart)
    /// fails its next statement with the server's last word or an I/O error; the read is then
    /// run again on another connection, as often as there are connections that may be stale.
    /// A read has nothing to undo (the one write it may do, dropping a spoiled snapshot, can
    /// be done twice), so no request fails for a connection it could not have known was gone.
    pub async fn read<T, F>(&self, mut read: F) -> Result<T, sqlx::Error>
    where
        F: for<'c> FnMut(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut conn = self.get().await?;
            match read(&mut conn).await {
                Ok(value) => {
                    conn.finished();
                    return Ok(value);
                }
                Err(e)
                    if crate::db::database_unreachable(&e)
                        && conn.reused()
                        && attempts <= MAX_CONNECTIONS =>
                {
                    tracing::debug!(error = %e, "read pool: a stale connection, reading again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A connection: an idle one when there is one, else a new one.
    pub async fn get(&self) -> Result<Lease<'_>, sqlx::Error> {
        match self.pool.get().await {
            Ok(conn) => Ok(Lease { conn }),
            Err(bb8::RunError::User(e)) => Err(e),
            Err(bb8::RunError::TimedOut) => Err(sqlx::Error::PoolTimedOut),
        }
    }
}

impl Lease<'_> {
    /// Says the statements run on this connection all finished: it goes back to the pool.
    pub fn finished(mut self) {
        self.conn.in_use = false;
    }

    /// Whether the connection was lent before (and so may have been closed since).
    fn reused(&self) -> bool {
        self.conn.lent > 1
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn.raw
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn.raw
    }
}

/// A pooled connection and what judging it needs.
pub struct Pooled {
    raw: PgConnection,
    opened: Instant,
    last_lent: Instant,
    /// Times lent.
    lent: u64,
    /// Lent and not yet declared finished: dropped on return.
    in_use: bool,
}

pub struct Manager {
    options: PgConnectOptions,
}

#[async_trait::async_trait]
impl bb8::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = sqlx::Error;

    async fn connect(&self) -> Result<Pooled, sqlx::Error> {
        let raw = PgConnection::connect_with(&self.options).await?;
        let now = Instant::now();
        Ok(Pooled {
            raw,
            opened: now,
            last_lent: now,
            lent: 0,
            in_use: false,
        })
    }

    /// Run at every lending, by the rule of every pool of ansinh ([`crate::db::fit_for_use`]).
    async fn is_valid(&self, conn: &mut Pooled) -> Result<(), sqlx::Error> {
        let (age, idle) = (conn.opened.elapsed(), conn.last_lent.elapsed());
        if !crate::db::fit_for_use(&mut conn.raw, age, idle).await? {
            return Err(sqlx::Error::Protocol(
                "opened before the embedded server was restarted".into(),
            ));
        }
        conn.last_lent = Instant::now();
        conn.lent += 1;
        conn.in_use = true;
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.in_use
    }
}

/// Where bb8 reports a connection it could not open or that failed its check (the read that
/// waited for it gets 503 once its time is up): the server's log.
#[derive(Debug, Clone, Copy)]
struct LogErrors;

impl bb8::ErrorSink<sqlx::Error> for LogErrors {
    fn sink(&self, error: sqlx::Error) {
        tracing::warn!(%error, "read pool: no connection");
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<sqlx::Error>> {
        Box::new(*self)
    }
}
