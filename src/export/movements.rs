//! The movement report's exports. The XLSX is laid out like the official form: title rows
//! (unit, period, standard), three rows of merged headers — "Hộ nghèo" / "Hộ cận nghèo" over
//! đầu kỳ, tăng (phát sinh mới, tái nghèo, …), giảm (…) and cuối kỳ — a row of column
//! numbers, then one row per unit directly below the requested one, the total row (the
//! requested unit's own report, the numbers of the API's JSON) and its breakdowns. The CSV
//! has the same rows, one line each, under flat headers.

use std::borrow::Cow;

use ansinh_projections::movements::Tables;
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::table::{Cell, Column, Kind};
use super::xlsx::{col_num, write_cell, Formats};
use crate::movement_report::MovementSheet;
use crate::web::i18n::Lang;

/// A number of the report: its header and where it is read from.
struct Measure {
    vi: &'static str,
    en: &'static str,
    value: fn(&Tables) -> i64,
}

/// A header over one or more numbers: one number spans both lower header rows, a group spans
/// the middle row over its numbers.
struct Part {
    vi: &'static str,
    en: &'static str,
    measures: &'static [Measure],
}

/// One of the two tables (poor, near-poor), under its group header.
struct Block {
    vi: &'static str,
    en: &'static str,
    parts: &'static [Part],
}

macro_rules! measure {
    ($vi:expr, $en:expr, $table:ident . $field:ident) => {
        Measure {
            vi: $vi,
            en: $en,
            value: |t: &Tables| t.$table.$field,
        }
    };
}

const BLOCKS: [Block; 2] = [
    Block {
        vi: "Hộ nghèo",
        en: "Poor households",
        parts: &[
            Part {
                vi: "Đầu kỳ",
                en: "Opening",
                measures: &[measure!("Đầu kỳ", "Opening", poor.opening)],
            },
            Part {
                vi: "Tăng trong kỳ",
                en: "Increases",
                measures: &[
                    measure!("Phát sinh mới", "Newly poor", poor.newly_poor),
                    measure!("Tái nghèo", "Fell back", poor.fell_back),
                    measure!("Từ hộ cận nghèo", "From near-poor", poor.from_near_poor),
                    measure!("Tăng khác", "Other increase", poor.other_increase),
                    measure!("Cộng tăng", "Total increases", poor.increases),
                ],
            },
            Part {
                vi: "Giảm trong kỳ",
                en: "Decreases",
                measures: &[
                    measure!(
                        "Thoát nghèo, thành hộ cận nghèo",
                        "Exited to near-poor",
                        poor.exited_to_near_poor
                    ),
                    measure!(
                        "Thoát nghèo, trên chuẩn cận nghèo",
                        "Exited above near-poor",
                        poor.exited_above_near_poor
                    ),
                    measure!("Giảm khác", "Other decrease", poor.other_decrease),
                    measure!("Cộng giảm", "Total decreases", poor.decreases),
                ],
            },
            Part {
                vi: "Cuối kỳ",
                en: "Closing",
                measures: &[measure!("Cuối kỳ", "Closing", poor.closing)],
            },
        ],
    },
    Block {
        vi: "Hộ cận nghèo",
        en: "Near-poor households",
        parts: &[
            Part {
                vi: "Đầu kỳ",
                en: "Opening",
                measures: &[measure!("Đầu kỳ", "Opening", near_poor.opening)],
            },
            Part {
                vi: "Tăng trong kỳ",
                en: "Increases",
                measures: &[
                    measure!(
                        "Phát sinh mới",
                        "Newly near-poor",
                        near_poor.newly_near_poor
                    ),
                    measure!("Tái cận nghèo", "Fell back", near_poor.fell_back),
                    measure!(
                        "Từ hộ nghèo (thoát nghèo)",
                        "From poor",
                        near_poor.from_poor
                    ),
                    measure!("Tăng khác", "Other increase", near_poor.other_increase),
                    measure!("Cộng tăng", "Total increases", near_poor.increases),
                ],
            },
            Part {
                vi: "Giảm trong kỳ",
                en: "Decreases",
                measures: &[
                    measure!("Thành hộ nghèo", "Became poor", near_poor.to_poor),
                    measure!("Thoát cận nghèo", "Exited near-poverty", near_poor.exited),
                    measure!("Giảm khác", "Other decrease", near_poor.other_decrease),
                    measure!("Cộng giảm", "Total decreases", near_poor.decreases),
                ],
            },
            Part {
                vi: "Cuối kỳ",
                en: "Closing",
                measures: &[measure!("Cuối kỳ", "Closing", near_poor.closing)],
            },
        ],
    },
];

