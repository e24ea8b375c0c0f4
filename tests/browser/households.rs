//! The register (`/households`) and a household's page in a real browser: an auditor looks at
//! a household as of a past day, a monitor sees no ID number, and both pages pass axe and are
//! photographed in both languages at both widths.

use ansinh::users::Role;
use uuid::Uuid;

use crate::browser::{in_lang, Browser};
use crate::helpers::{decision, survey};

/// A household of the commune officer's unit: poor from 2022-12-10, near poor from 2023-12-10.
async fn household(b: &Browser) -> Uuid {
    let officer = b.user(Role::CommuneOfficer).await;
    let id = b.app.register(&officer.token, &officer.unit).await;
    let base = format!("/api/v1/households/{id}");
    for (surveyed, category, decided) in [
        ("2022-10-05", "poor", "2022-12-10"),
        ("2023-10-05", "near_poor", "2023-12-10"),
    ] {
        let r = b
            .app
            .post(
                &format!("{base}/surveys"),
                &officer.token,
                &survey(surveyed, 1_200_000, 3),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mut d = decision(category, decided);
        d["reason"] = format!("họp bình xét {decided}").into();
        let r = b
            .app
            .post(&format!("{base}/decisions"), &officer.token, &d)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    id
}

#[tokio::test]
async fn an_auditor_opens_a_household_as_of_a_past_day_and_sees_the_earlier_state() {
    let b = Browser::start().await;
    let id = household(&b).await;
    b.sign_in(Role::Auditor).await;
    b.open(&format!("/households/{id}")).await;
    let now = b.find("#status").await.text().await.expect("status");
    assert!(now.contains("Hộ cận nghèo"), "{now}");
    // The date picker: the day typed is the day shown.
    b.js("document.querySelector('input[name=as_of]').value = '2023-06-30'; return null")
        .await;
    b.click_and_wait("form[action^='/households/'] [type=submit]")
        .await;
    assert!(b.path().await.contains("as_of=2023-06-30"));
    let then = b.find("#status").await.text().await.expect("status");
    assert!(
        then.contains("Hộ nghèo") && !then.contains("Hộ cận nghèo"),
        "{then}"
    );
    assert!(then.contains("họp bình xét 2022-12-10"), "{then}");
    assert!(b.text().await.contains("Hộ như vào cuối ngày 30/06/2023"));
    // From the register as of that day, the link keeps the day.
    b.open("/households?as_of=2023-06-30&standard=vn-2022-2025&category=poor")
        .await;
    b.click_and_wait(&format!("a[href^='/households/{id}']"))
        .await;
    let then = b.find("#status").await.text().await.expect("status");
    assert!(then.contains("Hộ nghèo"), "{then}");
}

#[tokio::test]
async fn a_monitors_register_and_household_pages_show_no_id_number() {
    let b = Browser::start().await;
    let id = household(&b).await;
    b.sign_in(Role::Monitor).await;
    for path in ["/households".to_owned(), format!("/households/{id}")] {
        b.open(&path).await;
        let text = b.text().await;
        for hidden in ["072178000123", "072205000456", "1978"] {
            assert!(!text.contains(hidden), "{hidden} on {path}");
        }
    }
    assert!(b.text().await.contains("không được xem lịch sử hộ"));
    // The register's XLSX, downloaded from its link, holds the API's list and no ID number.
    b.open("/households").await;
    let rows = b.download_link("a[href*='format=xlsx']").await.xlsx_rows();
    let monitor = b.user_named("Giám sát hai", Role::Monitor, "72").await;
    let listed = b.app.get("/api/v1/households", &monitor.token).await;
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(rows.len(), items.len() + 1, "{rows:?}");
    assert_eq!(rows[1][0], items[0]["head_name"].as_str().expect("name"));
    assert_eq!(rows[1][7], id.to_string());
    for cell in rows.iter().flatten() {
        assert!(
            !cell.contains("072178000123") && !cell.contains("072205000456"),
            "{cell}"
        );
    }
}

#[tokio::test]
async fn the_register_and_the_household_page_pass_axe_in_both_languages() {
    let b = Browser::start().await;
    let id = household(&b).await;
    b.sign_in(Role::Auditor).await;
    for lang in ["vi", "en"] {
        b.open(&in_lang("/households", lang)).await;
        b.axe_check().await;
        b.screenshot("households").await;
        b.open(&in_lang(
            &format!("/households/{id}?as_of=2023-06-30"),
            lang,
        ))
        .await;
        b.axe_check().await;
        b.screenshot("household").await;
    }
}
