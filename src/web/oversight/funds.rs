//! `/funds`: the funds the user's unit reaches; `/funds/{id}`: a fund, its allocations and its
//! reconciliation over the chosen unit and period (and that reconciliation as CSV/XLSX).

use axum::extract::Path;
use axum::response::Response;
use minijinja::context;

use crate::funds::reconcile::Reconciliation;
use crate::web::listing;
use crate::web::page::Ctx;

/// The reconciliation's filters, passed to the API as they are.
const FILTERS: [&str; 3] = ["unit", "from", "to"];

pub async fn list(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let data = super::get_or_explain(&ctx, "/api/v1/funds", "fd_who").await?;
    Ok(ctx.render("funds.html", context! { data }))
}

pub async fn show(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    let q = ctx.api_query(&FILTERS);
    let reconciliation = super::get_or_explain(
        &ctx,
        &format!("/api/v1/funds/{id}/reconciliation?{q}"),
        "fd_who",
    )
    .await?;
    if let Some(format) = listing::export_format(&ctx)? {
        let r: Reconciliation = serde_json::from_value(reconciliation).unwrap_or_default();
        return Ok(crate::export::reconciliation::respond(&r, format, ctx.lang).await);
    }
    let fund = ctx.get_json(&format!("/api/v1/funds/{id}")).await?;
    Ok(ctx.render(
        "fund.html",
        context! {
            fund,
            r => reconciliation,
            f => listing::filters(&ctx, &FILTERS),
            exports => listing::export_links(&ctx),
        },
    ))
}
