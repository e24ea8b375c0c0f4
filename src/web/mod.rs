//! The web pages' foundation: sign-in (`/login`), the signed-in start page (`/`) and
//! sign-out (`/logout`), with sessions kept in PostgreSQL by `tower-sessions`.
//!
//! A session authenticates like a bearer token: `api::auth::authenticate` turns either into the
//! same `AuthUser`, so the role and scope checks are one path. Forms that change something
//! (and every cookie-authenticated unsafe API request) must come from this site's own pages:
//! the session cookie is `SameSite=Strict`, and [`same_origin`] checks `Origin` (or `Referer`).

pub mod api_client;
mod assets;
mod chart;
mod forms;
mod households;
pub mod i18n;
mod listing;
mod oversight;
pub mod page;
pub mod public;
mod registers;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, FixedOffset, Utc};
use minijinja::context;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::api::{AppState, BODY_LIMIT};
use crate::passwords::{self, SignIn};
use crate::users::User;
use api_client::InternalApi;
use page::Ctx;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ansinh_session";
/// How long a session lasts after sign-in (then the user signs in again).
pub const SESSION_HOURS: i64 = 8;
/// Where in a session the signed-in user's id is kept.
const USER_KEY: &str = "user_id";

/// The server's settings from its command line: how the site is reached from outside
/// (`--public-url`), the public routes' limit and the access-log journal's folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// `scheme://host[:port]` of `--public-url`, lowercase; forms must come from it. Without
    /// it, a form must come from the `Host` the request was sent to.
    public_origin: Option<String>,
    /// Requests a minute one client address may make to the public pages and API
    /// (`--public-rate-limit`); `None`: [`crate::api::rate_limit::DEFAULT_PER_MINUTE`].
    pub public_rate_per_minute: Option<u32>,
    /// The folder of the server's access-log journal (`--access-journal`), where it also ships
    /// what servers that stopped left; `None`: a private folder that goes with the server.
    pub access_journal: Option<std::path::PathBuf>,
    /// How many events the households held in memory may stand for (`--cache-events`);
    /// `None`: [`crate::store::cache::DEFAULT_CAPACITY_EVENTS`].
    pub cache_events: Option<u64>,
}

impl WebConfig {
    /// The configuration for `--public-url URL` (`http://…` or `https://…`; a path is ignored).
    pub fn with_public_url(url: &str) -> Result<WebConfig, String> {
        let bad = || {
            format!(
                "--public-url must be an http:// or https:// address such as \
                 https://ansinh.example.vn, not {url:?}"
            )
        };
        let uri: Uri = url.trim().parse().map_err(|_| bad())?;
        let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
        let (Some(scheme @ ("http" | "https")), Some(authority)) =
            (scheme.as_deref(), uri.authority())
        else {
            return Err(bad());
        };
        if authority.as_str().contains('@') {
            return Err(bad());
        }
        Ok(WebConfig {
            public_origin: Some(format!(
                "{scheme}://{}",
                authority.as_str().to_ascii_lowercase()
            )),
            ..WebConfig::default()
        })
    }

    /// Whether the session cookie is `Secure` (sent over HTTPS only): when the public URL is
    /// `https://…`.
    pub fn secure_cookies(&self) -> bool {
        self.public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"))
    }
}

/// The session layer: cookie `ansinh_session`, HttpOnly, SameSite=Strict, `Secure` with an
/// https public URL, ending [`SESSION_HOURS`] after sign-in; sessions live in PostgreSQL.
pub fn session_layer(store: PostgresStore, web: &WebConfig) -> SessionManagerLayer<PostgresStore> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(web.secure_cookies())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(SESSION_HOURS),
        ))
}

