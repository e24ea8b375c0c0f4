//! Extractors whose every refusal is a problem document: JSON bodies (bad JSON → 400, a
//! missing or invalid field → 422 naming it, too large → 413), household ids in the path (bad
//! UUID → 400), query strings, `If-Match` and `Idempotency-Key`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ApiError;

/// A JSON body read but not yet parsed, so a handler checks who asks (403, 404) before it
/// judges what they sent (400, 422). Carries the idempotency digest: SHA-256 over the method,
/// the path and the body.
pub struct JsonBody {
    bytes: Bytes,
    pub digest: String,
}

impl JsonBody {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.bytes)
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
            let ct = content_type
                .to_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if !(essence == "application/json" || essence.ends_with("+json")) {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body must be JSON (Content-Type: application/json), not {essence:?}"
                )));
            }
        }
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::BadRequest(format!(
                        "the request body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        let mut hasher = Sha256::new();
        hasher.update(method.as_str().as_bytes());
        hasher.update(b" ");
        hasher.update(path.as_bytes());
        hasher.update(b"\n");
        hasher.update(&bytes);
        Ok(JsonBody {
            bytes,
            digest: hex::encode(hasher.finalize()),
        })
    }
}

/// Parses JSON, naming the field at fault: syntax → 400, shape → 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty; a JSON object is expected".into(),
        ));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ApiError::BadRequest(format!(
            "the request body is not UTF-8 text: {e}"
        )));
    }
    // Syntax first (400), then shape (422): serde_json reports some shape errors (a number
    // where a name is expected) in its syntax category.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    // serde would read a struct from an array too; a body is always an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid(
            "body",
            "the request body must be a JSON object",
        ));
    }
    // PostgreSQL cannot store a NUL character in text or JSON: refuse it here, by name, rather
    // than fail the append. Only a `\u0000` escape can put one in a JSON string.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(field) = nul_field(&value) {
                return Err(ApiError::invalid_as(
                    "nul_character",
                    field.clone(),
                    format!("{field} holds a NUL character (\\u0000), which cannot be stored"),
                ));
            }
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| json_error(&e))
}

/// The path (`members[0].name`) of the first key or string holding a NUL character.
fn nul_field(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(String::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_field(v).map(|rest| format!("[{i}]{}", dotted(&rest)))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(k.replace('\0', "\\u0000"));
            }
            nul_field(v).map(|rest| format!("{k}{}", dotted(&rest)))
        }),
        _ => None,
    }
}

/// `rest` of a path as it follows a key: `.name`, `[0]`, or nothing.
fn dotted(rest: &str) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest.to_owned()
    } else {
        format!(".{rest}")
    }
}

/// Parses a part of a body (a correction's `replacement`), naming fields below `prefix`.
pub fn parse_part<T: DeserializeOwned>(
    value: &serde_json::Value,
    prefix: &str,
) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    parse_json(&bytes).map_err(|e| match e {
        ApiError::Invalid {
            field,
            detail,
            code,
        } => {
            let field = match field {
                Some(f) => format!("{prefix}.{f}"),
                None => prefix.to_owned(),
            };
            ApiError::Invalid {
                detail: format!("{prefix}.{detail}"),
                field: Some(field),
                code,
            }
        }
        other => other,
    })
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let message = e.inner().to_string();
    let path = e.path().to_string();
    let parent = if path == "." { None } else { Some(path) };
    // serde names a missing field in its message and points the path at its parent.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, parent) {
        (Some(name), Some(parent)) => format!("{parent}.{name}"),
        (Some(name), None) => name.to_owned(),
        (None, Some(parent)) => parent,
        (None, None) => "body".to_owned(),
    };
    let code = if missing.is_some() {
        "missing"
    } else {
        "invalid_value"
    };
    let message = if message.starts_with("expected value") {
        format!("invalid value ({message})")
    } else {
        message
    };
    ApiError::invalid_as(code, field.clone(), format!("{field}: {message}"))
}

/// A text parameter (query, path) that PostgreSQL can take: no NUL and no other control
/// character (none belongs in a name, a code or a date). 400 naming the parameter.
pub fn check_text(field: &str, value: &str) -> Result<(), ApiError> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(ApiError::bad_parameter(
            field,
            format!(
                "{field} holds the control character U+{:04X}, which is not accepted",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// The query string's pairs, decoded, each name and value checked with [`check_text`].
pub fn query_pairs(parts: &Parts) -> Result<Vec<(String, String)>, ApiError> {
    let query = parts.uri.query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            check_text("query parameter name", &k)?;
            check_text(&k, &v)?;
            Ok((k.into_owned(), v.into_owned()))
        })
        .collect()
}

/// A UUID path parameter (`{id}`): a control character or anything else that is not a UUID
/// is a 400 naming it.
pub async fn uuid_path<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    what: &str,
) -> Result<Uuid, ApiError> {
    named_uuid_path(parts, state, "id", what).await
}

