//! Rego engine behaviour, driven by `tests/engine/rego/*.yaml`.
//!
//! Each file holds `cases: [{note, policy, input, want | want_error}]` plus
//! optional `data` (written beside the policy as `<stem>.data.json`), `libs`
//! (library module sources), `lib_files` (library modules of the project, by
//! path from the crate root), `file` (the policy's file name, default
//! `policy.rego`), `timeout_ms` and `max_ms` (the evaluation must end within it).
//!
//! Without `rule`, the policy is loaded as a library rule with [`load`] and
//! judged through the `Engine` trait: `want` is `pass`, `{fail: [msg..]}` or
//! `{warn: [msg..]}`; `want_header: {id, mode, title, severity, controls}`
//! checks the METADATA header. With `rule: data.pkg.name`, the rule is
//! evaluated with [`Program`]: `want: {value: v}` or `want: undefined`.
//! `want_error: text`: loading or evaluating fails with a message containing
//! `text`; `error_at: load | eval` says which of the two must fail.

mod support;

use rstest::rstest;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use verdict::engine::rego::{load, Program};
use verdict::input::Input;
use verdict::library::LoadContext;
use verdict::limits::Limits;
use verdict::verdict::Outcome;

#[rstest]
fn rego_engine(#[files("tests/engine/rego/*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |_, case| run_case(case));
}

fn limits(case: &Value) -> Limits {
    let mut limits = Limits::default();
    if let Some(ms) = case["timeout_ms"].as_u64() {
        limits.eval_timeout = Duration::from_millis(ms);
    }
    limits
}

/// The outcome or value a case produced, or the error it stopped with.
type Got = Result<Value, String>;

