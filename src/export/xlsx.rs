//! XLSX exports with rust_xlsxwriter in constant-memory mode: each row goes to the sheet's
//! temporary file as it is written, so memory stays flat however long the list. Numbers are
//! numbers (VND with a thousands format), dates real Excel dates shown dd/mm/yyyy.
//!
//! A workbook is a zip whose directory comes last, so nothing can be sent before the last row
//! is written: [`build`] writes the rows as they come into an anonymous temporary file and
//! hands it back, and the caller streams the file.

use std::fs::File;
use std::io::{Seek, Write};

use futures::{Stream, StreamExt};
use rust_xlsxwriter::{
    ColNum, ExcelDateTime, Format, FormatAlign, FormatBorder, RowNum, Workbook, Worksheet,
    XlsxError,
};

use super::table::{Cell, Column, Kind};
use crate::web::i18n::Lang;

/// Rows handed to the writer thread at once.
const BATCH_ROWS: usize = 500;

/// The cell formats of an export.
pub struct Formats {
    pub header: Format,
    pub text: Format,
    pub vnd: Format,
    pub integer: Format,
    pub date: Format,
}

impl Formats {
    /// Plain formats; `bordered` draws thin borders round every cell (the official forms).
    pub fn new(bordered: bool) -> Formats {
        let border = |f: Format| {
            if bordered {
                f.set_border(FormatBorder::Thin)
            } else {
                f
            }
        };
        Formats {
            header: border(
                Format::new()
                    .set_bold()
                    .set_text_wrap()
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter),
            ),
            text: border(Format::new()),
            vnd: border(Format::new().set_num_format("#,##0")),
            integer: border(Format::new().set_num_format("0")),
            date: border(Format::new().set_num_format("dd/mm/yyyy")),
        }
    }

    pub fn for_kind(&self, kind: Kind) -> &Format {
        match kind {
            Kind::Text | Kind::Bool => &self.text,
            Kind::Vnd => &self.vnd,
            Kind::Integer => &self.integer,
            Kind::Date => &self.date,
        }
    }

    /// The same formats in bold (total rows).
    pub fn bold(&self) -> Formats {
        Formats {
            header: self.header.clone(),
            text: self.text.clone().set_bold(),
            vnd: self.vnd.clone().set_bold(),
            integer: self.integer.clone().set_bold(),
            date: self.date.clone().set_bold(),
        }
    }
}

/// Writes one typed cell: numbers as numbers, dates as dates, in the column's format.
pub fn write_cell(
    sheet: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    cell: &Cell,
    kind: Kind,
    formats: &Formats,
) -> Result<(), XlsxError> {
    let format = formats.for_kind(kind);
    match cell {
        Cell::Text(s) => sheet.write_string_with_format(row, col, s, &formats.text)?,
        // Exact: counts and đồng amounts stay far below 2^53.
        Cell::Int(n) => sheet.write_number_with_format(row, col, *n as f64, format)?,
        Cell::Date(d) => {
            use chrono::Datelike;
            let date = ExcelDateTime::from_ymd(
                u16::try_from(d.year())
                    .map_err(|_| XlsxError::DateTimeRangeError(d.to_string()))?,
                d.month() as u8,
                d.day() as u8,
            )?;
            sheet.write_date_with_format(row, col, &date, &formats.date)?
        }
        Cell::Bool(b) => sheet.write_boolean_with_format(row, col, *b, &formats.text)?,
        Cell::Empty => sheet.write_blank(row, col, format)?,
    };
    Ok(())
}

/// A one-sheet list export: a header row, then rows in order.
pub struct ListSheet {
    workbook: Workbook,
    formats: Formats,
    kinds: Vec<Kind>,
    next_row: RowNum,
}

impl ListSheet {
    pub fn new(columns: &[Column], lang: Lang) -> Result<ListSheet, XlsxError> {
        let mut workbook = Workbook::new();
        let formats = Formats::new(false);
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        for (i, column) in columns.iter().enumerate() {
            let col = col_num(i)?;
            sheet.set_column_width(col, column.width(lang))?;
            sheet.write_string_with_format(0, col, column.header(lang), &formats.header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(ListSheet {
            workbook,
            formats,
            kinds: columns.iter().map(|c| c.kind).collect(),
            next_row: 1,
        })
    }

    pub fn write_rows(&mut self, rows: &[Vec<Cell>]) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                let kind = self.kinds.get(i).copied().unwrap_or(Kind::Text);
                write_cell(sheet, self.next_row, col_num(i)?, cell, kind, &self.formats)?;
            }
            self.next_row += 1;
        }
        Ok(())
    }

    pub fn finish(mut self, out: impl Write + Send) -> Result<(), XlsxError> {
        self.workbook.save_to_writer(out)
    }
}

pub fn col_num(i: usize) -> Result<ColNum, XlsxError> {
    ColNum::try_from(i).map_err(|_| XlsxError::RowColumnLimitError)
}

