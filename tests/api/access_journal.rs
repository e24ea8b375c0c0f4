//! The access-log journal: a read is answered once its row is in the server's journal, and
//! the rows of reads a server answered reach the table even when it dies before shipping them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ansinh::api::access_log::AccessLog;
use ansinh::users::Role;
use ansinh::web::WebConfig;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{mend_access_log, refuse_access_log, server_with, spawn_app};

/// A server whose access-log journal is kept in `folder`, built and run on the current
/// runtime over a pool of its own: its base URL and access-log writer.
async fn server_on(options: PgConnectOptions, folder: PathBuf) -> (String, AccessLog) {
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .expect("the server's pool");
    let mut web = WebConfig::default();
    web.access_journal = Some(folder);
    server_with(pool, web).await
}

/// A GET of `path` on the server at `base` with `token`: its status and body.
async fn get_at(client: &reqwest::Client, base: &str, path: &str, token: &str) -> (u16, String) {
    let r = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("a reply");
    (r.status().as_u16(), r.text().await.expect("a body"))
}

/// The journal files in `folder`.
fn journals(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn reads_a_server_answered_before_it_died_are_shipped_by_the_next_one_on_its_folder() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let auditor = app.token(Role::Auditor, "72").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    let folder = tempfile::tempdir().expect("a journal folder");
    let options = (*app.pool.connect_options()).clone();

    // Another database's journal in the same folder: left for the servers of that database.
    let stranger = folder
        .path()
        .join(format!("{}.jsonl", uuid::Uuid::now_v7()));
    std::fs::write(&stranger, "{}\n").expect("a stranger's journal");

    // The server that will die: on a runtime of its own, so it can stop without a word.
    let doomed = tokio::runtime::Runtime::new().expect("a runtime");
    let (sent, started) = tokio::sync::oneshot::channel();
    let (o, f) = (options.clone(), folder.path().to_owned());
    doomed.spawn(async move {
        let _ = sent.send(server_on(o, f).await);
    });
    let (base, first) = started.await.expect("the first server started");
    let get = |path| get_at(&app.client, &base, path, &auditor);
    assert_eq!(get(&history).await.0, 200);
    first.ship().await.expect("shipped");
    // The table takes no row now, so the next read stays in the journal alone.
    refuse_access_log(&app.pool).await;
    assert_eq!(get(&history).await.0, 200, "answered from the journal");
    doomed.shutdown_background();
    mend_access_log(&app.pool).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM access_log WHERE household_id = $1")
            .bind(household)
            .fetch_one(&app.pool)
            .await
            .expect("count")
    };
    assert_eq!(count().await, 1, "the second read never reached the table");
    let left: Vec<_> = journals(folder.path())
        .into_iter()
        .filter(|p| p != &stranger)
        .collect();
    assert_eq!(left.len(), 1, "the dead server's journal is left: {left:?}");
    // Its lock goes with its runtime's tasks.
    for _ in 0..100 {
        let free = std::fs::File::open(&left[0])
            .map(|file| file.try_lock().is_ok())
            .unwrap_or(true);
        if free {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The crash cut a last line short: that read was never answered.
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .open(&left[0])
        .expect("the dead server's journal");
    std::io::Write::write_all(&mut journal, br#"{"seq":3,"at":"2026-"#).expect("a torn line");

    let (_, next) = server_on(options, folder.path().to_owned()).await;
    next.ship().await.expect("shipped");
    assert_eq!(count().await, 2, "the dead server's read reached the table");
    assert!(!left[0].exists(), "its journal is removed once shipped");
    assert!(
        stranger.exists(),
        "another database's journal is left alone"
    );
    let journals: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT shipped_through, closed_at IS NOT NULL FROM access_journals ORDER BY opened_at",
    )
    .fetch_all(&app.pool)
    .await
    .expect("journals");
    assert!(journals.contains(&(2, true)), "{journals:?}");
}

#[tokio::test]
async fn a_read_whose_row_cannot_be_journaled_hands_out_nothing() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let household = app.register(&officer, "25459").await;
    // A folder that cannot be made: its parent is a file.
    let file = tempfile::NamedTempFile::new().expect("a file");
    let options = (*app.pool.connect_options()).clone();
    let (base, _) = server_on(options, file.path().join("journal")).await;
    for path in [
        format!("/api/v1/households/{household}/history"),
        format!("/api/v1/households/{household}"),
    ] {
        let (status, text) = get_at(&app.client, &base, &path, &officer).await;
        assert_eq!(status, 500, "{path}");
        assert!(!text.contains("Nguyễn"), "{text}");
    }
    // Reads that name no household's personal data are not held back.
    let (status, _) = get_at(&app.client, &base, "/api/v1/re-poverty", &officer).await;
    assert_eq!(status, 200);
}

/// The writer's connection closed under it (a restart, a terminated backend) costs no read.
#[tokio::test]
async fn a_shipment_on_a_connection_postgresql_closed_is_made_again_on_a_fresh_one() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let household = app.register(&officer, "25459").await;
    let history = format!("/api/v1/households/{household}/history");
    assert_eq!(app.get(&history, &officer).await.status, 200);
    app.ship_access_log().await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(ansinh::api::access_log::APPLICATION_NAME)
    .fetch_all(&app.pool)
    .await
    .expect("end the writer's connection");
    assert_eq!(ended, vec![true], "the writer's one connection");
    assert_eq!(app.get(&history, &officer).await.status, 200);
    app.ship_access_log().await;
    assert_eq!(app.get(&history, &officer).await.status, 200);
    app.ship_access_log().await;
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM access_log WHERE household_id = $1")
        .bind(household)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(logged, 3);
}
