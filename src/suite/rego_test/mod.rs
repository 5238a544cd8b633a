//! Runs Rego unit tests (`*_test.rego`) as `opa test` does: every `test_*` rule
//! is one test that passes when it evaluates to `true`; `todo_test_*` rules are
//! skipped. The main entry point is [`run_suite`]; each test rule is one row.

mod load;
mod run;

pub use load::{load_suite, TestFile, TestRule};
pub use run::{run_suite, SuiteOptions};
