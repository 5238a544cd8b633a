//! Runs Gatekeeper `gator verify` suites (`suite.yaml`, `test.gatekeeper.sh/v1alpha1`)
//! unchanged, with the templates compiled and reviewed by `engine::gatekeeper`.
//! The main entry point is [`run_suite`]; each assertion is one result row.

mod load;
mod model;
mod run;
mod schema;

pub use load::{is_suite_text, read_suite, SuiteFile};
pub use model::{Assertion, Case, Expected, Suite, Test, SUITE_GROUP, SUITE_KIND};
pub use run::{run_suite, SuiteOptions, SuiteReport};
