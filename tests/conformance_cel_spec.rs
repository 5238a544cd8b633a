//! cel-spec conformance: the simple tests of cel-spec's conformance suite, as
//! the npm package `@bufbuild/cel-spec` ships them (`scripts/cel-spec.sh`
//! provisions them as JSON), run over verdict's CEL environment for the
//! sections admission policies use.
//!
//! Each test compiles its expression in `CelEnv::kubernetes()` (with the
//! test's container), binds its bindings, evaluates, and compares with the
//! expected value, or expects an error for an `evalError` test; the result
//! type verdict infers at load, when not `dyn`, must be the value's. Tests verdict
//! cannot express are skipped with a reason (counted in the table): check-only
//! tests (there is no type checker), and tests whose expected value or
//! bindings are protobuf messages, enums or type values.
//!
//! The test fails when a test fails that `tests/conformance/cel-spec.known-gaps`
//! does not name, when a named gap no longer fails, or when the README's table
//! is stale; `VERDICT_WRITE_DOCS=1` rewrites the table.

mod support;

use base64::Engine as _;
use cel::objects::{Key, Map};
use cel::Value;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use support::Counts;
use verdict::engine::cel::{Activation, CelEnv, ResultType};

const VERSION: &str = "0.6.1";
const GAPS_FILE: &str = "tests/conformance/cel-spec.known-gaps";
const README: &str = "README.md";
const BEGIN: &str = "<!-- cel-spec-conformance:begin -->";
const END: &str = "<!-- cel-spec-conformance:end -->";
/// The sections policies use (cel-spec's `durations` tests live in `timestamps`).
const SECTIONS: &[&str] = &[
    "basic",
    "comparisons",
    "conversions",
    "fields",
    "lists",
    "logic",
    "macros",
    "optionals",
    "string",
    "string_ext",
    "timestamps",
    "integer_math",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$VERDICT_CEL_SPEC`, else where `scripts/cel-spec.sh` caches it.
fn data_file() -> PathBuf {
    match std::env::var_os("VERDICT_CEL_SPEC") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/verdict/cel-spec")
            .join(VERSION)
            .join("conformance.json"),
    }
}

/// `section/suite/test: reason` lines; `#` comments and blank lines ignored.
fn read_known_gaps() -> BTreeMap<String, String> {
    let path = repo().join(GAPS_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut gaps = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, reason) = line.split_once(": ").unwrap_or_else(|| {
            panic!(
                "{}:{}: want `section/suite/test: reason`",
                path.display(),
                n + 1
            )
        });
        assert!(
            !reason.trim().is_empty(),
            "{}:{}: a known gap needs a reason",
            path.display(),
            n + 1
        );
        assert!(
            gaps.insert(key.to_string(), reason.trim().to_string())
                .is_none(),
            "{}:{}: duplicate gap",
            path.display(),
            n + 1
        );
    }
    gaps
}

/// A protobuf-JSON `cel.expr.Value` as a CEL value, or why it cannot be one.
fn expected(value: &Json) -> Result<Value, &'static str> {
    let (kind, v) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or("empty value")?;
    let text = || v.as_str().unwrap_or_default();
    Ok(match kind.as_str() {
        "int64Value" => Value::Int(text().parse().map_err(|_| "bad int64Value")?),
        "uint64Value" => Value::UInt(text().parse().map_err(|_| "bad uint64Value")?),
        "doubleValue" => Value::Float(match v {
            Json::String(s) if s == "NaN" => f64::NAN,
            Json::String(s) if s == "Infinity" => f64::INFINITY,
            Json::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
            _ => v.as_f64().ok_or("bad doubleValue")?,
        }),
        "stringValue" => Value::String(Arc::new(text().to_string())),
        "bytesValue" => Value::Bytes(Arc::new(
            base64::engine::general_purpose::STANDARD
                .decode(text())
                .map_err(|_| "bad bytesValue")?,
        )),
        "boolValue" => Value::Bool(v.as_bool().ok_or("bad boolValue")?),
        "nullValue" => Value::Null,
        "listValue" => {
            let items = v["values"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            Value::List(Arc::new(
                items.iter().map(expected).collect::<Result<_, _>>()?,
            ))
        }
        "mapValue" => {
            let mut map = HashMap::new();
            for entry in v["entries"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let key = match expected(&entry["key"])? {
                    Value::Int(i) => Key::Int(i),
                    Value::UInt(u) => Key::Uint(u),
                    Value::Bool(b) => Key::Bool(b),
                    Value::String(s) => Key::String(s),
                    _ => return Err("map key of another type"),
                };
                map.insert(key, expected(&entry["value"])?);
            }
            Value::Map(Map { map: Arc::new(map) })
        }
        "objectValue" => return Err("a protobuf message value"),
        "enumValue" => return Err("a protobuf enum value"),
        "typeValue" => {
            return Err("a type value (cel-rust turns a type result into its name as a string)")
        }
        _ => return Err("an unknown value kind"),
    })
}

