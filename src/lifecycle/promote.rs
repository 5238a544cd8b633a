//! `verdict promote` / `verdict demote`: move a rule between audit and enforce
//! only with evidence, flip the mode in the policy file itself, and record the
//! change in the ledger. The evidence is the same run `verdict test` makes.

use super::ledger::{append, CaseCounts, CorpusCounts, Promotion};
use super::waivers::{read_waivers, today, WaiverStatus};
use crate::library::{load_library, set_mode, Library};
use crate::limits::Limits;
use crate::runner::{run_library, CaseRunOptions, TestResult};
use crate::verdict::{Mode, Outcome};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// What a run of one rule showed, and what stands in the way of enforcing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub rule: String,
    pub mode: Mode,
    pub cases: CaseCounts,
    pub corpus: CorpusCounts,
    pub snapshot_sha256: Option<String>,
    pub open_waivers: Vec<String>,
    /// Every reason the rule may not be enforced; empty when it may.
    pub refusals: Vec<String>,
}

/// Why a promotion or demotion did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The rule does not qualify; every reason is listed.
    #[error("{rule} stays in {mode}:\n{}", reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    Refused { rule: String, mode: Mode, reasons: Vec<String> },
    /// The rule, the library or a file could not be read or written.
    #[error("{0}")]
    Failed(String),
}

/// Run `rule_id`'s cases, snapshot and corpus as `verdict test` does (writing
/// nothing) and list every reason it may not be enforced.
pub fn assess(root: &Path, rule_id: &str, limits: &Limits) -> Result<Readiness, LifecycleError> {
    let library = load_library(root, limits);
    assess_in(&library, rule_id, limits)
}

/// [`assess`] over an already loaded library.
pub fn assess_in(library: &Library, rule_id: &str, limits: &Limits) -> Result<Readiness, LifecycleError> {
    let root = &library.root;
    let Some(rule) = library.rule(rule_id) else {
        let why = library
            .errors
            .iter()
            .find(|e| e.path.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.split('.').next() == Some(rule_id)))
            .map(|e| format!(": it does not load: {e}"))
            .unwrap_or_default();
        return Err(LifecycleError::Failed(format!("no rule `{rule_id}` in {}{why}", root.join("policies").display())));
    };
    let filter = globset::Glob::new(&globset::escape(rule_id)).map_err(|e| LifecycleError::Failed(e.to_string()))?.compile_matcher();
    let options = CaseRunOptions {
        limits: *limits,
        filter: Some(filter),
        snapshots: Some(crate::snapshot::UpdateMode::No),
        ..CaseRunOptions::default()
    };
    // A pending snapshot means someone has not reviewed what the rule now says.
    let snapshot = crate::snapshot::accepted_path(&root.join("snapshots"), rule_id);
    let pending = Some(snapshot.with_extension("snap.new")).filter(|p| p.exists());
    let summary = run_library(library, &options, |_| {});
    let mut refusals = Vec::new();
    let ours = |r: &&TestResult| r.rule == rule_id;
    let cases_suite = format!("cases/{rule_id}");
    let case_ok = |expected: &str| {
        summary.results.iter().filter(ours).filter(|r| r.suite == cases_suite && r.expected == expected && r.ok).count()
    };
    let cases = CaseCounts { pass: case_ok("pass"), fail: case_ok("fail") };
    if cases.pass == 0 {
        refusals.push("no passing pass-* case".to_string());
    }
    if cases.fail == 0 {
        refusals.push("no fail-* case that fails".to_string());
    }
    for r in summary.results.iter().filter(ours) {
        if r.skipped.is_some() && r.test != "known-good corpus" {
            refusals.push(format!("{}: skipped, so not evidence: {}", r.test, r.skipped.as_deref().unwrap_or_default()));
        } else if r.actual == "error" {
            refusals.push(format!("{}: error verdict: {}", r.test, r.messages.first().map(String::as_str).unwrap_or_default()));
        } else if !r.ok && r.skipped.is_none() && r.suite == cases_suite {
            refusals.push(format!("{}: expected {}, got {}", r.test, r.expected, r.actual));
        }
    }
    if let Some(pending) = pending {
        refusals.push(format!("a pending snapshot is not accepted: {}", rel(root, &pending)));
    }
    let snapshot_sha256 = std::fs::read(&snapshot).ok().map(|bytes| format!("{:x}", Sha256::digest(bytes)));
    match summary.results.iter().filter(ours).find(|r| r.suite == "snapshots") {
        None if snapshot_sha256.is_none() => refusals.push(format!("no accepted snapshot ({})", rel(root, &snapshot))),
        Some(r) if !r.ok => refusals.push(format!("snapshot {}: {}", r.actual, r.messages.first().map(String::as_str).unwrap_or_default())),
        _ => {}
    }
    let corpus_verdicts: Vec<_> = summary.verdicts.iter().filter(|v| v.rule == rule_id && v.input.starts_with("cases/_corpus/")).collect();
    let false_positives = corpus_verdicts
        .iter()
        .filter(|v| v.waiver.is_none() && (v.outcome.blocks() || matches!(v.outcome, Outcome::Warn { .. })))
        .count();
    // Evidence is what the rule judged: documents it does not apply to prove nothing.
    // A skipped verdict (an image rule over a plain manifest) judged nothing: not evidence.
    let applicable = corpus_verdicts.iter().filter(|v| !matches!(v.outcome, Outcome::NotApplicable | Outcome::Skip { .. })).count();
    let corpus = CorpusCounts { documents: applicable, false_positives };
    if corpus.documents == 0 {
        refusals.push(format!(
            "the known-good corpus (cases/_corpus/, {} documents) holds no document the rule applies to",
            corpus_verdicts.len()
        ));
    }
    if false_positives > 0 {
        refusals.push(format!("{false_positives} false positive(s) on the known-good corpus"));
    }
    let waivers = read_waivers(&root.join("policies/waivers.yaml"), limits).map_err(|e| LifecycleError::Failed(e.to_string()))?;
    let day = today();
    let mut open_waivers = Vec::new();
    for w in waivers.iter().filter(|w| w.rule == rule_id) {
        match w.status(day) {
            WaiverStatus::Expired { days_ago } => refusals.push(format!("waiver {} expired {days_ago} day(s) ago", w.label())),
            _ => open_waivers.push(w.label()),
        }
    }
    Ok(Readiness { rule: rule_id.to_string(), mode: rule.mode, cases, corpus, snapshot_sha256, open_waivers, refusals })
}

