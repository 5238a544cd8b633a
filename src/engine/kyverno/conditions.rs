//! Kyverno preconditions and `deny` conditions: `{any: [...], all: [...]}`
//! blocks (or the legacy plain list) of `{key, operator, value, message}`,
//! with variables substituted in `key` and `value` and Kyverno's operator
//! semantics (wildcards, durations, quantities, semver, JSON-array strings).
//!
//! The main entry points here are [`evaluate_conditions`] and
//! [`evaluate_conditions_detailed`].

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::functions::duration::parse_go_duration;
use super::functions::go_text::sprint;
use super::quantity::Quantity;
use super::variables::{substitute_all, VariableError};
use super::wildcards as wildcard;

/// The outcome of a condition block, with the messages Kyverno reports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConditionsResult {
    /// True when the block holds (all `all` conditions and, if present, one `any` condition).
    pub passed: bool,
    /// `message`s of the conditions that evaluated false, in evaluation order.
    pub failed_messages: Vec<String>,
    /// `message`s of the conditions that evaluated true, in evaluation order.
    pub passed_messages: Vec<String>,
}

impl ConditionsResult {
    /// The message Kyverno attaches to the outcome: the held conditions'
    /// messages when the block passed, the failed ones' otherwise, joined by
    /// `"; "`. Messages are returned as written; Kyverno substitutes variables
    /// in the final rule message, not here.
    pub fn message(&self) -> String {
        let list = if self.passed {
            &self.passed_messages
        } else {
            &self.failed_messages
        };
        list.iter()
            .filter(|m| !m.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Evaluates a condition block; see [`evaluate_conditions_detailed`].
///
/// ```
/// use verdict::engine::kyverno::conditions::evaluate_conditions;
/// use serde_json::json;
/// let ctx = json!({"request": {"operation": "CREATE", "object": {"spec": {"replicas": 5}}}});
/// let conditions = json!({"all": [
///     {"key": "{{ request.operation }}", "operator": "AnyIn", "value": ["CREATE", "UPDATE"]},
///     {"key": "{{ request.object.spec.replicas }}", "operator": "GreaterThan", "value": 3}
/// ]});
/// assert!(evaluate_conditions(&conditions, &ctx).unwrap());
/// ```
pub fn evaluate_conditions(conditions: &Value, ctx: &Value) -> Result<bool, VariableError> {
    evaluate_conditions_detailed(conditions, ctx).map(|r| r.passed)
}

/// Evaluates `{any, all}` (or a list of such blocks, all of which must hold)
/// or the legacy list of conditions (all must hold). As in Kyverno, `any`
/// stops at its first true condition and `all` at its first false one; a
/// substitution error in an evaluated condition is an error, never a result.
///
/// ```
/// use verdict::engine::kyverno::conditions::evaluate_conditions_detailed;
/// use serde_json::json;
/// let ctx = json!({"request": {"object": {"metadata": {"name": "web"}}}});
/// let deny = json!({"any": [
///     {"key": "{{ request.object.metadata.name }}", "operator": "Equals", "value": "web",
///      "message": "name web is reserved"}]});
/// let result = evaluate_conditions_detailed(&deny, &ctx).unwrap();
/// assert!(result.passed);
/// assert_eq!(result.message(), "name web is reserved");
/// ```
pub fn evaluate_conditions_detailed(
    conditions: &Value,
    ctx: &Value,
) -> Result<ConditionsResult, VariableError> {
    match conditions {
        Value::Null => Ok(ConditionsResult {
            passed: true,
            ..Default::default()
        }),
        Value::Object(_) => evaluate_any_all(conditions, ctx),
        Value::Array(items) if items.iter().any(is_any_all_block) => {
            let mut result = ConditionsResult {
                passed: true,
                ..Default::default()
            };
            for block in items {
                let block_result = evaluate_any_all(block, ctx)?;
                if !block_result.passed {
                    return Ok(ConditionsResult {
                        passed: false,
                        ..block_result
                    });
                }
                result.passed_messages.extend(block_result.passed_messages);
            }
            Ok(result)
        }
        Value::Array(items) => {
            let mut result = ConditionsResult {
                passed: true,
                ..Default::default()
            };
            for condition in items {
                let (held, message) = evaluate_condition(condition, ctx)?;
                if held {
                    result.passed_messages.push(message);
                } else {
                    result.passed = false;
                    result.failed_messages.push(message);
                    return Ok(result);
                }
            }
            Ok(result)
        }
        other => Err(invalid(
            other,
            "conditions must be an object with any/all or a list",
        )),
    }
}

fn is_any_all_block(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.contains_key("any") || m.contains_key("all"))
}

fn invalid(value: &Value, reason: &str) -> VariableError {
    VariableError::Invalid {
        expression: value.to_string(),
        reason: reason.to_string(),
        path: None,
    }
}

fn evaluate_any_all(block: &Value, ctx: &Value) -> Result<ConditionsResult, VariableError> {
    let mut result = ConditionsResult::default();
    let list = |key: &str| -> Result<Option<&Vec<Value>>, VariableError> {
        match block.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(invalid(
                other,
                &format!("`{key}` must be a list of conditions"),
            )),
        }
    };
    let mut any_held = true;
    if let Some(any) = list("any")? {
        any_held = false;
        for condition in any {
            let (held, message) = evaluate_condition(condition, ctx)?;
            if held {
                any_held = true;
                result.passed_messages.push(message);
                break;
            }
            result.failed_messages.push(message);
        }
    }
    let mut all_held = true;
    if let Some(all) = list("all")? {
        for condition in all {
            let (held, message) = evaluate_condition(condition, ctx)?;
            if held {
                result.passed_messages.push(message);
            } else {
                all_held = false;
                result.failed_messages.push(message);
                break;
            }
        }
    }
    result.passed = any_held && all_held;
    Ok(result)
}

/// Evaluates one `{key, operator, value}`; returns whether it held and its message.
fn evaluate_condition(condition: &Value, ctx: &Value) -> Result<(bool, String), VariableError> {
    let Some(fields) = condition.as_object() else {
        return Err(invalid(condition, "a condition must be an object"));
    };
    let operator = fields
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(condition, "condition has no operator"))?;
    let op = ConditionOperator::parse(operator).ok_or_else(|| VariableError::Invalid {
        expression: operator.to_string(),
        reason: format!("failed to create handler for condition operator {operator}"),
        path: None,
    })?;
    let key = substitute_all(fields.get("key").unwrap_or(&Value::Null), ctx)?;
    let value = substitute_all(fields.get("value").unwrap_or(&Value::Null), ctx)?;
    let message = fields
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Ok((op.evaluate(&key, &value), message))
}

