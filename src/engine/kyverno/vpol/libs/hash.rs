//! Kyverno's hash library (kyverno/sdk `cel/libs/hash`): `sha256`, also as `hash.sha256`.

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};
use std::sync::Arc;

/// `sha256(text)`: the lower-case hex SHA-256 of the text's bytes.
fn sha256(args: &[Value]) -> Result<Value, String> {
    use sha2::Digest;
    let text = string_arg(args, 0)?;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Value::String(Arc::new(hex)))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "sha256", &[1], |a| call("sha256", a, sha256))?;
    declare(env, "hash.sha256", &[1], |a| call("hash.sha256", a, sha256))
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn digests_are_lower_case_hex() {
        for source in [
            "sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'",
            "hash.sha256('') == sha256('')",
        ] {
            assert_eq!(
                eval(source, None).unwrap(),
                cel::Value::Bool(true),
                "{source}"
            );
        }
    }
}
