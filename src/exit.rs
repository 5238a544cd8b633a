//! Exit codes of the `verdict` binary: a contract CI scripts depend on.

/// Every expectation held; no enforce rule failed.
pub const OK: u8 = 0;
/// An expectation failed, or an enforce rule failed or errored.
pub const EXPECTATION_FAILED: u8 = 1;
/// The command line was wrong or something could not be loaded.
pub const USAGE_OR_LOAD: u8 = 2;
