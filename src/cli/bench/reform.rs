//! The reform of the units at province scale: a generated province as it stood before
//! 1 July 2025 (its reviews up to 2024) is imported into a database of its own, then
//! `ansinh units reform` runs as a user runs it (a child process, whose peak memory is read from
//! `/proc` while it runs), against a binary COPY of the very event rows it wrote.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, PgPool};

use super::measure::Figure;
use super::province::err;
use super::{BenchOptions, Table};

/// Reviews of 2025 and later (and supports from the reform on) are left out: the province is
/// imported as it stood before the reform, in its old communes.
fn before_the_reform(file: &Path, out: &Path) -> Result<(), sqlx::Error> {
    let keep = |path: &Path, to: &Path, column: &str, keep: &dyn Fn(&str) -> bool| {
        let mut reader = csv::Reader::from_path(path).map_err(err)?;
        let headers = reader.headers().map_err(err)?.clone();
        let at = headers
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| err(format!("{} has no column {column}", path.display())))?;
        let mut writer = csv::Writer::from_path(to).map_err(err)?;
        writer.write_record(&headers).map_err(err)?;
        for record in reader.records() {
            let record = record.map_err(err)?;
            if keep(record.get(at).unwrap_or_default()) {
                writer.write_record(&record).map_err(err)?;
            }
        }
        writer.flush().map_err(err)
    };
    keep(file, out, "survey_date", &|day| day < "2025-01-01")?;
    keep(
        &crate::import::format::supports_path(file),
        &crate::import::format::supports_path(out),
        "disbursed_on",
        &|day| day < "2025-07-01",
    )
}

pub async fn run(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
    work: &Path,
) -> Result<(), sqlx::Error> {
    // A database of its own: the other figures' province is already across the reform.
    let name = format!(
        "{}_reform",
        pool.connect_options().get_database().unwrap_or("ansinh")
    );
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(pool)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pool)
        .await?;
    let connect = (*pool.connect_options()).clone().database(&name);
    let outcome = async {
        let scratch = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(connect)
            .await?;
        crate::db::migrate(&scratch).await.map_err(err)?;
        ansinh_projections::units::load_shipped(&scratch).await?;
        let result = measure(&scratch, options, table, work).await;
        scratch.close().await;
        result
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(pool)
        .await?;
    outcome
}

async fn measure(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
    work: &Path,
) -> Result<(), sqlx::Error> {
    let generated = work.join("reform-province.csv");
    crate::generate::generate_to(
        crate::generate::province::Province::TayNinh,
        &generated,
        options.households,
        crate::generate::DEFAULT_SEED,
        |_| {},
    )
    .map_err(err)?;
    let file = work.join("reform-before.csv");
    before_the_reform(&generated, &file)?;
    let url = pool.connect_options().to_url_lossy().to_string();
    let exe = std::env::current_exe().map_err(err)?;
    let out = std::process::Command::new(&exe)
        .arg("import")
        .arg(&file)
        .env("DATABASE_URL", &url)
        .output()
        .map_err(err)?;
    if !out.status.success() {
        return Err(err(format!(
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }

    let started = Instant::now();
    let child = std::process::Command::new(&exe)
        .args(["units", "reform"])
        .env("DATABASE_URL", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(err)?;
    let peak = peak_rss_while_running(child.id());
    let out = child.wait_with_output().map_err(err)?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(err(format!(
            "reform failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let peak_mib = peak.join().unwrap_or(0) as f64 / 1024.0;
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(err)?;
    let moved = summary["moved"].as_u64().unwrap_or(0) as usize;

    let copied = copy_moves(pool).await?;
    let baseline = "binary COPY of the reform's event rows";
    table.push(Figure::once_through(baseline, moved, copied, None));
    table.push(Figure::once_through(
        format!(
            "ansinh units reform ({moved} of {} households moved, {} await assignment, peak RSS {peak_mib:.0} MiB)",
            options.households, summary["unassigned"]
        ),
        moved,
        secs,
        Some(baseline),
    ));
    Ok(())
}

/// Polls the child's peak resident set (`VmHWM`, KiB) until it exits; the last value read.
fn peak_rss_while_running(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(&path) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            match hwm {
                Some(kib) => peak = peak.max(kib),
                // A zombie has no memory lines left: it has finished.
                None => break,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

/// The rows the reform wrote, COPYed back into a table of the log's shape.
async fn copy_moves(pool: &PgPool) -> Result<f64, sqlx::Error> {
    super::province::copy_back(
        pool,
        "(SELECT id, aggregate_id, payload, occurred_on, sequence_number
            FROM household_events
           WHERE payload->>'type' = 'household_moved'
             AND payload->'meta'->>'legal_basis' = '1682/NQ-UBTVQH15')",
    )
    .await
}
