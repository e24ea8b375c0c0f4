//! Read models of the ansinh event log. Each module holds one read model: its queries and the
//! handler that keeps it up to date. Their tables are created by the workspace's migrations
//! (`migrations/`, one file per read model), so one migrator orders them all.

pub mod units;
