//! Reading files into [`Input`]s with strict limits.
//!
//! Every input may be hostile, so each step is bounded: the size is checked
//! before reading, nesting depth is bounded (at most 127 levels: serde_json and
//! serde_yaml_ng both stop recursing at 128 whatever the limit), YAML alias expansion is
//! charged against a budget proportional to the file, and the number of
//! documents is capped. Errors always name the file, and the line when known.

use super::Input;
use crate::error::LoadError;
use crate::limits::Limits;
use encoding_rs::{Encoding, UTF_8};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Both parsers refuse to nest deeper than this, whatever [`Limits::max_depth`] says.
const PARSER_MAX_DEPTH: usize = 127;

/// Memory charged per parsed node, roughly the size of a `serde_json::Value` and its slot.
const NODE_COST: usize = 16;
/// Expanded-size budget per byte of text: room for ordinary use of YAML
/// anchors, while an alias bomb stops within a small multiple of the file size.
const EXPANSION_PER_BYTE: usize = 32;
const EXPANSION_FLOOR: usize = 16 << 20;

/// Load every document of one file.
///
/// The size limit is checked from the file's metadata before anything is read.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("pods.yaml");
/// std::fs::write(&path, "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n").unwrap();
/// let inputs = verdict::input::load_file(&path, &verdict::limits::Limits::default()).unwrap();
/// assert_eq!(inputs.len(), 2);
/// assert_eq!(inputs[1].line, Some(5));
/// ```
pub fn load_file(path: &Path, limits: &Limits) -> Result<Vec<Input>, LoadError> {
    let text = read_text(path, limits)?;
    load_str(path, &text, limits)
}

/// Read a file's text under the size limit, decoding UTF-8 (or UTF-16 with a
/// byte order mark), for readers that need the text itself (to locate lines).
pub fn read_text(path: &Path, limits: &Limits) -> Result<String, LoadError> {
    // Open first and ask the open file for its size: one path lookup, not two.
    let file = File::open(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    let metadata = file.metadata().map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    if metadata.is_dir() {
        return Err(LoadError::new(path, "is a directory, not a file"));
    }
    if metadata.len() > limits.max_file_bytes {
        return Err(too_large(path, metadata.len(), limits));
    }
    // The file may grow after the metadata check, or be a device that reports no size.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(path, bytes.len() as u64, limits));
    }
    decode(path, &bytes).map(Cow::into_owned)
}

/// Load every document of text already read from `path`.
///
/// JSON (by extension, or by content starting with `{` or `[`) is one document;
/// anything else is multi-document YAML. Empty documents are skipped and
/// `kind: List` / `*List` objects are flattened into their items.
///
/// ```
/// use std::path::Path;
/// use verdict::limits::Limits;
/// let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
///   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
///   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}]}"#;
/// let inputs = verdict::input::load_str(Path::new("list.json"), text, &Limits::default()).unwrap();
/// assert_eq!(inputs.iter().map(|i| i.resource.as_str()).collect::<Vec<_>>(), ["ConfigMap/a", "ConfigMap/b"]);
/// ```
pub fn load_str(path: &Path, text: &str, limits: &Limits) -> Result<Vec<Input>, LoadError> {
    Ok(load_values(path, text, limits)?
        .into_iter()
        .enumerate()
        .map(|(index, (line, value))| Input::from_value(path.to_path_buf(), index, line, value))
        .collect())
}

