//! Kyverno variables, JMESPath functions and condition operators, driven by
//! YAML cases in `tests/engine/kyverno/{variables,functions,conditions}*.yaml`.
//!
//! Each case has a `note`, a `ctx` (the admission context, default `{}`), one of
//! `expr` (a JMESPath query), `template` (a document to substitute, with an
//! optional `resource` for `{{@}}`) or `conditions` (a condition block), and
//! either `want` (the result; for conditions, whether the block passed) with an
//! optional `want_message`, or `want_error` (a substring of the error, or `true`).

mod support;

use std::path::PathBuf;

use rstest::rstest;
use serde::Deserialize;
use serde_json::Value;
use verdict::engine::kyverno::conditions::evaluate_conditions_detailed;
use verdict::engine::kyverno::variables::{query, substitute_all_with_resource};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    #[serde(default = "empty_object")]
    ctx: Value,
    expr: Option<String>,
    template: Option<Value>,
    resource: Option<Value>,
    conditions: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    want: Option<Value>,
    want_message: Option<String>,
    want_error: Option<Value>,
}

/// Kyverno's context is always an object; an absent `ctx` is an empty one.
fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Tells `want: null` (expect null) apart from no `want` at all.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Numbers compare by value, so `3` and `3.0` are the same answer.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| same(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn run_case(case: &Case) -> Result<(), String> {
    let inputs = [
        case.expr.is_some(),
        case.template.is_some(),
        case.conditions.is_some(),
    ];
    if inputs.iter().filter(|x| **x).count() != 1 {
        return Err("exactly one of expr, template, conditions is required".into());
    }
    if case.want.is_some() == case.want_error.is_some() {
        return Err("exactly one of want, want_error is required".into());
    }
    let mut message = None;
    let outcome: Result<Value, String> = if let Some(expr) = &case.expr {
        query(expr, &case.ctx).map_err(|e| e.to_string())
    } else if let Some(template) = &case.template {
        substitute_all_with_resource(template, &case.ctx, case.resource.as_ref())
            .map_err(|e| e.to_string())
    } else {
        let conditions = case.conditions.as_ref().expect("checked above");
        evaluate_conditions_detailed(conditions, &case.ctx)
            .map(|r| {
                message = Some(r.message());
                Value::Bool(r.passed)
            })
            .map_err(|e| e.to_string())
    };
    match (&case.want, &case.want_error, outcome) {
        (Some(want), _, Ok(got)) => {
            if !same(want, &got) {
                return Err(format!("want {want}, got {got}"));
            }
            if let Some(want_message) = &case.want_message {
                if message.as_deref() != Some(want_message.as_str()) {
                    return Err(format!("want message {want_message:?}, got {message:?}"));
                }
            }
            Ok(())
        }
        (Some(want), _, Err(e)) => Err(format!("want {want}, got error: {e}")),
        (_, Some(want_error), Ok(got)) => Err(format!("want error {want_error}, got {got}")),
        (_, Some(want_error), Err(e)) => match want_error {
            Value::Bool(true) => Ok(()),
            Value::String(fragment) if e.contains(fragment.as_str()) => Ok(()),
            other => Err(format!("want error containing {other}, got error: {e}")),
        },
        (None, None, _) => unreachable!("checked above"),
    }
}

/// Cases are typed here, so `deny_unknown_fields` catches a misspelt key.
fn run_file(path: PathBuf) {
    let file: CaseFile = support::read_yaml(&path);
    support::run_cases(&path, &file.cases, |case| case.note.as_str(), run_case);
}

#[rstest]
fn variables(#[files("tests/engine/kyverno/variables*.yaml")] path: PathBuf) {
    run_file(path);
}

#[rstest]
fn functions(#[files("tests/engine/kyverno/functions*.yaml")] path: PathBuf) {
    run_file(path);
}

#[rstest]
fn conditions(#[files("tests/engine/kyverno/conditions*.yaml")] path: PathBuf) {
    run_file(path);
}
