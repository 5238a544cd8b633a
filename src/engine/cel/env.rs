//! The CEL environment policies are compiled in: the standard library and
//! macros, optionals, cel-rust's extensions, the Kubernetes libraries and
//! `cel.bind`. The main type here is [`CelEnv`].

use super::budget;
use super::check::{self, ResultType};
use super::error::CelError;
use super::expression::Expression;
use super::library;
use cel::common::ast::{ComprehensionExpr, Expr, ListExpr, LiteralValue};
use cel::common::types::DYN_TYPE;
use cel::parser::{Macro, MacroExprHelper};
use cel::{DeclarationError, Env, ExecutionError, IdedExpr, ParseError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Comprehension iterations one evaluation may make: Kubernetes' per-expression
/// cost limit is 1 000 000 units, an iteration costing at least one.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// Arguments of the declaration probe: more than any CEL function takes.
const PROBE_ARITY: usize = 9;

/// A compiled-in set of functions, macros and options, shared by every
/// expression compiled in it. Cheap to clone.
///
/// ```
/// use verdict::engine::cel::{Activation, CelEnv};
/// let env = CelEnv::kubernetes();
/// let expr = env.compile("quantity('1Gi').isGreaterThan(quantity('512Mi'))").unwrap();
/// assert!(expr.eval_bool(&Activation::new()).unwrap());
/// ```
#[derive(Clone)]
pub struct CelEnv {
    pub(crate) env: Arc<Env>,
    pub(crate) budget: u64,
    /// Function names already probed: declared or not.
    known: Arc<Mutex<HashMap<String, bool>>>,
}

impl std::fmt::Debug for CelEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelEnv")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl CelEnv {
    /// The environment Kubernetes admission CEL runs in (see the module doc).
    pub fn kubernetes() -> CelEnv {
        // Declaring the libraries costs far more than compiling an expression;
        // the environment is immutable, so one per process serves every policy.
        static KUBERNETES: std::sync::OnceLock<CelEnv> = std::sync::OnceLock::new();
        KUBERNETES.get_or_init(|| CelEnvBuilder::kubernetes().build()).clone()
    }

    /// A builder starting from [`CelEnv::kubernetes`], to add a policy kind's
    /// own functions (Kyverno's `resource.*`, `image.*`, ...).
    pub fn builder() -> CelEnvBuilder {
        CelEnvBuilder::kubernetes()
    }

    /// Compiles `source` once: parse, expand macros, check every called
    /// function is declared, and instrument comprehensions for the budget.
    /// Its result may be of any type (a variable's, say).
    pub fn compile(&self, source: &str) -> Result<Expression, CelError> {
        self.compile_as(source, &[])
    }

    /// Compiles a validation or condition: as [`CelEnv::compile`], and an
    /// expression whose result type is known at load and is not `bool` is
    /// a [`CelError::ResultType`], as cel-go's checker rejects it.
    ///
    /// ```
    /// use verdict::engine::cel::CelEnv;
    /// let env = CelEnv::kubernetes();
    /// assert!(env.compile_bool("size(object.spec.containers) > 0").is_ok());
    /// assert!(env.compile_bool("object.spec.hostNetwork").is_ok()); // dyn: checked when evaluated
    /// let error = env.compile_bool("size(object.spec.containers)").unwrap_err();
    /// assert!(error.to_string().contains("must evaluate to bool, found int"), "{error}");
    /// ```
    pub fn compile_bool(&self, source: &str) -> Result<Expression, CelError> {
        self.compile_as(source, &[ResultType::Bool])
    }

    /// Compiles a `messageExpression`, whose known result type must be `string`.
    ///
    /// ```
    /// use verdict::engine::cel::CelEnv;
    /// let env = CelEnv::kubernetes();
    /// assert!(env.compile_string("'replicas: ' + string(object.spec.replicas)").is_ok());
    /// assert!(env.compile_string("object.spec.replicas > 3").is_err());
    /// ```
    pub fn compile_string(&self, source: &str) -> Result<Expression, CelError> {
        self.compile_as(source, &[ResultType::String])
    }

    /// Compiles `source`, which must evaluate to one of `wanted` (any type
    /// when empty) unless its type is only known when evaluated (`dyn`).
    ///
    /// ```
    /// use verdict::engine::cel::{CelEnv, ResultType};
    /// let audit_annotation = [ResultType::String, ResultType::Null];
    /// let env = CelEnv::kubernetes();
    /// // Branches of two types are dyn: checked when evaluated.
    /// assert!(env.compile_as("has(object.spec.x) ? 'x' : null", &audit_annotation).is_ok());
    /// assert!(env.compile_as("null", &audit_annotation).is_ok());
    /// assert!(env.compile_as("1", &audit_annotation).is_err());
    /// ```
    pub fn compile_as(
        &self,
        source: &str,
        wanted: &[ResultType],
    ) -> Result<Expression, CelError> {
        self.compile_with_variables(source, wanted, &[])
    }

    /// [`CelEnv::compile_with_variables`] of a policy field read from a
    /// document: `source` must be a string; every error is prefixed with `at`
    /// (the field and index, e.g. `spec.validations[1]`).
    pub fn compile_field(
        &self,
        at: &str,
        source: &serde_json::Value,
        wanted: &[ResultType],
        variables: &[(String, Expression)],
    ) -> Result<Expression, String> {
        let source = source
            .as_str()
            .ok_or_else(|| format!("{at}: expression must be a string"))?;
        self.compile_with_variables(source, wanted, variables)
            .map_err(|e| format!("{at}: {e}"))
    }

    /// [`CelEnv::compile_field`] of the optional field `key` of `item`
    /// (`messageExpression`): `None` when it is absent or null; errors are
    /// prefixed with `at.key`.
    pub fn compile_optional_field(
        &self,
        at: &str,
        item: &serde_json::Value,
        key: &str,
        wanted: &[ResultType],
        variables: &[(String, Expression)],
    ) -> Result<Option<Expression>, String> {
        match item.get(key).filter(|v| !v.is_null()) {
            Some(source) => self.compile_field(&format!("{at}.{key}"), source, wanted, variables).map(Some),
            None => Ok(None),
        }
    }

    /// As [`CelEnv::compile_as`], where `variables.<name>` has the result
    /// type of the compiled variable `name`, as the upstream compilers
    /// declare each variable with its expression's type.
    ///
    /// ```
    /// use verdict::engine::cel::{CelEnv, ResultType};
    /// let env = CelEnv::kubernetes();
    /// let variables = vec![("names".to_string(), env.compile("object.spec.containers.map(c, c.name)").unwrap())];
    /// let bool_only = [ResultType::Bool];
    /// assert!(env.compile_with_variables("variables.names.all(n, n != '')", &bool_only, &variables).is_ok());
    /// let error = env.compile_with_variables("variables.names", &bool_only, &variables).unwrap_err();
    /// assert!(error.to_string().contains("must evaluate to bool, found list"), "{error}");
    /// ```
    pub fn compile_with_variables(
        &self,
        source: &str,
        wanted: &[ResultType],
        variables: &[(String, Expression)],
    ) -> Result<Expression, CelError> {
        let mut ast = self.parse_checked(source)?;
        let variable_types: Vec<(&str, ResultType)> = variables
            .iter()
            .map(|(name, e)| (name.as_str(), e.result_type()))
            .collect();
        let found = check::result_type(&ast, &|name| self.is_declared(name), &variable_types);
        // No wanted types: any result (a variable's); dyn: only evaluation tells.
        if !wanted.is_empty() && found != ResultType::Dyn && !wanted.contains(&found) {
            return Err(CelError::ResultType {
                expression: source.to_string(),
                wanted: wanted
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                found: found.to_string(),
            });
        }
        use_lenient_or(&mut ast);
        budget::instrument(&mut ast);
        Ok(Expression::new(source.to_string(), ast, self.clone(), found))
    }

    /// The result type `source` is known to have before evaluation
    /// ([`ResultType::Dyn`] when it is not).
    ///
    /// ```
    /// use verdict::engine::cel::{CelEnv, ResultType};
    /// let env = CelEnv::kubernetes();
    /// assert_eq!(env.result_type("object.metadata.name + '-x'").unwrap(), ResultType::String);
    /// assert_eq!(env.result_type("object.metadata.name").unwrap(), ResultType::Dyn);
    /// ```
    pub fn result_type(&self, source: &str) -> Result<ResultType, CelError> {
        let ast = self.parse_checked(source)?;
        Ok(check::result_type(&ast, &|name| self.is_declared(name), &[]))
    }

    /// Parses `source` and checks every called function is declared.
    fn parse_checked(&self, source: &str) -> Result<IdedExpr, CelError> {
        let compile_error = |message: String| CelError::Compile {
            expression: source.to_string(),
            message,
        };
        let parser = self.env.parser();
        let parsed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(source)));
        let ast = match parsed {
            Ok(Ok(ast)) => ast,
            Ok(Err(e)) => return Err(compile_error(e.to_string().trim().to_string())),
            Err(_) => return Err(compile_error("the CEL parser panicked".to_string())),
        };
        if let Some(function) = self.first_unknown_function(&ast) {
            return Err(CelError::UnknownFunction {
                expression: source.to_string(),
                function,
            });
        }
        Ok(ast)
    }

    /// The first function `ast` calls that this environment does not declare.
    fn first_unknown_function(&self, ast: &IdedExpr) -> Option<String> {
        let mut calls = Vec::new();
        collect_calls(ast, &mut calls);
        calls
            .into_iter()
            .find(|(qualified, plain, _)| {
                let known = |name: &str| self.is_declared(name);
                !(qualified.as_deref().is_some_and(known) || known(plain))
            })
            .map(|(qualified, plain, namespaced)| {
                if namespaced {
                    qualified.unwrap_or(plain)
                } else {
                    plain
                }
            })
    }

    /// Whether calling `name` (globally or as a method) reaches a declaration.
    /// Asks the crate itself: a call to an undeclared name fails with
    /// `UndeclaredReference`, a declared one with an overload error. The probe
    /// passes [`PROBE_ARITY`] nulls, which no overload takes, so no function runs.
    pub(crate) fn is_declared(&self, name: &str) -> bool {
        if name.starts_with(['@', '_', '!', '-']) {
            return true; // operators and internal helpers: the parser makes them
        }
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&k) = known.get(name) {
            return k;
        }
        let context = cel::Context::with_env(Arc::clone(&self.env));
        let null = || IdedExpr {
            id: 2,
            expr: Expr::Literal(LiteralValue::Null),
        };
        let undeclared = |target: Option<IdedExpr>| {
            let call = IdedExpr {
                id: 1,
                expr: Expr::Call(cel::common::ast::CallExpr {
                    func_name: name.to_string(),
                    target: target.map(Box::new),
                    args: vec![null(); PROBE_ARITY],
                }),
            };
            matches!(cel::Value::resolve(&call, &context), Err(ExecutionError::UndeclaredReference(n)) if n.as_str() == name)
        };
        let declared = !(undeclared(None) && undeclared(Some(null())));
        known.insert(name.to_string(), declared);
        declared
    }
}

