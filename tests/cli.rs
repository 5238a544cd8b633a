//! Drives the `verdict` binary the way CI does: exit codes, the JSON contract, and
//! hostile input that must become clear errors while everything else still runs.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn verdict(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdict")).args(args).current_dir(cwd).output().expect("run verdict")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().filter_map(Result::ok) {
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn result<'a>(doc: &'a Value, rule: &str, test: &str) -> &'a Value {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule && r["test"] == test)
        .unwrap_or_else(|| panic!("no result for {rule} {test} in {doc:#}"))
}

/// The fixture library next to generated hostile files too big to commit.
fn bad_library() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures/bad-library"), dir.path());
    let cases = dir.path().join("cases/good-rule");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    std::fs::write(cases.join("fail-deep.json"), deep).unwrap();
    let deep_yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    std::fs::write(cases.join("fail-deep-yaml.yaml"), deep_yaml).unwrap();
    // 100 MiB, sparse: the size limit must refuse it without reading it.
    let huge = std::fs::File::create(cases.join("fail-huge.yaml")).unwrap();
    huge.set_len(100 * 1024 * 1024).unwrap();
    dir
}

#[test]
fn hostile_inputs_are_errors_naming_the_file_and_the_rest_still_runs() {
    let dir = bad_library();
    let out = verdict(&["test", ".", "--format", "json"], dir.path());
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(2), "load errors exit 2: {doc:#}");

    let load_errors: Vec<String> =
        doc["load_errors"].as_array().unwrap().iter().map(|e| format!("{} {}", e["path"], e["message"])).collect();
    assert!(load_errors.iter().any(|e| e.contains("broken-template.yaml")), "{load_errors:?}");
    assert!(load_errors.iter().any(|e| e.contains("orphan-constraint.yaml")), "{load_errors:?}");
    // A CEL expression whose result type is known at load and wrong for its field,
    // one per policy kind: the error names the file, the field and the expression.
    for (file, says) in [
        ("cel-rule-not-bool.yaml", "rule `count-containers`: validate.cel.expressions[1]: CEL expression `size(object.spec.containers)` must evaluate to bool, found int"),
        ("vpol-message-not-string.yaml", "spec.validations[0].messageExpression: CEL expression `size(object.spec.containers)` must evaluate to string, found int"),
        ("vap-validation-not-bool.yaml", "validations[1]: CEL expression `object.metadata.name + '-checked'` must evaluate to bool, found string"),
        ("cel-template-not-bool.yaml", "validations[0].expression: CEL expression `variables.anyObject.spec.containers.map(c, c.name)` must evaluate to bool, found list"),
    ] {
        assert!(load_errors.iter().any(|e| e.contains(file) && e.contains(says)), "{file}: {says}: {load_errors:?}");
    }

    // The good rule still runs and its good cases still hold.
    assert_eq!(result(&doc, "good-rule", "pass-labelled.yaml")["ok"], true);
    assert_eq!(result(&doc, "good-rule", "fail-unlabelled.yaml")["ok"], true);

    for (case, needle) in [
        ("fail-malformed.yaml", "fail-malformed.yaml"),
        ("fail-alias-bomb.yaml", "fail-alias-bomb.yaml"),
        ("fail-invalid-utf8.yaml", "fail-invalid-utf8.yaml"),
        ("fail-deep.json", "fail-deep.json"),
        ("fail-deep-yaml.yaml", "fail-deep-yaml.yaml"),
        ("fail-huge.yaml", "fail-huge.yaml"),
    ] {
        let r = result(&doc, "good-rule", case);
        assert_eq!(r["actual"], "error", "{case} must be an error, never a pass: {r:#}");
        assert_eq!(r["ok"], false, "{case}: {r:#}");
        let text = r["messages"].to_string();
        assert!(text.contains(needle), "{case}: the error names the file: {text}");
    }
    let malformed = result(&doc, "good-rule", "fail-malformed.yaml")["messages"].to_string();
    assert!(malformed.contains("fail-malformed.yaml:"), "names the line too: {malformed}");

    for case in ["pass-anything.yaml", "fail-anything.yaml"] {
        let r = result(&doc, "looping-rule", case);
        assert_eq!(r["actual"], "error", "a runaway rule is an error verdict: {r:#}");
    }
}

