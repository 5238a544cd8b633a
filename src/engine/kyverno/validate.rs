//! The `validate.pattern` tree walk (Kyverno's `validate.MatchPattern`):
//! resource and pattern are walked together, anchors first, and the first
//! mismatch is reported with its path, e.g. `/spec/containers/0/image/`.
//!
//! The main entry is [`match_pattern`]; its error is [`PatternError`].

use serde_json::{Map, Value};

use super::anchor::{Anchor, AnchorErrorKind, AnchorKind, AnchorMap};
use super::pattern::{go_format_pattern, go_format_value, go_type_name, validate_value};
use super::wildcards::expand_in_metadata;
use crate::limits::Limits;

/// Whether a pattern mismatch fails the resource or means the rule does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternErrorKind {
    /// The resource does not satisfy the pattern. With an empty `path`,
    /// Kyverno reports the rule as an error rather than a failure.
    Fail,
    /// A conditional or global anchor did not match: the rule is skipped.
    Skip,
}

/// Why a resource does not match a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatternError {
    /// Where the walk stopped, as Kyverno prints it (`/spec/containers/0/image/`);
    /// empty for skips and for errors.
    pub path: String,
    /// Kyverno's error text, used in skip and error messages.
    pub message: String,
    pub kind: PatternErrorKind,
}

impl PatternError {
    /// Whether Kyverno reports this as a rule error (a failure without a path).
    pub fn is_rule_error(&self) -> bool {
        self.kind == PatternErrorKind::Fail && self.path.is_empty()
    }
}

/// Matches a resource against a `validate.pattern`, as Kyverno's `MatchPattern`.
///
/// ```
/// use serde_json::json;
/// use verdict::engine::kyverno::validate::{match_pattern, PatternErrorKind};
/// let pattern = json!({"spec": {"containers": [{"image": "!*:latest"}]}});
/// let good = json!({"spec": {"containers": [{"image": "nginx:1.25"}]}});
/// let bad = json!({"spec": {"containers": [{"image": "nginx:1.25"}, {"image": "redis:latest"}]}});
/// assert!(match_pattern(&good, &pattern).is_ok());
/// let err = match_pattern(&bad, &pattern).unwrap_err();
/// assert_eq!(err.path, "/spec/containers/1/image/");
/// assert_eq!(err.kind, PatternErrorKind::Fail);
///
/// let conditional = json!({"metadata": {"(name)": "web-*"}, "spec": {"replicas": ">1"}});
/// let other = json!({"metadata": {"name": "db"}, "spec": {"replicas": 1}});
/// assert_eq!(match_pattern(&other, &conditional).unwrap_err().kind, PatternErrorKind::Skip);
/// ```
pub fn match_pattern(resource: &Value, pattern: &Value) -> Result<(), PatternError> {
    let max_depth = Limits::default().max_depth;
    if nesting_depth(pattern) > max_depth {
        return Err(PatternError {
            path: String::new(),
            message: format!("pattern is nested deeper than {max_depth} levels"),
            kind: PatternErrorKind::Fail,
        });
    }
    // Kyverno rewrites wildcard metadata keys in the pattern as it walks, and
    // later elements of the same array see the rewrite; so walk a private copy.
    let mut pattern = pattern.clone();
    let mut walk = Walk {
        anchors: AnchorMap::default(),
        max_depth,
    };
    let Err(failure) = walk.element(resource, &mut pattern, "/", 0) else {
        return Ok(());
    };
    let WalkFailure { path, error } = failure;
    let (path, kind) = if error.is_skip() {
        (String::new(), PatternErrorKind::Skip)
    } else if error.is_negation() {
        (path, PatternErrorKind::Fail)
    } else if walk.anchors.keys_are_missing() {
        (String::new(), PatternErrorKind::Fail)
    } else {
        (path, PatternErrorKind::Fail)
    };
    Err(PatternError {
        path,
        message: error.message,
        kind,
    })
}

