//! Bulk import of an annual review (CSV or XLSX).

pub mod commands;
pub mod copy;
pub mod format;
mod placement;
pub mod postings;
pub mod read;
pub mod run;