#[test]
fn eval_exit_codes_follow_the_contract() {
    let lib = repo().join("tests/fixtures/bad-library");
    let policy = lib.join("policies/gate/good-rule.rego");
    let pass = lib.join("cases/good-rule/pass-labelled.yaml");
    let fail = lib.join("cases/good-rule/fail-unlabelled.yaml");
    let run = |args: &[&Path]| {
        let mut argv: Vec<String> = vec!["eval".into(), "--policy".into(), args[0].display().to_string(), "--input".into()];
        argv.extend(args[1..].iter().map(|p| p.display().to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        verdict(&argv, &repo())
    };
    assert_eq!(run(&[&policy, &pass]).status.code(), Some(0));
    let failed = run(&[&policy, &fail]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stdout).contains("has no owner label"));
    assert_eq!(run(&[&lib.join("policies/gate/broken-template.yaml"), &pass]).status.code(), Some(2));
    assert_eq!(run(&[&policy, &lib.join("cases/good-rule/fail-malformed.yaml")]).status.code(), Some(2));
    assert_eq!(run(&[&lib.join("policies/gate/looping-rule.rego"), &pass]).status.code(), Some(1), "an error in an enforce rule blocks");
    let usage = verdict(&["eval", "--policy"], &repo());
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn the_project_library_passes_with_the_json_contract() {
    let out = verdict(&["test", "--format", "json"], &repo().join("cases"));
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    for key in ["passed", "failed", "errors", "skipped"] {
        assert!(doc["summary"][key].is_u64(), "summary.{key}");
    }
    let results = doc["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for key in ["suite", "test", "rule", "resource", "expected", "actual", "ok", "messages"] {
        assert!(results[0].get(key).is_some(), "result field {key}");
    }
}

/// Turning every rule's first fail case into a pass case must make the run fail,
/// once per rule: the cases really discriminate.
#[test]
fn a_fail_case_renamed_to_pass_fails_the_run_for_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    for part in ["policies", "cases"] {
        copy_tree(&repo().join(part), &dir.path().join(part));
    }
    let mut renamed = Vec::new();
    for rule_dir in std::fs::read_dir(dir.path().join("cases")).unwrap().filter_map(Result::ok) {
        let name = rule_dir.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') {
            continue;
        }
        let mut fails: Vec<PathBuf> = std::fs::read_dir(rule_dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("fail-"))
            .collect();
        fails.sort();
        let first = &fails[0];
        let new_name = first.file_name().unwrap().to_string_lossy().replacen("fail-", "pass-mutated-", 1);
        std::fs::rename(first, first.with_file_name(&new_name)).unwrap();
        renamed.push((name, new_name));
    }
    assert!(!renamed.is_empty());
    let out = verdict(&["test", ".", "--format", "json"], dir.path());
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(1));
    for (rule, case) in &renamed {
        let r = result(&doc, rule, case);
        assert_eq!(r["ok"], false, "{rule}/{case} must now fail: {r:#}");
    }
}

