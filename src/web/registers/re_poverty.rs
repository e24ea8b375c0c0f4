//! `/re-poverty`: households recognised poor or near-poor again after a recognised exit.

use axum::response::Response;
use minijinja::context;

use super::STANDARDS;
use crate::export::{Cell, Column, Kind};
use crate::web::i18n::Lang;
use crate::web::listing::{self, date, int, named, text, PAGE};
use crate::web::page::Ctx;

/// The page's filters, passed to `GET /api/v1/re-poverty` as they are.
const FILTERS: [&str; 5] = ["unit", "from", "to", "standard", "category"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&FILTERS);
    if let Some(format) = listing::export_format(&ctx)? {
        let api = format!("/api/v1/re-poverty?{q}");
        let name = ctx.lang.text("rp_file");
        return Ok(listing::export(ctx, format, name, columns(), api, row).await);
    }
    let offset = listing::offset(&ctx);
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
            exports => listing::export_links(&ctx),
        },
    ))
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Mã hộ", "Household id", Kind::Text),
        Column::new("Chủ hộ", "Head of household", Kind::Text),
        Column::new("Đơn vị", "Unit", Kind::Text),
        Column::new("Chuẩn nghèo", "Standard", Kind::Text),
        Column::new("Tái vào diện", "Fell back into", Kind::Text),
        Column::new("Ngày thoát", "Exited on", Kind::Date),
        Column::new("Quyết định thoát", "Exit decision", Kind::Text),
        Column::new("Thoát sang", "Exited to", Kind::Text),
        Column::new("Ngày tái", "Fell back on", Kind::Date),
        Column::new("Quyết định tái", "Relapse decision", Kind::Text),
        Column::new(
            "Số lần hỗ trợ giữa thoát và tái",
            "Supports between",
            Kind::Integer,
        ),
        Column::new(
            "Số tiền hỗ trợ giữa thoát và tái",
            "Amount between (VND)",
            Kind::Vnd,
        ),
        Column::new("Nguyên nhân", "Cause", Kind::Text),
    ]
}

fn row(r: &serde_json::Value, lang: Lang) -> Vec<Cell> {
    vec![
        text(r, "household_id"),
        text(r, "head_name"),
        text(r, "unit_code"),
        text(r, "standard"),
        named(r, "category", "rp_cat_", lang),
        date(r, "exited_on"),
        text(r, "exit_decision_no"),
        named(r, "exited_to", "rp_cat_", lang),
        date(r, "fell_back_on"),
        text(r, "fell_back_decision_no"),
        int(r, "supports_between"),
        int(r, "supports_between_vnd"),
        text(r, "cause"),
    ]
}
