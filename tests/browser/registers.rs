//! The registers, the movement report, the start page by role, and the auditors' and admins'
//! pages in the browser: what each shows, no ID number for monitors (page and XLSX), an export
//! that matches the API, an axe check of each page and screenshots in both languages.

use ansinh::users::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::browser::Browser;
use crate::helpers::{decision, support, survey, TestApp};

/// An ID number of the registered household (tests/api/helpers.rs `registration`).
const ID_NUMBER: &str = "072178000123";

async fn created(app: &TestApp, path: &str, token: &str, body: &Value) -> Value {
    let r = app.post(path, token, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

/// Poor in 2022, a credit corrected from 30 M to 25 M and a 2 M support voided, exited in 2023,
/// 1 M between, poor again in December 2024.
async fn relapsed_household(app: &TestApp, officer: &str) -> Uuid {
    let id = app.register(officer, "25459").await;
    let base = format!("/api/v1/households/{id}");
    let (surveys, decisions, supports) = (
        format!("{base}/surveys"),
        format!("{base}/decisions"),
        format!("{base}/supports"),
    );
    created(app, &surveys, officer, &survey("2022-10-05", 1_200_000, 3)).await;
    created(app, &decisions, officer, &decision("poor", "2022-12-10")).await;
    let credit = created(app, &supports, officer, &support(30_000_000, "2023-03-01")).await;
    let mut water = support(2_000_000, "2023-04-15");
    water["policy"] = json!("clean_water");
    let water = created(app, &supports, officer, &water).await;
    created(app, &surveys, officer, &survey("2023-10-05", 2_500_000, 1)).await;
    created(
        app,
        &decisions,
        officer,
        &decision("not_poor", "2023-12-10"),
    )
    .await;
    created(app, &supports, officer, &support(1_000_000, "2024-03-01")).await;
    created(app, &surveys, officer, &survey("2024-10-05", 1_100_000, 4)).await;
    created(app, &decisions, officer, &decision("poor", "2024-12-10")).await;
    let corrections = format!("{base}/corrections");
    created(
        app,
        &corrections,
        officer,
        &json!({"corrects_sequence": credit["sequence"], "reason": "nhập nhầm số tiền",
                "replacement": support(25_000_000, "2023-03-01")}),
    )
    .await;
    created(
        app,
        &corrections,
        officer,
        &json!({"corrects_sequence": water["sequence"], "reason": "ghi trùng", "replacement": null}),
    )
    .await;
    id
}

/// `path` in `lang`, always named: a language chosen before is remembered by a cookie.
fn in_lang(path: &str, lang: &str) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    format!("{path}{join}lang={lang}")
}

/// Checks the page shown with axe-core and photographs it as `page` (both widths).
async fn check_and_photograph(b: &Browser, page: &str) {
    b.axe_check().await;
    b.screenshot(page).await;
}

#[tokio::test]
async fn a_supervisors_re_poverty_page_lists_the_case() {
    let b = Browser::start().await;
    let officer = b.user(Role::CommuneOfficer).await;
    let id = relapsed_household(&b.app, &officer.token).await;
    b.sign_in(Role::DistrictOfficer).await;
    for lang in ["vi", "en"] {
        b.open(&in_lang("/re-poverty", lang)).await;
        let text = b.text().await;
        assert!(text.contains("Nguyễn Thị Lan"), "{text}");
        assert!(text.contains("10/12/2024"), "{text}");
        check_and_photograph(&b, "re-poverty").await;
    }
    b.open("/re-poverty?lang=vi").await;
    b.click_and_wait(&format!("a[href='/households/{id}']"))
        .await;
    assert_eq!(b.path().await, format!("/households/{id}"));
}

#[tokio::test]
async fn a_monitors_disbursement_page_and_export_match_the_api_without_id_numbers() {
    let b = Browser::start().await;
    let officer = b.user(Role::CommuneOfficer).await;
    relapsed_household(&b.app, &officer.token).await;
    let monitor = b.sign_in(Role::Monitor).await;
    let api = b
        .app
        .get("/api/v1/disbursements?unit=25459", &monitor.token)
        .await;
    let total = api.body["totals"]["amount_vnd"].as_i64().expect("total");
    assert_eq!(total, 26_000_000);
    for lang in ["vi", "en"] {
        b.open(&in_lang("/disbursements?unit=25459", lang)).await;
        let text = b.text().await;
        assert!(text.contains("26.000.000 đ"), "{text}");
        assert!(
            text.contains("ghi trùng"),
            "the voided entry's reason: {text}"
        );
        assert!(!text.contains(ID_NUMBER));
        check_and_photograph(&b, "disbursements").await;
    }
    let xlsx = b.download_link("a[href*='format=xlsx']").await;
    let rows = xlsx.xlsx_rows();
    assert!(
        rows.iter().flatten().all(|c| !c.contains(ID_NUMBER)),
        "{rows:?}"
    );
    // English headers on the English page; the counted amounts sum to the API's total.
    assert_eq!(rows[0][5], "Amount (VND)");
    let counted: i64 = rows[1..]
        .iter()
        .filter(|r| r[13] != "Voided")
        .map(|r| r[5].parse::<f64>().expect("an amount") as i64)
        .sum();
    assert_eq!(counted, total);
    for page in [
        "/",
        "/re-poverty",
        "/reports/movements?unit=703&from=2024-01-01&to=2024-12-31",
    ] {
        b.open(page).await;
        assert!(!b.text().await.contains(ID_NUMBER), "{page}");
    }
    b.open("/?lang=vi").await;
    check_and_photograph(&b, "home-monitor").await;
}

#[tokio::test]
async fn the_movement_report_is_accessible_and_printable_in_both_languages() {
    let b = Browser::start().await;
    let officer = b.user(Role::CommuneOfficer).await;
    relapsed_household(&b.app, &officer.token).await;
    b.app.projected().await;
    b.sign_in(Role::ProvinceOfficer).await;
    for lang in ["vi", "en"] {
        b.open(&in_lang(
            "/reports/movements?unit=703&from=2024-01-01&to=2024-12-31",
            lang,
        ))
        .await;
        check_and_photograph(&b, "movements").await;
    }
    // On paper the filters and the navigation are left out.
    let hidden = b
        .js(
            "const s = [...document.styleSheets].flatMap(s => [...s.cssRules])
               .filter(r => r.media && r.media.mediaText === 'print')
               .map(r => r.cssText).join(' ');
             return s.includes('.filters') && s.includes('nav');",
        )
        .await;
    assert_eq!(hidden, Value::Bool(true));
    b.open("/?lang=vi").await;
    check_and_photograph(&b, "home-supervisor").await;
}

#[tokio::test]
async fn the_auditors_and_admins_pages_are_accessible() {
    let b = Browser::start().await;
    let officer = b.user(Role::CommuneOfficer).await;
    let id = relapsed_household(&b.app, &officer.token).await;
    b.sign_in(Role::Auditor).await;
    // The auditor's own read of the household is on the access log the moment it is opened.
    b.open(&format!("/households/{id}?lang=en")).await;
    b.open("/access-log?lang=en").await;
    let log = b.text().await;
    assert!(
        log.contains(&id.to_string()[..8]) && log.contains("GET /api/v1/households/{id}"),
        "{log}"
    );
    // The page's list of the household's flags names it once, however many flags it has.
    assert_eq!(log.matches("GET /api/v1/flags").count(), 1, "{log}");
    for (page, name) in [
        ("/", "home-auditor"),
        ("/verify", "verify"),
        ("/access-log", "access-log"),
    ] {
        for lang in ["vi", "en"] {
            b.open(&in_lang(page, lang)).await;
            check_and_photograph(&b, name).await;
        }
    }
    let admin = b.user(Role::Admin).await;
    b.client.delete_all_cookies().await.expect("sign out");
    b.sign_in_as(&admin).await;
    for (page, name) in [
        ("/admin/users", "admin-users"),
        ("/admin/units?q=Phường", "admin-units"),
    ] {
        b.open(&in_lang(page, "vi")).await;
        check_and_photograph(&b, name).await;
    }
    // A refusal is a page saying who may see it, and passes the check too.
    b.open("/access-log?lang=en").await;
    assert!(b
        .text()
        .await
        .contains("Only auditors may read the access log."));
    b.axe_check().await;
}
