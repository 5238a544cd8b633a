//! A library rule: one file holding a ConstraintTemplate and exactly one
//! Constraint, judged against each input manifest.

use super::constraint::Constraint;
use super::documents::parse_documents;
use super::review::ReviewOutcome;
use super::template::Template;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::input::{Input, InputKind};
use crate::library::{LoadContext, LoadedRule, RuleHeader};
use crate::verdict::Outcome;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// File next to a case that supplies `data.inventory` and the Namespaces
/// `namespaceSelector` needs, for every case in that directory.
pub const INVENTORY_FILE: &str = "_inventory.yaml";

/// Compile one library file (template, then one Constraint) into a rule.
///
/// ```
/// use verdict::engine::gatekeeper::load;
/// use verdict::library::LoadContext;
/// let text = r#"
/// apiVersion: templates.gatekeeper.sh/v1
/// kind: ConstraintTemplate
/// metadata:
///   name: k8snodefault
///   annotations:
///     metadata.gatekeeper.sh/title: No default namespace
/// spec:
///   crd: {spec: {names: {kind: K8sNoDefault}}}
///   targets:
///     - target: admission.k8s.gatekeeper.sh
///       rego: |
///         package k8snodefault
///         violation[{"msg": "uses default"}] { input.review.object.metadata.namespace == "default" }
/// ---
/// apiVersion: constraints.gatekeeper.sh/v1beta1
/// kind: K8sNoDefault
/// metadata: {name: no-default-namespace}
/// spec: {enforcementAction: dryrun}
/// "#;
/// let rule = load(std::path::Path::new("no-default-namespace.yaml"), text, &LoadContext::default()).unwrap();
/// assert_eq!(rule.header.id, "no-default-namespace");
/// assert_eq!(rule.header.mode, Some(verdict::verdict::Mode::Audit));
/// ```
pub fn load(path: &Path, text: &str, ctx: &LoadContext) -> Result<LoadedRule, LoadError> {
    let documents = parse_documents(path, text, &ctx.limits)?;
    let [template_doc, constraint_doc] = documents.as_slice() else {
        return Err(LoadError::new(
            path,
            format!(
                "a Gatekeeper rule file holds a ConstraintTemplate then exactly one Constraint, found {} documents",
                documents.len()
            ),
        ));
    };
    let template = Template::from_value_with_limits(&template_doc.value, path, &ctx.limits)
        .map_err(|e| locate_rego_error(e, text, template_doc.line))?;
    let constraint = Constraint::from_value(&constraint_doc.value, path).map_err(|mut e| {
        e.line = Some(constraint_doc.line);
        e
    })?;
    if constraint.kind != template.kind {
        return Err(LoadError::at_line(
            path,
            constraint_doc.line,
            format!(
                "Constraint {} names kind {}, but no template defines it (the template in this file defines {})",
                constraint.name, constraint.kind, template.kind
            ),
        ));
    }
    let controls = template
        .annotation("verdict.dev/controls")
        .map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let header = RuleHeader {
        id: constraint.name.clone(),
        title: template
            .annotation("metadata.gatekeeper.sh/title")
            .unwrap_or("")
            .to_string(),
        description: template.annotation("description").unwrap_or("").to_string(),
        mode: Some(constraint.enforcement_action.mode()),
        severity: template
            .annotation("verdict.dev/severity")
            .map(str::to_string),
        controls,
    };
    let engine = GatekeeperRule {
        template,
        constraint,
        limits: ctx.limits,
        inventories: Mutex::default(),
    };
    Ok(LoadedRule {
        header,
        engine: Arc::new(engine),
    })
}

/// The objects of one `_inventory.yaml`, or why it could not be read.
type CachedInventory = Result<Arc<Vec<Value>>, String>;

/// A compiled template and its Constraint, judging manifests.
#[derive(Debug)]
pub struct GatekeeperRule {
    pub template: Template,
    pub constraint: Constraint,
    limits: crate::limits::Limits,
    /// `_inventory.yaml` per case directory, read once.
    inventories: Mutex<HashMap<PathBuf, CachedInventory>>,
}

impl GatekeeperRule {
    fn inventory_for(&self, input: &Input) -> Result<Arc<Vec<Value>>, String> {
        let dir = input
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut cache = self.inventories.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(dir.clone())
            .or_insert_with(|| {
                let file = dir.join(INVENTORY_FILE);
                if !file.is_file() {
                    return Ok(Arc::new(Vec::new()));
                }
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                let docs =
                    parse_documents(&file, &text, &self.limits).map_err(|e| e.to_string())?;
                Ok(Arc::new(docs.into_iter().map(|d| d.value).collect()))
            })
            .clone()
    }
}

impl Engine for GatekeeperRule {
    fn evaluate(&self, input: &Input) -> Outcome {
        if input.kind != InputKind::Manifest {
            return Outcome::not_applicable();
        }
        let inventory = match self.inventory_for(input) {
            Ok(inventory) => inventory,
            Err(e) => return Outcome::error(format!("inventory: {e}")),
        };
        match self
            .template
            .review(&self.constraint, &input.value, &inventory)
        {
            Ok(ReviewOutcome::NotMatched) => Outcome::not_applicable(),
            Ok(ReviewOutcome::Violations(v)) if v.is_empty() => Outcome::pass(),
            Ok(ReviewOutcome::Violations(v)) => {
                Outcome::fail(v.into_iter().map(|v| v.message).collect())
            }
            Err(e) => {
                let path = self.template.path.display().to_string();
                if e.message.contains(&path) {
                    Outcome::error(e.message)
                } else {
                    Outcome::error(format!("{path}: {}", e.message))
                }
            }
        }
    }
}

/// Turn "line N of the Rego" in a compile error into a line of the YAML file.
fn locate_rego_error(mut error: LoadError, text: &str, template_line: usize) -> LoadError {
    let Some(rego_line) = rego_error_line(&error.message) else {
        error.line = Some(template_line);
        return error;
    };
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines
        .iter()
        .enumerate()
        .skip(template_line.saturating_sub(1))
    {
        let t = line.trim();
        if !(t.starts_with("rego:") || t.starts_with("- |") || t.starts_with("- >")) {
            continue;
        }
        if !(t.ends_with('|') || t.ends_with("|-") || t.ends_with('>') || t.ends_with(">-")) {
            continue;
        }
        // Block scalar: its first content line is the next line.
        let file_line = i + 1 + rego_line;
        if file_line <= lines.len() {
            error.line = Some(file_line);
            error.message = format!("{} (Rego line {rego_line})", error.message);
            return error;
        }
    }
    error.line = Some(template_line);
    error
}

/// The `:LINE:COL` regorus prints after the source label.
fn rego_error_line(message: &str) -> Option<usize> {
    let at = message
        .find(").rego):")
        .or_else(|| message.find("rego):"))?;
    let rest = &message[at..];
    let rest = &rest[rest.find("):")? + 2..];
    rest.split(':').next()?.trim().parse().ok()
}
