//! How the pages look: no serious or critical accessibility violation (axe-core), and
//! screenshots of each in both languages at desktop and phone widths.

use std::panic::AssertUnwindSafe;
use std::path::Path;

use futures::FutureExt;

use ansinh::users::Role;

use crate::browser::{in_lang, Browser};
use crate::screenshots::WIDTHS;

/// The width a PNG file says its image has (bytes 16–19 of its IHDR chunk).
fn png_width(file: &Path) -> u32 {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(&bytes[1..4], b"PNG", "{} is a PNG", file.display());
    u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]])
}

/// Checks the page shown with axe-core and photographs it as `page`.
async fn check_and_photograph(b: &Browser, page: &str) {
    b.axe_check().await;
    let files = b.screenshot(page).await;
    let lang = b.lang().await;
    for (file, width) in files.iter().zip(WIDTHS) {
        assert_eq!(
            file.file_name().and_then(|n| n.to_str()),
            Some(format!("{page}-{lang}-{width}.png").as_str())
        );
        // A device pixel ratio of 1: the picture is as wide as the window.
        assert_eq!(png_width(file), width, "{}", file.display());
    }
}

#[tokio::test]
async fn the_sign_in_page_is_accessible_in_both_languages() {
    let b = Browser::start().await;
    for lang in ["vi", "en"] {
        b.open(&in_lang("/login", lang)).await;
        check_and_photograph(&b, "login").await;
    }
    // With an error beside the form.
    let user = b.user(Role::Monitor).await;
    for lang in ["vi", "en"] {
        b.submit_sign_in(&user.name, "sai mật khẩu", lang).await;
        check_and_photograph(&b, "login-error").await;
    }
}

#[tokio::test]
async fn the_start_page_is_accessible_in_both_languages() {
    let b = Browser::start().await;
    b.sign_in(Role::CommuneOfficer).await;
    for lang in ["vi", "en"] {
        b.open(&in_lang("/", lang)).await;
        check_and_photograph(&b, "home").await;
    }
}

#[tokio::test]
async fn the_accessibility_check_fails_on_a_serious_violation() {
    let b = Browser::start().await;
    // No language, an image without a text, a field without a label.
    b.client
        .goto("data:text/html,<title>t</title><img src='x.png'><input type='text'>")
        .await
        .expect("open");
    let failed = AssertUnwindSafe(b.axe_check()).catch_unwind().await;
    let panic = failed.expect_err("the check fails");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    for rule in ["html-has-lang", "image-alt", "label"] {
        assert!(message.contains(rule), "{rule} not in {message}");
    }
}
