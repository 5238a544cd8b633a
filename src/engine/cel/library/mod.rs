//! The Kubernetes CEL libraries cel-rust lacks, written from the behaviour of
//! k8s.io/apiserver/pkg/cel/library: lists, sets, regex, quantity, URL, IP and
//! CIDR, semver, format, and cel-go's two-variable comprehensions, which Kubernetes enables.
//! Each file registers its overloads (and macros) on the crate's `Env`.

mod comprehensions;
mod format;
mod ip;
mod lists;
mod quantity;
mod regex;
mod semver;
mod sets;
mod url;

use cel::common::types::Type;
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError, Value};

/// Registers every library.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    lists::register(env)?;
    sets::register(env)?;
    regex::register(env)?;
    quantity::register(env)?;
    url::register(env)?;
    ip::register(env)?;
    semver::register(env)?;
    format::register(env)?;
    comprehensions::register(env)
}

/// A library function over plain values; the error text is wrapped as a function error.
pub(crate) type Impl = fn(&[Value]) -> Result<Value, String>;

/// Runs `f` on the arguments as [`Value`]s and returns its result to the crate.
pub(crate) fn call<'b, 'v>(
    name: &str,
    args: Vec<CowVal<'b, 'v>>,
    f: Impl,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let values = args
        .iter()
        .map(|a| Value::try_from(a.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let result = f(&values).map_err(|message| ExecutionError::function_error(name, message))?;
    let val: Box<dyn Val> = result.try_into()?;
    Ok(CowVal::Owned(val))
}

/// A unique overload id from the name and the argument types.
fn overload_id(name: &str, member: bool, types: &[&Type]) -> String {
    let types: Vec<&str> = types.iter().map(|t| t.name()).collect();
    format!(
        "{name}{}({})",
        if member { "@member" } else { "" },
        types.join(",")
    )
}

pub(crate) fn member(
    env: &mut Env,
    name: &str,
    target: Type,
    args: Vec<Type>,
    op: cel::common::functions::Function,
) -> Result<(), DeclarationError> {
    let mut all = vec![&target];
    all.extend(args.iter());
    let id = overload_id(name, true, &all);
    env.add_member_overload(name, &id, target, args, op)
}

pub(crate) fn global(
    env: &mut Env,
    name: &str,
    args: Vec<Type>,
    op: cel::common::functions::Function,
) -> Result<(), DeclarationError> {
    let id = overload_id(name, false, &args.iter().collect::<Vec<_>>());
    env.add_overload(name, &id, args, op)
}

/// `|args| call(name, args, f)` as the crate's function pointer type.
macro_rules! op {
    ($name:literal, $f:expr) => {
        |args| $crate::engine::cel::library::call($name, args, $f)
    };
}
pub(crate) use op;

/// The `n`-th argument as a string.
pub(crate) fn text(args: &[Value], n: usize) -> Result<&str, String> {
    match args.get(n) {
        Some(Value::String(s)) => Ok(s.as_str()),
        other => Err(format!("argument {n} must be a string, got {other:?}")),
    }
}

/// The `n`-th argument as a list.
pub(crate) fn list(args: &[Value], n: usize) -> Result<&[Value], String> {
    match args.get(n) {
        Some(Value::List(l)) => Ok(l.as_slice()),
        other => Err(format!("argument {n} must be a list, got {other:?}")),
    }
}

/// The `n`-th argument as an opaque value of type `T`.
pub(crate) fn opaque<T: Clone + 'static>(
    args: &[Value],
    n: usize,
    what: &str,
) -> Result<T, String> {
    match args.get(n) {
        Some(Value::Opaque(o)) => o
            .downcast_ref::<T>()
            .cloned()
            .ok_or_else(|| format!("argument {n} must be a {what}")),
        _ => Err(format!("argument {n} must be a {what}")),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::engine::cel::{Activation, CelEnv};

    /// Evaluates `source` in the Kubernetes environment and expects `true`.
    pub fn holds(source: &str) {
        let env = CelEnv::kubernetes();
        let expr = env.compile(source).unwrap_or_else(|e| panic!("{e}"));
        match expr.eval_bool(&Activation::new()) {
            Ok(true) => {}
            other => panic!("`{source}`: {other:?}"),
        }
    }

    /// Evaluates `source` and expects an error containing `want`.
    pub fn fails(source: &str, want: &str) {
        let env = CelEnv::kubernetes();
        let expr = env.compile(source).unwrap_or_else(|e| panic!("{e}"));
        match expr.evaluate(&Activation::new()) {
            Err(e) if e.to_string().contains(want) => {}
            other => panic!("`{source}`: want an error containing {want:?}, got {other:?}"),
        }
    }
}
