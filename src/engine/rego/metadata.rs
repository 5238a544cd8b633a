//! OPA `# METADATA` annotations → [`RuleHeader`].
//!
//! An annotation is a run of comment lines starting with `# METADATA`, holding
//! YAML, attached to the statement right after it: the `package` (package
//! scope) or a rule. The package annotation wins; fields it lacks are taken
//! from the first annotated `deny`/`violation`/`warn` rule.

use crate::input::InputKind;
use crate::library::RuleHeader;
use crate::verdict::Mode;
use serde::Deserialize;

/// One parsed `# METADATA` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Annotation {
    pub scope: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub custom: Custom,
}

/// The `custom:` keys verdict reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Custom {
    pub id: Option<String>,
    pub gate: Option<String>,
    pub mode: Option<String>,
    pub severity: Option<String>,
    pub controls: Vec<String>,
    /// The input kinds the rule judges (`input: tfplan`, or a list); other
    /// documents are not applicable to it, so a stray case cannot pass it.
    pub input: Option<OneOrMany>,
}

/// A YAML field written as one string or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The input kinds a policy declares in `custom.input` (package annotation
/// first, else the first annotated judging rule); `None` when it declares none.
///
/// ```
/// use verdict::input::InputKind;
/// let source = "# METADATA\n# custom:\n#   input: tfplan\npackage s3\n";
/// assert_eq!(verdict::engine::rego::declared_inputs(source).unwrap(), Some(vec![InputKind::TerraformPlan]));
/// assert!(verdict::engine::rego::declared_inputs("# METADATA\n# custom: {input: helm}\npackage s3\n").is_err());
/// ```
pub fn declared_inputs(source: &str) -> Result<Option<Vec<InputKind>>, MetadataError> {
    let blocks = annotations(source)?;
    let block = blocks
        .iter()
        .filter(|b| b.annotation.custom.input.is_some())
        .find(|b| b.target == Target::Package || matches!(&b.target, Target::Rule(n) if super::conftest::is_conftest_rule(n)));
    let Some(block) = block else { return Ok(None) };
    let names = match block.annotation.custom.input.clone() {
        Some(OneOrMany::One(name)) => vec![name],
        Some(OneOrMany::Many(names)) => names,
        None => Vec::new(),
    };
    names
        .iter()
        .map(|name| {
            InputKind::from_name(name).ok_or_else(|| MetadataError {
                line: block.line,
                message: format!(
                    "custom.input: unknown input kind `{name}` (one of {})",
                    InputKind::NAMES.join(", ")
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// What an annotation is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Package,
    /// A rule, by the name at the start of its head (`deny_public` in `deny_public contains msg if`).
    Rule(String),
    /// Nothing follows the block (end of file) or something unrecognised.
    Other,
}

/// One `# METADATA` block, where it is and what it annotates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// 1-based line of the `# METADATA` comment.
    pub line: usize,
    pub target: Target,
    pub annotation: Annotation,
}

/// A METADATA block that could not be read, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    pub line: usize,
    pub message: String,
}

/// Every `# METADATA` block of `source` with what it is attached to.
pub fn annotations(source: &str) -> Result<Vec<Block>, MetadataError> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if comment_text(lines[i]).map(str::trim) != Some("METADATA") {
            i += 1;
            continue;
        }
        let header_line = i + 1;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            match comment_text(lines[i]) {
                Some(text) => body.push(text),
                None => break,
            }
            i += 1;
        }
        let yaml = dedent(&body);
        let annotation: Annotation = if yaml.trim().is_empty() {
            Annotation::default()
        } else {
            serde_yaml_ng::from_str(&yaml).map_err(|err| MetadataError {
                line: header_line + err.location().map(|l| l.line()).unwrap_or(0),
                message: format!("invalid METADATA block: {err}"),
            })?
        };
        let target = lines[i..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| target_of(l))
            .unwrap_or(Target::Other);
        found.push(Block {
            line: header_line,
            target,
            annotation,
        });
    }
    Ok(found)
}

