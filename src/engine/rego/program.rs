//! A compiled set of Rego modules plus data, evaluated many times.

use crate::limits::Limits;
use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::Value;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use super::prepass::{self, Rewrite};
use std::collections::HashMap;
use std::sync::Arc;

/// Work units between two clock reads: small enough that a runaway rule is
/// stopped close to its deadline, large enough that reading the clock is noise.
const TIMER_CHECK_INTERVAL: u32 = 64;

/// Why a [`Program`] could not be built or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// A module does not parse or does not compile (unsafe variable, recursion, ...).
    #[error("{file}{}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default(), column.map(|c| format!(":{c}")).unwrap_or_default())]
    Compile {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The data document could not be added.
    #[error("data: {0}")]
    Data(String),
    /// Evaluation ran past [`Limits::eval_timeout`].
    #[error("evaluation exceeded the time limit of {}ms", .0.as_millis())]
    Timeout(Duration),
    /// Evaluation failed (a builtin type error, a conflict between rule values, ...).
    #[error("{0}")]
    Eval(String),
}

/// What a builtin call that fails on its arguments (`object.get(null, "k", d)`,
/// `sprintf` with a non-array) does to the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuiltinErrors {
    /// The evaluation fails with the builtin's error: verdict's fail-closed
    /// default for library rules (and OPA's `--strict-builtin-errors`).
    #[default]
    Fail,
    /// The call is undefined, as in OPA's default mode, which Gatekeeper and
    /// `opa test` use: Gatekeeper templates are evaluated this way.
    Undefined,
}

/// Rego modules and data compiled once, evaluated against many inputs.
///
/// Each evaluation runs on a clone of the prepared engine, as regorus
/// recommends, so a `Program` can be shared between threads.
///
/// ```
/// use verdict::engine::rego::Program;
/// use verdict::limits::Limits;
///
/// let modules = vec![(
///     "tags.rego".to_string(),
///     "package tags\nmissing contains k if { some k in input.required; not input.tags[k] }".to_string(),
/// )];
/// let program = Program::new(&modules, None, &Limits::default()).unwrap();
/// let input = serde_json::json!({"required": ["owner"], "tags": {}});
/// let missing = program.eval_rule("data.tags.missing", &input).unwrap();
/// assert_eq!(missing, Some(serde_json::json!(["owner"])));
/// ```
#[derive(Debug, Clone)]
pub struct Program {
    engine: regorus::Engine,
    timeout: Duration,
    locations: Arc<Locations>,
}

/// Maps error columns in rewritten modules back to what the author wrote.
#[derive(Debug, Default)]
struct Locations {
    rewrites: HashMap<String, Rewrite>,
    /// The modules as the author wrote them (file, source), for [`Program::check_calls`].
    sources: Vec<(String, String)>,
    /// [`prepass::call_names`] of each module, by file, read when it was added.
    call_names: HashMap<String, Option<Vec<String>>>,
}

impl Locations {
    fn column(&self, file: &str, line: usize, column: usize) -> usize {
        self.rewrites
            .get(file)
            .map_or(column, |r| r.original_column(line, column))
    }
}

/// The Rego dialect a module is parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegoVersion {
    V0,
    V1,
}

impl Program {
    /// Compile `modules` (file name, source) with optional `data`.
    ///
    /// Each module is parsed as Rego v1 and, if that fails, as v0; a module
    /// importing `rego.v1` is v1 either way. Compile errors name the file and line.
    pub fn new(
        modules: &[(String, String)],
        data: Option<Value>,
        limits: &Limits,
    ) -> Result<Program, ProgramError> {
        Program::with_builtin_errors(modules, data, limits, BuiltinErrors::Fail)
    }

