//! Kyverno conformance: every `kyverno test` suite of the pinned
//! kyverno/policies snapshots, run with verdict's Kyverno engine: the classic
//! (pattern) suites in `../shared/conformance/kyverno-policies/` and the CEL
//! suites (`validate.cel` ClusterPolicies in `*-cel/`, ValidatingPolicies in
//! `*-vpol/`) in `../shared/conformance/kyverno-policies-cel/`.
//!
//! Each trial fails when a result fails that its known-gaps file
//! (`tests/conformance/kyverno.known-gaps`, `kyverno-cel.known-gaps`) does not
//! name, when a named gap no longer fails (so the file stays honest), when
//! the pass rate drops below its floor, or when its docs page or the README's
//! generated table no longer shows what it measured; `VERDICT_WRITE_DOCS=1`
//! rewrites them.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use support::Counts;
use verdict::runner::TestResult;
use verdict::suite::kyverno_test::{discover, run_suite};

const MIN_PASS_RATE: f64 = 0.98;
const GAPS_FILE: &str = "tests/conformance/kyverno.known-gaps";
const DOCS_FILE: &str = "docs/kyverno-conformance.md";
const CEL_MIN_PASS_RATE: f64 = 1.0;
const CEL_GAPS_FILE: &str = "tests/conformance/kyverno-cel.known-gaps";
const CEL_DOCS_FILE: &str = "docs/kyverno-cel-conformance.md";
const README: &str = "README.md";
const BEGIN: &str = "<!-- kyverno-conformance:begin -->";
const END: &str = "<!-- kyverno-conformance:end -->";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data_root() -> PathBuf {
    repo().join("../shared/conformance/kyverno-policies")
}

fn cel_data_root() -> PathBuf {
    repo().join("../shared/conformance/kyverno-policies-cel")
}

/// The policy kind a suite of the CEL snapshot tests, from its top folder.
fn cel_class(suite: &str) -> &'static str {
    if suite.split('/').next().is_some_and(|dir| dir.ends_with("-vpol")) {
        "ValidatingPolicy"
    } else {
        "ClusterPolicy `validate.cel`"
    }
}

/// One failing result, as the known-gaps file names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GapKey {
    suite: String,
    rule: String,
    resource: String,
}

impl std::fmt::Display for GapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.suite, self.rule, self.resource)
    }
}

/// `suite-dir policy/rule resource: reason` lines; `#` comments and blank lines ignored.
fn read_known_gaps(path: &Path) -> BTreeMap<GapKey, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut gaps = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, reason) = line.split_once(": ").unwrap_or_else(|| {
            panic!(
                "{}:{}: want `suite policy/rule resource: reason`",
                path.display(),
                n + 1
            )
        });
        let parts: Vec<&str> = head.split_whitespace().collect();
        let [suite, rule, resource] = parts[..] else {
            panic!(
                "{}:{}: want `suite policy/rule resource: reason`",
                path.display(),
                n + 1
            );
        };
        assert!(
            !reason.trim().is_empty(),
            "{}:{}: a known gap needs a reason",
            path.display(),
            n + 1
        );
        let key = GapKey {
            suite: suite.into(),
            rule: rule.into(),
            resource: resource.into(),
        };
        assert!(
            gaps.insert(key, reason.trim().to_string()).is_none(),
            "{}:{}: duplicate gap",
            path.display(),
            n + 1
        );
    }
    gaps
}

/// A failing result with where it comes from.
struct Failure {
    key: GapKey,
    expected: String,
    actual: String,
    message: String,
}

