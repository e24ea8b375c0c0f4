//! The OpenAPI document and the offline docs page.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_of_the_contract() {
    let doc = document().await;
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
        ("/api/v1/users", "get"),
        ("/api/v1/units", "get"),
        ("/api/v1/disbursements/summary", "get"),
        ("/api/v1/worklist", "get"),
        ("/api/v1/anchor", "get"),
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

async fn document() -> serde_json::Value {
    spawn_app().await.openapi().await
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    assert!(ops.len() >= 19, "only {} operations", ops.len());
    ops
}

#[tokio::test]
async fn no_parameter_is_in_the_path_unless_the_path_template_names_it() {
    let doc = document().await;
    let mut query = 0;
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().expect("name");
            match p["in"].as_str() {
                Some("path") => assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: {name} is declared in the path"
                ),
                Some("query") => {
                    query += 1;
                    let must = matches!(
                        (path.as_str(), name),
                        ("/api/v1/reports/movements", "from" | "to") | ("/api/v1/worklist", "kind")
                    );
                    assert_eq!(
                        p["required"].as_bool().unwrap_or(false),
                        must,
                        "{method} {path}: {name}"
                    );
                }
                _ => {}
            }
        }
    }
    assert!(query >= 30, "only {query} query parameters");
}

#[tokio::test]
async fn every_operation_documents_the_problems_it_can_answer_with() {
    let doc = document().await;
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        let mut expected = vec!["400", "500", "503"];
        if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
            expected.extend(["401", "403"]);
        }
        if path.contains("{id}") {
            expected.push("404");
        }
        if op.get("requestBody").is_some() {
            expected.extend(["413", "415", "422"]);
        }
        for status in expected {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
            assert!(
                response["content"]["application/problem+json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("/Problem")),
                "{method} {path} {status} is not a problem document: {response}"
            );
        }
    }
}

#[tokio::test]
async fn response_and_body_schemas_match_what_is_sent_and_parsed() {
    let doc = document().await;
    let schemas = &doc["components"]["schemas"];
    let required = |name: &str| -> Vec<String> {
        schemas[name]["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    // Sent only on corrected, correcting or voided events.
    let history = required("HistoryEvent");
    for field in ["corrected_by", "voided", "corrects"] {
        assert!(
            !history.contains(&field.to_owned()),
            "HistoryEvent requires {field}"
        );
    }
    // Never sent to monitors.
    assert!(!required("MemberView").contains(&"birth_year".to_owned()));
    for (path, schema, field) in [
        (
            "/api/v1/households/{id}/closure",
            "ClosureBody",
            "closed_on",
        ),
        ("/api/v1/households/{id}/moves", "MoveBody", "moved_on"),
        (
            "/api/v1/households/{id}/member-changes",
            "MembersChangeBody",
            "changed_on",
        ),
    ] {
        let body =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(
            body["$ref"],
            format!("#/components/schemas/{schema}"),
            "{path}: {body}"
        );
        assert!(required(schema).contains(&field.to_owned()), "{schema}");
    }
    // Enumerations are declared with their values, as the server names them.
    for (schema, field, value) in [
        ("ClosureBody", "reason", "left_province"),
        ("MemberBody", "sex", "female"),
        ("RegisterBody", "area", "rural"),
        ("SupportBody", "policy", "preferential_credit"),
        ("DecisionBody", "category", "near_poor"),
    ] {
        let values = &schemas[schema]["properties"][field]["enum"];
        assert!(
            values.as_array().is_some_and(|v| v.contains(&value.into())),
            "{schema}.{field}: {values}"
        );
    }
}
