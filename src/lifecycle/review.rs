//! `verdict review --base REF`: what a policy change does to verdicts, and who
//! must approve it. The library is loaded at REF (a temporary git worktree) and
//! in the working tree; every rule is run over the union of both sides' cases
//! and corpus, and each document whose verdict flips is listed as stricter
//! (pass → fail) or looser (fail → pass). Owners come from the base's
//! CODEOWNERS, as GitHub takes them from the pull request's base branch.

use super::codeowners::CodeOwners;
use super::ledger::Promotion;
use crate::input::Input;
use crate::library::{load_library, Library, Rule};
use crate::limits::Limits;
use crate::runner::{case_files, corpus_files, load_fixture};
use crate::verdict::{Mode, Verdict};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a document's verdict moved from base to head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// It passed (or was waived) and now fails: admission got stricter.
    Stricter,
    /// It failed and now passes (or is waived): admission got looser.
    Looser,
}

/// One document whose verdict flipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flip {
    pub input: String,
    pub resource: String,
    pub base: String,
    pub head: String,
    pub direction: Direction,
}

/// What changed for one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReview {
    pub rule: String,
    /// `added`, `removed`, `changed` or `unchanged`.
    pub change: String,
    pub base_mode: Option<Mode>,
    pub head_mode: Option<Mode>,
    /// For a mode change: whether the ledger gained an entry recording it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_entry: Option<bool>,
    pub snapshot_changed: bool,
    pub flips: Vec<Flip>,
}

/// The owners whose approval a changed file needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub file: String,
    pub owners: Vec<String>,
}

/// The whole review.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Review {
    pub base: String,
    pub rules: Vec<RuleReview>,
    pub approvals: Vec<Approval>,
    /// Everyone who must approve, once each.
    pub approvers: Vec<String>,
    /// Problems that make the review itself unreliable (unowned policy files,
    /// CODEOWNERS lines GitHub rejects, rules that do not load).
    pub errors: Vec<String>,
}

impl Review {
    /// Loosenings: looser flips, removed or demoted enforce rules.
    pub fn loosenings(&self) -> usize {
        self.rules
            .iter()
            .map(|r| {
                let flips = r.flips.iter().filter(|f| f.direction == Direction::Looser).count();
                let dropped = (r.change == "removed" && r.base_mode == Some(Mode::Enforce)) as usize;
                let demoted = (r.base_mode == Some(Mode::Enforce) && r.head_mode == Some(Mode::Audit)) as usize;
                flips + dropped + demoted
            })
            .sum()
    }

    /// Mode changes the ledger does not record.
    pub fn unrecorded_mode_changes(&self) -> Vec<&str> {
        self.rules.iter().filter(|r| r.ledger_entry == Some(false)).map(|r| r.rule.as_str()).collect()
    }

    /// 2 when the review could not be trusted, 1 on a loosening or an unrecorded mode change, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            crate::exit::USAGE_OR_LOAD
        } else if self.loosenings() > 0 || !self.unrecorded_mode_changes().is_empty() {
            crate::exit::EXPECTATION_FAILED
        } else {
            crate::exit::OK
        }
    }
}

