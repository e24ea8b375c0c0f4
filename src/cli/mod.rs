//! The `ansinh` command line: parsing, dispatch and exit codes (2 bad input, 1 failure).

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use uuid::Uuid;

use crate::db::{self, Database, Location};

/// A command's results on standard output. Once the reader has gone away (`ansinh … | head`),
/// writes are dropped and succeed, so the command ends quietly as other command-line tools
/// do, where `println!` would panic and a plain write would fail a command whose work is
/// already done. Every command writes its results through this.
pub(crate) struct Out(std::io::StdoutLock<'static>);

pub(crate) fn out() -> Out {
    Out(std::io::stdout().lock())
}

impl std::io::Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(buf.len()),
            written => written,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            flushed => flushed,
        }
    }
}

/// `println!` through [`out`]; a failure other than the reader's leaving is said on stderr.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!($crate::cli::out(), $($arg)*) {
            eprintln!("ansinh could not write its output: {e}");
        }
    }};
}

/// `value` as indented JSON on [`out`]: the results of the commands that report in JSON.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).map_err(Failure::other)?
    );
    Ok(())
}

pub mod backup;
pub mod bench;
mod classify;
pub mod demo;
mod generate;
mod rebuild;
mod reform;
mod report;

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
        /// The address people reach the site at (e.g. https://ansinh.example.vn): forms must
        /// come from it, and with https the session cookie is Secure.
        #[arg(long, env = "ANSINH_PUBLIC_URL")]
        public_url: Option<String>,
        /// Requests a minute one client address may make to the public posting pages and
        /// API (no sign-in); past it they answer 429 with Retry-After.
        #[arg(long, env = "ANSINH_PUBLIC_RATE_LIMIT", default_value_t = crate::api::rate_limit::DEFAULT_PER_MINUTE,
              value_parser = clap::value_parser!(u32).range(1..))]
        public_rate_limit: u32,
        /// The folder of the access-log journal: each read's row goes there before the read
        /// is answered, and on to the database within 0.1 s. Rows a stopped server left there
        /// are shipped when the next one starts. Default: `access-journal` in the data folder
        /// (embedded PostgreSQL), else in `$XDG_STATE_HOME/ansinh` (`~/.local/state/ansinh`).
        #[arg(long, env = "ANSINH_ACCESS_JOURNAL")]
        access_journal: Option<PathBuf>,
        /// How many events the households the server holds in memory may stand for together.
        /// A command on a household held is decided without reading it; any other first reads
        /// it (its snapshot and the events after it). Each event held costs about 2.3 KB of
        /// memory, so the default holds some 5,000 households of 18 events in about 230 MB.
        #[arg(long, env = "ANSINH_CACHE_EVENTS", default_value_t = crate::store::cache::DEFAULT_CAPACITY_EVENTS,
              value_parser = cache_events)]
        cache_events: u64,
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
    /// Back up the database (pg_dump) with today's anchor, into a new or empty folder.
    Backup {
        /// The folder: ansinh.dump and manifest.json (date, anchor, event count, version).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup folder into an empty database, then check its anchor and chains.
    Restore { dir: PathBuf },
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
    /// Write a synthetic province in the import format.
    ///
    /// `tay-ninh` (the default): new Tây Ninh, households of old Tây Ninh's and old Long An's
    /// communes reviewed 2021–2024 there, then in 2025 and 2026 in the new communes of the
    /// reform of 1 July 2025 (importing the file records each household's move). `tay-ninh-72`:
    /// old Tây Ninh (province 72) alone, histories 2021–2024.
    Generate {
        /// Number of households.
        #[arg(long)]
        households: usize,
        /// Which province: tay-ninh (merged, 2021–2026) or tay-ninh-72 (old, 2021–2024).
        #[arg(long, value_enum, default_value_t = crate::generate::Province::TayNinh)]
        province: crate::generate::Province,
        /// Seed: the same households and seed give the same files.
        #[arg(long, default_value_t = crate::generate::DEFAULT_SEED)]
        seed: u64,
        /// Output file: FILE.csv (plus FILE.supports.csv) or FILE.xlsx.
        #[arg(long)]
        out: PathBuf,
    },
    /// Users of the HTTP API.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Drop and rebuild read models from the log (all of them unless one is named).
    Rebuild {
        /// One read model; a hyphen may stand for the underscore (`re-poverty`).
        #[arg(long, value_parser = projection_names())]
        projection: Option<String>,
    },
    /// Import an annual review (CSV or XLSX); progress on stderr, a JSON summary on stdout.
    Import {
        file: PathBuf,
        /// Check everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the valid households; put the rows of the others in FILE.rejects.csv.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Serve a seeded synthetic province (generated and imported on first start).
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// The address people reach the site at (see `serve`).
        #[arg(long, env = "ANSINH_PUBLIC_URL")]
        public_url: Option<String>,
        /// Households to generate on first start.
        #[arg(long, default_value_t = demo::DEFAULT_HOUSEHOLDS)]
        households: usize,
    },
    /// Reports, as JSON, CSV or an XLSX laid out like the official form.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Measure ansinh against plain PostgreSQL on a scratch database of the same server.
    Bench {
        /// Operations per figure.
        #[arg(long, default_value_t = 2000)]
        ops: usize,
        /// Households of the generated province to import, rebuild and verify.
        #[arg(long, default_value_t = 10_000)]
        households: usize,
        /// Also write the table as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Only these groups of figures (repeat it; default: all).
        #[arg(long, value_enum)]
        only: Vec<bench::Section>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user and print its bearer token, alone, on stdout (shown this once).
    Add {
        #[arg(long)]
        name: String,
        /// commune_officer, district_officer, province_officer, auditor, monitor or admin.
        #[arg(long)]
        role: String,
        /// The administrative unit the user acts for (it covers the units below it).
        #[arg(long)]
        unit: String,
        /// Also give the user a password for the web pages, read from stdin (8 characters or
        /// more; one final line end is dropped). The username is --name.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the password (web pages) of the user named --name, read from stdin.
    SetPassword {
        /// The user's name, which is also the username on the sign-in page.
        #[arg(long)]
        name: String,
        /// Read the password from stdin (8 characters or more; one final line end is dropped).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Move one user to another unit, valid today (e.g. from an ended district to the new
    /// province); prints the move.
    #[command(after_help = "Example:\n  ansinh users set-unit \"Lê Thị Hoa\" 80")]
    SetUnit {
        /// The user's id, or a name that only one user has.
        user: String,
        /// The unit the user acts for from now on; it must be valid today.
        unit: String,
    },
    /// Move every user of one unit (disabled ones too) to another, valid today; prints each move.
    #[command(after_help = "Example:\n  ansinh users move --from 703 --to 80 --dry-run")]
    Move {
        /// The unit the users act for now (typically one that ended in the 2025 reform).
        #[arg(long)]
        from: String,
        /// The unit they act for from now on; it must be valid today.
        #[arg(long)]
        to: String,
        /// Print whom it would move, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The movement table of a period (báo cáo biến động hộ nghèo, hộ cận nghèo) for a unit
    /// and the units below it; the numbers of GET /api/v1/reports/movements.
    #[command(
        after_help = "Examples:\n  ansinh report movements --unit 703 --from 2024-01-01 --to 2024-12-31\n  ansinh report movements --unit 72 --from 2024-01-01 --to 2024-12-31 --out bao-cao-2024.xlsx"
    )]
    Movements(report::MovementsArgs),
}

#[derive(Debug, Subcommand)]
pub enum UnitsCommand {
    /// Load units from a CSV file: code,name,level,parent_code,valid_from,valid_to.
    Import { file: PathBuf },
    /// Move every open household across a reform of the units (the 2025 merger of communes)
    /// as events; prints a JSON summary.
    #[command(
        after_help = "Examples:\n  ansinh units reform --dry-run\n  ansinh units reform --hamlets ap-tach.csv"
    )]
    Reform(reform::ReformArgs),
    /// List households of split communes awaiting assignment to a new commune.
    Worklist(reform::WorklistArgs),
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
        Command::Serve {
            bind,
            public_url,
            public_rate_limit,
            access_journal,
            cache_events,
        } => {
            let mut web = web_config(public_url.as_deref())?;
            web.public_rate_per_minute = Some(public_rate_limit);
            web.cache_events = Some(cache_events);
            web.access_journal = Some(access_journal.unwrap_or_else(|| journal_folder(&location)));
            serve(
                &location,
                bind,
                standards(cli.standards_dir.as_deref())?,
                web,
            )
            .await
        }
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
        Command::Units {
            command: UnitsCommand::Reform(args),
        } => {
            let db = open(&location, 4).await?;
            load_units(&db).await?;
            reform::reform(&db.pool, args).await
        }
        Command::Units {
            command: UnitsCommand::Worklist(args),
        } => {
            let db = open(&location, 2).await?;
            load_units(&db).await?;
            reform::worklist(&db.pool, args).await
        }
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
            print_json(&anchor)?;
            if !report.broken.is_empty() {
                eprintln!(
                    "warning: {} household chain(s) are broken; run `ansinh verify`",
                    report.broken.len()
                );
            }
            Ok(0)
        }
        Command::Generate {
            households,
            province,
            seed,
            out,
        } => generate::run(province, households, seed, &out),
        Command::Backup { out } => {
            let db = open(&location, 2).await?;
            backup::backup(&db, &out).await
        }
        Command::Restore { dir } => {
            // Not `open`: the schema comes from the backup, into an empty database.
            let db = Database::open(&location, 2).await.map_err(Failure::other)?;
            backup::restore(&db, &dir).await
        }
        Command::Users {
            command:
                UsersCommand::Add {
                    name,
                    role,
                    unit,
                    password_stdin,
                },
        } => add_user(&location, &name, &role, &unit, password_stdin).await,
        Command::Users {
            command: UsersCommand::SetPassword { name, .. },
        } => set_password(&location, &name).await,
        Command::Users {
            command: UsersCommand::SetUnit { user, unit },
        } => {
            let db = open(&location, 2).await?;
            load_units(&db).await?;
            let moved =
                crate::users::moves::set_unit(&db.pool, &user, &unit, crate::verify::today())
                    .await
                    .map_err(user_failure)?;
            outln!("moved {moved}");
            Ok(0)
        }
        Command::Users {
            command: UsersCommand::Move { from, to, dry_run },
        } => {
            let db = open(&location, 2).await?;
            load_units(&db).await?;
            let today = crate::verify::today();
            let moved = crate::users::moves::move_all(&db.pool, &from, &to, today, dry_run)
                .await
                .map_err(user_failure)?;
            let verb = if dry_run { "would move" } else { "moved" };
            for m in &moved {
                outln!("{verb} {m}");
            }
            eprintln!(
                "{} user(s) of unit {} {verb} to {}{}",
                moved.len(),
                from.trim(),
                to.trim(),
                if dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            );
            Ok(0)
        }
        Command::Rebuild { projection } => {
            let projections = rebuild::select(projection.as_deref())?;
            let db = open(&location, 2).await?;
            rebuild::command(&db.pool, &projections).await
        }
        Command::Report {
            command: ReportCommand::Movements(args),
        } => {
            let standards = standards(cli.standards_dir.as_deref())?;
            args.check(&standards)?;
            let db = open(&location, 2).await?;
            load_units(&db).await?;
            report::run(&db.pool, &standards, &args).await
        }
        Command::Bench {
            ops,
            households,
            json,
            only,
        } => bench(&location, ops, households, json, &only).await,
        Command::Import {
            file,
            dry_run,
            skip_invalid,
        } => {
            let standards = standards(cli.standards_dir.as_deref())?;
            import(&location, &file, dry_run, skip_invalid, &standards).await
        }
        Command::Demo {
            bind,
            public_url,
            households,
        } => {
            let mut web = web_config(public_url.as_deref())?;
            web.access_journal = Some(journal_folder(&location));
            let standards = standards(cli.standards_dir.as_deref())?;
            demo(&location, bind, households, standards, web).await
        }
        Command::Classify { standard } => {
            let standards = standards(cli.standards_dir.as_deref())?;
            let stdin = std::io::stdin();
            let all_ok = classify::run(
                stdin.lock(),
                out(),
                std::io::stderr().lock(),
                standard.as_deref(),
                &standards,
            )
            .map_err(Failure::other)?;
            Ok(if all_ok { 0 } else { 2 })
        }
    }
}