#[derive(Default)]
struct Measurement {
    suites: usize,
    rows: Counts,
    results: Counts,
    failures: Vec<Failure>,
    skipped: Vec<(GapKey, String)>,
    /// (suite, warning): suite smells that fail nothing, such as a rule that matched no resource.
    warnings: Vec<(String, String)>,
    /// Suites, rows and resource results per policy kind tested.
    classes: BTreeMap<&'static str, (usize, Counts, Counts)>,
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

fn measure(root: &Path, class_of: fn(&str) -> &'static str) -> Measurement {
    let mut m = Measurement::default();
    for file in discover(root) {
        m.suites += 1;
        let suite = file
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string();
        let rows_before = m.rows;
        let results_before = m.results;
        let warnings_before = m.warnings.len();
        measure_suite(&file, suite.clone(), &mut m);
        // Paths relative to the snapshot, so the published page is the same in every checkout.
        let prefix = format!("{}/", root.display());
        for (_, warning) in &mut m.warnings[warnings_before..] {
            *warning = warning.replace(&prefix, "");
        }
        let class = m.classes.entry(class_of(&suite)).or_default();
        class.0 += 1;
        for (total, now, before) in [(&mut class.1, m.rows, rows_before), (&mut class.2, m.results, results_before)] {
            total.passed += now.passed - before.passed;
            total.failed += now.failed - before.failed;
            total.skipped += now.skipped - before.skipped;
        }
    }
    m
}

fn measure_suite(file: &Path, suite: String, m: &mut Measurement) {
    {
        let report = match run_suite(file) {
            Ok(report) => report,
            Err(e) => {
                m.rows.failed += 1;
                m.results.failed += 1;
                let key = GapKey {
                    suite,
                    rule: "*".into(),
                    resource: "*".into(),
                };
                m.failures.push(Failure {
                    key,
                    expected: "load".into(),
                    actual: "error".into(),
                    message: e.to_string(),
                });
                return;
            }
        };
        m.warnings
            .extend(report.warnings.iter().map(|w| (suite.clone(), w.clone())));
        for row in &report.rows {
            let results = &report.results[row.results.clone()];
            let kinds: BTreeSet<&str> = results.iter().map(classify).collect();
            if kinds.contains("failed") || results.is_empty() {
                m.rows.failed += 1;
            } else if kinds.contains("skipped") {
                m.rows.skipped += 1;
            } else {
                m.rows.passed += 1;
            }
        }
        for r in &report.results {
            let key = GapKey {
                suite: suite.clone(),
                rule: r.rule.clone(),
                resource: r.resource.clone(),
            };
            match classify(r) {
                "passed" => m.results.passed += 1,
                "skipped" => {
                    m.results.skipped += 1;
                    m.skipped.push((key, r.skipped.clone().unwrap_or_default()));
                }
                _ => {
                    m.results.failed += 1;
                    m.failures.push(Failure {
                        key,
                        expected: r.expected.clone(),
                        actual: r.actual.clone(),
                        message: r.messages.join("; "),
                    });
                }
            }
        }
    }
}

fn table(m: &Measurement) -> String {
    let rate = |c: &Counts| {
        if c.total() == 0 {
            0.0
        } else {
            100.0 * c.passed as f64 / c.total() as f64
        }
    };
    let mut out = String::new();
    writeln!(out, "| | passed | failed | skipped | total | pass rate |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|").unwrap();
    for (name, c) in [("rows", &m.rows), ("resource results", &m.results)] {
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {:.1} % |",
            c.passed,
            c.failed,
            c.skipped,
            c.total(),
            rate(c)
        )
        .unwrap();
    }
    out
}

