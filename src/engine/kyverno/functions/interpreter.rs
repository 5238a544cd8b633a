//! Tree-walking evaluator over the `jmespath` crate's parsed AST.
//!
//! Kyverno evaluates with its own go-jmespath fork, which differs from the
//! specification in one way that decides policy outcomes: looking up a key
//! that an object does not have is an error ("Unknown key"), which fails the
//! variable substitution, unless the lookup sits where the fork absorbs the
//! error (`||`, function arguments, comparisons, projections, multi-selects).
//! The crate's own interpreter returns `null` there, so verdict walks the AST
//! itself.

use std::borrow::Cow;
use std::fmt;

use jmespath::ast::{Ast, Comparator};
use serde_json::{Map, Value};

use super::{builtin, kyverno};

/// Longest expression accepted; the parser and the evaluator recurse per node.
const MAX_EXPRESSION_BYTES: usize = 64 * 1024;
/// Deepest bracket nesting accepted, for the same reason.
const MAX_NESTING: usize = 32;
/// Most operators (`.`, `|`, `[`, `!`, `,`, comparisons…) outside literals in one expression.
const MAX_OPERATORS: usize = 256;
/// Deepest AST accepted; evaluation recurses once per level on the caller's stack.
const MAX_AST_DEPTH: usize = 64;

pub(crate) static NULL: Value = Value::Null;

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// Kyverno's go-jmespath "Unknown key" error: a path step named a key the object lacks.
    NotFound { key: String },
    /// A function rejected its arguments or failed; the message names the function.
    Function { name: String, message: String },
    /// The expression does not parse, names an unknown function, or is too large.
    Invalid { reason: String },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::NotFound { key } => write!(f, "Unknown key \"{key}\" in path"),
            EvalError::Function { name, message } => {
                write!(f, "JMESPath function '{name}': {message}")
            }
            EvalError::Invalid { reason } => f.write_str(reason),
        }
    }
}

impl std::error::Error for EvalError {}

