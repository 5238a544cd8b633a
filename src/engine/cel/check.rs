//! The result type of an expression, inferred at load so that a validation
//! which can never be a `bool` (`'abc'`, `size(x)`, `[1, 2]`) is a load
//! error, as cel-go's checker makes it in Kubernetes, Kyverno and
//! Gatekeeper. The main item here is [`result_type`].
//!
//! cel-rust has no type checker and verdict declares no schema for `object`,
//! `params` or `variables`, so this is deliberately partial: literals,
//! operators, macros and the library functions whose every overload returns
//! one type. Everything else (identifiers, field selections, indexing,
//! `variables.x`, any other call) is [`ResultType::Dyn`], which is never
//! rejected here and is left to the runtime check. Overloads of an operator
//! resolve as cel-go's `resolveOverload` does: each overload whose parameters
//! accept the argument types (a `dyn` argument accepts any) contributes its
//! result; one result type is that type, differing ones are `dyn`.

use cel::common::ast::{operators, Expr, LiteralValue};
use cel::IdedExpr;
use std::fmt;

/// What an expression evaluates to, as far as can be known before evaluating.
///
/// ```
/// use verdict::engine::cel::{CelEnv, ResultType};
/// let env = CelEnv::kubernetes();
/// assert_eq!(env.result_type("size(object.spec.containers)").unwrap(), ResultType::Int);
/// assert_eq!(ResultType::Opaque("kubernetes.Quantity").to_string(), "kubernetes.Quantity");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    List,
    Map,
    Null,
    Timestamp,
    Duration,
    Type,
    /// An opaque library type (`kubernetes.Quantity`, `net.IP`, ...).
    Opaque(&'static str),
    /// Unknown until evaluation: never a load error.
    Dyn,
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ResultType::Bool => "bool",
            ResultType::Int => "int",
            ResultType::Uint => "uint",
            ResultType::Double => "double",
            ResultType::String => "string",
            ResultType::Bytes => "bytes",
            ResultType::List => "list",
            ResultType::Map => "map",
            ResultType::Null => "null_type",
            ResultType::Timestamp => "google.protobuf.Timestamp",
            ResultType::Duration => "google.protobuf.Duration",
            ResultType::Type => "type",
            ResultType::Opaque(name) => name,
            ResultType::Dyn => "dyn",
        };
        f.write_str(name)
    }
}

use ResultType::*;

const QUANTITY: ResultType = Opaque("kubernetes.Quantity");
const URL: ResultType = Opaque("kubernetes.URL");
const IP: ResultType = Opaque("net.IP");
const CIDR: ResultType = Opaque("net.CIDR");
const SEMVER: ResultType = Opaque("kubernetes.Semver");

/// Deeper than this the type is not inferred (dyn): the parser accepts deep
/// nesting, and a load check must not be the thing that overflows the stack.
const MAX_DEPTH: usize = 256;

/// The result type of a parsed expression. `is_function(name)` says whether
/// the environment declares `name`, so that `ns.f(x)` is read as the
/// namespaced function `ns.f`, as cel-go's checker reads it, when declared.
/// `variables` are the types of the policy's variables, read as `variables.<name>`.
pub(crate) fn result_type(
    ast: &IdedExpr,
    is_function: &dyn Fn(&str) -> bool,
    variables: &[(&str, ResultType)],
) -> ResultType {
    Inference {
        is_function,
        variables,
        scope: Vec::new(),
    }
    .infer(ast, 0)
}

/// Whether `ast` is a plain field read (`a.b.c`, `a['b']`) of one of
/// `roots`: declared `map(string, dyn)`, as Kyverno declares `object` and
/// `oldObject`, such a read is `dyn` for cel-go's checker too, which Kyverno's
/// compiler then rejects where it wants exactly `bool`.
pub(crate) fn is_untyped_field_of(ast: &IdedExpr, roots: &[&str]) -> bool {
    let mut node = ast;
    let mut steps = 0;
    loop {
        match &node.expr {
            Expr::Select(select) if !select.test => node = &select.operand,
            Expr::Call(call) if call.func_name == operators::INDEX && call.args.len() == 2 && call.target.is_none() => {
                node = &call.args[0]
            }
            Expr::Ident(name) => return steps > 0 && roots.contains(&name.as_str()),
            _ => return false,
        }
        steps += 1;
    }
}

