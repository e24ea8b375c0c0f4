//! The read models that never lag: written in the transaction that appends the events.
//!
//! [`apply`] is the batch entry point (the bulk importer calls it with thousands of events); a
//! single command writes only the rows it changes ([`crate::changes`], in the same statement as
//! its events). The writes follow [`crate::locking::LOCK_ORDER`], as every writer's.

use sqlx::PgConnection;

use crate::log::{self, StoredEvent};

/// Status, history links, disbursements and the re-poverty register for a batch of stored
/// events (each household's earlier events are read from the log as needed).
pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let logs = log::load(conn, events).await?;
    apply_loaded(conn, events, &logs).await
}

/// Like [`apply`] with the histories at hand (`logs` is what [`log::load`] gives for `events`):
/// the bulk importer has them in memory and need not read them back.
pub async fn apply_loaded(
    conn: &mut PgConnection,
    events: &[StoredEvent<'_>],
    logs: &[log::HouseholdLog],
) -> Result<(), sqlx::Error> {
    crate::status::write(conn, logs).await?;
    crate::history::apply(conn, events).await?;
    crate::disbursements::write(conn, logs).await?;
    crate::re_poverty::write(conn, logs).await?;
    crate::flags::write(conn, logs).await?;
    Ok(())
}