impl EvalError {
    pub(crate) fn function(name: &str, message: impl Into<String>) -> Self {
        EvalError::Function {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// Comparison operators of the expression language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The evaluator's own tree: literals already converted to `serde_json::Value`,
/// pipes told apart from sub-expressions (the fork treats them differently).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Identity,
    Field(String),
    Index(i32),
    Slice {
        start: Option<i32>,
        stop: Option<i32>,
        step: i32,
    },
    Literal(Value),
    Subexpr {
        lhs: Box<Node>,
        rhs: Box<Node>,
        pipe: bool,
    },
    Projection {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Flatten(Box<Node>),
    ObjectValues(Box<Node>),
    Condition {
        predicate: Box<Node>,
        then: Box<Node>,
    },
    Comparison {
        op: Compare,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    MultiList(Vec<Node>),
    MultiHash(Vec<(String, Node)>),
    Function {
        name: String,
        args: Vec<Node>,
    },
    Expref(Box<Node>),
}

/// A compiled expression, cheap to evaluate many times.
///
/// ```
/// use verdict::engine::kyverno::functions::compile;
/// let expr = compile("request.object.metadata.name | to_upper(@)").unwrap();
/// let ctx = serde_json::json!({"request": {"object": {"metadata": {"name": "web"}}}});
/// assert_eq!(expr.search(&ctx).unwrap(), "WEB");
/// ```
#[derive(Debug, Clone)]
pub struct Expression {
    text: String,
    root: Node,
}

impl Expression {
    /// The source text this was compiled from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Evaluates against `data`.
    pub fn search(&self, data: &Value) -> Result<Value, EvalError> {
        eval(&self.root, data).map(Cow::into_owned)
    }
}

/// Parses `text` with the `jmespath` crate and checks every function name.
pub fn compile(text: &str) -> Result<Expression, EvalError> {
    check_size(text)?;
    let ast = jmespath::parse(text).map_err(|e| EvalError::Invalid {
        reason: format!("invalid JMESPath expression {text:?}: {e}"),
    })?;
    if ast_depth(&ast, 0) > MAX_AST_DEPTH {
        return Err(EvalError::Invalid {
            reason: "JMESPath expression too large (depth)".into(),
        });
    }
    let root = convert(&ast, text)?;
    Ok(Expression {
        text: text.to_string(),
        root,
    })
}

fn check_size(text: &str) -> Result<(), EvalError> {
    let too_big = |what: &str| EvalError::Invalid {
        reason: format!("JMESPath expression too large ({what})"),
    };
    if text.len() > MAX_EXPRESSION_BYTES {
        return Err(too_big("length"));
    }
    // Count structure outside string literals: each operator can add an AST level,
    // and parsing, evaluating and dropping the AST all recurse per level.
    let (mut depth, mut max_depth, mut operators) = (0usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                operators += 1;
                max_depth = max_depth.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '.' | '|' | '&' | '!' | ',' | '<' | '>' | '=' => operators += 1,
            _ => {}
        }
    }
    if max_depth > MAX_NESTING {
        return Err(too_big("nesting"));
    }
    if operators > MAX_OPERATORS {
        return Err(too_big("operators"));
    }
    Ok(())
}

/// Depth of the tree, giving up (returning more than the limit) once past it.
fn ast_depth(ast: &Ast, depth: usize) -> usize {
    if depth > MAX_AST_DEPTH {
        return depth;
    }
    let next = depth + 1;
    match ast {
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Slice { .. }
        | Ast::Literal { .. } => next,
        Ast::Subexpr { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::Comparison { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. } => ast_depth(lhs, next).max(ast_depth(rhs, next)),
        Ast::Condition {
            predicate, then, ..
        } => ast_depth(predicate, next).max(ast_depth(then, next)),
        Ast::Flatten { node, .. } | Ast::ObjectValues { node, .. } | Ast::Not { node, .. } => {
            ast_depth(node, next)
        }
        Ast::Expref { ast, .. } => ast_depth(ast, next),
        Ast::MultiList { elements, .. } => elements
            .iter()
            .map(|e| ast_depth(e, next))
            .max()
            .unwrap_or(next),
        Ast::MultiHash { elements, .. } => elements
            .iter()
            .map(|kv| ast_depth(&kv.value, next))
            .max()
            .unwrap_or(next),
        Ast::Function { args, .. } => args
            .iter()
            .map(|a| ast_depth(a, next))
            .max()
            .unwrap_or(next),
    }
}

fn convert(ast: &Ast, text: &str) -> Result<Node, EvalError> {
    let boxed = |a: &Ast| convert(a, text).map(Box::new);
    Ok(match ast {
        Ast::Identity { .. } => Node::Identity,
        Ast::Field { name, .. } => Node::Field(name.clone()),
        Ast::Index { idx, .. } => Node::Index(*idx),
        Ast::Slice {
            start, stop, step, ..
        } => {
            if *step == 0 {
                return Err(EvalError::Invalid {
                    reason: "slice step cannot be 0".into(),
                });
            }
            Node::Slice {
                start: *start,
                stop: *stop,
                step: *step,
            }
        }
        Ast::Literal { value, .. } => Node::Literal(serde_json::to_value(&**value).map_err(
            |e| EvalError::Invalid {
                reason: format!("bad literal: {e}"),
            },
        )?),
        Ast::Subexpr { offset, lhs, rhs } => Node::Subexpr {
            lhs: boxed(lhs)?,
            rhs: boxed(rhs)?,
            pipe: text
                .get(*offset..)
                .is_some_and(|rest| rest.starts_with('|')),
        },
        Ast::Projection { lhs, rhs, .. } => Node::Projection {
            lhs: boxed(lhs)?,
            rhs: boxed(rhs)?,
        },
        Ast::Flatten { node, .. } => Node::Flatten(boxed(node)?),
        Ast::ObjectValues { node, .. } => Node::ObjectValues(boxed(node)?),
        Ast::Condition {
            predicate, then, ..
        } => Node::Condition {
            predicate: boxed(predicate)?,
            then: boxed(then)?,
        },
        Ast::Comparison {
            comparator,
            lhs,
            rhs,
            ..
        } => Node::Comparison {
            op: match comparator {
                Comparator::Equal => Compare::Eq,
                Comparator::NotEqual => Compare::Ne,
                Comparator::LessThan => Compare::Lt,
                Comparator::LessThanEqual => Compare::Le,
                Comparator::GreaterThan => Compare::Gt,
                Comparator::GreaterThanEqual => Compare::Ge,
            },
            lhs: boxed(lhs)?,
            rhs: boxed(rhs)?,
        },
        Ast::And { lhs, rhs, .. } => Node::And(boxed(lhs)?, boxed(rhs)?),
        Ast::Or { lhs, rhs, .. } => Node::Or(boxed(lhs)?, boxed(rhs)?),
        Ast::Not { node, .. } => Node::Not(boxed(node)?),
        Ast::MultiList { elements, .. } => Node::MultiList(
            elements
                .iter()
                .map(|e| convert(e, text))
                .collect::<Result<_, _>>()?,
        ),
        Ast::MultiHash { elements, .. } => Node::MultiHash(
            elements
                .iter()
                .map(|kv| Ok((kv.key.clone(), convert(&kv.value, text)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
        Ast::Function { name, args, .. } => {
            if !kyverno::is_known(name) && !builtin::is_known(name) {
                return Err(EvalError::Invalid {
                    reason: format!("unknown function: {name}()"),
                });
            }
            Node::Function {
                name: name.clone(),
                args: args
                    .iter()
                    .map(|a| convert(a, text))
                    .collect::<Result<_, _>>()?,
            }
        }
        Ast::Expref { ast, .. } => Node::Expref(boxed(ast)?),
    })
}

/// One evaluated function argument: a value, or an unevaluated `&expr`.
pub(crate) enum Arg<'a> {
    Value(Cow<'a, Value>),
    Expref(&'a Node),
}

/// Arguments of one call, with Kyverno's error wording for bad ones.
pub(crate) struct Args<'a> {
    pub name: &'a str,
    pub items: Vec<Arg<'a>>,
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn arity(&self, expected: usize) -> Result<(), EvalError> {
        if self.items.len() == expected {
            Ok(())
        } else {
            Err(EvalError::function(
                self.name,
                format!("expected {expected} arguments, got {}", self.items.len()),
            ))
        }
    }

    pub fn at_least(&self, expected: usize) -> Result<(), EvalError> {
        if self.items.len() >= expected {
            Ok(())
        } else {
            Err(EvalError::function(
                self.name,
                format!(
                    "expected at least {expected} arguments, got {}",
                    self.items.len()
                ),
            ))
        }
    }

    pub fn type_error(&self, index: usize, expected: &str) -> EvalError {
        EvalError::function(
            self.name,
            format!("argument #{} is not of type {expected}", index + 1),
        )
    }

    pub fn value(&self, index: usize) -> Result<&Value, EvalError> {
        match self.items.get(index) {
            Some(Arg::Value(v)) => Ok(v),
            Some(Arg::Expref(_)) => {
                Err(self.type_error(index, "a value (got an expression reference)"))
            }
            None => Err(EvalError::function(
                self.name,
                format!(
                    "{} argument is out of bounds ({})",
                    index + 1,
                    self.items.len()
                ),
            )),
        }
    }

    pub fn string(&self, index: usize) -> Result<&str, EvalError> {
        self.value(index)?
            .as_str()
            .ok_or_else(|| self.type_error(index, "String"))
    }

    pub fn number(&self, index: usize) -> Result<f64, EvalError> {
        match self.value(index)? {
            Value::Number(n) => n.as_f64().ok_or_else(|| self.type_error(index, "Number")),
            _ => Err(self.type_error(index, "Number")),
        }
    }

    pub fn array(&self, index: usize) -> Result<&Vec<Value>, EvalError> {
        self.value(index)?
            .as_array()
            .ok_or_else(|| self.type_error(index, "Array"))
    }

    pub fn object(&self, index: usize) -> Result<&Map<String, Value>, EvalError> {
        self.value(index)?
            .as_object()
            .ok_or_else(|| self.type_error(index, "Object"))
    }

    pub fn expref(&self, index: usize) -> Result<&'a Node, EvalError> {
        match self.items.get(index) {
            Some(Arg::Expref(node)) => Ok(node),
            _ => Err(self.type_error(index, "expression reference")),
        }
    }
}

/// JMESPath truthiness: false, null, "", [] and {} are false.
pub(crate) fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

/// Deep equality with every number compared as a float, as Go's decoded JSON does.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| values_equal(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn absorb_not_found<'a>(
    result: Result<Cow<'a, Value>, EvalError>,
) -> Result<Cow<'a, Value>, EvalError> {
    match result {
        Err(EvalError::NotFound { .. }) => Ok(Cow::Borrowed(&NULL)),
        other => other,
    }
}

/// Applies `node` to the value `cow`, keeping borrows when the input is borrowed.
fn eval_on<'a>(node: &'a Node, cow: Cow<'a, Value>) -> Result<Cow<'a, Value>, EvalError> {
    match cow {
        Cow::Borrowed(value) => eval(node, value),
        Cow::Owned(value) => Ok(Cow::Owned(eval(node, &value)?.into_owned())),
    }
}

pub(crate) fn eval<'a>(node: &'a Node, data: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
    match node {
        Node::Identity => Ok(Cow::Borrowed(data)),
        Node::Field(name) => match data {
            Value::Object(map) => match map.get(name) {
                Some(value) => Ok(Cow::Borrowed(value)),
                None => Err(EvalError::NotFound { key: name.clone() }),
            },
            _ => Ok(Cow::Borrowed(&NULL)),
        },
        Node::Index(idx) => Ok(match data {
            Value::Array(items) => {
                let len = items.len() as i64;
                let at = if *idx < 0 {
                    len + i64::from(*idx)
                } else {
                    i64::from(*idx)
                };
                if at >= 0 && at < len {
                    Cow::Borrowed(&items[at as usize])
                } else {
                    Cow::Borrowed(&NULL)
                }
            }
            _ => Cow::Borrowed(&NULL),
        }),
        Node::Slice { start, stop, step } => Ok(match data {
            Value::Array(items) => Cow::Owned(Value::Array(slice(items, *start, *stop, *step))),
            _ => Cow::Borrowed(&NULL),
        }),
        Node::Literal(value) => Ok(Cow::Borrowed(value)),
        Node::Subexpr { lhs, rhs, pipe } => {
            let left = if *pipe {
                absorb_not_found(eval(lhs, data))?
            } else {
                eval(lhs, data)?
            };
            if *pipe {
                absorb_not_found(eval_on(rhs, left))
            } else {
                eval_on(rhs, left)
            }
        }
        Node::Projection { lhs, rhs } => eval_projection(lhs, rhs, data),
        Node::Flatten(inner) => eval_flatten(inner, data),
        Node::ObjectValues(inner) => eval_object_values(inner, data),
        Node::MultiList(elements) => eval_multi_list(elements, data),
        Node::MultiHash(pairs) => eval_multi_hash(pairs, data),
        Node::Function { name, args } => eval_function(name, args, data),
        _ => eval_simple(node, data),
    }
}

#[inline(never)]
fn eval_projection<'a>(
    lhs: &Node,
    rhs: &Node,
    data: &'a Value,
) -> Result<Cow<'a, Value>, EvalError> {
    let left = match eval(lhs, data) {
        Ok(left) => left,
        Err(EvalError::NotFound { .. }) => return Ok(Cow::Borrowed(&NULL)),
        Err(_) if matches!(rhs, Node::Condition { .. }) => return Ok(Cow::Borrowed(&NULL)),
        Err(e) => return Err(e),
    };
    let Value::Array(items) = &*left else {
        return Ok(Cow::Borrowed(&NULL));
    };
    let mut collected = Vec::with_capacity(items.len());
    for item in items {
        let current = absorb_not_found(eval(rhs, item))?;
        if !current.is_null() {
            collected.push(current.into_owned());
        }
    }
    Ok(Cow::Owned(Value::Array(collected)))
}

#[inline(never)]
fn eval_flatten<'a>(inner: &Node, data: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
    let Ok(left) = eval(inner, data) else {
        return Ok(Cow::Borrowed(&NULL));
    };
    let Value::Array(items) = &*left else {
        return Ok(Cow::Borrowed(&NULL));
    };
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Array(inner) => flat.extend(inner.iter().cloned()),
            other => flat.push(other.clone()),
        }
    }
    Ok(Cow::Owned(Value::Array(flat)))
}

