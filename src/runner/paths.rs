//! `verdict test PATH...`: a project library where PATH holds `policies/`, plus every
//! external suite found below PATH.

use super::{run_library, CaseRunOptions, RunEvent, RunSummary, TestResult};
use crate::library::load_library;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Suite files verdict recognises, and whether it can run them yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SuiteKind {
    Kyverno,
    Gator,
    RegoTest,
}

/// The files under `root`, sorted by name, hidden directories included, never
/// descending into build output or VCS directories (`target/`, `.git/`, `node_modules/`).
pub(crate) fn source_files(root: &Path) -> impl Iterator<Item = walkdir::DirEntry> {
    WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !(e.depth() > 0 && e.file_type().is_dir() && matches!(name.as_ref(), "target" | ".git" | "node_modules"))
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
}

/// Walk `root` for suite files, including hidden directories (upstream Kyverno keeps
/// suites in `.kyverno-test/`), but never into `target/`, `.git/` or the library's own dirs.
fn discover_suites(root: &Path) -> Vec<(PathBuf, SuiteKind)> {
    let mut found: Vec<(PathBuf, SuiteKind)> = source_files(root)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy();
            let kind = if name == "kyverno-test.yaml" || name == "kyverno-test.yml" {
                SuiteKind::Kyverno
            } else if name == "suite.yaml" && is_gator_suite(e.path()) {
                SuiteKind::Gator
            } else if name.ends_with("_test.rego") {
                SuiteKind::RegoTest
            } else {
                return None;
            };
            Some((e.into_path(), kind))
        })
        .collect();
    found.sort();
    found
}

/// gator reads a `suite.yaml` only when it is a `test.gatekeeper.sh` Suite; other files are not suites.
fn is_gator_suite(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| crate::suite::gator::is_suite_text(&t))
}

/// Run every PATH: libraries, then suites; results keep that order.
pub fn run_paths(paths: &[PathBuf], options: &CaseRunOptions, mut on_event: impl FnMut(RunEvent<'_>) + Send) -> RunSummary {
    let mut summary = RunSummary::default();
    for path in paths {
        if path.join("policies").is_dir() {
            let library = load_library(path, &options.limits);
            let part = run_library(&library, options, &mut on_event);
            summary.merge(part);
        }
        let suites = discover_suites(path);
        let count = |k: SuiteKind| suites.iter().filter(|(_, kind)| *kind == k).count();
        summary.searched.push(format!(
            "suites under {} ({} kyverno-test.yaml, {} gator suite.yaml, {} *_test.rego)",
            path.display(),
            count(SuiteKind::Kyverno),
            count(SuiteKind::Gator),
            count(SuiteKind::RegoTest)
        ));
        for (suite, kind) in suites {
            let shown = suite.strip_prefix(path).unwrap_or(&suite).display().to_string();
            let results = match kind {
                SuiteKind::Kyverno => match crate::suite::kyverno_test::run_suite_with_options(&suite, &options.limits, options.schema) {
                    Ok(report) => {
                        summary.warnings.extend(report.warnings.into_iter().map(|w| format!("{shown}: {w}")));
                        report.results
                    }
                    Err(e) => {
                        on_event(RunEvent::LoadFailed(&e));
                        summary.load_errors.push(e);
                        continue;
                    }
                },
                SuiteKind::Gator => {
                    let gator_options = crate::suite::gator::SuiteOptions {
                        limits: options.limits,
                        filter: options.filter.clone(),
                        shown: shown.clone(),
                        schema: options.schema,
                    };
                    match crate::suite::gator::run_suite(&suite, &gator_options) {
                        Ok(report) => {
                            summary.warnings.extend(report.warnings.into_iter().map(|w| format!("{shown}: {w}")));
                            for e in report.errors {
                                on_event(RunEvent::LoadFailed(&e));
                                summary.load_errors.push(e);
                            }
                            report.results
                        }
                        Err(e) => {
                            on_event(RunEvent::LoadFailed(&e));
                            summary.load_errors.push(e);
                            continue;
                        }
                    }
                }
                SuiteKind::RegoTest => {
                    let rego_options = crate::suite::rego_test::SuiteOptions {
                        limits: options.limits,
                        filter: options.filter.clone(),
                        shown: shown.clone(),
                    };
                    match crate::suite::rego_test::run_suite(&suite, &rego_options) {
                        Ok(results) => results,
                        Err(e) => {
                            on_event(RunEvent::LoadFailed(&e));
                            summary.load_errors.push(e);
                            continue;
                        }
                    }
                }
            };
            // --filter selects suites, tests and rules by name, as it selects library rules;
            // gator suites and Rego test files have already applied it (before evaluating).
            let results: Vec<TestResult> = match &options.filter {
                Some(glob) if kind == SuiteKind::Kyverno => results
                    .into_iter()
                    .filter(|r| glob.is_match(&shown) || glob.is_match(&r.test) || glob.is_match(&r.rule))
                    .collect(),
                _ => results,
            };
            if results.is_empty() {
                continue;
            }
            let results: Vec<TestResult> = results
                .into_iter()
                .map(|mut r| {
                    if let Ok(rel) = Path::new(&r.suite).strip_prefix(path) {
                        r.suite = rel.display().to_string();
                    }
                    r
                })
                .collect();
            on_event(RunEvent::GroupFinished { group: &shown, results: &results });
            summary.results.extend(results);
        }
    }
    summary
}
