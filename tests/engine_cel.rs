//! CEL core behaviour, driven by `tests/engine/cel/*.yaml`.
//!
//! Each file holds `cases: [{note, expression, want | want_error}]` with optional
//! `bindings` (name → JSON document), `numbers` (`cluster`, the default, or
//! `kyverno-cli`), `variables` (`[{name, expression}]`, evaluated in order and
//! bound as `variables`), `as` (`bool` or `string`: compile with `compile_bool` /
//! `compile_string` and evaluate with `eval_bool` / `eval_string`;
//! `string-or-null`: an audit annotation's type; `variables.<name>` has its
//! variable's type) and `huge_list: N` (binds `object: {items: [0, .., N-1]}`).
//! `want` is the result as JSON; `want_error: text`: compiling or evaluating
//! fails with a message containing `text`, and `error_at: compile | eval` says which.

mod support;

use rstest::rstest;
use serde_json::{json, Value};
use std::path::PathBuf;
use verdict::engine::cel::{to_json, Activation, CelEnv, CelError, Numbers, ResultType};

#[rstest]
fn cel_engine(#[files("tests/engine/cel/*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |_, case| run_case(case));
}

fn numbers(case: &Value) -> Result<Numbers, String> {
    match case["numbers"].as_str() {
        None | Some("cluster") => Ok(Numbers::Cluster),
        Some("kyverno-cli") => Ok(Numbers::KyvernoCli),
        Some(other) => Err(format!("unknown numbers {other:?}")),
    }
}

/// Where a case stopped: at compile or at evaluation, with the error.
enum Stop {
    Compile(CelError),
    Eval(CelError),
}

fn evaluate(case: &Value) -> Result<Result<Value, Stop>, String> {
    let env = CelEnv::kubernetes();
    let numbers = numbers(case)?;
    let mut activation = Activation::new();
    for (name, doc) in case["bindings"].as_object().into_iter().flatten() {
        activation.bind_json(name, doc, numbers);
    }
    if let Some(n) = case["huge_list"].as_u64() {
        activation.bind_json(
            "object",
            &json!({ "items": (0..n).collect::<Vec<_>>() }),
            numbers,
        );
    }
    let mut variables = Vec::new();
    for v in case["variables"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().ok_or("variable without `name`")?;
        match env.compile_with_variables(
            v["expression"]
                .as_str()
                .ok_or("variable without `expression`")?,
            &[],
            &variables,
        ) {
            Ok(e) => variables.push((name.to_string(), e)),
            Err(e) => return Ok(Err(Stop::Compile(e))),
        }
    }
    activation.bind_variables(&variables);
    let source = case["expression"]
        .as_str()
        .ok_or("`expression` must be text")?;
    // The field's result type is checked at compile, as the load sites do.
    let wanted: &[ResultType] = match case["as"].as_str() {
        None => &[],
        Some("bool") => &[ResultType::Bool],
        Some("string") => &[ResultType::String],
        Some("string-or-null") => &[ResultType::String, ResultType::Null],
        Some(other) => return Err(format!("unknown `as: {other}`")),
    };
    let expression = match env.compile_with_variables(source, wanted, &variables) {
        Ok(e) => e,
        Err(e) => return Ok(Err(Stop::Compile(e))),
    };
    let result = match case["as"].as_str() {
        None | Some("string-or-null") => expression.evaluate(&activation).and_then(|v| {
            to_json(&v).map_err(|e| CelError::Evaluation {
                expression: source.into(),
                message: e.to_string(),
            })
        }),
        Some("bool") => expression.eval_bool(&activation).map(Value::Bool),
        Some("string") => expression.eval_string(&activation).map(Value::String),
        Some(other) => return Err(format!("unknown `as: {other}`")),
    };
    Ok(result.map_err(Stop::Eval))
}

fn run_case(case: &Value) -> Result<(), String> {
    let got = evaluate(case)?;
    match (case.get("want"), case.get("want_error"), got) {
        (Some(want), None, Ok(value)) if &value == want => Ok(()),
        (Some(want), None, Ok(value)) => Err(format!("want {want}, got {value}")),
        (Some(_), None, Err(Stop::Compile(e) | Stop::Eval(e))) => {
            Err(format!("unexpected error: {e}"))
        }
        (None, Some(want_error), Err(stop)) => {
            let (at, error) = match stop {
                Stop::Compile(e) => ("compile", e),
                Stop::Eval(e) => ("eval", e),
            };
            if let Some(want_at) = case["error_at"].as_str() {
                if want_at != at {
                    return Err(format!(
                        "want an error at {want_at}, got one at {at}: {error}"
                    ));
                }
            }
            support::error_contains(&error.to_string(), want_error)
        }
        (None, Some(_), Ok(value)) => Err(format!("want an error, got {value}")),
        _ => Err("a case needs exactly one of `want` and `want_error`".into()),
    }
}
