//! `/households/{id}/corrections/new`: correct (or void) an earlier fact. The officer picks
//! the event from the household's history, gives the reason and the corrected values in the
//! shape the fact's own form takes (shown filled with its current values, as JSON), or voids
//! it. Nothing is overwritten: the API records a correction beside the original.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{again, household, household_id, label, officer, render, send};
use super::{Posted, Sent, Shown};
use crate::web::page::Ctx;

const INPUTS: [&str; 3] = ["corrects_sequence", "reason", "replacement"];

/// An event the officer may pick.
#[derive(Serialize)]
struct Pickable {
    sequence: i64,
    label: String,
}

/// The household's events, oldest first (the API's history).
async fn events(ctx: &Ctx, id: Uuid) -> Result<Vec<Value>, Response> {
    let history = ctx
        .get_json(&format!("/api/v1/households/{id}/history?limit=1000"))
        .await?;
    Ok(history["events"].as_array().cloned().unwrap_or_default())
}

/// The current content of event `sequence` in the shape its own command takes: its data, or
/// its latest correction's replacement; a survey's findings as `deprivations` and `measures`.
fn current_values(events: &[Value], sequence: i64) -> Option<Value> {
    let event = events.iter().find(|e| e["sequence"] == sequence)?;
    let latest = event["corrected_by"]
        .as_array()
        .and_then(|c| c.last())
        .and_then(Value::as_i64);
    let data = match latest {
        Some(correction) => {
            let c = events.iter().find(|e| e["sequence"] == correction)?;
            c["data"]["replacement"]["data"].clone()
        }
        None if event["type"] == "event_corrected" => event["data"]["replacement"]["data"].clone(),
        None => event["data"].clone(),
    };
    if data.is_null() {
        return None;
    }
    let kind = match event["type"].as_str() {
        Some("event_corrected") => event["data"]["corrects_type"].as_str(),
        other => other,
    };
    Some(if kind == Some("household_surveyed") {
        survey_values(&data)
    } else {
        data
    })
}

/// A recorded survey as the survey form sends it.
fn survey_values(data: &Value) -> Value {
    let findings = data["indicators"].as_array().cloned().unwrap_or_default();
    let deprivations: Vec<Value> = findings
        .iter()
        .filter(|f| f["deprived"] == true)
        .map(|f| f["indicator"].clone())
        .collect();
    let measures: Map<String, Value> = findings
        .iter()
        .filter(|f| f["measure"].is_number())
        .filter_map(|f| Some((f["indicator"].as_str()?.to_owned(), f["measure"].clone())))
        .collect();
    let mut body = Map::new();
    for key in [
        "period",
        "survey_date",
        "income_per_capita_vnd",
        "working_capacity",
        "loan_demand",
        "cause_of_poverty",
        "surveyor",
    ] {
        body.insert(key.to_owned(), data[key].clone());
    }
    body.insert("deprivations".into(), Value::Array(deprivations));
    body.insert("measures".into(), Value::Object(measures));
    Value::Object(body)
}

pub async fn form(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    officer(&ctx)?;
    let id = household_id(&ctx, &id)?;
    let events = events(&ctx, id).await?;
    let mut shown = Shown {
        household: Some(household(&ctx, id).await?),
        ..Shown::default()
    };
    if let Some(sequence) = ctx
        .param("corrects_sequence")
        .and_then(|s| s.parse::<i64>().ok())
    {
        shown
            .values
            .insert("corrects_sequence".into(), sequence.to_string());
        if let Some(values) = current_values(&events, sequence) {
            let pretty = serde_json::to_string_pretty(&values).unwrap_or_default();
            shown.values.insert("replacement".into(), pretty);
        }
    }
    Ok(page(&ctx, shown, &events))
}