/// `verdict eval` on whole `terraform show -json` plans: the known-good corpus is clean
/// under every guardrail, and a plan exposing SSH to the internet is judged as a reviewer would.
#[test]
fn eval_on_terraform_plans_gives_the_expected_verdicts() {
    let out = verdict(
        &[
            "eval",
            "--policy",
            "policies/terraform-guardrails",
            "--input",
            "cases/_corpus/terraform",
            "cases/sg-no-admin-ingress-from-internet/fail-inline-ssh-from-anywhere.tfplan.json",
            "--format",
            "json",
        ],
        &repo(),
    );
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "the guardrails are enforced, and one plan fails one: {doc:#}");
    let verdicts = doc["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 4 * 5, "4 rules x 5 plans: {doc:#}");
    for v in verdicts {
        let bad_plan = v["input"].as_str().unwrap().contains("fail-inline-ssh");
        let expected = if bad_plan && v["rule"] == "sg-no-admin-ingress-from-internet" { "fail" } else { "pass" };
        assert_eq!(v["outcome"], expected, "{v:#}");
        // The CEL rule (a JSON-mode ValidatingPolicy) is new and still in audit.
        let mode = if v["rule"] == "rds-regulated-storage-encrypted" { "audit" } else { "enforce" };
        assert_eq!(v["mode"], mode, "{v:#}");
    }
    let ssh = verdicts.iter().find(|v| v["outcome"] == "fail").unwrap();
    assert!(ssh["messages"].to_string().contains("aws_security_group.bastion: ingress allows SSH (22) from 0.0.0.0/0"), "{ssh:#}");
}

/// Breaking a rule's condition must make its own cases fail, in every language.
#[rstest::rstest]
#[case::rego_port_range("policies/terraform-guardrails/sg-no-admin-ingress-from-internet.rego", "from_port <= port", "from_port < port")]
#[case::gatekeeper_privileged(
    "policies/gate4-admission/no-privileged-containers.yaml",
    "securityContext.privileged == true",
    "securityContext.privileged == \"true\""
)]
#[case::kyverno_pattern(
    "policies/gate5-pod-security/require-read-only-root-filesystem.yaml",
    "readOnlyRootFilesystem: true",
    "readOnlyRootFilesystem: \"?*\""
)]
fn a_broken_rule_condition_fails_its_cases(#[case] policy: &str, #[case] from: &str, #[case] to: &str) {
    let dir = tempfile::tempdir().unwrap();
    for part in ["policies", "cases"] {
        copy_tree(&repo().join(part), &dir.path().join(part));
    }
    let file = dir.path().join(policy);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "mutation target `{from}` not in {policy}");
    std::fs::write(&file, text.replace(from, to)).unwrap();
    let rule = Path::new(policy).file_stem().unwrap().to_str().unwrap();
    let out = verdict(&["test", ".", "--filter", rule, "--format", "json"], dir.path());
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let broken: Vec<&Value> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule"] == rule && r["ok"] == false)
        .collect();
    assert!(
        broken.iter().any(|r| r["test"].as_str().unwrap().starts_with("fail-") && r["actual"] == "pass"),
        "some fail case must now pass, and be reported: {doc:#}"
    );
}

/// Invalid JMESPath, an unknown function and a missing variable in a Kyverno policy are
/// an `error` verdict naming the policy, the rule and the path; never a pass, never hidden
/// behind another rule's failure.
#[test]
fn kyverno_expression_errors_name_policy_rule_and_path() {
    let dir = repo().join("tests/fixtures/kyverno-errors");
    let policy = dir.join("broken-rules.yaml").display().to_string();
    let input = dir.join("pod.yaml").display().to_string();
    let out = verdict(&["eval", "--policy", &policy, "--input", &input, "--format", "json"], &repo());
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "an error in an enforce rule blocks: {doc:#}");
    let v = &doc["verdicts"][0];
    assert_eq!(v["outcome"], "error", "{v:#}");
    let reason = v["reason"].as_str().unwrap();
    for needle in [
        "policy bad-things, rule invalid-jmespath",
        "rule unknown-function",
        "no_such_fn",
        "rule missing-variable",
        "at path /metadata/name",
    ] {
        assert!(reason.contains(needle), "`{needle}` missing from: {reason}");
    }
}

