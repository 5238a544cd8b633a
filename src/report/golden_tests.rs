//! Every output format over one fixed run, checked against golden snapshots in
//! `src/report/snapshots/`, plus a structural check that each parses back.

use super::OutputFormat;
use crate::error::LoadError;
use crate::runner::{RunSummary, TestResult};

fn row(
    test: &str,
    expected: &str,
    actual: &str,
    skipped: Option<&str>,
    messages: &[&str],
) -> TestResult {
    TestResult {
        suite: "cases/no-latest-image-tag".to_string(),
        test: test.to_string(),
        case: None,
        rule: "no-latest-image-tag".to_string(),
        resource: "Deployment/shop/web".to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
        ok: expected == actual && skipped.is_none(),
        skipped: skipped.map(str::to_string),
        messages: messages.iter().map(|m| m.to_string()).collect(),
        file: Some(format!("/repo/cases/no-latest-image-tag/{test}").into()),
        line: (actual == "error").then_some(3),
    }
}

fn summary() -> RunSummary {
    RunSummary {
        results: vec![
            row("pass-pinned.yaml", "pass", "pass", None, &[]),
            row(
                "fail-latest.yaml",
                "fail",
                "fail",
                None,
                &["container \"web\" uses image \"web:latest\""],
            ),
            row("fail-untagged.yaml", "fail", "pass", None, &[]),
            row(
                "pass-broken.yaml",
                "pass",
                "error",
                None,
                &["cases/x.yaml:3: invalid YAML & <bad> \"quotes\"\nsecond line"],
            ),
            row(
                "fail-image.image.yaml",
                "fail",
                "skip",
                Some("image cases need the OCI image gates"),
                &[],
            ),
        ],
        verdicts: Vec::new(),
        load_errors: vec![LoadError::at_line(
            "/repo/policies/gate/broken.rego",
            7,
            "rego parse error: unexpected `}`",
        )],
        warnings: vec!["suite.yaml: rule x matched no resource".to_string()],
        base: "/repo".into(),
        ..RunSummary::default()
    }
}

fn render(format: OutputFormat) -> String {
    let mut out = Vec::new();
    format
        .formatter()
        .write(&summary(), &mut out)
        .expect("write");
    // Colour is stripped on the way out, as the CLI's streams do off a terminal.
    String::from_utf8(anstream::adapter::strip_bytes(&out).into_vec()).expect("utf-8")
}

#[test]
fn json_matches_golden_and_the_contract() {
    let text = render(OutputFormat::Json);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(
        doc["summary"],
        serde_json::json!({"passed": 2, "failed": 1, "errors": 2, "skipped": 1})
    );
    insta::assert_snapshot!("json", text);
}

#[test]
fn junit_matches_golden_and_parses_back() {
    let text = render(OutputFormat::Junit);
    let parsed = quick_junit::Report::deserialize_from_str(&text).expect("JUnit parses back");
    assert_eq!(parsed.tests, 6);
    assert_eq!(parsed.failures, 1);
    assert_eq!(parsed.errors, 2);
    insta::assert_snapshot!("junit", text);
}

#[test]
fn sarif_matches_golden_and_has_one_result_per_problem() {
    let text = render(OutputFormat::Sarif);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 3);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("sarif-schema/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "not valid SARIF 2.1.0: {problems:#?}");
    insta::assert_snapshot!("sarif", text);
}

#[test]
fn github_and_human_match_golden() {
    let github = render(OutputFormat::Github);
    assert!(
        github.contains("%0Asecond line"),
        "newlines escaped: {github}"
    );
    insta::assert_snapshot!("github", github);
    insta::assert_snapshot!("human", render(OutputFormat::Human));
}
