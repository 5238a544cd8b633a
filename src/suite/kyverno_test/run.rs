//! Checking the rows of a loaded test: pick the resources each row names,
//! apply the policy to each with verdict's Kyverno engine, and compare the
//! rule's result with the expectation.
//!
//! Kyverno's `kyverno test` semantics, kept: a row's rule also matches the
//! responses of its `autogen-` and `autogen-cronjob-` rules; a resource name
//! (`name` or `namespace/name`) selects every loaded resource with that name;
//! a rule that does not match the resource is "excluded" and counts as a
//! pass. Stricter than Kyverno: a policy, rule or resource a row names that
//! does not exist is an `error`, an excluded resource fails a `fail`/`warn`/
//! `error` expectation, an invalid policy is an `error` (Kyverno skips it),
//! and a rule that matches none of the suite's resources is flagged.
//!
//! ValidatingPolicy and ValidatingAdmissionPolicy rows follow Kyverno's CLI for
//! those kinds (see `check_vpol_row`, `check_vap_row`).

use super::load::{load_tests, locate_document, LoadedTest, PolicyDoc, ResourceDoc};
use super::model::ResultRow;
use crate::engine::kyverno::engine::{
    apply_policy_with_rule_values, ResourceContext, RuleResponse,
};
use crate::engine::kyverno::policy::{ContextEntry, ContextSource, ForEach, Policy, RuleKind};
use crate::engine::kyverno::vpol::{self, CelPolicyException, ValidatingPolicy, VpolInput};
use crate::engine::vap::{self, CliRequest, CliResult, KyvernoCliVap};
use crate::error::LoadError;
use crate::limits::Limits;
use crate::input::schema::SchemaMode;
use crate::runner::TestResult;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

/// The results of one `kyverno-test.yaml`.
#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    /// One result per resource of each row (one per row when no resource could be selected).
    pub results: Vec<TestResult>,
    /// Things worth a look that do not fail a result: rules matching no resource,
    /// duplicates, deprecated schemas. They name the test and any other file
    /// concerned, not the suite file itself, which the caller knows.
    pub warnings: Vec<String>,
    /// Which results belong to which row, for per-row summaries.
    pub rows: Vec<RowSpan>,
}

/// The results of one row of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSpan {
    pub test: String,
    /// 0-based position of the row in the test's `results`.
    pub index: usize,
    /// Indexes into [`SuiteReport::results`].
    pub results: Range<usize>,
}

/// Load one `kyverno-test.yaml` and check every row of every `Test` in it.
///
/// A file that cannot be loaded (bad YAML, a missing policy or resource file)
/// is a [`LoadError`] naming it; everything after loading becomes results.
///
/// ```no_run
/// use std::path::Path;
/// use verdict::suite::kyverno_test::{discover, run_suite};
/// for file in discover(Path::new("policies")) {
///     let report = run_suite(&file).expect("suite loads");
///     assert!(report.results.iter().all(|r| r.ok || r.skipped.is_some()));
/// }
/// ```
pub fn run_suite(path: &Path) -> Result<SuiteReport, LoadError> {
    run_suite_with_limits(path, &Limits::default())
}

/// [`run_suite`] with explicit bounds on what is read (resources checked strictly).
pub fn run_suite_with_limits(path: &Path, limits: &Limits) -> Result<SuiteReport, LoadError> {
    run_suite_with_options(path, limits, SchemaMode::Strict)
}

/// [`run_suite`] with explicit bounds, and what a resource that breaks its
/// Kubernetes schema does: an error for each result that uses it, a warning, or nothing.
pub fn run_suite_with_options(path: &Path, limits: &Limits, schema: SchemaMode) -> Result<SuiteReport, LoadError> {
    let tests = load_tests(path, limits)?;
    let mut report = SuiteReport::default();
    for test in &tests {
        if schema == SchemaMode::Warn {
            report.warnings.extend(test.resources.iter().filter_map(|r| r.schema_problem.clone()));
        }
        run_test(test, schema, limits, &mut report);
    }
    Ok(report)
}

const EXPECTED_VALUES: [&str; 5] = ["pass", "fail", "skip", "warn", "error"];

