//! Reading review files: CSV (UTF-8, with or without BOM) or XLSX, headers mapped to the
//! canonical columns of `format`, every row kept with its spreadsheet line number.

use std::collections::HashMap;
use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};

use super::format::{self, ReviewRow, SupportRow, REVIEW_COLUMNS, SUPPORT_COLUMNS};

/// Where a problem is: file line (header = line 1) and canonical column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowProblem {
    pub sheet: &'static str,
    pub line: u64,
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {}: {}: {}",
            self.sheet, self.line, self.field, self.problem
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("could not read {path}: {cause}")]
    Io { path: String, cause: String },
    #[error("{path} is not a CSV or XLSX file (by its extension)")]
    UnknownFormat { path: String },
    #[error("{sheet} is missing required column(s): {}", .missing.join(", "))]
    MissingColumns {
        sheet: &'static str,
        missing: Vec<&'static str>,
    },
    /// A record read again for its batch is not what was indexed: the file was edited or
    /// replaced in the meantime.
    #[error("{path} changed while it was being imported (line {line}); import it again")]
    Changed { path: String, line: u64 },
    /// PostgreSQL cannot store U+0000 in a JSON payload: refused here, naming the cell, rather
    /// than failing the write of a batch after the file was found valid.
    #[error("{sheet} line {line}: {field}: holds a NUL character; nothing was imported")]
    NulCharacter {
        sheet: &'static str,
        line: u64,
        field: &'static str,
    },
}

/// The rows of one import, with their line numbers.
#[derive(Debug, Default)]
pub struct Sheets {
    pub reviews: Vec<(u64, ReviewRow)>,
    pub supports: Vec<(u64, SupportRow)>,
}

const REQUIRED_REVIEW: [&str; 5] = [
    "household_key",
    "head_name",
    "unit_code",
    "period",
    "survey_date",
];
const REQUIRED_SUPPORT: [&str; 4] = ["household_key", "policy", "funding_source", "disbursed_on"];

/// Where an import's rows come from. A CSV file is indexed once (where each record is, with a
/// digest of its bytes) and a batch's records are read again from the file and parsed when the
/// batch is worked on, so memory holds neither every row as strings nor the file's bytes (a
/// workbook is read whole: calamine loads sheets whole).
pub enum RowStore {
    Memory(Sheets),
    Csv {
        reviews: CsvTable,
        supports: Option<CsvTable>,
    },
}

/// A record of a CSV file: its household key, line, where its bytes are and their digest.
pub struct RecordRef {
    pub key: Box<str>,
    pub line: u64,
    /// Offsets in the file.
    start: u64,
    end: u64,
    digest: u64,
}

/// An open CSV file with its header mapping and an index of its non-empty records.
pub struct CsvTable {
    path: std::path::PathBuf,
    file: std::fs::File,
    mapping: Vec<Option<&'static str>>,
    pub records: Vec<RecordRef>,
}

