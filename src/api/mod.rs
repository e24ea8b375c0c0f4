//! The HTTP API (`/api/v1`): one router per resource, authentication and scope in `auth`, one
//! error type in `error`, the write path in `write`, the OpenAPI document in `docs`.

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod docs;
pub mod error;
pub mod extract;
pub mod flags;
pub mod funds;
pub mod households;
pub mod postings;
pub mod rate_limit;
pub mod records;
pub mod reform;
pub mod registers;
pub mod reports;
pub mod review;
pub mod review_report;
pub mod verification;
pub mod worklist;
pub mod write;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, StatusCode};
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

use ansinh_events::standards::Standards;
use ansinh_projections::units::Coverage;

use crate::store::EventLog;
use crate::users::UserCache;
use crate::web::WebConfig;
use access_log::AccessLog;
use tower_sessions_sqlx_store::PostgresStore;

/// Largest request body accepted (413 above it).
pub const BODY_LIMIT: usize = 1 << 20;

/// What every handler may use: one shared [`Services`], so the state each request's extractors
/// clone is a pointer, not a dozen handles and a session store's strings.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The pool, caches and writers behind [`AppState`].
pub struct Services {
    pub pool: PgPool,
    pub log: EventLog,
    pub standards: Arc<Standards>,
    /// Users by token, so authentication costs no query per request.
    pub users: Arc<UserCache>,
    /// The unit closure, so the scope check costs no query per request.
    pub coverage: Arc<Coverage>,
    pub access_log: AccessLog,
    /// Where signed-in sessions live (`tower_sessions.session`).
    pub sessions: PostgresStore,
    /// How the site is reached from outside (`--public-url`).
    pub web: Arc<WebConfig>,
    /// The last verification of every chain, reused while the log has not grown.
    pub anchors: verification::AnchorCache,
    /// Requests per client address on the public routes.
    pub public_limit: rate_limit::RateLimiter,
}

impl AppState {
    /// The state over `pool`, with empty caches; starts the access-log writer, so it must be
    /// called inside the runtime.
    pub fn new(pool: PgPool, log: EventLog, standards: Standards, web: WebConfig) -> AppState {
        AppState(Arc::new(Services {
            access_log: AccessLog::start(&pool, web.access_journal.clone()),
            public_limit: rate_limit::RateLimiter::new(
                web.public_rate_per_minute
                    .unwrap_or(rate_limit::DEFAULT_PER_MINUTE),
            ),
            sessions: PostgresStore::new(pool.clone()),
            web: Arc::new(web),
            anchors: Default::default(),
            pool,
            log,
            standards: Arc::new(standards),
            users: Arc::new(UserCache::new(UserCache::TTL)),
            coverage: Arc::new(Coverage::new(Coverage::TTL)),
        }))
    }
}

/// The whole application: `/health`, `/api/v1/…`, `/api/v1/openapi.json`, `/docs` and the web
/// pages (`/`, `/login`, `/logout`).
pub fn router(state: AppState) -> Router {
    let sessions = crate::web::session_layer(state.sessions.clone(), &state.web);
    let protected = Router::new()
        .merge(households::router())
        .merge(records::router())
        .merge(review::router())
        .merge(postings::router())
        .merge(review_report::router())
        .merge(registers::router())
        .merge(reports::router())
        .merge(worklist::router())
        .merge(reform::router())
        .merge(verification::router())
        .merge(admin::router())
        .merge(funds::router())
        .merge(flags::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // The pages call the same router in-process (one authorization path).
    let internal = crate::web::api_client::InternalApi::new(
        Router::new()
            .nest("/api/v1", protected.clone())
            .with_state(state.clone()),
    );
    // Reachable without sign-in: the posted lists only, limited per client address.
    let public = Router::new()
        .route(
            "/api/v1/public/postings/{unit_code}/{period}",
            get(postings::public_posting),
        )
        .route(
            "/public/{unit_code}/{period}",
            get(crate::web::public::page),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_public,
        ));
    Router::new()
        .route("/health", get(health))
        .merge(public)
        .nest("/api/v1", protected)
        .merge(docs::router())
        .merge(crate::web::router(internal, state.clone()))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .layer(sessions)
        .layer(middleware::from_fn(error::problem_layer))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %id,
                    )
                })
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound("no such resource".into())
}

/// How long `/health` waits for the database before it answers 503.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// 200 `{"status":"ok","household_cache":{…}}` when the database answers within
/// [`HEALTH_TIMEOUT`], else 503 `database-unavailable`: within a second either way, so a
/// probe never hangs.
async fn health(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<serde_json::Value>), error::ApiError> {
    let ping = sqlx::query("SELECT 1").execute(&state.pool);
    match tokio::time::timeout(HEALTH_TIMEOUT, ping).await {
        // The cache's fill tells an operator whether `--cache-events` holds the households
        // worked on (numbers only: nothing of any household).
        Ok(Ok(_)) => Ok((
            StatusCode::OK,
            Json(json!({"status": "ok", "household_cache": state.log.cache_fill()})),
        )),
        Ok(Err(e)) => Err(error::ApiError::DatabaseUnavailable(format!(
            "health check: {e}"
        ))),
        Err(_) => Err(error::ApiError::DatabaseUnavailable(format!(
            "health check: no answer within {HEALTH_TIMEOUT:?}"
        ))),
    }
}