/// Check every row of one loaded test, appending to `report`.
fn run_test(test: &LoadedTest, schema: SchemaMode, limits: &Limits, report: &mut SuiteReport) {
    report.warnings.extend(test.warnings.iter().cloned());
    let compiled: Vec<Option<Result<Compiled, String>>> = test
        .policies
        .iter()
        .map(|doc| {
            if doc.is_validating_policy() {
                // Exceptions attach by `policyRefs` name and kind, as Kyverno's vpol provider attaches them.
                let exceptions: Vec<CelPolicyException> =
                    test.cel_exceptions.iter().filter(|e| e.refers_to(&doc.name, &doc.kind)).cloned().collect();
                return Some(ValidatingPolicy::from_value(&doc.value).map(|p| Compiled::Vpol(Box::new(p), exceptions)));
            }
            if doc.kind == vap::POLICY_KIND {
                // Bindings attach by `spec.policyName`, from any policy file of the test.
                let bindings: Vec<&Value> = test
                    .policies
                    .iter()
                    .filter(|b| b.kind == vap::BINDING_KIND && b.value["spec"]["policyName"].as_str() == Some(doc.name.as_str()))
                    .map(|b| &b.value)
                    .collect();
                return Some(KyvernoCliVap::compile(&doc.value, &bindings).map(|p| Compiled::Vap(Box::new(p))));
            }
            doc.is_kyverno_policy().then(|| {
                // Read strictly, as for library rules: a misspelt field makes every row of the policy an error.
                if let Err(e) = crate::engine::kyverno::check_policy(&doc.value, &doc.source, None, None) {
                    // Read the file again only now, to name the field's line.
                    let (text, line) = locate_document(&doc.source, &doc.value, limits);
                    let located = crate::engine::kyverno::check_policy(&doc.value, &doc.source, text.as_deref(), line);
                    return Err(located.err().unwrap_or(e).to_string());
                }
                Policy::from_value(&doc.value).map(Compiled::Kyverno)
            })
        })
        .collect();
    for binding in test.policies.iter().filter(|b| b.kind == vap::BINDING_KIND) {
        let target = binding.value["spec"]["policyName"].as_str().unwrap_or("");
        if !test.policies.iter().any(|p| p.kind == vap::POLICY_KIND && p.name == target) {
            report.warnings.push(format!(
                "test `{}`: binding {} ({}) names ValidatingAdmissionPolicy `{target}`, which the test does not load: it binds nothing",
                test.name,
                binding.name,
                binding.source.display()
            ));
        }
    }
    let mut runner = TestRun {
        test,
        schema,
        compiled: &compiled,
        cache: HashMap::new(),
    };
    // (policy index, rule) → whether any selected resource got a reported response.
    let mut rule_matched: HashMap<(usize, String), bool> = HashMap::new();
    let mut rule_results: HashMap<(usize, String), Vec<usize>> = HashMap::new();

    for (index, row) in test.file.results.iter().enumerate() {
        let start = report.results.len();
        let outcome = runner.check_row(row);
        report.warnings.extend(
            outcome
                .warnings
                .iter()
                .map(|w| format!("test `{}`: {w}", test.name)),
        );
        for item in outcome.items {
            let mut result = TestResult {
                suite: test.path.display().to_string(),
                test: test.name.clone(),
                case: None,
                rule: format!(
                    "{}/{}",
                    row.policy,
                    if row.rule.is_empty() { "*" } else { &row.rule }
                ),
                resource: item.resource,
                expected: row.expected().unwrap_or("").to_string(),
                actual: item.actual,
                ok: item.ok,
                skipped: item.skipped,
                messages: item.messages,
                file: Some(test.path.clone()),
                line: None,
            };
            if result.skipped.is_some() {
                result.ok = false;
            }
            if let Some(key) = &outcome.rule_key {
                rule_results
                    .entry(key.clone())
                    .or_default()
                    .push(report.results.len());
                let matched = rule_matched.entry(key.clone()).or_insert(false);
                *matched |= item.reported;
            }
            report.results.push(result);
        }
        report.rows.push(RowSpan {
            test: test.name.clone(),
            index,
            results: start..report.results.len(),
        });
    }

    let mut unmatched: Vec<_> = rule_matched
        .into_iter()
        .filter(|(_, matched)| !matched)
        .map(|(key, _)| key)
        .collect();
    unmatched.sort();
    for key in unmatched {
        let (policy, rule) = (&test.policies[key.0].name, &key.1);
        let note = format!(
            "rule {policy}/{rule} matched none of the suite's resources: its rows check nothing"
        );
        for &i in rule_results.get(&key).into_iter().flatten() {
            report.results[i].messages.push(note.clone());
        }
        report
            .warnings
            .push(format!("test `{}`: {note}", test.name));
    }
}

/// What one row produced for one resource (or for the row as a whole).
struct Item {
    resource: String,
    actual: String,
    ok: bool,
    skipped: Option<String>,
    messages: Vec<String>,
    /// Whether the engine reported a response for the row's rule.
    reported: bool,
}

impl Item {
    fn error(resource: impl Into<String>, message: impl Into<String>) -> Item {
        Item {
            resource: resource.into(),
            actual: "error".into(),
            ok: false,
            skipped: None,
            messages: vec![message.into()],
            reported: false,
        }
    }

    fn skipped(resource: impl Into<String>, reason: impl Into<String>) -> Item {
        Item {
            resource: resource.into(),
            actual: String::new(),
            ok: false,
            skipped: Some(reason.into()),
            messages: Vec::new(),
            reported: false,
        }
    }
}

struct RowOutcome {
    items: Vec<Item>,
    /// The checked rule, for the "matched nothing" check; `None` when the row never reached the engine.
    rule_key: Option<(usize, String)>,
    warnings: Vec<String>,
}

/// A policy of the test, compiled for its engine.
enum Compiled {
    Kyverno(Policy),
    /// With the CEL PolicyExceptions that refer to it.
    Vpol(Box<ValidatingPolicy>, Vec<CelPolicyException>),
    Vap(Box<KyvernoCliVap>),
}

struct TestRun<'a> {
    test: &'a LoadedTest,
    schema: SchemaMode,
    compiled: &'a [Option<Result<Compiled, String>>],
    cache: HashMap<(usize, usize, String), Result<Vec<RuleResponse>, String>>,
}

