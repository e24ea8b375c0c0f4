//! `/households/new`: register a household (the head, members as rows, where it lives).

use axum::body::Bytes;
use axum::response::Response;
use minijinja::context;
use serde_json::{Map, Value};

use super::{officer, render, send, today, Errors, Posted, Sent, Shown};
use crate::web::page::Ctx;

/// Member rows the form offers; blank rows are left out.
pub const MEMBER_ROWS: usize = 6;
/// A member's fields, as the API names them.
const MEMBER_FIELDS: [&str; 5] = ["name", "birth_year", "sex", "relation", "id_number"];
/// The relations offered (the API takes any text; these are the ones the register uses).
const RELATIONS: [&str; 7] = [
    "head",
    "spouse",
    "child",
    "parent",
    "grandchild",
    "sibling",
    "other",
];

fn inputs() -> Vec<String> {
    let mut inputs: Vec<String> = [
        "head_name",
        "unit_code",
        "hamlet",
        "area",
        "ethnic_minority",
        "merit_family",
        "effective_on",
        "members",
    ]
    .map(str::to_owned)
    .to_vec();
    for row in 0..MEMBER_ROWS {
        for field in MEMBER_FIELDS {
            inputs.push(format!("members[{row}].{field}"));
        }
    }
    inputs
}

pub async fn form(ctx: Ctx) -> Result<Response, Response> {
    officer(&ctx)?;
    let user = ctx.signed_in()?;
    let mut shown = Shown::default();
    shown
        .values
        .insert("unit_code".into(), user.unit_code.clone());
    shown.values.insert("effective_on".into(), today());
    shown
        .values
        .insert("members[0].relation".into(), "head".into());
    Ok(page(&ctx, shown))
}

pub(super) fn page(ctx: &Ctx, shown: Shown) -> Response {
    let lang = ctx.lang;
    let relations: Vec<(&str, &str)> = RELATIONS
        .iter()
        .map(|r| (*r, lang.text(&format!("form_relation_{r}"))))
        .collect();
    render(
        ctx,
        "form_register.html",
        shown,
        context! { rows => (0..MEMBER_ROWS).collect::<Vec<_>>(), relations },
    )
}

/// The API's JSON for what was typed, and which form row each sent member came from.
fn body(posted: &Posted) -> (Value, Vec<usize>) {
    let mut body = Map::new();
    for name in ["head_name", "unit_code", "hamlet", "area", "effective_on"] {
        posted.text_into(&mut body, name);
    }
    posted.flag_into(&mut body, "ethnic_minority");
    posted.flag_into(&mut body, "merit_family");
    let mut members = Vec::new();
    let mut rows = Vec::new();
    for row in 0..MEMBER_ROWS {
        let field = |f: &str| format!("members[{row}].{f}");
        let typed = ["name", "birth_year", "id_number"]
            .iter()
            .any(|f| posted.trimmed(&field(f)).is_some());
        if !typed {
            continue;
        }
        let mut member = Map::new();
        for f in ["name", "sex", "relation", "id_number"] {
            if let Some(v) = posted.trimmed(&field(f)) {
                member.insert(f.to_owned(), Value::String(v.to_owned()));
            }
        }
        if let Some(v) = posted.trimmed(&field("birth_year")) {
            member.insert("birth_year".to_owned(), super::posted::integer(v));
        }
        members.push(Value::Object(member));
        rows.push(row);
    }
    body.insert("members".to_owned(), Value::Array(members));
    (Value::Object(body), rows)
}

/// `members[K]…` of the API (the K-th member sent) as the form row it came from.
fn to_row(field: &str, rows: &[usize]) -> String {
    let Some(rest) = field.strip_prefix("members[") else {
        return field.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return field.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|k| rows.get(k)) {
        Some(row) => format!("members[{row}]{tail}"),
        None => field.to_owned(),
    }
}

pub async fn submit(ctx: Ctx, bytes: Bytes) -> Result<Response, Response> {
    ctx.signed_in()?;
    let posted = Posted::parse(&bytes);
    let (body, rows) = body(&posted);
    let inputs = inputs();
    let mut shown = Shown {
        values: posted.values(),
        posted: true,
        ..Shown::default()
    };
    match send(&ctx, "/api/v1/households", &body, &posted).await? {
        Sent::Written(answer) => {
            let id = answer.body["id"].as_str().unwrap_or_default().to_owned();
            return Ok(super::saved(&id, "household", &[]));
        }
        Sent::Refused(mut answer) | Sent::Stale(mut answer) => {
            if let Some(field) = answer.field().map(|f| to_row(f, &rows)) {
                answer.body["field"] = Value::String(field);
            }
            shown.errors = Errors::of(ctx.lang, &answer, &inputs);
            shown.status = Some(answer.status);
        }
    }
    Ok(page(&ctx, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_member_rows_are_left_out_and_errors_go_back_to_their_row() {
        let posted = Posted::parse(
            "head_name=Lan&members%5B0%5D.name=&members%5B1%5D.name=L%C3%A2n\
             &members%5B1%5D.birth_year=1.978&members%5B1%5D.sex=female\
             &members%5B3%5D.birth_year=abc&ethnic_minority=on"
                .as_bytes(),
        );
        let (body, rows) = body(&posted);
        assert_eq!(rows, vec![1, 3]);
        assert_eq!(body["members"][0]["name"], "Lân");
        assert_eq!(body["members"][0]["birth_year"], 1978);
        assert_eq!(body["members"][1]["birth_year"], "abc");
        assert_eq!(body["ethnic_minority"], true);
        assert_eq!(body["merit_family"], false);
        assert_eq!(
            to_row("members[1].birth_year", &rows),
            "members[3].birth_year"
        );
        assert_eq!(to_row("members", &rows), "members");
        assert_eq!(to_row("head_name", &rows), "head_name");
    }
}