    /// As [`Program::new`], choosing what a failing builtin call means.
    ///
    /// ```
    /// use verdict::engine::rego::{BuiltinErrors, Program};
    /// use verdict::limits::Limits;
    /// let modules = vec![("p.rego".to_string(), "package p\nimport rego.v1\nr := object.get(input.p, \"k\", 1)".to_string())];
    /// let input = serde_json::json!({"p": null});
    /// let strict = Program::new(&modules, None, &Limits::default()).unwrap();
    /// assert!(strict.eval_rule("data.p.r", &input).is_err());
    /// let opa = Program::with_builtin_errors(&modules, None, &Limits::default(), BuiltinErrors::Undefined).unwrap();
    /// assert_eq!(opa.eval_rule("data.p.r", &input).unwrap(), None);
    /// ```
    pub fn with_builtin_errors(
        modules: &[(String, String)],
        data: Option<Value>,
        limits: &Limits,
        builtin_errors: BuiltinErrors,
    ) -> Result<Program, ProgramError> {
        Program::compile(modules, data, limits, builtin_errors, false)
    }

    /// As [`Program::with_builtin_errors`] for modules whose author declared
    /// Rego v0 (Gatekeeper's default): a module that neither imports `rego.v1`
    /// nor uses the v1 keywords (`if`, `contains`) is parsed as v0 first, and as
    /// v1 only if that fails, so the usual module is parsed once, not twice.
    /// Errors are reported as by [`Program::with_builtin_errors`].
    pub fn with_builtin_errors_v0_first(
        modules: &[(String, String)],
        data: Option<Value>,
        limits: &Limits,
        builtin_errors: BuiltinErrors,
    ) -> Result<Program, ProgramError> {
        Program::compile(modules, data, limits, builtin_errors, true)
    }

    fn compile(
        modules: &[(String, String)],
        data: Option<Value>,
        limits: &Limits,
        builtin_errors: BuiltinErrors,
        v0_first: bool,
    ) -> Result<Program, ProgramError> {
        let mut engine = regorus::Engine::new();
        prepass::install(&mut engine).map_err(|err| ProgramError::Eval(err.to_string()))?;
        // Time limits, conflicts and verdict's own guards fail the evaluation either way.
        engine.set_strict_builtin_errors(builtin_errors == BuiltinErrors::Fail);
        let mut locations = Locations {
            sources: modules.to_vec(),
            ..Locations::default()
        };
        for (file, source) in modules {
            let (rewrite, call_names) = add_module(&mut engine, file, source, v0_first)?;
            if let Some(rewrite) = rewrite {
                locations.rewrites.insert(file.clone(), rewrite);
            }
            locations.call_names.insert(file.clone(), call_names);
        }
        if let Some(data) = data {
            if !data.is_object() {
                return Err(ProgramError::Data(
                    "the data document must be an object".to_string(),
                ));
            }
            let data = to_regorus(&data);
            engine
                .add_data(data)
                .map_err(|err| ProgramError::Data(one_line(&err.to_string())))?;
        }
        // Preparation (scheduling, safety checks) happens on the
        // first evaluation; do it now so that compile errors are load errors and
        // every clone starts prepared.
        engine
            .eval_query("true".to_string(), false)
            .map_err(|err| compile_error(&err, modules, &locations))?;
        let program = Program {
            engine,
            timeout: limits.eval_timeout,
            locations: Arc::new(locations),
        };
        if super::coverage::enabled() {
            program.probe_coverable_lines();
        }
        Ok(program)
    }

    /// Learn which lines of each module are coverable, so that a module no evaluation
    /// reaches still counts, uncovered: regorus reports only modules it evaluated, so
    /// each package is evaluated once (with no input) on a probe whose hits are not counted.
    fn probe_coverable_lines(&self) {
        let Ok(mut probe) = self.session(&Value::Null) else { return };
        probe.coverage = Some(false);
        for (_, package) in self.packages() {
            let _ = probe.eval_query(&package);
        }
    }

