//! The `ansinh` command line: parsing, dispatch and exit codes (2 bad input, 1 failure).

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use uuid::Uuid;

use crate::db::{self, Database, Location};

#[derive(Debug, Parser)]
#[command(
    name = "ansinh",
    version,
    about = "Household poverty case tracking (Tây Ninh) on an append-only event log"
)]
pub struct Cli {
    /// PostgreSQL to use; without it ansinh runs its own cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where ansinh keeps its own PostgreSQL cluster when no database URL is given.
    #[arg(
        long,
        env = "ANSINH_DATA_DIR",
        global = true,
        default_value = "./ansinh-data"
    )]
    pub data_dir: PathBuf,
    /// Folder of extra poverty-standard files (JSON) added to the shipped ones.
    #[arg(long, env = "ANSINH_STANDARDS_DIR", global = true)]
    pub standards_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
    },
    /// Apply the database schema and load the shipped administrative units.
    Migrate,
    /// Administrative units (reference data).
    Units {
        #[command(subcommand)]
        command: UnitsCommand,
    },
    /// Recompute hash chains; exit 0 when intact, 1 when not.
    Verify {
        /// Check one household only.
        #[arg(long)]
        household: Option<Uuid>,
        /// Check an anchor root kept outside the system (needs --date).
        #[arg(long, requires = "date")]
        anchor: Option<String>,
        /// Day of the anchor (YYYY-MM-DD).
        #[arg(long, requires = "anchor")]
        date: Option<NaiveDate>,
    },
    /// Print the root hash over all household chains as of the end of a day.
    Anchor {
        #[arg(long)]
        date: NaiveDate,
    },
    /// Classify surveys read as JSON lines on stdin; one classification per line on stdout.
    Classify {
        /// Standard for lines that do not name one.
        #[arg(long)]
        standard: Option<String>,
    },
    /// Measure ansinh against plain PostgreSQL on a scratch database of the same server.
    Bench {
        /// Operations per figure.
        #[arg(long, default_value_t = 2000)]
        ops: usize,
        /// Also write the table as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UnitsCommand {
    /// Load units from a CSV file: code,name,level,parent_code,valid_from,valid_to.
    Import { file: PathBuf },
}

/// A failure to report as one sentence on stderr with an exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub fn other(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl Cli {
    fn location(&self) -> Location {
        match &self.database_url {
            Some(url) if !url.is_empty() => Location::Url(url.clone()),
            _ => Location::Embedded(self.data_dir.clone()),
        }
    }
}

/// Runs a parsed command; returns the exit code on success paths that are not 0 (verify).
pub async fn run(cli: Cli) -> Result<u8, Failure> {
    let location = cli.location();
    match cli.command {
        Command::Serve { bind } => serve(&location, bind).await,
        Command::Migrate => {
            let db = open(&location, 2).await?;
            let added = load_units(&db).await?;
            eprintln!("schema is up to date; {added} administrative units added");
            drop(db);
            Ok(0)
        }
        Command::Units {
            command: UnitsCommand::Import { file },
        } => import_units(&location, &file).await,
        Command::Verify {
            household,
            anchor,
            date,
        } => {
            let db = open(&location, 2).await?;
            run_verify(&db, household, anchor.zip(date)).await
        }
        Command::Anchor { date } => {
            let db = open(&location, 2).await?;
            let report = crate::verify::verify(&db.pool, None, Some(date), &progress(&db).await?)
                .await
                .map_err(Failure::other)?;
            let anchor = report
                .anchor
                .ok_or_else(|| Failure::other("no anchor was computed"))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&anchor).map_err(Failure::other)?
            );
            if !report.broken.is_empty() {
                eprintln!(
                    "warning: {} household chain(s) are broken; run `ansinh verify`",
                    report.broken.len()
                );
            }
            Ok(0)
        }
        Command::Bench { ops, json } => bench(&location, ops, json).await,
        Command::Classify { standard } => {
            let standards = standards(cli.standards_dir.as_deref())?;
            let stdin = std::io::stdin();
            let all_ok = crate::classify_cli::run(
                stdin.lock(),
                std::io::stdout().lock(),
                std::io::stderr().lock(),
                standard.as_deref(),
                &standards,
            )
            .map_err(Failure::other)?;
            Ok(if all_ok { 0 } else { 2 })
        }
    }
}

