//! The officers' forms: register a household, survey, decision, support, correction.

use axum::Router;

use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