/// Depth of nested arrays and objects, without recursion.
fn nesting_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => pending.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// How an error came about; Kyverno tells skips from failures by this, and
/// by message text for errors that wrap others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Anchor(AnchorErrorKind),
    /// A map or array whose elements were all skipped (Kyverno's `*PatternError`).
    Skipped,
    Plain,
}

#[derive(Debug, Clone)]
struct WalkError {
    origin: Origin,
    message: String,
}

impl WalkError {
    fn plain(message: String) -> WalkError {
        WalkError {
            origin: Origin::Plain,
            message,
        }
    }

    fn anchor(kind: AnchorErrorKind, detail: &str) -> WalkError {
        WalkError {
            origin: Origin::Anchor(kind),
            message: format!("{}: {detail}", kind.prefix()),
        }
    }

    /// Kyverno's `skip(err)`: a typed anchor error by kind, anything else by text.
    fn is_skip(&self) -> bool {
        self.is_anchor_kind(AnchorErrorKind::Conditional)
            || self.is_anchor_kind(AnchorErrorKind::Global)
    }

    fn is_negation(&self) -> bool {
        self.is_anchor_kind(AnchorErrorKind::Negation)
    }

    fn is_anchor_kind(&self, kind: AnchorErrorKind) -> bool {
        match self.origin {
            Origin::Anchor(own) => own == kind,
            Origin::Skipped | Origin::Plain => self.message.contains(kind.prefix()),
        }
    }
}

