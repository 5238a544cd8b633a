//! Does a rule's `match` / `exclude` select a resource? The main function here
//! is [`matches_rule`], which follows Kyverno's `MatchesResourceDescription`:
//! within one filter every attribute must hold (lists are OR-ed), `any` needs one
//! filter, `all` needs every filter, and `exclude` is only looked at once `match`
//! succeeded.

use super::policy::{MatchResources, ResourceDescription, ResourceFilter, Rule, Subject, UserInfo};
use super::wildcards::{contains_wildcard, matches as wildcard_match};
use serde_json::{Map, Value};

/// What the matcher knows about the admission request besides the object.
#[derive(Debug, Clone, Default)]
pub struct MatchRequest<'a> {
    pub resource: &'a Value,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: &'a str,
    pub namespace_labels: Option<&'a Map<String, Value>>,
    /// `{username, groups}` of the requester, when known.
    pub user_info: Option<&'a Value>,
    pub roles: &'a [String],
    pub cluster_roles: &'a [String],
    /// Namespace of a namespaced `Policy`: resources elsewhere never match.
    pub policy_namespace: Option<&'a str>,
}

/// `Ok(())` when the rule applies to the resource, else why not.
///
/// ```
/// use verdict::engine::kyverno::{matching::{matches_rule, MatchRequest}, policy::Rule};
/// let rule = Rule::from_value(&serde_json::json!({"name": "r",
///     "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["prod-*"]}}]},
///     "validate": {"pattern": {}}})).unwrap();
/// let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "prod-1"}});
/// assert!(matches_rule(&rule, &MatchRequest { resource: &pod, operation: "CREATE", ..Default::default() }).is_ok());
/// ```
pub fn matches_rule(rule: &Rule, req: &MatchRequest) -> Result<(), String> {
    if !req.resource.is_object() {
        return Err("resource is empty".into());
    }
    if let Some(ns) = req.policy_namespace {
        if ns != resource_namespace_field(req.resource) {
            return Err("policy and resource namespaces mismatch".into());
        }
    }
    let has_request_info = req.user_info.is_some_and(|u| !is_blank(u))
        || !req.roles.is_empty()
        || !req.cluster_roles.is_empty();
    let mut reasons: Vec<String> = Vec::new();
    let m = &rule.match_resources;
    if !m.any.is_empty() {
        if !m
            .any
            .iter()
            .any(|f| match_filter(f, req, has_request_info).is_empty())
        {
            reasons.push("no resource matched".into());
        }
    } else if !m.all.is_empty() {
        for f in &m.all {
            reasons.extend(match_filter(f, req, has_request_info));
        }
    } else {
        reasons.extend(match_filter(&m.direct, req, has_request_info));
    }
    if reasons.is_empty() {
        if let Some(ex) = rule.exclude.as_ref().filter(|e| !e.is_empty()) {
            if excluded(ex, req) {
                reasons.push("resource excluded".into());
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "rule {} not matched: {}",
            rule.name,
            reasons.join("; ")
        ))
    }
}

/// Does a PolicyException's `match` select the request? As Kyverno's
/// `checkMatchesResources`: a rule's filters, but user info is always
/// compared, `operations` is not read, an empty filter selects nothing, and
/// a block with neither `any` nor `all` matches nothing.
pub fn exception_matches(block: &MatchResources, req: &MatchRequest) -> bool {
    let holds = |filter: &ResourceFilter| {
        if filter.is_empty() {
            return false;
        }
        let resources = ResourceDescription {
            operations: Vec::new(),
            ..filter.resources.clone()
        };
        condition_block_errors(&resources, &filter.user_info, req).is_empty()
    };
    if !block.any.is_empty() {
        block.any.iter().any(holds)
    } else if !block.all.is_empty() {
        block.all.iter().all(holds)
    } else {
        false
    }
}

/// Null, or only empty strings, lists and maps: Kyverno's "no request info".
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_blank),
        _ => false,
    }
}

fn excluded(ex: &MatchResources, req: &MatchRequest) -> bool {
    if !ex.any.is_empty() {
        ex.any.iter().any(|f| excluded_by(f, req))
    } else if !ex.all.is_empty() {
        ex.all.iter().all(|f| excluded_by(f, req))
    } else {
        excluded_by(&ex.direct, req)
    }
}

