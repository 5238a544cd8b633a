//! JMESPath as Kyverno evaluates it: the standard functions plus Kyverno's own
//! (`to_upper`, `regex_match`, `add` on quantities, `time_*`, …), over
//! `serde_json::Value`, with the semantics of Kyverno's go-jmespath fork (a
//! missing object key is an error unless an `||`, a function argument, a
//! comparison or a projection absorbs it).
//!
//! The main entry points here are [`compile`] and [`Expression::search`].

mod arithmetic;
mod builtin;
mod digest;
pub(crate) mod duration;
pub(crate) mod go_text;
mod interpreter;
mod kyverno;
mod semver_range;
mod time;

pub(crate) use interpreter::values_equal;
pub use interpreter::{compile, EvalError, Expression};
