//! One file per xtask command.

pub mod check_docs;
pub mod new_rule;
pub mod opa_diff;
pub mod policy_test;

use std::path::{Path, PathBuf};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
