//! `ansinh demo`: a living province in one command. On first start it generates a synthetic
//! province — new Tây Ninh, its households moved across the reform of 1 July 2025 by the
//! import — and imports it into the data dir's database (later starts keep it), creates one
//! user per role in units that exist today and prints their tokens, usernames and passwords,
//! then serves.

use ansinh_events::standards::Standards;
use sqlx::PgPool;

use crate::import::read::Sheets;
use crate::import::run::{import_sheets, ImportOptions};
use crate::users::{self, Role};

pub const DEFAULT_HOUSEHOLDS: usize = 3_000;

/// The province the demo serves: Tây Ninh, code 80 since 1 July 2025 (old Long An's code
/// until then: codes are reused).
pub const PROVINCE: &str = "80";

/// The commune officers get when no household sits in a commune that exists today: Phường
/// Tân Ninh.
const FALLBACK_COMMUNE: &str = "25459";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not generate the demo province: {0}")]
    Generate(String),
    #[error("could not import the demo province: {0}")]
    Import(String),
    #[error("could not create the demo users: {0}")]
    Users(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("interrupted while importing the demo province; nothing of it was kept")]
    Interrupted,
}

/// Households imported in one transaction at most: the demo's province (a few thousand) goes in
/// whole, so an interrupted first start leaves nothing half-imported for the next to keep.
const ONE_TRANSACTION: usize = 25_000;

/// A demo user: the token to paste into `Authorization: Bearer …`, and the username and
/// password to sign in with at `/login`.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub role: Role,
    pub unit: String,
    pub token: String,
    pub username: String,
    pub password: String,
}

/// Seeds the province if the log is empty; returns how many households the log holds.
pub async fn seed(
    pool: &PgPool,
    households: usize,
    standards: &Standards,
) -> Result<i64, DemoError> {
    let (existing,): (i64,) =
        sqlx::query_as("SELECT count(DISTINCT aggregate_id) FROM household_events")
            .fetch_one(pool)
            .await?;
    if existing > 0 {
        eprintln!("using the {existing} households already in this data dir");
        return Ok(existing);
    }
    let bar = crate::progress::bar("importing");
    let options = ImportOptions {
        batch_households: households.min(ONE_TRANSACTION),
        ..ImportOptions::default()
    };
    let seeding = async {
        eprintln!("generating a province of {households} households (first start only)…");
        let generated = tokio::task::spawn_blocking(move || {
            crate::generate::generate_in(
                crate::generate::Province::TayNinh,
                households,
                crate::generate::DEFAULT_SEED,
            )
        })
        .await
        .map_err(|e| DemoError::Generate(e.to_string()))?
        .map_err(|e| DemoError::Generate(e.to_string()))?;
        // Line numbers as a file would have them (header = line 1).
        let today = crate::verify::today();
        let complaints = crate::generate::complaints::plan(&generated.reviews, today);
        let sheets = Sheets {
            reviews: (2..).zip(generated.reviews).collect(),
            supports: (2..).zip(generated.supports).collect(),
        };
        let summary = import_sheets(pool, sheets, standards, &options, &bar)
            .await
            .map_err(|e| DemoError::Import(e.to_string()))?;
        record_complaints(pool, complaints).await?;
        Ok::<_, DemoError>(summary)
    };
    // Ctrl-C while seeding must stop the embedded PostgreSQL too (the caller drops it on an
    // error), not kill the process and leave the server running: the signal is listened to
    // (`biased`: first) before seeding starts.
    let summary = tokio::select! {
        biased;
        () = crate::server::shutdown_signal() => {
            bar.finish_and_clear();
            return Err(DemoError::Interrupted);
        }
        summary = seeding => summary?,
    };
    eprintln!(
        "imported {} households, {} events in {:.1}s",
        summary.households, summary.events_written, summary.seconds
    );
    // The read models the runner keeps (movements, red flags) are ready before the first page.
    crate::projection_runner::catch_up(pool)
        .await
        .map_err(|e| DemoError::Import(e.to_string()))?;
    Ok(summary.households as i64)
}

