//! Gatekeeper engine behaviour, driven by `tests/engine/gatekeeper/*.yaml`.
//!
//! Each file has optional file-wide `template` / `constraint` / `inventory`
//! and `cases: [{note, template?, constraint?, policy?, object | objects,
//! inventory?, want | want_error | want_load}]`:
//! - `template` + `constraint`: the low-level API ([`Template::review`]);
//!   `want: {violations: [msg, ...]}` (sorted) or `want: not-applicable`;
//!   `request` instead of `object` reviews an AdmissionRequest.
//! - `policy` (the text of a library rule file) or `policy_path` (a file of
//!   the library, relative to the crate), loaded with [`load`];
//!   `want_load: {id, mode, title, severity, controls}` checks the header,
//!   `want` then judges `object` through the `Engine` trait
//!   (`pass`, `fail`, `not-applicable`, `error`, or `{fail: [msg, ...]}`).
//!   `input_path` sets the evaluated input's path (a library case directory
//!   may hold an `_inventory.yaml`).
//! - `want_error: text` (+ `want_error_line: n`): loading or reviewing fails
//!   with a message containing `text`.

mod support;

use rstest::rstest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use verdict::engine::gatekeeper::{load, parse_documents, Constraint, ReviewOutcome, Template};
use verdict::input::schema::validate_manifest;
use verdict::input::Input;
use verdict::library::LoadContext;
use verdict::verdict::Outcome;

#[rstest]
fn gatekeeper_engine(#[files("tests/engine/gatekeeper/*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |file, case| run_case(&path, file, case));
}

fn field<'a>(file: &'a Value, case: &'a Value, key: &str) -> Option<&'a Value> {
    case.get(key)
        .or_else(|| file.get(key))
        .filter(|v| !v.is_null())
}

fn objects(case: &Value) -> Vec<Value> {
    match (&case["object"], &case["objects"]) {
        (Value::Null, Value::Array(objects)) => objects.clone(),
        (Value::Null, _) => Vec::new(),
        (object, _) => vec![object.clone()],
    }
}

