//! The ansinh domain: what happened to a household, and the rules that decide what may happen
//! next. Pure and synchronous: no database, no network, no clock. Facts from outside (who acts,
//! the time, unit validity, the standards in force) arrive inside commands, so every rule is
//! testable without IO. The only IO is reading standard and parameter files from a folder the
//! caller names.

pub mod area;
pub mod chain;
pub mod envelope;
pub mod fund;
pub mod household;
pub mod money;
pub mod policy_params;
pub mod posting;
pub mod review_deadlines;
pub mod standards;
pub mod text;

pub use area::Area;
pub use chain::{ChainError, ChainHead, GENESIS_HASH};
pub use envelope::{
    Actor, CommandContext, Envelope, Facts, Idempotency, Recorded, Source, SCHEMA_VERSION,
};
pub use money::Vnd;
pub use standards::{Category, Standard, Standards};
