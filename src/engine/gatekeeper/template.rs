//! ConstraintTemplates (`templates.gatekeeper.sh/v1`, `v1beta1`): a kind name
//! and the Rego that decides violations, compiled once.

use super::rego_program::{RegoProgram, RegoSource};
use crate::error::LoadError;
use crate::limits::Limits;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The only target a Gatekeeper admission template may name.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// A compiled ConstraintTemplate.
#[derive(Debug, Clone)]
pub struct Template {
    /// `metadata.name` (lowercase kind by convention).
    pub name: String,
    /// `spec.crd.spec.names.kind`: the kind of its Constraints.
    pub kind: String,
    pub path: PathBuf,
    pub annotations: Map<String, Value>,
    /// Things the engine deliberately left out (CEL sources), for reports.
    pub notes: Vec<String>,
    /// Where the evaluated Rego came from (`spec.targets[0].rego`, ...).
    pub rego_field: String,
    pub(crate) program: RegoProgram,
    /// `data.<package>.violation`.
    pub(crate) entrypoint: String,
}

impl Template {
    /// Read and compile a template object with default limits.
    ///
    /// ```
    /// use verdict::engine::gatekeeper::Template;
    /// let t: serde_json::Value = serde_json::json!({
    ///   "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
    ///   "metadata": {"name": "k8sdemo"},
    ///   "spec": {"crd": {"spec": {"names": {"kind": "K8sDemo"}}},
    ///            "targets": [{"target": "admission.k8s.gatekeeper.sh",
    ///                         "rego": "package k8sdemo\nviolation[{\"msg\": \"no\"}] { input.review.object.metadata.name == \"bad\" }"}]}});
    /// let template = Template::from_value(&t, std::path::Path::new("demo.yaml")).unwrap();
    /// assert_eq!(template.kind, "K8sDemo");
    /// ```
    pub fn from_value(value: &Value, path: &Path) -> Result<Template, LoadError> {
        Template::from_value_with_limits(value, path, &Limits::default())
    }

    /// As [`Template::from_value`], with an evaluation time limit from `limits`.
    pub fn from_value_with_limits(
        value: &Value,
        path: &Path,
        limits: &Limits,
    ) -> Result<Template, LoadError> {
        let err = |m: String| LoadError::new(path, m);
        let api_version = value["apiVersion"].as_str().unwrap_or("");
        if value["kind"].as_str() != Some("ConstraintTemplate")
            || !api_version.starts_with("templates.gatekeeper.sh/")
        {
            return Err(err(format!(
                "expected a ConstraintTemplate (templates.gatekeeper.sh/v1), found {api_version:?} {:?}",
                value["kind"].as_str().unwrap_or("")
            )));
        }
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_string();
        let kind = value["spec"]["crd"]["spec"]["names"]["kind"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                err(format!(
                    "ConstraintTemplate {name}: spec.crd.spec.names.kind is missing"
                ))
            })?
            .to_string();
        let at = |m: String| err(format!("ConstraintTemplate {name}: {m}"));
        if name != kind.to_lowercase() {
            return Err(at(format!(
                "metadata.name must be the lowercase of kind {kind} ({:?})",
                kind.to_lowercase()
            )));
        }
        let targets = value["spec"]["targets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if targets.len() != 1 {
            return Err(at(format!(
                "spec.targets must hold exactly one target, found {}",
                targets.len()
            )));
        }
        let target = &targets[0];
        let target_name = target["target"].as_str().unwrap_or("");
        if target_name != ADMISSION_TARGET {
            return Err(at(format!(
                "target {target_name:?} is not supported, only {ADMISSION_TARGET}"
            )));
        }
        let chosen = choose_rego(target).map_err(at)?;
        let label = |field: &str| format!("{} ({field})", path.display());
        let mut sources = vec![RegoSource {
            label: label(&chosen.field),
            text: chosen.rego.clone(),
        }];
        for (i, lib) in chosen.libs.iter().enumerate() {
            sources.push(RegoSource {
                label: label(&format!("{}[{i}]", chosen.libs_field)),
                text: lib.clone(),
            });
        }
        let package = package_of(&chosen.rego)
            .ok_or_else(|| at(format!("{}: no package declaration", chosen.field)))?;
        if package == "lib" || package.starts_with("lib.") {
            return Err(at(format!(
                "{}: package {package} is reserved for libs",
                chosen.field
            )));
        }
        for (i, lib) in chosen.libs.iter().enumerate() {
            let lib_package = package_of(lib).unwrap_or_default();
            if lib_package != "lib" && !lib_package.starts_with("lib.") {
                return Err(at(format!(
                    "{}[{i}]: a lib's package must start with \"lib\", found {lib_package:?}",
                    chosen.libs_field
                )));
            }
        }
        if !declares_violation(&chosen.rego) {
            return Err(at(format!(
                "{}: missing required rule: violation",
                chosen.field
            )));
        }
        let entrypoint = format!("data.{package}.violation");
        let program = RegoProgram::compile(
            &sources,
            limits,
            &entrypoint,
            &super::review::empty_inventory(),
        )
        .map_err(|e| at(format!("Rego does not compile: {e}")))?;
        let annotations = value["metadata"]["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(Template {
            name,
            kind,
            path: path.to_path_buf(),
            annotations,
            notes: chosen.notes,
            rego_field: chosen.field,
            program,
            entrypoint,
        })
    }

    /// An annotation's string value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).and_then(Value::as_str)
    }
}

