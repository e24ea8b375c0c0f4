//! ansinh: event-sourced household poverty case tracking.

pub mod cli;
pub mod db;
pub mod pg;
pub mod server;
pub mod store;
pub mod verify;
