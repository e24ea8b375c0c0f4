//! `/admin/units`: search the administrative units below the admin's unit, and import units
//! from CSV text (`code,name,level,parent_code,valid_from,valid_to`, as `ansinh units import`
//! reads it), sent to `POST /api/v1/units`, which checks and stores them.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Form;
use minijinja::{context, Value};
use serde_json::json;

use super::get_or_explain;
use crate::api::admin::UnitRow;
use crate::web::listing::{self, PAGE};
use crate::web::page::Ctx;

const FILTERS: [&str; 2] = ["unit", "q"];

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    ctx.signed_in()?;
    render(&ctx, StatusCode::OK, outcome(None, "", "")).await
}

fn outcome(imported: Option<serde_json::Value>, error: &str, csv: &str) -> Value {
    context! { imported => imported, error => error, csv => csv }
}

async fn render(ctx: &Ctx, status: StatusCode, outcome: Value) -> Result<Response, Response> {
    let offset = listing::offset(ctx);
    let q = ctx.api_query(&FILTERS);
    let data = get_or_explain(
        ctx,
        &format!("/api/v1/units?{q}&limit={PAGE}&offset={offset}"),
        "un_who",
    )
    .await?;
    let total = data["total"].as_i64().unwrap_or(0);
    Ok(ctx.render_status(
        status,
        "admin_units.html",
        context! {
            data => data,
            paging => listing::pager(ctx, total, &offset),
            f => listing::filters(ctx, &FILTERS),
            outcome => outcome,
        },
    ))
}

/// The CSV's rows as the API's JSON rows; a row that cannot be read is named by its line.
fn rows(text: &str) -> Result<Vec<UnitRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    reader
        .deserialize::<UnitRow>()
        .enumerate()
        .map(|(i, row)| row.map_err(|e| format!("line {}: {e}", i + 2)))
        .collect()
}

pub async fn import(
    ctx: Ctx,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Response> {
    ctx.signed_in()?;
    let text = form
        .iter()
        .find(|(k, _)| k == "csv")
        .map_or("", |(_, v)| v.as_str());
    let units = match rows(text) {
        Ok(units) => units,
        Err(e) => {
            return render(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                outcome(None, &e, text),
            )
            .await
        }
    };
    let answer = ctx
        .call(
            Method::POST,
            "/api/v1/units",
            Some(&json!({ "units": units })),
            &[],
        )
        .await;
    if answer.status.is_success() {
        return render(&ctx, StatusCode::OK, outcome(Some(answer.body), "", "")).await;
    }
    if matches!(answer.status.as_u16(), 400 | 403 | 422) {
        let said = match answer.field() {
            Some(f) => format!("{f}: {}", answer.detail()),
            None => answer.detail(),
        };
        return render(&ctx, answer.status, outcome(None, &said, text)).await;
    }
    Err(ctx.refusal(&answer))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_rows_become_the_apis_rows_and_a_bad_line_is_named() {
        let rows = super::rows(
            "code,name,level,parent_code,valid_from,valid_to\n\
             99901,Xã Thử,commune,703,2020-01-01,\n",
        )
        .expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "Xã Thử");
        assert_eq!(rows[0].parent_code.as_deref(), Some("703"));
        assert_eq!(rows[0].valid_to, None);
        let bad =
            super::rows("code,name,level,parent_code,valid_from,valid_to\nx,y,commune,,soon,\n");
        assert!(bad.expect_err("bad date").starts_with("line 2:"));
    }
}
