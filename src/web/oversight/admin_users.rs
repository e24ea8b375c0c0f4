//! `/admin/users`: the users of the admin's units; create one with a role and a unit, disable or
//! enable one. Every change is the API's (`POST /api/v1/users`, `PATCH /api/v1/users/{id}`).

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use serde_json::json;
use uuid::Uuid;

use super::get_or_explain;
use crate::users::Role;
use crate::web::listing::{self, PAGE};
use crate::web::page::Ctx;

const FILTERS: [&str; 2] = ["unit", "name"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    render(&ctx, StatusCode::OK, outcome(None, "", "", "", "", "")).await
}

/// The list with the create form; `outcome` is what the last form did (created, or an error
/// beside its field, with what was typed).
async fn render(ctx: &Ctx, status: StatusCode, outcome: Value) -> Result<Response, Response> {
    let offset = listing::offset(ctx);
    let q = ctx.api_query(&FILTERS);
    let data = get_or_explain(
        ctx,
        &format!("/api/v1/users?{q}&limit={PAGE}&offset={offset}"),
        "au_who",
    )
    .await?;
    let total = data["total"].as_i64().unwrap_or(0);
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    Ok(ctx.render_status(
        status,
        "admin_users.html",
        context! {
            data => data,
            paging => listing::pager(ctx, total, &offset),
            f => listing::filters(ctx, &FILTERS),
            roles => roles,
            outcome => outcome,
        },
    ))
}

/// What the last form did: created (the API's answer) or an error beside `error_field`, with
/// what was typed; every key is always there (the templates are strict).
fn outcome(
    created: Option<serde_json::Value>,
    error_field: &str,
    error: &str,
    name: &str,
    role: &str,
    unit_code: &str,
) -> Value {
    context! {
        created => created,
        error_field => error_field,
        error => error,
        typed => context! { name => name, role => role, unit_code => unit_code },
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

pub async fn create(
    ctx: Ctx,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Response> {
    ctx.signed_in()?;
    let (name, role, unit) = (
        field(&form, "name"),
        field(&form, "role"),
        field(&form, "unit_code"),
    );
    let body = json!({ "name": name, "role": role, "unit_code": unit });
    let answer = ctx
        .call(Method::POST, "/api/v1/users", Some(&body), &[])
        .await;
    match answer.status {
        StatusCode::CREATED => {
            let done = outcome(Some(answer.body.clone()), "", "", "", "", "");
            render(&ctx, StatusCode::CREATED, done).await
        }
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
            // A unit outside the admin's is a 403 about the unit field.
            let at = match answer.field() {
                Some(f) => f.to_owned(),
                None if answer.status == StatusCode::FORBIDDEN => "unit_code".to_owned(),
                None => String::new(),
            };
            let failed = outcome(None, &at, &answer.detail(), name, role, unit);
            render(&ctx, answer.status, failed).await
        }
        _ => Err(ctx.refusal(&answer)),
    }
}

pub async fn set_disabled(
    ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Response> {
    ctx.signed_in()?;
    let disabled = field(&form, "disabled") == "true";
    let answer = ctx
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&json!({ "disabled": disabled })),
            &[],
        )
        .await;
    if !answer.status.is_success() {
        return Err(ctx.refusal(&answer));
    }
    Ok(Redirect::to("/admin/users").into_response())
}
