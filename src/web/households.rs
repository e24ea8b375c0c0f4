//! The register (`/households`) and a household's page (`/households/{id}`).

use axum::Router;

use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
