//! One `policies/**/*.rego` file → one library rule.

use super::conftest::{exception_rule, judging_rules, ConftestRule};
use super::metadata;
use super::program::{Program, ProgramError};
use crate::error::LoadError;
use crate::library::{LoadContext, LoadedRule};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Compile a Rego policy file, with the library modules of `ctx` and its data
/// file (`<stem>.data.json` or `<stem>.data.yaml` beside it), into a rule
/// judged by conftest's conventions.
///
/// Errors name the file and, where known, the line: a syntax or compile error,
/// an unreadable METADATA block or data file, or a policy with no `deny`,
/// `violation` or `warn` rule (it could never fail, so it is not a check).
///
/// ```
/// use verdict::engine::rego::load;
/// use verdict::library::LoadContext;
/// use std::path::Path;
///
/// let text = "package main\nimport rego.v1\ndeny contains \"no owner\" if not input.owner\n";
/// let rule = load(Path::new("owner.rego"), text, &LoadContext::default()).unwrap();
/// assert_eq!(rule.header.id, "main");
/// assert_eq!(rule.header.mode, None);
/// ```
pub fn load(path: &Path, text: &str, ctx: &LoadContext) -> Result<LoadedRule, LoadError> {
    let file = path.display().to_string();
    let mut modules = vec![(file.clone(), text.to_string())];
    modules.extend(
        ctx.rego_libs
            .iter()
            .map(|(lib, source)| (lib.display().to_string(), source.clone())),
    );
    let data = read_data(path, ctx)?;

    let program = Program::new(&modules, data, &ctx.limits).map_err(|err| load_error(path, err))?;
    let package = program
        .packages()
        .into_iter()
        .find(|(f, _)| *f == file)
        .map(|(_, package)| package.trim_start_matches("data.").to_string())
        .ok_or_else(|| LoadError::new(path, "no package declaration"))?;
    let header = metadata::header(text, &package)
        .map_err(|err| LoadError::at_line(path, err.line, err.message))?;
    let rules = judging_rules(&program, &file, text);
    if rules.is_empty() {
        return Err(LoadError::new(
            path,
            format!("package {package} has no deny, violation or warn rule (conftest conventions), so it can never fail"),
        ));
    }
    let entry_points: Vec<&str> = rules.iter().map(|r| r.path.as_str()).collect();
    program.check_calls(&entry_points).map_err(|err| load_error(path, err))?;
    let exception = exception_rule(&program, &file);
    let inputs = metadata::declared_inputs(text).map_err(|err| LoadError::at_line(path, err.line, err.message))?;
    Ok(LoadedRule {
        header,
        engine: Arc::new(ConftestRule {
            program,
            file,
            rules,
            exception,
            inputs,
        }),
    })
}

/// A [`ProgramError`] as a load error naming the file and line the compiler
/// blamed (the module at fault, which may not be `path`).
pub fn load_error(path: &Path, err: ProgramError) -> LoadError {
    match err {
        ProgramError::Compile {
            file,
            line,
            column,
            message,
        } => {
            let message = match column {
                Some(column) => format!("column {column}: {message}"),
                None => message,
            };
            match line {
                Some(line) => LoadError::at_line(PathBuf::from(file), line, message),
                None => LoadError::new(PathBuf::from(file), message),
            }
        }
        other => LoadError::new(path, other.to_string()),
    }
}

/// The data document beside a policy, if any; two candidates are ambiguous.
fn read_data(policy: &Path, ctx: &LoadContext) -> Result<Option<Value>, LoadError> {
    let Some(stem) = policy.file_stem().and_then(|s| s.to_str()) else {
        return Ok(None);
    };
    let dir = policy.parent().unwrap_or(Path::new(""));
    let present: Vec<PathBuf> = ["json", "yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.data.{ext}")))
        .filter(|p| p.is_file())
        .collect();
    let data_path = match present.as_slice() {
        [] => return Ok(None),
        [one] => one,
        [first, second, ..] => {
            return Err(LoadError::new(
                policy,
                format!(
                    "two data files: {} and {}; keep one",
                    first.display(),
                    second.display()
                ),
            ))
        }
    };
    let size = std::fs::metadata(data_path)
        .map_err(|e| LoadError::new(data_path, format!("cannot read: {e}")))?
        .len();
    if size > ctx.limits.max_file_bytes {
        return Err(LoadError::new(
            data_path,
            format!(
                "file is {size} bytes, over the limit of {} bytes",
                ctx.limits.max_file_bytes
            ),
        ));
    }
    let text = std::fs::read_to_string(data_path)
        .map_err(|e| LoadError::new(data_path, format!("cannot read: {e}")))?;
    let value: Value = if data_path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .map_err(|e| LoadError::at_line(data_path, e.line(), e.to_string()))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
            Some(at) => LoadError::at_line(data_path, at.line(), e.to_string()),
            None => LoadError::new(data_path, e.to_string()),
        })?
    };
    if !value.is_object() {
        return Err(LoadError::new(
            data_path,
            "a data file must hold an object (it becomes `data`)",
        ));
    }
    Ok(Some(value))
}
