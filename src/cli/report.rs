//! `ansinh report movements`: the movement report on the command line, through the same code
//! as `GET /api/v1/reports/movements` ([`crate::movement_report`] for the numbers,
//! [`crate::export::movements`] for the files).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use sqlx::PgPool;

use ansinh_events::standards::Standards;

use crate::cli::Failure;
use crate::export::movements;
use crate::movement_report::{self, MovementError, MovementRequest, DEFAULT_STANDARD};
use crate::web::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The API's JSON document: the requested unit's poor and near-poor tables and breakdowns.
    Json,
    /// One line per unit directly below --unit, then the total and its breakdowns (UTF-8
    /// with BOM, for Excel).
    Csv,
    /// The official form: title, merged headers, units as rows, a total row.
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputLang {
    /// Vietnamese headers and titles.
    Vi,
    /// English headers and titles.
    En,
}

/// The movement table of a period: households that became poor or near-poor, fell back,
/// exited, moved, between the start of --from and the end of --to, and how many there were at
/// each end (opening + increases − decreases = closing).
#[derive(Debug, Args)]
pub struct MovementsArgs {
    /// Administrative unit code (e.g. 72 for the province, 703 for a district, 25459 for a
    /// commune); the report covers it and every unit below it.
    #[arg(long, value_name = "CODE")]
    pub unit: String,
    /// First day of the period (YYYY-MM-DD), counted from its start.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last day of the period (YYYY-MM-DD), counted to its end; not before --from.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: NaiveDate,
    /// Poverty standard id.
    #[arg(long, value_name = "ID", default_value = DEFAULT_STANDARD)]
    pub standard: String,
    /// What to write; by default taken from the extension of --out (.csv, .xlsx), else json.
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write to FILE instead of stdout (replaced whole, only once the report is complete).
    /// xlsx needs it unless stdout is redirected.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Language of the CSV and XLSX headers and titles.
    #[arg(long, value_enum, default_value = "vi")]
    pub lang: OutputLang,
}

/// A date argument, or a sentence saying how to write one (clap names the argument).
fn parse_date(value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|e| {
        format!("{value:?} is not a date ({e}); write it as YYYY-MM-DD, e.g. 2024-12-31")
    })
}

impl MovementsArgs {
    /// The format asked for, else the one --out's extension names, else json.
    pub fn format(&self) -> OutputFormat {
        self.format.unwrap_or_else(|| {
            match self
                .out
                .as_deref()
                .and_then(Path::extension)
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("csv") => OutputFormat::Csv,
                Some("xlsx") => OutputFormat::Xlsx,
                _ => OutputFormat::Json,
            }
        })
    }

    /// What can be refused before the database is opened.
    pub fn check(&self, standards: &Standards) -> Result<(), Failure> {
        if self.unit.trim().is_empty() {
            return Err(Failure::bad_input("--unit: give a unit code, e.g. 703"));
        }
        if self.format() == OutputFormat::Xlsx
            && self.out.is_none()
            && std::io::stdout().is_terminal()
        {
            return Err(Failure::bad_input(
                "--format xlsx writes a binary file: give --out FILE.xlsx (or redirect stdout to a file)",
            ));
        }
        movement_report::check(&self.request(), standards).map_err(failure)
    }

    fn request(&self) -> MovementRequest {
        MovementRequest {
            unit: self.unit.trim().to_owned(),
            from: self.from,
            to: self.to,
            standard: self.standard.clone(),
        }
    }
}

/// A report error as the command line says it: naming the argument, exit 2 for bad input.
fn failure(e: MovementError) -> Failure {
    match e {
        MovementError::BadInput { field, detail } => {
            Failure::bad_input(format!("--{field}: {detail}"))
        }
        ended @ MovementError::UnitEnded { .. } => Failure::bad_input(format!("--to: {ended}")),
        other => Failure::other(other),
    }
}

/// Runs the command: the report to stdout or --out.
pub async fn run(
    pool: &PgPool,
    standards: &Standards,
    args: &MovementsArgs,
) -> Result<u8, Failure> {
    let request = args.request();
    let lang = match args.lang {
        OutputLang::Vi => Lang::Vi,
        OutputLang::En => Lang::En,
    };
    let format = args.format();
    // A one-shot process has no runner beside it: the counts are brought up to the log first.
    crate::projection_runner::catch_up(pool)
        .await
        .map_err(Failure::other)?;
    let bytes = match format {
        OutputFormat::Json => {
            let report = movement_report::report(pool, standards, &request)
                .await
                .map_err(failure)?;
            let mut text = serde_json::to_vec_pretty(&report).map_err(Failure::other)?;
            text.push(b'\n');
            text
        }
        OutputFormat::Csv | OutputFormat::Xlsx => {
            let sheet = movement_report::sheet(pool, standards, &request)
                .await
                .map_err(failure)?;
            let mut out = Vec::new();
            if format == OutputFormat::Csv {
                movements::write_csv(&sheet, lang, &mut out).map_err(Failure::other)?;
            } else {
                movements::write_xlsx(&sheet, lang, movement_report::today(), &mut out)
                    .map_err(Failure::other)?;
            }
            out
        }
    };
    match &args.out {
        Some(path) => write_file(path, &bytes)?,
        None => {
            let mut stdout = super::out();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure::other(format!("could not write to stdout: {e}")))?;
        }
    }
    Ok(0)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file beside it, then renamed).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let cannot = |e: std::io::Error| {
        Failure::bad_input(format!("--out: cannot write {}: {e}", path.display()))
    };
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(cannot)?;
    file.write_all(bytes).map_err(cannot)?;
    file.persist(path).map_err(|e| cannot(e.error))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
