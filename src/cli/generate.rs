//! `ansinh generate`: the generator (`crate::generate`) with a progress bar and a summary.

use std::path::Path;

use crate::generate::{generate_to, Format, GenerateError, Province};

use super::Failure;

/// `ansinh generate --households N [--province P] [--seed S] --out FILE`.
pub fn run(province: Province, households: usize, seed: u64, out: &Path) -> Result<u8, Failure> {
    let fail = |e: GenerateError| {
        if e.is_bad_input() {
            Failure::bad_input(e.to_string())
        } else {
            Failure::other(e)
        }
    };
    if households == 0 {
        return Err(fail(GenerateError::NoHouseholds));
    }
    Format::of(out).map_err(fail)?;
    let started = std::time::Instant::now();
    let bar = if households >= 10_000 {
        indicatif::ProgressBar::new(households as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "generating [{bar:40}] {pos}/{len} households, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = generate_to(province, out, households, seed, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let summary = summary.map_err(fail)?;
    eprintln!(
        "generated {} households (seed {seed}): {} review rows, {} supports in {:.1}s → {}",
        summary.households,
        summary.reviews,
        summary.supports,
        started.elapsed().as_secs_f64(),
        summary
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(0)
}
