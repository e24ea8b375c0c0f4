//! `ansinh units reform` and `ansinh units worklist` on the command line.

use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use sqlx::PgPool;

use crate::cli::Failure;
use crate::reform::{worklist, ReformError, ReformOptions};
use ansinh_projections::units::succession;

/// Carry every open household across a reform of the units (default: the 2025 merger of
/// communes, effective 2025-07-01, Resolution 1682/NQ-UBTVQH15).
#[derive(Debug, Args)]
pub struct ReformArgs {
    /// Mapping file (old_code,old_name,new_code,new_name,whole); default: the shipped one.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Hamlet file (old_code,hamlet,new_code) placing households of split communes by hamlet;
    /// the others wait on the worklist (`ansinh units worklist`).
    #[arg(long, value_name = "FILE")]
    pub hamlets: Option<PathBuf>,
    /// The first day of the new units.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2025-07-01")]
    pub effective_on: NaiveDate,
    /// The reform's legal basis, written on every move.
    #[arg(long, value_name = "TEXT", default_value = succession::SHIPPED_LEGAL_BASIS)]
    pub legal_basis: String,
    /// Decide and count everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Households written per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
}

/// Runs the reform and prints its JSON summary on stdout.
pub async fn reform(pool: &PgPool, args: ReformArgs) -> Result<u8, Failure> {
    let options = ReformOptions {
        mapping: args.mapping,
        hamlets: args.hamlets,
        effective_on: args.effective_on,
        legal_basis: args.legal_basis,
        dry_run: args.dry_run,
        batch: args.batch as usize,
    };
    let bar = crate::progress::bar("moving households");
    let summary = match crate::reform::run(pool, &options, &bar).await {
        Ok(summary) => summary,
        Err(ReformError::Mapping(errors)) => {
            for e in &errors {
                eprintln!("mapping {e}");
            }
            return Err(Failure::bad_input(format!(
                "the mapping has {} problem(s); nothing was moved",
                errors.len()
            )));
        }
        Err(ReformError::Hamlets(errors)) => {
            for e in &errors {
                eprintln!("hamlets {e}");
            }
            return Err(Failure::bad_input(format!(
                "the hamlet file has {} problem(s); nothing was moved",
                errors.len()
            )));
        }
        Err(e @ (ReformError::Read { .. } | ReformError::NoMapping(_))) => {
            return Err(Failure::bad_input(e.to_string()))
        }
        Err(e) => return Err(Failure::other(e)),
    };
    super::print_json(&summary)?;
    Ok(0)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Csv,
    Json,
}

/// List the households of split communes that await assignment to a new commune.
#[derive(Debug, Args)]
pub struct WorklistArgs {
    /// A new commune (or a unit above new communes, e.g. 80); default: every one.
    #[arg(long, value_name = "CODE")]
    pub unit: Option<String>,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ListFormat,
}

/// Prints the reform's worklist on stdout (CSV with a header, or JSON).
pub async fn worklist(pool: &PgPool, args: WorklistArgs) -> Result<u8, Failure> {
    if let Some(unit) = &args.unit {
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM admin_units WHERE code = $1)")
                .bind(unit)
                .fetch_one(pool)
                .await
                .map_err(Failure::other)?;
        if !known {
            return Err(Failure::bad_input(format!(
                "--unit: {unit:?} is not a known unit code"
            )));
        }
    }
    let (items, total) = worklist::page(pool, args.unit.as_deref(), None, i64::MAX, 0)
        .await
        .map_err(Failure::other)?;
    let mut out = super::out();
    match args.format {
        ListFormat::Json => {
            let body = serde_json::json!({"items": items, "total": total});
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&body).map_err(Failure::other)?
            )
            .map_err(Failure::other)?;
        }
        ListFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "household_id",
                "head_name",
                "old_code",
                "old_name",
                "hamlet",
                "placed_on",
                "candidates",
            ])
            .map_err(Failure::other)?;
            for i in &items {
                let candidates: Vec<String> = i
                    .candidates
                    .iter()
                    .zip(&i.candidate_names)
                    .map(|(code, name)| format!("{code} {name}"))
                    .collect();
                w.write_record([
                    i.household_id.to_string(),
                    i.head_name.clone(),
                    i.old_code.clone(),
                    i.old_name.clone(),
                    i.hamlet.clone(),
                    i.placed_on.to_string(),
                    candidates.join("; "),
                ])
                .map_err(Failure::other)?;
            }
            w.flush().map_err(Failure::other)?;
        }
    }
    eprintln!("{total} household(s) await assignment");
    Ok(0)
}