/// Every call in `ast` as (qualified name if its target spells one, plain name).
fn collect_calls(ast: &IdedExpr, out: &mut Vec<(Option<String>, String, bool)>) {
    match &ast.expr {
        Expr::Call(call) => {
            let qualified = call
                .target
                .as_deref()
                .and_then(qualified_name)
                .map(|q| format!("{q}.{}", call.func_name));
            // `object.spec.f()` names `f`; `ns.f()` may be the namespaced function `ns.f`.
            let namespaced = matches!(
                call.target.as_deref().map(|t| &t.expr),
                Some(Expr::Ident(_))
            );
            out.push((qualified, call.func_name.clone(), namespaced));
            if let Some(t) = call.target.as_deref() {
                collect_calls(t, out);
            }
            call.args.iter().for_each(|a| collect_calls(a, out));
        }
        Expr::Comprehension(c) => {
            for e in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                collect_calls(e, out);
            }
        }
        Expr::Select(s) => collect_calls(&s.operand, out),
        Expr::List(l) => l.elements.iter().for_each(|e| collect_calls(e, out)),
        Expr::Map(m) => m.entries.iter().for_each(|e| entry_calls(&e.expr, out)),
        Expr::Struct(s) => s.entries.iter().for_each(|e| entry_calls(&e.expr, out)),
        _ => {}
    }
}

