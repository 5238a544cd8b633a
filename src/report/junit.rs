//! `--format junit`: one test suite per rule or external suite, one test case per expectation.

use super::Format;
use crate::runner::{RunSummary, TestStatus};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::io::{self, Write};

pub struct JunitReport;

impl Format for JunitReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let mut report = Report::new("verdict");
        let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
        if !summary.load_errors.is_empty() {
            let mut suite = TestSuite::new("load");
            for e in &summary.load_errors {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                let shown = crate::error::LoadError { path: summary.shown_path(&e.path).into(), ..e.clone() };
                status.set_message(shown.to_string());
                let mut case = TestCase::new(summary.shown_path(&e.path), status);
                case.extra.insert("file".into(), summary.shown_path(&e.path).into());
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        for r in &summary.results {
            let suite = suites.entry(&r.suite).or_insert_with(|| TestSuite::new(r.suite.clone()));
            let status = match r.status() {
                TestStatus::Passed => TestCaseStatus::success(),
                TestStatus::Skipped => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(r.skipped.clone().unwrap_or_default());
                    s
                }
                kind @ (TestStatus::Failed | TestStatus::Error) => {
                    let mut s = TestCaseStatus::non_success(if kind == TestStatus::Failed {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    });
                    s.set_message(format!("expected {}, got {}", r.expected, r.actual));
                    s.set_description(r.messages.join("\n"));
                    s
                }
            };
            let name = match &r.case {
                Some(case) => format!("{}/{case} {}", r.test, r.resource),
                None => format!("{} {}", r.test, r.resource),
            };
            let mut case = TestCase::new(name.trim().to_string(), status);
            case.set_classname(r.rule.clone());
            // Test reporters (GitHub's among them) link a case to `file` and `line`.
            if let Some(file) = &r.file {
                case.extra.insert("file".into(), summary.shown_path(file).into());
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
