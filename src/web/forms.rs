//! The officers' forms: register a household, survey, decision, support, correction, and the
//! assignment of a household of a split commune after the 2025 reform.
//!
//! A form's field names are the API's JSON fields. What was typed is turned into the API's
//! JSON as it stands (a number that is not one is sent as text, a blank field is left out) and
//! sent in-process; the API judges it. A refusal comes back as the same form with what was
//! typed and the API's answer beside the field it names, in the page's language (its `code`
//! translated). Every form carries the household version it was rendered at (`If-Match`) and
//! an idempotency key made when it was rendered (`Idempotency-Key`), so a stale form writes
//! nothing and a double click records once. Success is a 303 to the household's page.

mod correction;
mod decision;
mod posted;
mod reform;
mod register;
mod support;
mod survey;

use std::collections::BTreeMap;

use axum::http::{header, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use super::api_client::Answer;
use super::i18n::Lang;
use super::page::Ctx;
use crate::api::auth::{allows, Permission};
use crate::api::AppState;
pub use posted::Posted;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/households/new",
            get(register::form).post(register::submit),
        )
        .route(
            "/households/{id}/surveys/new",
            get(survey::form).post(survey::submit),
        )
        .route(
            "/households/{id}/decisions/new",
            get(decision::form).post(decision::submit),
        )
        .route(
            "/households/{id}/supports/new",
            get(support::form).post(support::submit),
        )
        .route(
            "/households/{id}/corrections/new",
            get(correction::form).post(correction::submit),
        )
        .route("/reform", get(reform::list))
        .route(
            "/households/{id}/reform-assignment/new",
            get(reform::form).post(reform::submit),
        )
}

/// The signed-in officer, or the page that says why not: sign-in, or 403 in the API's words
/// (the role rule is the API's [`allows`]; nothing is decided here).
fn officer(ctx: &Ctx) -> Result<(), Response> {
    let user = ctx.signed_in()?;
    if allows(user.role, Permission::WriteHouseholds) {
        return Ok(());
    }
    let refused = crate::api::auth::AuthUser(user.clone())
        .require(Permission::WriteHouseholds)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    Err(ctx.render_status(
        StatusCode::FORBIDDEN,
        "problem.html",
        context! {
            title => ctx.lang.text("problem_forbidden"),
            detail => refused,
            request_id => None::<String>,
        },
    ))
}

/// A household id from the path, or the API's 404 page for anything else (the same words as
/// for a household the user may not see).
fn household_id(ctx: &Ctx, raw: &str) -> Result<Uuid, Response> {
    raw.parse().map_err(|_| {
        ctx.refusal(&Answer {
            status: StatusCode::NOT_FOUND,
            headers: Default::default(),
            body: serde_json::json!({ "detail": format!("household {raw} was not found") }),
        })
    })
}

/// A new idempotency key for a form being rendered.
fn new_key() -> String {
    Uuid::new_v4().to_string()
}

/// What the API said about a form, placed for the page: messages by input name, and the
/// ones no input of the form stands for.
#[derive(Debug, Default, Serialize)]
pub struct Errors {
    pub fields: BTreeMap<String, Message>,
    pub general: Vec<Message>,
}

/// One error in the page's language; `detail` is the API's English words when the code has
/// no translation.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub text: String,
    pub detail: Option<String>,
}

impl Errors {
    /// The API's refusal `answer` placed on the form's `inputs`: beside the input its
    /// `field` names, or the nearest enclosing one (`replacement.x` → `replacement`), else
    /// above the form.
    pub fn of(lang: Lang, answer: &Answer, inputs: &[String]) -> Errors {
        let message = message(lang, answer);
        let mut errors = Errors::default();
        match answer.field().and_then(|f| input_for(f, inputs)) {
            Some(input) => {
                errors.fields.insert(input, message);
            }
            None => errors.general.push(message),
        }
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }
}

/// The form input for API field `field`: itself, else the longest input it lies inside.
fn input_for(field: &str, inputs: &[String]) -> Option<String> {
    let mut candidate = field;
    loop {
        if inputs.iter().any(|i| i == candidate) {
            return Some(candidate.to_owned());
        }
        let cut = candidate.rfind(['.', '['])?;
        candidate = &candidate[..cut];
    }
}

