//! Evaluating a ValidatingPolicy against one resource, as Kyverno's vpol
//! engine (`pkg/cel/policies/vpol/compiler/policy.go`) does. The main
//! function here is [`evaluate`]; [`VpolRule`] is the library's `Engine`.
//!
//! Outcome: not matched → `None` (Kyverno reports nothing); a matchCondition
//! false → `skip`; a matchCondition error → `error` (`skip` under
//! `failurePolicy: Ignore`, the only place Kyverno applies it); then the
//! validations in order: runtime error or non-bool → `error`, false →
//! `fail` with its message; else `pass`. `validationActions` set the mode only.

use super::exception::{excepted, CelPolicyException, Exempted};
use super::libs::{with_context, with_policy_namespace, MockContext};
use super::policy::{EvaluationMode, ValidatingPolicy, Variant};
use crate::engine::cel::admission::{admission_request, namespace_from_inventory, namespace_object, review_request, RequestFacts};
use crate::input::inventory::InventoryCache;
use crate::library::LoadContext;
use crate::engine::cel::match_constraints::{
    resource_for_kind, MatchReading, PluralGuess, RequestAttributes,
};
use crate::engine::cel::{Activation, Numbers};
use crate::engine::kyverno::engine::RuleStatus;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::input::Input;
use crate::library::{LoadedRule, RuleHeader};
use crate::verdict::Outcome;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// One resource and what the test (or the run) knows around it.
#[derive(Debug, Clone, Default)]
pub struct VpolInput<'a> {
    /// Null for a DELETE.
    pub object: &'a Value,
    /// Null but for an UPDATE or DELETE a library case gives as an AdmissionReview.
    pub old_object: &'a Value,
    /// `CREATE` when empty, as Kyverno's CLI always sends.
    pub operation: &'a str,
    pub numbers: Numbers,
    /// The Namespace object a test gives (values file `namespaces`), for labels and `namespaceObject`.
    pub namespace: Option<&'a Value>,
    pub user_info: Option<&'a Value>,
    /// Mocked resources and images for `resource.*` / `image.GetMetadata`.
    pub context: Option<Arc<MockContext>>,
    /// The CEL PolicyExceptions that refer to this policy.
    pub exceptions: &'a [CelPolicyException],
    /// Judge a NamespacedValidatingPolicy in every namespace, as Kyverno's CLI
    /// does (it passes no namespace predicate); its webhook, and library runs,
    /// judge only the policy's own namespace.
    pub any_namespace: bool,
}

/// The result of a policy that applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpolResult {
    pub status: RuleStatus,
    pub message: String,
    /// Keys of the PolicyExceptions that lifted the policy (Kyverno names this result `exception`).
    pub excepted_by: Vec<String>,
}

impl VpolResult {
    fn new(status: RuleStatus, message: impl Into<String>) -> VpolResult {
        VpolResult {
            status,
            message: message.into(),
            excepted_by: Vec::new(),
        }
    }
}

