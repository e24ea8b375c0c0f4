//! The supervisors' and monitors' pages: re-poverty, the disbursement trail, the movement report.

use axum::Router;

use crate::api::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
