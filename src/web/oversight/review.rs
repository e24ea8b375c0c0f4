//! `/reports/review`: the public review of a unit and period for supervisors (what
//! `GET /api/v1/reports/review` answers): postings, complaints, overdue complaints, decisions
//! taken before a posting closed and decisions flagged for supervisors.

use axum::response::Response;
use minijinja::context;

use super::get_or_explain;
use crate::web::page::Ctx;

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&["unit", "period"]);
    let data = get_or_explain(&ctx, &format!("/api/v1/reports/review?{q}"), "rr_who").await?;
    Ok(ctx.render(
        "review_report.html",
        context! {
            data => data,
            unit => ctx.param("unit").unwrap_or(""),
            period => ctx.param("period").unwrap_or(""),
        },
    ))
}