/// A condition operator, matched case-insensitively as Kyverno does.
///
/// ```
/// use verdict::engine::kyverno::conditions::ConditionOperator;
/// use serde_json::json;
/// let op = ConditionOperator::parse("GreaterThanOrEquals").unwrap();
/// assert!(op.evaluate(&json!("1Gi"), &json!("512Mi")));
/// assert!(ConditionOperator::parse("anyin").unwrap().evaluate(&json!(["a", "z"]), &json!(["a*"])));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionOperator {
    /// `Equals` (and the deprecated `Equal`).
    Equals,
    /// `NotEquals` (and the deprecated `NotEqual`).
    NotEquals,
    /// The deprecated `In`: every key exactly in the value list.
    In,
    AnyIn,
    AllIn,
    /// The deprecated `NotIn`: some key not exactly in the value list.
    NotIn,
    AnyNotIn,
    AllNotIn,
    /// `GreaterThan[OrEquals]`/`LessThan[OrEquals]`: the ordering the key must have
    /// against the value, and whether equal also holds. Compares durations,
    /// quantities, numbers and semantic versions.
    Numeric(Ordering, bool),
    /// The deprecated `Duration*` operators, with the same two fields.
    Duration(Ordering, bool),
}

impl ConditionOperator {
    /// Parses an operator name; `Equal`/`NotEqual` are Kyverno's deprecated spellings.
    pub fn parse(name: &str) -> Option<ConditionOperator> {
        Some(match name.to_ascii_lowercase().as_str() {
            "equal" | "equals" => ConditionOperator::Equals,
            "notequal" | "notequals" => ConditionOperator::NotEquals,
            "in" => ConditionOperator::In,
            "anyin" => ConditionOperator::AnyIn,
            "allin" => ConditionOperator::AllIn,
            "notin" => ConditionOperator::NotIn,
            "anynotin" => ConditionOperator::AnyNotIn,
            "allnotin" => ConditionOperator::AllNotIn,
            "greaterthan" => ConditionOperator::Numeric(Ordering::Greater, false),
            "greaterthanorequals" => ConditionOperator::Numeric(Ordering::Greater, true),
            "lessthan" => ConditionOperator::Numeric(Ordering::Less, false),
            "lessthanorequals" => ConditionOperator::Numeric(Ordering::Less, true),
            "durationgreaterthan" => ConditionOperator::Duration(Ordering::Greater, false),
            "durationgreaterthanorequals" => ConditionOperator::Duration(Ordering::Greater, true),
            "durationlessthan" => ConditionOperator::Duration(Ordering::Less, false),
            "durationlessthanorequals" => ConditionOperator::Duration(Ordering::Less, true),
            _ => return None,
        })
    }

