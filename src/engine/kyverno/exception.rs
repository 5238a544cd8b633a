//! Kyverno `PolicyException`s (`kyverno.io/v2`, `v2beta1`): which rules of
//! which policies they lift, for which resources. The main type here is
//! [`PolicyException`]; [`excepted`] is what rule evaluation asks once a rule
//! matched and its preconditions held, as Kyverno's validate handlers do.
//!
//! Kyverno's reading kept: `exceptions[].policyName` is `namespace/name` for a
//! namespaced `Policy`, `ruleNames` are wildcards compared with the rule name
//! as reported (so `autogen-x` must be named too); `match` is read as
//! [`exception_matches`] reads it; `conditions` see the rule's context; an
//! excepted rule is a reported `skip`; the exception's own namespace does not
//! limit it (as under `kyverno test`). Stricter: a `conditions` error is an
//! `error` result (Kyverno logs it and evaluates the rule), and `podSecurity`
//! control lists on a `validate.podSecurity` rule are an `error`, not built.

use super::engine::{RuleResponse, RuleStatus};
use super::matching::{exception_matches, MatchRequest};
use super::policy::{MatchResources, Policy, Rule};
use super::{conditions, wildcards};
use crate::error::LoadError;
use crate::schema::EmbeddedSchema;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::LazyLock;

/// One `kyverno.io/v2` (or `v2beta1`) PolicyException, read strictly.
#[derive(Debug, Clone)]
pub struct PolicyException {
    /// `namespace/name` (or `name`), as Kyverno names it in its skip message.
    pub key: String,
    /// `spec.exceptions`: policy name → rule name patterns.
    pub exceptions: Vec<(String, Vec<String>)>,
    pub match_resources: MatchResources,
    /// `spec.conditions`: an `any`/`all` block, evaluated as preconditions are.
    pub conditions: Option<Value>,
    /// `spec.podSecurity` lists controls to exclude from a podSecurity rule.
    pub pod_security: bool,
}

/// The CRD's shape of a PolicyException, over the policy schema's own
/// definitions of match filters, conditions and podSecurity controls.
static SCHEMA: LazyLock<EmbeddedSchema> = LazyLock::new(|| {
    let filters = json!({"type": ["array", "null"], "items": {"$ref": "#/$defs/v1.ClusterPolicySpecRulesItemMatchAllItem"}});
    EmbeddedSchema::compile_value(json!({
        "$defs": super::strict::definitions(),
        "type": "object",
        "additionalProperties": false,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"enum": ["kyverno.io/v2", "kyverno.io/v2beta1"]},
            "kind": {"const": "PolicyException"},
            "metadata": {"$ref": "#/$defs/ObjectMeta"},
            "spec": {
                "type": "object",
                "additionalProperties": false,
                "required": ["exceptions", "match"],
                "properties": {
                    "background": {"type": ["boolean", "null"]},
                    "match": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {"any": filters, "all": filters}
                    },
                    "conditions": {"$ref": "#/$defs/v2beta1.ClusterPolicySpecRulesItemPreconditions"},
                    "exceptions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["policyName", "ruleNames"],
                            "properties": {
                                "policyName": {"type": "string", "minLength": 1},
                                "ruleNames": {"type": "array", "items": {"type": "string"}}
                            }
                        }
                    },
                    "podSecurity": {
                        "type": ["array", "null"],
                        "items": {"$ref": "#/$defs/v1.ClusterPolicySpecRulesItemValidatePodSecurityExcludeItem"}
                    }
                }
            }
        }
    }))
});

/// Is `doc` a classic Kyverno PolicyException (`kyverno.io/v2` or `v2beta1`)?
pub fn is_policy_exception(doc: &Value) -> bool {
    doc["kind"] == "PolicyException"
        && matches!(
            doc["apiVersion"].as_str(),
            Some("kyverno.io/v2" | "kyverno.io/v2beta1")
        )
}

