//! Reading and compiling a `ValidatingPolicy` (`policies.kyverno.io` v1alpha1,
//! v1beta1, v1), with Kyverno's autogen for Pod controllers. The main type
//! here is [`ValidatingPolicy`].

use super::libs;
use crate::engine::cel::match_constraints::MatchResources;
use crate::engine::cel::{CelEnv, Expression, ResultType};
use crate::verdict::Mode;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Fields Kyverno's CRD accepts in `spec`; anything else is a load error, as
/// `kyverno test` rejects an unknown field.
const SPEC_FIELDS: [&str; 10] = [
    "matchConstraints",
    "matchConditions",
    "variables",
    "validations",
    "auditAnnotations",
    "validationActions",
    "failurePolicy",
    "autogen",
    "evaluation",
    "webhookConfiguration",
];

/// One `validations` entry.
#[derive(Debug, Clone)]
pub struct Validation {
    pub expression: Expression,
    pub message: String,
    pub message_expression: Option<Expression>,
    pub reason: Option<String>,
}

/// The evaluable part of a policy: the policy itself or one autogen variant of it.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `""` for the policy as written; `defaults` or `cronjobs` for autogen.
    pub autogen: &'static str,
    /// Matched with [`MatchReading::KYVERNO_VPOL`](crate::engine::cel::match_constraints::MatchReading::KYVERNO_VPOL).
    pub match_constraints: MatchResources,
    pub match_conditions: Vec<(String, Expression)>,
    pub variables: Vec<(String, Expression)>,
    pub validations: Vec<Validation>,
    pub audit_annotations: Vec<(String, Expression)>,
}

/// What a policy judges (`spec.evaluation.mode`); see [`super::json`] for Kyverno's JSON reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvaluationMode {
    /// Admission requests for Kubernetes objects, behind `matchConstraints` (the default).
    #[default]
    Kubernetes,
    /// Any JSON/YAML document bound as `object`, selected by `matchConditions` only.
    Json,
}

/// A compiled ValidatingPolicy or NamespacedValidatingPolicy (same spec).
#[derive(Debug, Clone)]
pub struct ValidatingPolicy {
    pub name: String,
    /// `Some` for a `NamespacedValidatingPolicy`: Kyverno's webhook hands it
    /// only requests for objects in this namespace.
    pub namespace: Option<String>,
    pub annotations: Map<String, Value>,
    /// `spec.evaluation.mode`: admission requests, or any document.
    pub evaluation: EvaluationMode,
    /// `Deny` (the default) → enforce; only `Audit`/`Warn` → audit. Never changes a result.
    pub mode: Mode,
    /// `failurePolicy: Ignore`: a matchConditions error skips the policy instead of erroring.
    pub ignore_failures: bool,
    /// The policy first, then its autogen variants.
    pub variants: Vec<Variant>,
}

/// The environment of ValidatingPolicies: Kubernetes' libraries plus Kyverno's offline ones.
pub(super) fn environment() -> &'static CelEnv {
    static ENV: OnceLock<CelEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        CelEnv::builder()
            .extension(libs::register)
            .and_then(|b| b.extension(super::image::register))
            .expect("Kyverno's libraries declare no overload the Kubernetes environment has")
            .build()
    })
}

/// Is `doc` a Kyverno ValidatingPolicy or NamespacedValidatingPolicy (the
/// versions Kyverno's CLI loads: the namespaced kind has no v1alpha1)?
pub fn is_validating_policy(doc: &Value) -> bool {
    let version = doc["apiVersion"].as_str().unwrap_or("");
    match doc["kind"].as_str() {
        Some("ValidatingPolicy") => matches!(
            version,
            "policies.kyverno.io/v1alpha1" | "policies.kyverno.io/v1beta1" | "policies.kyverno.io/v1"
        ),
        Some(NAMESPACED_KIND) => matches!(version, "policies.kyverno.io/v1beta1" | "policies.kyverno.io/v1"),
        _ => false,
    }
}

/// The namespaced variant of the kind, judged by the same code.
pub const NAMESPACED_KIND: &str = "NamespacedValidatingPolicy";

