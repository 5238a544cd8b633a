//! Rego line coverage (`verdict test --coverage`) as text, as the `coverage` object of
//! `--format json`, and as Cobertura XML, which CI coverage viewers read (GitLab,
//! Jenkins, Azure DevOps; `opa test --coverage` writes JSON only).

use crate::engine::rego::coverage::{FileLines, LineCoverage};
use crate::runner::RunSummary;
use serde_json::json;
use std::io::{self, Write};
use std::path::Path;

/// Where a coverage report goes (`--coverage-report FORMAT:FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CoverageFormat {
    Cobertura,
    Json,
}

/// Module names as reports show them: file paths relative to the repository root
/// (`summary.base`). A Gatekeeper template's module (`template.yaml (spec.targets[0].rego)`)
/// is reported in lines of the template file when its Rego is a literal block scalar
/// (`rego: |`), whose lines are the file's lines one for one; otherwise it keeps its
/// `(field)` suffix and Rego-source lines.
pub fn shown(coverage: LineCoverage, summary: &RunSummary) -> LineCoverage {
    let mut out = LineCoverage::default();
    for (name, lines) in coverage.files {
        let (file, field) = match name.rsplit_once(" (") {
            Some((file, field)) if field.ends_with(')') => (file, Some(&field[..field.len() - 1])),
            _ => (name.as_str(), None),
        };
        let shown_file = summary.shown_path(Path::new(file));
        let (key, offset) = match field {
            None => (shown_file, 0),
            Some(field) => match block_offset(Path::new(file), field) {
                Some(offset) => (shown_file, offset),
                None => (format!("{shown_file} ({field})"), 0),
            },
        };
        let merged = out.files.entry(key).or_default();
        merged
            .coverable
            .extend(lines.coverable.iter().map(|l| l + offset));
        merged
            .covered
            .extend(lines.covered.iter().map(|l| l + offset));
    }
    out
}

/// How many lines into `template` the Rego of `field` (`spec.targets[0].libs[1]`)
/// starts, when it is a literal block scalar of the file's ConstraintTemplate: line
/// `n` of the Rego is then line `n + offset` of the file. Checked line by line
/// against the Rego text, so a folded or quoted scalar is never mislabelled.
fn block_offset(template: &Path, field: &str) -> Option<u32> {
    let text = std::fs::read_to_string(template).ok()?;
    let documents = crate::input::load_file(template, &crate::limits::Limits::default()).ok()?;
    let document = documents
        .iter()
        .find(|d| d.value["kind"] == "ConstraintTemplate")?;
    let pointer = format!(
        "/{}",
        field.replace('[', ".").replace(']', "").replace('.', "/")
    );
    let rego = document.value.pointer(&pointer)?.as_str()?;
    let found = crate::schema::field_line(&text, document.line, &pointer)?;
    let file_lines: Vec<&str> = text.lines().collect();
    // The indicator line: `rego: |` (the key's line) or `- |` (a `libs` item, whose
    // line is reported where its content starts, one below).
    [found, found.saturating_sub(1)]
        .into_iter()
        .find_map(|indicator| {
            let head = file_lines.get(indicator.checked_sub(1)?)?.trim_start();
            let value = head
                .strip_prefix("- ")
                .unwrap_or_else(|| head.split_once(':').map_or("", |(_, v)| v))
                .trim();
            let same = rego.lines().enumerate().all(|(i, line)| {
                file_lines
                    .get(indicator + i)
                    .is_some_and(|f| f.trim() == line.trim())
            });
            (value.starts_with('|') && same)
                .then(|| u32::try_from(indicator).ok())
                .flatten()
        })
}

fn percent(lines: &FileLines) -> f64 {
    if lines.coverable.is_empty() {
        100.0
    } else {
        100.0 * lines.covered.len() as f64 / lines.coverable.len() as f64
    }
}

