//! `validate.cel` rules of a ClusterPolicy/Policy, as Kyverno's
//! `validateCELHandler` runs them: Kubernetes' ValidatingAdmissionPolicy
//! validator with failure policy `Fail`. The main items here are
//! [`CelRule::compile`] (at load) and [`evaluate`] (per resource).
//!
//! Outcome, as Kyverno 58cd762 reports it: any `celPreconditions` false →
//! `skip`; otherwise the first expression that is not `true` (false, a
//! non-bool, or a runtime error, since the failure policy is `Fail`) → `fail`
//! with its message; else `pass`. A precondition that errors (and none is
//! false) also fails the rule. The environment is the plain Kubernetes one:
//! no Kyverno libraries.

use crate::engine::cel::admission::{admission_request, namespace_object, RequestFacts};
use crate::engine::cel::{Activation, CelEnv, Expression, Numbers, ResultType};
use crate::engine::kyverno::engine::{RuleResponse, RuleStatus};
use serde_json::Value;
use std::sync::OnceLock;

/// One entry of `validate.cel.expressions`.
#[derive(Debug, Clone)]
pub struct CelCheck {
    pub expression: Expression,
    /// `message`, or the rule's `validate.message` when empty, as Kyverno fills it.
    pub message: String,
    pub message_expression: Option<Expression>,
}

/// `paramKind` + `paramRef` of a rule.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub selector: Option<Value>,
    /// `parameterNotFoundAction: Allow` evaluates once with null params; `Deny` (the default) errors.
    pub allow_missing: bool,
}

/// A compiled `validate.cel` rule with its `celPreconditions`.
#[derive(Debug, Clone)]
pub struct CelRule {
    pub expressions: Vec<CelCheck>,
    pub variables: Vec<(String, Expression)>,
    pub preconditions: Vec<(String, Expression)>,
    pub params: Option<Params>,
}

/// The Kubernetes CEL environment, built once per process.
fn environment() -> &'static CelEnv {
    static ENV: OnceLock<CelEnv> = OnceLock::new();
    ENV.get_or_init(CelEnv::kubernetes)
}

impl CelRule {
    /// Compiles `validate.cel` of one rule (`raw`). `Ok(None)` when the rule
    /// has no CEL; a compile error names the field, index and expression.
    pub fn compile(raw: &Value) -> Result<Option<CelRule>, String> {
        let Some(cel) = raw["validate"].get("cel").filter(|c| !c.is_null()) else {
            return Ok(None);
        };
        let env = environment();
        // Kubernetes' validator checks result types at compile: expressions and
        // preconditions are bool, messages string, variables anything; a
        // variable has its expression's type in the expressions after it.
        let compile = |at: String, source: &Value, wanted: &[ResultType], variables: &[(String, Expression)]| {
            env.compile_field(&at, source, wanted, variables)
        };
        let list = |value: &Value, at: &str| -> Result<Vec<Value>, String> {
            match value {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => Ok(items.clone()),
                _ => Err(format!("{at} must be a list")),
            }
        };
        let mut variables: Vec<(String, Expression)> = Vec::new();
        for (i, item) in list(&cel["variables"], "validate.cel.variables")?.iter().enumerate() {
            let name = item["name"].as_str().unwrap_or("").to_string();
            let at = format!("validate.cel.variables[{i}]");
            let expression = compile(at, &item["expression"], &[], &variables)?;
            variables.push((name, expression));
        }
        let rule_message = raw["validate"]["message"].as_str().unwrap_or("");
        let mut expressions = Vec::new();
        for (i, item) in list(&cel["expressions"], "validate.cel.expressions")?
            .iter()
            .enumerate()
        {
            let at = format!("validate.cel.expressions[{i}]");
            let expression = compile(at.clone(), &item["expression"], &[ResultType::Bool], &variables)?;
            let message_expression =
                env.compile_optional_field(&at, item, "messageExpression", &[ResultType::String], &variables)?;
            let message = item["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .unwrap_or(rule_message);
            expressions.push(CelCheck {
                expression,
                message: message.to_string(),
                message_expression,
            });
        }
        // Preconditions are match conditions: they see no variables.
        let preconditions = list(&raw["celPreconditions"], "celPreconditions")?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let name = item["name"].as_str().unwrap_or("").to_string();
                let at = format!("celPreconditions[{i}]");
                Ok((name, compile(at, &item["expression"], &[ResultType::Bool], &[])?))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let params = cel.get("paramKind").filter(|p| p.is_object()).map(|kind| {
            let reference = &cel["paramRef"];
            Params {
                api_version: kind["apiVersion"].as_str().unwrap_or("").to_string(),
                kind: kind["kind"].as_str().unwrap_or("").to_string(),
                name: reference["name"].as_str().unwrap_or("").to_string(),
                namespace: reference["namespace"].as_str().unwrap_or("").to_string(),
                selector: reference.get("selector").filter(|s| s.is_object()).cloned(),
                allow_missing: reference["parameterNotFoundAction"] == "Allow",
            }
        });
        Ok(Some(CelRule {
            expressions,
            variables,
            preconditions,
            params,
        }))
    }
}

/// What one evaluation of a CEL rule sees besides the rule.
#[derive(Debug, Clone, Copy)]
pub struct CelInput<'a> {
    pub object: &'a Value,
    pub old_object: &'a Value,
    pub operation: &'a str,
    pub user_info: Option<&'a Value>,
    /// How the object's numbers reach CEL (the kyverno-test runner reads them as Kyverno's CLI).
    pub numbers: Numbers,
    /// Objects `paramRef` may name (a kyverno-test's `paramResources`).
    pub param_resources: &'a [Value],
}

