//! The one error type at the HTTP edge and its RFC 9457 problem documents.
//!
//! Every error leaves as `application/problem+json` with `type`, `title`, `status`, `detail`,
//! plus `field` when a request field is at fault and `request_id` for every problem (added by
//! [`problem_layer`], which also turns any other error response — an unknown route, a wrong
//! method — into a problem document). Internal errors are logged with the request id and never
//! echoed.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use ansinh_events::household::HouseholdError;

use crate::db::database_unreachable;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document as this API sends it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:ansinh:problem:...`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, as a path such as `members[0].birth_year` (422), or the
    /// query parameter, path parameter or header at fault (400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A stable, machine-readable name of what went wrong, for clients to translate: for 422
    /// the kind of invalid value (`missing`, `invalid_value`, `empty`, `too_long`,
    /// `future_date`, `reason_required`, `unknown_unit`, …; see the README's table), for 409
    /// `stale_version`, `already_registered` or `household_closed`, else the kind of the
    /// status (`forbidden`, `not_found`, `bad_parameter`, …). The wording of `detail` may
    /// change; the code does not.
    #[schema(example = "reason_required")]
    pub code: String,
    /// The household's current version (for 409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// The request id (also in the `x-request-id` header), to quote when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A bad query or path parameter or header, named in `field`.
    #[error("{detail}")]
    BadParameter { field: String, detail: String },
    /// A missing or invalid body field (422); `code` names the kind (see [`Problem::code`]).
    #[error("{detail}")]
    Invalid {
        field: Option<String>,
        detail: String,
        code: &'static str,
    },
    #[error("{detail}")]
    Conflict {
        detail: String,
        current_version: Option<i64>,
        code: &'static str,
    },
    #[error("the request body is larger than the limit of 1 MiB")]
    TooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Past a public route's per-address limit (429, with `Retry-After`).
    #[error("{0}")]
    TooManyRequests(String),
    /// The database cannot be reached (down, restarting, or no connection free in time):
    /// 503, so clients retry, and never confused with a fault of the request or of ansinh.
    /// The reason is logged, not shown.
    #[error("{0}")]
    DatabaseUnavailable(String),
    /// Never shown to the client; logged with the request id.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client is told to wait before retrying while the database is unavailable.
const RETRY_AFTER_SECS: &str = "2";

impl ApiError {
    /// A 422 naming the body field at fault, of the generic kind `invalid_value`.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::invalid_as("invalid_value", field, detail)
    }

    /// A 422 naming the body field at fault and the kind of fault (`code`).
    pub fn invalid_as(
        code: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        ApiError::Invalid {
            field: Some(field.into()),
            detail: detail.into(),
            code,
        }
    }

    /// A 400 naming the query parameter, path parameter or header at fault.
    pub fn bad_parameter(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadParameter {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// The one answer for a household that is unknown or outside the user's units: the same
    /// status and words for both, so ids of other communes' households cannot be probed.
    pub fn household_not_found(id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("household {id} was not found"))
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        ApiError::Internal(error.to_string())
    }

    /// An error no client caused: 503 `database-unavailable` when a [`sqlx::Error`] in its
    /// source chain says the database cannot be reached, else 500.
    pub fn unexpected(error: impl std::error::Error + 'static) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = cause {
            if e.downcast_ref::<sqlx::Error>()
                .is_some_and(database_unreachable)
            {
                return ApiError::DatabaseUnavailable(error.to_string());
            }
            cause = e.source();
        }
        ApiError::internal(error)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::BadRequest(_) | ApiError::BadParameter { .. } => "bad-request",
            ApiError::Invalid { .. } => "invalid-field",
            ApiError::Conflict { .. } => "conflict",
            ApiError::TooLarge => "too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::TooManyRequests(_) => "too-many-requests",
            ApiError::DatabaseUnavailable(_) => "database-unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Internal(_) => {
                "An internal error occurred; it has been logged. Quote the request id when reporting it."
                    .to_owned()
            }
            ApiError::DatabaseUnavailable(_) => UNAVAILABLE.to_owned(),
            other => other.to_string(),
        };
        let (field, current_version) = match self {
            ApiError::Invalid { field, .. } => (field.clone(), None),
            ApiError::BadParameter { field, .. } => (Some(field.clone()), None),
            ApiError::Conflict {
                current_version, ..
            } => (None, *current_version),
            _ => (None, None),
        };
        let code = match self {
            ApiError::Invalid { code, .. } | ApiError::Conflict { code, .. } => code,
            ApiError::BadParameter { .. } => "bad_parameter",
            other => other.slug(),
        };
        let title = match self {
            ApiError::DatabaseUnavailable(_) => "The database is unavailable",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        Problem {
            kind: format!("urn:ansinh:problem:{}", self.slug()),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            field,
            code: code.replace('-', "_"),
            current_version,
            request_id: None,
        }
    }
}

/// A problem document response.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(message) = &self {
            // Inside the request span, so the log line carries the request id.
            tracing::error!(error = %message, "internal error");
        }
        let mut response = problem_response(&self.problem());
        match self {
            ApiError::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::DatabaseUnavailable(reason) => {
                tracing::warn!(%reason, "answered 503: the database is unavailable");
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        response
    }
}

/// What a client is told while the database cannot be reached.
const UNAVAILABLE: &str =
    "the database cannot be reached at the moment; try again in a few seconds (a write sent with an Idempotency-Key is safe to repeat)";

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if database_unreachable(&e) {
            return ApiError::DatabaseUnavailable(format!("database: {e}"));
        }
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<HouseholdError> for ApiError {
    fn from(e: HouseholdError) -> Self {
        match &e {
            HouseholdError::AlreadyRegistered | HouseholdError::Closed => ApiError::Conflict {
                detail: e.to_string(),
                current_version: None,
                code: e.code(),
            },
            HouseholdError::NotRegistered | HouseholdError::NoSuchComplaint { .. } => {
                ApiError::NotFound(e.to_string())
            }
            HouseholdError::ComplaintAlreadyResolved { .. } => ApiError::Conflict {
                detail: e.to_string(),
                current_version: None,
                code: e.code(),
            },
            HouseholdError::Chain(_) => ApiError::internal(e),
            HouseholdError::InvalidReplacement(_) => ApiError::Invalid {
                field: e.path(),
                detail: e.to_string(),
                code: e.code(),
            },
            _ => ApiError::Invalid {
                field: e.path(),
                detail: e.to_string(),
                code: e.code(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(e) => e.into(),
            StoreError::NotFound(id) => ApiError::household_not_found(id),
            StoreError::Conflict { actual, .. } => ApiError::Conflict {
                detail: e.to_string(),
                current_version: Some(actual),
                code: "stale_version",
            },
            StoreError::IdempotencyKeyReused => ApiError::invalid_as(
                "idempotency_key_reused",
                "Idempotency-Key",
                "this Idempotency-Key was already used with a different request",
            ),
            StoreError::Database(e) => e.into(),
            StoreError::Corrupt(_) => ApiError::internal(e),
            StoreError::Overdrawn { .. } => {
                ApiError::invalid_as("allocation_overdrawn", "amount_vnd", e.to_string())
            }
            StoreError::NoAllocation { .. } => {
                ApiError::invalid_as("no_allocation", "fund_id", e.to_string())
            }
        }
    }
}

/// Outermost API middleware: every error response becomes a problem document carrying the
/// request id, whoever produced it (our handlers, axum's extractors and routing, tower-http).
pub async fn problem_layer(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // The web pages answer their errors as pages.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_page {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    let (mut parts, body) = response.into_parts();
    let mut problem: Value = if is_problem {
        match axum::body::to_bytes(body, 1 << 20).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({})),
            Err(_) => json!({}),
        }
    } else {
        // Someone else's error (route not found, method not allowed, a layer's refusal):
        // keep its status, replace its body.
        let error = match status {
            StatusCode::NOT_FOUND => ApiError::NotFound("no such resource".into()),
            StatusCode::METHOD_NOT_ALLOWED => {
                ApiError::BadRequest("this method is not allowed on this resource".into())
            }
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
            _ => ApiError::BadRequest(
                status
                    .canonical_reason()
                    .unwrap_or("the request was refused")
                    .to_owned(),
            ),
        };
        let mut p = serde_json::to_value(error.problem()).unwrap_or_else(|_| json!({}));
        p["status"] = json!(status.as_u16());
        p["title"] = json!(status.canonical_reason().unwrap_or("Error"));
        if status == StatusCode::METHOD_NOT_ALLOWED {
            p["type"] = json!("urn:ansinh:problem:method-not-allowed");
            p["code"] = json!("method_not_allowed");
        }
        p
    };
    if let (Some(id), Some(obj)) = (request_id, problem.as_object_mut()) {
        obj.entry("request_id").or_insert(json!(id));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}