    /// Fail when a rule reachable from `entry_points` calls a function that is
    /// neither a builtin nor defined in the modules (`sprintff`). OPA rejects
    /// such a module when it compiles; regorus only when evaluation reaches the
    /// call, which a case may never do. regorus's RVM compiler resolves every
    /// call of the rules it compiles, so it is run for that alone: its other
    /// complaints (constructs it does not compile yet) are not verdict's concern.
    ///
    /// ```
    /// use verdict::engine::rego::Program;
    /// use verdict::limits::Limits;
    /// let source = "package p\nimport rego.v1\ndeny contains msg if {\n  input.x\n  msg := sprintff(\"%v\", [1])\n}\n";
    /// let program = Program::new(&[("p.rego".into(), source.into())], None, &Limits::default()).unwrap();
    /// let err = program.check_calls(&["data.p.deny"]).unwrap_err();
    /// assert_eq!(err.to_string(), "p.rego:5:18: unknown function sprintff");
    /// ```
    pub fn check_calls(&self, entry_points: &[&str]) -> Result<(), ProgramError> {
        use regorus::languages::rego::compiler::{Compiler, CompilerError};
        const UNKNOWN: &str = "Unknown function: '";
        if self.every_call_resolves() {
            return Ok(());
        }
        for entry in entry_points {
            let mut engine = self.engine.clone();
            let Ok(policy) = engine.compile_with_entrypoint(&(*entry).into()) else {
                continue;
            };
            let extensions = [(prepass::ITERABLE, 1), (prepass::RANGE_GUARD, 3)];
            let Err(err) =
                Compiler::compile_from_policy_with_host_await(&policy, &[entry], &extensions)
            else {
                continue;
            };
            // The error reaches here either as itself or wrapped, as text, in a general one.
            let (name, location) = match &err.error {
                CompilerError::UnknownFunction { name } => (
                    name.clone(),
                    err.span
                        .as_ref()
                        .map(|s| (s.source.file().to_string(), s.line as usize, s.col as usize)),
                ),
                CompilerError::General { message } => match message.split_once(UNKNOWN) {
                    Some((_, rest)) => (
                        rest.trim_end_matches('\'').to_string(),
                        parse_location(message),
                    ),
                    None => continue,
                },
                _ => continue,
            };
            let (file, line, column) = match location {
                Some((file, line, column)) => {
                    let column = self.locations.column(&file, line, column);
                    (file, Some(line), Some(column))
                }
                None => (entry.to_string(), None, None),
            };
            return Err(ProgramError::Compile {
                file,
                line,
                column,
                message: format!("unknown function {name}"),
            });
        }
        Ok(())
    }

    /// Whether every call written in the modules is certainly known to regorus's
    /// RVM compiler, so that [`Program::check_calls`] cannot fail and its second
    /// compile can be skipped: a builtin (or `print`, or verdict's extensions), or
    /// a bare name that a module of the caller's package declares a rule at, or a
    /// name that resolves through one of the module's `import data.…` lines (or
    /// is written as a full `data.…` path) to a package whose module declares a
    /// function of that name (a rule head with arguments at line start).
    /// Anything the token scan cannot read for sure (a dotted name that is not a
    /// builtin, `f[x](..)`, a call on a parenthesised term) answers `false`, and
    /// the full check runs.
    fn every_call_resolves(&self) -> bool {
        let packages = self.packages();
        let package_of = |file: &str| packages.iter().find(|(f, _)| f == file).map(|(_, p)| p.as_str());
        // Asking regorus parses a selector each time; a module calls the same names often.
        let declared = std::cell::RefCell::new(std::collections::HashMap::<(String, String), bool>::new());
        let declares_rule = |file: &str, name: &str| -> bool {
            let key = (file.to_string(), name.to_string());
            if let Some(known) = declared.borrow().get(&key) {
                return *known;
            }
            let answer = self.declares_rule(file, name);
            declared.borrow_mut().insert(key, answer);
            answer
        };
        let in_package = |package: &str, name: &str| {
            packages.iter().any(|(f, p)| p == package && declares_rule(f, name))
        };
        self.locations.sources.iter().all(|(file, source)| {
            let Some(Some(names)) = self.locations.call_names.get(file) else { return false };
            // A module calls the same few functions many times: look each up once.
            let mut seen = std::collections::HashSet::new();
            let names = names.iter().filter(|name| seen.insert(name.as_str()));
            let Some(package) = package_of(file) else { return false };
            let imports = data_imports(source);
            names.into_iter().all(|name| {
                if name == "print"
                    || name == prepass::ITERABLE
                    || name == prepass::RANGE_GUARD
                    || regorus::unstable::BUILTINS.contains_key(name.as_str())
                    || (!name.contains('.') && in_package(package, name))
                {
                    return true;
                }
                let parts: Vec<&str> = name.split('.').collect();
                let mut path: Vec<&str> = if parts[0] == "data" {
                    parts.clone()
                } else {
                    // An import alias, unless a rule of the caller's package shadows it.
                    let Some((_, target)) = imports.iter().find(|(alias, _)| *alias == parts[0])
                    else {
                        return false;
                    };
                    if in_package(package, parts[0]) {
                        return false;
                    }
                    target.iter().copied().chain(parts[1..].iter().copied()).collect()
                };
                let Some(function) = path.pop() else { return false };
                if path.len() < 2 {
                    return false;
                }
                let callee = path.join(".");
                packages.iter().any(|(f, p)| {
                    *p == callee
                        && declares_rule(f, function)
                        && self
                            .locations
                            .sources
                            .iter()
                            .any(|(g, text)| g == f && declares_function(text, function))
                })
            })
        })
    }

