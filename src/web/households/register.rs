//! `/households`: the register of the user's unit and units below, filtered, paged and sorted
//! by the API (`GET /api/v1/households`); a refused filter is shown beside its field.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use super::{CATEGORIES, STANDARDS};
use crate::export::Format;
use crate::web::page::{encode, Ctx};

/// Every query parameter the page passes on to the API unchanged.
const FILTERS: [&str; 11] = [
    "name",
    "unit",
    "hamlet",
    "standard",
    "category",
    "ethnic_minority",
    "no_working_capacity",
    "merit_family",
    "as_of",
    "sort",
    "limit",
];

/// Page sizes offered; the API's default (50) is the page's too.
const PAGE_SIZES: [i64; 4] = [20, 50, 100, 200];
const DEFAULT_LIMIT: i64 = 50;

/// The sortable columns: (API sort key, message key of the header).
const SORTS: [(&str, &str); 3] = [
    ("name", "hh_col_head"),
    ("unit", "hh_col_unit"),
    ("registered_on", "hh_col_registered_on"),
];

#[derive(Serialize)]
struct SortHeader {
    label: &'static str,
    href: String,
    /// `ascending` / `descending` for the column the list is sorted by (aria-sort).
    aria_sort: Option<&'static str>,
}

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    if let Some(asked) = ctx.param("format") {
        let Some(format) = Format::parse(asked) else {
            return Err(ctx.render_status(
                StatusCode::BAD_REQUEST,
                "problem.html",
                context! {
                    title => ctx.lang.text("problem_bad_request"),
                    detail => format!("format must be csv or xlsx, not {asked:?}"),
                    request_id => None::<String>,
                },
            ));
        };
        return Ok(super::export::download(ctx, format).await);
    }
    let limit = ctx
        .param("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(DEFAULT_LIMIT);
    let offset = ctx
        .param("offset")
        .and_then(|o| o.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0);
    let mut query = ctx.api_query(&FILTERS);
    if offset > 0 {
        query.push_str(&format!("&offset={offset}"));
    }
    let answer = ctx
        .call(
            Method::GET,
            &format!("/api/v1/households?{query}"),
            None,
            &[],
        )
        .await;
    // A filter the API refuses is the user's to fix: the form again, the error beside it.
    let (data, problem) = match answer.status {
        s if s.is_success() => (answer.body, None),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => (
            serde_json::json!({"items": [], "total": 0}),
            Some(context! { field => answer.field(), detail => answer.detail() }),
        ),
        _ => return Err(ctx.refusal(&answer)),
    };
    let total = data["total"].as_i64().unwrap_or(0);
    let shown = data["items"].as_array().map_or(0, Vec::len) as i64;
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(ctx.render_status(
        status,
        "households.html",
        context! {
            data,
            problem,
            f => filters(&ctx),
            standards => STANDARDS,
            categories => CATEGORIES,
            page_sizes => PAGE_SIZES,
            limit,
            first => if shown > 0 { offset + 1 } else { 0 },
            last => if shown > 0 { offset + shown } else { 0 },
            total,
            prev_href => (offset > 0).then(|| link(&ctx, &[("offset", (offset - limit).max(0).to_string())])),
            next_href => (offset + shown < total).then(|| link(&ctx, &[("offset", (offset + limit).to_string())])),
            sorts => sort_headers(&ctx),
            as_of => ctx.param("as_of"),
            csv_href => link(&ctx, &[("format", "csv".to_owned())]),
            xlsx_href => link(&ctx, &[("format", "xlsx".to_owned())]),
        },
    ))
}

/// The filters as typed, for the form to show them again.
fn filters(ctx: &Ctx) -> minijinja::Value {
    let mut map = std::collections::BTreeMap::new();
    for name in FILTERS {
        map.insert(name, ctx.param(name).unwrap_or_default());
    }
    minijinja::Value::from_serialize(&map)
}

/// This page with `changes` made to its query (an empty value removes the parameter; `offset`
/// starts over unless it is one of the changes).
fn link(ctx: &Ctx, changes: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> = ctx
        .query
        .iter()
        .filter(|(k, v)| {
            !v.trim().is_empty() && k != "offset" && !changes.iter().any(|(c, _)| c == k)
        })
        .cloned()
        .collect();
    for (k, v) in changes {
        if !v.is_empty() && (*k != "offset" || v != "0") {
            pairs.push(((*k).to_owned(), v.clone()));
        }
    }
    if pairs.is_empty() {
        ctx.path.clone()
    } else {
        format!("{}?{}", ctx.path, encode(&pairs))
    }
}

/// Column headers that sort by themselves: ascending first, descending when already ascending.
fn sort_headers(ctx: &Ctx) -> Vec<SortHeader> {
    let current = ctx.param("sort").unwrap_or("name");
    let (key, descending) = match current.strip_prefix('-') {
        Some(key) => (key, true),
        None => (current, false),
    };
    SORTS
        .iter()
        .map(|&(column, label)| {
            let sorted = column == key;
            let next = if sorted && !descending {
                format!("-{column}")
            } else {
                column.to_owned()
            };
            SortHeader {
                label: ctx.lang.text(label),
                href: link(ctx, &[("sort", next)]),
                aria_sort: sorted.then_some(if descending {
                    "descending"
                } else {
                    "ascending"
                }),
            }
        })
        .collect()
}
