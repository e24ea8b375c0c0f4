//! `ansinh serve` with no DATABASE_URL runs its own PostgreSQL, answers /health, and leaves no
//! process behind when stopped with Ctrl-C.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

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

    let mut child = spawn_serve(&data_dir);
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut url = None;
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read") > 0 {
        seen.push_str(&line);
        if let Some(rest) = line.split("serving on ").nth(1) {
            url = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
        line.clear();
    }
    let url = url.unwrap_or_else(|| panic!("no address announced; stderr was:\n{seen}"));
    // Keep draining stderr so the child never blocks on a full pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        for l in stderr.lines().map_while(Result::ok) {
            rest.push_str(&l);
            rest.push('\n');
        }
        rest
    });

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

/// `ansinh serve` on its own cluster in `data_dir` (no DATABASE_URL), stderr piped.
fn spawn_serve(data_dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("ANSINH_PG_FAST", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ansinh serve")
}