async fn bench(
    location: &Location,
    ops: usize,
    households: usize,
    json: Option<PathBuf>,
    only: &[bench::Section],
) -> Result<u8, Failure> {
    if ops == 0 || households == 0 {
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
        // The project's pool policy (no round trip at every acquire), for ansinh and the plain
        // PostgreSQL baselines alike.
        let pool = crate::db::pool_options(16).connect_with(options).await?;
        db::migrate(&pool)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        eprintln!("benchmarking on a scratch database ({ops} operations per figure)…");
        let table = bench::run(&pool, bench::BenchOptions { ops, households }, only).await;
        pool.close().await;
        table
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(admin)
        .await
        .map_err(Failure::other)?;
    let table = outcome.map_err(Failure::other)?;
    outln!("{table}");
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
    let (parsed, added) = units::import_csv(&db.pool, &text)
        .await
        .map_err(Failure::other)?
        .map_err(|errors| {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            Failure::bad_input(format!(
                "{} has {} error(s); nothing was imported",
                file.display(),
                errors.len()
            ))
        })?;
    outln!(
        "{}",
        serde_json::json!({"units": parsed.len(), "added": added, "updated": parsed.len() as u64 - added})
    );
    Ok(0)
}

async fn import(
    location: &Location,
    file: &std::path::Path,
    dry_run: bool,
    skip_invalid: bool,
    standards: &ansinh_events::standards::Standards,
) -> Result<u8, Failure> {
    use crate::import::run::{ImportError, ImportOptions};
    if !file.exists() {
        return Err(Failure::bad_input(format!(
            "{} does not exist",
            file.display()
        )));
    }
    let db = open(location, 4).await?;
    load_units(&db).await?;
    let options = ImportOptions {
        dry_run,
        skip_invalid,
        ..ImportOptions::default()
    };
    let bar = crate::progress::bar("importing");
    match crate::import::run::import(&db.pool, file, standards, &options, &bar).await {
        Ok(summary) => {
            print_json(&summary)?;
            Ok(0)
        }
        Err(ImportError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{}: {p}", file.display());
            }
            Err(Failure::bad_input(format!(
                "{} has {} problem(s); nothing was imported (fix them, or use --skip-invalid)",
                file.display(),
                problems.len()
            )))
        }
        Err(e @ ImportError::Read(_)) => Err(Failure::bad_input(e.to_string())),
        Err(e) => Err(Failure::other(e)),
    }
}

