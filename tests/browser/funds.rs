//! The funds, a fund's reconciliation and the red flags in the browser, for a monitor: what
//! they show, an export that matches the API, the flags on the household page and on the
//! disbursement rows, an axe check of each page and screenshots in both languages.

use ansinh::users::Role;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::browser::{in_lang, Browser};
use crate::helpers::{decision, support, survey, TestApp};

async fn created(app: &TestApp, path: &str, token: &str, body: &Value) -> Value {
    let r = app.post(path, token, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

/// A fund of 100,000,000 VND with 60,000,000 allocated to 25459, and a poor household there
/// paid 50,000,000 from it, 15,000,000 more with an override, and a late entry.
async fn scene(app: &TestApp) -> (String, uuid::Uuid) {
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let other = app.token(Role::CommuneOfficer, "25459").await;
    let fund = created(
        app,
        "/api/v1/funds",
        &province,
        &json!({
        "name": "Quỹ Vì người nghèo tỉnh Tây Ninh", "funding_source": "mobilized",
        "managing_unit": "72", "legal_basis": "Quyết định 12/QĐ-MTTQ",
        "valid_from": "2026-01-01", "valid_to": "2026-12-31"}),
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    created(
        app,
        &format!("/api/v1/funds/{fund}/receipts"),
        &province,
        &json!({"amount_vnd": 100_000_000, "received_on": "2026-01-10", "decision_no": "01/PT"}),
    )
    .await;
    created(
        app,
        &format!("/api/v1/funds/{fund}/allocations"),
        &province,
        &json!({"unit_code": "25459", "amount_vnd": 60_000_000, "decided_on": "2026-01-15",
                "decision_no": "02/QĐ-UBND"}),
    )
    .await;
    let h = app.register(&officer, "25459").await;
    let base = format!("/api/v1/households/{h}");
    created(
        app,
        &format!("{base}/surveys"),
        &officer,
        &survey("2022-10-05", 1_200_000, 3),
    )
    .await;
    created(
        app,
        &format!("{base}/decisions"),
        &other,
        &decision("poor", "2022-12-10"),
    )
    .await;
    let drawn = |amount: i64, on: &str| {
        let mut s = support(amount, on);
        s["fund_id"] = json!(fund);
        s["funding_source"] = json!("mobilized");
        s
    };
    created(
        app,
        &format!("{base}/supports"),
        &officer,
        &drawn(50_000_000, "2026-02-01"),
    )
    .await;
    let mut over = drawn(15_000_000, "2026-03-01");
    over["override_reason"] = json!("Lũ lụt, UBND tỉnh cho ứng trước");
    created(app, &format!("{base}/supports"), &officer, &over).await;
    let late = ((Utc::now() + Duration::hours(7)).date_naive() - Duration::days(120)).to_string();
    created(
        app,
        &format!("{base}/supports"),
        &officer,
        &support(1_000_000, &late),
    )
    .await;
    (fund, h)
}

async fn check_and_photograph(b: &Browser, page: &str) {
    b.axe_check().await;
    b.screenshot(page).await;
}

#[tokio::test]
async fn a_monitor_reads_the_fund_its_reconciliation_and_the_red_flags() {
    let b = Browser::start().await;
    let (fund, h) = scene(&b.app).await;
    let monitor = b.sign_in(Role::Monitor).await;
    let api = b
        .app
        .get(
            &format!("/api/v1/funds/{fund}/reconciliation"),
            &monitor.token,
        )
        .await;
    assert_eq!(api.body["balance_vnd"], -5_000_000, "{}", api.text);
    for lang in ["vi", "en"] {
        b.open(&in_lang("/funds", lang)).await;
        let text = b.text().await;
        assert!(text.contains("Quỹ Vì người nghèo tỉnh Tây Ninh"), "{text}");
        assert!(text.contains("100.000.000 đ"), "{text}");
        check_and_photograph(&b, "funds").await;

        b.open(&in_lang(&format!("/funds/{fund}"), lang)).await;
        let text = b.text().await;
        assert!(text.contains("65.000.000 đ"), "disbursed: {text}");
        assert!(text.contains("-5.000.000 đ"), "balance: {text}");
        check_and_photograph(&b, "fund").await;

        b.open(&in_lang("/flags?unit=25459", lang)).await;
        let text = b.text().await;
        let (overdrawn, late) = if lang == "vi" {
            ("Chi vượt phần phân bổ", "Ghi nhận trễ hơn 90 ngày")
        } else {
            ("Allocation overdrawn", "Recorded more than 90 days late")
        };
        assert!(text.contains(overdrawn) && text.contains(late), "{text}");
        assert!(!text.contains("072178000123"));
        check_and_photograph(&b, "flags").await;

        b.open(&in_lang(&format!("/households/{h}"), lang)).await;
        let text = b.text().await;
        assert!(
            text.contains(overdrawn),
            "the household page shows its flags: {text}"
        );
        assert!(!text.contains("072178000123"));
        b.screenshot("household-flags").await;

        b.open(&in_lang("/disbursements?unit=25459", lang)).await;
        assert!(
            b.text().await.contains(overdrawn),
            "the flagged row says so"
        );
    }
    // The reconciliation's XLSX has the API's figures.
    b.open(&format!("/funds/{fund}?lang=vi")).await;
    let rows = b.download_link("a[href*='format=xlsx']").await.xlsx_rows();
    assert_eq!(
        rows[1][4].parse::<f64>().expect("disbursed") as i64,
        65_000_000,
        "{rows:?}"
    );
    assert_eq!(
        rows[1][7].parse::<f64>().expect("balance") as i64,
        -5_000_000,
        "{rows:?}"
    );
    // Filtering flags by rule.
    b.open("/flags?unit=25459&rule=late_entry&lang=en").await;
    let text = b.text().await;
    assert!(
        text.contains("Recorded more than 90 days late")
            && !text.contains("Allocation overdrawn, "),
        "{text}"
    );
}