    /// The same compiled modules with `data` as the whole data document (the
    /// initial one is dropped), without parsing or compiling them again: the
    /// prepared engine is cloned, its data replaced, and prepared anew.
    ///
    /// ```
    /// use verdict::engine::rego::Program;
    /// use verdict::limits::Limits;
    /// let modules = vec![("p.rego".to_string(), "package p\nimport rego.v1\nn := data.k".to_string())];
    /// let base = Program::new(&modules, Some(serde_json::json!({"k": 1})), &Limits::default()).unwrap();
    /// let other = base.with_data(&serde_json::json!({"k": 2})).unwrap();
    /// assert_eq!(other.eval_rule("data.p.n", &serde_json::json!({})).unwrap(), Some(serde_json::json!(2)));
    /// assert_eq!(base.eval_rule("data.p.n", &serde_json::json!({})).unwrap(), Some(serde_json::json!(1)));
    /// ```
    pub fn with_data(&self, data: &Value) -> Result<Program, ProgramError> {
        if !data.is_object() {
            return Err(ProgramError::Data(
                "the data document must be an object".to_string(),
            ));
        }
        let mut program = self.clone();
        program.engine.clear_data();
        program
            .engine
            .add_data(to_regorus(data))
            .map_err(|err| ProgramError::Data(one_line(&err.to_string())))?;
        program
            .engine
            .eval_query("true".to_string(), false)
            .map_err(|err| compile_error(&err, &[], &program.locations))?;
        Ok(program)
    }

    /// The same compiled program under another builtin-error rule: a test runner
    /// that follows OPA's default mode can still ask which builtin failed.
    pub fn under_builtin_errors(&self, builtin_errors: BuiltinErrors) -> Program {
        let mut program = self.clone();
        program.engine.set_strict_builtin_errors(builtin_errors == BuiltinErrors::Fail);
        program
    }

    /// Evaluate the rule at `path` (`data.pkg.rule`); `None` when it is undefined.
    pub fn eval_rule(&self, path: &str, input: &Value) -> Result<Option<Value>, ProgramError> {
        self.session(input)?.eval_rule(path)
    }

    /// Evaluate a query; one binding object per result (OPA's result set).
    pub fn eval_query(&self, query: &str, input: &Value) -> Result<Vec<Value>, ProgramError> {
        self.session(input)?.eval_query(query)
    }

    /// Start evaluating several rules against one input within one time budget.
    pub fn session(&self, input: &Value) -> Result<Session, ProgramError> {
        let mut engine = self.engine.clone();
        engine.set_input(to_regorus(input));
        let coverage = super::coverage::enabled().then_some(true);
        if coverage.is_some() {
            engine.set_enable_coverage(true);
        }
        Ok(Session {
            engine,
            deadline: Instant::now() + self.timeout,
            timeout: self.timeout,
            locations: Arc::clone(&self.locations),
            coverage,
        })
    }

