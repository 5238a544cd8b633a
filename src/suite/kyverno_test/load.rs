//! Finding `kyverno-test.yaml` files and loading everything one names:
//! policies, resources, values and user info, resolved against the test's
//! directory as `kyverno test` resolves them.

use super::model::{ContextFile, TestFile, UserInfoFile, ValuesSpec};
use crate::engine::kyverno::exception::{is_policy_exception, PolicyException};
use crate::engine::kyverno::vpol::{is_cel_policy_exception, CelPolicyException};
use crate::engine::kyverno::vpol::MockContext as TestContext;
use crate::error::LoadError;
use crate::limits::Limits;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file name `kyverno test` looks for.
pub const TEST_FILE_NAME: &str = "kyverno-test.yaml";

/// Names accepted by [`discover`]: Kyverno's, and its `.yml` spelling.
const TEST_FILE_NAMES: [&str; 2] = [TEST_FILE_NAME, "kyverno-test.yml"];

/// Every `kyverno-test.yaml` under `root` (or `root` itself when it is one),
/// sorted. Hidden directories are searched too: upstream keeps its tests in
/// `.kyverno-test/`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let hidden = dir.path().join("policy/.kyverno-test");
/// std::fs::create_dir_all(&hidden).unwrap();
/// std::fs::write(hidden.join("kyverno-test.yaml"), "").unwrap();
/// let found = verdict::suite::kyverno_test::discover(dir.path());
/// assert_eq!(found, [hidden.join("kyverno-test.yaml")]);
/// ```
pub fn discover(root: &Path) -> Vec<PathBuf> {
    if root.is_file() {
        return if root
            .file_name()
            .is_some_and(|n| TEST_FILE_NAMES.iter().any(|t| n == *t))
        {
            vec![root.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && TEST_FILE_NAMES.iter().any(|t| e.file_name() == *t))
        .map(walkdir::DirEntry::into_path)
        .collect();
    found.sort();
    found
}

/// A Kyverno policy document, with the identity rows refer to it by.
#[derive(Debug, Clone)]
pub struct PolicyDoc {
    pub source: PathBuf,
    /// `ClusterPolicy` or `Policy`; other policy kinds are kept so rows naming them can be skipped by name.
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub value: Value,
}

impl PolicyDoc {
    pub fn is_kyverno_policy(&self) -> bool {
        matches!(self.kind.as_str(), "ClusterPolicy" | "Policy")
    }

    /// A Kyverno `ValidatingPolicy` (policies.kyverno.io).
    pub fn is_validating_policy(&self) -> bool {
        crate::engine::kyverno::vpol::is_validating_policy(&self.value)
    }

    /// Names of the policy's rules, in order.
    pub fn rule_names(&self) -> Vec<&str> {
        self.rules()
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .collect()
    }

    /// The policy's rules as written.
    pub fn rules(&self) -> &[Value] {
        self.value["spec"]["rules"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// A resource document, normalised as Kyverno's CLI loader does.
#[derive(Debug, Clone)]
pub struct ResourceDoc {
    /// Why the resource breaks its Kubernetes schema (file, line, field), if it does.
    pub schema_problem: Option<String>,
    pub api_version: String,
    pub kind: String,
    /// Empty only for cluster-scoped kinds: a namespaced resource without one gets `default`.
    pub namespace: String,
    pub name: String,
    pub value: Value,
}

impl ResourceDoc {
    /// `Kind/namespace/name`, namespace omitted for cluster-scoped resources.
    pub fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }

    fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }
}

/// One `Test` document with everything it references loaded.
#[derive(Debug, Clone)]
pub struct LoadedTest {
    /// The `kyverno-test.yaml` path.
    pub path: PathBuf,
    pub name: String,
    pub file: TestFile,
    pub policies: Vec<PolicyDoc>,
    /// Unique resources, first occurrence wins (as in `kyverno test`).
    pub resources: Vec<ResourceDoc>,
    pub values: Option<ValuesSpec>,
    pub user_info: Option<UserInfoFile>,
    /// `paramResources`: objects a CEL rule's `paramRef` selects (numbers kept as written).
    pub param_resources: Arc<Vec<Value>>,
    /// The `context` file: resources and images Kyverno's CEL libraries read.
    pub context: Option<Arc<TestContext>>,
    /// `exceptions`: classic PolicyExceptions, for ClusterPolicy and Policy rules.
    pub exceptions: Arc<Vec<PolicyException>>,
    /// `exceptions`: CEL PolicyExceptions, for ValidatingPolicies.
    pub cel_exceptions: Vec<CelPolicyException>,
    /// Why none of the rows can be checked, when the test needs what verdict cannot do.
    pub unsupported: Option<String>,
    pub warnings: Vec<String>,
}

/// Load every `Test` document of one `kyverno-test.yaml` and the files it names.
pub fn load_tests(path: &Path, limits: &Limits) -> Result<Vec<LoadedTest>, LoadError> {
    let text = read_text(path, limits)?;
    let documents: Vec<Value> = parse_typed(path, &text, limits)?;
    if documents.is_empty() {
        return Err(LoadError::new(path, "no Test document in the file"));
    }
    let mut files = Vec::new();
    for mut document in documents {
        let renamed = canonical_field_names(&mut document);
        let file: TestFile = match serde_json::from_value(document) {
            Ok(file) => file,
            // Decode the text again only now, to name the line of the bad field.
            Err(e) => {
                return Err(match parse_typed::<TestFile>(path, &text, limits) {
                    Err(located) => located,
                    Ok(_) => LoadError::new(path, e.to_string()),
                })
            }
        };
        files.push((file, renamed));
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    files
        .into_iter()
        .map(|(file, renamed)| {
            let mut test = load_test(path, &dir, file, limits)?;
            test.warnings.extend(renamed.into_iter().map(|(written, canonical)| {
                format!(
                    "field `{written}` read as `{canonical}`: kyverno test matches field names case-insensitively; write `{canonical}`"
                )
            }));
            Ok(test)
        })
        .collect()
}

/// Fields of a `Test` and of its `results` rows, as Kyverno's API spells them.
const TEST_FIELDS: [&str; 21] = [
    "apiVersion", "kind", "metadata", "name", "policies", "resources", "variables", "userinfo", "results",
    "values", "jsonPayload", "jsonPayloads", "httpPayloads", "envoyPayloads", "targetResources",
    "paramResources", "exceptions", "context", "clusterResources", "apiCallResponses", "globalContextEntries",
];
const ROW_FIELDS: [&str; 23] = [
    "policy", "rule", "result", "status", "kind", "operation", "resources", "resource", "namespace",
    "resourceSpecs", "patchedResources", "patchedResource", "generatedResource", "generatedResources",
    "cloneSourceResource", "failOnMissingResources", "isValidatingAdmissionPolicy",
    "isMutatingAdmissionPolicy", "isValidatingPolicy", "isDeletingPolicy", "isImageValidatingPolicy",
    "isGeneratingPolicy", "isMutatingPolicy",
];

/// Renames keys of the test and its rows that match a field only ignoring
/// case, as Go's JSON decoding (which `kyverno test` uses) binds them;
/// returns `(written, canonical)` for each, to warn about.
fn canonical_field_names(document: &mut Value) -> Vec<(String, String)> {
    fn rename(map: &mut serde_json::Map<String, Value>, fields: &[&str], renamed: &mut Vec<(String, String)>) {
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            if fields.contains(&key.as_str()) {
                continue;
            }
            if let Some(canonical) = fields.iter().find(|f| f.eq_ignore_ascii_case(&key)) {
                if let Some(value) = map.remove(&key) {
                    map.insert(canonical.to_string(), value);
                    renamed.push((key, canonical.to_string()));
                }
            }
        }
    }
    let mut renamed = Vec::new();
    if let Some(map) = document.as_object_mut() {
        rename(map, &TEST_FIELDS, &mut renamed);
        for row in map.get_mut("results").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(row) = row.as_object_mut() {
                rename(row, &ROW_FIELDS, &mut renamed);
            }
        }
    }
    renamed
}

fn load_test(
    path: &Path,
    dir: &Path,
    file: TestFile,
    limits: &Limits,
) -> Result<LoadedTest, LoadError> {
    let mut warnings = Vec::new();
    let mut unsupported = file.unsupported_inputs();
    if file.api_version.is_none() || file.kind.is_none() || file.name.is_some() {
        warnings.push("deprecated test schema (no apiVersion/kind, or top-level name)".to_string());
    }
    // `kyverno test` reads any apiVersion and kind; say so rather than refuse.
    if let (Some(api), Some(kind)) = (&file.api_version, &file.kind) {
        if !api.starts_with("cli.kyverno.io/") || kind != "Test" {
            warnings.push(format!(
                "expected apiVersion cli.kyverno.io/v1alpha1 kind Test, found {api} {kind}"
            ));
        }
    }
    let name = file.test_name().map(str::to_string).unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });

    let mut policies = Vec::new();
    for reference in dedup(&file.policies) {
        if is_remote(reference) {
            unsupported.get_or_insert_with(|| format!("remote policy {reference} is not fetched"));
            continue;
        }
        for source in expand(path, &dir.join(reference))? {
            for value in read_values(&source, limits)? {
                policies.push(policy_doc(&source, value)?);
            }
        }
    }
    if policies.is_empty() {
        return Err(LoadError::new(path, "the test names no policy document"));
    }

    let mut resources: Vec<ResourceDoc> = Vec::new();
    let mut seen = HashSet::new();
    for reference in dedup(&file.resources) {
        if is_remote(reference) {
            unsupported
                .get_or_insert_with(|| format!("remote resource {reference} is not fetched"));
            continue;
        }
        for source in expand(path, &dir.join(reference))? {
            let values = read_values(&source, limits)?;
            let problems = schema_problems(&source, &values, limits);
            for (value, problem) in values.into_iter().zip(problems) {
                let mut doc = resource_doc(&source, value)?;
                doc.schema_problem = problem;
                let key = (
                    doc.group().to_string(),
                    doc.kind.clone(),
                    doc.namespace.clone(),
                    doc.name.clone(),
                );
                if seen.insert(key) {
                    resources.push(doc);
                } else {
                    warnings.push(format!(
                        "{}: duplicate resource {} ignored (the first one is used)",
                        source.display(),
                        doc.label()
                    ));
                }
            }
        }
    }

    // Inline values win over the values file, as in `kyverno test`.
    let values = match (&file.values, &file.variables) {
        (Some(inline), _) => Some(inline.clone()),
        (None, Some(reference)) if !reference.is_empty() => {
            let source = dir.join(reference);
            let text = read_text(&source, limits)?;
            let mut docs: Vec<ValuesSpec> = parse_typed(&source, &text, limits)?;
            if docs.len() != 1 {
                return Err(LoadError::new(
                    &source,
                    format!("expected one Values document, found {}", docs.len()),
                ));
            }
            let spec = docs.remove(0);
            if spec.api_version.is_none() || spec.kind.is_none() {
                warnings.push(format!(
                    "{}: deprecated values schema (no apiVersion/kind)",
                    source.display()
                ));
            }
            Some(spec)
        }
        _ => None,
    };

    let user_info = match file.user_info.as_deref().filter(|u| !u.is_empty()) {
        Some(reference) => {
            let source = dir.join(reference);
            let text = read_text(&source, limits)?;
            let mut docs: Vec<UserInfoFile> = parse_typed(&source, &text, limits)?;
            if docs.len() != 1 {
                return Err(LoadError::new(
                    &source,
                    format!("expected one UserInfo document, found {}", docs.len()),
                ));
            }
            let info = docs.remove(0);
            if info.api_version.is_none() || info.kind.is_none() {
                warnings.push(format!(
                    "{}: deprecated user info schema (no apiVersion/kind)",
                    source.display()
                ));
            }
            Some(info)
        }
        None => None,
    };

    let mut param_resources = Vec::new();
    for reference in dedup(&file.param_resources) {
        for source in expand(path, &dir.join(reference))? {
            param_resources.extend(read_values(&source, limits)?);
        }
    }
    let context = match file.context.as_deref().filter(|c| !c.is_empty()) {
        Some(reference) => Some(Arc::new(read_context(&dir.join(reference), limits)?)),
        None => None,
    };
    let mut exceptions = Vec::new();
    let mut cel_exceptions = Vec::new();
    for reference in dedup(&file.policy_exceptions) {
        if is_remote(reference) {
            unsupported.get_or_insert_with(|| format!("remote exception {reference} is not fetched"));
            continue;
        }
        for source in expand(path, &dir.join(reference))? {
            read_exceptions(&source, limits, &mut exceptions, &mut cel_exceptions)?;
        }
    }

    Ok(LoadedTest {
        param_resources: Arc::new(param_resources),
        context,
        exceptions: Arc::new(exceptions),
        cel_exceptions,
        path: path.to_path_buf(),
        name,
        file,
        policies,
        resources,
        values,
        user_info,
        unsupported,
        warnings,
    })
}

