//! Writing a generated province: CSV (UTF-8 with BOM, so spreadsheet programs read the
//! Vietnamese right) or XLSX (dates as dates, amounts as numbers). Both are byte-for-byte
//! deterministic.

use std::io::Write;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::import::format::{self, ReviewRow, SupportRow, REVIEW_COLUMNS, SUPPORT_COLUMNS};

use super::{GenerateError, Generated};

fn failed(path: &Path, message: impl ToString) -> GenerateError {
    GenerateError::Write {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn header(columns: &[(&'static str, &[&str])]) -> Vec<&'static str> {
    columns.iter().map(|(name, _)| *name).collect()
}

type CsvOut = csv::Writer<std::io::BufWriter<std::fs::File>>;

fn csv_file(path: &Path, columns: &[(&'static str, &[&str])]) -> Result<CsvOut, GenerateError> {
    let file = std::fs::File::create(path).map_err(|e| failed(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all("\u{feff}".as_bytes())
        .map_err(|e| failed(path, e))?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer
        .write_record(header(columns))
        .map_err(|e| failed(path, e))?;
    Ok(writer)
}

fn close_csv(path: &Path, writer: CsvOut) -> Result<(), GenerateError> {
    let out = writer.into_inner().map_err(|e| failed(path, e))?;
    out.into_inner()
        .map_err(|e| failed(path, e.error()))?
        .sync_all()
        .map_err(|e| failed(path, e))
}

/// Columns written as numbers.
const NUMBERS: [&str; 2] = ["income_per_capita_vnd", "amount_vnd"];
/// Columns written as dates.
const DATES: [&str; 4] = ["registered_on", "survey_date", "decided_on", "disbursed_on"];

fn start_sheet(
    sheet: &mut Worksheet,
    name: &str,
    columns: &[(&'static str, &[&str])],
) -> Result<(), XlsxError> {
    sheet.set_name(name)?;
    let bold = Format::new().set_bold();
    for (c, n) in header(columns).iter().enumerate() {
        let width = match *n {
            "members" => 60.0,
            "head_name" | "hamlet" | "surveyor" | "disbursed_by" | "deprivations" => 24.0,
            _ => 14.0,
        };
        let col = c as u16;
        sheet.set_column_width(col, width)?;
        sheet.write_string_with_format(0, col, *n, &bold)?;
    }
    Ok(())
}

struct CellFormats {
    day: Format,
    amount: Format,
}

fn sheet_row(
    sheet: &mut Worksheet,
    row: u32,
    columns: &[(&'static str, &[&str])],
    cells: &[&str],
    formats: &CellFormats,
) -> Result<(), XlsxError> {
    for (c, (cell, (kind, _))) in cells.iter().zip(columns).enumerate() {
        let col = c as u16;
        if cell.is_empty() {
            continue;
        }
        if NUMBERS.contains(kind) {
            if let Ok(n) = cell.parse::<i64>() {
                sheet.write_number_with_format(row, col, n as f64, &formats.amount)?;
                continue;
            }
        }
        if DATES.contains(kind) {
            if let Ok(d) = chrono::NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
                use chrono::Datelike;
                let when = ExcelDateTime::from_ymd(
                    u16::try_from(d.year())
                        .map_err(|_| XlsxError::DateTimeRangeError(cell.to_string()))?,
                    d.month() as u8,
                    d.day() as u8,
                )?;
                sheet.write_datetime_with_format(row, col, &when, &formats.day)?;
                continue;
            }
        }
        sheet.write_string(row, col, *cell)?;
    }
    Ok(())
}

enum Sink {
    Csv(Box<CsvSink>),
    Xlsx(Box<XlsxSink>),
}

struct CsvSink {
    reviews: CsvOut,
    supports: CsvOut,
    supports_path: PathBuf,
}

struct XlsxSink {
    book: Workbook,
    formats: CellFormats,
    review_row: u32,
    support_row: u32,
}

/// Writes rows as they come, to `FILE.csv` and `FILE.supports.csv` or to the sheets `reviews`
/// and `supports` of `FILE.xlsx` (the XLSX sheets are kept in temporary files, so memory stays
/// bounded either way).
pub struct Writer {
    path: PathBuf,
    sink: Sink,
}

impl Writer {
    pub fn create(path: &Path) -> Result<Writer, GenerateError> {
        let sink = match super::Format::of(path)? {
            super::Format::Csv => {
                let supports_path = format::supports_path(path);
                Sink::Csv(Box::new(CsvSink {
                    reviews: csv_file(path, REVIEW_COLUMNS)?,
                    supports: csv_file(&supports_path, SUPPORT_COLUMNS)?,
                    supports_path,
                }))
            }
            super::Format::Xlsx => {
                let fail = |e: XlsxError| failed(path, e);
                let mut book = Workbook::new();
                // A fixed creation time keeps the file byte-for-byte the same for a seed.
                let created = ExcelDateTime::from_ymd(2025, 1, 1).map_err(fail)?;
                book.set_properties(
                    &DocProperties::new()
                        .set_title("ansinh synthetic province (Tây Ninh)")
                        .set_creation_datetime(&created),
                );
                let reviews = book.add_worksheet_with_constant_memory().map_err(fail)?;
                start_sheet(reviews, "reviews", REVIEW_COLUMNS).map_err(fail)?;
                let supports = book.add_worksheet_with_constant_memory().map_err(fail)?;
                start_sheet(supports, "supports", SUPPORT_COLUMNS).map_err(fail)?;
                Sink::Xlsx(Box::new(XlsxSink {
                    book,
                    formats: CellFormats {
                        day: Format::new().set_num_format("yyyy-mm-dd"),
                        amount: Format::new().set_num_format("#,##0"),
                    },
                    review_row: 1,
                    support_row: 1,
                }))
            }
        };
        Ok(Writer {
            path: path.to_path_buf(),
            sink,
        })
    }

    pub fn review(&mut self, row: &ReviewRow) -> Result<(), GenerateError> {
        let path = &self.path;
        match &mut self.sink {
            Sink::Csv(c) => c
                .reviews
                .write_record(row.cells())
                .map_err(|e| failed(path, e)),
            Sink::Xlsx(x) => {
                let sheet = x
                    .book
                    .worksheet_from_index(0)
                    .map_err(|e| failed(path, e))?;
                sheet_row(
                    sheet,
                    x.review_row,
                    REVIEW_COLUMNS,
                    &row.cells(),
                    &x.formats,
                )
                .map_err(|e| failed(path, e))?;
                x.review_row += 1;
                Ok(())
            }
        }
    }

    pub fn support(&mut self, row: &SupportRow) -> Result<(), GenerateError> {
        let path = &self.path;
        match &mut self.sink {
            Sink::Csv(c) => c
                .supports
                .write_record(row.cells())
                .map_err(|e| failed(&c.supports_path, e)),
            Sink::Xlsx(x) => {
                let sheet = x
                    .book
                    .worksheet_from_index(1)
                    .map_err(|e| failed(path, e))?;
                sheet_row(
                    sheet,
                    x.support_row,
                    SUPPORT_COLUMNS,
                    &row.cells(),
                    &x.formats,
                )
                .map_err(|e| failed(path, e))?;
                x.support_row += 1;
                Ok(())
            }
        }
    }

    /// Completes the files; returns their paths.
    pub fn finish(self) -> Result<Vec<PathBuf>, GenerateError> {
        match self.sink {
            Sink::Csv(c) => {
                let CsvSink {
                    reviews,
                    supports,
                    supports_path,
                } = *c;
                close_csv(&self.path, reviews)?;
                close_csv(&supports_path, supports)?;
                Ok(vec![self.path, supports_path])
            }
            Sink::Xlsx(mut x) => {
                x.book.save(&self.path).map_err(|e| failed(&self.path, e))?;
                Ok(vec![self.path])
            }
        }
    }
}

/// Writes a whole generated province (see [`Writer`]).
pub fn generated(path: &Path, generated: &Generated) -> Result<Vec<PathBuf>, GenerateError> {
    let mut writer = Writer::create(path)?;
    for r in &generated.reviews {
        writer.review(r)?;
    }
    for s in &generated.supports {
        writer.support(s)?;
    }
    writer.finish()
}