    /// Packages of the loaded modules, per file, as `data.` paths ready for rule lookups.
    pub fn packages(&self) -> Vec<(String, String)> {
        self.engine
            .get_policy_package_components()
            .map(|packages| {
                packages
                    .into_iter()
                    .map(|p| (p.source_file, package_path(&p.components)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether module `file` declares a rule named `name` (or rules below it).
    pub fn declares_rule(&self, file: &str, name: &str) -> bool {
        self.engine
            .has_declared_rule_rooted_at(file, name)
            .unwrap_or(false)
    }
}

/// Evaluations of one input sharing one deadline (conftest evaluates every
/// `deny`/`warn` rule of a file against the same document).
///
/// ```
/// use verdict::engine::rego::Program;
/// use verdict::limits::Limits;
///
/// let source = "package main\nimport rego.v1\ndeny contains \"d\" if input.d\nwarn contains \"w\" if input.w";
/// let program = Program::new(&[("p.rego".into(), source.into())], None, &Limits::default()).unwrap();
/// let mut session = program.session(&serde_json::json!({"w": true})).unwrap();
/// assert_eq!(session.eval_rule("data.main.deny").unwrap(), Some(serde_json::json!([])));
/// assert_eq!(session.eval_rule("data.main.warn").unwrap(), Some(serde_json::json!(["w"])));
/// ```
#[derive(Debug)]
pub struct Session {
    engine: regorus::Engine,
    deadline: Instant,
    timeout: Duration,
    locations: Arc<Locations>,
    /// Collecting coverage ([`super::coverage`]): `Some(true)` for an evaluation,
    /// `Some(false)` for a probe whose hits do not count.
    coverage: Option<bool>,
}

/// A session's coverage joins the run's when it ends, so every clone, on every thread, counts.
impl Drop for Session {
    fn drop(&mut self) {
        if let Some(reached) = self.coverage {
            if let Ok(report) = self.engine.get_coverage_report() {
                super::coverage::record(&report, reached);
            }
        }
    }
}

impl Session {
    /// Evaluate the rule at `path`; `None` when it is undefined.
    pub fn eval_rule(&mut self, path: &str) -> Result<Option<Value>, ProgramError> {
        self.arm_timer()?;
        let value = self
            .engine
            .eval_rule(path.to_string())
            .map_err(|err| self.eval_error(&err))?;
        to_json(value)
    }

    /// Evaluate a query; one binding object per result.
    pub fn eval_query(&mut self, query: &str) -> Result<Vec<Value>, ProgramError> {
        self.arm_timer()?;
        let results = self
            .engine
            .eval_query(query.to_string(), false)
            .map_err(|err| self.eval_error(&err))?;
        results
            .result
            .into_iter()
            .map(|r| {
                if r.bindings.as_object().map(|b| b.is_empty()).unwrap_or(true)
                    && r.expressions.len() == 1
                {
                    to_json(
                        r.expressions
                            .into_iter()
                            .next()
                            .map(|e| e.value)
                            .unwrap_or(regorus::Value::Undefined),
                    )
                    .map(|v| v.unwrap_or(Value::Null))
                } else {
                    to_json(r.bindings).map(|v| v.unwrap_or(Value::Null))
                }
            })
            .collect()
    }

    /// Give the next evaluation what is left of the budget.
    fn arm_timer(&mut self) -> Result<(), ProgramError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ProgramError::Timeout(self.timeout));
        }
        self.engine
            .set_execution_timer_config(ExecutionTimerConfig {
                limit: left,
                check_interval: NonZeroU32::new(TIMER_CHECK_INTERVAL).expect("non-zero"),
            });
        Ok(())
    }

    fn eval_error(&self, err: &anyhow::Error) -> ProgramError {
        let timed_out = err.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<regorus::LimitError>(),
                Some(regorus::LimitError::TimeLimitExceeded { .. })
            )
        }) || err.to_string().contains("execution exceeded time limit");
        if timed_out {
            ProgramError::Timeout(self.timeout)
        } else {
            ProgramError::Eval(located_message(err, &self.locations))
        }
    }
}

