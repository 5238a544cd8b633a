//! Kyverno's json and yaml libraries (kyverno/sdk `cel/libs/json`, `yaml`):
//! `json.unmarshal`/`json.marshal` and `yaml.parse`.

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use crate::engine::cel::{to_cel, Numbers};
use cel::objects::Value;
use cel::{DeclarationError, Env};
use serde_json::Value as Json;
use std::sync::Arc;

/// What `json.unmarshal` and `yaml.parse` accept, so a policy cannot make one
/// evaluation parse an unbounded document.
const MAX_PARSED_BYTES: usize = 1 << 20;

fn parse_input(args: &[Value], what: &str) -> Result<String, String> {
    let text = string_arg(args, 0)?;
    if text.len() > MAX_PARSED_BYTES {
        return Err(format!(
            "{what}: input of {} bytes is over the limit of {MAX_PARSED_BYTES}",
            text.len()
        ));
    }
    Ok(text)
}

/// `json.unmarshal(text)`: Go's `json.Unmarshal` into `any`, so every number is a double.
fn json_unmarshal(args: &[Value]) -> Result<Value, String> {
    let text = parse_input(args, "json.unmarshal")?;
    let value: Json = serde_json::from_str(&text).map_err(|e| format!("json.unmarshal: {e}"))?;
    Ok(to_cel(&value, Numbers::KyvernoCli))
}

/// `json.marshal(value)`: compact JSON with keys sorted, as Go's `json.Marshal`
/// writes maps (Go also escapes `<`, `>`, `&`; verdict does not).
fn json_marshal(args: &[Value]) -> Result<Value, String> {
    let value = args.first().ok_or("json.marshal takes one argument")?;
    let json = crate::engine::cel::to_json(value).map_err(|e| format!("json.marshal: {}", e.0))?;
    let text = serde_json::to_string(&json).map_err(|e| format!("json.marshal: {e}"))?;
    Ok(Value::String(Arc::new(text)))
}

/// `yaml.parse(text)`: YAML read as JSON (numbers doubles, as Kyverno's decoding gives them).
fn yaml_parse(args: &[Value]) -> Result<Value, String> {
    let text = parse_input(args, "yaml.parse")?;
    let value: Json = serde_yaml_ng::from_str(&text).map_err(|e| format!("yaml.parse: {e}"))?;
    Ok(to_cel(&value, Numbers::KyvernoCli))
}

/// Registers the libraries' functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "json.unmarshal", &[1], |a| {
        call("json.unmarshal", a, json_unmarshal)
    })?;
    declare(env, "json.marshal", &[1], |a| {
        call("json.marshal", a, json_marshal)
    })?;
    declare(env, "yaml.parse", &[1], |a| {
        call("yaml.parse", a, yaml_parse)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn documents_parse_and_print() {
        for source in [
            "json.unmarshal('{\"a\": [1, 2]}').a[1] == 2.0",
            "json.marshal({'b': 1, 'a': 'x'}) == '{\"a\":\"x\",\"b\":1}'",
            "yaml.parse('a:\\n  b: true').a.b",
        ] {
            assert_eq!(
                eval(source, None).unwrap(),
                cel::Value::Bool(true),
                "{source}"
            );
        }
        assert!(eval("json.unmarshal('{') == null", None)
            .unwrap_err()
            .contains("json.unmarshal"));
    }
}
