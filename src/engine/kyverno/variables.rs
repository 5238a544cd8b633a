//! Kyverno variable substitution: `{{ expr }}` in strings (and object keys)
//! of a rule document, evaluated as JMESPath against the admission context,
//! plus `$(./../path)` references inside the document itself.
//!
//! The main entry points here are [`substitute_all`] and [`query`].
//!
//! Typing follows Kyverno: a string that is exactly one variable takes the
//! result's JSON type; a variable embedded in a longer string is replaced by
//! the result's text (`json.Marshal` for non-strings). Nested variables
//! (`{{ f('{{ x }}') }}`) resolve innermost first, `\{{ ... }}` stays literal,
//! and `{{- x }}` substitutes without resolving variables inside the result.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::functions::go_text::marshal;

static NULL: Value = Value::Null;
use super::functions::{compile, EvalError, Expression};

/// Substitution rounds per string before giving up (nested or self-referencing variables).
const MAX_ROUNDS: usize = 64;
/// Most variables resolved in one document, across all its strings and rounds.
/// Kyverno has no bound (a self-expanding value loops forever there); real
/// policies resolve at most a few hundred.
const MAX_SUBSTITUTIONS: usize = 10_000;
/// Longest string substitution may build.
const MAX_STRING_BYTES: usize = 4 * 1024 * 1024;
/// Bytes one document's substitution may scan, copy and produce in total: each
/// replacement rewrites its whole string, so values that expand into more
/// variables cost quadratic time long before any single string is too large.
const MAX_WORK_BYTES: usize = 64 * 1024 * 1024;
/// Deepest document substitution walks into.
const MAX_DOCUMENT_DEPTH: usize = 256;
/// Compiled expressions kept; the cache is dropped wholesale when it outgrows this.
const MAX_CACHED_EXPRESSIONS: usize = 4096;

/// Why a variable, reference or expression could not be resolved.
///
/// `path` is where in the substituted document the variable sits
/// (`/spec/containers/0/image`), or `None` for a plain [`query`].
#[derive(Debug, Clone, PartialEq)]
pub enum VariableError {
    /// A path step named a key the object does not have (Kyverno: "Unknown key").
    NotFound {
        /// The expression as evaluated.
        variable: String,
        /// The missing key.
        key: String,
        path: Option<String>,
    },
    /// Malformed expression, unknown function, or an input too large to evaluate.
    Invalid {
        expression: String,
        reason: String,
        path: Option<String>,
    },
    /// A function failed (bad argument type, bad regex, division by zero…).
    Function {
        variable: String,
        message: String,
        path: Option<String>,
    },
    /// A `$(...)` reference did not resolve to a string.
    Reference {
        reference: String,
        path: String,
        reason: String,
    },
}

impl fmt::Display for VariableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |f: &mut fmt::Formatter<'_>, variable: &str, path: &Option<String>| match path {
            Some(path) => write!(f, "failed to resolve {variable} at path {path}: "),
            None => Ok(()),
        };
        match self {
            VariableError::NotFound {
                variable,
                key,
                path,
            } => {
                at(f, variable, path)?;
                write!(f, "JMESPath query failed: Unknown key \"{key}\" in path")
            }
            VariableError::Invalid {
                expression,
                reason,
                path,
            } => {
                at(f, expression, path)?;
                write!(f, "incorrect query {expression}: {reason}")
            }
            VariableError::Function {
                variable,
                message,
                path,
            } => {
                at(f, variable, path)?;
                write!(f, "JMESPath query failed: {message}")
            }
            VariableError::Reference {
                reference,
                path,
                reason,
            } => write!(f, "failed to resolve {reference} at path {path}: {reason}"),
        }
    }
}

impl std::error::Error for VariableError {}

impl VariableError {
    fn from_eval(error: EvalError, variable: &str, path: Option<&str>) -> Self {
        let path = path.map(str::to_string);
        match error {
            EvalError::NotFound { key } => VariableError::NotFound {
                variable: variable.to_string(),
                key,
                path,
            },
            EvalError::Invalid { reason } => VariableError::Invalid {
                expression: variable.to_string(),
                reason,
                path,
            },
            function @ EvalError::Function { .. } => VariableError::Function {
                variable: variable.to_string(),
                message: function.to_string(),
                path,
            },
        }
    }