struct ChosenRego {
    field: String,
    libs_field: String,
    rego: String,
    libs: Vec<String>,
    notes: Vec<String>,
}

/// `code[].engine: Rego` wins over the legacy `rego` field; CEL sources are
/// noted and skipped, and a template with only CEL cannot be evaluated here.
fn choose_rego(target: &Value) -> Result<ChosenRego, String> {
    let mut notes = Vec::new();
    let mut has_cel = false;
    if let Some(code) = target["code"].as_array() {
        for (i, entry) in code.iter().enumerate() {
            let engine = entry["engine"].as_str().unwrap_or("");
            if engine == "K8sNativeValidation" {
                has_cel = true;
                notes.push(format!("spec.targets[0].code[{i}] (K8sNativeValidation, CEL) is not evaluated: CEL is not supported"));
            } else if engine != "Rego" {
                notes.push(format!(
                    "spec.targets[0].code[{i}] (engine {engine:?}) is not evaluated"
                ));
            }
        }
        if let Some((i, entry)) = code
            .iter()
            .enumerate()
            .find(|(_, e)| e["engine"].as_str() == Some("Rego"))
        {
            let source = &entry["source"];
            let field = format!("spec.targets[0].code[{i}].source.rego");
            let rego = source["rego"]
                .as_str()
                .filter(|r| !r.trim().is_empty())
                .ok_or(format!("{field} is empty"))?;
            let version = source["version"].as_str().unwrap_or("v0");
            // Both dialects compile: the shared Rego wrapper picks one per module.
            match version {
                "v0" | "" | "v1" => {}
                other => {
                    return Err(format!(
                        "spec.targets[0].code[{i}].source.version {other:?} is not v0 or v1"
                    ))
                }
            };
            return Ok(ChosenRego {
                field,
                libs_field: format!("spec.targets[0].code[{i}].source.libs"),
                rego: rego.to_string(),
                libs: strings(&source["libs"]),
                notes,
            });
        }
    }
    match target["rego"].as_str().filter(|r| !r.trim().is_empty()) {
        Some(rego) => Ok(ChosenRego {
            field: "spec.targets[0].rego".into(),
            libs_field: "spec.targets[0].libs".into(),
            rego: rego.to_string(),
            libs: strings(&target["libs"]),
            notes,
        }),
        None if has_cel => Err("only K8sNativeValidation (CEL) code is present: CEL is not supported, add a Rego source".into()),
        None => Err("spec.targets[0] has no Rego (neither rego nor code[].engine: Rego)".into()),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The dotted package path of a module, from its `package` line.
fn package_of(rego: &str) -> Option<String> {
    rego.lines().map(str::trim).find_map(|l| {
        let rest = l.strip_prefix("package")?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let name = rest.split('#').next().unwrap_or("").trim();
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// Gatekeeper rejects templates without a `violation` rule; check heads textually.
fn declares_violation(rego: &str) -> bool {
    rego.lines().any(|l| {
        let l = l.trim_start();
        l.strip_prefix("violation").is_some_and(|rest| {
            rest.starts_with(|c: char| matches!(c, '[' | '{' | ':' | '=') || c.is_whitespace())
        })
    })
}