/// Where `serve` and `demo` keep the access-log journal unless told: beside the embedded
/// cluster, or in the user's state folder.
fn journal_folder(location: &Location) -> PathBuf {
    const NAME: &str = "access-journal";
    match location {
        Location::Embedded(data_dir) => data_dir.join(NAME),
        Location::Url(_) => dirs::state_dir().map_or_else(
            || PathBuf::from(NAME),
            |state| state.join("ansinh").join(NAME),
        ),
    }
}

/// The web configuration of `--public-url` (bad input if it is not an http(s) address).
fn web_config(public_url: Option<&str>) -> Result<crate::web::WebConfig, Failure> {
    match public_url {
        Some(url) => crate::web::WebConfig::with_public_url(url).map_err(Failure::bad_input),
        None => Ok(crate::web::WebConfig::default()),
    }
}

async fn demo(
    location: &Location,
    bind: SocketAddr,
    households: usize,
    standards: ansinh_events::standards::Standards,
    web: crate::web::WebConfig,
) -> Result<u8, Failure> {
    if households == 0 {
        return Err(Failure::bad_input("--households must be at least 1"));
    }
    let db = unless_interrupted(open(location, 16)).await?;
    unless_interrupted(load_units(&db)).await?;
    demo::seed(&db.pool, households, &standards)
        .await
        .map_err(Failure::other)?;
    let planted = crate::generate::funds::plant(&db.pool, demo::PROVINCE)
        .await
        .map_err(Failure::other)?;
    if let Some(fund) = planted.fund_id {
        let rules: Vec<&str> = planted.flags.iter().map(|(rule, _)| *rule).collect();
        eprintln!(
            "opened the demo fund {fund}: {} supports recorded; red flags planted: {}",
            planted.supports,
            rules.join(", ")
        );
    }
    let users =
        unless_interrupted(async { demo::users(&db.pool).await.map_err(Failure::other) }).await?;
    let app = unless_interrupted(async {
        crate::server::Application::build_with_config(db.pool.clone(), bind, standards, web)
            .await
            .map_err(|e| Failure::other(format!("could not listen on {bind}: {e}")))
    })
    .await?;
    let addr = app.local_addr().map_err(Failure::other)?;
    outln!("ansinh demo: http://{addr}  (API docs: http://{addr}/docs)");
    outln!("sign in at http://{addr}/login, or send Authorization: Bearer TOKEN:");
    for u in &users {
        outln!(
            "  {:<17} unit {:<6} {}  user {:<26} password {}",
            u.role.as_str(),
            u.unit,
            u.token,
            u.username,
            u.password
        );
    }
    eprintln!("ansinh is serving on http://{addr} (Ctrl-C to stop)");
    serve_until_stopped(app, db).await
}