    /// Applies the operator to substituted `key` and `value`.
    pub fn evaluate(self, key: &Value, value: &Value) -> bool {
        match self {
            ConditionOperator::Equals => equals(key, value),
            ConditionOperator::NotEquals => not_equals(key, value),
            ConditionOperator::In => legacy_in(key, value, false),
            ConditionOperator::NotIn => legacy_in(key, value, true),
            ConditionOperator::AnyIn => any_in(key, value, false),
            ConditionOperator::AnyNotIn => any_in(key, value, true),
            ConditionOperator::AllIn => all_in(key, value, false),
            ConditionOperator::AllNotIn => all_in(key, value, true),
            ConditionOperator::Numeric(direction, or_equal) => {
                numeric(key, value, direction, or_equal)
            }
            ConditionOperator::Duration(direction, or_equal) => {
                duration_operator(key, value, direction, or_equal)
            }
        }
    }
}

fn holds(ordering: Ordering, direction: Ordering, or_equal: bool) -> bool {
    ordering == direction || (or_equal && ordering == Ordering::Equal)
}

fn compare_f64(a: f64, b: f64, direction: Ordering, or_equal: bool) -> bool {
    a.partial_cmp(&b)
        .is_some_and(|o| holds(o, direction, or_equal))
}

/// Go's `time.Duration(f) * time.Second`: the float is truncated to whole units first.
fn seconds_as_nanos(value: f64) -> Option<i128> {
    value
        .is_finite()
        .then(|| (value.trunc() as i128) * 1_000_000_000)
}

/// Kyverno's `parseDuration`: at least one side must be a duration string (not `"0"`);
/// the other may be a number of seconds.
fn durations(key: &Value, value: &Value) -> Option<(i128, i128)> {
    let as_duration = |v: &Value| match v {
        Value::String(s) if s != "0" => parse_go_duration(s).map(i128::from),
        _ => None,
    };
    let (k, v) = (as_duration(key), as_duration(value));
    if k.is_none() && v.is_none() {
        return None;
    }
    let k = match k {
        Some(k) => k,
        None => seconds_as_nanos(key.as_f64()?)?,
    };
    let v = match v {
        Some(v) => v,
        None => seconds_as_nanos(value.as_f64()?)?,
    };
    Some((k, v))
}

fn go_parse_float(text: &str) -> Option<f64> {
    if text.is_empty() || text.contains('_') {
        return None;
    }
    text.parse::<f64>().ok()
}

fn equals(key: &Value, value: &Value) -> bool {
    use super::functions::values_equal;
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() == Some(k),
                Value::String(s) => go_parse_float(s) == Some(k),
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a == b;
            }
            if let Some(kq) = Quantity::parse(k) {
                if let Value::String(v) = value {
                    return Quantity::parse(v).is_some_and(|vq| kq.cmp(&vq) == Ordering::Equal);
                }
            }
            match value {
                Value::String(v) => wildcard::matches(v, k),
                _ => false,
            }
        }
        Value::Object(_) | Value::Array(_) => {
            std::mem::discriminant(key) == std::mem::discriminant(value) && values_equal(key, value)
        }
        Value::Null => false,
    }
}

fn not_equals(key: &Value, value: &Value) -> bool {
    use super::functions::values_equal;
    match key {
        Value::Bool(k) => value.as_bool().is_none_or(|v| v != *k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() != Some(k),
                Value::String(s) => go_parse_float(s).is_none_or(|v| v != k),
                _ => true,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a != b;
            }
            if let Some(kq) = Quantity::parse(k) {
                if let Value::String(v) = value {
                    if v.is_empty() {
                        return !wildcard::matches(v, k);
                    }
                    return Quantity::parse(v).is_none_or(|vq| kq.cmp(&vq) != Ordering::Equal);
                }
            }
            match value {
                Value::String(v) => !wildcard::matches(v, k),
                _ => true,
            }
        }
        Value::Object(_) | Value::Array(_) => {
            std::mem::discriminant(key) != std::mem::discriminant(value)
                || !values_equal(key, value)
        }
        Value::Null => false,
    }
}

/// Kyverno's key to string(s): scalars via `fmt.Sprint`, lists element-wise.
enum Keys {
    One(String),
    Many(Vec<String>),
}

