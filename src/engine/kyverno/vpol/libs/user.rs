//! Kyverno's user library (kyverno/sdk `cel/libs/user`): `parseServiceAccount`,
//! also as `user.parseServiceAccount` (Kyverno 1.18).

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use cel::objects::{Key, Map, Value};
use cel::{DeclarationError, Env};
use std::collections::HashMap;
use std::sync::Arc;

/// `parseServiceAccount(username)`: `{Name, Namespace}` (Kyverno's Go field
/// names). After `system:serviceaccount:`, the namespace runs to the first
/// `:` and the name is the rest (colons and all), as Kyverno splits it; any
/// other username gives both empty.
fn parse_service_account(args: &[Value]) -> Result<Value, String> {
    let username = string_arg(args, 0)?;
    let (namespace, name) = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .unwrap_or(("", ""));
    let mut map = HashMap::new();
    map.insert(
        Key::String(Arc::new("Name".into())),
        Value::String(Arc::new(name.into())),
    );
    map.insert(
        Key::String(Arc::new("Namespace".into())),
        Value::String(Arc::new(namespace.into())),
    );
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "parseServiceAccount", &[1], |a| {
        call("parseServiceAccount", a, parse_service_account)
    })?;
    declare(env, "user.parseServiceAccount", &[1], |a| {
        call("user.parseServiceAccount", a, parse_service_account)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{eval, holds};

    #[test]
    fn service_accounts_parse_to_go_field_names() {
        // Kyverno's own cases.
        holds("parseServiceAccount('system:serviceaccount:foo:bar') == {'Name': 'bar', 'Namespace': 'foo'}");
        holds("user.parseServiceAccount('system:serviceaccount:foo:bar:baz') == {'Name': 'bar:baz', 'Namespace': 'foo'}");
        holds("parseServiceAccount('alice') == {'Name': '', 'Namespace': ''}");
        holds("parseServiceAccount('system:serviceaccount:foo') == {'Name': '', 'Namespace': ''}");
        holds("parseServiceAccount('system:serviceaccount::x').Name == 'x'");
    }

    #[test]
    fn a_non_string_is_an_error() {
        let error = eval("parseServiceAccount(true).Name == ''", None).unwrap_err();
        assert!(
            error.contains("parseServiceAccount") && error.contains("string"),
            "{error}"
        );
    }
}
