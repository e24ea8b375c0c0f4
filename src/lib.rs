//! ansinh: event-sourced household poverty case tracking.

pub mod bench;
pub mod classify_cli;
pub mod cli;
pub mod db;
pub mod import;
pub mod pg;
pub mod server;
pub mod store;
pub mod verify;