    fn limit(expression: &str, reason: &str) -> Self {
        VariableError::Invalid {
            expression: truncate_for_message(expression),
            reason: reason.to_string(),
            path: None,
        }
    }
}

fn truncate_for_message(text: &str) -> String {
    if text.len() <= 200 {
        return text.to_string();
    }
    let mut end = 200;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn compiled(expr: &str) -> Result<Arc<Expression>, EvalError> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<Expression>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.read().ok().and_then(|c| c.get(expr).cloned()) {
        return Ok(found);
    }
    let expression = Arc::new(compile(expr)?);
    if let Ok(mut c) = cache.write() {
        if c.len() >= MAX_CACHED_EXPRESSIONS {
            c.clear();
        }
        c.insert(expr.to_string(), expression.clone());
    }
    Ok(expression)
}

/// Evaluates a JMESPath expression with Kyverno's functions against `ctx`.
/// Compiled expressions are cached, so repeated queries parse once.
///
/// ```
/// use verdict::engine::kyverno::variables::{query, VariableError};
/// let ctx = serde_json::json!({"request": {"object": {"spec": {"replicas": 3}}}});
/// assert_eq!(query("request.object.spec.replicas", &ctx).unwrap(), 3);
/// assert!(matches!(query("request.object.spec.paused", &ctx), Err(VariableError::NotFound { .. })));
/// assert_eq!(query("request.object.spec.paused || `false`", &ctx).unwrap(), false);
/// ```
pub fn query(expr: &str, ctx: &Value) -> Result<Value, VariableError> {
    query_at(expr, ctx, None)
}

fn query_at(expr: &str, ctx: &Value, path: Option<&str>) -> Result<Value, VariableError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(VariableError::Invalid {
            expression: expr.to_string(),
            reason: "invalid query (nil)".into(),
            path: path.map(str::to_string),
        });
    }
    let expression = compiled(trimmed).map_err(|e| VariableError::from_eval(e, trimmed, path))?;
    expression
        .search(ctx)
        .map_err(|e| VariableError::from_eval(e, trimmed, path))
}

fn variable_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").expect("valid regex"))
}

fn variable_init_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\{\{(?:\{[^{}]*\}|[^{}])*\}\}").expect("valid regex"))
}

fn reference_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)").expect("valid regex"))
}

fn escaped_reference_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\\\$\(.[^ )]*\)").expect("valid regex"))
}

/// True when `text` holds at least one unescaped `{{ ... }}`.
pub fn has_variables(text: &str) -> bool {
    variable_regex().is_match(text)
}

/// Replaces every `{{ expr }}` in every string and object key of `value`.
///
/// ```
/// use verdict::engine::kyverno::variables::substitute_all;
/// use serde_json::json;
/// let ctx = json!({"request": {"object": {"spec": {"replicas": 3}}, "namespace": "prod"}});
/// let out = substitute_all(&json!({"n": "{{ request.object.spec.replicas }}",
///                                  "msg": "ns={{request.namespace}}"}), &ctx).unwrap();
/// assert_eq!(out, json!({"n": 3, "msg": "ns=prod"}));
/// ```
pub fn substitute_all(value: &Value, ctx: &Value) -> Result<Value, VariableError> {
    substitute_all_with_resource(value, ctx, None)
}

/// As [`substitute_all`], resolving `{{@}}` to the value of `resource` at the
/// same JSON path as the string holding it (Kyverno uses this inside validate
/// patterns); without a resource, `{{@}}` reads `target`, else
/// `request.object`, from `ctx` at that path. `$(./../key)` references are
/// resolved within `value` first.
///
/// ```
/// use verdict::engine::kyverno::variables::substitute_all_with_resource;
/// use serde_json::json;
/// let pattern = json!({"spec": {"max": "5", "replicas": "<=$(./../max)", "name": "{{@}}"}});
/// let resource = json!({"spec": {"name": "web", "replicas": 3}});
/// let out = substitute_all_with_resource(&pattern, &json!({}), Some(&resource)).unwrap();
/// assert_eq!(out, json!({"spec": {"max": "5", "replicas": "<=5", "name": "web"}}));
/// ```
pub fn substitute_all_with_resource(
    value: &Value,
    ctx: &Value,
    resource: Option<&Value>,
) -> Result<Value, VariableError> {
    let walker = Walker {
        ctx,
        resource,
        delete: is_delete_request(ctx),
        substitutions: Cell::new(0),
        work_bytes: Cell::new(0),
    };
    let mut path = Vec::new();
    if contains_reference(value, 0) {
        walker.walk(&substitute_references(value)?, &mut path)
    } else {
        walker.walk(value, &mut path)
    }
}

