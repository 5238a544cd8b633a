//! One test per rule of the library: every case of the rule is evaluated and the
//! sorted verdicts are compared with `snapshots/<rule-id>.snap`.
//!
//! `cargo insta review` accepts changed snapshots; with `CI=true` a changed
//! snapshot fails instead of being written.

use rstest::rstest;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use verdict::library::{load_library, Library};
use verdict::limits::Limits;
use verdict::runner::run_rule_cases;

static LIBRARY: LazyLock<Library> = LazyLock::new(|| load_library(Path::new(env!("CARGO_MANIFEST_DIR")), &Limits::default()));

/// What a snapshot records for one document of one case: no paths beyond the
/// project, no times, sorted by case then document.
#[derive(Serialize)]
struct SnapshotRow {
    case: String,
    expected: String,
    resource: String,
    outcome: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<String>,
}

#[rstest]
fn rule(
    #[files("policies/**/*.rego")]
    #[files("policies/**/*.yaml")]
    #[exclude("_test\\.rego$")]
    #[exclude("policies/lib/")]
    #[exclude("\\.data\\.")]
    #[exclude("policies/(controls|waivers|promotions)\\.yaml$")]
    path: PathBuf,
) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rel = path.strip_prefix(root).unwrap_or(&path);
    if let Some(err) = LIBRARY.errors.iter().find(|e| e.path == rel) {
        panic!("rule did not load: {err}");
    }
    let rule = LIBRARY
        .rules
        .iter()
        .find(|r| r.path == rel)
        .unwrap_or_else(|| panic!("{} is not a rule of the library", rel.display()));

    let cases = run_rule_cases(root, rule, &Limits::default());
    let mut rows: Vec<SnapshotRow> = Vec::new();
    for result in &cases.results {
        let docs: Vec<_> = cases
            .verdicts
            .iter()
            .filter(|v| v.input.starts_with(&format!("cases/{}/{}#", rule.id, result.test)))
            .collect();
        if docs.is_empty() {
            rows.push(SnapshotRow {
                case: result.test.clone(),
                expected: result.expected.clone(),
                resource: String::new(),
                outcome: result.actual.clone(),
                messages: result.messages.clone(),
            });
        }
        for v in docs {
            rows.push(SnapshotRow {
                case: result.test.clone(),
                expected: result.expected.clone(),
                resource: v.resource.clone(),
                outcome: v.outcome.name().to_string(),
                messages: v.outcome.messages(),
            });
        }
    }
    rows.sort_by(|a, b| (&a.case, &a.resource).cmp(&(&b.case, &b.resource)));

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_input_file(&path);
    settings.bind(|| insta::assert_yaml_snapshot!(rule.id.as_str(), rows));

    let bad: Vec<String> = cases
        .results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: expected {}, got {} {:?}", r.test, r.expected, r.actual, r.messages))
        .collect();
    assert!(bad.is_empty(), "rule {} has failing cases:\n{}", rule.id, bad.join("\n"));
}

/// Problems not tied to one rule file (the control catalogue, a duplicate id) fail here.
#[test]
fn library_loads_without_errors() {
    let errors: Vec<String> = LIBRARY.errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "library load errors:\n{}", errors.join("\n"));
    assert!(!LIBRARY.rules.is_empty(), "no rules found under policies/");
}
