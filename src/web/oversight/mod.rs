//! The start page (`/`), and the auditors' and admins' pages.

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::page::Ctx;
use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    Ok(ctx.render("home.html", context! {}))
}
