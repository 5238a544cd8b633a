//! Kyverno-compatible `validate` engine, in-process, without the Kyverno binary.
//! Split by concern as Kyverno's `pkg/engine` is. The main entry points here are
//! [`apply_policy`] (per-rule results, for kyverno-test suites) and [`load`] (the
//! library [`crate::engine::Engine`] for one policy file).

pub mod anchor;
pub mod autogen;
pub mod conditions;
pub mod engine;
pub mod exception;
pub mod functions;
pub mod handlers;
pub mod images;
pub mod matching;
pub mod operator;
pub mod pattern;
pub mod policy;
pub mod quantity;
pub mod rule;
pub mod strict;
pub mod validate;
pub mod verify_images;
pub mod vpol;
pub mod variables;
pub mod wildcards;

pub use engine::{apply_policy, apply_policy_with_rule_values, load, KyvernoRule, ResourceContext, RuleResponse, RuleStatus};
pub use policy::Policy;
pub use strict::check_policy;
