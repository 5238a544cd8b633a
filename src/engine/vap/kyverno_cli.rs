//! A ValidatingAdmissionPolicy judged as `kyverno test` judges it (Kyverno
//! 58cd762, `pkg/admissionpolicy/validate.go`, no cluster), not as the API
//! server does. The compiled policy and its validator are the library path's;
//! only the plumbing around them differs:
//!
//! - CREATE, `oldObject` null, the test's user info, no `authorizer`,
//!   `namespaceObject` = name and the labels the values file gives.
//! - No bindings: the policy's `matchConstraints` decide, `params` is null.
//! - Bindings: the policy's `matchConstraints` are not checked, only each
//!   binding's `matchResources`; `paramRef` scans the test's param resources
//!   (a selector collects every label match into a list, a name takes the
//!   first hit; `paramKind` is not compared, `parameterNotFoundAction` is
//!   ignored, nothing found gives null params); the last matching binding's
//!   result wins.
//! - Result: matchConditions false is `skip`; in decision order, the first
//!   error is `error` (even under `failurePolicy: Ignore`), the first denial
//!   `fail`; else `pass`. No match at all is [`CliResult::Excluded`].

use super::evaluate::{admission_request, Decision, RequestContext, VapRule};
use super::load::{check_api_version, compile_policy};
use super::policy::{decode, BindingDocument, ParamRef, PolicyDocument, BINDING_KIND, POLICY_KIND};
use crate::engine::cel::match_constraints::{MatchReading, MatchResources, RequestAttributes};
use crate::engine::cel::{Activation, Numbers};
use serde_json::{json, Map, Value};

/// A policy with the bindings of a test that name it.
#[derive(Debug)]
pub struct KyvernoCliVap {
    rule: VapRule,
    bindings: Vec<CliBinding>,
}

#[derive(Debug)]
struct CliBinding {
    param_ref: Option<ParamRef>,
    match_resources: Option<MatchResources>,
}

/// What the test gives one evaluation.
pub struct CliRequest<'a> {
    pub object: &'a Value,
    /// How the resource's numbers read (`KyvernoCli` under `kyverno test`).
    pub numbers: Numbers,
    /// Labels of the object's namespace from the values file (none: no labels).
    pub namespace_labels: Option<&'a Map<String, Value>>,
    /// `userInfo` of the test's user-info file.
    pub user_info: Option<&'a Value>,
    /// The test's `paramResources`, read as the cluster would (integers stay `int`).
    pub param_resources: &'a [Value],
}

/// The rule response `kyverno test` reports, named after the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum CliResult {
    /// Neither the policy (no bindings) nor any binding selects the resource.
    Excluded,
    Skip(String),
    Pass,
    Fail(String),
    Error(String),
}

impl KyvernoCliVap {
    /// Compile `policy` with its `bindings` (each must name it). The policy is
    /// checked and compiled as a library VAP is; bindings are decoded strictly
    /// but, as the CLI, not held to the API server's binding validation.
    pub fn compile(policy: &Value, bindings: &[&Value]) -> Result<KyvernoCliVap, String> {
        let document: PolicyDocument = decode(policy, POLICY_KIND)?;
        check_api_version(&document.api_version, &document.kind, POLICY_KIND)?;
        if document.metadata.name.is_empty() {
            return Err("ValidatingAdmissionPolicy has no metadata.name".into());
        }
        let rule = compile_policy(&document)?;
        let mut compiled = Vec::new();
        for binding in bindings {
            let binding: BindingDocument = decode(binding, BINDING_KIND)?;
            check_api_version(&binding.api_version, &binding.kind, BINDING_KIND)?;
            let name = &binding.metadata.name;
            if binding.spec.policy_name != document.metadata.name {
                return Err(format!(
                    "binding {name} names policy `{}`, not `{}`",
                    binding.spec.policy_name, document.metadata.name
                ));
            }
            if let Some(m) = &binding.spec.match_resources {
                m.check()
                    .map_err(|e| format!("binding {name}, matchResources: {e}"))?;
            }
            if let Some(selector) = binding
                .spec
                .param_ref
                .as_ref()
                .and_then(|r| r.selector.as_ref())
            {
                selector
                    .check()
                    .map_err(|e| format!("binding {name}, paramRef.selector: {e}"))?;
            }
            compiled.push(CliBinding {
                param_ref: binding.spec.param_ref,
                match_resources: binding.spec.match_resources,
            });
        }
        Ok(KyvernoCliVap {
            rule,
            bindings: compiled,
        })
    }