/// A `context` file (`cli.kyverno.io/v1alpha1` `Context`): the resources and
/// images Kyverno's CEL libraries read instead of a cluster and a registry.
fn read_context(path: &Path, limits: &Limits) -> Result<TestContext, LoadError> {
    let text = read_text(path, limits)?;
    let mut docs: Vec<ContextFile> = parse_typed(path, &text, limits)?;
    if docs.len() != 1 {
        return Err(LoadError::new(path, format!("expected one Context document, found {}", docs.len())));
    }
    let file = docs.remove(0);
    if file.kind.as_deref().is_some_and(|k| k != "Context") {
        return Err(LoadError::new(path, format!("expected kind Context, found {}", file.kind.unwrap_or_default())));
    }
    for (i, resource) in file.spec.resources.iter().enumerate() {
        check_depth(path, resource, limits.max_depth)?;
        if resource["apiVersion"].as_str().is_none_or(str::is_empty) || resource["kind"].as_str().is_none_or(str::is_empty) {
            return Err(LoadError::new(path, format!("spec.resources[{i}] has no apiVersion or kind")));
        }
    }
    for (i, image) in file.spec.images.iter().enumerate() {
        if image["image"].as_str().is_none_or(str::is_empty) {
            return Err(LoadError::new(path, format!("spec.images[{i}] has no `image` to look it up by")));
        }
    }
    Ok(TestContext {
        resources: file.spec.resources,
        images: file.spec.images,
    })
}

