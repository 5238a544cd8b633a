//! Kubernetes' regex library: `find` and `findAll` on strings
//! (k8s.io/apiserver/pkg/cel/library/regex.go), RE2 syntax via the regex crate.

use super::{member, op, text};
use cel::common::types::{INT_TYPE, STRING_TYPE};
use cel::{DeclarationError, Env, Value};
use std::sync::Arc;

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    member(
        env,
        "find",
        STRING_TYPE,
        vec![STRING_TYPE],
        op!("find", find),
    )?;
    member(
        env,
        "findAll",
        STRING_TYPE,
        vec![STRING_TYPE],
        op!("findAll", find_all),
    )?;
    member(
        env,
        "findAll",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        op!("findAll", find_all),
    )
}

fn pattern(args: &[Value]) -> Result<regex::Regex, String> {
    regex::Regex::new(text(args, 1)?).map_err(|e| format!("invalid regex: {e}"))
}

fn find(args: &[Value]) -> Result<Value, String> {
    let found = pattern(args)?
        .find(text(args, 0)?)
        .map_or("", |m| m.as_str())
        .to_string();
    Ok(Value::String(Arc::new(found)))
}

fn find_all(args: &[Value]) -> Result<Value, String> {
    let limit = match args.get(2) {
        Some(Value::Int(n)) if *n >= 0 => *n as usize,
        _ => usize::MAX,
    };
    let re = pattern(args)?;
    let found = re
        .find_iter(text(args, 0)?)
        .take(limit)
        .map(|m| Value::String(Arc::new(m.as_str().to_string())))
        .collect();
    Ok(Value::List(Arc::new(found)))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};

    #[test]
    fn regex_library() {
        holds("'abc 123'.find('[0-9]+') == '123' && 'abc'.find('[0-9]+') == ''");
        holds("'a1b22c333'.findAll('[0-9]+') == ['1', '22', '333'] && 'a1b22c333'.findAll('[0-9]+', 2) == ['1', '22']");
        holds("'a1'.findAll('[0-9]', -1) == ['1'] && 'a1'.findAll('[0-9]', 0) == []");
        fails("'a'.find('(') == ''", "invalid regex");
    }
}
