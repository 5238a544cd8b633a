//! Kyverno ValidatingPolicy evaluation, driven by `tests/engine/kyverno/vpol/*.yaml`.
//!
//! Each file may hold a file-wide `policy` and has `cases: [{note, policy?, ...}]`:
//! - `resource` (+ optional `numbers: cluster | kyverno-cli`, `namespace` (a
//!   Namespace object), `userInfo`, `context: {resources, images}`,
//!   `any_namespace: true` (Kyverno's CLI scope for a namespaced policy)) and `want:
//!   {status, message?}` (`message` must be contained), or `want: not-matched`;
//! - `want_error: text`: the policy fails to load with an error containing `text`;
//! - `library: text` (a policy file) with `resource` (+ optional `inventory:
//!   [objects]`, written as the case's `_inventory.yaml`) and `want_outcome`
//!   (`pass`, `fail`, `error`, `not-applicable`) and optional `want_mode`: the library `Engine`.

mod support;

use rstest::rstest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use verdict::engine::cel::Numbers;
use verdict::engine::kyverno::vpol::MockContext;
use verdict::engine::kyverno::vpol::{evaluate, ValidatingPolicy, VpolInput};
use verdict::input::Input;
use verdict::library::LoadContext;

#[rstest]
fn validating_policies(#[files("tests/engine/kyverno/vpol/*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |file, case| run_case(&path, file, case));
}

fn run_case(path: &Path, file: &Value, case: &Value) -> Result<(), String> {
    if let Some(library) = case.get("library") {
        return run_library_case(path, library.as_str().ok_or("library must be text")?, case);
    }
    let doc = case
        .get("policy")
        .or_else(|| file.get("policy"))
        .ok_or("no policy")?;
    let parsed = ValidatingPolicy::from_value(doc);
    if let Some(want) = case.get("want_error") {
        return match parsed {
            Ok(_) => Err(format!("policy loaded, want error containing {want}")),
            Err(e) => support::error_contains(&e, want),
        };
    }
    let policy = parsed.map_err(|e| format!("policy does not load: {e}"))?;
    let resource = case.get("resource").ok_or("no resource")?;
    let numbers = match case["numbers"].as_str() {
        None | Some("cluster") => Numbers::Cluster,
        Some("kyverno-cli") => Numbers::KyvernoCli,
        Some(other) => return Err(format!("unknown numbers `{other}`")),
    };
    let context = case.get("context").map(|c| {
        Arc::new(MockContext {
            resources: c["resources"].as_array().cloned().unwrap_or_default(),
            images: c["images"].as_array().cloned().unwrap_or_default(),
        })
    });
    let input = VpolInput {
        object: resource,
        numbers,
        namespace: case.get("namespace"),
        user_info: case.get("userInfo"),
        context,
        any_namespace: case["any_namespace"].as_bool().unwrap_or(false),
        ..Default::default()
    };
    let got = evaluate(&policy, &input);
    let want = &case["want"];
    match (got, want) {
        (None, Value::String(s)) if s == "not-matched" => Ok(()),
        (None, _) => Err(format!("not matched, want {want}")),
        (Some(result), Value::String(s)) if s == "not-matched" => {
            Err(format!("matched: {result:?}"))
        }
        (Some(result), _) => {
            let status = want["status"].as_str().ok_or("want needs status")?;
            if result.status.as_str() != status {
                return Err(format!(
                    "got {} ({}), want {status}",
                    result.status.as_str(),
                    result.message
                ));
            }
            match want.get("message") {
                Some(m) => support::error_contains(&result.message, m),
                None => Ok(()),
            }
        }
    }
}

fn run_library_case(path: &Path, text: &str, case: &Value) -> Result<(), String> {
    let loaded = verdict::engine::kyverno::load(path, text, &LoadContext::default());
    if let Some(want) = case.get("want_load_error") {
        return match loaded {
            Ok(_) => Err(format!("loaded, want a load error containing {want}")),
            Err(e) => support::error_contains(&e.to_string(), want),
        };
    }
    let loaded = loaded.map_err(|e| e.to_string())?;
    if let Some(mode) = case.get("want_mode").and_then(Value::as_str) {
        let got = loaded
            .header
            .mode
            .map(|m| m.to_string())
            .unwrap_or_default();
        if got != mode {
            return Err(format!("mode {got}, want {mode}"));
        }
    }
    let resource = case.get("resource").ok_or("no resource")?.clone();
    let dir = support::case_dir_with_inventory(case)?;
    let input = Input::from_value(dir.path().join("case.yaml"), 0, None, resource);
    let outcome = loaded.engine.evaluate(&input);
    let want = case["want_outcome"]
        .as_str()
        .ok_or("want_outcome must be text")?;
    if outcome.name() != want {
        return Err(format!("outcome {outcome:?}, want {want}"));
    }
    Ok(())
}
