//! Screenshots of whole pages at a desktop and a phone width, into `target/screenshots/`, named
//! `<page>-<lang>-<width>.png` (the README shows some of them).

use std::path::PathBuf;

use crate::browser::Browser;

/// A desktop and a phone.
pub const WIDTHS: [u32; 2] = [1280, 375];

/// `target/screenshots` (the tests' `CARGO_TARGET_TMPDIR` is `target/tmp`).
pub fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("screenshots")
}

impl Browser {
    /// Saves the page shown, whole, at each of [`WIDTHS`] as `<page>-<lang>-<width>.png`
    /// (`lang` read from the page); returns the files. The window is put back afterwards.
    pub async fn screenshot(&self, page: &str) -> Vec<PathBuf> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let lang = self.lang().await;
        let mut saved = Vec::new();
        for width in WIDTHS {
            self.client
                .set_window_size(width, 800)
                .await
                .expect("window size");
            let shown = self.js("return window.innerWidth").await;
            assert_eq!(shown, width, "the browser would not be {width} px wide");
            // As tall as the page's content, so the picture holds all of it and no more.
            let height = self
                .js("return Math.ceil(document.documentElement.getBoundingClientRect().height)")
                .await
                .as_u64()
                .and_then(|h| u32::try_from(h).ok())
                .unwrap_or(800)
                .clamp(400, 8000);
            self.client
                .set_window_size(width, height)
                .await
                .expect("window size");
            let png = self.client.screenshot().await.expect("screenshot");
            let file = dir.join(format!("{page}-{lang}-{width}.png"));
            std::fs::write(&file, png).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
            saved.push(file);
        }
        self.reset_window().await;
        saved
    }
}
