//! conftest's conventions: which rules of a policy judge, and how their
//! values become an [`Outcome`].
//!
//! Rules named `deny`, `violation` or `warn`, optionally with `_<suffix>`
//! (`deny_public_acl`), in the policy file's own package. Their value is a set
//! (or array) of strings or of objects with a string `msg`. Any `deny` /
//! `violation` message fails; only `warn` messages warn; nothing passes.
//!
//! An `exception` rule in the same package (a set of sets of rule names
//! without their `deny_`/`violation_`/`warn_` prefix) silences those rules,
//! as in conftest.
//!
//! A result object without a string `msg` is an error, as in conftest. Two
//! deliberate differences from conftest, both fail-closed: a rule whose value
//! is `true` (v1 `deny if { ... }`) fails with the rule name as message, and
//! a result that is neither a string nor an object (a number, say) fails with
//! its JSON text, where conftest would silently ignore both.

use super::program::{Program, ProgramError};
use crate::engine::Engine;
use crate::input::Input;
use crate::verdict::Outcome;
use serde_json::Value;

/// Whether a rule name follows conftest's naming (`deny`, `violation_x`, `warn_y_z`).
///
/// ```
/// use verdict::engine::rego::is_conftest_rule;
///
/// assert!(is_conftest_rule("deny_public_acl"));
/// assert!(!is_conftest_rule("denied"));
/// ```
pub fn is_conftest_rule(name: &str) -> bool {
    kind_of(name).is_some()
}

/// Whether a conftest rule blocks or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Failure,
    Warning,
}

fn kind_of(name: &str) -> Option<RuleKind> {
    let (kind, rest) = if let Some(rest) = name.strip_prefix("deny") {
        (RuleKind::Failure, rest)
    } else if let Some(rest) = name.strip_prefix("violation") {
        (RuleKind::Failure, rest)
    } else if let Some(rest) = name.strip_prefix("warn") {
        (RuleKind::Warning, rest)
    } else {
        return None;
    };
    // conftest: ^(deny|violation|warn)(_[a-zA-Z0-9]+)*$
    let suffix_ok = rest.is_empty()
        || rest.strip_prefix('_').is_some_and(|s| {
            s.split('_')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
        });
    suffix_ok.then_some(kind)
}

/// One judging rule of a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgingRule {
    pub name: String,
    /// Full rule path, `data.<package>.<name>`.
    pub path: String,
    pub kind: RuleKind,
}

/// The `deny`/`violation`/`warn` rules that `file` (already in `program`) declares.
///
/// Candidates are the identifiers of the source that follow conftest's
/// naming; the compiler then confirms each one is a rule of the file, so a
/// local variable or a string that merely looks like `deny_x` is never taken
/// for a rule.
pub fn judging_rules(program: &Program, file: &str, source: &str) -> Vec<JudgingRule> {
    let packages: Vec<String> = program
        .packages()
        .into_iter()
        .filter(|(f, _)| f == file)
        .map(|(_, package)| package)
        .collect();
    let Some(package) = packages.first() else {
        return Vec::new();
    };
    // Every identifier that could name a judging rule; the compiler decides.
    let mut names: Vec<String> = source
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| is_conftest_rule(word))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| program.declares_rule(file, name))
        .filter_map(|name| {
            let kind = kind_of(&name)?;
            Some(JudgingRule {
                path: format!("{package}.{name}"),
                name,
                kind,
            })
        })
        .collect()
}

/// The path of the `exception` rule of `file`, if it declares one.
pub fn exception_rule(program: &Program, file: &str) -> Option<String> {
    let (_, package) = program.packages().into_iter().find(|(f, _)| f == file)?;
    program
        .declares_rule(file, "exception")
        .then(|| format!("{package}.exception"))
}

/// conftest's exception key of a rule: `deny_run_as_root` → `run_as_root`.
fn exception_key(name: &str) -> &str {
    let name = name.strip_prefix("violation_").unwrap_or(name);
    let name = name.strip_prefix("deny_").unwrap_or(name);
    name.strip_prefix("warn_").unwrap_or(name)
}

/// A compiled policy file judged by conftest's conventions.
#[derive(Debug)]
pub struct ConftestRule {
    pub(super) program: Program,
    /// The policy file, for error messages.
    pub(super) file: String,
    pub(super) rules: Vec<JudgingRule>,
    /// Path of the `exception` rule, when the file has one.
    pub(super) exception: Option<String>,
    /// The input kinds the policy declares (`custom.input`); others are not applicable.
    pub(super) inputs: Option<Vec<crate::input::InputKind>>,
}

