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
    /// Compare each rule's verdicts with `snapshots/<rule-id>.snap` (when the project has
    /// `snapshots/`), writing what the mode asks for; `None` skips snapshots.
    pub snapshots: Option<crate::snapshot::UpdateMode>,
    /// What a suite resource that breaks its Kubernetes schema does (`--schema`).
    pub schema: crate::input::schema::SchemaMode,
    /// The registry image cases push to (`--registry`), started only if one is needed.
    pub registry: crate::oci::RegistryChoice,
    /// The one engine gator suites run templates with both engines on (`--gator-engine`).
    pub gator_engine: Option<crate::engine::gatekeeper::TemplateEngine>,
}

impl Default for CaseRunOptions {
    fn default() -> Self {
        CaseRunOptions {
            limits: Limits::default(),
            filter: None,
            partition: None,
            jobs: default_jobs(),
            snapshots: None,
            schema: Default::default(),
            registry: Default::default(),
            gator_engine: None,
        }
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

/// What a rule's case directory holds: the cases, and files that cannot be cases.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaseFiles {
    /// `pass-*` and `fail-*` files of a known input kind, sorted.
    pub cases: Vec<(PathBuf, Expectation)>,
    /// Files that look like neither a case nor a helper, with the reason; never silently ignored.
    pub problems: Vec<(PathBuf, String)>,
}

/// Extensions a case file may have: every input kind verdict reads is YAML or JSON
/// (`.tfplan.json`, `.image.yaml` included).
const CASE_EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// The files of `cases/<rule-id>/`: `pass-*` and `fail-*` are cases, `_*` and hidden
/// files are helpers (`_inventory.yaml`), anything else is a problem to report.
pub fn case_files(root: &Path, rule_id: &str) -> CaseFiles {
    let dir = root.join("cases").join(rule_id);
    let mut found = CaseFiles::default();
    let Ok(entries) = std::fs::read_dir(&dir) else { return found };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            found.problems.push((path, "a directory in a case directory is not a case (prefix helpers with `_`)".into()));
            continue;
        }
        let Some(expectation) = Expectation::from_file_name(&name) else {
            found.problems.push((
                path,
                "not a case: a case file's name starts with `pass-` or `fail-` (prefix helper files with `_`)".into(),
            ));
            continue;
        };
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_string();
        if !CASE_EXTENSIONS.contains(&extension.as_str()) {
            found.problems.push((
                path,
                format!(
                    "unknown input kind `.{extension}`: case files are .yaml, .yml, .json, .tfplan.json or .image.yaml"
                ),
            ));
            continue;
        }
        found.cases.push((path, expectation));
    }
    found.cases.sort();
    found.problems.sort();
    found
}

/// Directories under `cases/` that belong to no rule of the library (a renamed or
/// removed rule left them behind), `_*` directories excepted.
pub fn orphan_case_dirs(root: &Path, rule_ids: &std::collections::BTreeSet<&str>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join("cases")) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.starts_with('_') && !name.starts_with('.') && !rule_ids.contains(name.as_str())
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
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

/// Whether a file is an `*.image.yaml` case.
pub fn is_image_case(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".image.yaml")
}

/// Load a case or corpus file as documents to judge, with ids relative to the project
/// (`rel`). An `*.image.yaml` case is pushed to the run's registry first: its documents
/// are the objects naming the image and the image's verified facts, all carrying the
/// registry. Without a registry an image case is an error saying how to get one.
pub fn load_case(path: &Path, rel: &Path, limits: &Limits, images: Option<&crate::oci::LazyGate>) -> Result<Vec<Input>, LoadError> {
    let mut inputs = if is_image_case(path) {
        load_image_case(path, limits, images)?
    } else {
        load_fixture(path, limits)?
    };
    for input in &mut inputs {
        input.id = format!("{}#{}", rel.display(), input.index);
    }
    Ok(inputs)
}

