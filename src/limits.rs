//! Resource limits applied to everything verdict reads or evaluates.

use std::time::Duration;

/// Bounds that keep hostile input from exhausting time or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input or policy file read, in bytes.
    pub max_file_bytes: u64,
    /// Deepest nesting of arrays and objects accepted in a document. The YAML and
    /// JSON parsers stop at 127 levels whatever this says, so larger values do not help.
    pub max_depth: usize,
    /// Most documents accepted in one multi-document file.
    pub max_documents: usize,
    /// Wall-clock budget for evaluating one rule against one input.
    pub eval_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 16 * 1024 * 1024,
            max_depth: 127,
            max_documents: 10_000,
            eval_timeout: Duration::from_secs(5),
        }
    }
}
