//! Evaluating each test rule of a `_test.rego` file into one [`TestResult`] row.

use super::load::{load_suite, TestFile, TestRule};
use crate::engine::rego::{BuiltinErrors, ProgramError};
use crate::error::LoadError;
use crate::limits::Limits;
use crate::runner::TestResult;
use std::path::Path;

/// How a test file is run.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    pub limits: Limits,
    /// Run only the tests whose `package.test_name` or `test_name` (or the file,
    /// shown as [`SuiteOptions::shown`]) the glob matches; `None` runs all.
    pub filter: Option<globset::GlobMatcher>,
    /// The file's name as shown to users (its path relative to the run root).
    pub shown: String,
}

/// Run one `_test.rego` file: one row per selected test rule. A file that does
/// not compile is an `Err`; every test is evaluated against an empty input on
/// its own time budget ([`Limits::eval_timeout`]), so a looping test fails alone.
///
/// ```
/// use verdict::suite::rego_test::{run_suite, SuiteOptions};
/// let dir = std::env::temp_dir().join(format!("verdict-doc-rego-run-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("p_test.rego"), "package p_test\nimport rego.v1\ntest_ok if 1 == 1\ntest_no if 1 == 2\n").unwrap();
/// let rows = run_suite(&dir.join("p_test.rego"), &SuiteOptions::default()).unwrap();
/// assert_eq!(rows.iter().map(|r| (r.test.as_str(), r.ok)).collect::<Vec<_>>(), [("test_ok", true), ("test_no", false)]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn run_suite(path: &Path, options: &SuiteOptions) -> Result<Vec<TestResult>, LoadError> {
    let file = load_suite(path, &options.limits)?;
    let selected = |test: &TestRule| {
        options.filter.as_ref().is_none_or(|glob| {
            glob.is_match(&options.shown)
                || glob.is_match(rule_beside(path))
                || glob.is_match(&test.name)
                || glob.is_match(format!("{}.{}", file.package, test.name))
        })
    };
    Ok(file.tests.iter().filter(|t| selected(t)).map(|t| run_test(&file, t)).collect())
}

/// The rule id a test file sits beside: `s3-bucket_test.rego` tests `s3-bucket`.
fn rule_beside(path: &Path) -> &str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.strip_suffix("_test.rego").unwrap_or(name)
}

/// One test: `true` passes; `false`, undefined, any other value or an error fails.
fn run_test(file: &TestFile, test: &TestRule) -> TestResult {
    let mut row = TestResult {
        suite: file.path.display().to_string(),
        test: test.name.clone(),
        rule: format!("{}.{}", file.package, test.name),
        expected: "true".into(),
        file: Some(file.path.clone()),
        line: test.line,
        ..TestResult::default()
    };
    if test.todo {
        row.actual = "skip".into();
        row.skipped = Some("todo_ test (opa test skips it)".into());
        return row;
    }
    // opa test evaluates tests with no input; `with input as` supplies one.
    match file.program.eval_rule(&test.path, &serde_json::Value::Null) {
        Ok(Some(serde_json::Value::Bool(true))) => {
            row.actual = "true".into();
            row.ok = true;
        }
        Ok(Some(serde_json::Value::Bool(false))) => {
            row.actual = "false".into();
            row.messages.extend(builtin_error(file, test));
        }
        Ok(None) => {
            row.actual = "undefined".into();
            row.messages = vec!["the test rule is undefined: a body expression did not hold".into()];
            row.messages.extend(builtin_error(file, test));
        }
        Ok(Some(other)) => {
            row.actual = other.to_string();
            row.messages = vec![format!("a test passes only when it is true, it evaluated to {other}")];
        }
        Err(e) => {
            row.actual = "error".into();
            row.messages = vec![match e {
                ProgramError::Timeout(_) => format!("{e} (does the test loop?)"),
                _ => e.to_string(),
            }];
        }
    }
    row
}

/// Why a failed test failed, when a builtin erred on the way: OPA's default mode
/// (which `opa test` uses) makes the call undefined and the test fails without a
/// word; rerunning it strictly names the builtin, as `conftest verify
/// --show-builtin-errors` does. The test stays a failure, not an error.
fn builtin_error(file: &TestFile, test: &TestRule) -> Option<String> {
    match file.program.under_builtin_errors(BuiltinErrors::Fail).eval_rule(&test.path, &serde_json::Value::Null) {
        Err(e @ ProgramError::Eval(_)) => Some(format!("a builtin failed on the way (undefined, as in opa test): {e}")),
        _ => None,
    }
}
