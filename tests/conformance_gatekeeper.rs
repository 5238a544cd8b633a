//! Gatekeeper conformance: every `gator verify` suite of the pinned
//! gatekeeper-library snapshot in `../shared/conformance/gatekeeper-library/`,
//! run unchanged with verdict's Gatekeeper engine (a template with
//! `K8sNativeValidation` code is run under Rego and under CEL, counted apart), and every Rego unit test of its
//! `src/**/*_test.rego` files, run as `opa test` runs them.
//!
//! The test fails when an assertion fails that `tests/conformance/gatekeeper.known-gaps`
//! does not name, when a named gap no longer fails (so the file stays honest), or
//! when the README's generated table no longer shows what was measured;
//! `VERDICT_WRITE_DOCS=1` rewrites that table.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use support::Counts;
use verdict::runner::TestResult;
use verdict::suite::gator::{run_suite, SuiteOptions};
use verdict::suite::rego_test::{run_suite as run_rego_tests, SuiteOptions as RegoTestOptions};

const GAPS_FILE: &str = "tests/conformance/gatekeeper.known-gaps";
const README: &str = "README.md";
const BEGIN: &str = "<!-- gatekeeper-conformance:begin -->";
const END: &str = "<!-- gatekeeper-conformance:end -->";
/// What the pinned snapshot holds (its SOURCE.md): a smaller count means suites went unread.
const SUITES: usize = 33;
const ASSERTIONS: usize = 210;
/// Templates of the snapshot with a `K8sNativeValidation` (CEL) engine, and the
/// assertions of their suites, each run once more on the CEL path.
const CEL_SUITES: usize = 11;
const CEL_ASSERTIONS: usize = 88;
const UNIT_TEST_FILES: usize = 35;
/// `test_*` rules as `opa test` counts them: 538 names, 27 of them defined twice,
/// and OPA runs each definition (the second as `name#01`).
const UNIT_TESTS: usize = 565;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data_root() -> PathBuf {
    repo().join("../shared/conformance/gatekeeper-library")
}

/// `<suite dir> <test> <case> #<n>`: the n-th assertion (0-based) of a case;
/// `-` for an `invalid: true` test's row, `*` for a whole test or suite.
type GapKey = String;

/// `key: reason` lines; `#` comments and blank lines ignored.
fn read_known_gaps(path: &Path) -> BTreeMap<GapKey, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut gaps = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, reason) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}:{}: want `suite test case #n: reason`", path.display(), n + 1));
        assert_eq!(key.split_whitespace().count(), 4, "{}:{}: want `suite test case #n: reason`", path.display(), n + 1);
        assert!(!reason.trim().is_empty(), "{}:{}: a known gap needs a reason", path.display(), n + 1);
        assert!(gaps.insert(key.to_string(), reason.trim().to_string()).is_none(), "{}:{}: duplicate gap", path.display(), n + 1);
    }
    gaps
}

struct Failure {
    key: GapKey,
    expected: String,
    actual: String,
    message: String,
}

#[derive(Default)]
struct Measurement {
    suites: usize,
    /// Rows of the Rego path (every template with Rego code).
    assertions: Counts,
    /// Rows of the CEL path (`<test>[cel]`).
    cel_assertions: Counts,
    cel_suites: BTreeSet<String>,
    unit_test_files: usize,
    unit_tests: Counts,
    failures: Vec<Failure>,
}

