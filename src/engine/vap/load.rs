//! Reading a rule file: the policy, its bindings and param objects, every
//! expression compiled once. A compile error names the file, the policy, the
//! field and index, and the expression.

use super::evaluate::{CompiledBinding, CompiledValidation, VapRule};
use super::policy::*;
use crate::engine::cel::match_constraints::is_cluster_scoped;
use crate::engine::cel::{CelEnv, Expression, ResultType};
use crate::error::LoadError;
use crate::input::inventory::InventoryCache;
use crate::library::{LoadContext, LoadedRule, RuleHeader};
use crate::verdict::Mode;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// Load a ValidatingAdmissionPolicy rule file.
///
/// ```
/// let text = r#"
/// apiVersion: admissionregistration.k8s.io/v1
/// kind: ValidatingAdmissionPolicy
/// metadata: {name: replicas-limit}
/// spec:
///   matchConstraints: {resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]}
///   validations: [{expression: "object.spec.replicas <= 5"}]
/// ---
/// apiVersion: admissionregistration.k8s.io/v1
/// kind: ValidatingAdmissionPolicyBinding
/// metadata: {name: replicas-limit}
/// spec: {policyName: replicas-limit, validationActions: [Deny]}
/// "#;
/// let path = std::path::Path::new("replicas-limit.yaml");
/// let rule = verdict::engine::vap::load(path, text, &Default::default()).unwrap();
/// assert_eq!(rule.header.mode, Some(verdict::verdict::Mode::Enforce));
/// let deployment = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
///     "metadata": {"name": "web", "namespace": "a"}, "spec": {"replicas": 9}});
/// let input = verdict::input::Input::from_value(path.into(), 0, None, deployment);
/// assert_eq!(rule.engine.evaluate(&input).name(), "fail");
/// ```
pub fn load(path: &Path, text: &str, ctx: &LoadContext) -> Result<LoadedRule, LoadError> {
    let docs = crate::input::load_str(path, text, &ctx.limits)?;
    let mut docs = docs.into_iter().filter(|d| !d.value.is_null());
    let first = docs
        .next()
        .ok_or_else(|| LoadError::new(path, "no ValidatingAdmissionPolicy in file"))?;
    let at = |line: Option<usize>, message: String| match line {
        Some(line) => LoadError::at_line(path, line, message),
        None => LoadError::new(path, message),
    };
    let policy: PolicyDocument =
        decode(&first.value, POLICY_KIND).map_err(|e| at(first.line, e))?;
    check_api_version(&policy.api_version, &policy.kind, POLICY_KIND)
        .map_err(|e| at(first.line, e))?;
    let name = policy.metadata.name.clone();
    if name.is_empty() {
        return Err(at(
            first.line,
            "ValidatingAdmissionPolicy has no metadata.name".into(),
        ));
    }
    let mut bindings = Vec::new();
    let mut params = Vec::new();
    for doc in docs {
        let kind = doc.value["kind"].as_str().unwrap_or("");
        if kind == POLICY_KIND {
            return Err(at(
                doc.line,
                "a rule file holds exactly one ValidatingAdmissionPolicy".into(),
            ));
        }
        if kind != BINDING_KIND {
            params.push(param_object(&doc.value).map_err(|e| at(doc.line, e))?);
            continue;
        }
        let binding: BindingDocument =
            decode(&doc.value, BINDING_KIND).map_err(|e| at(doc.line, e))?;
        check_api_version(&binding.api_version, &binding.kind, BINDING_KIND)
            .map_err(|e| at(doc.line, e))?;
        let compiled = check_binding(&policy, binding).map_err(|e| at(doc.line, e))?;
        bindings.push(compiled);
    }
    let source = path.display().to_string();
    super::rbac::Rbac::from_objects(params.iter().map(|p| (source.as_str(), p))).map_err(|e| LoadError::new(path, e))?;
    if bindings.is_empty() {
        return Err(at(
            first.line,
            format!("ValidatingAdmissionPolicy {name} has no ValidatingAdmissionPolicyBinding in this file: without one it is never enforced, and its mode is unknown"),
        ));
    }
    let compiled = compile_policy(&policy).map_err(|e| at(first.line, e))?;
    let annotation = |key: &str| {
        policy
            .metadata
            .annotations
            .get(key)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let enforce = bindings
        .iter()
        .any(|b: &CompiledBinding| b.actions.contains(&ValidationAction::Deny));
    let header = RuleHeader {
        id: name.clone(),
        title: annotation("verdict.dev/title"),
        description: annotation("verdict.dev/description"),
        mode: Some(if enforce { Mode::Enforce } else { Mode::Audit }),
        severity: Some(annotation("verdict.dev/severity")).filter(|s| !s.is_empty()),
        controls: RuleHeader::controls_of(&annotation("verdict.dev/controls")),
    };
    let engine = VapRule {
        bindings,
        params,
        inventories: Arc::new(InventoryCache::new(ctx.limits)),
        ..compiled
    };
    Ok(LoadedRule {
        header,
        engine: Arc::new(engine),
    })
}

/// Check and compile a policy's spec: every expression once, a compile error
/// naming the policy, field, index and expression. The result has no bindings
/// or params; the caller adds them.
pub(super) fn compile_policy(policy: &PolicyDocument) -> Result<VapRule, String> {
    let name = policy.metadata.name.clone();
    let spec = &policy.spec;
    let fail = |field: &str, index: usize, e: String| format!("policy {name}, {field}[{index}]: {e}");
    match &spec.match_constraints {
        Some(constraints) => constraints
            .check()
            .map_err(|e| format!("policy {name}, matchConstraints: {e}"))?,
        None => return Err(format!("policy {name}: spec.matchConstraints is required")),
    }
    if spec.validations.is_empty() && spec.audit_annotations.is_empty() {
        return Err(format!(
            "policy {name}: spec.validations or spec.auditAnnotations must be set"
        ));
    }
    let env = CelEnv::builder()
        .extension(super::authz::register)
        .map_err(|e| format!("policy {name}: the authz library does not register: {e:?}"))?
        .build();
    // The API server's result types: validations and match conditions bool,
    // messages string, audit annotations string or null, variables anything;
    // a variable has its expression's type in the expressions after it.
    let compile_as = |field: &str,
                      index: usize,
                      source: &str,
                      wanted: &[ResultType],
                      variables: &[(String, Expression)]| {
        env.compile_with_variables(source, wanted, variables)
            .map_err(|e| fail(field, index, e.to_string()))
    };
    let condition = |field: &str, index: usize, source: &str| {
        compile_as(field, index, source, &[ResultType::Bool], &[])
    };
    let match_conditions = named(&spec.match_conditions, "matchConditions", &condition)?;
    let mut variables: Vec<(String, Expression)> = Vec::new();
    for (i, v) in spec.variables.iter().enumerate() {
        let expression = compile_as("variables", i, &v.expression, &[], &variables)?;
        variables.push((v.name.clone(), expression));
    }
    let mut validations = Vec::new();
    for (i, v) in spec.validations.iter().enumerate() {
        validations.push(CompiledValidation {
            expression: compile_as("validations", i, &v.expression, &[ResultType::Bool], &variables)?,
            message: v
                .message
                .clone()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty()),
            message_expression: v
                .message_expression
                .as_deref()
                .map(|m| {
                    compile_as("validations", i, m, &[ResultType::String], &variables)
                        .map_err(|e| format!("{e} (messageExpression)"))
                })
                .transpose()?,
            reason: v.reason.clone(),
        });
    }
    let mut audit_annotations = Vec::new();
    for (i, a) in spec.audit_annotations.iter().enumerate() {
        audit_annotations.push((
            a.key.clone(),
            compile_as(
                "auditAnnotations",
                i,
                &a.value_expression,
                &[ResultType::String, ResultType::Null],
                &variables,
            )?,
        ));
    }
    Ok(VapRule {
        name,
        param_kind: spec.param_kind.clone(),
        match_constraints: spec.match_constraints.clone().unwrap_or_default(),
        failure_policy: spec.failure_policy.unwrap_or_default(),
        match_conditions,
        variables,
        validations,
        audit_annotations,
        bindings: Vec::new(),
        params: Vec::new(),
        inventories: Arc::new(InventoryCache::new(Default::default())),
    })
}