impl PolicyException {
    /// Reads one exception document of `path` (starting at `doc_line` of
    /// `text`, when known, so an error names the bad field's line).
    ///
    /// ```
    /// use verdict::engine::kyverno::exception::PolicyException;
    /// let doc = serde_json::json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
    ///     "metadata": {"name": "e", "namespace": "team"},
    ///     "spec": {"exceptions": [{"policyName": "p", "ruleNames": ["r*"]}],
    ///              "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}});
    /// let exception = PolicyException::from_value(&doc, "e.yaml".as_ref(), None, None).unwrap();
    /// assert_eq!(exception.key, "team/e");
    /// assert!(exception.contains("p", "rule-one"));
    /// ```
    pub fn from_value(
        doc: &Value,
        path: &Path,
        text: Option<&str>,
        doc_line: Option<usize>,
    ) -> Result<PolicyException, LoadError> {
        let name = doc["metadata"]["name"].as_str().unwrap_or("");
        SCHEMA.check(
            doc,
            path,
            text,
            doc_line,
            &format!("PolicyException {name}"),
        )?;
        let at = |message: String| match doc_line {
            Some(line) => LoadError::at_line(path, line, message),
            None => LoadError::new(path, message),
        };
        if name.is_empty() {
            return Err(at("PolicyException has no metadata.name".into()));
        }
        let spec = &doc["spec"];
        let match_resources = super::policy::parse_match(&spec["match"])
            .map_err(|e| at(format!("PolicyException {name}: spec.match: {e}")))?;
        let exceptions = spec["exceptions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let rules = e["ruleNames"].as_array().into_iter().flatten();
                (
                    e["policyName"].as_str().unwrap_or("").to_string(),
                    rules
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                )
            })
            .collect();
        let key = match doc["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
        {
            Some(namespace) => format!("{namespace}/{name}"),
            None => name.to_string(),
        };
        Ok(PolicyException {
            key,
            exceptions,
            match_resources,
            conditions: spec.get("conditions").filter(|c| !c.is_null()).cloned(),
            pod_security: spec["podSecurity"]
                .as_array()
                .is_some_and(|c| !c.is_empty()),
        })
    }

    /// Does the exception name this policy (`namespace/name` for a `Policy`)
    /// and a pattern matching this rule (as reported, `autogen-` included)?
    pub fn contains(&self, policy: &str, rule: &str) -> bool {
        self.exceptions.iter().any(|(name, rules)| {
            name == policy && rules.iter().any(|r| wildcards::matches(r, rule))
        })
    }
}

/// The name exceptions refer to a policy by: `namespace/name` for a `Policy`.
pub fn policy_key(policy: &Policy) -> String {
    match &policy.namespace {
        Some(namespace) => format!("{namespace}/{}", policy.name),
        None => policy.name.clone(),
    }
}

