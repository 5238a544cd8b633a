//! Judging one object: match, bindings, params, then the validator, as the
//! plugin's dispatcher and `validator.Validate` do: for a CREATE of the case's
//! object, or for the request of a case written as a whole `AdmissionReview`
//! (UPDATE with `oldObject`, DELETE, a `userInfo`).

use super::authz;
use super::params::{resolve, Params};
use super::rbac::{Rbac, User};
use super::policy::{
    FailurePolicy, ParamKind, ParamRef, ParameterNotFoundAction, ValidationAction,
};
use crate::engine::cel::admission::{namespace_from_inventory, review_request};
use crate::engine::cel::match_constraints::{MatchReading, MatchResources, RequestAttributes};
use crate::engine::cel::{Activation, Expression, Numbers};
use crate::engine::Engine;
use crate::input::inventory::{Inventory, InventoryCache, INVENTORY_FILE};
use crate::input::{Input, InputKind};
use crate::verdict::Outcome;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Kubernetes caps a message expression's result at 5 KiB.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// One validation, compiled.
#[derive(Debug, Clone)]
pub struct CompiledValidation {
    pub expression: Expression,
    pub message: Option<String>,
    pub message_expression: Option<Expression>,
    pub reason: Option<String>,
}

/// One binding of the policy, checked against it at load.
#[derive(Debug, Clone)]
pub struct CompiledBinding {
    pub name: String,
    pub param_ref: Option<ParamRef>,
    pub match_resources: Option<MatchResources>,
    pub actions: Vec<ValidationAction>,
}

/// A ValidatingAdmissionPolicy with its bindings, ready to judge objects.
#[derive(Debug)]
pub struct VapRule {
    pub(super) name: String,
    pub(super) param_kind: Option<ParamKind>,
    pub(super) match_constraints: MatchResources,
    pub(super) failure_policy: FailurePolicy,
    pub(super) match_conditions: Vec<(String, Expression)>,
    pub(super) variables: Vec<(String, Expression)>,
    pub(super) validations: Vec<CompiledValidation>,
    pub(super) audit_annotations: Vec<(String, Expression)>,
    pub(super) bindings: Vec<CompiledBinding>,
    /// Param objects written in the rule file.
    pub(super) params: Vec<Value>,
    pub(super) inventories: Arc<InventoryCache>,
}

/// What one binding (and param) decided.
pub(super) enum Decision {
    Deny(String),
    /// An error under `failurePolicy: Fail`, or one `Ignore` cannot cover.
    Error(String),
    /// An error `failurePolicy: Ignore` admitted.
    Ignored(String),
    Admit,
    NotApplicable,
}

impl Engine for VapRule {
    fn evaluate(&self, input: &Input) -> Outcome {
        if input.kind != InputKind::Manifest {
            return Outcome::not_applicable();
        }
        let inventory = match self.inventories.for_input(input) {
            Ok(inventory) => inventory,
            Err(e) => return Outcome::error(format!("inventory: {e}")),
        };
        let (request, reviewed) = match review_request(&input.value) {
            None => (RequestAttributes::for_create(&input.value), None),
            Some(Ok(given)) => (RequestAttributes::for_request(given), Some(given)),
            Some(Err(e)) => return Outcome::error(e),
        };
        let object = reviewed.map_or(&input.value, |r| &r["object"]);
        let old_object = reviewed.map_or(&Value::Null, |r| &r["oldObject"]);
        let subject = if object.is_null() { old_object } else { object };
        let old = Some(old_object).filter(|o| o.is_object() && !object.is_null());
        let ctx = RequestContext { attributes: &request, object, old_object, given: reviewed };
        // A Namespace's own request names itself, but has no namespaceObject (as the dispatcher unsets it).
        let is_namespace = request.kind == "Namespace" && request.group.is_empty();
        let namespace = if is_namespace {
            None
        } else {
            namespace_from_inventory(&inventory, &request.namespace)
        };
        let namespace_labels = namespace
            .as_ref()
            .and_then(|n| n["metadata"]["labels"].as_object());
        // An objectSelector matches when the new or the old object matches, as the API server reads it.
        let matches = |m: &MatchResources| {
            m.matches(&request, subject, namespace_labels, MatchReading::KUBERNETES).and_then(|hit| match (hit, old) {
                (false, Some(old)) => m.matches(&request, old, namespace_labels, MatchReading::KUBERNETES),
                _ => Ok(hit),
            })
        };
        match matches(&self.match_constraints) {
            Ok(true) => {}
            Ok(false) => return Outcome::not_applicable(),
            Err(e) => {
                return Outcome::error(format!("policy {}, matchConstraints: {e}", self.name))
            }
        }
        let rbac = match self.rbac(&inventory) {
            Ok(rbac) => rbac,
            Err(e) => return Outcome::error(format!("RBAC: {e}")),
        };
        let mut decisions = Vec::new();
        for binding in &self.bindings {
            let matched = match &binding.match_resources {
                None => Ok(true),
                Some(m) => matches(m),
            };
            match matched {
                Ok(true) => decisions.extend(self.evaluate_binding(binding, &ctx, namespace.as_ref(), &inventory, rbac.as_ref())),
                Ok(false) => {}
                Err(e) => decisions.push((
                    binding.name.clone(),
                    Decision::Error(format!("matchResources: {e}")),
                )),
            }
        }
        outcome(&self.name, decisions)
    }
}