struct Inference<'a> {
    is_function: &'a dyn Fn(&str) -> bool,
    variables: &'a [(&'a str, ResultType)],
    /// Comprehension variables in scope, innermost last.
    scope: Vec<(std::string::String, ResultType)>,
}

impl Inference<'_> {
    fn infer(&mut self, ast: &IdedExpr, depth: usize) -> ResultType {
        if depth > MAX_DEPTH {
            return Dyn;
        }
        match &ast.expr {
            Expr::Literal(literal) => match literal {
                LiteralValue::Boolean(_) => Bool,
                LiteralValue::Bytes(_) => Bytes,
                LiteralValue::Double(_) => Double,
                LiteralValue::Int(_) => Int,
                LiteralValue::Null => Null,
                LiteralValue::String(_) => String,
                LiteralValue::UInt(_) => Uint,
            },
            Expr::List(_) => List,
            Expr::Map(_) => Map,
            // `has(x.f)` is a test select; a plain select reads an untyped field.
            Expr::Select(select) => {
                if select.test {
                    Bool
                } else {
                    self.policy_variable(&select.operand, &select.field)
                }
            }
            Expr::Ident(name) => self.variable(name),
            Expr::Call(call) => {
                let args: Vec<ResultType> =
                    call.args.iter().map(|a| self.infer(a, depth + 1)).collect();
                match call.target.as_deref() {
                    None => self.global_call(&call.func_name, &args),
                    Some(target) => {
                        if let Some(namespaced) = self.namespaced_name(target, &call.func_name) {
                            return namespaced_call(&namespaced);
                        }
                        let receiver = self.infer(target, depth + 1);
                        member_call(&call.func_name, receiver, &args)
                    }
                }
            }
            Expr::Comprehension(c) => {
                let init = self.infer(&c.accu_init, depth + 1);
                // The accumulator keeps its type only when every step does too
                // (cel-go asserts it; a step of another type is not ours to judge).
                self.scope.push((c.accu_var.clone(), init));
                self.scope.push((c.iter_var.clone(), Dyn));
                if let Some(second) = &c.iter_var2 {
                    self.scope.push((second.clone(), Dyn));
                }
                let step = self.infer(&c.loop_step, depth + 1);
                let pushed_iter = 1 + usize::from(c.iter_var2.is_some());
                self.scope.truncate(self.scope.len() - pushed_iter - 1);
                let accu = if step == init { init } else { Dyn };
                self.scope.push((c.accu_var.clone(), accu));
                let result = self.infer(&c.result, depth + 1);
                self.scope.pop();
                result
            }
            Expr::Struct(_) | Expr::Unspecified => Dyn,
        }
    }

    /// `variables.<field>`: the type of the policy variable, unless a
    /// comprehension variable named `variables` hides it.
    fn policy_variable(&self, operand: &IdedExpr, field: &str) -> ResultType {
        match &operand.expr {
            Expr::Ident(name)
                if name == "variables" && !self.scope.iter().any(|(n, _)| n == name) =>
            {
                self.variables
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == field)
                    .map_or(Dyn, |(_, t)| *t)
            }
            _ => Dyn,
        }
    }

    fn variable(&self, name: &str) -> ResultType {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or(Dyn, |(_, t)| *t)
    }

    /// `ns.f` when `target` spells the name `ns` (not a comprehension
    /// variable) and the environment declares `ns.f`.
    fn namespaced_name(&self, target: &IdedExpr, function: &str) -> Option<std::string::String> {
        let qualified = qualified_name(target)?;
        let root = qualified.split('.').next().unwrap_or_default();
        if self.scope.iter().any(|(n, _)| n == root) {
            return None;
        }
        let name = format!("{qualified}.{function}");
        (self.is_function)(&name).then_some(name)
    }

    fn global_call(&self, name: &str, args: &[ResultType]) -> ResultType {
        match name {
            operators::LOGICAL_AND
            | operators::LOGICAL_OR
            | operators::LOGICAL_NOT
            | operators::NOT_STRICTLY_FALSE
            | operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS
            | operators::IN => Bool,
            operators::CONDITIONAL => match args {
                [_, then, otherwise] if then == otherwise => *then,
                _ => Dyn,
            },
            operators::NEGATE => match args {
                [Int] => Int,
                [Double] => Double,
                _ => Dyn,
            },
            operators::ADD
            | operators::SUBSTRACT
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO => match args {
                [left, right] => arithmetic(name, *left, *right),
                _ => Dyn,
            },
            "size" => Int,
            "int" => Int,
            "uint" => Uint,
            "double" => Double,
            "string" => String,
            "bytes" => Bytes,
            "bool" => Bool,
            "timestamp" => Timestamp,
            "duration" => Duration,
            "type" => Type,
            "matches" | "isQuantity" | "isURL" | "isIP" | "isCIDR" | "isSemver" => Bool,
            "quantity" => QUANTITY,
            "url" => URL,
            "ip" => IP,
            "cidr" => CIDR,
            "semver" => SEMVER,
            _ => Dyn,
        }
    }
}

