//! The web pages in a real browser: headless chromium driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`: `apt-get install -y chromium chromium-driver`), each test
//! with its own database, its own running application and its own browser.
//!
//! # Adding a page test
//!
//! ```ignore
//! #[tokio::test]
//! async fn a_monitor_sees_the_disbursements() {
//!     let b = Browser::start().await;              // app on a fresh database + browser
//!     let officer = b.user(Role::CommuneOfficer).await; // .token for API set-up calls
//!     b.app.register(&officer.token, &officer.unit).await;
//!     b.sign_in(Role::Monitor).await;              // through /login; lands on `/`
//!     b.open(&in_lang("/disbursements", "en")).await;
//!     assert!(b.text().await.contains("…"));
//!     b.axe_check().await;                         // no serious or critical violation
//!     b.screenshot("disbursements").await;         // target/screenshots/disbursements-en-{1280,375}.png
//!     b.fill("amount", "500000").await;            // a form: fields by name …
//!     b.click_and_wait("form [type=submit]").await; // … sent, and its answer loaded
//!     let xlsx = b.download_link("a[href*='format=xlsx']").await.xlsx_rows();
//!     let before = b.digest().await;               // a forged cross-site post writes nothing:
//!     b.forge_post("/households/new", &[("head_name", "X")]).await;
//!     b.assert_unchanged(&before).await;
//! }
//! ```
//!
//! Put it in a module named after the page (`households.rs`) and add `mod households;` below.
//! `b.client` is the fantoccini client for anything not wrapped here. Browsers are limited to
//! [`driver::MAX_BROWSERS`] at a time per test process; waiting for a page has a 30 s ceiling
//! and is never a measure.

#[path = "../common/mod.rs"]
mod common;
// The application as the API tests start it (`spawn_app`), with their request helpers.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod axe;
mod browser;
mod download;
mod driver;
mod forge;
mod funds;
mod screenshots;

mod cross_site;
mod forms;
mod households;
mod look;
mod reform;
mod registers;
mod review;
mod sign_in;
