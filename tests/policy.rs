//! One test per rule of the library, found when the tests run (not when they are
//! compiled), so a new, renamed or removed rule is seen without a rebuild. Each
//! test evaluates every case of its rule and compares the sorted verdicts with
//! `snapshots/<rule-id>.snap`, as `verdict test` does.
//!
//! Snapshots follow insta's conventions: a difference writes `<rule-id>.snap.new`
//! for `cargo insta review`; `INSTA_UPDATE=always` accepts in place (leaving no
//! `.snap.new` behind); under `CI=true` nothing is written and a missing or changed
//! snapshot fails. Snapshots and case directories that belong to no rule fail too.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use verdict::library::{load_library, Library};
use verdict::limits::Limits;
use verdict::runner::{orphan_case_dirs, run_rule_cases};
use verdict::snapshot::{self, UpdateMode};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    let args = Arguments::from_args();
    let library = Arc::new(load_library(&root(), &Limits::default()));
    let mut trials = Vec::new();

    for error in &library.errors {
        let message = error.to_string();
        trials.push(Trial::test(format!("load::{}", error.path.display()), move || Err(message.into())));
    }
    for rule in &library.rules {
        let library = Arc::clone(&library);
        let id = rule.id.clone();
        trials.push(Trial::test(id.clone(), move || check_rule(&library, &id)));
    }
    {
        let library = Arc::clone(&library);
        trials.push(Trial::test("library::no-leftovers", move || leftovers(&library)));
    }
    {
        let library = Arc::clone(&library);
        trials.push(Trial::test("library::snapshot-format-is-insta", move || format_is_insta(&library)));
    }
    let loaded = !library.rules.is_empty();
    trials.push(Trial::test("library::has-rules", move || {
        if loaded {
            Ok(())
        } else {
            Err("no rules found under policies/".into())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// One registry for the whole test binary, started only if a rule has image cases.
fn images(library: &Library) -> &'static verdict::oci::LazyGate {
    static GATE: std::sync::OnceLock<verdict::oci::LazyGate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| verdict::oci::LazyGate::new(verdict::oci::RegistryChoice::Auto, library.root.join("policies/keys")))
}

fn check_rule(library: &Library, id: &str) -> Result<(), Failed> {
    let rule = library.rule(id).ok_or_else(|| format!("rule {id} disappeared"))?;
    let cases = run_rule_cases(&library.root, rule, &Limits::default(), Some(images(library)));
    let rows = snapshot::rows(&rule.id, &cases.results, &cases.verdicts);
    let snapshots = library.root.join("snapshots");
    let input_file = rule.path.display().to_string();
    let check = snapshot::check(&snapshots, &rule.id, &input_file, &rows, UpdateMode::from_env())
        .map_err(|e| format!("snapshots/{id}.snap: {e}"))?;
    let mut problems = Vec::new();
    if !check.status.ok() {
        let what = match &check.status {
            snapshot::SnapshotStatus::Missing { .. } => "has no accepted snapshot",
            _ => "differs from its accepted snapshot",
        };
        let written = match &check.status {
            snapshot::SnapshotStatus::Missing { pending: Some(p) } | snapshot::SnapshotStatus::Changed { pending: Some(p) } => {
                format!("wrote {}; review with `cargo insta review` or accept with INSTA_UPDATE=always", p.display())
            }
            _ => "nothing written (CI or INSTA_UPDATE=no)".to_string(),
        };
        problems.push(format!("rule {id} {what}; {written}\n{}", check.diff));
    }
    for r in cases.results.iter().filter(|r| !r.ok) {
        problems.push(format!("{}: expected {}, got {} {:?}", r.test, r.expected, r.actual, r.messages));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// Case directories and snapshots of rules that no longer exist.
fn leftovers(library: &Library) -> Result<(), Failed> {
    let mut ids: std::collections::BTreeSet<&str> = library.rules.iter().map(|r| r.id.as_str()).collect();
    let stems: Vec<String> = library
        .errors
        .iter()
        .filter_map(|e| e.path.file_name()?.to_str()?.split('.').next().map(str::to_string))
        .collect();
    ids.extend(stems.iter().map(String::as_str));
    let mut found: Vec<String> = orphan_case_dirs(&library.root, &ids).iter().map(|p| shown(&library.root, p)).collect();
    let snapshots = library.root.join("snapshots");
    for file in snapshot::orphans(&snapshots, ids.iter().copied())? {
        if UpdateMode::from_env() == UpdateMode::Always {
            std::fs::remove_file(&file)?;
            eprintln!("removed {}: it belongs to no rule", shown(&library.root, &file));
        } else {
            found.push(shown(&library.root, &file));
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!("these belong to no rule (renamed or removed?); delete them:\n  {}", found.join("\n  ")).into())
    }
}

/// verdict writes snapshot bodies exactly as insta would, so each accepted file that
/// matches its rule's verdicts is byte for byte what verdict would write.
fn format_is_insta(library: &Library) -> Result<(), Failed> {
    let snapshots = library.root.join("snapshots");
    let mut differ = Vec::new();
    for rule in &library.rules {
        let Ok(text) = std::fs::read_to_string(snapshot::accepted_path(&snapshots, &rule.id)) else { continue };
        let cases = run_rule_cases(&library.root, rule, &Limits::default(), Some(images(library)));
        let rows = snapshot::rows(&rule.id, &cases.results, &cases.verdicts);
        if snapshot::parse_body(&text).as_ref() == Some(&rows) && snapshot::body(&text) != snapshot::to_yaml(&rows) {
            differ.push(rule.id.clone());
        }
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(format!("same verdicts, different text: {}", differ.join(", ")).into())
    }
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
