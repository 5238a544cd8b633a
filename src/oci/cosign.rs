//! Key-based signatures in cosign's format, so cosign, skopeo and
//! policy-controller read what verdict writes, and verdict reads theirs.
//!
//! A signature of manifest `sha256:<hex>` lives at the tag `sha256-<hex>.sig` of
//! the same repository: an OCI image manifest whose layers are simple-signing
//! payloads (`application/vnd.dev.cosign.simplesigning.v1+json`), each carrying
//! its base64 DER ECDSA-P256-SHA256 signature in the annotation
//! `dev.cosignproject.cosign/signature`. Verification checks, in order, and
//! names the first check that fails: the image resolves; a signature manifest
//! exists; each payload blob hashes to its descriptor; the payload names this
//! digest and this repository; the signature verifies with the key.

use super::client::{sha256, RegistryClient, OCI_CONFIG, OCI_MANIFEST};
use super::image::PushedImage;
use base64::Engine as _;
use oci_client::Reference;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::{json, Value};

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Annotation holding the signature of a payload layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// A signing key from PEM: PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, P-256.
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, String> {
    if pem.contains("ENCRYPTED COSIGN PRIVATE KEY") || pem.contains("ENCRYPTED SIGSTORE PRIVATE KEY") {
        return Err("cosign's encrypted private-key format is not read yet; export the key as PKCS#8 PEM".into());
    }
    SigningKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem).map(SigningKey::from))
        .map_err(|e| format!("not a P-256 private key in PEM: {e}"))
}

/// A verification key from a `PUBLIC KEY` PEM (P-256).
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| format!("not a P-256 public key in PEM: {e}"))
}

/// The tag a signature of `digest` lives at.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// cosign's simple-signing payload for `digest` in `repository`.
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .expect("a JSON literal serialises")
}

/// Sign `image` with `key`, pushing the signature manifest next to it.
pub fn sign(client: &RegistryClient, image: &PushedImage, key: &SigningKey) -> Result<(), String> {
    sign_payload(client, image, &payload(&image.repository, &image.digest), key)
}

/// Push a signature of `payload` for `image` (tests tamper with the payload this way).
pub fn sign_payload(client: &RegistryClient, image: &PushedImage, payload: &[u8], key: &SigningKey) -> Result<(), String> {
    let signature: Signature = key.sign(payload);
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes());
    push_signature(client, image, payload, &encoded)
}

/// Push a signature manifest for `image` holding `payload` and the given signature annotation.
pub fn push_signature(client: &RegistryClient, image: &PushedImage, payload: &[u8], signature_b64: &str) -> Result<(), String> {
    let reference: Reference = format!("{}:{}", image.repository, signature_tag(&image.digest)).parse().map_err(|e| format!("{e}"))?;
    let config = serde_json::to_vec(&json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(payload)]},
    }))
    .map_err(|e| e.to_string())?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(&config), "size": config.len()},
        "layers": [{
            "mediaType": SIMPLE_SIGNING, "digest": sha256(payload), "size": payload.len(),
            "annotations": {SIGNATURE_ANNOTATION: signature_b64},
        }],
    }))
    .map_err(|e| e.to_string())?;
    client.push_blob(&reference, payload.to_vec())?;
    client.push_blob(&reference, config)?;
    client.push_manifest(&reference, manifest, OCI_MANIFEST)?;
    Ok(())
}

/// A verified image: what was checked and who signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    pub image: String,
    pub digest: String,
    /// The payload's `docker-reference`.
    pub identity: String,
    pub signatures_checked: usize,
}

/// Why an image did not verify: the check that failed, and whether that is a
/// verdict on the image (`fail`) or a failure to reach a verdict (`error`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{check}: {reason}")]
pub struct VerifyFailure {
    pub check: &'static str,
    pub reason: String,
    /// The registry or the input could not be read: an error, never a pass.
    pub error: bool,
}

fn fail(check: &'static str, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure { check, reason: reason.into(), error: false }
}

fn error(check: &'static str, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure { check, reason: reason.into(), error: true }
}