impl TestRun<'_> {
    fn check_row(&mut self, row: &ResultRow) -> RowOutcome {
        let test = self.test;
        let named = row.resource_names();
        let label_all = || -> Vec<String> {
            if named.is_empty() {
                vec!["*".to_string()]
            } else {
                named.iter().map(|n| n.to_string()).collect()
            }
        };
        let whole_row = |items: Vec<Item>| RowOutcome {
            items,
            rule_key: None,
            warnings: Vec::new(),
        };

        let expected = match row.expected() {
            Some(e) if EXPECTED_VALUES.contains(&e) => e,
            Some(e) => {
                return whole_row(
                    label_all()
                        .into_iter()
                        .map(|r| Item::error(r, format!("unknown expected result `{e}`")))
                        .collect(),
                )
            }
            None => {
                return whole_row(
                    label_all()
                        .into_iter()
                        .map(|r| Item::error(r, "the row has no `result`"))
                        .collect(),
                )
            }
        };
        if let Some(reason) = test.unsupported.clone().or_else(|| row.unsupported()) {
            return whole_row(
                label_all()
                    .into_iter()
                    .map(|r| Item::skipped(r, reason.clone()))
                    .collect(),
            );
        }
        let (policy_ns, policy_name) = row.policy_ref();
        let Some(policy_index) = find_policy(&test.policies, policy_ns, policy_name) else {
            let message = format!("policy `{}` is not among the test's policies", row.policy);
            return whole_row(
                label_all()
                    .into_iter()
                    .map(|r| Item::error(r, message.clone()))
                    .collect(),
            );
        };
        let doc = &test.policies[policy_index];
        let policy = match &self.compiled[policy_index] {
            None => {
                let reason = format!("{} policies are not evaluated by verdict", doc.kind);
                return whole_row(
                    label_all()
                        .into_iter()
                        .map(|r| Item::skipped(r, reason.clone()))
                        .collect(),
                );
            }
            Some(Err(e)) => {
                let message = format!(
                    "policy `{}` ({}) is invalid: {e}",
                    doc.name,
                    doc.source.display()
                );
                return whole_row(
                    label_all()
                        .into_iter()
                        .map(|r| Item::error(r, message.clone()))
                        .collect(),
                );
            }
            Some(Ok(Compiled::Vpol(policy, exceptions))) => {
                return self.check_vpol_row(row, doc, policy, exceptions, expected)
            }
            Some(Ok(Compiled::Vap(policy))) => return self.check_vap_row(row, doc, policy, expected),
            Some(Ok(Compiled::Kyverno(policy))) => policy,
        };
        let base_rule = base_rule_name(&row.rule);
        if !row.rule.is_empty() && !doc.rule_names().contains(&base_rule) {
            let message = format!("rule `{}` is not a rule of policy `{}`", row.rule, doc.name);
            return whole_row(
                label_all()
                    .into_iter()
                    .map(|r| Item::error(r, message.clone()))
                    .collect(),
            );
        }
        // Keyed by the rule as the row names it: a row naming `autogen-cronjob-x` checks only that generated rule.
        let rule_key = Some((policy_index, row.rule.clone()));
        let rules: Vec<_> = policy
            .rules
            .iter()
            .filter(|r| row.rule.is_empty() || r.name == base_rule)
            .collect();
        if let Some(reason) = rules.iter().find_map(|rule| rule_unsupported(&rule.kind)) {
            return whole_row(
                label_all()
                    .into_iter()
                    .map(|r| Item::skipped(r, reason.clone()))
                    .collect(),
            );
        }
        let operation = match row.operation.as_deref() {
            None | Some("") => None,
            Some(op @ ("CREATE" | "UPDATE" | "DELETE")) => Some(op),
            Some(other) => {
                let message =
                    format!("unknown operation `{other}` (want CREATE, UPDATE or DELETE)");
                return whole_row(
                    label_all()
                        .into_iter()
                        .map(|r| Item::error(r, message.clone()))
                        .collect(),
                );
            }
        };

        let (mut items, selected, warnings) = self.select(row);

        for resource_index in selected {
            let resource = &test.resources[resource_index];
            let label = resource.label();
            if let (SchemaMode::Strict, Some(problem)) = (self.schema, &resource.schema_problem) {
                items.push(Item::error(label, problem.clone()));
                continue;
            }
            let ctx = self.context_for(doc, resource, operation);
            let rule_values = self.rule_values(doc);
            if let Some(reason) = self.needs_cluster(&rules, doc, &ctx.values, &rule_values) {
                items.push(Item::skipped(label, reason));
                continue;
            }
            if let Some(reason) = self.subresource(resource) {
                items.push(Item::skipped(label, reason));
                continue;
            }
            let key = (policy_index, resource_index, ctx.operation.clone());
            let responses = self
                .cache
                .entry(key)
                .or_insert_with(|| evaluate(policy, &ctx, &rule_values))
                .clone();
            items.push(match responses {
                Err(e) => Item::error(label, e),
                Ok(responses) => judge(label, expected, &row.rule, &responses, scored(policy)),
            });
        }
        RowOutcome {
            items,
            rule_key,
            warnings,
        }
    }

    /// The resources a row names (every resource when it names none), with an
    /// error item for each name that selects nothing, and warnings.
    fn select(&self, row: &ResultRow) -> (Vec<Item>, Vec<usize>, Vec<String>) {
        let test = self.test;
        let named = row.resource_names();
        let mut items = Vec::new();
        let mut selected = Vec::new();
        for name in &named {
            let found = select_resources(&test.resources, name, &row.kind);
            if found.is_empty() {
                items.push(Item::error(
                    *name,
                    missing_resource_message(&test.resources, name, &row.kind),
                ));
            }
            selected.extend(found);
        }
        for spec in &row.resource_specs {
            let found: Vec<usize> = (0..test.resources.len())
                .filter(|&i| {
                    let r = &test.resources[i];
                    let api = if spec.group.is_empty() {
                        spec.version.clone()
                    } else {
                        format!("{}/{}", spec.group, spec.version)
                    };
                    r.api_version == api
                        && r.namespace == spec.namespace
                        && r.name == spec.name
                        && (spec.kind.is_empty() || r.kind == spec.kind)
                })
                .collect();
            if found.is_empty() {
                items.push(Item::error(
                    &spec.name,
                    format!(
                        "no resource matches resourceSpec {}/{} {}/{}",
                        spec.group, spec.version, spec.namespace, spec.name
                    ),
                ));
            }
            selected.extend(found);
        }
        if named.is_empty() && row.resource_specs.is_empty() {
            selected = (0..test.resources.len())
                .filter(|&i| row.kind.is_empty() || test.resources[i].kind == row.kind)
                .collect();
            if selected.is_empty() {
                items.push(Item::error(
                    "*",
                    "the row names no resource and the test has none to check",
                ));
            }
        }
        // A resource named twice is checked twice, as `kyverno test` does; it is worth a warning.
        let mut seen = BTreeSet::new();
        let mut warnings = Vec::new();
        for name in &named {
            if !seen.insert(*name) {
                warnings.push(format!(
                    "row for {}/{} lists resource `{name}` more than once",
                    row.policy, row.rule
                ));
            }
        }
        (items, selected, warnings)
    }

    /// A row naming a ValidatingPolicy or NamespacedValidatingPolicy: `rule`
    /// is ignored (Kyverno reports vpol results under no rule name), the
    /// request is always CREATE, and a namespaced policy judges resources of
    /// any namespace (Kyverno's CLI filters by no namespace).
    fn check_vpol_row(
        &self,
        row: &ResultRow,
        doc: &PolicyDoc,
        policy: &ValidatingPolicy,
        exceptions: &[CelPolicyException],
        expected: &str,
    ) -> RowOutcome {
        let (mut items, selected, mut warnings) = self.select(row);
        if !row.rule.is_empty() && !row.is_validating_policy {
            warnings.push(format!(
                "row for {} names rule `{}`, but a ValidatingPolicy has no rules; kyverno test then finds no result unless isValidatingPolicy is set",
                row.policy, row.rule
            ));
        }
        for resource_index in selected {
            let resource = &self.test.resources[resource_index];
            let label = resource.label();
            if let (SchemaMode::Strict, Some(problem)) = (self.schema, &resource.schema_problem) {
                items.push(Item::error(label, problem.clone()));
                continue;
            }
            let namespace = self.namespace_object(&resource.namespace);
            let user = self.test.user_info.as_ref().and_then(|u| u.user_info.as_ref());
            let input = VpolInput {
                object: &resource.value,
                numbers: crate::engine::cel::Numbers::KyvernoCli,
                namespace: namespace.as_ref(),
                user_info: user,
                context: self.test.context.clone(),
                exceptions,
                any_namespace: true,
                ..Default::default()
            };
            if let Some(own) = policy.namespace.as_deref().filter(|own| *own != resource.namespace) {
                warnings.push(format!(
                    "{label}: outside NamespacedValidatingPolicy `{own}/{}`'s namespace; kyverno test judges it, Kyverno's webhook would not",
                    policy.name
                ));
            }
            let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vpol::evaluate(policy, &input)));
            items.push(match evaluated {
                Err(_) => Item::error(label, format!("the ValidatingPolicy engine panicked on policy `{}`", doc.name)),
                Ok(None) => Item {
                    resource: label,
                    actual: "not found".into(),
                    ok: false,
                    skipped: None,
                    messages: vec![format!(
                        "the policy's matchConstraints do not select the resource: kyverno test reports no result (\"Not found\"), a failure whatever the row expects"
                    )],
                    reported: false,
                },
                // Kyverno names an excepted result `exception`: a row without
                // isValidatingPolicy looks it up by its `rule` and finds it only under that name.
                Ok(Some(result))
                    if !result.excepted_by.is_empty() && !row.is_validating_policy && row.rule != "exception" =>
                {
                    Item {
                        resource: label,
                        actual: "not found".into(),
                        ok: false,
                        skipped: None,
                        messages: vec![format!(
                            "{}; kyverno test names this result `exception`, which a row without isValidatingPolicy finds only with rule `exception`",
                            result.message
                        )],
                        reported: false,
                    }
                }
                Ok(Some(result)) => Item {
                    resource: label,
                    actual: result.status.as_str().to_string(),
                    ok: result.status.as_str() == expected,
                    skipped: None,
                    messages: vec![result.message],
                    reported: true,
                },
            });
        }
        RowOutcome {
            items,
            rule_key: None,
            warnings,
        }
    }

    /// A row naming a ValidatingAdmissionPolicy, judged as `kyverno test`
    /// judges it ([`KyvernoCliVap`]): its one result is named after the policy.
    fn check_vap_row(&self, row: &ResultRow, doc: &PolicyDoc, policy: &KyvernoCliVap, expected: &str) -> RowOutcome {
        let (mut items, selected, warnings) = self.select(row);
        if !self.test.exceptions.is_empty() {
            // Kyverno's CLI refuses the whole test in this case.
            let message = "kyverno test does not support classic PolicyExceptions in a test with ValidatingAdmissionPolicies";
            items.extend(selected.iter().map(|&i| Item::error(self.test.resources[i].label(), message)));
            return RowOutcome {
                items,
                rule_key: None,
                warnings,
            };
        }
        if !row.rule.is_empty() && !row.is_validating_admission_policy && !rule_matches(&row.rule, &doc.name) {
            let message = format!(
                "rule `{}` is not a rule of ValidatingAdmissionPolicy `{}` (its result is named after the policy; set isValidatingAdmissionPolicy or leave rule empty)",
                row.rule, doc.name
            );
            items.extend(selected.iter().map(|&i| Item::error(self.test.resources[i].label(), message.clone())));
            return RowOutcome {
                items,
                rule_key: None,
                warnings,
            };
        }
        for resource_index in selected {
            let resource = &self.test.resources[resource_index];
            let label = resource.label();
            if let (SchemaMode::Strict, Some(problem)) = (self.schema, &resource.schema_problem) {
                items.push(Item::error(label, problem.clone()));
                continue;
            }
            let labels = self.namespace_labels(&resource.namespace);
            let request = CliRequest {
                object: &resource.value,
                numbers: crate::engine::cel::Numbers::KyvernoCli,
                namespace_labels: labels.as_ref(),
                user_info: self.test.user_info.as_ref().and_then(|u| u.user_info.as_ref()),
                param_resources: &self.test.param_resources,
            };
            let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| policy.evaluate(&request)));
            let (actual, message) = match evaluated {
                Err(_) => {
                    items.push(Item::error(label, format!("the ValidatingAdmissionPolicy engine panicked on policy `{}`", doc.name)));
                    continue;
                }
                Ok(CliResult::Excluded) => {
                    // As for ClusterPolicy rows: Kyverno counts it as a pass; a fail/warn/error expectation fails here.
                    let mut messages = vec!["excluded: neither the policy's matchConstraints (no binding) nor a binding's matchResources select the resource".to_string()];
                    if expected == "pass" {
                        messages.push("kyverno test counts an excluded resource as a pass".into());
                    }
                    items.push(Item {
                        resource: label,
                        actual: "skip".into(),
                        ok: matches!(expected, "pass" | "skip"),
                        skipped: None,
                        messages,
                        reported: false,
                    });
                    continue;
                }
                Ok(CliResult::Skip(m)) => ("skip", m),
                Ok(CliResult::Pass) => ("pass", String::new()),
                Ok(CliResult::Fail(m)) => ("fail", m),
                Ok(CliResult::Error(m)) => ("error", m),
            };
            items.push(Item {
                resource: label,
                actual: actual.into(),
                ok: actual == expected,
                skipped: None,
                messages: if message.is_empty() { Vec::new() } else { vec![message] },
                reported: true,
            });
        }
        RowOutcome {
            items,
            rule_key: None,
            warnings,
        }
    }

    /// Labels a values file gives namespace `name`: a full Namespace object's win over `namespaceSelector`.
    fn namespace_labels(&self, name: &str) -> Option<Map<String, Value>> {
        let spec = self.test.values.as_ref()?;
        spec.namespaces
            .iter()
            .find(|n| n["metadata"]["name"].as_str() == Some(name))
            .and_then(|n| n["metadata"]["labels"].as_object().cloned())
            .or_else(|| spec.namespace_selector.iter().find(|n| n.name == name).map(|n| n.labels.clone()))
    }

    /// The Namespace a values file gives for `name` (its full object, else
    /// name and labels from `namespaceSelector`), for a ValidatingPolicy.
    fn namespace_object(&self, name: &str) -> Option<Value> {
        let spec = self.test.values.as_ref()?;
        if name.is_empty() {
            return None;
        }
        if let Some(full) = spec.namespaces.iter().find(|n| n["metadata"]["name"].as_str() == Some(name)) {
            return Some(full.clone());
        }
        spec.namespace_selector
            .iter()
            .find(|n| n.name == name)
            .map(|n| serde_json::json!({"metadata": {"name": name, "labels": n.labels}}))
    }

    /// The admission request for one resource, with the values, namespace labels and user info the test gives.
    fn context_for(
        &self,
        policy: &PolicyDoc,
        resource: &ResourceDoc,
        operation: Option<&str>,
    ) -> ResourceContext {
        let mut values = Map::new();
        let mut namespace_labels = None;
        if let Some(spec) = &self.test.values {
            values.extend(spec.global_values.clone());
            for p in spec.policies.iter().filter(|p| p.name == policy.name) {
                for r in p.resources.iter().filter(|r| r.name == resource.name) {
                    values.extend(r.values.clone());
                }
            }
            let mut labels: HashMap<&str, &Map<String, Value>> = HashMap::new();
            for n in &spec.namespace_selector {
                labels.insert(&n.name, &n.labels);
            }
            for n in &spec.namespaces {
                if let (Some(name), Some(l)) = (
                    n["metadata"]["name"].as_str(),
                    n["metadata"]["labels"].as_object(),
                ) {
                    labels.insert(name, l);
                }
            }
            namespace_labels = labels
                .get(resource.namespace.as_str())
                .map(|l| (*l).clone());
        }
        let operation = operation
            .map(str::to_string)
            .or_else(|| {
                values
                    .get("request.operation")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|op| matches!(op.as_str(), "CREATE" | "UPDATE" | "DELETE"))
            .unwrap_or_else(|| "CREATE".to_string());
        values.insert("request.operation".into(), Value::String(operation.clone()));
        // As the Kyverno CLI: UPDATE sees the resource as both objects, DELETE only as the old one.
        let (object, old_object) = match operation.as_str() {
            "UPDATE" => (resource.value.clone(), Some(resource.value.clone())),
            "DELETE" => (Value::Null, Some(resource.value.clone())),
            _ => (resource.value.clone(), None),
        };
        let user = self.test.user_info.as_ref();
        ResourceContext {
            resource: object,
            old_resource: old_object,
            operation,
            namespace_labels,
            user_info: user.and_then(|u| u.user_info.clone()),
            roles: user.map(|u| u.roles.clone()).unwrap_or_default(),
            cluster_roles: user.map(|u| u.cluster_roles.clone()).unwrap_or_default(),
            values,
            images: None,
            // Kyverno's CLI turns every number of a test's resources (only) into a double.
            numbers: crate::engine::cel::Numbers::KyvernoCli,
            param_resources: self.test.param_resources.clone(),
            exceptions: self.test.exceptions.clone(),
        }
    }

    /// `policies[].rules[].values` of the values file for one policy, keyed by
    /// the rule names the engine reports. As in Kyverno's CLI store, values
    /// given for `x` also serve `autogen-x` and `autogen-cronjob-x`, and the
    /// first entry that fits a rule wins.
    fn rule_values(&self, policy: &PolicyDoc) -> BTreeMap<String, Map<String, Value>> {
        let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let entries = self
            .test
            .values
            .iter()
            .flat_map(|v| &v.policies)
            .filter(|p| p.name == policy.name)
            .flat_map(|p| &p.rules);
        for rule in entries.filter(|r| !r.values.is_empty()) {
            for name in [
                rule.name.clone(),
                format!("autogen-{}", rule.name),
                format!("autogen-cronjob-{}", rule.name),
            ] {
                out.entry(name).or_insert_with(|| rule.values.clone());
            }
        }
        out
    }

    /// Why the rules cannot be evaluated here: a context entry that needs an
    /// API server, a ConfigMap or a registry and that no value mocks, or
    /// `foreachValues`, which the engine does not take.
    fn needs_cluster(
        &self,
        rules: &[&crate::engine::kyverno::policy::Rule],
        policy: &PolicyDoc,
        values: &Map<String, Value>,
        rule_values: &BTreeMap<String, Map<String, Value>>,
    ) -> Option<String> {
        for rule in rules {
            let uses_foreach_values = self
                .test
                .values
                .iter()
                .flat_map(|v| &v.policies)
                .filter(|p| p.name == policy.name)
                .flat_map(|p| &p.rules)
                .any(|r| r.name == rule.name && !r.foreach_values.is_empty());
            if uses_foreach_values {
                return Some(format!(
                    "rule {}/{} uses foreachValues, which verdict does not support",
                    policy.name, rule.name
                ));
            }
            let mut external = Vec::new();
            collect_external(&rule.context, &mut external);
            if let Some(foreach) = rule.validation().and_then(|v| v.foreach.as_ref()) {
                collect_foreach_external(foreach, &mut external);
            }
            let mocked = |name: &str| {
                values.contains_key(name)
                    || rule_values
                        .get(&rule.name)
                        .is_some_and(|v| v.contains_key(name))
            };
            if let Some((name, source)) = external.into_iter().find(|(name, _)| !mocked(name)) {
                return Some(format!(
                    "rule {}/{} needs context `{name}` from {source}, which verdict does not fetch",
                    policy.name, rule.name
                ));
            }
        }
        None
    }

    fn subresource(&self, resource: &ResourceDoc) -> Option<String> {
        let spec = self.test.values.as_ref()?;
        spec.subresources
            .iter()
            .any(|s| s["subresource"]["kind"].as_str() == Some(resource.kind.as_str()))
            .then(|| {
                format!(
                    "{} is declared as a subresource, which verdict does not evaluate",
                    resource.kind
                )
            })
    }
}