fn keys_of(key: &Value) -> Option<Keys> {
    match key {
        Value::String(s) => Some(Keys::One(s.clone())),
        Value::Number(_) | Value::Bool(_) => Some(Keys::One(sprint(key))),
        Value::Array(items) => Some(Keys::Many(items.iter().map(sprint).collect())),
        _ => None,
    }
}

fn matches_either_way(a: &str, b: &str) -> bool {
    wildcard::matches(a, b) || wildcard::matches(b, a)
}

/// A value string read as a list: a JSON array of strings, or itself alone.
/// `None` when it is JSON but not an array of strings (Kyverno: invalid type).
fn string_list(text: &str) -> Option<Vec<String>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        Ok(_) => None,
        Err(_) => Some(vec![text.to_string()]),
    }
}

fn range_regex(negated: bool) -> &'static Regex {
    static IN: OnceLock<Regex> = OnceLock::new();
    static NOT_IN: OnceLock<Regex> = OnceLock::new();
    if negated {
        NOT_IN.get_or_init(|| {
            Regex::new(r"^([-|+]?\d+(?:\.\d+)?[A-Za-z]*)!-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)$")
                .expect("valid regex")
        })
    } else {
        IN.get_or_init(|| {
            Regex::new(r"^([-|+]?\d+(?:\.\d+)?[A-Za-z]*)-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)$")
                .expect("valid regex")
        })
    }
}

fn is_range(text: &str) -> bool {
    !text.starts_with(['>', '<', '!'])
        && !range_regex(true).is_match(text)
        && range_regex(false).is_match(text)
}

/// Orders `key` against a range endpoint as durations, quantities or numbers.
fn order_against(key: &str, bound: &str) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (parse_go_duration(key), parse_go_duration(bound)) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (Quantity::parse(key), Quantity::parse(bound)) {
        return Some(a.cmp(&b));
    }
    go_parse_float(key)?.partial_cmp(&go_parse_float(bound)?)
}

/// `key` within `low-high` (inclusive), or outside `low!-high`.
fn in_range(key: &str, pattern: &str) -> bool {
    if let Some(c) = range_regex(true).captures(pattern) {
        return order_against(key, &c[1]) == Some(Ordering::Less)
            || order_against(key, &c[2]) == Some(Ordering::Greater);
    }
    if let Some(c) = range_regex(false).captures(pattern) {
        return order_against(key, &c[1]).is_some_and(|o| o != Ordering::Less)
            && order_against(key, &c[2]).is_some_and(|o| o != Ordering::Greater);
    }
    false
}

/// Whether one key string is found in `value` (AnyIn/AllIn share this for a scalar key).
/// `None` marks a value of the wrong type, which makes the operator false.
fn key_found(key: &str, value: &Value) -> Option<bool> {
    match value {
        Value::Array(items) => Some(items.iter().any(|v| matches_either_way(&sprint(v), key))),
        Value::String(v) => {
            if wildcard::matches(v, key) {
                return Some(true);
            }
            if is_range(v) {
                return Some(in_range(key, v));
            }
            Some(string_list(v)?.iter().any(|item| item == key))
        }
        _ => None,
    }
}

fn any_in(key: &Value, value: &Value, negated: bool) -> bool {
    match keys_of(key) {
        Some(Keys::One(k)) => match key_found(&k, value) {
            Some(found) => found != negated,
            None => false,
        },
        Some(Keys::Many(keys)) => {
            let list: Vec<String> = match value {
                Value::Array(items) => items.iter().map(sprint).collect(),
                Value::Number(_) | Value::Bool(_) => vec![sprint(value)],
                Value::String(v) => {
                    if keys.len() == 1 && &keys[0] == v {
                        return !negated;
                    }
                    if is_range(v) {
                        return if negated {
                            let not_range = v.replacen('-', "!-", 1);
                            keys.iter().any(|k| in_range(k, &not_range))
                        } else {
                            keys.iter().any(|k| in_range(k, v))
                        };
                    }
                    match string_list(v) {
                        Some(list) => list,
                        None => return false,
                    }
                }
                _ => return false,
            };
            let found = |k: &String| list.iter().any(|v| matches_either_way(k, v));
            if negated {
                keys.iter().any(|k| !found(k))
            } else {
                keys.iter().any(found)
            }
        }
        None => false,
    }
}