impl ValidatingPolicy {
    /// Reads and compiles one policy document. Errors name the policy, the
    /// field with its index and the expression.
    pub fn from_value(doc: &Value) -> Result<ValidatingPolicy, String> {
        if !is_validating_policy(doc) {
            return Err(format!(
                "not a ValidatingPolicy (policies.kyverno.io v1alpha1, v1beta1 or v1) nor a NamespacedValidatingPolicy (v1beta1 or v1): {} {}",
                doc["apiVersion"].as_str().unwrap_or(""),
                doc["kind"].as_str().unwrap_or("")
            ));
        }
        let kind = doc["kind"].as_str().unwrap_or_default();
        let name = doc["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{kind} has no metadata.name"))?
            .to_string();
        // A cluster-scoped ValidatingPolicy ignores metadata.namespace, as the API server does.
        let namespace = if kind == NAMESPACED_KIND {
            let namespace = doc["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
                format!("{kind} `{name}` has no metadata.namespace (it judges only resources of its own namespace)")
            })?;
            Some(namespace.to_string())
        } else {
            None
        };
        let at = |e: String| match &namespace {
            Some(ns) => format!("{kind} `{ns}/{name}`: {e}"),
            None => format!("{kind} `{name}`: {e}"),
        };
        let spec = doc["spec"]
            .as_object()
            .ok_or_else(|| at("spec must be an object".into()))?;
        if let Some(unknown) = spec.keys().find(|k| !SPEC_FIELDS.contains(&k.as_str())) {
            return Err(at(format!("unknown field spec.{unknown}")));
        }
        let actions: Vec<&str> = match spec.get("validationActions") {
            None | Some(Value::Null) => vec!["Deny"],
            Some(Value::Array(items)) => items.iter().map(|a| a.as_str().unwrap_or("")).collect(),
            Some(_) => return Err(at("spec.validationActions must be a list".into())),
        };
        if let Some(bad) = actions
            .iter()
            .find(|a| !matches!(**a, "Deny" | "Audit" | "Warn"))
        {
            return Err(at(format!(
                "spec.validationActions: unknown action `{bad}` (want Deny, Audit or Warn)"
            )));
        }
        let mode = if actions.contains(&"Deny") {
            Mode::Enforce
        } else {
            Mode::Audit
        };
        let ignore_failures = match spec.get("failurePolicy").and_then(Value::as_str) {
            None | Some("Fail") => false,
            Some("Ignore") => true,
            Some(other) => {
                return Err(at(format!(
                    "spec.failurePolicy: unknown value `{other}` (want Fail or Ignore)"
                )))
            }
        };
        let evaluation = evaluation_mode(spec.get("evaluation").unwrap_or(&Value::Null)).map_err(at)?;
        let spec_value = Value::Object(spec.clone());
        let mut variants = vec![Variant::compile("", &spec_value).map_err(at)?];
        if evaluation == EvaluationMode::Json {
            super::json::restrict_to_json(&mut variants[0]);
        }
        // Autogen follows matchConstraints, which JSON mode does not read.
        let generated = match evaluation {
            EvaluationMode::Kubernetes => autogen(&spec_value),
            EvaluationMode::Json => Vec::new(),
        };
        for (which, generated) in generated {
            variants.push(
                Variant::compile(which, &generated)
                    .map_err(|e| at(format!("autogen {which}: {e}")))?,
            );
        }
        Ok(ValidatingPolicy {
            annotations: doc["metadata"]["annotations"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            name,
            namespace,
            evaluation,
            mode,
            ignore_failures,
            variants,
        })
    }
}

impl Variant {
    fn compile(autogen: &'static str, spec: &Value) -> Result<Variant, String> {
        let env = environment();
        // Result types as Kyverno's compiler checks them: validations and match
        // conditions bool, messages string, audit annotations string or null;
        // a variable has its expression's type in the expressions after it.
        let compile = |at: String, source: &Value, wanted: &[ResultType], variables: &[(String, Expression)]| {
            env.compile_field(&at, source, wanted, variables)
        };
        let list = |field: &str| -> Result<Vec<Value>, String> {
            match &spec[field] {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => Ok(items.clone()),
                _ => Err(format!("spec.{field} must be a list")),
            }
        };
        let named = |field: &str,
                     key: &str,
                     value: &str,
                     wanted: &[ResultType],
                     variables: &[(String, Expression)]|
         -> Result<Vec<(String, Expression)>, String> {
            list(field)?
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let name = item[key].as_str().unwrap_or("").to_string();
                    let at = format!("spec.{field}[{i}]");
                    Ok((name, compile(at, &item[value], wanted, variables)?))
                })
                .collect()
        };
        let match_constraints = match_constraints(&spec["matchConstraints"])?;
        let match_conditions = named("matchConditions", "name", "expression", &[ResultType::Bool], &[])?;
        let mut variables: Vec<(String, Expression)> = Vec::new();
        for (i, item) in list("variables")?.iter().enumerate() {
            let name = item["name"].as_str().unwrap_or("").to_string();
            let expression = compile(format!("spec.variables[{i}]"), &item["expression"], &[], &variables)?;
            variables.push((name, expression));
        }
        let mut validations = Vec::new();
        for (i, item) in list("validations")?.iter().enumerate() {
            let at = format!("spec.validations[{i}]");
            let expression = compile(at.clone(), &item["expression"], &[ResultType::Bool], &variables)?;
            // Kyverno declares `object` and `oldObject` as map(string, dyn) and wants exactly bool.
            if expression.is_untyped_field_of(&["object", "oldObject"]) {
                return Err(format!(
                    "{at}: CEL expression `{}` must evaluate to bool, found dyn (Kyverno types `object` as map(string, dyn); compare the field, e.g. `== true`)",
                    expression.source()
                ));
            }
            validations.push(Validation {
                expression,
                message: item["message"].as_str().unwrap_or("").to_string(),
                message_expression: env.compile_optional_field(
                    &at,
                    item,
                    "messageExpression",
                    &[ResultType::String],
                    &variables,
                )?,
                reason: item["reason"].as_str().map(str::to_string),
            });
        }
        let audit_annotations = named(
            "auditAnnotations",
            "key",
            "valueExpression",
            &[ResultType::String, ResultType::Null],
            &variables,
        )?;
        Ok(Variant {
            autogen,
            match_constraints,
            match_conditions,
            variables,
            validations,
            audit_annotations,
        })
    }
}

