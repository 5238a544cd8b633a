//! The one place this module talks to CEL: a template's `K8sNativeValidation`
//! source compiled once and evaluated per review, as Gatekeeper's `k8scel`
//! driver does (pkg/drivers/k8scel at dd8507e; the Kubernetes
//! ValidatingAdmissionPolicy validator underneath).
//!
//! What CEL sees: `object` (null for a DELETE), `oldObject`, `request` (the
//! AdmissionRequest without the objects), `namespaceObject` (the review's
//! Namespace when the inventory has it, else null), and `variables`: the
//! driver's `anyObject` (`oldObject` for a DELETE, else `object`) and `params`
//! (the Constraint's `spec.parameters`, or null), then the template's own
//! variables in order. `params` itself (the whole Constraint) is visible to
//! variables only; a validation, message expression or match condition naming
//! it does not compile, as upstream compiles them without params.

use crate::engine::cel::{Activation, CelEnv, CelError, Expression, Numbers, ResultType};
use serde_json::Value;

/// `code[].engine` of a CEL source.
pub const CEL_ENGINE: &str = "K8sNativeValidation";

/// Variable names the driver defines (`variables.anyObject`, `variables.params`),
/// and the prefix it keeps for itself: a template may not declare them.
const RESERVED_VARIABLES: [&str; 2] = ["anyObject", "params"];
const RESERVED_PREFIX: &str = "gatekeeper_internal_";

/// The driver's variables, evaluated before the template's (Gatekeeper's
/// `transform/cel_snippets.go`, restated).
const ANY_OBJECT: &str =
    "has(request.operation) && request.operation == 'DELETE' && object == null ? oldObject : object";
const PARAMS: &str =
    "!has(params.spec) ? null : !has(params.spec.parameters) ? null : params.spec.parameters";

/// The fields of a source Gatekeeper reads (schema.go `Source`). Gatekeeper
/// ignores others; verdict refuses them, so a VAP spelling such as
/// `matchConditions` cannot silently drop a condition.
const SOURCE_FIELDS: &[&str] = &[
    "validations",
    "failurePolicy",
    "matchCondition",
    "variables",
    "generateVAP",
];
const VALIDATION_FIELDS: &[&str] = &["expression", "message", "messageExpression"];
const NAMED_FIELDS: &[&str] = &["name", "expression"];

/// An error naming the first field of `object` (at `at`) not in `known`.
fn check_fields(object: &Value, at: &str, known: &[&str]) -> Result<(), String> {
    match object.as_object().and_then(|o| o.keys().find(|k| !known.contains(&k.as_str()))) {
        None => Ok(()),
        Some(unknown) if unknown == "matchConditions" => Err(format!(
            "{at}.matchConditions is not a field of a K8sNativeValidation source: Gatekeeper spells it matchCondition (singular) and would ignore it"
        )),
        Some(unknown) => Err(format!(
            "{at}.{unknown} is not a field Gatekeeper reads (known: {}); it would be ignored",
            known.join(", ")
        )),
    }
}

/// What a runtime error does: `Fail` (the default) reports it as a violation,
/// `Ignore` admits the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

#[derive(Debug, Clone)]
struct Validation {
    expression: Expression,
    message: String,
    message_expression: Option<Expression>,
}

/// A compiled `K8sNativeValidation` source.
#[derive(Debug, Clone)]
pub(crate) struct CelProgram {
    /// The driver's two variables, then the template's.
    variables: Vec<(String, Expression)>,
    match_conditions: Vec<(String, Expression)>,
    validations: Vec<Validation>,
    pub(crate) failure_policy: FailurePolicy,
}

