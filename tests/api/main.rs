//! The HTTP API against a real PostgreSQL: authorization, concurrency and idempotency, bad
//! inputs, a whole household story, and the OpenAPI document.

#[path = "../common/mod.rs"]
mod common;

mod access_journal;
mod amounts;
mod authorization;
mod bad_inputs;
mod docs;
mod ended_units;
mod exports;
mod flags;
mod forms;
mod freshness;
mod funds;
mod health;
mod helpers;
mod household_pages;
mod households_list;
mod layers;
mod locking;
mod pages_registers;
mod postings;
mod probe_edge;
mod probe_units;
mod reform;
mod review;
mod review_story;
mod sign_in;
mod story;
mod users_cli;
mod writes;
