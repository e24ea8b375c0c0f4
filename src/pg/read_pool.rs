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

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// Connections kept at most: reads are short, and eight keep two cores busy.
const MAX_CONNECTIONS: u32 = 8;
/// How long a read waits for a free connection before the database counts as unreachable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
                .build_unchecked(manager),
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
    /// Lent and not yet declared finished: dropped on return.
    in_use: bool,
}

pub struct Manager {
    options: PgConnectOptions,
}

/// A connection idle at least this long is checked with a round trip before it is lent (as
/// the request pool does, `db::pool_options`).
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

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
            in_use: false,
        })
    }

    /// Run at every lending: a connection opened before the embedded server was restarted is
    /// refused unused; a long-idle one is pinged first.
    async fn is_valid(&self, conn: &mut Pooled) -> Result<(), sqlx::Error> {
        if crate::pg::predates_restart(conn.opened.elapsed()) {
            return Err(sqlx::Error::PoolClosed);
        }
        if conn.last_lent.elapsed() >= IDLE_CHECK {
            conn.raw.ping().await?;
        }
        conn.last_lent = Instant::now();
        conn.in_use = true;
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.in_use
    }
}
