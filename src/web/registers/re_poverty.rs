//! `/re-poverty`: households recognised poor or near-poor again after a recognised exit.

use axum::response::Response;
use minijinja::context;

use super::STANDARDS;
use crate::web::listing::{self, PAGE};
use crate::web::page::Ctx;

/// The page's filters, passed to `GET /api/v1/re-poverty` as they are.
const FILTERS: [&str; 5] = ["unit", "from", "to", "standard", "category"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let offset = listing::offset(&ctx);
    let q = ctx.api_query(&FILTERS);
    let data = ctx
        .get_json(&format!(
            "/api/v1/re-poverty?{q}&limit={PAGE}&offset={offset}"
        ))
        .await?;
    let total = data["total"].as_i64().unwrap_or(0);
    Ok(ctx.render(
        "re_poverty.html",
        context! {
            data => data,
            paging => listing::pager(&ctx, total, &offset),
            standards => STANDARDS,
            f => listing::filters(&ctx, &FILTERS),
        },
    ))
}