/// `verdict test DIR` finds upstream `kyverno-test.yaml` suites in hidden `.kyverno-test/`
/// directories and runs them unchanged (read from ../shared/conformance, beside the checkout).
#[test]
fn verdict_test_runs_upstream_kyverno_suites_from_hidden_directories() {
    let dir = repo().join("../shared/conformance/kyverno-policies/best-practices/disallow-latest-tag");
    if !dir.is_dir() {
        eprintln!("SKIPPED: conformance data not found at {}", dir.display());
        return;
    }
    let out = verdict(&["test", dir.to_str().unwrap(), "--format", "json"], &repo());
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let results = doc["results"].as_array().unwrap();
    assert!(results.len() >= 4, "{doc:#}");
    assert!(results.iter().all(|r| r["suite"].as_str().unwrap().starts_with(".kyverno-test/")), "{doc:#}");
    assert!(results.iter().any(|r| r["expected"] == "fail" && r["actual"] == "fail"));
}

/// `--decision-log` appends one JSON line per decision, `deny` only where the verdict blocks.
#[test]
fn eval_appends_a_decision_log() {
    let lib = repo().join("tests/fixtures/bad-library");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let args = |input: &str| {
        vec![
            "eval".to_string(),
            "--policy".into(),
            lib.join("policies/gate/good-rule.rego").display().to_string(),
            "--input".into(),
            lib.join(input).display().to_string(),
            "--decision-log".into(),
            log.display().to_string(),
        ]
    };
    for input in ["cases/good-rule/pass-labelled.yaml", "cases/good-rule/fail-unlabelled.yaml"] {
        let argv = args(input);
        verdict(&argv.iter().map(String::as_str).collect::<Vec<_>>(), &repo());
    }
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["decision"].as_str(), lines[0]["outcome"].as_str()), (Some("allow"), Some("pass")));
    assert_eq!((lines[1]["decision"].as_str(), lines[1]["outcome"].as_str()), (Some("deny"), Some("fail")));
    assert_eq!(lines[1]["rule"], "good-rule");
    assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
}

/// `verdict` with the environment that decides snapshot writes pinned, whatever CI sets.
fn verdict_env(args: &[&str], cwd: &Path, ci: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verdict"));
    command.args(args).current_dir(cwd).env_remove("INSTA_UPDATE");
    if ci {
        command.env("CI", "true");
    } else {
        command.env_remove("CI");
    }
    command.output().expect("run verdict")
}

fn authoring(name: &str) -> PathBuf {
    repo().join("tests/fixtures/authoring").join(name)
}

/// A run that checked nothing is not an "ok": nothing found and a filter that matches
/// nothing exit 2, everything skipped exits 1, each saying what was searched;
/// `--allow-empty` opts out.
#[test]
fn a_run_that_checks_nothing_fails() {
    let empty = verdict(&["test", authoring("empty").to_str().unwrap()], &repo());
    assert_eq!(empty.status.code(), Some(2));
    let text = String::from_utf8_lossy(&empty.stdout);
    assert!(text.contains("nothing to check: searched suites under") && text.contains("0 kyverno-test.yaml"), "{text}");

    let filtered = verdict(&["test", "--filter", "no-such-*", "--format", "json"], &repo());
    assert_eq!(filtered.status.code(), Some(2));
    let doc = json_of(&filtered);
    let reason = doc["nothing_checked"].as_str().unwrap();
    assert!(reason.contains("0 matching --filter \"no-such-*\""), "{reason}");

    let skipped = verdict(&["test", authoring("all-skipped").to_str().unwrap(), "--format", "json"], &repo());
    assert_eq!(skipped.status.code(), Some(1));
    let doc = json_of(&skipped);
    assert_eq!(doc["summary"]["skipped"], 1);
    assert!(doc["nothing_checked"].as_str().unwrap().contains("all 1 results were skipped"), "{doc:#}");

    for dir in ["empty", "all-skipped"] {
        let allowed = verdict(&["test", authoring(dir).to_str().unwrap(), "--allow-empty"], &repo());
        assert_eq!(allowed.status.code(), Some(0), "{dir}: {}", String::from_utf8_lossy(&allowed.stdout));
    }
}

