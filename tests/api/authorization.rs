//! The authorization matrix: every role, in scope and out of scope, on every endpoint; and no
//! token at all.
//!
//! The household lives in commune 25456 (Phường 1, district 703, old province 72) since 2021; the
//! new province 80 and the new commune 25459 that took it over in 2025 cover it too, so the units
//! out of scope are old Tân Biên's (705, 25486). The expectations are written from the contract's role table,
//! independently of the code's own matrix.

use ansinh::users::Role;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{decision, registration, spawn_app, support, survey, Reply, TestApp};

const HOME: &str = "25456";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Register,
    Search,
    Show,
    ShowAsOf,
    History,
    Verify,
    Survey,
    Decide,
    Support,
    Correct,
    ChangeMembers,
    Move,
    Close,
    RePoverty,
    Disbursements,
    Movements,
    AccessLog,
    CreateUser,
    ImportUnits,
}

const ENDPOINTS: [Endpoint; 19] = [
    Endpoint::Register,
    Endpoint::Search,
    Endpoint::Show,
    Endpoint::ShowAsOf,
    Endpoint::History,
    Endpoint::Verify,
    Endpoint::Survey,
    Endpoint::Decide,
    Endpoint::Support,
    Endpoint::Correct,
    Endpoint::ChangeMembers,
    Endpoint::Move,
    Endpoint::Close,
    Endpoint::RePoverty,
    Endpoint::Disbursements,
    Endpoint::Movements,
    Endpoint::AccessLog,
    Endpoint::CreateUser,
    Endpoint::ImportUnits,
];

/// The contract's table.
fn allowed(role: Role, endpoint: Endpoint) -> bool {
    use Endpoint::*;
    let officer = matches!(
        role,
        Role::CommuneOfficer | Role::DistrictOfficer | Role::ProvinceOfficer
    );
    match endpoint {
        Register | Survey | Decide | Support | Correct | ChangeMembers | Move | Close => officer,
        Search | Show | ShowAsOf => officer || matches!(role, Role::Auditor | Role::Monitor),
        History | Verify => officer || role == Role::Auditor,
        RePoverty | Disbursements => officer || matches!(role, Role::Auditor | Role::Monitor),
        Movements => matches!(
            role,
            Role::DistrictOfficer | Role::ProvinceOfficer | Role::Auditor | Role::Monitor
        ),
        AccessLog => role == Role::Auditor,
        CreateUser | ImportUnits => role == Role::Admin,
    }
}

/// Endpoints about one household: out of scope, that household answers 404 as an unknown one
/// does (no existence oracle); a role refusal stays 403.
fn about_a_household(endpoint: Endpoint) -> bool {
    use Endpoint::*;
    matches!(
        endpoint,
        Show | ShowAsOf
            | History
            | Verify
            | Survey
            | Decide
            | Support
            | Correct
            | ChangeMembers
            | Move
            | Close
    )
}

fn success(endpoint: Endpoint) -> u16 {
    use Endpoint::*;
    match endpoint {
        Register | Survey | Decide | Support | Correct | ChangeMembers | Move | Close
        | CreateUser => 201,
        _ => 200,
    }
}

fn units(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::CommuneOfficer => (HOME, "25486"),
        Role::DistrictOfficer => ("703", "705"),
        Role::ProvinceOfficer => ("72", "705"),
        Role::Auditor => ("80", "705"),
        Role::Monitor => ("703", "705"),
        Role::Admin => ("72", "705"),
    }
}

async fn call(
    app: &TestApp,
    endpoint: Endpoint,
    token: Option<&str>,
    household: Uuid,
    closable: Uuid,
) -> Reply {
    use Endpoint::*;
    let h = format!("/api/v1/households/{household}");
    let (method, path, body): (Method, String, Option<Value>) = match endpoint {
        Register => (
            Method::POST,
            "/api/v1/households".into(),
            Some(registration(HOME)),
        ),
        Search => (
            Method::GET,
            format!("/api/v1/households?name=nguyen&unit={HOME}"),
            None,
        ),
        Show => (Method::GET, h, None),
        ShowAsOf => (Method::GET, format!("{h}?as_of=2022-12-31"), None),
        History => (Method::GET, format!("{h}/history"), None),
        Verify => (Method::GET, format!("{h}/verify"), None),
        Survey => (
            Method::POST,
            format!("{h}/surveys"),
            Some(survey("2022-10-05", 1_200_000, 3)),
        ),
        Decide => (
            Method::POST,
            format!("{h}/decisions"),
            Some(decision("poor", "2022-12-10")),
        ),
        Support => (
            Method::POST,
            format!("{h}/supports"),
            Some(support(46_000, "2023-03-01")),
        ),
        Correct => (
            Method::POST,
            format!("{h}/corrections"),
            Some(
                json!({"corrects_sequence": 1, "reason": "hamlet spelled wrong",
                        "replacement": registration(HOME)}),
            ),
        ),
        ChangeMembers => (
            Method::POST,
            format!("{h}/member-changes"),
            Some(
                json!({"changed_on": "2022-01-15", "added": [{"reason": "birth", "member":
                {"name": "Trần Bé Na", "birth_year": 2022, "sex": "female", "relation": "child",
                 "id_number": null}}]}),
            ),
        ),
        Move => (
            Method::POST,
            format!("{h}/moves"),
            Some(
                json!({"moved_on": "2022-02-01", "unit_code": HOME, "hamlet": "Khu phố 2", "area": "rural"}),
            ),
        ),
        Close => (
            Method::POST,
            format!("/api/v1/households/{closable}/closure"),
            Some(json!({"closed_on": "2023-01-01", "reason": "dissolved"})),
        ),
        RePoverty => (Method::GET, format!("/api/v1/re-poverty?unit={HOME}"), None),
        Disbursements => (
            Method::GET,
            format!("/api/v1/disbursements?unit={HOME}"),
            None,
        ),
        Movements => (
            Method::GET,
            format!("/api/v1/reports/movements?unit={HOME}&from=2022-01-01&to=2022-12-31"),
            None,
        ),
        AccessLog => (Method::GET, format!("/api/v1/access-log?unit={HOME}"), None),
        CreateUser => (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": "Lê Văn Giám Sát", "role": "monitor", "unit_code": HOME})),
        ),
        ImportUnits => (
            Method::POST,
            "/api/v1/units".into(),
            Some(
                json!({"units": [{"code": "99001", "name": "Phường Mới", "level": "commune",
                                   "parent_code": "703", "valid_from": "2024-01-01",
                                   "valid_to": "2025-06-30"}]}),
            ),
        ),
    };
    app.request(method, &path, token, body.as_ref(), &[]).await
}

