//! Timing helpers: run N operations over C concurrent tasks, report rate and percentiles.

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
            let ratio = match (&x.baseline, x.ratio) {
                (Some(b), Some(r)) => format!("{r:.2}× {b}"),
                _ => "baseline".to_owned(),
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

/// Runs `op(i)` for i in 0..ops, spread over `concurrency` tasks, timing each call.
pub async fn measure<F, Fut, E>(
    name: &str,
    concurrency: usize,
    ops: usize,
    baseline: Option<&str>,
    op: F,
) -> Result<Figure, E>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Send + 'static,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let op = Arc::clone(&op);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for i in (task..ops).step_by(concurrency) {
                    let t = Instant::now();
                    op(i).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, E>(latencies)
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::with_capacity(ops);
    for task in tasks {
        match task.await {
            Ok(result) => latencies.extend(result?),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    Ok(Figure {
        name: name.to_owned(),
        concurrency,
        ops,
        per_sec: ops as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        baseline: baseline.map(str::to_owned),
        ratio: None,
    })
}