/// Every `suite.yaml` below `root`, sorted.
fn suites(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(root.join("library"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "suite.yaml")
        .map(walkdir::DirEntry::into_path)
        .collect();
    found.sort();
    found
}

fn measure(root: &Path) -> Measurement {
    let mut m = Measurement::default();
    for file in suites(root) {
        m.suites += 1;
        let suite = file.parent().unwrap().strip_prefix(root).unwrap().display().to_string();
        let options = SuiteOptions { shown: suite.clone(), ..SuiteOptions::default() };
        let report = match run_suite(&file, &options) {
            Ok(report) => report,
            Err(e) => {
                m.assertions.failed += 1;
                m.failures.push(Failure { key: format!("{suite} * * #0"), expected: "load".into(), actual: "error".into(), message: e.to_string() });
                continue;
            }
        };
        for (i, e) in report.errors.iter().enumerate() {
            m.assertions.failed += 1;
            m.failures.push(Failure { key: format!("{suite} * * #{i}"), expected: "load".into(), actual: "error".into(), message: e.to_string() });
        }
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in &report.results {
            let case = r.case.clone().unwrap_or_else(|| if r.expected == "rejected" { "-".into() } else { "*".into() });
            let n = seen.entry((r.test.clone(), case.clone())).or_default();
            let key = format!("{suite} {} {case} #{n}", r.test);
            *n += 1;
            let counts = if r.test.ends_with("[cel]") {
                m.cel_suites.insert(suite.clone());
                &mut m.cel_assertions
            } else {
                &mut m.assertions
            };
            match classify(r) {
                "passed" => counts.passed += 1,
                "skipped" => counts.skipped += 1,
                _ => {
                    counts.failed += 1;
                    m.failures.push(Failure { key, expected: r.expected.clone(), actual: r.actual.clone(), message: r.messages.join("; ") });
                }
            }
        }
    }
    m
}

/// Every `*_test.rego` below `root/src`, sorted.
fn unit_test_files(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(root.join("src"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("_test.rego"))
        .map(walkdir::DirEntry::into_path)
        .collect();
    found.sort();
    found
}

/// Run the unit tests; a failing test's key is `<file> <test> unit #0`, a file that
/// does not load `<file> * unit #0`.
fn measure_unit_tests(root: &Path, m: &mut Measurement) {
    for file in unit_test_files(root) {
        m.unit_test_files += 1;
        let shown = file.strip_prefix(root).unwrap().display().to_string();
        let options = RegoTestOptions { shown: shown.clone(), ..RegoTestOptions::default() };
        match run_rego_tests(&file, &options) {
            Ok(results) => {
                for r in results {
                    match classify(&r) {
                        "passed" => m.unit_tests.passed += 1,
                        "skipped" => m.unit_tests.skipped += 1,
                        _ => {
                            m.unit_tests.failed += 1;
                            m.failures.push(Failure { key: format!("{shown} {} unit #0", r.test), expected: r.expected, actual: r.actual, message: r.messages.join("; ") });
                        }
                    }
                }
            }
            Err(e) => {
                m.unit_tests.failed += 1;
                m.failures.push(Failure { key: format!("{shown} * unit #0"), expected: "load".into(), actual: "error".into(), message: e.to_string() });
            }
        }
    }
}

fn classify(result: &TestResult) -> &'static str {
    if result.skipped.is_some() {
        "skipped"
    } else if result.ok {
        "passed"
    } else {
        "failed"
    }
}

/// `Upstream repository` and `Commit` of the snapshot's SOURCE.md.
fn upstream_source(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("SOURCE.md")).unwrap_or_default();
    let field = |name: &str| text.lines().find_map(|l| l.trim().strip_prefix(&format!("- {name}: ")).map(str::to_string));
    match (field("Upstream repository"), field("Commit")) {
        (Some(repo), Some(commit)) => format!("{} at `{}`", repo.split_whitespace().next().unwrap_or(""), &commit[..commit.len().min(7)]),
        _ => "unknown".into(),
    }
}

