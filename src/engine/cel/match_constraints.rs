//! Kubernetes admission `MatchResources` (the `matchConstraints` of a
//! ValidatingAdmissionPolicy or Kyverno ValidatingPolicy, a binding's
//! `matchResources`), judged offline against one object. The main type here is
//! [`MatchResources`]; [`RequestAttributes`] describes the request and
//! [`MatchReading`] says whose reading to follow where Kubernetes and
//! Kyverno's ValidatingPolicy engine differ. Both CEL policy engines use it.
//!
//! Semantics follow k8s.io/apiserver `admission/plugin/policy/matching`
//! (`Matcher.Matches`) and `admission/plugin/webhook/predicates/rules`:
//! namespace selector, object selector, excluded rules, then resource rules.
//! Offline differences:
//! - the resource of a kind is guessed ([`resource_for_kind`]), and scope
//!   comes from a list of cluster-scoped built-in kinds ([`is_cluster_scoped`]);
//! - `matchPolicy: Equivalent` (the API server's default) also matches another
//!   version of the same group and resource; equivalence across groups
//!   (`extensions` ↔ `apps`) needs a cluster's discovery and is not modelled;
//! - the labels of a request's Namespace are the caller's input: each engine
//!   knows them (or assumes them) in its own way.

use crate::engine::kyverno::wildcards;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `matchConstraints` / `matchResources`, as written in the policy.
///
/// ```
/// use verdict::engine::cel::match_constraints::{MatchReading, MatchResources, RequestAttributes};
/// let rules: MatchResources = serde_json::from_value(serde_json::json!({"resourceRules": [
///     {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]})).unwrap();
/// rules.check().unwrap();
/// let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}});
/// let request = RequestAttributes::for_create(&pod);
/// assert_eq!(rules.matches(&request, &pod, None, MatchReading::KUBERNETES), Ok(true));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchResources {
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default)]
    pub object_selector: Option<LabelSelector>,
    #[serde(default)]
    pub resource_rules: Vec<NamedRule>,
    #[serde(default)]
    pub exclude_resource_rules: Vec<NamedRule>,
    /// `Exact` or `Equivalent` (the default, as the API server defaults it).
    #[serde(default)]
    pub match_policy: Option<String>,
}

/// One `NamedRuleWithOperations`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedRule {
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub api_versions: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// `*` (default), `Cluster` or `Namespaced`.
    #[serde(default)]
    pub scope: Option<String>,
}

/// A Kubernetes label selector (`matchLabels` AND `matchExpressions`), no wildcards.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// What a matcher knows about the admission request besides the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAttributes {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Plural resource (`pods`).
    pub resource: String,
    pub subresource: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
}

/// Where Kubernetes' matcher and Kyverno's ValidatingPolicy reading differ;
/// each engine passes its own, so neither silently takes the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchReading {
    /// An empty `resourceRules` matches every resource (Kubernetes'
    /// `Matcher`); otherwise it matches none (a ValidatingPolicy with no
    /// `matchConstraints` applies to nothing).
    pub empty_rules_match_all: bool,
    /// `matchPolicy: Equivalent` (or unset) also matches another version of
    /// the rule's group and resource; otherwise every rule is read as `Exact`.
    pub equivalent_versions: bool,
    /// `pods/*` also selects `pods` itself, as `rules.Matcher` splits resource
    /// and subresource; otherwise an entry must be `*`, `*/*` or the resource.
    pub subresource_wildcard_selects_resource: bool,
    /// Kyverno wildcards (`*`, `?`) in `matchLabels` keys and values, and
    /// non-string label values compared as their JSON text.
    pub label_wildcards: bool,
}

impl MatchReading {
    /// Kubernetes' own matcher, for ValidatingAdmissionPolicy and its bindings.
    pub const KUBERNETES: MatchReading = MatchReading {
        empty_rules_match_all: true,
        equivalent_versions: true,
        subresource_wildcard_selects_resource: true,
        label_wildcards: false,
    };
    /// The reading verdict's Kyverno ValidatingPolicy engine has kept
    /// (`engine::kyverno::vpol`): rules required, versions exact, Kyverno's
    /// label wildcards.
    pub const KYVERNO_VPOL: MatchReading = MatchReading {
        empty_rules_match_all: false,
        equivalent_versions: false,
        subresource_wildcard_selects_resource: false,
        label_wildcards: true,
    };
}

