//! Running the library: every rule over its `cases/<rule-id>/` files and the known-good corpus.

use super::{RunEvent, RunSummary, TestResult};
use crate::error::LoadError;
use crate::input::{Input, InputKind};
use crate::library::{Library, Rule};
use crate::limits::Limits;
use crate::verdict::{Outcome, Verdict};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a case file's name says it must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expectation {
    Pass,
    Fail,
}

impl Expectation {
    /// `pass-*` and `fail-*` files; anything else is not a case.
    pub fn from_file_name(name: &str) -> Option<Expectation> {
        if name.starts_with("pass-") {
            Some(Expectation::Pass)
        } else if name.starts_with("fail-") {
            Some(Expectation::Fail)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Expectation::Pass => "pass",
            Expectation::Fail => "fail",
        }
    }
}

/// Options for running the library's cases.
#[derive(Debug, Clone)]
pub struct CaseRunOptions {
    pub limits: Limits,
    /// Run only rules whose id matches this glob.
    pub filter: Option<globset::GlobMatcher>,
    /// Run only the `n`-th of `m` stable slices of the rules (1-based `n`).
    pub partition: Option<(u64, u64)>,
    pub jobs: usize,
}

impl Default for CaseRunOptions {
    fn default() -> Self {
        CaseRunOptions { limits: Limits::default(), filter: None, partition: None, jobs: default_jobs() }
    }
}

/// One worker per core, as cargo does.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// Is this rule id in the selected partition? A stable hash, so shards never overlap.
pub fn in_partition(id: &str, partition: Option<(u64, u64)>) -> bool {
    let Some((n, m)) = partition else { return true };
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % m == n - 1
}

/// The case files of one rule, sorted: `cases/<rule-id>/{pass,fail}-*`.
pub fn case_files(root: &Path, rule_id: &str) -> Vec<(PathBuf, Expectation)> {
    let dir = root.join("cases").join(rule_id);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<(PathBuf, Expectation)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Expectation::from_file_name(&name).map(|x| (e.path(), x))
        })
        .collect();
    files.sort();
    files
}

/// Known-good corpus files (`cases/_corpus/**`) that every rule must pass.
pub fn corpus_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root.join("cases").join("_corpus"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .filter(|p| !is_inventory(p))
        .collect();
    files.sort();
    files
}

/// `_inventory.yaml` holds the cluster objects cases run against (Namespaces), not inputs.
pub fn is_inventory(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == crate::input::inventory::INVENTORY_FILE)
}

/// Load a case or corpus file, rejecting manifests that do not fit the Kubernetes schema,
/// so a misspelt field cannot make a case pass by accident.
pub fn load_fixture(path: &Path, limits: &Limits) -> Result<Vec<Input>, LoadError> {
    let inputs = crate::input::load_file(path, limits)?;
    for input in &inputs {
        if input.kind == InputKind::Manifest {
            crate::input::schema::validate_manifest(input)?;
        }
    }
    Ok(inputs)
}

/// The verdicts and checked expectations of one rule's cases.
#[derive(Debug, Default, Clone)]
pub struct RuleCases {
    pub results: Vec<TestResult>,
    pub verdicts: Vec<Verdict>,
}