/// Why a built export is missing.
#[derive(Debug, thiserror::Error)]
pub enum BuildError<E> {
    /// The rows' source failed.
    #[error("{0}")]
    Source(E),
    #[error("could not write the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("could not write the workbook: {0}")]
    Io(#[from] std::io::Error),
}

/// Saves a workbook `write` fills into an anonymous temporary file (gone when closed), rewound
/// for reading.
pub fn to_temp_file(
    write: impl FnOnce(&mut File) -> Result<(), XlsxError>,
) -> Result<File, BuildError<std::convert::Infallible>> {
    let mut file = tempfile::tempfile()?;
    write(&mut file)?;
    file.flush()?;
    file.rewind()?;
    Ok(file)
}

/// The list export of `rows` in a temporary file. The rows are written on a blocking thread
/// as they arrive, a few batches ahead at most.
pub async fn build<S, E>(columns: Vec<Column>, lang: Lang, rows: S) -> Result<File, BuildError<E>>
where
    S: Stream<Item = Result<Vec<Cell>, E>> + Send + 'static,
    E: Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Vec<Cell>>>(2);
    let writer = tokio::task::spawn_blocking(move || {
        let mut sheet = ListSheet::new(&columns, lang)?;
        while let Some(batch) = rx.blocking_recv() {
            sheet.write_rows(&batch)?;
        }
        to_temp_file(|file| sheet.finish(file)).map_err(|e| match e {
            BuildError::Xlsx(e) => BuildError::Xlsx(e),
            BuildError::Io(e) => BuildError::Io(e),
            BuildError::Source(never) => match never {},
        })
    });
    let mut failed = None;
    let mut batches = std::pin::pin!(rows.ready_chunks(BATCH_ROWS));
    while let Some(batch) = batches.next().await {
        match batch.into_iter().collect::<Result<Vec<_>, E>>() {
            Ok(batch) => {
                // A closed channel means the writer failed: its error is returned below.
                if tx.send(batch).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| BuildError::Io(std::io::Error::other(e)))?;
    match failed {
        Some(e) => Err(BuildError::Source(e)),
        None => written,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
    use chrono::NaiveDate;

    use super::*;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("Họ tên chủ hộ", "Head of household", Kind::Text),
            Column::new("Số tiền (đồng)", "Amount (VND)", Kind::Vnd),
            Column::new("Ngày chi", "Disbursed on", Kind::Date),
            Column::new("Dân tộc thiểu số", "Ethnic minority", Kind::Bool),
            Column::new("Số nhân khẩu", "Members", Kind::Integer),
            Column::new("Số quyết định", "Decision", Kind::Text),
        ]
    }

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + chrono::Duration::days(n % 365)
    }

    #[tokio::test]
    async fn a_list_export_writes_numbers_dates_and_text_as_such_row_after_row() {
        const ROWS: i64 = 2_500;
        let rows = futures::stream::iter((0..ROWS).map(|n| {
            Ok::<_, String>(vec![
                Cell::Text(format!("Nguyễn Thị Lan {n}")),
                Cell::Int(1_500_000 + n),
                Cell::Date(day(n)),
                Cell::Bool(n % 3 == 0),
                Cell::Int(n % 7),
                Cell::Empty,
            ])
        }));
        let mut file = build(columns(), Lang::Vi, rows).await.expect("built");
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).expect("read");
        let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("xlsx");
        let range = book.worksheet_range_at(0).expect("sheet").expect("read");
        assert_eq!(range.height() as i64, ROWS + 1);
        assert_eq!(
            range.get_value((0, 0)),
            Some(&Data::String("Họ tên chủ hộ".into()))
        );
        for n in [0, 1, 1_234, ROWS - 1] {
            let row = n as u32 + 1;
            assert_eq!(
                range.get_value((row, 0)),
                Some(&Data::String(format!("Nguyễn Thị Lan {n}")))
            );
            assert_eq!(
                range.get_value((row, 1)),
                Some(&Data::Float((1_500_000 + n) as f64))
            );
            match range.get_value((row, 2)) {
                Some(Data::DateTime(d)) => {
                    assert_eq!(d.as_datetime().map(|t| t.date()), Some(day(n)))
                }
                other => panic!("row {row}: not a date: {other:?}"),
            }
            assert_eq!(range.get_value((row, 3)), Some(&Data::Bool(n % 3 == 0)));
            assert_eq!(
                range.get_value((row, 4)),
                Some(&Data::Float((n % 7) as f64))
            );
        }
    }

    #[tokio::test]
    async fn a_failing_source_gives_its_error_and_no_file() {
        let rows = futures::stream::iter(vec![
            Ok(vec![Cell::Text("a".into())]),
            Err("the database went away"),
        ]);
        match build(columns(), Lang::En, rows).await {
            Err(BuildError::Source(e)) => assert_eq!(e, "the database went away"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
