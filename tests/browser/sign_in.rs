//! Signing in through the form, for every role and in both languages, and the lock after five
//! wrong passwords.

use ansinh::users::Role;
use ansinh::web::i18n::Lang;

use crate::browser::Browser;

/// Signs every role in through the `/login` form in `lang`, checks the start page shows the
/// user's name, role and unit in that language, and signs out with the page's button.
async fn every_role_signs_in(lang: Lang) {
    let b = Browser::start().await;
    for role in Role::ALL {
        let user = b.user(role).await;
        b.submit_sign_in(&user.name, &user.password, lang.code())
            .await;
        // The language chosen on the sign-in page is remembered (a cookie), not carried along.
        assert_eq!(b.path().await, "/", "{role} signed in");
        assert_eq!(b.lang().await, lang.code());
        let text = b.text().await;
        for shown in [user.name.as_str(), lang.role(role), user.unit.as_str()] {
            assert!(text.contains(shown), "{role}: {shown:?} not in\n{text}");
        }
        b.click_and_wait("form[action^='/logout'] [type=submit]")
            .await;
        assert_eq!(b.path().await, "/login", "{role} signed out");
        assert_eq!(b.lang().await, lang.code(), "{role}: the language stays");
        b.open("/").await;
        assert_eq!(b.path().await, "/login", "{role} is signed out");
    }
}

#[tokio::test]
async fn every_role_signs_in_through_the_form_in_vietnamese() {
    every_role_signs_in(Lang::Vi).await;
}

#[tokio::test]
async fn every_role_signs_in_through_the_form_in_english() {
    every_role_signs_in(Lang::En).await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let b = Browser::start().await;
    let user = b.user(Role::CommuneOfficer).await;
    for attempt in 1..=4 {
        b.submit_sign_in(&user.name, "sai mật khẩu", "vi").await;
        let text = b.text().await;
        assert!(
            text.contains("Tên đăng nhập hoặc mật khẩu không đúng."),
            "attempt {attempt}:\n{text}"
        );
    }
    b.submit_sign_in(&user.name, "sai mật khẩu", "vi").await;
    let locked = b.text().await;
    assert!(
        locked.contains("Tài khoản này tạm bị khóa") && locked.contains("giờ Việt Nam"),
        "the fifth wrong password locks, in Vietnamese by default:\n{locked}"
    );
    assert_eq!(b.lang().await, "vi");

    b.submit_sign_in(&user.name, &user.password, "vi").await;
    assert_eq!(
        b.path().await,
        "/login",
        "the right password is refused too"
    );
    assert!(b.text().await.contains("tạm bị khóa"));
    b.open("/").await;
    assert_eq!(b.path().await, "/login", "not signed in");

    let recorded: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM sign_in_events WHERE user_id = $1 ORDER BY id")
            .bind(user.id)
            .fetch_all(&b.app.pool)
            .await
            .expect("sign-in events");
    assert_eq!(
        recorded,
        ["failure", "failure", "failure", "failure", "failure", "locked", "refused"]
    );
}

#[tokio::test]
async fn downloads_carry_the_browsers_session_and_end_with_it() {
    let b = Browser::start().await;
    let officer = b.sign_in(Role::CommuneOfficer).await;
    let id = b.app.register(&officer.token, &officer.unit).await;
    let path = format!("/api/v1/households/{id}");

    let read = b.download(&path).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert!(read.content_type.starts_with("application/json"));
    let household: serde_json::Value = serde_json::from_slice(&read.bytes).expect("json");
    assert_eq!(household["head_name"], "Nguyễn Thị Lan");
    // Read as the signed-in user, so logged under them as the API logs a token's read.
    b.app.ship_access_log().await;
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM access_log WHERE user_id = $1 AND household_id = $2",
    )
    .bind(officer.id)
    .bind(id)
    .fetch_one(&b.app.pool)
    .await
    .expect("access log");
    assert_eq!(logged, 1);
    // A link of the page, fetched as the browser would: the start page, in English.
    let linked = b.download_link("a[href*='lang=en']").await;
    assert_eq!(linked.status, 200);
    let html = linked.text();
    assert!(
        html.contains(&officer.name) && html.contains("Sign out"),
        "{html}"
    );

    b.click_and_wait("form[action^='/logout'] [type=submit]")
        .await;
    assert_eq!(b.download(&path).await.status, 401, "signed out");
}
