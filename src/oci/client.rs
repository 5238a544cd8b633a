//! A blocking, time-bounded view of one registry over `oci-client`: push and
//! pull blobs and manifests, and never trust what comes back without checking
//! its digest.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::time::Duration;

/// Media types verdict writes and reads.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Longest any one registry call may take: a registry that hangs is an error, not a wait.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// One client, one small runtime; every call is bounded by [`CALL_TIMEOUT`].
pub struct RegistryClient {
    client: Client,
    runtime: tokio::runtime::Runtime,
    timeout: Duration,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("timeout", &self.timeout).finish()
    }
}

impl RegistryClient {
    /// A client speaking plain HTTP when `insecure` (a local throwaway registry).
    pub fn new(insecure: bool) -> Result<RegistryClient, String> {
        RegistryClient::with_timeout(insecure, CALL_TIMEOUT)
    }

    /// As [`RegistryClient::new`], with each call bounded by `timeout`.
    pub fn with_timeout(insecure: bool, timeout: Duration) -> Result<RegistryClient, String> {
        let config = oci_client::client::ClientConfig {
            protocol: if insecure { oci_client::client::ClientProtocol::Http } else { oci_client::client::ClientProtocol::Https },
            use_monolithic_push: true,
            ..Default::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        Ok(RegistryClient { client: Client::new(config), runtime, timeout })
    }

    fn block<T>(&self, what: &str, call: impl Future<Output = Result<T, OciDistributionError>>) -> Result<T, String> {
        match self.runtime.block_on(async { tokio::time::timeout(self.timeout, call).await }) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Err(_) => Err(format!("{what}: the registry did not answer within {:?}", self.timeout)),
        }
    }

    /// Upload `data` to `reference`'s repository; returns its digest.
    pub fn push_blob(&self, reference: &Reference, data: Vec<u8>) -> Result<String, String> {
        let digest = sha256(&data);
        self.block(&format!("push blob {digest}"), self.client.push_blob(reference, data, &digest))?;
        Ok(digest)
    }

    /// Upload a manifest under `reference` (a tag or a digest); returns its digest.
    pub fn push_manifest(&self, reference: &Reference, body: Vec<u8>, media_type: &str) -> Result<String, String> {
        let digest = sha256(&body);
        let content_type = media_type.parse().map_err(|_| format!("bad media type {media_type}"))?;
        self.block(&format!("push manifest {reference}"), self.client.push_manifest_raw(reference, body, content_type))?;
        Ok(digest)
    }

    /// The manifest `reference` names and its digest (computed here), or `None`
    /// when the registry has none. A manifest asked for by digest must hash to it.
    pub fn manifest(&self, reference: &Reference) -> Result<Option<(Vec<u8>, String)>, String> {
        let accepted = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST];
        let call = self.client.pull_manifest_raw(reference, &RegistryAuth::Anonymous, &accepted);
        let bytes = match self.runtime.block_on(async { tokio::time::timeout(self.timeout, call).await }) {
            Ok(Ok((bytes, _))) => bytes.to_vec(),
            Ok(Err(OciDistributionError::RegistryError { envelope, .. }))
                if envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown)) =>
            {
                return Ok(None)
            }
            Ok(Err(OciDistributionError::ImageManifestNotFoundError(_))) => return Ok(None),
            Ok(Err(e)) => return Err(format!("manifest {reference}: {e}")),
            Err(_) => return Err(format!("manifest {reference}: the registry did not answer within {:?}", self.timeout)),
        };
        let digest = sha256(&bytes);
        if let Some(wanted) = reference.digest() {
            if wanted != digest {
                return Err(format!("manifest {reference}: the registry served content with digest {digest}"));
            }
        }
        Ok(Some((bytes, digest)))
    }

    /// The blob `digest` of `reference`'s repository, checked against its digest.
    pub fn blob(&self, reference: &Reference, digest: &str) -> Result<Vec<u8>, String> {
        let mut out: Vec<u8> = Vec::new();
        let layer = oci_client::manifest::OciDescriptor { digest: digest.to_string(), ..Default::default() };
        self.block(&format!("blob {digest}"), self.client.pull_blob(reference, &layer, &mut out))?;
        let got = sha256(&out);
        if got != digest {
            return Err(format!("blob {digest}: the registry served content with digest {got}"));
        }
        Ok(out)
    }
}
