//! Comparing a rule's verdicts with its accepted snapshot, and what to write when
//! they differ. The environment is read as insta reads it, so `cargo test` and
//! `verdict test` behave alike: `INSTA_UPDATE=always` accepts, `no` never writes,
//! `new` writes `.snap.new`; unset (`auto`) writes `.snap.new` except under `CI`,
//! where nothing is written and a difference only fails.

use super::file::{accepted_path, file_text, parse_body, pending_path};
use crate::runner::TestResult;
use crate::verdict::Verdict;
use serde::Serialize;
use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};

/// What to do with a snapshot that differs from the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Write the accepted file in place (`INSTA_UPDATE=always`).
    Always,
    /// Write `<id>.snap.new` for review (`INSTA_UPDATE=new`, and `auto` outside CI).
    New,
    /// Accept a missing snapshot in place, write `.snap.new` for a changed one (`INSTA_UPDATE=unseen`).
    Unseen,
    /// Write nothing (`INSTA_UPDATE=no`, and `auto` under CI).
    No,
}

impl UpdateMode {
    /// From `INSTA_UPDATE` and `CI`, as insta decides.
    ///
    /// ```
    /// use verdict::snapshot::UpdateMode;
    /// assert_eq!(UpdateMode::from_values(Some("always"), None), UpdateMode::Always);
    /// assert_eq!(UpdateMode::from_values(None, Some("true")), UpdateMode::No);
    /// assert_eq!(UpdateMode::from_values(Some("auto"), Some("false")), UpdateMode::New);
    /// ```
    pub fn from_env() -> UpdateMode {
        let update = std::env::var("INSTA_UPDATE").ok();
        let ci = std::env::var("CI").ok();
        UpdateMode::from_values(update.as_deref(), ci.as_deref())
    }

    /// [`UpdateMode::from_env`] on given values.
    pub fn from_values(insta_update: Option<&str>, ci: Option<&str>) -> UpdateMode {
        match insta_update.unwrap_or("auto") {
            "always" | "1" => UpdateMode::Always,
            "new" => UpdateMode::New,
            "unseen" => UpdateMode::Unseen,
            "no" | "0" => UpdateMode::No,
            _ if is_ci(ci) => UpdateMode::No,
            _ => UpdateMode::New,
        }
    }
}

fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// How a rule's verdicts compared with its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The accepted snapshot holds exactly these verdicts.
    Matches,
    /// It did not, and the accepted file was (re)written ([`UpdateMode::Always`]).
    Accepted,
    /// There is no accepted snapshot; `pending` names the `.snap.new` written, if any.
    Missing { pending: Option<PathBuf> },
    /// The verdicts changed; `pending` names the `.snap.new` written, if any.
    Changed { pending: Option<PathBuf> },
}

impl SnapshotStatus {
    /// Whether the run may pass: the snapshot matched, or was accepted on request.
    pub fn ok(&self) -> bool {
        matches!(self, SnapshotStatus::Matches | SnapshotStatus::Accepted)
    }
}

/// The outcome of checking one rule, with the difference when there is one.
#[derive(Debug, Clone)]
pub struct SnapshotCheck {
    pub status: SnapshotStatus,
    /// `snapshots/<rule-id>.snap`.
    pub path: PathBuf,
    /// Unified diff of the accepted body against the verdicts, empty when they match.
    pub diff: String,
}

/// What a snapshot records for one document of one case: no paths beyond the
/// project, no times, sorted by case then document.
#[derive(Debug, Serialize)]
struct Row<'a> {
    case: &'a str,
    expected: &'a str,
    resource: &'a str,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<String>,
}

/// The snapshot rows of one rule's case results and verdicts (corpus verdicts are not part of it).
pub fn rows(rule_id: &str, results: &[TestResult], verdicts: &[Verdict]) -> Value {
    let case_dir = format!("cases/{rule_id}/");
    let mut rows: Vec<Row> = Vec::new();
    for result in results.iter().filter(|r| r.suite == case_dir.trim_end_matches('/')) {
        let prefix = format!("{case_dir}{}#", result.test);
        let docs: Vec<&Verdict> = verdicts.iter().filter(|v| v.input.starts_with(&prefix)).collect();
        if docs.is_empty() {
            rows.push(Row {
                case: &result.test,
                expected: &result.expected,
                resource: "",
                outcome: &result.actual,
                messages: result.messages.clone(),
            });
        }
        for v in docs {
            rows.push(Row {
                case: &result.test,
                expected: &result.expected,
                resource: &v.resource,
                outcome: if v.waiver.is_some() { "waived" } else { v.outcome.name() },
                messages: v.outcome.messages(),
            });
        }
    }
    rows.sort_by(|a, b| (a.case, a.resource).cmp(&(b.case, b.resource)));
    serde_json::to_value(rows).unwrap_or(Value::Null)
}