/// Build the rule header of a policy file; `package` is its package path without `data.`.
///
/// ```
/// use verdict::engine::rego::header;
/// use verdict::verdict::Mode;
///
/// let source = "# METADATA\n# title: No public buckets\n# custom:\n#   id: no-public\n#   mode: audit\npackage s3\n";
/// let header = header(source, "s3").unwrap();
/// assert_eq!((header.id.as_str(), header.mode), ("no-public", Some(Mode::Audit)));
///
/// // A plain conftest policy: named after its package, no mode.
/// let header = verdict::engine::rego::header("package k8s.pods\n", "k8s.pods").unwrap();
/// assert_eq!((header.id.as_str(), header.mode), ("k8s.pods", None));
/// ```
pub fn header(source: &str, package: &str) -> Result<RuleHeader, MetadataError> {
    let blocks = annotations(source)?;
    let package_block = blocks.iter().find(|b| {
        b.target == Target::Package
            || matches!(
                b.annotation.scope.as_deref(),
                Some("package" | "subpackages")
            )
    });
    let rule_block = blocks.iter().find(
        |b| matches!(&b.target, Target::Rule(name) if super::conftest::is_conftest_rule(name)),
    );
    let mode_line = |a: &Option<&Block>| a.map(|b| b.line).unwrap_or(1);
    let primary = package_block
        .or(rule_block)
        .map(|b| b.annotation.clone())
        .unwrap_or_default();
    let fallback = rule_block.map(|b| b.annotation.clone()).unwrap_or_default();
    let line = if primary.custom.mode.is_some() {
        mode_line(&package_block.or(rule_block))
    } else {
        mode_line(&rule_block)
    };
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());

    let id = pick(&primary.custom.id, &fallback.custom.id).unwrap_or_else(|| package.to_string());
    let mode = match pick(&primary.custom.mode, &fallback.custom.mode) {
        None => None,
        Some(m) => Some(parse_mode(&m).ok_or_else(|| MetadataError {
            line,
            message: format!("custom.mode must be `audit` or `enforce`, not `{m}`"),
        })?),
    };
    let controls = if primary.custom.controls.is_empty() {
        fallback.custom.controls
    } else {
        primary.custom.controls
    };
    Ok(RuleHeader {
        title: pick(&primary.title, &fallback.title).unwrap_or_else(|| id.clone()),
        description: pick(&primary.description, &fallback.description).unwrap_or_default(),
        mode,
        severity: pick(&primary.custom.severity, &fallback.custom.severity),
        controls,
        id,
    })
}

fn parse_mode(text: &str) -> Option<Mode> {
    match text.trim() {
        "audit" => Some(Mode::Audit),
        "enforce" => Some(Mode::Enforce),
        _ => None,
    }
}

/// The text of a whole-line comment after its `#`.
fn comment_text(line: &str) -> Option<&str> {
    line.trim_start().strip_prefix('#')
}

/// Comment bodies keep the author's indentation after one conventional space.
fn dedent(body: &[&str]) -> String {
    let all_spaced = body.iter().all(|l| l.is_empty() || l.starts_with(' '));
    body.iter()
        .map(|l| {
            if all_spaced && !l.is_empty() {
                &l[1..]
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn target_of(line: &str) -> Target {
    let line = line.trim_start();
    if line
        .strip_prefix("package")
        .is_some_and(|rest| rest.starts_with([' ', '\t']))
    {
        return Target::Package;
    }
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    match name.as_str() {
        "" | "import" => Target::Other,
        "default" => {
            let rest = line["default".len()..].trim_start();
            Target::Rule(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
            )
        }
        _ => Target::Rule(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_annotation_with_custom_fields() {
        let source = "# METADATA\n# title: No public buckets\n# description: |\n#   ## What it does\n#   Checks.\n# custom:\n#   id: s3-no-public\n#   mode: audit\n#   severity: high\n#   controls: [data-no-public-access]\npackage s3\n";
        let header = header(source, "s3").unwrap();
        assert_eq!(header.id, "s3-no-public");
        assert_eq!(header.title, "No public buckets");
        assert_eq!(header.description, "## What it does\nChecks.\n");
        assert_eq!(header.mode, Some(Mode::Audit));
        assert_eq!(header.severity.as_deref(), Some("high"));
        assert_eq!(header.controls, vec!["data-no-public-access"]);
    }

    #[test]
    fn rule_annotation_and_package_fallback_id() {
        let source = "package main.k8s\n\n# METADATA\n# title: t\n# custom:\n#   mode: enforce\ndeny contains msg if { msg := \"x\" }\n";
        let header = header(source, "main.k8s").unwrap();
        assert_eq!(header.id, "main.k8s");
        assert_eq!(header.mode, Some(Mode::Enforce));
    }

    #[test]
    fn plain_conftest_policy_has_no_mode() {
        let header = header("package main\ndeny[msg] { msg := \"x\" }\n", "main").unwrap();
        assert_eq!((header.id.as_str(), header.mode), ("main", None));
    }

    #[test]
    fn bad_yaml_and_bad_mode_name_the_line() {
        let err = header("# METADATA\n# title: [\npackage p\n", "p").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = header("# METADATA\n# custom:\n#   mode: strict\npackage p\n", "p").unwrap_err();
        assert!(err.message.contains("strict"));
    }
}
