//! Loading what rules judge. The main type here is [`Input`]: one document of
//! one file (a Kubernetes object, a Terraform plan, an SBOM, a scan report).

mod document;
pub mod inventory;
mod load;
pub mod schema;

pub use crate::error::LoadError;
pub use document::{detect_kind, Input, InputKind};
pub use load::{load_file, load_str, load_values, read_text};
