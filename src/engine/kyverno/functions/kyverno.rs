//! Kyverno's own JMESPath functions (strings, regular expressions, encoding,
//! data shaping, semver, hashing), dispatched by name. Arithmetic and time
//! functions live in their own modules.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use regex::Regex;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::super::wildcards as wildcard;
use super::go_text::{iface_to_string, number};
use super::interpreter::{values_equal, Args, EvalError};
use super::{arithmetic, digest, time};

const NAMES: &[&str] = &[
    "compare",
    "equal_fold",
    "replace",
    "replace_all",
    "to_upper",
    "to_lower",
    "trim",
    "trim_prefix",
    "split",
    "regex_replace_all",
    "regex_replace_all_literal",
    "regex_match",
    "pattern_match",
    "label_match",
    "to_boolean",
    "add",
    "sum",
    "subtract",
    "multiply",
    "divide",
    "modulo",
    "round",
    "base64_decode",
    "base64_encode",
    "time_since",
    "time_now",
    "time_now_utc",
    "path_canonicalize",
    "truncate",
    "semver_compare",
    "parse_json",
    "parse_yaml",
    "lookup",
    "items",
    "object_from_lists",
    "random",
    "x509_decode",
    "time_to_cron",
    "time_add",
    "time_parse",
    "time_utc",
    "time_diff",
    "time_before",
    "time_after",
    "time_between",
    "time_truncate",
    "image_normalize",
    "is_external_url",
    "sha256",
    "sha1",
    "md5",
];

/// Largest string a function may build, so `replace` or `join` cannot exhaust memory.
const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

pub(crate) fn is_known(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Runs the Kyverno function `args.name`, or `None` when Kyverno has no such function.
pub(crate) fn call(args: &Args) -> Option<Result<Value, EvalError>> {
    Some(match args.name {
        "compare" => two_strings(args, |a, b| number(a.cmp(b) as i8 as f64)),
        "equal_fold" => two_strings(args, |a, b| Value::Bool(equal_fold(a, b))),
        "replace" => replace(args),
        "replace_all" => replace_all(args),
        "to_upper" => one_string(args, |s| Value::String(s.to_uppercase())),
        "to_lower" => one_string(args, |s| Value::String(s.to_lowercase())),
        "trim" => two_strings(args, |s, cutset| Value::String(s.trim_matches(|c| cutset.contains(c)).to_string())),
        "trim_prefix" => two_strings(args, |s, prefix| Value::String(s.strip_prefix(prefix).unwrap_or(s).to_string())),
        "split" => two_strings(args, split),
        "regex_replace_all" => regex_replace(args, false),
        "regex_replace_all_literal" => regex_replace(args, true),
        "regex_match" => regex_match(args),
        "pattern_match" => pattern_match(args),
        "label_match" => label_match(args),
        "to_boolean" => to_boolean(args),
        "add" => arithmetic::add(args),
        "sum" => arithmetic::sum(args),
        "subtract" => arithmetic::subtract(args),
        "multiply" => arithmetic::multiply(args),
        "divide" => arithmetic::divide(args),
        "modulo" => arithmetic::modulo(args),
        "round" => arithmetic::round(args),
        "base64_decode" => base64_decode(args),
        "base64_encode" => one_string(args, |s| {
            Value::String(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        }),
        "path_canonicalize" => one_string(args, |s| Value::String(clean_path(s))),
        "truncate" => truncate(args),
        "semver_compare" => semver_compare(args),
        "parse_json" => parse_json(args),
        "parse_yaml" => parse_yaml(args),
        "lookup" => lookup(args),
        "items" => items(args),
        "object_from_lists" => object_from_lists(args),
        "sha256" => one_string(args, |s| Value::String(hex(&Sha256::digest(s.as_bytes())))),
        "sha1" => one_string(args, |s| Value::String(hex(&digest::sha1(s.as_bytes())))),
        "md5" => one_string(args, |s| Value::String(hex(&digest::md5(s.as_bytes())))),
        "image_normalize" => image_normalize(args),
        "is_external_url" => is_external_url(args),
        "random" => Err(EvalError::function(
            args.name,
            "not supported by verdict: its output is random, so verdicts would not be reproducible",
        )),
        "x509_decode" => Err(EvalError::function(
            args.name,
            "not supported by verdict: decoding X.509 certificates needs an ASN.1 parser verdict does not ship",
        )),
        name if name.starts_with("time_") => time::call(args),
        _ => return None,
    })
}

fn one_string(args: &Args, f: impl Fn(&str) -> Value) -> Result<Value, EvalError> {
    args.arity(1)?;
    Ok(f(args.string(0)?))
}

fn two_strings(args: &Args, f: impl Fn(&str, &str) -> Value) -> Result<Value, EvalError> {
    args.arity(2)?;
    Ok(f(args.string(0)?, args.string(1)?))
}

/// Go's `strings.EqualFold`: simple Unicode case folding.
fn equal_fold(a: &str, b: &str) -> bool {
    let fold = |c: char| c.to_lowercase().collect::<String>();
    a.chars().count() == b.chars().count()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x == y || fold(x) == fold(y))
}

fn bounded(name: &str, text: String) -> Result<Value, EvalError> {
    if text.len() > MAX_OUTPUT_BYTES {
        return Err(EvalError::function(name, "result too large"));
    }
    Ok(Value::String(text))
}

fn projected_len(s: &str, old: &str, new: &str, limit: usize) -> usize {
    let occurrences = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    s.len() + occurrences.min(limit) * new.len()
}

fn replace(args: &Args) -> Result<Value, EvalError> {
    args.arity(4)?;
    let (s, old, new) = (args.string(0)?, args.string(1)?, args.string(2)?);
    let n = args.number(3)?;
    // Go: a negative count replaces every occurrence.
    let limit = if n < 0.0 { usize::MAX } else { n as usize };
    if projected_len(s, old, new, limit) > MAX_OUTPUT_BYTES {
        return Err(EvalError::function(args.name, "result too large"));
    }
    bounded(args.name, go_replace(s, old, new, limit))
}

fn replace_all(args: &Args) -> Result<Value, EvalError> {
    args.arity(3)?;
    let (s, old, new) = (args.string(0)?, args.string(1)?, args.string(2)?);
    if projected_len(s, old, new, usize::MAX) > MAX_OUTPUT_BYTES {
        return Err(EvalError::function(args.name, "result too large"));
    }
    bounded(args.name, go_replace(s, old, new, usize::MAX))
}

/// Go's `strings.Replace`: an empty `old` matches before every character and at the end.
fn go_replace(s: &str, old: &str, new: &str, limit: usize) -> String {
    if old.is_empty() {
        let mut out = String::new();
        let mut done = 0;
        for c in s.chars() {
            if done < limit {
                out.push_str(new);
                done += 1;
            }
            out.push(c);
        }
        if done < limit {
            out.push_str(new);
        }
        return out;
    }
    s.replacen(old, new, limit)
}

fn split(s: &str, sep: &str) -> Value {
    if sep.is_empty() {
        return Value::Array(s.chars().map(|c| Value::String(c.to_string())).collect());
    }
    Value::Array(
        s.split(sep)
            .map(|part| Value::String(part.to_string()))
            .collect(),
    )
}

/// Compiled regular expressions by source; policies reuse a handful of patterns.
fn regex(name: &str, source: &str) -> Result<Regex, EvalError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(source).cloned()) {
        return Ok(re);
    }
    let re = regex::RegexBuilder::new(source)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| EvalError::function(name, e.to_string()))?;
    if let Ok(mut c) = cache.lock() {
        if c.len() > 1024 {
            c.clear();
        }
        c.insert(source.to_string(), re.clone());
    }
    Ok(re)
}

