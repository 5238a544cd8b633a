//! Templates and Constraints are read strictly: Gatekeeper's CRDs reject an
//! unknown field at admission, so a misspelt `enforcmentAction` must not
//! quietly leave a rule in its default (enforcing) mode here.

use crate::error::LoadError;
use crate::schema::EmbeddedSchema;
use serde_json::Value;
use std::path::Path;
use std::sync::LazyLock;

static TEMPLATE: LazyLock<EmbeddedSchema> =
    LazyLock::new(|| EmbeddedSchema::compile(include_str!("schema/constraint-template.schema.json")));
static CONSTRAINT: LazyLock<EmbeddedSchema> =
    LazyLock::new(|| EmbeddedSchema::compile(include_str!("schema/constraint.schema.json")));
static ADMISSION_REVIEW: LazyLock<EmbeddedSchema> =
    LazyLock::new(|| EmbeddedSchema::compile(include_str!("schema/admission-review.schema.json")));

/// Check a ConstraintTemplate document (starting at `doc_line` of `text`).
/// A document of another kind is left to the reader, which names what it expected.
pub fn check_template(value: &Value, path: &Path, text: Option<&str>, doc_line: Option<usize>) -> Result<(), LoadError> {
    if value["kind"] != "ConstraintTemplate" {
        return Ok(());
    }
    TEMPLATE.check(value, path, text, doc_line, &format!("ConstraintTemplate {}", name_of(value)))
}

/// Check a Constraint document (starting at `doc_line` of `text`); other
/// documents are left to the reader.
///
/// ```
/// let text = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sDemo\nmetadata: {name: demo}\nspec:\n  enforcmentAction: dryrun\n";
/// let value: serde_json::Value = serde_yaml_ng::from_str(text).unwrap();
/// let err = verdict::engine::gatekeeper::check_constraint(&value, "demo.yaml".as_ref(), Some(text), Some(1)).unwrap_err();
/// assert_eq!(err.line, Some(5));
/// assert!(err.message.contains("/spec/enforcmentAction: unknown field (did you mean `enforcementAction`?)"), "{}", err.message);
/// ```
pub fn check_constraint(value: &Value, path: &Path, text: Option<&str>, doc_line: Option<usize>) -> Result<(), LoadError> {
    if !value["apiVersion"].as_str().is_some_and(|v| v.starts_with("constraints.gatekeeper.sh/")) {
        return Ok(());
    }
    let what = format!("Constraint {} {}", value["kind"].as_str().unwrap_or("?"), name_of(value));
    CONSTRAINT.check(value, path, text, doc_line, &what)
}

/// Check an `AdmissionReview` (v1 or v1beta1) as gator decodes one: strictly, so a
/// misspelt `oldObjct` or `userinfo` is an error rather than a review without it.
/// The reviewed `object`, `oldObject` and `options` are raw objects, not checked here.
///
/// ```
/// let text = "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  operation: DELETE\n  oldObjct: {}\n";
/// let value: serde_json::Value = serde_yaml_ng::from_str(text).unwrap();
/// let err = verdict::engine::gatekeeper::check_admission_review(&value, "r.yaml".as_ref(), Some(text), Some(1)).unwrap_err();
/// assert_eq!(err.line, Some(5));
/// assert!(err.message.contains("/request/oldObjct: unknown field (did you mean `oldObject`?)"), "{}", err.message);
/// ```
pub fn check_admission_review(value: &Value, path: &Path, text: Option<&str>, doc_line: Option<usize>) -> Result<(), LoadError> {
    ADMISSION_REVIEW.check(value, path, text, doc_line, "AdmissionReview")
}

fn name_of(value: &Value) -> &str {
    value["metadata"]["name"].as_str().unwrap_or("(unnamed)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_field_of_both_kinds_is_known() {
        let template = serde_json::json!({
            "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
            "metadata": {"name": "k8sdemo", "annotations": {"description": "d"}},
            "spec": {"crd": {"spec": {"names": {"kind": "K8sDemo", "shortNames": ["demo"]},
                                      "validation": {"legacySchema": false, "openAPIV3Schema": {"type": "object"}}}},
                     "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": "package x", "libs": [],
                                  "code": [{"engine": "K8sNativeValidation", "source": {"validations": []}}],
                                  "operations": ["CREATE"]}]}});
        assert!(check_template(&template, Path::new("t.yaml"), None, None).is_ok());
        let constraint = serde_json::json!({
            "apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDemo", "metadata": {"name": "demo"},
            "spec": {"enforcementAction": "scoped",
                     "scopedEnforcementActions": [{"action": "warn", "enforcementPoints": [{"name": "*"}]}],
                     "match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "scope": "Namespaced",
                               "namespaces": ["a"], "excludedNamespaces": ["b"], "name": "x", "source": "All",
                               "labelSelector": {"matchLabels": {"a": "b"}},
                               "namespaceSelector": {"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}},
                     "parameters": {"anything": {"goes": 1}}}});
        assert!(check_constraint(&constraint, Path::new("c.yaml"), None, None).is_ok());
    }

    #[test]
    fn a_misspelt_template_field_is_named_with_its_line() {
        let text = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: k8sdemo}\nspec:\n  crd: {spec: {names: {kind: K8sDemo}}}\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      regos: package x\n";
        let value: Value = serde_yaml_ng::from_str(text).unwrap();
        let err = check_template(&value, Path::new("t.yaml"), Some(text), Some(1)).unwrap_err();
        assert_eq!(err.line, Some(8));
        assert!(err.message.contains("ConstraintTemplate k8sdemo does not match its schema"), "{}", err.message);
        assert!(err.message.contains("/spec/targets/0/regos: unknown field (did you mean `rego`?)"), "{}", err.message);
    }
}
