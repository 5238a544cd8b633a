//! Orchestration of one rule against one resource, as Kyverno's
//! `invokeRuleHandler` + validator: match/exclude, rule context, preconditions,
//! then the handler, then the "allow existing violations" check on UPDATE.
//! The main function here is [`evaluate_rule`]; [`Request`] is the JSON context
//! shared by all rules of a policy.

use super::engine::{ResourceContext, RuleResponse, RuleStatus};
use super::handlers;
use super::images::image_infos;
use super::matching::{matches_rule, MatchRequest};
use super::policy::{
    ContextEntry, ContextSource, FailureAction, ForEach, Policy, Rule, RuleKind, Validation,
};
use super::{conditions, variables};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What a handler needs to know about the rule it evaluates.
#[derive(Debug, Clone, Copy)]
pub struct RuleScope<'a> {
    pub name: &'a str,
    pub validation: &'a Validation,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: &'a str,
    /// Values from a kyverno-test values file (global, per resource, per rule);
    /// they stand in for context entries that need a cluster.
    pub values: &'a Map<String, Value>,
}

/// The admission request as Kyverno's policy context holds it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The JSON context: `request.*`, `images`, service account, values.
    pub context: Value,
    pub operation: String,
    /// `request.object` (null for DELETE).
    pub new_resource: Value,
    /// `request.oldObject` (null for CREATE).
    pub old_resource: Value,
    /// Kind of the resource as given, used for autogen.
    pub kind: String,
}

impl Request {
    /// Build the context as the Kyverno CLI's `makePolicyContext` does: the
    /// object (or old object for DELETE), namespace, images, user info,
    /// operation, then the values, from which the objects are read back.
    pub fn new(rc: &ResourceContext) -> Request {
        let operation = match rc.values.get("request.operation").and_then(Value::as_str) {
            Some(op @ ("CREATE" | "UPDATE" | "DELETE")) => op.to_string(),
            _ if rc.operation.is_empty() => "CREATE".to_string(),
            _ => rc.operation.clone(),
        };
        // A DELETE may come as (null, old) or as (object, none): the deleted object is whichever is set.
        let resource = match (&rc.resource, &rc.old_resource) {
            (Value::Null, Some(old)) => old,
            (resource, _) => resource,
        };
        let mut request = Map::new();
        let old = rc.old_resource.clone().unwrap_or_else(|| resource.clone());
        match operation.as_str() {
            "DELETE" => {
                request.insert("oldObject".into(), old);
            }
            "UPDATE" => {
                request.insert("object".into(), resource.clone());
                request.insert("oldObject".into(), old);
            }
            _ => {
                request.insert("object".into(), resource.clone());
            }
        }
        request.insert(
            "namespace".into(),
            json!(resource["metadata"]["namespace"].as_str().unwrap_or("")),
        );
        let mut context = Map::new();
        if operation != "DELETE" {
            if let Some(images) = image_infos(resource) {
                context.insert("images".into(), images);
            }
        }
        let has_request_info =
            rc.user_info.is_some() || !rc.roles.is_empty() || !rc.cluster_roles.is_empty();
        if has_request_info {
            request.insert("roles".into(), json!(rc.roles));
            request.insert("clusterRoles".into(), json!(rc.cluster_roles));
            let user_info = rc.user_info.clone().unwrap_or_else(|| json!({}));
            let (sa_name, sa_namespace) =
                service_account(user_info["username"].as_str().unwrap_or(""));
            request.insert("userInfo".into(), user_info);
            context.insert("serviceAccountName".into(), json!(sa_name));
            context.insert("serviceAccountNamespace".into(), json!(sa_namespace));
        }
        request.insert("operation".into(), json!(operation));
        context.insert("request".into(), Value::Object(request));
        let mut context = Value::Object(context);
        for (key, value) in &rc.values {
            set_path(&mut context, key, value.clone());
        }
        let read = |path: &str| {
            context
                .pointer(path)
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(Value::Null)
        };
        let (new_resource, old_resource) = match operation.as_str() {
            "DELETE" => (Value::Null, read("/request/oldObject")),
            "UPDATE" => (read("/request/object"), read("/request/oldObject")),
            _ => (read("/request/object"), Value::Null),
        };
        let kind = resource["kind"].as_str().unwrap_or("").to_string();
        Request {
            context,
            operation,
            new_resource,
            old_resource,
            kind,
        }
    }
}