/// What [`load_str`] reads, as (line, value) pairs under the same limits and
/// checks, without building an [`Input`] (its id, label and digest) for each:
/// for readers that only want the objects and their lines.
pub fn load_values(path: &Path, text: &str, limits: &Limits) -> Result<Vec<(Option<usize>, Value)>, LoadError> {
    if text.len() as u64 > limits.max_file_bytes {
        return Err(too_large(path, text.len() as u64, limits));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(at) = text.find('\0') {
        return Err(LoadError::at_line(
            path,
            line_at(text.as_bytes(), at),
            "contains a NUL character (UTF-16 without a byte order mark is not supported)",
        ));
    }
    let max_depth = limits.max_depth.min(PARSER_MAX_DEPTH);
    let documents = if is_json_path(path) {
        vec![parse_json(path, text, max_depth)?]
    } else if looks_like_json(text) {
        // YAML flow style (`{a: 1}`) also starts with a brace: fall back to YAML.
        match parse_json(path, text, max_depth) {
            Ok(document) => vec![document],
            Err(_) => parse_yaml(path, text, limits, max_depth)?,
        }
    } else {
        parse_yaml(path, text, limits, max_depth)?
    };

    let mut values = Vec::new();
    for (line, value) in documents {
        for item in flatten_list(value) {
            if values.len() >= limits.max_documents {
                return Err(too_many_documents(path, line, limits));
            }
            values.push((line, item));
        }
    }
    Ok(values)
}

fn too_large(path: &Path, size: u64, limits: &Limits) -> LoadError {
    LoadError::new(path, format!("file is {size} bytes, over the limit of {} bytes", limits.max_file_bytes))
}

fn too_many_documents(path: &Path, line: Option<usize>, limits: &Limits) -> LoadError {
    let message = format!("more than {} documents (limit)", limits.max_documents);
    match line {
        Some(line) => LoadError::at_line(path, line, message),
        None => LoadError::new(path, message),
    }
}

/// Bytes to text: UTF-8 (BOM stripped) or UTF-16 with a byte order mark,
/// as PowerShell writes `terraform show -json > plan.json`.
fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<Cow<'a, str>, LoadError> {
    match Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) if encoding != UTF_8 => {
            let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
            if had_errors {
                let at = text.find('\u{fffd}').unwrap_or(0);
                return Err(LoadError::at_line(
                    path,
                    line_at(text.as_bytes(), at),
                    format!("invalid {} (unpaired surrogate or odd number of bytes)", encoding.name()),
                ));
            }
            Ok(Cow::Owned(text.into_owned()))
        }
        bom => {
            let skip = bom.map_or(0, |(_, len)| len);
            let body = &bytes[skip..];
            std::str::from_utf8(body).map(Cow::Borrowed).map_err(|e| {
                let at = e.valid_up_to();
                LoadError::at_line(
                    path,
                    line_at(body, at),
                    format!(
                        "invalid UTF-8 at byte offset {} (expected UTF-8, or UTF-16 with a byte order mark)",
                        at + skip
                    ),
                )
            })
        }
    }
}

/// 1-based line of a byte offset.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

fn is_json_path(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

type Document = (Option<usize>, Value);

fn parse_json(path: &Path, text: &str, max_depth: usize) -> Result<Document, LoadError> {
    check_json_depth(path, text, max_depth)?;
    let start = text.len() - text.trim_start().len();
    let line = Some(line_at(text.as_bytes(), start));
    let mut budget = Budget::new(text.len(), max_depth, false);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = ValueSeed { budget: &mut budget, depth: 0 }.deserialize(&mut de).and_then(|value| {
        de.end()?;
        Ok(value)
    });
    match parsed {
        Ok(value) => Ok((line, value)),
        Err(e) => {
            let message = budget.failure.take().unwrap_or_else(|| format!("invalid JSON: {e}"));
            Err(LoadError::at_line(path, e.line().max(1), message))
        }
    }
}

/// Find over-deep JSON before handing it to a recursive parser, and say where.
fn check_json_depth(path: &Path, text: &str, max_depth: usize) -> Result<(), LoadError> {
    let (mut depth, mut line, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                b'\n' => line += 1,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'\n' => line += 1,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(LoadError::at_line(path, line, depth_message(max_depth)));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn depth_message(max_depth: usize) -> String {
    format!("nesting deeper than {max_depth} levels (limit)")
}

fn parse_yaml(path: &Path, text: &str, limits: &Limits, max_depth: usize) -> Result<Vec<Document>, LoadError> {
    let starts = document_start_lines(text);
    let mut budget = Budget::new(text.len(), max_depth, true);
    let mut documents = Vec::new();
    // serde_yaml_ng panics on event streams libyaml should never produce; stay safe anyway.
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), LoadError> {
        for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let line = starts.get(index).copied();
            if index >= limits.max_documents {
                return Err(too_many_documents(path, line, limits));
            }
            match (ValueSeed { budget: &mut budget, depth: 0 }).deserialize(document) {
                Ok(Value::Null) => {}
                Ok(value) => documents.push((line, value)),
                Err(e) => return Err(yaml_error(path, e, budget.failure.take(), line)),
            }
        }
        Ok(())
    }));
    match outcome {
        Ok(Ok(())) => Ok(documents),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(LoadError::new(path, "the YAML parser failed on this input")),
    }
}

