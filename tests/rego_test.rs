//! Drives `verdict test` over Rego unit tests (tests/fixtures/rego_test/): one JSON
//! row per `test_*` rule, `todo_test_*` skipped, `with` overrides, exit codes,
//! parse errors naming file and line, the evaluation time limit, `--filter`.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rego_test")
}

fn verdict_test(dir: &str, extra: &[&str]) -> (Output, Value) {
    let args: Vec<&str> = ["test", dir].into_iter().chain(extra.iter().copied()).collect();
    support::verdict_json(&args, &fixtures())
}

/// `(test, actual, ok)` of every row, in order.
fn rows(doc: &Value) -> Vec<(String, String, bool)> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["test"].as_str().unwrap().to_string(), r["actual"].as_str().unwrap().to_string(), r["ok"] == true))
        .collect()
}

fn row<'a>(doc: &'a Value, test: &str) -> &'a Value {
    doc["results"].as_array().unwrap().iter().find(|r| r["test"] == test).unwrap_or_else(|| panic!("no row {test}: {doc:#}"))
}

fn owned(rows: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    rows.iter().map(|(t, a, ok)| (t.to_string(), a.to_string(), *ok)).collect()
}

#[test]
fn passing_tests_with_input_data_and_function_overrides_exit_0() {
    let (out, doc) = verdict_test("passing", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(
        rows(&doc),
        owned(&[
            ("test_complete_resource_has_no_missing_tags", "true", true),
            ("test_missing_owner_is_denied", "true", true),
            ("test_required_tags_come_from_data", "true", true),
            ("test_function_mock", "true", true),
            ("todo_test_tags_are_case_insensitive", "skip", false),
        ])
    );
    let first = row(&doc, "test_complete_resource_has_no_missing_tags");
    assert_eq!(first["suite"], "tags_test.rego");
    assert_eq!(first["rule"], "tags_test.test_complete_resource_has_no_missing_tags");
    assert_eq!(first["expected"], "true");
    assert_eq!(doc["summary"]["passed"], 4);
    assert_eq!(doc["summary"]["skipped"], 1);
}

#[test]
fn todo_tests_are_skipped_not_run() {
    let (_, doc) = verdict_test("passing", &[]);
    let todo = row(&doc, "todo_test_tags_are_case_insensitive");
    assert_eq!(todo["skipped"], "todo_ test (opa test skips it)");
    assert_eq!(todo["actual"], "skip");
}

#[test]
fn false_undefined_and_errors_fail_with_exit_1() {
    let (out, doc) = verdict_test("failing", &[]);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(
        rows(&doc),
        owned(&[
            ("test_ssh_is_open", "true", true),
            ("test_nothing_open_when_https_listed", "undefined", false),
            ("test_false_value", "false", false),
            ("test_eval_error", "undefined", false),
        ])
    );
    let error = row(&doc, "test_eval_error");
    let message = error["messages"].to_string();
    assert!(message.contains("ports_test.rego:18:") && message.contains("could not parse string as number"), "{message}");
    // As in opa test, a builtin that fails makes the test undefined: a failure
    // that names the builtin's error, not an error row.
    assert_eq!(doc["summary"]["failed"], 3);
    assert_eq!(doc["summary"]["errors"], 0);
}

#[test]
fn a_test_file_that_does_not_parse_is_a_load_error_and_the_others_still_run() {
    let (out, doc) = verdict_test("broken", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    assert_eq!(rows(&doc), owned(&[("test_still_runs", "true", true)]));
    let errors = doc["load_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert!(errors[0]["path"].as_str().unwrap().ends_with("broken/parse_test.rego"), "{doc:#}");
    assert_eq!(errors[0]["line"], 9);
    assert!(errors[0]["message"].as_str().unwrap().contains("expecting expression"), "{doc:#}");
}

#[test]
fn a_looping_test_fails_at_the_evaluation_time_limit() {
    let started = std::time::Instant::now();
    let (out, doc) = verdict_test("looping", &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(rows(&doc), owned(&[("test_never_ends", "error", false), ("test_quick", "true", true)]));
    let message = row(&doc, "test_never_ends")["messages"][0].as_str().unwrap().to_string();
    assert!(message.starts_with("evaluation exceeded the time limit of 5000ms"), "{message}");
}

#[test]
fn filter_selects_tests_by_name_or_package_dot_name() {
    let (out, doc) = verdict_test("failing", &["--filter", "ports_test.test_ssh*"]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(rows(&doc), owned(&[("test_ssh_is_open", "true", true)]));
    let (out, doc) = verdict_test("passing", &["--filter", "test_missing_*"]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(rows(&doc), owned(&[("test_missing_owner_is_denied", "true", true)]));
    // Filtering happens before evaluation: the looping test is never started.
    let started = std::time::Instant::now();
    let (out, doc) = verdict_test("looping", &["--filter", "test_quick"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(rows(&doc), owned(&[("test_quick", "true", true)]));
}

/// `verdict test` with no PATH, in `dir` (a project), with `extra` flags.
fn verdict_library(dir: &str, extra: &[&str]) -> (Output, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["test", "--format", "json"])
        .args(extra)
        .current_dir(fixtures().join(dir))
        .output()
        .expect("run verdict");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, doc)
}

/// `(suite, test)` of the rows of Rego unit tests (their suite is a `_test.rego` file).
fn unit_test_rows(doc: &Value) -> Vec<(String, String)> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["suite"].as_str().unwrap().ends_with("_test.rego"))
        .map(|r| {
            (
                r["suite"].as_str().unwrap().to_string(),
                r["test"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_library_run_includes_the_unit_tests_beside_the_rules_in_every_format() {
    let (out, doc) = verdict_library("project", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let suite = "policies/config/max-replicas_test.rego";
    assert_eq!(
        unit_test_rows(&doc),
        [
            ("test_three_replicas_pass"),
            ("test_nine_replicas_fail"),
            ("test_text_replicas_fail")
        ]
        .map(|t| (suite.to_string(), t.to_string()))
    );
    // Four cases (two rules) and three unit tests pass; the absent corpus is skipped.
    assert_eq!(doc["summary"]["passed"], 7, "{doc:#}");

    let junit = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["test", "--format", "junit"])
        .current_dir(fixtures().join("project"))
        .output()
        .unwrap();
    let xml = String::from_utf8(junit.stdout).unwrap();
    assert!(xml.contains("test_text_replicas_fail"), "{xml}");

    // --filter by the rule id selects its cases and the unit tests beside it.
    let (_, filtered) = verdict_library("project", &["--filter", "max-replicas"]);
    assert_eq!(unit_test_rows(&filtered).len(), 3, "{filtered:#}");
    let (_, one) = verdict_library("project", &["--filter", "test_nine_*"]);
    assert_eq!(
        unit_test_rows(&one),
        [(suite.to_string(), "test_nine_replicas_fail".to_string())],
        "{one:#}"
    );
}

#[test]
fn a_project_path_runs_its_unit_tests_once() {
    let (out, doc) = verdict_test("project", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(unit_test_rows(&doc).len(), 3, "{doc:#}");
}

#[test]
fn data_files_under_the_test_directory_are_data_rooted_at_their_directory() {
    let (out, doc) = verdict_test("data", &[]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(
        rows(&doc),
        owned(&[
            ("test_allowed_port_comes_from_json", "true", true),
            ("test_other_port_is_denied", "true", true),
            ("test_limit_comes_from_yaml_in_a_subdirectory", "true", true),
            ("test_data_can_still_be_overridden", "true", true),
        ])
    );
}

#[test]
fn a_data_file_that_does_not_parse_or_conflicts_is_a_load_error_naming_it() {
    let (out, doc) = verdict_test("bad-data", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    let error = &doc["load_errors"][0];
    assert!(
        error["path"]
            .as_str()
            .unwrap()
            .ends_with("bad-data/broken.json"),
        "{doc:#}"
    );
    assert_eq!(error["line"], 2, "{doc:#}");

    let (out, doc) = verdict_test("conflict", &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    let error = &doc["load_errors"][0];
    assert!(
        error["path"]
            .as_str()
            .unwrap()
            .ends_with("conflict/two.yaml"),
        "{doc:#}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("data.a.b is already set"),
        "{doc:#}"
    );
}

#[test]
fn each_definition_of_a_repeated_test_name_is_its_own_test_as_in_opa() {
    let (out, doc) = verdict_test("repeated", &[]);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(
        rows(&doc),
        owned(&[
            ("test_sum", "true", true),
            ("test_sum#01", "undefined", false),
            ("test_sum#02", "true", true),
            ("test_other", "true", true)
        ])
    );
    assert_eq!(
        row(&doc, "test_sum#01")["rule"],
        "repeated_test.test_sum#01"
    );
}

/// `file -> (covered, not_covered)` of the `coverage` object of `--format json`.
fn coverage_lines(doc: &Value) -> std::collections::BTreeMap<String, (Vec<u64>, Vec<u64>)> {
    let lines = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    doc["coverage"]["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no coverage files: {doc:#}"))
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                (lines(&f["covered"]), lines(&f["not_covered"])),
            )
        })
        .collect()
}

#[test]
fn coverage_lists_covered_and_not_covered_lines_per_file_in_json_and_text() {
    let (out, doc) = verdict_test("coverage", &["--coverage"]);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let files = coverage_lines(&doc);
    let dir = "tests/fixtures/rego_test/coverage";
    // The second deny body is evaluated up to its failing condition (line 12), never past it.
    assert_eq!(
        files[&format!("{dir}/limits.rego")],
        (vec![5, 6, 7, 12], vec![11, 13]),
        "{doc:#}"
    );
    // A module nothing evaluates is listed, all of it not covered.
    assert_eq!(
        files[&format!("{dir}/unused.rego")],
        (vec![], vec![6, 7]),
        "{doc:#}"
    );
    assert_eq!(doc["coverage"]["covered_lines"], 5);
    assert_eq!(doc["coverage"]["coverable_lines"], 9);
    assert_eq!(doc["coverage"]["percent"], 55.56);

    let (_, text) = verdict_human("coverage", &["--coverage"]);
    assert!(
        text.contains("limits.rego") && text.contains("66.7% (4/6 lines; not covered: 11, 13)"),
        "{text}"
    );
    assert!(text.contains("total 55.6% (5/9 lines)"), "{text}");
}

/// `verdict test DIR` in the human format: (exit code, stdout).
fn verdict_human(dir: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .arg("test")
        .arg(dir)
        .args(["--color", "never"])
        .args(extra)
        .current_dir(fixtures())
        .output()
        .expect("run verdict");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn cobertura_xml_carries_every_coverable_line_with_its_hits() {
    let report = tempfile::tempdir().unwrap();
    let xml_path = report.path().join("coverage.xml");
    let (out, _) = verdict_test(
        "coverage",
        &[
            "--coverage-report",
            &format!("cobertura:{}", xml_path.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let xml = std::fs::read_to_string(&xml_path).unwrap();

    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name.as_bytes())
            .map(|a| a.normalized_value(quick_xml::XmlVersion::default()).unwrap().into_owned())
    };
    let mut class = String::new();
    let mut hits: Vec<(String, u32, u32)> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"coverage" => {
                    root = Some((
                        attr(&e, "lines-covered").unwrap(),
                        attr(&e, "lines-valid").unwrap(),
                        attr(&e, "line-rate").unwrap(),
                    ))
                }
                b"class" => class = attr(&e, "filename").unwrap(),
                b"line" => hits.push((
                    class.clone(),
                    attr(&e, "number").unwrap().parse().unwrap(),
                    attr(&e, "hits").unwrap().parse().unwrap(),
                )),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(root, Some(("5".into(), "9".into(), "0.5556".into())));
    let of = |file: &str| {
        hits.iter()
            .filter(|(c, _, _)| c.ends_with(file))
            .map(|(_, n, h)| (*n, *h))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("/limits.rego"),
        [(5, 1), (6, 1), (7, 1), (11, 0), (12, 1), (13, 0)]
    );
    assert_eq!(of("/unused.rego"), [(6, 0), (7, 0)]);
}

#[test]
fn coverage_threshold_fails_a_run_below_it_and_never_passes_a_failing_one() {
    let (code, text) = verdict_human("coverage", &["--coverage-threshold", "50"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = verdict_human("coverage", &["--coverage-threshold", "80"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("Rego line coverage 55.6% is below --coverage-threshold 80%"),
        "{text}"
    );
    assert!(text.contains("verdict: FAILED"), "{text}");
    let (_, doc) = verdict_test("coverage", &["--coverage-threshold", "80"]);
    assert_eq!(
        doc["coverage"]["below_threshold"],
        "Rego line coverage 55.6% is below --coverage-threshold 80%"
    );

    // A run with failing tests stays failed whatever its coverage.
    let (code, text) = verdict_human("failing", &["--coverage-threshold", "0"]);
    assert_eq!(code, Some(1), "{text}");
    // No Rego at all cannot meet a threshold.
    let empty = tempfile::tempdir().unwrap();
    let (code, text) = verdict_human(
        empty.path().to_str().unwrap(),
        &["--coverage-threshold", "0", "--allow-empty"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no Rego line was evaluated"), "{text}");
}

#[test]
fn coverage_of_the_library_run_is_the_same_on_one_worker_or_many() {
    let (_, one) = verdict_library("project", &["--coverage", "--jobs", "1"]);
    let (_, many) = verdict_library("project", &["--coverage", "--jobs", "8"]);
    assert_eq!(one["coverage"], many["coverage"]);
    let files = coverage_lines(&one);
    let rule = "tests/fixtures/rego_test/project/policies/config/even-replicas.rego";
    assert_eq!(files[rule], (vec![34, 35, 36, 37], vec![]), "{one:#}");
    assert!(
        files.contains_key(
            "tests/fixtures/rego_test/project/policies/config/max-replicas_test.rego"
        ),
        "{one:#}"
    );
}
