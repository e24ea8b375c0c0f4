//! The public part of a household's review: the village meeting's vote, complaints and their
//! resolution (`/households/{id}/meetings`, `/complaints`, `/complaints/{complaint_id}/
//! resolution`), and what stands in the way of the chair's decision (`/households/{id}/review`).
//!
//! A complainant's contact details are shown only to commune officers (whose scope holds the
//! household) and auditors; every other reader gets `contact: null` with `contact_hidden: true`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use ansinh_events::household::{
    ComplaintInput, ComplaintOutcome, HouseholdCommand, HouseholdEvent, HouseholdState,
    MeetingInput, ResolutionInput, SentBack,
};
use ansinh_events::review_deadlines::{ReviewDeadlines, COMPLAINT_RESOLUTION};

use super::auth::{need, AuthUser, HouseholdAccess, PersonalDataRead};
use super::error::{ApiError, Problem};
use super::extract::{named_uuid_path, JsonBody, WriteHeaders};
use super::households::version_created;
use super::write::{self, created};
use super::AppState;
use crate::users::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households/{id}/meetings", post(meeting))
        .route("/households/{id}/complaints", post(complaint))
        .route(
            "/households/{id}/complaints/{complaint_id}/resolution",
            post(resolve),
        )
        .route("/households/{id}/review", get(review))
}

/// Whether `role` may see a complainant's contact details (the household is already known to
/// lie in the user's scope).
pub fn sees_contact(role: Role) -> bool {
    matches!(role, Role::CommuneOfficer | Role::Auditor)
}

/// Removes `contact` from every `complaint_received` event of a history page (a JSON document
/// with `events: [{type, data}]`), marking it hidden.
pub fn hide_contacts(page: &mut Value) {
    let Some(events) = page.get_mut("events").and_then(Value::as_array_mut) else {
        return;
    };
    for event in events {
        if event["type"] == "complaint_received" {
            if let Some(data) = event.get_mut("data").and_then(Value::as_object_mut) {
                if data.get("contact").is_some_and(|c| !c.is_null()) {
                    data.insert("contact".into(), Value::Null);
                    data.insert("contact_hidden".into(), Value::Bool(true));
                }
            }
        }
    }
}

/// Whether a history page, as the log wrote it, holds a complaint — the only event with a
/// contact to hide: a page without one goes out as it is, neither parsed nor written again.
pub fn holds_complaint(page: &[u8]) -> bool {
    super::auth::mentions(page, "\"complaint_received\"")
}

