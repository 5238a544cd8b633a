//! Drives `verdict test --format junit|sarif|github` over gator suites, Rego unit
//! tests, kyverno-test suites and library cases, and checks each output with the
//! tool that reads it: a strict XML 1.0 parser for JUnit, the SARIF 2.1.0 JSON
//! Schema (`src/report/sarif-schema/`) for SARIF, GitHub's workflow-command syntax.
//! `report-formats/hostile-messages` fails with messages holding markup, `]]>`,
//! quotes, newlines, ANSI colour and control characters.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `verdict test PATHS --format FORMAT`, run from the repository root so
/// reported paths are repository-relative.
fn verdict_test(paths: &[&str], format: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .arg("test")
        .args(paths)
        .args(["--format", format])
        .current_dir(repo())
        .output()
        .expect("run verdict")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const HOSTILE: &str = "tests/fixtures/report-formats/hostile-messages";
/// Failing expectations of every kind: gator assertions, Rego unit tests
/// (false, undefined, error), a kyverno-test result, library cases.
const FAILING: &[&str] = &[
    HOSTILE,
    "tests/fixtures/gator/failing",
    "tests/fixtures/gator/invalid",
    "tests/fixtures/rego_test/failing",
    "tests/fixtures/authoring/failing-suite",
    "tests/fixtures/authoring/case-names",
];
const PASSING: &[&str] = &[
    "tests/fixtures/gator/passing",
    "tests/fixtures/rego_test/passing",
];
const BROKEN: &[&str] = &[
    "tests/fixtures/gator/broken",
    "tests/fixtures/rego_test/broken",
];

/// The number of assertions a gator suite file holds.
fn assertions_in(suite: &Path) -> usize {
    let doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(suite).unwrap()).unwrap();
    doc["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["cases"].as_array().cloned().unwrap_or_default())
        .map(|c| c["assertions"].as_array().map_or(0, Vec::len))
        .sum()
}

/// Rows that count as problems: failed or errored expectations, and load errors.
fn problems(doc: &Value) -> (Vec<&Value>, &Vec<Value>) {
    let failed = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false && r.get("skipped").is_none())
        .collect();
    (failed, doc["load_errors"].as_array().unwrap())
}

#[test]
fn junit_is_well_formed_with_one_testcase_per_assertion_whatever_the_messages() {
    let paths: Vec<&str> = FAILING
        .iter()
        .chain(PASSING)
        .chain(BROKEN)
        .copied()
        .collect();
    let out = verdict_test(&paths, "junit");
    assert_eq!(
        out.status.code(),
        Some(2),
        "load errors decide the exit code"
    );
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("JUnit is not well-formed XML: {e}\n{xml}"));
    let json = json_of(&verdict_test(&paths, "json"));
    let testcases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(
        testcases.len(),
        json["results"].as_array().unwrap().len() + json["load_errors"].as_array().unwrap().len(),
        "one testcase per result row and per load error"
    );

    let suites: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    for suite in &suites {
        // JUnit readers key a testcase by classname and name.
        let names: Vec<(Option<&str>, &str)> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| (n.attribute("classname"), n.attribute("name").unwrap()))
            .collect();
        let unique: BTreeSet<&(Option<&str>, &str)> = names.iter().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "testcase names repeat in {:?}: {names:#?}",
            suite.attribute("name")
        );
    }
    // One testsuite per gator suite file, named by its path, one testcase per assertion.
    for dir in [
        HOSTILE,
        "tests/fixtures/gator/passing",
        "tests/fixtures/gator/failing",
    ] {
        let file = format!("{dir}/suite.yaml");
        let suite = suites
            .iter()
            .find(|s| s.attribute("name") == Some(file.as_str()))
            .unwrap_or_else(|| panic!("no testsuite named {file}"));
        let cases = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(cases, assertions_in(&repo().join(&file)), "{file}");
    }

    let hostile = suites
        .iter()
        .find(|s| s.attribute("name") == Some(&*format!("{HOSTILE}/suite.yaml")))
        .unwrap();
    assert_eq!(hostile.attribute("failures"), Some("3"));
    let failure_text: String = hostile
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.text())
        .collect();
    for kept in [
        "<script>alert(1)</script> & ]]> \"double\" 'single'\nsecond line",
        "third: a, b % c",
        "red bell\\u{7}",
        "\\u{1}\\u{b}\\u{c}\\u{1f} end",
    ] {
        assert!(
            failure_text.contains(kept),
            "{kept:?} not in the failure text {failure_text:?}"
        );
    }
    assert!(
        !failure_text.contains('\u{1b}'),
        "ANSI colour left in {failure_text:?}"
    );
    let name = hostile
        .children()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap()
        .attribute("name")
        .unwrap();
    assert_eq!(name, "markup <&> \"quoted\" test/fast, with: colons assertion 1: violations 2 [ConfigMap/shop/settings]");
}

#[test]
fn junit_written_by_report_is_well_formed_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out/junit.xml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["test", HOSTILE, "--format", "json", "--report"])
        .arg(format!("junit:{}", file.display()))
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&file).unwrap();
    let doc =
        roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        assertions_in(&repo().join(HOSTILE).join("suite.yaml"))
    );
}

fn sarif_validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(repo().join("src/report/sarif-schema/sarif-schema-2.1.0.json"))
            .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn schema_problems(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// SARIF `physicalLocation` as (uri, startLine).
fn sarif_location(result: &Value) -> Option<(String, Option<u64>)> {
    let physical = &result["locations"][0]["physicalLocation"];
    let uri = physical["artifactLocation"]["uri"].as_str()?;
    Some((uri.to_string(), physical["region"]["startLine"].as_u64()))
}

#[test]
fn the_validator_rejects_what_is_not_sarif() {
    let bad: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/report-formats/not-sarif.json"))
            .unwrap(),
    )
    .unwrap();
    let problems = schema_problems(&sarif_validator(), &bad);
    for path in [
        "/runs/0/results/0/level",
        "/runs/0/results/0/locations/0/physicalLocation/region/startLine",
        "/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{path}:"))),
            "{path} not reported: {problems:#?}"
        );
    }
}

