//! The movement report's exports. The XLSX is laid out like the official form: title rows
//! (unit, period, standard), three rows of merged headers — "Hộ nghèo" / "Hộ cận nghèo" over
//! đầu kỳ, tăng (phát sinh mới, tái nghèo, …), giảm (…) and cuối kỳ — a row of column
//! numbers, then one row per unit directly below the requested one, the total row (the
//! requested unit's own report, the numbers of the API's JSON) and its breakdowns. The CSV
//! has the same rows, one line each, under flat headers.

pub mod form;

use std::borrow::Cow;

use ansinh_projections::movements::Tables;
use chrono::NaiveDate;
use rust_xlsxwriter::XlsxError;

use super::table::{Cell, Column, Kind};
use crate::movement_report::MovementSheet;
use crate::web::i18n::Lang;
pub use form::{layout, workbook};

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
