//! Kyverno anchors: pattern keys such as `(name)`, `=(name)`, `^(name)`,
//! `X(name)`, `<(name)` and `+(name)` that change how a pattern applies.
//!
//! The main type here is [`Anchor`]; [`AnchorErrorKind`] tells a skipped rule
//! (conditional or global anchor not met) from a failed one (negation met).

use std::collections::HashMap;

use serde_json::{Map, Value};

/// What an anchor does, named by its modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnchorKind {
    /// `(key)`: the rest of the map applies only if this matches.
    Condition,
    /// `<(key)`: the whole rule applies only if this matches.
    Global,
    /// `X(key)`: the key must be absent.
    Negation,
    /// `+(key)`: mutate-only; validation looks the literal key up.
    AddIfNotPresent,
    /// `=(key)`: if the key is present it must match.
    Equality,
    /// `^(key)`: at least one element of the list must match.
    Existence,
}

impl AnchorKind {
    /// The modifier character before the parenthesis (empty for conditions).
    pub fn modifier(self) -> &'static str {
        match self {
            AnchorKind::Condition => "",
            AnchorKind::Global => "<",
            AnchorKind::Negation => "X",
            AnchorKind::AddIfNotPresent => "+",
            AnchorKind::Equality => "=",
            AnchorKind::Existence => "^",
        }
    }

    /// Writes `key` back as an anchor of this kind.
    ///
    /// ```
    /// use verdict::engine::kyverno::anchor::AnchorKind;
    /// assert_eq!(AnchorKind::Equality.wrap("team"), "=(team)");
    /// ```
    pub fn wrap(self, key: &str) -> String {
        format!("{}({key})", self.modifier())
    }
}

/// A parsed anchor key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor<'a> {
    pub kind: AnchorKind,
    /// The key inside the parentheses, looked up in the resource.
    pub key: &'a str,
}

impl<'a> Anchor<'a> {
    /// Parses a pattern key as Kyverno does (`^([+<=X^])?\((.+)\)$` after
    /// trimming whitespace); `None` for a plain key.
    ///
    /// ```
    /// use verdict::engine::kyverno::anchor::{Anchor, AnchorKind};
    /// let anchor = Anchor::parse("=(imagePullPolicy)").unwrap();
    /// assert_eq!((anchor.kind, anchor.key), (AnchorKind::Equality, "imagePullPolicy"));
    /// assert_eq!(Anchor::parse(" (name) ").unwrap().kind, AnchorKind::Condition);
    /// assert!(Anchor::parse("()").is_none());
    /// assert!(Anchor::parse("name").is_none());
    /// ```
    pub fn parse(text: &'a str) -> Option<Anchor<'a>> {
        let text = text.trim();
        let (kind, rest) = match text.chars().next()? {
            '(' => (AnchorKind::Condition, text),
            '<' => (AnchorKind::Global, &text[1..]),
            'X' => (AnchorKind::Negation, &text[1..]),
            '+' => (AnchorKind::AddIfNotPresent, &text[1..]),
            '=' => (AnchorKind::Equality, &text[1..]),
            '^' => (AnchorKind::Existence, &text[1..]),
            _ => return None,
        };
        let key = rest.strip_prefix('(')?.strip_suffix(')')?;
        // Go's `.` matches neither a newline nor nothing.
        if key.is_empty() || key.contains('\n') {
            return None;
        }
        Some(Anchor { kind, key })
    }

    /// Whether this anchor is evaluated before the plain keys of its map.
    pub fn is_evaluated_first(self) -> bool {
        matches!(
            self.kind,
            AnchorKind::Condition
                | AnchorKind::Existence
                | AnchorKind::Equality
                | AnchorKind::Negation
        )
    }
}

/// The kind of anchor of a key, if it is one.
///
/// ```
/// use verdict::engine::kyverno::anchor::{anchor_kind, AnchorKind};
/// assert_eq!(anchor_kind("X(hostPath)"), Some(AnchorKind::Negation));
/// assert_eq!(anchor_kind("hostPath"), None);
/// ```
pub fn anchor_kind(key: &str) -> Option<AnchorKind> {
    Anchor::parse(key).map(|anchor| anchor.kind)
}

/// Removes the anchors of every segment of a `/`-separated path, like
/// Kyverno's `RemoveAnchorsFromPath`.
///
/// ```
/// use verdict::engine::kyverno::anchor::remove_anchors_from_path;
/// assert_eq!(remove_anchors_from_path("/spec/=(volumes)/X(hostPath)/"), "/spec/volumes/hostPath");
/// ```
pub fn remove_anchors_from_path(path: &str) -> String {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let parts: Vec<&str> = trimmed
        .split('/')
        .map(|part| Anchor::parse(part).map_or(part, |anchor| anchor.key))
        .filter(|part| !part.is_empty())
        .collect();
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Why an anchor stopped the walk; decides skip versus fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorErrorKind {
    /// A conditional anchor did not match: the rule does not apply here.
    Conditional,
    /// A global anchor did not match: the rule does not apply at all.
    Global,
    /// A negation anchor's key is present: the resource fails.
    Negation,
}

impl AnchorErrorKind {
    /// The message prefix Kyverno gives this error; Kyverno also recognises
    /// wrapped errors by it.
    pub fn prefix(self) -> &'static str {
        match self {
            AnchorErrorKind::Conditional => "conditional anchor mismatch",
            AnchorErrorKind::Global => "global anchor mismatch",
            AnchorErrorKind::Negation => "negation anchor matched in resource",
        }
    }
}

/// Records, for the whole walk, whether the keys of condition, existence and
/// negation anchors were ever seen in the resource (Kyverno's `AnchorMap`).
#[derive(Debug, Default)]
pub struct AnchorMap {
    seen: HashMap<String, bool>,
}

impl AnchorMap {
    /// Notes which anchor keys of `pattern` the `resource` has.
    pub fn check_anchor_in_resource(&mut self, pattern: &Map<String, Value>, resource: &Value) {
        for key in pattern.keys() {
            let Some(anchor) = Anchor::parse(key) else {
                continue;
            };
            if !matches!(
                anchor.kind,
                AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Negation
            ) {
                continue;
            }
            let seen = self.seen.entry(key.clone()).or_insert(false);
            if !*seen && resource_has_key(resource, anchor.key) {
                *seen = true;
            }
        }
    }