/// The API's refusal in the page's language: its `code` translated (`code_…` in the
/// catalogue), else a generic sentence with the API's English detail.
pub fn message(lang: Lang, answer: &Answer) -> Message {
    let code = answer
        .body
        .get("code")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let translated = lang.text(&format!("code_{code}"));
    if code.is_empty() || translated.is_empty() {
        Message {
            text: lang.text("error_generic").to_owned(),
            detail: Some(answer.detail()),
        }
    } else {
        Message {
            text: translated.to_owned(),
            detail: None,
        }
    }
}

/// How a form's submission ended, for its handler to finish.
pub enum Sent {
    /// Written (201): the API's answer.
    Written(Answer),
    /// Refused for what was typed (400, 422): show the form again with its errors.
    Refused(Answer),
    /// The household changed since the form was rendered (409 with the current version), or
    /// was closed (409 without): show the new state.
    Stale(Answer),
}

/// POSTs `body` to the API's `path` as this user with the form's `version` (`If-Match`) and
/// idempotency key; any refusal other than a form's (403, 404, 503…) is its page.
pub async fn send(ctx: &Ctx, path: &str, body: &Json, posted: &Posted) -> Result<Sent, Response> {
    let mut headers: Vec<(HeaderName, String)> = Vec::new();
    if let Some(version) = posted.trimmed("version") {
        headers.push((header::IF_MATCH, format!("\"{version}\"")));
    }
    if let Some(key) = posted.trimmed("idempotency_key") {
        headers.push((HeaderName::from_static("idempotency-key"), key.to_owned()));
    }
    let answer = ctx.call(Method::POST, path, Some(body), &headers).await;
    match answer.status.as_u16() {
        200..=299 => Ok(Sent::Written(answer)),
        400 | 422 => Ok(Sent::Refused(answer)),
        409 => Ok(Sent::Stale(answer)),
        _ => Err(ctx.refusal(&answer)),
    }
}

/// 303 to the household's page with the notice `saved`, and `extra` query pairs.
fn saved(id: &str, saved: &str, extra: &[(String, String)]) -> Response {
    let mut pairs = vec![("saved".to_owned(), saved.to_owned())];
    pairs.extend_from_slice(extra);
    let query = super::page::encode(&pairs);
    Redirect::to(&format!("/households/{id}?{query}")).into_response()
}

/// The notice the household page shows after a form's 303 (`?saved=survey&proposed=STD:CAT`):
/// what was saved and, after a survey, the category the API proposed under each standard.
pub(crate) fn saved_notice(ctx: &Ctx) -> Option<Json> {
    let what = ctx.param("saved")?;
    let text = match ctx.lang.text(&format!("saved_{what}")) {
        "" => return None,
        text => text,
    };
    let proposed: Vec<Json> = ctx
        .query
        .iter()
        .filter(|(k, _)| k == "proposed")
        .filter_map(|(_, v)| v.split_once(':'))
        .map(|(standard, category)| {
            serde_json::json!({
                "standard": standard,
                "category": category,
                "label": label(ctx.lang, "form_category", category),
            })
        })
        .collect();
    Some(serde_json::json!({ "text": text, "proposed": proposed }))
}

/// What a household form shows of the household: the API's view of it now.
async fn household(ctx: &Ctx, id: Uuid) -> Result<Json, Response> {
    ctx.get_json(&format!("/api/v1/households/{id}")).await
}

/// For a stale form: the household now, and the events recorded after the version the form
/// was rendered at (the API's history), so the officer sees what changed before sending again.
async fn changes(ctx: &Ctx, id: Uuid, posted: &Posted) -> Result<(Json, Json), Response> {
    let now = household(ctx, id).await?;
    let after = posted
        .trimmed("version")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0);
    let history = ctx
        .call(
            Method::GET,
            &format!("/api/v1/households/{id}/history?after={after}&limit=50"),
            None,
            &[],
        )
        .await;
    // A role that may write but not read histories still sees the new state.
    let events = if history.status.is_success() {
        history.body.get("events").cloned().unwrap_or(Json::Null)
    } else {
        Json::Null
    };
    Ok((now, events))
}

/// The parts every form's page has: the household (if any), the version and a fresh key, what
/// was typed, and the errors; `stale` carries what changed for a 409.
#[derive(Default)]
struct Shown {
    household: Option<Json>,
    values: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<String>>,
    errors: Errors,
    stale: Option<Json>,
    status: Option<StatusCode>,
    /// The form was sent (its checkboxes show what was ticked, not their defaults).
    posted: bool,
}

