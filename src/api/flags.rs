//! Red flags (`/api/v1/flags`): the list with its filters (and as CSV/XLSX), a summary per unit
//! and rule, and the two household events that answer a flag: an officer's explanation and a
//! supervisor's acceptance. A flag is never deleted.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use ansinh_events::household::{FlagAccepted, FlagExplained, HouseholdCommand, FLAG_RULES};
use ansinh_projections::flags::{self, Flag, FlagFilter, SummaryLine};

use super::auth::{need, HouseholdAccess, PersonalDataRead, UnitAccess};
use super::error::{ApiError, Problem};
use super::extract::{ApiQuery, Bounded, JsonBody, WriteHeaders, MAX_OFFSET};
use super::households::version_created;
use super::registers::check_period;
use super::reports::{Download, ExportLang, ReportFormat};
use super::write;
use super::AppState;
use crate::export::{self, Cell, Column, Kind};
use crate::web::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flags", get(list))
        .route("/flags/summary", get(summary))
        .route("/households/{id}/flags/explanations", post(explain))
        .route("/households/{id}/flags/acceptances", post(accept))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagQuery {
    /// Unit (with the units below it); default: the user's unit.
    pub unit: Option<String>,
    /// A rule id: `not_eligible`, `repeated_once_per_period`, `after_closure`,
    /// `amount_differs`, `late_entry`, `same_user`, `unreviewed_override`, `overdrawn`.
    pub rule: Option<String>,
    /// `open`, `explained` or `accepted`.
    pub status: Option<String>,
    /// Flagged facts on or after this day.
    pub from: Option<NaiveDate>,
    /// Flagged facts on or before this day.
    pub to: Option<NaiveDate>,
    /// Only this household's flags.
    pub household: Option<Uuid>,
    /// Only these households' flags: ids separated by commas, at most 1000.
    pub households: Option<String>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<i64>,
    /// `json` (default), `csv` or `xlsx` (every matching flag, not only this page).
    #[param(inline)]
    pub format: Option<ReportFormat>,
    /// Language of the CSV / XLSX headers: `vi` (default) or `en`.
    #[param(inline)]
    pub lang: Option<ExportLang>,
}

impl Bounded for FlagQuery {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        vec![
            ("limit", self.limit, 1, 1000),
            ("offset", self.offset, 0, MAX_OFFSET),
        ]
    }
}

impl FlagQuery {
    fn filter(&self, unit: String) -> Result<FlagFilter, ApiError> {
        check_period(self.from, self.to)?;
        if let Some(rule) = self.rule.as_deref().filter(|r| !FLAG_RULES.contains(r)) {
            return Err(ApiError::bad_parameter(
                "rule",
                format!(
                    "query parameter rule: unknown rule {rule:?}; one of {}",
                    FLAG_RULES.join(", ")
                ),
            ));
        }
        if let Some(status) = self
            .status
            .as_deref()
            .filter(|s| !["open", "explained", "accepted"].contains(s))
        {
            return Err(ApiError::bad_parameter(
                "status",
                format!("query parameter status: {status:?} is not open, explained or accepted"),
            ));
        }
        let households = match self.households.as_deref() {
            None => None,
            Some(list) => {
                let ids = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        Uuid::parse_str(s).map_err(|_| {
                            ApiError::bad_parameter(
                                "households",
                                format!("query parameter households: {s:?} is not a household id"),
                            )
                        })
                    })
                    .collect::<Result<Vec<Uuid>, ApiError>>()?;
                if ids.len() > 1000 {
                    return Err(ApiError::bad_parameter(
                        "households",
                        "query parameter households: at most 1000 ids",
                    ));
                }
                Some(ids)
            }
        };
        Ok(FlagFilter {
            unit: Some(unit),
            households,
            rule: self.rule.clone(),
            status: self.status.clone(),
            from: self.from,
            to: self.to,
            household: self.household,
            today: crate::verify::today(),
        })
    }
}

/// A flag with its rule's plain explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagItem {
    pub rule: String,
    pub household_id: Uuid,
    pub sequence: i32,
    /// `open`, `explained` or `accepted`.
    pub status: String,
    /// What the rule checks, in Vietnamese.
    pub explanation: String,
    /// The same in English.
    pub explanation_en: String,
    pub head_name: String,
    pub unit_code: String,
    pub on_date: NaiveDate,
    /// The event sequences behind the flag.
    pub evidence: Vec<i32>,
    pub explained_by: Option<String>,
    /// The officer's reason.
    pub reason: Option<String>,
    pub decision_no: Option<String>,
    pub accepted_by: Option<String>,
}

