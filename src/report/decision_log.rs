//! Decision log: one JSON line per verdict, appended, as OPA's decision logs are kept.

use crate::runner::eval::EvalResult;
use serde_json::json;
use std::io::{self, Write};
use std::path::Path;

pub fn append(result: &EvalResult, path: &Path) -> io::Result<()> {
    let mut file = io::BufWriter::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for v in &result.verdicts {
        let line = json!({
            "timestamp": timestamp,
            "decision": if v.blocks() { "deny" } else { "allow" },
            "rule": v.rule,
            "mode": v.mode,
            "input": v.input,
            "resource": v.resource,
            "outcome": if v.waiver.is_some() { "waived" } else { v.outcome.name() },
            "waiver": v.waiver,
            "messages": v.outcome.messages(),
        });
        serde_json::to_writer(&mut file, &line)?;
        file.write_all(b"\n")?;
    }
    file.flush()
}
