//! Drives `verdict test` over gator `suite.yaml` fixtures (tests/fixtures/gator/):
//! one JSON row per assertion, exit codes, errors naming file and line, `--filter`.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gator")
}

fn verdict_test(dir: &str, extra: &[&str]) -> (Output, Value) {
    let args: Vec<&str> = ["test", dir].into_iter().chain(extra.iter().copied()).collect();
    support::verdict_json(&args, &fixtures())
}

fn rows<'a>(doc: &'a Value, test: &str, case: Option<&str>) -> Vec<&'a Value> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["test"] == test && r["case"].as_str() == case)
        .collect()
}

fn pairs(rows: &[&Value]) -> Vec<(String, String, bool)> {
    rows.iter()
        .map(|r| (r["expected"].as_str().unwrap().to_string(), r["actual"].as_str().unwrap().to_string(), r["ok"] == true))
        .collect()
}

#[test]
fn a_passing_suite_gives_one_row_per_assertion_and_exit_0() {
    let (out, doc) = verdict_test("passing", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 9, "{doc:#}");
    assert!(results.iter().all(|r| r["ok"] == true && r["suite"] == "suite.yaml"), "{doc:#}");
    let labelled = rows(&doc, "owner-and-team", Some("labelled"));
    assert_eq!(pairs(&labelled), [("no".into(), "0".into(), true)]);
    assert_eq!(labelled[0]["rule"], "must-have-owner-and-team");
    assert_eq!(labelled[0]["resource"], "ConfigMap/shop/settings");
    // A template and constraint bundled in one multi-document file.
    assert_eq!(pairs(&rows(&doc, "bundled-files", Some("unlabelled"))), [("2".into(), "2".into(), true)]);
}

#[test]
fn message_regexes_count_only_the_violations_they_match() {
    let (_, doc) = verdict_test("passing", &[]);
    let unlabelled = rows(&doc, "owner-and-team", Some("unlabelled"));
    assert_eq!(
        pairs(&unlabelled),
        [
            ("yes".into(), "2".into(), true),
            ("2".into(), "2".into(), true),
            ("1 matching /^missing label: owner$/".into(), "1".into(), true),
            // A message with no count means at least one.
            ("yes matching /team/".into(), "1".into(), true),
            // Go regexps are case-sensitive, as verdict's.
            ("0 matching /Owner/".into(), "0".into(), true),
        ]
    );
    assert_eq!(unlabelled[0]["messages"], serde_json::json!(["missing label: owner", "missing label: team"]));
}

#[test]
fn an_admission_review_delete_is_reviewed_with_its_old_object() {
    let (_, doc) = verdict_test("passing", &[]);
    let delete = rows(&doc, "owner-and-team", Some("delete-by-mallory"));
    assert_eq!(pairs(&delete), [("1 matching /^mallory may not delete settings$/".into(), "1".into(), true)]);
    assert_eq!(delete[0]["messages"], serde_json::json!(["mallory may not delete settings"]));
    // UPDATE (admission.k8s.io/v1beta1): the new object is reviewed.
    let update = rows(&doc, "owner-and-team", Some("update-drops-team"));
    assert_eq!(pairs(&update), [("1 matching /team/".into(), "1".into(), true)]);
}

#[test]
fn a_failing_assertion_fails_the_run_and_names_the_counts() {
    let (out, doc) = verdict_test("failing", &[]);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let case = rows(&doc, "owner-and-team", Some("unlabelled-claimed-clean"));
    assert_eq!(pairs(&case), [("2".into(), "2".into(), true), ("no".into(), "2".into(), false)]);
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(case[1]["line"], 14, "the line of the failing assertion in suite.yaml");
}

#[test]
fn invalid_true_passes_only_when_the_template_or_constraint_is_rejected() {
    let (out, doc) = verdict_test("invalid", &[]);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let schema = rows(&doc, "parameters-break-the-schema", None);
    assert_eq!(pairs(&schema), [("rejected".into(), "rejected".into(), true)]);
    let message = schema[0]["messages"][0].as_str().unwrap();
    assert!(message.contains("constraint-bad-parameters.yaml:6") && message.contains("/labels"), "{message}");
    let rego = rows(&doc, "rego-does-not-compile", None);
    assert_eq!(pairs(&rego), [("rejected".into(), "rejected".into(), true)]);
    assert!(rego[0]["messages"][0].as_str().unwrap().contains("template-bad-rego.yaml"), "{doc:#}");
    assert_eq!(pairs(&rows(&doc, "valid-but-claimed-invalid", None)), [("rejected".into(), "accepted".into(), false)]);
}

