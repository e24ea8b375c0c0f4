//! `/verify`: the anchor of a day, whether every chain is intact, and how anyone recomputes
//! the anchor outside the system.

use axum::response::Response;
use minijinja::context;

use super::get_or_explain;
use crate::web::page::Ctx;

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&["date"]);
    let data = get_or_explain(&ctx, &format!("/api/v1/anchor?{q}"), "vf_who").await?;
    Ok(ctx.render(
        "verify.html",
        context! { data => data, date => ctx.param("date").unwrap_or("") },
    ))
}