/// Equality as the conformance runner means it: NaN matches NaN.
fn same(actual: &Value, want: &Value) -> bool {
    match (actual, want) {
        (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same(x, y))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.map.len() == b.map.len()
                && a.map
                    .iter()
                    .all(|(k, v)| b.map.get(k).is_some_and(|w| same(v, w)))
        }
        _ => actual == want,
    }
}

enum Outcome {
    Passed,
    Skipped(&'static str),
    Failed(String),
}

fn run_test(test: &Json) -> Outcome {
    let expr = test["expr"].as_str().unwrap_or_default();
    if test["checkOnly"].as_bool() == Some(true) {
        return Outcome::Skipped("check-only (verdict has no CEL type checker)");
    }
    let want = if test.get("evalError").is_some() {
        None
    } else {
        // An unspecified result means `true` (cel-spec's SimpleTest).
        let value = test
            .get("value")
            .or_else(|| test.get("typedResult").map(|t| &t["result"]));
        match value.map(expected).unwrap_or(Ok(Value::Bool(true))) {
            Ok(v) => Some(v),
            Err(why) => return Outcome::Skipped(why),
        }
    };
    let mut activation = Activation::new();
    for (name, binding) in test["bindings"].as_object().into_iter().flatten() {
        match expected(&binding["value"]) {
            Ok(v) => activation.bind(name, v),
            Err(why) => return Outcome::Skipped(why),
        }
    }
    let env = match test["container"].as_str() {
        Some(container) => match CelEnv::builder().extension(|env| env.set_container(container)) {
            Ok(builder) => builder.build(),
            Err(e) => return Outcome::Failed(format!("container {container:?}: {e}")),
        },
        None => CelEnv::kubernetes(),
    };
    let result = env
        .compile(expr)
        .and_then(|compiled| compiled.evaluate(&activation));
    match (want, result) {
        (None, Err(_)) => Outcome::Passed,
        (None, Ok(v)) => Outcome::Failed(format!("want an error, got {v:?}")),
        // The load-time result type, when known, must be the type of the value.
        (Some(want), Ok(v)) if same(&v, &want) => match (env.result_type(expr), result_type_of(&v)) {
            (Ok(ResultType::Dyn), _) | (_, None) => Outcome::Passed,
            (Ok(inferred), Some(actual)) if inferred == actual => Outcome::Passed,
            (inferred, actual) => Outcome::Failed(format!(
                "the load-time result type {inferred:?} is not the type of the value, {actual:?}"
            )),
        },
        (Some(want), Ok(v)) => Outcome::Failed(format!("want {want:?}, got {v:?}")),
        (Some(_), Err(e)) => Outcome::Failed(e.to_string()),
    }
}

/// The [`ResultType`] of an evaluated value (`None` for values it has none for).
fn result_type_of(value: &Value) -> Option<ResultType> {
    Some(match value {
        Value::Bool(_) => ResultType::Bool,
        Value::Int(_) => ResultType::Int,
        Value::UInt(_) => ResultType::Uint,
        Value::Float(_) => ResultType::Double,
        Value::String(_) => ResultType::String,
        Value::Bytes(_) => ResultType::Bytes,
        Value::List(_) => ResultType::List,
        Value::Map(_) => ResultType::Map,
        Value::Null => ResultType::Null,
        Value::Timestamp(_) => ResultType::Timestamp,
        Value::Duration(_) => ResultType::Duration,
        _ => return None,
    })
}

#[derive(Default)]
struct Measurement {
    sections: BTreeMap<String, Counts>,
    skip_reasons: BTreeMap<&'static str, usize>,
    /// key → failure message
    failures: BTreeMap<String, String>,
}

/// Every test below `suite` as (`suite/.../name`, test).
fn tests_of<'a>(suite: &'a Json, prefix: &str, out: &mut Vec<(String, &'a Json)>) {
    let prefix = match suite["name"].as_str() {
        Some(name) if !prefix.is_empty() => format!("{prefix}/{name}"),
        Some(name) => name.to_string(),
        None => prefix.to_string(),
    };
    for test in suite["tests"].as_array().into_iter().flatten() {
        out.push((
            format!(
                "{prefix}/{}",
                test["original"]["name"].as_str().unwrap_or("?")
            ),
            &test["original"],
        ));
    }
    for child in suite["suites"].as_array().into_iter().flatten() {
        tests_of(child, &prefix, out);
    }
}

fn measure(data: &Json) -> Result<Measurement, String> {
    let mut m = Measurement::default();
    let suites = data["suites"]
        .as_array()
        .ok_or("no `suites` in the conformance data")?;
    for &section in SECTIONS {
        let suite = suites
            .iter()
            .find(|s| s["name"] == section)
            .ok_or_else(|| format!("the conformance data has no `{section}` section"))?;
        let mut tests = Vec::new();
        tests_of(suite, "", &mut tests);
        let counts = m.sections.entry(section.to_string()).or_default();
        for (key, test) in tests {
            match run_test(test) {
                Outcome::Passed => counts.passed += 1,
                Outcome::Skipped(why) => {
                    counts.skipped += 1;
                    *m.skip_reasons.entry(why).or_default() += 1;
                }
                Outcome::Failed(message) => {
                    counts.failed += 1;
                    m.failures.insert(key, message);
                }
            }
        }
    }
    Ok(m)
}

fn section(m: &Measurement, gaps: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    writeln!(out, "{BEGIN}").unwrap();
    writeln!(
        out,
        "Generated by `VERDICT_WRITE_DOCS=1 cargo test --test conformance_cel_spec` from `@bufbuild/cel-spec` {VERSION}; do not edit.\n"
    )
    .unwrap();
    writeln!(
        out,
        "| section | passed | failed (known gaps) | skipped | total | pass rate of run |"
    )
    .unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|---:|").unwrap();
    let mut total = Counts::default();
    for (name, c) in &m.sections {
        let run = c.passed + c.failed;
        let rate = if run == 0 {
            0.0
        } else {
            100.0 * c.passed as f64 / run as f64
        };
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {rate:.1} % |",
            c.passed,
            c.failed,
            c.skipped,
            c.total()
        )
        .unwrap();
        total.passed += c.passed;
        total.failed += c.failed;
        total.skipped += c.skipped;
    }
    let run = total.passed + total.failed;
    let rate = if run == 0 {
        0.0
    } else {
        100.0 * total.passed as f64 / run as f64
    };
    writeln!(
        out,
        "| **all** | {} | {} | {} | {} | {rate:.1} % |",
        total.passed,
        total.failed,
        total.skipped,
        total.total()
    )
    .unwrap();
    let mut failing_reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, message) in &m.failures {
        *failing_reasons
            .entry(gaps.get(key).map_or(message.as_str(), String::as_str))
            .or_default() += 1;
    }
    if !failing_reasons.is_empty() {
        writeln!(
            out,
            "\nFailing, by reason (each test named in `{GAPS_FILE}`):\n"
        )
        .unwrap();
        for (why, n) in &failing_reasons {
            writeln!(out, "- {n}: {}", why.replace('\n', " ")).unwrap();
        }
    }
    if !m.skip_reasons.is_empty() {
        writeln!(out, "\nSkipped, by reason:\n").unwrap();
        for (why, n) in &m.skip_reasons {
            writeln!(out, "- {n}: {why}").unwrap();
        }
    }
    write!(out, "{END}").unwrap();
    out
}

