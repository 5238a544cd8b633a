//! Plain Rego rules (conftest conventions) on regorus. The main type here is
//! [`Program`]: Rego modules and data compiled once, evaluated many times;
//! [`load`] turns one policy file into a library rule.

mod conftest;
pub mod coverage;
mod loader;
mod metadata;
mod prepass;
mod program;

pub use conftest::{exception_rule, is_conftest_rule, judging_rules, ConftestRule, JudgingRule, RuleKind};
pub use loader::{load, load_error};
pub use metadata::{annotations, declared_inputs, header, Annotation, Block, Custom, MetadataError, OneOrMany, Target};
pub use prepass::{call_names, split_set_bodies};
pub use program::{BuiltinErrors, Program, ProgramError, Session};
