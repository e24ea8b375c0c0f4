//! What an export holds: columns (a Vietnamese and an English header and a kind) and rows of
//! typed cells. The CSV and XLSX writers read only this, so every list exports the same way.

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::web::i18n::Lang;

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Whole Vietnamese đồng: a number with a thousands format in XLSX.
    Vnd,
    Integer,
    /// A real Excel date (dd/mm/yyyy) in XLSX, ISO `YYYY-MM-DD` in CSV.
    Date,
    Bool,
}

/// One column of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub vi: Cow<'static, str>,
    pub en: Cow<'static, str>,
    pub kind: Kind,
}

impl Column {
    pub const fn new(vi: &'static str, en: &'static str, kind: Kind) -> Column {
        Column {
            vi: Cow::Borrowed(vi),
            en: Cow::Borrowed(en),
            kind,
        }
    }

    pub fn header(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }

    /// Width of the column in an XLSX sheet, in characters.
    pub fn width(&self, lang: Lang) -> f64 {
        let header = self.header(lang).chars().count() as f64;
        let content: f64 = match self.kind {
            Kind::Text => 24.0,
            Kind::Vnd => 15.0,
            Kind::Integer => 9.0,
            Kind::Date => 11.0,
            Kind::Bool => 7.0,
        };
        header.clamp(content, 40.0) + 2.0
    }
}

/// A value of a row. Money and counts are both `Int`: the column's kind chooses the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Bool(bool),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

impl From<NaiveDate> for Cell {
    fn from(d: NaiveDate) -> Cell {
        Cell::Date(d)
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Cell {
        Cell::Bool(b)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Cell {
        value.map_or(Cell::Empty, Into::into)
    }
}

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `csv` or `xlsx` (a `format` query parameter).
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// How a yes/no value reads in a CSV of this language.
pub fn yes_no(value: bool, lang: Lang) -> &'static str {
    match (value, lang) {
        (true, Lang::Vi) => "Có",
        (false, Lang::Vi) => "Không",
        (true, Lang::En) => "Yes",
        (false, Lang::En) => "No",
    }
}
