//! The accessibility check: axe-core (vendored in `assets/`, MPL-2.0, from the npm registry's
//! `axe-core` package) run in the page shown, failing on serious and critical violations.

use serde::Deserialize;
use serde_json::Value;

use crate::browser::Browser;

/// axe-core 4.14.1 (`npm pack axe-core`); its licence is beside it.
const AXE: &str = include_str!("assets/axe.min.js");

/// The impacts that fail a test; `moderate` and `minor` ones are left to judgement.
const FAILING: [&str; 2] = ["serious", "critical"];

#[derive(Debug, Deserialize)]
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    #[serde(rename = "helpUrl")]
    help_url: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    target: Value,
    html: String,
    #[serde(rename = "failureSummary", default)]
    failure_summary: Option<String>,
}

impl Browser {
    /// Runs axe-core on the page shown; panics listing every serious or critical violation.
    pub async fn axe_check(&self) {
        let path = self.path().await;
        let failing = self.axe_violations().await;
        let failing: Vec<&Violation> = failing
            .iter()
            .filter(|v| v.impact.as_deref().is_some_and(|i| FAILING.contains(&i)))
            .collect();
        if failing.is_empty() {
            return;
        }
        let mut report = format!("{} accessibility violations on {path}:\n", failing.len());
        for v in failing {
            let impact = v.impact.as_deref().unwrap_or("?");
            report.push_str(&format!(
                "\n[{impact}] {}: {} ({})\n",
                v.id, v.help, v.help_url
            ));
            for node in &v.nodes {
                report.push_str(&format!("  at {}\n    {}\n", node.target, node.html));
                if let Some(summary) = &node.failure_summary {
                    for line in summary.lines() {
                        report.push_str(&format!("    {line}\n"));
                    }
                }
            }
        }
        panic!("{report}");
    }

    /// Every violation axe-core finds on the page shown, of any impact.
    async fn axe_violations(&self) -> Vec<Violation> {
        // WebDriver scripts are not subject to the page's Content-Security-Policy.
        self.client
            .execute(&format!("{AXE}\n;return null;"), vec![])
            .await
            .expect("inject axe-core");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(JSON.stringify(r.violations)))
                    .catch(e => done(JSON.stringify({ error: String(e) })));",
                vec![],
            )
            .await
            .expect("run axe-core");
        let json = found.as_str().unwrap_or_default();
        serde_json::from_str(json).unwrap_or_else(|e| panic!("axe-core answered {json}: {e}"))
    }
}
