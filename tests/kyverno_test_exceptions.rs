//! `verdict test` on kyverno-test suites with `exceptions:`
//! (`tests/fixtures/kyverno-test-exceptions/`): classic PolicyExceptions lift
//! ClusterPolicy rules, CEL ones lift ValidatingPolicies (and
//! NamespacedValidatingPolicies, by kind), and a broken exception file is a
//! load error naming it.

mod support;

use serde_json::Value;
use std::path::Path;
use support::verdict_json;

/// (resource, actual, ok, messages) of one result.
type Row = (String, String, bool, String);

/// The exit code, every result and the JSON document of one suite directory.
fn run(dir: &str) -> (Option<i32>, Vec<Row>, Value) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = format!("tests/fixtures/kyverno-test-exceptions/{dir}");
    let (out, doc) = verdict_json(&["test", &path], repo);
    let results = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            assert!(r["skipped"].is_null(), "no row is skipped: {r:#}");
            (
                r["resource"].as_str().unwrap().to_string(),
                r["actual"].as_str().unwrap().to_string(),
                r["ok"].as_bool().unwrap(),
                r["messages"].to_string(),
            )
        })
        .collect();
    (out.status.code(), results, doc)
}

fn outcomes(results: &[Row]) -> Vec<(&str, &str, bool)> {
    results
        .iter()
        .map(|(resource, actual, ok, _)| (resource.as_str(), actual.as_str(), *ok))
        .collect()
}

#[test]
fn classic_exceptions_lift_the_named_rules_for_the_matched_resources() {
    let (code, results, doc) = run("classic");
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(
        outcomes(&results),
        vec![
            ("Pod/ops/tool-1", "skip", true),
            ("Pod/ops/web", "fail", true),
            ("Pod/ops/tool-1", "fail", true),
            ("Pod/default/dev-pod", "skip", true),
            ("Pod/default/dev-pod", "skip", true),
            ("Deployment/ops/tool-deploy", "fail", true),
            ("Pod/default/odd-pod", "error", true),
        ]
    );
    assert!(
        results[0].3.contains("policy exceptions kyverno/tools"),
        "{}",
        results[0].3
    );
    assert!(results[3].3.contains("dev-tier"), "{}", results[3].3);
    assert!(
        results[5].3.contains("autogen-check-team"),
        "{}",
        results[5].3
    );
    assert!(
        results[6]
            .3
            .contains("conditions of PolicyException odd-conditions"),
        "{}",
        results[6].3
    );
}

#[test]
fn cel_exceptions_lift_validating_policies() {
    let (code, results, doc) = run("cel");
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(
        outcomes(&results),
        vec![
            ("Pod/ops/tool-1", "skip", true),
            ("Pod/ops/web", "fail", true),
            ("Pod/ops/audited", "pass", true),
            ("Pod/ops/web", "error", true),
        ]
    );
    assert!(
        results[0].3.contains("due to policy exception: ops/tools"),
        "{}",
        results[0].3
    );
    assert!(
        results[2]
            .3
            .contains("rule is passed due to policy exception: audited"),
        "{}",
        results[2].3
    );
    assert!(
        results[3].3.contains("broken-condition"),
        "{}",
        results[3].3
    );
}

#[test]
fn cel_exceptions_lift_namespaced_validating_policies_by_kind() {
    let (code, results, doc) = run("namespaced");
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(
        outcomes(&results),
        vec![
            ("Pod/ops/tool-1", "skip", true),
            ("Pod/ops/web", "fail", true),
            ("Pod/dev/elsewhere", "fail", true),
        ]
    );
    assert!(results[0].3.contains("due to policy exception: ops/tools"), "{}", results[0].3);
    assert!(results[1].3.contains("a team label is required"), "{}", results[1].3);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("Pod/dev/elsewhere: outside NamespacedValidatingPolicy `ops/require-team`'s namespace"),
        "{warnings}"
    );
    assert!(!warnings.contains("Pod/ops/"), "{warnings}");
}

#[test]
fn a_broken_exception_file_is_a_load_error_naming_file_and_line() {
    for (dir, line, says) in [
        (
            "broken-field",
            7,
            "unknown field (did you mean `ruleNames`?)",
        ),
        (
            "broken-cel",
            11,
            "spec.matchConditions[0]: CEL expression `object.metadata.name ==` does not compile",
        ),
    ] {
        let (code, results, doc) = run(dir);
        assert_eq!(code, Some(2), "{dir}: load errors exit 2: {doc:#}");
        assert!(results.is_empty(), "{dir}: {results:?}");
        let error = &doc["load_errors"][0];
        assert!(
            error["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{dir}/exceptions.yaml")),
            "{dir}: {error:#}"
        );
        assert_eq!(error["line"], line, "{dir}: {error:#}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{dir}: {error:#}"
        );
    }
}