/// Whether a request that changes something comes from this site's own pages: its `Origin`
/// (or, without one, its `Referer`) is the public URL's origin, or without `--public-url`
/// names the host the request was sent to.
pub fn same_origin(headers: &HeaderMap, uri: &Uri, web: &WebConfig) -> bool {
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Uri>().ok());
    let Some(origin) = origin else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (origin.scheme_str(), origin.authority()) else {
        return false;
    };
    match &web.public_origin {
        Some(public) => public.eq_ignore_ascii_case(&format!("{scheme}://{authority}")),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .or_else(|| uri.authority().map(|a| a.as_str()));
            matches!(scheme, "http" | "https")
                && host.is_some_and(|h| h.eq_ignore_ascii_case(authority.as_str()))
        }
    }
}

/// The active user a session is signed in as, if any.
pub async fn session_user(state: &AppState, session: &Session) -> Result<Option<User>, ApiError> {
    let id: Option<Uuid> = session.get(USER_KEY).await.map_err(ApiError::internal)?;
    match id {
        Some(id) => Ok(state.users.by_id(&state.pool, id).await?),
        None => Ok(None),
    }
}

/// The pages; `api` is the `/api/v1` router the pages call in-process.
pub fn router(api: InternalApi, state: AppState) -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .merge(assets::router())
        .merge(oversight::router())
        .merge(households::router())
        .merge(forms::router())
        .merge(registers::router())
        .route_layer(middleware::from_fn_with_state(state, refuse_cross_site))
        .layer(Extension(api))
}

fn login_page(ctx: &Ctx, status: StatusCode, username: &str, error: Option<String>) -> Response {
    ctx.render_status(
        status,
        "login.html",
        context! { action => ctx.here(), username => username, error => error },
    )
}

/// The page for a form sent from another site: nothing was done.
pub(crate) fn cross_site(ctx: &Ctx) -> Response {
    ctx.render_status(
        StatusCode::FORBIDDEN,
        "refused.html",
        context! {
            message => ctx.lang.text("error_cross_site"),
            sign_in_href => "/login",
        },
    )
}

/// Every page request that changes something (sign-in, sign-out, every form) must come from
/// this site's own pages ([`same_origin`]); otherwise it gets the refusal page and no handler
/// runs, so nothing is written.
async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method().is_safe() || same_origin(request.headers(), request.uri(), &state.web) {
        return next.run(request).await;
    }
    let (mut parts, _) = request.into_parts();
    match Ctx::from_request_parts(&mut parts, &state).await {
        Ok(ctx) => cross_site(&ctx),
        Err(refused) => refused,
    }
}

/// Where to go after signing in: the `next` page asked for when it is a path of this site
/// (never another site: `//evil.example` and `/\\evil` are refused), else the start page.
fn next_page(ctx: &Ctx) -> String {
    match ctx.param("next") {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.chars().any(char::is_control) =>
        {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Errors of the session store or the database, as a plain page (never a problem document).
pub(crate) fn failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a web page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "the server could not answer; try again later",
    )
        .into_response()
}

async fn login_form(ctx: Ctx) -> Response {
    login_page(&ctx, StatusCode::OK, "", None)
}

/// A moment as Vietnam's clocks show it (UTC+7).
pub(crate) fn vietnam_time(at: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix());
    at.with_timezone(&offset)
        .format("%H:%M %d/%m/%Y")
        .to_string()
}

use chrono::Offset as _;

