//! Writing new things from templates: a rule ([`new_rule`]: the policy in audit
//! mode with its documentation skeleton, plus `pass-minimal` and `fail-minimal`
//! cases) and a whole project ([`init`]). Used by `verdict new-rule`, `verdict
//! init` and `cargo xtask new-rule`; nothing here overwrites an existing file.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The policy language of a new rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rego,
    /// A Kyverno ClusterPolicy (pattern rules).
    Kyverno,
    Gatekeeper,
    /// A Kyverno ValidatingPolicy (CEL).
    Vpol,
    /// A Kubernetes ValidatingAdmissionPolicy with its binding (CEL).
    Vap,
}

const REGO: &str = include_str!("templates/rule.rego");
const KYVERNO: &str = include_str!("templates/rule.kyverno.yaml");
const GATEKEEPER: &str = include_str!("templates/rule.gatekeeper.yaml");
const VPOL: &str = include_str!("templates/rule.vpol.yaml");
const VAP: &str = include_str!("templates/rule.vap.yaml");
const POD_PASS: &str = include_str!("templates/pass-minimal.yaml");
const POD_FAIL: &str = include_str!("templates/fail-minimal.yaml");
const PLAN_PASS: &str = include_str!("templates/pass-minimal.tfplan.json");
const PLAN_FAIL: &str = include_str!("templates/fail-minimal.tfplan.json");

const PROJECT_CONTROLS: &str = include_str!("project/controls.yaml");
const PROJECT_RULE: &str = include_str!("project/disallow-privileged-containers.yaml");
const PROJECT_CODEOWNERS: &str = include_str!("project/CODEOWNERS");
const PROJECT_GITIGNORE: &str = include_str!("project/gitignore");
const PROJECT_WORKFLOW: &str = include_str!("project/policy.yml");

/// The example rule `verdict init` writes.
pub const EXAMPLE_RULE: &str = "disallow-privileged-containers";

/// Write the policy and cases of a new rule `<gate>/<rule-id>` under `root`, in
/// audit mode, and return the files written (relative to `root`).
///
/// ```
/// use verdict::scaffold::{new_rule, Lang};
/// let dir = tempfile::tempdir().unwrap();
/// let files = new_rule(dir.path(), "gate5-pod-security/no-host-ports", Lang::Kyverno).unwrap();
/// assert_eq!(files[0], std::path::Path::new("policies/gate5-pod-security/no-host-ports.yaml"));
/// assert!(new_rule(dir.path(), "gate5-pod-security/no-host-ports", Lang::Kyverno).is_err(), "never overwrites");
/// ```
pub fn new_rule(root: &Path, spec: &str, lang: Lang) -> Result<Vec<PathBuf>> {
    let Some((gate, id)) = spec.split_once('/') else { bail!("expected <gate>/<rule-id>, got `{spec}`") };
    let kebab = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if !kebab(gate) || !kebab(id) {
        bail!("gate and rule id must be kebab-case: `{spec}`");
    }
    let (ext, template) = match lang {
        Lang::Rego => ("rego", REGO),
        Lang::Kyverno => ("yaml", KYVERNO),
        Lang::Gatekeeper => ("yaml", GATEKEEPER),
        Lang::Vpol => ("yaml", VPOL),
        Lang::Vap => ("yaml", VAP),
    };
    let kind_name: String = id.split('-').filter(|w| !w.is_empty()).map(|w| w[..1].to_uppercase() + &w[1..]).collect();
    let fill = |t: &str| {
        t.replace("RULE_ID", id)
            .replace("RULE_PACKAGE", &id.replace('-', "_"))
            .replace("RULE_KIND", &format!("K8s{kind_name}"))
            .replace("RULE_TEMPLATE", &format!("k8s{}", id.replace('-', "")))
    };
    let policy = PathBuf::from("policies").join(gate).join(format!("{id}.{ext}"));
    let cases = PathBuf::from("cases").join(id);
    if root.join(&policy).exists() || root.join(&cases).exists() {
        bail!("{} or {} already exists", policy.display(), cases.display());
    }
    if let Some(existing) = existing_rule_file(root, id) {
        bail!("a policy file for rule id `{id}` already exists: {}", existing.display());
    }
    let (pass, fail, suffix) = match lang {
        Lang::Rego => (PLAN_PASS, PLAN_FAIL, "tfplan.json"),
        _ => (POD_PASS, POD_FAIL, "yaml"),
    };
    let files = vec![
        (policy, fill(template)),
        (cases.join(format!("pass-minimal.{suffix}")), pass.to_string()),
        (cases.join(format!("fail-minimal.{suffix}")), fail.to_string()),
    ];
    write_all(root, &files)
}

