//! Kyverno's resource library (kyverno/sdk `cel/libs/resource`):
//! `resource.List`/`resource.Get` served from the mocked context.

use super::context::current;
use super::{declare, string_arg};
use crate::engine::cel::match_constraints::{resource_for_kind, PluralGuess};
use crate::engine::cel::{to_cel, Numbers};
use cel::objects::Value;
use cel::{DeclarationError, Env};
use serde_json::Value as Json;

/// Context objects of `apiVersion` + `resource` (plural) in `namespace` (any when empty).
fn objects(args: &[Value], what: &str) -> Result<Vec<Json>, String> {
    let api_version = string_arg(args, 0)?;
    let resource = string_arg(args, 1)?;
    let namespace = string_arg(args, 2)?;
    let Some(context) = current() else {
        return Err(format!(
            "failed to {what} resource: no context file mocks cluster resources (verdict makes no cluster calls)"
        ));
    };
    Ok(context
        .resources
        .iter()
        .filter(|r| {
            r["apiVersion"].as_str() == Some(api_version.as_str())
                && resource_for_kind(r["kind"].as_str().unwrap_or(""), PluralGuess::English)
                    == resource
                && (namespace.is_empty()
                    || r["metadata"]["namespace"].as_str().unwrap_or("") == namespace)
        })
        .cloned()
        .collect())
}

/// `resource.List(apiVersion, resource, namespace[, labels])`: `{items: [...]}`.
/// Like Kyverno's fake provider, the label selector is not applied.
fn resource_list(args: &[Value]) -> Result<Value, String> {
    let items = objects(args, "list")?;
    Ok(to_cel(
        &serde_json::json!({ "items": items }),
        Numbers::Cluster,
    ))
}

/// `resource.Get(apiVersion, resource, namespace, name)`: the object, or an error when absent.
fn resource_get(args: &[Value]) -> Result<Value, String> {
    let name = string_arg(args, 3)?;
    objects(args, "get")?
        .into_iter()
        .find(|r| r["metadata"]["name"].as_str() == Some(name.as_str()))
        .map(|r| to_cel(&r, Numbers::Cluster))
        .ok_or_else(|| {
            format!(
                "failed to get resource: {} {} {}/{name} not found",
                string_arg(args, 0).unwrap_or_default(),
                string_arg(args, 1).unwrap_or_default(),
                string_arg(args, 2).unwrap_or_default()
            )
        })
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "resource.List", &[3, 4], |a| {
        crate::engine::cel::library::call("resource.List", a, resource_list)
    })?;
    declare(env, "resource.Get", &[4], |a| {
        crate::engine::cel::library::call("resource.Get", a, resource_get)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;
    use super::super::MockContext;
    use serde_json::json;

    #[test]
    fn resources_come_from_the_context() {
        let context = MockContext {
            resources: vec![
                json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h", "namespace": "default"}, "spec": {"maxReplicas": 3}}),
            ],
            images: vec![],
        };
        let list = "size(resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'default').items) == 1";
        assert_eq!(
            eval(list, Some(context.clone())).unwrap(),
            cel::Value::Bool(true)
        );
        let get = "resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'default', 'h').spec.maxReplicas + 1 == 4";
        assert_eq!(
            eval(get, Some(context.clone())).unwrap(),
            cel::Value::Bool(true)
        );
        let missing = eval(
            "resource.Get('v1', 'configmaps', 'default', 'x') == null",
            Some(context),
        )
        .unwrap_err();
        assert!(missing.contains("not found"), "{missing}");
    }
}
