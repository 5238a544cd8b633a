//! Kubernetes JSON Schema validation of fixture manifests, so a typo in a case
//! (`securityContex:`) cannot make it pass by accident.
//!
//! The schemas are the `-local-strict` ones of one pinned Kubernetes version
//! (see `kubernetes-schemas/SOURCE.md`): unknown fields are rejected. Kinds of
//! a built-in API group that are not embedded fail closed; custom resources
//! (a dotted group Kubernetes does not serve itself, such as `kyverno.io`) are
//! not validated, there being no schema to check them against.

use super::{Input, InputKind};
use crate::error::LoadError;
use jsonschema::Validator;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{LazyLock, OnceLock};
use std::path::Path;

const DEFINITIONS: &str = include_str!("kubernetes-schemas/definitions.json");
const INDEX: &str = include_str!("kubernetes-schemas/index.json");

pub use crate::schema::Violation;

/// What a manifest that breaks its Kubernetes schema does to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SchemaMode {
    /// An error for every result that uses it (the default: a typo must not pass).
    #[default]
    Strict,
    /// A warning; the manifest is evaluated as written (for a suite being migrated).
    Warn,
    /// Not checked (documents that are not Kubernetes objects).
    Off,
}

/// What schema validation made of one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaCheck {
    /// The manifest matches the schema of its kind.
    Valid,
    /// A custom resource: its group is not served by Kubernetes itself, so no schema applies.
    CustomResource { api_version: String, kind: String },
    /// Built-in (or malformed) `apiVersion`/`kind` with no embedded schema; treated as an error.
    NoSchema { api_version: String, kind: String },
    /// The manifest breaks its kind's schema.
    Invalid { api_version: String, kind: String, violations: Vec<Violation> },
}

/// The pinned Kubernetes version the embedded schemas describe (`v1.37.0`).
///
/// ```
/// assert!(verdict::input::schema::kubernetes_version().starts_with("v1."));
/// ```
pub fn kubernetes_version() -> &'static str {
    &catalogue().version
}

/// Every `(apiVersion, kind)` with an embedded schema, sorted.
///
/// ```
/// let kinds = verdict::input::schema::embedded_kinds();
/// assert!(kinds.contains(&("apps/v1", "Deployment")));
/// ```
pub fn embedded_kinds() -> Vec<(&'static str, &'static str)> {
    let mut kinds: Vec<_> = catalogue()
        .kinds
        .iter()
        .flat_map(|(api_version, kinds)| kinds.keys().map(move |kind| (api_version.as_str(), kind.as_str())))
        .collect();
    kinds.sort_unstable();
    kinds
}

/// Validate a Kubernetes manifest against the schema of its `apiVersion`/`kind`.
///
/// Inputs that are not Kubernetes objects and custom resources are accepted
/// unchecked; a built-in kind with no embedded schema is an error.
///
/// ```
/// use verdict::input::{Input, schema::validate_manifest};
/// let pod = serde_json::json!({
///     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
///     "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "securityContex": {}}]}
/// });
/// let input = Input::from_value("pod.yaml".into(), 0, Some(1), pod);
/// let err = validate_manifest(&input).unwrap_err();
/// assert!(err.message.contains("/spec/containers/0/securityContex: unknown field (did you mean `securityContext`?)"));
/// ```
pub fn validate_manifest(input: &Input) -> Result<(), LoadError> {
    if input.kind != InputKind::Manifest {
        return Ok(());
    }
    let version = kubernetes_version();
    let doc = format!("document {} ({})", input.index, input.resource);
    if is_admission_review(&input.value) {
        // Decoded strictly as gator and the API server do; the objects it carries are checked as any case's.
        crate::engine::gatekeeper::check_admission_review(&input.value, &input.path, None, input.line).map_err(|e| {
            match std::fs::read_to_string(&input.path) {
                Ok(text) => crate::engine::gatekeeper::check_admission_review(&input.value, &input.path, Some(&text), input.line)
                    .err()
                    .unwrap_or(e),
                Err(_) => e,
            }
        })?;
        for field in ["object", "oldObject"] {
            let object = &input.value["request"][field];
            if object.is_object() {
                check_located(
                    &input.path,
                    input.line,
                    &format!("/request/{field}"),
                    object,
                    |api_version, kind| {
                        format!("{doc}: no Kubernetes {version} schema is embedded for apiVersion {api_version:?} kind {kind:?} at request.{field}")
                    },
                    |api_version, kind| format!("{doc}: request.{field} does not match the Kubernetes {version} schema of {api_version} {kind}"),
                )?;
            }
        }
        return Ok(());
    }
    check_located(
        &input.path,
        input.line,
        "",
        &input.value,
        |api_version, kind| {
            format!(
                "{doc}: no Kubernetes {version} schema is embedded for apiVersion {api_version:?} kind {kind:?} \
                 (add the kind to scripts/k8s_schemas.py if Kubernetes serves it)"
            )
        },
        |api_version, kind| format!("{doc}: does not match the Kubernetes {version} schema of {api_version} {kind}"),
    )
}

