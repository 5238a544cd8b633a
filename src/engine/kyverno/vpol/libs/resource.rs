//! Kyverno's resource library (kyverno/sdk `cel/libs/resource`), served from
//! the mocked context: `resource.List`/`resource.Get` by apiVersion and
//! resource or by a `resource.ToGVR` value, and their camel-case names
//! (`resource.list`, `get`, `toGVR`, Kyverno 1.18). `resource.Post`/`post`
//! creates a cluster object: it compiles, and every call is an error naming it.
//!
//! A NamespacedValidatingPolicy gets Kyverno's namespaced forms instead
//! (kyverno/sdk `namespaced_impl.go`): no namespace argument, the policy's
//! namespace fixed (`List(apiVersion, resource[, labels])`, `List(gvr[, labels])`,
//! `Get(apiVersion, resource, name)`, `Get(gvr, name)`); a call in the
//! cluster form is an error there, as Kyverno declares no such overload.
//!
//! `resource.ToGVR(apiVersion, kind)` maps the kind to its resource with the
//! same plural guess the context lookup uses (Kyverno asks the cluster's REST
//! mapper; its CLI's fake context does not implement it at all).

use super::context::{current, policy_namespace};
use super::network::offline;
use super::{declare, string_arg};
use crate::engine::cel::library::call;
use crate::engine::cel::match_constraints::{resource_for_kind, PluralGuess};
use crate::engine::cel::{to_cel, Numbers};
use cel::objects::{Opaque, Value};
use cel::{DeclarationError, Env};
use serde_json::Value as Json;
use std::sync::Arc;

/// `schema.GroupVersionResource`: opaque to policies, as in Kyverno.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupVersionResource {
    api_version: String,
    resource: String,
}

impl Opaque for GroupVersionResource {
    fn runtime_type_name(&self) -> &str {
        "schema.GroupVersionResource"
    }
}

/// The call's `(apiVersion, resource)` and the arguments after them: a GVR
/// value takes one argument's place, two strings take two.
fn target(args: &[Value]) -> Result<(String, String, &[Value]), String> {
    if let Some(Value::Opaque(o)) = args.first() {
        let gvr = o
            .downcast_ref::<GroupVersionResource>()
            .ok_or("argument 0 must be a string or a resource.ToGVR value")?;
        return Ok((gvr.api_version.clone(), gvr.resource.clone(), &args[1..]));
    }
    Ok((string_arg(args, 0)?, string_arg(args, 1)?, &args[2..]))
}

/// Context objects of `apiVersion` + `resource` (plural) in `namespace` (any when empty).
fn objects(
    api_version: &str,
    resource: &str,
    namespace: &str,
    what: &str,
) -> Result<Vec<Json>, String> {
    let Some(context) = current() else {
        return Err(format!(
            "failed to {what} resource: no context file mocks cluster resources (verdict makes no cluster calls)"
        ));
    };
    Ok(context
        .resources
        .iter()
        .filter(|r| {
            r["apiVersion"].as_str() == Some(api_version)
                && resource_for_kind(r["kind"].as_str().unwrap_or(""), PluralGuess::English)
                    == resource
                && (namespace.is_empty()
                    || r["metadata"]["namespace"].as_str().unwrap_or("") == namespace)
        })
        .cloned()
        .collect())
}

/// `resource.List(apiVersion, resource, namespace[, labels])` or
/// `resource.List(gvr, namespace[, labels])` (namespaced: no `namespace`):
/// `{items: [...]}`. Like Kyverno's fake provider, the label selector is not applied.
fn resource_list(args: &[Value]) -> Result<Value, String> {
    let (api_version, resource, rest) = target(args)?;
    let (namespace, labels) = match policy_namespace() {
        Some(own) if rest.len() > 1 => {
            return Err(format!(
                "resource.List takes (apiVersion, resource[, labels]) or (gvr[, labels]){}",
                namespaced_hint(&own)
            ))
        }
        Some(own) => (own, rest.first()),
        None => (string_arg(rest, 0)?, rest.get(1)),
    };
    if let Some(labels) = labels.filter(|l| !matches!(l, Value::Map(_))) {
        return Err(format!("the label selector must be a map, got {labels:?}{}", namespaced_hint(&namespace)));
    }
    let items = objects(&api_version, &resource, &namespace, "list")?;
    Ok(to_cel(
        &serde_json::json!({ "items": items }),
        Numbers::Cluster,
    ))
}