#[tokio::test]
async fn every_role_in_and_out_of_scope_gets_exactly_what_the_contract_allows_on_every_endpoint() {
    let app = spawn_app().await;
    let home_officer = app.token(Role::CommuneOfficer, HOME).await;
    let household = app.register(&home_officer, HOME).await;
    let r = app
        .post(
            &format!("/api/v1/households/{household}/surveys"),
            &home_officer,
            &survey("2022-10-05", 1_200_000, 3),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let mut checked = 0;
    for role in Role::ALL {
        let (inside, outside) = units(role);
        for (in_scope, unit) in [(true, inside), (false, outside)] {
            let token = app.token(role, unit).await;
            for endpoint in ENDPOINTS {
                // A household of its own to close, so the shared one stays open.
                let closable = if endpoint == Endpoint::Close {
                    app.register(&home_officer, HOME).await
                } else {
                    household
                };
                let reply = call(&app, endpoint, Some(&token), household, closable).await;
                let expected = match (allowed(role, endpoint), in_scope) {
                    (true, true) => success(endpoint),
                    (true, false) if about_a_household(endpoint) => 404,
                    _ => 403,
                };
                assert_eq!(
                    reply.status.as_u16(),
                    expected,
                    "{role} of {unit} ({}) on {endpoint:?}: {}",
                    if in_scope { "in scope" } else { "out of scope" },
                    reply.text
                );
                if expected >= 400 {
                    reply.problem(expected);
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6 * 2 * ENDPOINTS.len());

    // Without a token, or with a bad one, every endpoint is 401.
    for endpoint in ENDPOINTS {
        let reply = call(&app, endpoint, None, household, household).await;
        reply.problem(401);
        let reply = call(&app, endpoint, Some("0123abcd"), household, household).await;
        reply.problem(401);
    }
}

#[tokio::test]
async fn an_officer_cannot_register_a_household_outside_its_unit() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let r = app
        .post("/api/v1/households", &officer, &registration("25486"))
        .await;
    r.problem(403);
    let district = app.token(Role::DistrictOfficer, "703").await;
    let r = app
        .post("/api/v1/households", &district, &registration("25459"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn the_envelope_records_the_authenticated_user_not_anything_in_the_body() {
    let app = spawn_app().await;
    let officer = app.token(Role::DistrictOfficer, "703").await;
    let id = app.register(&officer, "25459").await;
    let history = app
        .get(&format!("/api/v1/households/{id}/history"), &officer)
        .await;
    let actor = &history.body["events"][0]["actor"];
    assert_eq!(actor["user"], "district_officer of 703");
    assert_eq!(actor["role"], "district_officer");
    assert_eq!(actor["unit"], "703");
}

#[tokio::test]
async fn a_user_created_by_an_admin_can_use_its_token_at_once() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, "72").await;
    let r = app
        .post(
            "/api/v1/users",
            &admin,
            &json!({"name": "Phạm Thu", "role": "commune_officer", "unit_code": "25459"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE token_sha256 = $1")
        .bind(&token)
        .fetch_one(&app.pool)
        .await
        .expect("query");
    assert_eq!(stored, 0, "the token itself is never stored");
    app.register(&token, "25459").await;
    let r = app
        .post(
            "/api/v1/users",
            &admin,
            &json!({"name": "X", "role": "pope", "unit_code": "25459"}),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "role");
}

#[tokio::test]
async fn an_admin_adds_units_below_its_unit_and_a_bad_row_is_named() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, "703").await;
    let batch = json!({"units": [
        {"code": "99002", "name": "Phường Mới", "level": "commune", "parent_code": "703",
         "valid_from": "2020-01-01", "valid_to": "2025-06-30"},
    ]});
    let r = app.post("/api/v1/units", &admin, &batch).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["added"], 1);
    let officer = app.token(Role::CommuneOfficer, "99002").await;
    app.register(&officer, "99002").await;
    let bad = json!({"units": [
        {"code": "99003", "name": "A", "level": "commune", "parent_code": "703",
         "valid_from": "2024-01-01", "valid_to": "2025-06-30"},
        {"code": "99004", "name": "B", "level": "hamlet", "parent_code": "703",
         "valid_from": "2024-01-01"},
    ]});
    let r = app.post("/api/v1/units", &admin, &bad).await;
    assert_eq!(r.problem(422)["field"], "units[1].level");
    let elsewhere = json!({"units": [
        {"code": "99005", "name": "C", "level": "commune", "parent_code": "705",
         "valid_from": "2024-01-01"},
    ]});
    app.post("/api/v1/units", &admin, &elsewhere)
        .await
        .problem(403);
}
