//! `/households/{id}`: a household's profile, status, timeline and chain check, as it stands
//! now, as it stood at the end of `as_of`, or (auditors) as it was known at the end of
//! `known_on`. The profile, history and verification are the API's; a part the user's role may
//! not read (history for monitors) is left out with the API's reason.

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use minijinja::context;
use serde_json::Value;

use crate::api::auth::Permission;
use crate::web::page::Ctx;

/// One part of the page the API may refuse: its answer, or why it was refused.
fn part(answer: crate::web::api_client::Answer) -> (Option<Value>, Option<String>) {
    if answer.status.is_success() {
        (Some(answer.body), None)
    } else {
        (None, Some(answer.detail()))
    }
}

pub async fn page(ctx: Ctx, Path(id): Path<String>) -> Result<Response, Response> {
    ctx.signed_in()?;
    let id = encode_segment(&id);
    let cut = ctx.api_query(&["as_of", "known_on"]);
    let household = ctx
        .get_json(&format!("/api/v1/households/{id}?{cut}"))
        .await?;
    let history = ctx
        .call(
            Method::GET,
            &format!("/api/v1/households/{id}/history?limit=1000"),
            None,
            &[],
        )
        .await;
    // 403 means the role may not read histories: the page says so. Anything else is the page's.
    if !history.status.is_success() && history.status != StatusCode::FORBIDDEN {
        return Err(ctx.refusal(&history));
    }
    let (history, history_refused) = part(history);
    let verification = ctx
        .call(
            Method::GET,
            &format!("/api/v1/households/{id}/verify"),
            None,
            &[],
        )
        .await;
    if !verification.status.is_success() && verification.status != StatusCode::FORBIDDEN {
        return Err(ctx.refusal(&verification));
    }
    let (verification, verification_refused) = part(verification);
    let events = history
        .as_ref()
        .map(|h| timeline(h["events"].as_array().cloned().unwrap_or_default()));
    let members = household["members"].as_array().cloned().unwrap_or_default();
    // Monitors get no birth years or ID numbers from the API: no columns for them either.
    let personal = members
        .iter()
        .any(|m| m.get("birth_year").is_some() || m.get("id_number").is_some());
    let base = format!("/households/{id}");
    Ok(ctx.render(
        "household.html",
        context! {
            h => household,
            personal,
            events,
            history_more => history.as_ref().is_some_and(|h| !h["next_after"].is_null()),
            history_refused,
            verification,
            verification_refused,
            verified_at => crate::web::vietnam_time(Utc::now()),
            verify_href => format!("{base}?{}", with_verify(&ctx)),
            as_of => ctx.param("as_of"),
            known_on => ctx.param("known_on"),
            may_known_on => ctx.may(Permission::ReadAsKnown),
            may_write => ctx.may(Permission::WriteHouseholds),
            base,
        },
    ))
}

/// An id from the path, made safe for the API's path (the API answers 404 for a bad one).
fn encode_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// This page's query with `verify=1` (a GET that only reads: verifying changes nothing).
fn with_verify(ctx: &Ctx) -> String {
    let mut pairs: Vec<(String, String)> = ctx
        .query
        .iter()
        .filter(|(k, _)| k != "verify")
        .cloned()
        .collect();
    pairs.push(("verify".into(), "1".into()));
    crate::web::page::encode(&pairs)
}

/// The events in sequence order, each correction placed right after the fact it corrects
/// (and after that fact's earlier corrections), so what was corrected and how stand together.
fn timeline(events: Vec<Value>) -> Vec<Value> {
    let original = |e: &Value| e["corrects"]["original_sequence"].as_i64();
    let sequences: Vec<i64> = events.iter().filter_map(|e| e["sequence"].as_i64()).collect();
    let (corrections, facts): (Vec<Value>, Vec<Value>) = events
        .into_iter()
        .partition(|e| original(e).is_some_and(|o| sequences.contains(&o)));
    let mut ordered: Vec<Value> = Vec::with_capacity(facts.len() + corrections.len());
    for fact in facts {
        let sequence = fact["sequence"].as_i64();
        ordered.push(fact);
        ordered.extend(
            corrections
                .iter()
                .filter(|c| original(c) == sequence)
                .cloned(),
        );
    }
    for event in &mut ordered {
        let local = event["recorded_at"]
            .as_str()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map(|at| crate::web::vietnam_time(at.with_timezone(&Utc)));
        if let (Some(local), Some(map)) = (local, event.as_object_mut()) {
            map.insert("recorded_local".into(), local.into());
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn corrections_follow_what_they_correct() {
        let events = vec![
            json!({"sequence": 1}),
            json!({"sequence": 2, "corrected_by": [4, 5]}),
            json!({"sequence": 3}),
            json!({"sequence": 4, "corrects": {"sequence": 2, "original_sequence": 2}}),
            json!({"sequence": 5, "corrects": {"sequence": 4, "original_sequence": 2}}),
        ];
        let order: Vec<i64> = timeline(events)
            .iter()
            .filter_map(|e| e["sequence"].as_i64())
            .collect();
        assert_eq!(order, vec![1, 2, 4, 5, 3]);
    }

    #[test]
    fn only_uuid_characters_reach_the_api_path() {
        assert_eq!(encode_segment("01a2-ff?x=1/../"), "01a2-ffx1");
    }
}
