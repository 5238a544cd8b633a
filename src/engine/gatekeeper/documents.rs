//! Multi-document YAML files (template + constraint, inventories) as JSON values.

use crate::error::LoadError;
use crate::limits::Limits;
use serde_json::Value;
use std::path::Path;

/// One non-empty document and the 1-based line it starts on.
#[derive(Debug, Clone)]
pub struct Document {
    pub line: usize,
    pub value: Value,
}

/// Parse every document of `text` with the input loader's limits (size,
/// depth, alias budget, document count); empty documents are dropped and
/// `kind: List` objects flattened.
///
/// ```
/// use verdict::engine::gatekeeper::parse_documents;
/// let docs = parse_documents(std::path::Path::new("x.yaml"), "a: 1\n---\nb: 2\n", &Default::default()).unwrap();
/// assert_eq!((docs[1].line, &docs[1].value), (3, &serde_json::json!({"b": 2})));
/// ```
pub fn parse_documents(
    path: &Path,
    text: &str,
    limits: &Limits,
) -> Result<Vec<Document>, LoadError> {
    Ok(crate::input::load_values(path, text, limits)?
        .into_iter()
        .map(|(line, value)| Document {
            line: line.unwrap_or(1),
            value,
        })
        .collect())
}
