//! Writing a [`RunSummary`] out. The main type here is the [`Format`] trait:
//! one file per output format, each listed once in [`OutputFormat`].

pub mod coverage;
pub mod decision_log;
pub mod eval;
mod github;
mod human;
mod json;
mod junit;
pub mod rego_coverage;
mod sarif;

#[cfg(test)]
mod golden_tests;

pub use human::{HumanProgress, HumanReport};
pub use json::JsonReport;
pub use junit::JunitReport;

use crate::runner::RunSummary;
use std::io::{self, Write};

/// A way of writing a finished run.
pub trait Format {
    fn write(&self, summary: &RunSummary, out: &mut dyn Write) -> io::Result<()>;
}

/// The output formats of `verdict test` (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
    Junit,
    Sarif,
    Github,
}

impl OutputFormat {
    pub fn formatter(self) -> Box<dyn Format> {
        match self {
            OutputFormat::Human => Box::new(HumanReport),
            OutputFormat::Json => Box::new(JsonReport),
            OutputFormat::Junit => Box::new(JunitReport),
            OutputFormat::Sarif => Box::new(sarif::SarifReport),
            OutputFormat::Github => Box::new(github::GithubReport),
        }
    }
}

/// Write `summary` in `format` to `path`, creating parent directories.
pub fn write_to_file(format: OutputFormat, summary: &RunSummary, path: &std::path::Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = Vec::new();
    format.formatter().write(summary, &mut text)?;
    // Files never get colour.
    let plain = anstream::adapter::strip_bytes(&text).into_vec();
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(&plain)?;
    file.flush()
}