/// `spec.evaluation.mode`: `Kubernetes` (also when absent) or `JSON`, the
/// values Kyverno's CRD allows; `Envoy` (the Kyverno Envoy plugin's) and
/// anything else are load errors rather than a policy judged the wrong way.
fn evaluation_mode(evaluation: &Value) -> Result<EvaluationMode, String> {
    let mode = match evaluation {
        Value::Null => return Ok(EvaluationMode::Kubernetes),
        Value::Object(fields) => fields.get("mode").unwrap_or(&Value::Null),
        _ => return Err("spec.evaluation must be an object".into()),
    };
    match mode {
        Value::Null => Ok(EvaluationMode::Kubernetes),
        Value::String(m) if m == "Kubernetes" => Ok(EvaluationMode::Kubernetes),
        Value::String(m) if m == "JSON" => Ok(EvaluationMode::Json),
        other => Err(format!(
            "spec.evaluation.mode: unknown mode {other} (want Kubernetes or JSON)"
        )),
    }
}

/// `spec.matchConstraints`, checked as the API server checks it; absent
/// (null) is no rules, which matches nothing under Kyverno's reading.
fn match_constraints(value: &Value) -> Result<MatchResources, String> {
    if value.is_null() {
        return Ok(MatchResources::default());
    }
    let constraints: MatchResources =
        serde_json::from_value(value.clone()).map_err(|e| format!("spec.matchConstraints: {e}"))?;
    constraints
        .check()
        .map_err(|e| format!("spec.matchConstraints: {e}"))?;
    Ok(constraints)
}

/// Kyverno's controllers for Pod policies, lower-case plural, in its order.
const CONTROLLERS: [&str; 6] = [
    "daemonsets",
    "deployments",
    "replicasets",
    "statefulsets",
    "jobs",
    "cronjobs",
];

