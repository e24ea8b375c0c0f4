//! `ansinh backup` and `ansinh restore`: a backup that proves itself.
//!
//! A backup folder holds `ansinh.dump` (pg_dump's custom format) and `manifest.json`: the day
//! the backup was taken (Vietnam time), that day's anchor (see [`crate::verify`]) and the
//! numbers of events and households, all computed from the very snapshot pg_dump dumps, and
//! the dump's SHA-256. `restore` loads the dump into an empty database only, then recomputes
//! the anchor of that day and verifies every chain: equal to the manifest, or exit 1.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::cli::Failure;
use crate::db::Database;
use crate::pg::embedded::tail;
use crate::verify::{self, VerifyReport};

const MANIFEST: &str = "manifest.json";
const DUMP: &str = "ansinh.dump";

/// What a backup folder says about its dump.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The day (Vietnam time) the backup was taken.
    pub date: NaiveDate,
    /// The anchor root of `date`, over the dumped log.
    pub anchor: String,
    pub events: u64,
    pub households: u64,
    pub ansinh_version: String,
    /// The PostgreSQL server the dump was taken from (`server_version`).
    pub server_version: String,
    pub taken_at: DateTime<Utc>,
    /// The dump's file name in the folder, and the SHA-256 of its bytes.
    pub dump: String,
    pub dump_sha256: String,
}

/// `ansinh backup --out DIR`.
pub async fn backup(db: &Database, out: &Path) -> Result<u8, Failure> {
    let started = Instant::now();
    prepare_out(out)?;
    let pg_dump = client_binary(db, "pg_dump").await?;
    let server_version = server_version(&db.pool).await?;

    // One snapshot for both the dump and the anchor: a transaction exports it, pg_dump takes
    // it, and the chains are verified and the anchor computed inside that transaction.
    let mut conn = db.pool.acquire().await.map_err(Failure::other)?;
    conn.close_on_drop();
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *conn)
        .await
        .map_err(Failure::other)?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *conn)
        .await
        .map_err(Failure::other)?;
    let partial = out.join(format!("{DUMP}.partial"));
    eprintln!("dumping the database to {} …", out.join(DUMP).display());
    let dump = tokio::process::Command::new(&pg_dump)
        .arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(&partial)
        .arg("--dbname")
        .arg(&db.url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::other(format!("could not run {}: {e}", pg_dump.display())))?;
    let date = verify::today();
    let bar = crate::progress::bar("verifying");
    bar.set_length(
        verify::count_events(&mut *conn)
            .await
            .map_err(Failure::other)?,
    );
    let (report, mut conn) = verify::verify_on(conn, Some(date), &bar)
        .await
        .map_err(Failure::other)?;
    bar.finish_and_clear();
    let dumped = dump.wait_with_output().await.map_err(Failure::other)?;
    sqlx::query("COMMIT")
        .execute(&mut *conn)
        .await
        .map_err(Failure::other)?;
    if !dumped.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(Failure::other(format!(
            "pg_dump failed ({}): {}",
            dumped.status,
            tail(&String::from_utf8_lossy(&dumped.stderr))
        )));
    }
    let dump_path = out.join(DUMP);
    std::fs::rename(&partial, &dump_path).map_err(|e| io_failure("rename", &partial, e))?;
    let anchor = report
        .anchor
        .as_ref()
        .ok_or_else(|| Failure::other("no anchor was computed"))?;
    let manifest = Manifest {
        date,
        anchor: anchor.root.clone(),
        events: report.events,
        households: report.households,
        ansinh_version: env!("CARGO_PKG_VERSION").to_owned(),
        server_version,
        taken_at: Utc::now(),
        dump: DUMP.to_owned(),
        dump_sha256: sha256_file(&dump_path)?,
    };
    // Written last: a folder with a manifest holds a complete backup.
    let text = serde_json::to_string_pretty(&manifest).map_err(Failure::other)?;
    let manifest_path = out.join(MANIFEST);
    std::fs::write(&manifest_path, text + "\n")
        .map_err(|e| io_failure("write", &manifest_path, e))?;
    let bytes = std::fs::metadata(&dump_path).map(|m| m.len()).unwrap_or(0);
    super::print_json(&serde_json::json!({
        "out": out,
        "date": manifest.date,
        "anchor": manifest.anchor,
        "events": manifest.events,
        "households": manifest.households,
        "intact": report.intact(),
        "dump_bytes": bytes,
        "seconds": round(started.elapsed().as_secs_f64()),
    }))?;
    if !report.intact() {
        return Err(Failure::other(format!(
            "the backup was written, but {} household chain(s) in it are broken; run `ansinh verify`",
            report.broken.len()
        )));
    }
    Ok(0)
}