fn named(
    list: &[NamedExpression],
    field: &str,
    compile: &dyn Fn(&str, usize, &str) -> Result<Expression, String>,
) -> Result<Vec<(String, Expression)>, String> {
    list.iter()
        .enumerate()
        .map(|(i, n)| Ok((n.name.clone(), compile(field, i, &n.expression)?)))
        .collect()
}

pub(super) fn check_api_version(api_version: &str, kind: &str, expected_kind: &str) -> Result<(), String> {
    if kind != expected_kind {
        return Err(format!("expected kind {expected_kind}, got {kind}"));
    }
    if api_version != API_VERSION {
        return Err(format!(
            "{kind}: apiVersion must be {API_VERSION}, got {api_version}"
        ));
    }
    Ok(())
}

/// The checks the API server makes on a binding, against its policy.
fn check_binding(
    policy: &PolicyDocument,
    binding: BindingDocument,
) -> Result<CompiledBinding, String> {
    let name = binding.metadata.name.clone();
    let spec = binding.spec;
    if spec.policy_name != policy.metadata.name {
        return Err(format!(
            "binding {name} names policy `{}`, which is not in this file (the policy here is `{}`)",
            spec.policy_name, policy.metadata.name
        ));
    }
    if spec.validation_actions.is_empty() {
        return Err(format!(
            "binding {name}: validationActions must name at least one of Deny, Warn, Audit"
        ));
    }
    let has = |a| spec.validation_actions.contains(&a);
    if has(ValidationAction::Deny) && has(ValidationAction::Warn) {
        return Err(format!(
            "binding {name}: validationActions must not hold both Deny and Warn"
        ));
    }
    if let Some(m) = &spec.match_resources {
        m.check()
            .map_err(|e| format!("binding {name}, matchResources: {e}"))?;
    }
    match (&policy.spec.param_kind, &spec.param_ref) {
        (None, Some(_)) => {
            return Err(format!(
                "binding {name} sets paramRef but policy {} has no paramKind",
                policy.metadata.name
            ))
        }
        (Some(_), None) => {
            return Err(format!(
                "binding {name}: paramRef is required, policy {} has a paramKind",
                policy.metadata.name
            ))
        }
        (Some(kind), Some(r)) => {
            if r.name.is_some() == r.selector.is_some() {
                return Err(format!(
                    "binding {name}: paramRef needs exactly one of name and selector"
                ));
            }
            if r.parameter_not_found_action.is_none() {
                return Err(format!(
                    "binding {name}: paramRef.parameterNotFoundAction is required (Allow or Deny)"
                ));
            }
            if let Some(s) = &r.selector {
                s.check()
                    .map_err(|e| format!("binding {name}, paramRef.selector: {e}"))?;
            }
            if is_cluster_scoped(&kind.kind) && r.namespace.is_some() {
                return Err(format!(
                    "binding {name}: paramRef.namespace must be empty for cluster-scoped {}",
                    kind.kind
                ));
            }
        }
        (None, None) => {}
    }
    Ok(CompiledBinding {
        name,
        param_ref: spec.param_ref,
        match_resources: spec.match_resources,
        actions: spec.validation_actions,
    })
}

/// A param object beside the policy: a Kubernetes object with a name, and a
/// namespace when its kind is namespaced (there is no request to default it from).
fn param_object(value: &Value) -> Result<Value, String> {
    let kind = value["kind"].as_str().unwrap_or("");
    if value["apiVersion"].as_str().is_none() || kind.is_empty() {
        return Err("a document after the policy must be a binding or a param object with apiVersion and kind".into());
    }
    if value["metadata"]["name"].as_str().unwrap_or("").is_empty() {
        return Err(format!("param object {kind} has no metadata.name"));
    }
    if !is_cluster_scoped(kind)
        && value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    {
        return Err(format!(
            "param object {kind}/{} needs metadata.namespace",
            value["metadata"]["name"].as_str().unwrap_or("")
        ));
    }
    Ok(value.clone())
}
