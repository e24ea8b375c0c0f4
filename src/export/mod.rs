//! CSV and XLSX exports shared by the API, the web pages and the command line.
//!
//! A list is described once as a [`table`] (columns with Vietnamese and English headers and a
//! kind, rows of typed cells) and written by [`csv`] or [`xlsx`]; the movement report has its
//! own official-form layout in [`movements`]. Exports stream: rows come from a `Stream` (a page
//! pages through the in-process API), the CSV body is sent as they come, and the XLSX sheet is
//! written row by row in rust_xlsxwriter's constant-memory mode to a temporary file that is
//! then streamed.

pub mod csv;
pub mod movements;
pub mod reconciliation;
pub mod table;
pub mod xlsx;

use std::fmt::Display;
use std::fs::File;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

use crate::api::error::ApiError;
use crate::web::i18n::Lang;
pub use table::{Cell, Column, Format, Kind};

/// The export of `rows` under `columns` as a download named `filename` plus the format's
/// extension. A source that fails before the first row answers with its own error (a 403 or
/// a 400 of the in-process API stays what it is); see [`csv::body`] for a later failure.
pub async fn respond<S, E>(
    format: Format,
    filename: &str,
    columns: Vec<Column>,
    lang: Lang,
    rows: S,
) -> Response
where
    S: Stream<Item = Result<Vec<Cell>, E>> + Send + 'static,
    E: IntoResponse + Display + Send + 'static,
{
    match format {
        Format::Csv => {
            let mut rows = Box::pin(rows);
            let first = match rows.next().await {
                Some(Err(e)) => return e.into_response(),
                first => first,
            };
            let rows = futures::stream::iter(first).chain(rows);
            match csv::body(&columns, lang, rows) {
                Ok(body) => download(format, filename, body, None),
                Err(e) => ApiError::internal(e).into_response(),
            }
        }
        Format::Xlsx => match xlsx::build(columns, lang, rows).await {
            Ok(file) => file_response(format, filename, file),
            Err(xlsx::BuildError::Source(e)) => e.into_response(),
            Err(e) => ApiError::internal(e).into_response(),
        },
    }
}

/// The rows of a paged source as one stream: `fetch(offset, limit)` is called for the next
/// page only when the export has taken the rows before it, until a page comes back short.
/// This is how a page helper pages through the in-process API (`limit` within the API's
/// bounds) without holding the whole list.
pub fn paged<F, Fut, E>(
    page_size: i64,
    fetch: F,
) -> impl Stream<Item = Result<Vec<Cell>, E>> + Send + 'static
where
    F: FnMut(i64, i64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<Vec<Cell>>, E>> + Send + 'static,
    E: Send + 'static,
{
    use futures::TryStreamExt;
    let page_size = page_size.max(1);
    futures::stream::try_unfold(
        (0_i64, false, fetch),
        move |(offset, done, mut fetch)| async move {
            if done {
                return Ok(None);
            }
            let rows = fetch(offset, page_size).await?;
            let last = (rows.len() as i64) < page_size;
            Ok(Some((rows, (offset + page_size, last, fetch))))
        },
    )
    .map_ok(|rows| futures::stream::iter(rows.into_iter().map(Ok)))
    .try_flatten()
}

/// A finished file (a built workbook) streamed as the download.
pub fn file_response(format: Format, filename: &str, file: File) -> Response {
    let length = file.metadata().map(|m| m.len()).ok();
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0; 64 * 1024];
        let n = file.read(&mut buffer).await?;
        buffer.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then_some((axum::body::Bytes::from(buffer), file)))
    });
    download(format, filename, Body::from_stream(chunks), length)
}

fn download(format: Format, filename: &str, body: Body, length: Option<u64>) -> Response {
    let name = format!("{filename}.{}", format.extension());
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// `attachment` with an ASCII `filename` (diacritics dropped, for old clients) and the real
/// name in RFC 5987 `filename*`.
pub fn content_disposition(name: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" /
    // "_" / "`" / "|" / "~"; everything else is percent-encoded.
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_name(name),
        utf8_percent_encode(name, ATTR)
    )
}

/// `name` without diacritics (đ as d), in letters, digits, `.`, `-` and `_` only.
pub fn ascii_name(name: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(name.len());
    for c in name.nfd().filter(|c| !is_combining_mark(*c)) {
        match c {
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => out.push(c),
            _ if out.ends_with('-') => {}
            _ => out.push('-'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vietnamese_file_name_has_an_ascii_fallback_and_the_real_name_encoded() {
        let header = content_disposition("Báo cáo biến động Đồng Khởi.xlsx");
        assert_eq!(
            header,
            "attachment; filename=\"Bao-cao-bien-dong-Dong-Khoi.xlsx\"; \
             filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20bi%E1%BA%BFn%20%C4%91%E1%BB%99ng%20%C4%90%E1%BB%93ng%20Kh%E1%BB%9Fi.xlsx"
        );
        assert!(HeaderValue::from_str(&header).is_ok());
        assert_eq!(ascii_name("a\"b;c\r\n.csv"), "a-b-c-.csv");
    }

    /// A source refused before its first row (a 403 of the in-process API) answers with that
    /// error, not with an empty download.
    #[tokio::test]
    async fn a_source_refused_at_once_answers_with_its_error() {
        for format in [Format::Csv, Format::Xlsx] {
            let rows = futures::stream::iter(vec![Err::<Vec<Cell>, _>(ApiError::Forbidden(
                "not your unit".into(),
            ))]);
            let columns = vec![Column::new("Mã", "Code", Kind::Text)];
            let response = respond(format, "x", columns, Lang::Vi, rows).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{format:?}");
            assert!(response
                .headers()
                .get(header::CONTENT_DISPOSITION)
                .is_none());
        }
    }

    #[tokio::test]
    async fn a_paged_source_is_asked_page_by_page_until_a_short_page() {
        use futures::TryStreamExt;
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&asked);
        let rows = paged(100, move |offset, limit| {
            log.lock().expect("lock").push(offset);
            async move {
                let end = (offset + limit).min(1_050);
                Ok::<_, ApiError>((offset..end).map(|n| vec![Cell::Int(n)]).collect())
            }
        });
        let all: Vec<Vec<Cell>> = rows.try_collect().await.expect("rows");
        assert_eq!(all.len(), 1_050);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, r)| r[0] == Cell::Int(i as i64)));
        let offsets: Vec<i64> = (0..=10).map(|p| p * 100).collect();
        assert_eq!(*asked.lock().expect("lock"), offsets);
    }

    #[tokio::test]
    async fn an_empty_list_is_a_file_with_its_header_only() {
        let rows = futures::stream::empty::<Result<Vec<Cell>, ApiError>>();
        let columns = vec![Column::new("Họ tên", "Name", Kind::Text)];
        let response = respond(Format::Csv, "trống", columns, Lang::Vi, rows).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(&body[..], "\u{feff}Họ tên\n".as_bytes());
    }
}
