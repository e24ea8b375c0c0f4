//! ansinh: event-sourced household poverty case tracking.

pub mod api;
pub mod cli;
pub mod db;
pub mod ended_units;
pub mod export;
pub mod funds;
pub mod generate;
pub mod import;
pub mod movement_report;
pub mod passwords;
pub mod pg;
pub mod posting_log;
pub mod progress;
pub mod projection_runner;
pub mod reform;
pub mod server;
pub mod store;
pub mod users;
pub mod verify;
// Page handlers answer `Result<Response, Response>`: a refusal is a page too, as big as any.
#[allow(clippy::result_large_err)]
pub mod web;