/// Renders `template` with the common parts and the form's own `extra` values.
fn render(ctx: &Ctx, template: &str, shown: Shown, extra: Value) -> Response {
    let status = shown.status.unwrap_or(if shown.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    });
    let version = shown
        .household
        .as_ref()
        .and_then(|h| h.get("version"))
        .and_then(Json::as_i64);
    ctx.render_status(
        status,
        template,
        context! {
            household => shown.household,
            version => version,
            idempotency_key => new_key(),
            v => shown.values,
            lists => shown.lists,
            errors => shown.errors,
            stale => shown.stale,
            posted => shown.posted,
            category_labels => labels(ctx.lang, "form_category", &CATEGORIES),
            event_labels => labels(ctx.lang, "form_event", &EVENT_TYPES),
            ..extra
        },
    )
}

/// A 409 as the form's page: the household's new state and what changed, the form again
/// with what was typed at the new version.
async fn stale(
    ctx: &Ctx,
    id: Uuid,
    posted: &Posted,
    answer: &Answer,
) -> Result<(Json, Json, Errors), Response> {
    let (now, events) = changes(ctx, id, posted).await?;
    let mut errors = Errors::default();
    let code = answer
        .body
        .get("code")
        .and_then(Json::as_str)
        .unwrap_or_default();
    if code != "stale_version" {
        errors.general.push(message(ctx.lang, answer));
    }
    let stale = serde_json::json!({
        "closed": code == "household_closed",
        "events": events,
        "rendered_at": posted.trimmed("version"),
    });
    Ok((now, stale, errors))
}

/// The API's categories.
const CATEGORIES: [&str; 4] = ["poor", "near_poor", "middle_income", "not_poor"];
/// The event types of a household's history.
const EVENT_TYPES: [&str; 19] = [
    "household_registered",
    "members_changed",
    "household_moved",
    "household_closed",
    "household_surveyed",
    "household_classified",
    "became_poor",
    "became_near_poor",
    "exited_poverty",
    "exited_near_poverty",
    "fell_back_into_poverty",
    "fell_back_into_near_poverty",
    "support_received",
    "event_corrected",
    "review_meeting_held",
    "complaint_received",
    "complaint_resolved",
    "flag_explained",
    "flag_accepted",
];

/// `name` → its label (`{prefix}_{name}` in the catalogue, else the name itself).
fn labels(lang: Lang, prefix: &str, names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .map(|n| ((*n).to_owned(), label(lang, prefix, n)))
        .collect()
}

/// The label of `name` (`{prefix}_{name}` in the catalogue), else the name itself.
fn label(lang: Lang, prefix: &str, name: &str) -> String {
    match lang.text(&format!("{prefix}_{name}")) {
        "" => name.to_owned(),
        text => text.to_owned(),
    }
}

/// The form again after the API refused it: what was typed, the error beside its input, and
/// for a 409 (`stale`) the household's new state and what changed since.
async fn again(
    ctx: &Ctx,
    id: Uuid,
    posted: &Posted,
    answer: Answer,
    is_stale: bool,
    inputs: &[String],
) -> Result<Shown, Response> {
    let mut shown = Shown {
        values: posted.values(),
        posted: true,
        status: Some(answer.status),
        ..Shown::default()
    };
    if is_stale {
        let (now, what, errors) = stale(ctx, id, posted, &answer).await?;
        shown.household = Some(now);
        shown.stale = Some(what);
        shown.errors = errors;
    } else {
        shown.household = Some(household(ctx, id).await?);
        shown.errors = Errors::of(ctx.lang, &answer, inputs);
    }
    Ok(shown)
}