    /// Whether a non-negation anchor key was never found in the resource;
    /// Kyverno then reports an error instead of a failure.
    pub fn keys_are_missing(&self) -> bool {
        self.seen
            .iter()
            .any(|(key, seen)| !*seen && anchor_kind(key) != Some(AnchorKind::Negation))
    }
}

/// Whether a map, or any map nested in (arrays of) arrays, has `key`.
/// Iterative, so nested arrays cannot exhaust the stack.
fn resource_has_key(resource: &Value, key: &str) -> bool {
    let mut pending = vec![resource];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) if map.contains_key(key) => return true,
            Value::Array(items) => pending.extend(items.iter()),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_modifier() {
        let cases = [
            ("(a)", Some((AnchorKind::Condition, "a"))),
            ("<(a)", Some((AnchorKind::Global, "a"))),
            ("X(a)", Some((AnchorKind::Negation, "a"))),
            ("+(a)", Some((AnchorKind::AddIfNotPresent, "a"))),
            ("=(a)", Some((AnchorKind::Equality, "a"))),
            ("^(a)", Some((AnchorKind::Existence, "a"))),
            ("((a))", Some((AnchorKind::Condition, "(a)"))),
            ("x(a)", None),
            ("(a", None),
            ("a)", None),
            ("=()", None),
            ("", None),
            ("=", None),
        ];
        for (text, want) in cases {
            let got = Anchor::parse(text).map(|a| (a.kind, a.key));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn anchor_map_ignores_missing_negations() {
        let mut map = AnchorMap::default();
        map.check_anchor_in_resource(
            json!({"X(a)": null, "(b)": 1}).as_object().unwrap(),
            &json!([{"b": 1}]),
        );
        assert!(!map.keys_are_missing());
        map.check_anchor_in_resource(json!({"^(c)": []}).as_object().unwrap(), &json!({}));
        assert!(map.keys_are_missing());
    }
}
