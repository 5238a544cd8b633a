//! `--format github`: GitHub Actions workflow commands, one `::error` annotation per
//! failed expectation or load error, on the case file (gator: the assertion's line
//! in `suite.yaml`; Rego unit tests: the test rule's line).

use super::Format;
use crate::runner::{RunSummary, TestStatus};
use std::io::{self, Write};

pub struct GithubReport;

/// A workflow command's message: `%`, CR and LF escaped (GitHub's `escapeData`).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as a message, plus `:` and `,`, which
/// would end the value (GitHub's `escapeProperty`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,title=T::MESSAGE`, each property escaped, absent ones left out.
fn error(
    out: &mut dyn Write,
    file: Option<&str>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> io::Result<()> {
    let mut properties = Vec::new();
    if let Some(file) = file {
        properties.push(format!("file={}", escape_property(file)));
        if let Some(line) = line {
            properties.push(format!("line={line}"));
        }
    }
    if !title.is_empty() {
        properties.push(format!("title={}", escape_property(title)));
    }
    writeln!(
        out,
        "::error {}::{}",
        properties.join(","),
        escape_data(message)
    )
}

impl Format for GithubReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        for e in &summary.load_errors {
            error(
                out,
                Some(&summary.shown_path(&e.path)),
                e.line,
                "load error",
                &e.message,
            )?;
        }
        for r in &summary.results {
            if matches!(r.status(), TestStatus::Failed | TestStatus::Error) {
                let place = match &r.case {
                    Some(case) => format!("{} {}/{case}", r.suite, r.test),
                    None => format!("{} {}", r.suite, r.test),
                };
                let msg = format!(
                    "{place}: expected {}, got {}: {}",
                    r.expected,
                    r.actual,
                    r.messages.join("; ")
                );
                let file = r.file.as_ref().map(|f| summary.shown_path(f));
                let title = if r.rule.is_empty() {
                    "expectation failed"
                } else {
                    &r.rule
                };
                error(out, file.as_deref(), r.line, title, &msg)?;
            }
        }
        if let Some(reason) = summary.nothing_checked() {
            error(out, None, None, "nothing checked", &reason)?;
        }
        let s = summary.stats();
        writeln!(
            out,
            "{} passed, {} failed, {} errors, {} skipped",
            s.passed, s.failed, s.errors, s.skipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_escape_what_would_end_them_and_messages_stay_one_line() {
        let mut out = Vec::new();
        error(
            &mut out,
            Some("dir,x/a:b%.yaml"),
            Some(4),
            "rule, v1: x",
            "100% bad\r\nnext: line, still",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::error file=dir%2Cx/a%3Ab%25.yaml,line=4,title=rule%2C v1%3A x::100%25 bad%0D%0Anext: line, still\n"
        );
    }

    #[test]
    fn a_result_without_a_file_has_only_a_title() {
        let mut out = Vec::new();
        error(&mut out, None, Some(3), "nothing checked", "m").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::error title=nothing checked::m\n"
        );
    }
}
