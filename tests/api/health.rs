//! `GET /health`: the database's answer, and how full the cache of households is, so an
//! operator can size `serve --cache-events`.

use ansinh::store::cache::DEFAULT_CAPACITY_EVENTS;
use ansinh::users::Role;
use ansinh::web::WebConfig;
use serde_json::Value;

use crate::helpers::{reply, server_with, spawn_app, support};

async fn cache_of(client: &reqwest::Client, base: &str) -> Value {
    let health = reply(
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(health.body["status"], "ok", "{}", health.text);
    health.body["household_cache"].clone()
}

#[tokio::test]
async fn health_says_how_full_the_household_cache_is() {
    let app = spawn_app().await;
    let cache = cache_of(&app.client, &app.base).await;
    assert_eq!(cache["households"], 0, "{cache}");
    assert_eq!(cache["capacity_events"], DEFAULT_CAPACITY_EVENTS, "{cache}");

    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let household = app.register(&officer, "25459").await;
    let r = app
        .post(
            &format!("/api/v1/households/{household}/supports"),
            &officer,
            &support(500_000, "2024-03-01"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let cache = cache_of(&app.client, &app.base).await;
    assert_eq!(cache["households"], 1, "{cache}");
    // Two events (registered, supported), and the household itself weighs one.
    assert_eq!(cache["events"], 3, "{cache}");

    // `serve --cache-events` reaches the server's cache.
    let mut web = WebConfig::default();
    web.cache_events = Some(5_000);
    let (base, _) = server_with(app.pool.clone(), web).await;
    let cache = cache_of(&app.client, &base).await;
    assert_eq!(cache["capacity_events"], 5_000, "{cache}");
}
