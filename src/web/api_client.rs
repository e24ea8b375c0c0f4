//! The API as the pages call it: in-process, through the same router, authentication
//! middleware and handlers as an HTTP client, so no rule has a second copy in the pages.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Largest API answer a page reads (pages ask for one page of a list at a time).
const MAX_ANSWER: usize = 64 << 20;

/// The `/api/v1` router with its state, handed to the pages as a request extension.
#[derive(Clone)]
pub struct InternalApi(Router);

impl InternalApi {
    pub fn new(api: Router) -> InternalApi {
        InternalApi(api)
    }

    /// Sends `request` through the API and reads its answer.
    pub async fn call(&self, request: Request) -> Answer {
        let response = match self.0.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_ANSWER).await {
            Ok(bytes) => bytes,
            Err(e) => return Answer::internal(&format!("the API's answer could not be read: {e}")),
        };
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// An API answer: its status, headers and JSON body (a problem document when it refused).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn internal(detail: &str) -> Answer {
        Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            headers: Default::default(),
            body: json!({ "detail": detail }),
        }
    }

    /// The problem document's `detail` (what went wrong, in the API's words).
    pub fn detail(&self) -> String {
        match &self.body {
            Value::Object(o) => o
                .get("detail")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        }
    }

    /// The field a 400 or 422 names (e.g. `members[0].birth_year`), if any.
    pub fn field(&self) -> Option<&str> {
        self.body.get("field").and_then(Value::as_str)
    }

    /// The household's current version a 409 reports.
    pub fn current_version(&self) -> Option<i64> {
        self.body.get("current_version").and_then(Value::as_i64)
    }
}
