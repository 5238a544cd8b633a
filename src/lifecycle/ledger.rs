//! `policies/promotions.yaml`: the record of every mode change, appended by
//! `verdict promote` / `verdict demote`, never rewritten.

use super::files::{read_checked, PROMOTIONS};
use crate::error::LoadError;
use crate::limits::Limits;
use crate::verdict::Mode;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;

/// Pass and fail cases that held when the entry was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseCounts {
    pub pass: usize,
    pub fail: usize,
}

/// The known-good corpus the rule was run over: documents it applies to, and how many it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusCounts {
    pub documents: usize,
    pub false_positives: usize,
}

/// One mode change and the evidence it was made on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub rule: String,
    pub from: Mode,
    pub to: Mode,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// `git rev-parse HEAD` when recorded (`-dirty` when the tree had changes).
    pub commit: String,
    pub snapshot_sha256: String,
    pub cases: CaseCounts,
    pub corpus: CorpusCounts,
    /// Labels of the waivers of this rule in force that day.
    pub open_waivers: Vec<String>,
    /// Why (required for a demotion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct LedgerFile {
    promotions: Option<Vec<Promotion>>,
}

/// Every entry of the ledger, oldest first (no file: none).
pub fn read_ledger(path: &Path, limits: &Limits) -> Result<Vec<Promotion>, LoadError> {
    let file: Option<LedgerFile> = read_checked(path, &PROMOTIONS, "promotions.yaml", limits)?;
    Ok(file.and_then(|f| f.promotions).unwrap_or_default())
}

/// Append `entry` at the end of the ledger, leaving what is there untouched
/// (the file is created with its header when missing).
pub fn append(path: &Path, entry: &Promotion) -> std::io::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let mut text = String::new();
    if existing.trim().is_empty() {
        text.push_str("# Audit -> enforce ledger: appended by `verdict promote` and `verdict demote`, never edited by hand.\npromotions:\n");
    } else if !existing.ends_with('\n') {
        text.push('\n');
    }
    if existing.lines().any(|l| l.trim_end() == "promotions: []") {
        return Err(std::io::Error::other(format!("{}: `promotions: []` cannot be appended to; write `promotions:`", path.display())));
    }
    let item = serde_yaml_ng::to_string(&vec![entry]).map_err(std::io::Error::other)?;
    for line in item.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rule: &str) -> Promotion {
        Promotion {
            rule: rule.into(),
            from: Mode::Audit,
            to: Mode::Enforce,
            date: "2026-12-06".into(),
            commit: "abc".into(),
            snapshot_sha256: "0".repeat(64),
            cases: CaseCounts { pass: 3, fail: 2 },
            corpus: CorpusCounts { documents: 20, false_positives: 0 },
            open_waivers: vec![],
            reason: None,
        }
    }

    #[test]
    fn appended_entries_read_back_and_keep_earlier_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("promotions.yaml");
        append(&path, &entry("a")).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        append(&path, &Promotion { reason: Some("too noisy".into()), to: Mode::Audit, from: Mode::Enforce, ..entry("a") }).unwrap();
        let both = std::fs::read_to_string(&path).unwrap();
        assert!(both.starts_with(&first));
        let read = read_ledger(&path, &Limits::default()).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].reason.as_deref(), Some("too noisy"));
    }

    #[test]
    fn a_bad_ledger_is_a_load_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("promotions.yaml");
        std::fs::write(&path, "promotions:\n  - rule: a\n    from: audit\n    to: enforced\n").unwrap();
        let err = read_ledger(&path, &Limits::default()).unwrap_err();
        assert!(err.message.contains("promotions.yaml does not match its schema"), "{}", err.message);
    }
}
