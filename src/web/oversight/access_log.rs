//! `/access-log`: who read whose personal data (auditors), newest first.

use axum::response::Response;
use minijinja::context;

use super::get_or_explain;
use crate::web::listing::{self, PAGE};
use crate::web::page::Ctx;

const FILTERS: [&str; 5] = ["unit", "household", "user", "from", "to"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let offset = listing::offset(&ctx);
    let q = ctx.api_query(&FILTERS);
    let data = get_or_explain(
        &ctx,
        &format!("/api/v1/access-log?{q}&limit={PAGE}&offset={offset}"),
        "al_who",
    )
    .await?;
    let total = data["total"].as_i64().unwrap_or(0);
    Ok(ctx.render(
        "access_log.html",
        context! {
            data => data,
            paging => listing::pager(&ctx, total, &offset),
            f => listing::filters(&ctx, &FILTERS),
        },
    ))
}
