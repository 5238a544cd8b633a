//! `spec.evaluation.mode: JSON`: a ValidatingPolicy that judges any JSON or
//! YAML document (a Terraform plan, an SBOM, a scan report), as Kyverno
//! evaluates it (`kyverno apply policy.yaml --json payload.json`).
//!
//! What Kyverno does, read in kyverno/kyverno (`pkg/cel/policies/vpol/compiler`
//! `compileForJSON` and `Policy.evaluateJson`, `pkg/cel/policies/vpol/engine`
//! `Handle`, the CLI's `processor/policy_processor.go`) and kyverno/api
//! (`EvaluationMode`: `Kubernetes`, the default, or `JSON`):
//! - Variables: the environment is the Kubernetes mode's (same libraries,
//!   `object`, `oldObject`, `request`, `namespaceObject`, `variables` all
//!   declared), but only `object` (the whole document) is bound; the other
//!   three are null.
//! - Selection: `matchConstraints` is not compiled or read, and the engine
//!   runs no matcher, so autogen (which follows matchConstraints) never
//!   applies; `matchConditions` alone select documents (false → skip, an error
//!   → error, or skip under `failurePolicy: Ignore`). Kyverno's docs say the
//!   same: set the mode, select payloads with matchConditions, validate.
//! - Outcomes: as in Kubernetes mode (first false validation → fail with its
//!   message or messageExpression, a runtime error → error, else pass);
//!   `auditAnnotations` are not compiled in JSON mode, so never evaluated.
//! - Inputs: the CLI sends a `--json` payload only to JSON-mode policies (a
//!   Kubernetes-mode policy is skipped for it) and also sends every Kubernetes
//!   resource, as raw JSON, to the JSON-mode ones. So a library rule in JSON
//!   mode judges every input kind, manifests included; Kyverno has no field
//!   naming input kinds (Rego's `custom.input`), so a rule names its inputs
//!   with a matchCondition (`has(object.resource_changes)` for a plan).
//!
//! verdict's reading: numbers as the API server reads them (whole numbers are
//! `int`, [`Numbers::Cluster`]) for library rules, as for Kubernetes-mode
//! library rules; `auditAnnotations` are still compiled (a broken one is a
//! load error) but never evaluated.

use super::evaluate::{judge, VpolResult};
use super::policy::{ValidatingPolicy, Variant};
use crate::engine::cel::{Activation, Numbers};
use serde_json::Value;

/// Drops what JSON mode does not read from the policy as written.
pub(super) fn restrict_to_json(variant: &mut Variant) {
    variant.audit_annotations.clear();
}

/// Judges `document` with a JSON-mode policy: `object` is the document,
/// `oldObject`, `request` and `namespaceObject` are null.
pub(super) fn evaluate(
    policy: &ValidatingPolicy,
    document: &Value,
    numbers: Numbers,
) -> VpolResult {
    let mut activation = Activation::new();
    activation.bind_json("object", document, numbers);
    for absent in ["oldObject", "request", "namespaceObject"] {
        activation.bind_json(absent, &Value::Null, numbers);
    }
    judge(policy, &policy.variants[0], &mut activation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kyverno::engine::RuleStatus;
    use crate::engine::kyverno::vpol::policy::EvaluationMode;
    use serde_json::json;

    fn policy(spec: Value) -> Result<ValidatingPolicy, String> {
        ValidatingPolicy::from_value(
            &json!({"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy",
            "metadata": {"name": "p"}, "spec": spec}),
        )
    }

    #[test]
    fn only_object_is_bound_and_match_constraints_are_not_read() {
        let p = policy(json!({"evaluation": {"mode": "JSON"},
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]},
            "validations": [{"expression": "object.size == 2 && request == null && oldObject == null && namespaceObject == null"}]}))
        .unwrap();
        assert_eq!(p.evaluation, EvaluationMode::Json);
        assert_eq!(p.variants.len(), 1, "no autogen in JSON mode");
        let got = evaluate(&p, &json!({"size": 2}), Numbers::Cluster);
        assert_eq!(got.status, RuleStatus::Pass, "{}", got.message);
        let got = evaluate(&p, &json!({"size": 3}), Numbers::Cluster);
        assert_eq!(got.status, RuleStatus::Fail);
    }

    #[test]
    fn mode_is_kubernetes_by_default_and_unknown_modes_do_not_load() {
        let plain = policy(json!({"validations": [{"expression": "true"}]})).unwrap();
        assert_eq!(plain.evaluation, EvaluationMode::Kubernetes);
        let named = policy(json!({"evaluation": {"mode": "Kubernetes", "background": {"enabled": true}}, "validations": []})).unwrap();
        assert_eq!(named.evaluation, EvaluationMode::Kubernetes);
        for bad in [
            json!({"mode": "Envoy"}),
            json!({"mode": "json"}),
            json!("JSON"),
        ] {
            let error = policy(json!({"evaluation": bad, "validations": []})).unwrap_err();
            assert!(error.contains("spec.evaluation"), "{error}");
        }
    }
}