fn collect_external(entries: &[ContextEntry], out: &mut Vec<(String, &'static str)>) {
    for entry in entries {
        if let ContextSource::External(source) = entry.source {
            out.push((entry.name.clone(), source));
        }
    }
}

fn collect_foreach_external(foreach: &[ForEach], out: &mut Vec<(String, &'static str)>) {
    for f in foreach {
        collect_external(&f.context, out);
        if let Some(nested) = &f.foreach {
            collect_foreach_external(nested, out);
        }
    }
}

fn rule_unsupported(kind: &RuleKind) -> Option<String> {
    match kind {
        RuleKind::Other(what) => Some(format!("{what} rules are not evaluated by verdict")),
        RuleKind::VerifyImages(_) => {
            Some("verifyImages rows need the images' own registry, which an offline run cannot reach (library image cases run them)".to_string())
        }
        RuleKind::Validate(v) => v
            .unsupported
            .map(|what| format!("{what} is not evaluated by verdict")),
    }
}

/// Apply the policy, turning an engine panic into an error result rather than aborting the run.
fn evaluate(
    policy: &Policy,
    ctx: &ResourceContext,
    rule_values: &BTreeMap<String, Map<String, Value>>,
) -> Result<Vec<RuleResponse>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        apply_policy_with_rule_values(policy, ctx, rule_values)
    }))
    .map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        format!("the Kyverno engine panicked: {what}")
    })
}

