//! The OpenAPI document and the offline docs page.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_of_the_contract() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/households", "post"),
        ("/api/v1/households", "get"),
        ("/api/v1/units", "post"),
        ("/api/v1/households/{id}", "get"),
        ("/api/v1/households/{id}/history", "get"),
        ("/api/v1/households/{id}/verify", "get"),
        ("/api/v1/households/{id}/surveys", "post"),
        ("/api/v1/households/{id}/decisions", "post"),
        ("/api/v1/households/{id}/supports", "post"),
        ("/api/v1/households/{id}/corrections", "post"),
        ("/api/v1/re-poverty", "get"),
        ("/api/v1/disbursements", "get"),
        ("/api/v1/reports/movements", "get"),
        ("/api/v1/access-log", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "patch"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn the_interactive_docs_are_served_from_the_binary() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .expect("client");
    let page = client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let r = client
            .get(format!("{}/docs/{asset}", app.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        let text = r.text().await.expect("text");
        assert!(text.len() > 100, "{asset}");
        assert!(
            !text.contains("https://unpkg.com"),
            "{asset} points outside"
        );
    }
    let initializer = client
        .get(format!("{}/docs/swagger-initializer.js", app.base))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        initializer.contains("/api/v1/openapi.json"),
        "{initializer}"
    );
    let health = client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));
}
