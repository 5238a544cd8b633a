//! Rego v0 → v1 for OPA 1.x, whose embedded API parses v1 only.
//!
//! Gatekeeper templates and the gatekeeper-library unit tests are written in
//! v0. The rewrite is syntactic and local: `p[x] {` becomes `p contains x if {`,
//! and `if` goes before each rule's first body and each `else` body. The
//! positions come from regorus's own parser, so strings, comments and nested
//! braces cannot mislead it.

use anyhow::{anyhow, Result};
use regorus::unstable::{Parser, Rule, RuleHead};
use regorus::Source;

/// `source` as Rego v1; unchanged when it already is v1.
pub fn to_v1(file: &str, source: &str) -> Result<String> {
    if is_v1(file, source) {
        return Ok(source.to_string());
    }
    // OPA 1.x does read `p if { A } { B }`, but the v0 parser used here does
    // not; split bodies are OPA's own definition of such a rule.
    let split = verdict::engine::rego::split_set_bodies(source);
    let source = split.as_str();
    let parsed = Source::from_contents(file.to_string(), source.to_string())?;
    let mut parser = Parser::new(&parsed)?;
    let module = parser
        .parse()
        .map_err(|e| anyhow!("{file}: does not parse as Rego v0: {e}"))?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for rule in &module.policy {
        let Rule::Spec { head, bodies, .. } = rule.as_ref() else {
            continue;
        };
        if let RuleHead::Set {
            span,
            refr,
            key: Some(_),
        } = head
        {
            // The key's own span is unreliable for composite keys; the brackets are not.
            let (from, to) = (refr.span().end as usize, span.end as usize);
            let bracketed = source[from..to].trim();
            if let Some(key) = bracketed
                .strip_prefix('[')
                .and_then(|k| k.strip_suffix(']'))
            {
                edits.push((from, to, format!(" contains {}", key.trim())));
            }
        }
        for (i, body) in bodies.iter().enumerate() {
            if i > 0 && !body.is_else {
                continue; // further bodies of `p if { } { }` take no `if`
            }
            // A first body starts at its `{`; an `else [= value]` body at `else`.
            let after = match &body.assign {
                Some(assign) if body.is_else => assign.value.span().end as usize,
                _ => body.span.start as usize,
            };
            let Some(offset) = source[after..]
                .find(['{', '\n'])
                .filter(|&o| source[after + o..].starts_with('{'))
            else {
                continue;
            };
            let open = after + offset;
            if !ends_with_word(&source[..open], "if") {
                edits.push((open, open, " if ".to_string()));
            }
        }
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(source.len() + edits.len() * 10);
    let mut last = 0;
    for (from, to, text) in edits {
        out.push_str(&source[last..from]);
        out.push_str(&text);
        last = to;
    }
    out.push_str(&source[last..]);
    Ok(out)
}

/// Whether `text` ends (before trailing space) with the whole word `word`.
fn ends_with_word(text: &str, word: &str) -> bool {
    let text = text.trim_end();
    text.strip_suffix(word)
        .is_some_and(|before| !before.ends_with(|c: char| c.is_alphanumeric() || c == '_'))
}

fn is_v1(file: &str, source: &str) -> bool {
    if source.lines().any(|l| l.trim() == "import rego.v1") {
        return true;
    }
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine
        .add_policy(file.to_string(), source.to_string())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v0_rules_gain_contains_and_if() {
        let v0 = "package p\n\nviolation[{\"msg\": msg}] {\n  x := {\"a\": 1}\n  msg := \"m\"\n}\n\nf(x) = y {\n  y := x\n} else = 2 {\n  true\n}\n\ng(x) {\n  x\n}\n\ndefault d = false\n";
        let v1 = to_v1("p.rego", v0).unwrap();
        assert_eq!(
            v1,
            "package p\n\nviolation contains {\"msg\": msg}  if {\n  x := {\"a\": 1}\n  msg := \"m\"\n}\n\nf(x) = y  if {\n  y := x\n} else = 2  if {\n  true\n}\n\ng(x)  if {\n  x\n}\n\ndefault d = false\n"
        );
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(false);
        engine.add_policy("p.rego".into(), v1).unwrap();
    }

    #[test]
    fn a_body_right_after_a_name_keeps_the_name() {
        let v0 = "package p\ntest_params_notif{\n  true\n}\n";
        assert_eq!(
            to_v1("p.rego", v0).unwrap(),
            "package p\ntest_params_notif if {\n  true\n}\n"
        );
    }

    #[test]
    fn v1_modules_are_left_alone() {
        let v1 = "package p\nimport rego.v1\ndeny contains \"x\" if input.x\n";
        assert_eq!(to_v1("p.rego", v1).unwrap(), v1);
    }

    #[test]
    fn partial_objects_keep_their_key() {
        let v0 = "package p\nm[k] = v {\n  v := input[k]\n}\n";
        assert_eq!(
            to_v1("p.rego", v0).unwrap(),
            "package p\nm[k] = v  if {\n  v := input[k]\n}\n"
        );
    }
}