/// `resource.Get(apiVersion, resource, namespace, name)` or
/// `resource.Get(gvr, namespace, name)` (namespaced: no `namespace`): the
/// object, or an error when absent (Kyverno 58cd762 errs; Kyverno 1.18 gives null).
fn resource_get(args: &[Value]) -> Result<Value, String> {
    let (api_version, resource, rest) = target(args)?;
    let (namespace, name) = match policy_namespace() {
        Some(own) if rest.len() == 1 => (own, string_arg(rest, 0)?),
        Some(own) => {
            return Err(format!(
                "resource.Get takes (apiVersion, resource, name) or (gvr, name){}",
                namespaced_hint(&own)
            ))
        }
        None => (string_arg(rest, 0)?, string_arg(rest, 1)?),
    };
    objects(&api_version, &resource, &namespace, "get")?
        .into_iter()
        .find(|r| r["metadata"]["name"].as_str() == Some(name.as_str()))
        .map(|r| to_cel(&r, Numbers::Cluster))
        .ok_or_else(|| {
            format!("failed to get resource: {api_version} {resource} {namespace}/{name} not found")
        })
}

/// Why a namespaced policy's call has no namespace argument.
fn namespaced_hint(namespace: &str) -> String {
    match policy_namespace() {
        Some(_) => format!(" (a NamespacedValidatingPolicy names no namespace: it reads only its own, `{namespace}`)"),
        None => String::new(),
    }
}

/// `resource.ToGVR(apiVersion, kind)`: the value the GVR forms of List/Get take.
fn to_gvr(args: &[Value]) -> Result<Value, String> {
    let api_version = string_arg(args, 0)?;
    let kind = string_arg(args, 1)?;
    if api_version.is_empty() || kind.is_empty() {
        return Err("failed to map kind to resource: apiVersion and kind must not be empty".into());
    }
    Ok(Value::Opaque(Arc::new(GroupVersionResource {
        api_version,
        resource: resource_for_kind(&kind, PluralGuess::English),
    })))
}

