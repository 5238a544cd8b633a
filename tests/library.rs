//! The library loader refuses what would make a run meaningless, naming the file.

use std::path::Path;
use verdict::library::load_library;
use verdict::limits::Limits;
use verdict::runner::run_rule_cases;

fn fixture() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/library-errors"))
}

fn error_for(library: &verdict::library::Library, file: &str) -> String {
    library
        .errors
        .iter()
        .find(|e| e.path.ends_with(file))
        .map(ToString::to_string)
        .unwrap_or_else(|| panic!("no load error for {file}: {:#?}", library.errors))
}

#[test]
fn every_broken_rule_is_a_load_error_naming_its_file() {
    let library = load_library(fixture(), &Limits::default());
    let dup = error_for(&library, "gate-b/same-id.rego");
    assert!(dup.contains("duplicate rule id `same-id`") && dup.contains("gate-a/same-id.rego"), "{dup}");
    assert!(error_for(&library, "no-mode.rego").contains("no mode"));
    let unknown = error_for(&library, "unknown-control.rego");
    assert!(unknown.contains("made-up-control") && !unknown.contains("known-control,"), "{unknown}");
    assert!(error_for(&library, "wrong-name.rego").contains("differs from the file name"));
    let yaml = error_for(&library, "not-yaml.yaml");
    assert!(yaml.contains("not-yaml.yaml:"), "names the line: {yaml}");
    let loaded: Vec<&str> = library.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(loaded, ["same-id", "untested"], "only the sound rules load");
}

#[test]
fn a_rule_without_a_fail_case_is_reported_untested() {
    let library = load_library(fixture(), &Limits::default());
    let rule = library.rule("untested").expect("untested loads");
    let cases = run_rule_cases(fixture(), rule, &Limits::default(), None);
    let untested: Vec<_> = cases.results.iter().filter(|r| !r.ok).collect();
    assert_eq!(untested.len(), 1, "{:#?}", cases.results);
    assert_eq!(untested[0].actual, "error");
    assert!(untested[0].messages[0].contains("no fail-* case"), "{:?}", untested[0].messages);
}
