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

/// Sets a field by script (dates and selects take no typing that is the same in every locale).
async fn set(b: &Browser, name: &str, value: &str) {
    let script = format!(
        "var f = document.querySelector('[name=\"{name}\"]'); f.value = {value}; \
         f.dispatchEvent(new Event('change')); return f.value",
        value = Value::String(value.to_owned())
    );
    assert_eq!(
        b.js(&script).await,
        Value::String(value.to_owned()),
        "{name}"
    );
}

/// The support form names the fund; past the allocation it says so in the page's language and
/// keeps what was typed; with a reason to overdraw it is recorded (and flagged).
#[tokio::test]
async fn an_officer_overdraws_an_allocation_through_the_form_only_with_a_reason() {
    let b = Browser::start().await;
    let (fund, h) = scene(&b.app).await;
    b.sign_in(Role::CommuneOfficer).await;
    b.open(&format!("/households/{h}/supports/new?lang=vi"))
        .await;
    set(&b, "policy", "livelihood").await;
    b.fill("amount_vnd", "2.000.000").await;
    set(&b, "funding_source", "mobilized").await;
    // The fund is chosen from the open funds the officer's unit reaches, by name.
    let option = b
        .js(&format!(
            "return document.querySelector('[name=\"fund_id\"] option[value=\"{fund}\"]').textContent"
        ))
        .await;
    assert!(
        option
            .as_str()
            .is_some_and(|o| o.contains("Quỹ Vì người nghèo tỉnh Tây Ninh — 72")),
        "{option}"
    );
    set(&b, "fund_id", &fund).await;
    set(&b, "disbursed_on", "2026-04-01").await;
    b.fill("disbursed_by", "UBND xã").await;
    b.fill("decision_no", "18/QĐ-UBND").await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    let text = b.text().await;
    assert!(
        text.contains("vượt số còn lại của phần phân bổ quỹ"),
        "{text}"
    );
    b.axe_check().await;
    b.screenshot("form-support-overdrawn").await;
    b.fill("override_reason", "Hộ bị thiệt hại do lốc xoáy")
        .await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    assert!(
        b.path().await.contains("saved=support"),
        "{}",
        b.text().await
    );
    let monitor = b.app.token(Role::Monitor, "72").await;
    // Flags are kept by the projection runner, a moment behind the support.
    b.app.projected().await;
    let flags = b
        .app
        .get(
            &format!("/api/v1/flags?unit=25459&rule=overdrawn&household={h}"),
            &monitor,
        )
        .await;
    assert_eq!(flags.body["total"], 2, "{}", flags.text);
}
