//! Output of `verdict eval`: one line per verdict that says something, or one JSON object.

use crate::runner::eval::EvalResult;
use crate::verdict::Outcome;
use serde_json::json;
use std::io::{self, Write};

pub fn write_human(result: &EvalResult, out: &mut dyn Write) -> io::Result<()> {
    for e in &result.load_errors {
        writeln!(out, "LOAD ERROR {e}")?;
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for v in &result.verdicts {
        *counts.entry(if v.waiver.is_some() { "waived" } else { v.outcome.name() }).or_default() += 1;
        let label = match &v.outcome {
            Outcome::Pass | Outcome::NotApplicable => continue,
            Outcome::Fail { .. } if v.waiver.is_some() => "WAIVED",
            Outcome::Fail { .. } => "FAIL",
            Outcome::Error { .. } => "ERROR",
            Outcome::Warn { .. } => "WARN",
            Outcome::Skip { .. } => "SKIP",
        };
        writeln!(out, "{label} [{}] {} {} ({})", v.mode, v.rule, v.input, v.resource)?;
        if let Some(waiver) = &v.waiver {
            writeln!(out, "    waived by {waiver}")?;
        }
        for m in v.outcome.messages() {
            writeln!(out, "    {m}")?;
        }
    }
    let blocked = result.verdicts.iter().filter(|v| v.blocks()).count();
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    writeln!(
        out,
        "{} rules x {} verdicts: {}; {blocked} blocking",
        result.rules.len(),
        result.verdicts.len(),
        if parts.is_empty() { "nothing evaluated".to_string() } else { parts.join(", ") }
    )
}

pub fn write_json(result: &EvalResult, out: &mut dyn Write) -> io::Result<()> {
    let doc = json!({
        "verdicts": result.verdicts,
        "blocking": result.verdicts.iter().filter(|v| v.blocks()).count(),
        "load_errors": result.load_errors.iter().map(|e| json!({
            "path": e.path.display().to_string(), "line": e.line, "message": e.message,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
