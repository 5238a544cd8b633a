//! CEL PolicyExceptions (`policies.kyverno.io` v1alpha1, v1beta1, v1) for
//! ValidatingPolicies, as Kyverno 58cd762's vpol compiler reads them. The
//! main type here is [`CelPolicyException`]; [`excepted`] runs once a policy
//! variant matched, before the policy's own matchConditions.
//!
//! Kyverno's reading kept: an exception refers to a policy by
//! `spec.policyRefs[{name, kind}]`; its `matchConditions` are compiled at load
//! in the policy's environment and see `object`, `oldObject`, `request` and
//! `namespaceObject` (no `variables`, no `params`); every one must be true; an
//! evaluation error is the policy's `error`; a lifted policy reports `skip`
//! (or `pass` under `reportResult: pass`, the `polex.kyverno.io/priority`
//! label choosing among several). Not built: `images` and `allowedValues`
//! (partial exceptions the policy reads through `exceptions.*`) are load
//! errors, never a silent full exemption.

use super::policy::environment;
use crate::engine::cel::{Activation, Expression, ResultType};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `spec` of a CEL PolicyException, decoded strictly.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    policy_refs: Vec<PolicyRef>,
    #[serde(default)]
    match_conditions: Vec<MatchCondition>,
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    allowed_values: Vec<String>,
    report_result: Option<String>,
    expires_at: Option<String>,
    /// Free-form notes (reason, ticket); nothing in them changes a result.
    #[serde(default)]
    #[allow(dead_code)]
    properties: Map<String, Value>,
    evaluation_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyRef {
    name: String,
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchCondition {
    name: String,
    expression: String,
}

/// One CEL PolicyException, its matchConditions compiled.
#[derive(Debug, Clone)]
pub struct CelPolicyException {
    /// `namespace/name` (or `name`), as Kyverno names it in its result message.
    pub key: String,
    /// `(name, kind)` of each policy it lifts.
    pub policy_refs: Vec<(String, String)>,
    pub match_conditions: Vec<(String, Expression)>,
    /// `reportResult: pass`: report the lifted policy as `pass`, not `skip`.
    pub report_pass: bool,
    /// The `polex.kyverno.io/priority` label (0 when absent or not a number).
    pub priority: i64,
    /// `expiresAt` has passed: Kyverno no longer applies the exception.
    pub expired: bool,
}

/// Is `doc` a CEL PolicyException (`policies.kyverno.io`)?
pub fn is_cel_policy_exception(doc: &Value) -> bool {
    doc["kind"] == "PolicyException"
        && matches!(
            doc["apiVersion"].as_str(),
            Some(
                "policies.kyverno.io/v1alpha1"
                    | "policies.kyverno.io/v1beta1"
                    | "policies.kyverno.io/v1"
            )
        )
}

impl CelPolicyException {
    /// Reads and compiles one exception; errors name the field (with its
    /// index) and the expression.
    ///
    /// ```
    /// use verdict::engine::kyverno::vpol::CelPolicyException;
    /// let doc = serde_json::json!({"apiVersion": "policies.kyverno.io/v1beta1", "kind": "PolicyException",
    ///     "metadata": {"name": "e", "namespace": "ops"},
    ///     "spec": {"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}],
    ///              "matchConditions": [{"name": "tools", "expression": "object.metadata.name.startsWith('tool-')"}]}});
    /// let exception = CelPolicyException::from_value(&doc).unwrap();
    /// assert!(exception.refers_to("p", "ValidatingPolicy"));
    /// assert_eq!(exception.key, "ops/e");
    /// ```
    pub fn from_value(doc: &Value) -> Result<CelPolicyException, String> {
        if !is_cel_policy_exception(doc) {
            return Err(
                "not a CEL PolicyException (policies.kyverno.io v1alpha1, v1beta1 or v1)".into(),
            );
        }
        let name = doc["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or("PolicyException has no metadata.name")?;
        let at = |e: String| format!("PolicyException `{name}`: {e}");
        let spec: Spec =
            serde_json::from_value(doc["spec"].clone()).map_err(|e| at(format!("spec: {e}")))?;
        if spec.policy_refs.is_empty() {
            return Err(at("spec.policyRefs: must name at least one policy".into()));
        }
        for (i, r) in spec.policy_refs.iter().enumerate() {
            if r.name.is_empty() || r.kind.is_empty() {
                return Err(at(format!(
                    "spec.policyRefs[{i}]: name and kind must be set"
                )));
            }
        }
        if !spec.images.is_empty() || !spec.allowed_values.is_empty() {
            return Err(at(
                "spec.images / spec.allowedValues (read by the policy as `exceptions.*`) are not evaluated by verdict".into(),
            ));
        }
        let report_pass = match spec.report_result.as_deref() {
            None | Some("" | "skip") => false,
            Some("pass") => true,
            Some(other) => {
                return Err(at(format!(
                    "spec.reportResult: unknown value `{other}` (want skip or pass)"
                )))
            }
        };
        if let Some(mode) = spec
            .evaluation_mode
            .as_deref()
            .filter(|m| !matches!(*m, "" | "Kubernetes" | "JSON"))
        {
            return Err(at(format!(
                "spec.evaluationMode: unknown mode `{mode}` (want Kubernetes or JSON)"
            )));
        }
        let expired = match spec.expires_at.as_deref() {
            None => false,
            Some(text) => {
                chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                    at(format!(
                        "spec.expiresAt: `{text}` is not an RFC 3339 time: {e}"
                    ))
                })? < chrono::Utc::now()
            }
        };
        let match_conditions = spec
            .match_conditions
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                environment()
                    .compile_with_variables(&c.expression, &[ResultType::Bool], &[])
                    .map(|e| (c.name, e))
                    .map_err(|e| at(format!("spec.matchConditions[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key = match doc["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
        {
            Some(namespace) => format!("{namespace}/{name}"),
            None => name.to_string(),
        };
        let priority = doc["metadata"]["labels"]["polex.kyverno.io/priority"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Ok(CelPolicyException {
            key,
            policy_refs: spec
                .policy_refs
                .into_iter()
                .map(|r| (r.name, r.kind))
                .collect(),
            match_conditions,
            report_pass,
            priority,
            expired,
        })
    }

    /// Does the exception refer to the policy named `name` of `kind`?
    pub fn refers_to(&self, name: &str, kind: &str) -> bool {
        self.policy_refs.iter().any(|(n, k)| n == name && k == kind)
    }
}

/// What the exceptions of a policy decide for one bound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exempted {
    /// No exception applies: evaluate the policy.
    No,
    /// Lifted by these exceptions (keys); `pass` under the chosen one's `reportResult`.
    Yes { keys: Vec<String>, pass: bool },
    /// An exception's matchCondition failed to evaluate.
    Error(String),
}

/// Evaluates the exceptions' matchConditions over the bound `object`,
/// `oldObject`, `request` and `namespaceObject`.
pub fn excepted(exceptions: &[CelPolicyException], activation: &Activation) -> Exempted {
    let mut lifted: Vec<&CelPolicyException> = Vec::new();
    for exception in exceptions.iter().filter(|e| !e.expired) {
        let mut applies = true;
        for (name, condition) in &exception.match_conditions {
            match condition.eval_bool(activation) {
                Ok(true) => {}
                Ok(false) => {
                    applies = false;
                    break;
                }
                Err(e) => {
                    return Exempted::Error(format!(
                        "PolicyException {}: match condition `{name}`: {e}",
                        exception.key
                    ))
                }
            }
        }
        if applies {
            lifted.push(exception);
        }
    }
    // The first exception of the highest priority label decides skip or pass.
    let Some(chosen) = lifted
        .iter()
        .reduce(|best, e| if e.priority > best.priority { e } else { best })
    else {
        return Exempted::No;
    };
    Exempted::Yes {
        pass: chosen.report_pass,
        keys: lifted.iter().map(|e| e.key.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::Numbers;
    use serde_json::json;

    fn exception(spec: Value) -> Result<CelPolicyException, String> {
        CelPolicyException::from_value(&json!({"apiVersion": "policies.kyverno.io/v1alpha1",
            "kind": "PolicyException", "metadata": {"name": "e"}, "spec": spec}))
    }

    fn bound(name: &str) -> Activation {
        let mut activation = Activation::new();
        activation.bind_json(
            "object",
            &json!({"metadata": {"name": name}}),
            Numbers::Cluster,
        );
        activation
    }

    #[test]
    fn match_conditions_decide_and_errors_are_errors() {
        let e = exception(
            json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}],
            "matchConditions": [{"name": "tool", "expression": "object.metadata.name == 'tool'"}]}),
        )
        .unwrap();
        let one = std::slice::from_ref(&e);
        assert_eq!(
            excepted(one, &bound("tool")),
            Exempted::Yes {
                keys: vec!["e".into()],
                pass: false
            }
        );
        assert_eq!(excepted(one, &bound("web")), Exempted::No);
        let broken = exception(
            json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}],
            "matchConditions": [{"name": "bad", "expression": "object.spec.missing == 1"}]}),
        )
        .unwrap();
        assert!(
            matches!(excepted(std::slice::from_ref(&broken), &bound("tool")), Exempted::Error(m) if m.contains("bad"))
        );
    }

    #[test]
    fn strict_reading() {
        let err = exception(json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}], "matchCondition": []})).unwrap_err();
        assert!(err.contains("matchCondition"), "{err}");
        let err = exception(
            json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}],
            "matchConditions": [{"name": "x", "expression": "object.metadata.name +"}]}),
        )
        .unwrap_err();
        assert!(err.contains("spec.matchConditions[0]"), "{err}");
        let err = exception(json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}], "allowedValues": ["a"]})).unwrap_err();
        assert!(err.contains("allowedValues"), "{err}");
        assert!(exception(json!({"policyRefs": []})).is_err());
    }

    #[test]
    fn report_result_pass_and_expiry() {
        let pass = exception(json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}], "reportResult": "pass"})).unwrap();
        assert_eq!(
            excepted(std::slice::from_ref(&pass), &bound("x")),
            Exempted::Yes {
                keys: vec!["e".into()],
                pass: true
            }
        );
        let old = exception(json!({"policyRefs": [{"name": "p", "kind": "ValidatingPolicy"}], "expiresAt": "2000-01-01T00:00:00Z"})).unwrap();
        assert_eq!(
            excepted(std::slice::from_ref(&old), &bound("x")),
            Exempted::No
        );
    }
}
