//! The ansinh domain: what happened to a household, and the rules that decide what may happen
//! next. Pure and synchronous: no database, no network, no clock. Facts from outside (who acts,
//! the time, unit validity) arrive inside commands, so every rule is testable without IO.

pub mod chain;
pub mod envelope;
pub mod household;
pub mod money;

pub use chain::{ChainError, ChainHead, GENESIS_HASH};
pub use envelope::{
    Actor, CommandContext, Envelope, Facts, Idempotency, Recorded, Source, SCHEMA_VERSION,
};