fn entry_calls(entry: &cel::common::ast::EntryExpr, out: &mut Vec<(Option<String>, String, bool)>) {
    match entry {
        cel::common::ast::EntryExpr::MapEntry(e) => {
            collect_calls(&e.key, out);
            collect_calls(&e.value, out);
        }
        cel::common::ast::EntryExpr::StructField(f) => collect_calls(&f.value, out),
    }
}

/// `a.b.c` for an identifier or a chain of plain selects.
fn qualified_name(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(s) if !s.test => Some(format!("{}.{}", qualified_name(&s.operand)?, s.field)),
        _ => None,
    }
}

/// A library registered on the crate's environment.
type Extension = fn(&mut Env) -> Result<(), DeclarationError>;

/// Builds a [`CelEnv`]: the Kubernetes environment plus a policy kind's extras.
pub struct CelEnvBuilder {
    env: Env,
    budget: u64,
}

impl CelEnvBuilder {
    fn kubernetes() -> Self {
        let mut env = Env::stdlib();
        let extensions: [Extension; 7] = [
            cel::extensions::strings,
            cel::extensions::lists,
            cel::extensions::math,
            cel::extensions::encoders,
            library::register,
            register_bind,
            register_lenient_or,
        ];
        for extension in extensions {
            // The built-in set is fixed: a conflict in it is a bug, caught by every test.
            env.add_extension(extension)
                .expect("the built-in CEL libraries declare no conflicting overloads");
        }
        env.add_overload(
            budget::CHARGE,
            budget::CHARGE,
            vec![DYN_TYPE],
            budget::charge,
        )
        .expect("the budget charge is declared once");
        CelEnvBuilder {
            env,
            budget: DEFAULT_BUDGET,
        }
    }

