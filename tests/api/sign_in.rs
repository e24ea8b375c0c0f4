//! The web pages' sign-in: a session cookie that authenticates as a bearer token does, kept in
//! PostgreSQL across restarts, a lock after five wrong passwords, cross-site writes refused.

use ansinh::users::{self, Role};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::{registration, spawn_app, TestApp};

const PASSWORD: &str = "đúng mật khẩu 2026";

/// A client that follows no redirect and keeps no cookies: every cookie is sent by hand.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn user(app: &TestApp, name: &str, role: Role, unit: &str) -> (users::User, String) {
    users::create_with_password(&app.pool, name, role, unit, Some(PASSWORD))
        .await
        .expect("create user")
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// POSTs the sign-in form to `base` from `origin`.
async fn post_login(base: &str, origin: &str, name: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/login"))
        .header(ORIGIN, origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("username", name), ("password", password)]))
        .send()
        .await
        .expect("send")
}

/// Signs in and returns the `name=value` of the session cookie and its whole Set-Cookie line.
async fn sign_in(app: &TestApp, name: &str) -> (String, String) {
    let response = post_login(&app.base, &app.base, name, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/");
    let set_cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ansinh_session="))
        .expect("a session cookie")
        .to_owned();
    let pair = set_cookie.split(';').next().expect("name=value").to_owned();
    (pair, set_cookie)
}

async fn get(base: &str, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("send")
}

async fn outcomes(app: &TestApp, user: Uuid) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT outcome, client_address FROM sign_in_events WHERE user_id = $1 ORDER BY id",
    )
    .bind(user)
    .fetch_all(&app.pool)
    .await
    .expect("sign-in events")
}

