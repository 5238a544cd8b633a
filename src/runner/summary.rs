//! What a run produced, and the events reporters see while it goes.

use super::{TestResult, TestStatus};
use crate::error::LoadError;
use crate::verdict::Verdict;
use serde::Serialize;

/// Something that happened during a run, for reporters to show as it happens.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// A rule, suite or case could not be loaded.
    LoadFailed(&'a LoadError),
    /// All expectations of one rule or suite have been checked.
    GroupFinished { group: &'a str, results: &'a [TestResult] },
}

/// Everything a run produced; reports are written from this alone.
#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    pub results: Vec<TestResult>,
    /// Every rule × document verdict computed for library cases.
    pub verdicts: Vec<Verdict>,
    pub load_errors: Vec<LoadError>,
    pub warnings: Vec<String>,
}

/// Counts for the one-line summary and the JSON `summary` object.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunStats {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl RunSummary {
    pub fn stats(&self) -> RunStats {
        let mut stats = RunStats { errors: self.load_errors.len(), ..Default::default() };
        for r in &self.results {
            match r.status() {
                TestStatus::Passed => stats.passed += 1,
                TestStatus::Failed => stats.failed += 1,
                TestStatus::Error => stats.errors += 1,
                TestStatus::Skipped => stats.skipped += 1,
            }
        }
        stats
    }

    /// The process exit code for `verdict test`: load errors win, then failures.
    pub fn exit_code(&self) -> u8 {
        let stats = self.stats();
        if !self.load_errors.is_empty() {
            crate::exit::USAGE_OR_LOAD
        } else if stats.failed > 0 || stats.errors > 0 {
            crate::exit::EXPECTATION_FAILED
        } else {
            crate::exit::OK
        }
    }
}


impl RunSummary {
    /// Append another run's results (a second PATH, another shard).
    pub fn merge(&mut self, other: RunSummary) {
        self.results.extend(other.results);
        self.verdicts.extend(other.verdicts);
        self.load_errors.extend(other.load_errors);
        self.warnings.extend(other.warnings);
    }
}
