//! The one place this module talks to the Rego interpreter.
//!
//! The shared wrapper (`crate::engine::rego::program`) did not exist when this
//! engine was written; everything Gatekeeper needs from Rego goes through
//! [`RegoProgram`] so switching to the shared wrapper is a change here only.

use serde_json::Value;
use std::num::NonZeroU32;
use std::time::Duration;

/// A set of Rego modules compiled once and evaluated many times.
#[derive(Clone)]
pub(crate) struct RegoProgram {
    engine: regorus::Engine,
}

impl std::fmt::Debug for RegoProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoProgram").finish_non_exhaustive()
    }
}

/// One Rego source handed to [`RegoProgram::compile`].
pub(crate) struct RegoSource {
    /// Shown in error messages, so it names the file and the YAML field.
    pub label: String,
    pub text: String,
}

impl RegoProgram {
    /// Parse and analyse `sources`; `entrypoint` (`data.pkg.rule`) must exist.
    pub(crate) fn compile(
        sources: &[RegoSource],
        rego_v1: bool,
        timeout: Duration,
        entrypoint: &str,
        initial_data: &Value,
    ) -> Result<RegoProgram, String> {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(!rego_v1);
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: timeout,
            check_interval: NonZeroU32::new(64).expect("non-zero"),
        });
        engine
            .add_data(regorus::Value::from(initial_data.clone()))
            .map_err(|e| e.to_string())?;
        for source in sources {
            engine
                .add_policy(source.label.clone(), source.text.clone())
                .map_err(|e| e.to_string())?;
        }
        engine
            .compile_with_entrypoint(&entrypoint.into())
            .map_err(|e| e.to_string())?;
        let program = RegoProgram { engine };
        // regorus reports some compile errors (unsafe variables) only when a
        // rule is first evaluated: evaluate once on an empty review so they
        // surface at load time, as OPA reports them when compiling.
        program.eval_rule(
            entrypoint,
            &serde_json::json!({"review": {}, "parameters": {}}),
            None,
        )?;
        Ok(program)
    }

    /// Evaluate `rule` for one input; `data` is merged into the data document first.
    pub(crate) fn eval_rule(
        &self,
        rule: &str,
        input: &Value,
        data: Option<&Value>,
    ) -> Result<Value, String> {
        let mut engine = self.engine.clone();
        if let Some(data) = data {
            engine
                .add_data(regorus::Value::from(data.clone()))
                .map_err(|e| e.to_string())?;
        }
        engine.set_input(regorus::Value::from(input.clone()));
        let value = engine
            .eval_rule(rule.to_string())
            .map_err(|e| e.to_string())?;
        if value == regorus::Value::Undefined {
            return Ok(Value::Null);
        }
        serde_json::to_value(&value).map_err(|e| e.to_string())
    }
}
