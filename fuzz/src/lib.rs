//! Kyverno-flavoured JSON built from fuzzer bytes: keys and strings are drawn
//! mostly from the shapes real policies use (anchors, operators, wildcards,
//! quantities, `{{ }}` variables), so the fuzzer reaches deep branches fast.
//!
//! Run from this directory: `cargo +nightly fuzz run pattern -- -max_total_time=300`
//! (targets: `pattern`, `substitute`; on stable, `RUSTC_BOOTSTRAP=1 cargo fuzz run ...`).

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

const KEYS: &[&str] = &[
    "a", "b", "name", "image", "spec", "metadata", "labels", "annotations", "containers",
    "(a)", "(name)", "=(a)", "=(labels)", "^(a)", "^(containers)", "X(a)", "<(a)", "<(name)",
    "+(a)", "(metadata)", "=(metadata)", "app*", "a?", "*", "(", "()", "X()", " (a) ",
];

const STRINGS: &[&str] = &[
    "*", "?*", "?", "", "a", "a*", "!*:latest", "*:latest | !*:*", "!a&!b", ">1", ">=0",
    "<=1Gi", "<1h", "1-5", "1!-5", "-10--5", "128Mi-1Gi", "500m", "1.5", "1e3", "1e-20",
    "1Gi", "0", "!0", "1h30m", ".5s", "+", ".", "-", "|", "&", "!", ">", "a|b", "1E+00",
    "1e2147483647", "1e-2147483648", "99999999999999999999Ei", "{{ a }}", "{{ request.object.metadata.name }}",
    "{{ length(@) }}", "{{ to_number('1') }}", "{{ a.b || 'x' }}", "$(../a)", "{{ }}", "{{",
    "{{ divide(`1`, `0`) }}", "{{ base64_decode('eA==') }}", "{{ split('a,b', ',') }}",
    "{{ @ }}", "{{ request.object.spec.containers[].image }}", "{{ time_now_utc() }}",
];

/// Maximum nesting the generator builds; the walk's own limit is tested elsewhere.
const MAX_DEPTH: usize = 6;

/// A JSON value whose shape and text come from `u`.
pub fn value(u: &mut Unstructured<'_>, depth: usize) -> Result<Value> {
    let choice = if depth >= MAX_DEPTH { u.int_in_range(0..=4)? } else { u.int_in_range(0..=6)? };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => number(u)?,
        3 | 4 => Value::String(text(u, STRINGS)?),
        5 => {
            let len = u.int_in_range(0..=3)?;
            Value::Array((0..len).map(|_| value(u, depth + 1)).collect::<Result<_>>()?)
        }
        _ => {
            let len = u.int_in_range(0..=4)?;
            let mut map = Map::new();
            for _ in 0..len {
                map.insert(text(u, KEYS)?, value(u, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

fn number(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Value::Number(u.int_in_range(-3i64..=3)?.into()),
        1 => Value::Number(u.arbitrary::<i64>()?.into()),
        2 => Value::Number(u.arbitrary::<u64>()?.into()),
        _ => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
    })
}

/// Mostly a dictionary entry, sometimes arbitrary text, sometimes both joined.
pub fn text(u: &mut Unstructured<'_>, dictionary: &[&str]) -> Result<String> {
    Ok(match u.int_in_range(0..=5)? {
        0 => u.arbitrary::<String>()?,
        1 => format!("{}{}", u.choose(dictionary)?, u.choose(dictionary)?),
        _ => (*u.choose(dictionary)?).to_string(),
    })
}
