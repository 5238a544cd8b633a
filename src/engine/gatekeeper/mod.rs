//! Gatekeeper ConstraintTemplates and Constraints. The main types here are
//! [`Template`] (compiled Rego and/or `K8sNativeValidation` CEL, plus its
//! Constraint kind; [`TemplateEngine`] says which one reviews) and [`Constraint`]
//! (parameters, `spec.match`, `enforcementAction`); [`Template::review`] judges
//! one object as `gator verify` does, and [`load`] builds a library rule from a
//! file holding a template then one Constraint.
//!
//! Inventory for library cases: a `_inventory.yaml` beside a case supplies
//! `data.inventory` and the Namespace objects `namespaceSelector` needs; a
//! namespaced object under a namespaceSelector whose Namespace is not there is
//! an error, as it is in Gatekeeper.

mod cel_program;
mod constraint;
mod documents;
mod expansion;
mod library_rule;
mod matching;
mod parameters;
mod rego_program;
mod review;
mod strict;
mod template;

pub use constraint::{Action, Constraint, EnforcementAction, WEBHOOK_ENFORCEMENT_POINT};
pub use documents::{parse_documents, Document};
pub use expansion::{Expander, ExpansionCycle, ExpansionTemplate, Resultant, EXPANSION_GROUP};
pub use library_rule::{load, load_constraint, load_template, load_template_for, GatekeeperRule, INVENTORY_FILE};
pub use matching::{
    Candidate, KindSelector, LabelSelector, Match, Operator, Requirement, Source, Wildcard,
};
pub use parameters::ParameterSchema;
pub use review::{
    admission_review, find_namespace, inventory_data, GroupVersionKind, RegoEvaluation, ReviewError,
    ReviewOutcome, Violation,
};
pub use strict::{check_admission_review, check_constraint, check_template};
pub use template::{Template, TemplateEngine, ADMISSION_TARGET};