#[test]
fn sarif_of_a_passing_run_is_valid_and_empty() {
    let validator = sarif_validator();
    let out = verdict_test(PASSING, "sarif");
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out);
    assert_eq!(schema_problems(&validator, &doc), Vec::<String>::new());
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn sarif_of_a_failing_run_has_a_located_result_per_failed_expectation() {
    let validator = sarif_validator();
    let out = verdict_test(FAILING, "sarif");
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(schema_problems(&validator, &doc), Vec::<String>::new());
    let json = json_of(&verdict_test(FAILING, "json"));
    let (failed, load_errors) = problems(&json);
    assert!(load_errors.is_empty());
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        failed.len(),
        "one SARIF result per failed expectation"
    );
    let rule_ids: BTreeSet<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut kinds = BTreeSet::new();
    for (row, result) in failed.iter().zip(results) {
        assert!(
            rule_ids.contains(result["ruleId"].as_str().unwrap()),
            "{result:#}"
        );
        let (uri, line) =
            sarif_location(result).unwrap_or_else(|| panic!("no location: {result:#}"));
        assert_eq!(Some(uri.as_str()), row["file"].as_str(), "{result:#}");
        assert!(repo().join(&uri).is_file(), "{uri}");
        assert_eq!(line, row["line"].as_u64(), "{result:#}");
        kinds.insert(
            Path::new(&uri)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    // The gator assertion's own line in suite.yaml, the Rego test rule's line.
    let at = |file: &str| {
        results
            .iter()
            .filter_map(sarif_location)
            .filter(|(u, _)| u == file)
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
    };
    assert_eq!(at("tests/fixtures/gator/failing/suite.yaml"), [Some(14)]);
    assert_eq!(
        at("tests/fixtures/rego_test/failing/ports_test.rego"),
        [Some(11), Some(15), Some(17)]
    );
    for file in [
        "suite.yaml",
        "ports_test.rego",
        "kyverno-test.yaml",
        "pass-notes.txt",
    ] {
        assert!(
            kinds.contains(file),
            "no result located in a {file}: {kinds:?}"
        );
    }
}

#[test]
fn sarif_of_a_run_with_load_errors_locates_each_error() {
    let validator = sarif_validator();
    let out = verdict_test(BROKEN, "sarif");
    assert_eq!(out.status.code(), Some(2));
    let doc = json_of(&out);
    assert_eq!(schema_problems(&validator, &doc), Vec::<String>::new());
    let json = json_of(&verdict_test(BROKEN, "json"));
    let (failed, load_errors) = problems(&json);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), failed.len() + load_errors.len());
    for (error, result) in load_errors.iter().zip(results) {
        assert_eq!(result["ruleId"], "load-error");
        assert_eq!(
            sarif_location(result),
            Some((
                error["path"].as_str().unwrap().to_string(),
                error["line"].as_u64()
            ))
        );
    }
}

/// A workflow command: its name, properties (unescaped) and message (unescaped).
fn parse_command(line: &str) -> (String, Vec<(String, String)>, String) {
    let rest = line
        .strip_prefix("::")
        .unwrap_or_else(|| panic!("not a workflow command: {line}"));
    let (head, message) = rest.split_once("::").unwrap();
    let (name, properties) = head.split_once(' ').unwrap_or((head, ""));
    let unescape = |s: &str| {
        s.replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%25", "%")
    };
    let properties = properties
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .unwrap_or_else(|| panic!("property without a value in {line}"));
            (k.to_string(), unescape(v))
        })
        .collect();
    (name.to_string(), properties, unescape(message))
}

#[test]
fn github_annotations_sit_on_the_failing_files_and_lines() {
    let paths: Vec<&str> = FAILING.iter().chain(BROKEN).copied().collect();
    let out = verdict_test(&paths, "github");
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let json = json_of(&verdict_test(&paths, "json"));
    let (failed, load_errors) = problems(&json);
    let commands: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(parse_command)
        .collect();
    assert_eq!(commands.len(), failed.len() + load_errors.len(), "{text}");
    assert!(!text.contains('\r'), "a raw CR would end the command");
    let expected_places = load_errors
        .iter()
        .map(|e| (e["path"].as_str(), e["line"].as_u64()))
        .chain(
            failed
                .iter()
                .map(|r| (r["file"].as_str(), r["line"].as_u64())),
        );
    for ((name, properties, _), (file, line)) in commands.iter().zip(expected_places) {
        assert_eq!(name, "error");
        let get = |k: &str| {
            properties
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("file"), file);
        assert!(repo().join(get("file").unwrap()).is_file());
        assert_eq!(get("line").map(|l| l.parse::<u64>().unwrap()), line);
        assert!(get("title").is_some_and(|t| !t.is_empty()));
    }
    let hostile = commands
        .iter()
        .find(|(_, p, m)| {
            p.iter().any(|(k, v)| k == "file" && v.starts_with(HOSTILE)) && m.contains("got 2")
        })
        .expect("the hostile suite's annotation");
    assert!(
        hostile
            .2
            .contains("\"double\" 'single'\nsecond line\r\nthird: a, b % c"),
        "message survives the round trip: {:?}",
        hostile.2
    );
    assert!(
        hostile
            .2
            .contains("markup <&> \"quoted\" test/fast, with: colons"),
        "{:?}",
        hostile.2
    );
}