impl ConftestRule {
    /// Judge one document (the Rego `input`).
    pub fn judge(&self, input: &Value) -> Outcome {
        let mut session = match self.program.session(input) {
            Ok(session) => session,
            Err(err) => return Outcome::error(format!("{}: {err}", self.file)),
        };
        let excepted = match &self.exception {
            None => Vec::new(),
            Some(path) => match session.eval_rule(path) {
                Ok(value) => exception_names(value),
                Err(err) => return Outcome::error(self.error_reason(path, &err)),
            },
        };
        let mut failures = Vec::new();
        let mut warnings = Vec::new();
        for rule in &self.rules {
            if excepted
                .iter()
                .any(|name| name == exception_key(&rule.name))
            {
                continue;
            }
            let value = match session.eval_rule(&rule.path) {
                Ok(value) => value,
                Err(err) => return Outcome::error(self.error_reason(&rule.path, &err)),
            };
            let messages = match messages(&rule.name, value) {
                Ok(messages) => messages,
                Err(reason) => {
                    return Outcome::error(format!("{}: {}: {reason}", self.file, rule.path))
                }
            };
            match rule.kind {
                RuleKind::Failure => failures.extend(messages),
                RuleKind::Warning => warnings.extend(messages),
            }
        }
        if !failures.is_empty() {
            Outcome::fail_with_warnings(failures, warnings)
        } else if !warnings.is_empty() {
            Outcome::warn(warnings)
        } else {
            Outcome::pass()
        }
    }

    fn error_reason(&self, rule_path: &str, err: &ProgramError) -> String {
        let text = err.to_string();
        if text.contains(&self.file) {
            format!("{rule_path}: {text}")
        } else {
            format!("{}: {rule_path}: {text}", self.file)
        }
    }
}

impl Engine for ConftestRule {
    fn evaluate(&self, input: &Input) -> Outcome {
        if self.inputs.as_ref().is_some_and(|kinds| !kinds.contains(&input.kind)) {
            return Outcome::not_applicable();
        }
        self.judge(&input.value)
    }
}

/// Rule names an `exception` value lists: `{["run_as_root"], ["latest"]}`.
fn exception_names(value: Option<Value>) -> Vec<String> {
    let Some(Value::Array(groups)) = value else {
        return Vec::new();
    };
    groups
        .into_iter()
        .flat_map(|group| match group {
            Value::Array(names) => names,
            single => vec![single],
        })
        .filter_map(|name| name.as_str().map(str::to_string))
        .collect()
}

/// The messages a rule's value stands for; an `Err` is a result conftest cannot read.
fn messages(rule: &str, value: Option<Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(Vec::new()),
        Some(Value::Bool(true)) => Ok(vec![rule.to_string()]),
        Some(Value::Array(items)) => items.into_iter().map(message).collect(),
        Some(other) => message(other).map(|m| vec![m]),
    }
}

fn message(item: Value) -> Result<String, String> {
    match item {
        Value::String(s) => Ok(s),
        Value::Object(mut fields) => match fields.remove("msg") {
            Some(Value::String(msg)) => Ok(msg),
            Some(other) => Err(format!("result `msg` must be a string, got {other}")),
            None => Err(format!(
                "result object has no `msg`: {}",
                Value::Object(fields)
            )),
        },
        other => Ok(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_conftest() {
        for name in [
            "deny",
            "violation",
            "warn",
            "deny_public_acl",
            "warn_x1",
            "violation_a_b",
        ] {
            assert!(is_conftest_rule(name), "{name}");
        }
        for name in [
            "denied", "deny_", "deny__x", "warning", "allow", "deny_x-y", "_deny",
        ] {
            assert!(!is_conftest_rule(name), "{name}");
        }
        assert_eq!(kind_of("warn_x"), Some(RuleKind::Warning));
        assert_eq!(kind_of("violation"), Some(RuleKind::Failure));
    }

    #[test]
    fn values_become_messages() {
        use serde_json::json;
        assert_eq!(messages("deny", None), Ok(vec![]));
        assert_eq!(messages("deny", Some(json!([]))), Ok(vec![]));
        assert_eq!(
            messages("deny", Some(json!(["a", {"msg": "b", "details": 1}]))),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            messages("deny_x", Some(json!(true))),
            Ok(vec!["deny_x".into()])
        );
        assert!(messages("deny", Some(json!([{"message": "b"}]))).is_err());
    }
}
