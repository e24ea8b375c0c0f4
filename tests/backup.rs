//! `ansinh backup` and `ansinh restore` on a real PostgreSQL: a generated province backed up
//! and restored into an empty database gives the same log, an intact verify and the anchor the
//! backup saved; restore refuses a database that is not empty, a damaged dump and a log whose
//! anchor is not the saved one; the same works on the embedded cluster.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{ansinh, text};
use serde_json::Value;
use sqlx::PgPool;

const HOUSEHOLDS: usize = 300;

/// The JSON summary of a command that must succeed.
fn ok(out: Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{}", text(&out.stdout)))
}

/// Every event whole: where it sits and its payload with hashes and instants.
async fn log(pool: &PgPool) -> Vec<(uuid::Uuid, i32, Value)> {
    sqlx::query_as(
        "SELECT aggregate_id, sequence_number, payload FROM household_events
          ORDER BY aggregate_id, sequence_number",
    )
    .fetch_all(pool)
    .await
    .expect("read the log")
}

/// A generated province imported into a fresh database.
async fn province(dir: &Path) -> common::TestDb {
    let file = dir.join("province.csv");
    let g = ansinh::generate::generate(HOUSEHOLDS, 35).expect("generate");
    ansinh::generate::write(&file, &g).expect("write");
    let db = common::migrated_db().await;
    ok(
        ansinh(&db.url, &["import", file.to_str().expect("utf-8")]),
        "import",
    );
    db
}

#[tokio::test]
async fn a_restored_backup_has_the_saved_anchor_and_restore_refuses_what_it_cannot_prove() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = province(tmp.path()).await;
    let out = tmp.path().join("backup");
    let out_arg = out.to_str().expect("utf-8");

    let started = std::time::Instant::now();
    let summary = ok(ansinh(&source.url, &["backup", "--out", out_arg]), "backup");
    eprintln!("backup of {HOUSEHOLDS} households: {:?}", started.elapsed());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest"))
            .expect("manifest is JSON");
    let date = manifest["date"].as_str().expect("date").to_owned();
    // The saved anchor is `ansinh anchor` of that day on the source.
    let anchor = ok(ansinh(&source.url, &["anchor", "--date", &date]), "anchor");
    assert_eq!(manifest["anchor"], anchor["root"], "{manifest}");
    assert_eq!(summary["anchor"], anchor["root"]);
    assert_eq!(manifest["ansinh_version"], env!("CARGO_PKG_VERSION"));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM household_events")
        .fetch_one(&source.pool)
        .await
        .expect("count");
    assert!(events > 1000, "{events}");
    assert_eq!(manifest["events"], events);
    assert_eq!(summary["intact"], true);

    // A backup is never written over another.
    let again = ansinh(&source.url, &["backup", "--out", out_arg]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));

    // Into an empty database: the same log, intact, with the saved anchor.
    let target = common::test_db().await;
    let started = std::time::Instant::now();
    let restored = ok(ansinh(&target.url, &["restore", out_arg]), "restore");
    eprintln!(
        "restore of {HOUSEHOLDS} households: {:?}",
        started.elapsed()
    );
    assert_eq!(restored["anchor_matches"], true, "{restored}");
    assert_eq!(restored["anchor"], manifest["anchor"]);
    assert_eq!(restored["events"], events);
    assert_eq!(log(&target.pool).await, log(&source.pool).await);
    let verify = ansinh(&target.url, &["verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let anchor_after = ok(ansinh(&target.url, &["anchor", "--date", &date]), "anchor");
    assert_eq!(anchor_after["root"], manifest["anchor"]);

    // Not into a database that holds anything: exit 2, one sentence, nothing changed.
    let refused = ansinh(&target.url, &["restore", out_arg]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("not empty"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(log(&target.pool).await.len() as i64, events);

    // A manifest whose anchor is not the dump's: restored, checked, exit 1.
    let forged = tmp.path().join("forged");
    std::fs::create_dir(&forged).expect("mkdir");
    std::fs::copy(out.join("ansinh.dump"), forged.join("ansinh.dump")).expect("copy");
    let mut wrong = manifest.clone();
    wrong["anchor"] = Value::from("0".repeat(64));
    std::fs::write(forged.join("manifest.json"), wrong.to_string()).expect("write");
    let other = common::test_db().await;
    let mismatch = ansinh(&other.url, &["restore", forged.to_str().expect("utf-8")]);
    assert_eq!(
        mismatch.status.code(),
        Some(1),
        "{}",
        text(&mismatch.stderr)
    );
    assert!(
        text(&mismatch.stderr).contains("anchor"),
        "{}",
        text(&mismatch.stderr)
    );

    // A damaged dump is refused before anything is written.
    let mut bytes = std::fs::read(forged.join("ansinh.dump")).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(forged.join("ansinh.dump"), bytes).expect("write");
    let empty = common::test_db().await;
    let damaged = ansinh(&empty.url, &["restore", forged.to_str().expect("utf-8")]);
    assert_eq!(damaged.status.code(), Some(2), "{}", text(&damaged.stderr));
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(&empty.pool)
    .await
    .expect("count tables");
    assert_eq!(tables, 0);

    // Onto ansinh's own cluster (no DATABASE_URL): a new data dir restores and verifies.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let embedded = Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .args(["restore", out_arg, "--data-dir"])
        .arg(tmp.path().join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("ANSINH_PG_FAST", "1")
        .output()
        .expect("run ansinh restore");
    let embedded = ok(embedded, "restore onto the embedded cluster");
    assert_eq!(embedded["anchor_matches"], true, "{embedded}");
    assert_eq!(embedded["events"], events);
    // And back up from it: the same anchor.
    let from_embedded = Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .args(["backup", "--out"])
        .arg(tmp.path().join("backup-2"))
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("ANSINH_PG_FAST", "1")
        .output()
        .expect("run ansinh backup");
    let from_embedded = ok(from_embedded, "backup of the embedded cluster");
    assert_eq!(from_embedded["anchor"], manifest["anchor"]);
    assert_eq!(from_embedded["events"], events);
}