/// The README section between the markers.
fn section(m: &Measurement, gaps: &BTreeMap<GapKey, String>, source: &str) -> String {
    let c = &m.assertions;
    let mut out = String::new();
    writeln!(out, "{BEGIN}").unwrap();
    let u = &m.unit_tests;
    writeln!(
        out,
        "Generated by `VERDICT_WRITE_DOCS=1 cargo test --test conformance_gatekeeper` from {} suites and {} `*_test.rego` files of {source}; do not edit.\n",
        m.suites, m.unit_test_files
    )
    .unwrap();
    writeln!(out, "| | passed | failed | skipped | total |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|").unwrap();
    writeln!(out, "| suite assertions, Rego path | {} | {} | {} | {} |", c.passed, c.failed, c.skipped, c.total()).unwrap();
    let cel = &m.cel_assertions;
    writeln!(
        out,
        "| suite assertions, CEL path (`K8sNativeValidation`, {} templates) | {} | {} | {} | {} |",
        m.cel_suites.len(),
        cel.passed,
        cel.failed,
        cel.skipped,
        cel.total()
    )
    .unwrap();
    writeln!(out, "| Rego unit tests (`opa test`) | {} | {} | {} | {} |", u.passed, u.failed, u.skipped, u.total()).unwrap();
    if !m.failures.is_empty() {
        writeln!(out, "\nFailing (each named in `{GAPS_FILE}`):\n").unwrap();
        for f in &m.failures {
            let reason = gaps.get(&f.key).cloned().unwrap_or_else(|| f.message.clone());
            writeln!(out, "- `{}`: {}", f.key, reason.replace('\n', " ")).unwrap();
        }
    }
    write!(out, "{END}").unwrap();
    out
}

fn main() {
    support::conformance_main("gatekeeper_library_conformance", "Gatekeeper", &data_root(), gatekeeper_library_conformance);
}

fn gatekeeper_library_conformance() -> Result<(), libtest_mimic::Failed> {
    let root = data_root();
    let gaps = read_known_gaps(&repo().join(GAPS_FILE));
    let mut m = measure(&root);
    measure_unit_tests(&root, &mut m);
    let generated = section(&m, &gaps, &upstream_source(&root));
    println!("{generated}");

    // The README's table must be the measured one: regenerate it, or fail when it is stale.
    let readme_path = repo().join(README);
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        return Err(format!("{README} has no {BEGIN} ... {END} section").into());
    };
    let published = &readme[start..end + END.len()];
    if std::env::var_os("VERDICT_WRITE_DOCS").is_some() {
        let updated = format!("{}{generated}{}", &readme[..start], &readme[end + END.len()..]);
        std::fs::write(&readme_path, updated).unwrap();
        println!("wrote {}", readme_path.display());
    } else if published != generated {
        return Err(format!(
            "the Gatekeeper conformance table in {README} is out of date; regenerate it with VERDICT_WRITE_DOCS=1 cargo test --test conformance_gatekeeper"
        )
        .into());
    }

    let failures = m
        .failures
        .iter()
        .map(|f| (f.key.clone(), format!("expected {}, got {}: {}", f.expected, f.actual, f.message)));
    let mut problems = support::gap_problems(failures, &gaps, "assertions", GAPS_FILE);
    if m.suites != SUITES {
        writeln!(problems, "found {} suites, the pinned snapshot has {SUITES}", m.suites).unwrap();
    }
    if m.unit_test_files != UNIT_TEST_FILES {
        writeln!(problems, "found {} *_test.rego files, the pinned snapshot has {UNIT_TEST_FILES}", m.unit_test_files).unwrap();
    }
    let unit_load_errors = m.failures.iter().filter(|f| f.expected == "load" && f.key.ends_with(" unit #0")).count();
    if m.unit_tests.total() != UNIT_TESTS + unit_load_errors {
        writeln!(problems, "measured {} unit test results, the pinned snapshot has {UNIT_TESTS} tests", m.unit_tests.total()).unwrap();
    }
    let suite_load_errors = m.failures.iter().filter(|f| f.expected == "load").count() - unit_load_errors;
    if m.assertions.total() != ASSERTIONS + suite_load_errors {
        writeln!(problems, "measured {} assertion results, the pinned snapshot has {ASSERTIONS} assertions", m.assertions.total()).unwrap();
    }
    if m.cel_suites.len() != CEL_SUITES {
        writeln!(problems, "{} suites ran on the CEL path, the pinned snapshot has {CEL_SUITES} templates with K8sNativeValidation", m.cel_suites.len()).unwrap();
    }
    if m.cel_assertions.total() != CEL_ASSERTIONS {
        writeln!(problems, "measured {} CEL-path assertion results, the pinned snapshot's CEL templates have {CEL_ASSERTIONS}", m.cel_assertions.total()).unwrap();
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.into())
    }
}