fn main() {
    support::conformance_main(
        "cel_spec_conformance",
        "cel-spec (run scripts/cel-spec.sh)",
        &data_file(),
        cel_spec_conformance,
    );
}

fn cel_spec_conformance() -> Result<(), libtest_mimic::Failed> {
    let file = data_file();
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let data: Json = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let gaps = read_known_gaps();
    let m = measure(&data)?;
    let generated = section(&m, &gaps);
    println!("{generated}");

    let readme_path = repo().join(README);
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        return Err(format!("{README} has no {BEGIN} ... {END} section").into());
    };
    if std::env::var_os("VERDICT_WRITE_DOCS").is_some() {
        let updated = format!(
            "{}{generated}{}",
            &readme[..start],
            &readme[end + END.len()..]
        );
        std::fs::write(&readme_path, updated).unwrap();
        println!("wrote {}", readme_path.display());
    } else if readme[start..end + END.len()] != generated {
        return Err(format!(
            "the cel-spec conformance table in {README} is out of date; regenerate it with VERDICT_WRITE_DOCS=1 cargo test --test conformance_cel_spec"
        )
        .into());
    }

    let failures = m.failures.iter().map(|(k, message)| (k.clone(), message.clone()));
    let problems = support::gap_problems(failures, &gaps, "tests", GAPS_FILE);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.into())
    }
}