/// Combines skip errors as Go's `multierr.Combine` prints them.
fn combined_skip(errors: &[WalkError]) -> WalkError {
    WalkError {
        origin: Origin::Skipped,
        message: errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[derive(Debug)]
struct WalkFailure {
    path: String,
    error: WalkError,
}

type WalkResult = Result<(), WalkFailure>;

fn fail(path: &str, error: WalkError) -> WalkResult {
    Err(WalkFailure {
        path: path.to_string(),
        error,
    })
}

static NULL: Value = Value::Null;

struct Walk {
    anchors: AnchorMap,
    max_depth: usize,
}

impl Walk {
    /// Kyverno's `validateResourceElement`: dispatch on the pattern's type.
    fn element(
        &mut self,
        resource: &Value,
        pattern: &mut Value,
        path: &str,
        depth: usize,
    ) -> WalkResult {
        if depth > self.max_depth {
            // An empty path makes this a rule error, never a pass or a plain failure.
            return fail(
                "",
                WalkError::plain(format!(
                    "pattern is nested deeper than {} levels",
                    self.max_depth
                )),
            );
        }
        match pattern {
            Value::Object(pattern_map) => {
                let Value::Object(resource_map) = resource else {
                    return fail(
                        path,
                        WalkError::plain(format!(
                            "pattern and resource have different structures. Path: {path}. Expected map[string]interface {{}}, found {}",
                            go_type_name(resource)
                        )),
                    );
                };
                self.anchors.check_anchor_in_resource(pattern_map, resource);
                self.map(resource_map, pattern_map, path, depth)
            }
            Value::Array(pattern_items) => {
                let Value::Array(resource_items) = resource else {
                    return fail(
                        path,
                        WalkError::plain(format!(
                            "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                        )),
                    );
                };
                self.array(resource, resource_items, pattern_items, path, depth)
            }
            leaf => {
                let matched = match resource {
                    Value::Array(items) => items.iter().all(|item| validate_value(item, leaf)),
                    single => validate_value(single, leaf),
                };
                if matched {
                    Ok(())
                } else {
                    fail(
                        path,
                        WalkError::plain(format!(
                            "resource value '{}' does not match '{}' at path {path}",
                            go_format_value(resource),
                            go_format_pattern(leaf)
                        )),
                    )
                }
            }
        }
    }

    /// Kyverno's `validateMap`: anchors first (sorted), then the other keys,
    /// those holding anchors deeper down first.
    fn map(
        &mut self,
        resource: &Map<String, Value>,
        pattern: &mut Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> WalkResult {
        expand_in_metadata(pattern, resource);

        let mut anchor_keys: Vec<String> = Vec::new();
        let mut plain_keys: Vec<String> = Vec::new();
        for key in pattern.keys() {
            if Anchor::parse(key).is_some_and(Anchor::is_evaluated_first) {
                anchor_keys.push(key.clone());
            } else {
                plain_keys.push(key.clone());
            }
        }
        anchor_keys.sort();
        plain_keys.sort();

        let mut skips: Vec<WalkError> = Vec::new();
        let mut applied = 0usize;
        for key in &anchor_keys {
            let value = pattern.get_mut(key).expect("key taken from this map");
            let Err(failure) = self.handle(key, value, resource, path, depth) else {
                applied += 1;
                continue;
            };
            if failure.error.is_skip() {
                skips.push(failure.error);
                continue;
            }
            // A sibling anchor that did not apply masks this failure.
            if !skips.iter().any(|e| e.origin != Origin::Skipped) {
                return Err(failure);
            }
        }
        if !skips.is_empty() && (applied == 0 || skips.iter().any(|e| e.origin != Origin::Skipped))
        {
            return fail(path, combined_skip(&skips));
        }

        let mut front: Vec<String> = Vec::new();
        let mut back: Vec<String> = Vec::new();
        for key in plain_keys {
            let global = Anchor::parse(&key).is_some_and(|a| a.kind == AnchorKind::Global);
            if global || has_nested_anchors(&pattern[&key]) {
                front.push(key);
            } else {
                back.push(key);
            }
        }
        // Kyverno pushes these to the front of a list one by one: reversed order.
        front.reverse();
        for key in front.into_iter().chain(back) {
            let value = pattern.get_mut(&key).expect("key taken from this map");
            self.handle(&key, value, resource, path, depth)?;
        }
        Ok(())
    }

    /// Kyverno's anchor handlers (`CreateElementHandler(...).Handle`).
    fn handle(
        &mut self,
        key: &str,
        pattern: &mut Value,
        resource: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> WalkResult {
        let anchor = Anchor::parse(key).filter(|a| a.kind != AnchorKind::AddIfNotPresent);
        let Some(anchor) = anchor else {
            return self.handle_plain(key, pattern, resource, path, depth);
        };
        let current = format!("{path}{}/", anchor.key);
        let value = resource.get(anchor.key);
        match anchor.kind {
            AnchorKind::Negation => match value {
                Some(_) => fail(
                    &current,
                    WalkError::anchor(
                        AnchorErrorKind::Negation,
                        &format!("{current} is not allowed"),
                    ),
                ),
                None => Ok(()),
            },
            AnchorKind::Equality => match value {
                Some(value) => self.element(value, pattern, &current, depth + 1),
                None => Ok(()),
            },
            AnchorKind::Condition => match value {
                Some(value) => self
                    .element(value, pattern, &current, depth + 1)
                    .map_err(|f| WalkFailure {
                        path: f.path,
                        error: WalkError::anchor(AnchorErrorKind::Conditional, &f.error.message),
                    }),
                None => fail(
                    &current,
                    WalkError::anchor(
                        AnchorErrorKind::Conditional,
                        "conditional anchor key doesn't exist in the resource",
                    ),
                ),
            },
            AnchorKind::Global => match value {
                Some(value) => self
                    .element(value, pattern, &current, depth + 1)
                    .map_err(|f| WalkFailure {
                        path: f.path,
                        error: WalkError::anchor(AnchorErrorKind::Global, &f.error.message),
                    }),
                None => Ok(()),
            },
            AnchorKind::Existence => match value {
                Some(value) => self.existence(value, pattern, &current, depth),
                None => Ok(()),
            },
            AnchorKind::AddIfNotPresent => unreachable!("filtered above"),
        }
    }

    /// A plain key (or `+(key)`, looked up literally): `"*"` only asks for presence.
    fn handle_plain(
        &mut self,
        key: &str,
        pattern: &mut Value,
        resource: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> WalkResult {
        let value = resource.get(key).unwrap_or(&NULL);
        if pattern.as_str() == Some("*") {
            if value.is_null() {
                return fail(path, WalkError::plain(format!("{path}/{key} not found")));
            }
            return Ok(());
        }
        self.element(value, pattern, &format!("{path}{key}/"), depth + 1)
    }

    /// `^(key)`: some element of the resource list matches each pattern map.
    fn existence(
        &mut self,
        value: &Value,
        pattern: &mut Value,
        current: &str,
        depth: usize,
    ) -> WalkResult {
        let Value::Array(resource_items) = value else {
            return fail(
                current,
                WalkError::plain(format!(
                    "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                    go_type_name(value)
                )),
            );
        };
        // Pattern numbers are float64 in Kyverno, whatever their spelling.
        let pattern_type = if pattern.is_number() {
            "float64"
        } else {
            go_type_name(pattern)
        };
        let Value::Array(pattern_items) = pattern else {
            return fail(
                current,
                WalkError::plain(format!(
                    "invalid pattern type {pattern_type}: Pattern has to be of list to compare against resource"
                )),
            );
        };
        for pattern_item in pattern_items.iter_mut() {
            if !pattern_item.is_object() {
                return fail(
                    current,
                    WalkError::plain(format!(
                        "invalid pattern type {pattern_type}: Pattern has to be of type map to compare against items in resource"
                    )),
                );
            }
            let found = resource_items.iter().enumerate().any(|(i, item)| {
                self.element(item, pattern_item, &format!("{current}{i}/"), depth + 1)
                    .is_ok()
            });
            if !found {
                return fail(
                    current,
                    WalkError::plain(format!(
                        "existence anchor validation failed at path {current}"
                    )),
                );
            }
        }
        Ok(())
    }

    /// Kyverno's `validateArray`: only the pattern's first element counts,
    /// unless it is itself a list, then elements pair up by index.
    fn array(
        &mut self,
        resource: &Value,
        resource_items: &[Value],
        pattern_items: &mut [Value],
        path: &str,
        depth: usize,
    ) -> WalkResult {
        let Some(first) = pattern_items.first_mut() else {
            return fail(path, WalkError::plain("pattern Array empty".to_string()));
        };
        match first {
            Value::Object(_) => {
                let mut skips = Vec::new();
                let mut applied = 0usize;
                for (i, item) in resource_items.iter().enumerate() {
                    match self.element(item, first, &format!("{path}{i}/"), depth + 1) {
                        Ok(()) => applied += 1,
                        Err(failure) if failure.error.is_skip() => skips.push(failure.error),
                        Err(failure) => return Err(failure),
                    }
                }
                if applied == 0 && !skips.is_empty() {
                    return fail(path, combined_skip(&skips));
                }
                Ok(())
            }
            Value::Array(_) => {
                if resource_items.len() < pattern_items.len() {
                    return fail(
                        "",
                        WalkError::plain(format!(
                            "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                            resource_items.len(),
                            pattern_items.len()
                        )),
                    );
                }
                let mut skips = Vec::new();
                let mut applied = 0usize;
                for (i, pattern_item) in pattern_items.iter_mut().enumerate() {
                    match self.element(
                        &resource_items[i],
                        pattern_item,
                        &format!("{path}{i}/"),
                        depth + 1,
                    ) {
                        Ok(()) => applied += 1,
                        Err(failure) if failure.error.is_skip() => skips.push(failure.error),
                        Err(failure) => return Err(failure),
                    }
                }
                if applied == 0 && !skips.is_empty() {
                    return fail(path, combined_skip(&skips));
                }
                Ok(())
            }
            leaf => self.element(resource, leaf, path, depth + 1),
        }
    }
}

/// Whether any map inside the pattern has an anchor key (global included).
fn has_nested_anchors(pattern: &Value) -> bool {
    let mut pending = vec![pattern];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                if map.keys().any(|k| {
                    Anchor::parse(k).is_some_and(|a| a.kind != AnchorKind::AddIfNotPresent)
                }) {
                    return true;
                }
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items.iter()),
            _ => {}
        }
    }
    false
}