/// Every PolicyException of one file (several documents allowed), read
/// strictly: another kind, an unknown field or a CEL expression that does
/// not compile is a load error naming the file and the document's line, as
/// `kyverno test` fails to load such a file.
fn read_exceptions(
    source: &Path,
    limits: &Limits,
    exceptions: &mut Vec<PolicyException>,
    cel_exceptions: &mut Vec<CelPolicyException>,
) -> Result<(), LoadError> {
    let text = read_text(source, limits)?;
    for doc in crate::input::load_str(source, &text, limits)? {
        if doc.value.is_null() {
            continue;
        }
        let at = |message: String| match doc.line {
            Some(line) => LoadError::at_line(source, line, message),
            None => LoadError::new(source, message),
        };
        if is_policy_exception(&doc.value) {
            exceptions.push(PolicyException::from_value(&doc.value, source, Some(&text), doc.line)?);
        } else if is_cel_policy_exception(&doc.value) {
            cel_exceptions.push(CelPolicyException::from_value(&doc.value).map_err(at)?);
        } else {
            return Err(at(format!(
                "not a PolicyException (kyverno.io/v2, v2beta1 or policies.kyverno.io/v1alpha1, v1beta1, v1): {} {}",
                doc.value["apiVersion"].as_str().unwrap_or(""),
                doc.value["kind"].as_str().unwrap_or("")
            )));
        }
    }
    Ok(())
}

