//! Running rules over cases, inputs and external suites. The main types here are
//! [`TestResult`] (one checked expectation) and [`RunSummary`]. The runner emits
//! [`RunEvent`]s to a callback and never prints.

mod cases;
pub mod eval;
pub(crate) mod paths;
mod result;
mod summary;

pub use cases::{
    absolute, case_files, corpus_files, default_jobs, in_partition, is_inventory, load_fixture, orphan_case_dirs, run_corpus,
    run_library, run_rule_cases, CaseFiles, CaseRunOptions, Expectation, RuleCases,
};
pub use paths::run_paths;
pub use result::{TestResult, TestStatus};
pub use summary::{RunEvent, RunStats, RunSummary};
