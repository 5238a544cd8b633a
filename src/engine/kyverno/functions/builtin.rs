//! The JMESPath specification's built-in functions, as go-jmespath implements
//! them (type errors are errors, not nulls).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::go_text::{marshal, number};
use super::interpreter::{eval, Args, EvalError, Node};

const NAMES: &[&str] = &[
    "abs",
    "avg",
    "ceil",
    "contains",
    "ends_with",
    "floor",
    "join",
    "keys",
    "length",
    "map",
    "max",
    "max_by",
    "merge",
    "min",
    "min_by",
    "not_null",
    "reverse",
    "sort",
    "sort_by",
    "starts_with",
    "sum",
    "to_array",
    "to_number",
    "to_string",
    "type",
    "values",
];

pub(crate) fn is_known(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Runs the built-in `args.name`, or `None` when there is no such built-in.
pub(crate) fn call(args: &Args) -> Option<Result<Value, EvalError>> {
    Some(match args.name {
        "abs" => unary_number(args, f64::abs),
        "ceil" => unary_number(args, f64::ceil),
        "floor" => unary_number(args, f64::floor),
        "avg" => avg(args),
        "contains" => contains(args),
        "ends_with" => string_pair(args, |s, suffix| s.ends_with(suffix)),
        "starts_with" => string_pair(args, |s, prefix| s.starts_with(prefix)),
        "join" => join(args),
        "keys" => keys(args),
        "values" => values(args),
        "length" => length(args),
        "map" => map(args),
        "max" => extreme(args, Ordering::Greater),
        "min" => extreme(args, Ordering::Less),
        "max_by" => extreme_by(args, Ordering::Greater),
        "min_by" => extreme_by(args, Ordering::Less),
        "merge" => merge(args),
        "not_null" => not_null(args),
        "reverse" => reverse(args),
        "sort" => sort(args),
        "sort_by" => sort_by(args),
        "sum" => builtin_sum(args),
        "to_array" => to_array(args),
        "to_number" => to_number(args),
        "to_string" => to_string(args),
        "type" => type_of(args),
        _ => return None,
    })
}

/// The JMESPath type name of a value.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn unary_number(args: &Args, f: fn(f64) -> f64) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(number(f(args.number(0)?)))
}

fn numbers(args: &Args, items: &[Value], index: usize) -> Result<Vec<f64>, EvalError> {
    items
        .iter()
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| args.type_error(index, "array[number]"))
        })
        .collect()
}

fn avg(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let items = numbers(args, args.array(0)?, 0)?;
    if items.is_empty() {
        return Ok(Value::Null);
    }
    Ok(number(items.iter().sum::<f64>() / items.len() as f64))
}

fn builtin_sum(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(number(numbers(args, args.array(0)?, 0)?.iter().sum()))
}

fn contains(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let needle = args.value(1)?;
    match args.value(0)? {
        Value::Array(items) => {
            Ok(Value::Bool(items.iter().any(|item| {
                super::interpreter::values_equal(item, needle)
            })))
        }
        Value::String(s) => match needle {
            Value::String(n) => Ok(Value::Bool(s.contains(n.as_str()))),
            _ => Ok(Value::Bool(false)),
        },
        _ => Err(args.type_error(0, "array or string")),
    }
}

fn string_pair(args: &Args, f: fn(&str, &str) -> bool) -> Result<Value, EvalError> {
    args.arity(2)?;
    Ok(Value::Bool(f(args.string(0)?, args.string(1)?)))
}

fn join(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let glue = args.string(0)?;
    let parts: Vec<&str> = args
        .array(1)?
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| args.type_error(1, "array[string]"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Value::String(parts.join(glue)))
}

fn keys(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(Value::Array(
        args.object(0)?.keys().cloned().map(Value::String).collect(),
    ))
}

fn values(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(Value::Array(args.object(0)?.values().cloned().collect()))
}

fn length(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let len = match args.value(0)? {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => return Err(args.type_error(0, "string, array or object")),
    };
    Ok(number(len as f64))
}