/// An `AdmissionReview` a case gives whole, to be judged as its request.
pub(crate) fn is_admission_review(value: &Value) -> bool {
    value["kind"] == "AdmissionReview" && value["apiVersion"].as_str().is_some_and(|v| v.starts_with("admission.k8s.io/"))
}

/// Check `object`, found at JSON Pointer `pointer` (`""` for the document
/// itself) of the document starting at `line` of `path`, against the embedded
/// schemas: a load error naming the file and each field's line, its message
/// worded by `no_schema` or `invalid` from the object's apiVersion and kind.
/// Custom resources, which have no schema here, pass.
pub(crate) fn check_located(
    path: &Path,
    line: Option<usize>,
    pointer: &str,
    object: &Value,
    no_schema: impl FnOnce(&str, &str) -> String,
    invalid: impl FnOnce(&str, &str) -> String,
) -> Result<(), LoadError> {
    match check_manifest(object) {
        SchemaCheck::Valid | SchemaCheck::CustomResource { .. } => Ok(()),
        SchemaCheck::NoSchema { api_version, kind } => {
            Err(LoadError { path: path.to_path_buf(), line, message: no_schema(&api_version, &kind) })
        }
        SchemaCheck::Invalid { api_version, kind, mut violations } => {
            for v in &mut violations {
                v.path = match v.path.as_str() {
                    "/" if !pointer.is_empty() => pointer.to_string(),
                    p => format!("{pointer}{p}"),
                };
            }
            // Only now is the text read again, to put each field on its line.
            if let Ok(text) = std::fs::read_to_string(path) {
                crate::schema::locate(&mut violations, &text, line);
            }
            Err(crate::schema::load_error(path, line, &invalid(&api_version, &kind), &violations))
        }
    }
}

/// Check a parsed object against the embedded schemas, without deciding what a failure means.
///
/// ```
/// use verdict::input::schema::{check_manifest, SchemaCheck};
/// let policy = serde_json::json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy"});
/// assert!(matches!(check_manifest(&policy), SchemaCheck::CustomResource { .. }));
/// ```
pub fn check_manifest(value: &Value) -> SchemaCheck {
    let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let catalogue = catalogue();
    let group = match api_version.split_once('/') {
        Some((group, version)) if !group.is_empty() && !version.is_empty() && !version.contains('/') => group,
        Some(_) => return SchemaCheck::NoSchema { api_version, kind },
        None => "",
    };
    let Some(slot) = catalogue.kinds.get(&api_version).and_then(|kinds| kinds.get(&kind)) else {
        // Kubernetes requires a dot in a custom resource's group, and serves its own groups itself.
        if group.contains('.') && !catalogue.builtin_groups.contains(group) {
            return SchemaCheck::CustomResource { api_version, kind };
        }
        return SchemaCheck::NoSchema { api_version, kind };
    };
    let (schema, validator) = match slot.validator.get_or_init(|| compile(&slot.definition)) {
        Ok(compiled) => (&compiled.0, &compiled.1),
        Err(message) => {
            let violations = vec![Violation { path: "/".into(), message: message.clone(), suggestion: None, line: None }];
            return SchemaCheck::Invalid { api_version, kind, violations };
        }
    };
    let violations = crate::schema::violations(validator, schema, value);
    if violations.is_empty() {
        SchemaCheck::Valid
    } else {
        SchemaCheck::Invalid { api_version, kind, violations }
    }
}

struct KindSlot {
    definition: String,
    /// The kind's schema document (the definitions plus a root `$ref`) and its validator.
    validator: OnceLock<Result<(Value, Validator), String>>,
}

struct Catalogue {
    version: String,
    /// apiVersion → kind → compiled-on-first-use validator.
    kinds: HashMap<String, HashMap<String, KindSlot>>,
    builtin_groups: BTreeSet<String>,
    definitions: Value,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    kubernetes: String,
    kinds: BTreeMap<String, BTreeMap<String, String>>,
    builtin_groups: BTreeSet<String>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
        // Both files are embedded at build time and checked by tests/input.rs.
        let index: Index = serde_json::from_str(INDEX).expect("embedded kubernetes-schemas/index.json parses");
        let definitions =
            serde_json::from_str(DEFINITIONS).expect("embedded kubernetes-schemas/definitions.json parses");
        let kinds = index
            .kinds
            .into_iter()
            .map(|(api_version, kinds)| {
                let slots = kinds
                    .into_iter()
                    .map(|(kind, definition)| (kind, KindSlot { definition, validator: OnceLock::new() }))
                    .collect();
                (api_version, slots)
            })
            .collect();
        Catalogue { version: index.kubernetes, kinds, builtin_groups: index.builtin_groups, definitions }
    });
    &CATALOGUE
}

fn compile(definition: &str) -> Result<(Value, Validator), String> {
    let definitions = &catalogue().definitions;
    let mut schema = definitions.clone();
    let root = schema.as_object_mut().ok_or("embedded definitions are not an object")?;
    root.insert("$ref".into(), Value::String(format!("#/$defs/{definition}")));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .map_err(|e| format!("embedded schema {definition} does not compile: {e}"))?;
    Ok((schema, validator))
}
