//! Kubernetes `ValidatingAdmissionPolicy` + `ValidatingAdmissionPolicyBinding`
//! (`admissionregistration.k8s.io/v1`) as library rules, judged as the API
//! server's validating admission policy plugin judges a CREATE request
//! (k8s.io/apiserver `admission/plugin/policy/validating`). The main type
//! here is [`VapRule`], built by [`load`].
//!
//! - A rule file holds one policy (first document), one or more bindings naming
//!   it, and optionally param objects; a binding naming another policy is a
//!   load error. Param objects are also looked up in the case's `_inventory.yaml`.
//! - Metadata: `verdict.dev/{title,description,severity,controls}` annotations
//!   on the policy; mode: `enforce` when a binding's `validationActions` holds
//!   `Deny`, else `audit`. Actions change the mode, never the outcome.
//! - Both the policy's `matchConstraints` and a binding's `matchResources` must
//!   match; then `paramRef` (name or selector, `parameterNotFoundAction`),
//!   `matchConditions` (false: not applicable), ordered `variables`,
//!   `validations`, `auditAnnotations`.
//! - Errors follow `failurePolicy`: `Fail` (default) gives an `error` verdict
//!   (blocks like a failure), `Ignore` admits with a `warn` verdict saying what was
//!   ignored, never a silent pass.
//! - `authorizer` and `authorizer.requestResource` ([`authz`]) answer from the
//!   RBAC objects of the rule file and the case's `_inventory.yaml`
//!   ([`rbac`]) for the request's user; with no RBAC object at all, reading
//!   them is an error verdict whatever the `failurePolicy`, and a malformed
//!   RBAC object is an error naming its file.
//! - Numbers as the cluster sees them ([`Numbers::Cluster`](crate::engine::cel::Numbers)).
//!
//! `kyverno test` judges VAPs differently (no cluster, its own binding and
//! param plumbing); [`KyvernoCliVap`] is that reading, over the same compiled
//! policy and validator.

pub mod authz;
mod evaluate;
mod kyverno_cli;
mod load;
mod params;
mod policy;
pub mod rbac;

pub use evaluate::VapRule;
pub use kyverno_cli::{CliRequest, CliResult, KyvernoCliVap};
pub use load::load;
pub use policy::{BINDING_KIND, POLICY_KIND};
