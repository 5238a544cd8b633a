//! Kyverno policies are read strictly, as Kyverno's CRD schema reads them at
//! admission: a rule with `patern:` is a load error naming the field and the
//! line, never a rule that quietly "did not apply". The schema is derived from
//! Kyverno 1.19's CRDs (see `schema/SOURCE.md`).

use crate::error::LoadError;
use crate::schema::EmbeddedSchema;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

/// The embedded schema document; its `$defs` also serve PolicyExceptions (see `super::exception`).
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("schema/policy.schema.json")).expect("the embedded Kyverno schema is JSON")
});

/// The `$defs` of Kyverno's policy schema: match filters, conditions, podSecurity controls.
pub(crate) fn definitions() -> &'static Value {
    &DOCUMENT["$defs"]
}

/// One compiled schema per `(apiVersion, kind)` the file defines, each rooted at
/// its own definition so an unknown field gets a "did you mean" from its siblings.
static SCHEMAS: LazyLock<HashMap<&'static str, EmbeddedSchema>> = LazyLock::new(|| {
    let document = &*DOCUMENT;
    ["v1.ClusterPolicy", "v1.Policy", "v2beta1.ClusterPolicy", "v2beta1.Policy"]
        .into_iter()
        .map(|def| {
            let rooted = serde_json::json!({"$ref": format!("#/$defs/{def}"), "$defs": document["$defs"].clone()});
            (def, EmbeddedSchema::compile_value(rooted))
        })
        .collect()
});

/// Check a `ClusterPolicy` or `Policy` document (starting at `doc_line` of
/// `text`). Other kinds, and versions with no embedded schema, are left to the
/// policy reader, which says what it expected.
///
/// ```
/// let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      validate:\n        patern: {spec: {}}\n";
/// let value: serde_json::Value = serde_yaml_ng::from_str(text).unwrap();
/// let err = verdict::engine::kyverno::check_policy(&value, "p.yaml".as_ref(), Some(text), Some(1)).unwrap_err();
/// assert_eq!(err.line, Some(9));
/// assert!(err.message.contains("/spec/rules/0/validate/patern: unknown field (did you mean `pattern`?)"), "{}", err.message);
/// ```
pub fn check_policy(value: &Value, path: &Path, text: Option<&str>, doc_line: Option<usize>) -> Result<(), LoadError> {
    let version = match value["apiVersion"].as_str() {
        Some("kyverno.io/v1") => "v1",
        Some("kyverno.io/v2beta1") => "v2beta1",
        _ => return Ok(()),
    };
    let kind = match value["kind"].as_str() {
        Some(kind @ ("ClusterPolicy" | "Policy")) => kind,
        _ => return Ok(()),
    };
    let what = format!("{kind} {}", value["metadata"]["name"].as_str().unwrap_or("(unnamed)"));
    SCHEMAS[format!("{version}.{kind}").as_str()].check(value, path, text, doc_line, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), LoadError> {
        let value: Value = serde_yaml_ng::from_str(text).unwrap();
        check_policy(&value, Path::new("p.yaml"), Some(text), Some(1))
    }

    #[test]
    fn a_misspelt_failure_action_is_named() {
        let err = check("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  validationFailureActon: Enforce\n  rules: []\n").unwrap_err();
        assert_eq!(err.line, Some(5));
        assert!(err.message.contains("did you mean `validationFailureAction`?"), "{}", err.message);
    }

    #[test]
    fn free_form_patterns_and_other_kinds_pass() {
        check("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  validationFailureAction: Audit\n  rules:\n    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      validate:\n        message: m\n        pattern: {spec: {anything: [1, {x: y}]}}\n").unwrap();
        check("apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata: {name: p}\nspec: {whatever: 1}\n").unwrap();
    }
}
