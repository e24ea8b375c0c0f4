//! The movement report as the API, the web page and `ansinh report movements` all get it: the
//! request checked (period, standard, unit), then the projection's report as far as the runner
//! has projected the log — and, for the exports, the same report of each unit directly below,
//! so every row is counted by the one rule in `ansinh_projections::movements`.
//!
//! A report only reads: one read-only REPEATABLE READ transaction reads the runner's checkpoint
//! and then the counts, so the position it names is the one its numbers are current to. The
//! runner keeps the counts current in the background of `serve`; the one-shot command
//! (`ansinh report movements`) catches up first ([`crate::projection_runner::catch_up`]).

use ansinh_events::standards::Standards;
use ansinh_projections::movements::{self, MovementReport, ReportError, Tables};
use ansinh_projections::runner::{self, AsyncProjection};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use utoipa::ToSchema;

use crate::ended_units::{self, EndedUnit};

/// The standard of a report that names none.
pub const DEFAULT_STANDARD: &str = "vn-2022-2025";

/// What a movement report is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementRequest {
    pub unit: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub standard: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MovementError {
    /// A bad request, naming the parameter (`unit`, `from`, `to`, `standard`).
    #[error("{detail}")]
    BadInput { field: &'static str, detail: String },
    /// The period runs past the unit's end: its numbers after that day would be zeros, not the
    /// households of the units that replaced it.
    #[error("{}, before the period ends ({to}); ask for a period that ends by {}, or report on what replaced it", ended.sentence(), ended.ended_on)]
    UnitEnded {
        ended: Box<EndedUnit>,
        to: NaiveDate,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Report(ReportError),
}

/// One row of the exported report: a unit and its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub code: String,
    pub name: String,
    pub tables: Tables,
}

/// The report with what its exports show beside the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementSheet {
    /// The report of the requested unit: the total row, and the JSON of the API.
    pub report: MovementReport,
    pub unit_name: String,
    /// The standard's name and legal basis, for the title.
    pub standard_name: String,
    pub legal_basis: String,
    /// Each unit directly below the requested one that existed during the period.
    pub units: Vec<UnitRow>,
    /// As [`ProjectedReport::current_to_position`].
    pub current_to_position: i64,
}

/// Checks what needs no database: the period and the standard.
pub fn check(request: &MovementRequest, standards: &Standards) -> Result<(), MovementError> {
    if request.to < request.from {
        return Err(MovementError::BadInput {
            field: "to",
            detail: format!("{} is before from {}", request.to, request.from),
        });
    }
    if standards.get(&request.standard).is_none() {
        let known: Vec<&str> = standards.ids().collect();
        return Err(MovementError::BadInput {
            field: "standard",
            detail: format!(
                "unknown standard {:?}; known: {}",
                request.standard,
                known.join(", ")
            ),
        });
    }
    Ok(())
}

/// The report as it is sent (the API's JSON, `ansinh report movements --format json`): the
/// counts and the log position they are current to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProjectedReport {
    #[serde(flatten)]
    pub report: MovementReport,
    /// The global position of the last event the counts include, in the log's commit order
    /// (0 before the first): events appended since are counted once the runner has read them.
    pub current_to_position: i64,
}

/// A read-only snapshot and the movements' checkpoint in it (read first: `LOCK_ORDER` has the
/// checkpoint before the counts).
async fn snapshot(pool: &PgPool) -> Result<(Transaction<'static, Postgres>, i64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let at = runner::checkpoint_on(&mut tx, AsyncProjection::Movements).await?;
    Ok((tx, at.global_position))
}

/// [`check`], and that the unit had not ended before the period ends: its numbers after that
/// day would be zeros, not the households of the units that replaced it.
async fn checked(
    pool: &PgPool,
    standards: &Standards,
    request: &MovementRequest,
) -> Result<(), MovementError> {
    check(request, standards)?;
    if let Some(ended) = ended_units::ended_by(pool, &request.unit, request.to).await? {
        return Err(MovementError::UnitEnded {
            ended: Box::new(ended),
            to: request.to,
        });
    }
    Ok(())
}

/// The report of the requested unit (with the units below it), as far as the runner has
/// projected the log.
pub async fn report(
    pool: &PgPool,
    standards: &Standards,
    request: &MovementRequest,
) -> Result<ProjectedReport, MovementError> {
    checked(pool, standards, request).await?;
    let (mut tx, current_to_position) = snapshot(pool).await?;
    let report = unit_report(&mut tx, request, &request.unit).await?;
    tx.commit().await?;
    Ok(ProjectedReport {
        report,
        current_to_position,
    })
}

async fn unit_report(
    conn: &mut PgConnection,
    request: &MovementRequest,
    unit: &str,
) -> Result<MovementReport, MovementError> {
    movements::report_on(conn, unit, request.from, request.to, &request.standard)
        .await
        .map_err(|e| match e {
            ReportError::UnknownUnit(_) => MovementError::BadInput {
                field: "unit",
                detail: e.to_string(),
            },
            ReportError::BadPeriod { .. } => MovementError::BadInput {
                field: "to",
                detail: e.to_string(),
            },
            ReportError::Database(e) => MovementError::Database(e),
            other => MovementError::Report(other),
        })
}

/// The report with a row for each unit directly below the requested one, for the exports; all
/// from one snapshot.
pub async fn sheet(
    pool: &PgPool,
    standards: &Standards,
    request: &MovementRequest,
) -> Result<MovementSheet, MovementError> {
    checked(pool, standards, request).await?;
    let (mut tx, current_to_position) = snapshot(pool).await?;
    let report = unit_report(&mut tx, request, &request.unit).await?;
    let standard = standards.get(&request.standard);
    let mut units = Vec::new();
    for (code, name) in units_below(&mut tx, request).await? {
        let tables = unit_report(&mut tx, request, &code).await?;
        units.push(UnitRow {
            code,
            name,
            tables: Tables {
                poor: tables.poor,
                near_poor: tables.near_poor,
            },
        });
    }
    let sheet = MovementSheet {
        unit_name: unit_name(&mut tx, request).await?,
        standard_name: standard.map(|s| s.name().to_owned()).unwrap_or_default(),
        legal_basis: standard
            .map(|s| s.legal_basis().to_owned())
            .unwrap_or_default(),
        report,
        units,
        current_to_position,
    };
    tx.commit().await?;
    Ok(sheet)
}

/// Codes and names of the units whose parent is the requested unit at some day of the period
/// (a renamed unit under its name at the end of the period), by code.
async fn units_below(
    conn: &mut PgConnection,
    request: &MovementRequest,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (code) code, name FROM admin_units
          WHERE parent_code = $1 AND valid_from <= $3 AND (valid_to IS NULL OR $2 <= valid_to)
          ORDER BY code, valid_from DESC",
    )
    .bind(&request.unit)
    .bind(request.from)
    .bind(request.to)
    .fetch_all(&mut *conn)
    .await
}

/// The requested unit's name at the end of the period (else its latest name).
async fn unit_name(
    conn: &mut PgConnection,
    request: &MovementRequest,
) -> Result<String, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT name FROM admin_units WHERE code = $1
          ORDER BY (valid_from <= $2 AND (valid_to IS NULL OR $2 <= valid_to)) DESC,
                   valid_from DESC
          LIMIT 1",
    )
    .bind(&request.unit)
    .bind(request.to)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(name.unwrap_or_else(|| request.unit.clone()))
}

/// Today in Vietnam (UTC+7), for the "made on" line of a form.
pub fn today() -> NaiveDate {
    crate::verify::today()
}
