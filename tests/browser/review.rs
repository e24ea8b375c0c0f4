//! The review in public in a real browser: the public posting page without sign-in, open and
//! closed, in both languages, with no ID number, birth year or income on it; and the
//! supervisors' review report page. axe-checked and photographed at 1280 and 375 px.

use ansinh::users::Role;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::browser::{in_lang, Browser};
use crate::helpers::{decision, survey, TestApp};

const UNIT: &str = "25459";

async fn created(app: &TestApp, path: &str, token: &str, body: &Value) -> Value {
    let r = app.post(path, token, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

fn assert_nothing_personal(text: &str) {
    for secret in [
        "072178000123",
        "072205000456",
        "1978",
        "2005",
        "1.200.000",
        "1200000",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} on the public page: {text}"
        );
    }
}

#[tokio::test]
async fn the_public_posting_page_shows_the_list_then_the_outcome_and_nothing_personal() {
    let b = Browser::start().await;
    let officer = b.user(Role::CommuneOfficer).await;
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    let surveyed_on = (today - Duration::days(20)).to_string();
    let open_period = format!("{}-annual", &surveyed_on[..4]);
    let mut open_ids = Vec::new();
    for _ in 0..3 {
        let id = b.app.register(&officer.token, UNIT).await;
        let path = format!("/api/v1/households/{id}/surveys");
        created(
            &b.app,
            &path,
            &officer.token,
            &survey(&surveyed_on, 1_200_000, 3),
        )
        .await;
        open_ids.push(id);
    }
    created(
        &b.app,
        "/api/v1/postings",
        &officer.token,
        &json!({"unit_code": UNIT, "period": open_period,
                "posted_from": today - Duration::days(1), "posted_to": today + Duration::days(7),
                "places": ["Trụ sở UBND phường Tân Ninh", "Nhà văn hóa khu phố 3"],
                "households": open_ids}),
    )
    .await;
    // A closed posting of 2022, one of its two households decided.
    let mut closed_ids = Vec::new();
    for _ in 0..2 {
        let id = b.app.register(&officer.token, UNIT).await;
        let path = format!("/api/v1/households/{id}/surveys");
        created(
            &b.app,
            &path,
            &officer.token,
            &survey("2022-10-05", 1_200_000, 3),
        )
        .await;
        closed_ids.push(id);
    }
    created(
        &b.app,
        "/api/v1/postings",
        &officer.token,
        &json!({"unit_code": UNIT, "period": "2022-annual", "posted_from": "2022-11-01",
                "posted_to": "2022-11-10", "places": ["Trụ sở UBND phường"], "households": closed_ids}),
    )
    .await;
    let path = format!("/api/v1/households/{}/decisions", closed_ids[0]);
    created(
        &b.app,
        &path,
        &officer.token,
        &decision("poor", "2022-12-10"),
    )
    .await;

    // Not signed in.
    for lang in ["vi", "en"] {
        b.open(&in_lang(&format!("/public/{UNIT}/{open_period}"), lang))
            .await;
        assert_eq!(b.lang().await, lang);
        let text = b.text().await;
        assert!(
            text.contains("Nguyễn Thị Lan") && text.contains("Ấp Thạnh Hiệp"),
            "{text}"
        );
        assert!(
            text.contains(if lang == "vi" {
                "Đang niêm yết"
            } else {
                "On display"
            }),
            "{text}"
        );
        assert_nothing_personal(&text);
        b.axe_check().await;
        b.screenshot("public-posting-open").await;

        b.open(&in_lang(&format!("/public/{UNIT}/2022-annual"), lang))
            .await;
        let text = b.text().await;
        assert!(
            text.contains("02/QĐ-UBND") || text.contains("12/QĐ-UBND"),
            "{text}"
        );
        assert!(!text.contains("Nguyễn Thị Lan"), "{text}");
        assert_nothing_personal(&text);
        b.axe_check().await;
        b.screenshot("public-posting-closed").await;
    }
    // The page as printed is the list itself.
    b.open(&in_lang(&format!("/public/{UNIT}/{open_period}"), "vi"))
        .await;
    let rows = b
        .js("return document.querySelectorAll('tbody tr').length")
        .await;
    assert_eq!(rows, json!(3));
}

#[tokio::test]
async fn the_review_report_page_lists_an_overdue_complaint_for_a_supervisor() {
    let b = Browser::start().await;
    let officer = b.user(Role::CommuneOfficer).await;
    let id = b.app.register(&officer.token, UNIT).await;
    let base = format!("/api/v1/households/{id}");
    created(
        &b.app,
        &format!("{base}/surveys"),
        &officer.token,
        &survey("2022-10-05", 1_200_000, 3),
    )
    .await;
    created(
        &b.app,
        &format!("{base}/complaints"),
        &officer.token,
        &json!({"period": "2022-annual", "received_on": "2022-11-03", "from_name": null,
                "contact": "0912 345 678", "content": "Đề nghị xem lại."}),
    )
    .await;
    b.sign_in(Role::DistrictOfficer).await;
    for lang in ["vi", "en"] {
        b.open(&in_lang(
            &format!("/reports/review?unit={UNIT}&period=2022-annual"),
            lang,
        ))
        .await;
        let text = b.text().await;
        assert!(
            text.contains(if lang == "vi" {
                "Khiếu nại quá hạn"
            } else {
                "Overdue complaints"
            }),
            "{text}"
        );
        assert!(text.contains("03/11/2022"), "{text}");
        assert!(!text.contains("0912"), "{text}");
        b.axe_check().await;
        b.screenshot("review-report").await;
    }
}
