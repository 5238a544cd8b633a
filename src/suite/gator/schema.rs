//! Suite objects (a case's object, the object and old object of an
//! AdmissionReview, inventory objects) checked against the embedded Kubernetes
//! schemas, as library cases and `kyverno-test` resources are: a misspelt
//! field must not make a case pass by judging an object the API server would
//! never have admitted. Templates and Constraints have their own checks.

use crate::input::schema::{check_located, kubernetes_version};
use serde_json::Value;
use std::path::Path;

/// Why `object` (at JSON Pointer `pointer` of the document starting at `line`
/// of `path`; `""` for the document itself) breaks its Kubernetes schema,
/// naming the file, the field's line and the field; `None` when it conforms
/// or is a custom resource, for which there is no schema.
pub(crate) fn schema_problem(
    path: &Path,
    line: usize,
    pointer: &str,
    object: &Value,
) -> Option<String> {
    let version = kubernetes_version();
    let what = |api_version: &str, kind: &str| match pointer {
        "" => format!("{api_version} {kind}"),
        _ => format!("{api_version} {kind} at {pointer}"),
    };
    check_located(
        path,
        Some(line),
        pointer,
        object,
        |api_version, kind| format!("no Kubernetes {version} schema is embedded for {}, which is not a custom resource", what(api_version, kind)),
        |api_version, kind| format!("{} does not match the Kubernetes {version} schema", what(api_version, kind)),
    )
    .err()
    .map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_field_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pod.yaml");
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: x\n      securityContex: {}\n";
        std::fs::write(&path, text).unwrap();
        let value: Value = serde_yaml_ng::from_str(text).unwrap();
        let problem = schema_problem(&path, 1, "", &value).unwrap();
        assert!(problem.contains("pod.yaml:8:"), "{problem}");
        assert!(problem.contains("/spec/containers/0/securityContex: unknown field (did you mean `securityContext`?)"), "{problem}");
    }

    #[test]
    fn an_embedded_object_is_located_under_its_pointer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("review.yaml");
        let text = "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  object:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n    dta: {a: b}\n";
        std::fs::write(&path, text).unwrap();
        let value: Value = serde_yaml_ng::from_str(text).unwrap();
        let problem =
            schema_problem(&path, 1, "/request/object", &value["request"]["object"]).unwrap();
        assert!(
            problem.contains("review.yaml:8:")
                && problem.contains("/request/object/dta: unknown field"),
            "{problem}"
        );
    }

    #[test]
    fn custom_resources_are_not_checked_and_unknown_builtin_kinds_are() {
        let crd = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"any": 1}});
        assert_eq!(schema_problem(Path::new("w.yaml"), 1, "", &crd), None);
        let odd = serde_json::json!({"apiVersion": "apps/v1", "kind": "Widget", "metadata": {"name": "w"}});
        assert!(schema_problem(Path::new("w.yaml"), 3, "", &odd)
            .unwrap()
            .starts_with("w.yaml:3: no Kubernetes"));
    }
}