/// Compare the responses for the row's rule with the expectation.
fn judge(
    resource: String,
    expected: &str,
    rule: &str,
    responses: &[RuleResponse],
    scored: bool,
) -> Item {
    let matching: Vec<&RuleResponse> = responses
        .iter()
        .filter(|r| r.reported && rule_matches(rule, &r.rule))
        .collect();
    if matching.is_empty() {
        // Kyverno counts an excluded resource as a pass; a fail/warn/error expectation
        // that was never evaluated is a broken test, so it fails here.
        let ok = matches!(expected, "pass" | "skip");
        let why = responses
            .iter()
            .find(|r| rule_matches(rule, &r.rule) && !r.message.is_empty())
            .map(|r| format!(": {}", r.message))
            .unwrap_or_default();
        let mut messages = vec![format!(
            "excluded: the rule did not apply to the resource{why}"
        )];
        if expected == "pass" {
            messages.push("kyverno test counts an excluded resource as a pass".into());
        }
        return Item {
            resource,
            actual: "skip".into(),
            ok,
            skipped: None,
            messages,
            reported: false,
        };
    }
    // Kyverno's policy report turns the failures of an unscored policy into warnings.
    let reported_status = |r: &RuleResponse| match r.status.as_str() {
        "fail" if !scored => "warn",
        other => other,
    };
    let mut actual = reported_status(matching[0]);
    let mut messages = Vec::new();
    for r in &matching {
        if reported_status(r) != expected {
            actual = reported_status(r);
        }
        if !r.message.is_empty() {
            messages.push(if matching.len() > 1 {
                format!("{}: {}", r.rule, r.message)
            } else {
                r.message.clone()
            });
        }
    }
    let ok = matching.iter().all(|r| reported_status(r) == expected);
    Item {
        resource,
        actual: actual.to_string(),
        ok,
        skipped: None,
        messages,
        reported: true,
    }
}

