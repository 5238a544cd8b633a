//! Kyverno's time library (kyverno/sdk `cel/libs/time`): `time.now`.

use super::declare;
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};

fn time_now(_: &[Value]) -> Result<Value, String> {
    Ok(Value::Timestamp(chrono::Utc::now().fixed_offset()))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "time.now", &[0], |a| call("time.now", a, time_now))
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn now_is_a_timestamp() {
        assert_eq!(
            eval("time.now() > timestamp('2020-01-01T00:00:00Z')", None).unwrap(),
            cel::Value::Bool(true)
        );
    }
}
