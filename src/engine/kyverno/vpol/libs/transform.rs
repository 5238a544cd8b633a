//! Kyverno's transform library (kyverno/sdk `cel/libs/transform`):
//! `listObjToMap`, also as `transform.listObjToMap`.

use super::{declare, string_arg};
use crate::engine::cel::library::{call, list};
use cel::objects::{Key, Map, Value};
use cel::{DeclarationError, Env};
use std::collections::HashMap;
use std::sync::Arc;

fn field<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    match object {
        Value::Map(map) => map.map.get(&Key::String(Arc::new(name.to_string()))),
        _ => None,
    }
}

/// `listObjToMap(keys, values, keyField, valueField)`: a map from each
/// `keys[i][keyField]` (a string) to `values[i][valueField]` (null when
/// absent); the lists must be as long as each other, a later key wins.
fn list_obj_to_map(args: &[Value]) -> Result<Value, String> {
    let keys = list(args, 0)?;
    let values = list(args, 1)?;
    let key_field = string_arg(args, 2)?;
    let value_field = string_arg(args, 3)?;
    if keys.len() != values.len() {
        return Err(format!(
            "listObjToMap must take lists of equal length. list1: {}, list2: {}",
            keys.len(),
            values.len()
        ));
    }
    let mut map = HashMap::new();
    for (index, (key_object, value_object)) in keys.iter().zip(values).enumerate() {
        let Some(Value::String(key)) = field(key_object, &key_field) else {
            return Err(format!(
                "the passed key name cannot be handled as a string in the key object list (item {index})"
            ));
        };
        if !matches!(value_object, Value::Map(_)) {
            return Err(format!(
                "object cannot be handled as a map string to any in the value object list (item {index})"
            ));
        }
        let value = field(value_object, &value_field)
            .cloned()
            .unwrap_or(Value::Null);
        map.insert(Key::String(Arc::clone(key)), value);
    }
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "listObjToMap", &[4], |a| {
        call("listObjToMap", a, list_obj_to_map)
    })?;
    declare(env, "transform.listObjToMap", &[4], |a| {
        call("transform.listObjToMap", a, list_obj_to_map)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{eval, holds};

    #[test]
    fn pairs_key_objects_with_value_objects() {
        // Kyverno's own case.
        holds(
            r#"transform.listObjToMap(
                [{"name": "kyverno", "lfx": "mentorship"}, {"name": "kubernetes", "lfx": "something"}],
                [{"domain": "security"}, {"domain": "orchestration"}],
                "name", "domain") == {"kyverno": "security", "kubernetes": "orchestration"}"#,
        );
        holds(
            r#"listObjToMap([{"k": "a"}, {"k": "a"}], [{"v": 1}, {"v": 2}], "k", "v") == {"a": 2}"#,
        );
        holds(r#"listObjToMap([{"k": "a"}], [{}], "k", "v") == {"a": null}"#);
        holds(r#"listObjToMap([], [], "k", "v") == {}"#);
    }

    #[test]
    fn mismatched_or_malformed_lists_are_errors() {
        for (source, want) in [
            (
                r#"listObjToMap([{"k": "a"}], [], "k", "v")"#,
                "equal length. list1: 1, list2: 0",
            ),
            (
                r#"listObjToMap([{"k": 1}], [{}], "k", "v")"#,
                "cannot be handled as a string",
            ),
            (
                r#"listObjToMap([{"k": "a"}], ["x"], "k", "v")"#,
                "cannot be handled as a map",
            ),
            (r#"listObjToMap("x", [], "k", "v")"#, "must be a list"),
        ] {
            let error = eval(&format!("{source} == {{}}"), None).unwrap_err();
            assert!(error.contains(want), "{source}: {error}");
        }
    }
}
