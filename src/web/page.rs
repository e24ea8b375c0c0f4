//! What every page handler starts from: [`Ctx`] says who asks and in which language, renders
//! a template inside the site's layout, and asks the API in-process, so a page goes through
//! exactly the API's role and scope checks, monitor redaction and access log.
//!
//! A handler returns `Result<Response, Response>`: `?` on [`Ctx::signed_in`] or
//! [`Ctx::get_json`] turns a refusal into its page (sign-in, 403 saying why, 404, …).

use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment, UndefinedBehavior, Value};
use serde::Serialize;
use tower_sessions::Session;

use super::api_client::{Answer, InternalApi};
use super::i18n::Lang;
use crate::api::auth::{allows, Permission};
use crate::api::AppState;
use crate::users::User;

/// The pages' templates, embedded in the binary by `build.rs`.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        minijinja_embed::load_templates!(&mut env);
        env.add_filter("vnd", vnd);
        env.add_filter("date_vn", date_vn);
        env
    })
}

/// `1234567` → `1.234.567` (Vietnamese thousands separators; amounts are whole VND).
fn vnd(value: Value) -> String {
    let digits = value.to_string();
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest.to_owned()),
        None => ("", digits),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return value.to_string();
    }
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}")
}

/// `2026-12-02` → `02/12/2026` (how dates are read in Vietnam); anything else unchanged.
fn date_vn(value: Value) -> String {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    match chrono::NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d") {
        Ok(day) => day.format("%d/%m/%Y").to_string(),
        Err(_) => text,
    }
}

/// The layout's navigation: `(message key, path, what the role must be allowed)`. A link is
/// shown to the roles the API would answer for it.
const NAV: &[(&str, &str, Option<Permission>)] = &[
    ("nav_home", "/", None),
    (
        "nav_households",
        "/households",
        Some(Permission::ReadStatus),
    ),
    (
        "nav_re_poverty",
        "/re-poverty",
        Some(Permission::ReadRegisters),
    ),
    (
        "nav_disbursements",
        "/disbursements",
        Some(Permission::ReadRegisters),
    ),
    ("nav_funds", "/funds", Some(Permission::ReadFunds)),
    ("nav_flags", "/flags", Some(Permission::ReadFunds)),
    (
        "nav_movements",
        "/reports/movements",
        Some(Permission::ReadReports),
    ),
    (
        "nav_review_report",
        "/reports/review",
        Some(Permission::ReadReports),
    ),
    (
        "nav_access_log",
        "/access-log",
        Some(Permission::ReadAccessLog),
    ),
    ("nav_reform", "/reform", Some(Permission::WriteHouseholds)),
    ("nav_verify", "/verify", Some(Permission::VerifyChain)),
    ("nav_users", "/admin/users", Some(Permission::ManageUsers)),
    ("nav_units", "/admin/units", Some(Permission::ManageUnits)),
];

#[derive(Serialize)]
struct NavItem {
    href: &'static str,
    label: &'static str,
    current: bool,
}

/// Headers of the page's request that the in-process API call carries on: the ones the
/// API's same-origin check, tracing and access log read.
const FORWARDED: [HeaderName; 5] = [
    header::HOST,
    header::ORIGIN,
    header::REFERER,
    header::USER_AGENT,
    HeaderName::from_static("x-request-id"),
];

/// A page request: who asks (if signed in), in which language, for which path and query.
pub struct Ctx {
    pub lang: Lang,
    /// The query chose the language: the response remembers it.
    remember_lang: bool,
    pub path: String,
    /// The query's pairs, in order, without `lang`.
    pub query: Vec<(String, String)>,
    pub user: Option<User>,
    pub method: Method,
    session: Option<Session>,
    forwarded: HeaderMap,
    api: Option<InternalApi>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Ctx, Response> {
        let (lang, remember_lang) = Lang::of_request(parts.uri.query(), &parts.headers);
        let query = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let session = parts.extensions.get::<Session>().cloned();
        let user = match &session {
            Some(session) => super::session_user(state, session)
                .await
                .map_err(super::failure)?,
            None => None,
        };
        let mut forwarded = HeaderMap::new();
        for name in FORWARDED {
            if let Some(value) = parts.headers.get(&name) {
                forwarded.insert(name, value.clone());
            }
        }
        Ok(Ctx {
            lang,
            remember_lang,
            path: parts.uri.path().to_owned(),
            query,
            user,
            method: parts.method.clone(),
            session,
            forwarded,
            api: parts.extensions.get::<InternalApi>().cloned(),
        })
    }
}