#[inline(never)]
fn eval_object_values<'a>(inner: &Node, data: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
    let Ok(left) = eval(inner, data) else {
        return Ok(Cow::Borrowed(&NULL));
    };
    match &*left {
        Value::Object(map) => Ok(Cow::Owned(Value::Array(map.values().cloned().collect()))),
        _ => Ok(Cow::Borrowed(&NULL)),
    }
}

#[inline(never)]
fn eval_simple<'a>(node: &'a Node, data: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
    match node {
        Node::Condition { predicate, then } => {
            let test = absorb_not_found(eval(predicate, data))?;
            if is_truthy(&test) {
                absorb_not_found(eval(then, data))
            } else {
                Ok(Cow::Borrowed(&NULL))
            }
        }
        Node::Comparison { op, lhs, rhs } => {
            let left = absorb_not_found(eval(lhs, data))?;
            let right = absorb_not_found(eval(rhs, data))?;
            Ok(Cow::Owned(compare(*op, &left, &right)))
        }
        Node::And(lhs, rhs) => {
            let left = absorb_not_found(eval(lhs, data))?;
            if !is_truthy(&left) {
                return Ok(left);
            }
            eval(rhs, data)
        }
        Node::Or(lhs, rhs) => {
            let left = absorb_not_found(eval(lhs, data))?;
            if is_truthy(&left) {
                return Ok(left);
            }
            absorb_not_found(eval(rhs, data))
        }
        Node::Not(inner) => {
            let value = absorb_not_found(eval(inner, data))?;
            Ok(Cow::Owned(Value::Bool(!is_truthy(&value))))
        }
        Node::Expref(_) => Err(EvalError::Invalid {
            reason: "expression reference ('&') outside a function argument".into(),
        }),
        _ => unreachable!("eval dispatches every other node"),
    }
}

