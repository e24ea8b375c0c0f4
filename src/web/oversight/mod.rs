//! The start page (`/`), and the auditors' (`/access-log`, `/verify`) and admins'
//! (`/admin/users`, `/admin/units`) pages.

mod access_log;
mod admin_units;
mod admin_users;
mod flags;
mod funds;
mod home;
mod review;
mod verify;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

use super::page::Ctx;
use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/access-log", get(access_log::page))
        .route("/verify", get(verify::page))
        .route("/reports/review", get(review::page))
        .route("/funds", get(funds::list))
        .route("/funds/{id}", get(funds::show))
        .route("/flags", get(flags::page))
        .route(
            "/admin/users",
            get(admin_users::page).post(admin_users::create),
        )
        .route(
            "/admin/users/{id}/disabled",
            post(admin_users::set_disabled),
        )
        .route(
            "/admin/units",
            get(admin_units::page).post(admin_units::import),
        )
}

/// `GET path` of the API as this user; a 403 becomes a page that says, in the page's
/// language, who may see it (`who_key`) and what the API said.
pub(super) async fn get_or_explain(
    ctx: &Ctx,
    path: &str,
    who_key: &str,
) -> Result<serde_json::Value, Response> {
    let answer = ctx.call(axum::http::Method::GET, path, None, &[]).await;
    if answer.status.is_success() {
        return Ok(answer.body);
    }
    if answer.status == StatusCode::FORBIDDEN {
        return Err(ctx.render_status(
            StatusCode::FORBIDDEN,
            "forbidden.html",
            context! { who => ctx.lang.text(who_key), detail => answer.detail() },
        ));
    }
    Err(ctx.refusal(&answer))
}
