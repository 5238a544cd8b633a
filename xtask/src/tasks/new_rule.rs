//! `cargo xtask new-rule <gate>/<rule-id> --lang rego|kyverno|gatekeeper`: the three
//! files of a new rule, in audit mode, with the documentation skeleton.

use anyhow::{bail, Context, Result};
use std::path::Path;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Lang {
    Rego,
    Kyverno,
    Gatekeeper,
}

const REGO: &str = include_str!("../../templates/rule.rego");
const KYVERNO: &str = include_str!("../../templates/rule.kyverno.yaml");
const GATEKEEPER: &str = include_str!("../../templates/rule.gatekeeper.yaml");
const POD_PASS: &str = include_str!("../../templates/pass-minimal.yaml");
const POD_FAIL: &str = include_str!("../../templates/fail-minimal.yaml");
const PLAN_PASS: &str = include_str!("../../templates/pass-minimal.tfplan.json");
const PLAN_FAIL: &str = include_str!("../../templates/fail-minimal.tfplan.json");

pub fn run(root: &Path, spec: &str, lang: Lang) -> Result<bool> {
    let Some((gate, id)) = spec.split_once('/') else { bail!("expected <gate>/<rule-id>, got `{spec}`") };
    let kebab = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !kebab(gate) || !kebab(id) {
        bail!("gate and rule id must be kebab-case: `{spec}`");
    }
    let (ext, template) = match lang {
        Lang::Rego => ("rego", REGO),
        Lang::Kyverno => ("yaml", KYVERNO),
        Lang::Gatekeeper => ("yaml", GATEKEEPER),
    };
    let kind_name: String = id.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
    let fill = |t: &str| {
        t.replace("RULE_ID", id)
            .replace("RULE_PACKAGE", &id.replace('-', "_"))
            .replace("RULE_KIND", &format!("K8s{kind_name}"))
            .replace("RULE_TEMPLATE", &format!("k8s{}", id.replace('-', "")))
    };
    let policy = root.join("policies").join(gate).join(format!("{id}.{ext}"));
    let cases = root.join("cases").join(id);
    if policy.exists() || cases.exists() {
        bail!("{} or {} already exists", policy.display(), cases.display());
    }
    std::fs::create_dir_all(policy.parent().unwrap())?;
    std::fs::create_dir_all(&cases)?;
    std::fs::write(&policy, fill(template)).with_context(|| policy.display().to_string())?;
    let (pass, fail, suffix) = match lang {
        Lang::Rego => (PLAN_PASS, PLAN_FAIL, "tfplan.json"),
        _ => (POD_PASS, POD_FAIL, "yaml"),
    };
    std::fs::write(cases.join(format!("pass-minimal.{suffix}")), pass)?;
    std::fs::write(cases.join(format!("fail-minimal.{suffix}")), fail)?;
    eprintln!(
        "new-rule: wrote {} and {}/{{pass,fail}}-minimal.{suffix}; fill in the condition and the docs, \
         then `cargo test --test policy` and `cargo insta review`",
        policy.strip_prefix(root).unwrap_or(&policy).display(),
        cases.strip_prefix(root).unwrap_or(&cases).display()
    );
    Ok(true)
}