fn string_or_number(args: &Args, index: usize) -> Result<String, EvalError> {
    match args.value(index)? {
        v @ (Value::String(_) | Value::Number(_)) => {
            iface_to_string(v).ok_or_else(|| args.type_error(index, "String or Real"))
        }
        _ => Err(args.type_error(index, "String or Real")),
    }
}

fn regex_replace(args: &Args, literal: bool) -> Result<Value, EvalError> {
    args.arity(3)?;
    let re = regex(args.name, args.string(0)?)?;
    let src = string_or_number(args, 1)?;
    let repl = string_or_number(args, 2)?;
    let out = if literal {
        re.replace_all(&src, regex::NoExpand(&repl)).into_owned()
    } else {
        re.replace_all(&src, repl.as_str()).into_owned()
    };
    bounded(args.name, out)
}

fn regex_match(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let re = regex(args.name, args.string(0)?)?;
    Ok(Value::Bool(re.is_match(&string_or_number(args, 1)?)))
}

fn pattern_match(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    Ok(Value::Bool(wildcard::matches(
        args.string(0)?,
        &string_or_number(args, 1)?,
    )))
}

fn label_match(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let selector = args.object(0)?;
    let labels = args.object(1)?;
    Ok(Value::Bool(selector.iter().all(|(k, v)| {
        labels.get(k).is_some_and(|l| values_equal(l, v))
    })))
}

fn to_boolean(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let input = args.string(0)?;
    match input.to_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        _ => Err(EvalError::function(
            args.name,
            format!("lowercase argument must be 'true' or 'false' (provided: '{input}')"),
        )),
    }
}