/// A detached worktree of one commit, removed on drop.
struct Worktree {
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let _ = git(&self.repo, &["worktree", "remove", "--force", &self.dir.path().to_string_lossy()]);
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git").args(args).current_dir(dir).output().map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Review the working tree of the project at `root` against git revision `base`.
pub fn review(root: &Path, base: &str, limits: &Limits) -> Result<Review, String> {
    let repo = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"])?.trim());
    let project = root.canonicalize().map_err(|e| e.to_string())?.strip_prefix(&repo.canonicalize().map_err(|e| e.to_string())?).map(Path::to_path_buf).unwrap_or_default();
    let commit = git(&repo, &["rev-parse", "--verify", &format!("{base}^{{commit}}")])?.trim().to_string();
    let dir = tempfile::Builder::new().prefix("verdict-review-").tempdir().map_err(|e| e.to_string())?;
    git(&repo, &["worktree", "add", "--detach", &dir.path().to_string_lossy(), &commit])?;
    let worktree = Worktree { repo: repo.clone(), dir };
    let base_root = worktree.dir.path().join(&project);

    let base_library = load_library(&base_root, limits);
    let head_library = load_library(root, limits);
    let mut out = Review { base: base.to_string(), ..Review::default() };
    for (side, library) in [("base", &base_library), ("head", &head_library)] {
        out.errors.extend(library.errors.iter().map(|e| format!("{side}: {e}")));
    }

    // The corpus is read once; each rule adds its own cases from either side.
    let corpus = union_inputs(&base_root, root, corpus_files, limits, &mut out.errors);
    let ids: BTreeSet<&str> = base_library.rules.iter().chain(&head_library.rules).map(|r| r.id.as_str()).collect();
    for id in ids {
        let (b, h) = (base_library.rule(id), head_library.rule(id));
        let list_cases = |root: &Path| case_files(root, id).cases.into_iter().map(|(p, _)| p).collect();
        let cases = union_inputs(&base_root, root, list_cases, limits, &mut out.errors);
        let flips = match (b, h) {
            (Some(b), Some(h)) => flips(b, h, cases.iter().chain(&corpus)),
            _ => Vec::new(),
        };
        let snapshot = |r: &Path| std::fs::read(crate::snapshot::accepted_path(&r.join("snapshots"), id)).ok();
        let (base_mode, head_mode) = (b.map(|r| r.mode), h.map(|r| r.mode));
        let ledger_entry = match (base_mode, head_mode) {
            (Some(from), Some(to)) if from != to => Some(recorded(&base_library, &head_library, id, from, to)),
            _ => None,
        };
        let change = match (b, h) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            _ if base_mode != head_mode || !flips.is_empty() || policy_text(&base_root, b) != policy_text(root, h) => "changed",
            _ => "unchanged",
        };
        out.rules.push(RuleReview {
            rule: id.to_string(),
            change: change.to_string(),
            base_mode,
            head_mode,
            ledger_entry,
            snapshot_changed: snapshot(&base_root) != snapshot(root),
            flips,
        });
    }

    // Approvals: every file that differs from the base, owned as the base's CODEOWNERS says.
    let changed = changed_files(&repo, &commit)?;
    match CodeOwners::find(worktree.dir.path()).or_else(|| CodeOwners::find(&repo)) {
        None => out.errors.push("no CODEOWNERS (.github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS)".to_string()),
        Some((location, owners)) => {
            out.errors.extend(owners.invalid.iter().map(|(n, why)| format!("{location}:{n}: {why}")));
            let mut approvers = BTreeSet::new();
            for file in &changed {
                let found = owners.owners(file);
                approvers.extend(found.iter().flatten().cloned());
                out.approvals.push(Approval { file: file.clone(), owners: found.unwrap_or_default() });
            }
            out.approvers = approvers.into_iter().collect();
            let policies = if project.as_os_str().is_empty() { "policies/".to_string() } else { format!("{}/policies/", project.display()) };
            for file in git(&repo, &["ls-files", "--cached", "--others", "--exclude-standard", "--", &policies])?.lines() {
                if owners.owners(file).is_none() {
                    out.errors.push(format!("{file}: no owner in {location}: every file under policies/ needs one"));
                }
            }
        }
    }
    Ok(out)
}

/// Files that differ between `commit` and the working tree, untracked ones included.
fn changed_files(repo: &Path, commit: &str) -> Result<Vec<String>, String> {
    let mut files: BTreeSet<String> = git(repo, &["diff", "--name-only", commit, "--"])?.lines().map(str::to_string).collect();
    files.extend(git(repo, &["ls-files", "--others", "--exclude-standard"])?.lines().map(str::to_string));
    Ok(files.into_iter().collect())
}

fn policy_text(root: &Path, rule: Option<&Rule>) -> Option<Vec<u8>> {
    rule.and_then(|r| std::fs::read(root.join(&r.path)).ok())
}

/// Whether the head ledger gained an entry for `id` moving `from` → `to`.
fn recorded(base: &Library, head: &Library, id: &str, from: Mode, to: Mode) -> bool {
    let count = |l: &Library| l.promotions.iter().filter(|p: &&Promotion| p.rule == id && p.from == from && p.to == to).count();
    count(head) > count(base)
}

/// The files `list` finds on either side, each read from the head when it is
/// there (so a flip shows the policy's change, not the case's).
fn union_inputs(base: &Path, head: &Path, list: impl Fn(&Path) -> Vec<PathBuf>, limits: &Limits, errors: &mut Vec<String>) -> Vec<Input> {
    let mut files: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for root in [base, head] {
        for path in list(root) {
            if let Ok(rel) = path.strip_prefix(root) {
                files.insert(rel.to_path_buf(), path.clone());
            }
        }
    }
    let mut inputs = Vec::new();
    for (rel, path) in files {
        if rel.to_string_lossy().ends_with(".image.yaml") {
            continue;
        }
        match load_fixture(&path, limits) {
            Ok(loaded) => inputs.extend(loaded.into_iter().map(|mut i| {
                i.id = format!("{}#{}", rel.display(), i.index);
                i
            })),
            Err(e) => errors.push(format!("{}: {e}", rel.display())),
        }
    }
    inputs
}

