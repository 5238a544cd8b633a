//! The one place this module talks to Rego: an adapter over the shared
//! [`Program`] wrapper of `engine::rego` (compile once, clone per evaluation,
//! time limit, OPA's `null` semantics).

use crate::engine::rego::{BuiltinErrors, Program};
use crate::limits::Limits;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A failing builtin call is undefined, as in Gatekeeper (OPA's default mode):
/// `object.get(input.parameters, ..)` with `parameters: null` just does not match.
const BUILTIN_ERRORS: BuiltinErrors = BuiltinErrors::Undefined;

/// Distinct inventories kept compiled per template; beyond this the cache restarts.
const INVENTORY_CACHE_SIZE: usize = 32;

/// A template's Rego modules, compiled once per distinct `data` document.
#[derive(Debug, Clone)]
pub(crate) struct RegoProgram {
    modules: Arc<Vec<(String, String)>>,
    /// Compiled with an empty `data.inventory`, the common case.
    base: Program,
    /// `data.inventory` is part of the data document, not of the input, so a
    /// review with inventory objects needs its own compiled program.
    with_data: Arc<Mutex<HashMap<String, Program>>>,
}

/// One Rego source handed to [`RegoProgram::compile`].
pub(crate) struct RegoSource {
    /// Shown in error messages, so it names the file and the YAML field.
    pub label: String,
    pub text: String,
}

impl RegoProgram {
    /// Parse and analyse `sources` with `initial_data`, then evaluate
    /// `entrypoint` once on an empty review: regorus reports some compile
    /// errors (unsafe variables) only on first evaluation, OPA at compile time.
    ///
    /// The shared wrapper picks the Rego dialect per module (v0 first unless
    /// the template declares v1 or the module uses v1 keywords), so
    /// both Gatekeeper's default v0 and `version: v1` sources compile; a parse
    /// error is reported in the dialect the template declares.
    pub(crate) fn compile(
        sources: &[RegoSource],
        limits: &Limits,
        entrypoint: &str,
        initial_data: &Value,
        declared_v1: bool,
    ) -> Result<RegoProgram, String> {
        let modules: Vec<(String, String)> = sources
            .iter()
            .map(|s| (s.label.clone(), s.text.clone()))
            .collect();
        // Gatekeeper's default dialect is v0: parse the usual template once, as v0.
        let compile = if declared_v1 {
            Program::with_builtin_errors
        } else {
            Program::with_builtin_errors_v0_first
        };
        let base =
            compile(&modules, Some(initial_data.clone()), limits, BUILTIN_ERRORS).map_err(|e| {
                dialect_parse_error(sources, declared_v1).unwrap_or_else(|| e.to_string())
            })?;
        base.eval_rule(
            entrypoint,
            &serde_json::json!({"review": {}, "parameters": {}}),
        )
        .map_err(|e| e.to_string())?;
        base.check_calls(&[entrypoint]).map_err(|e| e.to_string())?;
        Ok(RegoProgram {
            modules: Arc::new(modules),
            base,
            with_data: Arc::default(),
        })
    }

    /// The modules as compiled: (label, source), the template's Rego first.
    pub(crate) fn modules(&self) -> &[(String, String)] {
        &self.modules
    }

    /// Evaluate `rule` for one input; `data`, when given, replaces the initial data document.
    pub(crate) fn eval_rule(
        &self,
        rule: &str,
        input: &Value,
        data: Option<&Value>,
    ) -> Result<Value, String> {
        let result = match data {
            None => self.base.eval_rule(rule, input),
            Some(data) => {
                let key = data.to_string();
                let cached = self
                    .with_data
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .cloned();
                let program = match cached {
                    Some(program) => program,
                    None => {
                        let program = self.base.with_data(data).map_err(|e| e.to_string())?;
                        let mut cache = self.with_data.lock().unwrap_or_else(|p| p.into_inner());
                        if cache.len() >= INVENTORY_CACHE_SIZE {
                            cache.clear();
                        }
                        cache.insert(key, program.clone());
                        program
                    }
                };
                program.eval_rule(rule, input)
            }
        };
        Ok(result.map_err(|e| e.to_string())?.unwrap_or(Value::Null))
    }
}

/// The parse error of the first source that does not parse in the template's
/// declared dialect (v0 unless `version: v1`), as `label:line:col: message`.
///
/// The shared wrapper reports whichever dialect's parser got further, which for
/// a v0 template can be a misleading "`if` keyword is required".
fn dialect_parse_error(sources: &[RegoSource], declared_v1: bool) -> Option<String> {
    sources.iter().find_map(|source| {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(!declared_v1);
        let err = engine
            .add_policy(source.label.clone(), source.text.clone())
            .err()?
            .to_string();
        let location = err
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("--> "))?
            .trim()
            .to_string();
        let message = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))?
            .trim()
            .to_string();
        Some(format!("{location}: {message}"))
    })
}