impl RequestAttributes {
    /// The request that creates `object`: group and version from its
    /// `apiVersion`, resource guessed from its `kind`, namespace `default`
    /// when a namespaced object names none (as `kubectl create` does), and a
    /// Namespace's own name for a Namespace (as the API server sets it).
    pub fn for_create(object: &Value) -> RequestAttributes {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = object["kind"].as_str().unwrap_or("").to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let namespace = if kind == "Namespace" && group.is_empty() {
            // The API server gives a Namespace's own request its name as namespace.
            name.clone()
        } else if is_cluster_scoped(&kind) {
            String::new()
        } else {
            match object["metadata"]["namespace"].as_str() {
                Some(ns) if !ns.is_empty() => ns.to_string(),
                _ => "default".to_string(),
            }
        };
        RequestAttributes {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource_for_kind(&kind, PluralGuess::RestMapper),
            kind,
            subresource: String::new(),
            namespace,
            name,
            operation: "CREATE".to_string(),
        }
    }
}

impl RequestAttributes {
    /// The attributes of an AdmissionRequest a case gives whole: what it
    /// states (`kind`, `resource` with its group and version, `subResource`, `namespace`, `name`,
    /// `operation`), the rest read from its object (the old one for a DELETE)
    /// as for a CREATE.
    pub fn for_request(request: &Value) -> RequestAttributes {
        let subject = if request["object"].is_object() { &request["object"] } else { &request["oldObject"] };
        let mut attributes = RequestAttributes::for_create(subject);
        let text = |v: &Value| v.as_str().map(str::to_string);
        if let Some(kind) = request["kind"].as_object() {
            attributes.group = kind.get("group").and_then(text).unwrap_or_default();
            attributes.version = kind.get("version").and_then(text).unwrap_or(attributes.version);
            attributes.kind = kind.get("kind").and_then(text).unwrap_or(attributes.kind);
        }
        // Rules match the resource's group and version (a `deployments/scale`
        // request is `apps/v1` though its kind is `autoscaling/v1 Scale`).
        if let Some(resource) = request["resource"].as_object() {
            attributes.group = resource.get("group").and_then(text).unwrap_or_default();
            attributes.version = resource.get("version").and_then(text).unwrap_or(attributes.version);
            attributes.resource = resource.get("resource").and_then(text).unwrap_or(attributes.resource);
        }
        for (field, value) in [
            ("subResource", &mut attributes.subresource),
            ("namespace", &mut attributes.namespace),
            ("name", &mut attributes.name),
            ("operation", &mut attributes.operation),
        ] {
            if let Some(given) = text(&request[field]) {
                *value = given;
            }
        }
        attributes
    }
}

impl MatchResources {
    /// Reject what the API server's validation would: unknown operators,
    /// values where none belong, unknown scopes or match policies.
    pub fn check(&self) -> Result<(), String> {
        for selector in self.namespace_selector.iter().chain(&self.object_selector) {
            selector.check()?;
        }
        for rule in self
            .resource_rules
            .iter()
            .chain(&self.exclude_resource_rules)
        {
            if let Some(scope) = rule
                .scope
                .as_deref()
                .filter(|s| !["*", "Cluster", "Namespaced"].contains(s))
            {
                return Err(format!(
                    "scope `{scope}` is not one of *, Cluster, Namespaced"
                ));
            }
            if let Some(op) = rule
                .operations
                .iter()
                .find(|o| !["*", "CREATE", "UPDATE", "DELETE", "CONNECT"].contains(&o.as_str()))
            {
                return Err(format!(
                    "operation `{op}` is not one of *, CREATE, UPDATE, DELETE, CONNECT"
                ));
            }
        }
        match self.match_policy.as_deref() {
            None | Some("Exact" | "Equivalent") => Ok(()),
            Some(other) => Err(format!("matchPolicy `{other}` is not Exact or Equivalent")),
        }
    }

