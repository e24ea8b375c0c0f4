//! The harness shared by the integration tests: every test gets its own fresh
//! database, on `DATABASE_URL`'s server when that is set, else on one private
//! throwaway cluster per test process, stopped when the process exits.
#![allow(dead_code)] // each test file uses a different part of this module

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use ansinh::pg::EmbeddedPg;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Test clusters live in `/tmp/ansinh-test-XXXX/data`, next to `owner.pid`.
const TMP: &str = "/tmp";
const PREFIX: &str = "ansinh-test-";

/// A fresh database of its own for one test.
pub struct TestDb {
    pub pool: PgPool,
    /// A URL a child `ansinh` process can take as `DATABASE_URL`.
    pub url: String,
    pub name: String,
}

enum Server {
    /// `DATABASE_URL`'s server; test databases are created next to its database.
    External(PgConnectOptions),
    /// Our cluster; `None` once stopped at exit.
    Embedded(Mutex<Option<Cluster>>),
}

/// Fields drop in order: the server stops before its directory is removed.
struct Cluster {
    pg: EmbeddedPg,
    _dir: tempfile::TempDir,
}

/// Only the server lives here: a pool belongs to the runtime that made it, and
/// every `#[tokio::test]` has its own runtime.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

pub async fn test_db() -> TestDb {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let (admin, url) = match server() {
        Server::External(options) => {
            let url = options.clone().database(&name).to_url_lossy().to_string();
            (options.clone(), url)
        }
        Server::Embedded(cluster) => {
            let cluster = cluster.lock().unwrap_or_else(PoisonError::into_inner);
            let pg = &cluster.as_ref().expect("the test cluster is running").pg;
            (pg.connect_options("postgres"), pg.url(&name))
        }
    };
    let mut conn = sqlx::PgConnection::connect_with(&admin)
        .await
        .expect("connect to the test server");
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    conn.close().await.expect("close the admin connection");
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(admin.database(&name))
        .await
        .expect("connect to the test database");
    TestDb { pool, url, name }
}

fn server() -> &'static Server {
    let server = SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url
            .parse()
            .map(Server::External)
            .map_err(|e| format!("DATABASE_URL is not valid: {e}")),
        _ => start_cluster().map(|cluster| Server::Embedded(Mutex::new(Some(cluster)))),
    });
    match server {
        Ok(server) => server,
        Err(e) => panic!("no test database server: {e}"),
    }
}

/// Blocks the first test for a second or two (initdb); the others wait on the
/// `OnceLock`. pg_ctl waits for readiness, so nothing here sleeps.
fn start_cluster() -> Result<Cluster, String> {
    reap_leaked_clusters();
    let dir = tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(TMP)
        .map_err(|e| format!("could not create a temporary directory: {e}"))?;
    // As root, the cluster runs as an unprivileged user, who must enter the directory.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
        .and_then(|()| fs::write(dir.path().join("owner.pid"), std::process::id().to_string()))
        .map_err(|e| format!("could not prepare {}: {e}", dir.path().display()))?;
    // Fast (ANSINH_PG_FAST=1 without touching this multi-threaded process's
    // environment): no fsync, the cluster is thrown away.
    let pg = EmbeddedPg::start_with(&dir.path().join("data"), true).map_err(|e| e.to_string())?;
    let cluster = Cluster { pg, _dir: dir };
    stop_at_exit();
    Ok(cluster)
}

/// The test harness never drops statics, so an `atexit` hook stops the cluster
/// and removes its directory when the test binary returns from main or calls
/// `exit` (libtest does one or the other). A process killed outright leaves them
/// behind for [`reap_leaked_clusters`].
#[allow(unsafe_code)] // libc::atexit is FFI with no safe wrapper (nix has none)
fn stop_at_exit() {
    extern "C" fn stop() {
        // Unwinding out of an extern "C" fn aborts: keep panics in here.
        let _ = std::panic::catch_unwind(|| {
            if let Some(Ok(Server::Embedded(cluster))) = SERVER.get() {
                drop(
                    cluster
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take(),
                );
            }
        });
    }
    // SAFETY: `stop` is a plain function that neither unwinds nor needs anything
    // that exit tears down before running atexit hooks.
    if unsafe { libc::atexit(stop) } != 0 {
        eprintln!("could not register the test cluster's atexit hook; it will be reaped later");
    }
}

/// Stops clusters and removes directories of earlier test processes that were
/// killed (Ctrl-C, a timeout) before their atexit hook could run.
fn reap_leaked_clusters() {
    let Ok(entries) = fs::read_dir(TMP) else {
        return;
    };
    for dir in entries.flatten().map(|entry| entry.path()) {
        let ours = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX));
        // No owner.pid yet: a process is still setting it up.
        if !ours || first_pid(&dir.join("owner.pid")).is_none_or(alive) {
            continue;
        }
        let pgdata = dir.join("data/pgdata");
        if let Some(postmaster) = first_pid(&pgdata.join("postmaster.pid")) {
            // Only if that PID is still this cluster's postmaster, not a reused one.
            let cmdline = fs::read(format!("/proc/{postmaster}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*pgdata.to_string_lossy()) {
                // Immediate shutdown: the data is thrown away anyway.
                let _ = kill(postmaster, Signal::SIGQUIT);
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

fn first_pid(file: &Path) -> Option<Pid> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().next()?.trim().parse().ok().map(Pid::from_raw)
}

/// Alive for the reaper's purposes: a zombie or another user's process counts.
fn alive(pid: Pid) -> bool {
    kill(pid, None) != Err(nix::errno::Errno::ESRCH)
}

/// A fresh database with ansinh's schema applied and the shipped units loaded.
pub async fn migrated_db() -> TestDb {
    let db = test_db().await;
    ansinh::db::migrate(&db.pool).await.expect("migrate");
    ansinh_projections::units::load_shipped(&db.pool)
        .await
        .expect("load units");
    db
}

/// The `ansinh` binary with `args`, on the database at `db_url`.
fn ansinh_command(db_url: &str, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ansinh"));
    command
        .args(args)
        .env("DATABASE_URL", db_url)
        .env_remove("RUST_LOG");
    command
}

/// Runs the `ansinh` binary on the database at `db_url`; waits for it, blocking the thread:
/// only for tests with no server on their runtime (see [`ansinh_async`]).
pub fn ansinh(db_url: &str, args: &[&str]) -> std::process::Output {
    ansinh_command(db_url, args).output().expect("run ansinh")
}

/// [`ansinh`] awaited, for tests whose runtime runs a server. A blocking wait froze that
/// server: its projection runner could hold the checkpoint rows `FOR UPDATE` mid-transaction
/// while the child's catch-up waited on them, and neither ever moved again.
pub async fn ansinh_async(db_url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::from(ansinh_command(db_url, args))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run ansinh")
}

/// A child's stdout or stderr, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
