//! Bulk import of an annual review (CSV or XLSX).

pub mod copy;
pub mod format;
pub mod read;
