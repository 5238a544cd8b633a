//! Kubernetes' sets library: `sets.contains`, `sets.equivalent`,
//! `sets.intersects` over lists (cel-go ext/sets.go, enabled by Kubernetes).

use super::{global, list, op};
use cel::common::types::LIST_TYPE;
use cel::{DeclarationError, Env, Value};

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    global(
        env,
        "sets.contains",
        vec![LIST_TYPE, LIST_TYPE],
        op!("sets.contains", contains),
    )?;
    global(
        env,
        "sets.equivalent",
        vec![LIST_TYPE, LIST_TYPE],
        op!("sets.equivalent", equivalent),
    )?;
    global(
        env,
        "sets.intersects",
        vec![LIST_TYPE, LIST_TYPE],
        op!("sets.intersects", intersects),
    )
}

fn all_in(items: &[Value], set: &[Value]) -> bool {
    items.iter().all(|i| set.contains(i))
}

fn contains(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(all_in(list(args, 1)?, list(args, 0)?)))
}

fn equivalent(args: &[Value]) -> Result<Value, String> {
    let (a, b) = (list(args, 0)?, list(args, 1)?);
    Ok(Value::Bool(all_in(a, b) && all_in(b, a)))
}

fn intersects(args: &[Value]) -> Result<Value, String> {
    let (a, b) = (list(args, 0)?, list(args, 1)?);
    Ok(Value::Bool(a.iter().any(|i| b.contains(i))))
}

#[cfg(test)]
mod tests {
    use super::super::testing::holds;

    #[test]
    fn sets_library() {
        holds("sets.contains([1, 2, 3], [3, 1]) && !sets.contains([1], [2]) && sets.contains([1], [])");
        holds("sets.equivalent([1, 2, 2], [2, 1]) && !sets.equivalent([1], [1, 2])");
        holds("sets.intersects([1, 2], [2, 5]) && !sets.intersects([1], []) && sets.contains([1.0], [1])");
    }
}