/// Add one module, rewritten by the pre-pass for OPA's semantics; errors are
/// reported against the text the author wrote.
fn add_module(
    engine: &mut regorus::Engine,
    file: &str,
    source: &str,
    v0_first: bool,
) -> Result<(Option<Rewrite>, Option<Vec<String>>), ProgramError> {
    let (rewrite, scanned) = prepass::rewrite_scanned(source);
    // The pre-pass adds no `import rego.v1` and no v1 keyword: every text tried
    // below is written in the dialect the author's is.
    let v1_written = declares_v1(source) || scanned.uses_v1_keywords;
    let names = scanned.call_names;
    if rewrite.source == source {
        return add_any_version(engine, file, source, v0_first, v1_written).map(|_| (None, names));
    }
    if add_any_version(engine, file, &rewrite.source, v0_first, v1_written).is_ok() {
        return Ok((Some(rewrite), names));
    }
    // Either the original is broken too (its error is the one to show), or a
    // pass misread it: then try without the negation guards, the pass that
    // reads most, and at last keep the author's text unchanged.
    let fallback = prepass::rewrite_without_guards(source);
    if fallback.source != source
        && fallback.source != rewrite.source
        && add_any_version(engine, file, &fallback.source, v0_first, v1_written).is_ok()
    {
        return Ok((Some(fallback), names));
    }
    add_any_version(engine, file, source, v0_first, v1_written).map(|_| (None, names))
}

/// Add `source` in the dialect it parses in; `v1_written` when it imports
/// `rego.v1` or uses v1 keywords (then only the v1 parser may read it).
fn add_any_version(
    engine: &mut regorus::Engine,
    file: &str,
    source: &str,
    v0_first: bool,
    v1_written: bool,
) -> Result<RegoVersion, ProgramError> {
    let attempt = |engine: &mut regorus::Engine, version: RegoVersion| {
        engine.set_rego_v0(version == RegoVersion::V0);
        engine.add_policy(file.to_string(), source.to_string())
    };
    // A module declared v0 and written without v1 keywords is v0: parse it so
    // first; only when that fails is the usual v1-then-v0 order (and its error
    // choice) needed.
    if v0_first && !v1_written && attempt(engine, RegoVersion::V0).is_ok() {
        return Ok(RegoVersion::V0);
    }
    // A failed add_policy leaves the engine untouched, so trying both is safe.
    let v1_err = match attempt(engine, RegoVersion::V1) {
        Ok(_) => return Ok(RegoVersion::V1),
        Err(err) => err,
    };
    if v1_written {
        return Err(to_compile_error(&v1_err, file));
    }
    let v0_err = match attempt(engine, RegoVersion::V0) {
        Ok(_) => return Ok(RegoVersion::V0),
        Err(err) => err,
    };
    // Report the dialect the author most likely meant: whichever parser got
    // further; on a tie, v0 when v1 only objects to missing v1 keywords.
    let v1_text = v1_err.to_string();
    let v1_line = parse_location(&v1_text).map(|(_, line, _)| line);
    let v0_line = parse_location(&v0_err.to_string()).map(|(_, line, _)| line);
    let written_as_v0 = v1_text.contains("keyword is required");
    let v0_meant = v0_line > v1_line || (written_as_v0 && v0_line >= v1_line);
    let err = if !v0_meant { v1_err } else { v0_err };
    Err(to_compile_error(&err, file))
}

/// `import rego.v1` makes a module v1 whatever the parser default.
fn declares_v1(source: &str) -> bool {
    source.lines().any(|line| line.trim() == "import rego.v1")
}

fn compile_error(
    err: &anyhow::Error,
    modules: &[(String, String)],
    locations: &Locations,
) -> ProgramError {
    let text = err.to_string();
    match parse_location(&text) {
        Some((file, line, column)) => ProgramError::Compile {
            column: Some(locations.column(&file, line, column)),
            file,
            line: Some(line),
            message: error_text(&text),
        },
        None => ProgramError::Compile {
            file: if modules.len() == 1 {
                modules[0].0.clone()
            } else {
                "<policy>".to_string()
            },
            line: None,
            column: None,
            message: error_text(&text),
        },
    }
}