fn run_case(path: &Path, file: &Value, case: &Value) -> Result<(), String> {
    if let Some(policy) = case.get("policy") {
        return run_policy_case(path, policy.as_str().ok_or("policy must be text")?, case);
    }
    if let Some(rel) = case.get("policy_path").and_then(Value::as_str) {
        let rule_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let text = std::fs::read_to_string(&rule_path).map_err(|e| format!("{rel}: {e}"))?;
        return run_policy_case(&rule_path, &text, case);
    }
    let inventory: Vec<Value> = field(file, case, "inventory")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let result = (|| {
        let template =
            Template::from_value(field(file, case, "template").ok_or("no template")?, path)
                .map_err(|e| e.to_string())?;
        let constraint = Constraint::from_value(
            field(file, case, "constraint").ok_or("no constraint")?,
            path,
        )
        .map_err(|e| e.to_string())?;
        if let Some(request) = case.get("request") {
            return template
                .review_request(&constraint, request, &inventory)
                .map(|o| vec![o])
                .map_err(|e| e.to_string());
        }
        let objects = objects(case);
        if objects.is_empty() {
            return Err("no object".to_string());
        }
        objects
            .iter()
            .map(|o| {
                template
                    .review(&constraint, o, &inventory)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()
    })();
    match (result, case.get("want_error")) {
        (Err(e), Some(want)) => support::error_contains(&e, want),
        (Err(e), None) => Err(format!("unexpected error: {e}")),
        (Ok(got), Some(want)) => Err(format!("want error {want}, got {got:?}")),
        (Ok(got), None) => {
            let want = case.get("want").ok_or("no want")?;
            for outcome in got {
                let actual = match outcome {
                    ReviewOutcome::NotMatched => Value::String("not-applicable".into()),
                    ReviewOutcome::Violations(v) => {
                        serde_json::json!({"violations": v.iter().map(|v| v.message.clone()).collect::<Vec<_>>()})
                    }
                };
                if &actual != want {
                    return Err(format!("want {want}, got {actual}"));
                }
            }
            Ok(())
        }
    }
}

fn run_policy_case(path: &Path, policy: &str, case: &Value) -> Result<(), String> {
    let rule_path =
        if path.extension().is_some_and(|e| e == "yaml") && case.get("policy_path").is_some() {
            path.to_path_buf()
        } else {
            path.with_file_name(case["policy_file"].as_str().unwrap_or("rule.yaml"))
        };
    let loaded = load(&rule_path, policy, &LoadContext::default());
    let loaded = match (loaded, case.get("want_error")) {
        (Err(e), Some(want)) => {
            if let Some(line) = case.get("want_error_line").and_then(Value::as_u64) {
                if e.line != Some(line as usize) {
                    return Err(format!("want error at line {line}, got {e}"));
                }
            }
            return support::error_contains(&e.to_string(), want);
        }
        (Err(e), None) => return Err(format!("unexpected load error: {e}")),
        (Ok(_), Some(want)) if case.get("object").is_none() => {
            return Err(format!("want error {want}, loaded"))
        }
        (Ok(l), _) => l,
    };
    if let Some(want) = case.get("want_load") {
        let h = &loaded.header;
        let actual = serde_json::json!({
            "id": h.id, "title": h.title, "mode": h.mode.map(|m| m.to_string()),
            "severity": h.severity, "controls": h.controls,
        });
        for (k, v) in want.as_object().ok_or("want_load must be a mapping")? {
            if &actual[k] != v {
                return Err(format!("header {k}: want {v}, got {}", actual[k]));
            }
        }
    }
    for object in objects(case) {
        let input_path = match case.get("input_path").and_then(Value::as_str) {
            Some(rel) => Path::new(env!("CARGO_MANIFEST_DIR")).join(rel),
            None => path.to_path_buf(),
        };
        let input = Input::from_value(input_path, 0, None, object);
        let outcome = loaded.engine.evaluate(&input);
        match (&outcome, case.get("want_error"), case.get("want")) {
            (Outcome::Error { reason }, Some(want), _) => support::error_contains(reason, want)?,
            (_, Some(want), _) => return Err(format!("want error {want}, got {outcome:?}")),
            (_, None, Some(Value::String(name))) if outcome.name() == name => {}
            (Outcome::Fail { messages, .. }, None, Some(Value::Object(w)))
                if w.contains_key("fail") =>
            {
                let want: Vec<String> =
                    serde_json::from_value(w["fail"].clone()).map_err(|e| e.to_string())?;
                if messages != &want {
                    return Err(format!("want fail {want:?}, got {messages:?}"));
                }
            }
            (_, None, want) => return Err(format!("want {want:?}, got {outcome:?}")),
        }
    }
    Ok(())
}

/// Each gate-4 Gatekeeper rule judges its own cases as their names say and
/// passes the known-good corpus; this runs through [`load`] and the `Engine`
/// trait only, so it holds whatever the library runner does around them.
/// (`require-memory-limits`, gate 4's Kyverno `validate.cel` rule, is judged
/// with the rest of the library by `tests/policy.rs`.)
#[rstest]
fn library_rule_judges_its_cases(
    #[files("policies/gate4-admission/*.yaml")]
    #[exclude("require-memory-limits")]
    path: PathBuf,
) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let rule = load(&path, &text, &LoadContext::default()).unwrap_or_else(|e| panic!("{e}"));
    let id = rule.header.id.clone();
    assert_eq!(Some(id.as_str()), path.file_stem().and_then(|s| s.to_str()));
    let mut failures = Vec::new();
    let mut counts = (0, 0);
    let mut judge = |file: &Path, expect: &str| {
        let text = std::fs::read_to_string(file).unwrap();
        let docs =
            parse_documents(file, &text, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let inputs: Vec<Input> = docs
            .into_iter()
            .enumerate()
            .map(|(i, d)| Input::from_value(file.to_path_buf(), i, Some(d.line), d.value))
            .collect();
        // Fixtures are real objects: a misspelt field must not make a case pass.
        for input in &inputs {
            if let Err(e) = validate_manifest(input) {
                failures.push(e.to_string());
            }
        }
        let outcomes: Vec<Outcome> = inputs.iter().map(|i| rule.engine.evaluate(i)).collect();
        let has = |name: &str| outcomes.iter().any(|o| o.name() == name);
        let ok = match expect {
            "fail" => has("fail") && !has("error"),
            "corpus" => !has("fail") && !has("error"),
            _ => has("pass") && !has("fail") && !has("error"),
        };
        if !ok {
            failures.push(format!(
                "{}: want {expect}, got {outcomes:?}",
                file.display()
            ));
        }
    };
    for entry in std::fs::read_dir(root.join("cases").join(&id)).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("pass-") {
            counts.0 += 1;
            judge(&file, "pass");
        } else if name.starts_with("fail-") {
            counts.1 += 1;
            judge(&file, "fail");
        }
    }
    assert!(
        counts.0 >= 3 && counts.1 >= 3,
        "{id}: want at least 3 pass and 3 fail cases, found {counts:?}"
    );
    for entry in std::fs::read_dir(root.join("cases/_corpus/kubernetes")).unwrap() {
        judge(&entry.unwrap().path(), "corpus");
    }
    assert!(failures.is_empty(), "{id}:\n{}", failures.join("\n"));
}
