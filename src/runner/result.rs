//! The result rows every run produces.

use serde::Serialize;
use std::path::PathBuf;

/// One checked expectation: a library case, or one resource of one row of an
/// external suite. Serialised as one element of `results` in `--format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The suite file or rule directory the expectation comes from.
    pub suite: String,
    /// The case file or suite row name.
    pub test: String,
    /// The case within the test, for formats that have one (gator suites).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub rule: String,
    pub resource: String,
    pub expected: String,
    pub actual: String,
    pub ok: bool,
    /// Why the expectation could not be checked; a skipped result is neither passed nor failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub messages: Vec<String>,
    /// The file the expectation is written in (case file, suite file, policy), for
    /// annotations; reports show it relative to the repository root.
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// 1-based line within `file`, when known.
    #[serde(skip)]
    pub line: Option<usize>,
}

impl TestResult {
    pub fn status(&self) -> TestStatus {
        if self.skipped.is_some() {
            TestStatus::Skipped
        } else if self.actual == "error" && self.expected != "error" {
            TestStatus::Error
        } else if self.ok {
            TestStatus::Passed
        } else {
            TestStatus::Failed
        }
    }
}

/// How a [`TestResult`] counts in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    Skipped,
}
