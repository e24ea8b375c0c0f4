//! What the schemathesis probe found at the edges: control characters in query parameters,
//! over-long names, page sizes beyond the declared bounds, repeated write headers and clients
//! that never finish their request headers.

use std::time::{Duration, Instant};

use ansinh::users::Role;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{registration, spawn_app, survey};

/// `path` with `param=value` added to its query string.
fn with_param(path: &str, param: &str, value: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{param}={value}")
}

#[tokio::test]
async fn a_nul_in_any_text_query_parameter_is_a_400_naming_it() {
    let app = spawn_app().await;
    let auditor = app.token(Role::Auditor, "72").await;
    let cases = [
        ("/api/v1/households?name=lan", "unit"),
        ("/api/v1/households", "name"),
        ("/api/v1/re-poverty", "unit"),
        ("/api/v1/re-poverty", "standard"),
        ("/api/v1/disbursements", "unit"),
        ("/api/v1/disbursements", "fund"),
        ("/api/v1/disbursements", "policy"),
        ("/api/v1/access-log", "unit"),
        (
            "/api/v1/reports/movements?from=2022-01-01&to=2022-12-31",
            "unit",
        ),
        (
            "/api/v1/reports/movements?from=2022-01-01&to=2022-12-31",
            "standard",
        ),
    ];
    for (path, param) in cases {
        let url = with_param(path, param, "a%00b");
        let reply = app.get(&url, &auditor).await;
        let problem = reply.problem(400);
        assert_eq!(problem["field"], param, "{url}: {}", reply.text);
    }
    // Other control characters too, and in a parameter's name.
    let reply = app.get("/api/v1/disbursements?fund=a%1Bb", &auditor).await;
    assert_eq!(reply.problem(400)["field"], "fund", "{}", reply.text);
    let reply = app.get("/api/v1/disbursements?fu%00nd=x", &auditor).await;
    reply.problem(400);
}

#[tokio::test]
async fn a_head_name_of_3000_letters_is_a_422_naming_head_name_and_200_are_accepted() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let mut body = registration("25459");
    body["head_name"] = json!("a".repeat(3000));
    let reply = app.post("/api/v1/households", &officer, &body).await;
    assert_eq!(reply.problem(422)["field"], "head_name", "{}", reply.text);
    // The limit counts characters, not bytes: 200 Vietnamese letters pass.
    body["head_name"] = json!("ễ".repeat(200));
    let reply = app.post("/api/v1/households", &officer, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().expect("id").to_owned();
    // A free text over its limit: the survey's cause of poverty.
    let mut s = survey("2022-10-05", 1_200_000, 3);
    s["cause_of_poverty"] = json!("x".repeat(2001));
    let reply = app
        .post(&format!("/api/v1/households/{id}/surveys"), &officer, &s)
        .await;
    assert_eq!(
        reply.problem(422)["field"],
        "cause_of_poverty",
        "{}",
        reply.text
    );
    assert_eq!(app.event_count().await, 1);
}

/// The declared `maximum` of `param` on `GET path` in the served document.
fn declared_maximum(doc: &Value, path: &str, param: &str) -> i64 {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == param))
        .and_then(|p| p["schema"]["maximum"].as_i64())
        .unwrap_or_else(|| panic!("{path} declares no maximum for {param}"))
}

#[tokio::test]
async fn page_sizes_and_offsets_beyond_their_declared_bounds_are_400_naming_them() {
    let app = spawn_app().await;
    let auditor = app.token(Role::Auditor, "72").await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let household = app.register(&officer, "25459").await;
    let doc = app.openapi().await;
    let history = format!("/api/v1/households/{household}/history");
    for (doc_path, path) in [
        ("/api/v1/households", "/api/v1/households?name=lan"),
        ("/api/v1/re-poverty", "/api/v1/re-poverty?unit=72"),
        ("/api/v1/disbursements", "/api/v1/disbursements?unit=72"),
        ("/api/v1/access-log", "/api/v1/access-log?unit=72"),
        ("/api/v1/households/{id}/history", history.as_str()),
    ] {
        let max = declared_maximum(&doc, doc_path, "limit");
        let ok = app
            .get(&with_param(path, "limit", &max.to_string()), &auditor)
            .await;
        assert_eq!(ok.status, 200, "{path} limit={max}: {}", ok.text);
        for bad in [max + 1, 0] {
            let url = with_param(path, "limit", &bad.to_string());
            let reply = app.get(&url, &auditor).await;
            assert_eq!(
                reply.problem(400)["field"],
                "limit",
                "{url}: {}",
                reply.text
            );
        }
        if doc_path != "/api/v1/households/{id}/history" {
            let max = declared_maximum(&doc, doc_path, "offset");
            for bad in [max + 1, -1] {
                let url = with_param(path, "offset", &bad.to_string());
                let reply = app.get(&url, &auditor).await;
                assert_eq!(
                    reply.problem(400)["field"],
                    "offset",
                    "{url}: {}",
                    reply.text
                );
            }
        }
    }
}

#[tokio::test]
async fn a_repeated_idempotency_key_or_if_match_is_a_400_naming_it() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let body = registration("25459");
    for (name, first, second) in [
        ("Idempotency-Key", "key-1", "key-2"),
        ("Idempotency-Key", "key-1", "key-1"),
        ("If-Match", "\"0\"", "\"1\""),
    ] {
        let reply = app
            .request(
                Method::POST,
                "/api/v1/households",
                Some(&officer),
                Some(&body),
                &[(name, first), (name, second)],
            )
            .await;
        assert_eq!(reply.problem(400)["field"], name, "{}", reply.text);
    }
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("write half a header");
    let started = Instant::now();
    let limit = ansinh::server::HEADER_READ_TIMEOUT + Duration::from_secs(5);
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                // A 408 may come first; the connection must still end.
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after {:?}",
        started.elapsed()
    );
    // A well-behaved client is served as before.
    let health = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), 200);
}