/// Evaluate every case of one rule. Never fails: problems become `error` results.
pub fn run_rule_cases(root: &Path, rule: &Rule, limits: &Limits) -> RuleCases {
    let mut out = RuleCases::default();
    let suite = format!("cases/{}", rule.id);
    let cases = case_files(root, &rule.id);
    for missing in [Expectation::Pass, Expectation::Fail] {
        if !cases.iter().any(|(_, x)| *x == missing) {
            out.results.push(TestResult {
                suite: suite.clone(),
                test: format!("{}-*", missing.name()),
                rule: rule.id.clone(),
                resource: String::new(),
                expected: missing.name().to_string(),
                actual: "error".to_string(),
                ok: false,
                skipped: None,
                messages: vec![format!("untested: rule has no {}-* case in {suite}/", missing.name())],
            });
        }
    }
    for (path, expectation) in cases {
        let test = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let mut result = TestResult {
            suite: suite.clone(),
            test,
            rule: rule.id.clone(),
            resource: String::new(),
            expected: expectation.name().to_string(),
            actual: String::new(),
            ok: false,
            skipped: None,
            messages: Vec::new(),
        };
        if rel.to_string_lossy().ends_with(".image.yaml") {
            result.actual = "skip".to_string();
            result.skipped = Some("image cases need the OCI image gates, which are not implemented yet".to_string());
            out.results.push(result);
            continue;
        }
        match load_fixture(&path, limits) {
            Err(e) => {
                result.actual = "error".to_string();
                result.messages = vec![LoadError { path: rel, ..e }.to_string()];
            }
            Ok(mut inputs) => {
                for input in &mut inputs {
                    input.id = format!("{}#{}", rel.display(), input.index);
                }
                let verdicts: Vec<Verdict> = inputs.iter().map(|i| rule.evaluate(i)).collect();
                judge_case(&mut result, expectation, &verdicts);
                out.verdicts.extend(verdicts);
            }
        }
        out.results.push(result);
    }
    out
}

/// A case's verdict from its documents': a `fail-*` case needs one failing document
/// and no error; a `pass-*` case needs one passing document and no failure or error.
fn judge_case(result: &mut TestResult, expectation: Expectation, verdicts: &[Verdict]) {
    let any = |f: fn(&Outcome) -> bool| verdicts.iter().any(|v| f(&v.outcome));
    let actual = if any(|o| matches!(o, Outcome::Error { .. })) {
        "error"
    } else if any(|o| matches!(o, Outcome::Fail { .. } | Outcome::Warn { .. })) {
        "fail"
    } else if any(|o| matches!(o, Outcome::Pass)) {
        "pass"
    } else if verdicts.is_empty() {
        "empty"
    } else if any(|o| matches!(o, Outcome::Skip { .. })) {
        "skip"
    } else {
        "not-applicable"
    };
    result.actual = actual.to_string();
    result.ok = actual == expectation.name();
    result.resource = verdicts.iter().map(|v| v.resource.as_str()).collect::<Vec<_>>().join(", ");
    result.messages = verdicts.iter().flat_map(|v| v.outcome.messages()).collect();
    if actual == "not-applicable" || actual == "empty" {
        result.messages.push(format!("the rule did not apply to any document of this {} case", expectation.name()));
    }
}

/// Every rule must pass every known-good corpus document: one result per rule.
pub fn run_corpus(rule: &Rule, corpus: &[(PathBuf, Result<Vec<Input>, LoadError>)]) -> (TestResult, Vec<Verdict>) {
    let mut false_positives = Vec::new();
    let mut verdicts = Vec::new();
    for (rel, loaded) in corpus {
        match loaded {
            Err(e) => false_positives.push(format!("{}: {e}", rel.display())),
            Ok(inputs) => {
                for input in inputs {
                    let v = rule.evaluate(input);
                    if v.outcome.blocks() || matches!(v.outcome, Outcome::Warn { .. }) {
                        false_positives.push(format!("{} ({}): {}", input.id, v.resource, v.outcome.messages().join("; ")));
                    }
                    verdicts.push(v);
                }
            }
        }
    }
    let ok = false_positives.is_empty();
    let result = TestResult {
        suite: "cases/_corpus".to_string(),
        test: "known-good corpus".to_string(),
        rule: rule.id.clone(),
        resource: format!("{} documents", verdicts.len()),
        expected: "pass".to_string(),
        actual: if ok { "pass" } else { "fail" }.to_string(),
        ok,
        skipped: None,
        messages: false_positives,
    };
    (result, verdicts)
}

