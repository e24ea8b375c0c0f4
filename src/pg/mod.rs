//! PostgreSQL plumbing that is not the event store itself.

pub mod embedded;

pub use embedded::{EmbeddedPg, EmbeddedPgError};
