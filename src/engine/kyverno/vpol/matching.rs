//! `matchConstraints` of a Kyverno ValidatingPolicy, as Kubernetes'
//! `rules.Matcher` and Kyverno's `pkg/cel/matching` read them. The main type
//! here is [`MatchConstraints`]. The ValidatingAdmissionPolicy engine has its
//! own reading (`engine::cel::match_constraints`, Kubernetes' semantics); the
//! two should become one.

use crate::engine::kyverno::matching::label_selector_matches;
use serde_json::{Map, Value};

/// One `resourceRules` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceRule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
    pub resource_names: Vec<String>,
    /// `*` (default), `Cluster` or `Namespaced`.
    pub scope: String,
}

/// `resourceRules`, `excludeResourceRules` and the two selectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchConstraints {
    pub resource_rules: Vec<ResourceRule>,
    pub exclude_resource_rules: Vec<ResourceRule>,
    pub namespace_selector: Option<Value>,
    pub object_selector: Option<Value>,
}

/// The request a policy is matched against.
#[derive(Debug, Clone, Copy)]
pub struct MatchInput<'a> {
    pub group: &'a str,
    pub version: &'a str,
    /// Plural resource, lower case (`pods`).
    pub resource: &'a str,
    pub operation: &'a str,
    pub name: &'a str,
    /// Empty for cluster-scoped objects.
    pub namespace: &'a str,
    pub object_labels: Option<&'a Map<String, Value>>,
    /// Labels of the object's Namespace; `None` when unknown, then the
    /// Namespace carries only `kubernetes.io/metadata.name`, as Kyverno's CLI assumes.
    pub namespace_labels: Option<&'a Map<String, Value>>,
}

fn strings(value: &Value, field: &str) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{field} must hold strings"))
            })
            .collect(),
        _ => Err(format!("{field} must be a list")),
    }
}

impl ResourceRule {
    fn from_value(value: &Value, at: &str) -> Result<ResourceRule, String> {
        Ok(ResourceRule {
            api_groups: strings(&value["apiGroups"], &format!("{at}.apiGroups"))?,
            api_versions: strings(&value["apiVersions"], &format!("{at}.apiVersions"))?,
            resources: strings(&value["resources"], &format!("{at}.resources"))?,
            operations: strings(&value["operations"], &format!("{at}.operations"))?,
            resource_names: strings(&value["resourceNames"], &format!("{at}.resourceNames"))?,
            scope: value["scope"].as_str().unwrap_or("*").to_string(),
        })
    }

    /// Kubernetes' `rules.Matcher`: group, version, resource (no subresource
    /// here), operation, scope, then names.
    pub fn matches(&self, input: &MatchInput) -> bool {
        let any = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        let resource_ok = self
            .resources
            .iter()
            .any(|r| r == "*" || r == input.resource || r == "*/*");
        let scope_ok = match self.scope.as_str() {
            "Cluster" => input.namespace.is_empty(),
            "Namespaced" => !input.namespace.is_empty(),
            _ => true,
        };
        any(&self.api_groups, input.group)
            && any(&self.api_versions, input.version)
            && resource_ok
            && any(&self.operations, input.operation)
            && scope_ok
            && (self.resource_names.is_empty()
                || self.resource_names.iter().any(|n| n == input.name))
    }
}

impl MatchConstraints {
    /// Reads `matchConstraints` (null = matches nothing, as Kubernetes requires rules).
    pub fn from_value(value: &Value) -> Result<MatchConstraints, String> {
        let rules = |field: &str| -> Result<Vec<ResourceRule>, String> {
            match &value[field] {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        ResourceRule::from_value(r, &format!("matchConstraints.{field}[{i}]"))
                    })
                    .collect(),
                _ => Err(format!("matchConstraints.{field} must be a list")),
            }
        };
        let selector = |field: &str| value.get(field).filter(|s| s.is_object()).cloned();
        Ok(MatchConstraints {
            resource_rules: rules("resourceRules")?,
            exclude_resource_rules: rules("excludeResourceRules")?,
            namespace_selector: selector("namespaceSelector"),
            object_selector: selector("objectSelector"),
        })
    }

    /// Whether the request is selected; an invalid selector is an error.
    pub fn matches(&self, input: &MatchInput) -> Result<bool, String> {
        if !self.resource_rules.iter().any(|r| r.matches(input)) {
            return Ok(false);
        }
        if self.exclude_resource_rules.iter().any(|r| r.matches(input)) {
            return Ok(false);
        }
        if let Some(selector) = &self.object_selector {
            if !label_selector_matches(selector, input.object_labels)? {
                return Ok(false);
            }
        }
        if let Some(selector) = &self.namespace_selector {
            // Cluster-scoped objects other than Namespaces always pass a namespaceSelector.
            let is_namespace = input.resource == "namespaces" && input.group.is_empty();
            if is_namespace {
                return label_selector_matches(selector, input.object_labels);
            }
            if !input.namespace.is_empty() {
                let mut assumed = Map::new();
                assumed.insert(
                    "kubernetes.io/metadata.name".into(),
                    Value::String(input.namespace.to_string()),
                );
                let labels = input.namespace_labels.unwrap_or(&assumed);
                return label_selector_matches(selector, Some(labels));
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input<'a>(
        resource: &'a str,
        namespace: &'a str,
        labels: Option<&'a Map<String, Value>>,
    ) -> MatchInput<'a> {
        MatchInput {
            group: "",
            version: "v1",
            resource,
            operation: "CREATE",
            name: "x",
            namespace,
            object_labels: None,
            namespace_labels: labels,
        }
    }

    #[test]
    fn rules_exclusions_and_namespace_selectors() {
        let m = MatchConstraints::from_value(&json!({
            "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods", "services"], "operations": ["CREATE", "UPDATE"]}],
            "excludeResourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["services"], "operations": ["*"]}],
            "namespaceSelector": {"matchLabels": {"team": "a"}}})).unwrap();
        let team_a = json!({"team": "a"}).as_object().cloned().unwrap();
        assert!(m.matches(&input("pods", "ns", Some(&team_a))).unwrap());
        assert!(!m.matches(&input("pods", "ns", None)).unwrap());
        assert!(!m.matches(&input("services", "ns", Some(&team_a))).unwrap());
        assert!(!m
            .matches(&input("configmaps", "ns", Some(&team_a)))
            .unwrap());
        assert!(!m
            .matches(&MatchInput {
                operation: "DELETE",
                ..input("pods", "ns", Some(&team_a))
            })
            .unwrap());
    }

    #[test]
    fn namespace_name_label_is_assumed_without_a_cluster() {
        let m = MatchConstraints::from_value(&json!({
            "resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["*"]}],
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}})).unwrap();
        assert!(m.matches(&input("pods", "default", None)).unwrap());
        assert!(!m.matches(&input("pods", "kube-system", None)).unwrap());
        assert!(m.matches(&input("nodes", "", None)).unwrap());
    }
}