fn run_case(case: &Value) -> Result<(), String> {
    let policy = case["policy"].as_str().ok_or("`policy` must be text")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file_name = case["file"].as_str().unwrap_or("policy.rego");
    let policy_path = dir.path().join(file_name);
    std::fs::write(&policy_path, policy).map_err(|e| e.to_string())?;
    if let Some(data) = case.get("data") {
        let stem = Path::new(file_name)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        std::fs::write(
            dir.path().join(format!("{stem}.data.json")),
            data.to_string(),
        )
        .map_err(|e| e.to_string())?;
    }
    let mut libs: Vec<(PathBuf, String)> = case["libs"]
        .as_array()
        .map(|libs| {
            libs.iter()
                .enumerate()
                .map(|(i, lib)| {
                    (
                        dir.path().join(format!("lib/lib{i}.rego")),
                        lib.as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for lib in case["lib_files"].as_array().into_iter().flatten() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(lib.as_str().ok_or("lib_files are paths")?);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        libs.push((path, text));
    }
    let input = case.get("input").cloned().unwrap_or(json!({}));
    let limits = limits(case);

    let started = Instant::now();
    let got = match case["rule"].as_str() {
        Some(rule) => eval_rule(
            &policy_path,
            policy,
            &libs,
            case.get("data").cloned(),
            rule,
            &input,
            &limits,
        ),
        None => judge(&policy_path, policy, &libs, &input, &limits, case)?,
    };
    let elapsed = started.elapsed();
    if let Some(max) = case["max_ms"].as_u64() {
        if elapsed > Duration::from_millis(max) {
            return Err(format!("took {}ms, over max_ms {max}", elapsed.as_millis()));
        }
    }

    match (got, case.get("want_error")) {
        (Err(e), Some(want)) => {
            let want = want.as_str().ok_or("want_error must be text")?;
            if let Some(stage) = case["error_at"].as_str() {
                if !e.starts_with(&format!("{stage}: ")) {
                    return Err(format!("want an error at {stage}, got `{e}`"));
                }
            }
            if e.contains(want) {
                Ok(())
            } else {
                Err(format!("error `{e}` does not contain `{want}`"))
            }
        }
        (Err(e), None) => Err(format!("unexpected error: {e}")),
        (Ok(got), Some(want)) => Err(format!("want error {want}, got {got}")),
        (Ok(got), None) => {
            let want = case.get("want").ok_or("no `want`")?;
            if normalise(want) == normalise(&got) {
                Ok(())
            } else {
                Err(format!("want {want}, got {got}"))
            }
        }
    }
}

fn eval_rule(
    path: &Path,
    policy: &str,
    libs: &[(PathBuf, String)],
    data: Option<Value>,
    rule: &str,
    input: &Value,
    limits: &Limits,
) -> Got {
    let mut modules = vec![(path.display().to_string(), policy.to_string())];
    modules.extend(
        libs.iter()
            .map(|(p, s)| (p.display().to_string(), s.clone())),
    );
    let program = Program::new(&modules, data, limits).map_err(|e| format!("load: {e}"))?;
    match program
        .eval_rule(rule, input)
        .map_err(|e| format!("eval: {e}"))?
    {
        Some(value) => Ok(json!({ "value": value })),
        None => Ok(json!("undefined")),
    }
}

/// Load as a library rule, check the header if asked, and judge the input.
fn judge(
    path: &Path,
    policy: &str,
    libs: &[(PathBuf, String)],
    input: &Value,
    limits: &Limits,
    case: &Value,
) -> Result<Got, String> {
    let ctx = LoadContext {
        limits: *limits,
        rego_libs: libs.to_vec(),
    };
    let rule = match load(path, policy, &ctx) {
        Ok(rule) => rule,
        Err(e) => return Ok(Err(format!("load: {e}"))),
    };
    if let Some(want) = case.get("want_header") {
        let header = &rule.header;
        let got = json!({
            "id": header.id,
            "title": header.title,
            "mode": header.mode.map(|m| m.to_string()),
            "severity": header.severity,
            "controls": header.controls,
        });
        for (key, value) in want.as_object().ok_or("want_header must be a map")? {
            if got[key] != *value {
                return Err(format!("header {key}: want {value}, got {}", got[key]));
            }
        }
    }
    let input = Input::from_value(PathBuf::from("input.json"), 0, None, input.clone());
    Ok(match rule.engine.evaluate(&input) {
        Outcome::Pass => Ok(json!("pass")),
        Outcome::Fail { messages, warnings } if warnings.is_empty() => Ok(json!({ "fail": messages })),
        Outcome::Fail { messages, warnings } => Ok(json!({ "fail": messages, "warn": warnings })),
        Outcome::Warn { messages } => Ok(json!({ "warn": messages })),
        Outcome::Error { reason } => Err(format!("eval: {reason}")),
        other => Ok(json!(other.name())),
    })
}

/// Sets come back as sorted arrays; compare message lists order-insensitively.
fn normalise(value: &Value) -> Value {
    match value {
        Value::Object(map)
            if map.len() == 1 && (map.contains_key("fail") || map.contains_key("warn")) =>
        {
            let (key, messages) = map.iter().next().unwrap();
            let mut messages: Vec<String> = messages
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            messages.sort();
            json!({ key.clone(): messages })
        }
        other => other.clone(),
    }
}

/// Every Rego rule of the library judges its own cases as their names say,
/// and passes every known-good plan of the corpus.
///
/// `tests/policy.rs` snapshots the verdicts; this target checks the
/// expectations directly, so a wrong rule fails here with its messages.
#[rstest]
fn library_rule_judges_its_cases(
    // Rules, not their unit tests (`*_test.rego`, run by `verdict test policies`).
    #[files("policies/terraform-guardrails/*.rego")]
    #[exclude("_test\\.rego$")]
    path: PathBuf,
) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let libs: Vec<(PathBuf, String)> = walk_rego(&root.join("policies/lib"));
    let ctx = LoadContext {
        limits: Limits::default(),
        rego_libs: libs,
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let rule = load(&path, &text, &ctx).unwrap_or_else(|e| panic!("{e}"));
    let id = &rule.header.id;
    assert_eq!(
        Some(id.as_str()),
        path.file_stem().and_then(|s| s.to_str()),
        "custom.id must be the file stem"
    );

    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join("cases").join(id))
        .unwrap_or_else(|e| panic!("cases/{id}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let corpus_dir = root.join("cases/_corpus/terraform");
    let mut corpus: Vec<PathBuf> = std::fs::read_dir(&corpus_dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    corpus.sort();

    let mut failures = Vec::new();
    let (mut passes, mut fails) = (0, 0);
    for case in cases.iter().chain(corpus.iter()) {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let want_fail = name.starts_with("fail-");
        if want_fail {
            fails += 1;
        } else if name.starts_with("pass-") {
            passes += 1;
        }
        let value: Value = serde_json::from_str(&std::fs::read_to_string(case).unwrap()).unwrap();
        let input = Input::from_value(case.clone(), 0, None, value);
        let outcome = rule.engine.evaluate(&input);
        // Shown with `--nocapture`, to review what each case reports.
        eprintln!("{id} {name}: {outcome:?}");
        let ok = matches!(
            (&outcome, want_fail),
            (Outcome::Fail { .. }, true) | (Outcome::Pass, false)
        );
        if !ok {
            failures.push(format!(
                "{}: {outcome:?}",
                case.strip_prefix(root).unwrap_or(case).display()
            ));
        }
    }
    assert!(failures.is_empty(), "{id}:\n{}", failures.join("\n"));
    assert!(
        passes >= 3 && fails >= 3,
        "{id}: needs at least 3 pass and 3 fail cases ({passes} / {fails})"
    );
    assert!(
        corpus.len() >= 3,
        "cases/_corpus/terraform needs at least 3 known-good plans"
    );
}

fn walk_rego(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(walk_rego(&path));
        } else if path.extension().is_some_and(|e| e == "rego")
            && !path.to_string_lossy().ends_with("_test.rego")
        {
            found.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    found
}
