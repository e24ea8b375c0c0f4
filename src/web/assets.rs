//! The site's stylesheet and its one small script, shipped inside the binary (the pages work
//! offline, no CDN).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::api::AppState;

const STYLESHEET: &str = include_str!("static/ansinh.css");
/// The forms' progressive enhancement (the decision form's reason); every form works without.
const FORMS_SCRIPT: &str = include_str!("static/forms.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/ansinh.css", get(stylesheet))
        .route("/static/forms.js", get(forms_script))
}

async fn forms_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        FORMS_SCRIPT,
    )
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
