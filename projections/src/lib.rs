//! Read models of the ansinh event log: what supervisors, auditors and Fatherland Front monitors
//! read. Nobody reads or edits a mutable "households" table; every table here is a projection of
//! the append-only log and can be dropped and rebuilt from it (`ansinh rebuild`).
//!
//! | module | read model | kept |
//! | --- | --- | --- |
//! | [`status`] (+ [`time_travel`]) | category per standard, since when, flags; name search; status as of / as known on a date | inline |
//! | [`history`] | the audit trail, corrections linked to what they correct, paged | inline |
//! | [`disbursements`] | the support trail, corrections applied, totals | inline |
//! | [`re_poverty`] | the register of relapses (tái nghèo / tái cận nghèo) | inline |
//! | [`flags`] | red flags (rules as data), their explanations and acceptances | inline |
//! | [`movements`] | movement tables per unit, period and standard | async ([`runner`]) |
//! | [`units`] | administrative units, validity dates, "covers itself and below" | reference data |
//!
//! Every read model has a batch entry point, `apply(conn, &[StoredEvent])` (and `write(conn,
//! &[HouseholdLog])` once histories are loaded, see [`log`]), that writes with multi-row
//! statements; the runner, the bulk importer and [`rebuild`] go through it. A single command
//! writes only the rows it changes ([`changes`]), computed by the same row functions, so the
//! rows cannot depend on the path (tests/read_models.rs compares them). Batch writers are
//! idempotent: keyed rows with `ON CONFLICT DO NOTHING`, or a household's rows rewritten from
//! its history behind a version guard. Every writer takes the tables in one order,
//! [`locking::LOCK_ORDER`], so writers and rebuilds wait for each other instead of deadlocking.
//!
//! **Why the migrations are not here.** Each read model's tables are created by its own file in
//! the workspace's `migrations/` folder (`0003_status.sql` … `0008_projection_checkpoints.sql`),
//! not in this crate: sqlx runs one migrator over one folder and orders the files by their
//! number, and the read models refer to the log's and the units' tables (`household_events`,
//! `admin_unit_closure`), so one sequence must order them all. Two folders would be two
//! migrators with two histories and no order between them.

pub mod changes;
pub mod disbursements;
pub mod flags;
pub mod history;
pub mod inline;
pub mod locking;
pub mod log;
pub mod movements;
pub mod re_poverty;
pub mod rebuild;
pub mod register_as_of;
pub mod runner;
pub mod snapshots;
pub mod status;
pub mod tables;
pub mod time_travel;
pub mod units;

pub use log::{HouseholdLog, StoredEvent};
