//! Running a gator suite: each assertion of each case becomes one
//! [`TestResult`] row, so a failure names exactly the claim that did not hold.

use super::load::{load_expander, load_pair, read_suite, read_suite_objects, PairError, SuiteFile, TemplateCache};
use super::model::{Case, Expected};
use super::schema::schema_problem;
use crate::engine::gatekeeper::{Constraint, Expander, ReviewOutcome, Template, TemplateEngine};
use crate::error::LoadError;
use crate::input::schema::SchemaMode;
use crate::limits::Limits;
use crate::runner::TestResult;
use serde_json::Value;
use std::path::Path;

/// What running one suite produced.
#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    /// One row per assertion (per test for `invalid: true` tests).
    pub results: Vec<TestResult>,
    /// Files the suite names that could not be used; the tests needing them did not run.
    pub errors: Vec<LoadError>,
    /// Suite objects that break their Kubernetes schema, under `--schema warn`.
    pub warnings: Vec<String>,
}

/// How a suite is run.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    pub limits: Limits,
    /// Run only the cases this selects (see [`Selection`]); `None` runs all.
    pub filter: Option<globset::GlobMatcher>,
    /// The suite's name as shown to users (its path relative to the run root), for the filter.
    pub shown: String,
    /// What a case or inventory object that breaks its Kubernetes schema does:
    /// an error for the case's assertions (the default), a warning, or nothing.
    pub schema: SchemaMode,
    /// Run a template that has both engines on this one only (`--gator-engine`);
    /// `None` runs each engine a template has. A template without the chosen
    /// engine runs on the one it has.
    pub engine: Option<TemplateEngine>,
}

/// `--filter`: a case runs when the glob matches the suite (shown path or
/// `metadata.name`), the test, the case, or `test/case`: gator's `--run` selects
/// tests and cases by name the same way (with a regex; verdict's filter is a glob).
struct Selection<'a> {
    filter: Option<&'a globset::GlobMatcher>,
    suite_selected: bool,
}

impl Selection<'_> {
    fn case(&self, test: &str, case: &str) -> bool {
        let Some(glob) = self.filter else { return true };
        self.suite_selected || glob.is_match(test) || glob.is_match(case) || glob.is_match(format!("{test}/{case}"))
    }

    fn test(&self, test: &str) -> bool {
        let Some(glob) = self.filter else { return true };
        self.suite_selected || glob.is_match(test)
    }
}