fn text(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// Every number of a row, in column order, with its block and part.
fn measures() -> impl Iterator<Item = (&'static Block, &'static Part, &'static Measure)> {
    BLOCKS.iter().flat_map(|block| {
        block
            .parts
            .iter()
            .flat_map(move |part| part.measures.iter().map(move |m| (block, part, m)))
    })
}

/// The numbers of `tables` in column order (what both exports write).
pub fn numbers(tables: &Tables) -> Vec<i64> {
    measures().map(|(_, _, m)| (m.value)(tables)).collect()
}

/// A row of the report: what it is, and its tables.
struct Line<'a> {
    code: &'a str,
    name: Cow<'a, str>,
    kind_vi: &'static str,
    kind_en: &'static str,
    /// The requested unit's own row.
    total: bool,
    tables: Tables,
}

fn lines<'a>(sheet: &'a MovementSheet, lang: Lang) -> Vec<Line<'a>> {
    let report = &sheet.report;
    let mut lines: Vec<Line<'a>> = sheet
        .units
        .iter()
        .map(|u| Line {
            code: &u.code,
            name: Cow::Borrowed(&u.name),
            kind_vi: "đơn vị trực thuộc",
            kind_en: "unit below",
            total: false,
            tables: u.tables,
        })
        .collect();
    lines.push(Line {
        code: &report.unit,
        name: Cow::Owned(format!(
            "{} ({})",
            text(lang, "Tổng cộng", "Total"),
            sheet.unit_name
        )),
        kind_vi: "tổng cộng",
        kind_en: "total",
        total: true,
        tables: Tables {
            poor: report.poor,
            near_poor: report.near_poor,
        },
    });
    let b = &report.breakdowns;
    for (tables, vi, en) in [
        (
            b.ethnic_minority,
            "trong đó: hộ dân tộc thiểu số",
            "of which: ethnic minority households",
        ),
        (
            b.no_working_capacity,
            "trong đó: hộ không có khả năng lao động",
            "of which: households with no working capacity",
        ),
        (
            b.merit_family,
            "trong đó: hộ có công với cách mạng",
            "of which: merit families",
        ),
    ] {
        lines.push(Line {
            code: &report.unit,
            name: Cow::Borrowed(text(lang, vi, en)),
            kind_vi: vi,
            kind_en: en,
            total: false,
            tables,
        });
    }
    lines
}

// ------------------------------------------------------------------------------ CSV

/// The CSV columns: unit code, unit name, which row, then every number under a flat header
/// ("Hộ nghèo – Tăng trong kỳ – Tái nghèo").
pub fn csv_columns() -> Vec<Column> {
    let mut columns = vec![
        Column::new("Mã đơn vị", "Unit code", Kind::Text),
        Column::new("Tên đơn vị", "Unit name", Kind::Text),
        Column::new("Dòng", "Row", Kind::Text),
    ];
    for (block, part, m) in measures() {
        let header = |b: &str, p: &str, m: &str| {
            if p == m {
                format!("{b} – {m}")
            } else {
                format!("{b} – {p} – {m}")
            }
        };
        columns.push(Column {
            vi: Cow::Owned(header(block.vi, part.vi, m.vi)),
            en: Cow::Owned(header(block.en, part.en, m.en)),
            kind: Kind::Integer,
        });
    }
    columns
}

/// The CSV rows: each unit below, the total, its breakdowns.
pub fn csv_rows(sheet: &MovementSheet, lang: Lang) -> Vec<Vec<Cell>> {
    lines(sheet, lang)
        .into_iter()
        .map(|line| {
            let mut row = vec![
                Cell::Text(line.code.to_owned()),
                Cell::Text(line.name.into_owned()),
                Cell::Text(text(lang, line.kind_vi, line.kind_en).to_owned()),
            ];
            row.extend(numbers(&line.tables).into_iter().map(Cell::Int));
            row
        })
        .collect()
}

// ------------------------------------------------------------------------------ XLSX

