//! Kyverno `ValidatingPolicy` (`policies.kyverno.io` v1alpha1, v1beta1, v1)
//! and `NamespacedValidatingPolicy` (v1beta1, v1; the same spec, judged only
//! in its namespace): CEL validations behind `matchConstraints`, as Kyverno
//! 58cd762 evaluates them. Split by concern: [`policy`] reads and compiles (with autogen),
//! `matchConstraints` is the matcher the VAP engine shares
//! ([`crate::engine::cel::match_constraints`], read as `MatchReading::KYVERNO_VPOL`),
//! [`evaluate`] judges one resource (and is the library's `Engine`),
//! [`libs`] and [`image`] hold Kyverno's CEL libraries an offline run can serve,
//! [`json`] judges any document under `spec.evaluation.mode: JSON`.
//!
//! Kyverno's reading kept: a runtime error or non-bool validation is `error`
//! (not `fail`, unlike `validate.cel`); `validationActions` set the mode, never
//! the result; the CLI always sends CREATE; autogen variants keep the policy's
//! name. Not kept: Kyverno type-checks each validation as exactly `bool` at
//! compile time; verdict's CEL has no type checker, so a non-bool is an
//! `error` at evaluation instead of a load error.

pub mod evaluate;
pub mod exception;
pub mod image;
pub mod json;
pub mod libs;
pub mod policy;

pub use evaluate::{evaluate, load, VpolInput, VpolResult, VpolRule};
pub use exception::{is_cel_policy_exception, CelPolicyException};
pub use libs::MockContext;
pub use policy::{is_validating_policy, EvaluationMode, ValidatingPolicy, NAMESPACED_KIND};