fn dedup(items: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    items
        .iter()
        .map(String::as_str)
        .filter(|i| seen.insert(*i))
        .collect()
}

fn is_remote(reference: &str) -> bool {
    reference.starts_with("http://") || reference.starts_with("https://")
}

/// A file stays itself; a directory becomes its YAML/JSON files, recursively and sorted.
fn expand(test: &Path, target: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if target.is_file() {
        return Ok(vec![target.to_path_buf()]);
    }
    if target.is_dir() {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(target)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            })
            .collect();
        files.sort();
        return Ok(files);
    }
    Err(LoadError::new(
        test,
        format!("referenced file {} does not exist", target.display()),
    ))
}

fn read_text(path: &Path, limits: &Limits) -> Result<String, LoadError> {
    let meta =
        std::fs::metadata(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    if meta.len() > limits.max_file_bytes {
        return Err(LoadError::new(
            path,
            format!(
                "file is {} bytes, over the {} byte limit",
                meta.len(),
                limits.max_file_bytes
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        LoadError::new(
            path,
            format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

fn yaml_error(path: &Path, e: &serde_yaml_ng::Error) -> LoadError {
    match e.location() {
        Some(loc) => LoadError::at_line(path, loc.line(), e.to_string()),
        None => LoadError::new(path, e.to_string()),
    }
}

/// Every non-empty document of a YAML stream, decoded strictly into `T`.
fn parse_typed<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    limits: &Limits,
) -> Result<Vec<T>, LoadError> {
    let mut out = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        if out.len() >= limits.max_documents {
            return Err(LoadError::new(
                path,
                format!("more than {} documents", limits.max_documents),
            ));
        }
        let parsed: Option<T> = Option::deserialize(document).map_err(|e| yaml_error(path, &e))?;
        out.extend(parsed);
    }
    Ok(out)
}

/// Every non-empty document of a YAML or JSON file as JSON values, `kind: List` flattened.
pub(crate) fn read_values(path: &Path, limits: &Limits) -> Result<Vec<Value>, LoadError> {
    let text = read_text(path, limits)?;
    let mut out = Vec::new();
    for value in parse_typed::<Value>(path, &text, limits)? {
        check_depth(path, &value, limits.max_depth)?;
        let is_list = value.get("kind").and_then(Value::as_str) == Some("List")
            && value.get("items").is_some_and(Value::is_array);
        if is_list {
            if let Some(Value::Array(items)) = value.get("items") {
                out.extend(items.iter().filter(|i| !i.is_null()).cloned());
            }
        } else if !value.is_null() {
            out.push(value);
        }
        if out.len() > limits.max_documents {
            return Err(LoadError::new(
                path,
                format!("more than {} documents", limits.max_documents),
            ));
        }
    }
    Ok(out)
}

fn check_depth(path: &Path, value: &Value, max: usize) -> Result<(), LoadError> {
    let mut stack = vec![(value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > max {
            return Err(LoadError::new(
                path,
                format!("nesting deeper than {max} levels"),
            ));
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn policy_doc(source: &Path, value: Value) -> Result<PolicyDoc, LoadError> {
    let kind = str_at(&value, "/kind").to_string();
    let name = str_at(&value, "/metadata/name").to_string();
    if kind.is_empty() || name.is_empty() {
        return Err(LoadError::new(
            source,
            "a policy document without kind or metadata.name",
        ));
    }
    let namespace =
        Some(str_at(&value, "/metadata/namespace").to_string()).filter(|n| !n.is_empty());
    // A namespaced Policy without a namespace is applied in `default` by the CLI.
    let namespace = if kind == "Policy" && namespace.is_none() {
        Some("default".to_string())
    } else {
        namespace
    };
    Ok(PolicyDoc {
        source: source.to_path_buf(),
        kind,
        name,
        namespace,
        value,
    })
}

fn resource_doc(source: &Path, mut value: Value) -> Result<ResourceDoc, LoadError> {
    if !value.is_object() {
        return Err(LoadError::new(
            source,
            "a resource document that is not a mapping",
        ));
    }
    let api_version = str_at(&value, "/apiVersion").to_string();
    let kind = str_at(&value, "/kind").to_string();
    let name = Some(str_at(&value, "/metadata/name"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| str_at(&value, "/metadata/generateName"))
        .to_string();
    if kind.is_empty() || name.is_empty() {
        return Err(LoadError::new(
            source,
            "a resource without kind or metadata.name",
        ));
    }
    let mut namespace = str_at(&value, "/metadata/namespace").to_string();
    if namespace.is_empty() && !is_cluster_scoped(&api_version, &kind) {
        namespace = "default".to_string();
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(namespace.clone()));
        }
    }
    normalise_null_maps(&mut value);
    Ok(ResourceDoc {
        schema_problem: None,
        api_version,
        kind,
        namespace,
        name,
        value,
    })
}

/// For each resource document of `source`, why it breaks its Kubernetes schema,
/// as library cases are checked: the documents are read again with their lines
/// so an error names the field's line.
fn schema_problems(source: &Path, values: &[Value], limits: &Limits) -> Vec<Option<String>> {
    let located = std::fs::read_to_string(source)
        .ok()
        .and_then(|text| crate::input::load_str(source, &text, limits).ok())
        .filter(|inputs| inputs.len() == values.len() && inputs.iter().zip(values).all(|(i, v)| i.value == *v));
    match located {
        Some(inputs) => inputs.iter().map(|i| crate::input::schema::validate_manifest(i).err().map(|e| e.to_string())).collect(),
        None => values
            .iter()
            .enumerate()
            .map(|(n, v)| {
                let input = crate::input::Input::from_value(source.to_path_buf(), n, None, v.clone());
                crate::input::schema::validate_manifest(&input).err().map(|e| e.to_string())
            })
            .collect(),
    }
}

/// The text of `source` and the line its document equal to `value` starts on,
/// for error messages that name a field's line (only read on error paths).
pub(crate) fn locate_document(source: &Path, value: &Value, limits: &Limits) -> (Option<String>, Option<usize>) {
    let Ok(text) = std::fs::read_to_string(source) else {
        return (None, None);
    };
    let line = crate::input::load_str(source, &text, limits)
        .ok()
        .and_then(|inputs| inputs.into_iter().find(|i| i.value == *value))
        .and_then(|i| i.line);
    (Some(text), line)
}

/// Built-in cluster-scoped kinds. Like Kyverno's CLI, every other kind
/// (custom resources included) counts as namespaced and gets `default`.
fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    match group {
        "" => matches!(
            kind,
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ),
        "rbac.authorization.k8s.io" => matches!(kind, "ClusterRole" | "ClusterRoleBinding"),
        "storage.k8s.io" => matches!(
            kind,
            "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment" | "VolumeAttributesClass"
        ),
        "apiextensions.k8s.io" => kind == "CustomResourceDefinition",
        "admissionregistration.k8s.io" => matches!(
            kind,
            "ValidatingWebhookConfiguration"
                | "MutatingWebhookConfiguration"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
                | "MutatingAdmissionPolicy"
                | "MutatingAdmissionPolicyBinding"
        ),
        "scheduling.k8s.io" => kind == "PriorityClass",
        "node.k8s.io" => kind == "RuntimeClass",
        "apiregistration.k8s.io" => kind == "APIService",
        "certificates.k8s.io" => matches!(kind, "CertificateSigningRequest" | "ClusterTrustBundle"),
        "networking.k8s.io" => matches!(kind, "IngressClass" | "IPAddress" | "ServiceCIDR"),
        "policy" => kind == "PodSecurityPolicy",
        "flowcontrol.apiserver.k8s.io" => {
            matches!(kind, "FlowSchema" | "PriorityLevelConfiguration")
        }
        "authentication.k8s.io" => matches!(kind, "TokenReview" | "SelfSubjectReview"),
        "authorization.k8s.io" => matches!(
            kind,
            "SubjectAccessReview" | "SelfSubjectAccessReview" | "SelfSubjectRulesReview"
        ),
        "resource.k8s.io" => matches!(kind, "ResourceSlice" | "DeviceClass"),
        "internal.apiserver.k8s.io" => kind == "StorageVersion",
        _ => false,
    }
}

/// `labels:` with no value means an empty map to Kyverno's loader; keep that so patterns behave alike.
fn normalise_null_maps(value: &mut Value) {
    const MAP_FIELDS: [&str; 6] = [
        "annotations",
        "labels",
        "matchLabels",
        "nodeSelector",
        "data",
        "stringData",
    ];
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if v.is_null() && MAP_FIELDS.contains(&key.as_str()) {
                    *v = Value::Object(Default::default());
                } else {
                    normalise_null_maps(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_null_maps),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_finds_hidden_directories() {
        let dir = tempfile::tempdir().unwrap();
        let hidden = dir.path().join("p/.kyverno-test");
        std::fs::create_dir_all(&hidden).unwrap();
        std::fs::write(hidden.join(TEST_FILE_NAME), "").unwrap();
        std::fs::write(dir.path().join("p/other.yaml"), "").unwrap();
        assert_eq!(discover(dir.path()), vec![hidden.join(TEST_FILE_NAME)]);
    }

    #[test]
    fn namespaced_resources_default_to_default_namespace() {
        let pod = resource_doc(Path::new("x"), serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": null}})).unwrap();
        assert_eq!(pod.label(), "Pod/default/a");
        assert_eq!(pod.value["metadata"]["labels"], serde_json::json!({}));
        let ns = resource_doc(
            Path::new("x"),
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}),
        )
        .unwrap();
        assert_eq!(ns.label(), "Namespace/a");
    }

    #[test]
    fn unknown_fields_in_a_test_are_load_errors_with_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TEST_FILE_NAME);
        std::fs::write(&path, "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\npolicies: []\nresults:\n- policy: p\n  rsult: pass\n").unwrap();
        let err = load_tests(&path, &Limits::default()).unwrap_err();
        assert_eq!(err.path, path);
        assert!(err.message.contains("rsult"), "{err}");
        assert!(err.line.is_some());
    }

    #[test]
    fn missing_policy_file_is_a_load_error_naming_the_test() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TEST_FILE_NAME);
        std::fs::write(
            &path,
            "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\npolicies: [../nope.yaml]\n",
        )
        .unwrap();
        let err = load_tests(&path, &Limits::default()).unwrap_err();
        assert!(err.message.contains("nope.yaml"), "{err}");
    }

    #[test]
    fn list_documents_are_flattened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        std::fs::write(&path, "---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n---\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: c}\n").unwrap();
        let values = read_values(&path, &Limits::default()).unwrap();
        let names: Vec<&str> = values
            .iter()
            .map(|v| v["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn alias_bombs_are_load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &a [x, x, x, x, x, x, x, x, x]\n");
        let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for pair in levels.windows(2) {
            let refs = vec![format!("*{}", pair[0]); 9].join(", ");
            text.push_str(&format!("  {}: &{} [{refs}]\n", pair[1], pair[1]));
        }
        std::fs::write(&path, text).unwrap();
        let err = read_values(&path, &Limits::default()).unwrap_err();
        assert_eq!(err.path, path);
    }

    #[test]
    fn a_file_may_hold_several_tests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.yaml"), "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec: {rules: []}\n").unwrap();
        let path = dir.path().join(TEST_FILE_NAME);
        let one = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: NAME}\npolicies: [p.yaml]\n";
        std::fs::write(
            &path,
            format!(
                "{}---\n{}",
                one.replace("NAME", "first"),
                one.replace("NAME", "second")
            ),
        )
        .unwrap();
        let names: Vec<String> = load_tests(&path, &Limits::default())
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["first", "second"]);
    }

    #[test]
    fn every_conformance_suite_loads() {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/kyverno-policies");
        if !root.is_dir() {
            eprintln!("SKIPPED: conformance data not found at {}", root.display());
            return;
        }
        let files = discover(&root);
        assert_eq!(files.len(), 103);
        let mut rows = 0;
        for file in files {
            let tests = load_tests(&file, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
            for t in tests {
                rows += t.file.results.len();
                assert!(
                    t.unsupported.is_none(),
                    "{}: {:?}",
                    file.display(),
                    t.unsupported
                );
            }
        }
        assert_eq!(rows, 350);
    }
}
