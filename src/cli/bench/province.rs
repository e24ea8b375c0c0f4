//! Whole-province figures: import (as a child process, for its own peak RSS) against a binary
//! COPY of the same rows, rebuild and verify against a plain ordered scan, and HTTP commands
//! and history reads at 8 clients against single-row INSERT and a plain SELECT.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use sqlx::{ConnectOptions, PgPool};
use uuid::Uuid;

use super::measure::{interleaved, Figure};
use super::{BenchOptions, Table};

pub(super) fn err(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(e.to_string())
}

/// Peak resident memory of finished child processes, in MiB.
fn children_peak_rss_mib() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss() as f64 / 1024.0)
        .unwrap_or(0.0)
}

pub async fn run(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
    work: &Path,
) -> Result<(), sqlx::Error> {
    // The file a commune would send, made by the generator (old Tây Ninh's histories, so the
    // figures compare with earlier runs).
    let file = work.join("province.csv");
    crate::generate::generate_to(
        crate::generate::Province::TayNinh72,
        &file,
        options.households,
        crate::generate::DEFAULT_SEED,
        |_| {},
    )
    .map_err(err)?;
    let url = pool.connect_options().to_url_lossy().to_string();

    // Import, as a user runs it.
    let started = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().map_err(err)?)
        .arg("import")
        .arg(&file)
        .env("DATABASE_URL", &url)
        .output()
        .map_err(err)?;
    let import_secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(err(format!(
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(err)?;
    let events = summary["events_written"].as_u64().unwrap_or(0) as usize;
    let rss = children_peak_rss_mib();

    // PostgreSQL's own limit: binary COPY of the same rows into a table of the same shape.
    let copied = copy_baseline(pool).await?;
    table.push(Figure::once_through(
        "binary COPY of the same rows",
        events,
        copied,
        None,
    ));
    let mut import = Figure::once_through(
        format!(
            "ansinh import ({} households, peak RSS {rss:.0} MiB)",
            options.households
        ),
        events,
        import_secs,
        Some("binary COPY of the same rows"),
    );
    import.concurrency = 1;
    table.push(import);

    // Rebuild and verify against a plain ordered scan of the log.
    let started = Instant::now();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT payload FROM household_events ORDER BY aggregate_id, sequence_number) s
          WHERE payload IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    let scan = started.elapsed().as_secs_f64();
    let scan_rows = n as usize;
    let started = Instant::now();
    let mut fetched = 0usize;
    {
        use futures::TryStreamExt;
        let mut rows = sqlx::query_as::<_, (Uuid, i32, String)>(
            "SELECT aggregate_id, sequence_number, payload::text FROM household_events ORDER BY aggregate_id, sequence_number",
        )
        .fetch(pool);
        while rows.try_next().await?.is_some() {
            fetched += 1;
        }
    }
    let fetch = started.elapsed().as_secs_f64();
    table.push(Figure::once_through(
        "plain ordered scan (fetched to the client)",
        fetched,
        fetch,
        None,
    ));
    let _ = (scan, scan_rows);
    let started = Instant::now();
    let projections = ansinh_projections::rebuild::select(None).map_err(err)?;
    // Counted in the events it read (the whole log, as the scan), not the imported ones.
    let rebuilt = ansinh_projections::rebuild::rebuild(pool, &projections, 5_000, |_, _| {})
        .await
        .map_err(err)?;
    table.push(Figure::once_through(
        "ansinh rebuild (all read models)",
        rebuilt.events as usize,
        started.elapsed().as_secs_f64(),
        Some("plain ordered scan (fetched to the client)"),
    ));
    super::flags::run(pool, options, table).await?;
    let started = Instant::now();
    let report = crate::verify::verify(pool, None, None, &indicatif::ProgressBar::hidden())
        .await
        .map_err(err)?;
    table.push(Figure::once_through(
        "ansinh verify (every chain)",
        report.events as usize,
        started.elapsed().as_secs_f64(),
        Some("plain ordered scan (fetched to the client)"),
    ));

    http(pool, options, table).await
}

/// COPY the log out in binary and time COPYing it back into a table of the same shape.
async fn copy_baseline(pool: &PgPool) -> Result<f64, sqlx::Error> {
    copy_back(pool, "household_events").await
}

/// The rows `source` (a table, or a query in parentheses) gives, COPYed out in binary, and the
/// time COPYing them back into a table of the log's shape and indexes takes (the append-only
/// triggers are not copied; they do not fire on INSERT anyway).
pub(super) async fn copy_back(pool: &PgPool, source: &str) -> Result<f64, sqlx::Error> {
    use futures::TryStreamExt;
    const COLUMNS: &str = "id, aggregate_id, payload, occurred_on, sequence_number";
    let mut conn = pool.acquire().await?;
    sqlx::query("DROP TABLE IF EXISTS bench_copy")
        .execute(&mut *conn)
        .await?;
    sqlx::query("CREATE TABLE bench_copy (LIKE household_events INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES INCLUDING CONSTRAINTS)")
        .execute(&mut *conn)
        .await?;
    let out_sql = if source.starts_with('(') {
        format!("COPY {source} TO STDOUT (FORMAT binary)")
    } else {
        format!("COPY {source} ({COLUMNS}) TO STDOUT (FORMAT binary)")
    };
    let mut data = Vec::new();
    {
        let mut out = conn.copy_out_raw(&out_sql).await?;
        while let Some(chunk) = out.try_next().await? {
            data.extend_from_slice(&chunk);
        }
    }
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY bench_copy ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    copy.send(data).await?;
    copy.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_copy")
        .execute(&mut *conn)
        .await?;
    Ok(secs)
}

/// A server on `pool` at a free port: its address and the sender that stops it.
async fn start_server(
    pool: &PgPool,
) -> Result<
    (
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ),
    sqlx::Error,
> {
    let app = crate::server::Application::build_with_standards(
        pool.clone(),
        "127.0.0.1:0".parse().map_err(err)?,
        ansinh_events::standards::Standards::builtin().map_err(err)?,
    )
    .await
    .map_err(err)?;
    let base = format!("http://{}", app.local_addr().map_err(err)?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run(async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    Ok((base, stop_tx, server))
}

/// The body of a support of 2,000,000 VND, as an officer's client sends it on the day it was
/// paid. A fixed past date would make every support a late entry (recorded over 90 days after
/// it was paid), so each command would also raise a red flag, as few real ones do.
pub fn support_body() -> serde_json::Value {
    serde_json::json!({
        "policy": "emergency_aid", "amount_vnd": 2_000_000, "funding_source": "mobilized",
        "disbursed_on": ansinh_projections::log::today_in_vietnam(),
        "disbursed_by": "UBND xã", "decision_no": "01/QĐ-UBND"
    })
}

/// One `POST …/supports` of 2,000,000 VND, as an officer's client sends it; anything but 201
/// fails the figure.
pub(super) async fn post_support(
    c: reqwest::Client,
    url: String,
    token: String,
) -> Result<(), sqlx::Error> {
    let request = c.post(url).bearer_auth(token).json(&support_body());
    answer(request, 201).await.map(drop)
}

/// The `i`-th support of a pass: to the `i`-th of `ids` (round again past the last), through
/// the server at `base`.
fn supports_to(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    ids: &Arc<Vec<Uuid>>,
) -> impl Fn(usize) -> futures::future::BoxFuture<'static, Result<(), sqlx::Error>> + Send + Sync {
    let (c, base, token, ids) = (
        c.clone(),
        base.to_owned(),
        token.to_owned(),
        Arc::clone(ids),
    );
    move |i| {
        let url = format!("{base}/api/v1/households/{}/supports", ids[i % ids.len()]);
        Box::pin(post_support(c.clone(), url, token.clone()))
    }
}

/// One `GET` of a history page, read to its end, as an auditor's client sends it; anything
/// but 200 fails the figure.
pub(super) async fn get_page(
    c: reqwest::Client,
    url: String,
    token: String,
) -> Result<(), sqlx::Error> {
    answer(c.get(url).bearer_auth(token), 200).await.map(drop)
}

/// HTTP POST support at 8 clients from a cold start — a server just started (empty caches, no
/// connection made yet), no warm-up — against plain INSERTs at 8 clients just before it.
async fn cold_start(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
    officer: &str,
    ids: &Arc<Vec<Uuid>>,
    sample: &Arc<serde_json::Value>,
) -> Result<(), sqlx::Error> {
    const BASE: &str = "plain INSERT ×8 (just before the cold start)";
    let sample = Arc::clone(sample);
    let ops = options.ops.min(800);
    let p = pool.clone();
    let base = super::measure::once(
        BASE,
        8,
        ops,
        move |_| super::appends::plain_insert(p.clone(), Arc::clone(&sample)),
        None,
    )
    .await?;
    let (url, stop, server) = start_server(pool).await?;
    let (c, t, ids) = (reqwest::Client::new(), officer.to_owned(), Arc::clone(ids));
    // Households from the end of the list: the warm figure starts at its beginning.
    let cold = super::measure::once(
        "HTTP POST support ×8 from a cold start (server just started, no warm-up)",
        8,
        ops,
        move |i| {
            let id = ids[ids.len() - 1 - i % ids.len()];
            post_support(
                c.clone(),
                format!("{url}/api/v1/households/{id}/supports"),
                t.clone(),
            )
        },
        Some(BASE),
    )
    .await;
    let _ = stop.send(());
    let _ = server.await;
    table.push(base);
    table.push(cold?);
    Ok(())
}

/// HTTP commands and history reads at 8 clients, with their plain PostgreSQL counterparts.
async fn http(pool: &PgPool, options: BenchOptions, table: &mut Table) -> Result<(), sqlx::Error> {
    use crate::users::{self, Role};
    let (_, officer) = users::create(pool, "bench officer", Role::ProvinceOfficer, "72")
        .await
        .map_err(err)?;
    let (_, auditor) = users::create(pool, "bench auditor", Role::Auditor, "72")
        .await
        .map_err(err)?;
    let ids: Vec<(Uuid,)> =
        sqlx::query_as("SELECT DISTINCT aggregate_id FROM household_events LIMIT 2000")
            .fetch_all(pool)
            .await?;
    let ids: Arc<Vec<Uuid>> = Arc::new(ids.into_iter().map(|(id,)| id).collect());
    // The plain INSERTs' table and an event-sized payload for them, for both command figures.
    super::appends::plain_table(pool).await?;
    let sample: Arc<serde_json::Value> = Arc::new(
        sqlx::query_scalar("SELECT payload FROM household_events LIMIT 1")
            .fetch_one(pool)
            .await?,
    );
    cold_start(pool, options, table, &officer, &ids, &sample).await?;
    let (base, stop_tx, server) = start_server(pool).await?;
    let client = reqwest::Client::new();
    let ops = options.ops;

    // History reads against a plain SELECT of the same household's events, interleaved.
    let (pool_, ids_) = (pool.clone(), Arc::clone(&ids));
    let (c, b, t, ids_h) = (
        client.clone(),
        base.clone(),
        auditor.clone(),
        Arc::clone(&ids),
    );
    let (select, history) = interleaved(
        (
            "plain SELECT of a household's events ×8",
            "HTTP GET history ×8",
        ),
        8,
        ops,
        move |i| super::appends::plain_select(pool_.clone(), ids_[i % ids_.len()]),
        move |i| {
            let url = format!("{b}/api/v1/households/{}/history", ids_h[i % ids_h.len()]);
            get_page(c.clone(), url, t.clone())
        },
    )
    .await?;
    table.push(select);
    table.push(history);

    // Commands: a support for a household, each client on its own households, against a
    // single-row INSERT of an event-sized payload, interleaved. The first pass meets each
    // household for the first time since the server started (it is loaded from its snapshot
    // and events); the second finds them in the server's memory, as a commune's busy day does.
    let posts = |names| {
        let (pool_, sample) = (pool.clone(), Arc::clone(&sample));
        interleaved(
            names,
            8,
            ops,
            move |_| super::appends::plain_insert(pool_.clone(), Arc::clone(&sample)),
            supports_to(&client, &base, &officer, &ids),
        )
    };
    // Meanwhile, how far the runner beside the server lets the movements and flags trail.
    let lag = super::lag::start(pool.clone());
    for names in [
        ("plain INSERT ×8 (alongside HTTP)", "HTTP POST support ×8"),
        (
            "plain INSERT ×8 (alongside HTTP, second pass)",
            "HTTP POST support ×8 to households in memory",
        ),
    ] {
        let (insert, post) = posts(names).await?;
        table.push(insert);
        table.push(post);
    }
    table.push(lag.finish("both HTTP POST passes").await?);

    // A first touch again, on a server just restarted (nothing held), against what bare
    // PostgreSQL needs for it: the household's events read, then one row inserted.
    let _ = stop_tx.send(());
    let _ = server.await;
    let (base, stop_tx, server) = start_server(pool).await?;
    let (pool_, ids_, sample_) = (pool.clone(), Arc::clone(&ids), Arc::clone(&sample));
    let (floor, first) = interleaved(
        (
            "plain SELECT of a household's events, then INSERT ×8 (alongside HTTP)",
            "HTTP POST support ×8, server restarted (every household a first touch)",
        ),
        8,
        ops,
        move |i| {
            super::appends::plain_select_then_insert(
                pool_.clone(),
                ids_[i % ids_.len()],
                Arc::clone(&sample_),
            )
        },
        supports_to(&client, &base, &officer, &ids),
    )
    .await?;
    table.push(floor);
    table.push(first);
    super::flags::http_summary(pool, &base, &client, &auditor, options, table).await?;
    super::pages::run(pool, &base, options, table).await?;
    let answers = real_answers(&client, &base, &auditor, &officer, &ids).await?;
    let _ = stop_tx.send(());
    let _ = server.await;
    super::http_floor::run(pool, ops, &ids, &sample, answers, table).await?;
    super::request_parts::run(pool, ops, &ids, &sample, table).await
}

/// A history page and a support's answer as the server gives them, for the bare server's floor.
async fn real_answers(
    client: &reqwest::Client,
    base: &str,
    auditor: &str,
    officer: &str,
    ids: &[Uuid],
) -> Result<super::http_floor::Answers, sqlx::Error> {
    let id = ids.first().ok_or_else(|| err("no household to read"))?;
    let page = client
        .get(format!("{base}/api/v1/households/{id}/history"))
        .bearer_auth(auditor);
    let created = client
        .post(format!("{base}/api/v1/households/{id}/supports"))
        .bearer_auth(officer)
        .json(&support_body());
    Ok(super::http_floor::Answers {
        page: answer(page, 200).await?,
        created: answer(created, 201).await?,
    })
}

/// The body of the answer to `request`, which must come with `status` (else the error says
/// what came instead, with its body).
async fn answer(
    request: reqwest::RequestBuilder,
    status: u16,
) -> Result<axum::body::Bytes, sqlx::Error> {
    let r = request.send().await.map_err(err)?;
    if r.status().as_u16() != status {
        let got = r.status();
        let text = r.text().await.unwrap_or_default();
        return Err(err(format!("expected {status}, got {got} {text}")));
    }
    r.bytes().await.map_err(err)
}
