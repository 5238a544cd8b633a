//! `--format sarif`: SARIF 2.1.0, one result per failed expectation, load error or
//! empty run, located at the case file (gator: the assertion's line in `suite.yaml`;
//! Rego unit test: the test rule's line), for code-scanning UIs.

use super::Format;
use crate::runner::{RunSummary, TestResult, TestStatus};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::{self, Write};

pub struct SarifReport;

/// Rule ids of results that are not about one rule.
const LOAD_ERROR: &str = "load-error";
const NOTHING_CHECKED: &str = "nothing-checked";
/// A failed expectation whose row names no rule (a gator `invalid: true` test, say).
const UNNAMED: &str = "expectation";

impl Format for SarifReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let mut rules: BTreeSet<&str> = summary.results.iter().map(rule_id).collect();
        let mut results: Vec<serde_json::Value> = summary
            .load_errors
            .iter()
            .map(|e| {
                json!({
                    "ruleId": LOAD_ERROR,
                    "level": "error",
                    "message": {"text": e.message},
                    "locations": [location(&summary.shown_path(&e.path), e.line)],
                })
            })
            .collect();
        if !summary.load_errors.is_empty() {
            rules.insert(LOAD_ERROR);
        }
        for r in &summary.results {
            if matches!(r.status(), TestStatus::Failed | TestStatus::Error) {
                results.push(json!({
                    "ruleId": rule_id(r),
                    "level": "error",
                    "message": {"text": message(r)},
                    "locations": result_location(summary, r),
                }));
            }
        }
        if let Some(reason) = summary.nothing_checked() {
            rules.insert(NOTHING_CHECKED);
            results.push(
                json!({"ruleId": NOTHING_CHECKED, "level": "error", "message": {"text": reason}}),
            );
        }
        let doc = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "verdict",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                }},
                "results": results,
            }],
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }
}

fn rule_id(r: &TestResult) -> &str {
    if r.rule.is_empty() {
        UNNAMED
    } else {
        &r.rule
    }
}

/// What was expected where: `suite test[/case]: expected X, got Y: messages`.
fn message(r: &TestResult) -> String {
    let place = match &r.case {
        Some(case) => format!("{} {}/{case}", r.suite, r.test),
        None => format!("{} {}", r.suite, r.test),
    };
    let mut text = format!("{place}: expected {}, got {}", r.expected, r.actual);
    if !r.messages.is_empty() {
        text.push_str(": ");
        text.push_str(&r.messages.join("; "));
    }
    text
}

/// A result's file, relative to the repository root; none when the result has no file.
fn result_location(summary: &RunSummary, r: &TestResult) -> Vec<serde_json::Value> {
    r.file
        .as_ref()
        .map(|f| location(&summary.shown_path(f), r.line))
        .into_iter()
        .collect()
}

/// Characters a path keeps in a URI reference; everything else is percent-encoded
/// (a space, `%`, `#`, `?`, and `:`, which in a first segment would read as a scheme).
const PATH_KEEPS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A location at `path` (relative to the repository root: resolved against
/// `%SRCROOT%`, as code-scanning tools expect; else a `file:` URI) and `line`.
fn location(path: &str, line: Option<usize>) -> serde_json::Value {
    let encoded = utf8_percent_encode(path, PATH_KEEPS).to_string();
    let artifact = if path.starts_with('/') {
        json!({"uri": format!("file://{encoded}")})
    } else {
        json!({"uri": encoded, "uriBaseId": "%SRCROOT%"})
    };
    let mut physical = json!({"artifactLocation": artifact});
    if let Some(line) = line.filter(|l| *l >= 1) {
        physical["region"] = json!({"startLine": line});
    }
    json!({"physicalLocation": physical})
}

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn paths_become_uri_references() {
        let at = location("tests/my dir/50%:x#1.yaml", Some(3));
        assert_eq!(
            at["physicalLocation"]["artifactLocation"]["uri"],
            "tests/my%20dir/50%25%3Ax%231.yaml"
        );
        assert_eq!(
            at["physicalLocation"]["artifactLocation"]["uriBaseId"],
            "%SRCROOT%"
        );
        assert_eq!(at["physicalLocation"]["region"]["startLine"], 3);
        let outside = location("/elsewhere/suite.yaml", None);
        assert_eq!(
            outside["physicalLocation"]["artifactLocation"]["uri"],
            "file:///elsewhere/suite.yaml"
        );
        assert!(outside["physicalLocation"].get("region").is_none());
    }
}
