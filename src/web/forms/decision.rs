//! `/households/{id}/decisions/new`: the commune chair's decision under a standard. The form
//! shows what the latest survey proposes; a decision against the proposal needs a reason —
//! the API's rule: the page asks for the reason when the category differs (a small script
//! shows the field and makes it required), and when the API refuses for want of one the form
//! comes back with the reason field marked.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use minijinja::context;
use serde_json::{Map, Value};

use super::{again, household, household_id, label, officer, render, send, today};
use super::{Posted, Sent, Shown, CATEGORIES};
use crate::web::page::Ctx;

const FIELDS: [&str; 5] = [
    "standard",
    "category",
    "decision_no",
    "decided_on",
    "reason",
];

pub async fn form(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    officer(&ctx)?;
    let id = household_id(&ctx, &id)?;
    let household = household(&ctx, id).await?;
    let mut shown = Shown::default();
    shown.values.insert("decided_on".into(), today());
    // The latest survey's proposal is the default: deciding as proposed needs no reason.
    if let Some((standard, proposal)) = household["proposals"].as_object().and_then(|p| {
        p.iter()
            .max_by_key(|(standard, p)| (p["survey_date"].as_str(), standard.as_str()))
    }) {
        shown.values.insert("standard".into(), standard.clone());
        let category = proposal["category"].as_str().unwrap_or_default();
        shown.values.insert("category".into(), category.to_owned());
    }
    shown.household = Some(household);
    Ok(page(&ctx, shown))
}

pub(super) fn page(ctx: &Ctx, shown: Shown) -> Response {
    let categories: Vec<(&str, String)> = CATEGORIES
        .iter()
        .map(|c| (*c, label(ctx.lang, "form_category", c)))
        .collect();
    let proposals = shown
        .household
        .as_ref()
        .map(|h| h["proposals"].clone())
        .unwrap_or(Value::Null);
    // What the script compares the chosen category with: standard → proposed category.
    let proposed: Map<String, Value> = proposals
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(s, v)| (s.clone(), v["category"].clone()))
                .collect()
        })
        .unwrap_or_default();
    let standard_options: Vec<(String, String)> =
        proposed.keys().map(|s| (s.clone(), s.clone())).collect();
    let reason_asked = shown.errors.fields.contains_key("reason");
    render(
        ctx,
        "form_decision.html",
        shown,
        context! {
            categories,
            proposals,
            standard_options,
            proposed_json => Value::Object(proposed).to_string(),
            reason_asked,
        },
    )
}

fn body(posted: &Posted) -> Value {
    let mut body = Map::new();
    for name in FIELDS {
        posted.text_into(&mut body, name);
    }
    Value::Object(body)
}

pub async fn submit(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id = household_id(&ctx, &raw)?;
    let posted = Posted::parse(&bytes);
    let path = format!("/api/v1/households/{id}/decisions");
    let inputs = FIELDS.map(str::to_owned);
    let shown = match send(&ctx, &path, &body(&posted), &posted).await? {
        Sent::Written(_) => return Ok(super::saved(&id.to_string(), "decision", &[])),
        Sent::Refused(answer) => again(&ctx, id, &posted, answer, false, &inputs).await?,
        Sent::Stale(answer) => again(&ctx, id, &posted, answer, true, &[]).await?,
    };
    Ok(page(&ctx, shown))
}
