//! `/disbursements`: the monitors' trail of supports, with the API's totals and its sums by
//! month and by policy drawn as charts (the same numbers in tables beside them).

use axum::response::Response;
use minijinja::context;
use serde_json::Value;

use crate::api::registers::{POLICIES, SOURCES};
use crate::export::{Cell, Column, Kind};
use crate::web::chart::{self, Caption, Series};
use crate::web::i18n::Lang;
use crate::web::listing::{self, date, int, named, text, PAGE};
use crate::web::page::Ctx;

/// The page's filters, passed to the API as they are.
const FILTERS: [&str; 6] = ["unit", "policy", "fund", "source", "from", "to"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&FILTERS);
    if let Some(format) = listing::export_format(&ctx)? {
        let api = format!("/api/v1/disbursements?{q}&include_voided=true");
        let name = ctx.lang.text("db_file");
        return Ok(listing::export(ctx, format, name, columns(), api, row).await);
    }
    let offset = listing::offset(&ctx);
    // Corrected and voided supports are shown with their reasons; the totals never count voided.
    let trail = ctx
        .get_json(&format!(
            "/api/v1/disbursements?{q}&include_voided=true&limit={PAGE}&offset={offset}"
        ))
        .await?;
    let summary = ctx
        .get_json(&format!("/api/v1/disbursements/summary?{q}"))
        .await?;
    let total = summary["totals"]["count"].as_i64().unwrap_or(0);
    let flagged = flagged(&ctx, &trail).await;
    // The list shows the supports that count and the voided ones.
    let listed = total + summary["voided"].as_i64().unwrap_or(0);
    Ok(ctx.render(
        "disbursements.html",
        context! {
            trail => trail,
            summary => summary,
            flagged,
            month_chart => month_chart(ctx.lang, &summary),
            policy_chart => policy_chart(ctx.lang, &summary),
            paging => listing::pager(&ctx, listed, &offset),
            policies => POLICIES,
            sources => SOURCES,
            f => listing::filters(&ctx, &FILTERS),
            exports => listing::export_links(&ctx),
        },
    ))
}

/// The red flags on the supports of this page of the trail, by `household:sequence`, for
/// users who may read them (the API decides; a refusal shows no badge).
async fn flagged(ctx: &Ctx, trail: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut by_row: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut households: Vec<&str> = trail["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["household_id"].as_str())
        .collect();
    households.sort_unstable();
    households.dedup();
    if households.is_empty() || !ctx.may(crate::api::auth::Permission::ReadFunds) {
        return by_row;
    }
    let mut q = ctx.api_query(&["unit"]);
    if !q.is_empty() {
        q.push('&');
    }
    let answer = ctx
        .call(
            axum::http::Method::GET,
            &format!(
                "/api/v1/flags?{q}households={}&limit=1000",
                households.join(",")
            ),
            None,
            &[],
        )
        .await;
    for f in answer.body["items"].as_array().into_iter().flatten() {
        let key = format!(
            "{}:{}",
            f["household_id"].as_str().unwrap_or_default(),
            f["sequence"]
        );
        by_row
            .entry(key)
            .or_default()
            .push(f["rule"].as_str().unwrap_or_default().to_owned());
    }
    by_row
}

/// Millions of VND, for the charts' axes (the tables show whole đồng).
fn millions(amount: &Value) -> f64 {
    amount.as_f64().unwrap_or(0.0) / 1_000_000.0
}

fn groups(summary: &Value, key: &str) -> Vec<(String, f64)> {
    summary[key]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|g| {
                    (
                        g["key"].as_str().unwrap_or_default().to_owned(),
                        millions(&g["amount_vnd"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn month_chart(lang: Lang, summary: &Value) -> String {
    let months = groups(summary, "by_month");
    let description = describe(lang, &months);
    chart::columns(
        &Caption {
            id: "chart-by-month",
            title: lang.text("db_chart_month"),
            description: &description,
        },
        &months.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        &[Series {
            name: lang.text("db_amount"),
            values: months.iter().map(|(_, v)| *v).collect(),
        }],
        lang.text("db_million_vnd"),
    )
}

fn policy_chart(lang: Lang, summary: &Value) -> String {
    let policies: Vec<(String, f64)> = groups(summary, "by_policy")
        .into_iter()
        .map(|(p, v)| (lang.text(&format!("rg_policy_{p}")).to_owned(), v))
        .collect();
    let description = describe(lang, &policies);
    chart::rows(
        &Caption {
            id: "chart-by-policy",
            title: lang.text("db_chart_policy"),
            description: &description,
        },
        &policies.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        &policies.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        lang.text("db_million_vnd"),
    )
}

/// "2024-03: 31 triệu đồng; …", the chart's description.
fn describe(lang: Lang, groups: &[(String, f64)]) -> String {
    if groups.is_empty() {
        return lang.text("db_none").to_owned();
    }
    groups
        .iter()
        .map(|(k, v)| format!("{k}: {v:.1} {}", lang.text("db_million_vnd")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Ngày chi", "Paid on", Kind::Date),
        Column::new("Mã hộ", "Household id", Kind::Text),
        Column::new("Chủ hộ", "Head of household", Kind::Text),
        Column::new("Đơn vị", "Unit", Kind::Text),
        Column::new("Chính sách", "Policy", Kind::Text),
        Column::new("Số tiền", "Amount (VND)", Kind::Vnd),
        Column::new(
            "Số tiền ghi lần đầu",
            "Amount first recorded (VND)",
            Kind::Vnd,
        ),
        Column::new("Hiện vật", "In kind", Kind::Text),
        Column::new("Nguồn kinh phí", "Funding source", Kind::Text),
        Column::new("Quỹ", "Fund", Kind::Text),
        Column::new("Số quyết định", "Decision no.", Kind::Text),
        Column::new("Đơn vị chi", "Paid by", Kind::Text),
        Column::new("Người nhận", "Recipient", Kind::Text),
        Column::new("Tình trạng", "State", Kind::Text),
        Column::new("Lý do đính chính", "Reason of the correction", Kind::Text),
    ]
}

fn row(d: &Value, lang: Lang) -> Vec<Cell> {
    let state = if d["voided"].as_bool() == Some(true) {
        "db_voided"
    } else if d["corrected_by"].is_number() {
        "db_corrected"
    } else {
        "db_as_recorded"
    };
    vec![
        date(d, "disbursed_on"),
        text(d, "household_id"),
        text(d, "head_name"),
        text(d, "unit_code"),
        named(d, "policy", "rg_policy_", lang),
        int(d, "amount_vnd"),
        int(d, "original_amount_vnd"),
        text(d, "in_kind"),
        named(d, "funding_source", "rg_source_", lang),
        text(d, "fund_id"),
        text(d, "decision_no"),
        text(d, "disbursed_by"),
        text(d, "recipient_member"),
        Cell::Text(lang.text(state).to_owned()),
        text(d, "correction_reason"),
    ]
}