    /// Does the request match, read as `reading` says? `namespace_labels`
    /// are the labels of the request's Namespace (`None`: unknown, an error
    /// only when a non-empty `namespaceSelector` must read them).
    pub fn matches(
        &self,
        request: &RequestAttributes,
        object: &Value,
        namespace_labels: Option<&Map<String, Value>>,
        reading: MatchReading,
    ) -> Result<bool, String> {
        if let Some(selector) = self.namespace_selector.as_ref().filter(|s| !s.is_empty()) {
            // Cluster-scoped objects always match; a Namespace is judged by its own labels.
            let own_labels;
            let labels = if request.kind == "Namespace" && request.group.is_empty() {
                own_labels = object["metadata"]["labels"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                Some(&own_labels)
            } else if request.namespace.is_empty() {
                None // cluster-scoped
            } else {
                Some(namespace_labels.ok_or_else(|| {
                    format!(
                        "namespaceSelector needs the labels of Namespace `{}`, which is not known",
                        request.namespace
                    )
                })?)
            };
            if labels.is_some_and(|labels| !selector.matches_as(labels, reading)) {
                return Ok(false);
            }
        }
        if let Some(selector) = &self.object_selector {
            let labels = object["metadata"]["labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            if !selector.matches_as(&labels, reading) {
                return Ok(false);
            }
        }
        if rules_match(
            &self.exclude_resource_rules,
            request,
            self.equivalent(reading),
            reading,
        ) {
            return Ok(false);
        }
        if self.resource_rules.is_empty() {
            return Ok(reading.empty_rules_match_all);
        }
        Ok(rules_match(
            &self.resource_rules,
            request,
            self.equivalent(reading),
            reading,
        ))
    }

    fn equivalent(&self, reading: MatchReading) -> bool {
        reading.equivalent_versions && self.match_policy.as_deref() != Some("Exact")
    }
}

fn rules_match(
    rules: &[NamedRule],
    request: &RequestAttributes,
    equivalent: bool,
    reading: MatchReading,
) -> bool {
    let exact = rules
        .iter()
        .any(|rule| rule.matches(request, false, reading));
    exact
        || (equivalent
            && rules
                .iter()
                .any(|rule| rule.matches(request, true, reading)))
}

impl NamedRule {
    /// `rules.Matcher`: scope, operation, group, version, resource/subresource,
    /// then the names. `any_version` is the Equivalent match policy's second try.
    fn matches(
        &self,
        request: &RequestAttributes,
        any_version: bool,
        reading: MatchReading,
    ) -> bool {
        let has = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        // A Namespace is cluster-scoped even though its request names a namespace.
        let cluster_scoped = request.namespace.is_empty()
            || (request.kind == "Namespace" && request.group.is_empty());
        let scope = match self.scope.as_deref() {
            Some("Namespaced") => !cluster_scoped,
            Some("Cluster") => cluster_scoped,
            _ => true,
        };
        let resource = self.resources.iter().any(|r| {
            let (res, sub) = r.split_once('/').unwrap_or((r, ""));
            let sub_ok = sub == request.subresource
                || (sub == "*" && (reading.subresource_wildcard_selects_resource || res == "*"));
            (res == "*" || res == request.resource) && sub_ok
        });
        scope
            && has(&self.operations, &request.operation)
            && has(&self.api_groups, &request.group)
            && (any_version || has(&self.api_versions, &request.version))
            && resource
            && (self.resource_names.is_empty() || self.resource_names.contains(&request.name))
    }
}

impl LabelSelector {
    /// True for `{}`: it selects everything.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Operators and value counts as `metav1.LabelSelectorAsSelector` requires.
    pub fn check(&self) -> Result<(), String> {
        for r in &self.match_expressions {
            match (r.operator.as_str(), r.values.is_empty()) {
                ("In" | "NotIn", true) => {
                    return Err(format!(
                        "values must be non-empty for operator {} on `{}`",
                        r.operator, r.key
                    ))
                }
                ("Exists" | "DoesNotExist", false) => {
                    return Err(format!(
                        "values must be empty for operator {} on `{}`",
                        r.operator, r.key
                    ))
                }
                ("In" | "NotIn" | "Exists" | "DoesNotExist", _) => {}
                (other, _) => {
                    return Err(format!(
                        "unknown label selector operator `{other}` on `{}`",
                        r.key
                    ))
                }
            }
        }
        Ok(())
    }

    /// Do `labels` satisfy the selector? (Call [`LabelSelector::check`] first.)
    ///
    /// ```
    /// use verdict::engine::cel::match_constraints::LabelSelector;
    /// let s: LabelSelector = serde_json::from_value(serde_json::json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]})).unwrap();
    /// assert!(s.matches(&serde_json::from_value(serde_json::json!({"env": "prod"})).unwrap()));
    /// assert!(!s.matches(&serde_json::from_value(serde_json::json!({"env": "dev"})).unwrap()));
    /// ```
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.matches_as(labels, MatchReading::KUBERNETES)
    }

