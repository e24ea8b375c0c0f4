//! The path every write takes: who may write here, the envelope from the authenticated user,
//! `If-Match` (409 when stale) or retry on a lost race, and `Idempotency-Key`.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use ansinh_events::household::{
    placement, Command, HouseholdCommand, HouseholdError, HouseholdState, UnitValidity,
};
use ansinh_events::{CommandContext, Idempotency, Source};
use ansinh_projections::units;

use super::auth::AuthUser;
use super::error::ApiError;
use super::extract::{JsonBody, WriteHeaders};
use super::AppState;
use crate::store::{Appended, Cached, StoreError};

/// A registered household's history and folded state, or 404: from the event log's cache for
/// a write (the append itself refuses a stale state), read from the log for anything shown.
pub async fn load(state: &AppState, id: Uuid, for_write: bool) -> Result<Arc<Cached>, ApiError> {
    let loaded = if for_write {
        state.log.household(id).await?
    } else {
        state.log.household_from_log(id).await?
    };
    if loaded.state.registered_on.is_none() {
        return Err(ApiError::household_not_found(id));
    }
    Ok(loaded)
}

/// The unit a household belongs to now (after moves and corrections).
pub fn unit_of(household: &HouseholdState) -> &str {
    household
        .current
        .as_ref()
        .map(|c| c.unit_code.as_str())
        .unwrap_or_default()
}

/// The unit a household is to be placed in on `on` (registered, moved, or corrected into),
/// looked up for the placement rule. A unit that passes the rule must also lie in the user's
/// scope (403). One that fails it is handed on: the aggregate refuses it with the right field
/// (`unit_code`, or `replacement.unit_code` in a correction), before any scope is judged.
pub async fn placement_target(
    state: &AppState,
    auth: &AuthUser,
    code: &str,
    on: NaiveDate,
    field: &str,
) -> Result<Option<UnitValidity>, ApiError> {
    let code = code.trim();
    let unit = units::placement_record(&units::by_code(&state.pool, code).await?, on);
    match placement(code, unit, on) {
        Ok(()) => auth.require_scope(state, code, Some(on)).await?,
        // A commune ended by a reform: say which one(s) replaced it.
        Err(e @ HouseholdError::UnitNotValid { .. }) => {
            if let Some(why) = units::successors(&state.pool).await?.explain(code, on) {
                return Err(ApiError::invalid_as(e.code(), field, format!("{e}; {why}")));
            }
        }
        Err(_) => {}
    }
    Ok(unit)
}

/// A closure's `merged_into` must name another registered household the user may see; any
/// other is refused on `field` (422) in the same words whether it is unknown or out of scope.
pub async fn merge_target(
    state: &AppState,
    auth: &AuthUser,
    closing: Uuid,
    merged_into: Option<Uuid>,
    field: &str,
) -> Result<(), ApiError> {
    let Some(target) = merged_into else {
        return Ok(());
    };
    if target == closing {
        return Err(ApiError::invalid(
            field,
            "a household cannot be merged into itself",
        ));
    }
    let not_found = || ApiError::invalid(field, format!("household {target} was not found"));
    // The status row (written with every event) says whether the household exists and where:
    // one indexed row, not a fold of the target's whole history.
    let unit: Option<(String, NaiveDate)> =
        sqlx::query_as("SELECT unit_code, placed_on FROM household_status WHERE household_id = $1")
            .bind(target)
            .fetch_optional(&state.pool)
            .await?;
    match unit {
        Some((unit, placed_on)) if auth.covers(state, &unit, Some(placed_on)).await? => Ok(()),
        _ => Err(not_found()),
    }
}

/// The request's idempotency record, from its `Idempotency-Key` and body. Keys are kept per
/// user (the envelope's actor), so another user's equal key is another request; the digest
/// still names the user, so no stored result can answer for another.
pub fn idempotency(
    auth: &AuthUser,
    headers: &WriteHeaders,
    body: &JsonBody,
) -> Option<Idempotency> {
    headers.idempotency_key.clone().map(|key| Idempotency {
        key,
        request_digest: hex::encode(Sha256::digest(format!(
            "{}\n{}",
            auth.user().id,
            body.digest
        ))),
    })
}

/// Runs a command for the authenticated user.
pub async fn execute(
    state: &AppState,
    auth: &AuthUser,
    household_id: Uuid,
    headers: &WriteHeaders,
    body: &JsonBody,
    action: HouseholdCommand,
) -> Result<Appended, ApiError> {
    let mut ctx = CommandContext::new(household_id, auth.actor(), Source::Api, Utc::now());
    ctx.parameters = state.standards.parameters().clone();
    ctx.idempotency = idempotency(auth, headers, body);
    let command = Command { ctx, action };
    if let Some(first) = state.log.replay_of(&command).await? {
        return Ok(first);
    }
    // The scope is checked again on the very state the command is decided on: a retry after
    // a lost race may see a household another request has just moved.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = state
            .log
            .household_at(household_id, headers.if_match)
            .await?;
        if current.state.registered_on.is_some() {
            let placed_on = current.state.placed_on();
            auth.require_household_scope(state, household_id, unit_of(&current.state), placed_on)
                .await?;
        }
        match state
            .log
            .execute_on(&current, command.clone(), headers.if_match)
            .await
        {
            Err(StoreError::Conflict { .. })
                if headers.if_match.is_none() && attempt < MAX_ATTEMPTS => {}
            other => return Ok(other?),
        }
    }
}

/// How often a write without `If-Match` is decided again after losing a race.
const MAX_ATTEMPTS: usize = 50;

/// A 201 with `ETag: "VERSION"`, marked when it replays an earlier request's result.
pub fn created(appended: &Appended, body: impl Serialize) -> Response {
    created_at(appended.version, appended.replayed, body)
}

/// [`created`] for any aggregate (funds too): its version, and whether the answer replays an
/// earlier request's.
pub fn created_at(version: i64, replayed: bool, body: impl Serialize) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        headers.insert(header::ETAG, etag);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Sequence of the first event a command appended (0 when it appended none).
pub fn first_sequence(appended: &Appended) -> i64 {
    appended.events.first().map_or(0, |e| e.meta.sequence)
}
