//! Reading a gator suite and the files it names. Paths resolve relative to the
//! suite file, as `gator verify` resolves them; every error names the file and,
//! where known, the line (of the referenced file, or of the suite line that
//! references a missing one).

use super::model::{Suite, SUITE_GROUP, SUITE_KIND};
use crate::engine::gatekeeper::{
    load_constraint, load_template_for, parse_documents, Constraint, Document, Expander, ExpansionTemplate, Template,
    TemplateEngine,
};
use crate::error::LoadError;
use crate::limits::Limits;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A parsed `suite.yaml` and its text (to locate fields by line).
#[derive(Debug, Clone)]
pub struct SuiteFile {
    pub path: PathBuf,
    pub text: String,
    pub suite: Suite,
    /// The line of every field of `text`, read once (each result row asks for one).
    lines: Option<crate::schema::FieldLines>,
}

impl SuiteFile {
    /// The directory suite paths are relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// 1-based line of the field at JSON Pointer `pointer` (`/tests/0/template`).
    pub fn line_of(&self, pointer: &str) -> Option<usize> {
        match &self.lines {
            Some(lines) => lines.line(pointer),
            None => crate::schema::field_line(&self.text, None, pointer),
        }
    }

    /// An error at the suite's line for `pointer`.
    pub fn error_at(&self, pointer: &str, message: impl Into<String>) -> LoadError {
        LoadError {
            path: self.path.clone(),
            line: self.line_of(pointer),
            message: message.into(),
        }
    }
}

/// Whether the first document of `text` is a gator Suite (`test.gatekeeper.sh` group, kind `Suite`):
/// gator ignores other YAML files, so discovery must not misread one.
pub fn is_suite_text(text: &str) -> bool {
    let Some(Ok(value)) = serde_yaml_ng::Deserializer::from_str(text)
        .next()
        .map(<Value as serde::Deserialize>::deserialize)
    else {
        return false;
    };
    value["kind"].as_str() == Some(SUITE_KIND)
        && value["apiVersion"]
            .as_str()
            .and_then(|v| v.split_once('/'))
            .is_some_and(|(group, _)| group == SUITE_GROUP)
}

/// Read and decode one `suite.yaml` strictly.
pub fn read_suite(path: &Path, limits: &Limits) -> Result<SuiteFile, LoadError> {
    let text = crate::input::read_text(path, limits)?;
    let documents = parse_documents(path, &text, limits)?;
    let [document] = documents.as_slice() else {
        return Err(LoadError::new(
            path,
            format!("a gator suite file holds one Suite document, found {}", documents.len()),
        ));
    };
    let suite = <Suite as serde::Deserialize>::deserialize(&document.value).map_err(|e| {
        let message = e.to_string();
        // serde names an unknown field but not where it is; find its line.
        let line = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .and_then(|(field, _)| {
                text.lines()
                    .position(|l| l.trim_start().trim_start_matches("- ").starts_with(&format!("{field}:")))
            })
            .map(|i| i + 1)
            .unwrap_or(document.line);
        LoadError::at_line(path, line, format!("not a valid gator Suite: {message}"))
    })?;
    Ok(SuiteFile {
        path: path.to_path_buf(),
        lines: crate::schema::FieldLines::new(&text, None),
        text,
        suite,
    })
}

/// The text of the file a suite field names, read without a lookup first
/// (one path lookup, not two). `Err` when the file is not there, blaming the
/// referencing line; `Ok(Err)` when it is there but cannot be used.
fn read_named(suite: &SuiteFile, pointer: &str, what: &str, relative: &str, path: &Path, limits: &Limits) -> Result<Result<String, LoadError>, LoadError> {
    match crate::input::read_text(path, limits) {
        Err(_) if !path.is_file() => Err(not_there(suite, pointer, what, relative, path)),
        text => Ok(text),
    }
}

