//! `/households/{id}/surveys/new`: a survey — the deprivation indicators as labelled
//! checkboxes, the income, the other findings; the API proposes a category under every
//! standard in force on the survey date, and the household page shows it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{again, household, household_id, label, officer, render, send, today};
use super::{Posted, Sent, Shown};
use crate::api::AppState;
use crate::web::page::Ctx;
use ansinh_events::standards::Standards;

const TEXT_FIELDS: [&str; 4] = ["period", "survey_date", "cause_of_poverty", "surveyor"];

/// An indicator as the form offers it.
#[derive(Serialize)]
struct Offered {
    name: String,
    label: String,
    /// The standards it belongs to, when not every standard has it.
    only_in: Vec<String>,
    /// The unit of its raw measure (`m2_per_person`), if it has one.
    measure_unit: Option<String>,
}

/// Every indicator of the loaded standards (the newest standard's first, in its order), the
/// names the API takes in `deprivations`.
fn indicators(standards: &Standards, lang: crate::web::i18n::Lang) -> Vec<Offered> {
    let mut standards: Vec<_> = standards.iter().collect();
    standards.sort_by_key(|s| std::cmp::Reverse(s.valid_from()));
    let mut offered: Vec<Offered> = Vec::new();
    for standard in &standards {
        for indicator in standard.indicators() {
            if offered.iter().any(|o| o.name == indicator.name) {
                continue;
            }
            let only_in: Vec<String> = standards
                .iter()
                .filter(|s| s.has_indicator(&indicator.name))
                .map(|s| s.id().to_owned())
                .collect();
            offered.push(Offered {
                name: indicator.name.clone(),
                label: label(lang, "form_indicator", &indicator.name),
                only_in: if only_in.len() == standards.len() {
                    Vec::new()
                } else {
                    only_in
                },
                measure_unit: indicator.measure_unit.clone(),
            });
        }
    }
    offered
}

fn inputs(offered: &[Offered]) -> Vec<String> {
    let mut inputs: Vec<String> = TEXT_FIELDS.map(str::to_owned).to_vec();
    inputs.extend(
        [
            "income_per_capita_vnd",
            "deprivations",
            "measures",
            "working_capacity",
            "loan_demand",
        ]
        .map(str::to_owned),
    );
    for o in offered.iter().filter(|o| o.measure_unit.is_some()) {
        inputs.push(format!("measures.{}", o.name));
    }
    inputs
}

pub async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    officer(&ctx)?;
    let id = household_id(&ctx, &id)?;
    let today = today();
    let mut shown = Shown {
        household: Some(household(&ctx, id).await?),
        ..Shown::default()
    };
    shown
        .values
        .insert("period".into(), format!("{}-annual", &today[..4]));
    shown.values.insert("survey_date".into(), today);
    Ok(page(&ctx, &state.standards, shown, &[]))
}

pub(super) fn page(ctx: &Ctx, standards: &Standards, shown: Shown, checked: &[String]) -> Response {
    let offered = indicators(standards, ctx.lang);
    render(
        ctx,
        "form_survey.html",
        shown,
        context! { indicators => offered, checked },
    )
}

/// The API's JSON for what was typed.
fn body(posted: &Posted, offered: &[Offered]) -> Value {
    let mut body = Map::new();
    for name in TEXT_FIELDS {
        posted.text_into(&mut body, name);
    }
    posted.integer_into(&mut body, "income_per_capita_vnd");
    body.insert(
        "deprivations".into(),
        Value::Array(
            posted
                .all("deprivations")
                .into_iter()
                .map(Value::String)
                .collect(),
        ),
    );
    let mut measures = Map::new();
    for o in offered.iter().filter(|o| o.measure_unit.is_some()) {
        if let Some(v) = posted.trimmed(&format!("measures.{}", o.name)) {
            measures.insert(o.name.clone(), super::posted::decimal(v));
        }
    }
    body.insert("measures".into(), Value::Object(measures));
    posted.flag_into(&mut body, "working_capacity");
    posted.flag_into(&mut body, "loan_demand");
    Value::Object(body)
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id = household_id(&ctx, &raw)?;
    let posted = Posted::parse(&bytes);
    let offered = indicators(&state.standards, ctx.lang);
    let body = body(&posted, &offered);
    let checked = posted.all("deprivations");
    let path = format!("/api/v1/households/{id}/surveys");
    let shown = match send(&ctx, &path, &body, &posted).await? {
        Sent::Written(answer) => {
            // The proposals the API returned, for the household page's notice.
            let proposed: Vec<(String, String)> = answer.body["proposed"]
                .as_object()
                .map(|p| {
                    p.iter()
                        .map(|(standard, category)| {
                            let category = category.as_str().unwrap_or_default();
                            ("proposed".to_owned(), format!("{standard}:{category}"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Ok(super::saved(&id.to_string(), "survey", &proposed));
        }
        Sent::Refused(answer) => again(&ctx, id, &posted, answer, false, &inputs(&offered)).await?,
        Sent::Stale(answer) => again(&ctx, id, &posted, answer, true, &[]).await?,
    };
    Ok(page(&ctx, &state.standards, shown, &checked))
}
