//! Policy engines. The main type here is the [`Engine`] trait: the one thing the
//! runner, snapshots and reports know about a rule's language.

pub mod cel;
pub mod gatekeeper;
pub mod kyverno;
pub mod vap;
pub mod rego;

use crate::input::Input;
use crate::verdict::Outcome;

/// A compiled rule, ready to judge many inputs.
///
/// Each language module compiles a policy file once into a value implementing
/// this trait; `evaluate` is then called per input document, possibly from
/// several threads.
pub trait Engine: Send + Sync + std::fmt::Debug {
    /// Judge one input document. Must never panic and never turn an error into a pass.
    fn evaluate(&self, input: &Input) -> Outcome;
}