/// Evaluates the rule once per parameter object (once with null params when
/// it has no `paramKind`); the first non-pass wins.
pub fn evaluate(name: &str, rule: &CelRule, input: &CelInput) -> RuleResponse {
    let params = match &rule.params {
        None => vec![Value::Null],
        Some(p) => match find_params(p, input) {
            Ok(found) => found,
            Err(e) => {
                return RuleResponse::new(
                    name,
                    RuleStatus::Error,
                    format!("error in parameterized resource: {e}"),
                )
            }
        },
    };
    let subject = if input.object.is_null() {
        input.old_object
    } else {
        input.object
    };
    let request = admission_request(
        input.object,
        input.old_object,
        RequestFacts {
            operation: input.operation,
            user_info: input.user_info,
        },
    );
    for param in params {
        let mut activation = Activation::new();
        activation.bind_json("object", input.object, input.numbers);
        activation.bind_json("oldObject", input.old_object, input.numbers);
        activation.bind_json("request", &request, input.numbers);
        activation.bind_json(
            "namespaceObject",
            &namespace_object(subject, None),
            Numbers::Cluster,
        );
        activation.bind_json("params", &param, Numbers::Cluster);
        activation.bind_variables(&rule.variables);
        let mut precondition_error = None;
        let mut unmet = false;
        for (_, condition) in &rule.preconditions {
            match condition.evaluate(&activation) {
                Ok(cel::Value::Bool(false)) => unmet = true,
                Ok(_) => {}
                Err(e) => precondition_error = precondition_error.or(Some(e)),
            }
        }
        if unmet {
            return RuleResponse::new(name, RuleStatus::Skip, "cel preconditions not met");
        }
        if let Some(e) = precondition_error {
            return RuleResponse::new(name, RuleStatus::Fail, e.to_string());
        }
        for check in &rule.expressions {
            match check.expression.eval_bool(&activation) {
                Ok(true) => {}
                Ok(false) => {
                    return RuleResponse::new(
                        name,
                        RuleStatus::Fail,
                        deny_message(check, &activation),
                    )
                }
                Err(e) => return RuleResponse::new(name, RuleStatus::Fail, e.to_string()),
            }
        }
    }
    RuleResponse::new(
        name,
        RuleStatus::Pass,
        format!("Validation rule '{name}' passed."),
    )
}

/// Kubernetes' message rules: a usable `messageExpression` result, else
/// `message`, else "failed expression: <expression>".
pub fn deny_message(check: &CelCheck, activation: &Activation) -> String {
    if let Some(expression) = &check.message_expression {
        if let Ok(text) = expression.eval_string(activation) {
            let text = text.trim();
            if !text.is_empty() && text.len() <= 5 * 1024 && !text.contains('\n') {
                return text.to_string();
            }
        }
    }
    let message = check.message.trim();
    if message.is_empty() {
        format!("failed expression: {}", check.expression.source().trim())
    } else {
        message.to_string()
    }
}

