//! Leaf values of a Kyverno pattern: one resource value against one pattern
//! value, with Kyverno's coercions, wildcards, operators, ranges, quantities
//! and durations (Kyverno's `pkg/engine/pattern`).
//!
//! Kyverno decodes patterns with `encoding/json`, so every pattern number is a
//! float64, while resource numbers are int64 when integral. [`validate_value`]
//! keeps that split: pattern numbers are compared as `f64`, resource numbers
//! as `i64` when they fit.

use serde_json::{Number, Value};

use super::operator::{split_range, Operator};
use super::quantity::{parse_duration, Quantity};
use super::wildcards;

/// Whether a resource value satisfies a leaf pattern value.
///
/// ```
/// use serde_json::json;
/// use verdict::engine::kyverno::pattern::validate_value;
/// assert!(validate_value(&json!("nginx:1.25"), &json!("!*:latest")));
/// assert!(validate_value(&json!("250m"), &json!("<= 1")));
/// assert!(validate_value(&json!(3), &json!("1-5")));
/// assert!(validate_value(&json!("3"), &json!(3)));
/// assert!(!validate_value(&json!(null), &json!("?*")));
/// assert!(validate_value(&json!(false), &json!(null)));
/// ```
pub fn validate_value(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(expected) => value.as_bool() == Some(*expected),
        Value::Number(number) => validate_float_pattern(value, number_as_f64(number)),
        Value::Null => validate_nil_pattern(value),
        // Only the presence of a map is checked at a leaf, not its content.
        Value::Object(_) => value.is_object(),
        Value::String(text) => validate_string_patterns(value, text),
        Value::Array(_) => false,
    }
}

/// A resource number the way Kubernetes' JSON decoding types it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ResourceNumber {
    Int(i64),
    Float(f64),
}

/// 2^63, exactly representable; the bound of int64 conversions.
const TWO_POW_63: f64 = -(i64::MIN as f64);

/// Kyverno's CLI reads resources through YAML-to-JSON, which writes an
/// integral float such as `1.0` as `1`, later decoded as int64.
fn resource_number(number: &Number) -> ResourceNumber {
    if let Some(int) = number.as_i64() {
        return ResourceNumber::Int(int);
    }
    let float = number_as_f64(number);
    if float.is_finite() && float == float.trunc() && float.abs() < TWO_POW_63 {
        ResourceNumber::Int(float as i64)
    } else {
        ResourceNumber::Float(float)
    }
}

fn number_as_f64(number: &Number) -> f64 {
    number.as_f64().unwrap_or(f64::NAN)
}

fn validate_float_pattern(value: &Value, pattern: f64) -> bool {
    match value {
        Value::Number(number) => match resource_number(number) {
            ResourceNumber::Int(int) => {
                pattern == pattern.trunc() && go_float_to_int64(pattern) == int
            }
            ResourceNumber::Float(float) => float == pattern,
        },
        Value::String(text) => parse_go_float(text) == Some(pattern),
        _ => false,
    }
}

/// Go's `int64(f)` on amd64: out-of-range and NaN become `i64::MIN`.
fn go_float_to_int64(float: f64) -> i64 {
    if (-TWO_POW_63..TWO_POW_63).contains(&float) {
        float as i64
    } else {
        i64::MIN
    }
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms; out-of-range is an error.
fn parse_go_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let named = ["inf", "infinity", "nan"]
        .iter()
        .any(|name| body.eq_ignore_ascii_case(name));
    if !named
        && !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let parsed: f64 = text.parse().ok()?;
    if parsed.is_infinite() && !named {
        return None;
    }
    Some(parsed)
}

fn validate_nil_pattern(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(text) => text.is_empty(),
        Value::Number(number) => match resource_number(number) {
            ResourceNumber::Int(int) => int == 0,
            ResourceNumber::Float(float) => float == 0.0,
        },
        Value::Object(_) | Value::Array(_) => false,
    }
}

/// `a | b` is any of the alternatives, `a & b` all of the conditions.
fn validate_string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alternative| {
        alternative
            .trim_matches(' ')
            .split('&')
            .all(|condition| validate_string_pattern(value, condition.trim_matches(' ')))
    })
}

fn validate_string_pattern(value: &Value, pattern: &str) -> bool {
    let op = Operator::from_pattern(pattern);
    match op {
        Operator::InRange => split_range(pattern, op).is_some_and(|(low, high)| {
            validate_string_pattern(value, &format!(">= {low}"))
                && validate_string_pattern(value, &format!("<= {high}"))
        }),
        Operator::NotInRange => split_range(pattern, op).is_some_and(|(low, high)| {
            validate_string_pattern(value, &format!("< {low}"))
                || validate_string_pattern(value, &format!("> {high}"))
        }),
        _ => {
            let operand = pattern[op.prefix().len()..].trim();
            compare_duration(value, operand, op)
                .or_else(|| compare_quantity(value, operand, op))
                .unwrap_or_else(|| compare_string(value, operand, op))
        }
    }
}

fn apply_ordering(ordering: std::cmp::Ordering, op: Operator) -> Option<bool> {
    use std::cmp::Ordering::*;
    Some(match op {
        Operator::Equal => ordering == Equal,
        Operator::NotEqual => ordering != Equal,
        Operator::More => ordering == Greater,
        Operator::Less => ordering == Less,
        Operator::MoreEqual => ordering != Less,
        Operator::LessEqual => ordering != Greater,
        Operator::InRange | Operator::NotInRange => return None,
    })
}