/// The path parameter `name` as a UUID (routes may carry more than one, such as a complaint's
/// `/households/{id}/complaints/{complaint_id}`); 400 naming it otherwise.
pub async fn named_uuid_path<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
    what: &str,
) -> Result<Uuid, ApiError> {
    let Path(params) =
        Path::<std::collections::BTreeMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_parameter(name, e.body_text()))?;
    let raw = params
        .get(name)
        .ok_or_else(|| ApiError::bad_parameter(name, format!("the path has no {name}")))?;
    check_text(name, raw)?;
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_parameter(name, format!("{raw:?} is not a {what} id (a UUID)")))
}

/// The `{id}` of a household route.
#[derive(Debug, Clone, Copy)]
pub struct HouseholdId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for HouseholdId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        uuid_path(parts, state, "household").await.map(HouseholdId)
    }
}

/// The `{id}` of a user route.
#[derive(Debug, Clone, Copy)]
pub struct UserId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for UserId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        uuid_path(parts, state, "user").await.map(UserId)
    }
}

/// A query string; a bad parameter (a control character, a wrong type, a value out of its
/// declared bounds) is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Bounded> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        query_pairs(parts)?;
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let message = e.inner().to_string();
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_owned);
            let field = missing.unwrap_or(field);
            ApiError::bad_parameter(field.clone(), format!("query parameter {field}: {message}"))
        })?;
        for (field, number, min, max) in value.bounds() {
            if let Some(n) = number {
                if n < min || n > max {
                    return Err(ApiError::bad_parameter(
                        field,
                        format!("query parameter {field}: {n} is outside {min}..={max}"),
                    ));
                }
            }
        }
        Ok(ApiQuery(value))
    }
}

/// The numeric query parameters of a query type and the bounds its OpenAPI declaration gives
/// them (`#[param(minimum, maximum)]`): (name, value, minimum, maximum).
pub trait Bounded {
    fn bounds(&self) -> Vec<(&'static str, Option<i64>, i64, i64)> {
        Vec::new()
    }
}

/// Largest `offset` of a paged list.
pub const MAX_OFFSET: i64 = 1_000_000_000;

/// Write preconditions and retry keys from the headers.
#[derive(Debug, Clone, Default)]
pub struct WriteHeaders {
    /// `If-Match: "VERSION"`: the version the client last saw.
    pub if_match: Option<i64>,
    pub idempotency_key: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for WriteHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        write_headers(&parts.headers)
    }
}

/// The one value of a header that may be given once; repeated → 400 naming it.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h axum::http::HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::bad_parameter(
            name,
            format!("{name} may be given only once"),
        ));
    }
    Ok(first)
}

fn write_headers(headers: &HeaderMap) -> Result<WriteHeaders, ApiError> {
    let if_match = match single(headers, "If-Match")? {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let bare = text.strip_prefix("W/").unwrap_or(text);
            let bare = bare.trim_matches('"');
            if text == "*" {
                None
            } else {
                Some(
                    bare.parse::<i64>()
                        .ok()
                        .filter(|v| *v >= 0)
                        .ok_or_else(|| {
                            ApiError::bad_parameter(
                                "If-Match",
                                format!(
                        "If-Match must be a household version in quotes, like \"3\"; got {text:?}"
                    ),
                            )
                        })?,
                )
            }
        }
    };
    let idempotency_key = match single(headers, "Idempotency-Key")? {
        None => None,
        Some(value) => {
            let key = value.to_str().unwrap_or_default().trim();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::bad_parameter(
                    "Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 visible characters",
                ));
            }
            Some(key.to_owned())
        }
    };
    Ok(WriteHeaders {
        if_match,
        idempotency_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        birth_year: i32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        members: Vec<Inner>,
    }

    fn field_of(body: &str) -> (StatusCode, Option<String>) {
        match parse_json::<Outer>(body.as_bytes()) {
            Ok(_) => (StatusCode::OK, None),
            Err(e) => {
                let field = match &e {
                    ApiError::Invalid { field, .. } => field.clone(),
                    _ => None,
                };
                (e.status(), field)
            }
        }
    }

    #[test]
    fn json_problems_name_the_field_at_fault() {
        assert_eq!(
            field_of(r#"{"members":[]}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name".into()))
        );
        assert_eq!(
            field_of(r#"{"name":"a","members":[{"birth_year":"x"}]}"#),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("members[0].birth_year".into())
            )
        );
        assert_eq!(
            field_of(r#"{"name":"a","members":[{}]}"#),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("members[0].birth_year".into())
            )
        );
        assert_eq!(field_of(r#"{"name":"a""#).0, StatusCode::BAD_REQUEST);
        assert_eq!(field_of("").0, StatusCode::BAD_REQUEST);
        assert_eq!(
            field_of(r#"{"name":"a","members":[]} x"#).0,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn if_match_takes_a_quoted_version() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"7\""));
        assert_eq!(write_headers(&h).expect("ok").if_match, Some(7));
        h.insert(header::IF_MATCH, HeaderValue::from_static("seven"));
        assert!(write_headers(&h).is_err());
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(write_headers(&h).expect("ok").if_match, None);
    }
}