    /// [`LabelSelector::matches`], with Kyverno's wildcards in `matchLabels`
    /// when `reading` asks for them.
    pub fn matches_as(&self, labels: &Map<String, Value>, reading: MatchReading) -> bool {
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            _ if reading.label_wildcards => Some(v.to_string()),
            _ => None,
        };
        let label = |k: &str| labels.get(k).and_then(text);
        let wildcard_label = |k: &str, v: &str| {
            labels.iter().any(|(k1, v1)| {
                wildcards::matches(k, k1) && text(v1).is_some_and(|v1| wildcards::matches(v, &v1))
            })
        };
        self.match_labels.iter().all(|(k, v)| {
            if reading.label_wildcards
                && (wildcards::contains_wildcard(k) || wildcards::contains_wildcard(v))
            {
                wildcard_label(k, v)
            } else {
                label(k).as_deref() == Some(v.as_str())
            }
        }) && self.match_expressions.iter().all(|r| {
            let actual = label(&r.key);
            let actual = actual.as_deref();
            match r.operator.as_str() {
                "In" => actual.is_some_and(|a| r.values.iter().any(|v| v == a)),
                "NotIn" => actual.is_none_or(|a| !r.values.iter().any(|v| v == a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            }
        })
    }
}

/// How an offline run guesses a kind's plural resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluralGuess {
    /// The API server's RESTMapper for unknown kinds (`UnsafeGuessKindToResource`):
    /// `-s` → `-ses`, `-y` → `-ies`, else `-s`. The ValidatingAdmissionPolicy engine's.
    RestMapper,
    /// English rules (`-x`, `-ch`, `-sh`, `-z` → `-es`; a vowel before `-y`
    /// keeps it), as the Kyverno CEL kinds build `request.resource`.
    English,
}

/// The plural, lower-case resource of a kind (`Endpoints` stays `endpoints`).
///
/// ```
/// use verdict::engine::cel::match_constraints::{resource_for_kind, PluralGuess};
/// assert_eq!(resource_for_kind("NetworkPolicy", PluralGuess::RestMapper), "networkpolicies");
/// assert_eq!(resource_for_kind("Ingress", PluralGuess::RestMapper), "ingresses");
/// assert_eq!(resource_for_kind("Endpoints", PluralGuess::English), "endpoints");
/// assert_eq!(resource_for_kind("Gateway", PluralGuess::English), "gateways");
/// ```
pub fn resource_for_kind(kind: &str, guess: PluralGuess) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() || lower == "endpoints" {
        return lower;
    }
    let sibilant = match guess {
        PluralGuess::RestMapper => lower.ends_with('s'),
        PluralGuess::English => {
            lower.ends_with(['s', 'x', 'z']) || lower.ends_with("ch") || lower.ends_with("sh")
        }
    };
    if sibilant {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y') {
        let keeps_y = guess == PluralGuess::English && stem.ends_with(['a', 'e', 'i', 'o', 'u']);
        if !keeps_y {
            return format!("{stem}ies");
        }
    }
    format!("{lower}s")
}