/// The autogen specs of a Pod policy: `defaults` (apps/v1 and batch/v1 Jobs)
/// and `cronjobs`, with `object.spec`/`object.metadata` rewritten textually
/// (Kyverno's `replacement.go`); none unless the policy matches exactly one
/// rule for core/v1 `pods` with no names, exclusions or selectors.
fn autogen(spec: &Value) -> Vec<(&'static str, Value)> {
    let constraints = &spec["matchConstraints"];
    let rules = constraints["resourceRules"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let selector_set = |key: &str| {
        constraints[key].as_object().is_some_and(|s| {
            s.values()
                .any(|v| !v.is_null() && v != &json!({}) && v != &json!([]))
        })
    };
    let [rule] = rules else { return Vec::new() };
    let can = strings(&rule["apiGroups"]) == [""]
        && strings(&rule["apiVersions"]) == ["v1"]
        && strings(&rule["resources"]) == ["pods"]
        && strings(&rule["resourceNames"]).is_empty()
        && strings(&constraints["excludeResourceRules"]).is_empty()
        && constraints["excludeResourceRules"]
            .as_array()
            .is_none_or(Vec::is_empty)
        && !selector_set("objectSelector")
        && !selector_set("namespaceSelector");
    if !can {
        return Vec::new();
    }
    let controllers: Vec<String> = match spec["autogen"]["podControllers"].get("controllers") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => CONTROLLERS.iter().map(|c| c.to_string()).collect(),
    };
    let wanted = |c: &str| controllers.iter().any(|w| w == c);
    let operations = rule["operations"].clone();
    let apps: Vec<&str> = ["daemonsets", "deployments", "replicasets", "statefulsets"]
        .into_iter()
        .filter(|c| wanted(c))
        .collect();
    let mut default_rules = Vec::new();
    if !apps.is_empty() {
        default_rules.push(json!({"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": apps, "operations": operations}));
    }
    if wanted("jobs") {
        default_rules.push(json!({"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"], "operations": operations}));
    }
    let mut out = Vec::new();
    if !default_rules.is_empty() {
        out.push(("defaults", rewrite(spec, default_rules, "spec.template.")));
    }
    if wanted("cronjobs") {
        let rules = vec![
            json!({"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["cronjobs"], "operations": operations}),
        ];
        out.push((
            "cronjobs",
            rewrite(spec, rules, "spec.jobTemplate.spec.template."),
        ));
    }
    out
}

/// The spec with new resource rules and every `object.spec`/`object.metadata`
/// (and `oldObject.`) moved under `prefix`, as Kyverno replaces bytes in the spec's JSON.
fn rewrite(spec: &Value, rules: Vec<Value>, prefix: &str) -> Value {
    let mut spec = spec.clone();
    spec["matchConstraints"]["resourceRules"] = Value::Array(rules);
    if let Some(obj) = spec.as_object_mut() {
        obj.remove("autogen");
    }
    let mut text = serde_json::to_string(&spec).expect("a JSON value serialises");
    for object in ["object", "oldObject"] {
        for field in ["spec", "metadata"] {
            // `object.spec` is also inside `oldObject.spec`'s text only with a capital O, so the two never overlap.
            text = text.replace(
                &format!("{object}.{field}"),
                &format!("{object}.{prefix}{field}"),
            );
        }
    }
    serde_json::from_str(&text).expect("replacing identifiers keeps the JSON valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_policy(extra: Value) -> Value {
        let mut doc = json!({"apiVersion": "policies.kyverno.io/v1alpha1", "kind": "ValidatingPolicy", "metadata": {"name": "p"},
            "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]},
                     "validations": [{"expression": "object.spec.containers.all(c, has(c.name))"}]}});
        if let (Some(spec), Some(extra)) = (doc["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        doc
    }

    #[test]
    fn pod_policies_get_controller_variants_with_rewritten_paths() {
        let policy = ValidatingPolicy::from_value(&pod_policy(json!({}))).unwrap();
        let names: Vec<_> = policy.variants.iter().map(|v| v.autogen).collect();
        assert_eq!(names, ["", "defaults", "cronjobs"]);
        assert_eq!(
            policy.variants[2].validations[0].expression.source(),
            "object.spec.jobTemplate.spec.template.spec.containers.all(c, has(c.name))"
        );
        assert_eq!(policy.mode, Mode::Enforce);
        let none = ValidatingPolicy::from_value(&pod_policy(
            json!({"autogen": {"podControllers": {"controllers": []}}}),
        ))
        .unwrap();
        assert_eq!(none.variants.len(), 1);
        let only = ValidatingPolicy::from_value(&pod_policy(
            json!({"autogen": {"podControllers": {"controllers": ["cronjobs", "Deployment"]}}}),
        ))
        .unwrap();
        assert_eq!(
            only.variants.iter().map(|v| v.autogen).collect::<Vec<_>>(),
            ["", "cronjobs"]
        );
    }

    #[test]
    fn compile_errors_name_policy_field_index_and_expression() {
        let doc = pod_policy(
            json!({"validations": [{"expression": "true"}, {"expression": "object.(("}]}),
        );
        let error = ValidatingPolicy::from_value(&doc).unwrap_err();
        assert!(
            error.contains("ValidatingPolicy `p`")
                && error.contains("spec.validations[1]")
                && error.contains("object.(("),
            "{error}"
        );
        let unknown =
            ValidatingPolicy::from_value(&pod_policy(json!({"validation": []}))).unwrap_err();
        assert!(
            unknown.contains("unknown field spec.validation"),
            "{unknown}"
        );
        let undeclared = ValidatingPolicy::from_value(&pod_policy(
            json!({"validations": [{"expression": "nope(1)"}]}),
        ))
        .unwrap_err();
        assert!(undeclared.contains("nope"), "{undeclared}");
    }

    #[test]
    fn audit_and_warn_actions_audit() {
        let policy = ValidatingPolicy::from_value(&pod_policy(
            json!({"validationActions": ["Warn", "Audit"]}),
        ))
        .unwrap();
        assert_eq!(policy.mode, Mode::Audit);
    }
}
