//! JSON documents to CEL values and back.
//!
//! Two readings of a JSON number ([`Numbers`]) because the API server and
//! Kyverno's CLI disagree, and a suite must be judged the way its own tool
//! judges it.

use cel::objects::{Key, Map, Value};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

/// How JSON numbers become CEL numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Numbers {
    /// As the API server hands objects to CEL: a whole number is `int`, any
    /// other number `double`, so `object.spec.replicas + 1` is an `int`.
    /// A whole number above `i64::MAX` is a `double`, as Go's JSON decoding
    /// into `int64` fails over to `float64` there.
    #[default]
    Cluster,
    /// As `kyverno test` / `kyverno apply` do: every number of a resource is a
    /// `double` (Kyverno's CLI runs `convertNumericValuesToFloat64` over each
    /// resource before evaluating), so `object.spec.replicas + 1` has no
    /// matching overload (`double + int`), exactly as under `kyverno test`.
    KyvernoCli,
}

/// Converts a JSON document into a CEL value under `numbers`.
///
/// ```
/// use verdict::engine::cel::{to_cel, Numbers};
/// let v = to_cel(&serde_json::json!({"replicas": 3}), Numbers::Cluster);
/// assert!(matches!(v, cel::Value::Map(_)));
/// ```
pub fn to_cel(json: &Json, numbers: Numbers) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => number(n, numbers),
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(items) => {
            Value::List(Arc::new(items.iter().map(|i| to_cel(i, numbers)).collect()))
        }
        Json::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v, numbers)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

fn number(n: &serde_json::Number, numbers: Numbers) -> Value {
    match numbers {
        Numbers::KyvernoCli => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        Numbers::Cluster => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
    }
}

/// Why a CEL value has no JSON form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a CEL {0} has no JSON form")]
pub struct NotJson(pub String);

/// Converts a CEL result back to JSON, for message expressions, variables and
/// audit annotations. Bytes become base64 text, timestamps RFC 3339 text and
/// durations Go-style seconds text (`"1.5s"`), as their JSON forms in
/// Kubernetes; a non-finite double, a type, a function or an opaque value
/// other than an optional is an error.
pub fn to_json(value: &Value) -> Result<Json, NotJson> {
    use base64::Engine as _;
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| NotJson(format!("double {f}")))?,
        Value::String(s) => Json::String(s.to_string()),
        Value::Bytes(b) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(b.as_slice()))
        }
        Value::List(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(map) => {
            let mut entries: Vec<(String, Json)> = map
                .map
                .iter()
                .map(|(k, v)| Ok((key_text(k), to_json(v)?)))
                .collect::<Result<_, NotJson>>()?;
            // HashMap order is random: sort so the same value always prints the same.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        Value::Timestamp(t) => Json::String(t.to_rfc3339()),
        Value::Duration(d) => Json::String(duration_text(d)),
        other => return Err(NotJson(other.type_of().to_string())),
    })
}

fn key_text(key: &Key) -> String {
    match key {
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
        Key::String(s) => s.to_string(),
    }
}

fn duration_text(d: &chrono::Duration) -> String {
    let nanos = d.num_nanoseconds().unwrap_or(i64::MAX);
    let secs = nanos as f64 / 1e9;
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cluster_numbers_make_whole_numbers_int_and_others_double() {
        assert_eq!(to_cel(&json!(3), Numbers::Cluster), Value::Int(3));
        assert_eq!(to_cel(&json!(-3), Numbers::Cluster), Value::Int(-3));
        assert_eq!(to_cel(&json!(0.5), Numbers::Cluster), Value::Float(0.5));
        assert_eq!(
            to_cel(&json!(u64::MAX), Numbers::Cluster),
            Value::Float(u64::MAX as f64)
        );
    }

    #[test]
    fn kyverno_cli_numbers_are_all_double() {
        assert_eq!(to_cel(&json!(3), Numbers::KyvernoCli), Value::Float(3.0));
        assert_eq!(
            to_cel(&json!({"a": [1]}), Numbers::KyvernoCli),
            to_cel(&json!({"a": [1.0]}), Numbers::Cluster)
        );
    }

    #[test]
    fn json_round_trips_through_cel() {
        let doc = json!({"a": [1, "x", true, null, {"b": 2.5}], "c": {}});
        assert_eq!(to_json(&to_cel(&doc, Numbers::Cluster)).unwrap(), doc);
    }

    #[test]
    fn a_value_without_json_form_is_an_error() {
        assert!(to_json(&Value::Float(f64::NAN)).is_err());
    }
}