/// Every object of the file a suite field names (a case's object, an
/// inventory file), with its line; a file that is not there is the same
/// error as [`read_named`]'s.
pub fn read_suite_objects(
    suite: &SuiteFile,
    pointer: &str,
    what: &str,
    relative: &str,
    limits: &Limits,
) -> Result<(PathBuf, Vec<(usize, Value)>), LoadError> {
    let path = suite_relative(suite, pointer, what, relative)?;
    let text = read_named(suite, pointer, what, relative, &path, limits)??;
    let (_, docs) = documents(&path, text, limits)?;
    Ok((path, docs.into_iter().map(|d| (d.line, d.value)).collect()))
}

fn suite_relative(suite: &SuiteFile, pointer: &str, what: &str, relative: &str) -> Result<PathBuf, LoadError> {
    if relative.is_empty() {
        return Err(suite.error_at(pointer, format!("{what} is missing")));
    }
    Ok(suite.dir().join(relative))
}

fn not_there(suite: &SuiteFile, pointer: &str, what: &str, relative: &str, path: &Path) -> LoadError {
    suite.error_at(pointer, format!("{what} {relative} does not exist (resolved to {})", path.display()))
}

/// The documents of a referenced file's text.
fn documents(path: &Path, text: String, limits: &Limits) -> Result<(String, Vec<Document>), LoadError> {
    let docs = parse_documents(path, &text, limits)?;
    if docs.is_empty() {
        return Err(LoadError::new(path, "defines no YAML objects"));
    }
    Ok((text, docs))
}