#[inline(never)]
fn eval_multi_list<'a>(elements: &[Node], data: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
    if data.is_null() {
        return Ok(Cow::Borrowed(&NULL));
    }
    let mut out = Vec::with_capacity(elements.len());
    for element in elements {
        out.push(absorb_not_found(eval(element, data))?.into_owned());
    }
    Ok(Cow::Owned(Value::Array(out)))
}

#[inline(never)]
fn eval_multi_hash<'a>(
    pairs: &[(String, Node)],
    data: &'a Value,
) -> Result<Cow<'a, Value>, EvalError> {
    if data.is_null() {
        return Ok(Cow::Borrowed(&NULL));
    }
    let mut out = Map::new();
    for (key, value) in pairs {
        out.insert(
            key.clone(),
            absorb_not_found(eval(value, data))?.into_owned(),
        );
    }
    Ok(Cow::Owned(Value::Object(out)))
}

#[inline(never)]
fn eval_function<'a>(
    name: &str,
    args: &[Node],
    data: &'a Value,
) -> Result<Cow<'a, Value>, EvalError> {
    let mut items = Vec::with_capacity(args.len());
    for arg in args {
        items.push(match arg {
            Node::Expref(inner) => Arg::Expref(inner),
            other => Arg::Value(absorb_not_found(eval(other, data))?),
        });
    }
    let args = Args { name, items };
    let result = match kyverno::call(&args) {
        Some(result) => result,
        None => builtin::call(&args).unwrap_or_else(|| {
            Err(EvalError::Invalid {
                reason: format!("unknown function: {name}()"),
            })
        }),
    };
    result.map(Cow::Owned)
}

