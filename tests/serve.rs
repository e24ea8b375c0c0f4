//! `ansinh serve` with no DATABASE_URL runs its own PostgreSQL, answers /health, and leaves no
//! process behind when stopped with Ctrl-C; when its PostgreSQL is killed under concurrent
//! writers it loses no acknowledged write, answers 503 `database-unavailable` within seconds
//! while the database is down, and starts PostgreSQL again itself.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sqlx::Connection;

/// The postmaster's process id, from the first line of its pid file.
fn postmaster_pid(data_dir: &std::path::Path) -> Option<Pid> {
    let text = std::fs::read_to_string(data_dir.join("pgdata/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok().map(Pid::from_raw)
}

/// Running, not merely a zombie waiting for a parent (PID 1 in a container may never reap it).
fn alive(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next());
    kill(pid, None).is_ok() && !matches!(state, Some("Z") | Some("X") | None)
}

#[tokio::test]
async fn serve_on_an_empty_data_dir_answers_health_and_ctrl_c_stops_everything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The unprivileged PostgreSQL user must be able to reach the data dir.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data_dir = tmp.path().join("data");

    let mut child = Serving(spawn_serve(&data_dir));
    let (url, drain) = announced_address(&mut child);

    let health = reqwest::get(format!("{url}/health"))
        .await
        .expect("GET /health");
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.expect("json");
    assert_eq!(body["status"], "ok");

    let postmaster = postmaster_pid(&data_dir).expect("the cluster is running");
    assert!(alive(postmaster));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
    let status = child.wait().expect("wait");
    let rest = drain.join().expect("drain");
    assert!(status.success(), "exit {status:?}; stderr:\n{rest}");
    assert!(!alive(postmaster), "PostgreSQL was left running");
    assert!(!data_dir.join("pgdata/postmaster.pid").exists());
}

const UNAVAILABLE: &str = "urn:ansinh:problem:database-unavailable";

/// One write of a writer: when it was answered (after the start of the test), how long it
/// took, its status and problem type, and the household it created.
#[derive(Debug)]
struct Attempt {
    answered: Duration,
    took: Duration,
    status: u16,
    problem: Option<String>,
    created: Option<uuid::Uuid>,
}

