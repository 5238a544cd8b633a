//! Runs Kyverno CLI test suites (`kyverno-test.yaml`) with verdict's own
//! Kyverno engine. The main entry points are [`discover`] and [`run_suite`].

mod load;
mod model;
mod run;

pub use load::{discover, TEST_FILE_NAME};
pub use model::{ResultRow, TestFile, ValuesSpec};
pub use run::{run_suite, run_suite_with_limits, run_suite_with_options, RowSpan, SuiteReport};
