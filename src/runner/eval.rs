//! `verdict eval`: every policy over every input document, no expectations.

use crate::error::LoadError;
use crate::input::Input;
use crate::library::{compile, detect_language, read_text, LoadContext};
use crate::limits::Limits;
use crate::verdict::{Mode, Outcome, Verdict};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;
use super::absolute;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub limits: Limits,
    /// Check Kubernetes manifests against their schema (`--no-schema` turns it off
    /// for documents that only look like Kubernetes objects).
    pub check_schema: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { limits: Limits::default(), check_schema: true }
    }
}

/// A compiled policy given on the command line.
#[derive(Debug, Clone)]
pub struct EvalRule {
    pub id: String,
    pub mode: Mode,
    pub path: PathBuf,
    pub engine: std::sync::Arc<dyn crate::engine::Engine>,
}

#[derive(Debug, Default)]
pub struct EvalResult {
    pub rules: Vec<EvalRule>,
    pub verdicts: Vec<Verdict>,
    pub load_errors: Vec<LoadError>,
}

impl EvalResult {
    /// 2 when anything could not be loaded, else 1 when an enforce rule fails or errors.
    pub fn exit_code(&self) -> u8 {
        if !self.load_errors.is_empty() {
            crate::exit::USAGE_OR_LOAD
        } else if crate::verdict::any_blocks(&self.verdicts) {
            crate::exit::EXPECTATION_FAILED
        } else {
            crate::exit::OK
        }
    }
}

/// Files under each path (or the path itself), sorted, filtered by `keep`.
fn expand(paths: &[PathBuf], keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = WalkDir::new(p)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|f| keep(f))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn is_policy(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if is_rego_lib(path) || crate::library::is_ledger_file(path) {
        return false;
    }
    (name.ends_with(".rego") && !name.ends_with("_test.rego"))
        || ((name.ends_with(".yaml") || name.ends_with(".yml")) && !name.contains(".data."))
}

fn is_input(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) && !super::is_inventory(path)
}

/// Rego modules under a `policies/lib/` directory are libraries, not rules.
fn is_rego_lib(path: &Path) -> bool {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.windows(2).any(|w| w[0] == "policies" && w[1] == "lib")
}

/// The `policies/lib/**/*.rego` modules of every project a policy path belongs to,
/// so library rules that import `data.lib...` compile under `eval` as under `test`.
fn rego_libs_for(policies: &[PathBuf], limits: &Limits, errors: &mut Vec<LoadError>) -> Vec<(PathBuf, String)> {
    let mut roots: Vec<PathBuf> = policies
        .iter()
        .filter_map(|p| {
            let abs = std::fs::canonicalize(p).ok()?;
            let dir = if abs.is_dir() { abs } else { abs.parent()?.to_path_buf() };
            crate::library::find_project_root(&dir)
        })
        .collect();
    roots.sort();
    roots.dedup();
    let mut libs = Vec::new();
    for root in roots {
        let lib_dir = root.join("policies").join("lib");
        if !lib_dir.is_dir() {
            continue;
        }
        let is_module = |f: &Path| f.extension().is_some_and(|e| e == "rego") && !f.to_string_lossy().ends_with("_test.rego");
        for path in expand(&[lib_dir], is_module) {
            match read_text(&path, limits) {
                Ok(text) => libs.push((path, text)),
                Err(e) => errors.push(e),
            }
        }
    }
    libs
}

/// Compile one policy file given to `eval`; no metadata means an enforce rule named after its package.
pub fn load_policy(path: &Path, ctx: &LoadContext) -> Result<EvalRule, LoadError> {
    let text = read_text(path, &ctx.limits)?;
    let language = detect_language(path, &text)?;
    let loaded = compile(language, path, &text, ctx)?;
    Ok(EvalRule {
        id: loaded.header.id,
        mode: loaded.header.mode.unwrap_or(Mode::Enforce),
        path: path.to_path_buf(),
        engine: loaded.engine,
    })
}

/// Evaluate every policy over every input; whatever loads is evaluated even when something else did not.
pub fn evaluate(policies: &[PathBuf], inputs: &[PathBuf], options: &EvalOptions) -> EvalResult {
    let mut result = EvalResult::default();
    let rego_libs = rego_libs_for(policies, &options.limits, &mut result.load_errors);
    let ctx = LoadContext { limits: options.limits, rego_libs };
    for path in expand(policies, is_policy) {
        match load_policy(&path, &ctx) {
            Ok(rule) => result.rules.push(rule),
            Err(e) => result.load_errors.push(e),
        }
    }
    let mut documents: Vec<Input> = Vec::new();
    for path in expand(inputs, is_input) {
        match crate::input::load_file(&path, &options.limits) {
            Ok(docs) => {
                for doc in docs {
                    // A misspelt field is a load error, as for library cases: never judged as written.
                    match options.check_schema.then(|| crate::input::schema::validate_manifest(&doc)) {
                        Some(Err(e)) => result.load_errors.push(e),
                        _ => documents.push(doc),
                    }
                }
            }
            Err(e) => result.load_errors.push(e),
        }
    }
    let waivers = project_waivers(policies, &options.limits, &mut result.load_errors);
    let today = crate::lifecycle::today();
    for rule in &result.rules {
        for input in &documents {
            let outcome: Outcome = rule.engine.evaluate(input);
            let mut verdict = Verdict::new(&rule.id, input, outcome, rule.mode);
            crate::lifecycle::apply(&waivers, &mut verdict, input, today);
            result.verdicts.push(verdict);
        }
    }
    result
}

/// The waivers of the projects the policies belong to (`policies/waivers.yaml`
/// above them), so `eval` judges as `test` does. An expired waiver is an error:
/// it no longer covers anything, and someone must renew or remove it.
fn project_waivers(policies: &[PathBuf], limits: &Limits, errors: &mut Vec<LoadError>) -> Vec<crate::lifecycle::Waiver> {
    let mut roots: Vec<PathBuf> = policies
        .iter()
        .filter_map(|p| {
            let start = if p.is_dir() { p.clone() } else { p.parent().map(Path::to_path_buf).unwrap_or_default() };
            crate::library::find_project_root(&absolute(&start))
        })
        .collect();
    roots.sort();
    roots.dedup();
    let today = crate::lifecycle::today();
    let mut waivers = Vec::new();
    for root in roots {
        let path = root.join("policies/waivers.yaml");
        match crate::lifecycle::read_waivers(&path, limits) {
            Ok(found) => {
                for w in &found {
                    if let crate::lifecycle::WaiverStatus::Expired { days_ago } = w.status(today) {
                        errors.push(LoadError::new(&path, format!("waiver {} expired {days_ago} day(s) ago: renew it or remove it", w.label())));
                    }
                }
                waivers.extend(found);
            }
            Err(e) => errors.push(e),
        }
    }
    waivers
}