/// Today in Vietnam, the default of a form's dates.
fn today() -> String {
    ansinh_projections::log::today_in_vietnam().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_api_field_finds_its_input_or_the_one_around_it() {
        let form = inputs(&["members[0].name", "replacement", "amount_vnd"]);
        assert_eq!(
            input_for("members[0].name", &form).as_deref(),
            Some("members[0].name")
        );
        assert_eq!(
            input_for("replacement.members[1].birth_year", &form).as_deref(),
            Some("replacement")
        );
        assert_eq!(
            input_for("amount_vnd", &form).as_deref(),
            Some("amount_vnd")
        );
        assert_eq!(input_for("body", &form), None);
        assert_eq!(input_for("Idempotency-Key", &form), None);
    }

    #[test]
    fn a_known_code_is_translated_and_an_unknown_one_keeps_the_apis_words() {
        let answer = |code: &str| Answer {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            headers: Default::default(),
            body: serde_json::json!({"code": code, "detail": "the words", "field": "reason"}),
        };
        let vi = message(Lang::Vi, &answer("reason_required"));
        assert!(vi.text.contains("lý do"), "{vi:?}");
        assert_eq!(vi.detail, None);
        let en = message(Lang::En, &answer("reason_required"));
        assert!(en.text.contains("reason"), "{en:?}");
        let unknown = message(Lang::Vi, &answer("something_new"));
        assert_eq!(unknown.text, Lang::Vi.text("error_generic"));
        assert_eq!(unknown.detail.as_deref(), Some("the words"));
    }

    /// A form after a refusal and a 409, with every part shown: the general errors, one
    /// beside its field, the household's new state and what changed.
    fn refused(lang: Lang, field: &str) -> Shown {
        let household = serde_json::json!({
            "id": "0190a000-0000-7000-8000-000000000001", "head_name": "Nguyễn Thị Lan",
            "unit_code": "25459", "hamlet": "Ấp Thạnh Hiệp", "member_count": 2, "version": 7,
            "members": [{"name": "Nguyễn Thị Lan"}],
            "status": {"vn-2022-2025": {"category": "poor", "last_decision_no": "1/QĐ",
                                        "last_decided_on": "2025-11-20"}},
            "proposals": {"vn-2022-2025": {"category": "near_poor", "survey_date": "2025-10-01",
                                           "deprivation_count": 2, "income_per_capita_vnd": 1}},
        });
        let mut errors = Errors::default();
        errors.general.push(Message {
            text: "chung".into(),
            detail: Some("general words".into()),
        });
        errors.fields.insert(
            field.to_owned(),
            Message {
                text: lang.text("code_reason_required").into(),
                detail: None,
            },
        );
        Shown {
            household: Some(household),
            values: [(field.to_owned(), "<typed>".to_owned())].into(),
            errors,
            stale: Some(serde_json::json!({
                "closed": false, "rendered_at": "6",
                "events": [{"sequence": 7, "type": "members_changed",
                            "effective_on": "2025-12-01", "actor": {"user": "Mai"}}],
            })),
            status: Some(StatusCode::CONFLICT),
            posted: true,
            ..Shown::default()
        }
    }

    #[tokio::test]
    async fn every_form_shows_its_errors_and_the_new_state_in_both_languages() {
        let standards = ansinh_events::standards::Standards::builtin().expect("standards");
        let events = vec![
            serde_json::json!({"sequence": 1, "type": "household_registered",
                                            "effective_on": "2025-09-01", "data": {}}),
        ];
        for lang in [Lang::Vi, Lang::En] {
            let ctx = Ctx::detached(lang);
            let pages = [
                (
                    "members[2].birth_year",
                    register::page(&ctx, refused(lang, "members[2].birth_year")),
                ),
                (
                    "income_per_capita_vnd",
                    survey::page(
                        &ctx,
                        &standards,
                        refused(lang, "income_per_capita_vnd"),
                        &["housing_area".into()],
                    ),
                ),
                ("reason", decision::page(&ctx, refused(lang, "reason"))),
                (
                    "amount_vnd",
                    support::page(&ctx, refused(lang, "amount_vnd")).await,
                ),
                (
                    "reason",
                    correction::page(
                        &ctx,
                        {
                            let mut shown = refused(lang, "reason");
                            shown.values.insert("corrects_sequence".into(), "1".into());
                            shown
                        },
                        &events,
                    ),
                ),
            ];
            for (field, response) in pages {
                assert_eq!(response.status(), StatusCode::CONFLICT);
                let body = axum::body::to_bytes(response.into_body(), 1 << 22)
                    .await
                    .expect("body");
                let html = String::from_utf8(body.to_vec()).expect("utf-8");
                let beside = format!(r#"<p class="field-error" id="err-{field}">"#);
                assert!(html.contains(&beside), "{field}: {html}");
                assert!(html.contains(r#"aria-invalid="true""#), "{field}");
                let said = lang.text("code_reason_required").replace('\'', "&#x27;");
                assert!(html.contains(&said), "{field}: {html}");
                assert!(html.contains("general words"), "{field}");
                assert!(html.contains(lang.text("stale_title")), "{field}");
                assert!(
                    html.contains(lang.text("form_event_members_changed")),
                    "{field}"
                );
                assert!(html.contains("&lt;typed&gt;"), "escaped: {field}");
                assert!(!html.contains("<typed>"), "escaped: {field}");
                assert!(html.contains(r#"name="version" value="7""#), "{field}");
            }
        }
    }
}
