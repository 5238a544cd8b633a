//! The files of a `kyverno test` suite as written on disk: the `Test` itself,
//! its values (variables) file and its user-info file.
//!
//! Fields follow Kyverno's `cli.kyverno.io/v1alpha1` API plus the fields of
//! the older untyped format (`status`, `resource`, `namespace`,
//! `patchedResource`, top-level `name`). Unknown fields are rejected, as
//! `kyverno test` decodes strictly, so a typo cannot silently drop a check.

use serde::Deserialize;
use serde_json::{Map, Value};

/// One `Test` document of a `kyverno-test.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestFile {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    /// Older format: the test name at the top level.
    pub name: Option<String>,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// Path of a values file, relative to the test file.
    pub variables: Option<String>,
    #[serde(rename = "userinfo")]
    pub user_info: Option<String>,
    #[serde(default)]
    pub results: Vec<ResultRow>,
    /// Inline values; when present the `variables` file is ignored, as Kyverno does.
    pub values: Option<ValuesSpec>,

    /// PolicyException files (classic and CEL), relative to the test file.
    #[serde(default, rename = "exceptions")]
    pub policy_exceptions: Vec<String>,

    // Inputs verdict does not evaluate; rows of a test using them are skipped.
    pub json_payload: Option<String>,
    #[serde(default)]
    pub json_payloads: Vec<String>,
    #[serde(default)]
    pub http_payloads: Vec<String>,
    #[serde(default)]
    pub envoy_payloads: Vec<String>,
    #[serde(default)]
    pub target_resources: Vec<String>,
    #[serde(default)]
    pub param_resources: Vec<String>,
    pub context: Option<String>,
    #[serde(default)]
    pub cluster_resources: Vec<String>,
    #[serde(default)]
    pub api_call_responses: Vec<Value>,
    #[serde(default)]
    pub global_context_entries: Vec<Value>,
}

impl TestFile {
    /// The test's name: `metadata.name`, else the deprecated top-level `name`.
    pub fn test_name(&self) -> Option<&str> {
        self.metadata
            .as_ref()
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .or(self.name.as_deref())
            .filter(|n| !n.is_empty())
    }

    /// Why the whole test cannot be checked by verdict, if it needs inputs
    /// only a Kyverno installation or a cluster provides.
    pub fn unsupported_inputs(&self) -> Option<String> {
        let mut used = Vec::new();
        if self.json_payload.is_some() || !self.json_payloads.is_empty() {
            used.push("jsonPayloads");
        }
        if !self.http_payloads.is_empty() {
            used.push("httpPayloads");
        }
        if !self.envoy_payloads.is_empty() {
            used.push("envoyPayloads");
        }
        if !self.target_resources.is_empty() {
            used.push("targetResources (mutate existing)");
        }
        if !self.cluster_resources.is_empty() {
            used.push("clusterResources");
        }
        if !self.api_call_responses.is_empty() {
            used.push("apiCallResponses");
        }
        if !self.global_context_entries.is_empty() {
            used.push("globalContextEntries");
        }
        (!used.is_empty()).then(|| {
            format!(
                "the test uses {}, which verdict does not evaluate",
                used.join(", ")
            )
        })
    }
}

/// One expected result: a policy rule applied to some resources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultRow {
    /// `name`, or `namespace/name` for a namespaced `Policy`.
    #[serde(default)]
    pub policy: String,
    #[serde(default)]
    pub rule: String,
    pub result: Option<String>,
    /// Older format for `result`.
    pub status: Option<String>,
    #[serde(default)]
    pub kind: String,
    /// Admission operation to simulate for this row (CREATE, UPDATE, DELETE).
    pub operation: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// Older format: one resource name.
    pub resource: Option<String>,
    /// Older format: the namespace of a namespaced `Policy`.
    pub namespace: Option<String>,
    #[serde(default)]
    pub resource_specs: Vec<ResourceSpec>,

    // What verdict does not check: mutate/generate outputs and non-Kyverno policy types.
    pub patched_resources: Option<String>,
    pub patched_resource: Option<String>,
    pub generated_resource: Option<String>,
    #[serde(default)]
    pub generated_resources: Vec<String>,
    pub clone_source_resource: Option<String>,
    #[serde(default)]
    pub fail_on_missing_resources: bool,
    #[serde(default)]
    pub is_validating_admission_policy: bool,
    #[serde(default)]
    pub is_mutating_admission_policy: bool,
    #[serde(default)]
    pub is_validating_policy: bool,
    #[serde(default)]
    pub is_deleting_policy: bool,
    #[serde(default)]
    pub is_image_validating_policy: bool,
    #[serde(default)]
    pub is_generating_policy: bool,
    #[serde(default)]
    pub is_mutating_policy: bool,
}

