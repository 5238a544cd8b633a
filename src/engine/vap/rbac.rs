//! Kubernetes RBAC offline: what the Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings (`rbac.authorization.k8s.io/v1`) a case gives grant,
//! read as the API server's RBAC authorizer reads them
//! (kubernetes `plugin/pkg/auth/authorizer/rbac/rbac.go`,
//! `pkg/registry/rbac/validation/rule.go`). The main type here is [`Rbac`].
//!
//! - ClusterRoleBindings grant everywhere, RoleBindings only in their own
//!   namespace; a RoleBinding may name a Role of its namespace or a ClusterRole.
//! - Subjects: `User` by name, `Group` by membership, `ServiceAccount` as the
//!   user `system:serviceaccount:<ns>:<name>` (the namespace defaults to the
//!   RoleBinding's).
//! - An aggregated ClusterRole holds the rules of the ClusterRoles its
//!   `clusterRoleSelectors` select, as the aggregation controller writes them.
//! - No matching rule is "no opinion", never an error; a binding whose role is
//!   missing only adds to the reason, as RBAC does.
//! - Bindings are visited sorted by namespace and name (a cluster's cache
//!   has no order), so the binding a reason names is stable.
//! - Objects the API server would reject (a subject of an unknown kind, a
//!   RoleBinding without a namespace, a rule with no verbs) are an error.

use crate::engine::cel::match_constraints::LabelSelector;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The API group every RBAC object and reference belongs to.
const GROUP: &str = "rbac.authorization.k8s.io";
const KINDS: [&str; 4] = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Subject {
    kind: String,
    #[serde(default)]
    api_group: String,
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleRef {
    api_group: String,
    kind: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    name: String,
    /// Empty for a ClusterRoleBinding.
    namespace: String,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// Who asks: a request's `userInfo` (name and groups are all RBAC reads).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    /// The user a service account authenticates as, with its two groups.
    ///
    /// ```
    /// let sa = verdict::engine::vap::rbac::User::service_account("ci", "deployer");
    /// assert_eq!(sa.name, "system:serviceaccount:ci:deployer");
    /// assert_eq!(sa.groups, ["system:serviceaccounts", "system:serviceaccounts:ci"]);
    /// ```
    pub fn service_account(namespace: &str, name: &str) -> User {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
            ],
        }
    }
}

/// What is asked: a verb on a resource (in a namespace, or cluster-wide when
/// `namespace` is empty) or on a non-resource URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Resource {
        group: String,
        resource: String,
        subresource: String,
        namespace: String,
        name: String,
        verb: String,
    },
    Path {
        path: String,
        verb: String,
    },
}

/// RBAC's answer: allowed, or no opinion; the reason names the binding and
/// role that allowed, or the roles that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// The RBAC objects of one case, checked and with aggregated ClusterRoles filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rbac {
    /// By (namespace, name).
    roles: BTreeMap<(String, String), Vec<PolicyRule>>,
    cluster_roles: BTreeMap<String, Vec<PolicyRule>>,
    /// Sorted by namespace and name.
    role_bindings: Vec<Binding>,
    cluster_role_bindings: Vec<Binding>,
}