fn load_image_case(path: &Path, limits: &Limits, images: Option<&crate::oci::LazyGate>) -> Result<Vec<Input>, LoadError> {
    use crate::oci::case;
    let spec = crate::input::load_file(path, limits)?;
    let [doc] = spec.as_slice() else {
        return Err(LoadError::new(path, "an image case holds exactly one document"));
    };
    let case = case::parse(&doc.value).map_err(|e| LoadError::new(path, format!("not an image case: {e}")))?;
    let images = images.ok_or_else(|| LoadError::new(path, "image cases need a registry, and this command has none"))?;
    let gate = images.get().map_err(|e| LoadError::new(path, format!("image cases need a registry: {e}")))?;
    let scope = crate::oci::sha256(path.to_string_lossy().as_bytes())[7..19].to_string();
    let gate = std::sync::Arc::new(gate.scoped(&scope));
    let pushed = case::materialise(&gate, path, &case).map_err(|e| LoadError::new(path, format!("pushing the image to {}: {e}", gate.registry().host)))?;
    let mut inputs = Vec::new();
    for (index, object) in pushed.objects.into_iter().enumerate() {
        let mut input = Input::from_value(path.to_path_buf(), index, None, object);
        if input.kind == InputKind::Manifest {
            crate::input::schema::validate_manifest(&input)?;
        }
        input.images = Some(gate.clone());
        inputs.push(input);
    }
    let mut facts = Input::from_value(path.to_path_buf(), inputs.len(), None, gate.facts(&pushed.reference));
    facts.images = Some(gate.clone());
    inputs.push(facts);
    Ok(inputs)
}

/// The verdicts and checked expectations of one rule's cases.
#[derive(Debug, Default, Clone)]
pub struct RuleCases {
    pub results: Vec<TestResult>,
    pub verdicts: Vec<Verdict>,
}