impl Ctx {
    /// A request for `/` from nobody, without the API (for unit tests of rendering).
    #[cfg(test)]
    pub fn detached(lang: Lang) -> Ctx {
        Ctx {
            lang,
            remember_lang: false,
            path: "/".into(),
            query: Vec::new(),
            user: None,
            method: Method::GET,
            session: None,
            forwarded: HeaderMap::new(),
            api: None,
        }
    }

    /// The signed-in user, or the sign-in page (which comes back here afterwards).
    pub fn signed_in(&self) -> Result<&User, Response> {
        self.user.as_ref().ok_or_else(|| {
            let here = self.here();
            if here == "/" {
                return Redirect::to("/login").into_response();
            }
            let mut next = form_urlencoded::Serializer::new(String::new());
            next.append_pair("next", &here);
            Redirect::to(&format!("/login?{}", next.finish())).into_response()
        })
    }

    /// This page's path and query (without `lang`).
    pub fn here(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, encode(&self.query))
        }
    }

    /// The query parameter `name`, trimmed, if given and not empty (a blank form field is
    /// "not given").
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The query parameters among `names` that are given, encoded for the API's query string.
    pub fn api_query(&self, names: &[&str]) -> String {
        let pairs: Vec<(String, String)> = names
            .iter()
            .filter_map(|name| self.param(name).map(|v| ((*name).to_owned(), v.to_owned())))
            .collect();
        encode(&pairs)
    }

    /// What the user may do anywhere (for showing links and buttons; the API still decides).
    pub fn may(&self, permission: Permission) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| allows(u.role, permission))
    }

    /// `GET` of the API's `path_and_query` (e.g. `/api/v1/households?unit=25456`) as this
    /// user; its JSON, or the page for its refusal.
    pub async fn get_json(&self, path_and_query: &str) -> Result<serde_json::Value, Response> {
        let answer = self.call(Method::GET, path_and_query, None, &[]).await;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(self.refusal(&answer))
        }
    }

    /// A request to the API as this user, with a JSON body and extra headers (`If-Match`,
    /// `Idempotency-Key`); the answer whatever it is, for forms to show beside their fields.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
        headers: &[(HeaderName, String)],
    ) -> Answer {
        let Some(api) = &self.api else {
            return Answer::internal("the API is not reachable from the pages");
        };
        let mut request = Request::builder().method(method).uri(path_and_query);
        for (name, value) in &self.forwarded {
            request = request.header(name, value);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                axum::body::Body::from(json.to_string())
            }
            None => axum::body::Body::empty(),
        };
        let mut request = match request.body(body) {
            Ok(request) => request,
            Err(e) => return Answer::internal(&e.to_string()),
        };
        if let Some(session) = &self.session {
            request.extensions_mut().insert(session.clone());
        }
        api.call(request).await
    }

    /// The page for an API refusal: sign-in for 401, else the status with what the API said.
    pub fn refusal(&self, answer: &Answer) -> Response {
        if answer.status == StatusCode::UNAUTHORIZED {
            return match self.signed_in() {
                Err(sign_in) => sign_in,
                Ok(_) => Redirect::to("/login").into_response(),
            };
        }
        let key = match answer.status.as_u16() {
            400 | 422 => "problem_bad_request",
            403 => "problem_forbidden",
            404 => "problem_not_found",
            409 => "problem_conflict",
            503 => "problem_unavailable",
            _ => "problem_other",
        };
        self.render_status(
            answer.status,
            "problem.html",
            context! {
                title => self.lang.text(key),
                detail => answer.detail(),
                request_id => answer.body.get("request_id").and_then(|v| v.as_str()),
            },
        )
    }

    pub fn render(&self, template: &str, values: Value) -> Response {
        self.render_status(StatusCode::OK, template, values)
    }

    /// `template` in the layout: the texts `t`, the language switch, the user and the
    /// navigation are there for every page.
    pub fn render_status(&self, status: StatusCode, template: &str, values: Value) -> Response {
        let nav: Vec<NavItem> = match &self.user {
            None => Vec::new(),
            Some(user) => NAV
                .iter()
                .filter(|(_, _, need)| need.is_none_or(|p| allows(user.role, p)))
                .map(|&(key, href, _)| NavItem {
                    href,
                    label: self.lang.text(key),
                    current: href == self.path,
                })
                .collect(),
        };
        let user = self.user.as_ref().map(|u| {
            context! {
                name => u.name,
                role => self.lang.role(u.role),
                role_code => u.role.as_str(),
                unit => u.unit_code,
                unit_notice => u.unit_ended.as_deref().map(|e| unit_notice(self.lang, e)),
            }
        });
        let mut switch = self.query.clone();
        switch.push(("lang".into(), self.lang.other().code().into()));
        let values = context! {
            t => self.lang.messages(),
            lang => self.lang.code(),
            other_lang => self.lang.other().code(),
            switch_href => format!("{}?{}", self.path, encode(&switch)),
            user => user,
            nav => nav,
            path => self.path,
            ..values
        };
        let mut response = render(status, template, values);
        if self.remember_lang {
            if let Ok(cookie) = HeaderValue::from_str(&self.lang.cookie()) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
        }
        response
    }
}

