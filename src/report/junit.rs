//! `--format junit`: one test suite per rule or external suite file, one test case
//! per expectation (for gator suites, per assertion), well-formed whatever the
//! messages hold (kyverno#17559 is Kyverno's JUnit breaking on them).

use super::Format;
use crate::runner::{RunSummary, TestResult, TestStatus};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

pub struct JunitReport;

impl Format for JunitReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let mut report = Report::new("verdict");
        let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
        if !summary.load_errors.is_empty() {
            let mut suite = TestSuite::new("load");
            for e in &summary.load_errors {
                let shown = summary.shown_path(&e.path);
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(xml_text(
                    &crate::error::LoadError {
                        path: shown.clone().into(),
                        ..e.clone()
                    }
                    .to_string(),
                ));
                // Several errors may name one file: the line keeps the names apart.
                let name = match e.line {
                    Some(line) => format!("{shown}:{line}"),
                    None => shown.clone(),
                };
                let mut case = TestCase::new(xml_text(&name), status);
                case.extra.insert("file".into(), xml_text(&shown).into());
                if let Some(line) = e.line {
                    case.extra.insert("line".into(), line.to_string().into());
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        let mut case_names = CaseNames::default();
        for r in &summary.results {
            let suite_name = suite_name(summary, r);
            let name = case_names.name(&suite_name, r);
            let suite = suites
                .entry(suite_name)
                .or_insert_with_key(|name| TestSuite::new(xml_text(name)));
            let mut case = TestCase::new(xml_text(&name), status(r));
            case.set_classname(xml_text(&r.rule));
            // Test reporters (GitHub's among them) link a case to `file` and `line`.
            if let Some(file) = &r.file {
                case.extra
                    .insert("file".into(), xml_text(&summary.shown_path(file)).into());
                if let Some(line) = r.line {
                    case.extra.insert("line".into(), line.to_string().into());
                }
            }
            suite.add_test_case(case);
        }
        report.add_test_suites(suites.into_values());
        let xml = report.to_string().map_err(io::Error::other)?;
        out.write_all(xml.as_bytes())
    }
}

/// The test suite a row belongs to: its suite file, relative to the repository root,
/// when the row is written in the suite file itself (gator, Rego unit tests,
/// kyverno-test), so two `suite.yaml` under different PATHs stay two suites;
/// else the row's suite (a library rule's `cases/<rule>`).
fn suite_name(summary: &RunSummary, r: &TestResult) -> String {
    match &r.file {
        Some(file) if !r.suite.is_empty() && file.ends_with(&r.suite) => summary.shown_path(file),
        _ => r.suite.clone(),
    }
}

fn status(r: &TestResult) -> TestCaseStatus {
    match r.status() {
        TestStatus::Passed => TestCaseStatus::success(),
        TestStatus::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(xml_text(r.skipped.as_deref().unwrap_or_default()));
            s
        }
        kind @ (TestStatus::Failed | TestStatus::Error) => {
            let mut s = TestCaseStatus::non_success(if kind == TestStatus::Failed {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            });
            s.set_message(xml_text(&format!(
                "expected {}, got {}",
                r.expected, r.actual
            )));
            s.set_description(xml_text(&r.messages.join("\n")));
            s
        }
    }
}

/// Test case names, unique within their suite and class as JUnit readers key
/// them: a gator case's rows (one per assertion, in order) are numbered, so each
/// name says which assertion it is; any other repeat gets ` #N`.
#[derive(Default)]
struct CaseNames {
    assertions: HashMap<(String, String, String), usize>,
    names: HashMap<(String, String, String), usize>,
}

impl CaseNames {
    /// `test/case assertion N: violations EXPECTED [resource]` for a case's
    /// assertion, `test resource` for anything else.
    fn name(&mut self, suite: &str, r: &TestResult) -> String {
        let resource = if r.resource.is_empty() {
            String::new()
        } else {
            format!(" [{}]", r.resource)
        };
        let name = match &r.case {
            Some(case) => {
                let n = self
                    .assertions
                    .entry((suite.to_string(), r.test.clone(), case.clone()))
                    .or_default();
                *n += 1;
                format!(
                    "{}/{case} assertion {n}: violations {}{resource}",
                    r.test, r.expected
                )
            }
            None => format!("{} {}", r.test, r.resource).trim().to_string(),
        };
        let seen = self
            .names
            .entry((suite.to_string(), r.rule.clone(), name.clone()))
            .or_default();
        *seen += 1;
        match *seen {
            1 => name,
            n => format!("{name} #{n}"),
        }
    }
}

/// `s` as XML 1.0 character data: colour escapes removed (they carry no text), and
/// the characters XML cannot hold at all (C0 controls but tab, LF and CR; U+FFFE,
/// U+FFFF) shown as `\u{..}`, so a message keeps its information and stays parseable.
fn xml_text(s: &str) -> String {
    let mut shown = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            // ESC starts a colour sequence, which the stripping below removes whole.
            '\t' | '\n' | '\r' | '\u{1b}' => shown.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                shown.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            _ => shown.push(c),
        }
    }
    anstream::adapter::strip_str(&shown).to_string()
}

#[cfg(test)]
mod tests {
    use super::xml_text;

    #[test]
    fn xml_text_drops_colour_and_shows_what_xml_cannot_hold() {
        assert_eq!(xml_text("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(
            xml_text("a\u{1}b\u{b}c\u{ffff}"),
            "a\\u{1}b\\u{b}c\\u{ffff}"
        );
        assert_eq!(xml_text("tab\tline\ncr\r<&]]>\""), "tab\tline\ncr\r<&]]>\"");
    }
}
