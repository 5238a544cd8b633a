//! `--format github`: GitHub Actions workflow commands, one annotation per failed expectation.

use super::Format;
use crate::runner::{RunSummary, TestStatus};
use std::io::{self, Write};

pub struct GithubReport;

/// Workflow command values must escape `%`, CR and LF.
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

impl Format for GithubReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        for e in &summary.load_errors {
            let line = e.line.map(|l| format!(",line={l}")).unwrap_or_default();
            writeln!(out, "::error file={}{line},title=load error::{}", escape(&summary.shown_path(&e.path)), escape(&e.message))?;
        }
        for r in &summary.results {
            if matches!(r.status(), TestStatus::Failed | TestStatus::Error) {
                let msg = format!("{} {}: expected {}, got {}: {}", r.suite, r.test, r.expected, r.actual, r.messages.join("; "));
                let place = match &r.file {
                    Some(file) => {
                        let line = r.line.map(|l| format!(",line={l}")).unwrap_or_default();
                        format!(" file={}{line},", escape(&summary.shown_path(file)))
                    }
                    None => " ".to_string(),
                };
                writeln!(out, "::error{place}title={}::{}", escape(&r.rule), escape(&msg))?;
            }
        }
        if let Some(reason) = summary.nothing_checked() {
            writeln!(out, "::error title=nothing checked::{}", escape(&reason))?;
        }
        let s = summary.stats();
        writeln!(out, "{} passed, {} failed, {} errors, {} skipped", s.passed, s.failed, s.errors, s.skipped)
    }
}