/// A start-up step that gives way to Ctrl-C / SIGTERM: what it opened (the embedded
/// PostgreSQL above all) is dropped, and so stopped, instead of left running.
async fn unless_interrupted<T>(
    step: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::select! {
        r = step => r,
        () = crate::server::shutdown_signal() => {
            Err(Failure::other("interrupted before the server started; nothing is left running"))
        }
    }
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
        let what = b.table.trim_end_matches("_events");
        outln!(
            "BROKEN {what} {} at event {}: {}",
            b.household_id,
            b.first_bad_sequence,
            b.problem
        );
    }
    let mut intact = report.intact();
    if let (Some((expected, _)), Some(computed)) = (&anchor, &report.anchor) {
        if expected.eq_ignore_ascii_case(&computed.root) {
            outln!("anchor of {} matches: {}", computed.date, computed.root);
        } else {
            intact = false;
            outln!(
                "ANCHOR MISMATCH for {}: kept {}, recomputed {}",
                computed.date,
                expected,
                computed.root
            );
        }
    }
    if report.other_chains > 0 {
        eprintln!(
            "{} fund and posting chains ({} events) checked too",
            report.other_chains, report.other_events
        );
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

async fn add_user(
    location: &Location,
    name: &str,
    role: &str,
    unit: &str,
    password_stdin: bool,
) -> Result<u8, Failure> {
    use crate::users::{self, Role, UserError};
    let role = Role::parse(role)
        .ok_or_else(|| Failure::bad_input(UserError::UnknownRole(role.to_owned()).to_string()))?;
    let password = match password_stdin {
        true => Some(read_password()?),
        false => None,
    };
    let db = open(location, 2).await?;
    load_units(&db).await?;
    let (_, token) = users::create_with_password(&db.pool, name, role, unit, password.as_deref())
        .await
        .map_err(user_failure)?;
    outln!("{token}");
    Ok(0)
}

async fn set_password(location: &Location, name: &str) -> Result<u8, Failure> {
    let password = read_password()?;
    let db = open(location, 2).await?;
    let user = crate::users::set_password(&db.pool, name, &password)
        .await
        .map_err(user_failure)?;
    eprintln!(
        "the password of {} ({}, unit {}) is set",
        user.name, user.role, user.unit_code
    );
    Ok(0)
}

/// The password of `--password-stdin` (bad input: empty, shorter than 8 characters, …).
fn read_password() -> Result<String, Failure> {
    crate::passwords::read(std::io::stdin().lock()).map_err(|e| match e {
        crate::passwords::PasswordError::Hash(_) => Failure::other(e),
        bad => Failure::bad_input(bad.to_string()),
    })
}

/// A user command's error: the database's or the system's is a failure (1), any other is bad
/// input (2).
fn user_failure(e: crate::users::UserError) -> Failure {
    use crate::passwords::PasswordError;
    use crate::users::UserError;
    match e {
        UserError::Database(_)
        | UserError::Random(_)
        | UserError::Password(PasswordError::Hash(_) | PasswordError::Read(_)) => Failure::other(e),
        bad => Failure::bad_input(bad.to_string()),
    }
}

/// `--cache-events`: a whole number of at least 1,000 (fewer would hold a few households).
fn cache_events(given: &str) -> Result<u64, String> {
    match given.trim().replace(['_', ','], "").parse::<u64>() {
        Ok(n) if n >= 1000 => Ok(n),
        Ok(_) => Err("at least 1000 events, or the server holds only a few households".into()),
        Err(_) => Err("a whole number of events, such as 100000".into()),
    }
}

async fn serve(
    location: &Location,
    bind: SocketAddr,
    standards: ansinh_events::standards::Standards,
    web: crate::web::WebConfig,
) -> Result<u8, Failure> {
    let db = unless_interrupted(open(location, 16)).await?;
    unless_interrupted(load_units(&db)).await?;
    let app = unless_interrupted(async {
        crate::server::Application::build_with_config(db.pool.clone(), bind, standards, web)
            .await
            .map_err(|e| Failure::other(format!("could not listen on {bind}: {e}")))
    })
    .await?;
    let addr = app.local_addr().map_err(Failure::other)?;
    eprintln!("ansinh is serving on http://{addr} (Ctrl-C to stop)");
    serve_until_stopped(app, db).await
}

/// Serves until Ctrl-C or SIGTERM, then stops what it opened. When this process started the
/// embedded PostgreSQL, it also keeps it running (see [`crate::pg::Supervisor`]); if the
/// server dies and cannot be started again, serving stops and the exit code is 1.
async fn serve_until_stopped(app: crate::server::Application, db: Database) -> Result<u8, Failure> {
    let (gave_up, given_up) = tokio::sync::oneshot::channel::<String>();
    let supervisor = db
        .embedded
        .as_ref()
        .and_then(|pg| pg.supervisor())
        .map(|s| {
            tokio::spawn(async move {
                let error = s.keep_running().await;
                let _ = gave_up.send(error.to_string());
            })
        });
    let reason = std::sync::Arc::new(std::sync::Mutex::new(None));
    let stop = {
        let reason = std::sync::Arc::clone(&reason);
        async move {
            tokio::select! {
                () = crate::server::shutdown_signal() => {}
                // Without a supervisor the sender is dropped: that is no reason to stop.
                Ok(error) = given_up => {
                    *reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
                }
            }
        }
    };
    app.run(stop).await.map_err(Failure::other)?;
    if let Some(task) = supervisor {
        task.abort();
    }
    db.pool.close().await;
    drop(db);
    let reason = reason
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match reason {
        Some(error) => Err(Failure::other(format!(
            "the embedded PostgreSQL stopped and could not be started again: {error}"
        ))),
        None => {
            eprintln!("stopped");
            Ok(0)
        }
    }
}

/// `--projection`'s values, from the rebuild's own list, so `--help` names every read model
/// and a typo is refused (with a suggestion) before a database is opened.
fn projection_names() -> clap::builder::PossibleValuesParser {
    use ansinh_projections::rebuild::Projection;
    clap::builder::PossibleValuesParser::new(Projection::ALL.map(|p| {
        let name = p.name();
        clap::builder::PossibleValue::new(name).alias(name.replace('_', "-"))
    }))
}

#[cfg(test)]
mod rebuild_projection_flag {
    use clap::Parser;

    use super::{Cli, Command};
    use ansinh_projections::rebuild::Projection;

    fn projection(args: &[&str]) -> Result<Option<String>, clap::Error> {
        let cli = Cli::try_parse_from([&["ansinh", "rebuild"], args].concat())?;
        match cli.command {
            Command::Rebuild { projection } => Ok(projection),
            _ => unreachable!("rebuild parses as rebuild"),
        }
    }

    #[test]
    fn every_read_model_is_offered_and_a_typo_is_refused() {
        for p in Projection::ALL {
            let hyphenated = p.name().replace('_', "-");
            for given in [p.name(), hyphenated.as_str()] {
                let parsed = projection(&["--projection", given]).expect("a known read model");
                let parsed = parsed.expect("the value is kept");
                assert_eq!(Projection::parse(&parsed), Some(p), "{given}");
            }
        }
        assert_eq!(projection(&[]).ok(), Some(None));
        let typo = projection(&["--projection", "snapshot"]).expect_err("not a read model");
        let message = typo.to_string();
        assert!(message.contains("snapshots"), "{message}");
    }
}

#[cfg(test)]
mod serve_flags {
    use clap::Parser;

    use super::{Cli, Command};

    /// `ansinh serve ARGS` parsed: its public rate limit and cache size.
    fn serve(args: &[&str]) -> Result<(u32, u64), clap::Error> {
        let cli = Cli::try_parse_from([&["ansinh", "serve"], args].concat())?;
        match cli.command {
            Command::Serve {
                public_rate_limit,
                cache_events,
                ..
            } => Ok((public_rate_limit, cache_events)),
            _ => unreachable!("serve parses as serve"),
        }
    }

    fn limit(args: &[&str]) -> Result<u32, clap::Error> {
        serve(args).map(|(limit, _)| limit)
    }

    fn events(args: &[&str]) -> Result<u64, clap::Error> {
        serve(args).map(|(_, events)| events)
    }

    #[test]
    fn the_public_rate_limit_defaults_to_60_and_refuses_0() {
        assert_eq!(
            limit(&[]).ok(),
            Some(crate::api::rate_limit::DEFAULT_PER_MINUTE)
        );
        assert_eq!(limit(&["--public-rate-limit", "5"]).ok(), Some(5));
        assert!(limit(&["--public-rate-limit", "0"]).is_err());
        assert!(limit(&["--public-rate-limit", "many"]).is_err());
    }

    #[test]
    fn the_cache_holds_100000_events_unless_told_and_refuses_a_uselessly_small_one() {
        assert_eq!(
            events(&[]).ok(),
            Some(crate::store::cache::DEFAULT_CAPACITY_EVENTS)
        );
        assert_eq!(events(&["--cache-events", "500000"]).ok(), Some(500_000));
        assert_eq!(events(&["--cache-events", "250,000"]).ok(), Some(250_000));
        assert!(events(&["--cache-events", "10"]).is_err());
        assert!(events(&["--cache-events", "lots"]).is_err());
    }
}
