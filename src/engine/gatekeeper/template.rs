//! ConstraintTemplates (`templates.gatekeeper.sh/v1`, `v1beta1`): a kind name
//! and the code that decides violations (Rego, `K8sNativeValidation` CEL, or
//! both), compiled once.

use super::cel_program::{CelProgram, CEL_ENGINE};
use super::parameters::ParameterSchema;
use super::rego_program::{RegoProgram, RegoSource};
use crate::error::LoadError;
use crate::limits::Limits;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The only target a Gatekeeper admission template may name.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// Which of a template's engines decides violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum TemplateEngine {
    /// `code[].engine: Rego` or the legacy `rego` field.
    Rego,
    /// `code[].engine: K8sNativeValidation`.
    Cel,
}

impl TemplateEngine {
    /// `rego` or `cel`, as reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateEngine::Rego => "rego",
            TemplateEngine::Cel => "cel",
        }
    }
}

impl std::fmt::Display for TemplateEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled ConstraintTemplate.
#[derive(Debug, Clone)]
pub struct Template {
    /// `metadata.name` (lowercase kind by convention).
    pub name: String,
    /// `spec.crd.spec.names.kind`: the kind of its Constraints.
    pub kind: String,
    pub path: PathBuf,
    pub annotations: Map<String, Value>,
    /// Things the engine deliberately left out (code of unknown engines), for reports.
    pub notes: Vec<String>,
    /// Where the Rego came from (`spec.targets[0].rego`, ...), when there is Rego.
    pub rego_field: Option<String>,
    pub(crate) program: Option<RegoProgram>,
    /// `data.<package>.violation`.
    pub(crate) entrypoint: String,
    /// The `K8sNativeValidation` source, when there is one.
    pub(crate) cel: Option<CelProgram>,
    /// The engine [`Template::review`] runs: Rego when the template has it
    /// (verdict's library default), else CEL; see [`Template::with_engine`].
    pub engine: TemplateEngine,
    /// An engine the template has code for that [`Template::from_value_for`]
    /// was told not to compile.
    pub uncompiled: Option<TemplateEngine>,
    /// `openAPIV3Schema` for Constraint parameters, when declared.
    pub parameters: Option<ParameterSchema>,
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
        Self::from_value_for(value, path, limits, None)
    }

    /// As [`Template::from_value_with_limits`], compiling only `only`'s code
    /// when the template has code for it (gator with
    /// `--enable-k8s-native-validation` off never compiles the CEL code, and
    /// with it on the CEL driver takes such a template alone); `None`
    /// compiles every engine's code.
    pub fn from_value_for(
        value: &Value,
        path: &Path,
        limits: &Limits,
        only: Option<TemplateEngine>,
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
        let has_cel = target["code"]
            .as_array()
            .is_some_and(|code| code.iter().any(|e| e["engine"].as_str() == Some(CEL_ENGINE)));
        let chosen = choose_rego(target).map_err(&at)?;
        let (chosen, cel, uncompiled) = match only {
            Some(TemplateEngine::Rego) if chosen.is_some() => {
                (chosen, None, has_cel.then_some(TemplateEngine::Cel))
            }
            Some(TemplateEngine::Cel) if has_cel => {
                let uncompiled = chosen.is_some().then_some(TemplateEngine::Rego);
                (None, cel_code(target).map_err(&at)?, uncompiled)
            }
            _ => (chosen, cel_code(target).map_err(&at)?, None),
        };
        let parameters = ParameterSchema::from_template(value).map_err(&at)?;
        let (notes, rego_field, program, entrypoint) = match chosen {
            Some(chosen) => {
                let (program, entrypoint) = compile_rego(&chosen, path, limits).map_err(&at)?;
                (chosen.notes, Some(chosen.field), Some(program), entrypoint)
            }
            None if cel.is_some() => (unknown_engines(target), None, None, String::new()),
            None => {
                return Err(at(
                    "spec.targets[0] has no code: neither rego, code[].engine: Rego nor code[].engine: K8sNativeValidation".into(),
                ))
            }
        };
        let engine = if program.is_some() {
            TemplateEngine::Rego
        } else {
            TemplateEngine::Cel
        };
        let annotations = value["metadata"]["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(Template {
            name,
            kind,
            path: path.to_path_buf(),
            annotations,
            notes,
            rego_field,
            program,
            entrypoint,
            cel,
            engine,
            uncompiled,
            parameters,
        })
    }

    /// The engines the template has code for, Rego first.
    pub fn engines(&self) -> Vec<TemplateEngine> {
        let mut engines = Vec::new();
        if self.program.is_some() {
            engines.push(TemplateEngine::Rego);
        }
        if self.cel.is_some() {
            engines.push(TemplateEngine::Cel);
        }
        engines
    }

    /// This template reviewing with `engine`, or `None` when it has no code for it.
    ///
    /// ```
    /// use verdict::engine::gatekeeper::{Constraint, ReviewOutcome, Template, TemplateEngine};
    /// use serde_json::json;
    /// use std::path::Path;
    /// let template = Template::from_value(&json!({
    ///   "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
    ///   "metadata": {"name": "k8sboth"},
    ///   "spec": {"crd": {"spec": {"names": {"kind": "K8sBoth"}}},
    ///            "targets": [{"target": "admission.k8s.gatekeeper.sh", "code": [
    ///              {"engine": "K8sNativeValidation", "source": {"validations": [
    ///                {"expression": "has(object.metadata.labels)", "message": "cel: no labels"}]}},
    ///              {"engine": "Rego", "source": {"rego":
    ///                "package k8sboth\nviolation[{\"msg\": \"rego: no labels\"}] { not input.review.object.metadata.labels }"}}]}]}}),
    ///   Path::new("t.yaml")).unwrap();
    /// assert_eq!(template.engines(), [TemplateEngine::Rego, TemplateEngine::Cel]);
    /// assert_eq!(template.engine, TemplateEngine::Rego);
    /// let constraint = Constraint::from_value(&json!({
    ///   "apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sBoth", "metadata": {"name": "c"}}),
    ///   Path::new("c.yaml")).unwrap();
    /// let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}});
    /// let cel = template.with_engine(TemplateEngine::Cel).unwrap();
    /// let ReviewOutcome::Violations(v) = cel.review(&constraint, &pod, &[]).unwrap() else { panic!() };
    /// assert_eq!(v[0].message, "cel: no labels");
    /// ```
    pub fn with_engine(&self, engine: TemplateEngine) -> Option<Template> {
        self.engines().contains(&engine).then(|| Template {
            engine,
            ..self.clone()
        })
    }

    /// An annotation's string value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).and_then(Value::as_str)
    }
}