fn docs(m: &Measurement, gaps: &BTreeMap<GapKey, String>, source: &str, title: &str, what: &str) -> String {
    let mut out = String::new();
    writeln!(out, "# {title}\n").unwrap();
    writeln!(
        out,
        "verdict runs every `kyverno test` suite of a pinned kyverno/policies snapshot \
         ({} suites, {what}) with its own Kyverno engine. \
         Generated by `VERDICT_WRITE_DOCS=1 cargo test --test conformance_kyverno`; do not edit.\n",
        m.suites
    )
    .unwrap();
    if !source.is_empty() {
        writeln!(out, "Upstream: {source}\n").unwrap();
    }
    writeln!(out, "{}", table(m)).unwrap();
    writeln!(
        out,
        "A row is one entry of a suite's `results`; a resource result is one resource of one row. \
         A skipped result could not be checked (it needs what verdict does not evaluate) and is never counted as passed.\n"
    )
    .unwrap();
    writeln!(out, "## Failing results ({})\n", m.failures.len()).unwrap();
    if m.failures.is_empty() {
        writeln!(out, "None.\n").unwrap();
    } else {
        writeln!(
            out,
            "| suite | policy/rule | resource | expected | actual | reason |"
        )
        .unwrap();
        writeln!(out, "|---|---|---|---|---|---|").unwrap();
        for f in &m.failures {
            let reason = gaps
                .get(&f.key)
                .cloned()
                .unwrap_or_else(|| f.message.clone())
                .replace('|', "\\|")
                .replace('\n', " ");
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                f.key.suite, f.key.rule, f.key.resource, f.expected, f.actual, reason
            )
            .unwrap();
        }
        writeln!(out).unwrap();
    }
    writeln!(out, "## Warnings ({})\n", m.warnings.len()).unwrap();
    if m.warnings.is_empty() {
        writeln!(out, "None.\n").unwrap();
    } else {
        for (suite, warning) in &m.warnings {
            writeln!(out, "- `{suite}`: {warning}").unwrap();
        }
        writeln!(out).unwrap();
    }
    writeln!(out, "## Skipped results ({})\n", m.skipped.len()).unwrap();
    if m.skipped.is_empty() {
        writeln!(out, "None.").unwrap();
    } else {
        writeln!(out, "| suite | policy/rule | resource | reason |").unwrap();
        writeln!(out, "|---|---|---|---|").unwrap();
        for (key, reason) in &m.skipped {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                key.suite,
                key.rule,
                key.resource,
                reason.replace('|', "\\|")
            )
            .unwrap();
        }
    }
    out
}

/// `Commit: ...` of the snapshot's SOURCE.md, for the docs.
fn upstream_source(root: &Path) -> String {
    let text = std::fs::read_to_string(root.join("SOURCE.md")).unwrap_or_default();
    let field = |name: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(&format!("- {name}: "))
                .map(str::to_string)
        })
    };
    match (field("Upstream repository"), field("Commit")) {
        (Some(repo), Some(commit)) => format!("{repo} at commit `{commit}`"),
        _ => String::new(),
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = vec![
        support::conformance_trial("kyverno_policies_conformance", "Kyverno", &data_root(), kyverno_policies_conformance),
        support::conformance_trial("kyverno_cel_policies_conformance", "Kyverno CEL", &cel_data_root(), kyverno_cel_policies_conformance),
    ];
    libtest_mimic::run(&args, trials).exit()
}

/// Writes `generated` to `path`, or fails when the file shows something else.
fn check_published(path: &Path, generated: &str) -> Result<(), libtest_mimic::Failed> {
    if std::env::var_os("VERDICT_WRITE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, generated).unwrap();
        println!("wrote {}", path.display());
        return Ok(());
    }
    let published = std::fs::read_to_string(path).unwrap_or_default();
    if published != generated {
        return Err(format!(
            "{} is out of date; regenerate it with VERDICT_WRITE_DOCS=1 cargo test --test conformance_kyverno",
            path.display()
        )
        .into());
    }
    Ok(())
}

/// Fails naming every failing result the gaps file lacks and every gap that no longer fails.
fn check_gaps(m: &Measurement, gaps: &BTreeMap<GapKey, String>, gaps_file: &str) -> Result<(), libtest_mimic::Failed> {
    match gap_problems_of(m, gaps, gaps_file) {
        problems if problems.is_empty() => Ok(()),
        problems => Err(problems.into()),
    }
}

fn gap_problems_of(m: &Measurement, gaps: &BTreeMap<GapKey, String>, gaps_file: &str) -> String {
    let failures = m
        .failures
        .iter()
        .map(|f| (f.key.clone(), format!("expected {}, got {}: {}", f.expected, f.actual, f.message)));
    support::gap_problems(failures, gaps, "results", gaps_file)
}

/// The README's table: resource results per policy kind over both snapshots.
fn readme_section(classic: &Measurement, cel: &Measurement) -> String {
    let mut out = String::new();
    writeln!(out, "{BEGIN}").unwrap();
    writeln!(
        out,
        "Generated by `VERDICT_WRITE_DOCS=1 cargo test --test conformance_kyverno` from {}; do not edit.\n",
        upstream_source(&data_root())
    )
    .unwrap();
    writeln!(out, "| policies | suites | rows passed | resource results passed | failed | skipped | total |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|").unwrap();
    let classic_row = ("classic (pattern, deny, foreach, podSecurity)", (classic.suites, classic.rows, classic.results));
    let rows = std::iter::once(classic_row).chain(cel.classes.iter().map(|(name, c)| (*name, *c)));
    for (name, (suites, rows, results)) in rows {
        writeln!(
            out,
            "| {name} | {suites} | {} / {} | {} | {} | {} | {} |",
            rows.passed,
            rows.total(),
            results.passed,
            results.failed,
            results.skipped,
            results.total()
        )
        .unwrap();
    }
    write!(out, "{END}").unwrap();
    out
}

