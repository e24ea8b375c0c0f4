//! The supervisors' and monitors' pages: re-poverty (`/re-poverty`), the disbursement trail
//! (`/disbursements`) and the movement report (`/reports/movements`). Each asks the API with
//! the page's filters, as the signed-in user.

mod disbursements;
mod movements;
mod re_poverty;

use axum::routing::get;
use axum::Router;

use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/re-poverty", get(re_poverty::page))
        .route("/disbursements", get(disbursements::page))
        .route("/reports/movements", get(movements::page))
}

/// The standards a filter offers (ids of the API's `standard` parameter).
pub const STANDARDS: [&str; 2] = ["vn-2022-2025", "vn-2016-2020"];

/// The standard the movement report uses when none is chosen (the API's default).
pub const DEFAULT_STANDARD: &str = "vn-2022-2025";

/// Today in Vietnam (UTC+7), the day dates on the pages are counted from.
pub fn today() -> chrono::NaiveDate {
    crate::verify::today()
}