impl Rbac {
    /// Reads the RBAC objects among `objects` (each with the file it came
    /// from, for errors); other objects are skipped. `None` when there is none
    /// at all, so a caller can tell "no RBAC given" from "RBAC grants nothing".
    ///
    /// ```
    /// use verdict::engine::vap::rbac::{Rbac, Request, User};
    /// let objects = serde_json::json!([
    ///   {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    ///    "metadata": {"name": "pod-reader"},
    ///    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ///   {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    ///    "metadata": {"name": "read-pods"},
    ///    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pod-reader"},
    ///    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}
    /// ]);
    /// let rbac = Rbac::from_objects(objects.as_array().unwrap().iter().map(|o| ("inventory.yaml", o)))
    ///     .unwrap()
    ///     .unwrap();
    /// let alice = User { name: "alice".into(), groups: vec![] };
    /// let get_pods = Request::Resource {
    ///     group: "".into(), resource: "pods".into(), subresource: "".into(),
    ///     namespace: "shop".into(), name: "".into(), verb: "get".into(),
    /// };
    /// let decision = rbac.authorize(&alice, &get_pods);
    /// assert!(decision.allowed);
    /// assert_eq!(decision.reason, r#"RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" to User "alice""#);
    /// ```
    pub fn from_objects<'a>(
        objects: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Option<Rbac>, String> {
        let mut rbac = Rbac::default();
        let mut aggregated: BTreeMap<String, Vec<LabelSelector>> = BTreeMap::new();
        let mut cluster_role_labels: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut any = false;
        for (source, object) in objects {
            let api_version = object["apiVersion"].as_str().unwrap_or("");
            let Some(version) = api_version
                .strip_prefix(GROUP)
                .and_then(|v| v.strip_prefix('/'))
            else {
                continue;
            };
            let kind = object["kind"].as_str().unwrap_or("");
            let name = object["metadata"]["name"].as_str().unwrap_or("");
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
            let what = if namespace.is_empty() {
                format!("{source}: {kind} {name:?}")
            } else {
                format!("{source}: {kind} {namespace}/{name}")
            };
            let fail = |why: String| format!("{what}: {why}");
            if version != "v1" {
                return Err(fail(format!(
                    "apiVersion {api_version} is not served (RBAC is {GROUP}/v1)"
                )));
            }
            if !KINDS.contains(&kind) {
                return Err(fail(format!(
                    "not an RBAC kind (one of {})",
                    KINDS.join(", ")
                )));
            }
            any = true;
            if name.is_empty() {
                return Err(fail("no metadata.name".into()));
            }
            let namespaced = matches!(kind, "Role" | "RoleBinding");
            match (namespaced, namespace.is_empty()) {
                (true, true) => {
                    return Err(fail("a namespaced object needs metadata.namespace".into()))
                }
                (false, false) => {
                    return Err(fail(format!(
                        "{kind} is cluster-scoped: it has no metadata.namespace"
                    )))
                }
                _ => {}
            }
            if !seen.insert((kind, namespace, name)) {
                return Err(fail("given twice".into()));
            }
            match kind {
                "Role" | "ClusterRole" => {
                    let rules = rules_of(object, namespaced).map_err(fail)?;
                    if namespaced {
                        rbac.roles.insert((namespace.into(), name.into()), rules);
                        continue;
                    }
                    rbac.cluster_roles.insert(name.into(), rules);
                    let labels = object["metadata"]["labels"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    cluster_role_labels.insert(name.into(), labels);
                    if let Some(rule) = object.get("aggregationRule").filter(|r| !r.is_null()) {
                        aggregated.insert(name.into(), selectors_of(rule).map_err(fail)?);
                    }
                }
                _ => {
                    let binding = binding_of(object, name, namespace).map_err(fail)?;
                    if namespaced {
                        rbac.role_bindings.push(binding);
                    } else {
                        rbac.cluster_role_bindings.push(binding);
                    }
                }
            }
        }
        if !any {
            return Ok(None);
        }
        rbac.aggregate(&aggregated, &cluster_role_labels);
        let order = |b: &Binding| (b.namespace.clone(), b.name.clone());
        rbac.role_bindings.sort_by_key(order);
        rbac.cluster_role_bindings.sort_by_key(order);
        Ok(Some(rbac))
    }

    /// Fill each aggregated ClusterRole with the rules of the ClusterRoles
    /// its selectors select (not itself), in name order without repeats, as
    /// the controller does; repeated until stable, since an aggregated role
    /// may select another one.
    fn aggregate(
        &mut self,
        selectors: &BTreeMap<String, Vec<LabelSelector>>,
        labels: &BTreeMap<String, Map<String, Value>>,
    ) {
        for _ in 0..=self.cluster_roles.len() {
            let mut changed = false;
            for (name, role_selectors) in selectors {
                let mut rules: Vec<PolicyRule> = Vec::new();
                for selector in role_selectors {
                    for (other, other_rules) in &self.cluster_roles {
                        if other == name || !selector.matches(&labels[other]) {
                            continue;
                        }
                        for rule in other_rules {
                            if !rules.contains(rule) {
                                rules.push(rule.clone());
                            }
                        }
                    }
                }
                if self.cluster_roles[name] != rules {
                    self.cluster_roles.insert(name.clone(), rules);
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// RBAC's `Authorize`: the first rule of a binding that applies to
    /// `user` and allows `request` decides; otherwise no opinion.
    pub fn authorize(&self, user: &User, request: &Request) -> Decision {
        let namespace = match request {
            Request::Resource { namespace, .. } => namespace.as_str(),
            Request::Path { .. } => "",
        };
        let mut errors: Vec<String> = Vec::new();
        let in_namespace = self
            .role_bindings
            .iter()
            .filter(|b| !namespace.is_empty() && b.namespace == namespace);
        for binding in self.cluster_role_bindings.iter().chain(in_namespace) {
            let Some(subject) = binding
                .subjects
                .iter()
                .find(|s| applies(s, user, &binding.namespace))
            else {
                continue;
            };
            let rules = match self.role_rules(&binding.role_ref, &binding.namespace) {
                Ok(rules) => rules,
                Err(e) => {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                    continue;
                }
            };
            if rules.iter().any(|rule| allows(rule, request)) {
                return Decision {
                    allowed: true,
                    reason: format!("RBAC: allowed by {}", describe(binding, subject)),
                };
            }
        }
        let reason = match errors.len() {
            0 => String::new(),
            1 => format!("RBAC: {}", errors[0]),
            _ => format!("RBAC: [{}]", errors.join(", ")),
        };
        Decision {
            allowed: false,
            reason,
        }
    }

    fn role_rules(&self, role_ref: &RoleRef, namespace: &str) -> Result<&[PolicyRule], String> {
        let found = match role_ref.kind.as_str() {
            "Role" => self
                .roles
                .get(&(namespace.to_string(), role_ref.name.clone())),
            _ => self.cluster_roles.get(&role_ref.name),
        };
        found.map(Vec::as_slice).ok_or_else(|| {
            format!(
                "{}.{GROUP} {:?} not found",
                role_ref.kind.to_lowercase(),
                role_ref.name
            )
        })
    }
}

/// `appliesToUser`: does `subject` of a binding in `namespace` ("" for a
/// ClusterRoleBinding) name `user`?
fn applies(subject: &Subject, user: &User, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let sa_namespace = if subject.namespace.is_empty() {
                namespace
            } else {
                &subject.namespace
            };
            !sa_namespace.is_empty()
                && user.name == format!("system:serviceaccount:{sa_namespace}:{}", subject.name)
        }
        _ => false,
    }
}

/// `RuleAllows`: verb, API group, resource (`*`, `resource/sub`, `*/sub`) and
/// name, or verb and URL path (`*` suffix a prefix).
fn allows(rule: &PolicyRule, request: &Request) -> bool {
    let any_or = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
    match request {
        Request::Resource {
            group,
            resource,
            subresource,
            name,
            verb,
            ..
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let resource_matches = rule.resources.iter().any(|r| {
                r == "*"
                    || *r == combined
                    || (!subresource.is_empty()
                        && r.strip_prefix("*/") == Some(subresource.as_str()))
            });
            any_or(&rule.verbs, verb)
                && any_or(&rule.api_groups, group)
                && resource_matches
                && (rule.resource_names.is_empty() || rule.resource_names.contains(name))
        }
        Request::Path { path, verb } => {
            any_or(&rule.verbs, verb)
                && rule.non_resource_urls.iter().any(|url| {
                    url == "*"
                        || url == path
                        || (url.ends_with('*') && path.starts_with(url.trim_end_matches('*')))
                })
        }
    }
}

/// The binding and subject as RBAC's reason writes them.
fn describe(binding: &Binding, subject: &Subject) -> String {
    let subject_text = match subject.kind.as_str() {
        "ServiceAccount" => {
            let namespace = if subject.namespace.is_empty() {
                &binding.namespace
            } else {
                &subject.namespace
            };
            format!(
                "ServiceAccount {:?}",
                format!("{}/{namespace}", subject.name)
            )
        }
        kind => format!("{kind} {:?}", subject.name),
    };
    let (kind, name) = if binding.namespace.is_empty() {
        ("ClusterRoleBinding", binding.name.clone())
    } else {
        (
            "RoleBinding",
            format!("{}/{}", binding.name, binding.namespace),
        )
    };
    format!(
        "{kind} {name:?} of {} {:?} to {subject_text}",
        binding.role_ref.kind, binding.role_ref.name
    )
}

/// A Role's or ClusterRole's rules, checked as `ValidatePolicyRule` checks them.
fn rules_of(object: &Value, namespaced: bool) -> Result<Vec<PolicyRule>, String> {
    let rules: Vec<PolicyRule> = match object.get("rules").filter(|r| !r.is_null()) {
        None => Vec::new(),
        Some(rules) => serde_json::from_value(rules.clone()).map_err(|e| format!("rules: {e}"))?,
    };
    for (i, rule) in rules.iter().enumerate() {
        let bad = |why: &str| Err(format!("rules[{i}]: {why}"));
        if rule.verbs.is_empty() {
            return bad("verbs must contain at least one value");
        }
        if !rule.non_resource_urls.is_empty() {
            if namespaced {
                return bad("namespaced rules cannot apply to non-resource URLs");
            }
            if !rule.api_groups.is_empty()
                || !rule.resources.is_empty()
                || !rule.resource_names.is_empty()
            {
                return bad("rules cannot apply to both regular resources and non-resource URLs");
            }
            continue;
        }
        if rule.api_groups.is_empty() {
            return bad("resource rules must supply at least one api group");
        }
        if rule.resources.is_empty() {
            return bad("resource rules must supply at least one resource");
        }
    }
    Ok(rules)
}

fn selectors_of(aggregation_rule: &Value) -> Result<Vec<LabelSelector>, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct AggregationRule {
        #[serde(default)]
        cluster_role_selectors: Vec<LabelSelector>,
    }
    let rule: AggregationRule = serde_json::from_value(aggregation_rule.clone())
        .map_err(|e| format!("aggregationRule: {e}"))?;
    for selector in &rule.cluster_role_selectors {
        selector
            .check()
            .map_err(|e| format!("aggregationRule: {e}"))?;
    }
    Ok(rule.cluster_role_selectors)
}

/// A binding's roleRef and subjects, checked as the API server's validation checks them.
fn binding_of(object: &Value, name: &str, namespace: &str) -> Result<Binding, String> {
    let role_ref: RoleRef =
        serde_json::from_value(object["roleRef"].clone()).map_err(|e| format!("roleRef: {e}"))?;
    let subjects: Vec<Subject> = match object.get("subjects").filter(|s| !s.is_null()) {
        None => Vec::new(),
        Some(s) => serde_json::from_value(s.clone()).map_err(|e| format!("subjects: {e}"))?,
    };
    if role_ref.api_group != GROUP {
        return Err(format!(
            "roleRef.apiGroup must be {GROUP}, got {:?}",
            role_ref.api_group
        ));
    }
    let kinds: &[&str] = if namespace.is_empty() {
        &["ClusterRole"]
    } else {
        &["Role", "ClusterRole"]
    };
    if !kinds.contains(&role_ref.kind.as_str()) {
        return Err(format!(
            "roleRef.kind must be {}, got {:?}",
            kinds.join(" or "),
            role_ref.kind
        ));
    }
    if role_ref.name.is_empty() {
        return Err("roleRef.name is required".into());
    }
    for (i, s) in subjects.iter().enumerate() {
        let bad = |why: String| Err(format!("subjects[{i}]: {why}"));
        if s.name.is_empty() {
            return bad("name is required".into());
        }
        match s.kind.as_str() {
            "ServiceAccount" => {
                if !s.api_group.is_empty() {
                    return bad(format!(
                        "apiGroup of a ServiceAccount must be \"\", got {:?}",
                        s.api_group
                    ));
                }
                if namespace.is_empty() && s.namespace.is_empty() {
                    return bad("a ServiceAccount in a ClusterRoleBinding needs a namespace".into());
                }
            }
            "User" | "Group" => {
                if s.api_group != GROUP {
                    return bad(format!(
                        "apiGroup of a {} must be {GROUP}, got {:?}",
                        s.kind, s.api_group
                    ));
                }
            }
            other => {
                return bad(format!(
                    "kind must be User, Group or ServiceAccount, got {other:?}"
                ))
            }
        }
    }
    Ok(Binding {
        name: name.into(),
        namespace: namespace.into(),
        role_ref,
        subjects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rbac(objects: Value) -> Rbac {
        from(objects).unwrap().unwrap()
    }

    fn from(objects: Value) -> Result<Option<Rbac>, String> {
        let objects = objects.as_array().unwrap().clone();
        let leaked: &'static [Value] = Box::leak(objects.into_boxed_slice());
        Rbac::from_objects(leaked.iter().map(|o| ("inv.yaml", o)))
    }

    fn role(kind: &str, namespace: Option<&str>, name: &str, rules: Value) -> Value {
        let mut metadata = json!({"name": name});
        if let Some(ns) = namespace {
            metadata["namespace"] = json!(ns);
        }
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata, "rules": rules})
    }

    fn binding(
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        role_kind: &str,
        role: &str,
        subjects: Value,
    ) -> Value {
        let mut metadata = json!({"name": name});
        if let Some(ns) = namespace {
            metadata["namespace"] = json!(ns);
        }
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
               "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role}, "subjects": subjects})
    }

    fn user(name: &str, groups: &[&str]) -> User {
        User {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn resource(
        group: &str,
        resource: &str,
        sub: &str,
        ns: &str,
        name: &str,
        verb: &str,
    ) -> Request {
        Request::Resource {
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
            verb: verb.into(),
        }
    }

    fn alice_rule(rule: Value) -> Rbac {
        rbac(json!([
            role("ClusterRole", None, "r", json!([rule])),
            binding(
                "ClusterRoleBinding",
                None,
                "b",
                "ClusterRole",
                "r",
                json!([{"apiGroup": GROUP, "kind": "User", "name": "alice"}])
            ),
        ]))
    }

    #[test]
    fn no_rbac_objects_is_none_not_an_empty_grant() {
        assert_eq!(
            from(json!([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}])),
            Ok(None)
        );
    }

    #[test]
    fn verbs_groups_resources_and_names_match_as_rbac_does() {
        let alice = user("alice", &[]);
        let r = alice_rule(
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["get", "update"]}),
        );
        assert!(
            r.authorize(
                &alice,
                &resource("apps", "deployments", "", "a", "web", "update")
            )
            .allowed
        );
        assert!(
            !r.authorize(
                &alice,
                &resource("apps", "deployments", "", "a", "api", "update")
            )
            .allowed
        );
        assert!(
            !r.authorize(
                &alice,
                &resource("apps", "deployments", "", "a", "", "update")
            )
            .allowed
        );
        assert!(
            !r.authorize(
                &alice,
                &resource("", "deployments", "", "a", "web", "update")
            )
            .allowed
        );
        assert!(
            !r.authorize(
                &alice,
                &resource("apps", "deployments", "", "a", "web", "UPDATE")
            )
            .allowed
        );
        assert!(
            !r.authorize(
                &alice,
                &resource("apps", "deployments", "scale", "a", "web", "update")
            )
            .allowed
        );
        assert!(
            !r.authorize(
                &user("bob", &[]),
                &resource("apps", "deployments", "", "a", "web", "get")
            )
            .allowed
        );
        let any = alice_rule(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}));
        assert!(
            any.authorize(
                &alice,
                &resource("x.io", "things", "status", "", "n", "patch")
            )
            .allowed
        );
    }

    #[test]
    fn subresources_name_the_pair_or_any_parent() {
        let alice = user("alice", &[]);
        let r = alice_rule(
            json!({"apiGroups": [""], "resources": ["pods/exec", "*/status"], "verbs": ["create"]}),
        );
        assert!(
            r.authorize(&alice, &resource("", "pods", "exec", "a", "p", "create"))
                .allowed
        );
        assert!(
            !r.authorize(&alice, &resource("", "pods", "", "a", "p", "create"))
                .allowed
        );
        assert!(
            !r.authorize(&alice, &resource("", "pods", "log", "a", "p", "create"))
                .allowed
        );
        assert!(
            r.authorize(
                &alice,
                &resource("", "services", "status", "a", "s", "create")
            )
            .allowed
        );
        assert!(
            !r.authorize(&alice, &resource("", "status", "", "a", "s", "create"))
                .allowed
        );
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_star_prefix() {
        let alice = user("alice", &[]);
        let r =
            alice_rule(json!({"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}));
        let path = |p: &str, v: &str| Request::Path {
            path: p.into(),
            verb: v.into(),
        };
        assert!(r.authorize(&alice, &path("/healthz", "get")).allowed);
        assert!(!r.authorize(&alice, &path("/healthz/ready", "get")).allowed);
        assert!(r.authorize(&alice, &path("/metrics/slis", "get")).allowed);
        assert!(!r.authorize(&alice, &path("/metrics", "get")).allowed);
        assert!(!r.authorize(&alice, &path("/healthz", "post")).allowed);
        assert!(
            !r.authorize(&alice, &resource("", "healthz", "", "", "", "get"))
                .allowed
        );
    }

    #[test]
    fn role_bindings_grant_in_their_namespace_only_and_service_accounts_default_to_it() {
        let r = rbac(json!([
            role(
                "Role",
                Some("ci"),
                "deployer",
                json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}])
            ),
            binding(
                "RoleBinding",
                Some("ci"),
                "deploy",
                "Role",
                "deployer",
                json!([{"kind": "ServiceAccount", "name": "bot"}])
            ),
        ]));
        let bot = User::service_account("ci", "bot");
        let create = |ns: &str| resource("apps", "deployments", "", ns, "", "create");
        let d = r.authorize(&bot, &create("ci"));
        assert!(d.allowed);
        assert_eq!(
            d.reason,
            r#"RBAC: allowed by RoleBinding "deploy/ci" of Role "deployer" to ServiceAccount "bot/ci""#
        );
        assert!(!r.authorize(&bot, &create("prod")).allowed);
        assert!(!r.authorize(&bot, &create("")).allowed);
        assert!(
            !r.authorize(&User::service_account("other", "bot"), &create("ci"))
                .allowed
        );
    }

    #[test]
    fn groups_and_cluster_role_bindings_grant_everywhere() {
        let r = rbac(json!([
            role(
                "ClusterRole",
                None,
                "view",
                json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
            ),
            binding(
                "ClusterRoleBinding",
                None,
                "viewers",
                "ClusterRole",
                "view",
                json!([{"apiGroup": GROUP, "kind": "Group", "name": "devs"}])
            ),
        ]));
        let d = r.authorize(
            &user("carol", &["devs"]),
            &resource("", "pods", "", "any", "", "list"),
        );
        assert_eq!(
            d.reason,
            r#"RBAC: allowed by ClusterRoleBinding "viewers" of ClusterRole "view" to Group "devs""#
        );
        assert!(
            !r.authorize(
                &user("carol", &["ops"]),
                &resource("", "pods", "", "any", "", "list")
            )
            .allowed
        );
    }

    #[test]
    fn a_missing_role_is_named_in_the_reason_not_an_error() {
        let r = rbac(json!([binding(
            "RoleBinding",
            Some("a"),
            "b",
            "Role",
            "gone",
            json!([{"apiGroup": GROUP, "kind": "User", "name": "alice"}])
        ),]));
        let d = r.authorize(
            &user("alice", &[]),
            &resource("", "pods", "", "a", "", "get"),
        );
        assert_eq!(
            d,
            Decision {
                allowed: false,
                reason: r#"RBAC: role.rbac.authorization.k8s.io "gone" not found"#.into()
            }
        );
    }

    #[test]
    fn aggregated_cluster_roles_take_the_selected_rules_and_nest() {
        let labelled = |name: &str, label: &str, rules: Value| {
            let mut r = role("ClusterRole", None, name, rules);
            r["metadata"]["labels"] = json!({label: "true"});
            r
        };
        let mut monitoring = labelled("monitoring", "agg-to-admin", json!([]));
        monitoring["aggregationRule"] =
            json!({"clusterRoleSelectors": [{"matchLabels": {"agg-to-monitoring": "true"}}]});
        let mut admin = role(
            "ClusterRole",
            None,
            "admin",
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"]}]),
        );
        admin["aggregationRule"] =
            json!({"clusterRoleSelectors": [{"matchLabels": {"agg-to-admin": "true"}}]});
        let r = rbac(json!([
            admin,
            monitoring,
            labelled(
                "metrics",
                "agg-to-monitoring",
                json!([{"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get"]}])
            ),
            binding(
                "ClusterRoleBinding",
                None,
                "b",
                "ClusterRole",
                "admin",
                json!([{"apiGroup": GROUP, "kind": "User", "name": "alice"}])
            ),
        ]));
        let alice = user("alice", &[]);
        assert!(
            r.authorize(
                &alice,
                &resource("metrics.k8s.io", "pods", "", "a", "", "get")
            )
            .allowed
        );
        // The controller replaces an aggregated role's own rules.
        assert!(
            !r.authorize(&alice, &resource("", "secrets", "", "a", "", "delete"))
                .allowed
        );
    }

    #[test]
    fn objects_the_api_server_would_reject_are_errors_naming_the_file() {
        let err = |objects: Value| from(objects).unwrap_err();
        let subject = |s: Value| {
            json!([binding(
                "ClusterRoleBinding",
                None,
                "b",
                "ClusterRole",
                "r",
                json!([s])
            )])
        };
        assert_eq!(
            err(subject(
                json!({"kind": "Usr", "apiGroup": GROUP, "name": "alice"})
            )),
            r#"inv.yaml: ClusterRoleBinding "b": subjects[0]: kind must be User, Group or ServiceAccount, got "Usr""#
        );
        assert!(
            err(subject(json!({"kind": "ServiceAccount", "name": "bot"})))
                .contains("needs a namespace")
        );
        assert!(
            err(subject(json!({"kind": "User", "name": "alice"}))).contains("apiGroup of a User")
        );
        assert!(err(json!([binding(
            "RoleBinding",
            None,
            "b",
            "Role",
            "r",
            json!([])
        )]))
        .contains("needs metadata.namespace"));
        assert!(err(json!([binding(
            "ClusterRoleBinding",
            None,
            "b",
            "Role",
            "r",
            json!([])
        )]))
        .contains("roleRef.kind must be ClusterRole"));
        assert!(err(json!([role(
            "Role",
            Some("a"),
            "r",
            json!([{"nonResourceURLs": ["/x"], "verbs": ["get"]}])
        )]))
        .contains("namespaced rules cannot apply to non-resource URLs"));
        assert!(err(json!([role(
            "ClusterRole",
            None,
            "r",
            json!([{"resources": ["pods"], "verbs": ["get"]}])
        )]))
        .contains("at least one api group"));
        assert!(err(json!([role(
            "ClusterRole",
            None,
            "r",
            json!([{"apiGroups": [""], "resources": ["pods"], "verb": ["get"]}])
        )]))
        .contains("unknown field `verb`"));
        let mut v1beta1 = role("ClusterRole", None, "r", json!([]));
        v1beta1["apiVersion"] = json!("rbac.authorization.k8s.io/v1beta1");
        assert!(err(json!([v1beta1])).contains("is not served"));
        let twice = role("ClusterRole", None, "r", json!([]));
        assert!(err(json!([twice.clone(), twice])).contains("given twice"));
    }
}
