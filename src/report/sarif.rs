//! `--format sarif`: SARIF 2.1.0, one result per failed expectation, for code-scanning UIs.

use super::Format;
use crate::runner::{RunSummary, TestStatus};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::{self, Write};

pub struct SarifReport;

impl Format for SarifReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let rules: BTreeSet<&str> = summary.results.iter().map(|r| r.rule.as_str()).collect();
        let mut results: Vec<serde_json::Value> = summary
            .load_errors
            .iter()
            .map(|e| {
                json!({
                    "ruleId": "load-error",
                    "level": "error",
                    "message": {"text": e.message},
                    "locations": [location(&summary.shown_path(&e.path), e.line)],
                })
            })
            .collect();
        for r in &summary.results {
            if matches!(r.status(), TestStatus::Failed | TestStatus::Error) {
                results.push(json!({
                    "ruleId": r.rule,
                    "level": "error",
                    "message": {"text": format!("expected {}, got {}: {}", r.expected, r.actual, r.messages.join("; "))},
                    "locations": result_location(summary, r),
                }));
            }
        }
        let doc = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "verdict",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                }},
                "results": results,
            }],
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }
}

/// A result's file, relative to the repository root; none when the result has no file.
fn result_location(summary: &RunSummary, r: &crate::runner::TestResult) -> Vec<serde_json::Value> {
    r.file.as_ref().map(|f| location(&summary.shown_path(f), r.line)).into_iter().collect()
}

fn location(uri: &str, line: Option<usize>) -> serde_json::Value {
    let mut physical = json!({"artifactLocation": {"uri": uri}});
    if let Some(line) = line {
        physical["region"] = json!({"startLine": line});
    }
    json!({"physicalLocation": physical})
}