/// Records the generator's complaints (see [`crate::generate::complaints`]) through the
/// event log, as an officer would; one the rules refuse is skipped with a warning.
async fn record_complaints(
    pool: &PgPool,
    planned: Vec<crate::generate::complaints::PlannedComplaint>,
) -> Result<(), DemoError> {
    use ansinh_events::household::{Command, HouseholdCommand};
    use ansinh_events::review_deadlines::{ReviewDeadlines, COMPLAINT_RESOLUTION};
    use ansinh_events::{Actor, CommandContext, Source};
    let log = crate::store::EventLog::new(pool.clone())
        .await
        .map_err(|e| DemoError::Import(e.to_string()))?;
    let actor = Actor::system("ansinh demo");
    for p in planned {
        let ctx = || {
            CommandContext::new(
                p.household_id,
                actor.clone(),
                Source::Cli,
                chrono::Utc::now(),
            )
        };
        let received = HouseholdCommand::ReceiveComplaint {
            complaint_id: p.complaint_id,
            deadline: ReviewDeadlines::shipped()
                .on(COMPLAINT_RESOLUTION, p.complaint.received_on)
                .cloned(),
            complaint: p.complaint.clone(),
            received_by: "Cán bộ văn hóa – xã hội xã".to_owned(),
        };
        let mut commands = vec![received];
        commands.extend(p.resolution.clone().map(HouseholdCommand::ResolveComplaint));
        for action in commands {
            let command = Command { ctx: ctx(), action };
            if let Err(e) = log.execute_retrying(command).await {
                tracing::warn!(household = %p.household_id, error = %e, "demo complaint skipped");
                break;
            }
        }
    }
    Ok(())
}

/// One new user per role, in units that exist today. The commune officer gets the commune
/// that holds the most households today (codes are reused: a household placed in an old unit
/// of the same code does not count); the district officer the unit above it today — the
/// province, since districts were abolished on 1 July 2025; the others the province.
pub async fn users(pool: &PgPool) -> Result<Vec<DemoUser>, DemoError> {
    let today = crate::verify::today();
    let commune: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT s.unit_code, min(u.parent_code)
           FROM household_status s
           JOIN admin_units u
             ON u.code = s.unit_code AND u.level = 'commune'
            AND u.valid_from <= s.placed_on AND u.valid_from <= $1
            AND (u.valid_to IS NULL OR u.valid_to >= $1)
          GROUP BY s.unit_code
          ORDER BY count(*) DESC, s.unit_code
          LIMIT 1",
    )
    .bind(today)
    .fetch_optional(pool)
    .await?;
    let (commune, above) = commune.unwrap_or_else(|| (FALLBACK_COMMUNE.to_owned(), None));
    let above = above.unwrap_or_else(|| PROVINCE.to_owned());
    let plan = [
        (Role::CommuneOfficer, commune.as_str()),
        (Role::DistrictOfficer, above.as_str()),
        (Role::ProvinceOfficer, PROVINCE),
        (Role::Auditor, PROVINCE),
        (Role::Monitor, PROVINCE),
        (Role::Admin, PROVINCE),
    ];
    let mut out = Vec::new();
    for (role, unit) in plan {
        let username = format!("demo_{}", role.as_str());
        let password = users::new_password().map_err(|e| DemoError::Users(e.to_string()))?;
        // Every start makes new users with new passwords; the name signs in as the newest (the
        // users of earlier starts keep their tokens, not their passwords).
        sqlx::query("UPDATE users SET password_hash = NULL WHERE name = $1")
            .bind(&username)
            .execute(pool)
            .await?;
        let (_, token) = users::create_with_password(pool, &username, role, unit, Some(&password))
            .await
            .map_err(|e| DemoError::Users(e.to_string()))?;
        out.push(DemoUser {
            role,
            unit: unit.to_owned(),
            token,
            username,
            password,
        });
    }
    Ok(out)
}