/// Namespaced library functions with one result type.
fn namespaced_call(name: &str) -> ResultType {
    match name {
        "sets.contains" | "sets.equivalent" | "sets.intersects" | "ip.isCanonical" => Bool,
        "strings.quote" | "base64.encode" => String,
        "base64.decode" => Bytes,
        _ => Dyn,
    }
}

/// Member functions whose every overload in the environment returns one
/// type, whatever the receiver; a few more when the receiver's type is known.
fn member_call(name: &str, receiver: ResultType, args: &[ResultType]) -> ResultType {
    match name {
        "size" | "indexOf" | "lastIndexOf" | "compareTo" | "sign" | "asInteger" | "major"
        | "minor" | "patch" | "family" | "prefixLength" | "getFullYear" | "getMonth"
        | "getDate" | "getDayOfMonth" | "getDayOfWeek" | "getDayOfYear" | "getHours"
        | "getMinutes" | "getSeconds" | "getMilliseconds" => Int,
        "contains"
        | "startsWith"
        | "endsWith"
        | "matches"
        | "isSorted"
        | "isGreaterThan"
        | "isLessThan"
        | "isInteger"
        | "isUnspecified"
        | "isLoopback"
        | "isLinkLocalMulticast"
        | "isLinkLocalUnicast"
        | "isGlobalUnicast"
        | "containsIP"
        | "containsCIDR"
        | "hasValue" => Bool,
        "lowerAscii" | "upperAscii" | "trim" | "replace" | "format" | "join" | "substring"
        | "charAt" | "find" | "getScheme" | "getHost" | "getHostname" | "getPort"
        | "getEscapedPath" => String,
        "split" | "findAll" => List,
        "getQuery" => Map,
        "asApproximateFloat" => Double,
        "masked" => CIDR,
        "ip" if args.is_empty() => IP,
        "add" | "sub" if receiver == QUANTITY => QUANTITY,
        "reverse" if receiver == String => String,
        _ => Dyn,
    }
}

/// `left op right` by cel-go's standard overloads of the arithmetic operators.
fn arithmetic(op: &str, left: ResultType, right: ResultType) -> ResultType {
    const NUMBERS: [(ResultType, ResultType, ResultType); 3] = [
        (Int, Int, Int),
        (Uint, Uint, Uint),
        (Double, Double, Double),
    ];
    let overloads: Vec<(ResultType, ResultType, ResultType)> = match op {
        operators::ADD => [
            &NUMBERS[..],
            &[
                (String, String, String),
                (Bytes, Bytes, Bytes),
                (List, List, List),
                (Timestamp, Duration, Timestamp),
                (Duration, Timestamp, Timestamp),
                (Duration, Duration, Duration),
            ],
        ]
        .concat(),
        operators::SUBSTRACT => [
            &NUMBERS[..],
            &[
                (Timestamp, Timestamp, Duration),
                (Timestamp, Duration, Timestamp),
                (Duration, Duration, Duration),
            ],
        ]
        .concat(),
        operators::MODULO => NUMBERS[..2].to_vec(),
        _ => NUMBERS.to_vec(),
    };
    let accepts = |param: ResultType, arg: ResultType| arg == Dyn || arg == param;
    let mut results = overloads
        .iter()
        .filter(|(l, r, _)| accepts(*l, left) && accepts(*r, right))
        .map(|(_, _, result)| *result);
    match results.next() {
        Some(first) if results.all(|r| r == first) => first,
        // No overload: cel-go rejects the call itself; verdict leaves it to evaluation.
        _ => Dyn,
    }
}

