//! The red flags read model: its rebuild against the plain ordered scan of the log the
//! province section measured just before, and the province-wide flag summary at 8 clients
//! (the query, then over HTTP as a monitor reads it) against a plain count of the same table.

use std::time::Instant;

use ansinh_projections::flags::{self, FlagFilter};
use ansinh_projections::rebuild::{self, Projection};
use sqlx::PgPool;

use super::measure::{interleaved, Figure};
use super::province::err;
use super::{BenchOptions, Table};

/// The unit the generated province lives in (old Tây Ninh).
pub(super) const PROVINCE: &str = "72";

pub(super) async fn run(
    pool: &PgPool,
    options: BenchOptions,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let events = rebuild::rebuild(pool, &[Projection::Flags], 5_000, |_, _| {})
        .await
        .map_err(err)?
        .events as usize;
    table.push(Figure::once_through(
        "ansinh rebuild (flags read model)",
        events,
        started.elapsed().as_secs_f64(),
        Some("plain ordered scan (fetched to the client)"),
    ));
    let (p1, p2) = (pool.clone(), pool.clone());
    let (base, summary) = interleaved(
        (
            "plain count of the flags ×8",
            "flag summary of the whole province ×8",
        ),
        8,
        options.ops.min(800),
        move |_| plain_count(p1.clone()),
        move |_| {
            let pool = p2.clone();
            async move {
                let filter = FlagFilter {
                    unit: Some(PROVINCE.to_owned()),
                    today: crate::verify::today(),
                    ..FlagFilter::default()
                };
                flags::summary(&pool, &filter).await.map(drop)
            }
        },
    )
    .await?;
    table.push(base);
    table.push(summary);
    Ok(())
}

/// The plain PostgreSQL baseline: the flags counted per unit and rule.
async fn plain_count(pool: PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT unit_code, rule, count(*) FROM flags GROUP BY 1, 2")
        .execute(&pool)
        .await
        .map(drop)
}

/// The province-wide flag summary over HTTP at 8 clients (sign-in, scope, query and JSON), as
/// an auditor's or monitor's page asks for it, against the plain count in the same run.
pub(super) async fn http_summary(
    pool: &PgPool,
    base: &str,
    client: &reqwest::Client,
    token: &str,
    options: BenchOptions,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let pool = pool.clone();
    let (c, url, t) = (
        client.clone(),
        format!("{base}/api/v1/flags/summary?unit={PROVINCE}"),
        token.to_owned(),
    );
    let (base, summary) = interleaved(
        (
            "plain count of the flags ×8 (alongside HTTP)",
            "HTTP GET flag summary of the whole province ×8",
        ),
        8,
        options.ops.min(800),
        move |_| plain_count(pool.clone()),
        move |_| {
            let (c, url, t) = (c.clone(), url.clone(), t.clone());
            async move {
                let r = c.get(url).bearer_auth(t).send().await.map_err(err)?;
                if !r.status().is_success() {
                    return Err(err(format!("flag summary: {}", r.status())));
                }
                r.bytes().await.map(drop).map_err(err)
            }
        },
    )
    .await?;
    table.push(base);
    table.push(summary);
    Ok(())
}