fn is_delete_request(ctx: &Value) -> bool {
    ctx.pointer("/request/operation").and_then(Value::as_str) == Some("DELETE")
}

/// One segment of a JSON path inside the substituted document.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

fn path_text(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        out.push('/');
        match segment {
            Segment::Key(k) => out.push_str(&k.replace('/', "\\/")),
            Segment::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// Kyverno anchors wrap keys (`(name)`, `=(name)`, `^(name)`, `+(name)`, `X(name)`, `<(name)`).
fn strip_anchor(key: &str) -> &str {
    let body = key.strip_prefix(['=', '^', '+', 'X', '<']).unwrap_or(key);
    match body.strip_prefix('(').and_then(|b| b.strip_suffix(')')) {
        Some(inner) if !inner.is_empty() => inner,
        _ => key,
    }
}

struct Walker<'a> {
    ctx: &'a Value,
    resource: Option<&'a Value>,
    delete: bool,
    /// Variables resolved so far in this document (see [`MAX_SUBSTITUTIONS`]).
    substitutions: Cell<usize>,
    /// Bytes scanned, copied and produced so far (see [`MAX_WORK_BYTES`]).
    work_bytes: Cell<usize>,
}

impl Walker<'_> {
    /// Charges `variables` resolutions and `bytes` of string work to the
    /// document's budget; an exhausted budget is an error naming `text`.
    fn charge(
        &self,
        variables: usize,
        bytes: usize,
        text: &str,
        path: &str,
    ) -> Result<(), VariableError> {
        let substitutions = self.substitutions.get().saturating_add(variables);
        let work = self.work_bytes.get().saturating_add(bytes);
        self.substitutions.set(substitutions);
        self.work_bytes.set(work);
        let reason = if substitutions > MAX_SUBSTITUTIONS {
            "too many nested variable substitutions"
        } else if work > MAX_WORK_BYTES {
            "variable substitution produces too much text"
        } else {
            return Ok(());
        };
        Err(VariableError::Invalid {
            expression: truncate_for_message(text),
            reason: reason.to_string(),
            path: Some(path.to_string()),
        })
    }

    fn walk(&self, value: &Value, path: &mut Vec<Segment>) -> Result<Value, VariableError> {
        if path.len() > MAX_DOCUMENT_DEPTH {
            return Err(VariableError::limit(
                &path_text(path),
                "document nested too deeply",
            ));
        }
        match value {
            Value::String(s) => self.substitute_string(s, path),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    let result = self.walk(item, path);
                    path.pop();
                    out.push(result?);
                }
                Ok(Value::Array(out))
            }
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (key, item) in map {
                    let new_key = match self.substitute_string(key, path)? {
                        Value::String(s) => s,
                        _ => {
                            return Err(VariableError::Invalid {
                                expression: key.clone(),
                                reason: format!(
                                    "expected string after substituting variables in key \"{key}\""
                                ),
                                path: None,
                            })
                        }
                    };
                    path.push(Segment::Key(key.clone()));
                    let result = self.walk(item, path);
                    path.pop();
                    out.insert(new_key, result?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// Resolves `{{@}}`: the resource's value at this path.
    fn current_value(
        &self,
        path: &[Segment],
        variable: &str,
        path_str: &str,
    ) -> Result<Value, VariableError> {
        let (mut current, base) = match self.resource {
            Some(resource) => (resource, "@"),
            None => match self.ctx.get("target") {
                Some(target) => (target, "target"),
                None => {
                    let object = if self.delete { "oldObject" } else { "object" };
                    match self.ctx.get("request").and_then(|r| r.get(object)) {
                        Some(obj) => (obj, "request.object"),
                        None => {
                            return Err(VariableError::NotFound {
                                variable: variable.to_string(),
                                key: object.to_string(),
                                path: Some(path_str.to_string()),
                            })
                        }
                    }
                }
            },
        };
        // Kyverno turns the path into a JMESPath expression (anchors kept, numeric keys as
        // indexes), so walk it with JMESPath's rules: a missing key is an error, anything
        // else that does not fit is null.
        for segment in path {
            let index = match segment {
                Segment::Index(i) => Some(*i),
                Segment::Key(k) => k.parse::<u64>().ok().and_then(|i| usize::try_from(i).ok()),
            };
            current = match (index, segment, current) {
                (Some(i), _, Value::Array(items)) => items.get(i).unwrap_or(&NULL),
                (Some(_), _, _) => &NULL,
                (None, Segment::Key(k), Value::Object(map)) => match map.get(k) {
                    Some(v) => v,
                    None => {
                        return Err(VariableError::NotFound {
                            variable: format!("{base}{path_str}"),
                            key: k.clone(),
                            path: Some(path_str.to_string()),
                        })
                    }
                },
                _ => &NULL,
            };
        }
        Ok(current.clone())
    }

    fn substitute_string(&self, text: &str, path: &[Segment]) -> Result<Value, VariableError> {
        if !text.contains("{{") {
            return Ok(Value::String(text.to_string()));
        }
        let path_str = path_text(path);
        let mut value = text.to_string();
        self.charge(0, value.len(), text, &path_str)?;
        let mut matches = find_variables(&value);
        let mut rounds = 0;
        while !matches.is_empty() {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return Err(VariableError::limit(
                    text,
                    "too many nested variable substitutions",
                ));
            }
            self.charge(matches.len(), 0, text, &path_str)?;
            let original = value.clone();
            let mut shallow = false;
            for matched in &matches {
                let initial = variable_init_regex().is_match(matched);
                let (prefix, var_text) = if initial {
                    ("", matched.as_str())
                } else {
                    let first = matched.chars().next().map(char::len_utf8).unwrap_or(0);
                    matched.split_at(first)
                };
                let (mut variable, is_shallow) = braces_trimmed(var_text);
                shallow = is_shallow;
                let resolved = if variable == "@" {
                    self.current_value(path, var_text, &path_str)?
                } else {
                    if self.delete {
                        variable = variable.replace("request.object", "request.oldObject");
                    }
                    query_at(&variable, self.ctx, Some(&path_str))?
                };
                if original == var_text {
                    return Ok(resolved);
                }
                let mut replacement = match &resolved {
                    Value::String(s) => s.clone(),
                    other => marshal(other),
                };
                if shallow {
                    replacement = replacement.replace("{{", "\\{{");
                }
                let needle = format!("{prefix}{var_text}");
                // Finding and splicing rewrite the whole string.
                self.charge(0, value.len() + replacement.len(), text, &path_str)?;
                if let Some(at) = value.find(&needle) {
                    if value.len() - needle.len() + replacement.len() > MAX_STRING_BYTES {
                        return Err(VariableError::limit(text, "substituted string too large"));
                    }
                    value.replace_range(at..at + needle.len(), &format!("{prefix}{replacement}"));
                }
            }
            matches = if shallow {
                Vec::new()
            } else {
                self.charge(0, value.len(), text, &path_str)?;
                find_variables(&value)
            };
        }
        Ok(Value::String(value.replace("\\{{", "{{")))
    }
}

fn find_variables(text: &str) -> Vec<String> {
    variable_regex()
        .find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// Strips the braces and spaces of `{{ x }}`; `{{- x }}` asks for a shallow substitution.
fn braces_trimmed(text: &str) -> (String, bool) {
    let inner = text.replace("{{", "").replace("}}", "");
    let inner = inner.trim();
    match inner.strip_prefix('-') {
        Some(rest) => (rest.trim().to_string(), true),
        None => (inner.to_string(), false),
    }
}

/// Resolves `$(path)` references against the document itself, as Kyverno does
/// before variables: the path is relative to the referring string's location.
fn substitute_references(document: &Value) -> Result<Value, VariableError> {
    let mut leaves = HashMap::new();
    collect_leaves(document, &mut String::new(), &mut leaves, 0);
    replace_references(document, &mut Vec::new(), &leaves)
}

fn contains_reference(value: &Value, depth: usize) -> bool {
    if depth > MAX_DOCUMENT_DEPTH {
        return false;
    }
    match value {
        Value::String(s) => s.contains("$("),
        Value::Array(items) => items.iter().any(|v| contains_reference(v, depth + 1)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains("$(") || contains_reference(v, depth + 1)),
        _ => false,
    }
}

fn collect_leaves(
    value: &Value,
    path: &mut String,
    out: &mut HashMap<String, Value>,
    depth: usize,
) {
    if depth > MAX_DOCUMENT_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                collect_leaves(item, path, out, depth + 1);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&strip_anchor(key).replace('/', "\\/"));
                collect_leaves(item, path, out, depth + 1);
                path.truncate(len);
            }
        }
        leaf => {
            out.insert(path.clone(), leaf.clone());
        }
    }
}

