//! Kyverno `validate.podSecurity` behaviour, driven by `tests/engine/kyverno/pss-*.yaml`.
//!
//! Each file has `cases: [{note, podSecurity, resource, want_violations | want_error,
//! want_fields?, want_images?, want_message?}]`: `want_violations` lists the control
//! names still failing after exclusions (order-free, duplicates count: restricted
//! runs the baseline and restricted variants of Capabilities and Seccomp),
//! `want_error` is a substring of the rule error, `want_fields` the field paths of
//! all field errors (order-free), `want_images` the images reported (order-free),
//! and `want_message` Kyverno's full message for a rule named `pss`. `exceptions`
//! lists the `podSecurity` excludes of matching PolicyExceptions, and
//! `want_exempted` whether they cleared a failing rule (Kyverno's skip).

mod support;

use rstest::rstest;
use serde_json::Value;
use std::path::PathBuf;
use verdict::engine::kyverno::handlers::pss::{evaluate_with_exceptions, PssOutcome};

#[rstest]
fn kyverno_pod_security(#[files("tests/engine/kyverno/pss-*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |_, case| run_case(case));
}

fn sorted_strings(value: &Value, what: &str) -> Result<Vec<String>, String> {
    let list = value
        .as_array()
        .ok_or_else(|| format!("{what} must be a list"))?;
    let mut out = list
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{what} must list text"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(out)
}

fn run_case(case: &Value) -> Result<(), String> {
    let pod_security = case.get("podSecurity").ok_or("no podSecurity")?;
    let resource = case.get("resource").ok_or("no resource")?;
    let exceptions = match case.get("exceptions") {
        None => vec![],
        Some(list) => list.as_array().ok_or("exceptions must be a list")?.clone(),
    };
    let result = evaluate_with_exceptions(pod_security, &exceptions, resource);
    if let Some(want_error) = case.get("want_error") {
        let want_error = want_error.as_str().ok_or("want_error must be text")?;
        return match result {
            Err(e) if e.contains(want_error) => Ok(()),
            Err(e) => Err(format!(
                "want error containing {want_error:?}, got error {e:?}"
            )),
            Ok((outcome, _)) => Err(format!("want error, got {}", outcome.message("pss"))),
        };
    }
    let (outcome, exempted) = result.map_err(|e| format!("unexpected error: {e}"))?;
    let want_exempted = case
        .get("want_exempted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if exempted != want_exempted {
        return Err(format!("want exempted {want_exempted}, got {exempted}"));
    }
    let want = sorted_strings(
        case.get("want_violations").ok_or("no want_violations")?,
        "want_violations",
    )?;
    let mut got: Vec<String> = outcome
        .violations
        .iter()
        .map(|v| v.control.clone())
        .collect();
    got.sort();
    if got != want {
        return Err(format!(
            "want violations {want:?}, got {got:?}: {}",
            outcome.message("pss")
        ));
    }
    check_optional(case, &outcome)
}

fn check_optional(case: &Value, outcome: &PssOutcome) -> Result<(), String> {
    if let Some(want_fields) = case.get("want_fields") {
        let want = sorted_strings(want_fields, "want_fields")?;
        let mut got: Vec<String> = outcome
            .violations
            .iter()
            .flat_map(|v| v.field_errors.iter().map(|e| e.field.clone()))
            .collect();
        got.sort();
        if got != want {
            return Err(format!("want fields {want:?}, got {got:?}"));
        }
    }
    if let Some(want_images) = case.get("want_images") {
        let want = sorted_strings(want_images, "want_images")?;
        let mut got: Vec<String> = outcome
            .violations
            .iter()
            .flat_map(|v| v.images.clone())
            .collect();
        got.sort();
        if got != want {
            return Err(format!("want images {want:?}, got {got:?}"));
        }
    }
    if let Some(want_message) = case.get("want_message") {
        let want = want_message.as_str().ok_or("want_message must be text")?;
        let got = outcome.message("pss");
        if got != want {
            return Err(format!("want message\n  {want:?}\ngot\n  {got:?}"));
        }
    }
    Ok(())
}

/// Unknown fields and volume sources nested 10 000 deep are not walked: no stack
/// overflow, and the checks still see the fields they read.
#[test]
fn deep_unknown_fields_are_not_walked() {
    // Built by moves only: `json!` interpolation, cloning and dropping all recurse.
    let deep = || {
        let mut value = Value::String("leaf".into());
        for _ in 0..10_000 {
            let mut wrapper = serde_json::Map::new();
            wrapper.insert("x".into(), value);
            value = Value::Object(wrapper);
        }
        value
    };
    let mut pod = serde_json::json!({
        "kind": "Pod",
        "spec": {
            "hostIPC": true,
            "containers": [{"name": "app", "image": "nginx", "unknownField": null}],
            "volumes": [{"name": "data", "csi": {"driver": "d", "volumeAttributes": null}}],
        },
    });
    *pod.pointer_mut("/spec/containers/0/unknownField").unwrap() = deep();
    *pod.pointer_mut("/spec/volumes/0/csi/volumeAttributes")
        .unwrap() = deep();
    let rule = serde_json::json!({"level": "restricted"});
    let (outcome, _) = evaluate_with_exceptions(&rule, &[], &pod).expect("evaluates");
    let controls: Vec<&str> = outcome
        .violations
        .iter()
        .map(|v| v.control.as_str())
        .collect();
    assert!(controls.contains(&"Host Namespaces"), "{controls:?}");
    assert!(!controls.contains(&"Volume Types"), "{controls:?}");
    std::mem::forget(pod);
}
