//! `paramRef`: which param objects a binding hands to the policy, as the
//! dispatcher's `collectParams` finds them in a cluster (here: the rule file's
//! param objects, then the case's inventory).

use super::policy::{ParamKind, ParamRef, ParameterNotFoundAction};
use crate::engine::cel::match_constraints::is_cluster_scoped;
use serde_json::Value;

/// The params one binding evaluates the policy with.
#[derive(Debug, PartialEq)]
pub enum Params {
    /// One evaluation per object (a name gives at most one).
    Found(Vec<Value>),
    /// None matched: the binding's `parameterNotFoundAction` decides.
    NotFound(ParameterNotFoundAction, String),
    /// The reference cannot be resolved for this request.
    Error(String),
}

/// Resolve `param_ref` for a request in `request_namespace` ("" when cluster-scoped).
pub fn resolve<'a>(
    kind: &ParamKind,
    param_ref: &ParamRef,
    request_namespace: &str,
    objects: impl Iterator<Item = &'a Value>,
) -> Params {
    let namespace = if is_cluster_scoped(&kind.kind) {
        String::new()
    } else {
        match param_ref.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) => ns.to_string(),
            None if request_namespace.is_empty() => {
                return Params::Error("cannot use a namespaced paramRef without a namespace in a binding that matches a cluster-scoped resource".into())
            }
            None => request_namespace.to_string(),
        }
    };
    let of_kind = objects.filter(|o| {
        o["apiVersion"].as_str() == Some(kind.api_version.as_str())
            && o["kind"].as_str() == Some(kind.kind.as_str())
            && o["metadata"]["namespace"].as_str().unwrap_or("") == namespace
    });
    let found: Vec<Value> = match (&param_ref.name, &param_ref.selector) {
        (Some(name), _) => of_kind
            .filter(|o| o["metadata"]["name"].as_str() == Some(name.as_str()))
            .take(1)
            .cloned()
            .collect(),
        (None, Some(selector)) => {
            let mut all: Vec<Value> = of_kind
                .filter(|o| {
                    selector.matches(
                        &o["metadata"]["labels"]
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .cloned()
                .collect();
            all.sort_by(|a, b| {
                a["metadata"]["name"]
                    .as_str()
                    .cmp(&b["metadata"]["name"].as_str())
            });
            all
        }
        (None, None) => Vec::new(),
    };
    if !found.is_empty() {
        return Params::Found(found);
    }
    let which = match &param_ref.name {
        Some(name) => format!("{} {name}", kind.kind),
        None => format!("{} matching the selector", kind.kind),
    };
    let where_ = if namespace.is_empty() {
        String::new()
    } else {
        format!(" in namespace {namespace}")
    };
    Params::NotFound(
        param_ref
            .parameter_not_found_action
            .unwrap_or(ParameterNotFoundAction::Deny),
        format!("{which}{where_}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind() -> ParamKind {
        ParamKind {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
        }
    }

    #[test]
    fn by_name_in_the_request_namespace_or_the_given_one() {
        let objects = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits", "namespace": "shop"}}),
        ];
        let by_name: ParamRef =
            serde_json::from_value(json!({"name": "limits", "parameterNotFoundAction": "Deny"}))
                .unwrap();
        assert_eq!(
            resolve(&kind(), &by_name, "shop", objects.iter()),
            Params::Found(objects.to_vec())
        );
        assert!(
            matches!(resolve(&kind(), &by_name, "other", objects.iter()), Params::NotFound(ParameterNotFoundAction::Deny, w) if w == "ConfigMap limits in namespace other")
        );
        assert!(matches!(
            resolve(&kind(), &by_name, "", objects.iter()),
            Params::Error(_)
        ));
    }

    #[test]
    fn by_selector_every_match_sorted_by_name() {
        let cm = |n: &str, tier: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "p", "labels": {"tier": tier}}});
        let objects = [cm("b", "gold"), cm("a", "gold"), cm("c", "silver")];
        let r: ParamRef = serde_json::from_value(json!({"namespace": "p", "selector": {"matchLabels": {"tier": "gold"}}, "parameterNotFoundAction": "Allow"})).unwrap();
        assert_eq!(
            resolve(&kind(), &r, "x", objects.iter()),
            Params::Found(vec![cm("a", "gold"), cm("b", "gold")])
        );
    }
}
