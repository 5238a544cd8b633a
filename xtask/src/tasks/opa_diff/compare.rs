//! Comparing results across engines: canonical JSON, and the allow-list of
//! disagreements that are understood.

use anyhow::{bail, Result};
use serde_json::Value;

/// What one engine made of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The canonical JSON text of the value (`undefined` when there is none).
    Value(String),
    Error(String),
}

/// How a query's value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A set (conftest `deny`, `violation`, `warn`): order is meaningless and
    /// an undefined set is the empty set.
    Set,
    /// Gatekeeper's `violation` set, as Gatekeeper reads it: each element's
    /// `msg` and `details` (`{}` when absent).
    Violations,
    /// Any other value (a `test_*` rule): compared as is.
    Value,
}

/// Canonical text of `value` read as `shape`, so two engines agree exactly
/// when their texts are equal.
pub fn canonical(value: Option<&Value>, shape: Shape) -> String {
    match (shape, value) {
        (Shape::Value, None) => "undefined".to_string(),
        (Shape::Value, Some(v)) => canonical_json(v),
        (Shape::Set | Shape::Violations, None | Some(Value::Null)) => "[]".to_string(),
        (Shape::Set | Shape::Violations, Some(Value::Array(items))) => {
            let mut texts: Vec<String> = items
                .iter()
                .map(|item| match shape {
                    Shape::Violations => canonical_json(&violation(item)),
                    _ => canonical_json(item),
                })
                .collect();
            texts.sort();
            format!("[{}]", texts.join(","))
        }
        (_, Some(other)) => format!("not a set: {}", canonical_json(other)),
    }
}

fn violation(item: &Value) -> Value {
    let details = match item.get("details") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(d) => d.clone(),
    };
    serde_json::json!({"msg": item.get("msg").cloned().unwrap_or(Value::Null), "details": details})
}

/// JSON with sorted object keys and integral numbers written as integers
/// (OPA says `1`, regorus may say `1.0`).
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                format!("{}", f as i64)
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// One line of `xtask/opa-diff.known`: a disagreement that is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownGap {
    /// Matched against the evaluation's label (`rule :: input`), as a prefix.
    pub label: String,
    pub reason: String,
}

/// Parse the allow-list: `label-prefix  # reason` per line; blank lines and
/// lines starting with `#` are ignored; a line without a reason is an error.
pub fn parse_known(text: &str) -> Result<Vec<KnownGap>> {
    let mut gaps = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((label, reason)) = line.split_once(" # ") else {
            bail!(
                "opa-diff.known line {}: expected `<label>  # <reason>`",
                number + 1
            );
        };
        let (label, reason) = (label.trim(), reason.trim());
        if label.is_empty() || reason.is_empty() {
            bail!(
                "opa-diff.known line {}: both a label and a reason are required",
                number + 1
            );
        }
        gaps.push(KnownGap {
            label: label.to_string(),
            reason: reason.to_string(),
        });
    }
    Ok(gaps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_compare_without_order_and_undefined_is_empty() {
        let a = json!([{"msg": "b"}, {"msg": "a", "details": {"x": 1.0}}]);
        let b = json!([{"details": {"x": 1}, "msg": "a"}, {"msg": "b", "details": {}}]);
        assert_eq!(
            canonical(Some(&a), Shape::Violations),
            canonical(Some(&b), Shape::Violations)
        );
        assert_eq!(
            canonical(None, Shape::Set),
            canonical(Some(&json!([])), Shape::Set)
        );
        assert_ne!(
            canonical(Some(&json!(["a"])), Shape::Set),
            canonical(Some(&json!(["b"])), Shape::Set)
        );
    }

    #[test]
    fn values_keep_undefined_apart_from_false() {
        assert_ne!(
            canonical(None, Shape::Value),
            canonical(Some(&json!(false)), Shape::Value)
        );
        assert_eq!(canonical(Some(&json!(2.0)), Shape::Value), "2");
        assert_eq!(canonical(Some(&json!(2.5)), Shape::Value), "2.5");
    }

    #[test]
    fn the_allow_list_needs_a_reason_per_line() {
        let gaps = parse_known(
            "# comment\n\ngatekeeper-library/x :: a.yaml  # OPA errors in strict mode\n",
        )
        .unwrap();
        assert_eq!(
            gaps,
            vec![KnownGap {
                label: "gatekeeper-library/x :: a.yaml".into(),
                reason: "OPA errors in strict mode".into()
            }]
        );
        assert!(parse_known("some/label\n").is_err());
        assert!(parse_known("some/label # \n").is_err());
    }
}