/// Sessions in the session store's table.
async fn stored_sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session")
        .fetch_one(&app.pool)
        .await
        .expect("sessions")
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_that_reads_the_api_within_scope() {
    let app = spawn_app().await;
    let (officer, token) = user(&app, "Trần Thị Mai", Role::CommuneOfficer, "25459").await;
    let mine = app.register(&token, "25459").await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let elsewhere = app.register(&province, "25486").await;

    let page = client()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains(r#"name="username""#) && html.contains(r#"name="password""#));
    assert!(
        html.contains("Đăng nhập") && html.contains(r#"lang="vi""#),
        "{html}"
    );
    let english = client()
        .get(format!("{}/login?lang=en", app.base))
        .send()
        .await
        .expect("send");
    let html = english.text().await.expect("html");
    assert!(
        html.contains("Sign in") && html.contains(r#"lang="en""#),
        "{html}"
    );

    let not_signed_in = get(&app.base, "/", "").await;
    assert_eq!(not_signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(not_signed_in.headers()[LOCATION], "/login");

    let (cookie, set_cookie) = sign_in(&app, "Trần Thị Mai").await;
    let attributes = set_cookie.to_ascii_lowercase();
    assert!(attributes.contains("httponly"), "{set_cookie}");
    assert!(attributes.contains("samesite=strict"), "{set_cookie}");
    assert!(
        !attributes.contains("secure"),
        "no https public URL: {set_cookie}"
    );

    let read = get(&app.base, &format!("/api/v1/households/{mine}"), &cookie).await;
    assert_eq!(read.status(), StatusCode::OK);
    let body: serde_json::Value = read.json().await.expect("json");
    assert_eq!(body["head_name"], "Nguyễn Thị Lan");
    let out_of_scope = get(
        &app.base,
        &format!("/api/v1/households/{elsewhere}"),
        &cookie,
    )
    .await;
    assert_eq!(out_of_scope.status(), StatusCode::NOT_FOUND);
    // The same role checks as a token's: a commune officer reads no access log.
    let refused = get(&app.base, "/api/v1/access-log", &cookie).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // The read is logged under the signed-in user, as a token's read is.
    app.ship_access_log().await;
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM access_log WHERE user_id = $1 AND household_id = $2",
    )
    .bind(officer.id)
    .bind(mine)
    .fetch_one(&app.pool)
    .await
    .expect("access log");
    assert_eq!(logged, 1);

    let home = get(&app.base, "/?lang=en", &cookie).await;
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.expect("html");
    for shown in ["Trần Thị Mai", "Commune officer", "25459", "Sign out"] {
        assert!(html.contains(shown), "{shown} not in {html}");
    }
    assert_eq!(
        outcomes(&app, officer.id).await,
        [("success".to_owned(), Some("127.0.0.1".to_owned()))]
    );
}

#[tokio::test]
async fn a_secure_cookie_when_the_public_url_is_https() {
    let app = spawn_app().await;
    user(&app, "Lý Văn Tám", Role::Auditor, "72").await;
    let bind = "127.0.0.1:0".parse().expect("address");
    let web = ansinh::web::WebConfig::with_public_url("https://ansinh.example.vn").expect("url");
    let standards = ansinh_events::standards::Standards::builtin().expect("standards");
    let server =
        ansinh::server::Application::build_with_config(app.pool.clone(), bind, standards, web)
            .await
            .expect("build");
    let base = format!("http://{}", server.local_addr().expect("address"));
    tokio::spawn(server.run(std::future::pending()));
    // The form must come from the public URL, not from the address the server listens on.
    let refused = post_login(&base, &base, "Lý Văn Tám", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let response = post_login(&base, "https://ansinh.example.vn", "Lý Văn Tám", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set_cookie.to_ascii_lowercase().contains("; secure"),
        "{set_cookie}"
    );
}

#[tokio::test]
async fn missing_fields_and_wrong_passwords_answer_the_form_again_in_plain_words() {
    let app = spawn_app().await;
    let (officer, _) = user(&app, "Võ Thị Sáu", Role::CommuneOfficer, "25459").await;
    for (pairs, status, words) in [
        (vec![("password", PASSWORD)], 400, "Enter your username."),
        (
            vec![("username", "Võ Thị Sáu")],
            400,
            "Enter your password.",
        ),
        (
            vec![("username", "Võ Thị Sáu"), ("password", "sai mật khẩu")],
            401,
            "The username or the password is wrong.",
        ),
        (
            vec![("username", "Không Có Ai"), ("password", PASSWORD)],
            401,
            "The username or the password is wrong.",
        ),
    ] {
        let response = client()
            .post(format!("{}/login?lang=en", app.base))
            .header(ORIGIN, &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), status, "{pairs:?}");
        assert!(
            !response.headers().get_all(SET_COOKIE).iter().any(|c| c
                .to_str()
                .unwrap_or_default()
                .starts_with("ansinh_session=")),
            "no session for a failed sign-in"
        );
        let html = response.text().await.expect("html");
        assert!(html.contains(words), "{pairs:?}: {html}");
        assert!(html.contains(r#"name="username""#), "the form again");
    }
    assert_eq!(
        outcomes(&app, officer.id).await,
        [("failure".to_owned(), Some("127.0.0.1".to_owned()))]
    );
    let unknown: Vec<String> = sqlx::query_scalar(
        "SELECT user_name FROM sign_in_events WHERE user_id IS NULL AND outcome = 'failure'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("events");
    assert_eq!(unknown, ["Không Có Ai"]);
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let app = spawn_app().await;
    let (officer, _) = user(&app, "Đinh Văn Lâm", Role::CommuneOfficer, "25459").await;
    for attempt in 1..=5 {
        let response = post_login(&app.base, &app.base, "Đinh Văn Lâm", "wrong password").await;
        let expected = if attempt < 5 { 401 } else { 429 };
        assert_eq!(response.status().as_u16(), expected, "attempt {attempt}");
    }
    let locked = post_login(&app.base, &app.base, "Đinh Văn Lâm", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().get(SET_COOKIE).is_none());
    let wait: i64 = locked.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((14 * 60..=15 * 60).contains(&wait), "{wait}");
    let html = locked.text().await.expect("html");
    assert!(
        html.contains("tạm bị khóa") && html.contains("giờ Việt Nam"),
        "{html}"
    );

    let recorded: Vec<String> = outcomes(&app, officer.id)
        .await
        .into_iter()
        .map(|(outcome, address)| {
            assert_eq!(address.as_deref(), Some("127.0.0.1"));
            outcome
        })
        .collect();
    assert_eq!(
        recorded,
        ["failure", "failure", "failure", "failure", "failure", "locked", "refused"]
    );
    // Auditors' record cannot be rewritten.
    let rewrite = sqlx::query("DELETE FROM sign_in_events")
        .execute(&app.pool)
        .await;
    assert!(rewrite.is_err(), "sign-in events are append-only");
}

#[tokio::test]
async fn a_lock_ends_after_15_minutes_and_older_failures_no_longer_count() {
    let app = spawn_app().await;
    let (officer, _) = user(&app, "Hà Văn Bảy", Role::CommuneOfficer, "25459").await;
    // Five failures and their lock, 16 minutes ago.
    sqlx::query(
        "INSERT INTO sign_in_events (at, user_id, user_name, outcome)
         SELECT now() - interval '16 minutes', $1, 'Hà Văn Bảy', o
           FROM unnest(ARRAY['failure','failure','failure','failure','failure','locked']) o",
    )
    .bind(officer.id)
    .execute(&app.pool)
    .await
    .expect("backdated events");
    let wrong = post_login(&app.base, &app.base, "Hà Văn Bảy", "wrong password").await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "one failure, not a sixth"
    );
    let response = post_login(&app.base, &app.base, "Hà Văn Bảy", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_survives_a_restart_on_the_same_database() {
    let app = spawn_app().await;
    let (_, token) = user(&app, "Mai Văn Hùng", Role::CommuneOfficer, "25459").await;
    let id = app.register(&token, "25459").await;
    let (cookie, _) = sign_in(&app, "Mai Văn Hùng").await;
    // A second server on the same database holds nothing of the first in memory.
    let restarted = app.spawn_another().await;
    let read = get(&restarted, &format!("/api/v1/households/{id}"), &cookie).await;
    assert_eq!(read.status(), StatusCode::OK);
    let home = get(&restarted, "/", &cookie).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.expect("html").contains("Mai Văn Hùng"));
    assert_eq!(stored_sessions(&app).await, 1);
}

#[tokio::test]
async fn a_cross_site_post_with_the_cookie_writes_nothing() {
    let app = spawn_app().await;
    user(&app, "Lê Văn Năm", Role::CommuneOfficer, "25459").await;
    let (cookie, _) = sign_in(&app, "Lê Văn Năm").await;
    let body = registration("25459");
    let post = |origin: Option<&'static str>| {
        let mut request = client()
            .post(format!("{}/api/v1/households", app.base))
            .header(COOKIE, &cookie)
            .json(&body);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    let before = app.event_count().await;
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let response = post(origin).await.expect("send");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
    // A cross-site sign-out or sign-in is refused too, and the session goes on.
    let logout = client()
        .post(format!("{}/logout", app.base))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
    let login = post_login(&app.base, "http://evil.example", "Lê Văn Năm", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert!(login.headers().get(SET_COOKIE).is_none());
    // From the site's own pages, the same request is written.
    let same_site = client()
        .post(format!("{}/api/v1/households", app.base))
        .header(COOKIE, &cookie)
        .header(ORIGIN, &app.base)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(same_site.status(), StatusCode::CREATED);
    assert!(app.event_count().await > before);
}

#[tokio::test]
async fn bearer_tokens_work_unchanged_and_win_over_a_cookie() {
    let app = spawn_app().await;
    let (_, token) = user(&app, "Phan Văn Sáu", Role::CommuneOfficer, "25459").await;
    let (cookie, _) = sign_in(&app, "Phan Văn Sáu").await;
    // A bearer request is not asked for an Origin.
    let written = app
        .request(
            reqwest::Method::POST,
            "/api/v1/households",
            Some(&token),
            Some(&registration("25459")),
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.text);
    // A bad token is refused even with a good cookie beside it.
    let bad = app
        .request(
            reqwest::Method::GET,
            "/api/v1/households",
            Some("0000"),
            None,
            &[("cookie", &cookie)],
        )
        .await;
    bad.problem(401);
    let nothing = app
        .request(reqwest::Method::GET, "/api/v1/households", None, None, &[])
        .await;
    nothing.problem(401);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let (_, token) = user(&app, "Bùi Thị Tư", Role::CommuneOfficer, "25459").await;
    let id = app.register(&token, "25459").await;
    let (cookie, _) = sign_in(&app, "Bùi Thị Tư").await;
    let path = format!("/api/v1/households/{id}");
    assert_eq!(
        get(&app.base, &path, &cookie).await.status(),
        StatusCode::OK
    );
    let logout = client()
        .post(format!("{}/logout?lang=en", app.base))
        .header(COOKIE, &cookie)
        .header(ORIGIN, &app.base)
        .send()
        .await
        .expect("send");
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    // The language is remembered by its cookie, not carried in the address.
    assert_eq!(logout.headers()[LOCATION], "/login");
    assert_eq!(
        get(&app.base, &path, &cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let home = get(&app.base, "/", &cookie).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored_sessions(&app).await, 0);
}
