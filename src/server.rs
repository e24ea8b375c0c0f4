//! The HTTP server: binds, serves the routes, and stops cleanly on SIGINT or SIGTERM.

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// A bound, not yet running server. Binding first lets tests use port 0 and learn the port.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    pub async fn build(pool: PgPool, bind: SocketAddr) -> std::io::Result<Application> {
        let listener = TcpListener::bind(bind).await?;
        Ok(Application {
            listener,
            router: router(pool),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(pool)
        .layer(TraceLayer::new_for_http())
}

async fn health(
    axum::extract::State(pool): axum::extract::State<PgPool>,
) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    match sqlx::query("SELECT 1").execute(&pool).await {
        Ok(_) => (axum::http::StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check could not reach the database");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "detail": "the database cannot be reached"})),
            )
        }
    }
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
