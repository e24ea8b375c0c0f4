//! `ansinh bench`: throughput and latency of ansinh next to plain PostgreSQL, measured in the
//! same run on the same server (the machine is shared and noisy, so only ratios mean much).

mod appends;
mod measure;

use sqlx::PgPool;

pub use measure::{Figure, Table};

#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Operations per figure.
    pub ops: usize,
}

/// Runs every benchmark on a fresh database and returns the table.
pub async fn run(pool: &PgPool, options: BenchOptions) -> Result<Table, sqlx::Error> {
    let mut table = Table::default();
    appends::run(pool, options, &mut table).await?;
    Ok(table)
}
