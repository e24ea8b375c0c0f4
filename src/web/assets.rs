//! The site's stylesheet, shipped inside the binary (the pages work offline, no CDN).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::api::AppState;

const STYLESHEET: &str = include_str!("static/ansinh.css");

pub fn router() -> Router<AppState> {
    Router::new().route("/static/ansinh.css", get(stylesheet))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}
