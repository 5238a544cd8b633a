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
    /// What the run looked at (libraries, suite directories), for the message of a run
    /// that checked nothing.
    pub searched: Vec<String>,
    /// `--allow-empty`: a run that checked nothing may pass.
    pub allow_empty: bool,
    /// Directory that reported paths are relative to (the repository root); empty: as found.
    pub base: std::path::PathBuf,
    /// Line coverage of the Rego the run evaluated (`--coverage`), module names as shown.
    pub coverage: Option<crate::engine::rego::coverage::LineCoverage>,
    /// `--coverage-threshold`: a run whose coverage is below this percentage fails.
    pub coverage_threshold: Option<f64>,
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

    /// The process exit code for `verdict test`: load errors win, then failures, then
    /// a run that checked nothing (unless [`RunSummary::allow_empty`]).
    pub fn exit_code(&self) -> u8 {
        let stats = self.stats();
        if !self.load_errors.is_empty() {
            crate::exit::USAGE_OR_LOAD
        } else if stats.failed > 0 || stats.errors > 0 || self.coverage_shortfall().is_some() {
            crate::exit::EXPECTATION_FAILED
        } else if self.allow_empty {
            crate::exit::OK
        } else if self.results.is_empty() {
            crate::exit::USAGE_OR_LOAD
        } else if stats.passed == 0 {
            crate::exit::EXPECTATION_FAILED
        } else {
            crate::exit::OK
        }
    }

    /// Why the run's Rego coverage fails `--coverage-threshold`, or `None` when it meets
    /// it (or no threshold was set). No Rego evaluated at all fails a threshold too.
    pub fn coverage_shortfall(&self) -> Option<String> {
        let threshold = self.coverage_threshold?;
        let percent = self.coverage.as_ref().and_then(|c| c.percent());
        match percent {
            None => Some(format!("no Rego line was evaluated, so line coverage cannot meet --coverage-threshold {threshold}%")),
            Some(p) if p < threshold => Some(format!("Rego line coverage {p:.1}% is below --coverage-threshold {threshold}%")),
            Some(_) => None,
        }
    }

    /// Why the run counts as having checked nothing, or `None` when it checked something
    /// (or `--allow-empty` was given): nothing found, or everything skipped.
    pub fn nothing_checked(&self) -> Option<String> {
        let stats = self.stats();
        if self.allow_empty || stats.passed + stats.failed + stats.errors > 0 {
            return None;
        }
        let searched = if self.searched.is_empty() { "nothing".to_string() } else { self.searched.join("; ") };
        Some(if self.results.is_empty() {
            format!("nothing to check: searched {searched}; pass --allow-empty if that is expected")
        } else {
            format!(
                "nothing was checked: all {} results were skipped (searched {searched}); pass --allow-empty if that is expected",
                stats.skipped
            )
        })
    }

    /// `path` as reports show it: relative to [`RunSummary::base`] when under it.
    pub fn shown_path(&self, path: &std::path::Path) -> String {
        if self.base.as_os_str().is_empty() {
            return path.display().to_string();
        }
        let absolute = super::cases::absolute(path);
        match absolute.strip_prefix(&self.base) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
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
        self.searched.extend(other.searched);
    }
}

impl RunSummary {
    /// Read back what `verdict test --format json` wrote (one shard of a
    /// partitioned run), paths taken relative to `base`. Verdicts are not part
    /// of that output, so only results, load errors and warnings come back.
    ///
    /// ```
    /// let text = r#"{"summary": {}, "results": [{"suite": "cases/r", "test": "pass-a.yaml", "rule": "r",
    ///   "resource": "Pod/a", "expected": "pass", "actual": "pass", "ok": true, "messages": [], "file": "cases/r/pass-a.yaml"}],
    ///   "load_errors": [{"path": "policies/x.yaml", "line": 3, "message": "bad"}], "warnings": ["w"]}"#;
    /// let summary = verdict::runner::RunSummary::from_json(text, std::path::Path::new("/repo")).unwrap();
    /// assert_eq!(summary.stats().passed, 1);
    /// assert_eq!(summary.results[0].file.as_deref(), Some(std::path::Path::new("/repo/cases/r/pass-a.yaml")));
    /// assert_eq!(summary.load_errors[0].line, Some(3));
    /// ```
    pub fn from_json(text: &str, base: &std::path::Path) -> Result<RunSummary, String> {
        #[derive(serde::Deserialize)]
        struct Row {
            suite: String,
            test: String,
            rule: String,
            #[serde(default)]
            resource: String,
            expected: String,
            actual: String,
            ok: bool,
            #[serde(default)]
            skipped: Option<String>,
            #[serde(default)]
            messages: Vec<String>,
            #[serde(default)]
            file: Option<String>,
            #[serde(default)]
            line: Option<usize>,
        }
        #[derive(serde::Deserialize)]
        struct Error {
            path: String,
            line: Option<usize>,
            message: String,
        }
        #[derive(serde::Deserialize)]
        struct Doc {
            results: Vec<Row>,
            #[serde(default)]
            load_errors: Vec<Error>,
            #[serde(default)]
            warnings: Vec<String>,
        }
        let doc: Doc = serde_json::from_str(text).map_err(|e| format!("not the JSON of `verdict test --format json`: {e}"))?;
        Ok(RunSummary {
            results: doc
                .results
                .into_iter()
                .map(|r| TestResult {
                    suite: r.suite,
                    test: r.test,
                    case: None,
                    rule: r.rule,
                    resource: r.resource,
                    expected: r.expected,
                    actual: r.actual,
                    ok: r.ok,
                    skipped: r.skipped,
                    messages: r.messages,
                    file: r.file.map(|f| base.join(f)),
                    line: r.line,
                })
                .collect(),
            load_errors: doc.load_errors.into_iter().map(|e| LoadError { path: base.join(e.path), line: e.line, message: e.message }).collect(),
            warnings: doc.warnings,
            base: base.to_path_buf(),
            ..RunSummary::default()
        })
    }
}