fn base64_decode(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(args.string(0)?)
        .map_err(|e| EvalError::function(args.name, e.to_string()))?;
    // Go converts the bytes to a string as they are; invalid UTF-8 is replaced here.
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Go's `filepath.Clean` on a Unix path (what `filepath.Join(p)` returns).
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn truncate(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let s = args.string(0)?;
    let length = args.number(1)?.max(0.0) as usize;
    Ok(Value::String(s.chars().take(length).collect()))
}

fn semver_compare(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    // Kyverno ignores a version that does not parse and compares 0.0.0 instead.
    let version = semver::Version::parse(args.string(0)?).unwrap_or(semver::Version::new(0, 0, 0));
    let range = super::semver_range::parse(args.string(1)?)
        .map_err(|e| EvalError::function(args.name, e))?;
    Ok(Value::Bool(range.matches(&version)))
}

fn parse_json(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    serde_json::from_str(args.string(0)?).map_err(|e| EvalError::function(args.name, e.to_string()))
}

fn parse_yaml(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let text = args.string(0)?;
    if text.len() > MAX_OUTPUT_BYTES {
        return Err(EvalError::function(args.name, "input too large"));
    }
    serde_yaml_ng::from_str::<Value>(text)
        .map_err(|e| EvalError::function(args.name, e.to_string()))
}

fn lookup(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    match args.value(0)? {
        Value::Object(map) => {
            let key = args
                .value(1)?
                .as_str()
                .ok_or_else(|| args.type_error(1, "String"))?;
            Ok(map.get(key).cloned().unwrap_or(Value::Null))
        }
        Value::Array(items) => {
            let key = args
                .value(1)?
                .as_f64()
                .ok_or_else(|| args.type_error(1, "Number"))?;
            if key.fract() != 0.0 || !key.is_finite() {
                return Err(EvalError::function(
                    args.name,
                    format!("argument #2: expected an integer number but got: {key}"),
                ));
            }
            if key < 0.0 || key >= items.len() as f64 {
                return Ok(Value::Null);
            }
            Ok(items[key as usize].clone())
        }
        _ => Err(args.type_error(0, "Object or Array")),
    }
}

fn items(args: &Args) -> Result<Value, EvalError> {
    args.arity(3)?;
    let key_name = args
        .value(1)?
        .as_str()
        .ok_or_else(|| args.type_error(1, "String"))?;
    let value_name = args
        .value(2)?
        .as_str()
        .ok_or_else(|| args.type_error(2, "String"))?;
    let pair = |k: Value, v: &Value| {
        let mut m = Map::new();
        m.insert(key_name.to_string(), k);
        m.insert(value_name.to_string(), v.clone());
        Value::Object(m)
    };
    match args.value(0)? {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Ok(Value::Array(
                keys.into_iter()
                    .map(|k| pair(Value::String(k.clone()), &map[k]))
                    .collect(),
            ))
        }
        Value::Array(list) => Ok(Value::Array(
            list.iter()
                .enumerate()
                .map(|(i, v)| pair(number(i as f64), v))
                .collect(),
        )),
        _ => Err(args.type_error(0, "Object or Array")),
    }
}

fn object_from_lists(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let keys = args.array(0)?;
    let values = args.array(1)?;
    let mut out = Map::new();
    for (i, key) in keys.iter().enumerate() {
        let key = iface_to_string(key).ok_or_else(|| args.type_error(0, "StringArray"))?;
        out.insert(key, values.get(i).cloned().unwrap_or(Value::Null));
    }
    Ok(Value::Object(out))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Kyverno's image normalisation with its default registry (`docker.io`) and tag (`latest`).
fn image_normalize(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let image = args.string(0)?;
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(EvalError::function(
            args.name,
            format!("bad image: {image}"),
        ));
    }
    let (name_part, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (first, rest) = match name_part.split_once('/') {
        Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => (Some(f), r),
        _ => (None, name_part),
    };
    let registry = first.unwrap_or("docker.io");
    let (path, tag) = match rest.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, Some(t)),
        _ => (rest, None),
    };
    if path.is_empty() {
        return Err(EvalError::function(
            args.name,
            format!("bad image: {image}"),
        ));
    }
    let mut out = format!("{registry}/{path}");
    match (tag, digest) {
        (Some(t), Some(d)) => out.push_str(&format!(":{t}@{d}")),
        (None, Some(d)) => out.push_str(&format!("@{d}")),
        (Some(t), None) => out.push_str(&format!(":{t}")),
        (None, None) => out.push_str(":latest"),
    }
    Ok(Value::String(out))
}

/// Answers for IP literals; host names would need DNS, which verdict never does.
fn is_external_url(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let url = args.string(0)?;
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(Value::Bool(false));
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => Ok(Value::Bool(!(ip.is_loopback() || ip.is_private()))),
        Ok(std::net::IpAddr::V6(ip)) => {
            let private = (ip.segments()[0] & 0xfe00) == 0xfc00;
            Ok(Value::Bool(!(ip.is_loopback() || private)))
        }
        Err(_) => Err(EvalError::function(
            args.name,
            format!("cannot resolve host {host:?}: verdict does not perform DNS lookups"),
        )),
    }
}