impl CelProgram {
    /// Compile `code` (one `spec.targets[0].code[]` entry at `field`); an error
    /// names the field of the expression (`...validations[2].expression`) and
    /// the expression.
    pub(crate) fn compile(code: &Value, field: &str) -> Result<CelProgram, String> {
        let env = CelEnv::kubernetes();
        let source = &code["source"];
        if !source.is_object() {
            return Err(format!("{field}.source must be an object"));
        }
        check_fields(source, &format!("{field}.source"), SOURCE_FIELDS)?;
        // Kubernetes' validator compiler checks result types: validations and
        // match conditions bool, messages string, variables anything; a
        // variable has its expression's type in the expressions after it.
        let compile = |at: String,
                       text: &str,
                       params_allowed: bool,
                       wanted: &[ResultType],
                       variables: &[(String, Expression)]|
         -> Result<Expression, String> {
            let expression = env
                .compile_with_variables(text, wanted, variables)
                .map_err(|e| format!("{at}: {e}"))?;
            if !params_allowed && reads_identifier(text, "params") {
                return Err(format!(
                    "{at}: CEL expression `{text}` reads `params`, which only variables may read; use variables.params"
                ));
            }
            Ok(expression)
        };
        let list = |key: &str| -> Result<Vec<Value>, String> {
            match &source[key] {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => Ok(items.clone()),
                other => Err(format!(
                    "{field}.source.{key} must be a list, found {other}"
                )),
            }
        };
        let text = |item: &Value, at: &str, key: &str| -> Result<Option<String>, String> {
            match &item[key] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                other => Err(format!("{at}.{key} must be a string, found {other}")),
            }
        };
        let mut variables = vec![
            (
                "anyObject".to_string(),
                compile("driver variable anyObject".into(), ANY_OBJECT, true, &[], &[])?,
            ),
            (
                "params".to_string(),
                compile("driver variable params".into(), PARAMS, true, &[], &[])?,
            ),
        ];
        for (i, item) in list("variables")?.iter().enumerate() {
            let at = format!("{field}.source.variables[{i}]");
            check_fields(item, &at, NAMED_FIELDS)?;
            let name = text(item, &at, "name")?
                .filter(|n| !n.is_empty())
                .ok_or(format!("{at}.name is missing"))?;
            if RESERVED_VARIABLES.contains(&name.as_str()) || name.starts_with(RESERVED_PREFIX) {
                return Err(format!(
                    "{at}.name {name:?} is reserved by Gatekeeper (anyObject, params and the prefix {RESERVED_PREFIX})"
                ));
            }
            if variables.iter().any(|(n, _)| *n == name) {
                return Err(format!("{at}.name {name:?} is declared twice"));
            }
            let expression =
                text(item, &at, "expression")?.ok_or(format!("{at}.expression is missing"))?;
            let expression = compile(format!("{at}.expression"), &expression, true, &[], &variables)?;
            variables.push((name, expression));
        }
        let mut match_conditions = Vec::new();
        for (i, item) in list("matchCondition")?.iter().enumerate() {
            let at = format!("{field}.source.matchCondition[{i}]");
            check_fields(item, &at, NAMED_FIELDS)?;
            let name = text(item, &at, "name")?.unwrap_or_default();
            if name.starts_with(RESERVED_PREFIX) {
                return Err(format!(
                    "{at}.name {name:?} is reserved by Gatekeeper (the prefix {RESERVED_PREFIX})"
                ));
            }
            let expression =
                text(item, &at, "expression")?.ok_or(format!("{at}.expression is missing"))?;
            match_conditions.push((
                name,
                compile(
                    format!("{at}.expression"),
                    &expression,
                    false,
                    &[ResultType::Bool],
                    &[],
                )?,
            ));
        }
        let mut validations = Vec::new();
        for (i, item) in list("validations")?.iter().enumerate() {
            let at = format!("{field}.source.validations[{i}]");
            check_fields(item, &at, VALIDATION_FIELDS)?;
            let expression =
                text(item, &at, "expression")?.ok_or(format!("{at}.expression is missing"))?;
            let message_expression = match text(item, &at, "messageExpression")? {
                Some(m) if !m.trim().is_empty() => {
                    Some(compile(
                        format!("{at}.messageExpression"),
                        &m,
                        false,
                        &[ResultType::String],
                        &variables,
                    )?)
                }
                _ => None,
            };
            validations.push(Validation {
                expression: compile(
                    format!("{at}.expression"),
                    &expression,
                    false,
                    &[ResultType::Bool],
                    &variables,
                )?,
                message: text(item, &at, "message")?.unwrap_or_default(),
                message_expression,
            });
        }
        if validations.is_empty() {
            return Err(format!(
                "{field}.source.validations must hold at least one validation"
            ));
        }
        let failure_policy = match &source["failurePolicy"] {
            Value::Null => FailurePolicy::Fail,
            Value::String(s) if s == "Fail" => FailurePolicy::Fail,
            Value::String(s) if s == "Ignore" => FailurePolicy::Ignore,
            other => {
                return Err(format!(
                    "{field}.source.failurePolicy must be Fail or Ignore, found {other}"
                ))
            }
        };
        Ok(CelProgram {
            variables,
            match_conditions,
            validations,
            failure_policy,
        })
    }

    /// The violation messages for one AdmissionRequest (`review`, as
    /// `input.review` holds it) against `constraint` (the whole object):
    /// one per failing validation, and per runtime error under `Fail`.
    pub(crate) fn violations(
        &self,
        review: &Value,
        constraint: &Value,
        namespace: Option<&Value>,
    ) -> Vec<String> {
        let mut request = review.clone();
        let (object, old_object) = match request.as_object_mut() {
            Some(fields) => (
                fields.remove("object").unwrap_or(Value::Null),
                fields.remove("oldObject").unwrap_or(Value::Null),
            ),
            None => (Value::Null, Value::Null),
        };
        // The driver clears a DELETE's object; `variables.anyObject` then falls back to oldObject.
        let object = if request["operation"] == "DELETE" {
            Value::Null
        } else {
            object
        };
        let mut activation = Activation::new();
        for (name, value) in [
            ("object", &object),
            ("oldObject", &old_object),
            ("request", &request),
            ("params", constraint),
            ("namespaceObject", namespace.unwrap_or(&Value::Null)),
        ] {
            activation.bind_json(name, value, Numbers::Cluster);
        }
        activation.bind_variables(&self.variables);
        // As Kubernetes' matcher: any false condition skips, else an error follows the policy.
        let mut condition_error = None;
        for (name, condition) in &self.match_conditions {
            match condition.eval_bool(&activation) {
                Ok(true) => {}
                Ok(false) => return Vec::new(),
                Err(e) => {
                    condition_error.get_or_insert_with(|| format!("matchCondition {name:?}: {e}"));
                }
            }
        }
        if let Some(error) = condition_error {
            return self.on_error(error).into_iter().collect();
        }
        let mut messages = Vec::new();
        for validation in &self.validations {
            match validation.expression.eval_bool(&activation) {
                Ok(true) => {}
                Ok(false) => messages.push(validation.message(&activation)),
                Err(e) => messages.extend(self.on_error(error_text(&e))),
            }
        }
        messages
    }

    fn on_error(&self, message: String) -> Option<String> {
        match self.failure_policy {
            FailurePolicy::Fail => Some(message),
            FailurePolicy::Ignore => None,
        }
    }
}

