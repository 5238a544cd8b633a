//! Compiling a `_test.rego` file with the modules it tests, and finding its test rules.

use crate::engine::rego::{load_error, Program};
use crate::error::LoadError;
use crate::limits::Limits;
use std::path::{Path, PathBuf};

/// One `_test.rego` file compiled with the non-test modules beside and below it.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    /// The file's package without `data.` (`terraform.s3_test`).
    pub package: String,
    pub program: Program,
    /// The test rules, in source order.
    pub tests: Vec<TestRule>,
}

/// A `test_*` (or `todo_test_*`) rule of a test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRule {
    pub name: String,
    /// `data.<package>.<name>`, for evaluation.
    pub path: String,
    /// 1-based line of the rule's first definition.
    pub line: Option<usize>,
    /// `todo_test_*`: reported as skipped, as `opa test` does.
    pub todo: bool,
}

/// Compile `path` with every non-test `.rego` file under its directory (what
/// `opa test DIR` would load for that directory) and, when the file lies under a
/// project's `policies/`, the library's `policies/lib` modules, which its rules import.
///
/// Other `_test.rego` files are left out so that one broken test file does not
/// stop its neighbours. A parse or compile error is a load error naming the file
/// and line; so is a call of a function that exists nowhere (OPA rejects it too).
///
/// ```
/// use verdict::suite::rego_test::load_suite;
/// use verdict::limits::Limits;
/// let dir = std::env::temp_dir().join(format!("verdict-doc-rego-test-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("p_test.rego"), "package p_test\nimport rego.v1\ntest_one if 1 == 1\ntodo_test_two if false\n").unwrap();
/// let file = load_suite(&dir.join("p_test.rego"), &Limits::default()).unwrap();
/// assert_eq!(file.package, "p_test");
/// assert_eq!(file.tests.iter().map(|t| (t.name.as_str(), t.todo)).collect::<Vec<_>>(), [("test_one", false), ("todo_test_two", true)]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_suite(path: &Path, limits: &Limits) -> Result<TestFile, LoadError> {
    let text = crate::input::read_text(path, limits)?;
    let file = path.display().to_string();
    let mut modules = vec![(file.clone(), text.clone())];
    let dir = path.parent().unwrap_or(Path::new("."));
    for module in module_files(dir).into_iter().chain(library_libs(dir)) {
        if modules.iter().any(|(f, _)| Path::new(f) == module) {
            continue;
        }
        let source = crate::input::read_text(&module, limits)?;
        modules.push((module.display().to_string(), source));
    }
    let program = Program::new(&modules, None, limits).map_err(|e| load_error(path, e))?;
    let package = program
        .packages()
        .into_iter()
        .find(|(f, _)| *f == file)
        .map(|(_, p)| p)
        .ok_or_else(|| LoadError::new(path, "no package declaration"))?;
    let tests = test_rules(&program, &file, &text, &package);
    let entry_points: Vec<&str> = tests.iter().filter(|t| !t.todo).map(|t| t.path.as_str()).collect();
    program.check_calls(&entry_points).map_err(|e| load_error(path, e))?;
    Ok(TestFile {
        path: path.to_path_buf(),
        package: package.trim_start_matches("data.").to_string(),
        program,
        tests,
    })
}

/// Non-test `.rego` files under `dir`, skipping build output and VCS directories.
fn module_files(dir: &Path) -> Vec<PathBuf> {
    crate::runner::paths::source_files(dir)
        .map(|e| e.into_path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".rego") && !name.ends_with("_test.rego")
        })
        .collect()
}

/// `policies/lib/**/*.rego` of the project `dir` belongs to, when `dir` is inside its `policies/`.
fn library_libs(dir: &Path) -> Vec<PathBuf> {
    let absolute = crate::runner::absolute(dir);
    let Some(root) = crate::library::find_project_root(&absolute) else {
        return Vec::new();
    };
    let lib = root.join("policies/lib");
    if !absolute.starts_with(root.join("policies")) || absolute.starts_with(&lib) {
        return Vec::new();
    }
    module_files(&lib)
}

/// The `test_*` and `todo_test_*` rules `file` declares. Candidates are the
/// identifiers of the source; the compiler confirms each is a rule of the file,
/// as for conftest rules, so a local variable named `test_x` is never a test.
fn test_rules(program: &Program, file: &str, source: &str, package: &str) -> Vec<TestRule> {
    let mut tests: Vec<TestRule> = Vec::new();
    for word in source.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let todo = word.starts_with("todo_test_");
        if !(word.starts_with("test_") || todo) || tests.iter().any(|t| t.name == word) {
            continue;
        }
        if !program.declares_rule(file, word) {
            continue;
        }
        tests.push(TestRule {
            name: word.to_string(),
            path: format!("{package}.{word}"),
            line: definition_line(source, word),
            todo,
        });
    }
    tests
}

/// The first line that starts with `name` as a whole word (where a rule head sits).
fn definition_line(source: &str, name: &str) -> Option<usize> {
    source
        .lines()
        .position(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
        })
        .map(|i| i + 1)
}
