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
    let events = history.as_ref().map(|h| {
        let mut events = timeline(h["events"].as_array().cloned().unwrap_or_default());
        mark_later(&mut events, &household);
        events
    });
    // The household's red flags, for those who may read them (the API decides).
    let flags = if ctx.may(Permission::ReadFunds) {
        let answer = ctx
            .call(
                Method::GET,
                &format!("/api/v1/flags?household={id}&limit=1000"),
                None,
                &[],
            )
            .await;
        part(answer).0.map(|f| f["items"].clone())
    } else {
        None
    };
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
            saved => crate::web::forms::saved_notice(&ctx),
            personal,
            events,
            history_more => history.as_ref().is_some_and(|h| !h["next_after"].is_null()),
            history_refused,
            verification,
            verification_refused,
            flags,
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

/// Marks (`later: true`) the events the state shown does not include: in effect after
/// `as_of`, or recorded after the end of `known_on` (the cut the API applied to the household).
fn mark_later(events: &mut [Value], household: &Value) {
    let day = |key: &str| {
        household[key]
            .as_str()
            .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
    };
    let (as_of, known_on) = (day("as_of"), day("known_on"));
    let known_by = known_on.map(ansinh_projections::time_travel::end_of_day_in_vietnam);
    for event in events {
        let effective = event["effective_on"]
            .as_str()
            .and_then(|d| d.parse::<chrono::NaiveDate>().ok());
        let recorded = event["recorded_at"]
            .as_str()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc));
        let later = as_of.is_some_and(|d| effective.is_some_and(|e| e > d))
            || known_by.is_some_and(|by| recorded.is_some_and(|r| r >= by));
        if let (true, Some(map)) = (later, event.as_object_mut()) {
            map.insert("later".into(), true.into());
        }
    }
}

/// The events in sequence order, each correction placed right after the fact it corrects
/// (and after that fact's earlier corrections), so what was corrected and how stand together.
fn timeline(events: Vec<Value>) -> Vec<Value> {
    let original = |e: &Value| e["corrects"]["original_sequence"].as_i64();
    let sequences: Vec<i64> = events
        .iter()
        .filter_map(|e| e["sequence"].as_i64())
        .collect();
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
    use crate::web::i18n::Lang;
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

    /// A household as the API gives it to an officer, and its one-event timeline.
    fn sample() -> (Value, Vec<Value>) {
        let household = json!({
            "id": "01a2", "head_name": "Lê Văn Cường", "unit_code": "25459", "hamlet": "Ấp Một",
            "area": "rural", "ethnic_minority": false, "merit_family": true,
            "no_working_capacity": false, "recently_exited": false,
            "registered_on": "2021-01-10", "closed_on": null, "member_count": 1,
            "members": [{"name": "Lê Văn Cường", "birth_year": 1978, "sex": "male",
                         "relation": "head", "id_number": "072178000123"}],
            "version": 3, "version_shown": 3, "as_of": null, "known_on": null,
            "status": {"vn-2022-2025": {"category": "poor", "since": "2022-12-10",
                "decision_no": "12/QĐ-UBND", "last_decided_on": "2022-12-10",
                "last_decision_no": "12/QĐ-UBND", "exited_poverty_on": null,
                "exited_near_poverty_on": null, "recently_exited": false,
                "proposed": "near_poor", "decision_reason": "họp bình xét"}}
        });
        let events = timeline(vec![json!({
            "sequence": 1, "type": "household_classified", "effective_on": "2022-12-10",
            "recorded_at": "2026-12-01T23:50:00Z",
            "actor": {"user": "Mai", "user_id": "x", "role": "commune_officer", "unit": "25459"},
            "reason": "họp bình xét", "decision_no": "12/QĐ-UBND", "legal_basis": null,
            "source": {"kind": "api"}, "correlation_id": "c",
            "data": {"standard": "vn-2022-2025", "category": "poor", "proposed": "near_poor"},
            "prev_hash": "0", "hash": "1"
        })]);
        (household, events)
    }

    #[tokio::test]
    async fn the_page_renders_the_api_answers_in_both_languages() {
        let (household, events) = sample();
        for lang in [Lang::Vi, Lang::En] {
            let ctx = Ctx::detached(lang);
            let response = ctx.render(
                "household.html",
                context! {
                    h => household.clone(), personal => true, events => events.clone(),
                    history_more => false, history_refused => None::<String>,
                    verification => json!({"intact": true, "events": 1, "head_hash": "abc", "broken": []}),
                    verification_refused => None::<String>, verified_at => "06:50 02/12/2026",
                    flags => json!([{"rule": "late_entry", "sequence": 1, "status": "explained",
                        "on_date": "2022-12-10", "evidence": [1], "explanation": "Ghi trễ",
                        "explanation_en": "Late", "reason": "Phiếu thất lạc",
                        "decision_no": "05/BB", "explained_by": "Mai", "accepted_by": null}]),
                    verify_href => "/households/01a2?verify=1", as_of => None::<String>,
                    known_on => None::<String>, may_known_on => false, may_write => true,
                    base => "/households/01a2",
                },
            );
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            let html = String::from_utf8_lossy(&body);
            assert_eq!(status, StatusCode::OK, "{html}");
            assert!(
                html.contains("06:50 02&#x2f;12&#x2f;2026"),
                "Vietnam time: {html}"
            );
            assert!(
                html.contains("id=\"flags\"") && html.contains("Phiếu thất lạc"),
                "{html}"
            );
        }
    }

    #[test]
    fn only_uuid_characters_reach_the_api_path() {
        assert_eq!(encode_segment("01a2-ff?x=1/../"), "01a2-ffx1");
    }
}
