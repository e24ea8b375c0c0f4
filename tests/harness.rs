//! The test harness itself: fresh, separate databases, and no server left behind.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::test_db;
use sqlx::{Connection, PgPool};

fn embedded() -> bool {
    std::env::var("DATABASE_URL").map_or(true, |url| url.is_empty())
}

async fn has_table(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar("select to_regclass($1) is not null")
        .bind(table)
        .fetch_one(pool)
        .await
        .expect("to_regclass")
}

#[tokio::test]
async fn each_test_database_is_fresh_and_separate() {
    let (a, b) = (test_db().await, test_db().await);
    assert_ne!(a.name, b.name);
    let current: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&a.pool)
        .await
        .expect("current_database");
    assert_eq!(current, a.name);

    sqlx::query("create table only_in_a (id int)")
        .execute(&a.pool)
        .await
        .expect("create table");
    assert!(has_table(&a.pool, "only_in_a").await);
    assert!(!has_table(&b.pool, "only_in_a").await);
}

/// Tests running side by side may use the same names without meeting.
#[tokio::test]
async fn a_parallel_test_may_create_the_same_table() {
    let db = test_db().await;
    assert!(!has_table(&db.pool, "shared_name").await);
    sqlx::query("create table shared_name (id int)")
        .execute(&db.pool)
        .await
        .expect("create table");
}

#[tokio::test]
async fn another_parallel_test_may_create_the_same_table() {
    let db = test_db().await;
    assert!(!has_table(&db.pool, "shared_name").await);
    sqlx::query("create table shared_name (id int)")
        .execute(&db.pool)
        .await
        .expect("create table");
}

#[tokio::test]
async fn the_pool_runs_select_1() {
    let db = test_db().await;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&db.pool)
        .await
        .expect("select 1");
    assert_eq!(one, 1);
}

#[tokio::test]
async fn the_url_reaches_the_same_database() {
    let db = test_db().await;
    let mut conn = sqlx::PgConnection::connect(&db.url)
        .await
        .expect("connect by URL");
    let current: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&mut conn)
        .await
        .expect("current_database");
    assert_eq!(current, db.name);
}

#[tokio::test]
async fn the_embedded_server_runs_as_an_unprivileged_user() {
    if !embedded() {
        return;
    }
    let db = test_db().await;
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&db.pool)
        .await
        .expect("pg_backend_pid");
    let uid = std::fs::metadata(format!("/proc/{pid}"))
        .expect("backend process")
        .uid();
    let me = nix::unistd::geteuid();
    if me.is_root() {
        let allowed = ["postgres", "nobody"].map(|name| {
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
        });
        assert!(allowed.contains(&Some(uid)), "the server runs as uid {uid}");
    } else {
        assert_eq!(uid, me.as_raw());
    }
}

/// Run alone in a child process by the test below.
#[tokio::test]
async fn prints_its_data_directory() {
    let db = test_db().await;
    let dir: String = sqlx::query_scalar("select current_setting('data_directory')")
        .fetch_one(&db.pool)
        .await
        .expect("data_directory");
    println!("data_directory={dir}");
}

#[test]
fn the_cluster_stops_and_its_directory_goes_when_the_test_process_exits() {
    if !embedded() {
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args(["prints_its_data_directory", "--exact", "--nocapture"])
        .output()
        .expect("run the child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = stdout
        .lines()
        .find_map(|line| line.strip_prefix("data_directory="))
        .expect("the child printed its data directory");

    assert!(!std::path::Path::new(dir).exists(), "{dir} was not removed");
    // No live process (zombies aside: this container's init may not reap) names it.
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let path = entry.path();
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        assert!(
            zombie || !String::from_utf8_lossy(&cmdline).contains(dir),
            "{} still runs for {dir}",
            path.display()
        );
    }
}