    /// Judge one resource as `kyverno test` does.
    pub fn evaluate(&self, input: &CliRequest) -> CliResult {
        let request = RequestAttributes::for_create(input.object);
        // A Namespace's own request has no namespaceObject.
        let is_namespace = request.kind == "Namespace" && request.group.is_empty();
        let no_labels = Map::new();
        let labels = input.namespace_labels.unwrap_or(&no_labels);
        let namespace = (!is_namespace && !request.namespace.is_empty()).then(|| {
            let mut metadata = Map::new();
            metadata.insert("name".into(), json!(request.namespace));
            if !labels.is_empty() {
                metadata.insert("labels".into(), Value::Object(labels.clone()));
            }
            json!({"metadata": metadata, "spec": {}, "status": {}})
        });
        // Kubernetes' reading of the rules, as the library path (and the API server) reads them.
        let matches = |m: &MatchResources| m.matches(&request, input.object, Some(labels), MatchReading::KUBERNETES);
        if self.bindings.is_empty() {
            return match matches(&self.rule.match_constraints) {
                Ok(true) => self.validate(input, &request, namespace.as_ref(), &Value::Null),
                Ok(false) => CliResult::Excluded,
                Err(e) => CliResult::Error(format!("matchConstraints: {e}")),
            };
        }
        let mut last = CliResult::Excluded;
        for binding in &self.bindings {
            // The CLI logs a binding it cannot match and goes on.
            if let Some(m) = &binding.match_resources {
                if matches(m) != Ok(true) {
                    continue;
                }
            }
            let params = match &binding.param_ref {
                Some(param_ref) => find_params(param_ref, input.param_resources),
                None => Value::Null,
            };
            last = self.validate(input, &request, namespace.as_ref(), &params);
        }
        last
    }

    fn validate(
        &self,
        input: &CliRequest,
        request: &RequestAttributes,
        namespace: Option<&Value>,
        params: &Value,
    ) -> CliResult {
        let ctx = RequestContext { attributes: request, object: input.object, old_object: &Value::Null, given: None };
        let mut request_json = admission_request(&ctx);
        if let Some(user) = input.user_info {
            request_json["userInfo"] = user.clone();
        }
        let mut activation = Activation::new();
        activation.bind_json("object", input.object, input.numbers);
        activation.bind_json("oldObject", &Value::Null, input.numbers);
        activation.bind_json("request", &request_json, input.numbers);
        activation.bind_json(
            "namespaceObject",
            namespace.unwrap_or(&Value::Null),
            Numbers::Cluster,
        );
        if self.rule.param_kind.is_some() {
            activation.bind_json("params", params, Numbers::Cluster);
        }
        activation.bind_variables(&self.rule.variables);
        let decisions = self.rule.validate(&activation);
        if matches!(decisions.as_slice(), [Decision::NotApplicable]) {
            return CliResult::Skip("match conditions aren't met".into());
        }
        for decision in decisions {
            match decision {
                // Under `Ignore` the decision is still flagged as an evaluation error.
                Decision::Error(e) | Decision::Ignored(e) => return CliResult::Error(e),
                Decision::Deny(message) => return CliResult::Fail(message),
                Decision::Admit | Decision::NotApplicable => {}
            }
        }
        CliResult::Pass
    }
}

/// The params a binding's `paramRef` finds among the test's param resources.
fn find_params(param_ref: &ParamRef, resources: &[Value]) -> Value {
    if let Some(selector) = &param_ref.selector {
        let items: Vec<Value> = resources
            .iter()
            .filter(|r| {
                selector.matches(
                    &r["metadata"]["labels"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .cloned()
            .collect();
        return if items.is_empty() {
            Value::Null
        } else {
            json!({ "items": items })
        };
    }
    let wanted_namespace = param_ref.namespace.as_deref().filter(|n| !n.is_empty());
    resources
        .iter()
        .find(|r| {
            r["metadata"]["name"].as_str() == param_ref.name.as_deref()
                && wanted_namespace.is_none_or(|ns| r["metadata"]["namespace"].as_str() == Some(ns))
        })
        .cloned()
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(validation: &str) -> Value {
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "p"},
            "spec": {
                "failurePolicy": "Ignore",
                "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]},
                "validations": [{"expression": validation}]
            }
        })
    }

    fn judge(vap: &KyvernoCliVap, object: &Value, numbers: Numbers) -> CliResult {
        vap.evaluate(&CliRequest {
            object,
            numbers,
            namespace_labels: None,
            user_info: None,
            param_resources: &[],
        })
    }

    #[test]
    fn an_error_is_an_error_even_under_failure_policy_ignore() {
        let vap = KyvernoCliVap::compile(&policy("object.spec.replicas + 1 > 0"), &[]).unwrap();
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}});
        assert_eq!(judge(&vap, &deployment, Numbers::Cluster), CliResult::Pass);
        assert!(matches!(
            judge(&vap, &deployment, Numbers::KyvernoCli),
            CliResult::Error(_)
        ));
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(judge(&vap, &pod, Numbers::KyvernoCli), CliResult::Excluded);
    }

    #[test]
    fn params_by_selector_are_a_list_by_name_the_first_hit() {
        let cm = |name: &str, ns: &str, tier: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": {"tier": tier}}});
        let all = [
            cm("a", "x", "gold"),
            cm("a", "y", "gold"),
            cm("b", "x", "silver"),
        ];
        let by_selector: ParamRef =
            serde_json::from_value(json!({"selector": {"matchLabels": {"tier": "gold"}}})).unwrap();
        assert_eq!(
            find_params(&by_selector, &all),
            json!({"items": [all[0], all[1]]})
        );
        let by_name: ParamRef =
            serde_json::from_value(json!({"name": "a", "namespace": "y"})).unwrap();
        assert_eq!(find_params(&by_name, &all), all[1]);
        let missing: ParamRef =
            serde_json::from_value(json!({"name": "c", "parameterNotFoundAction": "Deny"}))
                .unwrap();
        assert_eq!(find_params(&missing, &all), Value::Null);
    }
}
