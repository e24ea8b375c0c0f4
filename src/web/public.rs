//! The public posting page (`/public/{unit_code}/{period}`), without sign-in: what
//! `GET /api/v1/public/postings/{unit_code}/{period}` answers, from the same function, on a
//! printable page. It shares that route's rate limit.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::page::Ctx;
use crate::api::error::ApiError;
use crate::api::AppState;

pub async fn page(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((unit_code, period)): Path<(String, String)>,
) -> Response {
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    match crate::api::postings::public_view(&state, &unit_code, &period, today).await {
        Ok(posting) => ctx.render("public_posting.html", context! { posting }),
        Err(ApiError::NotFound(_)) => ctx.render_status(
            StatusCode::NOT_FOUND,
            "public_posting.html",
            context! { posting => () },
        ),
        Err(e) => ctx.render_status(
            e.status(),
            "public_posting.html",
            context! { posting => (), failed => true },
        ),
    }
}