/// Evaluates the policy (or the autogen variant that matches the resource's
/// kind) as the input's request (a CREATE, as Kyverno's CLI always sends,
/// unless a library case gave an AdmissionReview); `None` when no variant matches.
pub fn evaluate(policy: &ValidatingPolicy, input: &VpolInput) -> Option<VpolResult> {
    if policy.evaluation == EvaluationMode::Json {
        if !input.exceptions.is_empty() {
            let message = "PolicyExceptions of a JSON-mode ValidatingPolicy are not evaluated by verdict";
            return Some(VpolResult::new(RuleStatus::Error, message));
        }
        return Some(with_context(input.context.clone(), || {
            with_policy_namespace(policy.namespace.as_deref(), || super::json::evaluate(policy, input.object, input.numbers))
        }));
    }
    let object = if input.object.is_null() { input.old_object } else { input.object };
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or("");
    let metadata = &object["metadata"];
    // The namespace as written: Kyverno's CLI fills in no `default`.
    let namespace = metadata["namespace"].as_str().unwrap_or("");
    // Kyverno's webhook hands a namespaced policy only its namespace's requests
    // (a cluster-scoped object has none), before matchConstraints.
    if !input.any_namespace && policy.namespace.as_deref().is_some_and(|own| own != namespace) {
        return None;
    }
    let request = RequestAttributes {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        resource: resource_for_kind(kind, PluralGuess::English),
        subresource: String::new(),
        namespace: namespace.to_string(),
        name: metadata["name"].as_str().unwrap_or("").to_string(),
        operation: operation(input).to_string(),
    };
    // Without the test's Namespace labels the Namespace carries only
    // `kubernetes.io/metadata.name`, as Kyverno's CLI assumes.
    let assumed = Map::from_iter([(
        "kubernetes.io/metadata.name".to_string(),
        Value::String(namespace.to_string()),
    )]);
    let namespace_labels = input
        .namespace
        .and_then(|n| n["metadata"]["labels"].as_object())
        .unwrap_or(&assumed);
    let mut chosen = None;
    for variant in &policy.variants {
        let matched = variant.match_constraints.matches(
            &request,
            object,
            Some(namespace_labels),
            MatchReading::KYVERNO_VPOL,
        );
        match matched {
            Ok(true) => {
                chosen = Some(variant);
                break;
            }
            Ok(false) => {}
            Err(e) => {
                return Some(VpolResult::new(
                    RuleStatus::Error,
                    format!("matchConstraints: {e}"),
                ))
            }
        }
    }
    let variant = chosen?;
    Some(with_context(input.context.clone(), || {
        with_policy_namespace(policy.namespace.as_deref(), || evaluate_variant(policy, variant, input))
    }))
}

fn operation<'a>(input: &VpolInput<'a>) -> &'a str {
    if input.operation.is_empty() {
        "CREATE"
    } else {
        input.operation
    }
}

fn evaluate_variant(policy: &ValidatingPolicy, variant: &Variant, input: &VpolInput) -> VpolResult {
    let request = admission_request(
        input.object,
        input.old_object,
        RequestFacts {
            operation: operation(input),
            user_info: input.user_info,
        },
    );
    let mut activation = Activation::new();
    activation.bind_json("object", input.object, input.numbers);
    activation.bind_json("oldObject", input.old_object, input.numbers);
    activation.bind_json("request", &request, input.numbers);
    // Without a cluster Kyverno's CLI knows a Namespace only from the values file.
    let subject = if input.object.is_null() { input.old_object } else { input.object };
    let namespace = match input.namespace {
        Some(given) => namespace_object(subject, Some(given)),
        None => Value::Null,
    };
    activation.bind_json("namespaceObject", &namespace, Numbers::Cluster);
    // Kyverno checks exceptions before the policy's own matchConditions.
    match excepted(input.exceptions, &activation) {
        Exempted::No => judge(policy, variant, &mut activation),
        Exempted::Error(e) => VpolResult::new(RuleStatus::Error, e),
        Exempted::Yes { keys, pass } => {
            let (status, verb) = if pass { (RuleStatus::Pass, "passed") } else { (RuleStatus::Skip, "skipped") };
            let mut result = VpolResult::new(status, format!("rule is {verb} due to policy exception: {}", keys.join(", ")));
            result.excepted_by = keys;
            result
        }
    }
}

/// matchConditions, variables and validations over bound variables: the part
/// both evaluation modes share.
pub(super) fn judge(policy: &ValidatingPolicy, variant: &Variant, activation: &mut Activation) -> VpolResult {
    let mut errors = Vec::new();
    for (name, condition) in &variant.match_conditions {
        match condition.eval_bool(activation) {
            Ok(true) => {}
            Ok(false) => {
                return VpolResult::new(
                    RuleStatus::Skip,
                    format!("match condition `{name}` is false"),
                )
            }
            Err(e) => errors.push(format!("match condition `{name}`: {e}")),
        }
    }
    if !errors.is_empty() {
        if policy.ignore_failures {
            return VpolResult::new(
                RuleStatus::Skip,
                format!("failurePolicy Ignore: skipped after {}", errors.join("; ")),
            );
        }
        return VpolResult::new(RuleStatus::Error, errors.join("; "));
    }
    activation.bind_variables(&variant.variables);
    for (index, validation) in variant.validations.iter().enumerate() {
        match validation.expression.eval_bool(activation) {
            Ok(true) => {}
            Ok(false) => {
                for (key, annotation) in &variant.audit_annotations {
                    if let Err(e) = annotation.evaluate(activation) {
                        return VpolResult::new(
                            RuleStatus::Error,
                            format!("audit annotation `{key}`: {e}"),
                        );
                    }
                }
                let message = match &validation.message_expression {
                    Some(expression) => match expression.eval_string(activation) {
                        Ok(text) => text,
                        Err(e) => format!("failed to evaluate message expression: {e}"),
                    },
                    None if !validation.message.is_empty() => validation.message.clone(),
                    None => format!("CEL expression validation failed at index {index}"),
                };
                return VpolResult::new(RuleStatus::Fail, message);
            }
            Err(e) => {
                return VpolResult::new(
                    RuleStatus::Error,
                    format!("spec.validations[{index}]: {e}"),
                )
            }
        }
    }
    VpolResult::new(RuleStatus::Pass, "success")
}

