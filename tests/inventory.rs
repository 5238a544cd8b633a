//! The shared `_inventory.yaml` reader and the library engines that use it,
//! driven by `tests/engine/inventory/*.yaml` (fixture directories under
//! `tests/engine/inventory/fixtures/`). Every case has `note` and
//! `input_path` (relative to the crate, where cargo runs tests; the file need not exist, only its
//! directory's inventory is read), then either
//! - `namespace` with `want_labels: {..}` / `want_unlisted: true` and optional
//!   `want_objects: n`: [`InventoryCache::for_input`] and [`Inventory`] lookups;
//! - `resource` (+ the file's or case's `policy`, a library rule file's text):
//!   the rule's `Engine` verdict, `want: <outcome name>`;
//! - `want_error: text`: the error (reading the inventory, or the error
//!   verdict's reason) contains `text`.

mod support;

use rstest::rstest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use verdict::input::inventory::{Inventory, InventoryCache};
use verdict::input::Input;
use verdict::library::{LoadContext, LoadedRule};
use verdict::verdict::Outcome;

#[rstest]
fn inventory(#[files("tests/engine/inventory/*.yaml")] path: PathBuf) {
    support::run_yaml_cases(&path, |file, case| run_case(&path, file, case));
}

fn run_case(path: &Path, file: &Value, case: &Value) -> Result<(), String> {
    let input_path = case["input_path"]
        .as_str()
        .map(PathBuf::from)
        .ok_or("no input_path")?;
    match case.get("resource") {
        Some(resource) => {
            let policy = case
                .get("policy")
                .or_else(|| file.get("policy"))
                .and_then(Value::as_str)
                .ok_or("no policy")?;
            let rule = load_rule(path, policy)?;
            let input = Input::from_value(input_path, 0, None, resource.clone());
            judge(rule.engine.evaluate(&input), case)
        }
        None => lookup(
            InventoryCache::default().for_input(&Input::from_value(
                input_path,
                0,
                None,
                Value::Null,
            )),
            case,
        ),
    }
}

/// A Kyverno or Gatekeeper library rule, by what the file holds.
fn load_rule(path: &Path, policy: &str) -> Result<LoadedRule, String> {
    let ctx = LoadContext::default();
    let loaded = if policy.contains("kind: ConstraintTemplate") {
        verdict::engine::gatekeeper::load(path, policy, &ctx)
    } else {
        verdict::engine::kyverno::engine::load(path, policy, &ctx)
    };
    loaded.map_err(|e| format!("policy does not load: {e}"))
}

fn judge(outcome: Outcome, case: &Value) -> Result<(), String> {
    match (&outcome, case.get("want_error"), case.get("want")) {
        (Outcome::Error { reason }, Some(want), _) => support::error_contains(reason, want),
        (_, Some(want), _) => Err(format!("want error {want}, got {outcome:?}")),
        (_, None, Some(want)) if want.as_str() == Some(outcome.name()) => Ok(()),
        (_, None, want) => Err(format!("want {want:?}, got {outcome:?}")),
    }
}

fn lookup(
    inventory: Result<std::sync::Arc<Inventory>, verdict::input::LoadError>,
    case: &Value,
) -> Result<(), String> {
    let inventory = match (inventory, case.get("want_error")) {
        (Err(e), Some(want)) => return support::error_contains(&e.to_string(), want),
        (Err(e), None) => return Err(format!("unexpected error: {e}")),
        (Ok(_), Some(want)) => return Err(format!("want error {want}, read the inventory")),
        (Ok(inventory), None) => inventory,
    };
    if let Some(want) = case.get("want_objects").and_then(Value::as_u64) {
        if inventory.objects().len() as u64 != want {
            return Err(format!(
                "want {want} objects, got {}",
                inventory.objects().len()
            ));
        }
    }
    let namespace = case["namespace"].as_str().ok_or("no namespace")?;
    let labels = inventory.namespace_labels(namespace);
    match (case.get("want_labels"), case.get("want_unlisted")) {
        (Some(want), None) => {
            let got = labels
                .map(|l| Value::Object(l.clone()))
                .ok_or_else(|| format!("Namespace {namespace:?} is not listed"))?;
            (&got == want)
                .then_some(())
                .ok_or_else(|| format!("want labels {want}, got {got}"))
        }
        (None, Some(Value::Bool(true))) => match labels {
            None => Ok(()),
            Some(l) => Err(format!("want {namespace:?} unlisted, got labels {l:?}")),
        },
        _ => Err("a lookup case needs want_labels or want_unlisted: true".into()),
    }
}
