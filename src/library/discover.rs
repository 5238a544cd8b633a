//! Walking `policies/` and building [`Rule`]s.

use super::{Language, LoadContext, LoadedRule, Rule};
use crate::error::LoadError;
use crate::limits::Limits;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Files under `policies/` that are the library's ledger, not rules.
const LEDGER_FILES: &[&str] = &["controls.yaml", "waivers.yaml", "promotions.yaml"];

/// The loaded library: rules that compiled, and errors for those that did not.
///
/// A rule that cannot be loaded is an error, never a skip: callers must fail
/// the run when `errors` is not empty.
#[derive(Debug, Default)]
pub struct Library {
    pub root: PathBuf,
    pub rules: Vec<Rule>,
    pub errors: Vec<LoadError>,
    /// Control ids declared in `policies/controls.yaml`.
    pub controls: BTreeSet<String>,
    /// `policies/waivers.yaml`, every entry (each rule also holds its own).
    pub waivers: Vec<crate::lifecycle::Waiver>,
    /// `policies/promotions.yaml`, oldest first.
    pub promotions: Vec<crate::lifecycle::Promotion>,
}

impl Library {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// The nearest directory at or above `start` holding `policies/`, as cargo finds `Cargo.toml`.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|dir| dir.join("policies").is_dir()).map(Path::to_path_buf)
}

/// The repository `start` is in: the nearest directory at or above it holding `.git`
/// (a directory, or a file for worktrees), else `start` itself. Reports give paths
/// relative to it, as code-scanning and annotation UIs expect.
pub fn find_repository_root(start: &Path) -> PathBuf {
    start.ancestors().find(|dir| dir.join(".git").exists()).unwrap_or(start).to_path_buf()
}

/// Load every rule under `root/policies`.
pub fn load_library(root: &Path, limits: &Limits) -> Library {
    let policies = root.join("policies");
    let mut library = Library { root: root.to_path_buf(), ..Default::default() };

    match load_controls(&policies.join("controls.yaml"), limits) {
        Ok(controls) => library.controls = controls,
        Err(e) => library.errors.push(e),
    }

    let ctx = LoadContext { limits: *limits, rego_libs: read_rego_libs(&policies.join("lib"), limits, &mut library.errors) };
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in policy_files(&policies) {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        match load_rule(&path, &rel, &policies, &ctx) {
            Ok(rule) => {
                if let Some(err) = check_rule(&rule, &rel, &library.controls, &mut seen) {
                    library.errors.push(err);
                } else {
                    library.rules.push(rule);
                }
            }
            Err(e) => library.errors.push(e),
        }
    }
    library.rules.sort_by(|a, b| a.id.cmp(&b.id));

    // The ledger and the waivers are checked on every load, so a bad entry fails the run.
    match crate::lifecycle::read_ledger(&policies.join("promotions.yaml"), limits) {
        Ok(promotions) => library.promotions = promotions,
        Err(e) => library.errors.push(e),
    }
    match crate::lifecycle::read_waivers(&policies.join("waivers.yaml"), limits) {
        Ok(waivers) => {
            for rule in &mut library.rules {
                rule.waivers = waivers.iter().filter(|w| w.rule == rule.id).cloned().collect::<Vec<_>>().into();
            }
            library.waivers = waivers;
        }
        Err(e) => library.errors.push(e),
    }
    library
}

/// Policy files in a stable order: `*.rego` (not tests, not `lib/`) and `*.yaml`
/// (not data files, not the ledger).
fn policy_files(policies: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = WalkDir::new(policies)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| is_policy_file(policies, p))
        .collect();
    files.sort();
    files
}

fn is_policy_file(policies: &Path, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let rel = path.strip_prefix(policies).unwrap_or(path);
    if rel.starts_with("lib") || name.starts_with('.') {
        return false;
    }
    if path.parent() == Some(policies) && is_ledger_file(path) {
        return false;
    }
    if name.ends_with(".rego") {
        return !name.ends_with("_test.rego");
    }
    (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.contains(".data.")
}

/// `policies/controls.yaml`, `waivers.yaml` and `promotions.yaml`: the library's own
/// data files, never policies, whoever walks the directory.
pub fn is_ledger_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_policies = path.parent().and_then(|p| p.file_name()).is_some_and(|d| d == "policies");
    in_policies && LEDGER_FILES.contains(&name)
}

fn read_rego_libs(dir: &Path, limits: &Limits, errors: &mut Vec<LoadError>) -> Vec<(PathBuf, String)> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let mut libs = Vec::new();
    for entry in WalkDir::new(dir).sort_by_file_name().into_iter().filter_map(Result::ok) {
        let path = entry.path();
        let name = path.to_string_lossy();
        if entry.file_type().is_file() && name.ends_with(".rego") && !name.ends_with("_test.rego") {
            match read_text(path, limits) {
                Ok(text) => libs.push((path.to_path_buf(), text)),
                Err(e) => errors.push(e),
            }
        }
    }
    libs
}

/// Read a policy file as UTF-8 text within the size limit.
pub fn read_text(path: &Path, limits: &Limits) -> Result<String, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    if meta.len() > limits.max_file_bytes {
        return Err(LoadError::new(
            path,
            format!("file is {} bytes, over the limit of {} bytes", meta.len(), limits.max_file_bytes),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        LoadError::at_line(path, line, format!("invalid UTF-8 at byte {offset}"))
    })
}

