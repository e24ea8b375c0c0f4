//! `/api/v1/reports/movements`: the poor and near-poor movement tables of a unit and period,
//! as JSON or as a CSV / XLSX download (the same numbers; see `crate::export::movements`).
//!
//! A report only reads what the runner has projected (it runs beside `serve`): it never catches
//! up inside the request, which would write, take row locks and wait for older transactions.
//! The JSON's `current_to_position` and the `Current-To-Position` header name the log position
//! the counts are current to.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{need, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded};
use super::AppState;
use crate::export;
use crate::movement_report::{
    self, MovementError, MovementRequest, ProjectedReport, DEFAULT_STANDARD,
};
use crate::web::i18n::Lang;

/// The header that names the log position a report is current to (as its JSON's
/// `current_to_position`).
pub const CURRENT_TO_POSITION: &str = "current-to-position";

pub fn router() -> Router<AppState> {
    Router::new().route("/reports/movements", get(movements))
}

/// What the report is sent as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// The JSON document below (the default).
    #[default]
    Json,
    /// One line per unit directly below, the total and its breakdowns (UTF-8 with BOM).
    Csv,
    /// The official form: merged headers, units as rows, a total row.
    Xlsx,
}

/// The language of an export's headers and titles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportLang {
    #[default]
    Vi,
    En,
}

impl From<ExportLang> for Lang {
    fn from(lang: ExportLang) -> Lang {
        match lang {
            ExportLang::Vi => Lang::Vi,
            ExportLang::En => Lang::En,
        }
    }
}

/// A file sent as a download (`Content-Disposition: attachment`): `type: string, format: binary`.
pub struct Download;

impl utoipa::PartialSchema for Download {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .build()
            .into()
    }
}

impl ToSchema for Download {}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    /// Unit (with the units below it); default: the user's unit.
    pub unit: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Standard id (default `vn-2022-2025`).
    pub standard: Option<String>,
    /// `json` (default), `csv` or `xlsx`. CSV and XLSX are downloads
    /// (`Content-Disposition: attachment`) with a row for each unit directly below `unit`, the
    /// total row (the numbers of the JSON) and its breakdowns.
    #[param(inline)]
    pub format: Option<ReportFormat>,
    /// Language of the CSV / XLSX headers and titles: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<ExportLang>,
}

impl Bounded for MovementQuery {}

/// The movement report of a unit (with the units below it) for a period under one standard.
#[utoipa::path(get, path = "/api/v1/reports/movements", tag = "reports",
    params(MovementQuery),
    responses(
        (status = 200, description = "The report as JSON, CSV or XLSX (see `format`), as far as the log is projected",
            headers(("current-to-position" = i64, description = "Global position of the last event the counts include, in commit order (as `current_to_position`)")),
            content(
            (ProjectedReport = "application/json"),
            (inline(Download) = "text/csv"),
            (inline(Download) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The unit ended before the period ends (`code` \
            `unit_ended`, `field` `to`); `detail` says when and what replaced it", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn movements(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::Reports>,
    ApiQuery(q): ApiQuery<MovementQuery>,
) -> Result<Response, ApiError> {
    let request = MovementRequest {
        unit,
        from: q.from,
        to: q.to,
        standard: q.standard.unwrap_or_else(|| DEFAULT_STANDARD.into()),
    };
    let lang = Lang::from(q.lang.unwrap_or_default());
    let format = match q.format.unwrap_or_default() {
        ReportFormat::Json => {
            let report = movement_report::report(&state.pool, &state.standards, &request)
                .await
                .map_err(api_error)?;
            let position = report.current_to_position;
            return Ok(with_position(Json(report).into_response(), position));
        }
        ReportFormat::Csv => export::Format::Csv,
        ReportFormat::Xlsx => export::Format::Xlsx,
    };
    let sheet = movement_report::sheet(&state.pool, &state.standards, &request)
        .await
        .map_err(api_error)?;
    let position = sheet.current_to_position;
    let response = export::movements::respond(sheet, format, lang, movement_report::today()).await;
    Ok(with_position(response, position))
}

fn with_position(mut response: Response, position: i64) -> Response {
    response
        .headers_mut()
        .insert(CURRENT_TO_POSITION, HeaderValue::from(position));
    response
}

fn api_error(e: MovementError) -> ApiError {
    match e {
        MovementError::BadInput { field, detail } => {
            ApiError::bad_parameter(field, format!("query parameter {field}: {detail}"))
        }
        ended @ MovementError::UnitEnded { .. } => {
            ApiError::invalid_as("unit_ended", "to", ended.to_string())
        }
        MovementError::Database(e) => ApiError::unexpected(e),
        MovementError::Report(e) => ApiError::unexpected(e),
    }
}