/// The banner of every page for a user whose unit has ended: when, what replaced it, what to do.
fn unit_notice(lang: Lang, ended: &crate::ended_units::EndedUnit) -> String {
    match lang {
        Lang::Vi => format!(
            "Đơn vị {} ({}) của tài khoản này đã kết thúc ngày {}{}. Hãy đề nghị quản trị viên \
             chuyển tài khoản sang đơn vị mới (ansinh users set-unit).",
            ended.code,
            ended.name,
            ended.ended_on.format("%d/%m/%Y"),
            ended
                .replaced_by_vi
                .as_deref()
                .map(|r| format!("; {r}"))
                .unwrap_or_default()
        ),
        Lang::En => format!(
            "This account's unit {} ({}) ended on {}{}. Ask an admin to move the account to the \
             new unit (ansinh users set-unit).",
            ended.code,
            ended.name,
            ended.ended_on,
            ended
                .replaced_by
                .as_deref()
                .map(|r| format!("; {r}"))
                .unwrap_or_default()
        ),
    }
}

/// `pairs` as a query string.
pub fn encode(pairs: &[(String, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    query.finish()
}

/// What every page's response carries: no caching (pages show personal data), no framing, no
/// script or style from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// `template` rendered with `values` as an HTML response.
pub fn render(status: StatusCode, template: &str, values: Value) -> Response {
    let rendered = templates()
        .get_template(template)
        .and_then(|t| t.render(values));
    let html = match rendered {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(template, error = %e, "a page could not be rendered");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "the page could not be rendered",
            )
                .into_response();
        }
    };
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_get_vietnamese_thousands_separators() {
        assert_eq!(vnd(Value::from(0)), "0");
        assert_eq!(vnd(Value::from(999)), "999");
        assert_eq!(vnd(Value::from(1_000)), "1.000");
        assert_eq!(vnd(Value::from(-12_345_678)), "-12.345.678");
        assert_eq!(vnd(Value::from(i64::MAX)), "9.223.372.036.854.775.807");
    }

    #[test]
    fn dates_read_day_first() {
        assert_eq!(date_vn(Value::from("2026-12-02")), "02/12/2026");
        assert_eq!(date_vn(Value::from("2026-12-02T10:00:00Z")), "02/12/2026");
        assert_eq!(date_vn(Value::from("soon")), "soon");
    }

    #[test]
    fn every_template_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/templates");
        for entry in std::fs::read_dir(dir).expect("templates folder") {
            let name = entry.expect("template").file_name();
            let name = name.to_string_lossy();
            templates()
                .get_template(&name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
