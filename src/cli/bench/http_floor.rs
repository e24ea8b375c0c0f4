//! The floor under the HTTP figures: the same client, at the same concurrency, against a bare
//! server that answers each request with bytes it already holds (no database, no sign-in, no
//! middleware). On this machine client, server and PostgreSQL share two cores, so what one
//! HTTP exchange costs here is paid by every HTTP figure and by no plain-PostgreSQL baseline.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use sqlx::PgPool;
use uuid::Uuid;

use super::measure::interleaved;
use super::province::err;
use super::Table;

/// A history page and a command's answer as the real server gave them, served back as they are.
pub struct Answers {
    pub page: Bytes,
    pub created: Bytes,
}

/// Runs both floors against their baselines: a GET of `answers.page` against the plain SELECT
/// of a household's events, a POST of a support's body (read whole) answered 201 with
/// `answers.created` against a plain one-row INSERT.
pub async fn run(
    pool: &PgPool,
    ops: usize,
    ids: &Arc<Vec<Uuid>>,
    sample: &Arc<serde_json::Value>,
    answers: Answers,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let Answers { page, created } = answers;
    let app = Router::new()
        .route("/page", get(move || async move { page.clone() }))
        .route(
            "/command",
            post(move |body: Bytes| async move {
                drop(body);
                (StatusCode::CREATED, created.clone())
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let base = format!("http://{}", listener.local_addr().map_err(err)?);
    let server = tokio::spawn(async move {
        // As the real server does (`src/server.rs`).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();
    let result = async {
        let (p, ids, c, url) = (
            pool.clone(),
            Arc::clone(ids),
            client.clone(),
            format!("{base}/page"),
        );
        let (select, floor) = interleaved(
            (
                "plain SELECT of a household's events ×8 (beside the bare server)",
                "HTTP GET of a stored history page from a bare server ×8 (no database)",
            ),
            8,
            ops,
            move |i| super::appends::plain_select(p.clone(), ids[i % ids.len()]),
            move |_| super::province::get_page(c.clone(), url.clone(), "x".to_owned()),
        )
        .await?;
        table.push(select);
        table.push(floor);
        let (p, sample, c, url) = (
            pool.clone(),
            Arc::clone(sample),
            client.clone(),
            format!("{base}/command"),
        );
        let (insert, floor) = interleaved(
            (
                "plain INSERT ×8 (beside the bare server)",
                "HTTP POST of a support to a bare server ×8 (no database)",
            ),
            8,
            ops,
            move |_| super::appends::plain_insert(p.clone(), Arc::clone(&sample)),
            move |_| super::province::post_support(c.clone(), url.clone(), "x".to_owned()),
        )
        .await?;
        table.push(insert);
        table.push(floor);
        Ok(())
    }
    .await;
    server.abort();
    result
}