/// `3-5, 9` for lines 3, 4, 5 and 9.
fn ranges(lines: impl Iterator<Item = u32>) -> String {
    let mut spans: Vec<(u32, u32)> = Vec::new();
    for line in lines {
        match spans.last_mut() {
            Some((_, end)) if *end + 1 == line => *end = line,
            _ => spans.push((line, line)),
        }
    }
    spans
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text block of the human output: one line per file, then the total.
///
/// ```
/// use verdict::engine::rego::coverage::{FileLines, LineCoverage};
/// let mut coverage = LineCoverage::default();
/// coverage.files.insert("p.rego".into(), FileLines { coverable: [3, 4, 5, 9].into(), covered: [3].into() });
/// let mut out = Vec::new();
/// verdict::report::rego_coverage::write_text(&coverage, &mut out).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.contains("p.rego   25.0% (1/4 lines; not covered: 4-5, 9)"), "{text}");
/// ```
pub fn write_text(coverage: &LineCoverage, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nRego line coverage:")?;
    let width = coverage.files.keys().map(String::len).max().unwrap_or(0);
    for (file, lines) in &coverage.files {
        let missing = ranges(lines.not_covered());
        let missing = if missing.is_empty() {
            String::new()
        } else {
            format!("; not covered: {missing}")
        };
        writeln!(
            out,
            "  {file:width$}  {:5.1}% ({}/{} lines{missing})",
            percent(lines),
            lines.covered.len(),
            lines.coverable.len()
        )?;
    }
    match coverage.percent() {
        Some(p) => writeln!(
            out,
            "  total {p:.1}% ({}/{} lines)",
            coverage.covered_lines(),
            coverage.coverable_lines()
        ),
        None => writeln!(out, "  no Rego was evaluated"),
    }
}

/// The `coverage` object of `--format json`.
pub fn to_json(summary: &RunSummary, coverage: &LineCoverage) -> serde_json::Value {
    let files: Vec<serde_json::Value> = coverage
        .files
        .iter()
        .map(|(file, lines)| {
            json!({
                "file": file,
                "percent": round(percent(lines)),
                "covered": lines.covered,
                "not_covered": lines.not_covered().collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = json!({
        "percent": coverage.percent().map(round),
        "covered_lines": coverage.covered_lines(),
        "coverable_lines": coverage.coverable_lines(),
        "files": files,
    });
    if let Some(threshold) = summary.coverage_threshold {
        doc["threshold"] = json!(threshold);
        doc["below_threshold"] = json!(summary.coverage_shortfall());
    }
    doc
}

fn round(p: f64) -> f64 {
    (p * 100.0).round() / 100.0
}

/// Cobertura XML (the coverage-04 DTD): one package per directory, one class per
/// Rego file, one `<line>` per coverable line with `hits` 1 or 0 (regorus records
/// whether a line was reached, not how often).
pub fn write_cobertura(
    summary: &RunSummary,
    coverage: &LineCoverage,
    out: &mut dyn Write,
) -> io::Result<()> {
    let rate = |covered: usize, coverable: usize| {
        if coverable == 0 {
            1.0
        } else {
            covered as f64 / coverable as f64
        }
    };
    let mut packages: std::collections::BTreeMap<String, Vec<(&String, &FileLines)>> =
        Default::default();
    for (file, lines) in &coverage.files {
        let path = file.rsplit_once(" (").map_or(file.as_str(), |(f, _)| f);
        let dir = Path::new(path)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        packages
            .entry(if dir.is_empty() { ".".into() } else { dir })
            .or_default()
            .push((file, lines));
    }
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">"#
    )?;
    writeln!(
        out,
        r#"<coverage line-rate="{:.4}" branch-rate="0" lines-covered="{}" lines-valid="{}" branches-covered="0" branches-valid="0" complexity="0" version="verdict {}" timestamp="{timestamp}">"#,
        rate(coverage.covered_lines(), coverage.coverable_lines()),
        coverage.covered_lines(),
        coverage.coverable_lines(),
        env!("CARGO_PKG_VERSION"),
    )?;
    let source = if summary.base.as_os_str().is_empty() {
        ".".to_string()
    } else {
        summary.base.display().to_string()
    };
    writeln!(
        out,
        "  <sources>\n    <source>{}</source>\n  </sources>\n  <packages>",
        escape(&source)
    )?;
    for (package, files) in &packages {
        let covered: usize = files.iter().map(|(_, l)| l.covered.len()).sum();
        let coverable: usize = files.iter().map(|(_, l)| l.coverable.len()).sum();
        writeln!(
            out,
            r#"    <package name="{}" line-rate="{:.4}" branch-rate="0" complexity="0">"#,
            escape(package),
            rate(covered, coverable)
        )?;
        writeln!(out, "      <classes>")?;
        for (file, lines) in files {
            let path = file.rsplit_once(" (").map_or(file.as_str(), |(f, _)| f);
            writeln!(
                out,
                r#"        <class name="{}" filename="{}" line-rate="{:.4}" branch-rate="0" complexity="0">"#,
                escape(file),
                escape(path),
                rate(lines.covered.len(), lines.coverable.len())
            )?;
            writeln!(out, "          <methods/>\n          <lines>")?;
            for line in &lines.coverable {
                writeln!(
                    out,
                    r#"            <line number="{line}" hits="{}" branch="false"/>"#,
                    u8::from(lines.covered.contains(line))
                )?;
            }
            writeln!(out, "          </lines>\n        </class>")?;
        }
        writeln!(out, "      </classes>\n    </package>")?;
    }
    writeln!(out, "  </packages>\n</coverage>")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Write `coverage` in `format` to `path`, creating parent directories.
pub fn write_to_file(
    format: CoverageFormat,
    summary: &RunSummary,
    coverage: &LineCoverage,
    path: &Path,
) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    match format {
        CoverageFormat::Cobertura => write_cobertura(summary, coverage, &mut file)?,
        CoverageFormat::Json => {
            serde_json::to_writer_pretty(&mut file, &to_json(summary, coverage))?;
            writeln!(file)?;
        }
    }
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_join_runs_of_lines() {
        assert_eq!(ranges([1, 2, 3, 5, 7, 8].into_iter()), "1-3, 5, 7-8");
        assert_eq!(ranges(std::iter::empty()), "");
    }

    #[test]
    fn files_become_relative_and_an_unreadable_template_keeps_its_field() {
        let mut coverage = LineCoverage::default();
        coverage.files.insert(
            "/repo/policies/t.yaml (spec.targets[0].rego)".into(),
            FileLines::default(),
        );
        coverage
            .files
            .insert("/repo/policies/p.rego".into(), FileLines::default());
        let summary = RunSummary {
            base: "/repo".into(),
            ..RunSummary::default()
        };
        let shown = shown(coverage, &summary);
        assert_eq!(
            shown.files.keys().collect::<Vec<_>>(),
            ["policies/p.rego", "policies/t.yaml (spec.targets[0].rego)"]
        );
    }

    #[test]
    fn template_rego_in_a_literal_block_is_mapped_to_lines_of_the_template_file() {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("t.yaml");
        let text = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8sx\nspec:\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package k8sx\n\n        violation[{\"msg\": \"x\"}] {\n          input.review.object.x\n        }\n      libs:\n        - |\n          package lib.x\n          y := 1\n    - target: other\n      rego: \"package folded\"\n";
        std::fs::write(&template, text).unwrap();
        let name = |field: &str| format!("{} ({field})", template.display());
        let mut coverage = LineCoverage::default();
        coverage.files.insert(
            name("spec.targets[0].rego"),
            FileLines {
                coverable: [3, 4].into(),
                covered: [4].into(),
            },
        );
        coverage.files.insert(
            name("spec.targets[0].libs[0]"),
            FileLines {
                coverable: [2].into(),
                covered: [2].into(),
            },
        );
        coverage.files.insert(
            name("spec.targets[1].rego"),
            FileLines {
                coverable: [1].into(),
                covered: [].into(),
            },
        );
        let shown = shown(coverage, &RunSummary::default());
        let file = template.display().to_string();
        // Rego line 3 (`violation...`) is file line 11; the lib's line 2 (`y := 1`) is file line 17.
        assert_eq!(
            shown.files[&file],
            FileLines {
                coverable: [11, 12, 17].into(),
                covered: [12, 17].into()
            }
        );
        // A quoted scalar is not mapped: kept apart, by field.
        assert!(shown
            .files
            .contains_key(&format!("{file} (spec.targets[1].rego)")));
    }
}
