//! PostgreSQL plumbing that is not the event store itself.

pub mod embedded;
pub mod read_pool;
pub mod supervise;

pub use embedded::{EmbeddedPg, EmbeddedPgError};
pub use read_pool::ReadPool;
pub use supervise::{predates_restart, Supervisor};
