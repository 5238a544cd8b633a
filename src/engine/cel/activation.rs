//! The named values an expression is evaluated against (`object`,
//! `oldObject`, `request`, `params`, `namespaceObject`, `variables`, ...).
//! The main type here is [`Activation`].

use super::error::CelError;
use super::expression::Expression;
use super::value::{to_cel, Numbers};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::objects::{Key, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Named values, converted to the crate's representation once, so many
/// expressions evaluate against one input without copying it again.
///
/// ```
/// use verdict::engine::cel::{Activation, CelEnv, Numbers};
/// let mut input = Activation::new();
/// input.bind_json("object", &serde_json::json!({"spec": {"replicas": 2}}), Numbers::Cluster);
/// let expr = CelEnv::kubernetes().compile("object.spec.replicas + 1 == 3").unwrap();
/// assert!(expr.eval_bool(&input).unwrap());
/// ```
#[derive(Debug, Default)]
pub struct Activation {
    values: BTreeMap<String, Box<dyn Val>>,
    /// Variables whose expression failed: named when an expression reads them.
    failed_variables: BTreeMap<String, CelError>,
}

impl Activation {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `name` to a CEL value (a later bind of the same name replaces it).
    pub fn bind(&mut self, name: &str, value: Value) {
        // Every `Value` but a function converts; a function is never a variable here.
        if let Ok(val) = Box::<dyn Val>::try_from(value) {
            self.values.insert(name.to_string(), val);
        }
    }

    /// Binds `name` to a JSON document read under `numbers`.
    pub fn bind_json(&mut self, name: &str, json: &serde_json::Value, numbers: Numbers) {
        self.bind(name, to_cel(json, numbers));
    }

    /// Evaluates `variables` in order, each seeing the earlier ones as
    /// `variables.<name>`, and binds the map as `variables`: once per input,
    /// then shared by every validation. A variable that fails is left out of
    /// the map and remembered: an expression that reads it fails naming the
    /// variable and its error, one that does not read it is unaffected (as
    /// with Kubernetes' lazily evaluated variables).
    pub fn bind_variables(&mut self, variables: &[(String, Expression)]) {
        let mut done: HashMap<Key, Value> = HashMap::new();
        for (name, expression) in variables {
            self.bind(
                "variables",
                Value::Map(Map {
                    map: Arc::new(done.clone()),
                }),
            );
            match expression.evaluate(self) {
                Ok(value) => {
                    done.insert(Key::String(Arc::new(name.clone())), value);
                }
                Err(error) => {
                    self.failed_variables.insert(name.clone(), error);
                }
            }
        }
        self.bind(
            "variables",
            Value::Map(Map {
                map: Arc::new(done),
            }),
        );
    }

    /// The error of variable `name`, when its expression failed.
    pub fn failed_variable(&self, name: &str) -> Option<&CelError> {
        self.failed_variables.get(name)
    }
}

impl VariableResolver for Activation {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        self.values
            .get(variable)
            .map(|v| CowVal::Borrowed(v.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::CelEnv;
    use serde_json::json;

    #[test]
    fn variables_see_earlier_ones_and_are_shared_by_expressions() {
        let env = CelEnv::kubernetes();
        let variables: Vec<(String, Expression)> = [
            ("containers", "object.spec.containers"),
            ("names", "variables.containers.map(c, c.name)"),
            ("broken", "1 / 0"),
        ]
        .iter()
        .map(|(n, s)| (n.to_string(), env.compile(s).unwrap()))
        .collect();
        let mut a = Activation::new();
        a.bind_json(
            "object",
            &json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            Numbers::Cluster,
        );
        a.bind_variables(&variables);
        assert!(env
            .compile("variables.names == ['a', 'b']")
            .unwrap()
            .eval_bool(&a)
            .unwrap());
        assert!(env
            .compile("size(variables.containers) == 2")
            .unwrap()
            .eval_bool(&a)
            .unwrap());
        let error = env
            .compile("variables.broken == 1")
            .unwrap()
            .eval_bool(&a)
            .unwrap_err();
        assert!(
            error.to_string().contains("variable `broken` failed")
                && error.to_string().contains("1 / 0"),
            "{error}"
        );
    }
}