/// Where the parts of the sheet are, for readers and tests.
pub mod layout {
    /// Rows of the title (0-based): title, unit, period, standard, unit of count.
    pub const TITLE_ROWS: u32 = 5;
    /// The three header rows: block, part, measure.
    pub const HEADER_ROW: u32 = TITLE_ROWS;
    /// The row of column numbers "(1)", "(2)", …
    pub const NUMBERS_ROW: u32 = HEADER_ROW + 3;
    /// The first unit's row.
    pub const FIRST_DATA_ROW: u32 = NUMBERS_ROW + 1;
    /// Columns before the numbers: number in the list, code, name.
    pub const FIRST_NUMBER_COL: u16 = 3;
}

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The official-form workbook of a movement report.
pub fn workbook(
    sheet: &MovementSheet,
    lang: Lang,
    today: NaiveDate,
) -> Result<Workbook, XlsxError> {
    use layout::*;
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    ws.set_name(text(lang, "Biến động", "Movements"))?;
    let count = measures().count();
    let last_col = col_num(usize::from(FIRST_NUMBER_COL) + count - 1)?;
    let formats = Formats::new(true);
    let bold = formats.bold();
    let title = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Center);
    let centered = Format::new().set_align(FormatAlign::Center);
    let report = &sheet.report;

    ws.merge_range(
        0,
        0,
        0,
        last_col,
        text(
            lang,
            "BÁO CÁO KẾT QUẢ BIẾN ĐỘNG HỘ NGHÈO, HỘ CẬN NGHÈO",
            "MOVEMENTS OF POOR AND NEAR-POOR HOUSEHOLDS",
        ),
        &title,
    )?;
    let subtitle = [
        format!(
            "{}: {} ({} {})",
            text(lang, "Đơn vị", "Unit"),
            sheet.unit_name,
            text(lang, "mã", "code"),
            report.unit
        ),
        format!(
            "{} {} {} {}",
            text(lang, "Kỳ báo cáo: từ ngày", "Period: from"),
            date(report.from),
            text(lang, "đến ngày", "to"),
            date(report.to)
        ),
        format!(
            "{}: {} ({}) — {}",
            text(lang, "Chuẩn nghèo", "Poverty standard"),
            sheet.standard_name,
            report.standard,
            sheet.legal_basis
        ),
    ];
    for (i, line) in subtitle.iter().enumerate() {
        ws.merge_range(1 + i as u32, 0, 1 + i as u32, last_col, line, &centered)?;
    }
    ws.write_string_with_format(
        4,
        last_col,
        text(lang, "Đơn vị tính: hộ", "Counted in households"),
        &Format::new().set_italic().set_align(FormatAlign::Right),
    )?;

    headers(ws, lang, &formats)?;
    for col in 0..=last_col {
        ws.write_string_with_format(NUMBERS_ROW, col, &format!("({})", col + 1), &formats.header)?;
    }

    let mut row = FIRST_DATA_ROW;
    for (i, line) in lines(sheet, lang).iter().enumerate() {
        let is_unit = i < sheet.units.len();
        let f = if line.total { &bold } else { &formats };
        let position = if is_unit {
            Cell::Int(i as i64 + 1)
        } else {
            Cell::Empty
        };
        write_cell(ws, row, 0, &position, Kind::Integer, f)?;
        write_cell(ws, row, 1, &Cell::Text(line.code.to_owned()), Kind::Text, f)?;
        write_cell(
            ws,
            row,
            2,
            &Cell::Text(line.name.to_string()),
            Kind::Text,
            f,
        )?;
        for (j, n) in numbers(&line.tables).into_iter().enumerate() {
            let col = col_num(usize::from(FIRST_NUMBER_COL) + j)?;
            write_cell(ws, row, col, &Cell::Int(n), Kind::Integer, f)?;
        }
        row += 1;
    }

    let note = Format::new().set_italic();
    ws.write_string_with_format(
        row + 1,
        0,
        text(
            lang,
            "Ghi chú: Đầu kỳ + Cộng tăng − Cộng giảm = Cuối kỳ. Dòng tổng cộng là số liệu của cả đơn vị: hộ chuyển giữa các đơn vị trực thuộc được tính vào tăng, giảm khác của từng đơn vị nhưng không làm thay đổi dòng tổng cộng.",
            "Note: opening + total increases − total decreases = closing. The total row counts the whole unit: a household moving between two units below it is an other increase and an other decrease of those units but leaves the total unchanged.",
        ),
        &note,
    )?;
    ws.write_string_with_format(
        row + 2,
        0,
        &format!(
            "{} {} {}",
            text(lang, "Lập ngày", "Made on"),
            date(today),
            text(lang, "bằng ansinh.", "with ansinh.")
        ),
        &note,
    )?;

    ws.set_column_width(0, 5)?;
    ws.set_column_width(1, 8)?;
    ws.set_column_width(2, 34)?;
    for col in FIRST_NUMBER_COL..=last_col {
        ws.set_column_width(col, 11)?;
    }
    ws.set_row_height(HEADER_ROW + 2, 48)?;
    ws.set_freeze_panes(FIRST_DATA_ROW, FIRST_NUMBER_COL)?;
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(HEADER_ROW, NUMBERS_ROW)?;
    Ok(workbook)
}