fn replace_references(
    value: &Value,
    path: &mut Vec<Segment>,
    leaves: &HashMap<String, Value>,
) -> Result<Value, VariableError> {
    if path.len() > MAX_DOCUMENT_DEPTH {
        return Err(VariableError::limit(
            &path_text(path),
            "document nested too deeply",
        ));
    }
    match value {
        Value::String(s) => resolve_references_in(s, &path_text(path), leaves).map(Value::String),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                let result = replace_references(item, path, leaves);
                path.pop();
                out.push(result?);
            }
            Ok(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                let new_key = resolve_references_in(key, &path_text(path), leaves)?;
                path.push(Segment::Key(key.clone()));
                let result = replace_references(item, path, leaves);
                path.pop();
                out.insert(new_key, result?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Kyverno's operator prefixes that a reference may carry (`$(<=./../limit)`).
const OPERATORS: &[&str] = &[">=", "<=", "!=", ">", "<", "!"];

fn resolve_references_in(
    text: &str,
    path: &str,
    leaves: &HashMap<String, Value>,
) -> Result<String, VariableError> {
    if !text.contains("$(") {
        return Ok(text.to_string());
    }
    let mut value = text.to_string();
    let found: Vec<String> = reference_regex()
        .find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect();
    for old in found {
        let initial = old.starts_with("$(");
        let (prefix, reference) = if initial {
            ("", old.as_str())
        } else {
            let first = old.chars().next().map(char::len_utf8).unwrap_or(0);
            old.split_at(first)
        };
        let failed = |reason: String| VariableError::Reference {
            reference: reference.to_string(),
            path: path.to_string(),
            reason,
        };
        let inner = reference
            .trim_start_matches(['$', '('])
            .trim_end_matches(')');
        let operator = OPERATORS
            .iter()
            .find(|op| inner.starts_with(**op))
            .copied()
            .unwrap_or("");
        let target = &inner[operator.len()..];
        if target.is_empty() {
            return Err(failed("expected path, found empty reference".into()));
        }
        let absolute = if target.starts_with('/') {
            clean_reference_path(target)
        } else {
            clean_reference_path(&format!("{path}/{target}"))
        };
        let resolved = match leaves.get(&absolute) {
            None | Some(Value::Null) => {
                return Err(failed(format!("got nil resolved variable {reference}")))
            }
            Some(found) => found,
        };
        let text_value = match (operator, resolved) {
            (_, Value::String(s)) => format!("{operator}{s}"),
            ("", _) => {
                return Err(failed(format!(
                    "NotResolvedReferenceErr,reference {reference} not resolved at path {path}"
                )))
            }
            (_, Value::Number(n)) => match n.as_i64() {
                Some(i) => format!("{operator}{i}"),
                None => format!("{operator}{:.6}", n.as_f64().unwrap_or(0.0)),
            },
            (_, other) => {
                return Err(failed(format!(
                    "incorrect expression: operator {operator} does not match with value {other}"
                )))
            }
        };
        value = value.replacen(&old, &format!("{prefix}{text_value}"), 1);
    }
    let escaped: Vec<String> = escaped_reference_regex()
        .find_iter(&value)
        .map(|m| m.as_str().to_string())
        .collect();
    for e in escaped {
        value = value.replace(&e, &e[1..]);
    }
    Ok(value)
}

/// Go's `path.Join`/`path.Clean` on a slash path (`/a/b/./../c` → `/a/c`).
fn clean_reference_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}