fn to_compile_error(err: &anyhow::Error, file: &str) -> ProgramError {
    let text = err.to_string();
    let location = parse_location(&text);
    ProgramError::Compile {
        file: file.to_string(),
        line: location.as_ref().map(|(_, line, _)| *line),
        column: location.as_ref().map(|(_, _, column)| *column),
        message: error_text(&text),
    }
}

/// regorus renders errors as a caret diagram (`--> file:line:col`, the source
/// line, `error: message`); reports want one line: `file:line:col: message`.
fn located_message(err: &anyhow::Error, locations: &Locations) -> String {
    let text = err.to_string();
    match parse_location(&text) {
        Some((file, line, col)) => {
            format!(
                "{file}:{line}:{}: {}",
                locations.column(&file, line, col),
                error_text(&text)
            )
        }
        None => one_line(&text),
    }
}

fn parse_location(text: &str) -> Option<(String, usize, usize)> {
    let rest = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))?;
    let mut parts = rest.rsplitn(3, ':');
    let col = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let file = parts.next()?.to_string();
    Some((file, line, col))
}

fn error_text(text: &str) -> String {
    match text.lines().rev().find_map(|l| l.strip_prefix("error: ")) {
        Some(message) => message.trim().to_string(),
        None => one_line(text),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `regorus::Value::from` turns a failed conversion into undefined, which a
/// rule would read as "nothing there"; fail instead.
/// Build regorus's value straight from the borrowed JSON: going through serde
/// (and a clone) cost more than the evaluation of a small rule.
fn to_regorus(value: &Value) -> regorus::Value {
    match value {
        Value::Null => regorus::Value::Null,
        Value::Bool(b) => regorus::Value::from(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => regorus::Value::from(i),
            (None, Some(u)) => regorus::Value::from(u),
            _ => regorus::Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => regorus::Value::from(s.as_str()),
        Value::Array(items) => {
            regorus::Value::from(items.iter().map(to_regorus).collect::<Vec<_>>())
        }
        Value::Object(fields) => regorus::Value::from(
            fields
                .iter()
                .map(|(k, v)| (regorus::Value::from(k.as_str()), to_regorus(v)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ),
    }
}

fn to_json(value: regorus::Value) -> Result<Option<Value>, ProgramError> {
    if value == regorus::Value::Undefined {
        return Ok(None);
    }
    serde_json::to_value(&value)
        .map(Some)
        .map_err(|err| ProgramError::Eval(format!("result is not JSON: {err}")))
}

/// `data.a.b` for plain identifiers, `data.a["b-c"]` otherwise.
/// The module's `import data.a.b` / `import data.a.b as c` lines written at line
/// start, as (alias, path components starting with `data`); only plain names.
fn data_imports(source: &str) -> Vec<(&str, Vec<&str>)> {
    let plain = |part: &str| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    source
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("import ")?;
            let rest = rest.split('#').next()?;
            let mut words = rest.split_whitespace();
            let path: Vec<&str> = words.next()?.split('.').collect();
            let alias = match (words.next(), words.next(), words.next()) {
                (None, _, _) => *path.last()?,
                (Some("as"), Some(alias), None) => alias,
                _ => return None,
            };
            (path.len() >= 2 && path[0] == "data" && path.iter().all(|p| plain(p)) && plain(alias))
                .then_some((alias, path))
        })
        .collect()
}

/// Whether `source` has a function head `name(…) {` (or `if`, `:=`, `=` after
/// the closing parenthesis) at the start of a line.
fn declares_function(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('(')) else {
            return false;
        };
        let mut depth = 1usize;
        let Some(close) = rest.char_indices().position(|(_, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth == 0
        }) else {
            return false;
        };
        let after = rest.chars().skip(close + 1).collect::<String>();
        let after = after.trim_start();
        after.starts_with('{')
            || after.starts_with(":=")
            || after.starts_with('=')
            || after.strip_prefix("if").is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '{']))
    })
}

