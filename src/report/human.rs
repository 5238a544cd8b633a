//! Human output: a line per rule or suite as it finishes, then failures and one summary line.

use super::Format;
use crate::runner::{RunEvent, RunSummary, TestStatus};
use anstyle::{AnsiColor, Style};
use std::io::{self, Write};

/// Styles of the human output. Always written; the CLI's output stream strips them
/// when colour is off (`--color never`, `NO_COLOR`, not a terminal).
const RED: Style = AnsiColor::Red.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default();

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

pub struct HumanReport;

impl Format for HumanReport {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
        let bad: Vec<_> = summary
            .results
            .iter()
            .filter(|r| matches!(r.status(), TestStatus::Failed | TestStatus::Error))
            .collect();
        if !summary.load_errors.is_empty() {
            writeln!(out, "\n{}", paint(RED, "load errors:"))?;
            for e in &summary.load_errors {
                let shown = crate::error::LoadError { path: summary.shown_path(&e.path).into(), ..e.clone() };
                for (i, line) in shown.to_string().lines().enumerate() {
                    writeln!(out, "{}{line}", if i == 0 { "  " } else { "      " })?;
                }
            }
        }
        if !bad.is_empty() {
            writeln!(out, "\n{}", paint(RED, "failures:"))?;
            for r in &bad {
                let test = match &r.case {
                    Some(case) => format!("{}/{case}", r.test),
                    None => r.test.clone(),
                };
                writeln!(out, "  {} {test} [{}]: expected {}, got {}", r.suite, r.rule, r.expected, r.actual)?;
                for line in r.messages.iter().flat_map(|m| m.lines()) {
                    writeln!(out, "      {line}")?;
                }
            }
        }
        for w in &summary.warnings {
            writeln!(out, "{} {w}", paint(YELLOW, "warning:"))?;
        }
        if let Some(coverage) = &summary.coverage {
            super::rego_coverage::write_text(coverage, out)?;
        }
        if let Some(reason) = summary.nothing_checked() {
            writeln!(out, "\n{} {reason}", paint(RED, "error:"))?;
        }
        if let Some(reason) = summary.coverage_shortfall() {
            writeln!(out, "\n{} {reason}", paint(RED, "error:"))?;
        }
        let s = summary.stats();
        let verdict = if summary.exit_code() == crate::exit::OK { paint(GREEN, "ok") } else { paint(RED, "FAILED") };
        writeln!(
            out,
            "\nverdict: {verdict}. {} passed, {} failed, {} errors, {} skipped",
            s.passed, s.failed, s.errors, s.skipped
        )
    }
}

/// Live progress on stderr while a run goes: one line per finished rule or suite.
pub struct HumanProgress<W: Write> {
    out: W,
}

impl<W: Write> HumanProgress<W> {
    pub fn new(out: W) -> Self {
        HumanProgress { out }
    }

    pub fn on_event(&mut self, event: RunEvent<'_>) {
        // Progress is best effort: a closed stderr must not stop the run.
        let _ = match event {
            RunEvent::LoadFailed(e) => writeln!(self.out, "  LOAD ERROR {e}"),
            RunEvent::GroupFinished { group, results } => {
                let count = |s| results.iter().filter(|r| r.status() == s).count();
                let (bad, errors, skipped) = (count(TestStatus::Failed), count(TestStatus::Error), count(TestStatus::Skipped));
                let mark = if bad + errors > 0 { paint(RED, "FAIL") } else { paint(GREEN, "  ok") };
                let mut extra = String::new();
                if bad > 0 {
                    extra.push_str(&format!(", {bad} failed"));
                }
                if errors > 0 {
                    extra.push_str(&format!(", {errors} errors"));
                }
                if skipped > 0 {
                    extra.push_str(&format!(", {skipped} skipped"));
                }
                writeln!(self.out, "  {mark} {group} ({} checks{extra})", results.len())
            }
        };
    }
}