/// A policy file anywhere under `policies/` whose stem is `id`.
fn existing_rule_file(root: &Path, id: &str) -> Option<PathBuf> {
    walkdir::WalkDir::new(root.join("policies"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .find(|e| e.file_name().to_str().and_then(|n| n.split('.').next()) == Some(id))
        .map(|e| e.into_path())
}

/// Write a minimal project into `dir`: `policies/` with a control catalogue and one
/// example rule in audit mode, its pass and fail cases, its accepted snapshot,
/// `.github/CODEOWNERS`, a CI workflow and a `.gitignore`. Refuses to touch a
/// directory that already holds `policies/`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let files = verdict::scaffold::init(dir.path()).unwrap();
/// assert!(files.iter().any(|f| f.ends_with("policies/controls.yaml")));
/// assert!(dir.path().join("snapshots").is_dir());
/// ```
pub fn init(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.join("policies").exists() {
        bail!("{} already holds policies/; verdict init only starts new projects", dir.display());
    }
    let rule = PathBuf::from("policies/gate-admission").join(format!("{EXAMPLE_RULE}.yaml"));
    let cases = PathBuf::from("cases").join(EXAMPLE_RULE);
    let files = vec![
        (PathBuf::from("policies/controls.yaml"), PROJECT_CONTROLS.to_string()),
        (rule, PROJECT_RULE.to_string()),
        (cases.join("pass-unprivileged-pod.yaml"), POD_PASS.to_string()),
        (cases.join("fail-privileged-pod.yaml"), POD_FAIL.to_string()),
        (PathBuf::from(".github/CODEOWNERS"), PROJECT_CODEOWNERS.to_string()),
        (PathBuf::from(".github/workflows/policy.yml"), PROJECT_WORKFLOW.to_string()),
        (PathBuf::from(".gitignore"), PROJECT_GITIGNORE.to_string()),
    ];
    for (path, _) in &files {
        if dir.join(path).exists() {
            bail!("{} already exists", dir.join(path).display());
        }
    }
    let mut written = write_all(dir, &files)?;
    std::fs::create_dir_all(dir.join("snapshots")).context("creating snapshots/")?;
    written.push(accept_example_snapshot(dir)?);
    Ok(written)
}

/// The example rule's verdicts, recorded as its accepted snapshot, so a new project
/// passes `verdict test` as it stands.
fn accept_example_snapshot(dir: &Path) -> Result<PathBuf> {
    let limits = crate::limits::Limits::default();
    let library = crate::library::load_library(dir, &limits);
    if let Some(e) = library.errors.first() {
        bail!("the example project does not load: {e}");
    }
    let rule = library.rule(EXAMPLE_RULE).context("the example rule is missing")?;
    let cases = crate::runner::run_rule_cases(dir, rule, &limits, None);
    if let Some(bad) = cases.results.iter().find(|r| !r.ok) {
        bail!("the example rule fails its own case {}: {:?}", bad.test, bad.messages);
    }
    let rows = crate::snapshot::rows(&rule.id, &cases.results, &cases.verdicts);
    let snapshots = dir.join("snapshots");
    crate::snapshot::check(&snapshots, &rule.id, &rule.path.display().to_string(), &rows, crate::snapshot::UpdateMode::Always)?;
    Ok(PathBuf::from("snapshots").join(format!("{EXAMPLE_RULE}.snap")))
}

fn write_all(root: &Path, files: &[(PathBuf, String)]) -> Result<Vec<PathBuf>> {
    for (path, text) in files {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&full, text).with_context(|| format!("writing {}", full.display()))?;
    }
    Ok(files.iter().map(|(p, _)| p.clone()).collect())
}
