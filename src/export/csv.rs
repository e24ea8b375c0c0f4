//! CSV exports: UTF-8 with a byte order mark (so Excel reads Vietnamese right), a header row
//! in the chosen language, dates as ISO `YYYY-MM-DD`, numbers without separators.
//!
//! [`body`] streams: each batch of rows that is ready is encoded into one chunk of the HTTP
//! body, and the next rows are only asked for when the client has taken the chunk, so a
//! province's register never sits in memory.

use std::fmt::Display;
use std::io::Write;

use axum::body::{Body, Bytes};
use futures::{Stream, StreamExt};

use super::table::{yes_no, Cell, Column};
use crate::web::i18n::Lang;

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Rows encoded into one body chunk at most.
pub const BATCH_ROWS: usize = 500;

/// The byte order mark and the header row.
pub fn head(columns: &[Column], lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut out = BOM.to_vec();
    let mut writer = csv::Writer::from_writer(&mut out);
    writer.write_record(columns.iter().map(|c| c.header(lang)))?;
    writer.flush()?;
    drop(writer);
    Ok(out)
}

/// Rows as CSV lines (no header).
pub fn encode(lang: Lang, rows: &[Vec<Cell>]) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::with_capacity(rows.len() * 64);
    let mut writer = csv::Writer::from_writer(&mut out);
    for row in rows {
        writer.write_record(row.iter().map(|cell| field(cell, lang)))?;
    }
    writer.flush()?;
    drop(writer);
    Ok(out)
}

fn field(cell: &Cell, lang: Lang) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::Bool(b) => yes_no(*b, lang).to_owned(),
        Cell::Empty => String::new(),
    }
}

/// A whole CSV file (header and rows) into `out`: the command line's path.
pub fn write_all(
    mut out: impl Write,
    columns: &[Column],
    lang: Lang,
    rows: &[Vec<Cell>],
) -> std::io::Result<()> {
    out.write_all(&head(columns, lang).map_err(std::io::Error::other)?)?;
    for batch in rows.chunks(BATCH_ROWS) {
        out.write_all(&encode(lang, batch).map_err(std::io::Error::other)?)?;
    }
    out.flush()
}

/// The HTTP body of a CSV export: the header, then the rows as they come. A failure of the
/// row source after the first chunk can no longer change the status: it is logged and the
/// body is cut off, so the client sees an incomplete transfer rather than a short file that
/// looks whole.
pub fn body<S, E>(columns: &[Column], lang: Lang, rows: S) -> Result<Body, csv::Error>
where
    S: Stream<Item = Result<Vec<Cell>, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let head = Bytes::from(head(columns, lang)?);
    let chunks = rows.ready_chunks(BATCH_ROWS).map(move |batch| {
        let rows = batch
            .into_iter()
            .collect::<Result<Vec<_>, E>>()
            .map_err(|e| {
                tracing::error!(error = %e, "a CSV export failed while streaming; body cut off");
                std::io::Error::other(e.to_string())
            })?;
        encode(lang, &rows)
            .map(Bytes::from)
            .map_err(std::io::Error::other)
    });
    Ok(Body::from_stream(
        futures::stream::once(async move { Ok(head) }).chain(chunks),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::table::Kind;
    use chrono::NaiveDate;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("Số thứ tự", "No.", Kind::Integer),
            Column::new("Họ tên chủ hộ", "Head of household", Kind::Text),
            Column::new("Số tiền (đồng)", "Amount (VND)", Kind::Vnd),
            Column::new("Ngày", "Date", Kind::Date),
            Column::new("Dân tộc thiểu số", "Ethnic minority", Kind::Bool),
        ]
    }

    fn row(n: i64) -> Vec<Cell> {
        vec![
            Cell::Int(n),
            Cell::Text(format!("Nguyễn Thị Lan, \"{n}\"")),
            Cell::Int(n * 1_000_000),
            NaiveDate::from_ymd_opt(2024, 12, 31).map_or(Cell::Empty, Cell::Date),
            Cell::Bool(n % 2 == 0),
        ]
    }

    /// Many batches of rows, some ready together and some one by one, come out as one CSV
    /// whose every row is there, in order, exactly once, and in more than one body chunk.
    #[tokio::test]
    async fn the_streamed_csv_holds_every_row_of_many_batches_in_order() {
        const BATCHES: i64 = 40;
        const PER_BATCH: i64 = 137;
        let pages = futures::stream::iter(0..BATCHES).then(|page| async move {
            // A page of rows, as a helper paging through the API gets them.
            tokio::task::yield_now().await;
            futures::stream::iter(
                (page * PER_BATCH..(page + 1) * PER_BATCH).map(|n| Ok::<_, String>(row(n))),
            )
        });
        let body = body(&columns(), Lang::Vi, pages.flatten()).expect("body");
        let mut chunks = 0;
        let mut bytes = Vec::new();
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.expect("chunk"));
            chunks += 1;
        }
        assert!(chunks > BATCHES as usize / 2, "{chunks} chunks");
        assert!(bytes.starts_with(BOM));
        let mut reader = csv::Reader::from_reader(&bytes[BOM.len()..]);
        let headers = reader.headers().expect("headers").clone();
        assert_eq!(&headers[1], "Họ tên chủ hộ");
        let records: Vec<csv::StringRecord> =
            reader.records().collect::<Result<_, _>>().expect("csv");
        assert_eq!(records.len() as i64, BATCHES * PER_BATCH);
        for (n, record) in records.iter().enumerate() {
            let n = n as i64;
            assert_eq!(&record[0], n.to_string());
            assert_eq!(&record[1], format!("Nguyễn Thị Lan, \"{n}\""));
            assert_eq!(&record[2], (n * 1_000_000).to_string());
            assert_eq!(&record[3], "2024-12-31");
            assert_eq!(&record[4], if n % 2 == 0 { "Có" } else { "Không" });
        }
    }

    #[tokio::test]
    async fn a_failing_source_cuts_the_body_off_instead_of_ending_it() {
        let rows = futures::stream::iter(vec![Ok(row(1)), Err("the database went away")]);
        let body = body(&columns(), Lang::En, rows).expect("body");
        let collected = axum::body::to_bytes(body, usize::MAX).await;
        assert!(collected.is_err(), "the body ended as if whole");
    }
}
