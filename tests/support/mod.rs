//! The driver every YAML-case target shares: read a `cases: [{note, ...}]`
//! file, run each case, and fail once per file listing every failing case.
//!
//! Included with `mod support;`; each target uses only part of it.
#![allow(dead_code)]

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;

/// Reads a YAML case file; a file that does not read or parse fails the test
/// naming it, so a broken fixture never passes as "no cases".
pub fn read_yaml<T: DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The label a failure names a case by.
pub fn note(case: &Value) -> &str {
    case["note"].as_str().unwrap_or("(no note)")
}

/// Checks an error against a case's `want_error: text`, which it must contain.
pub fn error_contains(actual: &str, want_error: &Value) -> Result<(), String> {
    let want = want_error.as_str().ok_or("want_error must be text")?;
    if actual.contains(want) {
        Ok(())
    } else {
        Err(format!("error {actual:?} does not contain {want:?}"))
    }
}

/// Runs `run_case(file, case)` over the file's `cases` list; `file` is the
/// whole document, for file-wide defaults such as a shared `policy`.
pub fn run_yaml_cases(path: &Path, run_case: impl FnMut(&Value, &Value) -> Result<(), String>) {
    let file: Value = read_yaml(path);
    let cases = file["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no `cases` list", path.display()));
    let mut run_case = run_case;
    run_cases(path, cases, note, |case| run_case(&file, case));
}

/// Runs every case, then fails once naming the file and each failing case by
/// index and note; an empty list fails too, since it would test nothing.
pub fn run_cases<C>(
    path: &Path,
    cases: &[C],
    note: impl Fn(&C) -> &str,
    mut run_case: impl FnMut(&C) -> Result<(), String>,
) {
    assert!(!cases.is_empty(), "{}: no cases", path.display());
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            run_case(case)
                .err()
                .map(|message| format!("case {i} `{}`: {message}", note(case)))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{}: {} of {} cases failed:\n{}",
        path.display(),
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A case directory holding the case's `inventory: [objects]` as its
/// `_inventory.yaml` (none when the case gives none), where library rules look for it.
pub fn case_dir_with_inventory(case: &Value) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    if let Some(inventory) = case.get("inventory") {
        let docs: Vec<String> = inventory
            .as_array()
            .ok_or("inventory must be a list")?
            .iter()
            .map(|o| serde_yaml_ng::to_string(o).unwrap())
            .collect();
        std::fs::write(dir.path().join("_inventory.yaml"), docs.join("---\n")).map_err(|e| e.to_string())?;
    }
    Ok(dir)
}

/// Runs `verdict ARGS --format json` in `dir` and parses standard output; output
/// that is not JSON fails the test showing both streams.
pub fn verdict_json(args: &[&str], dir: &Path) -> (std::process::Output, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(args)
        .args(["--format", "json"])
        .current_dir(dir)
        .output()
        .expect("run verdict");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, doc)
}

/// Passed, failed and skipped results of a conformance measurement.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped
    }
}

/// The `main` of a conformance test over upstream data at `root` (a directory
/// or a file): absent data
/// shows as an ignored test (the reason printed above it) instead of a silent
/// `ok`, and fails under `CI=true`, where `.ci/run` lays the data beside the checkout.
pub fn conformance_main(
    name: &str,
    what: &str,
    root: &Path,
    test: fn() -> Result<(), libtest_mimic::Failed>,
) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, vec![conformance_trial(name, what, root, test)]).exit()
}

/// One trial of a conformance target with several data sets, absent data
/// handled as [`conformance_main`] does.
pub fn conformance_trial(
    name: &str,
    what: &str,
    root: &Path,
    test: fn() -> Result<(), libtest_mimic::Failed>,
) -> libtest_mimic::Trial {
    let present = root.exists();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if !present {
        eprintln!(
            "SKIPPED: {what} conformance data not found at {}",
            root.display()
        );
    }
    if present || !in_ci {
        libtest_mimic::Trial::test(name, test).with_ignored_flag(!present)
    } else {
        let message = format!(
            "CI=true but the {what} conformance data is not at {}",
            root.display()
        );
        libtest_mimic::Trial::test(name, move || Err(message.into()))
    }
}

/// What a conformance run and its known-gaps file disagree on: failures the
/// file does not name (`what` says what failed: "results", "assertions", ...)
/// and named gaps that no longer fail; empty when they agree.
pub fn gap_problems<K: Ord + std::fmt::Display>(
    failures: impl IntoIterator<Item = (K, String)>,
    gaps: &std::collections::BTreeMap<K, String>,
    what: &str,
    gaps_file: &str,
) -> String {
    use std::fmt::Write as _;
    let mut failing = std::collections::BTreeSet::new();
    let mut unexpected = Vec::new();
    for (key, detail) in failures {
        if !gaps.contains_key(&key) {
            unexpected.push(format!("  {key}: {detail}"));
        }
        failing.insert(key);
    }
    let stale: Vec<String> = gaps.keys().filter(|k| !failing.contains(*k)).map(|k| format!("  {k}")).collect();
    let mut problems = String::new();
    if !unexpected.is_empty() {
        writeln!(problems, "{} failing {what} are not known gaps:\n{}", unexpected.len(), unexpected.join("\n")).unwrap();
    }
    if !stale.is_empty() {
        writeln!(problems, "{} known gaps no longer fail; remove them from {gaps_file}:\n{}", stale.len(), stale.join("\n")).unwrap();
    }
    problems
}