/// Compile the chosen Rego: checks Gatekeeper makes (package, libs,
/// `violation`, `data` references), then the program and its entrypoint.
fn compile_rego(
    chosen: &ChosenRego,
    path: &Path,
    limits: &Limits,
) -> Result<(RegoProgram, String), String> {
    let at = |m: String| m; // messages are prefixed with the template by the caller
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
    for (field, text) in std::iter::once((chosen.field.clone(), &chosen.rego)).chain(
        chosen
            .libs
            .iter()
            .enumerate()
            .map(|(i, lib)| (format!("{}[{i}]", chosen.libs_field), lib)),
    ) {
        if let Some((line, reference)) = disallowed_data_reference(text) {
            return Err(at(format!(
                "{field} line {line}: {reference} is not allowed: a template may only read \
                 data.inventory and data.lib (Gatekeeper rejects other data references)"
            )));
        }
    }
    let entrypoint = format!("data.{package}.violation");
    let program = RegoProgram::compile(
        &sources,
        limits,
        &entrypoint,
        &super::review::empty_inventory(),
        chosen.declared_v1,
    )
    .map_err(|e| at(format!("Rego does not compile: {e}")))?;
    Ok((program, entrypoint))
}

/// The first `code[]` entry with the CEL engine, compiled.
fn cel_code(target: &Value) -> Result<Option<CelProgram>, String> {
    let Some(code) = target["code"].as_array() else {
        return Ok(None);
    };
    code.iter()
        .enumerate()
        .find(|(_, entry)| entry["engine"].as_str() == Some(CEL_ENGINE))
        .map(|(i, entry)| CelProgram::compile(entry, &format!("spec.targets[0].code[{i}]")))
        .transpose()
}

