//! What the list pages share: the page size they ask the API for, and the pager's links.

use minijinja::{context, Value};

use super::i18n::Lang;
use super::page::{encode, Ctx};
use crate::export::{self, Cell, Column, Format};

/// Rows per page of a list page.
pub const PAGE: i64 = 50;

/// The `offset` the page was asked for (a bad one is left to the API, which names it).
pub fn offset(ctx: &Ctx) -> String {
    ctx.param("offset").unwrap_or("0").to_owned()
}

/// The pager of a list of `total` rows shown from `offset`: where it stands and links to the
/// previous and next pages (the same filters, another offset).
pub fn pager(ctx: &Ctx, total: i64, offset: &str) -> Value {
    let offset: i64 = offset.parse().unwrap_or(0).max(0);
    let link = |to: i64| {
        let mut pairs: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "offset")
            .cloned()
            .collect();
        if to > 0 {
            pairs.push(("offset".into(), to.to_string()));
        }
        if pairs.is_empty() {
            ctx.path.clone()
        } else {
            format!("{}?{}", ctx.path, encode(&pairs))
        }
    };
    let shown_to = (offset + PAGE).min(total);
    context! {
        total => total,
        first => if total == 0 { 0 } else { offset + 1 },
        last => shown_to,
        previous => (offset > 0).then(|| link((offset - PAGE).max(0))),
        next => (offset + PAGE < total).then(|| link(offset + PAGE)),
    }
}

/// The filter values `names` as the form shows them again (blank when not given).
pub fn filters(ctx: &Ctx, names: &[&str]) -> Value {
    let pairs: std::collections::BTreeMap<&str, &str> = names
        .iter()
        .map(|n| (*n, ctx.param(n).unwrap_or("")))
        .collect();
    Value::from_serialize(&pairs)
}

/// A refusal of the API met while exporting: its page, and what it said (for the log).
pub struct Refused {
    page: axum::response::Response,
    detail: String,
}

impl axum::response::IntoResponse for Refused {
    fn into_response(self) -> axum::response::Response {
        self.page
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The export format the page was asked for (`?format=csv|xlsx`): `None` for the page itself,
/// a 400 page for anything else.
pub fn export_format(ctx: &Ctx) -> Result<Option<Format>, axum::response::Response> {
    match ctx.param("format") {
        None => Ok(None),
        Some(name) => Format::parse(name).map(Some).ok_or_else(|| {
            let answer = super::api_client::Answer {
                status: axum::http::StatusCode::BAD_REQUEST,
                headers: Default::default(),
                body: serde_json::json!({
                    "detail": format!("query parameter format: {name:?} is not csv or xlsx")
                }),
            };
            ctx.refusal(&answer)
        }),
    }
}

/// Rows an export asks the API for at once (the registers' and the access log's largest page).
const EXPORT_PAGE: i64 = 1000;

/// The whole list the page shows (every page of `api` — a path with the page's filters, without
/// `limit` and `offset`), as a CSV or XLSX download streamed a page of the API at a time; each
/// item of the API's `items` becomes a row by `row`.
pub async fn export(
    ctx: Ctx,
    format: Format,
    filename: &str,
    columns: Vec<Column>,
    api: String,
    row: fn(&serde_json::Value, Lang) -> Vec<Cell>,
) -> axum::response::Response {
    let lang = ctx.lang;
    let ctx = std::sync::Arc::new(ctx);
    let rows = export::paged(EXPORT_PAGE, move |offset, limit| {
        let ctx = ctx.clone();
        let path = format!("{api}&limit={limit}&offset={offset}");
        async move {
            let answer = ctx.call(axum::http::Method::GET, &path, None, &[]).await;
            if !answer.status.is_success() {
                return Err(Refused {
                    detail: answer.detail(),
                    page: ctx.refusal(&answer),
                });
            }
            Ok(answer.body["items"]
                .as_array()
                .map(|items| items.iter().map(|item| row(item, lang)).collect())
                .unwrap_or_default())
        }
    });
    export::respond(format, filename, columns, lang, rows).await
}

/// A text cell of `item[key]` (empty when absent or null).
pub fn text(item: &serde_json::Value, key: &str) -> Cell {
    match &item[key] {
        serde_json::Value::String(s) => Cell::Text(s.clone()),
        serde_json::Value::Null => Cell::Empty,
        other => Cell::Text(other.to_string()),
    }
}

/// An integer cell of `item[key]`.
pub fn int(item: &serde_json::Value, key: &str) -> Cell {
    item[key].as_i64().map_or(Cell::Empty, Cell::Int)
}

/// A date cell of `item[key]` (`YYYY-MM-DD`).
pub fn date(item: &serde_json::Value, key: &str) -> Cell {
    item[key]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map_or(Cell::Empty, Cell::Date)
}

/// The catalogue's text for `prefix` + `item[key]` (a category, a policy…), empty when absent.
pub fn named(item: &serde_json::Value, key: &str, prefix: &str, lang: Lang) -> Cell {
    match item[key].as_str() {
        Some(value) => Cell::Text(lang.text(&format!("{prefix}{value}")).to_owned()),
        None => Cell::Empty,
    }
}

/// Links to this page's CSV and XLSX: the same path and filters, without `offset`.
pub fn export_links(ctx: &Ctx) -> Value {
    let link = |format: &str| {
        let mut pairs: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "offset" && k != "format")
            .cloned()
            .collect();
        pairs.push(("format".into(), format.into()));
        format!("{}?{}", ctx.path, encode(&pairs))
    };
    context! { csv => link("csv"), xlsx => link("xlsx") }
}