pub(super) fn page(ctx: &Ctx, shown: Shown, events: &[Value]) -> Response {
    let pickable: Vec<Pickable> = events
        .iter()
        .filter_map(|e| {
            let sequence = e["sequence"].as_i64()?;
            let kind = e["type"].as_str().unwrap_or_default();
            let date = e["effective_on"].as_str().unwrap_or_default();
            let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(|d| d.format("%d/%m/%Y").to_string())
                .unwrap_or_else(|_| date.to_owned());
            Some(Pickable {
                sequence,
                label: format!(
                    "#{sequence} · {} · {day}",
                    label(ctx.lang, "form_event", kind)
                ),
            })
        })
        .collect();
    let chosen = shown
        .values
        .get("corrects_sequence")
        .and_then(|s| s.parse::<i64>().ok());
    let chosen_label = pickable
        .iter()
        .find(|p| Some(p.sequence) == chosen)
        .map(|p| p.label.clone());
    let options: Vec<(String, String)> = pickable
        .into_iter()
        .map(|p| (p.sequence.to_string(), p.label))
        .collect();
    render(
        ctx,
        "form_correction.html",
        shown,
        context! { options, chosen, chosen_label },
    )
}

/// The API's JSON: the event, the reason, and the corrected values (JSON as typed; text that
/// is not JSON goes as text for the API to refuse), or `null` to void.
fn body(posted: &Posted) -> Value {
    let mut body = Map::new();
    if let Some(v) = posted.trimmed("corrects_sequence") {
        body.insert("corrects_sequence".into(), super::posted::integer(v));
    }
    posted.text_into(&mut body, "reason");
    let replacement = if posted.checked("void") {
        Value::Null
    } else {
        match posted.trimmed("replacement") {
            None => Value::Null,
            Some(text) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            }
        }
    };
    body.insert("replacement".into(), replacement);
    Value::Object(body)
}

pub async fn submit(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id = household_id(&ctx, &raw)?;
    let posted = Posted::parse(&bytes);
    let path = format!("/api/v1/households/{id}/corrections");
    let inputs = INPUTS.map(str::to_owned);
    let shown = match send(&ctx, &path, &body(&posted), &posted).await? {
        Sent::Written(_) => return Ok(super::saved(&id.to_string(), "correction", &[])),
        Sent::Refused(answer) => again(&ctx, id, &posted, answer, false, &inputs).await?,
        Sent::Stale(answer) => again(&ctx, id, &posted, answer, true, &[]).await?,
    };
    let events = events(&ctx, id).await?;
    Ok(page(&ctx, shown, &events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_surveys_values_are_what_the_survey_form_sends_and_a_correction_counts() {
        let events = vec![
            json!({"sequence": 2, "type": "household_surveyed", "corrected_by": [3],
                   "data": {"period": "2025-annual", "survey_date": "2025-10-01",
                            "income_per_capita_vnd": 1, "working_capacity": true,
                            "loan_demand": false, "cause_of_poverty": null, "surveyor": "Mai",
                            "area": "rural", "proposed": {},
                            "indicators": [{"indicator": "housing_area", "deprived": true,
                                            "measure": 6.5}]}}),
            json!({"sequence": 3, "type": "event_corrected",
                   "data": {"corrects_type": "household_surveyed", "replacement":
                            {"type": "household_surveyed", "data":
                             {"period": "2025-annual", "survey_date": "2025-10-02",
                              "income_per_capita_vnd": 2, "working_capacity": true,
                              "loan_demand": false, "cause_of_poverty": null,
                              "surveyor": "Mai", "indicators": []}}}}),
        ];
        let values = current_values(&events, 2).expect("values");
        assert_eq!(values["income_per_capita_vnd"], 2);
        assert_eq!(values["deprivations"], json!([]));
        assert!(values.get("proposed").is_none());
        let posted = Posted::parse(b"corrects_sequence=2&reason=sai&replacement=%7B%22a%22%3A1%7D");
        assert_eq!(
            body(&posted),
            json!({"corrects_sequence": 2, "reason": "sai", "replacement": {"a": 1}})
        );
        let void = Posted::parse(b"corrects_sequence=2&reason=sai&replacement=x&void=on");
        assert_eq!(body(&void)["replacement"], Value::Null);
    }
}
