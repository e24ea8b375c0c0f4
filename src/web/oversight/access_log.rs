//! `/access-log`: who read whose personal data (auditors), newest first.

use axum::response::Response;
use minijinja::context;

use super::get_or_explain;
use crate::export::{Cell, Column, Kind};
use crate::web::i18n::Lang;
use crate::web::listing::{self, named, text, PAGE};
use crate::web::page::Ctx;

const FILTERS: [&str; 5] = ["unit", "household", "user", "from", "to"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&FILTERS);
    if let Some(format) = listing::export_format(&ctx)? {
        let api = format!("/api/v1/access-log?{q}");
        let name = ctx.lang.text("al_file");
        return Ok(listing::export(ctx, format, name, columns(), api, row).await);
    }
    let offset = listing::offset(&ctx);
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
            exports => listing::export_links(&ctx),
        },
    ))
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Thời điểm (UTC)", "When (UTC)", Kind::Text),
        Column::new("Người xem", "Reader", Kind::Text),
        Column::new("Mã người xem", "Reader id", Kind::Text),
        Column::new("Vai trò", "Role", Kind::Text),
        Column::new("Đơn vị người xem", "Reader's unit", Kind::Text),
        Column::new("Mã hộ", "Household id", Kind::Text),
        Column::new("Đơn vị của hộ", "Household's unit", Kind::Text),
        Column::new("Chức năng", "Endpoint", Kind::Text),
        Column::new("Mã yêu cầu", "Request id", Kind::Text),
    ]
}

fn row(e: &serde_json::Value, lang: Lang) -> Vec<Cell> {
    vec![
        text(e, "at"),
        text(e, "user_name"),
        text(e, "user_id"),
        named(e, "role", "role_", lang),
        text(e, "user_unit"),
        text(e, "household_id"),
        text(e, "unit_code"),
        text(e, "endpoint"),
        text(e, "request_id"),
    ]
}
