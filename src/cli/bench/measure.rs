//! Timing helpers: run N operations over C concurrent tasks, report rate and percentiles,
//! each figure measured in alternating rounds with its plain-PostgreSQL baseline.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub concurrency: usize,
    pub ops: usize,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Name of the plain-PostgreSQL figure this one is compared with.
    pub baseline: Option<String>,
    pub ratio: Option<f64>,
    /// For a figure with no plain-PostgreSQL counterpart: the goal it is read against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    /// For a figure measured in rounds beside its baseline: the lowest and highest ratio of
    /// one round, so a reader sees how far this shared machine's noise moved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_ratios: Option<(f64, f64)>,
}

impl Figure {
    /// `ops` done once by one task in `secs` (a COPY, an import, a rebuild): a rate and no
    /// latencies of its own.
    pub fn once_through(
        name: impl Into<String>,
        ops: usize,
        secs: f64,
        baseline: Option<&str>,
    ) -> Figure {
        Figure {
            name: name.into(),
            concurrency: 1,
            ops,
            per_sec: ops as f64 / secs.max(1e-9),
            p50_ms: 0.0,
            p99_ms: 0.0,
            baseline: baseline.map(str::to_owned),
            ratio: None,
            goal: None,
            round_ratios: None,
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Table {
    pub figures: Vec<Figure>,
}

impl Table {
    pub fn push(&mut self, mut figure: Figure) {
        if let Some(base) = &figure.baseline {
            figure.ratio = self
                .figures
                .iter()
                .find(|f| &f.name == base)
                .map(|b| figure.per_sec / b.per_sec);
        }
        self.figures.push(figure);
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "| figure | tasks | ops | per second | p50 ms | p99 ms | vs plain PostgreSQL |"
        )?;
        writeln!(f, "| --- | ---: | ---: | ---: | ---: | ---: | --- |")?;
        for x in &self.figures {
            let ratio = match (&x.baseline, x.ratio, x.round_ratios) {
                (Some(b), Some(r), Some((low, high))) => {
                    format!("{r:.2}× {b} (rounds {low:.2}–{high:.2}×)")
                }
                (Some(b), Some(r), None) => format!("{r:.2}× {b}"),
                _ => x.goal.clone().unwrap_or_else(|| "baseline".to_owned()),
            };
            writeln!(
                f,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} |",
                x.name, x.concurrency, x.ops, x.per_sec, x.p50_ms, x.p99_ms, ratio
            )?;
        }
        Ok(())
    }
}

/// Measures a plain-PostgreSQL baseline and the figure compared with it in alternating
/// rounds (baseline first in even rounds, second in odd ones), so both meet the same noise of
/// this shared machine rather than one getting a quiet minute and the other a busy one.
pub async fn interleaved<B, BF, S, SF, E>(
    names: (&str, &str),
    concurrency: usize,
    ops: usize,
    baseline: B,
    subject: S,
) -> Result<(Figure, Figure), E>
where
    B: Fn(usize) -> BF + Send + Sync + 'static,
    BF: Future<Output = Result<(), E>> + Send,
    S: Fn(usize) -> SF + Send + Sync + 'static,
    SF: Future<Output = Result<(), E>> + Send,
    E: Send + 'static,
{
    const ROUNDS: usize = 6;
    let (baseline, subject) = (Arc::new(baseline), Arc::new(subject));
    let (mut b, mut s) = (Run::default(), Run::default());
    let mut round_ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let chunk = round * ops / ROUNDS..(round + 1) * ops / ROUNDS;
        let (base_round, subject_round) = if round % 2 == 0 {
            let base_round = run_chunk(Arc::clone(&baseline), concurrency, chunk.clone()).await?;
            (
                base_round,
                run_chunk(Arc::clone(&subject), concurrency, chunk).await?,
            )
        } else {
            let subject_round = run_chunk(Arc::clone(&subject), concurrency, chunk.clone()).await?;
            (
                run_chunk(Arc::clone(&baseline), concurrency, chunk).await?,
                subject_round,
            )
        };
        // A round with no operation (fewer operations than rounds) has no ratio.
        if !base_round.1.is_empty() {
            round_ratios.push(base_round.0.as_secs_f64() / subject_round.0.as_secs_f64().max(1e-9));
        }
        b.add(base_round);
        s.add(subject_round);
    }
    let base = b.figure(names.0, concurrency, None);
    let mut subject = s.figure(names.1, concurrency, Some(names.0));
    subject.ratio = Some(subject.per_sec / base.per_sec.max(1e-9));
    subject.round_ratios = spread(&round_ratios);
    Ok((base, subject))
}

