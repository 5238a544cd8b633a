//! Line coverage of the Rego a run evaluates, gathered with regorus' `coverage`
//! feature. The main type here is [`LineCoverage`].
//!
//! Evaluation happens deep inside engines built by many loaders (library rules,
//! Gatekeeper templates, unit tests), on many worker threads, each on its own clone
//! of a compiled engine. So coverage is collected run-wide: [`start`] switches it on,
//! every [`super::Session`] adds what it evaluated when it ends, and [`finish`] takes
//! the union. Nothing is collected (or paid for) unless a run asks for it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ENABLED: AtomicBool = AtomicBool::new(false);
static COLLECTED: Mutex<Option<LineCoverage>> = Mutex::new(None);

/// Covered and coverable lines of each Rego module, by module name (a file path, or
/// for a Gatekeeper template `file (field)`). Lines are 1-based lines of the Rego source.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineCoverage {
    pub files: BTreeMap<String, FileLines>,
}

/// One module's lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileLines {
    /// Lines holding an expression regorus can evaluate.
    pub coverable: BTreeSet<u32>,
    /// Coverable lines that some evaluation reached.
    pub covered: BTreeSet<u32>,
}

impl FileLines {
    pub fn not_covered(&self) -> impl Iterator<Item = u32> + '_ {
        self.coverable.difference(&self.covered).copied()
    }
}

impl LineCoverage {
    /// Add one engine's report. `reached` is false for a probe that only learns which
    /// lines a module has, so that a module no case reached still shows, uncovered.
    pub fn add(&mut self, report: &regorus::coverage::Report, reached: bool) {
        for file in &report.files {
            let lines = self.files.entry(file.path.clone()).or_default();
            lines
                .coverable
                .extend(file.covered.iter().chain(&file.not_covered).copied());
            if reached {
                lines.covered.extend(file.covered.iter().copied());
            }
        }
    }

    /// Merge modules that are one file under several names (`policies/x.rego`,
    /// `/repo/policies/x.rego`), keyed by what `rename` makes of each name.
    pub fn renamed(self, rename: impl Fn(&str) -> String) -> LineCoverage {
        let mut out = LineCoverage::default();
        for (name, lines) in self.files {
            let merged = out.files.entry(rename(&name)).or_default();
            merged.coverable.extend(lines.coverable);
            merged.covered.extend(lines.covered);
        }
        out
    }

    pub fn covered_lines(&self) -> usize {
        self.files.values().map(|f| f.covered.len()).sum()
    }

    pub fn coverable_lines(&self) -> usize {
        self.files.values().map(|f| f.coverable.len()).sum()
    }

    /// Covered share of coverable lines, in percent; `None` when no Rego line was coverable.
    ///
    /// ```
    /// use verdict::engine::rego::coverage::{FileLines, LineCoverage};
    /// let mut coverage = LineCoverage::default();
    /// coverage.files.insert("p.rego".into(), FileLines { coverable: [3, 4, 5, 6].into(), covered: [3, 4, 5].into() });
    /// assert_eq!(coverage.percent(), Some(75.0));
    /// assert_eq!(LineCoverage::default().percent(), None);
    /// ```
    pub fn percent(&self) -> Option<f64> {
        let coverable = self.coverable_lines();
        (coverable > 0).then(|| 100.0 * self.covered_lines() as f64 / coverable as f64)
    }
}

/// Switch collection on for this process and forget anything collected before.
pub fn start() {
    *COLLECTED.lock().unwrap_or_else(|p| p.into_inner()) = Some(LineCoverage::default());
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether a run is collecting coverage.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Add an engine's report to the run's coverage (see [`LineCoverage::add`]).
pub(super) fn record(report: &regorus::coverage::Report, reached: bool) {
    if let Some(coverage) = COLLECTED.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        coverage.add(report, reached);
    }
}

/// Switch collection off and take what was collected.
pub fn finish() -> LineCoverage {
    ENABLED.store(false, Ordering::SeqCst);
    COLLECTED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::coverage::{File, Report};

    fn report(path: &str, covered: &[u32], not_covered: &[u32]) -> Report {
        Report {
            files: vec![File {
                path: path.into(),
                code: String::new(),
                covered: covered.iter().copied().collect(),
                not_covered: not_covered.iter().copied().collect(),
            }],
        }
    }

    #[test]
    fn evaluations_on_separate_clones_add_up_and_probes_cover_nothing() {
        let mut coverage = LineCoverage::default();
        coverage.add(&report("p.rego", &[3, 4], &[6, 7]), true);
        coverage.add(&report("p.rego", &[3, 6], &[4, 7]), true);
        coverage.add(&report("lib.rego", &[2], &[5]), false);
        let p = &coverage.files["p.rego"];
        assert_eq!(p.covered, [3, 4, 6].into());
        assert_eq!(p.not_covered().collect::<Vec<_>>(), [7]);
        assert_eq!(coverage.files["lib.rego"].covered, BTreeSet::new());
        assert_eq!(coverage.files["lib.rego"].coverable, [2, 5].into());
        assert_eq!(coverage.covered_lines(), 3);
        assert_eq!(coverage.coverable_lines(), 6);
    }

    #[test]
    fn one_file_under_two_names_is_merged() {
        let mut coverage = LineCoverage::default();
        coverage.add(&report("./p.rego", &[1], &[2]), true);
        coverage.add(&report("p.rego", &[2], &[1]), true);
        let merged = coverage.renamed(|n| n.trim_start_matches("./").to_string());
        assert_eq!(merged.files.len(), 1);
        assert_eq!(merged.files["p.rego"].covered, [1, 2].into());
    }
}