/// `system:serviceaccount:<ns>:<name>` → (name, ns); anything else → empty.
fn service_account(username: &str) -> (String, String) {
    let Some(rest) = username.strip_prefix("system:serviceaccount:") else {
        return (String::new(), String::new());
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() >= 2 {
        (parts[1].to_string(), parts[0].to_string())
    } else {
        (String::new(), String::new())
    }
}

/// Set `value` at a dotted path (`request.operation`, `"a.b".c`), creating maps on the way.
pub fn set_path(ctx: &mut Value, dotted: &str, value: Value) {
    let keys = split_dotted(dotted);
    let mut cur = ctx;
    for (i, key) in keys.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let obj = cur.as_object_mut().expect("just made an object");
        if i + 1 == keys.len() {
            obj.insert(key.clone(), value);
            return;
        }
        cur = obj
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Split on `.` outside double quotes, as Kyverno's CSV-based `AddVariable`.
fn split_dotted(key: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in key.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// Substitute variables in a rule message.
pub fn substitute_message(message: &str, ctx: &Value) -> Result<String, String> {
    match variables::substitute_all(&Value::String(message.to_string()), ctx) {
        Ok(Value::String(s)) => Ok(s),
        Ok(_) => Ok(
            "the produced message didn't resolve to a string, check your policy definition."
                .to_string(),
        ),
        Err(e) => Err(e.to_string()),
    }
}

/// Load `context` entries into the JSON context, in order. Only `variable`
/// entries can be computed offline; the others (apiCall, configMap, ...) need a
/// cluster or registry and must be given in `values` (a values file), else
/// the rule errors. As in Kyverno, a computed `variable` replaces a value of
/// the same name.
///
/// Kyverno loads variables lazily: one that cannot be computed is an error only
/// once something queries it. Such failures come back in [`Deferred`] for the
/// caller to check against what it evaluates next.
pub fn load_context_entries(
    entries: &[ContextEntry],
    ctx: &mut Value,
    values: &Map<String, Value>,
) -> Result<Deferred, String> {
    let mut deferred = Deferred::default();
    for entry in entries {
        let external = matches!(entry.source, ContextSource::External(_));
        if external && values.contains_key(&entry.name) {
            continue;
        }
        let ContextSource::Variable {
            value,
            jmes_path,
            default,
        } = &entry.source
        else {
            let ContextSource::External(kind) = &entry.source else {
                unreachable!()
            };
            return Err(format!(
                "context entry `{}` of type {kind} needs an API call, which offline evaluation cannot make; give its value in a values file",
                entry.name
            ));
        };
        let loaded = load_variable(
            &entry.name,
            value.as_ref(),
            jmes_path.as_deref(),
            default.as_ref(),
            ctx,
        );
        let Some(obj) = ctx.as_object_mut() else {
            continue;
        };
        match loaded {
            Ok(output) => {
                obj.insert(entry.name.clone(), output);
            }
            Err(e) => {
                obj.remove(&entry.name);
                deferred.failed.push((entry.name.clone(), e));
            }
        }
    }
    Ok(deferred)
}

/// Context variables that failed to load, and why.
#[derive(Debug, Clone, Default)]
pub struct Deferred {
    failed: Vec<(String, String)>,
}

impl Deferred {
    /// The load error of a failed variable that a `{{ ... }}` in `doc` refers to.
    pub fn used_in(&self, doc: &Value) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let mut texts = Vec::new();
        collect_variables(doc, &mut texts);
        self.used_in_expressions(texts.iter().map(String::as_str))
    }

    /// The load error of a failed variable that one of these bare JMESPath expressions names.
    pub fn used_in_expressions<'a>(
        &self,
        exprs: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        let exprs: Vec<&str> = exprs.into_iter().collect();
        self.failed.iter().find_map(|(name, error)| {
            exprs
                .iter()
                .any(|e| names_variable(e, name))
                .then(|| error.clone())
        })
    }
}

/// Every `{{ ... }}` body in the strings (and keys) of `doc`.
fn collect_variables(doc: &Value, out: &mut Vec<String>) {
    match doc {
        Value::String(s) => variable_bodies(s, out),
        Value::Array(items) => items.iter().for_each(|i| collect_variables(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                variable_bodies(k, out);
                collect_variables(v, out);
            }
        }
        _ => {}
    }
}

fn variable_bodies(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let body = &rest[start + 2..];
        let end = body.find("}}").unwrap_or(body.len());
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
}

/// Kyverno's deferred-loader match: `name` as a whole word not preceded by `.` or an identifier character.
fn names_variable(expr: &str, name: &str) -> bool {
    let is_ident = |c: char| c == '.' || c.is_ascii_alphanumeric();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    expr.match_indices(name).any(|(i, _)| {
        let before_ok = expr[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after_ok = expr[i + name.len()..]
            .chars()
            .next()
            .is_none_or(|c| !word(c));
        before_ok && after_ok
    })
}

/// Kyverno's `variableLoader.loadVariable`.
fn load_variable(
    name: &str,
    value: Option<&Value>,
    jmes_path: Option<&str>,
    default: Option<&Value>,
    ctx: &Value,
) -> Result<Value, String> {
    let path = match jmes_path {
        None => None,
        Some(jp) => match variables::substitute_all(&Value::String(jp.to_string()), ctx) {
            Ok(Value::String(s)) => Some(s),
            Ok(_) => {
                return Err(format!(
                    "jmespath value of context entry {name} must be a string"
                ))
            }
            Err(e) => {
                return Err(format!(
                    "failed to substitute variables in context entry {name} {jp}: {e}"
                ))
            }
        },
    };
    let default =
        match default {
            None => None,
            Some(d) => Some(variables::substitute_all(d, ctx).map_err(|e| {
                format!("failed to substitute variables in context entry {name}: {e}")
            })?),
        };
    let mut output = default.clone().unwrap_or(Value::Null);
    if let Some(value) = value {
        let variable = variables::substitute_all(value, ctx)
            .map_err(|e| format!("failed to substitute variables in context entry {name}: {e}"))?;
        match &path {
            Some(path) => match variables::query(path, &variable) {
                Ok(v) => output = v,
                Err(e) if default.is_none() => {
                    return Err(format!(
                        "failed to apply jmespath {path} to variable {name}: {e}"
                    ))
                }
                Err(_) => {}
            },
            None => output = variable,
        }
    } else if let Some(path) = &path {
        match variables::query(path, ctx) {
            Ok(v) if !v.is_null() => output = v,
            Ok(_) => {}
            Err(e) if default.is_none() => {
                return Err(format!(
                    "failed to apply jmespath {path} for context entry {name}: {e}"
                ))
            }
            Err(_) => {}
        }
    }
    if output.is_null() {
        return Err(format!(
            "failed to add context entry for variable {name} since it evaluated to nil"
        ));
    }
    Ok(output)
}

/// Evaluate one (effective) rule. `None` for rules that are not validate rules;
/// unmatched rules give a `Skip` that is not `reported`.
pub fn evaluate_rule(
    policy: &Policy,
    rule: &Rule,
    request: &Request,
    rc: &ResourceContext,
    rule_values: Option<&Map<String, Value>>,
) -> Option<RuleResponse> {
    let validation = match &rule.kind {
        RuleKind::Validate(v) => Some(v.as_ref()),
        RuleKind::VerifyImages(_) => None,
        RuleKind::Other(_) => return None,
    };
    let match_resource = if request.new_resource.is_null() {
        &request.old_resource
    } else {
        &request.new_resource
    };
    let match_request = MatchRequest {
        resource: match_resource,
        operation: &request.operation,
        namespace_labels: rc.namespace_labels.as_ref(),
        user_info: rc.user_info.as_ref(),
        roles: &rc.roles,
        cluster_roles: &rc.cluster_roles,
        policy_namespace: policy.namespace.as_deref(),
    };
    if let Err(reason) = matches_rule(rule, &match_request) {
        return Some(RuleResponse::unreported(
            &rule.name,
            format!("not matched: {reason}"),
        ));
    }
    if let Some(feature) = validation.and_then(|v| v.unsupported) {
        return Some(RuleResponse::new(
            &rule.name,
            RuleStatus::Error,
            format!("{feature} is not supported by this engine"),
        ));
    }
    // Per-rule values join the context before the rule's own entries, as the
    // Kyverno CLI's context loader initializer does.
    let mut values = rc.values.clone();
    let mut ctx = request.context.clone();
    for (key, value) in rule_values.into_iter().flatten() {
        set_path(&mut ctx, key, value.clone());
        values.insert(key.clone(), value.clone());
    }
    let deferred = match load_context_entries(&rule.context, &mut ctx, &values) {
        Ok(deferred) => deferred,
        Err(e) => {
            return Some(RuleResponse::new(
                &rule.name,
                RuleStatus::Error,
                format!("failed to load context: {e}"),
            ))
        }
    };
    let load_error = |doc: &Value| {
        deferred.used_in(doc).map(|e| {
            RuleResponse::new(
                &rule.name,
                RuleStatus::Error,
                format!("failed to load context: {e}"),
            )
        })
    };
    if let Some(error) = rule.preconditions.as_ref().and_then(load_error) {
        return Some(error);
    }
    if let Some(pre) = check_preconditions(rule, &ctx) {
        return Some(pre);
    }
    // Kyverno's handlers look for exceptions next, before validating.
    if let Some(lifted) = super::exception::excepted(&rc.exceptions, policy, rule, &match_request, &ctx) {
        return Some(lifted);
    }
    if let Some(cel) = &rule.cel {
        let input = super::handlers::validate_cel::CelInput {
            object: &request.new_resource,
            old_object: &request.old_resource,
            operation: &request.operation,
            user_info: rc.user_info.as_ref(),
            numbers: rc.numbers,
            param_resources: &rc.param_resources,
        };
        return Some(super::handlers::validate_cel::evaluate(&rule.name, cel, &input));
    }
    let validation = match (&rule.kind, validation) {
        (RuleKind::VerifyImages(checks), _) => return Some(super::verify_images::evaluate(&rule.name, checks, rc)),
        (_, Some(v)) => v,
        (_, None) => return None,
    };
    let scope = RuleScope {
        name: &rule.name,
        validation,
        operation: &request.operation,
        values: &values,
    };
    if let Some(error) = load_error(&rule.raw["validate"]) {
        return Some(error);
    }
    let foreach_lists = validation.foreach.iter().flatten().flat_map(ForEach::lists);
    if let Some(e) =
        deferred.used_in_expressions(foreach_lists.collect::<Vec<_>>().iter().map(String::as_str))
    {
        return Some(RuleResponse::new(
            &rule.name,
            RuleStatus::Error,
            format!("failed to load context: {e}"),
        ));
    }
    let Some(response) = handlers::dispatch(&scope, &mut ctx) else {
        return Some(RuleResponse::unreported(
            &rule.name,
            "no result: the rule applied to nothing (e.g. a foreach over no elements)",
        ));
    };

    let action = validation
        .failure_action
        .or(policy.validation_failure_action)
        .unwrap_or(FailureAction::Audit);
    let allow_existing = rule.raw["validate"]["allowExistingViolations"]
        .as_bool()
        .unwrap_or(true);
    if action == FailureAction::Enforce
        && request.operation == "UPDATE"
        && allow_existing
        && response.status == RuleStatus::Fail
    {
        if let Some(prior) = validate_old_object(policy, rule, &scope, request, rc, &ctx) {
            if prior.status == RuleStatus::Fail {
                return Some(RuleResponse::new(
                    &rule.name,
                    RuleStatus::Skip,
                    "skipping the rule evaluation as pre-existing violations are allowed",
                ));
            }
        }
    }
    Some(response)
}

/// `Some` (an error or a skip) when the rule's preconditions stop it.
fn check_preconditions(rule: &Rule, ctx: &Value) -> Option<RuleResponse> {
    let pre = rule.preconditions.as_ref()?;
    match conditions::evaluate_conditions(pre, ctx) {
        Err(e) => Some(RuleResponse::new(
            &rule.name,
            RuleStatus::Error,
            format!("failed to evaluate preconditions: {e}"),
        )),
        Ok(false) => Some(RuleResponse::new(
            &rule.name,
            RuleStatus::Skip,
            "preconditions not met",
        )),
        Ok(true) => None,
    }
}

/// Re-run the rule as if the old object were being created (Kyverno's `validateOldObject`).
fn validate_old_object(
    policy: &Policy,
    rule: &Rule,
    scope: &RuleScope,
    request: &Request,
    rc: &ResourceContext,
    ctx: &Value,
) -> Option<RuleResponse> {
    let old = &request.old_resource;
    let match_request = MatchRequest {
        resource: old,
        operation: "CREATE",
        namespace_labels: rc.namespace_labels.as_ref(),
        user_info: rc.user_info.as_ref(),
        roles: &rc.roles,
        cluster_roles: &rc.cluster_roles,
        policy_namespace: policy.namespace.as_deref(),
    };
    if matches_rule(rule, &match_request).is_err() {
        return None;
    }
    let mut ctx = ctx.clone();
    set_path(&mut ctx, "request.object", old.clone());
    set_path(&mut ctx, "request.oldObject", Value::Null);
    set_path(&mut ctx, "request.operation", json!("CREATE"));
    let scope = RuleScope {
        operation: "CREATE",
        ..*scope
    };
    check_preconditions(rule, &ctx).or_else(|| handlers::dispatch(&scope, &mut ctx))
}

/// Every effective rule of the policy for this resource, in Kyverno's order.
/// `rule_values` holds per-rule variable values, keyed by the effective rule name.
pub fn evaluate_policy(
    policy: &Policy,
    rc: &ResourceContext,
    rule_values: &BTreeMap<String, Map<String, Value>>,
) -> Vec<RuleResponse> {
    let request = Request::new(rc);
    let mut responses = Vec::new();
    for rule in super::autogen::compute_rules(policy, &request.kind) {
        let values = rule_values.get(&rule.name);
        let Some(response) = evaluate_rule(policy, &rule, &request, rc, values) else {
            continue;
        };
        let applied =
            response.reported && matches!(response.status, RuleStatus::Pass | RuleStatus::Fail);
        responses.push(response);
        // `spec.applyRules: One` stops at the first rule that applied.
        if applied && policy.apply_one {
            break;
        }
    }
    responses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths() {
        let mut v = json!({});
        set_path(&mut v, "request.operation", json!("UPDATE"));
        set_path(&mut v, "\"a.b\".c", json!(1));
        assert_eq!(
            v,
            json!({"request": {"operation": "UPDATE"}, "a.b": {"c": 1}})
        );
    }

    #[test]
    fn service_accounts() {
        assert_eq!(
            service_account("system:serviceaccount:ns:sa"),
            ("sa".to_string(), "ns".to_string())
        );
        assert_eq!(service_account("alice"), (String::new(), String::new()));
    }
}