    /// Adds a library of a policy kind: overloads, macros or types declared on
    /// the crate's [`Env`]. Fails when it redeclares an existing overload.
    pub fn extension(
        mut self,
        extension: impl FnOnce(&mut Env) -> Result<(), DeclarationError>,
    ) -> Result<Self, DeclarationError> {
        self.env.add_extension(extension)?;
        Ok(self)
    }

    /// Sets how many comprehension iterations one evaluation may make.
    pub fn budget(mut self, iterations: u64) -> Self {
        self.budget = iterations;
        self
    }

    pub fn build(self) -> CelEnv {
        CelEnv {
            env: Arc::new(self.env),
            budget: self.budget,
            known: Arc::default(),
        }
    }
}

/// cel-go's leniency: `x.orValue(y)` and `x.or(y)` on a value that is not an
/// optional return `x` unchanged (`evalOptionalOrValue`: "if !ok return
/// optLHS"). Policies rely on it (`resource.List(...).items.orValue([])`,
/// `c.volumeMounts.orValue([])`). cel-rust's optional overloads accept any
/// receiver and then fail, so [`CelEnv::compile`] renames these calls to the
/// internal overloads declared here, which handle both cases.
fn register_lenient_or(env: &mut Env) -> Result<(), DeclarationError> {
    use cel::common::types::CelOptional;
    use cel::common::value::CowVal;
    fn or_value<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
        let other = args.remove(1);
        let this = args.remove(0);
        match this.downcast_ref::<CelOptional>() {
            Some(optional) if optional.option().is_some() => {
                let inner = optional.option().expect("checked").clone_as_boxed();
                Ok(CowVal::Owned(inner))
            }
            Some(_) => Ok(other),
            None => Ok(this),
        }
    }
    fn or<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
        let other = args.remove(1);
        let this = args.remove(0);
        match this.downcast_ref::<CelOptional>() {
            Some(optional) if optional.option().is_none() => Ok(other),
            _ => Ok(this),
        }
    }
    env.add_member_overload(LENIENT_OR_VALUE, LENIENT_OR_VALUE, DYN_TYPE, vec![DYN_TYPE], or_value)?;
    env.add_member_overload(LENIENT_OR, LENIENT_OR, DYN_TYPE, vec![DYN_TYPE], or)
}

