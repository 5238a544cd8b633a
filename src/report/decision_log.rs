//! Decision log: one JSON line per verdict, appended, as OPA's decision logs are kept.

use crate::verdict::Verdict;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::path::Path;

/// Append one line per verdict to `path` (`eval` and `test` alike): a decision id,
/// the time, rule, input and its digest, outcome, mode and waiver.
pub fn append(verdicts: &[Verdict], path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = io::BufWriter::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    for (n, v) in verdicts.iter().enumerate() {
        let id = Sha256::digest(format!("{timestamp}\0{n}\0{}\0{}\0{}", v.rule, v.input, v.input_digest));
        let hex = format!("{id:x}");
        let line = json!({
            "decision_id": format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]),
            "timestamp": timestamp,
            "decision": if v.blocks() { "deny" } else { "allow" },
            "rule": v.rule,
            "mode": v.mode,
            "input": v.input,
            "input_digest": v.input_digest,
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