/// `None` when either side is not a duration, so the next comparison runs.
fn compare_duration(value: &Value, pattern: &str, op: Operator) -> Option<bool> {
    let pattern = parse_duration(pattern)?;
    let value = parse_duration(&number_as_string(value)?)?;
    apply_ordering(value.cmp(&pattern), op)
}

fn compare_quantity(value: &Value, pattern: &str, op: Operator) -> Option<bool> {
    let pattern = Quantity::parse(pattern)?;
    let value = Quantity::parse(&number_as_string(value)?)?;
    apply_ordering(value.cmp(&pattern), op)
}

/// Kyverno's `convertNumberToString`: null is "0", floats use `%f`.
fn number_as_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".to_string()),
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(match resource_number(number) {
            ResourceNumber::Int(int) => int.to_string(),
            ResourceNumber::Float(float) => format!("{float:.6}"),
        }),
        _ => None,
    }
}

/// Wildcard equality on the value's text; ordering operators never hold.
fn compare_string(value: &Value, pattern: &str, op: Operator) -> bool {
    if !matches!(op, Operator::Equal | Operator::NotEqual) {
        return false;
    }
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(number) => match resource_number(number) {
            ResourceNumber::Int(int) => int.to_string(),
            ResourceNumber::Float(float) => go_format_float_e(float),
        },
        Value::Null | Value::Object(_) | Value::Array(_) => return false,
    };
    wildcards::matches(pattern, &text) == (op == Operator::Equal)
}

/// Go's `strconv.FormatFloat(f, 'E', -1, 64)`: shortest digits, `1.5E+00`.
fn go_format_float_e(float: f64) -> String {
    if !float.is_finite() {
        return go_special_float(float);
    }
    let (mantissa, exponent) = shortest_exponent_parts(float);
    format_exponent(&mantissa, exponent, 'E')
}

fn go_special_float(float: f64) -> String {
    if float.is_nan() {
        "NaN".to_string()
    } else if float > 0.0 {
        "+Inf".to_string()
    } else {
        "-Inf".to_string()
    }
}

/// Splits Rust's shortest `{:e}` rendering into mantissa and exponent.
fn shortest_exponent_parts(float: f64) -> (String, i32) {
    let rendered = format!("{float:e}");
    let (mantissa, exponent) = rendered.split_once('e').unwrap_or((&rendered, "0"));
    (mantissa.to_string(), exponent.parse().unwrap_or(0))
}

fn format_exponent(mantissa: &str, exponent: i32, letter: char) -> String {
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}{letter}{sign}{:02}", exponent.unsigned_abs())
}

/// Go's `%v` of a float64: shortest digits, exponent form below 1e-4 or from
/// 1e6 up (shortest `%g` decides with precision 6).
pub(crate) fn go_format_float_v(float: f64) -> String {
    if !float.is_finite() {
        return go_special_float(float);
    }
    let (mantissa, exponent) = shortest_exponent_parts(float);
    if !(-4..6).contains(&exponent) {
        return format_exponent(&mantissa, exponent, 'e');
    }
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = exponent + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's `%v` of a decoded JSON value, depth-limited so hostile input cannot
/// exhaust the stack while building an error message.
pub(crate) fn go_format_value(value: &Value) -> String {
    let mut out = String::new();
    write_go_value(value, &mut out, 0);
    out
}

const FORMAT_DEPTH: usize = 32;

fn write_go_value(value: &Value, out: &mut String, depth: usize) {
    if depth > FORMAT_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Number(number) => match resource_number(number) {
            ResourceNumber::Int(int) => out.push_str(&int.to_string()),
            ResourceNumber::Float(float) => out.push_str(&go_format_float_v(float)),
        },
        Value::String(text) => out.push_str(text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go_value(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_go_value(&map[key], out, depth + 1);
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a pattern value: pattern numbers are always float64.
pub(crate) fn go_format_pattern(pattern: &Value) -> String {
    match pattern {
        Value::Number(number) => go_format_float_v(number_as_f64(number)),
        other => go_format_value(other),
    }
}

/// Go's `%T` of a decoded JSON value.
pub(crate) fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(number) => match resource_number(number) {
            ResourceNumber::Int(_) => "int64",
            ResourceNumber::Float(_) => "float64",
        },
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_rendering_matches_go() {
        assert_eq!(go_format_float_e(1.5), "1.5E+00");
        assert_eq!(go_format_float_e(1e6), "1E+06");
        assert_eq!(go_format_float_e(-2.5e-7), "-2.5E-07");
        assert_eq!(go_format_float_e(1e100), "1E+100");
        assert_eq!(go_format_float_v(1e6), "1e+06");
        assert_eq!(go_format_float_v(123456.0), "123456");
        assert_eq!(go_format_float_v(1234567.0), "1.234567e+06");
        assert_eq!(go_format_float_v(0.0001), "0.0001");
        assert_eq!(go_format_float_v(0.00001), "1e-05");
        assert_eq!(go_format_float_v(-1.5), "-1.5");
        assert_eq!(go_format_float_v(0.0), "0");
    }

    #[test]
    fn go_value_rendering() {
        let value = json!({"b": [1, "x", null], "a": true});
        assert_eq!(go_format_value(&value), "map[a:true b:[1 x <nil>]]");
    }

    #[test]
    fn floats_in_strings() {
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float("1e400"), None);
        assert_eq!(parse_go_float("abc"), None);
        assert!(validate_value(&json!("1.0"), &json!(1)));
        assert!(validate_value(&json!(2), &json!(2.0)));
        assert!(!validate_value(&json!(2), &json!(2.5)));
    }
}
