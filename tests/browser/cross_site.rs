//! Forms posted to ansinh from other origins' pages, in the signed-in user's browser, change
//! nothing; the same forms from ansinh's own pages do.

use ansinh::users::Role;

use crate::browser::Browser;
use crate::forge::Forger;

#[tokio::test]
async fn a_forged_cross_site_sign_out_leaves_the_user_signed_in_and_writes_nothing() {
    let b = Browser::start().await;
    let user = b.sign_in(Role::CommuneOfficer).await;
    let before = b.digest().await;

    let forged = b.forge_post("/logout", &[]).await;
    assert_eq!(
        forged.iter().map(|f| f.from).collect::<Vec<_>>(),
        Forger::ALL
    );
    for f in &forged {
        assert_eq!(f.path, "/logout", "{:?} reached the application", f.from);
        assert!(
            f.text
                .contains("không được gửi từ chính trang của hệ thống"),
            "{:?} was refused in words:\n{}",
            f.from,
            f.text
        );
    }
    b.assert_unchanged(&before).await;
    b.open("/").await;
    assert_eq!(b.path().await, "/", "still signed in");
    assert!(b.text().await.contains(&user.name));

    // The same post from the application's own page does sign out: the forgeries above
    // were refused for where they came from, not for what they sent.
    b.click_and_wait("form[action^='/logout'] [type=submit]")
        .await;
    assert_eq!(b.path().await, "/login");
    b.open("/").await;
    assert_eq!(b.path().await, "/login", "signed out");
}

#[tokio::test]
async fn a_forged_cross_site_sign_in_signs_no_one_in_and_records_nothing() {
    let b = Browser::start().await;
    let victim = b.sign_in(Role::Auditor).await;
    let attacker = b.user(Role::CommuneOfficer).await;
    let before = b.digest().await;
    let fields = [
        ("username", attacker.name.as_str()),
        ("password", attacker.password.as_str()),
    ];
    for f in b.forge_post("/login", &fields).await {
        assert_ne!(f.path, "/", "{:?} signed the browser in", f.from);
    }
    b.assert_unchanged(&before).await;
    b.open("/").await;
    let text = b.text().await;
    assert!(
        text.contains(&victim.name) && !text.contains(&attacker.name),
        "the browser is still the auditor's:\n{text}"
    );
}
