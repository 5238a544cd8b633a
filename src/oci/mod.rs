//! OCI images for the image gates. The main types here are [`Registry`] (the
//! run's throwaway registry), [`RegistryClient`] (digest-checked, time-bounded
//! registry calls), [`ImageGate`] (the run's registry as rules see it), the
//! cosign-format [`cosign::sign`] / [`cosign::verify_with`] and
//! [`attest::verify_attestations`], and `*.image.yaml` cases ([`case`]).
//!
//! Every registry path of `--registry auto` is built: a container engine
//! (testcontainers), the registry binary as a process, or `--registry URL`.

pub mod attest;
pub mod case;
mod client;
pub mod cosign;
pub mod engine;
mod gate;
mod image;
mod registry;
pub mod keyless;

pub use client::{sha256, RegistryClient, CALL_TIMEOUT};
pub use gate::{ImageGate, LazyGate, RegistryChoice, Trust, FACTS_API_VERSION, FACTS_KIND};
pub use image::{build_and_push, mirror_location, ImageSpec, PushedImage};
pub use registry::{registry_binary, Registry, BINARIES, DEFAULT_IMAGE, IMAGE_HINT, INSTALL_HINT};