fn yaml_error(path: &Path, error: serde_yaml_ng::Error, ours: Option<String>, doc_line: Option<usize>) -> LoadError {
    let line = error.location().map(|l| l.line()).or(doc_line);
    let message = match ours {
        Some(message) => message,
        None => {
            let text = error.to_string();
            if text.starts_with("recursion limit exceeded") {
                depth_message(PARSER_MAX_DEPTH)
            } else if text.starts_with("repetition limit exceeded") {
                "too many YAML alias expansions (alias bomb?)".to_string()
            } else {
                format!("invalid YAML: {text}")
            }
        }
    };
    match line {
        Some(line) => LoadError::at_line(path, line, message),
        None => LoadError::new(path, message),
    }
}

/// 1-based line of each YAML document, in stream order: its first content
/// line, or its `---` marker when it has none. Markers cannot occur inside
/// scalars (YAML 1.2, "forbidden" lines), so a line scan is exact. Inside a
/// document only markers matter, so the scan jumps from marker to marker
/// (every file is read this way, most of them one document long).
fn document_start_lines(text: &str) -> Vec<usize> {
    let is_marker = |line: &str, marker: &str| {
        line.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
    };
    let mut starts = Vec::new();
    // Some(has_content) while inside a document.
    let mut open: Option<bool> = None;
    let mut rest = text;
    let mut number = 0;
    while !rest.is_empty() {
        if open == Some(true) {
            let Some(offset) = next_marker_candidate(rest) else { break };
            number += memchr::memchr_iter(b'\n', &rest.as_bytes()[..offset]).count();
            rest = &rest[offset..];
        }
        // One line as `str::lines` splits them.
        let (line, next) = match rest.find('\n') {
            Some(end) => (rest[..end].strip_suffix('\r').unwrap_or(&rest[..end]), &rest[end + 1..]),
            None => (rest, ""),
        };
        rest = next;
        number += 1;
        let trimmed = line.trim();
        let content = !trimmed.is_empty() && !trimmed.starts_with('#');
        if is_marker(line, "---") {
            starts.push(number);
            let inline = line[3..].trim();
            open = Some(!inline.is_empty() && !inline.starts_with('#'));
        } else if is_marker(line, "...") {
            open = None;
        } else if content {
            match open {
                Some(false) => {
                    if let Some(start) = starts.last_mut() {
                        *start = number;
                    }
                    open = Some(true);
                }
                Some(true) => {}
                None if line.starts_with('%') => {}
                None => {
                    starts.push(number);
                    open = Some(true);
                }
            }
        }
    }
    starts
}

/// Byte offset of the first line of `rest` (which starts a line) that begins
/// with `---` or `...`: the only lines that can end a document.
fn next_marker_candidate(rest: &str) -> Option<usize> {
    if rest.starts_with("---") || rest.starts_with("...") {
        return Some(0);
    }
    // Two SIMD searches: most files hold one document, so each runs to the end.
    let dashes = memchr::memmem::find(rest.as_bytes(), b"\n---");
    let end = dashes.unwrap_or(rest.len());
    let dots = memchr::memmem::find(&rest.as_bytes()[..end], b"\n...");
    dashes.into_iter().chain(dots).min().map(|at| at + 1)
}

/// `kind: List` and `*List` objects with `items` stand for their items.
fn flatten_list(value: Value) -> Vec<Value> {
    let Value::Object(mut object) = value else {
        return vec![value];
    };
    let is_list = object.get("apiVersion").is_some_and(Value::is_string)
        && object.get("kind").and_then(Value::as_str).is_some_and(|kind| kind.ends_with("List"));
    if is_list && object.get("items").is_some_and(Value::is_array) {
        if let Some(Value::Array(items)) = object.remove("items") {
            return items;
        }
    }
    vec![Value::Object(object)]
}

/// What parsing a file may still spend; set `failure` before erroring so the
/// error names the limit rather than the parser's position alone.
struct Budget {
    remaining: usize,
    limit: usize,
    max_depth: usize,
    /// YAML merge keys apply; in JSON `<<` is an ordinary key.
    yaml: bool,
    failure: Option<String>,
}

