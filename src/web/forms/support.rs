//! `/households/{id}/supports/new`: a support disbursed to the household (policy, amount in
//! whole VND, date, fund and source, the decision it rests on).

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use minijinja::context;
use serde_json::{Map, Value};

use ansinh_events::household::Policy;

use super::{again, household, household_id, label, officer, render, send, today};
use super::{Posted, Sent, Shown};
use crate::web::page::Ctx;

const TEXT_FIELDS: [&str; 9] = [
    "policy",
    "in_kind",
    "funding_source",
    "fund_id",
    "disbursed_on",
    "disbursed_by",
    "decision_no",
    "recipient_member",
    "override_reason",
];

fn inputs() -> Vec<String> {
    let mut inputs: Vec<String> = TEXT_FIELDS.map(str::to_owned).to_vec();
    inputs.push("amount_vnd".into());
    inputs
}

pub async fn form(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    officer(&ctx)?;
    let id = household_id(&ctx, &id)?;
    let mut shown = Shown {
        household: Some(household(&ctx, id).await?),
        ..Shown::default()
    };
    shown.values.insert("disbursed_on".into(), today());
    Ok(page(&ctx, shown).await)
}

/// The funds a support may name: those still open that the officer's unit reaches (the API's
/// list), as (id, "name — managing unit"); none when the user may not read funds.
async fn funds(ctx: &Ctx) -> Vec<(String, String)> {
    let Ok(list) = ctx.get_json("/api/v1/funds").await else {
        return Vec::new();
    };
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["closed_on"].is_null())
        .filter_map(|f| {
            let id = f["fund_id"].as_str()?;
            let name = f["name"].as_str().unwrap_or(id);
            let unit = f["managing_unit"].as_str().unwrap_or_default();
            Some((id.to_owned(), format!("{name} — {unit}")))
        })
        .collect()
}

pub(super) async fn page(ctx: &Ctx, shown: Shown) -> Response {
    let lang = ctx.lang;
    let funds = funds(ctx).await;
    let policies: Vec<(&str, String)> = Policy::ALL
        .iter()
        .map(|p| (p.as_str(), label(lang, "form_policy", p.as_str())))
        .collect();
    let sources: Vec<(&str, String)> = crate::api::registers::SOURCES
        .iter()
        .map(|s| (*s, label(lang, "form_source", s)))
        .collect();
    let members: Vec<(String, String)> = shown
        .household
        .as_ref()
        .and_then(|h| h["members"].as_array())
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["name"].as_str())
                .map(|n| (n.to_owned(), n.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    render(
        ctx,
        "form_support.html",
        shown,
        context! { policies, sources, members, funds },
    )
}

fn body(posted: &Posted) -> Value {
    let mut body = Map::new();
    for name in TEXT_FIELDS {
        posted.text_into(&mut body, name);
    }
    posted.integer_into(&mut body, "amount_vnd");
    Value::Object(body)
}

pub async fn submit(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id = household_id(&ctx, &raw)?;
    let posted = Posted::parse(&bytes);
    let path = format!("/api/v1/households/{id}/supports");
    let shown = match send(&ctx, &path, &body(&posted), &posted).await? {
        Sent::Written(_) => return Ok(super::saved(&id.to_string(), "support", &[])),
        Sent::Refused(answer) => again(&ctx, id, &posted, answer, false, &inputs()).await?,
        Sent::Stale(answer) => again(&ctx, id, &posted, answer, true, &[]).await?,
    };
    Ok(page(&ctx, shown).await)
}