/// Evaluate every case of one rule. Never fails: problems become `error` results.
pub fn run_rule_cases(root: &Path, rule: &Rule, limits: &Limits, images: Option<&crate::oci::LazyGate>) -> RuleCases {
    let mut out = RuleCases::default();
    let suite = format!("cases/{}", rule.id);
    let CaseFiles { cases, problems } = case_files(root, &rule.id);
    for missing in [Expectation::Pass, Expectation::Fail] {
        if !cases.iter().any(|(_, x)| *x == missing) {
            out.results.push(TestResult {
                suite: suite.clone(),
                test: format!("{}-*", missing.name()),
                rule: rule.id.clone(),
                expected: missing.name().to_string(),
                actual: "error".to_string(),
                messages: vec![format!("untested: rule has no {}-* case in {suite}/", missing.name())],
                file: Some(root.join(&rule.path)),
                ..TestResult::default()
            });
        }
    }
    for (path, reason) in problems {
        let test = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        out.results.push(TestResult {
            suite: suite.clone(),
            expected: Expectation::from_file_name(&test).map(|x| x.name()).unwrap_or("case").to_string(),
            test,
            rule: rule.id.clone(),
            actual: "error".to_string(),
            messages: vec![format!("{}: {reason}", path.strip_prefix(root).unwrap_or(&path).display())],
            file: Some(path),
            ..TestResult::default()
        });
    }
    for (path, expectation) in cases {
        let test = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let mut result = TestResult {
            suite: suite.clone(),
            test,
            rule: rule.id.clone(),
            expected: expectation.name().to_string(),
            file: Some(path.clone()),
            ..TestResult::default()
        };
        match load_case(&path, &rel, limits, images) {
            Err(e) => {
                result.actual = "error".to_string();
                result.messages = vec![LoadError { path: rel, ..e }.to_string()];
            }
            Ok(inputs) => {
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
    } else if verdicts.iter().any(|v| v.waiver.is_none() && matches!(v.outcome, Outcome::Fail { .. } | Outcome::Warn { .. })) {
        "fail"
    } else if verdicts.iter().any(|v| v.waiver.is_some()) {
        // Every failure is covered by a waiver: reported as waived, never as a pass.
        "waived"
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
    // A waived failure still shows the rule failing the case.
    result.ok = actual == expectation.name() || (actual == "waived" && expectation == Expectation::Fail);
    result.resource = verdicts.iter().map(|v| v.resource.as_str()).collect::<Vec<_>>().join(", ");
    result.messages = verdicts
        .iter()
        .flat_map(|v| {
            let waiver = v.waiver.as_ref().map(|w| format!("waived by {w}"));
            waiver.into_iter().chain(v.outcome.messages())
        })
        .collect();
    if actual == "not-applicable" || actual == "empty" {
        result.messages.push(format!("the rule did not apply to any document of this {} case", expectation.name()));
    }
    if actual == "skip" {
        // Skipped is neither passed nor failed: it shows as skipped, and promote refuses it.
        result.skipped = Some(result.messages.join("; "));
    }
}

/// Every rule must pass every known-good corpus document: one result per rule.
pub fn run_corpus(rule: &Rule, corpus: &[(PathBuf, Result<Vec<Input>, LoadError>)]) -> (TestResult, Vec<Verdict>) {
    let mut false_positives = Vec::new();
    let mut waived = Vec::new();
    let mut verdicts = Vec::new();
    let mut first: Option<(PathBuf, Option<usize>)> = None;
    for (rel, loaded) in corpus {
        match loaded {
            Err(e) => {
                first.get_or_insert_with(|| (e.path.clone(), e.line));
                false_positives.push(LoadError { path: rel.clone(), ..e.clone() }.to_string());
            }
            Ok(inputs) => {
                for input in inputs {
                    let v = rule.evaluate(input);
                    if let Some(waiver) = &v.waiver {
                        waived.push(format!("waived by {waiver}: {} ({}): {}", input.id, v.resource, v.outcome.messages().join("; ")));
                    } else if v.outcome.blocks() || matches!(v.outcome, Outcome::Warn { .. }) {
                        first.get_or_insert_with(|| (input.path.clone(), input.line));
                        false_positives.push(format!("{} ({}): {}", input.id, v.resource, v.outcome.messages().join("; ")));
                    }
                    verdicts.push(v);
                }
            }
        }
    }
    let ok = false_positives.is_empty();
    // A waived failure is not a false positive, nor a pass: it is reported as waived.
    let all_waived = ok && !waived.is_empty();
    false_positives.extend(waived);
    // No corpus is no evidence: skipped, never a vacuous pass.
    let skipped = corpus.is_empty().then(|| "no known-good corpus: add realistic inputs under cases/_corpus/".to_string());
    let result = TestResult {
        suite: "cases/_corpus".to_string(),
        test: "known-good corpus".to_string(),
        case: None,
        rule: rule.id.clone(),
        resource: format!("{} documents", verdicts.len()),
        expected: "pass".to_string(),
        actual: if skipped.is_some() {
            "skip"
        } else if all_waived {
            "waived"
        } else if ok {
            "pass"
        } else {
            "fail"
        }
        .to_string(),
        ok: ok && skipped.is_none(),
        skipped,
        messages: false_positives,
        file: first.as_ref().map(|(p, _)| p.clone()),
        line: first.and_then(|(_, l)| l),
    };
    (result, verdicts)
}

/// Run every selected rule of the library over its cases and the corpus (and its
/// snapshot), in parallel, calling `on_event` as each rule finishes. Results are in rule
/// order whatever the scheduling. Case directories and snapshots that belong to no
/// rule are reported too, so a renamed or removed rule cannot leave checks behind.
pub fn run_library(library: &Library, options: &CaseRunOptions, mut on_event: impl FnMut(RunEvent<'_>) + Send) -> RunSummary {
    let root = absolute(&library.root);
    let mut summary = RunSummary { load_errors: library.errors.iter().map(|e| anchor_error(&root, e)).collect(), ..Default::default() };
    for e in &summary.load_errors {
        on_event(RunEvent::LoadFailed(e));
    }
    let rules: Vec<&Rule> = library
        .rules
        .iter()
        .filter(|r| options.filter.as_ref().is_none_or(|g| g.is_match(&r.id)))
        .filter(|r| in_partition(&r.id, options.partition))
        .collect();
    summary.searched.push(describe_selection(&root, library, rules.len(), options));
    let images = crate::oci::LazyGate::new(options.registry.clone(), root.join("policies/keys"));
    let corpus: Vec<(PathBuf, Result<Vec<Input>, LoadError>)> = corpus_files(&root)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap_or(&p).to_path_buf();
            let loaded = load_case(&p, &rel, &options.limits, Some(&images));
            (rel, loaded)
        })
        .collect();
    let snapshots = root.join("snapshots");
    let snapshot_mode = options.snapshots.filter(|_| snapshots.is_dir());
    if options.snapshots.is_some() && snapshot_mode.is_none() {
        summary.warnings.push(format!(
            "{}: no snapshots/ directory, so verdicts are not compared with accepted snapshots (create it to start)",
            root.display()
        ));
    }

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
                let mut cases = run_rule_cases(&root, rule, &options.limits, Some(&images));
                if let Some(mode) = snapshot_mode {
                    let snapshot = snapshot_result(&snapshots, rule, &cases, mode);
                    cases.results.push(snapshot);
                }
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
    super::paths::run_library_unit_tests(&root, options, &mut on_event, &mut summary);

    // Leftovers of renamed or removed rules. Under a filter they are out of scope;
    // under a partition each lands in the shard its id hashes to.
    if options.filter.is_none() {
        let mut ids: std::collections::BTreeSet<&str> = library.rules.iter().map(|r| r.id.as_str()).collect();
        // A rule that failed to load still owns its cases and snapshot.
        let stems: Vec<String> = library.errors.iter().filter_map(|e| file_stem_id(&e.path)).collect();
        ids.extend(stems.iter().map(String::as_str));
        let mut leftovers = Vec::new();
        for dir in orphan_case_dirs(&root, &ids) {
            let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if in_partition(&id, options.partition) {
                leftovers.push(leftover(&root, &dir, &id, "cases for a rule that does not exist (renamed or removed?)"));
            }
        }
        if let Some(mode) = snapshot_mode {
            for file in crate::snapshot::orphans(&snapshots, ids.iter().copied()).unwrap_or_default() {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let id = name.split('.').next().unwrap_or_default().to_string();
                if !in_partition(&id, options.partition) {
                    continue;
                }
                if mode == crate::snapshot::UpdateMode::Always && std::fs::remove_file(&file).is_ok() {
                    summary.warnings.push(format!("removed {}: it belongs to no rule", file.display()));
                    continue;
                }
                leftovers.push(leftover(&root, &file, &id, "snapshot of a rule that does not exist: delete it (or INSTA_UPDATE=always removes it)"));
            }
        }
        if !leftovers.is_empty() {
            on_event(RunEvent::GroupFinished { group: "leftovers", results: &leftovers });
            summary.results.extend(leftovers);
        }
    }
    let (results, warnings) = waiver_checks(&root, library, &summary.verdicts, options);
    if !results.is_empty() {
        on_event(RunEvent::GroupFinished { group: "waivers", results: &results });
        summary.results.extend(results);
    }
    summary.warnings.extend(warnings);
    summary
}

/// `policies/waivers.yaml` judged with the run: an expired waiver, or one naming no
/// rule, fails it (a result row each); one expiring soon, or one that covered nothing
/// in this run (stale), warns.
fn waiver_checks(root: &Path, library: &Library, verdicts: &[Verdict], options: &CaseRunOptions) -> (Vec<TestResult>, Vec<String>) {
    use crate::lifecycle::WaiverStatus;
    let today = crate::lifecycle::today();
    let file = root.join("policies/waivers.yaml");
    let mut results = Vec::new();
    let mut warnings = Vec::new();
    for w in &library.waivers {
        let selected = options.filter.as_ref().is_none_or(|g| g.is_match(&w.rule)) && in_partition(&w.rule, options.partition);
        if !selected {
            continue;
        }
        let label = w.label();
        let row = |actual: &str, message: String| TestResult {
            suite: "policies/waivers.yaml".into(),
            test: label.clone(),
            rule: w.rule.clone(),
            expected: "in force".into(),
            actual: actual.into(),
            messages: vec![message],
            file: Some(file.clone()),
            ..TestResult::default()
        };
        if library.rule(&w.rule).is_none() {
            results.push(row("error", format!("waiver {label} names no rule of the library")));
            continue;
        }
        match w.status(today) {
            WaiverStatus::Expired { days_ago } => {
                results.push(row("expired", format!("waiver {label} (owner {}) expired {days_ago} day(s) ago on {}: renew it or remove it", w.owner, w.expires)));
                continue;
            }
            WaiverStatus::Expiring { days_left } => {
                warnings.push(format!("waiver {label} (owner {}) expires in {days_left} day(s), on {}", w.owner, w.expires))
            }
            WaiverStatus::Active { .. } => {}
        }
        if !verdicts.iter().any(|v| v.waiver.as_deref() == Some(label.as_str())) {
            warnings.push(format!("waiver {label} is stale: it covered no failure in this run"));
        }
    }
    (results, warnings)
}

/// The snapshot check of one rule as a result row: `snapshots/<id>.snap` must hold its verdicts.
fn snapshot_result(snapshots: &Path, rule: &Rule, cases: &RuleCases, mode: crate::snapshot::UpdateMode) -> TestResult {
    use crate::snapshot::SnapshotStatus;
    let rows = crate::snapshot::rows(&rule.id, &cases.results, &cases.verdicts);
    let input_file = rule.path.display().to_string();
    let mut result = TestResult {
        suite: "snapshots".to_string(),
        test: format!("{}.snap", rule.id),
        rule: rule.id.clone(),
        expected: "accepted".to_string(),
        file: Some(crate::snapshot::accepted_path(snapshots, &rule.id)),
        ..TestResult::default()
    };
    let check = match crate::snapshot::check(snapshots, &rule.id, &input_file, &rows, mode) {
        Ok(check) => check,
        Err(e) => {
            result.actual = "error".into();
            result.messages = vec![format!("snapshots/{}.snap: {e}", rule.id)];
            return result;
        }
    };
    result.ok = check.status.ok();
    let pending_note = |pending: &Option<PathBuf>| match pending {
        Some(p) => format!(
            "; wrote {}: review it with `cargo insta review`, or accept with `verdict accept {}`",
            p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            rule.id
        ),
        None => "; nothing written (CI or INSTA_UPDATE=no): run locally to write a .snap.new".to_string(),
    };
    match &check.status {
        SnapshotStatus::Matches => result.actual = "accepted".into(),
        SnapshotStatus::Accepted => {
            result.actual = "accepted".into();
            result.messages = vec![format!("snapshot updated (INSTA_UPDATE): snapshots/{}.snap", rule.id)];
        }
        SnapshotStatus::Missing { pending } => {
            result.actual = "missing".into();
            result.file = Some(root_policy(snapshots, rule));
            result.messages = vec![format!("no accepted snapshot for rule {}{}", rule.id, pending_note(pending)), check.diff];
        }
        SnapshotStatus::Changed { pending } => {
            result.actual = "changed".into();
            result.messages = vec![format!("verdicts differ from the accepted snapshot{}", pending_note(pending)), check.diff];
        }
    }
    result
}

/// The rule's policy file, from the snapshots directory's project.
fn root_policy(snapshots: &Path, rule: &Rule) -> PathBuf {
    snapshots.parent().unwrap_or(snapshots).join(&rule.path)
}

fn leftover(root: &Path, path: &Path, id: &str, reason: &str) -> TestResult {
    let rel = path.strip_prefix(root).unwrap_or(path);
    TestResult {
        suite: rel.parent().map(|p| p.display().to_string()).unwrap_or_default(),
        test: rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        rule: id.to_string(),
        expected: "rule".into(),
        actual: "error".into(),
        messages: vec![format!("{}: {reason}", rel.display())],
        file: first_file(path),
        ..TestResult::default()
    }
}

/// A file to point annotations at: `path` itself, or the first file in it when it is a directory.
fn first_file(path: &Path) -> Option<PathBuf> {
    if !path.is_dir() {
        return Some(path.to_path_buf());
    }
    walkdir::WalkDir::new(path).sort_by_file_name().into_iter().filter_map(Result::ok).find(|e| e.file_type().is_file()).map(|e| e.into_path())
}

/// The rule id a policy file would define: its stem before the first dot.
fn file_stem_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    Some(name.split('.').next()?.to_string()).filter(|s| !s.is_empty())
}

/// What was searched, for the message of a run that checked nothing.
fn describe_selection(root: &Path, library: &Library, selected: usize, options: &CaseRunOptions) -> String {
    let mut text = format!("library {} ({} rules", root.join("policies").display(), library.rules.len());
    if let Some(filter) = &options.filter {
        text.push_str(&format!(", {} matching --filter {:?}", library.rules.iter().filter(|r| filter.is_match(&r.id)).count(), filter.glob().glob()));
    }
    if let Some((n, m)) = options.partition {
        text.push_str(&format!(", {selected} in partition hash:{n}/{m}"));
    }
    text.push(')');
    text
}

/// `path` made absolute against the working directory, `.` and `..` resolved lexically.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A library load error whose path is relative to the project root, made absolute.
fn anchor_error(root: &Path, e: &LoadError) -> LoadError {
    let path = if e.path.is_relative() && root.join(&e.path).exists() { root.join(&e.path) } else { absolute(&e.path) };
    LoadError { path, ..e.clone() }
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
        let mut result = TestResult { test: "fail-x.yaml".into(), rule: "r".into(), expected: "fail".into(), ..TestResult::default() };
        judge_case(&mut result, Expectation::Fail, &verdicts);
        assert_eq!(result.actual, "error");
        assert!(!result.ok);
        judge_case(&mut result, Expectation::Pass, &verdicts[..1]);
        assert_eq!((result.actual.as_str(), result.ok), ("fail", false));
        let na = [Verdict::new("r", &input, Outcome::not_applicable(), Mode::Audit)];
        judge_case(&mut result, Expectation::Pass, &na);
        assert!(!result.ok, "a pass case the rule does not apply to tests nothing");
        let skipped = [Verdict::new("r", &input, Outcome::skip("no registry"), Mode::Audit)];
        judge_case(&mut result, Expectation::Pass, &skipped);
        assert_eq!((result.actual.as_str(), result.ok, result.skipped.as_deref()), ("skip", false, Some("no registry")));
    }
}