/// Registers the library's functions under both of Kyverno's spellings.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    // List: 3 or 4 arguments by apiVersion and resource, 2 or 3 with a GVR;
    // one fewer in a namespaced policy (Get likewise), told apart when called.
    declare(env, "resource.List", &[1, 2, 3, 4], |a| {
        call("resource.List", a, resource_list)
    })?;
    declare(env, "resource.list", &[1, 2, 3, 4], |a| {
        call("resource.list", a, resource_list)
    })?;
    declare(env, "resource.Get", &[2, 3, 4], |a| {
        call("resource.Get", a, resource_get)
    })?;
    declare(env, "resource.get", &[2, 3, 4], |a| {
        call("resource.get", a, resource_get)
    })?;
    declare(env, "resource.ToGVR", &[2], |a| {
        call("resource.ToGVR", a, to_gvr)
    })?;
    declare(env, "resource.toGVR", &[2], |a| {
        call("resource.toGVR", a, to_gvr)
    })?;
    declare(env, "resource.Post", &[3, 4], |a| {
        call("resource.Post", a, |_| Err(offline("resource.Post")))
    })?;
    declare(env, "resource.post", &[3, 4], |a| {
        call("resource.post", a, |_| Err(offline("resource.post")))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;
    use super::super::MockContext;
    use serde_json::json;

    fn context() -> MockContext {
        MockContext {
            resources: vec![
                json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h", "namespace": "default"}, "spec": {"maxReplicas": 3}}),
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "deny", "namespace": "default"}}),
            ],
            images: vec![],
        }
    }

    fn holds(source: &str) {
        assert_eq!(
            eval(source, Some(context())).unwrap(),
            cel::Value::Bool(true),
            "{source}"
        );
    }

    #[test]
    fn resources_come_from_the_context() {
        holds("size(resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'default').items) == 1");
        holds("size(resource.list('autoscaling/v1', 'horizontalpodautoscalers', 'other', {'a': 'b'}).items) == 0");
        holds("resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'default', 'h').spec.maxReplicas + 1 == 4");
        let missing = eval(
            "resource.Get('v1', 'configmaps', 'default', 'x') == null",
            Some(context()),
        )
        .unwrap_err();
        assert!(missing.contains("not found"), "{missing}");
        let none = eval("resource.List('v1', 'pods', '') == null", None).unwrap_err();
        assert!(none.contains("no context file"), "{none}");
    }

    #[test]
    fn gvr_forms_read_the_same_objects() {
        holds("size(resource.List(resource.ToGVR('networking.k8s.io/v1', 'NetworkPolicy'), 'default').items) == 1");
        holds("size(resource.list(resource.toGVR('networking.k8s.io/v1', 'NetworkPolicy'), 'default', {'x': 'y'}).items) == 1");
        holds("resource.Get(resource.ToGVR('autoscaling/v1', 'HorizontalPodAutoscaler'), 'default', 'h').metadata.name == 'h'");
        let missing = eval(
            "resource.get(resource.toGVR('networking.k8s.io/v1', 'NetworkPolicy'), 'default', 'allow') == null",
            Some(context()),
        )
        .unwrap_err();
        assert!(
            missing.contains("networkpolicies default/allow not found"),
            "{missing}"
        );
        let bad = eval("resource.ToGVR('v1', '') == null", Some(context())).unwrap_err();
        assert!(bad.contains("failed to map kind to resource"), "{bad}");
    }

    #[test]
    fn a_namespaced_policy_reads_only_its_namespace_without_naming_it() {
        use super::super::with_policy_namespace;
        let in_default = |source: &str| with_policy_namespace(Some("default"), || eval(source, Some(context())));
        let holds_namespaced = |source: &str| assert_eq!(in_default(source).unwrap(), cel::Value::Bool(true), "{source}");
        holds_namespaced("size(resource.List('autoscaling/v1', 'horizontalpodautoscalers').items) == 1");
        holds_namespaced("size(resource.list(resource.toGVR('networking.k8s.io/v1', 'NetworkPolicy'), {'a': 'b'}).items) == 1");
        holds_namespaced("resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'h').spec.maxReplicas == 3");
        holds_namespaced("resource.get(resource.ToGVR('networking.k8s.io/v1', 'NetworkPolicy'), 'deny').metadata.name == 'deny'");
        let elsewhere = with_policy_namespace(Some("other"), || {
            eval("size(resource.List('autoscaling/v1', 'horizontalpodautoscalers').items) == 0", Some(context()))
        });
        assert_eq!(elsewhere.unwrap(), cel::Value::Bool(true));
        for cluster_form in [
            "resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'default') == null",
            "resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'default', 'h') == null",
        ] {
            let error = in_default(cluster_form).unwrap_err();
            assert!(error.contains("names no namespace"), "{cluster_form}: {error}");
        }
        let cluster = eval("resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'h') == null", Some(context()));
        assert!(cluster.is_err(), "a cluster-scoped policy has no three-argument Get: {cluster:?}");
    }

    #[test]
    fn post_is_an_error_naming_it() {
        let error = eval(
            "resource.Post('v1', 'configmaps', 'default', {'metadata': {'name': 'x'}}) != null",
            Some(context()),
        )
        .unwrap_err();
        assert!(
            error.contains("resource.Post") && error.contains("never makes"),
            "{error}"
        );
        assert!(eval("resource.post('v1', 'namespaces', {}) != null", None)
            .unwrap_err()
            .contains("resource.post"));
    }
}
