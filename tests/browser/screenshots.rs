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
            self.fit_window_to_page(width).await;
            let png = self.client.screenshot().await.expect("screenshot");
            let file = dir.join(format!("{page}-{lang}-{width}.png"));
            std::fs::write(&file, png).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
            saved.push(file);
        }
        self.reset_window().await;
        saved
    }

    /// Makes the window `width` wide and as tall as the page's content, so a screenshot holds
    /// all of it and no more. The window's height includes some the page does not get, and the
    /// content may reflow once no scrollbar is needed: a few rounds settle it. A page whose
    /// height swings between two rounds (a scrollbar that comes and goes changes the width
    /// text wraps at) is taken at the taller window, which holds all of it.
    async fn fit_window_to_page(&self, width: u32) {
        let mut height = 800;
        for round in 0..12 {
            self.client
                .set_window_size(width, height)
                .await
                .expect("window size");
            if round >= 2 {
                // A busy machine may lay the page out again after the resize is answered.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let [inner_width, inner, content] = self.window_inside_and_content().await;
            assert_eq!(inner_width, width, "the page is not {width} px wide");
            let holds_all = inner >= content;
            if holds_all && (inner <= content.max(200) + 1 || round >= 4) {
                return;
            }
            let wanted = (height + content.max(200)).saturating_sub(inner);
            // Past the first rounds, only grow: the window then ends up holding the page.
            height = if round >= 3 {
                wanted.max(height)
            } else {
                wanted
            }
            .min(8000);
        }
        panic!("the window would not fit the page at {width} px");
    }

    /// The page's width and height inside the window, and the height of its content.
    async fn window_inside_and_content(&self) -> [u32; 3] {
        let found = self
            .js("return [window.innerWidth, window.innerHeight,
                         Math.ceil(document.documentElement.getBoundingClientRect().height)]")
            .await;
        let number = |i: usize| {
            found[i]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_else(|| panic!("the page's sizes: {found}"))
        };
        [number(0), number(1), number(2)]
    }
}