/// Files in a case directory that are not `pass-*`/`fail-*` of a known kind, and case
/// directories of rules that do not exist, are errors naming the file; `_*` helpers are not.
#[test]
fn stray_case_files_and_directories_are_errors() {
    let out = verdict(&["test", authoring("case-names").to_str().unwrap(), "--format", "json"], &repo());
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let error = |test: &str| {
        let r = result(&doc, if test == "renamed-away" { "renamed-away" } else { "privileged" }, test);
        assert_eq!((r["actual"].as_str(), r["ok"].as_bool()), (Some("error"), Some(false)), "{r:#}");
        r["messages"][0].as_str().unwrap().to_string()
    };
    assert!(error("pass-notes.txt").contains("unknown input kind `.txt`"));
    assert!(error("unprivileged.yaml").contains("not a case"));
    assert!(error("renamed-away").contains("cases for a rule that does not exist"));
    let results = doc["results"].as_array().unwrap();
    assert!(!results.iter().any(|r| r["test"] == "_helper.yaml"), "helpers are not cases");
    assert_eq!(result(&doc, "privileged", "pass-unprivileged.yaml")["ok"], true);
    // A document that is not the rule's declared input kind (`custom.input: tfplan`) is
    // not a passing case of it: `foo: bar` proves nothing about a Terraform rule.
    let junk = result(&doc, "private-acl", "pass-junk.yaml");
    assert_eq!((junk["actual"].as_str(), junk["ok"].as_bool()), (Some("not-applicable"), Some(false)), "{junk:#}");
    assert_eq!(result(&doc, "private-acl", "pass-private.tfplan.json")["ok"], true);
    assert_eq!(result(&doc, "private-acl", "fail-public.tfplan.json")["ok"], true);
}