/// Notes for `code[]` entries of engines verdict does not know.
fn unknown_engines(target: &Value) -> Vec<String> {
    target["code"]
        .as_array()
        .map(|code| {
            code.iter()
                .enumerate()
                .filter(|(_, e)| !matches!(e["engine"].as_str(), Some("Rego") | Some(CEL_ENGINE)))
                .map(|(i, e)| {
                    format!(
                        "spec.targets[0].code[{i}] (engine {:?}) is not evaluated",
                        e["engine"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

struct ChosenRego {
    /// `version: v1` on a code source; Gatekeeper's default is v0.
    declared_v1: bool,
    field: String,
    libs_field: String,
    rego: String,
    libs: Vec<String>,
    notes: Vec<String>,
}

/// `code[].engine: Rego` wins over the legacy `rego` field; `None` when the
/// template has no Rego (CEL, compiled separately, may still be there).
fn choose_rego(target: &Value) -> Result<Option<ChosenRego>, String> {
    let notes = unknown_engines(target);
    if let Some(code) = target["code"].as_array() {
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
            let declared_v1 = match version {
                "v0" | "" => false,
                "v1" => true,
                other => {
                    return Err(format!(
                        "spec.targets[0].code[{i}].source.version {other:?} is not v0 or v1"
                    ))
                }
            };
            return Ok(Some(ChosenRego {
                field,
                libs_field: format!("spec.targets[0].code[{i}].source.libs"),
                rego: rego.to_string(),
                libs: strings(&source["libs"]),
                notes,
                declared_v1,
            }));
        }
    }
    Ok(target["rego"]
        .as_str()
        .filter(|r| !r.trim().is_empty())
        .map(|rego| ChosenRego {
            field: "spec.targets[0].rego".into(),
            libs_field: "spec.targets[0].libs".into(),
            rego: rego.to_string(),
            libs: strings(&target["libs"]),
            notes,
            declared_v1: false,
        }))
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

/// The first `data.<x>` reference other than `data.inventory` / `data.lib`, with
/// its 1-based line, skipping comments and string literals. Gatekeeper's
/// rewriter refuses templates that read any other part of `data`.
fn disallowed_data_reference(rego: &str) -> Option<(usize, String)> {
    let code = blank_comments_and_strings(rego);
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut search = 0;
    while let Some(found) = code[search..].find("data") {
        let at = search + found;
        search = at + 4;
        let before = code[..at].trim_end().as_bytes().last().copied();
        if at > 0 && is_ident(bytes[at - 1]) || before == Some(b'.') {
            continue;
        }
        if bytes.get(at + 4).copied().is_some_and(is_ident) {
            continue;
        }
        let rest = code[at + 4..].trim_start();
        let root = if let Some(after_dot) = rest.strip_prefix('.') {
            let after_dot = after_dot.trim_start();
            let end = after_dot
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after_dot.len());
            after_dot[..end].to_string()
        } else if let Some(inner) = rest.strip_prefix('[') {
            // data["inventory"] is still a read of data; only literal keys can be
            // checked, and string contents are blanked in `code`, so read `rego`.
            let offset = rego.len() - inner.len();
            let inner = rego[offset..].trim_start();
            match inner.strip_prefix('"').and_then(|s| s.split_once('"')) {
                Some((key, _)) => key.to_string(),
                None => "data[<computed>]".to_string(),
            }
        } else {
            continue;
        };
        if root == "inventory" || root == "lib" {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let shown = if root.starts_with("data[") {
            root
        } else {
            format!("data.{root}")
        };
        return Some((line, shown));
    }
    None
}

/// `rego` with comments and the contents of string literals replaced by spaces,
/// byte for byte and keeping line breaks, so offsets and lines stay valid.
fn blank_comments_and_strings(rego: &str) -> String {
    let mut out = String::with_capacity(rego.len());
    let mut chars = rego.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                out.push(' ');
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    out.push_str(&" ".repeat(n.len_utf8()));
                    chars.next();
                }
            }
            '"' => {
                out.push('"');
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            out.push(' ');
                            if let Some(escaped) = chars.next() {
                                out.push_str(&" ".repeat(escaped.len_utf8()));
                            }
                        }
                        '"' => {
                            out.push('"');
                            break;
                        }
                        '\n' => out.push('\n'),
                        other => out.push_str(&" ".repeat(other.len_utf8())),
                    }
                }
            }
            '`' => {
                out.push('`');
                for n in chars.by_ref() {
                    if n == '`' {
                        out.push('`');
                        break;
                    }
                    if n == '\n' {
                        out.push('\n');
                    } else {
                        out.push_str(&" ".repeat(n.len_utf8()));
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::disallowed_data_reference;

    #[test]
    fn only_inventory_and_lib_may_be_read_from_data() {
        let ok = "package x\nimport data.lib.helpers\nviolation[{\"msg\": \"data.secrets\"}] {\n  # data.config is only a comment\n  data.inventory.namespace[_]\n  input.review.object.data.password\n  metadata := input.review.object.metadata\n}";
        assert_eq!(disallowed_data_reference(ok), None);
        let bad = "package x\nviolation[{\"msg\": m}] {\n  m := data.config.message\n}";
        assert_eq!(
            disallowed_data_reference(bad),
            Some((3, "data.config".to_string()))
        );
        let literal = "package x\n# é comment\nviolation[{\"msg\": \"ü\"}] { data[\"inventory\"].cluster; data[\"config\"] }";
        assert_eq!(
            disallowed_data_reference(literal),
            Some((3, "data.config".to_string()))
        );
        let computed = "package x\nviolation[{\"msg\": \"m\"}] { data[input.k] }";
        assert_eq!(
            disallowed_data_reference(computed),
            Some((2, "data[<computed>]".to_string()))
        );
        let import = "package x\nimport data.other\n";
        assert_eq!(
            disallowed_data_reference(import),
            Some((2, "data.other".to_string()))
        );
    }
}
