//! The admission request a CEL policy sees as `request`, shaped as
//! Kubernetes' `admission/v1` `AdmissionRequest`, shared by the policy kinds
//! that evaluate CEL (Kyverno `validate.cel`, `ValidatingPolicy`, VAP). The
//! main function here is [`admission_request`].

use super::match_constraints::{resource_for_kind, PluralGuess};
use crate::input::inventory::Inventory;
use serde_json::{json, Value};

/// The parts of a request that are not in the object itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: &'a str,
    /// `{username, uid, groups, extra}` of the requester, when known.
    pub user_info: Option<&'a Value>,
}

/// `request` for an object (`object` for CREATE/UPDATE, `old_object` for
/// UPDATE/DELETE): `kind`, `resource` (plural guessed from the kind, as
/// Kyverno's CLI does without a cluster), `name`, `namespace`, `operation`,
/// `userInfo`, `object`, `oldObject`, `dryRun`.
///
/// ```
/// use verdict::engine::cel::admission::{admission_request, RequestFacts};
/// let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}});
/// let facts = RequestFacts { operation: "CREATE", user_info: None };
/// let request = admission_request(&pod, &serde_json::Value::Null, facts);
/// assert_eq!(request["resource"]["resource"], "pods");
/// assert_eq!(request["namespace"], "ns");
/// ```
pub fn admission_request(object: &Value, old_object: &Value, facts: RequestFacts) -> Value {
    let subject = if object.is_null() { old_object } else { object };
    let api_version = subject["apiVersion"].as_str().unwrap_or("");
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let kind = subject["kind"].as_str().unwrap_or("");
    let metadata = &subject["metadata"];
    let resource = resource_for_kind(kind, PluralGuess::English);
    json!({
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": metadata["name"].as_str().unwrap_or(""),
        "namespace": metadata["namespace"].as_str().unwrap_or(""),
        "operation": if facts.operation.is_empty() { "CREATE" } else { facts.operation },
        "userInfo": facts.user_info.cloned().unwrap_or_else(|| json!({})),
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
    })
}

/// The `request` of a case written as a whole `AdmissionReview`
/// (`admission.k8s.io/v1` or `v1beta1`), as gator reads one; `None` for any
/// other object. An AdmissionReview without a usable request is an error,
/// never an object to judge as it is.
///
/// ```
/// use verdict::engine::cel::admission::review_request;
/// let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
///     "request": {"operation": "DELETE", "oldObject": {"kind": "Pod"}}});
/// assert_eq!(review_request(&review).unwrap().unwrap()["operation"], "DELETE");
/// assert!(review_request(&serde_json::json!({"kind": "Pod"})).is_none());
/// ```
pub fn review_request(value: &Value) -> Option<Result<&Value, String>> {
    let is_review = value["kind"] == "AdmissionReview"
        && value["apiVersion"].as_str().is_some_and(|v| v.starts_with("admission.k8s.io/"));
    if !is_review {
        return None;
    }
    let request = &value["request"];
    let checked = if !request.is_object() {
        Err("the AdmissionReview has no request (an AdmissionRequest) to judge".to_string())
    } else {
        match request["operation"].as_str() {
            Some("CREATE" | "UPDATE" | "CONNECT") if !request["object"].is_object() => {
                Err(format!("the AdmissionReview's {} request has no object", request["operation"].as_str().unwrap_or("")))
            }
            Some("DELETE") if !request["oldObject"].is_object() => {
                Err("the AdmissionReview's DELETE request has no oldObject".to_string())
            }
            Some("UPDATE") if !request["oldObject"].is_object() => {
                Err("the AdmissionReview's UPDATE request has no oldObject".to_string())
            }
            Some("CREATE" | "UPDATE" | "DELETE" | "CONNECT") => Ok(request),
            Some(other) => Err(format!("request.operation `{other}` is not CREATE, UPDATE, DELETE or CONNECT")),
            None => Err("the AdmissionReview's request has no operation".to_string()),
        }
    };
    Some(checked)
}

/// `namespaceObject` as Kyverno's CLI builds it without a cluster: a
/// Namespace holding the object's namespace name (and the labels and
/// annotations a test gives), or null for cluster-scoped objects and
/// Namespaces themselves.
pub fn namespace_object(object: &Value, namespace: Option<&Value>) -> Value {
    let name = object["metadata"]["namespace"].as_str().unwrap_or("");
    if name.is_empty() || object["kind"] == "Namespace" {
        return Value::Null;
    }
    let mut metadata = json!({"name": name});
    if let Some(given) = namespace {
        for key in ["labels", "annotations"] {
            if let Some(v) = given["metadata"].get(key).filter(|v| v.is_object()) {
                metadata[key] = v.clone();
            }
        }
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata, "spec": {}, "status": {}})
}

/// The request's Namespace: from the inventory, else the object every
/// Namespace has (its name as the `kubernetes.io/metadata.name` label); null
/// for cluster-scoped requests and a namespace an inventory does not list.
pub fn namespace_from_inventory(inventory: &Inventory, namespace: &str) -> Option<Value> {
    if namespace.is_empty() {
        return None;
    }
    if let Some(found) = inventory.objects().iter().find(|o| {
        o["apiVersion"] == "v1" && o["kind"] == "Namespace" && o["metadata"]["name"] == namespace
    }) {
        let mut found = found.clone();
        if let Some(labels) = found["metadata"]
            .as_object_mut()
            .map(|m| m.entry("labels").or_insert_with(|| json!({})))
        {
            if let Some(labels) = labels.as_object_mut() {
                labels
                    .entry("kubernetes.io/metadata.name")
                    .or_insert_with(|| json!(namespace));
            }
        }
        return Some(found);
    }
    if inventory.path().is_some() {
        // An inventory that does not list the namespace: selectors must not guess.
        return None;
    }
    Some(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_requests_describe_the_old_object() {
        let old = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}});
        let r = admission_request(
            &Value::Null,
            &old,
            RequestFacts {
                operation: "DELETE",
                user_info: None,
            },
        );
        assert_eq!(r["kind"]["group"], "apps");
        assert_eq!(r["name"], "d");
        assert_eq!(r["object"], Value::Null);
    }

    #[test]
    fn namespace_object_is_null_for_cluster_scoped_objects() {
        assert_eq!(
            namespace_object(&json!({"kind": "Node", "metadata": {"name": "n"}}), None),
            Value::Null
        );
        let given = json!({"metadata": {"name": "x", "labels": {"a": "b"}}});
        let ns = namespace_object(
            &json!({"kind": "Pod", "metadata": {"namespace": "x"}}),
            Some(&given),
        );
        assert_eq!(ns["metadata"], json!({"name": "x", "labels": {"a": "b"}}));
    }
}