/// An empty exclude filter excludes nothing.
fn excluded_by(filter: &ResourceFilter, req: &MatchRequest) -> bool {
    !filter.is_empty()
        && condition_block_errors(&filter.resources, &filter.user_info, req).is_empty()
}

/// Reasons the filter does not match (empty when it does).
fn match_filter(
    filter: &ResourceFilter,
    req: &MatchRequest,
    has_request_info: bool,
) -> Vec<String> {
    // Without any request info Kyverno ignores the user-info part of match filters.
    let empty = UserInfo::default();
    let user_info = if has_request_info {
        &filter.user_info
    } else {
        &empty
    };
    if filter.resources.is_empty() && user_info.is_empty() {
        return vec!["match cannot be empty".into()];
    }
    condition_block_errors(&filter.resources, user_info, req)
}

fn condition_block_errors(
    rd: &ResourceDescription,
    ui: &UserInfo,
    req: &MatchRequest,
) -> Vec<String> {
    let resource = req.resource;
    if !rd.operations.is_empty() && !rd.operations.iter().any(|op| op == req.operation) {
        return vec!["operation does not match".into()];
    }
    let mut errs = Vec::new();
    let kind = resource["kind"].as_str().unwrap_or("");
    if !rd.kinds.is_empty() {
        let (group, version) = split_api_version(resource["apiVersion"].as_str().unwrap_or(""));
        if !check_kind(&rd.kinds, group, version, kind, "") {
            errs.push(format!("kind does not match {:?}", rd.kinds));
        }
    }
    let metadata = &resource["metadata"];
    let name = metadata["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| metadata["generateName"].as_str())
        .unwrap_or("");
    if let Some(expected) = &rd.name {
        if !wildcard_match(expected, name) {
            errs.push("name does not match".into());
        }
    }
    if !rd.names.is_empty() && !rd.names.iter().any(|n| wildcard_match(n, name)) {
        errs.push("none of the names match".into());
    }
    if !rd.namespaces.is_empty() {
        let ns = if kind == "Namespace" {
            name_field(resource)
        } else {
            resource_namespace_field(resource)
        };
        if !rd.namespaces.iter().any(|p| wildcard_match(p, ns)) {
            errs.push("namespace does not match".into());
        }
    }
    if let Some(expected) = &rd.annotations {
        if !expected.is_empty() && !check_annotations(expected, metadata["annotations"].as_object())
        {
            errs.push("annotations does not match".into());
        }
    }
    if let Some(selector) = &rd.selector {
        match label_selector_matches(selector, metadata["labels"].as_object()) {
            Ok(true) => {}
            Ok(false) => errs.push("selector does not match".into()),
            Err(e) => errs.push(format!("failed to parse selector: {e}")),
        }
    }
    if let Some(selector) = &rd.namespace_selector {
        if kind == "Namespace" {
            errs.push("namespace selector is not applicable for namespace resource".into());
        } else if !kind.is_empty() {
            match label_selector_matches(selector, req.namespace_labels) {
                Ok(true) => {}
                Ok(false) => errs.push("namespace selector does not match labels".into()),
                Err(e) => errs.push(format!("failed to parse namespace selector: {e}")),
            }
        }
    }
    if !ui.roles.is_empty() && !ui.roles.iter().any(|r| req.roles.contains(r)) {
        errs.push("user info does not match roles".into());
    }
    if !ui.cluster_roles.is_empty()
        && !ui
            .cluster_roles
            .iter()
            .any(|r| req.cluster_roles.contains(r))
    {
        errs.push("user info does not match clusterRoles".into());
    }
    if !ui.subjects.is_empty() && !subjects_match(&ui.subjects, req.user_info) {
        errs.push("user info does not match subject".into());
    }
    errs
}

fn name_field(resource: &Value) -> &str {
    resource["metadata"]["name"].as_str().unwrap_or("")
}

fn resource_namespace_field(resource: &Value) -> &str {
    resource["metadata"]["namespace"].as_str().unwrap_or("")
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Kyverno's kind selector syntax: `Kind`, `Version/Kind`, `Group/Version/Kind`,
/// `Kind/subresource`, with `.` before a subresource accepted too.
pub fn parse_kind_selector(input: &str) -> (String, String, String, String) {
    let mut parts: Vec<&str> = input.split('/').collect();
    if let Some(last) = parts.pop() {
        parts.extend(last.split('.'));
    }
    let is_version = |s: &str| s == "*" || is_version_string(s);
    let owned = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_string(), b.to_string(), c.to_string(), d.to_string())
    };
    match parts.as_slice() {
        [kind] => owned("*", "*", kind, ""),
        ["*", "*"] => owned("*", "*", "*", "*"),
        ["*", sub] if sub.to_lowercase() == *sub => owned("*", "*", "*", sub),
        [a, b] if is_version(a) => owned("*", a, b, ""),
        [a, b] => owned("*", "*", a, b),
        [a, b, c] if is_version(a) => owned("*", a, b, c),
        [a, b, c] => owned(a, b, c, ""),
        [a, b, c, d] => owned(a, b, c, d),
        _ => owned("", "", "", ""),
    }
}