/// The parameter objects `paramRef` selects: by name (and namespace), or every
/// object of the kind whose labels match the selector.
fn find_params(params: &Params, input: &CelInput) -> Result<Vec<Value>, String> {
    let subject = if input.object.is_null() {
        input.old_object
    } else {
        input.object
    };
    let namespace = if params.namespace.is_empty() {
        subject["metadata"]["namespace"].as_str().unwrap_or("")
    } else {
        params.namespace.as_str()
    };
    let mut found = Vec::new();
    for candidate in input.param_resources {
        if candidate["kind"].as_str() != Some(params.kind.as_str())
            || candidate["apiVersion"].as_str() != Some(params.api_version.as_str())
        {
            continue;
        }
        let candidate_ns = candidate["metadata"]["namespace"].as_str().unwrap_or("");
        if !candidate_ns.is_empty() && candidate_ns != namespace {
            continue;
        }
        let selected = match &params.selector {
            Some(selector) => crate::engine::kyverno::matching::label_selector_matches(
                selector,
                candidate["metadata"]["labels"].as_object(),
            )?,
            None => candidate["metadata"]["name"].as_str() == Some(params.name.as_str()),
        };
        if selected {
            found.push(candidate.clone());
        }
    }
    if found.is_empty() {
        if params.allow_missing {
            return Ok(vec![Value::Null]);
        }
        return Err(format!(
            "no params found: no {} {} named by paramRef{}",
            params.api_version,
            params.kind,
            if params.name.is_empty() {
                String::new()
            } else {
                format!(" `{}`", params.name)
            }
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(validate: Value) -> CelRule {
        CelRule::compile(&json!({"name": "r", "validate": validate}))
            .unwrap()
            .unwrap()
    }

    fn run(rule: &CelRule, object: Value, numbers: Numbers) -> RuleResponse {
        let input = CelInput {
            object: &object,
            old_object: &Value::Null,
            operation: "CREATE",
            user_info: None,
            numbers,
            param_resources: &[],
        };
        evaluate("r", rule, &input)
    }

    #[test]
    fn false_errors_and_non_bools_fail_true_passes() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "x"}, "spec": {"replicas": 2}});
        let cases = [
            ("object.spec.replicas == 2", RuleStatus::Pass),
            ("object.spec.replicas > 2", RuleStatus::Fail),
            ("object.spec.missing == 1", RuleStatus::Fail),
            ("object.spec.replicas", RuleStatus::Fail),
            ("1 / 0 == 1", RuleStatus::Fail),
        ];
        for (source, want) in cases {
            let r = rule(json!({"cel": {"expressions": [{"expression": source}]}}));
            assert_eq!(
                run(&r, pod.clone(), Numbers::Cluster).status,
                want,
                "{source}"
            );
        }
    }

    #[test]
    fn arithmetic_on_resource_numbers_fails_under_the_kyverno_cli_reading() {
        let r = rule(
            json!({"cel": {"expressions": [{"expression": "object.spec.replicas + 1 == 3"}]}}),
        );
        let object = json!({"spec": {"replicas": 2}});
        assert_eq!(
            run(&r, object.clone(), Numbers::Cluster).status,
            RuleStatus::Pass
        );
        let cli = run(&r, object, Numbers::KyvernoCli);
        assert_eq!(cli.status, RuleStatus::Fail);
        assert!(
            cli.message.contains("no matching overload"),
            "{}",
            cli.message
        );
    }

    #[test]
    fn messages_follow_kubernetes_rules() {
        let r = rule(json!({"message": "rule says no", "cel": {"expressions": [
            {"expression": "false", "messageExpression": "'name ' + object.metadata.name"},
            {"expression": "false", "messageExpression": "object.nope"},
            {"expression": "false"},
        ]}}));
        assert_eq!(
            run(&r, json!({"metadata": {"name": "p"}}), Numbers::Cluster).message,
            "name p"
        );
        let activation = Activation::new();
        assert_eq!(deny_message(&r.expressions[1], &activation), "rule says no");
        let bare = rule(json!({"cel": {"expressions": [{"expression": " false "}]}}));
        assert_eq!(
            deny_message(&bare.expressions[0], &activation),
            "failed expression: false"
        );
    }

    #[test]
    fn false_preconditions_skip_and_compile_errors_name_the_index() {
        let raw = json!({"name": "r", "celPreconditions": [{"name": "c", "expression": "has(object.spec)"}],
            "validate": {"cel": {"expressions": [{"expression": "false"}]}}});
        let r = CelRule::compile(&raw).unwrap().unwrap();
        assert_eq!(
            run(&r, json!({}), Numbers::Cluster).status,
            RuleStatus::Skip
        );
        let broken = json!({"validate": {"cel": {"expressions": [{"expression": "true"}, {"expression": "1 +"}]}}});
        let error = CelRule::compile(&broken).unwrap_err();
        assert!(
            error.starts_with("validate.cel.expressions[1]: ") && error.contains("`1 +`"),
            "{error}"
        );
    }

    #[test]
    fn params_come_from_param_resources() {
        let r = rule(json!({"cel": {
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "paramRef": {"name": "limits"},
            "expressions": [{"expression": "object.spec.replicas <= int(params.data.max)"}]}}));
        let params = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits", "namespace": "x"}, "data": {"max": "3"}}),
        ];
        let object = json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "x"}, "spec": {"replicas": 5}});
        let input = CelInput {
            object: &object,
            old_object: &Value::Null,
            operation: "CREATE",
            user_info: None,
            numbers: Numbers::Cluster,
            param_resources: &params,
        };
        assert_eq!(evaluate("r", &r, &input).status, RuleStatus::Fail);
        let none = CelInput {
            param_resources: &[],
            ..input
        };
        assert_eq!(evaluate("r", &r, &none).status, RuleStatus::Error);
    }
}