/// `fail` (blocks unless waived), `waived` or `pass` (passes, warns only, or does not apply).
fn class(v: &Verdict) -> &'static str {
    if v.waiver.is_some() {
        "waived"
    } else if v.outcome.blocks() {
        "fail"
    } else {
        "pass"
    }
}

fn flips<'a>(base: &Rule, head: &Rule, inputs: impl Iterator<Item = &'a Input>) -> Vec<Flip> {
    let mut out = Vec::new();
    for input in inputs {
        let (b, h) = (base.evaluate(input), head.evaluate(input));
        let (bc, hc) = (class(&b), class(&h));
        let direction = match (bc, hc) {
            (x, y) if x == y => continue,
            (_, "fail") => Direction::Stricter,
            _ => Direction::Looser,
        };
        out.push(Flip { input: input.id.clone(), resource: h.resource, base: bc.into(), head: hc.into(), direction });
    }
    out.sort_by(|a, b| a.input.cmp(&b.input));
    out
}

/// The review as a pull-request comment.
pub fn markdown(review: &Review) -> String {
    let mut s = String::new();
    let stricter: usize = review.rules.iter().map(|r| r.flips.iter().filter(|f| f.direction == Direction::Stricter).count()).sum();
    s.push_str(&format!("## verdict review against `{}`\n\n", review.base));
    let changed: Vec<&RuleReview> = review.rules.iter().filter(|r| r.change != "unchanged" || r.snapshot_changed).collect();
    s.push_str(&format!(
        "{} rule(s) changed of {}; {stricter} verdict(s) stricter, {} looser; {} mode change(s) without a ledger entry.\n\n",
        changed.len(),
        review.rules.len(),
        review.loosenings(),
        review.unrecorded_mode_changes().len()
    ));
    if !changed.is_empty() {
        s.push_str("| rule | change | mode | ledger | stricter | looser | snapshot |\n|---|---|---|---|---:|---:|---|\n");
        let mode = |m: Option<Mode>| m.map(|m| m.to_string()).unwrap_or_else(|| "—".into());
        for r in &changed {
            let count = |d: Direction| r.flips.iter().filter(|f| f.direction == d).count();
            let mode_text = if r.base_mode == r.head_mode { mode(r.head_mode) } else { format!("{} → {}", mode(r.base_mode), mode(r.head_mode)) };
            let ledger = match r.ledger_entry {
                Some(true) => "recorded",
                Some(false) => "**missing**",
                None => "",
            };
            s.push_str(&format!(
                "| `{}` | {} | {mode_text} | {ledger} | {} | {} | {} |\n",
                r.rule,
                r.change,
                count(Direction::Stricter),
                count(Direction::Looser),
                if r.snapshot_changed { "changed" } else { "" }
            ));
        }
        s.push('\n');
    }
    let all_flips: Vec<(&str, &Flip)> = review.rules.iter().flat_map(|r| r.flips.iter().map(move |f| (r.rule.as_str(), f))).collect();
    if !all_flips.is_empty() {
        s.push_str("### Verdict flips\n\n| rule | input | resource | base | head | |\n|---|---|---|---|---|---|\n");
        for (rule, f) in all_flips {
            let dir = if f.direction == Direction::Stricter { "stricter" } else { "**looser**" };
            s.push_str(&format!("| `{rule}` | `{}` | {} | {} | {} | {dir} |\n", f.input, f.resource, f.base, f.head));
        }
        s.push('\n');
    }
    if !review.approvers.is_empty() {
        s.push_str(&format!("### Approval needed from\n\n{}\n\n", review.approvers.join(", ")));
        s.push_str("<details><summary>owners per changed file</summary>\n\n");
        for a in &review.approvals {
            s.push_str(&format!("- `{}`: {}\n", a.file, if a.owners.is_empty() { "no owner".to_string() } else { a.owners.join(", ") }));
        }
        s.push_str("\n</details>\n\n");
    }
    if !review.errors.is_empty() {
        s.push_str("### Errors\n\n");
        for e in &review.errors {
            s.push_str(&format!("- {e}\n"));
        }
    }
    s
}