const LENIENT_OR_VALUE: &str = "@orValue";
const LENIENT_OR: &str = "@or";

/// Points every `x.orValue(y)` / `x.or(y)` at the lenient overloads.
fn use_lenient_or(expr: &mut IdedExpr) {
    match &mut expr.expr {
        Expr::Call(call) => {
            if call.target.is_some() && call.args.len() == 1 {
                match call.func_name.as_str() {
                    "orValue" => call.func_name = LENIENT_OR_VALUE.to_string(),
                    "or" => call.func_name = LENIENT_OR.to_string(),
                    _ => {}
                }
            }
            if let Some(target) = call.target.as_deref_mut() {
                use_lenient_or(target);
            }
            call.args.iter_mut().for_each(use_lenient_or);
        }
        Expr::Comprehension(c) => {
            for child in [&mut c.iter_range, &mut c.accu_init, &mut c.loop_cond, &mut c.loop_step, &mut c.result] {
                use_lenient_or(child);
            }
        }
        Expr::Select(select) => use_lenient_or(&mut select.operand),
        Expr::List(list) => list.elements.iter_mut().for_each(use_lenient_or),
        Expr::Map(map) => map.entries.iter_mut().for_each(|e| lenient_entry(&mut e.expr)),
        Expr::Struct(s) => s.entries.iter_mut().for_each(|e| lenient_entry(&mut e.expr)),
        _ => {}
    }
}

fn lenient_entry(entry: &mut cel::common::ast::EntryExpr) {
    match entry {
        cel::common::ast::EntryExpr::MapEntry(e) => {
            use_lenient_or(&mut e.key);
            use_lenient_or(&mut e.value);
        }
        cel::common::ast::EntryExpr::StructField(f) => use_lenient_or(&mut f.value),
    }
}

/// `cel.bind(name, init, body)`: `body` with `name` bound to `init`,
/// expanded as cel-go does, into a comprehension over an empty list whose
/// accumulator is the bound name.
fn register_bind(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::receiver("bind", 3, bind_macro))
}

fn bind_macro(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "cel") {
        return Ok(None);
    }
    let Expr::Ident(name) = &args[0].expr else {
        return Err(helper.new_error(
            args[0].id,
            "cel.bind() variable name must be a simple identifier",
        ));
    };
    let name = name.clone();
    let body = args.pop().expect("three arguments");
    let init = args.pop().expect("three arguments");
    let bind = ComprehensionExpr {
        iter_range: helper.next_expr(Expr::List(ListExpr::new(Vec::new()))),
        iter_var: "#unused".to_string(),
        iter_var2: None,
        accu_var: name.clone(),
        accu_init: init,
        loop_cond: helper.next_expr(Expr::Literal(LiteralValue::Boolean(false.into()))),
        loop_step: helper.next_expr(Expr::Ident(name)),
        result: body,
    };
    Ok(Some(helper.next_expr(Expr::Comprehension(Box::new(bind)))))
}

#[cfg(test)]
mod tests {
    use super::super::library::testing::holds;
    use super::*;
    use crate::engine::cel::Activation;

    #[test]
    fn an_unknown_function_is_a_compile_error_naming_it() {
        let env = CelEnv::kubernetes();
        let error = env
            .compile("object.spec.frobnicate(1) && size([]) == 0")
            .unwrap_err();
        assert_eq!(
            error,
            CelError::UnknownFunction {
                expression: "object.spec.frobnicate(1) && size([]) == 0".into(),
                function: "frobnicate".into()
            }
        );
        let error = env.compile("nosuch.fn('x')").unwrap_err();
        assert!(error.to_string().contains("`nosuch.fn`"), "{error}");
    }