/// Run every selected rule of the library over its cases and the corpus, in parallel,
/// calling `on_event` as each rule finishes. Results are in rule order whatever the scheduling.
pub fn run_library(library: &Library, options: &CaseRunOptions, mut on_event: impl FnMut(RunEvent<'_>) + Send) -> RunSummary {
    let mut summary = RunSummary { load_errors: library.errors.clone(), ..Default::default() };
    for e in &library.errors {
        on_event(RunEvent::LoadFailed(e));
    }
    let rules: Vec<&Rule> = library
        .rules
        .iter()
        .filter(|r| options.filter.as_ref().is_none_or(|g| g.is_match(&r.id)))
        .filter(|r| in_partition(&r.id, options.partition))
        .collect();
    let corpus: Vec<(PathBuf, Result<Vec<Input>, LoadError>)> = corpus_files(&library.root)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&library.root).unwrap_or(&p).to_path_buf();
            let loaded = load_fixture(&p, &options.limits).map(|mut inputs| {
                for i in &mut inputs {
                    i.id = format!("{}#{}", rel.display(), i.index);
                }
                inputs
            });
            (rel, loaded)
        })
        .collect();

    let next = Mutex::new(0usize);
    let done: Mutex<Vec<Option<RuleCases>>> = Mutex::new(vec![None; rules.len()]);
    let events = Mutex::new(&mut on_event);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1).min(rules.len().max(1)) {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(rule) = rules.get(i) else { break };
                let mut cases = run_rule_cases(&library.root, rule, &options.limits);
                let (corpus_result, corpus_verdicts) = run_corpus(rule, &corpus);
                cases.results.push(corpus_result);
                cases.verdicts.extend(corpus_verdicts);
                (events.lock().unwrap())(RunEvent::GroupFinished { group: &rule.id, results: &cases.results });
                done.lock().unwrap()[i] = Some(cases);
            });
        }
    });
    for cases in done.into_inner().unwrap().into_iter().flatten() {
        summary.results.extend(cases.results);
        summary.verdicts.extend(cases.verdicts);
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_every_rule_exactly_once() {
        let ids: Vec<String> = (0..200).map(|i| format!("rule-{i}")).collect();
        for m in 1..=5u64 {
            for id in &ids {
                let shards = (1..=m).filter(|n| in_partition(id, Some((*n, m)))).count();
                assert_eq!(shards, 1, "{id} must be in exactly one of {m} shards");
            }
        }
        // Stable: the same id lands in the same shard every time, and shards are not all empty.
        let first: Vec<bool> = ids.iter().map(|id| in_partition(id, Some((1, 3)))).collect();
        assert_eq!(first, ids.iter().map(|id| in_partition(id, Some((1, 3)))).collect::<Vec<_>>());
        assert!(first.iter().filter(|b| **b).count() > 30);
    }

    #[test]
    fn a_case_with_an_error_document_is_an_error_whatever_else_it_holds() {
        use crate::verdict::{Mode, Verdict};
        let input = Input::from_value("c.yaml".into(), 0, None, serde_json::json!({"kind": "Pod"}));
        let verdicts = vec![
            Verdict::new("r", &input, Outcome::fail(vec!["bad".into()]), Mode::Audit),
            Verdict::new("r", &input, Outcome::error("broken"), Mode::Audit),
        ];
        let mut result = TestResult {
            suite: String::new(),
            test: "fail-x.yaml".into(),
            rule: "r".into(),
            resource: String::new(),
            expected: "fail".into(),
            actual: String::new(),
            ok: false,
            skipped: None,
            messages: Vec::new(),
        };
        judge_case(&mut result, Expectation::Fail, &verdicts);
        assert_eq!(result.actual, "error");
        assert!(!result.ok);
        judge_case(&mut result, Expectation::Pass, &verdicts[..1]);
        assert_eq!((result.actual.as_str(), result.ok), ("fail", false));
        let na = [Verdict::new("r", &input, Outcome::not_applicable(), Mode::Audit)];
        judge_case(&mut result, Expectation::Pass, &na);
        assert!(!result.ok, "a pass case the rule does not apply to tests nothing");
    }
}
