//! OCI images for the image gates. The main types here are [`Registry`] (the
//! run's throwaway registry), [`RegistryClient`] (digest-checked, time-bounded
//! registry calls) and the cosign-format [`cosign::sign`] / [`cosign::verify`].
//!
//! Built so far: the registry's container and process paths and `--registry
//! URL`, deterministic image build and push, key-based signatures. Not yet:
//! keyless signing, attestations, `*.image.yaml` cases and `verifyImages`.

mod client;
pub mod cosign;
pub mod engine;
mod image;
mod registry;

pub use client::{sha256, RegistryClient, CALL_TIMEOUT};
pub use image::{build_and_push, ImageSpec, PushedImage};
pub use registry::{registry_binary, Registry, BINARIES, DEFAULT_IMAGE, IMAGE_HINT, INSTALL_HINT};
