//! Kyverno's random library (kyverno/sdk `cel/libs/random`): `random()` and
//! `random(pattern)`, also as `random.random`: a string matching a regular
//! expression, as goregen generates one for Kyverno. Its output is random by
//! design; a policy testing an exact value of it cannot pass reliably anywhere.

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};
use rand::RngExt;
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
use std::sync::Arc;

/// Kyverno's pattern when none is given.
const DEFAULT_PATTERN: &str = "[0-9a-z]{8}";

/// Repeats `*`, `+` and `{n,}` may add, goregen's default.
const MAX_UNBOUNDED_REPEAT: u32 = 10;

/// Longest pattern accepted, so one call stays cheap.
const MAX_PATTERN_BYTES: usize = 4096;

/// goregen writes nothing for `^`, `$`, `\b` and the like; rand_regex refuses
/// them, so they become empty.
fn without_assertions(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Capture(capture) => Hir::capture(Capture {
            sub: Box::new(without_assertions(*capture.sub)),
            ..capture
        }),
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            sub: Box::new(without_assertions(*repetition.sub)),
            ..repetition
        }),
        HirKind::Concat(parts) => Hir::concat(parts.into_iter().map(without_assertions).collect()),
        HirKind::Alternation(parts) => {
            Hir::alternation(parts.into_iter().map(without_assertions).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
    }
}

fn generate(pattern: &str) -> Result<Value, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "pattern of {} bytes is over the limit of {MAX_PATTERN_BYTES}",
            pattern.len()
        ));
    }
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| format!("invalid pattern {pattern:?}: {e}"))?;
    let generator = rand_regex::Regex::with_hir(without_assertions(hir), MAX_UNBOUNDED_REPEAT)
        .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
    let text: String = rand::rng().sample(&generator);
    Ok(Value::String(Arc::new(text)))
}

fn random(args: &[Value]) -> Result<Value, String> {
    match args.len() {
        0 => generate(DEFAULT_PATTERN),
        _ => generate(&string_arg(args, 0)?),
    }
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "random", &[0, 1], |a| call("random", a, random))?;
    declare(env, "random.random", &[0, 1], |a| {
        call("random.random", a, random)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    fn generated(source: &str) -> String {
        match eval(source, None) {
            Ok(cel::Value::String(s)) => s.to_string(),
            other => panic!("{source}: {other:?}"),
        }
    }

    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .unwrap()
            .is_match(text)
    }

    #[test]
    fn output_matches_the_pattern() {
        // Kyverno's own cases test only the shape, as here.
        for _ in 0..20 {
            assert!(matches("[0-9a-z]{8}", &generated("random()")));
            assert!(matches("[0-9a-z]{8}", &generated("random.random()")));
            let text = generated(r#"random("[A-Z]{3}-[0-9]{2,4}(x|yz)?")"#);
            assert!(matches("[A-Z]{3}-[0-9]{2,4}(x|yz)?", &text), "{text}");
            let text = generated(r#"random.random("^ab+c*$")"#);
            assert!(matches("ab{1,11}c{0,10}", &text), "{text}");
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        let error = eval(r#"random("[a-") == ''"#, None).unwrap_err();
        assert!(
            error.contains("random") && error.contains("invalid pattern"),
            "{error}"
        );
        let error = eval(r#"random("[^\\x00-\\x{10FFFF}]") == ''"#, None).unwrap_err();
        assert!(error.contains("random"), "{error}");
        assert!(eval("random(1) == ''", None).is_err());
    }
}
