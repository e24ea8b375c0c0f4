//! A fund's reconciliation as a CSV or XLSX download: a total row with every figure of the
//! JSON, then one row per allocated unit (allocated, disbursed, balance).

use axum::response::Response;

use super::table::{Cell, Column, Format, Kind};
use crate::api::error::ApiError;
use crate::funds::reconcile::Reconciliation;
use crate::web::i18n::Lang;

pub fn columns() -> Vec<Column> {
    vec![
        Column::new("Dòng", "Line", Kind::Text),
        Column::new("Mã đơn vị", "Unit code", Kind::Text),
        Column::new("Đã nhận (đ)", "Received (VND)", Kind::Vnd),
        Column::new("Đã phân bổ (đ)", "Allocated (VND)", Kind::Vnd),
        Column::new("Đã chi (đ)", "Disbursed (VND)", Kind::Vnd),
        Column::new(
            "Điều chỉnh trả lại (đ)",
            "Given back by corrections (VND)",
            Kind::Vnd,
        ),
        Column::new("Đã hủy (đ)", "Voided (VND)", Kind::Vnd),
        Column::new("Còn lại (đ)", "Balance (VND)", Kind::Vnd),
    ]
}

pub fn rows(r: &Reconciliation, lang: Lang) -> Vec<Vec<Cell>> {
    let total = match lang {
        Lang::Vi => "Tổng",
        Lang::En => "Total",
    };
    let unit_line = match lang {
        Lang::Vi => "Đơn vị",
        Lang::En => "Unit",
    };
    let mut out = vec![vec![
        total.into(),
        r.unit.clone().into(),
        r.received_vnd.into(),
        r.allocated_vnd.into(),
        r.disbursed_vnd.into(),
        r.corrected_vnd.into(),
        r.voided_vnd.into(),
        r.balance_vnd.into(),
    ]];
    for u in &r.units {
        out.push(vec![
            unit_line.into(),
            u.unit_code.clone().into(),
            Cell::Empty,
            u.allocated_vnd.into(),
            u.disbursed_vnd.into(),
            Cell::Empty,
            Cell::Empty,
            u.balance_vnd.into(),
        ]);
    }
    out
}

pub async fn respond(r: &Reconciliation, format: Format, lang: Lang) -> Response {
    let rows = rows(r, lang).into_iter().map(Ok::<_, ApiError>);
    let name = match lang {
        Lang::Vi => format!("Đối soát quỹ {}", r.fund_id),
        Lang::En => format!("Fund reconciliation {}", r.fund_id),
    };
    super::respond(format, &name, columns(), lang, futures::stream::iter(rows)).await
}
