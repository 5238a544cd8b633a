//! Kyverno's hash library (kyverno/sdk `cel/libs/hash`): `sha1`, `sha256` and
//! `md5` of a string's bytes as lower-case hex, also as `hash.sha1`,
//! `hash.sha256`, `hash.md5` (the names Kyverno 1.18 adds).

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};
use sha2::Digest;
use std::sync::Arc;

fn hex_digest<D: Digest>(args: &[Value]) -> Result<Value, String> {
    let text = string_arg(args, 0)?;
    Ok(Value::String(Arc::new(hex::encode(D::digest(
        text.as_bytes(),
    )))))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "sha1", &[1], |a| {
        call("sha1", a, hex_digest::<sha1::Sha1>)
    })?;
    declare(env, "sha256", &[1], |a| {
        call("sha256", a, hex_digest::<sha2::Sha256>)
    })?;
    declare(env, "md5", &[1], |a| call("md5", a, hex_digest::<md5::Md5>))?;
    declare(env, "hash.sha1", &[1], |a| {
        call("hash.sha1", a, hex_digest::<sha1::Sha1>)
    })?;
    declare(env, "hash.sha256", &[1], |a| {
        call("hash.sha256", a, hex_digest::<sha2::Sha256>)
    })?;
    declare(env, "hash.md5", &[1], |a| {
        call("hash.md5", a, hex_digest::<md5::Md5>)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn digests_are_lower_case_hex() {
        for source in [
            "sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'",
            "hash.sha256('') == sha256('')",
            "sha1('abc') == 'a9993e364706816aba3e25717850c26c9cd0d89d'",
            "hash.sha1('') == 'da39a3ee5e6b4b0d3255bfef95601890afd80709'",
            "md5('abc') == '900150983cd24fb0d6963f7d28e17f72'",
            "hash.md5('') == 'd41d8cd98f00b204e9800998ecf8427e'",
        ] {
            assert_eq!(
                eval(source, None).unwrap(),
                cel::Value::Bool(true),
                "{source}"
            );
        }
    }

    #[test]
    fn a_non_string_is_an_error_naming_the_function() {
        let error = eval("md5(1) == ''", None).unwrap_err();
        assert!(error.contains("md5") && error.contains("string"), "{error}");
    }
}