/// Compare `rows` with `snapshots/<rule_id>.snap` and write what `mode` asks for.
/// A stale `.snap.new` is removed once the accepted file matches (except under
/// [`UpdateMode::No`], which writes and removes nothing).
pub fn check(snapshots: &Path, rule_id: &str, input_file: &str, rows: &Value, mode: UpdateMode) -> io::Result<SnapshotCheck> {
    let accepted = accepted_path(snapshots, rule_id);
    let pending = pending_path(snapshots, rule_id);
    let old_text = match std::fs::read_to_string(&accepted) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let old = old_text.as_deref().and_then(parse_body);
    if old.as_ref() == Some(rows) {
        if mode != UpdateMode::No {
            remove_if_present(&pending)?;
        }
        return Ok(SnapshotCheck { status: SnapshotStatus::Matches, path: accepted, diff: String::new() });
    }
    let new_body = super::to_yaml(rows);
    let diff = similar::TextDiff::from_lines(old_text.as_deref().map(super::file::body).unwrap_or(""), &new_body)
        .unified_diff()
        .context_radius(2)
        .header("accepted", "now")
        .to_string();
    let missing = old_text.is_none();
    let write_pending = |pending: &Path| -> io::Result<Option<PathBuf>> {
        std::fs::create_dir_all(snapshots)?;
        std::fs::write(pending, file_text(input_file, rows))?;
        Ok(Some(pending.to_path_buf()))
    };
    let status = match (mode, missing) {
        (UpdateMode::Always, _) | (UpdateMode::Unseen, true) => {
            std::fs::create_dir_all(snapshots)?;
            std::fs::write(&accepted, file_text(input_file, rows))?;
            remove_if_present(&pending)?;
            SnapshotStatus::Accepted
        }
        (UpdateMode::No, true) => SnapshotStatus::Missing { pending: None },
        (UpdateMode::No, false) => SnapshotStatus::Changed { pending: None },
        (UpdateMode::New, true) => SnapshotStatus::Missing { pending: write_pending(&pending)? },
        (UpdateMode::New | UpdateMode::Unseen, false) => SnapshotStatus::Changed { pending: write_pending(&pending)? },
    };
    Ok(SnapshotCheck { status, path: accepted, diff })
}

/// Snapshot files (`.snap` and `.snap.new`) that belong to no rule of `rule_ids`:
/// left behind by a renamed or removed rule.
pub fn orphans<'a>(snapshots: &Path, rule_ids: impl IntoIterator<Item = &'a str>) -> io::Result<Vec<PathBuf>> {
    let ids: std::collections::BTreeSet<&str> = rule_ids.into_iter().collect();
    let Ok(entries) = std::fs::read_dir(snapshots) else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let stem = name.strip_suffix(".snap.new").or_else(|| name.strip_suffix(".snap"));
        if let Some(stem) = stem {
            if !ids.contains(stem) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Turn every pending `.snap.new` (of `only` when given) into the accepted snapshot.
/// Returns the accepted files.
pub fn accept_pending(snapshots: &Path, only: &[String]) -> io::Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(snapshots) else { return Ok(Vec::new()) };
    let mut accepted = Vec::new();
    let mut pending: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    pending.sort();
    for path in pending {
        let Some(id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".snap.new")) else {
            continue;
        };
        if !only.is_empty() && !only.iter().any(|o| o == id) {
            continue;
        }
        let target = accepted_path(snapshots, id);
        std::fs::rename(&path, &target)?;
        accepted.push(target);
    }
    Ok(accepted)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn missing_then_pending_then_accepted_then_matching() {
        let d = dir();
        let snaps = d.path().join("snapshots");
        let rows = json!([{"case": "pass-a.yaml", "outcome": "pass"}]);
        let c = check(&snaps, "r", "policies/g/r.yaml", &rows, UpdateMode::No).unwrap();
        assert_eq!(c.status, SnapshotStatus::Missing { pending: None });
        assert!(!snaps.exists(), "CI writes nothing");

        let c = check(&snaps, "r", "policies/g/r.yaml", &rows, UpdateMode::New).unwrap();
        assert_eq!(c.status, SnapshotStatus::Missing { pending: Some(snaps.join("r.snap.new")) });
        assert!(!c.status.ok());
        assert_eq!(accept_pending(&snaps, &[]).unwrap(), vec![snaps.join("r.snap")]);

        let c = check(&snaps, "r", "policies/g/r.yaml", &rows, UpdateMode::No).unwrap();
        assert_eq!(c.status, SnapshotStatus::Matches);
    }

    #[test]
    fn a_change_is_a_failure_with_a_diff_and_always_leaves_no_pending_file() {
        let d = dir();
        let snaps = d.path().to_path_buf();
        let old = json!([{"case": "fail-a.yaml", "outcome": "fail"}]);
        let new = json!([{"case": "fail-a.yaml", "outcome": "pass"}]);
        check(&snaps, "r", "p", &old, UpdateMode::Always).unwrap();
        let c = check(&snaps, "r", "p", &new, UpdateMode::New).unwrap();
        assert!(matches!(c.status, SnapshotStatus::Changed { pending: Some(_) }));
        assert!(c.diff.contains("-  outcome: fail") && c.diff.contains("+  outcome: pass"), "{}", c.diff);
        // Accepting in place removes the stale pending file.
        let c = check(&snaps, "r", "p", &new, UpdateMode::Always).unwrap();
        assert_eq!(c.status, SnapshotStatus::Accepted);
        assert!(!snaps.join("r.snap.new").exists());
        // A pending file left from an earlier run goes once the snapshot matches,
        // except under `no`, which touches nothing (promote reads the tree that way).
        std::fs::write(snaps.join("r.snap.new"), "stale").unwrap();
        assert_eq!(check(&snaps, "r", "p", &new, UpdateMode::No).unwrap().status, SnapshotStatus::Matches);
        assert!(snaps.join("r.snap.new").exists());
        assert_eq!(check(&snaps, "r", "p", &new, UpdateMode::New).unwrap().status, SnapshotStatus::Matches);
        assert!(!snaps.join("r.snap.new").exists());
    }

    #[test]
    fn snapshots_of_unknown_rules_are_orphans() {
        let d = dir();
        for f in ["a.snap", "b.snap", "b.snap.new", "gone.snap.new", "README.md"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let found = orphans(d.path(), ["a", "b"]).unwrap();
        assert_eq!(found, vec![d.path().join("gone.snap.new")]);
    }
}
