//! `--format json`: the one-object shape CI scripts parse (see DESIGN.md).

use super::Format;
use crate::runner::RunSummary;
use serde_json::json;
use std::io::{self, Write};

pub struct JsonReport;

impl Format for JsonReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let doc = json!({
            "summary": summary.stats(),
            "results": summary.results,
            "load_errors": summary.load_errors.iter().map(|e| json!({
                "path": e.path.display().to_string(),
                "line": e.line,
                "message": e.message,
            })).collect::<Vec<_>>(),
            "warnings": summary.warnings,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }
}
