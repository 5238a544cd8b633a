//! Writing snapshot bodies in the YAML style insta uses, so files accepted by
//! `cargo insta` and by `verdict` read the same and diff cleanly.
//!
//! Only what snapshots hold is supported: sequences, mappings with string keys,
//! strings, numbers, booleans and null. Strings are double-quoted exactly when a
//! plain scalar could be misread (insta's rule: leading indicator characters,
//! flow or comment characters, control characters, words YAML 1.1 reads as
//! booleans or null, and anything that parses as a number).

use serde_json::Value;
use std::fmt::Write;

/// The YAML text of `value`, ending with a newline.
///
/// ```
/// let rows = serde_json::json!([{"case": "pass-a.yaml", "outcome": "pass", "messages": ["x: y"]}]);
/// assert_eq!(
///     verdict::snapshot::to_yaml(&rows),
///     "- case: pass-a.yaml\n  outcome: pass\n  messages:\n    - \"x: y\"\n"
/// );
/// ```
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0, false),
        scalar => out.push_str(&scalar_text(scalar)),
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            // Compact form: the first key sits on the dash's line.
            Value::Object(map) if !map.is_empty() => write_mapping(out, map, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_sequence(out, inner, indent + 2);
            }
            scalar => {
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn write_mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize, first_inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !first_inline {
            pad(out, indent);
        }
        out.push_str(&string_text(key));
        out.push(':');
        match value {
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_sequence(out, items, indent + 2);
            }
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_mapping(out, inner, indent + 2, false);
            }
            scalar => {
                out.push(' ');
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "~".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

fn string_text(s: &str) -> String {
    if needs_quotes(s) {
        quoted(s)
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false", "on", "On", "ON",
        "off", "Off", "OFF", "null", "Null", "NULL", "~",
    ];
    s.is_empty()
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@', '.'])
        || s.starts_with("0x")
        || s.chars().any(|c| {
            matches!(c, ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\' | '\t' | '\n' | '\r')
                || matches!(c, '\0'..='\x06' | '\x0e'..='\x1a' | '\x1c'..='\x1f')
        })
        || WORDS.contains(&s)
        || s.parse::<i64>().is_ok()
        || s.parse::<f64>().is_ok()
}

/// A double-quoted scalar with JSON-style escapes.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::to_yaml;
    use serde_json::json;

    #[test]
    fn quoting_follows_what_yaml_could_misread() {
        let v = json!([{"a": "", "b": "true", "c": "1.5", "d": "-x", "e": "plain text", "f": "tab\there", "g": "x=y"}]);
        assert_eq!(
            to_yaml(&v),
            "- a: \"\"\n  b: \"true\"\n  c: \"1.5\"\n  d: \"-x\"\n  e: plain text\n  f: \"tab\\there\"\n  g: x=y\n"
        );
        assert_eq!(to_yaml(&json!([])), "[]\n");
    }

    #[test]
    fn the_output_parses_back_to_the_same_value() {
        let v = json!([{"case": "fail-x.yaml", "messages": ["line\nbreak", "quote \" and \\ back", "\u{1}"], "n": 3}]);
        let back: serde_json::Value = serde_yaml_ng::from_str(&to_yaml(&v)).unwrap();
        assert_eq!(back, v);
    }
}
