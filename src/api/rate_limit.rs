//! A per-client-address limit on the public (no sign-in) routes: at most `per_minute` requests
//! in any fixed one-minute window per address; past it, 429 with `Retry-After` (seconds to the
//! window's end).
//!
//! Written here rather than taken from `tower_governor`, which is not among the project's
//! crates and would bring a GCRA implementation and a concurrent map for one small counter.
//! Windows are kept in a map bounded by [`MAX_CLIENTS`]: past it, expired windows are dropped
//! first, and if all are live the map starts over (a flood from many addresses then loses its
//! counts, never the server's memory). The address is the TCP peer's (`ConnectInfo`); behind a
//! reverse proxy every client shares the proxy's address, so the proxy should limit instead.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// The default limit (`serve --public-rate-limit`).
pub const DEFAULT_PER_MINUTE: u32 = 60;
/// Most addresses tracked at once.
pub const MAX_CLIENTS: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Arc<Mutex<HashMap<IpAddr, Window>>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            windows: Arc::default(),
        }
    }

    /// Counts a request from `client` at `now`; `Err(wait)` when it is over the limit.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        // A poisoned lock only means another request panicked mid-count: the counts are
        // still usable.
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_CLIENTS && !windows.contains_key(&client) {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if windows.len() >= MAX_CLIENTS {
                windows.clear();
            }
        }
        let window = windows.entry(client).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        if window.count >= self.per_minute {
            return Err(WINDOW.saturating_sub(now.duration_since(window.started)));
        }
        window.count += 1;
        Ok(())
    }
}

/// The middleware of the public routes.
pub async fn limit_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match state.public_limit.check(client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs().max(1);
            let mut response = ApiError::TooManyRequests(format!(
                "more than {} requests a minute from this address; try again in {seconds} s",
                state.public_limit.per_minute
            ))
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_limit_waits_for_the_next_window_and_others_are_not_affected() {
        let limiter = RateLimiter::new(3);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(a, t0).is_ok());
        }
        let wait = limiter
            .check(a, t0 + Duration::from_secs(20))
            .expect_err("over the limit");
        assert_eq!(wait, Duration::from_secs(40));
        assert!(limiter.check(b, t0).is_ok());
        assert!(limiter.check(a, t0 + WINDOW).is_ok());
    }
}