/// Registers households as fast as it is answered until `stop`.
async fn writer(url: String, token: String, start: Instant, stop: Arc<AtomicBool>) -> Vec<Attempt> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let body = serde_json::json!({
        "head_name": "Nguyễn Thị Lan", "unit_code": "25459", "hamlet": "Ấp Thạnh Hiệp",
        "area": "rural", "ethnic_minority": false, "effective_on": "2021-09-20",
        "members": [{"name": "Nguyễn Thị Lan", "birth_year": 1978, "sex": "female",
                     "relation": "head", "id_number": "072178000123"}]
    });
    let mut attempts = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let reply = client
            .post(format!("{url}/api/v1/households"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("the server answers every write");
        let status = reply.status().as_u16();
        let json: serde_json::Value = reply.json().await.unwrap_or_default();
        attempts.push(Attempt {
            answered: start.elapsed(),
            took: sent.elapsed(),
            status,
            problem: json["type"].as_str().map(str::to_owned),
            created: json["id"].as_str().and_then(|id| id.parse().ok()),
        });
        if status != 201 {
            // Do not spin on a refusal.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    attempts
}

/// Waits until `f` holds, polling; panics with `what` after `limit`.
async fn until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_postgres_loses_no_acknowledged_write_answers_503_while_down_and_is_started_again()
{
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data_dir = tmp.path().join("data");
    // Durable (not ANSINH_PG_FAST): an acknowledged commit must survive PostgreSQL's death.
    let mut child = Serving(serve(&data_dir).spawn().expect("spawn ansinh serve"));
    let (url, drain) = announced_address(&mut child);
    let users = Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .args([
            "users",
            "add",
            "--name",
            "Lê Thị Hoa",
            "--role",
            "commune_officer",
        ])
        .args(["--unit", "25459", "--data-dir"])
        .arg(&data_dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("ansinh users add");
    assert!(users.status.success(), "{users:?}");
    let token = String::from_utf8(users.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(writer(url.clone(), token.clone(), start, stop.clone())))
        .collect();
    // Let the writers get going: a few hundred ms of acknowledged writes.
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Hold the lock ansinh takes to start PostgreSQL, so the outage lasts until we let go.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(data_dir.join(".ansinh-pg.lock"))
        .expect("open the start lock");
    let lock = Flock::lock(lock, FlockArg::LockExclusive).expect("take the start lock");
    let postmaster = postmaster_pid(&data_dir).expect("the cluster is running");
    kill(postmaster, Signal::SIGKILL).expect("kill -9 the postmaster");
    let killed = start.elapsed();
    until(Duration::from_secs(10), "the postmaster's death", || {
        !alive(postmaster)
    })
    .await;

    // While it is down, /health answers 503 database-unavailable within a second.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let asked = Instant::now();
        let health = reqwest::get(format!("{url}/health")).await.expect("health");
        let took = asked.elapsed();
        assert_eq!(health.status(), 503);
        let body: serde_json::Value = health.json().await.expect("problem");
        assert_eq!(body["type"], UNAVAILABLE, "{body}");
        assert!(took < Duration::from_millis(1500), "/health took {took:?}");
        eprintln!("/health while down: 503 in {took:?}");
    }
    // Long enough for every writer to be refused while down (acquire timeout: 2 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let released = start.elapsed();
    drop(lock);

    // ansinh starts PostgreSQL again by itself: /health is 200 again and writes succeed.
    let client = reqwest::Client::new();
    let mut serving_again = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while serving_again.is_none() {
        assert!(
            Instant::now() < deadline,
            "not serving 30 s after the restart was allowed"
        );
        let health = client.get(format!("{url}/health")).send().await;
        if health.is_ok_and(|h| h.status() == 200) {
            serving_again = Some(start.elapsed());
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let serving_again = serving_again.unwrap_or_default();
    eprintln!(
        "serving again {:?} after the restart was allowed",
        serving_again - released
    );
    // Let every writer get a few more writes through.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    for w in writers {
        let mine = w.await.expect("writer");
        let after = mine
            .iter()
            .filter(|a| a.answered > serving_again && a.status == 201)
            .count();
        assert!(
            after > 0,
            "a writer had no write through after the restart: {mine:?}"
        );
        attempts.extend(mine);
    }
    assert_eq!(
        child.try_wait().expect("try_wait"),
        None,
        "ansinh serve exited; no second process may be needed"
    );

    // Every refusal is a 503 database-unavailable given within a few seconds, never a 500;
    // writes in the outage were refused.
    let refused: Vec<&Attempt> = attempts.iter().filter(|a| a.status != 201).collect();
    for a in &refused {
        assert_eq!(a.status, 503, "{a:?}");
        assert_eq!(a.problem.as_deref(), Some(UNAVAILABLE), "{a:?}");
        assert!(a.took < Duration::from_secs(5), "{a:?}");
    }
    let in_outage = refused
        .iter()
        .filter(|a| a.answered > killed && a.answered < released)
        .count();
    assert!(
        in_outage >= 4,
        "writes while down were not refused: {refused:?}"
    );
    let slowest = refused.iter().map(|a| a.took).max().unwrap_or_default();
    eprintln!(
        "{} writes acknowledged, {} refused with 503 (slowest in {slowest:?})",
        attempts.len() - refused.len(),
        refused.len()
    );

    // Every acknowledged write is in the log.
    let acknowledged: Vec<uuid::Uuid> = attempts.iter().filter_map(|a| a.created).collect();
    assert!(acknowledged.len() >= 8, "{attempts:?}");
    let pg = ansinh::pg::EmbeddedPg::start(&data_dir).expect("reach the running cluster");
    assert!(
        !pg.started_server(),
        "the cluster serve restarted is the one in use"
    );
    let mut conn = sqlx::PgConnection::connect_with(&pg.connect_options("ansinh"))
        .await
        .expect("connect");
    let logged: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM household_events WHERE aggregate_id = ANY($1)",
    )
    .bind(&acknowledged)
    .fetch_all(&mut conn)
    .await
    .expect("read the log");
    let logged: std::collections::HashSet<_> = logged.into_iter().collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !logged.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    // Whole pages written to the WAL after a checkpoint go compressed (lz4 where built in).
    let wal_compression: String = sqlx::query_scalar("SHOW wal_compression")
        .fetch_one(&mut conn)
        .await
        .expect("SHOW wal_compression");
    assert!(
        ["lz4", "on", "pglz"].contains(&wal_compression.as_str()),
        "{wal_compression}"
    );
    conn.close().await.expect("close");
    drop(pg);

    // Ctrl-C stops ansinh and the PostgreSQL it started again.
    let restarted = postmaster_pid(&data_dir).expect("running again");
    assert_ne!(restarted, postmaster);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
    let status = child.wait().expect("wait");
    let rest = drain.join().expect("drain");
    assert!(status.success(), "exit {status:?}; stderr:\n{rest}");
    assert!(rest.contains("starting it again"), "{rest}");
    assert!(!alive(restarted), "PostgreSQL was left running");
}

#[test]
fn ctrl_c_while_serve_is_starting_leaves_no_postgres_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data_dir = tmp.path().join("data");
    let child = spawn_serve(&data_dir);
    // Interrupt as soon as PostgreSQL is up: ansinh is then still migrating, before it serves.
    for _ in 0..6_000 {
        if postmaster_pid(&data_dir).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let postmaster = postmaster_pid(&data_dir);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Whether the signal landed during start-up or after, nothing may be left running.
    if let Some(pid) = postmaster_pid(&data_dir).or(postmaster) {
        assert!(
            !alive(pid),
            "PostgreSQL was left running; stderr:\n{stderr}"
        );
    }
    assert!(
        !data_dir.join("pgdata/postmaster.pid").exists(),
        "stderr:\n{stderr}"
    );
}

/// A serve child that is stopped as Ctrl-C stops it (then killed) when a test ends before it
/// does: left running after a failed assert, it and its PostgreSQL held the test's output open
/// and CI waited on them for hours.
struct Serving(Child);

impl std::ops::Deref for Serving {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Serving {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let running = |c: &mut Child| matches!(c.try_wait(), Ok(None));
        if !running(&mut self.0) {
            return;
        }
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGINT);
        for _ in 0..300 {
            std::thread::sleep(Duration::from_millis(50));
            if !running(&mut self.0) {
                return;
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ansinh serve` on its own cluster in `data_dir` (no DATABASE_URL), stderr piped; fast (no
/// fsync, no synchronous commit: a throwaway cluster).
fn spawn_serve(data_dir: &std::path::Path) -> std::process::Child {
    serve(data_dir)
        .env("ANSINH_PG_FAST", "1")
        .spawn()
        .expect("spawn ansinh serve")
}

fn serve(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ansinh"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ANSINH_PG_FAST")
        .stderr(Stdio::piped());
    cmd
}

/// Reads the child's stderr until it announces its address; returns the base URL and a thread
/// that keeps draining stderr (so the child never blocks on a full pipe) and returns the rest.
fn announced_address(child: &mut Child) -> (String, std::thread::JoinHandle<String>) {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read") > 0 {
        seen.push_str(&line);
        if let Some(url) = line
            .split("serving on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        {
            let url = url.to_owned();
            let drain = std::thread::spawn(move || {
                let mut rest = String::new();
                for l in stderr.lines().map_while(Result::ok) {
                    rest.push_str(&l);
                    rest.push('\n');
                }
                rest
            });
            return (url, drain);
        }
        line.clear();
    }
    panic!("no address announced; stderr was:\n{seen}");
}
