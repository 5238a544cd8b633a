//! Kyverno `validate.podSecurity`: the Pod Security Standards checked natively.
//! The main entry point here is [`evaluate`], returning a [`PssOutcome`].
//!
//! How to call it (rule dispatch): pass the rule's `validate.podSecurity` object
//! and the resource (after autogen, a Pod or a controller holding a pod template);
//! `Ok(outcome)` with `outcome.passed()` is a pass, otherwise a fail with
//! `outcome.message(rule_name)` as Kyverno's message; `Err(reason)` is a rule
//! error. [`evaluate_with_exceptions`] also applies the `podSecurity` excludes of
//! matching PolicyExceptions (matching the exceptions is the caller's job).
//!
//! Behaviour follows Kyverno (`pkg/pss`, `validate_pss.go`) over its fork of
//! `k8s.io/pod-security-admission` (release 1.34): `restricted` runs every check
//! (baseline ones included), `baseline` the baseline ones; for a `v1.x` version
//! each check uses its newest implementation not newer than `v1.x`, or its oldest
//! one when `v1.x` predates it (Kyverno does not skip checks for older versions).
//! One deliberate difference: `privileged` runs no checks, as the standard
//! defines it (Kyverno would run all of them).

mod checks;
mod evaluate;
mod exclude;
mod model;

pub use checks::{BadValue, FieldError, FieldErrorKind};
pub use evaluate::{evaluate, evaluate_with_exceptions, PssOutcome, PssViolation};