async fn login(
    State(state): State<AppState>,
    session: Session,
    ctx: Ctx,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let lang = ctx.lang;
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string());
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (username, password) = (field("username"), field("password"));
    let username = username.trim();
    if username.is_empty() {
        let error = lang.text("error_username_missing").to_owned();
        return login_page(&ctx, StatusCode::BAD_REQUEST, username, Some(error));
    }
    if password.is_empty() {
        let error = lang.text("error_password_missing").to_owned();
        return login_page(&ctx, StatusCode::BAD_REQUEST, username, Some(error));
    }
    match passwords::sign_in(&state.pool, username, &password, client.as_deref()).await {
        Err(e) => failure(e),
        Ok(SignIn::Wrong) => {
            let error = lang.text("error_wrong").to_owned();
            login_page(&ctx, StatusCode::UNAUTHORIZED, username, Some(error))
        }
        Ok(SignIn::Locked { until }) => {
            let error = lang
                .text("error_locked")
                .replace("{failures}", &passwords::FAILURES_TO_LOCK.to_string())
                .replace("{until}", &vietnam_time(until));
            let mut response =
                login_page(&ctx, StatusCode::TOO_MANY_REQUESTS, username, Some(error));
            let wait = (until - Utc::now()).num_seconds().max(1);
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Ok(SignIn::Success(user)) => {
            // A new session id at sign-in, so an id planted before cannot be signed in.
            if let Err(e) = session.cycle_id().await {
                return failure(e);
            }
            if let Err(e) = session.insert(USER_KEY, user.id).await {
                return failure(e);
            }
            Redirect::to(&next_page(&ctx)).into_response()
        }
    }
}

async fn logout(session: Session) -> Response {
    if let Err(e) = session.flush().await {
        return failure(e);
    }
    Redirect::to("/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn public_urls_are_http_or_https_origins() {
        let https = WebConfig::with_public_url("https://Ansinh.Example.vn/app").expect("url");
        assert!(https.secure_cookies());
        assert_eq!(
            https.public_origin.as_deref(),
            Some("https://ansinh.example.vn")
        );
        assert!(!WebConfig::with_public_url("http://10.0.0.2:8080")
            .expect("url")
            .secure_cookies());
        assert!(!WebConfig::default().secure_cookies());
        for bad in ["ftp://x", "ansinh.example.vn", "", "https://user@host"] {
            assert!(WebConfig::with_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_sites_own_origin_passes() {
        let uri: Uri = "/logout".parse().expect("uri");
        let local = WebConfig::default();
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(
            &headers(&[host, ("origin", "http://127.0.0.1:8080")]),
            &uri,
            &local
        ));
        assert!(same_origin(
            &headers(&[host, ("referer", "http://127.0.0.1:8080/login?lang=en")]),
            &uri,
            &local
        ));
        for bad in [
            vec![host, ("origin", "http://evil.example")],
            vec![host, ("origin", "null")],
            vec![host, ("origin", "http://127.0.0.1:8081")],
            vec![host, ("referer", "http://evil.example/127.0.0.1:8080")],
            vec![host],
        ] {
            assert!(!same_origin(&headers(&bad), &uri, &local), "{bad:?}");
        }
        let public = WebConfig::with_public_url("https://ansinh.example.vn").expect("url");
        let proxied = ("host", "127.0.0.1:8080");
        assert!(same_origin(
            &headers(&[proxied, ("origin", "https://ansinh.example.vn")]),
            &uri,
            &public
        ));
        assert!(!same_origin(
            &headers(&[proxied, ("origin", "http://127.0.0.1:8080")]),
            &uri,
            &public
        ));
    }

    #[tokio::test]
    async fn every_page_renders_in_both_languages_and_escapes_what_was_typed() {
        for lang in [i18n::Lang::Vi, i18n::Lang::En] {
            let ctx = Ctx::detached(lang);
            let r = login_page(&ctx, StatusCode::OK, "<b>x</b>", Some("boom".into()));
            assert_eq!(r.status(), StatusCode::OK);
            let body = axum::body::to_bytes(r.into_body(), 1 << 20)
                .await
                .expect("body");
            let html = String::from_utf8(body.to_vec()).expect("utf-8");
            assert!(html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;"), "{html}");
            assert!(!html.contains("<b>x"), "{html}");
            assert!(html.contains(lang.text("sign_in")), "{html}");
            let r = cross_site(&ctx);
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
        }
    }

    #[test]
    fn vietnam_time_is_utc_plus_7() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T23:50:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(vietnam_time(at), "06:50 02/12/2026");
    }
}