/// Today in Vietnam (UTC+7).
fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MeetingBody {
    /// The review the meeting belongs to (`2025-annual`); a survey of it must be recorded.
    #[schema(example = "2025-annual")]
    pub period: String,
    pub held_on: NaiveDate,
    #[schema(example = "Ấp Thạnh Hiệp")]
    pub hamlet: String,
    /// People present (at least 1).
    #[schema(minimum = 1, maximum = 100000)]
    pub attendees: i64,
    #[schema(minimum = 0, maximum = 100000)]
    pub votes_for: i64,
    #[schema(minimum = 0, maximum = 100000)]
    pub votes_against: i64,
    /// Number of the meeting's minutes (biên bản).
    pub minutes_no: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingRecorded {
    pub version: i64,
    pub sequence: i64,
    /// `agreed` (votes_for × 2 ≥ attendees) or `review_again`: the household is sent back and
    /// a decision needs a new survey or a reason.
    #[schema(example = "agreed")]
    pub outcome: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ComplaintBody {
    #[schema(example = "2025-annual")]
    pub period: String,
    pub received_on: NaiveDate,
    /// Absent or blank for an anonymous complaint.
    #[serde(default)]
    pub from_name: Option<String>,
    /// Shown only to commune officers of the unit and auditors.
    #[serde(default)]
    pub contact: Option<String>,
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintRecorded {
    pub complaint_id: Uuid,
    pub version: i64,
    /// The day by which it must be resolved (dated limit, see `deadline_confirmed`).
    pub resolve_by: NaiveDate,
    /// False while the limit is not confirmed against the published text.
    pub deadline_confirmed: bool,
}

/// How a complaint ended.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeBody {
    /// The household is re-surveyed (a decision then needs a new survey or a reason).
    Upheld,
    /// Needs a reason.
    Rejected,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ResolutionBody {
    pub outcome: OutcomeBody,
    pub decided_on: NaiveDate,
    pub decision_no: String,
    /// Required for `rejected`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The `{complaint_id}` of a complaint route.
pub struct ComplaintId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ComplaintId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        named_uuid_path(parts, state, "complaint_id", "complaint")
            .await
            .map(ComplaintId)
    }
}

/// Record the village meeting's vote on the household's latest proposal of the period.
#[utoipa::path(post, path = "/api/v1/households/{id}/meetings", tag = "review",
    params(("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = MeetingBody,
    responses(
        (status = 201, body = MeetingRecorded),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A count out of range, more votes than attendees, no survey of the period, or a meeting before it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn meeting(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: MeetingBody = body.parse()?;
    let command = HouseholdCommand::HoldMeeting(MeetingInput {
        period: b.period,
        held_on: b.held_on,
        hamlet: b.hamlet,
        attendees: b.attendees,
        votes_for: b.votes_for,
        votes_against: b.votes_against,
        minutes_no: b.minutes_no,
    });
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    let outcome = appended
        .events
        .iter()
        .find_map(|e| match &e.event {
            HouseholdEvent::ReviewMeetingHeld(m) => Some(m.outcome.as_str().to_owned()),
            _ => None,
        })
        .unwrap_or_default();
    Ok(created(
        &appended,
        MeetingRecorded {
            version: appended.version,
            sequence: write::first_sequence(&appended),
            outcome,
        },
    ))
}

/// Record a complaint (khiếu nại) about the household's classification, named or anonymous.
#[utoipa::path(post, path = "/api/v1/households/{id}/complaints", tag = "review",
    params(("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ComplaintBody,
    responses(
        (status = 201, body = ComplaintRecorded),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn complaint(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: ComplaintBody = body.parse()?;
    let deadline = ReviewDeadlines::shipped()
        .on(COMPLAINT_RESOLUTION, b.received_on)
        .cloned();
    let command = HouseholdCommand::ReceiveComplaint {
        complaint_id: Uuid::now_v7(),
        complaint: ComplaintInput {
            period: b.period,
            received_on: b.received_on,
            from_name: b.from_name,
            contact: b.contact,
            content: b.content,
        },
        received_by: auth.user().name.clone(),
        deadline,
    };
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    // A replayed request answers with the complaint it first recorded.
    let received = appended.events.iter().find_map(|e| match &e.event {
        HouseholdEvent::ComplaintReceived(c) => Some(c),
        _ => None,
    });
    let Some(received) = received else {
        return Err(ApiError::internal(
            "a complaint was recorded without its event",
        ));
    };
    Ok(created(
        &appended,
        ComplaintRecorded {
            complaint_id: received.complaint_id,
            version: appended.version,
            resolve_by: received.resolve_by,
            deadline_confirmed: received.deadline_confirmed,
        },
    ))
}

/// Resolve a complaint: upheld (the household is reviewed again) or rejected with a reason.
#[utoipa::path(post, path = "/api/v1/households/{id}/complaints/{complaint_id}/resolution", tag = "review",
    params(("id" = Uuid, Path), ("complaint_id" = Uuid, Path),
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ResolutionBody,
    responses(
        (status = 201, body = super::households::Version),
        (status = 404, description = "No such household, or no such complaint about it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale If-Match, or the complaint is already resolved", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    HouseholdAccess { id, auth, .. }: HouseholdAccess<need::Write>,
    ComplaintId(complaint_id): ComplaintId,
    headers: WriteHeaders,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let b: ResolutionBody = body.parse()?;
    let command = HouseholdCommand::ResolveComplaint(ResolutionInput {
        complaint_id,
        outcome: match b.outcome {
            OutcomeBody::Upheld => ComplaintOutcome::Upheld,
            OutcomeBody::Rejected => ComplaintOutcome::Rejected,
        },
        decided_on: b.decided_on,
        decision_no: b.decision_no,
        reason: b.reason,
    });
    let appended = write::execute(&state, &auth, id, &headers, &body, command).await?;
    Ok(version_created(&appended))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingView {
    pub sequence: i64,
    pub period: String,
    pub held_on: NaiveDate,
    pub hamlet: String,
    pub attendees: u32,
    pub votes_for: u32,
    pub votes_against: u32,
    pub minutes_no: String,
    #[schema(example = "agreed")]
    pub outcome: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionView {
    #[schema(example = "rejected")]
    pub outcome: String,
    pub decided_on: NaiveDate,
    pub decision_no: String,
    pub reason: Option<String>,
    /// Resolved after `resolve_by`.
    pub late: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintView {
    pub complaint_id: Uuid,
    pub period: String,
    pub received_on: NaiveDate,
    pub received_by: String,
    /// `null` for an anonymous complaint.
    pub from_name: Option<String>,
    /// `null` when hidden from this reader (see `contact_hidden`) or not given.
    pub contact: Option<String>,
    pub contact_hidden: bool,
    pub content: String,
    pub resolve_by: NaiveDate,
    pub deadline_confirmed: bool,
    /// Not resolved and past `resolve_by` today.
    pub overdue: bool,
    pub resolution: Option<ResolutionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SentBackView {
    /// `meeting` (fewer than half voted for) or `upheld_complaint`.
    #[schema(example = "meeting")]
    pub by: String,
    pub since: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub household_id: Uuid,
    /// Set while the household is back in review: a decision then needs a new survey or a
    /// reason.
    pub sent_back: Option<SentBackView>,
    pub meetings: Vec<MeetingView>,
    pub complaints: Vec<ComplaintView>,
}

/// The household's meetings and complaints and whether it is back in review.
#[utoipa::path(get, path = "/api/v1/households/{id}/review", tag = "review",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ReviewView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn review(
    State(_state): State<AppState>,
    access: HouseholdAccess<need::Status>,
) -> Result<Response, ApiError> {
    let view = review_view(access.id, access.state(), &access.auth, today());
    Ok(PersonalDataRead::one(access.id, access.unit()).attach(Json(view)))
}

fn review_view(id: Uuid, state: &HouseholdState, auth: &AuthUser, today: NaiveDate) -> ReviewView {
    let shows_contact = sees_contact(auth.user().role);
    let meetings = state
        .meetings
        .iter()
        .map(|(seq, m)| MeetingView {
            sequence: *seq,
            period: m.period.clone(),
            held_on: m.held_on,
            hamlet: m.hamlet.clone(),
            attendees: m.attendees,
            votes_for: m.votes_for,
            votes_against: m.votes_against,
            minutes_no: m.minutes_no.clone(),
            outcome: m.outcome.as_str().to_owned(),
        })
        .collect();
    let mut complaints: Vec<_> = state.complaints.values().collect();
    complaints.sort_by_key(|c| c.sequence);
    let complaints = complaints
        .into_iter()
        .map(|c| {
            let r = &c.received;
            let hidden = !shows_contact && r.contact.is_some();
            ComplaintView {
                complaint_id: r.complaint_id,
                period: r.period.clone(),
                received_on: r.received_on,
                received_by: r.received_by.clone(),
                from_name: r.from_name.clone(),
                contact: if hidden { None } else { r.contact.clone() },
                contact_hidden: hidden,
                content: r.content.clone(),
                resolve_by: r.resolve_by,
                deadline_confirmed: r.deadline_confirmed,
                overdue: c.resolved.is_none() && today > r.resolve_by,
                resolution: c.resolved.as_ref().map(|x| ResolutionView {
                    outcome: x.outcome.as_str().to_owned(),
                    decided_on: x.decided_on,
                    decision_no: x.decision_no.clone(),
                    reason: x.reason.clone(),
                    late: x.late,
                }),
            }
        })
        .collect();
    ReviewView {
        household_id: id,
        sent_back: state.sent_back().map(|s| SentBackView {
            by: match s {
                SentBack::Meeting { .. } => "meeting",
                SentBack::UpheldComplaint { .. } => "upheld_complaint",
            }
            .to_owned(),
            since: s.since(),
        }),
        meetings,
        complaints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_hidden_in_history_pages_and_other_events_are_untouched() {
        let mut page = serde_json::json!({"events": [
            {"type": "complaint_received", "data": {"contact": "0912", "from_name": "A"}},
            {"type": "household_registered", "data": {"contact": "kept"}},
        ]});
        assert!(holds_complaint(page.to_string().as_bytes()));
        assert!(!holds_complaint(
            br#"{"events":[{"type":"complaint_resolved"}]}"#
        ));
        hide_contacts(&mut page);
        assert_eq!(page["events"][0]["data"]["contact"], Value::Null);
        assert_eq!(page["events"][0]["data"]["contact_hidden"], true);
        assert_eq!(page["events"][0]["data"]["from_name"], "A");
        assert_eq!(page["events"][1]["data"]["contact"], "kept");
    }

    #[test]
    fn only_commune_officers_and_auditors_see_contacts() {
        let seeing: Vec<Role> = Role::ALL.into_iter().filter(|r| sees_contact(*r)).collect();
        assert_eq!(seeing, vec![Role::CommuneOfficer, Role::Auditor]);
    }
}