/// The language of a policy file: by extension, then by the first YAML document's `kind`.
pub fn detect_language(path: &Path, text: &str) -> Result<Language, LoadError> {
    if path.extension().and_then(|e| e.to_str()) == Some("rego") {
        return Ok(Language::Rego);
    }
    let first = serde_yaml_ng::Deserializer::from_str(text)
        .next()
        .map(serde_yaml_ng::Value::deserialize)
        .transpose()
        .map_err(|e| yaml_error(path, &e))?;
    let kind = first
        .as_ref()
        .and_then(|v| v.get("kind"))
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_string();
    match kind.as_str() {
        "ConstraintTemplate" => Ok(Language::Gatekeeper),
        // Kyverno CEL policies are Kyverno's too; its loader tells the kinds apart.
        "ClusterPolicy" | "Policy" | "ValidatingPolicy" | "NamespacedValidatingPolicy" => Ok(Language::Kyverno),
        "ValidatingAdmissionPolicy" => Ok(Language::Vap),
        "" => Err(LoadError::new(path, "not a policy: the first document has no `kind`")),
        "ValidatingAdmissionPolicyBinding" => Err(LoadError::new(
            path,
            "a ValidatingAdmissionPolicyBinding comes after its ValidatingAdmissionPolicy: put the policy first in the file",
        )),
        other => Err(LoadError::new(
            path,
            format!("not a policy: kind `{other}` (expected ConstraintTemplate, ClusterPolicy, Policy, ValidatingPolicy, NamespacedValidatingPolicy or ValidatingAdmissionPolicy)"),
        )),
    }
}

fn yaml_error(path: &Path, e: &serde_yaml_ng::Error) -> LoadError {
    match e.location() {
        Some(loc) => LoadError::at_line(path, loc.line(), e.to_string()),
        None => LoadError::new(path, e.to_string()),
    }
}

fn load_rule(path: &Path, rel: &Path, policies: &Path, ctx: &LoadContext) -> Result<Rule, LoadError> {
    let text = read_text(path, &ctx.limits)?;
    let language = detect_language(rel, &text).map_err(|e| LoadError { path: rel.to_path_buf(), ..e })?;
    let LoadedRule { header, engine } = compile(language, path, &text, ctx)?;
    let mode = header.mode.ok_or_else(|| {
        LoadError::new(rel, "no mode: set the native mode field (Rego `custom.mode`, Gatekeeper `enforcementAction`, Kyverno `validationFailureAction`, a ValidatingAdmissionPolicyBinding's `validationActions`)")
    })?;
    let gate = path
        .parent()
        .and_then(|p| p.strip_prefix(policies).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Rule {
        id: header.id,
        title: header.title,
        description: header.description,
        gate,
        mode,
        severity: header.severity,
        controls: header.controls,
        language,
        path: rel.to_path_buf(),
        engine,
        waivers: Default::default(),
    })
}

/// Compile one policy file with the engine of its language: the one place that branches on it.
pub fn compile(language: Language, path: &Path, text: &str, ctx: &LoadContext) -> Result<LoadedRule, LoadError> {
    match language {
        Language::Rego => crate::engine::rego::load(path, text, ctx),
        Language::Gatekeeper => crate::engine::gatekeeper::load(path, text, ctx),
        Language::Kyverno => crate::engine::kyverno::engine::load(path, text, ctx),
        Language::Vap => crate::engine::vap::load(path, text, ctx),
    }
}

/// Library-level checks: the id is the file stem, unique, and names known controls.
fn check_rule(rule: &Rule, rel: &Path, controls: &BTreeSet<String>, seen: &mut BTreeMap<String, PathBuf>) -> Option<LoadError> {
    let stem = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = stem.split('.').next().unwrap_or(stem);
    if rule.id != stem {
        return Some(LoadError::new(rel, format!("rule id `{}` differs from the file name `{stem}`", rule.id)));
    }
    if let Some(first) = seen.get(&rule.id) {
        return Some(LoadError::new(rel, format!("duplicate rule id `{}` (first defined in {})", rule.id, first.display())));
    }
    seen.insert(rule.id.clone(), rel.to_path_buf());
    let unknown: Vec<&str> = rule.controls.iter().filter(|c| !controls.contains(*c)).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Some(LoadError::new(rel, format!("unknown control id(s) {} (not in policies/controls.yaml)", unknown.join(", "))));
    }
    None
}

fn load_controls(path: &Path, limits: &Limits) -> Result<BTreeSet<String>, LoadError> {
    Ok(crate::lifecycle::read_controls(path, limits)?.into_iter().map(|c| c.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kyverno_cel_policies_are_kyverno_rules() {
        let path = Path::new("policies/admission/team-replicas.yaml");
        for kind in ["ValidatingPolicy", "NamespacedValidatingPolicy"] {
            let text = format!("apiVersion: policies.kyverno.io/v1\nkind: {kind}\nmetadata: {{name: team-replicas, namespace: team-a}}\n");
            assert!(matches!(detect_language(path, &text), Ok(Language::Kyverno)), "{kind}");
        }
        let error = detect_language(path, "kind: MutatingPolicy\n").unwrap_err().to_string();
        assert!(error.contains("NamespacedValidatingPolicy"), "{error}");
    }
}
