//! PostgreSQL plumbing that is not the event store itself.

pub mod embedded;
pub mod supervise;

pub use embedded::{EmbeddedPg, EmbeddedPgError};
pub use supervise::{predates_restart, Supervisor};
