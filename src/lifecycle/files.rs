//! The library's own data files (`controls.yaml`, `waivers.yaml`,
//! `promotions.yaml`), read under the input limits and checked against the JSON
//! Schemas shipped in `schema/`: a bad file is a load error naming the line.

use crate::error::LoadError;
use crate::limits::Limits;
use crate::schema::EmbeddedSchema;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::LazyLock;

pub(crate) static CONTROLS: LazyLock<EmbeddedSchema> =
    LazyLock::new(|| EmbeddedSchema::compile(include_str!("schema/controls.schema.json")));
pub(crate) static WAIVERS: LazyLock<EmbeddedSchema> =
    LazyLock::new(|| EmbeddedSchema::compile(include_str!("schema/waivers.schema.json")));
pub(crate) static PROMOTIONS: LazyLock<EmbeddedSchema> =
    LazyLock::new(|| EmbeddedSchema::compile(include_str!("schema/promotions.schema.json")));

/// Read `path` as one YAML document, check it against `schema`, then type it.
/// `Ok(None)` when the file does not exist.
pub(crate) fn read_checked<T: DeserializeOwned>(
    path: &Path,
    schema: &EmbeddedSchema,
    what: &str,
    limits: &Limits,
) -> Result<Option<T>, LoadError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::library::read_text(path, limits)?;
    let mut docs = crate::input::load_str(path, &text, limits)?;
    if docs.len() > 1 {
        return Err(LoadError::new(path, format!("{what} is one YAML document, found {}", docs.len())));
    }
    let value = docs.pop().map(|d| d.value).unwrap_or(serde_json::Value::Null);
    schema.check(&value, path, Some(&text), Some(1), what)?;
    serde_json::from_value(value).map(Some).map_err(|e| LoadError::new(path, format!("{what}: {e}")))
}