/// Run one `suite.yaml`. A suite that cannot be read at all is an `Err`;
/// missing or bad files of one test are in [`SuiteReport::errors`] and the
/// other tests still run.
pub fn run_suite(path: &Path, options: &SuiteOptions) -> Result<SuiteReport, LoadError> {
    let suite = read_suite(path, &options.limits)?;
    let selection = Selection {
        filter: options.filter.as_ref(),
        suite_selected: options.filter.as_ref().is_some_and(|g| {
            g.is_match(&options.shown) || suite.suite.name().is_some_and(|n| g.is_match(n))
        }),
    };
    let mut report = SuiteReport::default();
    let mut templates = TemplateCache::new();
    let row = |test: &str, case: Option<&str>, pointer: &str| TestResult {
        suite: path.display().to_string(),
        test: test.to_string(),
        case: case.map(str::to_string),
        file: Some(path.to_path_buf()),
        line: suite.line_of(pointer),
        ..TestResult::default()
    };
    if suite.suite.skip {
        let mut r = row("*", None, "/skip");
        r.actual = "skip".into();
        r.skipped = Some("the suite has skip: true".into());
        report.results.push(r);
        return Ok(report);
    }
    for (t, test) in suite.suite.tests.iter().enumerate() {
        let selected: Vec<(usize, &Case)> = test
            .cases
            .iter()
            .enumerate()
            .filter(|(_, c)| selection.case(&test.name, &c.name))
            .collect();
        if test.invalid {
            if !selection.test(&test.name) {
                continue;
            }
        } else if selected.is_empty() && !(test.cases.is_empty() && selection.test(&test.name)) {
            continue;
        }
        if test.skip {
            let mut r = row(&test.name, None, &format!("/tests/{t}/skip"));
            r.actual = "skip".into();
            r.skipped = Some("the test has skip: true".into());
            report.results.push(r);
            continue;
        }
        let pair = load_pair(&suite, t, &options.limits, options.engine, &mut templates);
        if test.invalid {
            let mut r = row(&test.name, None, &format!("/tests/{t}/invalid"));
            r.expected = "rejected".into();
            match pair {
                Err(PairError::Missing(e)) => {
                    report.errors.push(e);
                    continue;
                }
                Err(PairError::Rejected(e)) => {
                    r.actual = "rejected".into();
                    r.ok = true;
                    r.messages = vec![e.to_string()];
                }
                Ok((_, constraint)) => {
                    r.actual = "accepted".into();
                    r.rule = constraint.name;
                    r.messages = vec!["invalid: true, but the template and constraint were both accepted".into()];
                }
            }
            report.results.push(r);
            continue;
        }
        let (template, constraint) = match pair {
            Ok(pair) => pair,
            Err(PairError::Missing(e) | PairError::Rejected(e)) => {
                report.errors.push(e);
                continue;
            }
        };
        // As gator: a bad expansion file fails the test before any case runs.
        let expander = match load_expander(&suite, t, &options.limits) {
            Ok(expander) => expander,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        if test.cases.is_empty() {
            report
                .errors
                .push(suite.error_at(&format!("/tests/{t}"), format!("test {} has no cases", test.name)));
            continue;
        }
        // A template with both engines runs the test under each, as upstream CI
        // runs gator with and without --enable-k8s-native-validation; the rows
        // of a template with CEL code name their engine: `test[rego]`, `test[cel]`.
        let mut engines = template.engines();
        let has_cel = engines.contains(&TemplateEngine::Cel) || template.uncompiled == Some(TemplateEngine::Cel);
        if let Some(only) = options.engine.filter(|e| engines.contains(e)) {
            engines.retain(|e| *e == only);
        }
        for (e, &engine) in engines.iter().enumerate() {
            let first_engine = e == 0;
            let Some(template) = template.with_engine(engine) else { continue };
            let test_name = if has_cel { format!("{}[{engine}]", test.name) } else { test.name.clone() };
            let test_name = test_name.as_str();
            let mut matched_any = false;
            for &(c, case) in &selected {
                let pointer = format!("/tests/{t}/cases/{c}");
                if case.skip {
                    let mut r = row(test_name, Some(&case.name), &format!("{pointer}/skip"));
                    r.rule = constraint.name.clone();
                    r.actual = "skip".into();
                    r.skipped = Some("the case has skip: true".into());
                    report.results.push(r);
                    continue;
                }
                if case.assertions.is_empty() {
                    if first_engine {
                        report.errors.push(suite.error_at(
                            &pointer,
                            format!("case {} of test {}: assertions must be non-empty", case.name, test.name),
                        ));
                    }
                    continue;
                }
                let pair = (&template, &constraint, expander.as_ref());
                let reviewed = match review_case(&suite, &pointer, case, pair, options) {
                    Ok(reviewed) => {
                        report.warnings.extend(reviewed.schema_warnings.iter().cloned());
                        reviewed
                    }
                    Err(e) => {
                        // The same file fails under every engine: report it once.
                        if first_engine {
                            report.errors.push(e);
                        }
                        continue;
                    }
                };
                if let Reviewed { outcome: Ok(ReviewOutcome::Violations(_)), .. } = &reviewed {
                    matched_any = true;
                }
                for (a, assertion) in case.assertions.iter().enumerate() {
                    let mut r = row(test_name, Some(&case.name), &format!("{pointer}/assertions/{a}"));
                    r.rule = constraint.name.clone();
                    r.resource = reviewed.resource.clone();
                    check_assertion(&mut r, assertion, &reviewed.outcome);
                    report.results.push(r);
                }
            }
            // Strict where gator is silent: a constraint that selects none of the test's
            // objects checks nothing, and its "no violations" assertions pass vacuously.
            let ran_all = selected.len() == test.cases.len() && test.cases.iter().all(|c| !c.skip);
            if ran_all && !matched_any && !test.cases.is_empty() {
                let mut r = row(test_name, None, &format!("/tests/{t}/constraint"));
                r.rule = constraint.name.clone();
                r.expected = "the constraint matches a case object".into();
                r.actual = "error".into();
                r.messages = vec![format!(
                    "constraint {} matches none of the {} case objects of test {}: every assertion passed without the template being evaluated",
                    constraint.name,
                    test.cases.len(),
                    test_name
                )];
                report.results.push(r);
            }
        }
    }
    Ok(report)
}

/// A case's object reviewed: its label and the violations (or why it could not be reviewed).
struct Reviewed {
    resource: String,
    outcome: Result<ReviewOutcome, String>,
    /// Schema problems of the case's objects under `--schema warn`.
    schema_warnings: Vec<String>,
}

fn review_case(
    suite: &SuiteFile,
    pointer: &str,
    case: &Case,
    (template, constraint, expander): (&Template, &Constraint, Option<&Expander>),
    options: &SuiteOptions,
) -> Result<Reviewed, LoadError> {
    let limits = &options.limits;
    let (object_path, objects) = read_suite_objects(suite, &format!("{pointer}/object"), "object", &case.object, limits)?;
    let [(line, object)] = objects.as_slice() else {
        return Err(LoadError::at_line(
            &object_path,
            objects.get(1).map_or(1, |o| o.0),
            format!("a case object file defines exactly one object, found {}", objects.len()),
        ));
    };
    let is_admission_review = object["kind"] == "AdmissionReview"
        && object["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("admission.k8s.io/"));
    let check_schema = options.schema != SchemaMode::Off;
    let mut schema_problems = Vec::new();
    if check_schema && is_admission_review {
        for field in ["object", "oldObject"] {
            let embedded = &object["request"][field];
            if embedded.is_object() {
                schema_problems.extend(schema_problem(&object_path, *line, &format!("/request/{field}"), embedded));
            }
        }
    } else if check_schema {
        schema_problems.extend(schema_problem(&object_path, *line, "", object));
    }
    let mut inventory = Vec::new();
    for (i, file) in case.inventory.iter().enumerate() {
        let (path, objects) = read_suite_objects(suite, &format!("{pointer}/inventory/{i}"), "inventory file", file, limits)?;
        for (line, value) in objects {
            if check_schema {
                schema_problems.extend(schema_problem(&path, line, "", &value));
            }
            inventory.push(value);
        }
    }
    let schema_warnings = match options.schema {
        SchemaMode::Strict if !schema_problems.is_empty() => {
            let reviewed = if is_admission_review { &object["request"]["object"] } else { object };
            return Ok(Reviewed {
                resource: label(reviewed),
                outcome: Err(schema_problems.join("; ")),
                schema_warnings: Vec::new(),
            });
        }
        _ => schema_problems,
    };
    if is_admission_review {
        // gator decodes the AdmissionReview strictly; the text is read again only to name the line.
        if crate::engine::gatekeeper::check_admission_review(object, &object_path, None, Some(*line)).is_err() {
            let text = std::fs::read_to_string(&object_path).ok();
            crate::engine::gatekeeper::check_admission_review(object, &object_path, text.as_deref(), Some(*line))?;
        }
        let request = &object["request"];
        if !request.is_object() {
            return Err(LoadError::at_line(
                &object_path,
                *line,
                "the AdmissionReview has no request (an AdmissionRequest) to review",
            ));
        }
        let reviewed_object = [&request["object"], &request["oldObject"]]
            .into_iter()
            .find(|o| o.is_object())
            .cloned()
            .unwrap_or(Value::Null);
        return Ok(Reviewed {
            resource: label(&reviewed_object),
            outcome: template
                .review_request(constraint, request, &inventory)
                .map_err(|e| e.message),
            schema_warnings,
        });
    }
    let mut outcome = template.review(constraint, object, &inventory).map_err(|e| e.message);
    if let (Some(expander), Ok(original)) = (expander, &outcome) {
        outcome = review_expanded(template, constraint, object, &inventory, expander, original.clone());
    }
    Ok(Reviewed {
        resource: label(object),
        outcome,
        schema_warnings,
    })
}

/// Add to `original` the violations of every object `object` expands into, as
/// gator does: each message prefixed `[Implied by <ExpansionTemplate>]`, the
/// template's `enforcementAction` (when set) replacing the Constraint's.
fn review_expanded(
    template: &Template,
    constraint: &Constraint,
    object: &Value,
    inventory: &[Value],
    expander: &Expander,
    original: ReviewOutcome,
) -> Result<ReviewOutcome, String> {
    let resultants = expander
        .expand(object)
        .map_err(|e| format!("expanding resource {}: {e}", label(object)))?;
    let (mut matched, mut violations) = match original {
        ReviewOutcome::NotMatched => (false, Vec::new()),
        ReviewOutcome::Violations(v) => (true, v),
    };
    for resultant in resultants {
        let outcome = template
            .review_generated(constraint, &resultant.object, inventory)
            .map_err(|e| format!("reviewing expanded resource {}: {}", label(&resultant.object), e.message))?;
        if let ReviewOutcome::Violations(found) = outcome {
            matched = true;
            violations.extend(found.into_iter().map(|mut v| {
                v.message = format!("[Implied by {}] {}", resultant.template, v.message);
                if let Some(action) = resultant.enforcement_action {
                    v.action = Some(action);
                }
                v
            }));
        }
    }
    Ok(if matched {
        ReviewOutcome::Violations(violations)
    } else {
        ReviewOutcome::NotMatched
    })
}

/// `Kind/namespace/name` (namespace omitted when empty).
fn label(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    match object["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Fill `row` with one assertion's expectation and what the review produced.
fn check_assertion(row: &mut TestResult, assertion: &super::model::Assertion, outcome: &Result<ReviewOutcome, String>) {
    let expected = match Expected::parse(assertion.violations.as_ref()) {
        Ok(e) => e,
        Err(e) => {
            row.expected = "a valid assertion".into();
            row.actual = "error".into();
            row.messages = vec![e];
            return;
        }
    };
    row.expected = match &assertion.message {
        Some(m) => format!("{expected} matching /{m}/"),
        None => expected.to_string(),
    };
    let violations = match outcome {
        Ok(ReviewOutcome::NotMatched) => Vec::new(),
        Ok(ReviewOutcome::Violations(v)) => v.iter().map(|v| v.message.clone()).collect(),
        Err(e) => {
            row.actual = "error".into();
            row.messages = vec![e.clone()];
            return;
        }
    };
    let matching = match &assertion.message {
        None => violations.len(),
        Some(pattern) => match message_regex(pattern) {
            Ok(re) => violations.iter().filter(|m| re.is_match(m)).count(),
            Err(e) => {
                row.actual = "error".into();
                row.messages = vec![format!("assertion message {pattern:?} is not a valid regular expression: {e}")];
                return;
            }
        },
    };
    row.actual = matching.to_string();
    row.ok = expected.holds(matching);
    row.messages = violations;
}

/// An assertion's message pattern, compiled once per thread: suites repeat
/// the same few patterns over many cases.
fn message_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    thread_local! {
        static COMPILED: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    if let Some(re) = COMPILED.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(re);
    }
    let re = regex::Regex::new(pattern)?;
    COMPILED.with(|c| {
        let mut compiled = c.borrow_mut();
        if compiled.len() >= 1024 {
            compiled.clear();
        }
        compiled.insert(pattern.to_string(), re.clone());
    });
    Ok(re)
}
