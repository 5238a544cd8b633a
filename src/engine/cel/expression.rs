//! A compiled CEL expression and its evaluation. The main type here is [`Expression`].

use super::activation::Activation;
use super::budget;
use super::check::ResultType;
use super::env::CelEnv;
use super::error::CelError;
use cel::{ExecutionError, IdedExpr, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// An expression compiled once (by [`CelEnv::compile`]) and evaluated many
/// times; it keeps its source text for every error it reports.
///
/// ```
/// use verdict::engine::cel::{Activation, CelEnv};
/// let expr = CelEnv::kubernetes().compile("1 / 0 == 1").unwrap();
/// let error = expr.eval_bool(&Activation::new()).unwrap_err();
/// assert!(error.to_string().contains("1 / 0 == 1"));
/// ```
#[derive(Clone)]
pub struct Expression {
    source: Arc<str>,
    ast: Arc<IdedExpr>,
    env: CelEnv,
    result_type: ResultType,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl Expression {
    pub(crate) fn new(source: String, ast: IdedExpr, env: CelEnv, result_type: ResultType) -> Self {
        Expression {
            source: source.into(),
            ast: Arc::new(ast),
            env,
            result_type,
        }
    }

    /// Whether the expression is nothing but a field read of one of `roots`
    /// (`object.spec.hostNetwork`), whose type is `dyn` where `roots` are
    /// declared as untyped maps.
    pub fn is_untyped_field_of(&self, roots: &[&str]) -> bool {
        super::check::is_untyped_field_of(&self.ast, roots)
    }

    /// The result type known at load ([`ResultType::Dyn`] when only
    /// evaluation tells); a later expression reading `variables.<name>` of
    /// this one gets it.
    pub fn result_type(&self) -> ResultType {
        self.result_type
    }

    /// The source text it was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `activation` within the environment's budget. Never
    /// panics: a panic inside the crate is caught and returned as an error.
    pub fn evaluate(&self, activation: &Activation) -> Result<Value, CelError> {
        let mut context = cel::Context::with_env(Arc::clone(&self.env.env));
        context.set_variable_resolver(activation);
        let result = catch_unwind(AssertUnwindSafe(|| {
            budget::with_budget(self.env.budget, || Value::resolve(&self.ast, &context))
        }));
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.execution_error(error, activation)),
            Err(panic) => Err(CelError::Panic {
                expression: self.source.to_string(),
                message: panic_text(&panic),
            }),
        }
    }

    /// Evaluates a validation or condition, which must be a `bool`.
    pub fn eval_bool(&self, activation: &Activation) -> Result<bool, CelError> {
        match self.evaluate(activation)? {
            Value::Bool(b) => Ok(b),
            other => Err(CelError::NotBool {
                expression: self.source.to_string(),
                got: type_name(&other),
            }),
        }
    }

    /// Evaluates a `messageExpression`, which must be a `string`.
    pub fn eval_string(&self, activation: &Activation) -> Result<String, CelError> {
        match self.evaluate(activation)? {
            Value::String(s) => Ok(s.to_string()),
            other => Err(CelError::NotString {
                expression: self.source.to_string(),
                got: type_name(&other),
            }),
        }
    }

    fn execution_error(&self, error: ExecutionError, activation: &Activation) -> CelError {
        let expression = self.source.to_string();
        match &error {
            ExecutionError::FunctionError { message, .. } if message == budget::EXHAUSTED => {
                CelError::Budget {
                    expression,
                    limit: self.env.budget,
                }
            }
            ExecutionError::NoSuchKey(key) => match activation.failed_variable(key) {
                Some(cause) => CelError::Evaluation {
                    expression,
                    message: format!("variable `{key}` failed: {cause}"),
                },
                None => CelError::Evaluation {
                    expression,
                    message: format!("no such key: {key}"),
                },
            },
            ExecutionError::UndeclaredReference(name) => CelError::Evaluation {
                expression,
                message: format!("undeclared reference to `{name}`"),
            },
            ExecutionError::UnsupportedBinaryOperator(op, left, right) => {
                // cel-rust names the operator by its method; CEL (and cel-go's messages) by its overload.
                let op = match *op {
                    "add" => "_+_",
                    "sub" => "_-_",
                    "mul" => "_*_",
                    "div" => "_/_",
                    "rem" => "_%_",
                    other => other,
                };
                CelError::Evaluation {
                    expression,
                    message: format!(
                        "found no matching overload for '{op}' applied to '({}, {})'",
                        type_name(left),
                        type_name(right)
                    ),
                }
            }
            _ => CelError::Evaluation {
                expression,
                message: error.to_string(),
            },
        }
    }
}