/// Every location in SARIF, GitHub annotations and JUnit names a file that exists,
/// relative to the repository root: over a library with load errors and failures, and
/// over a suite directory with a failing row.
#[test]
fn report_locations_are_existing_files_relative_to_the_repository() {
    // The looping rule of bad-library is left out: it only costs time here.
    let targets = ["tests/fixtures/bad-library", "tests/fixtures/authoring/failing-suite", "tests/fixtures/authoring/case-names"];
    let mut checked = 0;
    let verdict = |args: &[&str], cwd: &Path| {
        let mut args = args.to_vec();
        if args[1] == targets[0] {
            args.extend(["--filter", "good-rule"]);
        }
        verdict(&args, cwd)
    };
    for target in targets {
        let sarif = json_of(&verdict(&["test", target, "--format", "sarif"], &repo()));
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{target}: the fixture must produce failures");
        for r in results {
            for loc in r["locations"].as_array().unwrap() {
                let uri = loc["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap();
                assert!(Path::new(uri).is_relative(), "{uri} is relative");
                assert!(repo().join(uri).is_file(), "{target}: SARIF uri {uri} is not a file");
                checked += 1;
            }
        }
        let github = verdict(&["test", target, "--format", "github"], &repo());
        for line in String::from_utf8_lossy(&github.stdout).lines().filter(|l| l.starts_with("::error file=")) {
            let file = line["::error file=".len()..].split([',', ':']).next().unwrap();
            assert!(repo().join(file).is_file(), "{target}: annotation file={file} is not a file: {line}");
            checked += 1;
        }
        let junit = verdict(&["test", target, "--format", "junit"], &repo());
        let xml = String::from_utf8_lossy(&junit.stdout).into_owned();
        for file in xml.split(" file=\"").skip(1).map(|rest| rest.split('"').next().unwrap()) {
            assert!(repo().join(file).is_file(), "{target}: JUnit file={file} is not a file");
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} locations were checked");
}

/// The README's "Adding a rule", step by step: new-rule, a run that fails because the
/// rule has no accepted snapshot (nothing written under CI; a `.snap.new` written
/// locally), accept, and a run that passes with no pending file left.
#[test]
fn readme_adding_a_rule_steps_hold() {
    let dir = tempfile::tempdir().unwrap();
    for part in ["policies", "cases", "snapshots"] {
        copy_tree(&repo().join(part), &dir.path().join(part));
    }
    let root = dir.path();
    let made = verdict_env(&["new-rule", "gate5-pod-security/disallow-host-ports", "--lang", "kyverno"], root, true);
    assert_eq!(made.status.code(), Some(0), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(root.join("policies/gate5-pod-security/disallow-host-ports.yaml").is_file());

    let ci = verdict_env(&["test", "--format", "json"], root, true);
    assert_eq!(ci.status.code(), Some(1), "a new rule without an accepted snapshot fails under CI");
    let doc = json_of(&ci);
    assert_eq!(result(&doc, "disallow-host-ports", "disallow-host-ports.snap")["actual"], "missing");
    assert!(!root.join("snapshots/disallow-host-ports.snap.new").exists(), "CI writes nothing");

    let local = verdict_env(&["test"], root, false);
    assert_eq!(local.status.code(), Some(1));
    assert!(root.join("snapshots/disallow-host-ports.snap.new").is_file(), "a local run writes the pending snapshot");

    let accepted = verdict_env(&["accept", "disallow-host-ports"], root, false);
    assert_eq!(accepted.status.code(), Some(0));
    assert!(!root.join("snapshots/disallow-host-ports.snap.new").exists());
    let text = std::fs::read_to_string(root.join("snapshots/disallow-host-ports.snap")).unwrap();
    assert!(text.contains("case: fail-minimal.yaml") && text.contains("outcome: fail"), "{text}");

    let passing = verdict_env(&["test"], root, true);
    assert_eq!(passing.status.code(), Some(0), "{}", String::from_utf8_lossy(&passing.stdout));

    // A changed verdict is caught: break the new rule's condition.
    let policy = root.join("policies/gate5-pod-security/disallow-host-ports.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, text.replace("=(privileged): \"false\"", "=(privileged): \"?*\"")).unwrap();
    let changed = json_of(&verdict_env(&["test", "--format", "json"], root, true));
    assert_eq!(result(&changed, "disallow-host-ports", "disallow-host-ports.snap")["actual"], "changed");

    // Removing the rule leaves its snapshot and cases behind, and that is reported.
    std::fs::remove_file(&policy).unwrap();
    let removed = json_of(&verdict_env(&["test", "--format", "json"], root, true));
    assert_eq!(result(&removed, "disallow-host-ports", "disallow-host-ports")["actual"], "error");
    assert_eq!(result(&removed, "disallow-host-ports", "disallow-host-ports.snap")["actual"], "error");
}

/// Every `--lang` writes a rule that loads in audit mode and whose minimal cases
/// come out as their names say (the fail case fails, the pass case passes).
#[rstest::rstest]
#[case::rego("rego")]
#[case::kyverno("kyverno")]
#[case::gatekeeper("gatekeeper")]
#[case::vpol("vpol")]
#[case::vap("vap")]
fn new_rule_writes_a_working_rule_in_every_language(#[case] lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("policies")).unwrap();
    let made = verdict_env(&["new-rule", "gate/new-thing", "--lang", lang], root, true);
    assert_eq!(made.status.code(), Some(0), "{}", String::from_utf8_lossy(&made.stderr));
    let run = json_of(&verdict_env(&["test", "--format", "json"], root, true));
    let cases: Vec<(String, String)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule"] == "new-thing" && r["test"].as_str().is_some_and(|t| t.starts_with("pass-") || t.starts_with("fail-")))
        .map(|r| (r["test"].as_str().unwrap().to_string(), format!("{} {}", r["actual"], r["ok"])))
        .collect();
    assert_eq!(cases.len(), 2, "{run:#}");
    for (test, got) in cases {
        let want = if test.starts_with("fail-") { "\"fail\" true" } else { "\"pass\" true" };
        assert_eq!(got, want, "{lang}: {test}");
    }
}

/// `verdict init` writes a project that passes `verdict test` as it stands.
#[test]
fn init_writes_a_project_that_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdict_env(&["init", "."], dir.path(), true);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for file in ["policies/controls.yaml", ".github/CODEOWNERS", ".github/workflows/policy.yml", "snapshots/disallow-privileged-containers.snap"] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
    let workflow: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.path().join(".github/workflows/policy.yml")).unwrap()).unwrap();
    assert!(workflow["jobs"]["policy-test"]["steps"].as_sequence().is_some_and(|s| s.len() >= 3));
    let test = verdict_env(&["test"], dir.path(), true);
    assert_eq!(test.status.code(), Some(0), "{}", String::from_utf8_lossy(&test.stdout));
    assert_eq!(verdict_env(&["init", "."], dir.path(), true).status.code(), Some(2), "never over an existing project");
}

