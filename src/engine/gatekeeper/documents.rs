//! Multi-document YAML files (template + constraint, inventories) as JSON values.

use crate::error::LoadError;
use crate::limits::Limits;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// One non-empty document and the 1-based line it starts on.
#[derive(Debug, Clone)]
pub struct Document {
    pub line: usize,
    pub value: Value,
}

/// Parse every document of `text`; empty documents are dropped.
pub fn parse_documents(
    path: &Path,
    text: &str,
    limits: &Limits,
) -> Result<Vec<Document>, LoadError> {
    if text.len() as u64 > limits.max_file_bytes {
        return Err(LoadError::new(
            path,
            format!("file is larger than {} bytes", limits.max_file_bytes),
        ));
    }
    let starts = document_start_lines(text);
    let mut documents = Vec::new();
    for (index, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        if index >= limits.max_documents {
            return Err(LoadError::new(
                path,
                format!("more than {} documents", limits.max_documents),
            ));
        }
        let value = Value::deserialize(de).map_err(|e| match e.location() {
            Some(loc) => LoadError::at_line(path, loc.line(), format!("invalid YAML: {e}")),
            None => LoadError::new(path, format!("invalid YAML: {e}")),
        })?;
        if value.is_null() {
            continue;
        }
        let line = starts.get(index).copied().unwrap_or(1);
        if depth(&value) > limits.max_depth {
            return Err(LoadError::at_line(
                path,
                line,
                format!("nesting deeper than {}", limits.max_depth),
            ));
        }
        documents.push(Document { line, value });
    }
    Ok(documents)
}

/// First line of each document: after each `---` marker (or line 1 when the file has none first).
fn document_start_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut seen_content = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---")
            && (line.len() == 3 || line[3..].starts_with(char::is_whitespace))
        {
            starts.push(i + 2);
            seen_content = true;
        } else if !seen_content && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            starts.push(i + 1);
            seen_content = true;
        }
    }
    starts
}

fn depth(value: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    max
}
