//! One handler per kind of validate rule. The main function here is
//! [`dispatch`], the one `match` choosing the handler, as Kyverno's
//! `validation.go` does (podSecurity before the resource handler).
pub mod pss;
pub mod resource;
pub mod validate_cel;

use super::engine::{RuleResponse, RuleStatus};
use super::rule::RuleScope;
use serde_json::Value;

/// Run the rule's handler against the JSON context (rule context and
/// preconditions already applied). `None` when Kyverno reports nothing.
pub fn dispatch(scope: &RuleScope, ctx: &mut Value) -> Option<RuleResponse> {
    match &scope.validation.pod_security {
        Some(pod_security) => pod_security_rule(scope, pod_security, ctx),
        None => resource::Validator::for_rule(scope).validate(ctx, None),
    }
}

fn pod_security_rule(scope: &RuleScope, pod_security: &Value, ctx: &Value) -> Option<RuleResponse> {
    if scope.operation == "DELETE" {
        return None;
    }
    let resource = ctx.pointer("/request/object").filter(|o| o.is_object())?;
    Some(match pss::evaluate(pod_security, resource) {
        Ok(outcome) if outcome.passed() => RuleResponse::new(scope.name, RuleStatus::Pass, outcome.message(scope.name)),
        Ok(outcome) => RuleResponse::new(scope.name, RuleStatus::Fail, outcome.message(scope.name)),
        Err(e) => RuleResponse::new(scope.name, RuleStatus::Error, e),
    })
}
