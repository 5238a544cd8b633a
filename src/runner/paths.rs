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
/// Rego unit tests under `library` (a project's `policies/`) are left out: the library
/// run owns them, so they run once.
fn discover_suites(root: &Path, library: Option<&Path>) -> Vec<(PathBuf, SuiteKind)> {
    let mut found: Vec<(PathBuf, SuiteKind)> = source_files(root)
        .filter(|e| !(is_rego_test(e.path()) && library.is_some_and(|lib| e.path().starts_with(lib))))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy();
            let kind = if name == "kyverno-test.yaml" || name == "kyverno-test.yml" {
                SuiteKind::Kyverno
            } else if name == "suite.yaml" && is_gator_suite(e.path()) {
                SuiteKind::Gator
            } else if is_rego_test(e.path()) {
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

/// `opa test` runs the `test_*` rules of every module; verdict looks for them in `*_test.rego` files.
fn is_rego_test(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_test.rego"))
}

/// The Rego unit tests of a library (`policies/**/*_test.rego`), each file one group,
/// under the run's `--filter` (a test, `package.test`, the file, or the rule id the file
/// sits beside) and `--partition` (by file). Suite names are relative to `root`.
pub(crate) fn run_library_unit_tests(root: &Path, options: &CaseRunOptions, on_event: &mut dyn FnMut(RunEvent<'_>), summary: &mut RunSummary) {
    let files: Vec<PathBuf> = source_files(&root.join("policies")).map(|e| e.into_path()).filter(|p| is_rego_test(p)).collect();
    summary.searched.push(format!("{} *_test.rego under {}", files.len(), root.join("policies").display()));
    for file in files {
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        if !super::in_partition(&shown, options.partition) {
            continue;
        }
        match run_rego_test_file(&file, &shown, options) {
            Ok(results) if results.is_empty() => {}
            Ok(results) => {
                on_event(RunEvent::GroupFinished { group: &shown, results: &results });
                summary.results.extend(results);
            }
            Err(e) => {
                on_event(RunEvent::LoadFailed(&e));
                summary.load_errors.push(e);
            }
        }
    }
}

/// One `_test.rego` file's rows, each row's suite shown as `shown`.
fn run_rego_test_file(file: &Path, shown: &str, options: &CaseRunOptions) -> Result<Vec<TestResult>, crate::error::LoadError> {
    let rego_options = crate::suite::rego_test::SuiteOptions { limits: options.limits, filter: options.filter.clone(), shown: shown.to_string() };
    let mut results = crate::suite::rego_test::run_suite(file, &rego_options)?;
    for r in &mut results {
        r.suite = shown.to_string();
    }
    Ok(results)
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
        let library = path.join("policies");
        let suites = discover_suites(path, library.is_dir().then_some(library.as_path()));
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
                        engine: options.gator_engine,
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
                    match run_rego_test_file(&suite, &shown, options) {
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
