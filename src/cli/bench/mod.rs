//! `ansinh bench`: throughput and latency of ansinh next to plain PostgreSQL, measured in the
//! same run on the same server (the machine is shared and noisy, so only ratios mean much).

mod appends;
mod flags;
mod history;
mod http_floor;
mod lag;
mod measure;
mod pages;
mod province;
mod reform;
mod request_parts;

use sqlx::PgPool;

pub use measure::{Figure, Table};
pub use province::support_body;

#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Operations per figure.
    pub ops: usize,
    /// Households of the generated province that is imported, rebuilt and verified.
    pub households: usize,
}

/// A group of figures `ansinh bench --only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Single commands through the store, at 1 and 8 clients.
    Appends,
    /// Appends to and cold loads of households of 1,000 events against ones of 10.
    History,
    /// Import, rebuild, verify, HTTP commands and reads, pages, on a generated province.
    Province,
    /// `ansinh units reform` on the province as it stood before 1 July 2025.
    Reform,
}

/// Runs the chosen benchmarks (all when `sections` is empty) on a fresh database.
pub async fn run(
    pool: &PgPool,
    options: BenchOptions,
    sections: &[Section],
) -> Result<Table, sqlx::Error> {
    let wanted = |s: Section| sections.is_empty() || sections.contains(&s);
    let mut table = Table::default();
    let work = tempfile::tempdir().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    if wanted(Section::Appends) {
        appends::run(pool, options, &mut table).await?;
    }
    if wanted(Section::History) {
        history::run(pool, options, &mut table).await?;
    }
    if wanted(Section::Province) {
        province::run(pool, options, &mut table, work.path()).await?;
    }
    if wanted(Section::Reform) {
        reform::run(pool, options, &mut table, work.path()).await?;
    }
    Ok(table)
}