/// The three header rows with their merged cells.
fn headers(ws: &mut Worksheet, lang: Lang, formats: &Formats) -> Result<(), XlsxError> {
    use layout::*;
    let (top, middle, bottom) = (HEADER_ROW, HEADER_ROW + 1, HEADER_ROW + 2);
    let h = &formats.header;
    for (col, vi, en) in [
        (0, "STT", "No."),
        (1, "Mã đơn vị", "Unit code"),
        (2, "Tên đơn vị", "Unit"),
    ] {
        ws.merge_range(top, col, bottom, col, text(lang, vi, en), h)?;
    }
    let mut col = usize::from(FIRST_NUMBER_COL);
    for block in &BLOCKS {
        let width: usize = block.parts.iter().map(|p| p.measures.len()).sum();
        ws.merge_range(
            top,
            col_num(col)?,
            top,
            col_num(col + width - 1)?,
            text(lang, block.vi, block.en),
            h,
        )?;
        for part in block.parts {
            let first = col_num(col)?;
            if let [only] = part.measures {
                ws.merge_range(
                    middle,
                    first,
                    bottom,
                    first,
                    text(lang, only.vi, only.en),
                    h,
                )?;
            } else {
                let last = col_num(col + part.measures.len() - 1)?;
                ws.merge_range(middle, first, middle, last, text(lang, part.vi, part.en), h)?;
                for (i, m) in part.measures.iter().enumerate() {
                    ws.write_string_with_format(
                        bottom,
                        col_num(col + i)?,
                        text(lang, m.vi, m.en),
                        h,
                    )?;
                }
            }
            col += part.measures.len();
        }
    }
    Ok(())
}

/// The names of the numbers in column order (`poor.opening`, …), matching the JSON fields.
pub fn json_fields() -> Vec<String> {
    // The same order as `BLOCKS`; checked against the tables by the test below.
    let poor = [
        "opening",
        "newly_poor",
        "fell_back",
        "from_near_poor",
        "other_increase",
        "increases",
        "exited_to_near_poor",
        "exited_above_near_poor",
        "other_decrease",
        "decreases",
        "closing",
    ];
    let near = [
        "opening",
        "newly_near_poor",
        "fell_back",
        "from_poor",
        "other_increase",
        "increases",
        "to_poor",
        "exited",
        "other_decrease",
        "decreases",
        "closing",
    ];
    poor.iter()
        .map(|f| format!("poor.{f}"))
        .chain(near.iter().map(|f| format!("near_poor.{f}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_order_matches_the_json_field_names() {
        // Give every field a distinct value through JSON, then read them back in column order.
        let fields = json_fields();
        let mut value = serde_json::json!({"poor": {}, "near_poor": {}});
        for (i, f) in fields.iter().enumerate() {
            let (table, field) = f.split_once('.').expect("dotted");
            value[table][field] = serde_json::json!(i as i64 + 1);
        }
        let tables: Tables = serde_json::from_value(value).expect("tables");
        let expected: Vec<i64> = (1..=fields.len() as i64).collect();
        assert_eq!(numbers(&tables), expected);
        assert_eq!(csv_columns().len(), 3 + fields.len());
    }
}

/// The file name of a report's export, without extension.
pub fn filename(sheet: &MovementSheet, lang: Lang) -> String {
    let r = &sheet.report;
    format!(
        "{} {} {} {}",
        text(lang, "Báo cáo biến động", "Movements"),
        r.unit,
        r.from,
        r.to
    )
}

/// The workbook saved into `out`.
pub fn write_xlsx(
    sheet: &MovementSheet,
    lang: Lang,
    today: NaiveDate,
    out: impl std::io::Write + Send,
) -> Result<(), XlsxError> {
    workbook(sheet, lang, today)?.save_to_writer(out)
}

/// The CSV written into `out`.
pub fn write_csv(
    sheet: &MovementSheet,
    lang: Lang,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    super::csv::write_all(out, &csv_columns(), lang, &csv_rows(sheet, lang))
}

/// The download of a report in `format` (the API's and the pages' answer).
pub async fn respond(
    sheet: MovementSheet,
    format: super::Format,
    lang: Lang,
    today: NaiveDate,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let name = filename(&sheet, lang);
    match format {
        super::Format::Csv => {
            let rows = csv_rows(&sheet, lang).into_iter().map(Ok);
            super::respond::<_, crate::api::error::ApiError>(
                format,
                &name,
                csv_columns(),
                lang,
                futures::stream::iter(rows),
            )
            .await
        }
        super::Format::Xlsx => {
            let built = tokio::task::spawn_blocking(move || {
                super::xlsx::to_temp_file(|file| write_xlsx(&sheet, lang, today, file))
            })
            .await;
            match built {
                Ok(Ok(file)) => super::file_response(format, &name, file),
                Ok(Err(e)) => crate::api::error::ApiError::internal(e).into_response(),
                Err(e) => crate::api::error::ApiError::internal(e).into_response(),
            }
        }
    }
}
