//! `/`: what needs attention, by the signed-in user's role: counts and short lists with links,
//! each read from the API as that user.

use axum::response::Response;
use chrono::Datelike;
use minijinja::{context, Value};

use crate::users::Role;
use crate::web::page::Ctx;

/// Rows of each short list.
const SHORT: i64 = 10;

pub async fn page(ctx: Ctx) -> Result<Response, Response> {
    let user = ctx.signed_in()?;
    let today = crate::verify::today();
    let year_ago = today - chrono::Duration::days(365);
    let mut sections: Vec<Value> = Vec::new();
    // Which lists the start page shows is a matter of layout; each read is the API's to allow.
    match user.role {
        Role::CommuneOfficer => {
            let undecided = ctx
                .get_json(&format!("/api/v1/worklist?kind=undecided&limit={SHORT}"))
                .await?;
            sections.push(section("undecided", undecided));
            let waiting = ctx
                .get_json(&format!(
                    "/api/v1/worklist?kind=awaiting_support&limit={SHORT}"
                ))
                .await?;
            sections.push(section("awaiting_support", waiting));
        }
        Role::DistrictOfficer | Role::ProvinceOfficer => {
            let relapses = ctx
                .get_json(&format!("/api/v1/re-poverty?from={year_ago}&limit={SHORT}"))
                .await?;
            sections.push(context! {
                kind => "re_poverty",
                data => relapses,
                more => format!("/re-poverty?from={year_ago}"),
            });
            let differs = ctx
                .get_json(&format!(
                    "/api/v1/worklist?kind=differs_from_proposal&from={year_ago}&limit={SHORT}"
                ))
                .await?;
            sections.push(section("differs_from_proposal", differs));
        }
        Role::Monitor => {
            let first = today.with_day(1).unwrap_or(today);
            let month = ctx
                .get_json(&format!(
                    "/api/v1/disbursements/summary?from={first}&to={today}"
                ))
                .await?;
            sections.push(context! {
                kind => "month",
                data => month,
                month => today.format("%m/%Y").to_string(),
                more => format!("/disbursements?from={first}&to={today}"),
            });
        }
        Role::Auditor => {
            let anchor = ctx.get_json("/api/v1/anchor").await?;
            sections.push(context! { kind => "anchor", data => anchor, more => "/verify" });
        }
        Role::Admin => sections.push(context! { kind => "admin" }),
    }
    Ok(ctx.render(
        "home.html",
        context! { sections => sections, year_ago => year_ago.to_string() },
    ))
}

fn section(kind: &str, data: serde_json::Value) -> Value {
    context! { kind => kind, data => data }
}
