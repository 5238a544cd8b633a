//! Kyverno's CEL libraries that an offline run can serve (kyverno/sdk
//! `cel/libs`), one file per library: [`resource`] and [`image_data`] read a
//! mocked context (a kyverno-test's `context` file, [`context`]), the rest are
//! pure functions. [`network`] holds the functions that would need a network
//! or cluster call: they compile, and every call is an error naming the
//! function, so a policy that needs one never passes by accident.

mod context;
mod encoders;
mod gzip;
mod hash;
mod image_data;
mod math;
mod network;
mod random;
mod resource;
mod time;
mod transform;
mod user;
mod x509;

pub use context::{with_context, MockContext};
pub(crate) use context::with_policy_namespace;

use cel::common::types::DYN_TYPE;
use cel::objects::Value;
use cel::{DeclarationError, Env};

fn string_arg(args: &[Value], n: usize) -> Result<String, String> {
    match args.get(n) {
        Some(Value::String(s)) => Ok(s.to_string()),
        other => Err(format!("argument {n} must be a string, got {other:?}")),
    }
}

/// Declares `name` with each arity in `arities`, every argument `dyn`.
fn declare(
    env: &mut Env,
    name: &str,
    arities: &[usize],
    op: cel::common::functions::Function,
) -> Result<(), DeclarationError> {
    for &arity in arities {
        crate::engine::cel::library::global(env, name, (0..arity).map(|_| DYN_TYPE).collect(), op)?;
    }
    Ok(())
}

/// Registers the libraries on a ValidatingPolicy's environment.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    resource::register(env)?;
    image_data::register(env)?;
    user::register(env)?;
    time::register(env)?;
    encoders::register(env)?;
    math::register(env)?;
    hash::register(env)?;
    transform::register(env)?;
    random::register(env)?;
    gzip::register(env)?;
    x509::register(env)?;
    network::register(env)
}

#[cfg(test)]
pub(crate) mod testing {
    use super::{register, with_context, MockContext};
    use crate::engine::cel::{Activation, CelEnv};
    use std::sync::Arc;

    /// Compiles `source` with the libraries and evaluates it under `context`.
    pub fn eval(source: &str, context: Option<MockContext>) -> Result<cel::Value, String> {
        static ENV: std::sync::OnceLock<CelEnv> = std::sync::OnceLock::new();
        let env = ENV.get_or_init(|| CelEnv::builder().extension(register).unwrap().build());
        let expression = env.compile(source).map_err(|e| e.to_string())?;
        with_context(context.map(Arc::new), || {
            expression.evaluate(&Activation::new())
        })
        .map_err(|e| e.to_string())
    }

    /// Asserts that `source` evaluates to `true` without a context.
    pub fn holds(source: &str) {
        assert_eq!(eval(source, None).unwrap(), cel::Value::Bool(true), "{source}");
    }
}
