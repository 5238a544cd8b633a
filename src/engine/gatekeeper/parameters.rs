//! A Constraint's `spec.parameters` checked against its template's
//! `spec.crd.spec.validation.openAPIV3Schema`, as the API server checks the
//! Constraint CRD Gatekeeper generates: a constraint whose parameters break the
//! schema is rejected (gator's `ErrSchema`), never evaluated with bad input.

use jsonschema::Validator;
use serde_json::Value;
use std::sync::Arc;

/// The compiled parameter schema of one template.
#[derive(Clone)]
pub struct ParameterSchema {
    validator: Arc<Validator>,
}

impl std::fmt::Debug for ParameterSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParameterSchema")
    }
}

impl ParameterSchema {
    /// Compile `openAPIV3Schema`; `None` when the template declares none
    /// (any parameters are then accepted). OpenAPI 3.0 schemas are JSON Schema
    /// draft 4 plus extensions (`x-kubernetes-*`, `nullable`) that validation
    /// ignores; unknown parameter fields are pruned by the API server, not
    /// rejected, so `additionalProperties` is left as written.
    pub fn from_template(template: &Value) -> Result<Option<ParameterSchema>, String> {
        let schema = &template["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"];
        if schema.is_null() {
            return Ok(None);
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(schema)
            .map_err(|e| format!("spec.crd.spec.validation.openAPIV3Schema is not a valid schema: {e}"))?;
        Ok(Some(ParameterSchema { validator: Arc::new(validator) }))
    }

    /// Every way `parameters` break the schema, as `/path: message`.
    ///
    /// ```
    /// use verdict::engine::gatekeeper::ParameterSchema;
    /// let template = serde_json::json!({"spec": {"crd": {"spec": {"validation": {"openAPIV3Schema":
    ///     {"type": "object", "properties": {"labels": {"type": "array", "items": {"type": "string"}}}}}}}}});
    /// let schema = ParameterSchema::from_template(&template).unwrap().unwrap();
    /// assert!(schema.check(&serde_json::json!({"labels": ["a"]})).is_empty());
    /// assert_eq!(schema.check(&serde_json::json!({"labels": "a"})), vec!["/labels: \"a\" is not of type \"array\"".to_string()]);
    /// ```
    pub fn check(&self, parameters: &Value) -> Vec<String> {
        if self.validator.is_valid(parameters) {
            return Vec::new();
        }
        self.validator
            .iter_errors(parameters)
            .map(|e| {
                let at = e.instance_path().as_str().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect()
    }
}
