//! The [`Input`] type and how its kind and label are detected.

use serde_json::Value;
use std::path::PathBuf;

/// What kind of document an [`Input`] is, detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A Kubernetes object (has `apiVersion` and `kind`).
    Manifest,
    /// `terraform show -json` output (has `format_version` and `resource_changes` or `planned_values`).
    TerraformPlan,
    /// CycloneDX JSON SBOM (`bomFormat: CycloneDX`).
    CycloneDx,
    /// Trivy JSON report (`SchemaVersion` and `Results`/`ArtifactName`).
    TrivyReport,
    /// What verdict verified about an OCI image (`kind: ImageFacts`), from an `*.image.yaml` case.
    Image,
    /// Anything else that parsed as JSON/YAML.
    Document,
}

impl InputKind {
    /// The names a policy declares its inputs by (Rego `custom.input`).
    pub const NAMES: [&'static str; 6] = ["manifest", "tfplan", "cyclonedx", "trivy", "image", "document"];

    /// The kind a declared name stands for.
    ///
    /// ```
    /// use verdict::input::InputKind;
    /// assert_eq!(InputKind::from_name("tfplan"), Some(InputKind::TerraformPlan));
    /// assert_eq!(InputKind::from_name("helm"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<InputKind> {
        Some(match name {
            "manifest" => InputKind::Manifest,
            "tfplan" => InputKind::TerraformPlan,
            "cyclonedx" => InputKind::CycloneDx,
            "trivy" => InputKind::TrivyReport,
            "image" => InputKind::Image,
            "document" => InputKind::Document,
            _ => return None,
        })
    }
}

/// One document to evaluate.
#[derive(Debug, Clone)]
pub struct Input {
    /// Stable id: the path as given plus `#n` (0-based document index) for multi-document files.
    pub id: String,
    /// The file this document came from.
    pub path: PathBuf,
    /// 0-based position within the file (after `kind: List` flattening).
    pub index: usize,
    /// 1-based line where the document starts, when known.
    pub line: Option<usize>,
    pub kind: InputKind,
    /// `Kind/namespace/name` (namespace omitted when empty) for manifests; a short label otherwise.
    pub resource: String,
    pub value: Value,
    /// `sha256:` of the document's JSON, so a decision log names exactly what was judged.
    pub digest: String,
    /// The run's registry, for documents of an `*.image.yaml` case: image rules verify
    /// the images these documents name there. `None` for plain files.
    pub images: Option<std::sync::Arc<crate::oci::ImageGate>>,
}

impl Input {
    /// Build an input from an already parsed value, detecting its kind and resource label.
    pub fn from_value(path: PathBuf, index: usize, line: Option<usize>, value: Value) -> Input {
        let kind = detect_kind(&value);
        let resource = resource_label(kind, &value);
        let id = format!("{}#{}", path.display(), index);
        let digest = digest_of(&value);
        Input { id, path, index, line, kind, resource, value, digest, images: None }
    }
}

/// `sha256:<hex>` of a value's compact JSON (serde_json keeps object keys sorted).
fn digest_of(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    // Writing into the hasher cannot fail.
    let _ = serde_json::to_writer(HashWriter(&mut hasher), value);
    format!("sha256:{:x}", hasher.finalize())
}

struct HashWriter<'a>(&'a mut sha2::Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Detect the kind of a parsed document from its shape.
pub fn detect_kind(value: &Value) -> InputKind {
    let Some(obj) = value.as_object() else {
        return InputKind::Document;
    };
    if obj.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        InputKind::CycloneDx
    } else if obj.contains_key("format_version")
        && (obj.contains_key("resource_changes") || obj.contains_key("planned_values") || obj.contains_key("terraform_version"))
    {
        InputKind::TerraformPlan
    } else if obj.contains_key("SchemaVersion") && (obj.contains_key("Results") || obj.contains_key("ArtifactName")) {
        InputKind::TrivyReport
    } else if obj.get("apiVersion").and_then(Value::as_str) == Some(crate::oci::FACTS_API_VERSION)
        && obj.get("kind").and_then(Value::as_str) == Some(crate::oci::FACTS_KIND)
    {
        InputKind::Image
    } else if obj.get("apiVersion").is_some_and(Value::is_string) && obj.get("kind").is_some_and(Value::is_string) {
        InputKind::Manifest
    } else {
        InputKind::Document
    }
}

fn resource_label(kind: InputKind, value: &Value) -> String {
    match kind {
        InputKind::Manifest if crate::input::schema::is_admission_review(value) => {
            let request = &value["request"];
            let object = if request["object"].is_object() { &request["object"] } else { &request["oldObject"] };
            let operation = request["operation"].as_str().unwrap_or("?");
            format!("{operation} {}", resource_label(InputKind::Manifest, object))
        }
        InputKind::Manifest => {
            let k = value["kind"].as_str().unwrap_or("");
            let ns = value["metadata"]["namespace"].as_str().unwrap_or("");
            let name = value["metadata"]["name"]
                .as_str()
                .or_else(|| value["metadata"]["generateName"].as_str())
                .unwrap_or("");
            if ns.is_empty() {
                format!("{k}/{name}")
            } else {
                format!("{k}/{ns}/{name}")
            }
        }
        InputKind::TerraformPlan => "terraform-plan".to_string(),
        InputKind::CycloneDx => "cyclonedx-sbom".to_string(),
        InputKind::TrivyReport => "trivy-report".to_string(),
        InputKind::Image => format!("Image/{}", value["image"].as_str().unwrap_or("")),
        InputKind::Document => "document".to_string(),
    }
}
