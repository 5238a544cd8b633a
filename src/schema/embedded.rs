//! A JSON Schema shipped inside the crate, compiled once, that reports each
//! problem with its line and a "did you mean".

use super::{load_error, locate, violations, Violation};
use crate::error::LoadError;
use jsonschema::Validator;
use serde_json::Value;
use std::path::Path;

/// A compiled schema plus the document it came from (kept to list the fields
/// an object allows when one is misspelt).
#[derive(Debug)]
pub struct EmbeddedSchema {
    schema: Value,
    validator: Validator,
}

impl EmbeddedSchema {
    /// Compile a schema embedded with `include_str!`; a broken one is a bug in
    /// verdict, caught by the tests of its user, so this panics.
    ///
    /// ```
    /// use verdict::schema::EmbeddedSchema;
    /// let schema = EmbeddedSchema::compile(r#"{"type": "object", "additionalProperties": false,
    ///     "properties": {"owner": {"type": "string"}}}"#);
    /// let found = schema.violations(&serde_json::json!({"ownr": "me"}));
    /// assert_eq!(found[0].to_string(), "/ownr: unknown field (did you mean `owner`?)");
    /// ```
    pub fn compile(text: &str) -> EmbeddedSchema {
        EmbeddedSchema::compile_value(serde_json::from_str(text).expect("an embedded schema is JSON"))
    }

    /// As [`EmbeddedSchema::compile`], from a parsed schema document.
    pub fn compile_value(schema: Value) -> EmbeddedSchema {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("an embedded schema compiles");
        EmbeddedSchema { schema, validator }
    }

    /// Every way `value` departs from the schema, without lines.
    pub fn violations(&self, value: &Value) -> Vec<Violation> {
        violations(&self.validator, &self.schema, value)
    }

    /// `Ok` when `value` conforms; otherwise one load error naming the file, the
    /// line of the first bad field (found in `text`, the document starting at
    /// `doc_line`) and every violation. `what` names the document
    /// (`ClusterPolicy require-labels`).
    pub fn check(
        &self,
        value: &Value,
        path: &Path,
        text: Option<&str>,
        doc_line: Option<usize>,
        what: &str,
    ) -> Result<(), LoadError> {
        let mut found = self.violations(value);
        if found.is_empty() {
            return Ok(());
        }
        if let Some(text) = text {
            locate(&mut found, text, doc_line);
        }
        Err(load_error(path, doc_line, &format!("{what} does not match its schema"), &found))
    }
}
