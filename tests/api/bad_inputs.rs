//! A table of bad requests: each gets a 4xx problem document naming what is wrong, and the log
//! is left unchanged.

use ansinh::users::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{decision, registration, spawn_app, support, survey};

/// (what, path suffix under the household or "" for registration, body, status, field)
type Case = (&'static str, &'static str, Value, u16, Option<&'static str>);

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn without(mut body: Value, key: &str) -> Value {
    if let Some(obj) = body.as_object_mut() {
        obj.remove(key);
    }
    body
}

fn cases() -> Vec<Case> {
    let reg = registration("25459");
    let sup = support(30_000_000, "2023-03-01");
    let sur = survey("2022-10-05", 1_200_000, 3);
    let dec = decision("poor", "2022-12-10");
    let mut bad_member = reg.clone();
    bad_member["members"][1]["birth_year"] = json!("two thousand");
    let mut bad_id = reg.clone();
    bad_id["members"][0]["id_number"] = json!("12345");
    vec![
        (
            "missing head name",
            "",
            without(reg.clone(), "head_name"),
            422,
            Some("head_name"),
        ),
        (
            "empty head name",
            "",
            with(reg.clone(), "head_name", json!("  ")),
            422,
            Some("head_name"),
        ),
        (
            "head name is a number",
            "",
            with(reg.clone(), "head_name", json!(42)),
            422,
            Some("head_name"),
        ),
        (
            "unknown area",
            "",
            with(reg.clone(), "area", json!("suburban")),
            422,
            Some("area"),
        ),
        (
            "unknown unit",
            "",
            with(reg.clone(), "unit_code", json!("99999")),
            422,
            Some("unit_code"),
        ),
        (
            "impossible date",
            "",
            with(reg.clone(), "effective_on", json!("2021-02-30")),
            422,
            Some("effective_on"),
        ),
        (
            "future date",
            "",
            with(reg.clone(), "effective_on", json!("2099-01-01")),
            422,
            Some("effective_on"),
        ),
        (
            "birth year is text",
            "",
            bad_member,
            422,
            Some("members[1].birth_year"),
        ),
        (
            "ID number of 5 digits",
            "",
            bad_id,
            422,
            Some("members[0].id_number"),
        ),
        (
            "no members",
            "",
            with(reg.clone(), "members", json!([])),
            422,
            Some("members"),
        ),
        ("body is an array", "", json!([1, 2]), 422, Some("body")),
        (
            "unknown policy",
            "/supports",
            with(sup.clone(), "policy", json!("free_money")),
            422,
            Some("policy"),
        ),
        (
            "unknown funding source",
            "/supports",
            with(sup.clone(), "funding_source", json!("lottery")),
            422,
            Some("funding_source"),
        ),
        (
            "negative amount",
            "/supports",
            with(sup.clone(), "amount_vnd", json!(-5)),
            422,
            Some("amount_vnd"),
        ),
        (
            "fractional amount",
            "/supports",
            with(sup.clone(), "amount_vnd", json!(10.5)),
            422,
            Some("amount_vnd"),
        ),
        (
            "amount as text",
            "/supports",
            with(sup.clone(), "amount_vnd", json!("1000")),
            422,
            Some("amount_vnd"),
        ),
        (
            "nothing disbursed",
            "/supports",
            with(sup.clone(), "amount_vnd", json!(0)),
            422,
            Some("amount_vnd"),
        ),
        (
            "support before registration",
            "/supports",
            with(sup.clone(), "disbursed_on", json!("2020-01-01")),
            422,
            Some("disbursed_on"),
        ),
        (
            "impossible support date",
            "/supports",
            with(sup.clone(), "disbursed_on", json!("2023-13-01")),
            422,
            Some("disbursed_on"),
        ),
        (
            "unknown indicator",
            "/surveys",
            with(sur.clone(), "deprivations", json!(["happiness"])),
            422,
            Some("deprivations"),
        ),
        (
            "negative income",
            "/surveys",
            with(sur.clone(), "income_per_capita_vnd", json!(-1)),
            422,
            Some("income_per_capita_vnd"),
        ),
        (
            "missing working capacity",
            "/surveys",
            without(sur.clone(), "working_capacity"),
            422,
            Some("working_capacity"),
        ),
        (
            "decision without a survey",
            "/decisions",
            dec.clone(),
            422,
            Some("standard"),
        ),
        (
            "unknown standard",
            "/decisions",
            with(dec.clone(), "standard", json!("vn-1990")),
            422,
            Some("standard"),
        ),
        (
            "unknown category",
            "/decisions",
            with(dec.clone(), "category", json!("rich")),
            422,
            Some("category"),
        ),
        (
            "correction of a missing event",
            "/corrections",
            json!({"corrects_sequence": 99, "reason": "x", "replacement": null}),
            422,
            Some("corrects_sequence"),
        ),
        (
            "correction without a reason",
            "/corrections",
            json!({"corrects_sequence": 1, "reason": " ", "replacement": null}),
            422,
            Some("reason"),
        ),
        (
            "registration voided",
            "/corrections",
            json!({"corrects_sequence": 1, "reason": "oops", "replacement": null}),
            422,
            Some("replacement"),
        ),
        (
            "NUL character in a member's name",
            "",
            {
                let mut r = registration("25459");
                r["members"][0]["name"] = json!("Nguyễn\u{0}Lan");
                r
            },
            422,
            Some("members[0].name"),
        ),
        (
            "NUL character in a support's decision number",
            "/supports",
            with(sup.clone(), "decision_no", json!("12/QĐ\u{0}")),
            422,
            Some("decision_no"),
        ),
        (
            "replacement with a bad field",
            "/corrections",
            json!({"corrects_sequence": 1, "reason": "oops", "replacement": with(registration("25459"), "area", json!(7))}),
            422,
            Some("replacement.area"),
        ),
    ]
}

#[tokio::test]
async fn bad_inputs_get_problem_documents_naming_the_field_and_leave_the_log_unchanged() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let before = app.event_count().await;
    for (what, suffix, body, status, field) in cases() {
        let path = if suffix.is_empty() {
            "/api/v1/households".to_owned()
        } else {
            format!("/api/v1/households/{id}{suffix}")
        };
        let reply = app.post(&path, &officer, &body).await;
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.text);
        let problem = reply.problem(status);
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{what}: {}", reply.text);
        }
        assert!(problem["request_id"].is_string(), "{what}: {}", reply.text);
    }
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn malformed_json_and_the_wrong_content_type_are_refused_as_problems() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let before = app.event_count().await;
    for (what, body) in [
        ("truncated", b"{\"head_name\": \"Lan\"".to_vec()),
        ("not JSON", b"head_name=Lan".to_vec()),
        ("empty", Vec::new()),
        ("trailing garbage", {
            let mut bytes = serde_json::to_vec(&registration("25459")).expect("json");
            bytes.extend_from_slice(b" }");
            bytes
        }),
        (
            "invalid UTF-8",
            vec![b'{', b'"', 0xff, b'"', b':', b'1', b'}'],
        ),
    ] {
        let reply = app.post_raw("/api/v1/households", &officer, body).await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        reply.problem(400);
    }
    let form = app
        .client
        .post(format!("{}/api/v1/households", app.base))
        .bearer_auth(&officer)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(form.status(), 415);
    assert_eq!(form.headers()["content-type"], "application/problem+json");
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_gets_413() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let mut body = registration("25459");
    body["hamlet"] = json!("x".repeat(1_100_000));
    let reply = app.post("/api/v1/households", &officer, &body).await;
    reply.problem(413);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_bad_uuid_is_400_and_an_unknown_household_is_404() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let r = app.get("/api/v1/households/not-a-uuid", &officer).await;
    r.problem(400);
    let r = app
        .post(
            "/api/v1/households/not-a-uuid/supports",
            &officer,
            &support(1, "2023-01-01"),
        )
        .await;
    r.problem(400);
    let unknown = uuid::Uuid::now_v7();
    for path in ["", "/history", "/verify"] {
        let r = app
            .get(&format!("/api/v1/households/{unknown}{path}"), &officer)
            .await;
        r.problem(404);
    }
    let r = app
        .post(
            &format!("/api/v1/households/{unknown}/supports"),
            &officer,
            &support(1, "2023-01-01"),
        )
        .await;
    r.problem(404);
    assert_eq!(app.event_count().await, 0);
    let id = app.register(&officer, "25459").await;
    let r = app
        .get(
            &format!("/api/v1/households/{id}?as_of=yesterday"),
            &officer,
        )
        .await;
    assert!(r.problem(400)["detail"]
        .as_str()
        .is_some_and(|d| d.contains("as_of")));
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_query_parameters_are_problems_too() {
    let app = spawn_app().await;
    let officer = app.token(Role::DistrictOfficer, "703").await;
    let r = app.get("/api/v1/nothing-here", &officer).await;
    r.problem(404);
    let r = app
        .request(
            Method::DELETE,
            "/api/v1/households",
            Some(&officer),
            None,
            &[],
        )
        .await;
    r.problem(405);
    let r = app
        .get(
            "/api/v1/reports/movements?unit=703&from=2023-01-01",
            &officer,
        )
        .await;
    r.problem(400);
    let r = app
        .get(
            "/api/v1/reports/movements?unit=703&from=2023-01-01&to=2022-01-01",
            &officer,
        )
        .await;
    r.problem(400);
    let r = app
        .get("/api/v1/disbursements?unit=703&policy=free_money", &officer)
        .await;
    r.problem(400);
}

