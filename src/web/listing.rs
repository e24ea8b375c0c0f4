//! What the list pages share: the page size they ask the API for, and the pager's links.

use minijinja::{context, Value};

use super::page::{encode, Ctx};

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
