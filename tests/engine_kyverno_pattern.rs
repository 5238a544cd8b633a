//! Kyverno `validate.pattern` behaviour, driven by
//! `tests/engine/kyverno/pattern-*.yaml` and `tests/engine/kyverno/anchor-*.yaml`.
//!
//! Each file has `cases: [{note, pattern, resource, want, want_path?, want_message?}]`:
//! `want` is `pass`, `fail` (a failure with a path), `skip` (a conditional or
//! global anchor did not match) or `error` (a failure without a path, which
//! Kyverno reports as a rule error). `want_path` is the exact path Kyverno
//! prints, `want_message` a substring of the error text.

mod support;

use rstest::rstest;
use serde_json::Value;
use std::path::PathBuf;
use verdict::engine::kyverno::validate::{match_pattern, PatternError, PatternErrorKind};

#[rstest]
fn kyverno_pattern(
    #[files("tests/engine/kyverno/pattern-*.yaml")]
    #[files("tests/engine/kyverno/anchor-*.yaml")]
    path: PathBuf,
) {
    support::run_yaml_cases(&path, |_, case| run_case(case));
}

fn outcome(result: &Result<(), PatternError>) -> &'static str {
    match result {
        Ok(()) => "pass",
        Err(e) if e.kind == PatternErrorKind::Skip => "skip",
        Err(e) if e.is_rule_error() => "error",
        Err(_) => "fail",
    }
}

fn run_case(case: &Value) -> Result<(), String> {
    let pattern = case.get("pattern").ok_or("no pattern")?;
    let resource = case.get("resource").ok_or("no resource")?;
    let want = case["want"].as_str().ok_or("no want")?;
    if !["pass", "fail", "skip", "error"].contains(&want) {
        return Err(format!("unknown want {want:?}"));
    }
    let result = match_pattern(resource, pattern);
    let got = outcome(&result);
    if got != want {
        return Err(format!("want {want}, got {got}: {result:?}"));
    }
    if let Some(want_path) = case.get("want_path") {
        let want_path = want_path.as_str().ok_or("want_path must be text")?;
        let got_path = result.as_ref().err().map_or("", |e| e.path.as_str());
        if got_path != want_path {
            return Err(format!("want path {want_path:?}, got {got_path:?}"));
        }
    }
    if let Some(want_message) = case.get("want_message") {
        let want_message = want_message.as_str().ok_or("want_message must be text")?;
        let got_message = result.as_ref().err().map_or("", |e| e.message.as_str());
        if !got_message.contains(want_message) {
            return Err(format!(
                "want message containing {want_message:?}, got {got_message:?}"
            ));
        }
    }
    Ok(())
}

/// A pattern nested 10 000 deep is refused with an error, not a stack overflow.
#[test]
fn deep_nesting_is_an_error() {
    let depth = 10_000;
    let mut pattern = Value::String("x".into());
    let mut resource = Value::String("x".into());
    for _ in 0..depth {
        pattern = wrap(pattern);
        resource = wrap(resource);
    }
    let result = match_pattern(&resource, &pattern);
    let err = result.expect_err("too deep must not pass");
    assert!(err.is_rule_error(), "{err:?}");
    assert!(err.message.contains("nested deeper"), "{err:?}");
    dismantle(pattern);
    dismantle(resource);

    let mut arrays = Value::String("x".into());
    for _ in 0..depth {
        arrays = Value::Array(vec![arrays]);
    }
    let err = match_pattern(&arrays, &arrays).expect_err("too deep must not pass");
    assert!(err.is_rule_error(), "{err:?}");
    dismantle(arrays);
}

/// Just under the limit still works.
#[test]
fn nesting_within_limit_is_walked() {
    let depth = verdict::limits::Limits::default().max_depth;
    let mut pattern = Value::String("?*".into());
    let mut resource = Value::String("x".into());
    for _ in 0..depth {
        pattern = wrap(Value::Array(vec![pattern]));
        resource = wrap(Value::Array(vec![resource]));
    }
    // Each level is a map and an array: twice the limit, so refused.
    assert!(match_pattern(&resource, &pattern)
        .unwrap_err()
        .is_rule_error());
    let mut pattern = Value::String("?*".into());
    let mut resource = Value::String("x".into());
    for _ in 0..depth / 2 - 1 {
        pattern = wrap(Value::Array(vec![pattern]));
        resource = wrap(Value::Array(vec![resource]));
    }
    assert_eq!(match_pattern(&resource, &pattern), Ok(()));
    dismantle(pattern);
    dismantle(resource);
}

/// `{"a": value}` without `json!`, which would serialise (recursively) a copy.
fn wrap(value: Value) -> Value {
    Value::Object(serde_json::Map::from_iter([("a".to_string(), value)]))
}

/// Drops a deep value without recursion, which could overflow the test thread.
fn dismantle(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}
