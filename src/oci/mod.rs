//! OCI images for the image gates. The main types here are [`Registry`] (the
//! run's throwaway registry), [`RegistryClient`] (digest-checked, time-bounded
//! registry calls) and the cosign-format [`cosign::sign`] / [`cosign::verify`].
//!
//! Built so far: the registry process path and `--registry URL`, deterministic
//! image build and push, key-based signatures. Not yet: the container path,
//! keyless signing, attestations, `*.image.yaml` cases and `verifyImages`.

mod client;
pub mod cosign;
mod image;
mod registry;
pub mod keyless;

pub use client::{sha256, RegistryClient, CALL_TIMEOUT};
pub use image::{build_and_push, ImageSpec, PushedImage};
pub use registry::{Registry, BINARIES, INSTALL_HINT};