/// Promote `rule_id` to enforce when it qualifies: flip its mode in the policy
/// file and append the ledger entry. Refuses with every reason otherwise.
pub fn promote(root: &Path, rule_id: &str, limits: &Limits) -> Result<Promotion, LifecycleError> {
    promote_at(root, rule_id, limits, &git_commit(root))
}

/// Promote each of `rules` in turn (each assessed on the tree as the earlier
/// ones left it); every entry records the commit the batch started from.
pub fn promote_each(root: &Path, rules: &[String], limits: &Limits) -> Vec<(String, Result<Promotion, LifecycleError>)> {
    let commit = git_commit(root);
    rules.iter().map(|r| (r.clone(), promote_at(root, r, limits, &commit))).collect()
}

fn promote_at(root: &Path, rule_id: &str, limits: &Limits, commit: &str) -> Result<Promotion, LifecycleError> {
    let library = load_library(root, limits);
    let readiness = assess_in(&library, rule_id, limits)?;
    let mut reasons = readiness.refusals.clone();
    if readiness.mode == Mode::Enforce {
        reasons.insert(0, "already in enforce".to_string());
    }
    if !reasons.is_empty() {
        return Err(LifecycleError::Refused { rule: rule_id.to_string(), mode: readiness.mode, reasons });
    }
    change_mode(&library, readiness, Mode::Enforce, None, limits, commit)
}

/// Move `rule_id` back to audit, recording why.
pub fn demote(root: &Path, rule_id: &str, reason: &str, limits: &Limits) -> Result<Promotion, LifecycleError> {
    let library = load_library(root, limits);
    let readiness = assess_in(&library, rule_id, limits)?;
    let mut reasons = Vec::new();
    if readiness.mode == Mode::Audit {
        reasons.push("already in audit".to_string());
    }
    if reason.trim().is_empty() {
        reasons.push("a demotion needs a reason (--reason)".to_string());
    }
    if !reasons.is_empty() {
        return Err(LifecycleError::Refused { rule: rule_id.to_string(), mode: readiness.mode, reasons });
    }
    change_mode(&library, readiness, Mode::Audit, Some(reason.trim().to_string()), limits, &git_commit(root))
}

fn change_mode(
    library: &Library,
    readiness: Readiness,
    to: Mode,
    reason: Option<String>,
    limits: &Limits,
    commit: &str,
) -> Result<Promotion, LifecycleError> {
    let root = &library.root;
    let rule = library.rule(&readiness.rule).expect("assessed rules exist");
    let path = root.join(&rule.path);
    let failed = |m: String| LifecycleError::Failed(m);
    let original = std::fs::read_to_string(&path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let flipped = set_mode(rule.language, &original, to).map_err(|e| failed(format!("{}: {e}", rel(root, &path))))?;
    std::fs::write(&path, &flipped).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    // The library must read the new mode back exactly; otherwise nothing changes.
    let reread = load_library(root, limits);
    match reread.rule(&readiness.rule).map(|r| r.mode) {
        Some(mode) if mode == to => {}
        other => {
            let _ = std::fs::write(&path, &original);
            return Err(failed(format!("{}: after the edit the rule reads as {other:?}, not {to}; file restored", rel(root, &path))));
        }
    }
    let entry = Promotion {
        rule: readiness.rule.clone(),
        from: readiness.mode,
        to,
        date: today().format("%Y-%m-%d").to_string(),
        commit: commit.to_string(),
        snapshot_sha256: readiness.snapshot_sha256.clone().unwrap_or_else(|| "0".repeat(64)),
        cases: readiness.cases,
        corpus: readiness.corpus,
        open_waivers: readiness.open_waivers.clone(),
        reason,
    };
    if let Err(e) = append(&root.join("policies/promotions.yaml"), &entry) {
        let _ = std::fs::write(&path, &original);
        return Err(failed(format!("policies/promotions.yaml: {e}; policy file restored")));
    }
    Ok(entry)
}

/// `git rev-parse HEAD` of the project, `-dirty` when the tree has changes.
fn git_commit(root: &Path) -> String {
    let run = |args: &[&str]| Command::new("git").args(args).current_dir(root).output().ok().filter(|o| o.status.success());
    match run(&["rev-parse", "HEAD"]) {
        Some(out) => {
            let head = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let dirty = run(&["status", "--porcelain"]).is_some_and(|o| !o.stdout.is_empty());
            if dirty {
                format!("{head}-dirty")
            } else {
                head
            }
        }
        None => "none (not a git repository)".to_string(),
    }
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