async fn bench(location: &Location, ops: usize, json: Option<PathBuf>) -> Result<u8, Failure> {
    if ops == 0 {
        return Err(Failure::bad_input("--ops must be at least 1"));
    }
    let db = Database::open(location, 2).await.map_err(Failure::other)?;
    let name = format!("ansinh_bench_{}", std::process::id());
    let admin = &db.pool;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(admin)
        .await
        .map_err(Failure::other)?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin)
        .await
        .map_err(Failure::other)?;
    let options = (*admin.connect_options()).clone().database(&name);
    let outcome = async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        db::migrate(&pool)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        eprintln!("benchmarking on a scratch database ({ops} operations per figure)…");
        let table = crate::bench::run(&pool, crate::bench::BenchOptions { ops }).await;
        pool.close().await;
        table
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(admin)
        .await
        .map_err(Failure::other)?;
    let table = outcome.map_err(Failure::other)?;
    println!("{table}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&table).map_err(Failure::other)?;
        std::fs::write(&path, text)
            .map_err(|e| Failure::other(format!("could not write {}: {e}", path.display())))?;
    }
    Ok(0)
}

/// The shipped poverty standards plus those of the configured folder.
pub fn standards(
    dir: Option<&std::path::Path>,
) -> Result<ansinh_events::standards::Standards, Failure> {
    use ansinh_events::standards::Standards;
    match dir {
        Some(dir) => Standards::builtin_with_dir(dir),
        None => Standards::builtin(),
    }
    .map_err(|e| Failure::bad_input(e.to_string()))
}

async fn load_units(db: &Database) -> Result<u64, Failure> {
    ansinh_projections::units::load_shipped(&db.pool)
        .await
        .map_err(Failure::other)
}

async fn import_units(location: &Location, file: &std::path::Path) -> Result<u8, Failure> {
    use ansinh_projections::units;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::bad_input(format!("could not read {}: {e}", file.display())))?;
    let db = open(location, 2).await?;
    load_units(&db).await?;
    let known = units::known_codes(&db.pool).await.map_err(Failure::other)?;
    let parsed = units::parse_csv(&text, &known).map_err(|errors| {
        for e in &errors {
            eprintln!("{}: {e}", file.display());
        }
        Failure::bad_input(format!(
            "{} has {} error(s); nothing was imported",
            file.display(),
            errors.len()
        ))
    })?;
    let mut tx = db.pool.begin().await.map_err(Failure::other)?;
    let added = units::upsert(&mut tx, &parsed)
        .await
        .map_err(Failure::other)?;
    tx.commit().await.map_err(Failure::other)?;
    println!(
        "{}",
        serde_json::json!({"units": parsed.len(), "added": added, "updated": parsed.len() as u64 - added})
    );
    Ok(0)
}

async fn open(location: &Location, connections: u32) -> Result<Database, Failure> {
    let db = Database::open(location, connections)
        .await
        .map_err(Failure::other)?;
    db::migrate(&db.pool).await.map_err(Failure::other)?;
    Ok(db)
}

async fn progress(db: &Database) -> Result<indicatif::ProgressBar, Failure> {
    let total = crate::verify::count_events(&db.pool)
        .await
        .map_err(Failure::other)?;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("verifying");
    Ok(bar)
}

async fn run_verify(
    db: &Database,
    household: Option<Uuid>,
    anchor: Option<(String, NaiveDate)>,
) -> Result<u8, Failure> {
    let bar = match household {
        Some(_) => indicatif::ProgressBar::hidden(),
        None => progress(db).await?,
    };
    let started = std::time::Instant::now();
    let report = crate::verify::verify(&db.pool, household, anchor.as_ref().map(|a| a.1), &bar)
        .await
        .map_err(|e| match e {
            crate::verify::VerifyError::UnknownHousehold(_) => Failure::bad_input(e.to_string()),
            other => Failure::other(other),
        })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    for b in &report.broken {
        println!(
            "BROKEN household {} at event {}: {}",
            b.household_id, b.first_bad_sequence, b.problem
        );
    }
    let mut intact = report.intact();
    if let (Some((expected, _)), Some(computed)) = (&anchor, &report.anchor) {
        if expected.eq_ignore_ascii_case(&computed.root) {
            println!("anchor of {} matches: {}", computed.date, computed.root);
        } else {
            intact = false;
            println!(
                "ANCHOR MISMATCH for {}: kept {}, recomputed {}",
                computed.date, expected, computed.root
            );
        }
    }
    eprintln!(
        "{} households, {} events checked in {:.2}s ({:.0} events/s): {}",
        report.households,
        report.events,
        secs,
        report.events as f64 / secs,
        if intact { "intact" } else { "NOT intact" }
    );
    Ok(if intact { 0 } else { 1 })
}

async fn serve(location: &Location, bind: SocketAddr) -> Result<u8, Failure> {
    let db = open(location, 16).await?;
    load_units(&db).await?;
    let app = crate::server::Application::build(db.pool.clone(), bind)
        .await
        .map_err(|e| Failure::other(format!("could not listen on {bind}: {e}")))?;
    let addr = app.local_addr().map_err(Failure::other)?;
    eprintln!("ansinh is serving on http://{addr} (Ctrl-C to stop)");
    app.run(crate::server::shutdown_signal())
        .await
        .map_err(Failure::other)?;
    db.pool.close().await;
    drop(db);
    eprintln!("stopped");
    Ok(0)
}