fn apply(node: &Node, value: &Value) -> Result<Value, EvalError> {
    match eval(node, value) {
        Ok(v) => Ok(v.into_owned()),
        Err(EvalError::NotFound { .. }) => Ok(Value::Null),
        Err(e) => Err(e),
    }
}

fn map(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let node = args.expref(0)?;
    let items = args.array(1)?;
    Ok(Value::Array(
        items
            .iter()
            .map(|item| apply(node, item))
            .collect::<Result<_, _>>()?,
    ))
}

/// Orders two sortable values of the same kind (numbers or strings).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn homogeneous(items: &[Value]) -> bool {
    items.iter().all(Value::is_number) || items.iter().all(Value::is_string)
}

fn extreme(args: &Args, want: Ordering) -> Result<Value, EvalError> {
    args.arity(1)?;
    let items = args.array(0)?;
    if !homogeneous(items) {
        return Err(args.type_error(0, "array[number] or array[string]"));
    }
    let mut best: Option<&Value> = None;
    for item in items {
        if best.is_none_or(|b| order(item, b) == Some(want)) {
            best = Some(item);
        }
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn keyed(args: &Args) -> Result<Vec<(Value, Value)>, EvalError> {
    args.arity(2)?;
    let items = args.array(0)?;
    let node = args.expref(1)?;
    let pairs: Vec<(Value, Value)> = items
        .iter()
        .map(|item| Ok((apply(node, item)?, item.clone())))
        .collect::<Result<_, EvalError>>()?;
    let keys: Vec<Value> = pairs.iter().map(|(k, _)| k.clone()).collect();
    if !homogeneous(&keys) {
        return Err(EvalError::function(
            args.name,
            "expression must evaluate to all numbers or all strings",
        ));
    }
    Ok(pairs)
}

fn extreme_by(args: &Args, want: Ordering) -> Result<Value, EvalError> {
    let pairs = keyed(args)?;
    let mut best: Option<&(Value, Value)> = None;
    for pair in &pairs {
        if best.is_none_or(|b| order(&pair.0, &b.0) == Some(want)) {
            best = Some(pair);
        }
    }
    Ok(best.map(|(_, v)| v.clone()).unwrap_or(Value::Null))
}

fn merge(args: &Args) -> Result<Value, EvalError> {
    args.at_least(1)?;
    let mut out = Map::new();
    for index in 0..args.len() {
        for (k, v) in args.object(index)? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn not_null(args: &Args) -> Result<Value, EvalError> {
    args.at_least(1)?;
    for index in 0..args.len() {
        let value = args.value(index)?;
        if !value.is_null() {
            return Ok(value.clone());
        }
    }
    Ok(Value::Null)
}

fn reverse(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    match args.value(0)? {
        Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
        Value::Array(a) => Ok(Value::Array(a.iter().rev().cloned().collect())),
        _ => Err(args.type_error(0, "array or string")),
    }
}

fn sort(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let items = args.array(0)?;
    if !homogeneous(items) {
        return Err(args.type_error(0, "array[number] or array[string]"));
    }
    let mut sorted = items.clone();
    sorted.sort_by(|a, b| order(a, b).unwrap_or(Ordering::Equal));
    Ok(Value::Array(sorted))
}

fn sort_by(args: &Args) -> Result<Value, EvalError> {
    let mut pairs = keyed(args)?;
    pairs.sort_by(|a, b| order(&a.0, &b.0).unwrap_or(Ordering::Equal));
    Ok(Value::Array(pairs.into_iter().map(|(_, v)| v).collect()))
}

fn to_array(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(match args.value(0)? {
        Value::Array(a) => Value::Array(a.clone()),
        other => Value::Array(vec![other.clone()]),
    })
}

fn to_number(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(match args.value(0)? {
        Value::Number(n) => Value::Number(n.clone()),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(number)
            .unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

fn to_string(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(match args.value(0)? {
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(marshal(other)),
    })
}

fn type_of(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(Value::String(type_name(args.value(0)?).into()))
}
