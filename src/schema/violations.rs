//! Validating a value against a JSON Schema and saying, for each problem, which
//! field, which line and, for an unknown field, which known one was meant.

use super::{did_you_mean, field_line};
use crate::error::LoadError;
use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// Problems listed in one error message; the rest are counted.
const MAX_LISTED: usize = 10;

/// One way a document departs from its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer to the offending field (`/spec/containers/0/securityContex`); `/` for the root.
    pub path: String,
    pub message: String,
    /// For an unknown field: the known field it is closest to.
    pub suggestion: Option<String>,
    /// 1-based line in the file, once located with [`locate`].
    pub line: Option<usize>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// Every violation of `value` against `validator`, whose schema document is
/// `schema` (its `$ref`s are followed to find the fields a location allows).
///
/// ```
/// let schema = serde_json::json!({"type": "object", "additionalProperties": false,
///     "properties": {"spec": {"type": "object", "additionalProperties": false,
///                             "properties": {"enforcementAction": {"type": "string"}}}}});
/// let validator = jsonschema::validator_for(&schema).unwrap();
/// let doc = serde_json::json!({"spec": {"enforcmentAction": "dryrun"}});
/// let found = verdict::schema::violations(&validator, &schema, &doc);
/// assert_eq!(found[0].to_string(), "/spec/enforcmentAction: unknown field (did you mean `enforcementAction`?)");
/// ```
pub fn violations(validator: &Validator, schema: &Value, value: &Value) -> Vec<Violation> {
    let mut found = Vec::new();
    // Most documents conform: the yes/no check builds no errors.
    if validator.is_valid(value) {
        return found;
    }
    for error in validator.iter_errors(value) {
        let at = error.instance_path().as_str().to_string();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = allowed_fields(schema, &at);
                for name in unexpected {
                    found.push(Violation {
                        path: format!("{at}/{}", escape_pointer(name)),
                        message: "unknown field".into(),
                        suggestion: did_you_mean(name, allowed.iter().map(String::as_str)).map(str::to_string),
                        line: None,
                    });
                }
            }
            _ => found.push(Violation {
                path: if at.is_empty() { "/".into() } else { at },
                message: shorten(error.to_string()),
                suggestion: None,
                line: None,
            }),
        }
    }
    found
}

/// Fill in each violation's line from the file's text, for the document starting at `doc_line`.
pub fn locate(violations: &mut [Violation], text: &str, doc_line: Option<usize>) {
    for v in violations {
        v.line = field_line(text, doc_line, &v.path);
    }
}

/// One load error for a document's violations: at the first one's line, listing them all.
///
/// `what` says what was checked, e.g. `ClusterPolicy require-labels does not match its schema`.
pub fn load_error(path: &Path, doc_line: Option<usize>, what: &str, violations: &[Violation]) -> LoadError {
    let mut listed: Vec<String> = violations.iter().take(MAX_LISTED).map(Violation::to_string).collect();
    if violations.len() > MAX_LISTED {
        listed.push(format!("and {} more", violations.len() - MAX_LISTED));
    }
    let line = violations.iter().find_map(|v| v.line).or(doc_line);
    LoadError { path: path.to_path_buf(), line, message: format!("{what}: {}", listed.join("; ")) }
}

/// The field names the schema allows at `pointer` of an instance (empty when it
/// allows any, or the location cannot be followed).
pub fn allowed_fields(schema: &Value, pointer: &str) -> Vec<String> {
    let mut nodes = vec![schema];
    let segments: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer.trim_start_matches('/').split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
    };
    for segment in &segments {
        let mut next = Vec::new();
        for node in expand(schema, &nodes) {
            if let Some(child) = node.get("properties").and_then(|p| p.get(segment.as_str())) {
                next.push(child);
            } else if segment.parse::<usize>().is_ok() {
                if let Some(items) = node.get("items").filter(|i| i.is_object()) {
                    next.push(items);
                }
            } else if let Some(extra) = node.get("additionalProperties").filter(|a| a.is_object()) {
                next.push(extra);
            }
        }
        if next.is_empty() {
            return Vec::new();
        }
        nodes = next;
    }
    let mut names: Vec<String> = expand(schema, &nodes)
        .into_iter()
        .filter_map(|n| n.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The nodes themselves plus what their `$ref`, `allOf`, `anyOf` and `oneOf` lead to.
fn expand<'a>(root: &'a Value, nodes: &[&'a Value]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = nodes.to_vec();
    while let Some(node) = stack.pop() {
        if out.len() > 256 {
            break; // a recursive schema: enough to suggest from
        }
        out.push(node);
        if let Some(target) = node.get("$ref").and_then(Value::as_str).and_then(|r| resolve(root, r)) {
            stack.push(target);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = node.get(key).and_then(Value::as_array) {
                stack.extend(list.iter());
            }
        }
    }
    out
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Errors quote the offending value, which may be a whole subtree.
fn shorten(mut message: String) -> String {
    const MAX: usize = 300;
    if message.len() > MAX {
        let mut cut = MAX;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_fields_follow_refs_items_and_unions() {
        let schema = serde_json::json!({
            "$defs": {"Container": {"properties": {"name": {}, "securityContext": {}}}},
            "properties": {"spec": {"properties": {"containers": {"items": {"$ref": "#/$defs/Container"}}}},
                           "data": {"additionalProperties": {"anyOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]}}}
        });
        assert_eq!(allowed_fields(&schema, "/spec/containers/3"), ["name", "securityContext"]);
        assert_eq!(allowed_fields(&schema, "/data/anything"), ["a", "b"]);
        assert_eq!(allowed_fields(&schema, ""), ["data", "spec"]);
        assert!(allowed_fields(&schema, "/nowhere/x").is_empty());
    }

    #[test]
    fn a_load_error_points_at_the_first_located_field() {
        let text = "kind: X\nspec:\n  enforcmentAction: dryrun\n";
        let mut found = vec![Violation { path: "/spec/enforcmentAction".into(), message: "unknown field".into(), suggestion: Some("enforcementAction".into()), line: None }];
        locate(&mut found, text, Some(1));
        let err = load_error(Path::new("c.yaml"), Some(1), "Constraint c does not match its schema", &found);
        assert_eq!(err.line, Some(3));
        assert_eq!(
            err.to_string(),
            "c.yaml:3: Constraint c does not match its schema: line 3: /spec/enforcmentAction: unknown field (did you mean `enforcementAction`?)"
        );
    }
}
