//! A library rule: one file holding a ConstraintTemplate and exactly one
//! Constraint, judged against each input manifest.

use super::constraint::Constraint;
use super::documents::{parse_documents, Document};
use crate::limits::Limits;
use super::strict::{check_constraint, check_template};
use super::review::ReviewOutcome;
use super::template::Template;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::input::inventory::InventoryCache;
use crate::input::{Input, InputKind};
use crate::library::{LoadContext, LoadedRule, RuleHeader};
use crate::verdict::Outcome;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// File next to a case that supplies `data.inventory` and the Namespaces
/// `namespaceSelector` needs, for every case in that directory.
pub use crate::input::inventory::INVENTORY_FILE;

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
    let template = load_template(path, text, template_doc, &ctx.limits)?;
    let constraint = load_constraint(path, text, constraint_doc)?;
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
    let controls = RuleHeader::controls_of(template.annotation("verdict.dev/controls").unwrap_or(""));
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
        inventories: InventoryCache::new(ctx.limits),
    };
    Ok(LoadedRule {
        header,
        engine: Arc::new(engine),
    })
}

/// Check (strictly, against Gatekeeper's CRD) and compile the ConstraintTemplate
/// `doc` of `text`, read from `path`; a Rego error names its line in the file.
/// Shared by library rules and gator suites, so both reject the same templates.
pub fn load_template(path: &Path, text: &str, doc: &Document, limits: &Limits) -> Result<Template, LoadError> {
    load_template_for(path, text, doc, limits, None)
}

/// As [`load_template`], compiling only `only`'s code when the template has
/// code for it (see [`Template::from_value_for`]).
pub fn load_template_for(
    path: &Path,
    text: &str,
    doc: &Document,
    limits: &Limits,
    only: Option<super::TemplateEngine>,
) -> Result<Template, LoadError> {
    check_template(&doc.value, path, Some(text), Some(doc.line))?;
    Template::from_value_for(&doc.value, path, limits, only)
        .map_err(|e| locate_rego_error(e, text, &doc.value, doc.line))
}

/// Check (strictly) and read the Constraint `doc` of `text`, read from `path`.
pub fn load_constraint(path: &Path, text: &str, doc: &Document) -> Result<Constraint, LoadError> {
    check_constraint(&doc.value, path, Some(text), Some(doc.line))?;
    Constraint::from_value(&doc.value, path).map_err(|mut e| {
        e.line = Some(doc.line);
        e
    })
}

/// A compiled template and its Constraint, judging manifests.
#[derive(Debug)]
pub struct GatekeeperRule {
    pub template: Template,
    pub constraint: Constraint,
    /// `_inventory.yaml` per case directory, read once.
    inventories: InventoryCache,
}

impl Engine for GatekeeperRule {
    fn evaluate(&self, input: &Input) -> Outcome {
        if input.kind != InputKind::Manifest {
            return Outcome::not_applicable();
        }
        let inventory = match self.inventories.for_input(input) {
            Ok(inventory) => inventory,
            Err(e) => return Outcome::error(format!("inventory: {e}")),
        };
        let inventory = inventory.objects();
        // An AdmissionReview is reviewed as its request, as gator does.
        let is_admission_review = input.value["kind"].as_str() == Some("AdmissionReview")
            && input.value["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("admission.k8s.io/"));
        let reviewed = if is_admission_review {
            self.template
                .review_request(&self.constraint, &input.value["request"], inventory)
        } else {
            self.template
                .review(&self.constraint, &input.value, inventory)
        };
        match reviewed {
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

/// Turn "line N of the Rego in field F" in a compile error into a line of the
/// YAML file, by finding where that Rego source sits in the text.
fn locate_rego_error(
    mut error: LoadError,
    text: &str,
    template: &Value,
    template_line: usize,
) -> LoadError {
    error.line = Some(template_line);
    if let Some(pointer) = cel_error_pointer(&error.message) {
        error.line = crate::schema::field_line(text, Some(template_line), &pointer).or(error.line);
        return error;
    }
    let Some((field, rego_line)) = rego_error_position(&error.message) else {
        return error;
    };
    let Some(source) = field_value(template, &field).and_then(Value::as_str) else {
        return error;
    };
    if let Some(first_line) = find_source(text, template_line, source) {
        error.line = Some(first_line + rego_line - 1);
        error.message = format!("{} ({field} line {rego_line})", error.message);
    }
    error
}

/// The JSON Pointer of the CEL expression a template error names
/// (`spec.targets[0].code[1].source.validations[2].expression`).
fn cel_error_pointer(message: &str) -> Option<String> {
    static PATTERN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(spec\.targets\[\d+\]\.code\[\d+\]\.source\.\w+\[\d+\]\.\w+):").expect("valid")
    });
    let field = &PATTERN.captures(message)?[1];
    Some(format!("/{}", field.replace(['[', '.'], "/").replace(']', "")))
}

/// The field and Rego line an error points at: `(spec.targets[0].rego):5:3`
/// from the Rego wrapper, or `spec.targets[0].libs[0] line 5:` from our checks.
fn rego_error_position(message: &str) -> Option<(String, usize)> {
    static PATTERNS: std::sync::LazyLock<[regex::Regex; 2]> = std::sync::LazyLock::new(|| {
        [
            regex::Regex::new(r"\((spec\.targets\[\d+\][^)\s]*)\):(\d+):").expect("valid"),
            regex::Regex::new(r"(spec\.targets\[\d+\][^\s:]*) line (\d+):").expect("valid"),
        ]
    });
    PATTERNS.iter().find_map(|re| {
        let caps = re.captures(message)?;
        Some((
            caps[1].to_string(),
            caps[2].parse().ok().filter(|l| *l > 0)?,
        ))
    })
}

/// Follow a field path such as `spec.targets[0].code[1].source.libs[0]`.
fn field_value<'a>(root: &'a Value, field: &str) -> Option<&'a Value> {
    let mut value = root;
    for part in field.split('.') {
        let (name, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(n, rest)| (n, rest));
        value = value.get(name)?;
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            value = value.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(value)
}

/// 1-based line of `source`'s first line within `text`, at or after `from_line`:
/// where its first lines appear in order (indentation aside).
fn find_source(text: &str, from_line: usize, source: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let wanted: Vec<(usize, &str)> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(4)
        .map(|(i, l)| (i, l.trim()))
        .collect();
    let (first_offset, first) = *wanted.first()?;
    (from_line.saturating_sub(1)..lines.len()).find_map(|i| {
        if lines[i].trim() != first || i < first_offset {
            return None;
        }
        let start = i - first_offset;
        wanted
            .iter()
            .all(|(offset, l)| lines.get(start + offset).is_some_and(|f| f.trim() == *l))
            .then_some(start + 1)
    })
}