impl Budget {
    fn new(text_len: usize, max_depth: usize, yaml: bool) -> Budget {
        let limit = text_len.saturating_mul(EXPANSION_PER_BYTE).max(EXPANSION_FLOOR);
        Budget { remaining: limit, limit, max_depth, yaml, failure: None }
    }

    fn charge<E: de::Error>(&mut self, extra_bytes: usize) -> Result<(), E> {
        let cost = NODE_COST.saturating_add(extra_bytes);
        if cost > self.remaining {
            let message = format!(
                "document expands to more than {} bytes; YAML aliases repeat too much (alias bomb?)",
                self.limit
            );
            self.failure = Some(message.clone());
            return Err(E::custom(message));
        }
        self.remaining -= cost;
        Ok(())
    }

    fn fail<E: de::Error>(&mut self, message: String) -> E {
        self.failure = Some(message.clone());
        E::custom(message)
    }
}

/// Builds a `serde_json::Value` from either parser, charging the budget,
/// bounding depth, rejecting duplicate keys and applying YAML merge keys.
struct ValueSeed<'b> {
    budget: &'b mut Budget,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-compatible value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Number(v.into()))
    }
    /// Integers past 64 bits become floats, as serde_json itself reads them.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.budget.charge(0)?;
        match Number::from_f64(v) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(self.budget.fail(format!("{v} cannot be represented in JSON"))),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.charge(v.len())?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.budget.charge(v.len())?;
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter::<A::Error>()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed { budget: &mut *self.budget, depth })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.enter::<A::Error>()?;
        let mut object = Map::new();
        let mut merges = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { budget: &mut *self.budget })? {
            let value = map.next_value_seed(ValueSeed { budget: &mut *self.budget, depth })?;
            if key == "<<" && self.budget.yaml {
                merges.push(value);
                continue;
            }
            match object.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => return Err(self.budget.fail(format!("duplicate key {:?}", slot.key()))),
            }
        }
        // YAML merge keys (`<<: *defaults`): explicit keys win, then earlier merges.
        for merge in merges {
            let sources = match merge {
                Value::Array(sources) => sources,
                source => vec![source],
            };
            for source in sources {
                let Value::Object(source) = source else {
                    return Err(self.budget.fail("merge key `<<` takes a mapping or a list of mappings".into()));
                };
                for (key, value) in source {
                    object.entry(key).or_insert(value);
                }
            }
        }
        Ok(Value::Object(object))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, _) = data.variant::<String>()?;
        Err(self.budget.fail(format!("unsupported YAML tag !{tag}")))
    }
}

impl ValueSeed<'_> {
    fn enter<E: de::Error>(&mut self) -> Result<usize, E> {
        self.budget.charge::<E>(0)?;
        let depth = self.depth + 1;
        if depth > self.budget.max_depth {
            return Err(self.budget.fail(depth_message(self.budget.max_depth)));
        }
        Ok(depth)
    }
}

/// Mapping keys become strings, as Kubernetes' YAML-to-JSON conversion does.
struct KeySeed<'b> {
    budget: &'b mut Budget,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.budget.charge(v.len())?;
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.budget.charge(v.len())?;
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.visit_string(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.visit_string("null".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::document_start_lines;

    #[test]
    fn document_lines_skip_bodies_but_not_markers() {
        assert_eq!(document_start_lines(""), Vec::<usize>::new());
        assert_eq!(document_start_lines("# c\n\na: 1\nb: 2\n"), [3]);
        assert_eq!(document_start_lines("a: 1\n---\nb: 2\n"), [1, 3]);
        // `----` and `...x` are content, not markers; `---` after `...` opens the next one.
        assert_eq!(document_start_lines("a: |\n ----\n...x: 1\n--- # c\n\nb: 1\n...\n%YAML 1.2\n---\n"), [1, 6, 9]);
        assert_eq!(document_start_lines("a: 1\r\n---\r\nb: 2\r\n---\tc: 3"), [1, 3, 4]);
        assert_eq!(document_start_lines("---\n---\n"), [1, 2]);
        assert_eq!(document_start_lines("x: 1\n...\ny: 2\n"), [1, 3]);
    }
}