/// `a.b.c` for an identifier or a chain of plain selects.
fn qualified_name(expr: &IdedExpr) -> Option<std::string::String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(s) if !s.test => Some(format!("{}.{}", qualified_name(&s.operand)?, s.field)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::CelEnv;

    fn inferred(source: &str) -> ResultType {
        CelEnv::kubernetes()
            .result_type(source)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn bare_fields_of_untyped_roots() {
        let env = CelEnv::kubernetes();
        let bare = |source: &str| env.compile(source).unwrap().is_untyped_field_of(&["object", "oldObject"]);
        for source in ["object.spec.hostNetwork", "oldObject.spec['x'].y", "object['metadata']"] {
            assert!(bare(source), "{source}");
        }
        for source in ["object", "object.spec.x == true", "has(object.spec.x)", "params.spec.x", "[object.a][0]", "object.a.startsWith('x')"] {
            assert!(!bare(source), "{source}");
        }
    }

    #[test]
    fn known_results() {
        for (source, want) in [
            ("'abc'", String),
            ("1 + 2", Int),
            ("1u * 2u", Uint),
            ("2.0 / 1.0", Double),
            ("[1, 2]", List),
            ("{'a': 1}", Map),
            ("null", Null),
            ("b'x'", Bytes),
            ("size(object.spec.containers)", Int),
            ("object.spec.containers.size()", Int),
            ("object.metadata.name + 'x'", String),
            ("'x' + object.metadata.name", String),
            ("object.spec.replicas + 1", Int),
            ("object.spec.containers.map(c, c.name)", List),
            ("object.spec.containers.filter(c, c.name == 'a')", List),
            ("object.spec.containers.map(c, has(c.image), c.name)", List),
            ("[1, 2] + object.extra", List),
            ("object.a ? 'x' : 'y'", String),
            ("-1", Int),
            ("string(object.spec.replicas)", String),
            ("int('1')", Int),
            ("type(object)", Type),
            (
                "timestamp('2024-01-01T00:00:00Z') - timestamp('2023-01-01T00:00:00Z')",
                Duration,
            ),
            (
                "timestamp('2024-01-01T00:00:00Z') + duration('1h')",
                Timestamp,
            ),
            ("object.metadata.name.lowerAscii()", String),
            ("object.metadata.name.split('-')", List),
            ("['a', 'b'].join(',')", String),
            ("'%s'.format([1])", String),
            ("quantity('1Gi')", QUANTITY),
            ("quantity('1Gi').add(quantity('1'))", QUANTITY),
            ("url('https://x').getHost()", String),
            ("cidr('10.0.0.0/8').ip()", IP),
            ("semver('1.0.0').major()", Int),
            ("'abc'.reverse()", String),
            ("'a1'.findAll('[0-9]')", List),
            ("cel.bind(x, 'a', x + 'b')", String),
            ("cel.bind(x, object.spec, x.replicas)", Dyn),
            ("[1, 2].exists_one(x, x == 1) ? 1 : 2", Int),
            ("strings.quote('a')", String),
            ("base64.decode('YQ==')", Bytes),
        ] {
            assert_eq!(inferred(source), want, "{source}");
        }
    }

    #[test]
    fn bool_results() {
        for source in [
            "true",
            "!object.spec.hostNetwork",
            "object.a && object.b",
            "object.a || object.b",
            "object.spec.replicas > 1",
            "object.metadata.name == 'x'",
            "'a' in object.metadata.labels",
            "has(object.spec.hostNetwork)",
            "object.spec.containers.all(c, c.name != '')",
            "object.spec.containers.exists(c, c.name == 'x')",
            "object.spec.containers.exists_one(c, c.name == 'x')",
            "object.metadata.labels.all(k, v, k != v)",
            "object.metadata.name.startsWith('a')",
            "object.metadata.name.matches('^a')",
            "matches(object.metadata.name, '^a')",
            "sets.contains([1], [1])",
            "isQuantity('1')",
            "quantity('1').isGreaterThan(quantity('0'))",
            "[1, 2].isSorted()",
            "ip('10.0.0.1').isLoopback()",
            "cidr('10.0.0.0/8').containsIP('10.0.0.1')",
            "ip.isCanonical('10.0.0.1')",
            "object.?spec.hasValue()",
            "cel.bind(n, object.metadata.name, n == 'x')",
        ] {
            assert_eq!(inferred(source), Bool, "{source}");
        }
    }

    /// Anything the checker cannot be sure of stays dyn, so it is never rejected.
    #[test]
    fn unknown_results_stay_dyn() {
        for source in [
            "object.spec.hostNetwork",
            "object.spec.containers[0]",
            "variables.isPrivileged",
            "params.enabled",
            "object.a ? 'x' : 1",
            "object.a ? true : object.b",
            "object.a + object.b",
            "1 + 2.0",
            "timestamp('2024-01-01T00:00:00Z') - object.x",
            "object.spec.containers.map(c, c.name)[0]",
            "[1, 2].sum()",
            "[1, 2].max()",
            "object.?spec.orValue(true)",
            "object.x.reverse()",
            "object.x.add(1)",
            "dyn('a')",
            "optional.of(1).value()",
            "object.spec.containers.transformMap(i, c, c.name)",
            "math.greatest([1, 2])",
            "{'a': true}['a']",
            "{'a': true}.a",
        ] {
            assert_eq!(inferred(source), Dyn, "{source}");
        }
    }

    #[test]
    fn a_comprehension_variable_shadows_a_namespace() {
        // `sets` bound by the macro is a value, so `sets.contains(...)` is a member call:
        // `contains` still returns bool, `format` would still be string.
        assert_eq!(inferred("[1].all(strings, strings.quote(1))"), Bool);
        assert_eq!(inferred("['a'].map(strings, strings.quote(1))"), List);
        assert_eq!(
            inferred("cel.bind(base64, object.x, base64.decode(1))"),
            Dyn
        );
    }

    #[test]
    fn a_policy_variable_has_its_expression_type() {
        let env = CelEnv::kubernetes();
        let is_function = |name: &str| env.is_declared(name);
        let parse = |source: &str| env.env.parser().parse(source).unwrap();
        let variables = [("count", Int), ("names", List), ("object", Dyn)];
        for (source, want) in [
            ("variables.count", Int),
            ("variables.names", List),
            ("variables.object", Dyn),
            ("variables.missing", Dyn),
            ("variables.count > 1", Bool),
            ("variables.count + 1", Int),
            // A comprehension variable named `variables` hides the policy's.
            ("[{'count': true}].map(variables, variables.count)", List),
            ("cel.bind(variables, {'count': 'a'}, variables.count)", Dyn),
        ] {
            assert_eq!(
                result_type(&parse(source), &is_function, &variables),
                want,
                "{source}"
            );
        }
    }

    #[test]
    fn a_long_expression_returns() {
        let nested = format!("{}1{}", "[".repeat(90), "]".repeat(90));
        assert_eq!(inferred(&nested), List);
        // The parser builds a left-deep tree for a chain: past the depth limit it is dyn.
        let sum = vec!["object.x"; 1000].join(" + ");
        assert_eq!(inferred(&sum), Dyn);
        let sum = vec!["1"; 1000].join(" + ");
        assert_eq!(inferred(&sum), Int);
    }
}