/// Built-in kinds that are cluster-scoped; every other kind is taken as namespaced.
pub fn is_cluster_scoped(kind: &str) -> bool {
    const CLUSTER_SCOPED: &[&str] = &[
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "APIService",
        "CertificateSigningRequest",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "PodSecurityPolicy",
        "ComponentStatus",
        "FlowSchema",
        "PriorityLevelConfiguration",
    ];
    CLUSTER_SCOPED.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: Value) -> MatchResources {
        let m: MatchResources = serde_json::from_value(v).unwrap();
        m.check().unwrap();
        m
    }

    fn pod(labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop", "labels": labels}})
    }

    #[test]
    fn resource_rules_wildcards_subresources_scope_and_names() {
        let p = pod(json!({}));
        let r = RequestAttributes::for_create(&p);
        let m = |v| {
            rules(v)
                .matches(&r, &p, None, MatchReading::KUBERNETES)
                .unwrap()
        };
        assert!(m(
            json!({"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["*"]}]})
        ));
        assert!(m(
            json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/*"], "operations": ["CREATE"]}]})
        ));
        assert!(!m(
            json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/status"], "operations": ["CREATE"]}]})
        ));
        assert!(!m(
            json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["UPDATE"]}]})
        ));
        assert!(!m(
            json!({"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["*"], "scope": "Cluster"}]})
        ));
        assert!(!m(
            json!({"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["pods"], "operations": ["*"], "resourceNames": ["db"]}]})
        ));
        assert!(m(json!({})), "no resourceRules matches every resource");
    }

    #[test]
    fn exclusions_selectors_and_match_policy() {
        let p = pod(json!({"app": "web"}));
        let r = RequestAttributes::for_create(&p);
        let all = json!([{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["*"]}]);
        let ns = Map::from_iter([("env".to_string(), json!("prod"))]);
        let m = |v: Value| rules(v).matches(&r, &p, Some(&ns), MatchReading::KUBERNETES);
        assert_eq!(
            m(
                json!({"resourceRules": all, "excludeResourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["*"]}]})
            ),
            Ok(false)
        );
        assert_eq!(
            m(json!({"resourceRules": all, "objectSelector": {"matchLabels": {"app": "db"}}})),
            Ok(false)
        );
        assert_eq!(
            m(json!({"resourceRules": all, "namespaceSelector": {"matchLabels": {"env": "prod"}}})),
            Ok(true)
        );
        let v1beta1 = json!([{"apiGroups": [""], "apiVersions": ["v1beta1"], "resources": ["pods"], "operations": ["*"]}]);
        assert_eq!(m(json!({"resourceRules": v1beta1})), Ok(true));
        assert_eq!(
            m(json!({"resourceRules": v1beta1, "matchPolicy": "Exact"})),
            Ok(false)
        );
        let unknown = rules(json!({"namespaceSelector": {"matchLabels": {"env": "prod"}}}))
            .matches(&r, &p, None, MatchReading::KUBERNETES);
        assert!(unknown.unwrap_err().contains("Namespace `shop`"));
    }

    #[test]
    fn bad_selectors_and_scopes_are_rejected() {
        let bad = |v: Value| {
            serde_json::from_value::<MatchResources>(v)
                .map_err(|e| e.to_string())
                .and_then(|m| m.check())
        };
        assert!(bad(
            json!({"objectSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}})
        )
        .unwrap_err()
        .contains("non-empty"));
        assert!(bad(json!({"resourceRules": [{"scope": "Everywhere"}]}))
            .unwrap_err()
            .contains("scope"));
        assert!(bad(json!({"resourceRule": []}))
            .unwrap_err()
            .contains("unknown field"));
    }

    #[test]
    fn the_kyverno_vpol_reading_keeps_its_differences() {
        let p = pod(json!({"app": "web-1"}));
        let r = RequestAttributes::for_create(&p);
        let ns = Map::from_iter([("kubernetes.io/metadata.name".to_string(), json!("shop"))]);
        let both = |v: Value| {
            let m = rules(v);
            (
                m.matches(&r, &p, Some(&ns), MatchReading::KUBERNETES)
                    .unwrap(),
                m.matches(&r, &p, Some(&ns), MatchReading::KYVERNO_VPOL)
                    .unwrap(),
            )
        };
        assert_eq!(both(json!({})), (true, false), "empty resourceRules");
        let rule = |resources: Value, versions: Value| json!([{"apiGroups": [""], "apiVersions": versions, "resources": resources, "operations": ["*"]}]);
        assert_eq!(
            both(json!({"resourceRules": rule(json!(["pods/*"]), json!(["v1"]))})),
            (true, false),
            "a subresource wildcard"
        );
        assert_eq!(
            both(json!({"resourceRules": rule(json!(["*/*"]), json!(["v1"]))})),
            (true, true)
        );
        assert_eq!(
            both(json!({"resourceRules": rule(json!(["pods"]), json!(["v2"]))})),
            (true, false),
            "matchPolicy Equivalent"
        );
        let all = rule(json!(["*"]), json!(["*"]));
        assert_eq!(
            both(
                json!({"resourceRules": all, "objectSelector": {"matchLabels": {"app": "web-*"}}})
            ),
            (false, true),
            "Kyverno's label wildcards"
        );
        assert_eq!(
            both(
                json!({"resourceRules": all, "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["shop"]}]}})
            ),
            (false, false)
        );
    }

    #[test]
    fn plurals_by_each_guess() {
        let both = |kind| {
            (
                resource_for_kind(kind, PluralGuess::RestMapper),
                resource_for_kind(kind, PluralGuess::English),
            )
        };
        assert_eq!(both("Pod"), ("pods".into(), "pods".into()));
        assert_eq!(
            both("StorageClass"),
            ("storageclasses".into(), "storageclasses".into())
        );
        assert_eq!(both("Gateway"), ("gatewaies".into(), "gateways".into()));
        assert_eq!(both("Box"), ("boxs".into(), "boxes".into()));
        assert_eq!(both(""), (String::new(), String::new()));
    }
}