/// Colour only when asked or on a terminal; `completions` prints a script.
#[test]
fn colour_and_completions() {
    let plain = verdict(&["test", "--filter", "required-labels"], &repo());
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\u{1b}'), "no colour off a terminal");
    let coloured = verdict(&["--color", "always", "test", "--filter", "required-labels"], &repo());
    assert!(String::from_utf8_lossy(&coloured.stdout).contains("\u{1b}["), "--color always colours");
    let never = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["test", "--filter", "required-labels"])
        .env("NO_COLOR", "1")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&never.stdout).contains('\u{1b}'));
    let bash = verdict(&["completions", "bash"], &repo());
    assert_eq!(bash.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&bash.stdout).contains("_verdict()"));
}

/// `verdict eval` checks Kubernetes inputs against their schema as library cases are:
/// a misspelt field is a load error naming file, line and field (exit 2); `--no-schema`
/// evaluates the document as written.
#[test]
fn eval_inputs_are_schema_checked_unless_told_not_to() {
    let input = authoring("typos/misspelt-pod.yaml");
    let policy = repo().join("policies/gate5-pod-security/require-run-as-non-root.yaml");
    let args = ["eval", "--policy", policy.to_str().unwrap(), "--input", input.to_str().unwrap()];
    let strict = verdict(&args, &repo());
    assert_eq!(strict.status.code(), Some(2));
    let text = format!("{}{}", String::from_utf8_lossy(&strict.stdout), String::from_utf8_lossy(&strict.stderr));
    assert!(text.contains("misspelt-pod.yaml:11"), "{text}");
    assert!(text.contains("/spec/containers/0/securityContex: unknown field (did you mean `securityContext`?)"), "{text}");

    let mut lenient = args.to_vec();
    lenient.push("--no-schema");
    let out = verdict(&lenient, &repo());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "an audit rule does not block: {text}");
    assert!(!text.contains("securityContex:"), "{text}");
}

/// Policy documents are read strictly: a misspelt Kyverno or Gatekeeper field is a
/// load error naming file, line and field with a "did you mean", and the run exits 2.
#[test]
fn misspelt_policy_fields_are_load_errors() {
    let out = verdict(&["test", authoring("typos/project").to_str().unwrap(), "--format", "json"], &repo());
    assert_eq!(out.status.code(), Some(2));
    let doc = json_of(&out);
    let errors: Vec<String> = doc["load_errors"].as_array().unwrap().iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(has("/spec/rules/0/validate/patern: unknown field (did you mean `pattern`?)"), "{errors:#?}");
    assert!(has("/spec/enforcmentAction: unknown field (did you mean `enforcementAction`?)"), "{errors:#?}");
    assert!(has("unknown function sprintff"), "{errors:#?}");
}

