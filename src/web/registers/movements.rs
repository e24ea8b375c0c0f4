//! `/reports/movements`: the poor and near-poor movement tables of a unit (and the units below
//! it) for a period under one standard, with their breakdowns and a chart; printable.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Datelike;
use minijinja::context;
use serde_json::Value;

use super::{today, DEFAULT_STANDARD, STANDARDS};
use crate::web::chart::{self, Caption, Series};
use crate::web::i18n::Lang;
use crate::web::page::{encode, Ctx};

/// The rows of the poor table, in the official form's order: `(field, sign)` where `+` rows
/// add, `-` rows take away and `=` rows are the balances.
pub const POOR_ROWS: [(&str, char); 11] = [
    ("opening", '='),
    ("newly_poor", '+'),
    ("fell_back", '+'),
    ("from_near_poor", '+'),
    ("other_increase", '+'),
    ("increases", '='),
    ("exited_to_near_poor", '-'),
    ("exited_above_near_poor", '-'),
    ("other_decrease", '-'),
    ("decreases", '='),
    ("closing", '='),
];

pub const NEAR_POOR_ROWS: [(&str, char); 11] = [
    ("opening", '='),
    ("newly_near_poor", '+'),
    ("fell_back", '+'),
    ("from_poor", '+'),
    ("other_increase", '+'),
    ("increases", '='),
    ("to_poor", '-'),
    ("exited", '-'),
    ("other_decrease", '-'),
    ("decreases", '='),
    ("closing", '='),
];

/// The breakdowns' columns after "all households".
const BREAKDOWNS: [&str; 3] = ["ethnic_minority", "no_working_capacity", "merit_family"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    let user = ctx.signed_in()?;
    // A user whose own unit has ended sees its last year by default, not a period it never had.
    let last_day = match (ctx.param("unit"), &user.unit_ended) {
        (None, Some(ended)) => ended.ended_on.min(today()),
        _ => today(),
    };
    let from = ctx
        .param("from")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-01-01", last_day.year()));
    let to = ctx
        .param("to")
        .map(str::to_owned)
        .unwrap_or_else(|| last_day.to_string());
    let standard = ctx.param("standard").unwrap_or(DEFAULT_STANDARD).to_owned();
    let mut pairs = vec![
        ("from".to_owned(), from.clone()),
        ("to".to_owned(), to.clone()),
        ("standard".to_owned(), standard.clone()),
    ];
    if let Some(unit) = ctx.param("unit") {
        pairs.insert(0, ("unit".to_owned(), unit.to_owned()));
    }
    let q = encode(&pairs);
    let f = context! {
        unit => ctx.param("unit").unwrap_or(""),
        from => from,
        to => to,
        standard => standard,
    };
    let answer = ctx
        .call(
            Method::GET,
            &format!("/api/v1/reports/movements?{q}"),
            None,
            &[],
        )
        .await;
    // The unit ended before the period does: the API's reason, with the form to choose again.
    if answer.status == StatusCode::UNPROCESSABLE_ENTITY && answer.body["code"] == "unit_ended" {
        return Ok(ctx.render_status(
            answer.status,
            "movements.html",
            context! {
                report => Value::Null,
                unit_ended => answer.detail(),
                standards => STANDARDS,
                f => f,
            },
        ));
    }
    if !answer.status.is_success() {
        return Err(ctx.refusal(&answer));
    }
    let report = answer.body;
    Ok(ctx.render(
        "movements.html",
        context! {
            report => report,
            poor => table(&report, "poor", &POOR_ROWS),
            near_poor => table(&report, "near_poor", &NEAR_POOR_ROWS),
            chart => movement_chart(ctx.lang, &report),
            standards => STANDARDS,
            // The official form's CSV and XLSX are the API's own downloads of the same query.
            exports => context! {
                csv => format!("/api/v1/reports/movements?{q}&format=csv&lang={}", ctx.lang.code()),
                xlsx => format!("/api/v1/reports/movements?{q}&format=xlsx&lang={}", ctx.lang.code()),
            },
            f => f,
        },
    ))
}

/// The rows of one table: field, sign, and the count for all households and each breakdown.
fn table(report: &Value, group: &str, rows: &[(&str, char)]) -> Vec<Value> {
    rows.iter()
        .map(|(field, sign)| {
            let mut counts = vec![report[group][field].clone()];
            for b in BREAKDOWNS {
                counts.push(report["breakdowns"][b][group][field].clone());
            }
            serde_json::json!({ "field": field, "sign": sign.to_string(), "counts": counts })
        })
        .collect()
}

/// Opening, increases, decreases and closing of both tables, side by side.
fn movement_chart(lang: Lang, report: &Value) -> String {
    let columns = ["opening", "increases", "decreases", "closing"];
    let categories: Vec<String> = columns
        .iter()
        .map(|c| lang.text(&format!("mv_{c}")).to_owned())
        .collect();
    let values = |group: &str| -> Vec<f64> {
        columns
            .iter()
            .map(|c| report[group][c].as_f64().unwrap_or(0.0))
            .collect()
    };
    let (poor, near) = (values("poor"), values("near_poor"));
    let description = format!(
        "{}: {}. {}: {}.",
        lang.text("mv_poor_table"),
        describe(&categories, &poor),
        lang.text("mv_near_poor_table"),
        describe(&categories, &near)
    );
    chart::columns(
        &Caption {
            id: "chart-movements",
            title: lang.text("mv_chart"),
            description: &description,
        },
        &categories,
        &[
            Series {
                name: lang.text("mv_poor"),
                values: poor,
            },
            Series {
                name: lang.text("mv_near_poor"),
                values: near,
            },
        ],
        lang.text("mv_households"),
    )
}

fn describe(categories: &[String], values: &[f64]) -> String {
    categories
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{c} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
