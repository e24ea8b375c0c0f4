//! The web pages people open most — the register, a household, the disbursement trail — at
//! 8 signed-in browsers, next to a plain SELECT of the rows such a page shows.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use super::measure::interleaved;
use super::{BenchOptions, Table};
use crate::users::{self, Role};

fn err(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(e.to_string())
}

/// A signed-in session's cookie for a new user of `role` in unit 72 (the generated province).
async fn signed_in(
    pool: &PgPool,
    client: &reqwest::Client,
    base: &str,
    name: &str,
    role: Role,
) -> Result<String, sqlx::Error> {
    const PASSWORD: &str = "bench-password-1";
    users::create_with_password(pool, name, role, "72", Some(PASSWORD))
        .await
        .map_err(err)?;
    let response = client
        .post(format!("{base}/login"))
        .header(reqwest::header::ORIGIN, base)
        .form(&[("username", name), ("password", PASSWORD)])
        .send()
        .await
        .map_err(err)?;
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(crate::web::SESSION_COOKIE))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| {
            err(format!(
                "signing in gave no session ({})",
                response.status()
            ))
        })
}

/// `GET` of a page with the session cookie; anything but 200 fails the benchmark.
async fn open(client: reqwest::Client, url: String, cookie: String) -> Result<(), sqlx::Error> {
    let response = client
        .get(&url)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .map_err(err)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(err(format!("{url}: {}", response.status())));
    }
    response.bytes().await.map(|_| ()).map_err(err)
}

/// Adds the three page figures to `table`, on the server at `base` over `pool`.
pub async fn run(
    pool: &PgPool,
    base: &str,
    options: BenchOptions,
    table: &mut Table,
) -> Result<(), sqlx::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(err)?;
    let officer = signed_in(
        pool,
        &client,
        base,
        "bench page officer",
        Role::ProvinceOfficer,
    )
    .await?;
    let monitor = signed_in(pool, &client, base, "bench page monitor", Role::Monitor).await?;
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT household_id FROM household_status ORDER BY household_id LIMIT 2000",
    )
    .fetch_all(pool)
    .await?;
    let ids: Arc<Vec<Uuid>> = Arc::new(ids.into_iter().map(|(id,)| id).collect());
    if ids.is_empty() {
        return Err(err("the benchmark province has no households"));
    }
    let pages: [(&str, &str, String, &str); 3] = [
        (
            "plain SELECT of a register page ×8",
            "page /households ×8",
            officer.clone(),
            "SELECT * FROM household_status ORDER BY head_name LIMIT 50 OFFSET $1",
        ),
        (
            "plain SELECT of a household's events ×8 (pages)",
            "page /households/{id} ×8",
            officer,
            "SELECT * FROM household_events WHERE aggregate_id = $1 ORDER BY sequence_number",
        ),
        (
            "plain SELECT of a disbursement page ×8",
            "page /disbursements ×8",
            monitor,
            "SELECT * FROM disbursements ORDER BY disbursed_on DESC LIMIT 100 OFFSET $1",
        ),
    ];
    for (baseline_name, page_name, cookie, select) in pages {
        let (pool_, ids_b, ids_p) = (pool.clone(), Arc::clone(&ids), Arc::clone(&ids));
        let (c, b) = (client.clone(), base.to_owned());
        let by_id = select.contains("aggregate_id");
        let (plain, page) = interleaved(
            (baseline_name, page_name),
            8,
            options.ops,
            move |i| {
                let pool = pool_.clone();
                let id = ids_b[i % ids_b.len()];
                async move {
                    let query = sqlx::query(select);
                    let query = if by_id {
                        query.bind(id)
                    } else {
                        query.bind(((i % 20) * 50) as i64)
                    };
                    query.fetch_all(&pool).await.map(|_| ())
                }
            },
            move |i| {
                let url = match page_name {
                    "page /households ×8" => format!("{b}/households?offset={}", (i % 20) * 50),
                    "page /households/{id} ×8" => {
                        format!("{b}/households/{}", ids_p[i % ids_p.len()])
                    }
                    _ => format!("{b}/disbursements?offset={}", (i % 20) * 100),
                };
                open(c.clone(), url, cookie.clone())
            },
        )
        .await?;
        table.push(plain);
        table.push(page);
    }
    Ok(())
}
