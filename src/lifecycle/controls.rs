//! `policies/controls.yaml`: the control catalogue, as auditors read it.

use super::files::{read_checked, CONTROLS};
use crate::error::LoadError;
use crate::limits::Limits;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One control: what the library promises, and the frameworks it answers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
}

#[derive(Deserialize)]
struct ControlsFile {
    controls: Vec<Control>,
}

/// Read and check the catalogue; ids must be unique.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("controls.yaml");
/// std::fs::write(&path, "controls:\n  - id: a\n    title: A\n    referencs: []\n").unwrap();
/// let err = verdict::lifecycle::read_controls(&path, &Default::default()).unwrap_err();
/// assert_eq!(err.line, Some(4));
/// assert!(err.message.contains("/controls/0/referencs: unknown field (did you mean `references`?)"), "{}", err.message);
/// ```
pub fn read_controls(path: &Path, limits: &Limits) -> Result<Vec<Control>, LoadError> {
    let file: ControlsFile = read_checked(path, &CONTROLS, "controls.yaml", limits)?
        .ok_or_else(|| LoadError::new(path, "no control catalogue (policies/controls.yaml)"))?;
    let mut seen = std::collections::BTreeSet::new();
    for c in &file.controls {
        if !seen.insert(c.id.as_str()) {
            return Err(LoadError::new(path, format!("duplicate control id `{}`", c.id)));
        }
    }
    Ok(file.controls)
}
