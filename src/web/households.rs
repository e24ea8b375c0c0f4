//! The register (`/households`) and a household's page (`/households/{id}`). Both ask the API
//! in-process as the signed-in user, so its scope checks, monitor redaction and access log
//! apply; they only shape what it answers into pages.

mod export;
mod profile;
mod register;

use axum::routing::get;
use axum::Router;

use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households", get(register::page))
        .route("/households/{id}", get(profile::page))
}

/// The standards a register can be filtered by (ids of `events/standards/*.json`), newest first.
const STANDARDS: [&str; 2] = ["vn-2022-2025", "vn-2016-2020"];

/// The categories a household can be decided in, as the API names them.
const CATEGORIES: [&str; 4] = ["poor", "near_poor", "middle_income", "not_poor"];
