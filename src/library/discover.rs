//! Walking `policies/` and building [`Rule`]s.
use super::Rule;
use crate::error::LoadError;
use std::path::{Path, PathBuf};

/// The loaded library: rules that compiled, and errors for those that did not.
#[derive(Debug, Default)]
pub struct Library {
    pub root: PathBuf,
    pub rules: Vec<Rule>,
    pub errors: Vec<LoadError>,
}

/// Load every rule under `root/policies`.
pub fn load_library(root: &Path) -> Library {
    Library { root: root.to_path_buf(), ..Default::default() }
}