fn all_in(key: &Value, value: &Value, negated: bool) -> bool {
    match keys_of(key) {
        Some(Keys::One(k)) => match key_found(&k, value) {
            Some(found) => found != negated,
            None => false,
        },
        Some(Keys::Many(keys)) => {
            let list: Vec<String> = match value {
                Value::Array(items) => items.iter().map(sprint).collect(),
                Value::String(v) => {
                    if keys.len() == 1 && &keys[0] == v {
                        return !negated;
                    }
                    if is_range(v) {
                        return if negated {
                            keys.iter().all(|k| !in_range(k, v))
                        } else {
                            keys.iter().all(|k| in_range(k, v))
                        };
                    }
                    match string_list(v) {
                        Some(list) => list,
                        None => return false,
                    }
                }
                _ => return false,
            };
            let found = |k: &String| list.iter().any(|v| matches_either_way(k, v));
            if negated {
                !keys.iter().any(found)
            } else {
                keys.iter().all(found)
            }
        }
        None => false,
    }
}

/// The deprecated `In`/`NotIn`: list keys need exact (not wildcard) membership.
fn legacy_in(key: &Value, value: &Value, negated: bool) -> bool {
    match key {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let k = sprint(key);
            let found = match value {
                Value::Array(items) => items.iter().any(|v| matches_either_way(&sprint(v), &k)),
                Value::String(v) => {
                    if wildcard::matches(v, &k) {
                        true
                    } else {
                        match serde_json::from_str::<Vec<String>>(v) {
                            Ok(list) => list.contains(&k),
                            Err(_) => return false,
                        }
                    }
                }
                _ => return false,
            };
            found != negated
        }
        Value::Array(items) => {
            let Some(keys) = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
            else {
                return false;
            };
            let list: Vec<String> = match value {
                Value::Array(values) => {
                    match values
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                    {
                        Some(list) => list,
                        None => return false,
                    }
                }
                Value::String(v) => {
                    // Kyverno answers true here for both In and NotIn.
                    if keys.len() == 1 && &keys[0] == v {
                        return true;
                    }
                    match serde_json::from_str::<Vec<String>>(v) {
                        Ok(list) => list,
                        Err(_) => return false,
                    }
                }
                _ => return false,
            };
            if negated {
                keys.iter().any(|k| !list.contains(k))
            } else {
                keys.iter().all(|k| list.contains(k))
            }
        }
        _ => false,
    }
}

fn numeric_value_against(key: f64, value: &Value, direction: Ordering, or_equal: bool) -> bool {
    match value {
        Value::Number(v) => compare_f64(key, v.as_f64().unwrap_or(f64::NAN), direction, or_equal),
        Value::String(s) => {
            if let Some((a, b)) = durations(&crate_number(key), value) {
                return holds(a.cmp(&b), direction, or_equal);
            }
            match go_parse_float(s) {
                Some(v) => compare_f64(key, v, direction, or_equal),
                None => false,
            }
        }
        _ => false,
    }
}

fn crate_number(value: f64) -> Value {
    super::functions::go_text::number(value)
}

fn numeric(key: &Value, value: &Value, direction: Ordering, or_equal: bool) -> bool {
    match key {
        Value::Number(k) => {
            numeric_value_against(k.as_f64().unwrap_or(f64::NAN), value, direction, or_equal)
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return holds(a.cmp(&b), direction, or_equal);
            }
            if let (Some(kq), Value::String(v)) = (Quantity::parse(k), value) {
                if let Some(vq) = Quantity::parse(v) {
                    return holds(kq.cmp(&vq), direction, or_equal);
                }
            }
            if let Some(kf) = go_parse_float(k) {
                return numeric_value_against(kf, value, direction, or_equal);
            }
            if let Ok(kv) = semver::Version::parse(k) {
                return match value {
                    Value::String(v) => semver::Version::parse(v).is_ok_and(|vv| {
                        let ordering = (kv.major, kv.minor, kv.patch)
                            .cmp(&(vv.major, vv.minor, vv.patch))
                            .then_with(|| kv.pre.cmp(&vv.pre));
                        holds(ordering, direction, or_equal)
                    }),
                    _ => false,
                };
            }
            false
        }
        _ => false,
    }
}

fn duration_operator(key: &Value, value: &Value, direction: Ordering, or_equal: bool) -> bool {
    let as_nanos = |v: &Value| -> Option<i128> {
        match v {
            Value::Number(n) => seconds_as_nanos(n.as_f64()?),
            Value::String(s) => parse_go_duration(s).map(i128::from),
            _ => None,
        }
    };
    if let Value::String(k) = key {
        if parse_go_duration(k).is_none() {
            return false;
        }
    }
    match (as_nanos(key), as_nanos(value)) {
        (Some(a), Some(b)) => holds(a.cmp(&b), direction, or_equal),
        _ => false,
    }
}