/// `v1`, `v2beta1`, `v1alpha3`.
fn is_version_string(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    if rest.is_empty() {
        return true;
    }
    let tail = rest
        .strip_prefix("alpha")
        .or_else(|| rest.strip_prefix("beta"));
    matches!(tail, Some(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
}

/// Does any kind selector select this group/version/kind (and subresource)?
pub fn check_kind(
    kinds: &[String],
    group: &str,
    version: &str,
    kind: &str,
    subresource: &str,
) -> bool {
    kinds.iter().any(|k| {
        let (g, v, kd, sub) = parse_kind_selector(k);
        wildcard_match(&g, group)
            && wildcard_match(&v, version)
            && wildcard_match(&kd, kind)
            && (wildcard_match(&sub, subresource)
                || (group.is_empty()
                    && version == "v1"
                    && kind == "Pod"
                    && subresource == "ephemeralcontainers"))
    })
}

/// True when `kinds` names `kind` (ignoring group, version and subresource), as
/// Kyverno's `ContainsKind` does.
pub fn contains_kind(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|k| {
        let parts: Vec<&str> = k.split('/').collect();
        let kind_part = match parts.as_slice() {
            [k] => k.replacen('.', "/", 1),
            ["*", "*"] => "*/*".to_string(),
            [a, b] if is_version_string(a) => b.replacen('.', "/", 1),
            [a, b] => format!("{a}/{b}"),
            [a, b, c] if is_version_string(a) => format!("{b}/{c}"),
            [_, _, c] => c.replacen('.', "/", 1),
            [_, _, c, d] => format!("{c}/{d}"),
            _ => String::new(),
        };
        let base = kind_part
            .split_once('/')
            .map(|(k, _)| k.to_string())
            .filter(|_| kind_part.matches('/').count() == 1);
        base.as_deref().unwrap_or(&kind_part) == kind
    })
}

fn check_annotations(expected: &Map<String, Value>, actual: Option<&Map<String, Value>>) -> bool {
    expected.iter().all(|(k, v)| {
        let v = value_as_string(v);
        actual.is_some_and(|actual| {
            actual
                .iter()
                .any(|(k1, v1)| wildcard_match(k, k1) && wildcard_match(&v, &value_as_string(v1)))
        })
    })
}

fn value_as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn subjects_match(subjects: &[Subject], user_info: Option<&Value>) -> bool {
    let empty = Value::Null;
    let user_info = user_info.unwrap_or(&empty);
    let username = user_info["username"].as_str().unwrap_or("");
    let groups: Vec<&str> = user_info["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    subjects.iter().any(|s| match s.kind.as_str() {
        "ServiceAccount" => wildcard_match(
            &format!("system:serviceaccount:{}:{}", s.namespace, s.name),
            username,
        ),
        "Group" => groups.iter().any(|g| wildcard_match(&s.name, g)),
        "User" => wildcard_match(&s.name, username),
        _ => false,
    })
}

