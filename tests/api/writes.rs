//! Concurrent writes, `If-Match` and `Idempotency-Key` over HTTP.

use std::sync::Arc;

use ansinh::users::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{registration, spawn_app, support};

#[tokio::test]
async fn twenty_concurrent_writes_with_the_same_if_match_give_one_201_and_nineteen_409s() {
    let app = Arc::new(spawn_app().await);
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            let officer = officer.clone();
            tokio::spawn(async move {
                app.request(
                    Method::POST,
                    &format!("/api/v1/households/{id}/supports"),
                    Some(&officer),
                    Some(&support(1_000 * (i + 1), "2023-03-01")),
                    &[("If-Match", "\"1\"")],
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        let reply = task.await.expect("task");
        match reply.status.as_u16() {
            201 => created += 1,
            409 => {
                let problem = reply.problem(409);
                assert_eq!(problem["current_version"], 2, "{}", reply.text);
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn twenty_concurrent_writes_without_if_match_all_land_in_one_unbroken_chain() {
    let app = Arc::new(spawn_app().await);
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            let officer = officer.clone();
            tokio::spawn(async move {
                app.post(
                    &format!("/api/v1/households/{id}/supports"),
                    &officer,
                    &support(1_000 * (i + 1), "2023-03-01"),
                )
                .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        let reply = task.await.expect("task");
        assert_eq!(reply.status, 201, "{}", reply.text);
        versions.push(reply.body["version"].as_i64().expect("version"));
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=21).collect::<Vec<_>>());
    let verify = app
        .get(&format!("/api/v1/households/{id}/verify"), &officer)
        .await;
    assert_eq!(verify.body["intact"], true, "{}", verify.text);
    assert_eq!(verify.body["events"], 21);
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_409_and_a_fresh_one_is_accepted() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let path = format!("/api/v1/households/{id}/supports");
    let body = support(46_000, "2023-03-01");
    let fresh = app
        .request(
            Method::POST,
            &path,
            Some(&officer),
            Some(&body),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    assert_eq!(fresh.headers["etag"], "\"2\"");
    let stale = app
        .request(
            Method::POST,
            &path,
            Some(&officer),
            Some(&body),
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale.problem(409);
    let bad = app
        .request(
            Method::POST,
            &path,
            Some(&officer),
            Some(&body),
            &[("If-Match", "yesterday")],
        )
        .await;
    bad.problem(400);
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_first_response_and_appends_nothing() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let key = [("Idempotency-Key", "register-lan-2021")];
    let body = registration("25459");
    let first = app
        .request(
            Method::POST,
            "/api/v1/households",
            Some(&officer),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retry = app
        .request(
            Method::POST,
            "/api/v1/households",
            Some(&officer),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(app.event_count().await, 1);

    // A decision: the replay rebuilds the same list of events.
    let id = first.body["id"].as_str().expect("id").to_owned();
    let survey = crate::helpers::survey("2022-10-05", 1_200_000, 3);
    app.post(
        &format!("/api/v1/households/{id}/surveys"),
        &officer,
        &survey,
    )
    .await;
    let decision = crate::helpers::decision("poor", "2022-12-10");
    let key = [("Idempotency-Key", "decision-2022")];
    let path = format!("/api/v1/households/{id}/decisions");
    let first = app
        .request(Method::POST, &path, Some(&officer), Some(&decision), &key)
        .await;
    let retry = app
        .request(Method::POST, &path, Some(&officer), Some(&decision), &key)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body);
    assert_eq!(app.event_count().await, 4);

    // The same key with another body is refused and appends nothing.
    let mut other = decision.clone();
    other["decision_no"] = json!("99/QĐ-UBND");
    let reused = app
        .request(Method::POST, &path, Some(&officer), Some(&other), &key)
        .await;
    assert_eq!(reused.problem(422)["field"], "Idempotency-Key");
    assert_eq!(app.event_count().await, 4);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_append_once() {
    let app = Arc::new(spawn_app().await);
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            let officer = officer.clone();
            tokio::spawn(async move {
                app.request(
                    Method::POST,
                    &format!("/api/v1/households/{id}/supports"),
                    Some(&officer),
                    Some(&support(46_000, "2023-03-01")),
                    &[("Idempotency-Key", "electricity-2023-03")],
                )
                .await
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for task in tasks {
        let reply = task.await.expect("task");
        assert_eq!(reply.status, 201, "{}", reply.text);
        bodies.push(reply.body);
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert_eq!(app.event_count().await, 2);
}
