//! `/households?format=csv|xlsx`: the register exactly as filtered (every page of it, not
//! only the one shown), streamed by paging through `GET /api/v1/households` as the user.

use std::fmt;
use std::sync::Arc;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::export::{self, Cell, Column, Format, Kind};
use crate::web::page::Ctx;

/// Households asked of the API per page of an export (its largest page).
const EXPORT_PAGE: i64 = 500;

/// The API parameters an export passes on: the page's filters and sort, not its paging.
const PASSED: [&str; 10] = [
    "name",
    "unit",
    "hamlet",
    "standard",
    "category",
    "ethnic_minority",
    "no_working_capacity",
    "merit_family",
    "as_of",
    "sort",
];

fn columns() -> Vec<Column> {
    vec![
        Column::new("Chủ hộ", "Head of household", Kind::Text),
        Column::new("Mã đơn vị", "Unit code", Kind::Text),
        Column::new("Tên đơn vị", "Unit", Kind::Text),
        Column::new("Ấp, khu phố", "Hamlet", Kind::Text),
        Column::new("Ngày đăng ký", "Registered on", Kind::Date),
        Column::new("Số nhân khẩu", "Members", Kind::Integer),
        Column::new("Ngày đóng hồ sơ", "Closed on", Kind::Date),
        Column::new("Mã hộ", "Household id", Kind::Text),
    ]
}

fn row(h: &Value) -> Vec<Cell> {
    let text = |key: &str| Cell::from(h[key].as_str().map(str::to_owned));
    let date = |key: &str| {
        Cell::from(
            h[key]
                .as_str()
                .and_then(|d| d.parse::<chrono::NaiveDate>().ok()),
        )
    };
    vec![
        text("head_name"),
        text("unit_code"),
        text("unit_name"),
        text("hamlet"),
        date("registered_on"),
        Cell::from(h["member_count"].as_i64()),
        date("closed_on"),
        text("id"),
    ]
}

/// The API's refusal of a page of the export, as the page for it.
struct Refused {
    page: Response,
    detail: String,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.page
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

pub async fn download(ctx: Ctx, format: Format) -> Response {
    let lang = ctx.lang;
    let query = ctx.api_query(&PASSED);
    let filename = match ctx.param("as_of") {
        Some(day) => format!("danh-sach-ho-{day}"),
        None => "danh-sach-ho".to_owned(),
    };
    let ctx = Arc::new(ctx);
    let rows = export::paged(EXPORT_PAGE, move |offset, limit| {
        let ctx = Arc::clone(&ctx);
        let path = format!("/api/v1/households?{query}&limit={limit}&offset={offset}");
        async move {
            let answer = ctx.call(Method::GET, &path, None, &[]).await;
            if !answer.status.is_success() {
                return Err(Refused {
                    detail: answer.detail(),
                    page: ctx.refusal(&answer),
                });
            }
            Ok(answer.body["items"]
                .as_array()
                .map(|items| items.iter().map(row).collect())
                .unwrap_or_default())
        }
    });
    export::respond(format, &filename, columns(), lang, rows).await
}
