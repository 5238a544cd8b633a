//! Kyverno's libraries that need a network or cluster call (kyverno/sdk
//! `cel/libs/http`, `globalcontext`): declared so policies load, every call an
//! error naming the function, so such a policy never passes by accident.

use super::declare;
use crate::engine::cel::library::{call, member};
use cel::common::types::DYN_TYPE;
use cel::{DeclarationError, Env};

/// Why a call verdict cannot serve fails.
pub(super) fn offline(function: &str) -> String {
    format!("{function} needs a network or cluster call, which verdict never makes offline")
}

/// Registers the libraries' functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "http.Get", &[1, 2], |a| {
        call("http.Get", a, |_| Err(offline("http.Get")))
    })?;
    declare(env, "http.Post", &[2, 3], |a| {
        call("http.Post", a, |_| Err(offline("http.Post")))
    })?;
    declare(env, "http.Client", &[1], |a| {
        call("http.Client", a, |_| Err(offline("http.Client")))
    })?;
    declare(env, "globalContext.Get", &[1, 2], |a| {
        call("globalContext.Get", a, |_| {
            Err(offline("globalContext.Get"))
        })
    })?;
    // `http.Client(caBundle).Get(url)`: declared so such policies load; never
    // reached, since `http.Client` itself fails first.
    for (name, arities) in [("Get", [1, 2]), ("Post", [2, 3])] {
        for arity in arities {
            member(
                env,
                name,
                DYN_TYPE,
                (0..arity).map(|_| DYN_TYPE).collect(),
                |a| call("http client", a, |_| Err(offline("an http.Client call"))),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn network_functions_compile_and_fail_naming_themselves() {
        for (source, name) in [
            ("http.Get('https://x') == null", "http.Get"),
            ("globalContext.Get('x', '') == null", "globalContext.Get"),
        ] {
            let error = eval(source, None).unwrap_err();
            assert!(
                error.contains(name) && error.contains("never makes"),
                "{error}"
            );
        }
        let client = eval("http.Client('ca').Get('https://x') == null", None).unwrap_err();
        assert!(client.contains("http.Client"), "{client}");
    }
}
