//! The one error type for anything that cannot be loaded: it always names the file.

use std::path::{Path, PathBuf};

/// A file (policy, input, suite, fixture) that could not be loaded.
///
/// Load errors are never turned into passes: the CLI exits 2 and the runner
/// records an `error` verdict for the rules or cases concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct LoadError {
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl LoadError {
    pub fn new(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        LoadError { path: path.as_ref().to_path_buf(), line: None, message: message.into() }
    }
    pub fn at_line(path: impl AsRef<Path>, line: usize, message: impl Into<String>) -> Self {
        LoadError { path: path.as_ref().to_path_buf(), line: Some(line), message: message.into() }
    }
}