/// A kyverno-test suite resource that breaks the Kubernetes schema makes each result
/// using it an error naming the field; `--schema warn` reports it and runs it as written.
#[test]
fn suite_resources_are_schema_checked() {
    let suite = authoring("typos/suite");
    let strict = verdict(&["test", suite.to_str().unwrap(), "--format", "json"], &repo());
    assert_eq!(strict.status.code(), Some(1));
    let doc = json_of(&strict);
    let bad = doc["results"].as_array().unwrap().iter().find(|r| r["resource"] == "Pod/default/typo").expect("typo row");
    assert_eq!(bad["actual"], "error", "{bad:#}");
    let message = bad["messages"][0].as_str().unwrap();
    assert!(message.contains("resources.yaml:24") && message.contains("securityContex: unknown field"), "{message}");
    let good = doc["results"].as_array().unwrap().iter().find(|r| r["resource"] == "Pod/default/good").expect("good row");
    assert_eq!(good["ok"], true);

    let warned = verdict(&["test", suite.to_str().unwrap(), "--schema", "warn"], &repo());
    let text = format!("{}{}", String::from_utf8_lossy(&warned.stdout), String::from_utf8_lossy(&warned.stderr));
    assert_eq!(warned.status.code(), Some(0), "{text}");
    assert!(text.contains("securityContex: unknown field"), "the warning is shown: {text}");

    let policy = verdict(&["test", authoring("typos/suite-policy").to_str().unwrap(), "--format", "json"], &repo());
    assert_eq!(policy.status.code(), Some(1));
    let doc = json_of(&policy);
    let row = &doc["results"][0];
    let message = row["messages"][0].as_str().unwrap();
    assert_eq!(row["actual"], "error", "{row:#}");
    assert!(message.contains("patterned.yaml:44") && message.contains("did you mean `pattern`?"), "{message}");
}

/// The shipped CI workflow parses, and every `verdict` command and flag it runs exists
/// (checked against the binary's own `--help`); `cargo xtask policy-test` is an xtask.
#[test]
fn the_ci_workflow_parses_and_its_commands_exist() {
    let text = std::fs::read_to_string(repo().join(".github/workflows/policy.yml")).unwrap();
    let workflow: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("policy.yml is YAML");
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    for job in ["policy-test", "shard", "coverage", "review"] {
        assert!(jobs.contains_key(job), "job {job}");
    }
    assert!(workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"].as_sequence().is_some_and(|s| s.len() > 1));
    let runs: Vec<String> = jobs
        .values()
        .flat_map(|j| j["steps"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect();
    let mut checked = 0;
    for run in &runs {
        for command in run.split("||").map(str::trim) {
            let words: Vec<&str> = command.split_whitespace().collect();
            if words.starts_with(&["cargo", "xtask"]) {
                let xtask = std::fs::read_to_string(repo().join("xtask/src/main.rs")).unwrap();
                assert!(words[2] == "policy-test" && xtask.contains("PolicyTest"), "{command}");
                checked += 1;
            }
            if words.first() != Some(&"verdict") {
                continue;
            }
            let help = verdict(&[words[1], "--help"], &repo());
            assert!(help.status.success(), "`verdict {}` is not a command", words[1]);
            let help = String::from_utf8_lossy(&help.stdout);
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                assert!(help.contains(flag), "`verdict {}` has no {flag}", words[1]);
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} commands checked in {runs:#?}");
}

/// An enforce image rule that cannot look at the image (a plain manifest, no
/// registry) has not judged it: `verdict eval` blocks instead of passing silently.
#[test]
fn eval_blocks_on_an_enforce_image_rule_it_could_not_judge() {
    let policy = repo().join("policies/supply-chain/require-pipeline-signature.yaml");
    let manifest = repo().join("cases/no-latest-image-tag/pass-version-tag-deployment.yaml");
    let out = verdict(&["eval", "--policy", &policy.display().to_string(), "--input", &manifest.display().to_string(), "--format", "json"], &repo());
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    assert_eq!(doc["blocking"], 1, "{doc:#}");
}