/// The request one case makes.
pub(super) struct RequestContext<'a> {
    pub attributes: &'a RequestAttributes,
    /// Null for a DELETE.
    pub object: &'a Value,
    /// Null for a CREATE.
    pub old_object: &'a Value,
    /// The AdmissionRequest a case gave whole.
    pub given: Option<&'a Value>,
}

impl VapRule {
    /// The RBAC objects of the rule file and the case's inventory; `None` when
    /// there is none, so `authorizer` stays unbound (an error when read).
    fn rbac(&self, inventory: &Inventory) -> Result<Option<Arc<Rbac>>, String> {
        let inventory_file = inventory
            .path()
            .map_or_else(|| INVENTORY_FILE.to_string(), |p| p.display().to_string());
        let objects = self
            .params
            .iter()
            .map(|o| ("the rule file", o))
            .chain(inventory.objects().iter().map(|o| (inventory_file.as_str(), o)));
        Ok(Rbac::from_objects(objects)?.map(Arc::new))
    }

    fn evaluate_binding(
        &self,
        binding: &CompiledBinding,
        ctx: &RequestContext,
        namespace: Option<&Value>,
        inventory: &Inventory,
        rbac: Option<&Arc<Rbac>>,
    ) -> Vec<(String, Decision)> {
        let request = ctx.attributes;
        let named = |d| (binding.name.clone(), d);
        let params: Vec<Value> = match (&self.param_kind, &binding.param_ref) {
            (Some(kind), Some(param_ref)) => match resolve(kind, param_ref, &request.namespace, self.params.iter().chain(inventory.objects())) {
                Params::Found(found) => found,
                Params::NotFound(ParameterNotFoundAction::Allow, _) => return vec![named(Decision::NotApplicable)],
                Params::NotFound(ParameterNotFoundAction::Deny, which) => {
                    return vec![named(Decision::Deny(format!("no params found for policy binding with `Deny` parameterNotFoundAction ({which})")))]
                }
                Params::Error(e) => return vec![named(self.on_error(format!("paramRef: {e}")))],
            },
            _ => vec![Value::Null],
        };
        let request_json = admission_request(ctx);
        let authorizer = rbac.map(|rbac| {
            let user = User {
                name: request_json["userInfo"]["username"].as_str().unwrap_or("").to_string(),
                groups: request_json["userInfo"]["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect(),
            };
            // The resource's group (`apps` for deployments/scale), not the kind's (`autoscaling`).
            let field = |value: &Value| value.as_str().unwrap_or("").to_string();
            let resource = &request_json["resource"];
            let requested = [
                field(&resource["group"]),
                field(&resource["resource"]),
                field(&request_json["subResource"]),
                field(&request_json["namespace"]),
                field(&request_json["name"]),
            ];
            authz::bindings(rbac.clone(), user, requested.each_ref().map(String::as_str))
        });
        params
            .iter()
            .flat_map(|param| {
                let mut activation = Activation::new();
                activation.bind_json("object", ctx.object, Numbers::Cluster);
                activation.bind_json("oldObject", ctx.old_object, Numbers::Cluster);
                activation.bind_json("request", &request_json, Numbers::Cluster);
                activation.bind_json(
                    "namespaceObject",
                    namespace.unwrap_or(&Value::Null),
                    Numbers::Cluster,
                );
                if self.param_kind.is_some() {
                    activation.bind_json("params", param, Numbers::Cluster);
                }
                if let Some((authorizer, request_resource)) = &authorizer {
                    activation.bind("authorizer", authorizer.clone());
                    activation.bind("authorizer.requestResource", request_resource.clone());
                }
                activation.bind_variables(&self.variables);
                self.validate(&activation)
                    .into_iter()
                    .map(named)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `validator.Validate` for one param: match conditions, then one decision
    /// per validation and per failing audit annotation.
    pub(super) fn validate(&self, activation: &Activation) -> Vec<Decision> {
        let mut condition_errors = Vec::new();
        for (name, condition) in &self.match_conditions {
            match condition.eval_bool(activation) {
                Ok(false) => return vec![Decision::NotApplicable],
                Ok(true) => {}
                Err(e) => condition_errors.push(format!("matchConditions {name}: {e}")),
            }
        }
        if !condition_errors.is_empty() {
            return vec![self.on_error(condition_errors.join("; "))];
        }
        let mut decisions = Vec::new();
        for (i, v) in self.validations.iter().enumerate() {
            decisions.push(match v.expression.eval_bool(activation) {
                Ok(true) => Decision::Admit,
                Ok(false) => Decision::Deny(denial_message(v, activation)),
                Err(e) => self.on_error(format!("validations[{i}]: {e}")),
            });
        }
        for (key, annotation) in &self.audit_annotations {
            match annotation.evaluate(activation) {
                Ok(cel::Value::String(_) | cel::Value::Null) => decisions.push(Decision::Admit),
                Ok(other) => decisions.push(self.on_error(format!(
                    "auditAnnotations {key}: must evaluate to string or null, got {}",
                    crate::engine::cel::type_name(&other)
                ))),
                Err(e) => decisions.push(self.on_error(format!("auditAnnotations {key}: {e}"))),
            }
        }
        decisions
    }

    /// `failurePolicy` decides, except for what the case did not give: RBAC for `authorizer`.
    fn on_error(&self, error: String) -> Decision {
        if error.contains("undeclared reference to `authorizer`") {
            return Decision::Error(format!("{error} ({})", authz::NOT_OFFLINE));
        }
        match self.failure_policy {
            FailurePolicy::Fail => Decision::Error(error),
            FailurePolicy::Ignore => Decision::Ignored(error),
        }
    }
}

/// The message of a failed validation: `messageExpression` when it gives a
/// usable string, else `message`, else `failed expression: ...` (Kubernetes' order).
fn denial_message(v: &CompiledValidation, activation: &Activation) -> String {
    let from_expression = v
        .message_expression
        .as_ref()
        .and_then(|m| m.eval_string(activation).ok())
        .map(|s| s.trim().to_string());
    let message = from_expression
        .filter(|s| !s.is_empty() && s.len() <= MAX_MESSAGE_BYTES && !s.contains('\n'))
        .or_else(|| v.message.clone())
        .unwrap_or_else(|| format!("failed expression: {}", v.expression.source().trim()));
    match v.reason.as_deref() {
        Some(reason) if reason != "Invalid" => format!("{message} (reason: {reason})"),
        _ => message,
    }
}

/// Fold the bindings' decisions into one outcome; an error outranks a denial.
fn outcome(policy: &str, decisions: Vec<(String, Decision)>) -> Outcome {
    let with = |pick: fn(&Decision) -> Option<&String>| -> Vec<String> {
        decisions
            .iter()
            .filter_map(|(binding, d)| {
                pick(d).map(|m| format!("{policy} (binding {binding}): {m}"))
            })
            .collect()
    };
    let errors = with(|d| {
        if let Decision::Error(m) = d {
            Some(m)
        } else {
            None
        }
    });
    let denials = with(|d| {
        if let Decision::Deny(m) = d {
            Some(m)
        } else {
            None
        }
    });
    let ignored = with(|d| {
        if let Decision::Ignored(m) = d {
            Some(m)
        } else {
            None
        }
    });
    if !errors.is_empty() {
        let mut reasons = errors;
        reasons.extend(denials.iter().map(|d| format!("(also denied) {d}")));
        return Outcome::error(reasons.join("; "));
    }
    let ignored: Vec<String> = ignored
        .into_iter()
        .map(|m| format!("failurePolicy Ignore admitted the request despite an error: {m}"))
        .collect();
    if !denials.is_empty() {
        return Outcome::fail_with_warnings(denials, ignored);
    }
    if !ignored.is_empty() {
        return Outcome::warn(ignored);
    }
    if decisions.iter().any(|(_, d)| matches!(d, Decision::Admit)) {
        Outcome::pass()
    } else {
        Outcome::not_applicable()
    }
}


/// `request`: the AdmissionRequest as the plugin builds it
/// (`CreateAdmissionRequest`), every field present: for a plain case a CREATE
/// by an anonymous user; for a case written as an AdmissionReview, each field
/// its request states (`uid`, `userInfo`, `dryRun`, `options`, ...) over those.
pub(super) fn admission_request(ctx: &RequestContext) -> Value {
    let request = ctx.attributes;
    let kind = json!({"group": request.group, "version": request.version, "kind": request.kind});
    let resource =
        json!({"group": request.group, "version": request.version, "resource": request.resource});
    let options = match request.operation.as_str() {
        "UPDATE" => "UpdateOptions",
        "DELETE" => "DeleteOptions",
        _ => "CreateOptions",
    };
    let mut r = Map::new();
    r.insert("uid".into(), json!(""));
    r.insert("kind".into(), kind.clone());
    r.insert("resource".into(), resource.clone());
    r.insert("subResource".into(), json!(request.subresource));
    r.insert("requestKind".into(), kind);
    r.insert("requestResource".into(), resource);
    r.insert("requestSubResource".into(), json!(request.subresource));
    r.insert("name".into(), json!(request.name));
    r.insert("namespace".into(), json!(request.namespace));
    r.insert("operation".into(), json!(request.operation));
    r.insert(
        "userInfo".into(),
        json!({"username": "", "uid": "", "groups": [], "extra": {}}),
    );
    r.insert("dryRun".into(), json!(false));
    r.insert(
        "options".into(),
        json!({"apiVersion": "meta.k8s.io/v1", "kind": options}),
    );
    if let Some(given) = ctx.given.and_then(Value::as_object) {
        for (field, value) in given {
            r.insert(field.clone(), value.clone());
        }
    }
    r.insert("object".into(), ctx.object.clone());
    r.insert("oldObject".into(), ctx.old_object.clone());
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::CelEnv;

    fn validation(
        message: Option<&str>,
        message_expression: &str,
        reason: Option<&str>,
    ) -> CompiledValidation {
        let env = CelEnv::kubernetes();
        CompiledValidation {
            expression: env.compile(" false ").unwrap(),
            message: message.map(str::to_string),
            message_expression: Some(env.compile(message_expression).unwrap()),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn a_message_expression_is_used_only_when_kubernetes_would_use_it() {
        let a = Activation::new();
        assert_eq!(
            denial_message(&validation(Some("static"), "'  dynamic  '", None), &a),
            "dynamic"
        );
        assert_eq!(
            denial_message(&validation(Some("static"), "'two\\nlines'", None), &a),
            "static"
        );
        assert_eq!(
            denial_message(
                &validation(Some("static"), &format!("'{}'", "x".repeat(6000)), None),
                &a
            ),
            "static"
        );
        assert_eq!(
            denial_message(&validation(Some("static"), "'   '", None), &a),
            "static"
        );
        assert_eq!(
            denial_message(&validation(None, "1 / 0 == 1 ? 'a' : 'b'", None), &a),
            "failed expression: false"
        );
        assert_eq!(
            denial_message(&validation(None, "'m'", Some("Invalid")), &a),
            "m"
        );
        assert_eq!(
            denial_message(&validation(None, "'m'", Some("Forbidden")), &a),
            "m (reason: Forbidden)"
        );
    }

    #[test]
    fn an_error_outranks_a_denial_and_ignored_errors_stay_visible() {
        let d = |decisions: Vec<Decision>| {
            outcome(
                "p",
                decisions
                    .into_iter()
                    .map(|d| ("b".to_string(), d))
                    .collect(),
            )
        };
        assert_eq!(
            d(vec![Decision::Admit, Decision::NotApplicable]),
            Outcome::pass()
        );
        assert_eq!(d(vec![Decision::NotApplicable]), Outcome::not_applicable());
        assert_eq!(d(vec![]), Outcome::not_applicable());
        assert_eq!(
            d(vec![
                Decision::Deny("no".into()),
                Decision::Error("boom".into())
            ]),
            Outcome::error("p (binding b): boom; (also denied) p (binding b): no")
        );
        assert_eq!(
            d(vec![Decision::Ignored("boom".into())]),
            Outcome::warn(vec![
                "failurePolicy Ignore admitted the request despite an error: p (binding b): boom"
                    .into()
            ])
        );
    }
}
