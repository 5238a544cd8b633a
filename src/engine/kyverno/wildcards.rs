//! Kyverno's wildcards: `*` and `?` in string values, and wildcard keys under
//! `metadata.labels` / `metadata.annotations` of a pattern, which are replaced
//! by the resource key they match before the pattern is checked.

use serde_json::{Map, Value};

use super::anchor::Anchor;

/// Matches `name` against `pattern`, where `*` is any run of characters and
/// `?` exactly one; an empty pattern matches only the empty string. Both
/// pattern comparisons and the JMESPath/condition side (`pattern_match`,
/// `AnyIn`, `Equals`) use this one, as Kyverno uses one `wildcard.Match`.
///
/// Same semantics as the `go-wildcard` v1 `Match` Kyverno uses, but linear
/// rather than exponential in the number of stars.
///
/// ```
/// use verdict::engine::kyverno::wildcards::matches;
/// assert!(matches("nginx:*", "nginx:1.25"));
/// assert!(matches("?*", "x"));
/// assert!(!matches("?*", ""));
/// assert!(!matches("a?c", "ac"));
/// ```
pub fn matches(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() {
        return name.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    if pattern.is_ascii() && name.is_ascii() {
        return glob(pattern.as_bytes(), name.as_bytes());
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    glob(&pattern, &name)
}

/// Greedy glob that backtracks only to the last star, over bytes or chars
/// (`?` is one character, so non-ASCII text is matched as chars).
fn glob<T: Copy + PartialEq + From<u8>>(pattern: &[T], name: &[T]) -> bool {
    let (star_symbol, any_symbol) = (T::from(b'*'), T::from(b'?'));
    let (mut p, mut n) = (0, 0);
    // Position of the last star seen and the name index it currently covers up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(c) if *c == star_symbol => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(c) if *c == any_symbol || *c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star, covered)) => {
                    p = star + 1;
                    n = covered + 1;
                    backtrack = Some((star, covered + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == star_symbol)
}

/// Whether a string holds a wildcard character.
///
/// ```
/// assert!(verdict::engine::kyverno::wildcards::contains_wildcard("app.kubernetes.io/*"));
/// ```
pub fn contains_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// Replaces wildcard keys of `metadata.labels` and `metadata.annotations` in a
/// pattern map by the first matching key of the resource, as Kyverno's
/// `ExpandInMetadata` does. Like Kyverno, the rewrite keeps only string-valued
/// entries of the pattern's labels/annotations, and it edits the pattern in
/// place, so later array elements see the expanded keys.
///
/// ```
/// use serde_json::json;
/// use verdict::engine::kyverno::wildcards::expand_in_metadata;
/// let mut pattern = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}});
/// let resource = json!({"metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
/// expand_in_metadata(pattern.as_object_mut().unwrap(), resource.as_object().unwrap());
/// assert_eq!(pattern, json!({"metadata": {"labels": {"app.kubernetes.io/name": "?*"}}}));
/// ```
pub fn expand_in_metadata(pattern: &mut Map<String, Value>, resource: &Map<String, Value>) {
    let Some(metadata_key) = key_for_tag("metadata", pattern) else {
        return;
    };
    let Some(resource_metadata) = resource.get("metadata").filter(|v| !v.is_null()) else {
        return;
    };
    let Some(Value::Object(metadata)) = pattern.get_mut(&metadata_key) else {
        return;
    };
    for tag in ["labels", "annotations"] {
        if let Some((key, expanded)) = expand_tag(tag, metadata, resource_metadata) {
            metadata.insert(key, Value::Object(expanded));
        }
    }
}

/// The key holding `tag` in a map, either plain or anchored (`=(labels)`).
fn key_for_tag(tag: &str, map: &Map<String, Value>) -> Option<String> {
    map.iter()
        .find(|(key, _)| {
            key.as_str() == tag || Anchor::parse(key).is_some_and(|anchor| anchor.key == tag)
        })
        .filter(|(_, value)| !value.is_null())
        .map(|(key, _)| key.clone())
}

fn string_entries<'a>(
    tag: &str,
    map: &'a Map<String, Value>,
) -> Option<(String, Vec<(&'a str, &'a str)>)> {
    let key = key_for_tag(tag, map)?;
    let entries = map.get(&key)?.as_object()?;
    let strings = entries
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
        .collect();
    Some((key, strings))
}

fn expand_tag(
    tag: &str,
    pattern_metadata: &Map<String, Value>,
    resource_metadata: &Value,
) -> Option<(String, Map<String, Value>)> {
    let (pattern_key, pattern_entries) = string_entries(tag, pattern_metadata)?;
    let (_, resource_entries) = string_entries(tag, resource_metadata.as_object()?)?;
    let mut expanded = Map::new();
    for (key, value) in pattern_entries {
        let new_key = if contains_wildcard(key) {
            match Anchor::parse(key) {
                Some(anchor) => anchor.kind.wrap(first_match(anchor.key, &resource_entries)),
                None => first_match(key, &resource_entries).to_string(),
            }
        } else {
            key.to_string()
        };
        expanded.insert(new_key, Value::String(value.to_string()));
    }
    Some((pattern_key, expanded))
}

fn first_match<'a>(key: &'a str, resource_entries: &[(&'a str, &'a str)]) -> &'a str {
    resource_entries
        .iter()
        .find(|(resource_key, _)| matches(key, resource_key))
        .map_or(key, |(resource_key, _)| resource_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_matching() {
        let cases = [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("a*", "a", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("?", "é", true),
            ("??", "é", false),
            ("*?", "", false),
            ("a**", "a", true),
            ("ngin?", "nginx", true),
            ("*.io/*", "ghcr.io/app", true),
            ("a*b", "acbd", false),
            ("a*b*", "acbd", true),
            ("h?llo*", "héllo wörld", true),
            ("h?llo", "hééllo", false),
            // A star in the pattern is always a wildcard, even facing a literal star.
            ("a*", "a*b", true),
            (
                "ghcr.io/kyverno/test-nginx*",
                "ghcr.io/kyverno/test-nginx:1.2",
                true,
            ),
            ("nginx", "nginx:latest", false),
            (
                "*a*a*a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{pattern:?} vs {name:?}");
        }
        assert!(matches(&"a*".repeat(50), &"a".repeat(200)));
    }

    #[test]
    fn anchored_wildcard_keys_keep_their_anchor() {
        let mut pattern = json!({"metadata": {"annotations": {"=(team.io/*)": "a*", "x": 1}}});
        let resource = json!({"metadata": {"annotations": {"team.io/owner": "alice"}}});
        expand_in_metadata(
            pattern.as_object_mut().unwrap(),
            resource.as_object().unwrap(),
        );
        assert_eq!(
            pattern,
            json!({"metadata": {"annotations": {"=(team.io/owner)": "a*"}}})
        );
    }
}