/// `ansinh restore DIR`, into `db`, which must be empty.
pub async fn restore(db: &Database, dir: &Path) -> Result<u8, Failure> {
    let started = Instant::now();
    let manifest = read_manifest(dir)?;
    let dump = dir.join(&manifest.dump);
    let digest = sha256_file(&dump).map_err(|f| Failure::bad_input(f.message))?;
    if digest != manifest.dump_sha256 {
        return Err(Failure::bad_input(format!(
            "{} is not the dump its manifest describes (its SHA-256 differs); the backup is damaged",
            dump.display()
        )));
    }
    let objects = user_objects(&db.pool).await?;
    if objects > 0 {
        return Err(Failure::bad_input(format!(
            "the database is not empty ({objects} tables, sequences or functions); restore only \
             into an empty database: a new --data-dir, or one made with `createdb`"
        )));
    }
    let pg_restore = client_binary(db, "pg_restore").await?;
    eprintln!("restoring {} …", dump.display());
    // One transaction: a restore that fails leaves the database empty. Owners and grants are
    // the source server's; the restoring role owns everything here.
    let restored = tokio::process::Command::new(&pg_restore)
        .args([
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-acl",
        ])
        .arg("--dbname")
        .arg(&db.url)
        .arg(&dump)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Failure::other(format!("could not run {}: {e}", pg_restore.display())))?;
    if !restored.status.success() {
        return Err(Failure::other(format!(
            "pg_restore failed ({}); the database was left empty: {}",
            restored.status,
            tail(&String::from_utf8_lossy(&restored.stderr))
        )));
    }
    // pg_restore leaves the planner without statistics.
    sqlx::query("ANALYZE")
        .execute(&db.pool)
        .await
        .map_err(Failure::other)?;
    let bar = crate::progress::bar("verifying");
    bar.set_length(
        verify::count_events(&db.pool)
            .await
            .map_err(Failure::other)?,
    );
    let report = verify::verify(&db.pool, None, Some(manifest.date), &bar)
        .await
        .map_err(Failure::other)?;
    bar.finish_and_clear();
    let root = report.anchor.as_ref().map(|a| a.root.clone());
    let anchor_matches = root.as_deref() == Some(manifest.anchor.as_str());
    let events_match = report.events == manifest.events;
    super::print_json(&serde_json::json!({
        "restored_from": dir,
        "date": manifest.date,
        "anchor": root,
        "anchor_matches": anchor_matches,
        "events": report.events,
        "households": report.households,
        "intact": report.intact(),
        "seconds": round(started.elapsed().as_secs_f64()),
    }))?;
    check_restored(&manifest, &report, anchor_matches && events_match)
}

/// Exit 0 when the restored log is the one the manifest describes, else a failure naming what
/// differs.
fn check_restored(manifest: &Manifest, report: &VerifyReport, equal: bool) -> Result<u8, Failure> {
    if !report.intact() {
        return Err(Failure::other(format!(
            "restored, but {} household chain(s) are broken; run `ansinh verify`",
            report.broken.len()
        )));
    }
    if !equal {
        return Err(Failure::other(format!(
            "restored, but the log is not the one backed up: the anchor of {} is {} with {} \
             events, the manifest says {} with {} events",
            manifest.date,
            report.anchor.as_ref().map_or("none", |a| a.root.as_str()),
            report.events,
            manifest.anchor,
            manifest.events
        )));
    }
    Ok(0)
}

/// The output folder must be new or empty: a backup is never written over another.
fn prepare_out(out: &Path) -> Result<(), Failure> {
    if let Ok(mut entries) = std::fs::read_dir(out) {
        if entries.next().is_some() {
            return Err(Failure::bad_input(format!(
                "{} is not empty; back up into a new or empty folder",
                out.display()
            )));
        }
    } else if out.exists() {
        return Err(Failure::bad_input(format!(
            "{} is not a folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| io_failure("create", out, e))
}

fn read_manifest(dir: &Path) -> Result<Manifest, Failure> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::bad_input(format!(
            "{} is not a backup folder: could not read {}: {e}",
            dir.display(),
            path.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::bad_input(format!("{} is not valid: {e}", path.display())))
}

/// Tables, views, sequences and functions outside PostgreSQL's own schemas.
async fn user_objects(pool: &PgPool) -> Result<i64, Failure> {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%')
              + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))",
    )
    .fetch_one(pool)
    .await
    .map_err(Failure::other)
}

async fn server_version(pool: &PgPool) -> Result<String, Failure> {
    sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(pool)
        .await
        .map_err(Failure::other)
}

/// `pg_dump` or `pg_restore` for the server at hand: the embedded cluster's own binaries, else
/// Debian's folder of the server's major version, else the one on PATH.
async fn client_binary(db: &Database, name: &str) -> Result<PathBuf, Failure> {
    if let Some(pg) = &db.embedded {
        return Ok(pg.bin_dir().join(name));
    }
    let number: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(&db.pool)
        .await
        .map_err(Failure::other)?;
    let major = number.parse::<u32>().unwrap_or(0) / 10_000;
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/{name}"));
    Ok(if debian.is_file() {
        debian
    } else {
        PathBuf::from(name)
    })
}

fn sha256_file(path: &Path) -> Result<String, Failure> {
    let mut file = std::fs::File::open(path).map_err(|e| io_failure("read", path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| io_failure("read", path, e))?;
    Ok(hex::encode(hasher.finalize()))
}

fn io_failure(action: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::other(format!("could not {action} {}: {e}", path.display()))
}

fn round(secs: f64) -> f64 {
    (secs * 100.0).round() / 100.0
}
