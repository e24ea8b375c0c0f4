//! The 2025 reform on the officers' pages: `/reform`, the households of split communes that
//! await assignment to a new commune the officer covers, and
//! `/households/{id}/reform-assignment/new`, the assignment itself (one of the communes that took
//! over part of the old one, with a reason). Both ask the API (`/api/v1/reform/worklist`,
//! `POST /api/v1/households/{id}/reform-assignment`), which judges scope and every field.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use minijinja::context;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{again, household, household_id, officer, render, send};
use super::{Posted, Sent, Shown};
use crate::api::auth::Permission;
use crate::web::listing::{self, PAGE};
use crate::web::page::Ctx;

const INPUTS: [&str; 3] = ["unit_code", "hamlet", "reason"];

/// The worklist of the signed-in user's unit (or `?unit=`), paged.
pub async fn list(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    let q = ctx.api_query(&["unit"]);
    let offset = listing::offset(&ctx);
    let data = ctx
        .get_json(&format!(
            "/api/v1/reform/worklist?{q}&limit={PAGE}&offset={offset}"
        ))
        .await?;
    let total = data["total"].as_i64().unwrap_or(0);
    Ok(ctx.render(
        "reform.html",
        context! {
            data => data,
            paging => listing::pager(&ctx, total, &offset),
            f => listing::filters(&ctx, &["unit"]),
            may_write => ctx.may(Permission::WriteHouseholds),
        },
    ))
}

/// Where the household may go: its worklist entry, as the user sees it (none when it does not
/// await assignment or the user covers none of the communes it may go to).
async fn awaiting(ctx: &Ctx, id: Uuid) -> Result<Option<Value>, Response> {
    let found = ctx
        .get_json(&format!(
            "/api/v1/reform/worklist?household_id={id}&limit=1"
        ))
        .await?;
    Ok(found["items"].get(0).cloned())
}

pub async fn form(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    officer(&ctx)?;
    let id = household_id(&ctx, &id)?;
    let household = household(&ctx, id).await?;
    let mut shown = Shown::default();
    if let Some(hamlet) = household["hamlet"].as_str() {
        shown.values.insert("hamlet".into(), hamlet.to_owned());
    }
    shown.household = Some(household);
    page(&ctx, id, shown).await
}

async fn page(ctx: &Ctx, id: Uuid, shown: Shown) -> Result<Response, Response> {
    let entry = awaiting(ctx, id).await?;
    let candidates: Vec<(String, String)> = entry
        .as_ref()
        .map(|e| {
            let codes = e["candidates"].as_array().cloned().unwrap_or_default();
            let names = e["candidate_names"].as_array().cloned().unwrap_or_default();
            codes
                .iter()
                .zip(names.iter().chain(std::iter::repeat(&Value::Null)))
                .filter_map(|(code, name)| {
                    let code = code.as_str()?;
                    Some((
                        code.to_owned(),
                        format!("{code} {}", name.as_str().unwrap_or("")),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(render(
        ctx,
        "form_reform.html",
        shown,
        context! { entry, candidates },
    ))
}

fn body(posted: &Posted) -> Value {
    let mut body = Map::new();
    for name in INPUTS {
        posted.text_into(&mut body, name);
    }
    Value::Object(body)
}

pub async fn submit(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id = household_id(&ctx, &raw)?;
    let posted = Posted::parse(&bytes);
    let path = format!("/api/v1/households/{id}/reform-assignment");
    let inputs: Vec<String> = INPUTS.map(str::to_owned).to_vec();
    let shown = match send(&ctx, &path, &body(&posted), &posted).await? {
        Sent::Written(_) => return Ok(super::saved(&id.to_string(), "reform", &[])),
        Sent::Refused(answer) => again(&ctx, id, &posted, answer, false, &inputs).await?,
        Sent::Stale(answer) => again(&ctx, id, &posted, answer, true, &[]).await?,
    };
    page(&ctx, id, shown).await
}
