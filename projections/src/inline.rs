//! The read models that never lag: written in the transaction that appends the events.
//!
//! [`apply`] is the batch entry point (the bulk importer calls it with thousands of events);
//! [`InlineProjections`] is the esrs transactional handler, a thin wrapper that calls it with
//! the one event esrs hands over. The order of the writes is the order `rebuild` locks the
//! tables in.

use ansinh_events::household::Household;
use esrs::handler::TransactionalEventHandler;
use esrs::store::postgres::PgStoreError;
use esrs::store::StoreEvent;
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
    Ok(())
}

/// Registered on the event store (`EventLog::new`): keeps the inline read models in the append's
/// transaction, so a failure aborts the append.
pub struct InlineProjections;

#[async_trait::async_trait]
impl TransactionalEventHandler<Household, PgStoreError, PgConnection> for InlineProjections {
    async fn handle(
        &self,
        event: &StoreEvent<<Household as esrs::Aggregate>::Event>,
        tx: &mut PgConnection,
    ) -> Result<(), PgStoreError> {
        let stored = StoredEvent {
            household_id: event.aggregate_id,
            sequence: i64::from(event.sequence_number),
            global_position: None,
            event: &event.payload,
        };
        apply(tx, &[stored]).await.map_err(PgStoreError::Sqlx)
    }

    fn name(&self) -> &'static str {
        "inline_projections"
    }
}