/// A ValidatingPolicy file of the library, evaluated as the API server reads
/// objects (whole numbers are `int`), with no mocked context.
#[derive(Debug, Clone)]
pub struct VpolRule {
    policy: ValidatingPolicy,
    /// A case's `_inventory.yaml` gives the Namespace a cluster would.
    inventories: Arc<InventoryCache>,
}

/// Loads the ValidatingPolicy of a library file (read, and checked to hold
/// one policy, by the Kyverno loader); metadata come from the same
/// annotations as other Kyverno library rules.
pub fn load(path: &Path, doc: &Input, ctx: &LoadContext) -> Result<LoadedRule, LoadError> {
    let policy = ValidatingPolicy::from_value(&doc.value).map_err(|e| match doc.line {
        Some(line) => LoadError::at_line(path, line, e),
        None => LoadError::new(path, e),
    })?;
    let annotation = |key: &str| {
        policy
            .annotations
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let header = RuleHeader {
        id: policy.name.clone(),
        title: annotation("policies.kyverno.io/title"),
        description: annotation("policies.kyverno.io/description"),
        mode: Some(policy.mode),
        severity: Some(annotation("policies.kyverno.io/severity")).filter(|s| !s.is_empty()),
        controls: RuleHeader::controls_of(&annotation("verdict.dev/controls")),
    };
    Ok(LoadedRule {
        header,
        engine: Arc::new(VpolRule { policy, inventories: Arc::new(InventoryCache::new(ctx.limits)) }),
    })
}

impl Engine for VpolRule {
    fn evaluate(&self, input: &Input) -> Outcome {
        if self.policy.evaluation == EvaluationMode::Json {
            // Kyverno hands a JSON-mode policy every document, Kubernetes objects included.
            return self.outcome(super::json::evaluate(&self.policy, &input.value, Numbers::Cluster));
        }
        if input.kind != crate::input::InputKind::Manifest {
            return Outcome::not_applicable();
        }
        let inventory = match self.inventories.for_input(input) {
            Ok(inventory) => inventory,
            Err(e) => return Outcome::error(format!("inventory: {e}")),
        };
        let mut vpol_input = match review_request(&input.value) {
            None => VpolInput { object: &input.value, numbers: Numbers::Cluster, ..Default::default() },
            Some(Ok(request)) => VpolInput {
                object: &request["object"],
                old_object: &request["oldObject"],
                operation: request["operation"].as_str().unwrap_or_default(),
                user_info: request.get("userInfo"),
                numbers: Numbers::Cluster,
                ..Default::default()
            },
            Some(Err(e)) => return Outcome::error(format!("policy {}: {e}", self.policy.name)),
        };
        let subject = if vpol_input.object.is_null() { vpol_input.old_object } else { vpol_input.object };
        let namespace = match subject["metadata"]["namespace"].as_str() {
            Some(name) if subject["kind"] != "Namespace" => namespace_from_inventory(&inventory, name),
            _ => None,
        };
        vpol_input.namespace = namespace.as_ref();
        match evaluate(&self.policy, &vpol_input) {
            Some(result) => self.outcome(result),
            None => Outcome::not_applicable(),
        }
    }
}

impl VpolRule {
    fn outcome(&self, result: VpolResult) -> Outcome {
        let name = &self.policy.name;
        match result.status {
            RuleStatus::Pass => Outcome::pass(),
            RuleStatus::Fail => Outcome::fail(vec![format!("{name}: {}", result.message)]),
            RuleStatus::Warn => Outcome::warn(vec![format!("{name}: {}", result.message)]),
            RuleStatus::Error => Outcome::error(format!("policy {name}: {}", result.message)),
            RuleStatus::Skip => Outcome::not_applicable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(validations: Value, extra: Value) -> ValidatingPolicy {
        let mut spec = json!({"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE", "UPDATE"]}]},
            "validations": validations});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap());
        ValidatingPolicy::from_value(&json!({"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn run(policy: &ValidatingPolicy, object: Value, numbers: Numbers) -> Option<VpolResult> {
        evaluate(
            policy,
            &VpolInput {
                object: &object,
                numbers,
                ..Default::default()
            },
        )
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn errors_are_errors_not_failures() {
        let cases = [
            ("object.spec.replicas == 1", RuleStatus::Pass),
            ("object.spec.replicas == 2", RuleStatus::Fail),
            ("object.spec.nope == 1", RuleStatus::Error),
            ("[object.spec.replicas][0]", RuleStatus::Error),
            ("1 / 0 == 1", RuleStatus::Error),
        ];
        for (source, want) in cases {
            let p = policy(json!([{"expression": source, "message": "m"}]), json!({}));
            assert_eq!(
                run(&p, pod(json!({"replicas": 1})), Numbers::Cluster)
                    .unwrap()
                    .status,
                want,
                "{source}"
            );
        }
    }

    #[test]
    fn numbers_follow_the_reading() {
        let p = policy(
            json!([{"expression": "object.spec.replicas + 1 == 2"}]),
            json!({}),
        );
        assert_eq!(
            run(&p, pod(json!({"replicas": 1})), Numbers::Cluster)
                .unwrap()
                .status,
            RuleStatus::Pass
        );
        assert_eq!(
            run(&p, pod(json!({"replicas": 1})), Numbers::KyvernoCli)
                .unwrap()
                .status,
            RuleStatus::Error
        );
    }

    #[test]
    fn match_conditions_skip_or_error() {
        let skip = policy(
            json!([{"expression": "false"}]),
            json!({"matchConditions": [{"name": "c", "expression": "has(object.spec.x)"}]}),
        );
        assert_eq!(
            run(&skip, pod(json!({})), Numbers::Cluster).unwrap().status,
            RuleStatus::Skip
        );
        let broken =
            json!({"matchConditions": [{"name": "c", "expression": "object.spec.x == 1"}]});
        let error = policy(json!([{"expression": "false"}]), broken.clone());
        assert_eq!(
            run(&error, pod(json!({})), Numbers::Cluster)
                .unwrap()
                .status,
            RuleStatus::Error
        );
        let mut ignore = broken;
        ignore["failurePolicy"] = json!("Ignore");
        let ignored = policy(json!([{"expression": "false"}]), ignore);
        assert_eq!(
            run(&ignored, pod(json!({})), Numbers::Cluster)
                .unwrap()
                .status,
            RuleStatus::Skip
        );
    }

    #[test]
    fn autogen_variants_judge_controllers_and_other_kinds_do_not_match() {
        let p = policy(
            json!([{"expression": "object.spec.containers.all(c, c.name != 'bad')", "messageExpression": "'bad in ' + object.metadata.name"}]),
            json!({}),
        );
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
            "spec": {"template": {"metadata": {"name": "t"}, "spec": {"containers": [{"name": "bad"}]}}}});
        let result = run(&p, deployment, Numbers::Cluster).unwrap();
        assert_eq!(
            (result.status, result.message.as_str()),
            (RuleStatus::Fail, "bad in t")
        );
        assert_eq!(
            run(
                &p,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}),
                Numbers::Cluster
            ),
            None
        );
    }

    #[test]
    fn budget_exhaustion_is_an_error() {
        let p = policy(
            json!([{"expression": "object.spec.items.all(i, object.spec.items.all(j, i + j >= 0))"}]),
            json!({}),
        );
        let items: Vec<i64> = (0..2000).collect();
        let result = run(&p, pod(json!({"items": items})), Numbers::Cluster).unwrap();
        assert_eq!(result.status, RuleStatus::Error);
        assert!(result.message.contains("budget"), "{}", result.message);
    }
}