/// Verify `image` (a tag or digest reference) against `key`.
pub fn verify(client: &RegistryClient, image: &str, key: &VerifyingKey) -> Result<Verified, VerifyFailure> {
    let reference: Reference = image.parse().map_err(|e| error("reference", format!("{image}: {e}")))?;
    let repository = format!("{}/{}", reference.resolve_registry(), reference.repository());
    let (_, digest) = client
        .manifest(&reference)
        .map_err(|e| error("resolve", e))?
        .ok_or_else(|| fail("resolve", format!("{image} does not exist")))?;
    let sig_ref: Reference = format!("{repository}:{}", signature_tag(&digest)).parse().map_err(|e| error("reference", format!("{e}")))?;
    let (body, _) = client
        .manifest(&sig_ref)
        .map_err(|e| error("signature manifest", e))?
        .ok_or_else(|| fail("signature manifest", format!("no signature for {digest} (no {} tag)", signature_tag(&digest))))?;
    let manifest: Value = serde_json::from_slice(&body).map_err(|e| fail("signature manifest", format!("not JSON: {e}")))?;
    let layers: Vec<&Value> =
        manifest["layers"].as_array().into_iter().flatten().filter(|l| l["mediaType"] == SIMPLE_SIGNING).collect();
    if layers.is_empty() {
        return Err(fail("signature manifest", "it holds no simple-signing payload"));
    }
    let mut last = fail("signature", "no payload verified");
    for layer in &layers {
        match check_layer(client, &sig_ref, layer, &repository, &digest, key) {
            Ok(identity) => return Ok(Verified { image: image.to_string(), digest, identity, signatures_checked: layers.len() }),
            Err(e) if e.error => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn check_layer(
    client: &RegistryClient,
    sig_ref: &Reference,
    layer: &Value,
    repository: &str,
    digest: &str,
    key: &VerifyingKey,
) -> Result<String, VerifyFailure> {
    let blob_digest = layer["digest"].as_str().ok_or_else(|| fail("payload", "a layer without digest"))?;
    let payload = client.blob(sig_ref, blob_digest).map_err(|e| error("payload", e))?;
    let doc: Value = serde_json::from_slice(&payload).map_err(|e| fail("payload", format!("not JSON: {e}")))?;
    if doc["critical"]["type"] != "cosign container image signature" {
        return Err(fail("payload", format!("type {} is not a cosign container image signature", doc["critical"]["type"])));
    }
    let signed_digest = doc["critical"]["image"]["docker-manifest-digest"].as_str().unwrap_or_default();
    if signed_digest != digest {
        return Err(fail("payload digest", format!("the signature covers {signed_digest}, the image is {digest}")));
    }
    // skopeo writes the tag into docker-reference, cosign only the repository: match on the repository.
    let identity = doc["critical"]["identity"]["docker-reference"].as_str().unwrap_or_default().to_string();
    let signed_repository = strip_tag(&identity);
    if signed_repository != repository {
        return Err(fail("payload identity", format!("the signature names {identity}, the image is in {repository}")));
    }
    let encoded = layer["annotations"][SIGNATURE_ANNOTATION].as_str().ok_or_else(|| fail("signature", "no signature annotation"))?;
    let der = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| fail("signature", format!("not base64: {e}")))?;
    let signature = Signature::from_der(&der).map_err(|e| fail("signature", format!("not a DER ECDSA signature: {e}")))?;
    key.verify(&payload, &signature).map_err(|_| fail("signature", "does not verify with the given key"))?;
    Ok(identity)
}

/// `host/repo` of `host/repo:tag` or `host/repo@digest` (a port's colon is kept).
fn strip_tag(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rfind(':') {
        Some(i) if !reference[i..].contains('/') => &reference[..i],
        _ => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_match_on_the_repository() {
        assert_eq!(strip_tag("127.0.0.1:5000/shop/web:1.0"), "127.0.0.1:5000/shop/web");
        assert_eq!(strip_tag("127.0.0.1:5000/shop/web"), "127.0.0.1:5000/shop/web");
        assert_eq!(strip_tag("127.0.0.1:5000/shop/web@sha256:ab"), "127.0.0.1:5000/shop/web");
    }

    #[test]
    fn payloads_are_cosign_shaped() {
        let p: Value = serde_json::from_slice(&payload("r/x", "sha256:ab")).unwrap();
        assert_eq!(p["critical"]["image"]["docker-manifest-digest"], "sha256:ab");
        assert_eq!(signature_tag("sha256:ab"), "sha256-ab.sig");
    }
}
