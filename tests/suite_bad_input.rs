//! Drives `verdict test` over broken external suites (tests/fixtures/suite-bad-input/):
//! each broken gator suite or Rego unit-test file is an error naming the file and
//! line, the good suites beside them still run and pass, and the exit code follows
//! the contract (2 when something could not be loaded, 1 when a test errored).

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const FIXTURES: &str = "tests/fixtures/suite-bad-input";

fn verdict_test(path: &str) -> (Output, Value) {
    support::verdict_json(&["test", path], &repo())
}

/// The load error whose path is `FIXTURES/file` and whose message says `says`.
fn error_at<'a>(doc: &'a Value, file: &str, says: &str) -> &'a Value {
    let path = format!("{FIXTURES}/{file}");
    let found: Vec<&Value> = doc["load_errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == path.as_str() && e["message"].as_str().unwrap_or("").contains(says))
        .collect();
    assert_eq!(found.len(), 1, "one load error for {path} saying {says:?}: {doc:#}");
    found[0]
}

fn row<'a>(doc: &'a Value, suite: &str, test: &str) -> &'a Value {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["suite"] == suite && r["test"] == test)
        .unwrap_or_else(|| panic!("no row {suite} {test}: {doc:#}"))
}

#[test]
fn each_broken_suite_is_an_error_naming_file_and_line_and_the_others_still_run() {
    let (out, doc) = verdict_test(FIXTURES);
    assert_eq!(out.status.code(), Some(2), "a load error exits 2: {doc:#}");
    let errors = doc["load_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 10, "{doc:#}");
    for (file, line, says) in [
        // The parser stops at the end of the Rego block, where the `}` is missing.
        ("gator-bad-rego/template.yaml", 18, "Rego does not compile"),
        (
            "gator-missing-fields/template.yaml",
            3,
            "spec.crd.spec.names.kind is missing",
        ),
        // The suite line that names the missing file.
        (
            "gator-missing-file/suite.yaml",
            7,
            "template no-such-template.yaml does not exist",
        ),
        (
            "gator-missing-file/suite.yaml",
            16,
            "constraint no-such-constraint.yaml does not exist",
        ),
        // Both files missing: the template is the one named.
        (
            "gator-missing-file/suite.yaml",
            24,
            "template no-such-template-either.yaml does not exist",
        ),
        (
            "gator-missing-file/suite.yaml",
            34,
            "expansion no-such-expansion.yaml does not exist",
        ),
        // Case files are read without a lookup first; a missing one is the same error.
        (
            "gator-missing-case-file/suite.yaml",
            11,
            "object no-such-object.yaml does not exist",
        ),
        (
            "gator-missing-case-file/suite.yaml",
            17,
            "inventory file no-such-inventory.yaml does not exist",
        ),
        (
            "gator-unknown-kind/constraint.yaml",
            1,
            "is of kind K8sNoSuchKind, which no template of this test defines",
        ),
        ("rego-unparsable/unparsable_test.rego", 10, "expecting `}`"),
    ] {
        let error = error_at(&doc, file, says);
        assert_eq!(error["line"], line, "{error:#}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{file}: {error:#}"
        );
    }
    // A test file that does not parse runs none of its tests, as `opa test` refuses it.
    assert!(!doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["suite"] == "rego-unparsable/unparsable_test.rego"));

    // The good suites ran and passed.
    let good = row(&doc, "gator-good/suite.yaml", "deny-fast");
    assert_eq!(
        (
            good["expected"].as_str(),
            good["actual"].as_str(),
            good["ok"].as_bool()
        ),
        (Some("1 matching /^mode fast/"), Some("1"), Some(true))
    );
    assert_eq!(
        row(&doc, "rego-good/good_test.rego", "test_arithmetic")["ok"],
        true
    );

    // The looping test is cut by the evaluation time limit; its neighbour still passes.
    let looping = row(&doc, "rego-looping/loop_test.rego", "test_never_ends");
    assert_eq!(looping["actual"], "error");
    assert!(
        looping["messages"][0]
            .as_str()
            .unwrap()
            .contains("time limit"),
        "{looping:#}"
    );
    assert_eq!(looping["line"], 6, "the test rule's line");
    assert_eq!(
        row(&doc, "rego-looping/loop_test.rego", "test_quick")["ok"],
        true
    );
    assert_eq!(
        doc["summary"],
        serde_json::json!({"passed": 3, "failed": 0, "errors": 12, "skipped": 0})
    );
}

#[test]
fn a_looping_rego_test_alone_is_an_error_that_exits_1() {
    let started = std::time::Instant::now();
    let (out, doc) = verdict_test(&format!("{FIXTURES}/rego-looping"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "an errored test is a failed expectation, not a load error: {doc:#}"
    );
    assert_eq!(doc["load_errors"], serde_json::json!([]));
    assert_eq!(doc["summary"]["errors"], 1);
    // The 5 s evaluation limit, not the test's ten billion iterations, ended it.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_suite_that_cannot_load_is_exit_2_even_with_nothing_else_to_run() {
    let (out, doc) = verdict_test(&format!("{FIXTURES}/gator-missing-file"));
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    assert_eq!(doc["results"], serde_json::json!([]));
    assert_eq!(error_at(&doc, "gator-missing-file/suite.yaml", "no-such-template.yaml")["line"], 7);
}
