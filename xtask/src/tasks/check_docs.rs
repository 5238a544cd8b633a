//! `cargo xtask check-docs`: every rule documents itself with the fixed headings,
//! names its controls, and keeps nothing of the `new-rule` scaffold's placeholders.

use anyhow::Result;
use std::path::Path;
use verdict::library::{load_library, Rule};
use verdict::limits::Limits;

/// Headings every rule's description must have (STYLE.md and the README, as ruff documents rules).
pub const REQUIRED_HEADINGS: &[&str] = &["## What it does", "## Why is this bad?", "## Example", "## How to fix"];

/// The placeholder the scaffold writes where an author has to write something.
const PLACEHOLDER: &str = "TODO";

/// Every documentation problem of the library under `root`, one line each.
pub fn problems(root: &Path) -> Vec<String> {
    let library = load_library(root, &Limits::default());
    let mut problems: Vec<String> = library.errors.iter().map(|e| format!("load error: {e}")).collect();
    for rule in &library.rules {
        problems.extend(rule_problems(rule).into_iter().map(|p| format!("{}: {p}", rule.path.display())));
    }
    problems
}

fn rule_problems(rule: &Rule) -> Vec<String> {
    let mut problems = Vec::new();
    let title = rule.title.trim();
    if title.is_empty() {
        problems.push("no title".to_string());
    } else if title.contains(PLACEHOLDER) {
        problems.push(format!("the title is still the scaffold's placeholder: {title:?}"));
    }
    for heading in REQUIRED_HEADINGS {
        if !rule.description.lines().any(|l| l.trim_end() == *heading) {
            problems.push(format!("description lacks `{heading}`"));
        }
    }
    if let Some(line) = rule.description.lines().find(|l| l.contains(PLACEHOLDER)) {
        problems.push(format!("description still holds the scaffold's placeholder: {:?}", line.trim()));
    }
    if rule.controls.is_empty() {
        problems.push("names no control (verdict.dev/controls or custom.controls, ids from policies/controls.yaml)".to_string());
    }
    problems
}

pub fn run(root: &Path) -> Result<bool> {
    let problems = problems(root);
    for p in &problems {
        eprintln!("check-docs: {p}");
    }
    let rules = load_library(root, &Limits::default()).rules.len();
    eprintln!("check-docs: {rules} rules, {} problems", problems.len());
    Ok(problems.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_library(to: &Path) {
        let root = super::super::workspace_root();
        for part in ["policies", "cases"] {
            for entry in walkdir::WalkDir::new(root.join(part)).into_iter().filter_map(Result::ok) {
                let target = to.join(entry.path().strip_prefix(&root).unwrap());
                if entry.file_type().is_dir() {
                    std::fs::create_dir_all(&target).unwrap();
                } else {
                    std::fs::copy(entry.path(), &target).unwrap();
                }
            }
        }
    }

    #[test]
    fn the_library_is_documented() {
        let found = problems(&super::super::workspace_root());
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn the_untouched_scaffold_fails_for_every_placeholder() {
        let dir = tempfile::tempdir().unwrap();
        copy_library(dir.path());
        verdict::scaffold::new_rule(dir.path(), "gate5-pod-security/new-thing", verdict::scaffold::Lang::Kyverno).unwrap();
        let found: Vec<String> = problems(dir.path()).into_iter().filter(|p| p.contains("new-thing")).collect();
        let has = |needle: &str| found.iter().any(|p| p.contains(needle));
        assert!(has("title is still the scaffold's placeholder"), "{found:#?}");
        assert!(has("description still holds the scaffold's placeholder"), "{found:#?}");
        assert!(has("names no control"), "{found:#?}");
    }

    #[test]
    fn a_missing_heading_fails() {
        let dir = tempfile::tempdir().unwrap();
        copy_library(dir.path());
        let policy = dir.path().join("policies/gate5-pod-security/require-run-as-non-root.yaml");
        let text = std::fs::read_to_string(&policy).unwrap();
        std::fs::write(&policy, text.replace("## How to fix", "## Fixing it")).unwrap();
        let found = problems(dir.path());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("require-run-as-non-root.yaml: description lacks `## How to fix`"), "{found:#?}");
    }
}
