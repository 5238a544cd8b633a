//! Reading files into [`Input`]s with strict limits.
use super::Input;
use crate::error::LoadError;
use crate::limits::Limits;
use std::path::Path;

/// Load every document of one file.
pub fn load_file(path: &Path, limits: &Limits) -> Result<Vec<Input>, LoadError> {
    let _ = (path, limits);
    todo!()
}

/// Load every document of text already read from `path`.
pub fn load_str(path: &Path, text: &str, limits: &Limits) -> Result<Vec<Input>, LoadError> {
    let _ = (path, text, limits);
    todo!()
}