impl ResultRow {
    /// The expected result, from `result` or the deprecated `status`.
    pub fn expected(&self) -> Option<&str> {
        self.result
            .as_deref()
            .or(self.status.as_deref())
            .filter(|r| !r.is_empty())
    }

    /// `(namespace, name)` of the policy the row names.
    pub fn policy_ref(&self) -> (Option<&str>, &str) {
        match self.policy.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (
                self.namespace.as_deref().filter(|n| !n.is_empty()),
                self.policy.as_str(),
            ),
        }
    }

    /// Resource names (`name` or `namespace/name`) the row lists, old and new fields together.
    pub fn resource_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.resources.iter().map(String::as_str).collect();
        if let Some(r) = self.resource.as_deref().filter(|r| !r.is_empty()) {
            names.push(r);
        }
        names
    }

    /// Why verdict cannot check this row, if it checks something other than a validate result.
    pub fn unsupported(&self) -> Option<String> {
        let policy_type = [
            (self.is_mutating_admission_policy, "MutatingAdmissionPolicy"),
            (self.is_deleting_policy, "DeletingPolicy"),
            (self.is_image_validating_policy, "ImageValidatingPolicy"),
            (self.is_generating_policy, "GeneratingPolicy"),
            (self.is_mutating_policy, "MutatingPolicy"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name));
        if let Some(name) = policy_type {
            return Some(format!("{name} rows are not evaluated by verdict"));
        }
        if self.patched_resources.is_some() || self.patched_resource.is_some() {
            return Some(
                "patchedResources rows check mutate output, which verdict does not evaluate".into(),
            );
        }
        if self.generated_resource.is_some()
            || !self.generated_resources.is_empty()
            || self.clone_source_resource.is_some()
        {
            return Some(
                "generatedResource rows check generate output, which verdict does not evaluate"
                    .into(),
            );
        }
        None
    }
}

/// A resource named by group/version/kind/namespace/name instead of a plain name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub subresource: String,
    #[serde(default)]
    pub name: String,
}

/// A values file (`kind: Values`) or the inline `values` of a test.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValuesSpec {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    #[serde(default)]
    pub global_values: Map<String, Value>,
    #[serde(default)]
    pub policies: Vec<PolicyValues>,
    #[serde(default)]
    pub namespace_selector: Vec<NamespaceLabels>,
    /// Full Namespace objects; their labels win over `namespaceSelector`.
    #[serde(default)]
    pub namespaces: Vec<Value>,
    #[serde(default)]
    pub subresources: Vec<Value>,
}

/// Values for one policy, per resource and per rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyValues {
    pub name: String,
    #[serde(default)]
    pub resources: Vec<NamedValues>,
    #[serde(default)]
    pub rules: Vec<RuleValues>,
}

/// Values for one resource, by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedValues {
    pub name: String,
    #[serde(default)]
    pub values: Map<String, Value>,
}

/// Values for one rule: overrides of its context variables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleValues {
    pub name: String,
    #[serde(default)]
    pub values: Map<String, Value>,
    #[serde(default)]
    pub foreach_values: Map<String, Value>,
}

/// Labels of one namespace, for `namespaceSelector` matching.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceLabels {
    pub name: String,
    #[serde(default)]
    pub labels: Map<String, Value>,
}

/// A user-info file (`kind: UserInfo`): who sends the simulated admission request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserInfoFile {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    /// Accepted as Kubernetes objects carry it; nothing in it matters.
    #[allow(dead_code)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub cluster_roles: Vec<String>,
    pub user_info: Option<Value>,
}

/// A `context` file (`kind: Context`): mocked cluster resources and image metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextFile {
    /// Accepted as written; Kyverno's CLI does not check it either.
    #[allow(dead_code)]
    pub api_version: Option<String>,
    pub kind: Option<String>,
    /// Accepted as Kubernetes objects carry it; nothing in it matters.
    #[allow(dead_code)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub spec: ContextSpec,
}

/// `spec` of a context file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextSpec {
    #[serde(default)]
    pub resources: Vec<Value>,
    #[serde(default)]
    pub images: Vec<Value>,
}