#[test]
fn an_inventory_fills_data_inventory_for_referential_templates() {
    let (out, doc) = verdict_test("referential", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let clash = rows(&doc, "unique-configmap-names", Some("name-taken-elsewhere"));
    assert_eq!(clash[0]["messages"], serde_json::json!(["ConfigMap settings is already used in namespace billing"]));
    assert_eq!(pairs(&rows(&doc, "unique-configmap-names", Some("name-free"))), [("no".into(), "0".into(), true)]);
    assert_eq!(rows(&doc, "unique-configmap-names", Some("no-inventory"))[0]["ok"], true);
}

#[test]
fn missing_files_and_unknown_kinds_are_errors_naming_file_and_line_and_the_rest_runs() {
    let (out, doc) = verdict_test(".", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    let errors = doc["load_errors"].as_array().unwrap();
    let missing = errors.iter().find(|e| e["message"].as_str().unwrap().contains("does-not-exist.yaml")).expect("missing object error");
    assert_eq!((missing["path"].as_str().unwrap(), missing["line"].as_u64()), ("tests/fixtures/gator/broken/suite.yaml", Some(11)), "{missing:#}");
    let kind = errors.iter().find(|e| e["path"] == "tests/fixtures/gator/broken/constraint-unknown-kind.yaml").expect("unknown kind error");
    assert_eq!(kind["line"], 1);
    assert!(kind["message"].as_str().unwrap().contains("K8sRequiredAnnotations"), "{kind:#}");
    // The other case of the broken test, and the other suites, still ran.
    assert_eq!(pairs(&rows(&doc, "missing-object", Some("still-runs"))), [("no".into(), "0".into(), true)]);
    assert!(!rows(&doc, "unique-configmap-names", Some("name-free")).is_empty());
    // Strict where gator is silent: a constraint that matches none of its objects is an error.
    let nothing = rows(&doc, "matches-nothing", None);
    assert_eq!(nothing[0]["actual"], "error", "{doc:#}");
    assert!(nothing[0]["messages"][0].as_str().unwrap().contains("matches none"), "{doc:#}");
}

#[test]
fn filter_selects_tests_and_cases_by_name() {
    let (out, doc) = verdict_test("passing", &["--filter", "delete-*"]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{doc:#}");
    assert_eq!(results[0]["case"], "delete-by-mallory");
    let (_, doc) = verdict_test("passing", &["--filter", "bundled-files"]);
    assert_eq!(doc["results"].as_array().unwrap().len(), 1, "{doc:#}");
    let (_, doc) = verdict_test("passing", &["--filter", "owner-and-team/unlabelled"]);
    assert_eq!(doc["results"].as_array().unwrap().len(), 5, "{doc:#}");
}

#[test]
fn a_cel_only_template_is_reviewed_with_cel_and_its_rows_say_so() {
    let (out, doc) = verdict_test("cel-only", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(pairs(&rows(&doc, "cel-labels[cel]", Some("unlabelled"))), [("1 matching /^labels are required$/".into(), "1".into(), true)]);
    assert_eq!(pairs(&rows(&doc, "cel-labels[cel]", Some("labelled"))), [("no".into(), "0".into(), true)]);
    assert_eq!(doc["summary"]["passed"], 2, "{doc:#}");
}

#[test]
fn cel_templates_follow_failure_policy_match_conditions_and_delete_reviews() {
    let (out, doc) = verdict_test("cel", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let results = doc["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["ok"] == true), "{doc:#}");
    assert_eq!(results.len(), 9, "{doc:#}");
    // failurePolicy Fail: the runtime error is the violation, naming the expression.
    let error = rows(&doc, "fail-closed[cel]", Some("no-spec"))[0]["messages"][0].as_str().unwrap();
    assert!(error.contains("object.spec.replicas > 1") && error.contains("no such key: spec"), "{error}");
    // failurePolicy Ignore: the same error admits; a real failure still counts.
    assert_eq!(pairs(&rows(&doc, "fail-open[cel]", Some("no-spec"))), [("no".into(), "0".into(), true)]);
    assert_eq!(pairs(&rows(&doc, "fail-open[cel]", Some("one-replica"))), [("1".into(), "1".into(), true)]);
    // matchCondition false: no violations even though the validation is `false`.
    assert_eq!(pairs(&rows(&doc, "match-condition[cel]", Some("no-team-label"))), [("no".into(), "0".into(), true)]);
    // A DELETE review: variables.anyObject is the old object.
    assert_eq!(rows(&doc, "required-labels[cel]", Some("delete-protected"))[0]["messages"], serde_json::json!(["protected objects cannot be deleted"]));
}

#[test]
fn a_template_with_both_engines_runs_under_each_and_reports_both() {
    let (out, doc) = verdict_test("cel-disagree", &[]);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(pairs(&rows(&doc, "two-engines[rego]", Some("owner-only"))), [("no".into(), "0".into(), true)]);
    let cel = rows(&doc, "two-engines[cel]", Some("owner-only"));
    assert_eq!(pairs(&cel), [("no".into(), "1".into(), false)]);
    assert_eq!(cel[0]["messages"], serde_json::json!(["cel: the team label is required"]));
    assert_eq!((doc["summary"]["passed"].as_u64(), doc["summary"]["failed"].as_u64()), (Some(3), Some(1)), "{doc:#}");
    // JUnit names stay unique across the two engines.
    let junit = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["test", "cel-disagree", "--format", "junit"])
        .current_dir(fixtures())
        .output()
        .expect("run verdict");
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.contains("two-engines[rego]/owner-only assertion 1") && xml.contains("two-engines[cel]/owner-only assertion 1"), "{xml}");
    // --gator-engine picks one path, as gator's --enable-k8s-native-validation does.
    for (engine, exit, failed) in [("rego", 0, 0), ("cel", 1, 1)] {
        let (out, doc) = verdict_test("cel-disagree", &["--gator-engine", engine]);
        assert_eq!(out.status.code(), Some(exit), "{engine}: {doc:#}");
        let tests: Vec<&str> = doc["results"].as_array().unwrap().iter().map(|r| r["test"].as_str().unwrap()).collect();
        assert!(tests.iter().all(|t| t.ends_with(&format!("[{engine}]"))), "{engine}: {tests:?}");
        assert_eq!(doc["summary"]["failed"].as_u64(), Some(failed), "{engine}: {doc:#}");
    }
}

#[test]
fn a_cel_compile_error_is_a_load_error_naming_file_line_and_expression() {
    let (out, doc) = verdict_test("cel-broken", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    let error = &doc["load_errors"][0];
    assert_eq!((error["path"].as_str().unwrap(), error["line"].as_u64()), ("tests/fixtures/gator/cel-broken/template.yaml", Some(19)), "{error:#}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("validations[1].expression") && message.contains("l.startsWith('team')"), "{message}");
    // A CEL-only template runs on CEL whatever --gator-engine says, so the error stays.
    let (out, _) = verdict_test("cel-broken", &["--gator-engine", "rego"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gator_engine_rego_never_compiles_a_templates_cel_code() {
    // Both engines, the CEL code broken: a load error by default and on the CEL
    // path; the Rego path runs, as gator with --enable-k8s-native-validation=false.
    for (extra, exit) in [(&[][..], 2), (&["--gator-engine", "cel"][..], 2), (&["--gator-engine", "rego"][..], 0)] {
        let (out, doc) = verdict_test("cel-broken-both", extra);
        assert_eq!(out.status.code(), Some(exit), "{extra:?}: {doc:#}");
    }
    let (_, doc) = verdict_test("cel-broken-both", &["--gator-engine", "rego"]);
    assert_eq!(doc["summary"]["passed"].as_u64(), Some(2), "{doc:#}");
}

#[test]
fn an_expansion_template_reviews_a_workload_as_the_pod_it_creates() {
    let (out, doc) = verdict_test("expansion", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let deployment = rows(&doc, "pods-of-workloads", Some("privileged-deployment"));
    assert_eq!(deployment[0]["messages"], serde_json::json!(["[Implied by expand-deployments] container app of Pod web-pod is privileged"]));
    assert_eq!(deployment[0]["resource"], "Deployment/shop/web");
    // CronJob -> Job -> Pod: expanded twice, the name built from each parent, lower case.
    let cronjob = rows(&doc, "pods-of-workloads", Some("privileged-cronjob"));
    assert_eq!(cronjob[0]["messages"], serde_json::json!(["[Implied by expand-jobs] container report of Pod nightly-report-job-pod is privileged"]));
    assert_eq!(pairs(&rows(&doc, "pods-of-workloads", Some("clean-deployment"))), [("no".into(), "0".into(), true)]);
    // spec.match.source: Original ignores generated Pods.
    assert_eq!(pairs(&rows(&doc, "original-objects-only", Some("privileged-deployment"))), [("no".into(), "0".into(), true)]);
    // Without the expansion file the Deployment is not a Pod, and the constraint does not see it.
    assert_eq!(pairs(&rows(&doc, "without-expansion", Some("privileged-deployment"))), [("no".into(), "0".into(), true)]);
}

#[test]
fn a_bad_expansion_file_fails_its_test_naming_file_and_line() {
    let (out, doc) = verdict_test("expansion-broken", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    let errors = doc["load_errors"].as_array().unwrap();
    let find = |file: &str| {
        errors
            .iter()
            .find(|e| e["path"] == format!("tests/fixtures/gator/expansion-broken/{file}"))
            .unwrap_or_else(|| panic!("no error for {file}: {doc:#}"))
    };
    // gator verify reads only ExpansionTemplates from an expansion file.
    let mutator = find("expansion-with-mutator.yaml");
    assert_eq!(mutator["line"], 16);
    assert!(mutator["message"].as_str().unwrap().contains("Assign"), "{mutator:#}");
    let cycle = find("expansion-cycle.yaml");
    assert!(cycle["message"].as_str().unwrap().contains("deployments-to-replicasets -> replicasets-to-deployments"), "{cycle:#}");
    let typo = find("expansion-misspelt.yaml");
    assert_eq!(typo["line"], 10);
    assert!(typo["message"].as_str().unwrap().contains("did you mean `templateSource`"), "{typo:#}");
    let missing = find("suite.yaml");
    assert!(missing["message"].as_str().unwrap().contains("no-such-expansion.yaml"), "{missing:#}");
    // A workload without the template's source field is an error for that case only.
    let absent = rows(&doc, "source-field-absent", Some("privileged-deployment"));
    assert_eq!(absent[0]["actual"], "error");
    assert!(absent[0]["messages"][0].as_str().unwrap().contains("spec.podTemplate"), "{doc:#}");
    assert_eq!(pairs(&rows(&doc, "source-field-absent", Some("privileged-pod"))), [("1".into(), "1".into(), true)]);
    assert_eq!(rows(&doc, "mutator-in-expansion-file", Some("privileged-deployment")).len(), 0);
}

#[test]
fn an_admission_review_with_an_unknown_field_is_an_error_for_its_case() {
    let (out, doc) = verdict_test("broken", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    let errors = doc["load_errors"].as_array().unwrap();
    let review = errors
        .iter()
        .find(|e| e["path"] == "tests/fixtures/gator/broken/review-misspelt.yaml")
        .unwrap_or_else(|| panic!("no error for the misspelt AdmissionReview: {doc:#}"));
    assert_eq!(review["line"], 11);
    assert!(review["message"].as_str().unwrap().contains("/request/userinfo: unknown field (did you mean `userInfo`?)"), "{review:#}");
    assert!(rows(&doc, "admission-review-misspelt", Some("userinfo-lower-case")).is_empty(), "{doc:#}");
    // As in gator, the error is the case's: the next case of the test still runs.
    assert_eq!(rows(&doc, "admission-review-misspelt", Some("next-case-runs"))[0]["ok"], true, "{doc:#}");
}

#[test]
fn suite_objects_are_checked_against_the_kubernetes_schema() {
    let (out, doc) = verdict_test("schema", &[]);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let error = |case: &str| {
        let row = &rows(&doc, "suite-objects-are-kubernetes-objects", Some(case))[0];
        assert_eq!(row["actual"], "error", "{row:#}");
        row["messages"][0].as_str().unwrap().to_string()
    };
    // Without the check, `violations: no` would pass: the misspelt securityContext hides `privileged`.
    let object = error("misspelt-security-context");
    assert!(object.starts_with("schema/object-misspelt.yaml:10:"), "{object}");
    assert!(object.contains("/spec/containers/0/securityContex: unknown field (did you mean `securityContext`?)"), "{object}");
    let inventory = error("misspelt-inventory");
    assert!(inventory.starts_with("schema/inventory-misspelt.yaml:11:"), "{inventory}");
    assert!(inventory.contains("/metadata/lables"), "{inventory}");
    // An AdmissionReview's object is a Kubernetes object too, located under /request/object.
    let review = error("misspelt-review-object");
    assert!(review.contains("review-object-misspelt.yaml:22:") && review.contains("/request/object/spec/hostNetwrk"), "{review}");
    assert_eq!(rows(&doc, "suite-objects-are-kubernetes-objects", Some("valid"))[0]["ok"], true);

    // --schema warn runs the objects as written and reports each problem once.
    let (out, doc) = verdict_test("schema", &["--schema", "warn"]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 3, "{doc:#}");
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("securityContex")), "{doc:#}");
    let (out, doc) = verdict_test("schema", &["--schema", "off"]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["warnings"].as_array().map_or(0, Vec::len), 0, "{doc:#}");
}