/// False for a policy annotated `policies.kyverno.io/scored: "false"`.
fn scored(policy: &Policy) -> bool {
    policy.annotation("policies.kyverno.io/scored") != Some("false")
}

/// `rule` names `response` directly or through its autogen forms, as `kyverno test` looks them up.
fn rule_matches(rule: &str, response: &str) -> bool {
    rule.is_empty()
        || response == rule
        || response.strip_prefix("autogen-cronjob-") == Some(rule)
        || response.strip_prefix("autogen-") == Some(rule)
}

/// The policy rule a row names, with an explicit autogen prefix removed.
fn base_rule_name(rule: &str) -> &str {
    rule.strip_prefix("autogen-cronjob-")
        .or_else(|| rule.strip_prefix("autogen-"))
        .unwrap_or(rule)
}

fn find_policy(policies: &[PolicyDoc], namespace: Option<&str>, name: &str) -> Option<usize> {
    // A binding is not a policy a row can name, even when it shares the policy's name.
    policies.iter().position(|p| {
        p.kind != vap::BINDING_KIND
            && p.name == name
            && namespace.is_none_or(|ns| p.namespace.as_deref() == Some(ns))
    })
}

/// Resources a row's `name` or `namespace/name` selects, narrowed by the row's `kind` when given.
fn select_resources(resources: &[ResourceDoc], reference: &str, kind: &str) -> Vec<usize> {
    let (namespace, name) = match reference.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, reference),
    };
    (0..resources.len())
        .filter(|&i| {
            let r = &resources[i];
            r.name == name
                && namespace.is_none_or(|ns| r.namespace == ns)
                && (kind.is_empty() || r.kind == kind)
        })
        .collect()
}

