//! `ansinh rebuild`: dropping and rebuilding read models from the log (the library function is
//! `ansinh_projections::rebuild::rebuild`; this prints its progress and summary). The runner
//! that keeps the asynchronous ones current lives in [`crate::projection_runner`].

use ansinh_projections::rebuild::{self, Projection};
use sqlx::PgPool;

use crate::cli::Failure;
use crate::projection_runner::catch_up;

/// The read models `--projection` names (all without it); an unknown name is bad input.
pub fn select(name: Option<&str>) -> Result<Vec<Projection>, Failure> {
    rebuild::select(name).map_err(|e| Failure::bad_input(e.to_string()))
}

/// `ansinh rebuild`: progress on stderr, a JSON summary on stdout.
pub async fn command(pool: &PgPool, projections: &[Projection]) -> Result<u8, Failure> {
    let bar = crate::progress::bar("rebuilding");
    let report = rebuild::rebuild(pool, projections, rebuild::DEFAULT_BATCH, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .map_err(Failure::other)?;
    bar.finish_and_clear();
    // Events appended while the rebuild ran reach the movements now rather than at the next
    // runner tick.
    if projections.contains(&Projection::Movements) {
        catch_up(pool).await.map_err(Failure::other)?;
    }
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "rebuilt {} from {} events of {} households in {:.2}s ({:.0} events/s)",
        report
            .projections
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", "),
        report.events,
        report.households,
        secs,
        report.events as f64 / secs
    );
    outln!(
        "{}",
        serde_json::json!({
            "projections": report.projections.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "events": report.events,
            "households": report.households,
            "batches": report.batches,
            "seconds": secs,
        })
    );
    Ok(0)
}
