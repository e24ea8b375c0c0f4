//! The 2025 reform's pages in a real browser: an officer of a new commune finds a household of
//! a split old commune on `/reform`, assigns it through the form, and both pages pass axe in
//! both languages and are photographed at a desktop and a phone width.

use ansinh::reform::{self, ReformOptions};
use ansinh::users::Role;

use crate::browser::{in_lang, Browser};

#[tokio::test]
async fn an_officer_of_a_new_commune_assigns_a_household_of_a_split_commune() {
    let b = Browser::start().await;
    let province = b.user(Role::ProvinceOfficer).await;
    // 25507 Xã Tân Phong went partly to 25498 Xã Thạnh Bình and partly to 25549 Xã Tân Phú.
    let id = b.app.register(&province.token, "25507").await;
    let summary = reform::run(
        &b.app.pool,
        &ReformOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .expect("the reform runs");
    assert_eq!(summary.unassigned, 1);
    let officer = b
        .user_named("Đặng Thị Mai", Role::CommuneOfficer, "25549")
        .await;
    b.sign_in_as(&officer).await;

    for lang in ["en", "vi"] {
        b.open(&in_lang("/reform", lang)).await;
        let text = b.text().await;
        assert!(
            text.contains("Nguyễn Thị Lan") && text.contains("25507 Xã Tân Phong"),
            "{text}"
        );
        b.axe_check().await;
        b.screenshot("reform").await;
    }
    b.click_and_wait(&format!("a[href='/households/{id}/reform-assignment/new']"))
        .await;
    for lang in ["en", "vi"] {
        b.open(&in_lang(
            &format!("/households/{id}/reform-assignment/new"),
            lang,
        ))
        .await;
        b.axe_check().await;
        b.screenshot("form-reform").await;
    }
    // Without a reason the API refuses, beside the field.
    b.js("document.querySelector('[name=unit_code]').value = '25549'; return true")
        .await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    assert!(b.find("#err-reason").await.text().await.is_ok());
    b.js("document.querySelector('[name=unit_code]').value = '25549'; return true")
        .await;
    b.fill(
        "reason",
        "Ấp Thạnh Hiệp về xã Tân Phú theo biên bản họp dân",
    )
    .await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    let path = b.path().await;
    assert_eq!(path, format!("/households/{id}?saved=reform"));
    assert!(b.text().await.contains("Đã ghi hộ vào xã, phường mới."));
    let now = b
        .app
        .get(&format!("/api/v1/households/{id}"), &officer.token)
        .await;
    assert_eq!(now.body["unit_code"], "25549", "{}", now.text);
}