fn missing_resource_message(resources: &[ResourceDoc], reference: &str, kind: &str) -> String {
    let other_kinds: Vec<String> = select_resources(resources, reference, "")
        .iter()
        .map(|&i| resources[i].label())
        .collect();
    if !kind.is_empty() && !other_kinds.is_empty() {
        format!(
            "no {kind} named `{reference}` among the test's resources (found {})",
            other_kinds.join(", ")
        )
    } else {
        format!("resource `{reference}` is not among the test's resources")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn autogen_responses_answer_for_their_rule() {
        assert!(rule_matches("check", "autogen-check"));
        assert!(rule_matches("check", "autogen-cronjob-check"));
        assert!(rule_matches("autogen-check", "autogen-check"));
        assert!(!rule_matches("check", "autogen-check-x"));
        assert_eq!(base_rule_name("autogen-cronjob-check"), "check");
    }

    /// (row, resource, actual, ok, skipped) of every result, in order.
    fn outcomes(report: &SuiteReport) -> Vec<(usize, String, String, bool, bool)> {
        let mut out = Vec::new();
        for row in &report.rows {
            for r in &report.results[row.results.clone()] {
                out.push((
                    row.index,
                    r.resource.clone(),
                    r.actual.clone(),
                    r.ok,
                    r.skipped.is_some(),
                ));
            }
        }
        out
    }

    #[test]
    fn strict_fixture() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/suite/kyverno_test/fixtures/strict/kyverno-test.yaml");
        let report = run_suite(&path).unwrap();
        let row = |i: usize, resource: &str, actual: &str, ok: bool, skipped: bool| {
            (i, resource.to_string(), actual.to_string(), ok, skipped)
        };
        assert_eq!(
            outcomes(&report),
            vec![
                row(0, "Pod/default/good", "pass", true, false),
                row(1, "Pod/default/bad", "fail", true, false),
                row(1, "Pod/other/bad", "pass", false, false),
                row(2, "Deployment/default/bad-deploy", "fail", true, false),
                row(3, "Pod/default/good", "skip", true, false),
                row(4, "Pod/default/good", "skip", false, false),
                row(5, "good", "error", false, false),
                row(6, "good", "error", false, false),
                row(7, "missing", "error", false, false),
                row(7, "bad-deploy", "error", false, false),
                row(8, "Service/default/svc-create", "pass", true, false),
                row(9, "Service/default/svc-update", "fail", true, false),
                row(10, "good", "", false, true),
                row(11, "Pod/default/bad", "warn", true, false),
            ]
        );
        let results = &report.results;
        assert_eq!(results[0].suite, path.display().to_string());
        assert_eq!(results[0].test, "strict");
        assert_eq!(results[0].rule, "require-team/check-team");
        assert!(
            results[9].messages[0].contains("found Deployment/default/bad-deploy"),
            "{:?}",
            results[9].messages
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("require-team/only-configmaps matched none")),
            "{:?}",
            report.warnings
        );
        assert!(results[5]
            .messages
            .iter()
            .any(|m| m.contains("matched none")));
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/suite/kyverno_test/fixtures")
            .join(name)
            .join("kyverno-test.yaml")
    }

    #[test]
    fn admission_fixture_user_info_namespace_labels_operation_and_context() {
        let report = run_suite(&fixture("admission")).unwrap();
        let row = |i: usize, resource: &str, actual: &str, ok: bool, skipped: bool| {
            (i, resource.to_string(), actual.to_string(), ok, skipped)
        };
        assert_eq!(
            outcomes(&report),
            vec![
                row(0, "ConfigMap/prod/prod-owned", "pass", true, false),
                row(1, "ConfigMap/prod/prod-owned", "skip", true, false),
                row(2, "ConfigMap/prod/prod-owned", "pass", true, false),
                row(3, "ConfigMap/prod/prod-unowned", "fail", true, false),
                row(4, "ConfigMap/dev/dev-unowned", "skip", true, false),
                row(5, "ConfigMap/prod/prod-owned", "fail", true, false),
                row(6, "ConfigMap/prod/prod-owned", "pass", true, false),
                row(7, "ConfigMap/prod/prod-owned", "", false, true),
                row(7, "ConfigMap/dev/dev-unowned", "fail", true, false),
            ]
        );
        assert!(report.results[7]
            .skipped
            .as_deref()
            .unwrap()
            .contains("deploymentCount"));
    }

    #[test]
    fn legacy_fixture_status_resource_and_policy_namespace() {
        let report = run_suite(&fixture("legacy")).unwrap();
        let row = |i: usize, resource: &str, actual: &str, ok: bool, skipped: bool| {
            (i, resource.to_string(), actual.to_string(), ok, skipped)
        };
        assert_eq!(
            outcomes(&report),
            vec![
                row(0, "Pod/team-a/with-app", "pass", true, false),
                row(1, "Pod/team-a/without-app", "fail", true, false),
                row(2, "Pod/team-b/elsewhere", "skip", true, false),
            ]
        );
        assert_eq!(report.results[0].test, "legacy");
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("deprecated test schema")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn cel_fixture_validating_policies_context_params_and_field_names() {
        let report = run_suite(&fixture("cel")).unwrap();
        let row = |i: usize, resource: &str, actual: &str, ok: bool| {
            (i, resource.to_string(), actual.to_string(), ok, false)
        };
        assert_eq!(
            outcomes(&report),
            vec![
                row(0, "Deployment/default/scaled", "pass", true),
                row(1, "Deployment/default/unscaled", "fail", true),
                row(2, "Deployment/default/unscaled", "fail", true),
                row(3, "Pod/default/plain", "pass", true),
                row(4, "Deployment/default/scaled", "error", true),
                row(5, "Deployment/default/scaled", "error", true),
                row(6, "Pod/default/plain", "not found", false),
                row(7, "Deployment/default/scaled", "pass", true),
                row(8, "Deployment/default/unscaled", "fail", true),
            ]
        );
        let messages = |i: usize| report.results[i].messages.join("; ");
        assert!(messages(1).contains("no HPA targets unscaled"), "{}", messages(1));
        assert!(messages(4).contains("no matching overload"), "{}", messages(4));
        assert!(messages(5).contains("http.Get"), "{}", messages(5));
        assert!(messages(8).contains("at most 3 replicas"), "{}", messages(8));
        assert!(
            report.warnings.iter().any(|w| w.contains("`IsValidatingPolicy` read as `isValidatingPolicy`")),
            "{:?}",
            report.warnings
        );
    }
}