    #[test]
    fn a_syntax_error_names_the_expression() {
        let error = CelEnv::kubernetes().compile("object.spec.(").unwrap_err();
        assert!(
            matches!(&error, CelError::Compile { expression, .. } if expression == "object.spec.("),
            "{error}"
        );
    }

    #[test]
    fn standard_macros_optionals_and_bind() {
        holds(
            "[1, 2, 3].all(x, x > 0) && [1, 2].exists(x, x == 2) && [1, 2].exists_one(x, x == 2)",
        );
        holds("[1, 2].map(x, x * 2) == [2, 4] && [1, 2, 3].filter(x, x > 1) == [2, 3] && has({'a': 1}.a)");
        holds("{'a': 1}.?b.orValue(5) == 5 && {'a': 1}.?a.hasValue() && optional.none().orValue(1) == 1");
        holds("cel.bind(x, 2, x * x) == 4 && cel.bind(a, [1, 2], cel.bind(b, a.size(), b + a[0])) == 3");
    }

    #[test]
    fn string_extensions() {
        holds("'AbC'.lowerAscii() == 'abc' && 'abc'.upperAscii() == 'ABC' && 'a-b'.replace('-', '+') == 'a+b'");
        holds("'a,b'.split(',') == ['a', 'b'] && ['a', 'b'].join('-') == 'a-b' && ' x '.trim() == 'x'");
        holds("'abc'.indexOf('c') == 2 && 'abca'.lastIndexOf('a') == 3 && 'abc'.substring(1) == 'bc' && 'abc'.charAt(1) == 'b'");
        holds("'%s=%d'.format(['a', 1]) == 'a=1' && strings.quote('a\"b') == '\"a\\\\\"b\"' && 'abc'.reverse() == 'cba'");
        holds("'image:tag'.matches('^[a-z]+:[a-z]+$') && 'abc'.startsWith('a') && 'abc'.endsWith('c') && 'abc'.contains('b')");
    }

    #[test]
    fn a_policy_kind_adds_functions_with_the_builder() {
        let env = CelEnv::builder()
            .extension(|env| {
                env.add_overload("kind.answer", "kind.answer()", vec![], |_| {
                    Ok(cel::common::value::CowVal::owned(
                        cel::common::types::CelInt::from(42),
                    ))
                })
            })
            .unwrap()
            .build();
        assert!(env
            .compile("kind.answer() == 42")
            .unwrap()
            .eval_bool(&Activation::new())
            .unwrap());
        assert!(CelEnv::kubernetes().compile("kind.answer() == 42").is_err());
    }
}

#[cfg(test)]
mod deep_nesting {
    use super::*;

    /// A stack overflow would abort the process, which `catch_unwind` cannot stop.
    #[test]
    fn a_deeply_nested_expression_is_an_error_not_a_crash() {
        let env = CelEnv::kubernetes();
        for (open, close) in [("(", ")"), ("[", "]"), ("-", ""), ("!", "")] {
            let shallow = format!("{}true{}", open.repeat(10), close.repeat(10));
            assert!(env.compile(&shallow).is_ok(), "{shallow}");
            let deep = format!("{}1{}", open.repeat(10_001), close.repeat(10_001));
            match env.compile(&deep) {
                Err(error) => assert!(matches!(error, CelError::Compile { .. }), "{error}"),
                // The parser folds unary chains (`--1` is `1`): evaluating must return, not overflow.
                Ok(expr) => drop(expr.evaluate(&crate::engine::cel::Activation::new())),
            }
        }
    }
}

#[cfg(test)]
mod lenient_or_tests {
    use super::*;
    use crate::engine::cel::Activation;

    #[test]
    fn or_value_on_a_plain_value_returns_it_and_optionals_still_work() {
        let env = CelEnv::kubernetes();
        for (source, want) in [
            ("[1].orValue([]) == [1]", true),
            ("{'a': 1}.?b.orValue(2) == 2", true),
            ("{'a': 1}.?a.orValue(2) == 1", true),
            ("optional.none().or(optional.of(3)).value() == 3", true),
        ] {
            assert_eq!(env.compile(source).unwrap().eval_bool(&Activation::new()).unwrap(), want, "{source}");
        }
    }
}