/// Digest of a record's bytes, to notice a file changed between indexing and reading.
fn digest(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Records further apart than this are read with separate reads.
const READ_GAP: u64 = 64 * 1024;

impl CsvTable {
    fn open(
        path: &Path,
        sheet: &'static str,
        columns: &[(&'static str, &[&str])],
        required: &[&'static str],
    ) -> Result<CsvTable, ReadError> {
        let mut file = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io(path, e))?;
        let bom: u64 = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let text = &bytes[bom as usize..];
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
        let headers = reader.headers().map_err(|e| io(path, e))?.clone();
        let mapping = map_headers(headers.iter(), sheet, columns, required)?;
        let key_column = mapping.iter().position(|m| *m == Some("household_key"));
        let mut records = Vec::new();
        let mut lines = LineCounter::default();
        let mut record = csv::StringRecord::new();
        loop {
            let start = reader.position().byte();
            if !reader.read_record(&mut record).map_err(|e| io(path, e))? {
                break;
            }
            let end = reader.position().byte();
            let line = lines.line_at(text, record.position().map_or(start, |p| p.byte()));
            // The cells of known columns, checked in place (the rows are built per batch).
            let cells = || {
                record
                    .iter()
                    .zip(&mapping)
                    .filter_map(|(cell, name)| Some(((*name)?, cell)))
            };
            if cells().all(|(_, cell)| cell.trim().is_empty()) {
                continue;
            }
            if let Some((field, _)) = cells().find(|(_, cell)| cell.contains('\0')) {
                return Err(ReadError::NulCharacter { sheet, line, field });
            }
            let key = key_column
                .and_then(|i| record.get(i))
                .unwrap_or_default()
                .trim()
                .into();
            let span = usize::try_from(start).unwrap_or(usize::MAX)
                ..usize::try_from(end).unwrap_or(usize::MAX).min(text.len());
            records.push(RecordRef {
                key,
                line,
                start: start + bom,
                end: end + bom,
                digest: digest(text.get(span).unwrap_or_default()),
            });
        }
        Ok(CsvTable {
            path: path.to_owned(),
            file,
            mapping,
            records,
        })
    }

    /// Records `indexes` (in file order, as the index numbers them), each built by `build` from
    /// its cells by canonical column, in the order asked. Neighbouring records are read with
    /// one read.
    fn rows<T>(
        &self,
        parser: &mut RecordParser,
        indexes: &[usize],
        build: fn(&Cell<'_>) -> T,
    ) -> Result<Vec<(u64, T)>, ReadError> {
        use std::os::unix::fs::FileExt;
        let record = |k: usize| &self.records[indexes[k]];
        let mut order: Vec<usize> = (0..indexes.len()).collect();
        order.sort_by_key(|k| indexes[*k]);
        let mut out: Vec<Option<(u64, T)>> = Vec::new();
        out.resize_with(indexes.len(), || None);
        let mut chunk = Vec::new();
        let mut rest = &order[..];
        while let Some(first) = rest.first() {
            // One read for the records that follow within READ_GAP of each other.
            let mut n = 1;
            while n < rest.len() && record(rest[n]).start <= record(rest[n - 1]).end + READ_GAP {
                n += 1;
            }
            let from = record(*first).start;
            let to = record(rest[n - 1]).end;
            chunk.resize(usize::try_from(to - from).unwrap_or(0), 0);
            self.file
                .read_exact_at(&mut chunk, from)
                .map_err(|e| io(&self.path, e))?;
            for k in &rest[..n] {
                let r = record(*k);
                let at = usize::try_from(r.start - from).unwrap_or(0);
                let len = usize::try_from(r.end - r.start).unwrap_or(0);
                let bytes = chunk.get(at..at + len).unwrap_or_default();
                if digest(bytes) != r.digest {
                    return Err(ReadError::Changed {
                        path: self.path.display().to_string(),
                        line: r.line,
                    });
                }
                out[*k] = Some((r.line, self.row(parser, bytes, build)));
            }
            rest = &rest[n..];
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// A record's bytes built by `build` from its cells by canonical column.
    fn row<T>(&self, parser: &mut RecordParser, record: &[u8], build: fn(&Cell<'_>) -> T) -> T {
        let fields: Vec<&str> = parser.fields(record).collect();
        // The last column of a name counts, as when the file was indexed.
        let cell = |name: &str| {
            self.mapping
                .iter()
                .rposition(|m| *m == Some(name))
                .and_then(|i| fields.get(i))
                .map(|cell| cell.trim().to_owned())
                .unwrap_or_default()
        };
        build(&cell)
    }
}

/// A row's cell by canonical column name (empty when the file lacks the column).
type Cell<'a> = dyn Fn(&str) -> String + 'a;

/// Splits one CSV record at a time, reusing its state machine and buffers: building a reader
/// per record (the `csv` crate builds its DFA each time) was a tenth of an import's CPU.
pub struct RecordParser {
    core: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl Default for RecordParser {
    fn default() -> Self {
        RecordParser {
            // The settings `csv::ReaderBuilder::new()` gives the reader that indexed the file.
            core: csv_core::Reader::new(),
            output: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl RecordParser {
    /// The fields of the first record in `record` (the file was read as UTF-8 when indexed).
    fn fields<'p>(&'p mut self, record: &[u8]) -> impl Iterator<Item = &'p str> + 'p {
        use csv_core::ReadRecordResult;
        self.core.reset();
        // Unquoting only shrinks a record, so its length bounds the output.
        self.output.resize(record.len().max(1), 0);
        self.ends.resize(record.len() + 1, 0);
        let (mut input, mut out_len, mut ends_len) = (record, 0, 0);
        loop {
            let (result, read, written, ended) = self.core.read_record(
                input,
                &mut self.output[out_len..],
                &mut self.ends[ends_len..],
            );
            input = &input[read..];
            out_len += written;
            ends_len += ended;
            match result {
                // All of it read: the next call, with no input, is the end of the file and
                // ends a record that has no final newline (it cannot be empty again).
                ReadRecordResult::InputEmpty if read > 0 || !input.is_empty() => {}
                ReadRecordResult::InputEmpty => break,
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                    let grow = self.output.len().max(16);
                    self.output.resize(self.output.len() + grow, 0);
                    self.ends.resize(self.ends.len() + grow, 0);
                }
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        let (output, ends) = (&self.output[..out_len], &self.ends[..ends_len]);
        let mut start = 0;
        ends.iter().map(move |end| {
            let field = output.get(start..*end).unwrap_or_default();
            start = *end;
            std::str::from_utf8(field).unwrap_or_default()
        })
    }
}

impl RowStore {
    /// Opens a CSV pair lazily, or reads a workbook whole.
    pub fn open(path: &Path) -> Result<RowStore, ReadError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ext != "csv" {
            return read(path).map(RowStore::Memory);
        }
        let reviews = CsvTable::open(path, "reviews", REVIEW_COLUMNS, &REQUIRED_REVIEW)?;
        let supports_path = format::supports_path(path);
        let supports = if supports_path.exists() {
            Some(CsvTable::open(
                &supports_path,
                "supports",
                SUPPORT_COLUMNS,
                &REQUIRED_SUPPORT,
            )?)
        } else {
            None
        };
        Ok(RowStore::Csv { reviews, supports })
    }

    /// (household key, line) of every review row, in file order.
    pub fn review_keys(&self) -> Vec<(&str, u64)> {
        match self {
            RowStore::Memory(s) => s
                .reviews
                .iter()
                .map(|(l, r)| (r.household_key.as_str(), *l))
                .collect(),
            RowStore::Csv { reviews, .. } => {
                reviews.records.iter().map(|r| (&*r.key, r.line)).collect()
            }
        }
    }

    /// (household key, line) of every support row, in file order.
    pub fn support_keys(&self) -> Vec<(&str, u64)> {
        match self {
            RowStore::Memory(s) => s
                .supports
                .iter()
                .map(|(l, r)| (r.household_key.as_str(), *l))
                .collect(),
            RowStore::Csv { supports, .. } => supports
                .iter()
                .flat_map(|t| t.records.iter().map(|r| (&*r.key, r.line)))
                .collect(),
        }
    }

    /// The review rows `indexes` (as [`RowStore::review_keys`] numbers them), in that order.
    pub fn reviews(
        &self,
        parser: &mut RecordParser,
        indexes: &[usize],
    ) -> Result<Vec<(u64, ReviewRow)>, ReadError> {
        match self {
            RowStore::Memory(s) => Ok(indexes
                .iter()
                .map(|i| s.reviews.get(*i).cloned().unwrap_or_default())
                .collect()),
            RowStore::Csv { reviews, .. } => reviews.rows(parser, indexes, review_row_with),
        }
    }

    /// The support rows `indexes` (as [`RowStore::support_keys`] numbers them), in that order.
    pub fn supports(
        &self,
        parser: &mut RecordParser,
        indexes: &[usize],
    ) -> Result<Vec<(u64, SupportRow)>, ReadError> {
        match self {
            RowStore::Memory(s) => Ok(indexes
                .iter()
                .map(|i| s.supports.get(*i).cloned().unwrap_or_default())
                .collect()),
            RowStore::Csv { supports, .. } => match supports {
                Some(t) => t.rows(parser, indexes, support_row_with),
                None => Ok(Vec::new()),
            },
        }
    }
}

pub fn read(path: &Path) -> Result<Sheets, ReadError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => read_csv_pair(path),
        "xlsx" | "xlsm" | "xls" | "ods" => read_workbook(path),
        _ => Err(ReadError::UnknownFormat {
            path: path.display().to_string(),
        }),
    }
}

fn io(path: &Path, cause: impl ToString) -> ReadError {
    ReadError::Io {
        path: path.display().to_string(),
        cause: cause.to_string(),
    }
}

fn read_csv_pair(path: &Path) -> Result<Sheets, ReadError> {
    let reviews = table_from_csv(
        path,
        "reviews",
        REVIEW_COLUMNS,
        &REQUIRED_REVIEW,
        review_row,
    )?;
    let supports_path = format::supports_path(path);
    let supports = if supports_path.exists() {
        table_from_csv(
            &supports_path,
            "supports",
            SUPPORT_COLUMNS,
            &REQUIRED_SUPPORT,
            support_row,
        )?
    } else {
        Vec::new()
    };
    Ok(Sheets { reviews, supports })
}

fn table_from_csv<T>(
    path: &Path,
    sheet: &'static str,
    columns: &[(&'static str, &[&str])],
    required: &[&'static str],
    build: fn(&HashMap<&'static str, String>) -> T,
) -> Result<Vec<(u64, T)>, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader.headers().map_err(|e| io(path, e))?.clone();
    let mapping = map_headers(headers.iter(), sheet, columns, required)?;
    let mut rows = Vec::new();
    let mut lines = LineCounter::default();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| io(path, e))?;
        let line = record
            .position()
            .map_or(index as u64 + 2, |p| lines.line_at(bytes, p.byte()));
        let mut cells = HashMap::new();
        for (i, cell) in record.iter().enumerate() {
            if let Some(Some(name)) = mapping.get(i) {
                cells.insert(*name, cell.trim().to_owned());
            }
        }
        if cells.values().all(String::is_empty) {
            continue;
        }
        no_nul(&cells, sheet, line)?;
        rows.push((line, build(&cells)));
    }
    Ok(rows)
}

/// The file line a CSV record starts on (header = line 1). Counting records would be wrong after
/// an empty line (the reader skips those) or a cell holding a line break, and the reader's own
/// line numbers skip empty lines and miscount CRLF files; its byte offsets are exact, but point
/// at the end of the previous line (and the empty lines after it): skip those line breaks.
#[derive(Default)]
struct LineCounter {
    scanned: usize,
    newlines: u64,
}

impl LineCounter {
    /// Offsets must come in increasing order.
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let mut start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let from = self.scanned.min(start);
        self.newlines += bytes[from..start].iter().filter(|b| **b == b'\n').count() as u64;
        self.scanned = start;
        self.newlines + 1
    }
}

fn no_nul(
    cells: &HashMap<&'static str, String>,
    sheet: &'static str,
    line: u64,
) -> Result<(), ReadError> {
    match cells.iter().find(|(_, value)| value.contains('\0')) {
        Some((field, _)) => Err(ReadError::NulCharacter { sheet, line, field }),
        None => Ok(()),
    }
}

fn map_headers<'a>(
    headers: impl Iterator<Item = &'a str>,
    sheet: &'static str,
    columns: &[(&'static str, &[&str])],
    required: &[&'static str],
) -> Result<Vec<Option<&'static str>>, ReadError> {
    let mapping: Vec<Option<&'static str>> = headers
        .map(|h| format::canonical_header(h, columns))
        .collect();
    let missing: Vec<&'static str> = required
        .iter()
        .copied()
        .filter(|r| !mapping.contains(&Some(*r)))
        .collect();
    if missing.is_empty() {
        Ok(mapping)
    } else {
        Err(ReadError::MissingColumns { sheet, missing })
    }
}

fn read_workbook(path: &Path) -> Result<Sheets, ReadError> {
    let mut book = open_workbook_auto(path).map_err(|e| io(path, e))?;
    let names = book.sheet_names();
    let find = |wanted: &[&str]| {
        names
            .iter()
            .find(|n| wanted.contains(&ansinh_events::text::fold(n).as_str()))
            .cloned()
    };
    let reviews_name = find(&["reviews", "ra soat", "ra_soat"])
        .or_else(|| names.first().cloned())
        .ok_or_else(|| io(path, "the workbook has no sheets"))?;
    let range = book
        .worksheet_range(&reviews_name)
        .map_err(|e| io(path, e))?;
    let reviews = table_from_range(
        &range,
        "reviews",
        REVIEW_COLUMNS,
        &REQUIRED_REVIEW,
        review_row,
    )?;
    let supports = match find(&["supports", "ho tro", "ho_tro"]) {
        Some(name) => {
            let range = book.worksheet_range(&name).map_err(|e| io(path, e))?;
            table_from_range(
                &range,
                "supports",
                SUPPORT_COLUMNS,
                &REQUIRED_SUPPORT,
                support_row,
            )?
        }
        None => Vec::new(),
    };
    Ok(Sheets { reviews, supports })
}

fn table_from_range<T>(
    range: &calamine::Range<Data>,
    sheet: &'static str,
    columns: &[(&'static str, &[&str])],
    required: &[&'static str],
    build: fn(&HashMap<&'static str, String>) -> T,
) -> Result<Vec<(u64, T)>, ReadError> {
    let mut rows = range.rows();
    let Some(header) = rows.next() else {
        return Err(ReadError::MissingColumns {
            sheet,
            missing: required.to_vec(),
        });
    };
    let header_text: Vec<String> = header.iter().map(cell_text).collect();
    let mapping = map_headers(
        header_text.iter().map(String::as_str),
        sheet,
        columns,
        required,
    )?;
    let first_line = range.start().map_or(1, |(row, _)| u64::from(row) + 1);
    let mut out = Vec::new();
    for (index, row) in rows.enumerate() {
        let mut cells = HashMap::new();
        for (i, cell) in row.iter().enumerate() {
            if let Some(Some(name)) = mapping.get(i) {
                cells.insert(*name, cell_text(cell));
            }
        }
        if cells.values().all(String::is_empty) {
            continue;
        }
        let line = first_line + 1 + index as u64;
        no_nul(&cells, sheet, line)?;
        out.push((line, build(&cells)));
    }
    Ok(out)
}

/// A cell as the text a CSV would hold: whole numbers without `.0`, dates as YYYY-MM-DD.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|d| d.date().to_string())
            .unwrap_or_else(|| dt.to_string()),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn take(cells: &HashMap<&'static str, String>, name: &str) -> String {
    cells.get(name).cloned().unwrap_or_default()
}

fn review_row(c: &HashMap<&'static str, String>) -> ReviewRow {
    review_row_with(&|name| take(c, name))
}

fn support_row(c: &HashMap<&'static str, String>) -> SupportRow {
    support_row_with(&|name| take(c, name))
}

fn review_row_with(take: &Cell<'_>) -> ReviewRow {
    ReviewRow {
        household_key: take("household_key"),
        head_name: take("head_name"),
        unit_code: take("unit_code"),
        hamlet: take("hamlet"),
        area: take("area"),
        ethnic_minority: take("ethnic_minority"),
        merit_family: take("merit_family"),
        registered_on: take("registered_on"),
        members: take("members"),
        period: take("period"),
        survey_date: take("survey_date"),
        income_per_capita_vnd: take("income_per_capita_vnd"),
        deprivations: take("deprivations"),
        working_capacity: take("working_capacity"),
        loan_demand: take("loan_demand"),
        cause_of_poverty: take("cause_of_poverty"),
        surveyor: take("surveyor"),
        standard: take("standard"),
        category: take("category"),
        decision_no: take("decision_no"),
        decided_on: take("decided_on"),
        decision_reason: take("decision_reason"),
        meeting_held_on: take("meeting_held_on"),
        meeting_attendees: take("meeting_attendees"),
        meeting_votes_for: take("meeting_votes_for"),
        meeting_votes_against: take("meeting_votes_against"),
        meeting_minutes_no: take("meeting_minutes_no"),
        posted_from: take("posted_from"),
        posted_to: take("posted_to"),
    }
}

fn support_row_with(take: &Cell<'_>) -> SupportRow {
    SupportRow {
        household_key: take("household_key"),
        policy: take("policy"),
        amount_vnd: take("amount_vnd"),
        in_kind: take("in_kind"),
        funding_source: take("funding_source"),
        fund_id: take("fund_id"),
        disbursed_on: take("disbursed_on"),
        disbursed_by: take("disbursed_by"),
        decision_no: take("decision_no"),
        recipient_member: take("recipient_member"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_with_bom_and_vietnamese_headers_reads_into_canonical_rows() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("review.csv");
        std::fs::write(
            &path,
            "\u{feff}Mã hộ,Họ tên chủ hộ,Mã xã,Kỳ rà soát,Ngày rà soát,Ghi chú\n\
             H1,Nguyễn Văn An,25459,2022-annual,2022-10-05,x\n\
             ,,,,,\n\
             H2,Lê Thị Bé,25459,2022-annual,2022-10-06,\n",
        )
        .expect("write");
        let sheets = read(&path).expect("read");
        assert_eq!(sheets.reviews.len(), 2);
        assert_eq!(sheets.reviews[0].0, 2);
        assert_eq!(sheets.reviews[1].0, 4, "the blank line keeps its number");
        assert_eq!(sheets.reviews[1].1.head_name, "Lê Thị Bé");
        assert!(sheets.supports.is_empty());
    }

    #[test]
    fn line_numbers_count_empty_lines_and_lines_inside_quoted_cells() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("review.csv");
        std::fs::write(
            &path,
            "\u{feff}household_key,head_name,unit_code,period,survey_date\r\n\
             H1,\"Nguyễn\nVăn An\",25459,2022-annual,2022-10-05\r\n\
             \r\n\
             H2,Lê Thị Bé,25459,2022-annual,2022-10-06\r\n",
        )
        .expect("write");
        let lines: Vec<u64> = read(&path)
            .expect("read")
            .reviews
            .iter()
            .map(|(line, _)| *line)
            .collect();
        assert_eq!(lines, [2, 5]);
    }

    #[test]
    fn rows_are_read_back_from_the_file_in_the_order_asked_and_an_edit_is_noticed() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("review.csv");
        let far = "x".repeat(2 * READ_GAP as usize);
        std::fs::write(
            &path,
            format!(
                "\u{feff}household_key,head_name,unit_code,period,survey_date,note\n\
                 H1,\"An, Văn\",25459,2022-annual,2022-10-05,\n\
                 \n\
                 H2,Bé,25459,2022-annual,2022-10-06,{far}\n\
                 H3,Cúc,25459,2022-annual,2022-10-07,\n"
            ),
        )
        .expect("write");
        let store = RowStore::open(&path).expect("open");
        let mut parser = RecordParser::default();
        let rows = store.reviews(&mut parser, &[2, 0, 1]).expect("rows");
        let got: Vec<(u64, &str)> = rows
            .iter()
            .map(|(line, r)| (*line, r.head_name.as_str()))
            .collect();
        assert_eq!(got, [(5, "Cúc"), (2, "An, Văn"), (4, "Bé")]);
        // The same length, other content: refused rather than imported unchecked.
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("Cúc", "Cùc")).expect("edit");
        match store.reviews(&mut parser, &[2]) {
            Err(ReadError::Changed { line: 5, .. }) => {}
            other => panic!(
                "expected a change at line 5, got {:?}",
                other.map(|r| r.len())
            ),
        }
        assert_eq!(
            store.reviews(&mut parser, &[0]).expect("unchanged").len(),
            1
        );
    }

    #[test]
    fn a_missing_required_column_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("review.csv");
        std::fs::write(&path, "household_key,head_name\nH1,A\n").expect("write");
        let err = read(&path).expect_err("missing");
        assert!(err.to_string().contains("unit_code"), "{err}");
    }
}