#[tokio::test]
async fn no_token_or_a_bad_token_is_401() {
    let app = spawn_app().await;
    let r = app
        .request(Method::GET, "/api/v1/re-poverty", None, None, &[])
        .await;
    r.problem(401);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = app.get("/api/v1/re-poverty", "not-a-token").await;
    r.problem(401);
    let r = app
        .request(
            Method::GET,
            "/api/v1/re-poverty",
            None,
            None,
            &[("Authorization", "Basic dXNlcjpwYXNz")],
        )
        .await;
    r.problem(401);
}

#[tokio::test]
async fn an_internal_error_is_a_generic_problem_with_a_request_id_and_no_details() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    // Personal data whose reading cannot be logged is not handed out.
    sqlx::query("ALTER TABLE access_log RENAME TO access_log_elsewhere")
        .execute(&app.pool)
        .await
        .expect("rename");
    // Reads are refused from the first shipment of the journal that fails.
    let path = format!("/api/v1/households/{id}");
    assert_eq!(app.get(&path, &officer).await.status, 200);
    assert!(app.access_log.ship().await.is_err(), "the table is gone");
    let r = app.get(&path, &officer).await;
    let problem = r.problem(500);
    let request_id = problem["request_id"].as_str().expect("request id");
    assert_eq!(
        r.headers["x-request-id"].to_str().expect("header"),
        request_id
    );
    assert!(!r.text.contains("access_log"), "{}", r.text);
    assert!(!r.text.contains("Nguyễn"), "{}", r.text);
    assert!(!r.text.contains("relation"), "{}", r.text);
}