/// Kubernetes label selector semantics, with Kyverno's wildcard expansion of
/// `matchLabels` keys and values against the actual labels.
pub fn label_selector_matches(
    selector: &Value,
    labels: Option<&Map<String, Value>>,
) -> Result<bool, String> {
    let empty = Map::new();
    let labels = labels.unwrap_or(&empty);
    let label = |k: &str| labels.get(k).map(value_as_string);
    let sel = selector.as_object().ok_or("selector must be an object")?;
    if let Some(match_labels) = sel.get("matchLabels").filter(|m| !m.is_null()) {
        let match_labels = match_labels
            .as_object()
            .ok_or("matchLabels must be a map")?;
        for (k, v) in match_labels {
            let v = value_as_string(v);
            let ok = if contains_wildcard(k) || contains_wildcard(&v) {
                labels.iter().any(|(k1, v1)| {
                    wildcard_match(k, k1) && wildcard_match(&v, &value_as_string(v1))
                })
            } else {
                label(k).as_deref() == Some(v.as_str())
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").filter(|m| !m.is_null()) {
        let exprs = exprs.as_array().ok_or("matchExpressions must be a list")?;
        for e in exprs {
            let key = e["key"]
                .as_str()
                .ok_or("matchExpressions entry has no key")?;
            let values: Vec<String> = e["values"]
                .as_array()
                .map(|v| v.iter().map(value_as_string).collect())
                .unwrap_or_default();
            let actual = label(key);
            let ok = match e["operator"].as_str().unwrap_or("") {
                "In" => {
                    if values.is_empty() {
                        return Err(format!(
                            "values must be non-empty for operator In on `{key}`"
                        ));
                    }
                    actual.is_some_and(|a| values.contains(&a))
                }
                "NotIn" => {
                    if values.is_empty() {
                        return Err(format!(
                            "values must be non-empty for operator NotIn on `{key}`"
                        ));
                    }
                    actual.is_none_or(|a| !values.contains(&a))
                }
                "Exists" => {
                    if !values.is_empty() {
                        return Err(format!(
                            "values must be empty for operator Exists on `{key}`"
                        ));
                    }
                    actual.is_some()
                }
                "DoesNotExist" => {
                    if !values.is_empty() {
                        return Err(format!(
                            "values must be empty for operator DoesNotExist on `{key}`"
                        ));
                    }
                    actual.is_none()
                }
                other => return Err(format!("unknown label selector operator `{other}`")),
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_selectors() {
        let k = |s: &str| vec![s.to_string()];
        assert!(check_kind(&k("Pod"), "", "v1", "Pod", ""));
        assert!(check_kind(
            &k("apps/v1/Deployment"),
            "apps",
            "v1",
            "Deployment",
            ""
        ));
        assert!(!check_kind(
            &k("apps/v1/Deployment"),
            "extensions",
            "v1beta1",
            "Deployment",
            ""
        ));
        assert!(check_kind(&k("v1/Pod"), "", "v1", "Pod", ""));
        assert!(check_kind(
            &k("networking.k8s.io/v1/Ingress"),
            "networking.k8s.io",
            "v1",
            "Ingress",
            ""
        ));
        assert!(!check_kind(&k("Pod/exec"), "", "v1", "Pod", ""));
        assert!(check_kind(&k("*"), "apps", "v1", "Deployment", ""));
        assert!(contains_kind(&k("v1/Pod"), "Pod"));
        assert!(contains_kind(&k("Pod"), "Pod"));
        assert!(!contains_kind(&k("apps/v1/Deployment"), "Pod"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("prod-*", "prod-1"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*a*b", "xxaxxb"));
        assert!(!wildcard_match("abc", "abcd"));
    }

    #[test]
    fn selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object();
        assert!(label_selector_matches(&json!({"matchLabels": {"app": "w*"}}), labels).unwrap());
        assert!(!label_selector_matches(&json!({"matchLabels": {"app": "db"}}), labels).unwrap());
        assert!(label_selector_matches(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}),
            labels
        )
        .unwrap());
        assert!(label_selector_matches(
            &json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
            labels
        )
        .unwrap());
        assert!(label_selector_matches(
            &json!({"matchExpressions": [{"key": "x", "operator": "In", "values": []}]}),
            labels
        )
        .is_err());
    }
}
