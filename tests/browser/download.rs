//! Downloads (CSV, XLSX exports) fetched as the signed-in browser would: with its cookies, read
//! over WebDriver (the session cookie is HttpOnly, so page scripts cannot see it).

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use reqwest::StatusCode;

use crate::browser::Browser;

/// What a download link answered.
#[derive(Debug)]
pub struct Download {
    pub url: String,
    pub status: StatusCode,
    pub content_type: String,
    /// `attachment; filename=…` for an export (none of today's pages has one yet).
    #[allow(dead_code)]
    pub content_disposition: String,
    pub bytes: Vec<u8>,
}

// For the export tests to come (issue 11): every list page gets CSV and XLSX exports.
#[allow(dead_code)]
impl Download {
    /// The body as an XLSX workbook; panics unless it is one.
    pub fn xlsx(&self) -> Xlsx<Cursor<Vec<u8>>> {
        Xlsx::new(Cursor::new(self.bytes.clone()))
            .unwrap_or_else(|e| panic!("{} is not an XLSX workbook: {e}", self.url))
    }

    /// Every cell of the workbook's first sheet as text, row by row.
    pub fn xlsx_rows(&self) -> Vec<Vec<String>> {
        let mut workbook = self.xlsx();
        let range = workbook
            .worksheet_range_at(0)
            .unwrap_or_else(|| panic!("{} has no sheet", self.url))
            .unwrap_or_else(|e| panic!("{}: {e}", self.url));
        range
            .rows()
            .map(|row| row.iter().map(|cell| cell.to_string()).collect())
            .collect()
    }

    /// The body as UTF-8 text (a CSV export).
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone())
            .unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", self.url))
    }
}

impl Browser {
    /// GETs `href` (absolute, or relative to the page shown) with the browser's cookies.
    pub async fn download(&self, href: &str) -> Download {
        let page = self.client.current_url().await.expect("current URL");
        let url = page
            .join(href)
            .unwrap_or_else(|e| panic!("{href} is not a link from {page}: {e}"));
        let cookies = self
            .client
            .get_all_cookies()
            .await
            .expect("the browser's cookies")
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ");
        let response = reqwest::Client::new()
            .get(url.as_str())
            .header(COOKIE, cookies)
            .send()
            .await
            .unwrap_or_else(|e| panic!("download {url}: {e}"));
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, content_disposition) =
            (header(CONTENT_TYPE), header(CONTENT_DISPOSITION));
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .expect("the download's body")
            .to_vec();
        Download {
            url: url.to_string(),
            status,
            content_type,
            content_disposition,
            bytes,
        }
    }

    /// Downloads what the link `css` selects points to (e.g. `a[href*="format=xlsx"]`).
    pub async fn download_link(&self, css: &str) -> Download {
        let href = self
            .find(css)
            .await
            .attr("href")
            .await
            .expect("href")
            .unwrap_or_else(|| panic!("{css} has no href"));
        self.download(&href).await
    }
}
