//! `ansinh bench`: throughput and latency of ansinh next to plain PostgreSQL, measured in the
//! same run on the same server (the machine is shared and noisy, so only ratios mean much).

mod appends;
mod measure;
mod pages;
mod province;

use sqlx::PgPool;

pub use measure::{Figure, Table};

#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Operations per figure.
    pub ops: usize,
    /// Households of the generated province that is imported, rebuilt and verified.
    pub households: usize,
}

/// Runs every benchmark on a fresh database and returns the table.
pub async fn run(pool: &PgPool, options: BenchOptions) -> Result<Table, sqlx::Error> {
    let mut table = Table::default();
    appends::run(pool, options, &mut table).await?;
    let work = tempfile::tempdir().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    province::run(pool, options, &mut table, work.path()).await?;
    Ok(table)
}