/// The CEL name of a value's type, for error messages.
pub fn type_name(value: &Value) -> String {
    match value {
        Value::Float(_) => "double".to_string(),
        Value::Opaque(o) => o.runtime_type_name().to_string(),
        other => other.type_of().to_string(),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::{CelEnv, Numbers};
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn activation(object: serde_json::Value, numbers: Numbers) -> Activation {
        let mut a = Activation::new();
        a.bind_json("object", &object, numbers);
        a
    }

    fn eval(source: &str, a: &Activation) -> Result<Value, CelError> {
        CelEnv::kubernetes().compile(source).unwrap().evaluate(a)
    }

    #[test]
    fn cluster_numbers_add_as_int() {
        let a = activation(json!({"spec": {"replicas": 3}}), Numbers::Cluster);
        assert_eq!(eval("object.spec.replicas + 1", &a), Ok(Value::Int(4)));
    }

    #[test]
    fn kyverno_cli_numbers_have_no_double_plus_int_overload() {
        let a = activation(json!({"spec": {"replicas": 3}}), Numbers::KyvernoCli);
        let error = eval("object.spec.replicas + 1", &a).unwrap_err();
        assert!(
            error.to_string().contains("no matching overload"),
            "{error}"
        );
        assert_eq!(
            eval("object.spec.replicas + 1.0", &a),
            Ok(Value::Float(4.0))
        );
    }

    #[test]
    fn a_message_expression_must_be_a_string() {
        let a = activation(json!({"metadata": {"name": "x"}}), Numbers::Cluster);
        let env = CelEnv::kubernetes();
        assert_eq!(
            env.compile("'name ' + object.metadata.name")
                .unwrap()
                .eval_string(&a),
            Ok("name x".to_string())
        );
        let error = env.compile("1").unwrap().eval_string(&a).unwrap_err();
        assert_eq!(
            error,
            CelError::NotString {
                expression: "1".into(),
                got: "int".into()
            }
        );
    }

    #[test]
    fn kyverno_cli_doubles_still_equal_ints_and_compare() {
        let a = activation(json!({"spec": {"replicas": 3}}), Numbers::KyvernoCli);
        assert_eq!(eval("object.spec.replicas == 3 && object.spec.replicas < 4 && 3 == object.spec.replicas", &a), Ok(Value::Bool(true)));
    }

    #[test]
    fn bad_expressions_are_clean_errors() {
        let a = activation(json!({"spec": {}}), Numbers::Cluster);
        assert!(eval("1 / 0", &a)
            .unwrap_err()
            .to_string()
            .contains("Division by zero"));
        assert!(eval("object.spec.missing == 1", &a)
            .unwrap_err()
            .to_string()
            .contains("no such key: missing"));
        let expr = CelEnv::kubernetes().compile("object.spec").unwrap();
        assert_eq!(
            expr.eval_bool(&a),
            Err(CelError::NotBool {
                expression: "object.spec".into(),
                got: "map".into()
            })
        );
        assert!(eval("undeclared_variable == 1", &a)
            .unwrap_err()
            .to_string()
            .contains("undeclared reference to `undeclared_variable`"));
    }

    #[test]
    fn a_nested_loop_over_a_huge_list_ends_with_a_budget_error() {
        let items: Vec<i64> = (0..100_000).collect();
        let a = activation(json!({ "items": items }), Numbers::Cluster);
        let started = Instant::now();
        let error = eval(
            "object.items.all(x, object.items.all(y, x != y || x == y))",
            &a,
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                CelError::Budget {
                    limit: crate::engine::cel::DEFAULT_BUDGET,
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "took {:?}",
            started.elapsed()
        );
        let error = eval("[1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, [1,2,3,4,5,6,7,8,9,10].map(c, [1,2,3,4,5,6,7,8,9,10].map(d, [1,2,3,4,5,6,7,8,9,10].map(e, [1,2,3,4,5,6,7,8,9,10].map(f, f)))))).size() > 0", &a).unwrap_err();
        assert!(matches!(error, CelError::Budget { .. }), "{error}");
    }

    #[test]
    fn a_loop_within_the_budget_runs_to_the_end() {
        let env = CelEnv::builder().budget(10).build();
        let a = Activation::new();
        assert_eq!(
            env.compile("[1, 2, 3].map(x, [1, 2].map(y, y)).size()")
                .unwrap()
                .evaluate(&a),
            Ok(Value::Int(3))
        );
        assert!(matches!(
            env.compile("[1, 2, 3].map(x, [1, 2, 3].map(y, y)).size()")
                .unwrap()
                .evaluate(&a),
            Err(CelError::Budget { limit: 10, .. })
        ));
    }
}

#[cfg(test)]
mod thread_safety {
    use crate::engine::cel::{Activation, CelEnv, Expression};

    /// Engines are shared across threads: compiled expressions must be too.
    #[test]
    fn compiled_values_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Expression>();
        shared::<CelEnv>();
        shared::<Activation>();
    }
}

#[cfg(test)]
mod concatenation_budget {
    use super::*;
    use crate::engine::cel::CelEnv;

    #[test]
    fn doubling_a_string_without_a_loop_runs_out_of_budget() {
        let env = CelEnv::kubernetes();
        let mut source = "size(x30)".to_string();
        for level in (1..=30).rev() {
            source = format!(
                "cel.bind(x{level}, x{} + x{}, {source})",
                level - 1,
                level - 1
            );
        }
        source = format!("cel.bind(x0, 'ab', {source})");
        let error = env
            .compile(&source)
            .unwrap()
            .evaluate(&Activation::new())
            .unwrap_err();
        assert!(matches!(error, CelError::Budget { .. }), "{error}");
        let ok = env
            .compile("'a' + 'b' + string(1 + 2) == 'ab3' && [1] + [2] == [1, 2]")
            .unwrap();
        assert_eq!(ok.eval_bool(&Activation::new()), Ok(true));
    }
}
