//! `/flags`: red flags with their filters, their evidence and explanations, and the count per
//! unit and rule; exported as CSV/XLSX with the same filters.

use axum::response::Response;
use minijinja::context;

use crate::export::{Cell, Column, Kind};
use crate::web::i18n::Lang;
use crate::web::listing::{self, date, int, text, PAGE};
use crate::web::page::Ctx;

/// The page's filters, passed to `GET /api/v1/flags` as they are.
const FILTERS: [&str; 5] = ["unit", "rule", "status", "from", "to"];

pub const RULES: [&str; 8] = ansinh_events::household::FLAG_RULES;
const STATUSES: [&str; 3] = ["open", "explained", "accepted"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&FILTERS);
    if let Some(format) = listing::export_format(&ctx)? {
        let api = format!("/api/v1/flags?{q}");
        let name = ctx.lang.text("fl_file");
        return Ok(listing::export(ctx, format, name, columns(), api, row).await);
    }
    let offset = listing::offset(&ctx);
    let data = super::get_or_explain(
        &ctx,
        &format!("/api/v1/flags?{q}&limit={PAGE}&offset={offset}"),
        "fd_who",
    )
    .await?;
    let summary = ctx.get_json(&format!("/api/v1/flags/summary?{q}")).await?;
    let total = data["total"].as_i64().unwrap_or(0);
    Ok(ctx.render(
        "flags.html",
        context! {
            data,
            summary,
            rules => RULES,
            statuses => STATUSES,
            paging => listing::pager(&ctx, total, &offset),
            f => listing::filters(&ctx, &FILTERS),
            exports => listing::export_links(&ctx),
        },
    ))
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Dấu hiệu", "Rule", Kind::Text),
        Column::new("Mã hộ", "Household id", Kind::Text),
        Column::new("Chủ hộ", "Head of household", Kind::Text),
        Column::new("Đơn vị", "Unit", Kind::Text),
        Column::new("Ngày", "Date", Kind::Date),
        Column::new("Sự kiện", "Event", Kind::Integer),
        Column::new("Trạng thái", "Status", Kind::Text),
        Column::new("Lý do giải trình", "Reason given", Kind::Text),
        Column::new("Số quyết định", "Decision no.", Kind::Text),
        Column::new("Người giải trình", "Explained by", Kind::Text),
        Column::new("Người chấp nhận", "Accepted by", Kind::Text),
    ]
}

fn row(r: &serde_json::Value, lang: Lang) -> Vec<Cell> {
    let rule = r["rule"].as_str().unwrap_or_default();
    let status = r["status"].as_str().unwrap_or_default();
    vec![
        Cell::from(lang.text(&format!("flag_rule_{rule}")).to_owned()),
        text(r, "household_id"),
        text(r, "head_name"),
        text(r, "unit_code"),
        date(r, "on_date"),
        int(r, "sequence"),
        Cell::from(lang.text(&format!("fl_status_{status}")).to_owned()),
        text(r, "reason"),
        text(r, "decision_no"),
        text(r, "explained_by"),
        text(r, "accepted_by"),
    ]
}
