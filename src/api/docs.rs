//! The OpenAPI document, generated from the handlers (`/api/v1/openapi.json`), and the
//! interactive docs at `/docs`, whose assets are compiled into the binary (no download at
//! build or run time).

use axum::Router;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::error::PROBLEM_JSON;
use super::{
    admin, flags, funds, households, postings, records, reform, registers, reports, review,
    review_report, verification, worklist, AppState,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ansinh",
        description = "Household poverty case tracking on an append-only event log. \
            Authenticate with `Authorization: Bearer TOKEN` (`ansinh users add`). Every error is \
            an RFC 9457 problem document (`application/problem+json`). A user whose unit has \
            ended (the 2025 reform) gets an `Ansinh-Unit-Notice` header on every response \
            saying when it ended, what replaced it and that an admin should move the user."
    ),
    paths(
        households::register,
        households::search,
        households::show,
        households::history,
        households::verify,
        households::change_members,
        households::move_household,
        households::close,
        records::survey,
        records::decide,
        records::support,
        records::correct,
        review::meeting,
        review::complaint,
        review::resolve,
        review::review,
        postings::create,
        postings::public_posting,
        review_report::review_report,
        registers::re_poverty,
        registers::disbursements,
        registers::disbursement_summary,
        worklist::worklist,
        reform::reform_worklist,
        reform::assign,
        verification::anchor,
        reports::movements,
        admin::list_users,
        admin::create_user,
        admin::update_user,
        admin::list_units,
        admin::import_units,
        admin::access_log,
        funds::open,
        funds::receive,
        funds::allocate,
        funds::transfer,
        funds::close,
        funds::list,
        funds::show,
        funds::reconciliation,
        flags::list,
        flags::summary,
        flags::explain,
        flags::accept,
    ),
    modifiers(&BearerAuth, &CommonResponses),
    tags(
        (name = "households", description = "Registration, status, history and chain checks"),
        (name = "records", description = "Surveys, decisions, supports and corrections"),
        (name = "review", description = "The review in public: village meetings, complaints and their resolution"),
        (name = "registers", description = "Registers for supervision"),
        (name = "reports", description = "Movement reports"),
        (name = "funds", description = "Funds, their allocations and reconciliation"),
        (name = "flags", description = "Red flags, their explanations and acceptances"),
        (name = "administration", description = "Users, administrative units and the read-access log"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The problem responses every operation can give, added to each operation that does not
/// document them itself, so a generated client knows every status a handler can return:
/// 400 (a malformed query or path parameter or header, or a body that is not JSON), 401 and
/// 403 on every secured operation, 404 on every operation of a `{id}` path, 409 on writes that
/// take `If-Match`, 413/415/422 on operations with a body, and 500/503 everywhere.
struct CommonResponses;

const COMMON: [(&str, &str); 10] = [
    ("400", "A malformed query or path parameter, header or body; `field` names the parameter or header"),
    ("401", "No bearer token, or one that is not valid"),
    ("403", "The role may not do this, or not in this unit"),
    ("404", "No such resource, or one outside the user's units"),
    ("409", "`If-Match` is stale (`current_version` gives the household's version), or the household is closed"),
    ("413", "The body is larger than 1 MiB"),
    ("415", "The body is not JSON"),
    ("422", "A field of the body is missing or invalid; `field` names it"),
    ("500", "An internal error; quote `request_id` when reporting it"),
    ("503", "The database cannot be reached; try again later"),
];

impl CommonResponses {
    /// The statuses `op` (at `path`) can answer with, besides its successes.
    fn statuses(path: &str, op: &Operation) -> Vec<&'static str> {
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let params = op.parameters.as_deref().unwrap_or_default();
        let takes_if_match = params
            .iter()
            .any(|p| p.parameter_in == ParameterIn::Header && p.name == "If-Match");
        let mut statuses = vec!["400", "500", "503"];
        if secured {
            statuses.extend(["401", "403"]);
        }
        if path.contains("/{id}") {
            statuses.push("404");
        }
        if op.request_body.is_some() {
            statuses.extend(["413", "415", "422"]);
        }
        if takes_if_match {
            statuses.push("409");
        }
        statuses
    }
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                for status in Self::statuses(path, op) {
                    let description = COMMON
                        .iter()
                        .find(|(s, _)| *s == status)
                        .map_or("", |(_, d)| *d);
                    let problem = ResponseBuilder::new()
                        .description(description)
                        .content(
                            PROBLEM_JSON,
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build(),
                        )
                        .build();
                    let responses = &mut op.responses.responses;
                    match responses.get_mut(status) {
                        None => {
                            responses.insert(status.to_owned(), RefOr::T(problem));
                        }
                        // A handler's own entry keeps its schema; it gets the common
                        // description when it has none.
                        Some(RefOr::T(own)) if own.description.is_empty() => {
                            own.description = description.to_owned();
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

/// The schemas of the domain's enumerations in request bodies: a string with its allowed
/// values, named as serde names them, so clients and fuzzers send values the server knows.
pub mod enums {
    use ansinh_events::household::{ClosureReason, MemberChangeReason, Sex};
    use ansinh_events::{Area, Category};
    use serde::Serialize;
    use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

    fn one_of<T: Serialize>(variants: &[T]) -> Object {
        let names: Vec<String> = variants
            .iter()
            .filter_map(|v| serde_json::to_value(v).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .build()
    }

    pub fn area() -> Object {
        one_of(&Area::ALL)
    }

    pub fn sex() -> Object {
        one_of(&[Sex::Female, Sex::Male])
    }

    pub fn category() -> Object {
        one_of(&Category::ALL)
    }

    pub fn member_change_reason() -> Object {
        use MemberChangeReason::*;
        one_of(&[Birth, Death, Marriage, Moved, Other])
    }

    pub fn closure_reason() -> Object {
        use ClosureReason::*;
        one_of(&[Dissolved, Merged, LeftProvince])
    }

    pub fn policy() -> Object {
        one_of(&super::super::registers::POLICIES)
    }

    pub fn funding_source() -> Object {
        one_of(&super::super::registers::SOURCES)
    }
}

/// `/docs` and `/api/v1/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/api/v1/openapi.json", ApiDoc::openapi()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in the document points at a schema the document defines.
    #[test]
    fn the_document_has_no_dangling_references() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        if let Ok(path) = std::env::var("ANSINH_DUMP_OPENAPI") {
            std::fs::write(path, serde_json::to_string_pretty(&doc).expect("text")).expect("dump");
        }
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(
                schemas.contains_key(name),
                "{name} is referenced but not defined"
            );
        }
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                // The public postings are read without sign-in, on purpose.
                let public = path.starts_with("/api/v1/public/");
                assert!(
                    op["security"].is_array() != public,
                    "{method} {path}: security must be declared on every operation but the public ones"
                );
            }
        }
    }
}