fn compare(op: Compare, left: &Value, right: &Value) -> Value {
    match op {
        Compare::Eq => Value::Bool(values_equal(left, right)),
        Compare::Ne => Value::Bool(!values_equal(left, right)),
        _ => {
            let (Some(l), Some(r)) = (left.as_f64(), right.as_f64()) else {
                return Value::Null;
            };
            Value::Bool(match op {
                Compare::Lt => l < r,
                Compare::Le => l <= r,
                Compare::Gt => l > r,
                _ => l >= r,
            })
        }
    }
}

fn slice(items: &[Value], start: Option<i32>, stop: Option<i32>, step: i32) -> Vec<Value> {
    let len = items.len() as i64;
    let step = i64::from(step);
    let clamp = |value: Option<i32>, default: i64| -> i64 {
        match value {
            None => default,
            Some(v) => {
                let v = i64::from(v);
                if v < 0 {
                    let shifted = v + len;
                    if shifted < 0 {
                        if step < 0 {
                            -1
                        } else {
                            0
                        }
                    } else {
                        shifted
                    }
                } else if v >= len {
                    if step < 0 {
                        len - 1
                    } else {
                        len
                    }
                } else {
                    v
                }
            }
        }
    };
    let (begin, end) = if step > 0 {
        (clamp(start, 0), clamp(stop, len))
    } else {
        (clamp(start, len - 1), clamp(stop, -1))
    };
    let mut out = Vec::new();
    let mut i = begin;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        if i >= 0 && i < len {
            out.push(items[i as usize].clone());
        }
        i += step;
    }
    out
}
