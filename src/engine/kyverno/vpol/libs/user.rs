//! Kyverno's user library (kyverno/sdk `cel/libs/user`): `parseServiceAccount`.

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use cel::objects::{Key, Map, Value};
use cel::{DeclarationError, Env};
use std::collections::HashMap;
use std::sync::Arc;

/// `parseServiceAccount(username)`: `{Name, Namespace}` (Kyverno's Go field
/// names), empty unless `system:serviceaccount:<namespace>:<name>`.
fn parse_service_account(args: &[Value]) -> Result<Value, String> {
    let username = string_arg(args, 0)?;
    let (namespace, name) = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'))
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
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn service_accounts_parse_to_go_field_names() {
        let ok = "parseServiceAccount('system:serviceaccount:ns:dev').Name == 'dev' && parseServiceAccount('system:serviceaccount:ns:dev').Namespace == 'ns'";
        assert_eq!(eval(ok, None).unwrap(), cel::Value::Bool(true));
        assert_eq!(
            eval("parseServiceAccount('alice').Name == ''", None).unwrap(),
            cel::Value::Bool(true)
        );
    }
}
