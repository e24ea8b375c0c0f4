//! The OpenAPI document, generated from the handlers (`/api/v1/openapi.json`), and the
//! interactive docs at `/docs`, whose assets are compiled into the binary (no download at
//! build or run time).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{admin, households, records, registers, reports, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ansinh",
        description = "Household poverty case tracking on an append-only event log. \
            Authenticate with `Authorization: Bearer TOKEN` (`ansinh users add`). Every error is \
            an RFC 9457 problem document (`application/problem+json`)."
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
        registers::re_poverty,
        registers::disbursements,
        reports::movements,
        admin::create_user,
        admin::update_user,
        admin::import_units,
        admin::access_log,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "households", description = "Registration, status, history and chain checks"),
        (name = "records", description = "Surveys, decisions, supports and corrections"),
        (name = "registers", description = "Registers for supervision"),
        (name = "reports", description = "Movement reports"),
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
                assert!(op["security"].is_array(), "{method} {path} has no security");
            }
        }
    }
}
