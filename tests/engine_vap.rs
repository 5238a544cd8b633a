//! ValidatingAdmissionPolicy library rules, driven by `tests/engine/vap/*.yaml`.
//!
//! Each file may hold a file-wide `policy` (a rule file's text: policy,
//! bindings, param objects) and has `cases: [{note, policy?, ...}]`:
//! - `want_load_error: text`: [`load`] fails with an error containing `text`.
//! - `want_load: {id, mode, title, severity, controls}`: the header [`load`] reads.
//! - `input` (+ optional `inventory: [objects]`, written as the case's
//!   `_inventory.yaml`) with `want` (`pass`, `fail`, `error`, `warn`,
//!   `not-applicable`) and optional `want_messages: [text]`, each contained in
//!   one message of the outcome, or `want_exact_messages: [text]`, all of them.

mod support;

use rstest::rstest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use verdict::engine::vap::load;
use verdict::input::Input;
use verdict::library::LoadContext;

#[rstest]
fn vap_cases(#[files("tests/engine/vap/*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |file, case| run_case(&path, file, case));
}

fn run_case(path: &Path, file: &Value, case: &Value) -> Result<(), String> {
    let text = case
        .get("policy")
        .or_else(|| file.get("policy"))
        .and_then(Value::as_str)
        .ok_or("no policy text")?;
    let policy_path = Path::new("policies/gate5-pod-security/case.yaml");
    let loaded = load(policy_path, text, &LoadContext::default());
    if let Some(want) = case.get("want_load_error") {
        return match loaded {
            Ok(_) => Err(format!(
                "policy loaded, want a load error containing {want}"
            )),
            Err(e) => support::error_contains(&e.to_string(), want),
        };
    }
    let loaded = loaded.map_err(|e| format!("policy does not load: {e}"))?;
    if let Some(want) = case.get("want_load") {
        let h = &loaded.header;
        let got = serde_json::json!({
            "id": h.id, "title": h.title, "severity": h.severity,
            "mode": h.mode.map(|m| m.to_string()), "controls": h.controls,
        });
        for (key, value) in want.as_object().ok_or("want_load must be a map")? {
            if &got[key] != value {
                return Err(format!("header {key}: got {}, want {value}", got[key]));
            }
        }
    }
    let Some(want) = case.get("want") else {
        return Ok(());
    };
    let dir = support::case_dir_with_inventory(case)?;
    let object = case.get("input").cloned().ok_or("no input")?;
    let input = Input::from_value(dir.path().join("case.yaml"), 0, None, object);
    let outcome = loaded.engine.evaluate(&input);
    if outcome.name() != want.as_str().unwrap_or("") {
        return Err(format!(
            "outcome {outcome:?}, want {want} ({})",
            path.display()
        ));
    }
    let messages = outcome.messages();
    for text in case
        .get("want_messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = text.as_str().ok_or("want_messages entries must be text")?;
        if !messages.iter().any(|m| m.contains(text)) {
            return Err(format!("no message contains {text:?}: {messages:?}"));
        }
    }
    if let Some(exact) = case.get("want_exact_messages") {
        let exact: Vec<String> = serde_json::from_value(exact.clone()).map_err(|e| e.to_string())?;
        if exact != messages {
            return Err(format!("messages {messages:?}, want exactly {exact:?}"));
        }
    }
    Ok(())
}

#[test]
fn the_library_knows_a_policy_file_by_its_first_document() {
    use verdict::library::{detect_language, Language};
    let path = Path::new("policies/gate5-pod-security/x.yaml");
    let policy = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n";
    assert_eq!(detect_language(path, policy).unwrap(), Language::Vap);
    let binding_first = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\n";
    let error = detect_language(path, binding_first).unwrap_err().to_string();
    assert!(error.contains("put the policy first"), "{error}");
}
