//! Compiling a `_test.rego` file with the modules it tests, and finding its test rules.

use crate::engine::rego::{load_error, BuiltinErrors, Program};
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
    let text = number_repeated_tests(&crate::input::read_text(path, limits)?);
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
    let data = data_files(dir, limits)?;
    // `opa test` runs in OPA's default mode: a builtin that fails on its
    // arguments is undefined, so tests written for it (gatekeeper-library's
    // `object.get(null, ...)` cases) hold here too.
    let program = Program::with_builtin_errors(&modules, Some(data), limits, BuiltinErrors::Undefined).map_err(|e| load_error(path, e))?;
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

/// The data document `opa test DIR` builds from the `*.json`, `*.yaml` and `*.yml`
/// files under `dir`, whatever their names: each file's object is placed at the path of
/// its directory relative to `dir` (`dir/a/b/x.json` at `data.a.b`) and merged deeply
/// with the others. As in OPA's loader, a file that does not hold an object, or that
/// sets a key another file already set to something else, is an error naming it.
fn data_files(dir: &Path, limits: &Limits) -> Result<serde_json::Value, LoadError> {
    let mut data = serde_json::Map::new();
    for entry in crate::runner::paths::source_files(dir) {
        let path = entry.path();
        let is_data = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "json" | "yaml" | "yml"));
        if !is_data {
            continue;
        }
        let mut documents = crate::input::load_file(path, limits)?;
        if documents.len() > 1 {
            return Err(LoadError::new(
                path,
                "a data file holds one document, this one holds several",
            ));
        }
        let Some(document) = documents.pop() else {
            continue;
        };
        let serde_json::Value::Object(mut object) = document.value else {
            return Err(LoadError::new(
                path,
                "a data file must hold an object (its keys go under data)",
            ));
        };
        let relative = path
            .parent()
            .and_then(|p| p.strip_prefix(dir).ok())
            .unwrap_or(Path::new(""));
        for component in relative.components().rev() {
            let key = component.as_os_str().to_string_lossy().into_owned();
            object = serde_json::Map::from_iter([(key, serde_json::Value::Object(object))]);
        }
        merge_data(&mut data, object, &mut Vec::new()).map_err(|key| {
            LoadError::new(
                path,
                format!(
                    "data.{key} is already set by another data file under {}",
                    dir.display()
                ),
            )
        })?;
    }
    Ok(serde_json::Value::Object(data))
}

/// Merge `from` into `into`: objects merge key by key, any other value may be set once.
/// The error is the dotted key where two files disagree.
fn merge_data(
    into: &mut serde_json::Map<String, serde_json::Value>,
    from: serde_json::Map<String, serde_json::Value>,
    at: &mut Vec<String>,
) -> Result<(), String> {
    for (key, value) in from {
        at.push(key.clone());
        match (into.get_mut(&key), value) {
            (None, value) => {
                into.insert(key, value);
            }
            (Some(serde_json::Value::Object(existing)), serde_json::Value::Object(incoming)) => {
                merge_data(existing, incoming, at)?
            }
            (Some(_), _) => return Err(at.join(".")),
        }
        at.pop();
    }
    Ok(())
}

/// Suffix that stands for `#` in the compiled names of repeated test rules (`#` cannot
/// appear in a Rego name).
const REPEAT_MARK: &str = "__verdict_repeat_";

/// `opa test` runs each definition of a repeated test name as its own test, the second
/// `test_x` as `test_x#01`, the third as `test_x#02`; regorus would merge them into one
/// rule. So every later definition (a rule head at the start of a line) is renamed
/// before compiling, keeping lines and the rest of the text as written.
fn number_repeated_tests(source: &str) -> String {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        let head_len = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let head = &line[..head_len];
        let is_test = head.starts_with("test_") || head.starts_with("todo_test_");
        if is_test && is_rule_head(&line[head_len..]) {
            let n = seen.entry(head).or_default();
            if *n > 0 {
                out.push_str(&format!("{head}{REPEAT_MARK}{:02}{}", n, &line[head_len..]));
                *n += 1;
                continue;
            }
            *n += 1;
        }
        out.push_str(line);
    }
    out
}

/// What follows a name at the start of a line when it is a rule head (`if`, `{`, `:=`, `=`, `contains`), not `x.y` or a call.
fn is_rule_head(rest: &str) -> bool {
    let rest = rest.trim_start();
    rest.starts_with('{')
        || rest.starts_with(":=")
        || (rest.starts_with('=') && !rest.starts_with("=="))
        || rest.starts_with("if")
        || rest.starts_with("contains")
        || rest.starts_with('[')
}

/// How a test rule is named in results: a renamed repeat (`test_x__verdict_repeat_01`) as `test_x#01`.
fn shown_name(compiled: &str) -> String {
    compiled.replacen(REPEAT_MARK, "#", 1)
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
        if !(word.starts_with("test_") || todo) || tests.iter().any(|t| t.name == shown_name(word))
        {
            continue;
        }
        if !program.declares_rule(file, word) {
            continue;
        }
        tests.push(TestRule {
            name: shown_name(word),
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