impl From<Flag> for FlagItem {
    fn from(f: Flag) -> Self {
        let rule = flags::rule(&f.rule);
        FlagItem {
            explanation: rule.map(|r| r.vi).unwrap_or_default().to_owned(),
            explanation_en: rule.map(|r| r.en).unwrap_or_default().to_owned(),
            rule: f.rule,
            household_id: f.household_id,
            sequence: f.sequence,
            status: f.status,
            head_name: f.head_name,
            unit_code: f.unit_code,
            on_date: f.on_date,
            evidence: f.evidence,
            explained_by: f.explained_by,
            reason: f.explanation,
            decision_no: f.explanation_decision_no,
            accepted_by: f.accepted_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlagList {
    pub items: Vec<FlagItem>,
    /// Over every matching flag, not only this page.
    pub total: i64,
}

/// Red flags of the unit and below, newest fact first; explained ones stay, marked.
#[utoipa::path(get, path = "/api/v1/flags", tag = "flags",
    params(FlagQuery),
    responses(
        (status = 200, description = "The flags as JSON, CSV or XLSX (see `format`)", content(
            (FlagList = "application/json"),
            (inline(Download) = "text/csv"),
            (inline(Download) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::ReadFunds>,
    ApiQuery(q): ApiQuery<FlagQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter(unit)?;
    let format = q.format.unwrap_or_default();
    if format != ReportFormat::Json {
        return Ok(download(
            &state,
            filter,
            format,
            Lang::from(q.lang.unwrap_or_default()),
        )
        .await);
    }
    let (items, total) = flags::list(
        &state.pool,
        &filter,
        q.limit.unwrap_or(100),
        q.offset.unwrap_or(0),
    )
    .await?;
    let read = PersonalDataRead(
        items
            .iter()
            .map(|i| (i.household_id, i.unit_code.clone()))
            .collect(),
    );
    let items = items.into_iter().map(FlagItem::from).collect();
    Ok(read.attach(Json(FlagList { items, total })))
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Dấu hiệu", "Rule", Kind::Text),
        Column::new("Giải thích", "What it checks", Kind::Text),
        Column::new("Mã hộ", "Household id", Kind::Text),
        Column::new("Chủ hộ", "Head of household", Kind::Text),
        Column::new("Mã đơn vị", "Unit code", Kind::Text),
        Column::new("Ngày", "Date", Kind::Date),
        Column::new("Sự kiện", "Event", Kind::Integer),
        Column::new("Bằng chứng (sự kiện)", "Evidence (events)", Kind::Text),
        Column::new("Trạng thái", "Status", Kind::Text),
        Column::new("Người giải trình", "Explained by", Kind::Text),
        Column::new("Lý do", "Reason", Kind::Text),
        Column::new("Số quyết định", "Decision no.", Kind::Text),
        Column::new("Người chấp nhận", "Accepted by", Kind::Text),
    ]
}

/// Every matching flag as a download, paged through the read model.
async fn download(
    state: &AppState,
    filter: FlagFilter,
    format: ReportFormat,
    lang: Lang,
) -> Response {
    let pool = state.pool.clone();
    let rows = export::paged(1000, move |offset, limit| {
        let (pool, filter) = (pool.clone(), filter.clone());
        async move {
            let (items, _) = flags::list(&pool, &filter, limit, offset)
                .await
                .map_err(ApiError::from)?;
            Ok::<_, ApiError>(
                items
                    .into_iter()
                    .map(|f| {
                        let rule = flags::rule(&f.rule);
                        let text = rule.map(|r| if lang == Lang::En { r.en } else { r.vi });
                        vec![
                            Cell::from(f.rule.clone()),
                            Cell::from(text.unwrap_or_default()),
                            Cell::from(f.household_id.to_string()),
                            Cell::from(f.head_name),
                            Cell::from(f.unit_code),
                            Cell::from(f.on_date),
                            Cell::from(i64::from(f.sequence)),
                            Cell::from(
                                f.evidence
                                    .iter()
                                    .map(i32::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ),
                            Cell::from(f.status),
                            Cell::from(f.explained_by),
                            Cell::from(f.explanation),
                            Cell::from(f.explanation_decision_no),
                            Cell::from(f.accepted_by),
                        ]
                    })
                    .collect(),
            )
        }
    });
    let format = match format {
        ReportFormat::Xlsx => export::Format::Xlsx,
        _ => export::Format::Csv,
    };
    let name = match lang {
        Lang::Vi => "Dấu hiệu bất thường",
        Lang::En => "Red flags",
    };
    export::respond(format, name, columns(), lang, rows)
        .await
        .into_response()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlagSummary {
    /// Flags per unit and rule, by status.
    pub lines: Vec<SummaryLine>,
    pub total: i64,
}

/// Flags counted per unit and rule over the same filters (names no household).
#[utoipa::path(get, path = "/api/v1/flags/summary", tag = "flags",
    params(FlagQuery),
    responses((status = 200, body = FlagSummary),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn summary(
    State(state): State<AppState>,
    UnitAccess { unit, .. }: UnitAccess<need::ReadFunds>,
    ApiQuery(q): ApiQuery<FlagQuery>,
) -> Result<Json<FlagSummary>, ApiError> {
    let filter = q.filter(unit)?;
    let lines = flags::summary(&state.pool, &filter).await?;
    let total = lines
        .iter()
        .map(|l| l.open + l.explained + l.accepted)
        .sum();
    Ok(Json(FlagSummary { lines, total }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExplanationBody {
    pub rule: String,
    /// The event flagged.
    pub sequence: i64,
    pub reason: String,
    pub decision_no: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptanceBody {
    pub rule: String,
    pub sequence: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// An officer explains a flag (reason and decision number); it stays listed, as explained.
#[utoipa::path(post, path = "/api/v1/households/{id}/flags/explanations", tag = "flags",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ExplanationBody,
    responses((status = 201, body = super::households::Version),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn explain(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::ExplainFlags>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: ExplanationBody = body.parse()?;
    let command = HouseholdCommand::ExplainFlag(FlagExplained {
        rule: b.rule,
        sequence: b.sequence,
        reason: b.reason,
        decision_no: b.decision_no,
    });
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    Ok(version_created(&appended))
}

/// A supervisor (district or province officer) accepts the latest explanation of a flag.
#[utoipa::path(post, path = "/api/v1/households/{id}/flags/acceptances", tag = "flags",
    params(("id" = uuid::Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = AcceptanceBody,
    responses((status = 201, body = super::households::Version),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn accept(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::AcceptFlags>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: AcceptanceBody = body.parse()?;
    let command = HouseholdCommand::AcceptFlag(FlagAccepted {
        rule: b.rule,
        sequence: b.sequence,
        note: b.note,
    });
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    Ok(version_created(&appended))
}