/// `Some` response when exceptions lift `rule` for this request: a reported
/// `skip` naming them, or an `error` when an exception cannot be judged.
/// `ctx` is the rule's JSON context, which `conditions` read.
pub fn excepted(
    exceptions: &[PolicyException],
    policy: &Policy,
    rule: &Rule,
    request: &MatchRequest,
    ctx: &Value,
) -> Option<RuleResponse> {
    let key = policy_key(policy);
    let mut lifted = Vec::new();
    for exception in exceptions.iter().filter(|e| e.contains(&key, &rule.name)) {
        if !exception_matches(&exception.match_resources, request) {
            continue;
        }
        if let Some(block) = &exception.conditions {
            match conditions::evaluate_conditions(block, ctx) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    return Some(RuleResponse::new(
                        &rule.name,
                        RuleStatus::Error,
                        format!(
                            "failed to evaluate the conditions of PolicyException {}: {e}",
                            exception.key
                        ),
                    ))
                }
            }
        }
        let pod_security_rule = rule.validation().is_some_and(|v| v.pod_security.is_some());
        if exception.pod_security && pod_security_rule {
            return Some(RuleResponse::new(
                &rule.name,
                RuleStatus::Error,
                format!(
                    "PolicyException {} lists podSecurity controls to exclude, which verdict does not evaluate",
                    exception.key
                ),
            ));
        }
        lifted.push(exception.key.as_str());
    }
    (!lifted.is_empty()).then(|| {
        RuleResponse::new(
            &rule.name,
            RuleStatus::Skip,
            format!(
                "rule is skipped due to policy exceptions {}",
                lifted.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exception(spec: Value) -> Result<PolicyException, LoadError> {
        let doc = json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException",
            "metadata": {"name": "e", "namespace": "ns"}, "spec": spec});
        PolicyException::from_value(&doc, Path::new("e.yaml"), None, None)
    }

    fn rule() -> Rule {
        Rule::from_value(
            &json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"pattern": {"metadata": {"labels": {"team": "?*"}}}}}),
        )
        .unwrap()
    }

    fn policy() -> Policy {
        Policy::from_value(
            &json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p"}, "spec": {"rules": [rule().raw]}}),
        )
        .unwrap()
    }

    fn judge(exception: &PolicyException, pod: &Value, ctx: &Value) -> Option<RuleResponse> {
        let request = MatchRequest {
            resource: pod,
            operation: "CREATE",
            ..Default::default()
        };
        excepted(
            std::slice::from_ref(exception),
            &policy(),
            &rule(),
            &request,
            ctx,
        )
    }

    #[test]
    fn lifts_only_the_named_rule_for_matching_resources() {
        let e = exception(
            json!({"exceptions": [{"policyName": "p", "ruleNames": ["r"]}],
            "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["tool-*"]}}]}}),
        )
        .unwrap();
        let tool = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tool-1", "namespace": "x"}});
        let other = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "x"}});
        let skipped = judge(&e, &tool, &json!({})).unwrap();
        assert_eq!(skipped.status, RuleStatus::Skip);
        assert!(skipped.reported);
        assert!(skipped.message.contains("ns/e"), "{}", skipped.message);
        assert!(judge(&e, &other, &json!({})).is_none());
        assert!(!e.contains("p", "autogen-r"));
    }

    #[test]
    fn conditions_gate_and_errors_are_errors() {
        let e = exception(json!({"exceptions": [{"policyName": "p", "ruleNames": ["*"]}],
            "match": {"all": [{"resources": {"kinds": ["Pod"]}}]},
            "conditions": {"any": [{"key": "{{ request.object.metadata.labels.tier }}", "operator": "Equals", "value": "dev"}]}}))
        .unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"tier": "dev"}}});
        let ctx =
            |tier: &str| json!({"request": {"object": {"metadata": {"labels": {"tier": tier}}}}});
        assert_eq!(
            judge(&e, &pod, &ctx("dev")).unwrap().status,
            RuleStatus::Skip
        );
        assert!(judge(&e, &pod, &ctx("prod")).is_none());
        let broken = exception(json!({"exceptions": [{"policyName": "p", "ruleNames": ["*"]}],
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "conditions": {"any": [{"key": "{{ request.object.nope }}", "operator": "Equals", "value": "x"}]}}))
        .unwrap();
        assert_eq!(
            judge(&broken, &pod, &json!({"request": {"object": {}}}))
                .unwrap()
                .status,
            RuleStatus::Error
        );
    }

    #[test]
    fn a_match_without_any_or_all_excepts_nothing() {
        let e = exception(
            json!({"exceptions": [{"policyName": "p", "ruleNames": ["r"]}], "match": {}}),
        )
        .unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}});
        assert!(judge(&e, &pod, &json!({})).is_none());
    }

    #[test]
    fn unknown_fields_are_load_errors_naming_the_field() {
        let err = exception(
            json!({"exceptions": [{"policyName": "p", "rulenames": ["r"]}],
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}),
        )
        .unwrap_err();
        assert!(err.message.contains("rulenames"), "{err}");
        let err = exception(json!({"exceptions": [{"policyName": "p", "ruleNames": ["r"]}]}))
            .unwrap_err();
        assert!(err.message.contains("match"), "{err}");
    }
}
