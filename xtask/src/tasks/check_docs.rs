//! `cargo xtask check-docs`: every rule documents itself with the fixed headings.

use anyhow::Result;
use std::path::Path;
use verdict::library::load_library;
use verdict::limits::Limits;

/// Headings every rule's description must have (STYLE.md, as ruff documents rules).
pub const REQUIRED_HEADINGS: &[&str] = &["## What it does", "## Why is this bad?", "## Example"];

pub fn run(root: &Path) -> Result<bool> {
    let library = load_library(root, &Limits::default());
    let mut problems: Vec<String> = library.errors.iter().map(|e| format!("load error: {e}")).collect();
    for rule in &library.rules {
        if rule.title.trim().is_empty() {
            problems.push(format!("{}: no title", rule.path.display()));
        }
        for heading in REQUIRED_HEADINGS {
            if !rule.description.lines().any(|l| l.trim_end() == *heading) {
                problems.push(format!("{}: description lacks `{heading}`", rule.path.display()));
            }
        }
    }
    for p in &problems {
        eprintln!("check-docs: {p}");
    }
    eprintln!("check-docs: {} rules, {} problems", library.rules.len(), problems.len());
    Ok(problems.is_empty())
}
