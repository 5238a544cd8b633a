//! `--format json`: the one-object shape CI scripts parse (see DESIGN.md).

use super::Format;
use crate::runner::RunSummary;
use serde_json::json;
use std::io::{self, Write};

pub struct JsonReport;

impl Format for JsonReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let results: Vec<serde_json::Value> = summary
            .results
            .iter()
            .map(|r| {
                let mut row = serde_json::to_value(r).unwrap_or_default();
                if let Some(file) = &r.file {
                    row["file"] = json!(summary.shown_path(file));
                    if let Some(line) = r.line {
                        row["line"] = json!(line);
                    }
                }
                row
            })
            .collect();
        let mut doc = json!({
            "summary": summary.stats(),
            "results": results,
            "load_errors": summary.load_errors.iter().map(|e| json!({
                "path": summary.shown_path(&e.path),
                "line": e.line,
                "message": e.message,
            })).collect::<Vec<_>>(),
            "warnings": summary.warnings,
        });
        if let Some(reason) = summary.nothing_checked() {
            doc["nothing_checked"] = json!(reason);
        }
        if let Some(coverage) = &summary.coverage {
            doc["coverage"] = super::rego_coverage::to_json(summary, coverage);
        }
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }
}