/// Exactly one document of `docs` that `wanted` accepts, else an error naming what was found.
fn the_one<'a>(path: &Path, docs: &'a [Document], what: &str, wanted: impl Fn(&Value) -> bool) -> Result<&'a Document, LoadError> {
    let found: Vec<&Document> = docs.iter().filter(|d| wanted(&d.value)).collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(LoadError::at_line(
            path,
            docs[0].line,
            format!(
                "no {what} in the file (found {})",
                docs.iter()
                    .map(|d| format!(
                        "{} {}",
                        d.value["apiVersion"].as_str().unwrap_or("?"),
                        d.value["kind"].as_str().unwrap_or("?")
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        [_, second, ..] => Err(LoadError::at_line(
            path,
            second.line,
            format!("{} {what} documents in the file; a test names exactly one", found.len()),
        )),
    }
}

/// Why a test's template or constraint could not be used.
#[derive(Debug, Clone)]
pub enum PairError {
    /// A file is missing or unreadable, or is not the kind of object expected:
    /// the suite is broken (an error even for an `invalid: true` test).
    Missing(LoadError),
    /// The template or constraint was read and Gatekeeper would reject it.
    Rejected(LoadError),
}

/// Templates of one suite run, by file: the tests of a suite mostly share one
/// template, which is read, checked and compiled once.
pub type TemplateCache = HashMap<PathBuf, Result<Template, PairError>>;

/// Load a test's template and constraint. A file may hold several documents;
/// the ConstraintTemplate (and the `constraints.gatekeeper.sh` object) is picked from it.
pub fn load_pair(
    suite: &SuiteFile,
    index: usize,
    limits: &Limits,
    only: Option<TemplateEngine>,
    templates: &mut TemplateCache,
) -> Result<(Template, Constraint), PairError> {
    let test = &suite.suite.tests[index];
    let at = |field: &str| format!("/tests/{index}/{field}");
    // Errors come in this order: a missing template, a missing constraint, the
    // template's problems, the constraint's. Both files are read before either
    // is looked at; a template already in the cache is not read again.
    let template_path = suite_relative(suite, &at("template"), "template", &test.template).map_err(PairError::Missing)?;
    let constraint_path =
        suite_relative(suite, &at("constraint"), "constraint", &test.constraint).map_err(PairError::Missing)?;
    let template_text = match templates.contains_key(&template_path) {
        true => None,
        false => Some(
            read_named(suite, &at("template"), "template", &test.template, &template_path, limits)
                .map_err(PairError::Missing)?,
        ),
    };
    let constraint_text = read_named(suite, &at("constraint"), "constraint", &test.constraint, &constraint_path, limits)
        .map_err(PairError::Missing)?;
    if let Some(text) = template_text {
        let template = text.map_err(PairError::Missing).and_then(|text| read_template(&template_path, text, limits, only));
        templates.insert(template_path.clone(), template);
    }
    let template = templates[&template_path].clone()?;
    let constraint_text = constraint_text.map_err(PairError::Missing)?;
    let (text, docs) = documents(&constraint_path, constraint_text, limits).map_err(PairError::Missing)?;
    let doc = the_one(&constraint_path, &docs, "Constraint (apiVersion constraints.gatekeeper.sh/...)", |v| {
        v["apiVersion"].as_str().is_some_and(|a| a.starts_with("constraints.gatekeeper.sh/"))
    })
    .map_err(PairError::Missing)?;
    let constraint = load_constraint(&constraint_path, &text, doc).map_err(PairError::Rejected)?;
    if constraint.kind != template.kind {
        return Err(PairError::Rejected(LoadError::at_line(
            &constraint_path,
            doc.line,
            format!(
                "Constraint {} is of kind {}, which no template of this test defines (the template {} defines {})",
                constraint.name,
                constraint.kind,
                template_path.display(),
                template.kind
            ),
        )));
    }
    if let Some(schema) = &template.parameters {
        let problems = schema.check(&constraint.parameters);
        if !problems.is_empty() {
            let line = crate::schema::field_line(&text, Some(doc.line), "/spec/parameters").unwrap_or(doc.line);
            return Err(PairError::Rejected(LoadError::at_line(
                &constraint_path,
                line,
                format!(
                    "Constraint {}: spec.parameters do not match the template's openAPIV3Schema: {}",
                    constraint.name,
                    problems.join("; ")
                ),
            )));
        }
    }
    Ok((template, constraint))
}

/// Read, check and compile the ConstraintTemplate of `template_path` (only
/// `only`'s code when it has code for that engine).
fn read_template(template_path: &Path, text: String, limits: &Limits, only: Option<TemplateEngine>) -> Result<Template, PairError> {
    let (text, docs) = documents(template_path, text, limits).map_err(PairError::Missing)?;
    let doc = the_one(template_path, &docs, "ConstraintTemplate", |v| {
        v["kind"] == "ConstraintTemplate"
            && v["apiVersion"].as_str().is_some_and(|a| a.starts_with("templates.gatekeeper.sh/"))
    })
    .map_err(PairError::Missing)?;
    load_template_for(template_path, &text, doc, limits, only).map_err(PairError::Rejected)
}

/// The test's `expansion` file as an [`Expander`], `None` when the test names none.
/// As in `gator verify`, the file holds only ExpansionTemplates; a bad one fails the test.
pub fn load_expander(suite: &SuiteFile, index: usize, limits: &Limits) -> Result<Option<Expander>, LoadError> {
    let relative = &suite.suite.tests[index].expansion;
    if relative.is_empty() {
        return Ok(None);
    }
    let pointer = format!("/tests/{index}/expansion");
    let path = suite_relative(suite, &pointer, "expansion", relative)?;
    let text = read_named(suite, &pointer, "expansion", relative, &path, limits)??;
    let (text, docs) = documents(&path, text, limits)?;
    let templates = docs
        .iter()
        .map(|d| ExpansionTemplate::from_value(&d.value, &path, Some(&text), d.line))
        .collect::<Result<Vec<_>, _>>()?;
    Expander::new(templates).map(Some).map_err(|cycle| {
        let line = docs
            .iter()
            .find(|d| d.value["metadata"]["name"].as_str() == cycle.templates.first().map(String::as_str))
            .map_or(docs[0].line, |d| d.line);
        LoadError::at_line(&path, line, cycle.to_string())
    })
}