/// The lowest and highest of `ratios`, if there are any.
fn spread(ratios: &[f64]) -> Option<(f64, f64)> {
    let low = ratios.iter().copied().reduce(f64::min)?;
    let high = ratios.iter().copied().reduce(f64::max)?;
    Some((low, high))
}

/// Times `ops` operations over `concurrency` tasks in one go, without rounds: for what happens
/// once, such as a server's first requests.
pub async fn once<F, Fut, E>(
    name: &str,
    concurrency: usize,
    ops: usize,
    op: F,
    baseline: Option<&str>,
) -> Result<Figure, E>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Send + 'static,
{
    let mut run = Run::default();
    run.add(run_chunk(Arc::new(op), concurrency, 0..ops).await?);
    Ok(run.figure(name, concurrency, baseline))
}

/// Operations timed so far: their total wall time and each one's latency.
#[derive(Default)]
struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn add(&mut self, (elapsed, latencies): (Duration, Vec<Duration>)) {
        self.elapsed += elapsed;
        self.latencies.extend(latencies);
    }

    fn figure(mut self, name: &str, concurrency: usize, baseline: Option<&str>) -> Figure {
        let ops = self.latencies.len();
        self.latencies.sort_unstable();
        Figure {
            name: name.to_owned(),
            concurrency,
            ops,
            per_sec: ops as f64 / self.elapsed.as_secs_f64().max(1e-9),
            p50_ms: percentile_ms(&self.latencies, 0.50),
            p99_ms: percentile_ms(&self.latencies, 0.99),
            baseline: baseline.map(str::to_owned),
            ratio: None,
            goal: None,
            round_ratios: None,
        }
    }
}

/// The `p` quantile (0 to 1) of `sorted` durations, in milliseconds (0 when there are none).
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Runs `op(i)` for every i of `range`, spread over `concurrency` tasks.
async fn run_chunk<F, Fut, E>(
    op: Arc<F>,
    concurrency: usize,
    range: std::ops::Range<usize>,
) -> Result<(Duration, Vec<Duration>), E>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let op = Arc::clone(&op);
            let range = range.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for i in (range.start + task..range.end).step_by(concurrency) {
                    let t = Instant::now();
                    op(i).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, E>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(range.len());
    for task in tasks {
        match task.await {
            Ok(result) => latencies.extend(result?),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
    Ok((started.elapsed(), latencies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_figure_says_the_spread_of_its_rounds_and_its_ratio_lies_within_it() {
        let op = |_| async {
            tokio::task::yield_now().await;
            Ok::<(), ()>(())
        };
        let (base, subject) = interleaved(("plain", "subject"), 2, 60, op, op)
            .await
            .expect("no operation fails");
        let (low, high) = subject.round_ratios.expect("six rounds ran");
        let ratio = subject.ratio.expect("a ratio");
        // The whole run's ratio is a mediant of the rounds' ones: never outside them.
        assert!(low <= ratio * (1.0 + 1e-9) && ratio <= high * (1.0 + 1e-9));
        assert_eq!(base.round_ratios, None);
        let mut table = Table::default();
        table.push(base);
        table.push(subject);
        let text = table.to_string();
        assert!(
            text.contains(&format!("× plain (rounds {low:.2}–{high:.2}×)")),
            "{text}"
        );
    }

    #[test]
    fn no_round_no_spread() {
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[0.5, 0.25, 0.75]), Some((0.25, 0.75)));
    }
}