fn kyverno_cel_policies_conformance() -> Result<(), libtest_mimic::Failed> {
    let root = cel_data_root();
    let gaps = read_known_gaps(&repo().join(CEL_GAPS_FILE));
    let m = measure(&root, cel_class);
    println!("Kyverno CEL conformance ({} suites)\n{}", m.suites, table(&m));
    let generated = docs(
        &m,
        &gaps,
        &upstream_source(&root),
        "Kyverno CEL conformance",
        "ClusterPolicy `validate.cel` rules and ValidatingPolicies",
    );
    check_published(&repo().join(CEL_DOCS_FILE), &generated)?;

    // The README's table covers both snapshots, split by policy kind.
    let classic = measure(&data_root(), |_| "classic");
    let section = readme_section(&classic, &m);
    let readme_path = repo().join(README);
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        return Err(format!("{README} has no {BEGIN} ... {END} section").into());
    };
    if std::env::var_os("VERDICT_WRITE_DOCS").is_some() {
        let updated = format!("{}{section}{}", &readme[..start], &readme[end + END.len()..]);
        std::fs::write(&readme_path, updated).unwrap();
    } else if readme[start..end + END.len()] != section {
        return Err(format!(
            "the Kyverno conformance table in {README} is out of date; regenerate it with VERDICT_WRITE_DOCS=1 cargo test --test conformance_kyverno"
        )
        .into());
    }

    check_gaps(&m, &gaps, CEL_GAPS_FILE)?;
    assert_eq!(m.suites, 152, "the pinned CEL snapshot has 152 suites");
    assert_eq!(m.rows.total(), 579, "the pinned CEL snapshot has 579 rows");
    assert_eq!(m.results.total(), 2145, "the pinned CEL snapshot has 2145 resource results");
    let rate = m.results.passed as f64 / m.results.total().max(1) as f64;
    let known = gaps.len() as f64 / m.results.total().max(1) as f64;
    assert!(
        rate + known >= CEL_MIN_PASS_RATE,
        "pass rate {:.1} % plus {} named gaps is below {:.0} %",
        rate * 100.0,
        gaps.len(),
        CEL_MIN_PASS_RATE * 100.0
    );
    Ok(())
}

fn kyverno_policies_conformance() -> Result<(), libtest_mimic::Failed> {
    let root = data_root();
    let gaps = read_known_gaps(&repo().join(GAPS_FILE));
    let m = measure(&root, |_| "classic");
    println!("Kyverno conformance ({} suites)\n{}", m.suites, table(&m));
    for (suite, warning) in &m.warnings {
        println!("warning: {suite}: {warning}");
    }

    // The published table must be the measured one: regenerate it, or fail when it is stale.
    let path = repo().join(DOCS_FILE);
    let generated = docs(&m, &gaps, &upstream_source(&root), "Kyverno conformance", "validate rules only");
    if std::env::var_os("VERDICT_WRITE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        println!("wrote {}", path.display());
    } else {
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{DOCS_FILE} is out of date; regenerate it with VERDICT_WRITE_DOCS=1 cargo test --test conformance_kyverno"
        );
    }

    let problems = gap_problems_of(&m, &gaps, GAPS_FILE);
    assert!(problems.is_empty(), "{problems}");

    assert_eq!(m.suites, 103, "the pinned snapshot has 103 suites");
    assert_eq!(m.rows.total(), 350, "the pinned snapshot has 350 rows");
    let rate = m.results.passed as f64 / m.results.total().max(1) as f64;
    assert!(
        rate >= MIN_PASS_RATE,
        "pass rate {:.1} % is below {:.0} %",
        rate * 100.0,
        MIN_PASS_RATE * 100.0
    );
    Ok(())
}