fn package_path(components: &[String]) -> String {
    let mut path = String::from("data");
    for component in components {
        let plain = component
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            path.push('.');
            path.push_str(component);
        } else {
            path.push_str(&format!(
                "[{}]",
                serde_json::Value::String(component.clone())
            ));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn program_is_shareable_between_threads() {
        assert_send_sync::<Program>();
    }

    fn program(source: &str) -> Program {
        Program::new(
            &[("p.rego".to_string(), source.to_string())],
            None,
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn queries_return_bindings_or_values() {
        let p = program("package p\nimport rego.v1\nlimit := 3");
        let input = serde_json::json!({"a": 1});
        assert_eq!(
            p.eval_query("x := input.a + data.p.limit", &input).unwrap(),
            vec![serde_json::json!({"x": 4})]
        );
        assert_eq!(
            p.eval_query("input.a == 1", &input).unwrap(),
            vec![serde_json::json!(true)]
        );
        assert_eq!(
            p.eval_query("input.missing == 1", &input).unwrap(),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn one_program_serves_many_threads() {
        let p = program("package p\nimport rego.v1\ndouble := input.n * 2");
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|n| {
                    let p = &p;
                    scope.spawn(move || {
                        p.eval_rule("data.p.double", &serde_json::json!({"n": n}))
                            .unwrap()
                    })
                })
                .collect();
            for (n, handle) in handles.into_iter().enumerate() {
                assert_eq!(handle.join().unwrap(), Some(serde_json::json!(n * 2)));
            }
        });
    }

    #[test]
    fn undefined_rules_are_none_and_unknown_paths_errors() {
        let p = program("package p\nimport rego.v1\nx := 1 if input.go");
        assert_eq!(
            p.eval_rule("data.p.x", &serde_json::json!({})).unwrap(),
            None
        );
        assert!(p.eval_rule("data.nope.x", &serde_json::json!({})).is_err());
    }

    #[test]
    fn parse_location_reads_regorus_diagram() {
        let text = "\n--> policies/a.rego:3:5\n  |\n3 | deny {\n  |     ^\nerror: unexpected token";
        assert_eq!(
            parse_location(text),
            Some(("policies/a.rego".to_string(), 3, 5))
        );
        assert_eq!(error_text(text), "unexpected token");
    }

    #[test]
    fn imports_and_function_heads_are_read_from_line_starts() {
        let source = "package p\nimport data.lib.a.f\nimport data.lib.b as c # note\nimport input.x\n  import data.q.g\n";
        assert_eq!(
            data_imports(source),
            vec![("f", vec!["data", "lib", "a", "f"]), ("c", vec!["data", "lib", "b"])]
        );
        assert!(declares_function("package l\nf(x) {\n  g(x)\n}\n", "f"));
        assert!(declares_function("f(x) := y if { y := g(x) }", "f"));
        assert!(declares_function("f(x) if x > 1", "f"));
        assert!(!declares_function("f := 1\n  f(x) {\n", "f"));
        assert!(!declares_function("f(x) { g(x) }", "g"));
        assert!(!declares_function("ff(x) { true }", "f"));
    }

    #[test]
    fn check_calls_resolves_imported_functions_and_still_reports_unknown_ones() {
        let lib = ("lib.rego".to_string(), "package lib.a\nf(x) {\n  x > 1\n}\n".to_string());
        let ok = "package p\nimport data.lib.a.f\nimport data.lib.a\nv { f(2); a.f(3); data.lib.a.f(4) }\n";
        let program = Program::new(&[lib.clone(), ("p.rego".into(), ok.into())], None, &Limits::default()).unwrap();
        assert!(program.every_call_resolves());
        assert!(program.check_calls(&["data.p.v"]).is_ok());
        let bad = "package p\nimport data.lib.a\nv { a.g(2) }\n";
        let program = Program::new(&[lib, ("p.rego".into(), bad.into())], None, &Limits::default()).unwrap();
        assert!(!program.every_call_resolves());
        let err = program.check_calls(&["data.p.v"]).unwrap_err();
        assert!(err.to_string().contains("unknown function"), "{err}");
    }

    #[test]
    fn package_path_quotes_non_identifiers() {
        assert_eq!(
            package_path(&["a".into(), "b-c".into()]),
            r#"data.a["b-c"]"#
        );
    }
}
