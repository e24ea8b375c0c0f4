//! How much memory an export of a register-sized list takes, through the same path the pages
//! use (`ansinh::export::respond`), with the body read to the end as a client would:
//!
//! ```text
//! cargo build --release --example export_memory
//! /usr/bin/time -v target/release/examples/export_memory xlsx 40000
//! ```
//!
//! Rows are made up page by page (100 at a time, as a page helper pages through the API), so
//! the peak resident size is the export's own.

use std::process::ExitCode;

use ansinh::api::error::ApiError;
use ansinh::export::{self, Cell, Column, Format, Kind};
use ansinh::web::i18n::Lang;
use chrono::NaiveDate;
use futures::StreamExt;

const PAGE: u64 = 100;

fn columns() -> Vec<Column> {
    vec![
        Column::new("Mã hộ", "Household", Kind::Text),
        Column::new("Họ tên chủ hộ", "Head of household", Kind::Text),
        Column::new("Mã đơn vị", "Unit", Kind::Text),
        Column::new("Ấp", "Hamlet", Kind::Text),
        Column::new("Phân loại", "Category", Kind::Text),
        Column::new("Từ ngày", "Since", Kind::Date),
        Column::new("Số nhân khẩu", "Members", Kind::Integer),
        Column::new(
            "Thu nhập bình quân (đồng)",
            "Income per capita (VND)",
            Kind::Vnd,
        ),
        Column::new("Dân tộc thiểu số", "Ethnic minority", Kind::Bool),
        Column::new("Số quyết định", "Decision", Kind::Text),
    ]
}

fn row(n: u64) -> Vec<Cell> {
    let since = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap_or_default()
        + chrono::Duration::days((n % 1000) as i64);
    vec![
        Cell::Text(format!("0190f3c2-7a1e-7d55-9a1b-{n:012}")),
        Cell::Text(format!("Nguyễn Thị Lan Hương {n}")),
        Cell::Text(format!("25{:03}", n % 100)),
        Cell::Text(format!("Ấp Thạnh Hiệp {}", n % 13)),
        Cell::Text(["poor", "near_poor", "not_poor"][(n % 3) as usize].to_owned()),
        Cell::Date(since),
        Cell::Int((n % 9 + 1) as i64),
        Cell::Int(1_000_000 + (n * 7_919 % 2_000_000) as i64),
        Cell::Bool(n.is_multiple_of(5)),
        Cell::Text(format!("{}/QĐ-UBND", n % 500)),
    ]
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (format, rows) = match (
        args.get(1).map(String::as_str),
        args.get(2).map(|n| n.parse::<u64>()),
    ) {
        (Some("csv"), Some(Ok(n))) => (Format::Csv, n),
        (Some("xlsx"), Some(Ok(n))) => (Format::Xlsx, n),
        _ => {
            eprintln!("usage: export_memory csv|xlsx ROWS");
            return ExitCode::from(2);
        }
    };
    let pages = futures::stream::iter(0..rows.div_ceil(PAGE)).then(move |page| async move {
        tokio::task::yield_now().await;
        let end = ((page + 1) * PAGE).min(rows);
        futures::stream::iter((page * PAGE..end).map(|n| Ok::<_, ApiError>(row(n))))
    });
    let response = export::respond(format, "register", columns(), Lang::Vi, pages.flatten()).await;
    let status = response.status();
    let mut body = response.into_body().into_data_stream();
    let mut bytes = 0;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => bytes += chunk.len(),
            Err(e) => {
                eprintln!("the body failed: {e}");
                return ExitCode::from(1);
            }
        }
    }
    println!(
        "{rows} rows as {}: status {status}, {bytes} bytes",
        format.extension()
    );
    ExitCode::SUCCESS
}
