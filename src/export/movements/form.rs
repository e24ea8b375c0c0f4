//! The movement report's XLSX, laid out like the official form (see the parent module).

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::{lines, measures, numbers, text, BLOCKS};
use crate::export::table::{Cell, Kind};
use crate::export::xlsx::{col_num, write_cell, Formats};
use crate::movement_report::MovementSheet;
use crate::web::i18n::Lang;

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
        ws.write_string_with_format(NUMBERS_ROW, col, format!("({})", col + 1), &formats.header)?;
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
        format!(
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