impl Validation {
    /// As Kubernetes' validator: a message expression's non-blank, single-line
    /// result; else `message`; else "failed expression: <expression>".
    fn message(&self, activation: &Activation) -> String {
        if let Some(Ok(text)) = self
            .message_expression
            .as_ref()
            .map(|m| m.eval_string(activation))
        {
            if !text.trim().is_empty() && !text.contains('\n') {
                return text.trim().to_string();
            }
        }
        if !self.message.trim().is_empty() {
            return self.message.trim().to_string();
        }
        format!("failed expression: {}", self.expression.source().trim())
    }
}

/// A runtime error as a violation message: what failed and why.
fn error_text(error: &CelError) -> String {
    error.to_string()
}

/// Whether `source` reads the free identifier `name` (parsed, so strings and
/// field names `x.params` do not count; a comprehension variable of that name shadows it).
fn reads_identifier(source: &str, name: &str) -> bool {
    use cel::common::ast::{EntryExpr, Expr};
    fn walk(expr: &cel::IdedExpr, name: &str) -> bool {
        match &expr.expr {
            Expr::Ident(n) => n == name,
            Expr::Call(call) => {
                call.target.as_deref().is_some_and(|t| walk(t, name))
                    || call.args.iter().any(|a| walk(a, name))
            }
            Expr::Comprehension(c) => {
                let shadowed = c.iter_var == name || c.accu_var == name;
                walk(&c.iter_range, name)
                    || walk(&c.accu_init, name)
                    || (!shadowed
                        && [&c.loop_cond, &c.loop_step, &c.result]
                            .iter()
                            .any(|e| walk(e, name)))
            }
            Expr::Select(s) => walk(&s.operand, name),
            Expr::List(l) => l.elements.iter().any(|e| walk(e, name)),
            Expr::Map(m) => m.entries.iter().any(|e| match &e.expr {
                EntryExpr::MapEntry(e) => walk(&e.key, name) || walk(&e.value, name),
                EntryExpr::StructField(f) => walk(&f.value, name),
            }),
            Expr::Struct(s) => s.entries.iter().any(|e| match &e.expr {
                EntryExpr::MapEntry(e) => walk(&e.key, name) || walk(&e.value, name),
                EntryExpr::StructField(f) => walk(&f.value, name),
            }),
            _ => false,
        }
    }
    cel::parser::Parser::new()
        .parse(source)
        .is_ok_and(|ast| walk(&ast, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn program(source: Value) -> Result<CelProgram, String> {
        CelProgram::compile(
            &json!({"engine": CEL_ENGINE, "source": source}),
            "spec.targets[0].code[0]",
        )
    }

    fn pod_review(labels: Value) -> Value {
        json!({"operation": "", "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels}}})
    }

    fn constraint(parameters: Value) -> Value {
        json!({"kind": "K8sTest", "metadata": {"name": "c"}, "spec": {"parameters": parameters}})
    }

    #[test]
    fn each_failing_validation_is_one_violation_with_its_message() {
        let p = program(json!({
            "variables": [{"name": "labels", "expression": "has(variables.anyObject.metadata.labels) ? variables.anyObject.metadata.labels : {}"}],
            "validations": [
                {"expression": "variables.params.required.all(k, k in variables.labels)", "messageExpression": "'missing: ' + variables.params.required.filter(k, !(k in variables.labels)).join(', ')"},
                {"expression": "size(variables.labels) < 2", "message": "too many labels"},
                {"expression": "size(variables.labels) < 1"},
            ]
        }))
        .unwrap();
        let got = p.violations(
            &pod_review(json!({"a": "1", "b": "2"})),
            &constraint(json!({"required": ["a", "c", "d"]})),
            None,
        );
        assert_eq!(
            got,
            vec![
                "missing: c, d",
                "too many labels",
                "failed expression: size(variables.labels) < 1"
            ]
        );
        assert!(p
            .violations(
                &pod_review(json!({})),
                &constraint(json!({"required": []})),
                None
            )
            .is_empty());
    }

    #[test]
    fn a_blank_or_multi_line_message_expression_falls_back_to_the_message() {
        let p = program(json!({"validations": [
            {"expression": "false", "message": "fixed", "messageExpression": "'two\\nlines'"},
            {"expression": "false", "message": "fixed too", "messageExpression": "string(object.metadata)"},
        ]}))
        .unwrap();
        assert_eq!(
            p.violations(&pod_review(json!({})), &constraint(json!({})), None),
            vec!["fixed", "fixed too"]
        );
    }

    #[test]
    fn params_is_the_constraint_inside_variables_only() {
        let p = program(json!({
            "variables": [{"name": "name", "expression": "params.metadata.name"}],
            "validations": [{"expression": "variables.name == 'c' && variables.params == null", "message": "x"}]
        }))
        .unwrap();
        let no_parameters = json!({"kind": "K8sTest", "metadata": {"name": "c"}, "spec": {}});
        assert!(p
            .violations(&pod_review(json!({})), &no_parameters, None)
            .is_empty());
        let error =
            program(json!({"validations": [{"expression": "params.spec.parameters.x == 1"}]}))
                .unwrap_err();
        assert!(
            error.contains("validations[0].expression") && error.contains("reads `params`"),
            "{error}"
        );
        assert!(
            program(json!({"validations": [{"expression": "[1].all(params, params == 1)"}]}))
                .is_ok()
        );
    }

    #[test]
    fn reserved_variable_names_are_template_errors() {
        for name in ["params", "anyObject", "gatekeeper_internal_x"] {
            let error = program(json!({"variables": [{"name": name, "expression": "1"}], "validations": [{"expression": "true"}]})).unwrap_err();
            assert!(
                error.contains("variables[0].name") && error.contains("reserved"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_runtime_error_is_a_violation_under_fail_and_admits_under_ignore() {
        let source = |policy: &str| json!({"failurePolicy": policy, "validations": [{"expression": "object.spec.missing == 1", "message": "m"}]});
        let fail = program(source("Fail")).unwrap().violations(
            &pod_review(json!({})),
            &constraint(json!({})),
            None,
        );
        assert_eq!(fail.len(), 1);
        assert!(
            fail[0].contains("object.spec.missing == 1") && fail[0].contains("no such key"),
            "{fail:?}"
        );
        assert!(program(source("Ignore"))
            .unwrap()
            .violations(&pod_review(json!({})), &constraint(json!({})), None)
            .is_empty());
        assert!(program(
            json!({"failurePolicy": "Sometimes", "validations": [{"expression": "true"}]})
        )
        .is_err());
    }

    #[test]
    fn a_false_match_condition_means_no_violations() {
        let p = program(json!({
            "matchCondition": [{"name": "labelled", "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels"}],
            "validations": [{"expression": "false", "message": "always"}]
        }))
        .unwrap();
        assert!(p
            .violations(&pod_review(json!({})), &constraint(json!({})), None)
            .is_empty());
        assert_eq!(
            p.violations(
                &pod_review(json!({"team": "a"})),
                &constraint(json!({})),
                None
            ),
            vec!["always"]
        );
    }

    #[test]
    fn any_object_is_the_old_object_of_a_delete() {
        let p = program(json!({"validations": [{"expression": "object == null && variables.anyObject.metadata.name == 'old'", "message": "seen"}]})).unwrap();
        let delete = json!({"operation": "DELETE", "oldObject": {"metadata": {"name": "old"}}, "object": {"metadata": {"name": "old"}}});
        assert!(p
            .violations(&delete, &constraint(json!({})), None)
            .is_empty());
    }

    #[test]
    fn fields_gatekeeper_would_ignore_are_refused() {
        let error = program(json!({"matchConditions": [{"name": "x", "expression": "false"}], "validations": [{"expression": "true"}]})).unwrap_err();
        assert!(
            error.contains("source.matchConditions") && error.contains("matchCondition (singular)"),
            "{error}"
        );
        let error =
            program(json!({"validations": [{"expression": "true", "reason": "Forbidden"}]}))
                .unwrap_err();
        assert!(
            error.contains("validations[0].reason is not a field"),
            "{error}"
        );
        let error = program(json!({"matchCondition": [{"name": "gatekeeper_internal_x", "expression": "true"}], "validations": [{"expression": "true"}]})).unwrap_err();
        assert!(
            error.contains("matchCondition[0].name") && error.contains("reserved"),
            "{error}"
        );
    }

    #[test]
    fn a_compile_error_names_the_field_and_the_expression() {
        let error =
            program(json!({"validations": [{"expression": "true"}, {"expression": "object.(("}]}))
                .unwrap_err();
        assert!(
            error.starts_with("spec.targets[0].code[0].source.validations[1].expression:"),
            "{error}"
        );
        assert!(error.contains("object.(("), "{error}");
    }
}
